#!/bin/sh
# rootfs-templates/python/wheels.sh ARCH TARGET_DIR (--requirements FILE | --wheels DIR)
#
# Installs Python packages into TARGET_DIR as pip would for CPython 3.11 on Debian 12
# (glibc 2.36) of ARCH (amd64, arm64, armhf, mipsel): the unpacked wheels (import
# packages and modules, their *.dist-info, NAME.data/purelib and platlib merged in;
# scripts, headers and data dropped) and nothing else. The python recipe's --app calls
# it; tests call it to put an app's packages on a volume.
#
#   --requirements FILE  pip resolves FILE and downloads the wheels for ARCH (binary
#                        wheels only: nothing is compiled), once: they are kept in
#                        ${QING_CACHE:-/var/cache/qing}/wheels/ARCH/SHA256-OF-FILE/ and
#                        used offline afterwards. Environment markers are evaluated
#                        by the build machine's pip (its platform_machine, not ARCH's).
#   --wheels DIR         every *.whl in DIR, as they are (no resolution); a wheel that
#                        does not fit ARCH or CPython 3.11 is refused.
#
# TARGET_DIR must be new or empty; it appears complete or not at all (the install goes
# into a directory beside it, renamed at the end). The checks and the unpacking are
# wheels.py's. pip is Debian's (python3-pip, installed with apt when missing); its
# output goes to stderr.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
die() { echo "wheels.sh: $*" >&2; exit 1; }
usage() { echo "usage: rootfs-templates/python/wheels.sh ARCH TARGET_DIR (--requirements FILE | --wheels DIR)" >&2; exit 2; }

[ $# = 4 ] || usage
arch=$1 target=$2 mode=$3 source=$4
case $arch in amd64|arm64|armhf|mipsel) ;; *)
    echo "wheels.sh: unknown ARCH '$arch' (amd64, arm64, armhf, mipsel)" >&2; exit 2 ;;
esac
case $mode in
    --requirements) [ -f "$source" ] || die "--requirements $source: no such file" ;;
    --wheels) [ -d "$source" ] || die "--wheels $source: no such directory" ;;
    *) usage ;;
esac
case $target in '') usage ;; */) target=${target%/} ;; esac
if [ -L "$target" ] || { [ -e "$target" ] && { [ ! -d "$target" ] || [ -n "$(ls -A "$target")" ]; }; }; then
    die "$target exists and is not an empty directory: give a new one"
fi
export LC_ALL=C
umask 022

# What a failure must remove: the temporary install, a download in progress, and the
# parents of TARGET_DIR this script made.
tmp="" download="" made=""
cleanup() { rm -rf "$tmp" "$download" ${made:+"$made"}; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the wheels ---------------------------------------------------------------------
wheels=""
if [ "$mode" = --wheels ]; then
    wheels=$(cd "$source" && pwd)
else
    sum=$(sha256sum <"$source" | cut -d' ' -f1)
    cache=${QING_CACHE:-/var/cache/qing}/wheels/$arch
    wheels=$cache/$sum
    mkdir -p "$cache"
    # One download per cache at a time; a second caller finds the first one's result.
    exec 9<"$cache"
    flock 9
    if [ ! -d "$wheels" ]; then
        pip_python=/usr/bin/python3
        "$pip_python" -m pip --version >/dev/null 2>&1 || {
            apt-get update -q >&2 && apt-get install -y -q python3-pip >&2
        } || die "cannot install python3-pip (Debian's pip, which downloads the wheels)"
        download=$(mktemp -d "$cache/.download.XXXXXX")
        set --
        for p in $(python3 "$here/wheels.py" platforms "$arch"); do set -- "$@" --platform "$p"; done
        echo "wheels.sh: downloading the wheels of $source for $arch" >&2
        status=0
        "$pip_python" -m pip download --disable-pip-version-check --no-input --progress-bar off \
            --only-binary=:all: --python-version 3.11 --implementation cp \
            --abi cp311 --abi abi3 --abi none "$@" \
            --dest "$download/wheels" --requirement "$source" >"$download/pip.log" 2>&1 || status=$?
        if [ $status != 0 ]; then
            # pip names the first requirement it could not satisfy with a wheel.
            missing=$(sed -n 's/.*No matching distribution found for \([^ ]*\).*/\1/p; s/.*Could not find a version that satisfies the requirement \([^ ]*\).*/\1/p' "$download/pip.log" | head -n 1)
            if [ -n "$missing" ]; then
                grep -i 'error' "$download/pip.log" >&2 || true
                die "the package index has no wheel of $missing for $arch (CPython 3.11, glibc 2.36$([ "$arch" = mipsel ] && echo '; mipsel has only pure-Python wheels')): build one for $arch and give --wheels DIR holding it and the other wheels"
            fi
            cat "$download/pip.log" >&2
            die "pip download failed for $source ($arch, status $status; its output is above)"
        fi
        grep '^Saved ' "$download/pip.log" | sed 's|^Saved .*/|wheels.sh: got |' >&2 || true
        mv "$download/wheels" "$wheels"
        rm -rf "$download"
        download=""
    fi
    exec 9<&-
fi
set --
for w in "$wheels"/*.whl; do [ -f "$w" ] && set -- "$@" "$w"; done
[ $# -gt 0 ] || die "no *.whl in $wheels"

# ---- the install --------------------------------------------------------------------
parent=$(dirname "$target")
if [ ! -d "$parent" ]; then
    made=$parent
    while [ ! -d "$(dirname "$made")" ]; do made=$(dirname "$made"); done
    mkdir -p "$parent"
fi
tmp=$(mktemp -d "$parent/.$(basename "$target").wheels.XXXXXX")
python3 "$here/wheels.py" install "$arch" "$tmp/tree" "$@"
# rename(2) replaces an empty directory, so an empty TARGET_DIR is taken over as well.
mv -T "$tmp/tree" "$target"
# The move rewrote its ".." entry, and with it its mtime.
touch -d "@${SOURCE_DATE_EPOCH:-0}" "$target"
rm -rf "$tmp"
tmp="" made=""
