#!/bin/sh
# rootfs-templates/build.sh NAME ARCH OUTDIR
#
# Builds the rootfs template NAME for ARCH (amd64, arm64, armhf, mipsel) from Debian 12
# packages and writes three things:
#   OUTDIR/NAME/            the directory rootfs
#   OUTDIR/NAME.squashfs    the same tree, xz-compressed (QING_SQUASHFS_COMP=zstd for
#                           zstd) and reproducible
#   OUTDIR/NAME.json        its manifest: name, arch, sha256 of the squashfs, sizes, and
#                           the default command, environment and working directory
# Each template is one recipe file, rootfs-templates/NAME/recipe.sh, which defines
# `recipe_build ROOT` and sets TEMPLATE_COMMAND, TEMPLATE_ENV (JSON arrays) and
# TEMPLATE_WORKDIR; this file holds what every recipe shares (fetching and unpacking
# .debs, the base layout, the shared-library closure, normalisation, output).
#
# The result depends only on the .debs: fixed modes, owner root, every mtime set to
# SOURCE_DATE_EPOCH (taken from the package unless set in the environment). A rebuild builds
# beside the old tree and swaps it in, so readers never see a half-built tree. Once the
# .debs are in cross/debs.sh's cache, no network is needed.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

die() { echo "rootfs-templates/build.sh: $*" >&2; exit 1; }

known_names() {
    for r in "$here"/*/recipe.sh; do [ -f "$r" ] && basename "$(dirname "$r")"; done | LC_ALL=C sort | paste -s -d ' ' -
}

[ $# -eq 3 ] || { echo "usage: rootfs-templates/build.sh NAME ARCH OUTDIR  (NAME: $(known_names))" >&2; exit 2; }
name=$1 arch=$2 outdir=$3
case $name in */*|.*|'') name_ok=no ;; *) name_ok=yes ;; esac
if [ $name_ok = no ] || [ ! -f "$here/$name/recipe.sh" ]; then
    echo "rootfs-templates/build.sh: unknown template '$name'; known: $(known_names)" >&2
    exit 2
fi
case $arch in amd64|arm64|armhf|mipsel) ;; *)
    echo "rootfs-templates/build.sh: unknown ARCH '$arch' (amd64, arm64, armhf, mipsel)" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || die "must run as root (the tree is owned by root)"
case ${QING_SQUASHFS_COMP:-xz} in xz|zstd) ;; *)
    echo "rootfs-templates/build.sh: QING_SQUASHFS_COMP='$QING_SQUASHFS_COMP': use xz (the default) or zstd" >&2; exit 2 ;;
esac

# Sorting, globbing and tools' output must not depend on the caller's locale or umask.
export LC_ALL=C
umask 022

mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

# One builder per OUTDIR at a time: two concurrent swaps would race. The lock is on the
# directory itself, so no lock file is left behind.
exec 9<"$outdir"
flock 9

# work: scratch space for unpacked .debs. stage: the new tree, inside OUTDIR so that the
# final rename stays on one filesystem.
work=$(mktemp -d "${TMPDIR:-/tmp}/qing-template.XXXXXX")
stage="$outdir/.$name.new.$$"
old="$outdir/.$name.old.$$"
trap 'rm -rf "$work" "$stage" "$old" "$outdir/.$name.squashfs.new" "$outdir/.$name.json.new"' EXIT
trap 'exit 130' INT TERM
rm -rf "$stage"
mkdir -m 0755 "$stage"

# shellcheck source=rootfs-templates/lib/template.sh
. "$here/lib/template.sh"

# ---- build ----------------------------------------------------------------------------

command -v python3 >/dev/null && command -v mksquashfs >/dev/null || {
    apt-get update -q >&2 && apt-get install -y -q python3 squashfs-tools >&2
} || die "cannot install python3 and squashfs-tools"

TEMPLATE_COMMAND='["/bin/sh"]'
TEMPLATE_ENV='["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]'
TEMPLATE_WORKDIR=/
# shellcheck source=/dev/null
. "$here/$name/recipe.sh"
recipe_build "$stage"
[ -n "${SOURCE_DATE_EPOCH:-}" ] || die "recipe $name set no SOURCE_DATE_EPOCH (call epoch_from)"

normalize

publish
echo "$outdir/$name"
