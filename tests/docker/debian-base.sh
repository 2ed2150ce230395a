#!/bin/sh
# tests/docker/debian-base.sh
#
# Imports a Debian 12 (bookworm) base image as `debian:12` into the engine that
# DOCKER_HOST names (eval "$(tests/docker/engine.sh env DIR)" first). No image can be
# pulled on a test host, and a Dockerfile that says `FROM debian:12` (cross/Dockerfile)
# finds a local image of that name before it would pull one.
#
# The root is made by debootstrap (variant minbase) from the same mirror apt uses, once:
# its tarball is kept in QING_CACHE (default /var/cache/qing)/docker and imported from
# there afterwards, with no network. A no-op when the engine already has debian:12.
set -eu

me=tests/docker/debian-base.sh
die() { echo "$me: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (debootstrap needs it)"
[ -n "${DOCKER_HOST:-}" ] || die "DOCKER_HOST is not set: eval \"\$(tests/docker/engine.sh env DIR)\" first"

image=debian:12
docker image inspect "$image" >/dev/null 2>&1 && exit 0

cache=${QING_CACHE:-/var/cache/qing}/docker
tarball=$cache/debian-12-minbase-$(dpkg --print-architecture).tar
if [ ! -f "$tarball" ]; then
    command -v debootstrap >/dev/null 2>&1 || {
        DEBIAN_FRONTEND=noninteractive apt-get -q install -y --no-install-recommends debootstrap >&2 ||
            die "cannot install debootstrap"
    }
    mkdir -p "$cache"
    root=$(mktemp -d "$cache/.root.XXXXXX")
    trap 'rm -rf "$root" "$tarball.tmp"' EXIT
    echo "$me: debootstrap --variant=minbase bookworm (once; kept in $tarball)" >&2
    debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >&2 ||
        die "debootstrap failed (its log: $root/debootstrap/debootstrap.log)"
    # What a Docker image of Debian has, and no more: no apt lists, no caches.
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
    printf 'deb http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian bookworm-updates main\ndeb http://deb.debian.org/debian-security bookworm-security main\n' \
        >"$root/etc/apt/sources.list"
    tar -C "$root" --numeric-owner -cf "$tarball.tmp" . || die "cannot pack $root"
    mv "$tarball.tmp" "$tarball"
fi
# The host's own CAs go in at import, not into the cached tarball: where the host reaches
# the package mirrors through a TLS-inspecting proxy, its CA is what lets the image's
# downloads (zig from the Python package index) work too, and such a CA may change.
# ca-certificates, installed by the image's build, adds them to its bundle.
import=$(mktemp "$cache/.import.XXXXXX")
trap 'rm -f "$import"' EXIT
cp "$tarball" "$import"
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
    tar -C / --numeric-owner -rf "$import" usr/local/share/ca-certificates || die "cannot add the host's CAs"
fi
docker import "$import" "$image" >/dev/null || die "docker import of $tarball failed"
