#!/bin/sh
# tests/demo.sh: the main job, from a fresh Debian 12 machine, as root.
#
# Installs what is missing, builds the release qing (static, musl), makes a small
# busybox rootfs from Debian's busybox-static, and runs containers that show their
# isolation and a memory limit at work, then the same tree as a verified squashfs
# template, imported and run by name. Everything it builds stays under .cache/ and
# target/; the containers leave nothing behind.
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "tests/demo.sh: run as root (containers need it)" >&2; exit 1; }

arch=$(dpkg --print-architecture)
case $arch in
    amd64) target=x86_64-unknown-linux-musl ;;
    arm64) target=aarch64-unknown-linux-musl ;;
    *) echo "tests/demo.sh: no demo for a $arch host yet" >&2; exit 1 ;;
esac

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "building qing for $target (cross/build.sh)"
qing=$(cross/build.sh "$target" | tail -n 1)
ls -l "$qing"

say "making a busybox rootfs from Debian's busybox-static (rootfs-templates/build.sh)"
rootfs-templates/build.sh busybox "$arch" .cache/demo >/dev/null
rootfs=.cache/demo/busybox
du -sh "$rootfs"

state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
q() { "$qing" --root "$state" "$@"; }

say "qing check: what this kernel offers"
q check | tail -n 20

say "a container: its own hostname, PIDs, network, cgroups, a read-only /sys, a minimal /dev"
# shellcheck disable=SC2016  # expanded inside the container
q run --name demo --hostname demo-box --memory 32m --pids 64 --cpus 0.5 "$rootfs" -- sh -c '
    echo "hostname:        $(hostname)"
    echo "user:            $(id)"
    echo "processes:       $(ps -o pid,comm | tr -s " \n" " ")"
    echo "interfaces:      $(ls /sys/class/net | tr "\n" " ")"
    echo "cgroup:          $(cat /proc/self/cgroup | grep -E "memory|^0::" | tr "\n" " ")"
    echo "memory limit:    $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max) bytes"
    echo "pids limit:      $(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)"
    echo "capabilities:    $(grep CapEff /proc/self/status)"
    echo "/dev:            $(ls /dev | tr "\n" " ")"
    touch /sys/x 2>/dev/null || echo "/sys:            read-only"
    echo scratch > /written-here && echo "/ is writable:   yes (an overlay; writes vanish at exit)"
'

say "the template is untouched by what the container wrote"
if [ -e "$rootfs/written-here" ]; then echo "FAILED: the write reached the template" >&2; exit 1; fi
echo "no /written-here in $rootfs"

say "a memory hog under --memory 16m: the kernel kills it inside its cgroup; qing survives and says so"
set +e
# shellcheck disable=SC2016  # expanded inside the container
q run --name hog --memory 16m "$rootfs" -- sh -c 'x=a; while :; do x="$x$x"; done'
code=$?
set -e
echo "exit status: $code (128 + SIGKILL)"
[ "$code" = 137 ] || { echo "tests/demo.sh: expected 137" >&2; exit 1; }

say "the same tree as a template: a squashfs image, its sha256 checked on import, run by name"
q import .cache/demo/busybox.json
q templates
# shellcheck disable=SC2016  # expanded inside the container
q run --name demo-image busybox -- sh -c 'echo "root:            $(grep " / " /proc/self/mounts | cut -d" " -f1-3)"'

say "nothing is left behind"
left=$(find /sys/fs/cgroup -path '*/qing/*' \( -name demo -o -name hog -o -name demo-image \) | head -n 3)
mounts=$(grep -c "$state" /proc/self/mountinfo || true)
scratch=$(find "$state/run/scratch" -mindepth 1 | wc -l)
loops=$(cat /sys/block/loop*/loop/backing_file 2>/dev/null | grep -c "$state" || true)
echo "cgroups left: ${left:-none}; mounts left: $mounts; loop devices left: $loops; files left in qing's scratch: $scratch"
[ -z "$left" ] && [ "$mounts" = 0 ] && [ "$loops" = 0 ] && [ "$scratch" = 0 ]
