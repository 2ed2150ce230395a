#!/bin/sh
# tests/run.sh: every test, from a fresh Debian 12 machine, as root.
#
#   1. unit and container tests (cargo test): real containers on a busybox rootfs, the
#      busybox, python, go and java templates (amd64, and arm64 through qemu-user) as
#      squashfs images and directories, and as Docker images with a private engine
#   2. release builds for every target, each checked static and under 500 KB
#   3. the same tests for aarch64 under qemu-user, on arm64 templates
#   4. emulated boards (QEMU system mode): arm64, armhf and mipsel, each with pure
#      cgroup v2 and pure v1, from an initramfs root without overlayfs
#
# Around it all, a machine-wide check that nothing was left behind: no mount, cgroup
# under qing/, loop device or qing process that was not there before.
# QING_TESTS=host,cross,qemu,boards picks a subset (default: all).
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "tests/run.sh: run as root (the tests start real containers)" >&2; exit 1; }
parts=${QING_TESTS:-host,cross,qemu,boards}
want() { case ",$parts," in *",$1,"*) return 0 ;; esac; return 1; }
section() { printf '\n== %s\n' "$*"; }

# What the tests use on the host; cross/ and tests/board install their own. The
# stable toolchain runs the tests; cross/ brings the pinned nightly for releases.
# iproute2 inspects the test's own network namespaces (qing itself needs no `ip`);
# systemd brings systemd-analyze, which checks boards/systemd/qing@.service;
# nftables and iptables are the two tools the NAT test has qing call.
. cross/toolchain/common.sh
apt_install util-linux coreutils gcc libc6-dev iproute2 systemd iptables nftables
ensure_rustup
[ -n "$(toolchain_rustc stable)" ] || rustup toolchain install stable --profile minimal

snapshot() {
    {
        cut -d' ' -f5 /proc/self/mountinfo | sort
        find /sys/fs/cgroup -path '*/qing/*' -type d 2>/dev/null | sort
        for f in /sys/block/loop*/loop/backing_file; do [ -e "$f" ] && echo "loop: $(cat "$f")"; done
        ps -eo args= | grep -E '^[^ ]*qing (--root|run|check)' | sort
    } 2>/dev/null
}
before=$(snapshot)

# Every template for ARCH, built fresh into .cache/templates/ARCH once per run. The
# busybox template is also the rootfs of the container tests.
export QING_TEMPLATES="$PWD/.cache/templates"
built=""
templates() {
    for arch in "$@"; do
        case " $built " in *" $arch "*) continue ;; esac
        section "templates for $arch: busybox, python, go, java"
        for t in busybox python go java; do
            rootfs-templates/build.sh "$t" "$arch" "$QING_TEMPLATES/$arch" >/dev/null
            echo "$t $arch: $(sed -n 's/.*"sha256": "\(.*\)".*/\1/p' "$QING_TEMPLATES/$arch/$t.json")"
        done
        built="$built $arch"
    done
}

if want host; then
    # The arm64 templates' services run here through qemu-user (binfmt, F flag).
    cross/qemu-user.sh aarch64 >/dev/null
    templates amd64 arm64
    section "unit and container tests on this machine"
    QING_TEST_ROOTFS=$QING_TEMPLATES/amd64/busybox cargo +stable test --no-fail-fast
fi

if want cross; then
    section "release builds (static, under 500 KB)"
    for t in x86_64-unknown-linux-musl aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf \
             mipsel-unknown-linux-musl mips-unknown-linux-musl; do
        bin=$(cross/build.sh "$t" | tail -n 1)
        printf '%-34s %8d bytes\n' "$t" "$(stat -c %s "$bin")"
    done
fi

if want qemu; then
    section "the same tests for aarch64 under qemu-user"
    cross/qemu-user.sh aarch64 >/dev/null
    templates arm64
    # Tests named on_amd64 are about the build machine's own templates: not here.
    QING_TEST_ROOTFS=$QING_TEMPLATES/arm64/busybox \
        cross/test-qemu.sh aarch64-unknown-linux-musl --no-fail-fast -- --skip on_amd64
fi

if want boards; then
    section "emulated boards: initramfs root, no overlayfs, pure cgroup v2 and v1"
    tests/board/run.sh arm64 armhf mipsel
fi

section "leftovers"
after=$(snapshot)
if [ "$before" != "$after" ]; then
    echo "tests/run.sh: the tests left something behind (- before, + after):" >&2
    printf '%s\n' "$before" > .cache/leftovers.before
    printf '%s\n' "$after" > .cache/leftovers.after
    diff .cache/leftovers.before .cache/leftovers.after >&2 || true
    exit 1
fi
echo "none: mounts, cgroups, loop devices and processes are as before"
