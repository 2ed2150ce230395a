#!/bin/bash
# cross/build.sh TARGET [CARGO FLAGS...]
#
# Builds the stripped, static release binary of qing for a Rust target triple and
# prints its absolute path as the LAST line of stdout (everything else goes to stderr).
# CARGO FLAGS go to `cargo build` as they are: `--no-default-features --features
# squashfs` builds a board's own cut of qing (README, "Build options").
# Installs what it needs (Debian packages, a pinned nightly, zig) on first use;
# later runs need no network.
#
# Why nightly: a stable build spends ~350 KB on std's panic machinery; `-Zbuild-std`
# with the "immediate-abort" panic strategy removes it, and it is also the only route
# that covers every target (no prebuilt std for MIPS musl, none for armv7 musl here).
# The C runtime per target is explained in toolchain/targets.sh.
# With immediate-abort a panic prints nothing: bad input must never reach a panic.
#
# Env: QING_CACHE (default /var/cache/qing) for C runtimes, .debs and zig;
#      QING_SIZE_BUDGET (default 512000 bytes); QING_NIGHTLY, QING_ZIG_VERSION.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
# shellcheck source=cross/toolchain/common.sh
. "$here/toolchain/common.sh"
# shellcheck source=cross/toolchain/targets.sh
. "$here/toolchain/targets.sh"

# Keep stdout for the one line callers parse.
exec 3>&1 1>&2

target=${1:-}
[ $# -gt 0 ] && shift
if ! target_vars "$target"; then
    echo "usage: cross/build.sh TARGET [CARGO FLAGS...]" >&2
    echo "TARGET is one of: $known_targets" >&2
    [ -n "$target" ] && echo "cross/build.sh: unknown TARGET '$target'" >&2
    exit 2
fi
budget=${QING_SIZE_BUDGET:-512000}

# gcc+libc6-dev: cargo links build scripts (libc's, std's) for the host with `cc`.
# file: the final check.
pkgs="gcc libc6-dev file"
# shellcheck disable=SC2086
apt_install $pkgs
ensure_nightly

tmp='' crt_tmp=''
trap 'rm -rf ${tmp:+"$tmp"} ${crt_tmp:+"$crt_tmp"}' EXIT

ensure_crt "$target"

# Both would silently win over the configuration's rustflags.
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS

tmp=$(mktemp -d)
release_cargo_config "$target" >"$tmp/release.toml"
say "building qing for $target with $nightly"
start=$(date +%s%N)
(cd "$root" && cargo "+$nightly" build --release --target "$target" --bin qing \
    --config "$tmp/release.toml" \
    --message-format=json-render-diagnostics "$@" >"$tmp/messages.json") ||
    die "cargo build for $target failed"
# Ask cargo where it put the binary instead of guessing (CARGO_TARGET_DIR etc.).
bin=$(sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' "$tmp/messages.json" | tail -n 1)
[ -f "$bin" ] || die "cargo reported no qing executable"
end=$(date +%s%N)

desc=$(file -b "$bin")
case $desc in
    *"statically linked"*) ;;
    *) die "$bin is not a static executable: $desc" ;;
esac
case $desc in
    "$machine"*) ;;
    *) die "$bin is not for $target (want '$machine...'): $desc" ;;
esac
size=$(stat -c %s "$bin")
say "qing $target: $size bytes (budget $budget), cargo took $(( (end - start) / 1000000 )) ms"
say "  $desc"
[ "$size" -le "$budget" ] || die "$bin is $size bytes, over the budget of $budget"

printf '%s\n' "$bin" >&3
