#!/bin/bash
# boards/kernel/build.sh ARCH OUTDIR
#
# Builds the kernel a board of qing's Buildroot defconfigs would boot, so that the boot
# bench can measure a board's own kernel and not only Debian's generic one (which keeps
# 29 of 128 MB for itself before init runs). ARCH:
#   arm64   Buildroot's board/qemu/aarch64-virt/linux.config   -> OUTDIR/Image
#   mipsel  Buildroot's board/qemu/mips32r2el-malta/linux.config -> OUTDIR/vmlinux
# The config is made as Buildroot makes it for qing_qemu_*_defconfig: the board's file,
# then linux.mk's own fixups for those defconfigs (devtmpfs, mounted at boot: the
# default /dev management; no GCC plugins), then the options of qing's default build
# options, then `make olddefconfig`. qing's options are the fragments
# boards/kernel/generate.sh writes from src/kernel.rs (the same list as
# QING_LINUX_CONFIG_FIXUPS and `qing check`), for the default features of Cargo.toml.
# qing's are built in; OUTDIR/config is the resulting .config.
#
# What differs from Buildroot's build: the source is Debian 12's linux-source-6.1
# (Buildroot 2026.02 fetches 6.18.7, which cannot be downloaded here) and the compiler
# Debian's gcc-12 cross compiler; an option that 6.1 lacks is dropped by olddefconfig
# and listed on stderr.
#
# The Buildroot tree is ../shared/build-systems/buildroot-2026.02.3.tar.xz
# (QING_BUILD_SYSTEMS to change the directory). The build (about 10-20 minutes on two
# cores) is cached in $QING_CACHE/kernel (default /var/cache/qing) under a hash of its
# inputs: running again is instant.
set -eu
usage() { echo "usage: boards/kernel/build.sh ARCH(arm64|mipsel) OUTDIR" >&2; exit 2; }
die() { echo "boards/kernel/build.sh: $*" >&2; exit 1; }
log() { echo "boards/kernel/build.sh: $*" >&2; }
[ $# = 2 ] || usage
arch=$1 out=$2
repo=$(cd "$(dirname "$0")/../.." && pwd)
case $arch in
    arm64)  board=aarch64-virt karch=arm64 cross=aarch64-linux-gnu- image=Image
            kimage=arch/arm64/boot/Image ;;
    mipsel) board=mips32r2el-malta karch=mips cross=mipsel-linux-gnu- image=vmlinux
            kimage=vmlinux ;;
    *) die "unknown ARCH '$arch' (arm64 or mipsel)" ;;
esac
[ "$(id -u)" = 0 ] || die "run as root: it installs the packages it needs"
br_version=2026.02.3
sources=${QING_BUILD_SYSTEMS:-$repo/../shared/build-systems}
[ -d "$sources" ] || sources=/work/shared/build-systems
tarball=$sources/buildroot-$br_version.tar.xz
[ -f "$tarball" ] || die "no $tarball: set QING_BUILD_SYSTEMS to the directory of the shared build-system archives"

# Installs host packages that are missing (only those: installing an installed package
# would also upgrade it).
need=(linux-source-6.1 "gcc-${cross%-}" bc bison flex libssl-dev libelf-dev make xz-utils)
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
        { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; } ||
        die "cannot apt-get install ${missing[*]}"
fi
src_tar=$(ls /usr/src/linux-source-6.1.tar.xz 2>/dev/null) || die "linux-source-6.1 has no /usr/src/linux-source-6.1.tar.xz"
src_version=$(dpkg-query -W -f='${Version}' linux-source-6.1)
gcc_version=$("${cross}gcc" -dumpfullversion)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The inputs: the board's config, Buildroot's fixups, qing's fragments for the
# default features.
tar -xJOf "$tarball" "buildroot-$br_version/board/qemu/$board/linux.config" >"$tmp/board.config" ||
    die "no board/qemu/$board/linux.config in $tarball"
fragments=$repo/boards/yocto/meta-qing/recipes-kernel/linux/linux-yocto
features=$(sed -n 's/^default = \[\(.*\)\]/\1/p' "$repo/Cargo.toml" | tr -d '",')
{
    cat "$fragments/qing-core.cfg"
    for f in $features; do [ ! -f "$fragments/qing-$f.cfg" ] || cat "$fragments/qing-$f.cfg"; done
} | grep '^CONFIG_' >"$tmp/qing.config"
printf '%s\n' CONFIG_DEVTMPFS=y CONFIG_DEVTMPFS_MOUNT=y '# CONFIG_GCC_PLUGINS is not set' >"$tmp/buildroot.config"
cat "$tmp/board.config" "$tmp/buildroot.config" "$tmp/qing.config" >"$tmp/input.config"

cache=${QING_CACHE:-/var/cache/qing}/kernel
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
srcdir=$cache/linux-source-$src_version
if [ ! -f "$srcdir/.unpacked" ]; then
    log "unpacking $src_tar"
    rm -rf "$srcdir" && mkdir -p "$srcdir"
    tar -xJf "$src_tar" -C "$srcdir" --strip-components=1
    touch "$srcdir/.unpacked"
fi
build=$cache/build-$arch
rm -rf "$build" && mkdir -p "$build"
cp "$tmp/input.config" "$build/.config"
kmake() { make -C "$srcdir" O="$build" ARCH="$karch" CROSS_COMPILE="$cross" "$@"; }
kmake olddefconfig >"$build/olddefconfig.log" 2>&1 || die "make olddefconfig failed: $build/olddefconfig.log"
# An option asked for but not set after olddefconfig: unknown to 6.1, or a
# dependency is missing. qing's own options must all survive. (A board line that
# qing's fragment sets otherwise, BRIDGE=m, is overridden.)
# ("# CONFIG_X is not set" holds as well when X is absent.)
while IFS= read -r line; do
    grep -qxF "$line" "$build/.config" && continue
    case $line in "# CONFIG_"*" is not set")
        x=${line#\# }; grep -q "^${x%% *}=" "$build/.config" || continue ;; esac
    if grep -qxF "$line" "$tmp/qing.config"; then die "qing's $line did not survive olddefconfig (see $build/.config)"; fi
    grep -q "^${line%%=*}=" "$tmp/qing.config" ||
        log "note: $line is not in Linux $src_version's config for this board (dropped)"
done <"$tmp/input.config"
# The cache key is what is built: the whole config, the source and the compiler.
key=$( { grep -v '^#' "$build/.config"; echo "$arch $src_version $gcc_version"; } | sha256sum | cut -c1-16)
done_dir=$cache/$arch-$key
if [ ! -f "$done_dir/$image" ]; then
    log "building Linux $src_version for $arch ($board) in $build, $(nproc) jobs"
    kmake -j"$(nproc)" "${image}" >"$build/build.log" 2>&1 || { tail -n 30 "$build/build.log" >&2; die "the kernel build failed: $build/build.log"; }
    rm -rf "$done_dir.tmp" && mkdir -p "$done_dir.tmp"
    cp "$build/$kimage" "$done_dir.tmp/$image"
    cp "$build/.config" "$done_dir.tmp/config"
    rm -rf "$done_dir" && mv "$done_dir.tmp" "$done_dir"
fi
rm -rf "$build"
mkdir -p "$out"
cp "$done_dir/$image" "$done_dir/config" "$out/"
echo "$out/$image"
