#!/bin/sh
# cross/qemu-user.sh ARCH [BINARY [ARGS...]]
#
# Makes ARCH binaries (aarch64, arm, mipsel, mips) run on this x86_64 host through
# qemu-user and the kernel's binfmt_misc, then proves it: runs BINARY with ARGS if
# given, else Debian's static busybox for ARCH, once directly and once inside a chroot
# that holds no qemu (that is what the F flag is for: the kernel opens the emulator
# when the handler is registered, so containers need no copy of it).
# For mips (big-endian) Debian ships no busybox: it runs qing's own mips build if
# cross/build.sh made one, else it only checks the handler.
# Idempotent: installs, mounts and enables only what is missing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cross/toolchain/common.sh
. "$here/toolchain/common.sh"

arch=${1:-}
case $arch in
    aarch64) debarch=arm64 target=aarch64-unknown-linux-musl ;;
    arm) debarch=armhf target=armv7-unknown-linux-musleabihf ;;
    mipsel) debarch=mipsel target=mipsel-unknown-linux-musl ;;
    mips) debarch='' target=mips-unknown-linux-musl ;;
    *) echo "usage: cross/qemu-user.sh ARCH [BINARY [ARGS...]]   (ARCH: aarch64 arm mipsel mips)" >&2
       [ -n "$arch" ] && echo "cross/qemu-user.sh: unknown ARCH '$arch'" >&2
       exit 2 ;;
esac
shift

apt_install qemu-user-static binfmt-support

bm=/proc/sys/fs/binfmt_misc
if [ ! -e "$bm/register" ]; then
    mount -t binfmt_misc binfmt_misc "$bm" ||
        die "cannot mount binfmt_misc on $bm (needs root on the host, or a privileged container)"
fi
h=$bm/qemu-$arch
if [ -e "$h" ]; then
    # Registered but switched off (echo 0): update-binfmts would call it enabled.
    grep -qx enabled "$h" || echo 1 >"$h"
else
    # The package put its handler specs into binfmt-support's database at install
    # time, but nothing reached the kernel while binfmt_misc was unmounted.
    update-binfmts --enable "qemu-$arch" >&2 ||
        { update-binfmts --import "qemu-$arch" >&2 && update-binfmts --enable "qemu-$arch" >&2; } || true
fi
grep -qx enabled "$h" 2>/dev/null || die "could not enable the binfmt handler qemu-$arch"
grep -q '^flags:.*F' "$h" ||
    die "qemu-$arch is registered without the F flag (fix-binary); binaries in a chroot would not find the emulator: $(grep '^flags' "$h")"
say "binfmt handler qemu-$arch: $(grep -E '^(interpreter|flags)' "$h" | tr '\n' ' ')"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ $# -gt 0 ]; then
    bin=$1; shift
    [ -f "$bin" ] || die "no such file: $bin"
    # A copy, so the chroot below holds nothing but the binary itself.
    mkdir -p "$tmp/root/bin"
    cp "$bin" "$tmp/root/bin/probe"
    set -- /bin/probe "$@"
elif [ -n "$debarch" ]; then
    deb=$(sh "$here/debs.sh" "$debarch" busybox-static) || die "cannot fetch busybox-static for $debarch"
    dpkg-deb -x "$deb" "$tmp/root"
    set -- /bin/busybox echo "hello from $arch busybox"
else
    bin=$(cd "$here/.." && pwd)/target/$target/release/qing
    if [ ! -f "$bin" ]; then
        say "no $arch test binary (Debian has no big-endian mips port); run cross/build.sh $target first, or pass BINARY. Handler is enabled."
        exit 0
    fi
    mkdir -p "$tmp/root/bin"
    cp "$bin" "$tmp/root/bin/probe"
    set -- /bin/probe
fi

# Any exit status but exec failures counts: we test that the binary ran, not its CLI.
prog=$1; shift
rc=0; out=$("$tmp/root$prog" "$@" 2>&1) || rc=$?
[ "$rc" -lt 126 ] || die "running $prog directly failed ($rc): $out"
say "direct run (exit $rc): $out"
rc=0; out=$(chroot "$tmp/root" "$prog" "$@" 2>&1) || rc=$?
[ "$rc" -lt 126 ] || die "running $prog in a chroot without qemu failed ($rc): $out"
say "chroot run (exit $rc): $out"
say "qemu-user for $arch works"
