#!/bin/sh
# cross/board/selftest.sh [ARCH...]   (default: arm64 armhf mipsel)
#
# Checks cross/board.sh before qing exists: busybox-static stands in for qing, a
# rootfs of busybox + /bin/sh is the container, and selftest-guest.sh is the script.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ $# -gt 0 ] || set -- arm64 armhf mipsel
work=$(mktemp -d "${TMPDIR:-/tmp}/qing-board-selftest.XXXXXX")
trap 'rm -rf "$work"' EXIT
for arch in "$@"; do
    deb=$(sh "$here/../debs.sh" "$arch" busybox-static)
    mkdir -p "$work/$arch/rootfs/bin"
    dpkg-deb --fsys-tarfile "$deb" | tar -xO ./bin/busybox >"$work/$arch/busybox"
    chmod 755 "$work/$arch/busybox"
    cp "$work/$arch/busybox" "$work/$arch/rootfs/bin/busybox"
    ln -s busybox "$work/$arch/rootfs/bin/sh"
    bash "$here/../board.sh" "$arch" "$work/$arch/busybox" "$work/$arch/rootfs" \
        "$here/selftest-guest.sh" --modules overlay,squashfs,loop
    echo "selftest: $arch passed"
done
