#!/bin/bash
# cross/board.sh ARCH QING_BINARY ROOTFS_DIR SCRIPT [--modules overlay,squashfs,loop] [--mem 128]
#                [--file SRC:DEST]... [--tree DIR] [--init PATH] [--forward HOSTPORT:PORT]
#                [--root-disk [--disk FILE]] [--kernel FILE]
#
# Boots an emulated board (QEMU system mode, a Debian 12 kernel) whose root stays the
# initramfs, runs SCRIPT there as /test.sh and exits with its status. This gives the
# conditions a container host here cannot: an initramfs root (pivot_root fails with
# EINVAL), a kernel with overlayfs/squashfs/loop as modules that nobody loaded, and no
# cgroup filesystem mounted at boot.
#
# The initramfs holds: busybox-static for ARCH (applet links made at boot), QING_BINARY
# as /usr/bin/qing, ROOTFS_DIR as /rootfs, SCRIPT as /test.sh, each --file SRC at DEST
# (an absolute path in the guest), the requested modules
# (with their dependencies) under /lib/modules/$(uname -r) with a modules.dep, so the
# script may `modprobe overlay` or `insmod /lib/modules/*/kernel/fs/overlayfs/overlay.ko`.
# /init (cross/board/init) prints `BOARD-EXIT-STATUS=N` and powers off. Soft module
# dependencies (softdep=) are not followed: name those modules in --modules too.
#
# A board laid out as a distribution would be (tests/bench/boot.sh): --tree DIR is
# copied onto the root last (/etc/inittab, /etc/init.d/..., /var/lib/qing/...), and
# --init PATH is what the kernel runs instead of /init (/sbin/init, busybox's init,
# from a link in the tree); that init must print the marker and power off itself.
# --forward HOSTPORT:PORT gives the guest one NIC on QEMU's user-mode network with
# 127.0.0.1:HOSTPORT on the host forwarded to the guest's PORT (10.0.2.15), and
# restrict=on: the guest reaches nothing beyond it, neither the host nor the outside.
# The guest's driver is a module: virtio_net (with virtio_pci) on arm64 and armhf,
# pcnet32 on Malta; name it in --modules.
# --root-disk puts that whole root on an ext4 disk (virtio) instead: a small initramfs
# (cross/board/disk-init) loads the disk's modules, mounts it and switch_roots to
# --init, as a board that boots from its flash or eMMC does. Then the root's files
# cost page cache, which the kernel can reclaim, not RAM: what boot.sh measures.
# --disk FILE (with --root-disk) keeps that disk at FILE: made there from the root
# when FILE does not exist, and booted as it is when it does, which is the same
# board booting again with what its last boot wrote (the root's arguments then only
# build the initramfs).
# --kernel FILE boots FILE (an arm64 Image, a MIPS vmlinux) instead of Debian's kernel:
# a board's own kernel, as boards/kernel/build.sh makes it, with every driver and
# feature built in, so there are no modules (--modules is refused with it).
# RAM: the initramfs unpacks into half of --mem; 64 MB booted every board, 48 MB hung
# armhf and broke arm64 (the timeout still ends those runs).
#
# Exit: the guest's status; 124 when the timeout ran out first; 1 when the guest
# stopped without the marker; 2 for bad usage.
#
# Environment: QING_CACHE (default /var/cache/qing), QING_BOARD_TIMEOUT (seconds,
# default 300), QING_BOARD_APPEND (extra kernel command line, e.g. loglevel=8 to see
# the whole boot log, since `quiet` is the default).
set -eu

usage() { echo "usage: cross/board.sh ARCH(arm64|armhf|mipsel) QING_BINARY ROOTFS_DIR SCRIPT [--modules a,b,c] [--mem MB] [--file SRC:DEST]... [--tree DIR] [--init PATH] [--forward HOSTPORT:PORT] [--root-disk [--disk FILE]] [--kernel FILE]" >&2; exit 2; }
die() { echo "cross/board.sh: $*" >&2; exit 1; }
log() { echo "cross/board.sh: $*" >&2; }

[ $# -ge 4 ] || usage
arch=$1 qing=$2 rootfs=$3 script=$4
shift 4
modules="" mem=128 files=() tree="" init=/init forward="" root_disk=0 disk="" kernel=""
while [ $# -gt 0 ]; do
    case $1 in
        --modules) [ $# -ge 2 ] || usage; modules=$2; shift 2 ;;
        --file) [ $# -ge 2 ] || usage
            case $2 in *:/*) ;; *) die "--file wants SRC:/DEST, got '$2'" ;; esac
            [ -f "${2%%:*}" ] || die "--file: '${2%%:*}' is not a file"
            files+=("$2"); shift 2 ;;
        --mem) [ $# -ge 2 ] || usage; mem=$2; shift 2 ;;
        --root-disk) root_disk=1; shift ;;
        --disk) [ $# -ge 2 ] || usage; disk=$2; shift 2 ;;
        --kernel) [ $# -ge 2 ] || usage; [ -f "$2" ] || die "--kernel: '$2' is not a file"
            kernel=$2; shift 2 ;;
        --tree) [ $# -ge 2 ] || usage; [ -d "$2" ] || die "--tree: '$2' is not a directory"
            tree=$2; shift 2 ;;
        --init) [ $# -ge 2 ] || usage
            case $2 in /*) ;; *) die "--init wants an absolute path in the guest, got '$2'" ;; esac
            init=$2; shift 2 ;;
        --forward) [ $# -ge 2 ] || usage
            case $2 in *[!0-9:]*|:*|*:|*:*:*) die "--forward wants HOSTPORT:PORT, got '$2'" ;; *:*) ;;
                *) die "--forward wants HOSTPORT:PORT, got '$2'" ;; esac
            forward=$2; shift 2 ;;
        *) echo "cross/board.sh: unknown option '$1'" >&2; usage ;;
    esac
done
case $mem in ''|*[!0-9]*) die "--mem wants a number of MB, got '$mem'" ;; esac
timeout_s=${QING_BOARD_TIMEOUT:-300}
case $timeout_s in ''|*[!0-9]*) die "QING_BOARD_TIMEOUT wants whole seconds, got '$timeout_s'" ;; esac
# What the root disk needs, loaded by disk-init in this order (ext4's crc32c is a soft
# dependency, so it is named).
disk_modules="virtio_pci virtio_blk crc32c_generic ext4"
if [ -n "$kernel" ]; then
    [ -z "$modules" ] || die "--modules: a --kernel has its drivers built in; leave --modules out"
    disk_modules=""
fi
[ -z "$disk" ] || [ $root_disk = 1 ] || die "--disk FILE keeps the --root-disk: give both"
[ $root_disk = 0 ] || modules=${modules:+$modules,}${disk_modules// /,}
[ -f "$qing" ] || die "QING_BINARY '$qing' is not a file"
[ -d "$rootfs" ] || die "ROOTFS_DIR '$rootfs' is not a directory"
[ -f "$script" ] || die "SCRIPT '$script' is not a file"
[ "$(id -u)" = 0 ] || die "run as root: it installs packages and builds device nodes"

# Per board: the Debian kernel meta package (it only Depends on the versioned kernel),
# the ELF e_machine number, and how QEMU models the board (measured in the notes).
case $arch in
    arm64)  meta=linux-image-arm64 machine=183 qemu=qemu-system-aarch64 console=ttyAMA0
            qargs=(-M virt -cpu cortex-a53) nic=virtio-net-pci ;;
    armhf)  meta=linux-image-armmp machine=40 qemu=qemu-system-arm console=ttyAMA0
            qargs=(-M virt -cpu cortex-a15) nic=virtio-net-pci ;;
    mipsel) meta=linux-image-4kc-malta machine=8 qemu=qemu-system-mipsel console=ttyS0
            qargs=(-M malta -vga none) nic=pcnet ;;
    *) die "unknown ARCH '$arch' (arm64, armhf, mipsel)" ;;
esac

# A wrong-architecture qing would only show up in the guest as a vague exec error.
if [ "$(head -c 4 "$qing" | od -An -c | tr -d ' ')" = 177ELF ]; then
    m=$(od -An -tu2 -j18 -N2 "$qing" | tr -d ' ')  # all three boards are little-endian
    [ "$m" = "$machine" ] || die "QING_BINARY '$qing' is ELF machine $m, not $arch ($machine)"
fi

here=$(cd "$(dirname "$0")" && pwd)
cache=${QING_CACHE:-/var/cache/qing}
bcache=$cache/board
mkdir -p "$bcache/$arch"
debs() { sh "$here/debs.sh" "$@"; }
# One setup at a time: two first runs would otherwise unpack into the same folders.
exec 9>"$bcache/.lock"
flock 9

# Installs host packages that are missing. Only missing ones: `apt-get install` of an
# installed package would also upgrade it (libc6!). The package lists may be absent on
# a fresh machine, hence the update-and-retry.
apt_missing() {
    local p missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
        { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; } ||
        die "cannot apt-get install ${missing[*]}"
}
apt_missing cpio gzip coreutils e2fsprogs

# QEMU: `apt-get install qemu-system-arm` can conflict with a backported qemu-utils,
# so its .debs are unpacked into a private folder and only its shared libraries are
# installed through apt (from the package's own Depends, minus the qemu-* ones).
hostarch=$(dpkg --print-architecture)
qdir=$bcache/qemu-$hostarch
if ! "$qdir/usr/bin/$qemu" --version >/dev/null 2>&1; then
    log "setting up QEMU in $qdir"
    qdebs=$(debs "$hostarch" qemu-system-arm qemu-system-mips qemu-system-data) || die "cannot fetch QEMU .debs"
    rm -rf "$qdir.tmp" && mkdir -p "$qdir.tmp"
    for d in $qdebs; do dpkg-deb -x "$d" "$qdir.tmp"; done
    libs=$(for d in $qdebs; do dpkg-deb -f "$d" Depends; done | tr ',' '\n' |
        sed 's/[(|].*//; s/ //g' | grep -v -e '^qemu-' -e '^$' | sort -u)
    # shellcheck disable=SC2086
    apt_missing $libs
    rm -rf "$qdir" && mv "$qdir.tmp" "$qdir"
    "$qdir/usr/bin/$qemu" --version >/dev/null || die "$qdir/usr/bin/$qemu does not run (missing shared library?)"
fi

# busybox-static for ARCH: the guest's shell and tools.
bb=$bcache/$arch/busybox
if [ ! -x "$bb" ]; then
    bbdeb=$(debs "$arch" busybox-static) || die "cannot fetch busybox-static for $arch"
    dpkg-deb --fsys-tarfile "$bbdeb" | tar -xO ./bin/busybox >"$bb.tmp"
    chmod 755 "$bb.tmp" && mv "$bb.tmp" "$bb"
fi

# Kernel: resolve the meta package to the versioned one it Depends on. debs.sh keeps
# both in its cache, so the kernel stays the same (and offline) after the first run.
# A --kernel needs none of it.
if [ -n "$kernel" ]; then
    kver="$(basename "$kernel") (--kernel)" kimage=$kernel
else
    metadeb=$(debs "$arch" "$meta") || die "cannot fetch $meta for $arch"
    kpkg=$(dpkg-deb -f "$metadeb" Depends | tr ',' '\n' | sed -n 's/^ *\(linux-image-[^ ]*\).*/\1/p' | head -n 1)
    [ -n "$kpkg" ] || die "$metadeb does not depend on a linux-image package"
    kver=${kpkg#linux-image-}
    kdeb=$(debs "$arch" "$kpkg") || die "cannot fetch $kpkg for $arch"
    kdir=$bcache/$arch/$kver
    if [ ! -f "$kdir/vmlinuz" ] || [ ! -f "$kdir/files" ]; then
        log "unpacking the kernel of $kpkg"
        mkdir -p "$kdir"
        dpkg-deb --fsys-tarfile "$kdeb" | tar -xO "./boot/vmlinuz-$kver" >"$kdir/vmlinuz.tmp"
        dpkg-deb --fsys-tarfile "$kdeb" | tar -t | grep '\.ko$' >"$kdir/files.tmp"
        mv "$kdir/vmlinuz.tmp" "$kdir/vmlinuz" && mv "$kdir/files.tmp" "$kdir/files"
    fi
    kimage=$kdir/vmlinuz
fi

# Modules: the .deb has no modules.dep (depmod runs at install time), so each module's
# dependencies come from the `depends=` field of its .modinfo section. Modules are
# unpacked one by one on demand and stay in the cache.
modpath() {  # module name -> ./lib/modules/.../name.ko ('-' and '_' are the same)
    local re
    re=$(printf '%s' "$1" | sed 's/[-_]/[-_]/g')
    grep -m1 "/$re\.ko\$" "$kdir/files" || die "no module '$1' in $kpkg"
}
moddeps() { tr '\0' '\n' <"$kdir/$1" | sed -n 's/^depends=//p' | tr ',' ' '; }
declare -A seen=()
order=()
addmod() {  # depth first: dependencies end up before their users in $order
    local p d
    p=$(modpath "$1")
    [ -z "${seen[$p]:-}" ] || return 0
    seen[$p]=1
    if [ ! -f "$kdir/$p" ]; then
        dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$kdir" "$p" || die "cannot unpack $p from $kdeb"
    fi
    for d in $(moddeps "$p"); do addmod "$d"; done
    # Soft dependencies name aliases (e.g. libcrc32c wants "crc32c"), and resolving
    # aliases would need every module unpacked: say so rather than guess.
    d=$(tr '\0' '\n' <"$kdir/$p" | sed -n 's/^softdep=//p' | paste -sd ';')
    [ -z "$d" ] || log "note: ${p##*/} has soft dependencies ($d): name the modules that provide them in --modules and load them first"
    order+=("$p")
}
for m in ${modules//,/ }; do addmod "$m"; done
# Prints the dependencies of module $1 depth first, a user before what it uses; the
# last time a module shows up is after all of its users, so keeping only that one
# gives an order where what loads first comes last.
alldeps() {
    local d q
    for d in $(moddeps "$1"); do q=$(modpath "$d"); echo "$q"; alldeps "$q"; done
}

exec 9>&-  # the cache is complete: boots may run side by side

# The initramfs, built in a scratch folder that goes away on exit.
work=$(mktemp -d "${TMPDIR:-/tmp}/qing-board.XXXXXX")
qpid=""
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    # Never leave QEMU behind: timeout(1) passes the TERM on to it.
    if [ -n "$qpid" ]; then kill "$qpid" 2>/dev/null || true; wait "$qpid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,mnt,etc,root,rootfs}
chmod 1777 "$root/tmp"
cp "$bb" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
# The kernel opens /dev/console before /init runs and before devtmpfs is mounted.
mknod -m 600 "$root/dev/console" c 5 1
mknod -m 666 "$root/dev/null" c 1 3
install -m 755 "$here/board/init" "$root/init"
install -m 755 "$qing" "$root/usr/bin/qing"
install -m 755 "$script" "$root/test.sh"
cp -a "$rootfs/." "$root/rootfs/"
for f in "${files[@]}"; do
    dest=$root/${f#*:}
    mkdir -p "$(dirname "$dest")"
    cp "${f%%:*}" "$dest"
done
[ -z "$tree" ] || cp -a "$tree/." "$root/"
mdir=$root/lib/modules/$kver
[ -n "$kernel" ] || { mkdir -p "$mdir" && : >"$mdir/modules.dep"; }
for p in "${order[@]}"; do
    rel=${p#./lib/modules/"$kver"/}
    mkdir -p "$(dirname "$mdir/$rel")"
    cp "$kdir/$p" "$mdir/$rel"
    # modules.dep lists every (transitive) dependency, the one to load first last.
    deps=$(alldeps "$p" | tac | awk '!seen[$0]++' | tac | sed "s|^\./lib/modules/$kver/||" | paste -sd ' ')
    echo "$rel:${deps:+ $deps}" >>"$mdir/modules.dep"
done
drive=() initrd=(-initrd "$work/initrd.gz") kroot=""
if [ $root_disk = 1 ]; then
    # The root goes on the disk, with room to write; the initramfs only mounts it.
    if [ -n "$disk" ] && [ -f "$disk" ]; then
        log "booting the disk $disk as its last boot left it"
    else
        size=$(du -sm "$root" | cut -f1)
        mke2fs -q -t ext4 -L root -d "$root" "${disk:-$work/root.img}" "$((size * 3 / 2 + 32))M" ||
            die "mke2fs could not make the root disk"
    fi
    disk=${disk:-$work/root.img}
    drive=(-drive "file=$disk,format=raw,if=none,id=root" -device "virtio-blk-pci,drive=root,romfile=")
fi
if [ $root_disk = 1 ] && [ -n "$kernel" ]; then
    # A board's own kernel mounts its root itself, as Buildroot's QEMU boards boot
    # (board/qemu/*/readme.txt): no initramfs. Malta's disk is IDE, as there.
    [ "$arch" != mipsel ] || drive=(-drive "file=$disk,format=raw,if=ide")
    case $arch in mipsel) kroot=/dev/sda ;; *) kroot=/dev/vda ;; esac
    initrd=() boot_init="" init_args=""
elif [ $root_disk = 1 ]; then
    iroot=$work/initrd-root
    mkdir -p "$iroot"/{bin,sbin,dev,proc,newroot}
    cp -a "$root/bin/busybox" "$root/bin/sh" "$iroot/bin/"
    cp -a "$root/dev/console" "$root/dev/null" "$iroot/dev/"
    [ ! -d "$root/lib" ] || cp -a "$root/lib" "$iroot/"
    install -m 755 "$here/board/disk-init" "$iroot/init"
    echo "$disk_modules" >"$iroot/disk-modules"
    # After "--", the kernel's command line is init's: disk-init hands it on.
    boot_init=/init init_args=" -- $init"
    root=$iroot
else
    boot_init=$init init_args=""
fi
if [ ${#initrd[@]} -gt 0 ]; then
    (cd "$root" && find . | cpio --quiet -o -H newc) | gzip -1 >"$work/initrd.gz"
    # The initramfs unpacks into a tmpfs of half the RAM, next to its compressed copy.
    size=$(du -sm "$root" | cut -f1)
    [ $((size * 3)) -lt "$mem" ] || log "warning: the initramfs holds $size MB; with --mem $mem it may not unpack (raise --mem)"
fi

# Boot. Console to stdout (lines stripped of the serial CR), and the marker noted.
if [ -n "$kroot" ]; then
    append="console=$console root=$kroot rootwait rw init=$init panic=-1 quiet ${QING_BOARD_APPEND:-}"
else
    append="console=$console rdinit=$boot_init panic=-1 quiet ${QING_BOARD_APPEND:-}$init_args"
fi
netargs=(-nic none)
# romfile= : the NIC's boot ROM (ipxe) is not needed to boot a kernel, nor installed.
[ -z "$forward" ] || netargs=(-netdev "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:${forward%%:*}-:${forward#*:}"
    -device "$nic,netdev=net0,romfile=")
log "booting $arch: kernel $kver, $mem MB, modules: ${modules:-none}, timeout ${timeout_s}s"
start=$EPOCHREALTIME
mkfifo "$work/console"
timeout -k 5 "$timeout_s" "$qdir/usr/bin/$qemu" -L "$qdir/usr/share/qemu" "${qargs[@]}" -m "$mem" \
    -nographic -no-reboot "${netargs[@]}" "${drive[@]}" -kernel "$kimage" "${initrd[@]}" \
    -append "$append" </dev/null >"$work/console" 2>&1 &
qpid=$!
status="" took=""
while IFS= read -r line || [ -n "$line" ]; do
    line=${line%$'\r'}
    printf '%s\n' "$line"
    case $line in
        BOARD-EXIT-STATUS=*)
            status=${line#BOARD-EXIT-STATUS=}
            took=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
            break ;;
    esac
done <"$work/console"
# After the marker the board powers off; a kernel with no power-off driver for it
# (Buildroot's Malta config) halts and leaves QEMU running: it goes after 10 s.
if [ -n "$status" ]; then
    for _ in $(seq 100); do kill -0 "$qpid" 2>/dev/null || break; sleep 0.1; done
    kill "$qpid" 2>/dev/null || true
fi
rc=0 && wait "$qpid" || rc=$?
qpid=""
case $status in ''|*[!0-9]*) status="" ;; esac
if [ -n "$status" ]; then
    log "$arch: BOARD-EXIT-STATUS=$status, $took s from QEMU start to the marker"
    case $rc in 124|143) log "note: the board did not power off; QEMU was ended after the marker" ;; esac
    exit "$status"
elif [ "$rc" = 124 ]; then
    log "$arch: timed out after ${timeout_s}s without the marker; QEMU killed"
    exit 124
fi
log "$arch: QEMU ended (status $rc) without printing BOARD-EXIT-STATUS"
exit 1
