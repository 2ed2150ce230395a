#!/bin/sh
# tests/board/run.sh [ARCH...]
#
# Runs tests/board/core.sh on emulated boards (cross/board.sh), twice per board: once
# with no cgroup filesystem mounted (qing mounts cgroup2: pure v2) and once with v1
# hierarchies mounted by the board's init (pure v1). The root is always the
# initramfs and overlayfs, squashfs and loop start unloaded; the busybox template's
# squashfs image and manifest are at /images, and the template has tests/probes/syscalls.c
# built for the board (static, with zig's musl) as /bin/syscalls, for the seccomp
# checks: qemu-user refuses filters, so the boards are where the ARM and MIPS
# syscall tables are proved. ARCH: arm64 armhf mipsel (default: all).
set -eu
cd "$(dirname "$0")/../.."
[ $# -gt 0 ] || set -- arm64 armhf mipsel

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=cross/toolchain/common.sh
. cross/toolchain/common.sh
# shellcheck source=cross/toolchain/targets.sh
. cross/toolchain/targets.sh
ensure_zig
# probe ZIGTARGET OUT [FLAGS]: the syscalls probe, static, for a board.
probe() {
    ZIG_GLOBAL_CACHE_DIR=$tmp/zig ZIG_LOCAL_CACHE_DIR=$tmp/zig \
        "$zig" cc -target "$1" -static -O2 -s ${3:+"$3"} -o "$2" tests/probes/syscalls.c \
        2>"$tmp/zig.log" || { cat "$tmp/zig.log" >&2; die "zig cc could not build tests/probes/syscalls.c for $1"; }
}
failed=""
for arch in "$@"; do
    case $arch in
        arm64) target=aarch64-unknown-linux-musl ;;
        armhf) target=armv7-unknown-linux-musleabihf ;;
        mipsel) target=mipsel-unknown-linux-musl ;;
        *) echo "tests/board/run.sh: unknown ARCH '$arch' (arm64 armhf mipsel)" >&2; exit 2 ;;
    esac
    case $arch in
        arm64) probe aarch64-linux-musl "$tmp/syscalls" ;;
        armhf) probe arm-linux-musleabihf "$tmp/syscalls" ;;
        mipsel) probe mipsel-linux-musl "$tmp/syscalls" -msoft-float ;;
    esac
    qing=$(cross/build.sh "$target" | tail -n 1)
    rootfs-templates/build.sh busybox "$arch" ".cache/rootfs/$arch" >/dev/null
    for mode in v2 v1; do
        printf 'MODE=%s\n' "$mode" | cat - tests/board/core.sh > "$tmp/test.sh"
        echo "== board $arch, cgroup $mode"
        tpl=.cache/rootfs/$arch/busybox
        if cross/board.sh "$arch" "$qing" "$tpl" "$tmp/test.sh" --modules overlay,squashfs,loop \
            --file "$tpl.squashfs:/images/busybox.squashfs" --file "$tpl.json:/images/busybox.json" \
            --file "$tmp/syscalls:/rootfs/bin/syscalls" \
            >"$tmp/out" 2>&1; then
            grep -c '^PASS' "$tmp/out" | sed 's/$/ checks passed/'
        else
            cat "$tmp/out"
            failed="$failed $arch/$mode"
        fi
    done
done
[ -z "$failed" ] || { echo "tests/board/run.sh: failed:$failed" >&2; exit 1; }
