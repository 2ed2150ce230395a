#!/bin/sh
# cross/debs.sh ARCH PKG...
# cross/debs.sh --closure ARCH PKG...
#
# Fetches Debian 12 (bookworm) packages for ARCH (amd64, arm64, armhf, mipsel) into a
# local cache and prints the path of each .deb, one per line. It never runs
# `dpkg --add-architecture`: a private apt list directory per architecture keeps the
# host's package state untouched. A package already in the cache is used as is, with
# no network, so builds after the first one run offline.
#
# With --closure it downloads nothing and prints what apt would install for PKG on an
# empty system (its Depends and Pre-Depends, recursively, alternatives chosen as apt
# chooses them, no Recommends): one "SIZE NAME" line each (SIZE is the package's
# Installed-Size in bytes), then "SIZE total".
#
# QING_CACHE (default /var/cache/qing) is where the lists and .debs live.
set -eu
closure=no
[ "${1:-}" = --closure ] && { closure=yes; shift; }
[ $# -ge 2 ] || { echo "usage: cross/debs.sh [--closure] ARCH PKG..." >&2; exit 2; }
arch=$1; shift
case $arch in amd64|arm64|armhf|mipsel) ;; *) echo "cross/debs.sh: unknown ARCH '$arch' (amd64, arm64, armhf, mipsel)" >&2; exit 2;; esac
cache=${QING_CACHE:-/var/cache/qing}
lists=$cache/apt/$arch/lists
debs=$cache/debs/$arch
mkdir -p "$lists/partial" "$debs" "$cache/apt/$arch/archives/partial"

# Our own sources list: the main suite and the security suite. The security index of
# some architectures has been seen out of sync (size mismatch): that one failure is
# tolerated, because the main suite alone still resolves every package.
# One caller at a time per cache: apt runs unlocked here (its own lock files live in
# the host's state), so concurrent downloads into one directory would collide.
exec 9>"$cache/.lock"
flock 9

src=$cache/apt/sources.list
if [ ! -f "$src" ]; then
    cat >"$src.tmp.$$" <<LIST
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
LIST
    mv "$src.tmp.$$" "$src"
fi
o="-q -o APT::Architecture=$arch -o APT::Architectures=$arch -o Dir::State::Lists=$lists
   -o Dir::Etc::SourceList=$src -o Dir::Etc::SourceParts=/nonexistent
   -o Dir::Cache::Archives=$cache/apt/$arch/archives -o Debug::NoLocking=1 -o APT::Sandbox::User=root"

# The newest cached version, by Debian's version order.
cached() {
    for f in "$debs/$1"_*.deb; do [ -e "$f" ] && printf '%s\n' "$f"; done |
        sort -V | tail -n 1
}
update() {
    # shellcheck disable=SC2086
    apt-get $o update >&2 || echo "cross/debs.sh: apt-get update for $arch reported an error; going on with the indexes that came in" >&2
}

if [ $closure = yes ]; then
    ls "$lists"/*_Packages* >/dev/null 2>&1 || update
    # apt resolves the install on an empty system (an empty dpkg status), so alternatives
    # are chosen as apt would choose them, not all counted.
    # shellcheck disable=SC2086
    pkgs=$(apt-get $o -o Dir::State::status=/dev/null -s install --no-install-recommends "$@" |
        sed -n 's/^Inst \([^ ]*\) .*/\1/p' | sort -u)
    [ -n "$pkgs" ] || { echo "cross/debs.sh: apt resolved nothing for $*" >&2; exit 1; }
    # shellcheck disable=SC2086
    apt-cache $o show --no-all-versions $pkgs |
        awk '/^Package: / { p = $2 } /^Installed-Size: / { print $2 * 1024, p; total += $2 * 1024 }
             END { print total, "total" }'
    exit 0
fi

missing=""
for p in "$@"; do [ -n "$(cached "$p")" ] || missing="$missing $p"; done
if [ -n "$missing" ]; then
    # apt stores its indexes compressed (*_Packages.lz4 and the like).
    ls "$lists"/*_Packages* >/dev/null 2>&1 || update
    for p in $missing; do
        # shellcheck disable=SC2086
        (cd "$debs" && apt-get $o download "$p" >&2) && continue
        # Old indexes name versions the mirror has dropped: refresh once and retry.
        update
        # shellcheck disable=SC2086
        (cd "$debs" && apt-get $o download "$p" >&2) || {
            echo "cross/debs.sh: cannot download '$p' for $arch: check the package name and the network to deb.debian.org" >&2
            exit 1
        }
    done
fi
for p in "$@"; do cached "$p"; done
