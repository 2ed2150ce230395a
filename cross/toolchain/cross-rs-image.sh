#!/bin/bash
# cross/toolchain/cross-rs-image.sh --host-tools | TARGET
#
# Runs inside `docker build` of cross/Dockerfile, as root, and nowhere else.
#   --host-tools  installs what cargo needs on the build host (gcc, libc6-dev);
#   TARGET        makes TARGET's C runtime folder under QING_CACHE, as cross/build.sh
#                 does, writes the release flags for TARGET as /.cargo/config.toml, and
#                 removes what only making the folder needed (downloads, apt lists).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)   # cross/, as for cross/build.sh
# shellcheck source=cross/toolchain/common.sh
. "$here/toolchain/common.sh"
# shellcheck source=cross/toolchain/targets.sh
. "$here/toolchain/targets.sh"

# What apt leaves behind: of no use in the image.
apt_leftovers() { rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb; }

[ $# -eq 1 ] || die "usage: cross/toolchain/cross-rs-image.sh --host-tools | TARGET"
if [ "$1" = --host-tools ]; then
    apt_install gcc libc6-dev ca-certificates
    apt_leftovers
    exit 0
fi

target=$1
target_vars "$target" || die "unknown TARGET '$target' (one of: $known_targets)"
crt_tmp=''
trap 'rm -rf ${crt_tmp:+"$crt_tmp"}' EXIT
ensure_crt "$target"
mkdir -p /.cargo
release_cargo_config "$target" >/.cargo/config.toml
say "qing's release build for $target: $crtdir, /.cargo/config.toml"
rm -rf "$cache/apt" "$cache/debs" "$cache/zig" "$cache/.lock"
apt_leftovers
