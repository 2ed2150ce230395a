#!/bin/bash
# tests/fuzz/run.sh [SECONDS]: runs every cargo-fuzz target of tests/fuzz for SECONDS
# (default 30) each, one after the other, from its committed corpus (README,
# "Fuzzing"). Fails if any target finds a crash, a hang (10 s on one input) or an
# allocation beyond 2 GB; the input is then in tests/fuzz/artifacts/TARGET/.
# New inputs go to a scratch directory: the committed corpora stay as they are
# (`cargo fuzz cmin` them by hand to grow them).
#
# Installs what it needs on a fresh Debian 12, as root: a C++ compiler for
# libFuzzer, the pinned nightly (cross/toolchain/common.sh), and stable to build
# cargo-fuzz with.
# Env: QING_CACHE (default /var/cache/qing): cargo-fuzz is installed there.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=cross/toolchain/common.sh
. "$root/cross/toolchain/common.sh"

seconds=${1:-30}
case $seconds in
    '' | *[!0-9]*) die "usage: tests/fuzz/run.sh [SECONDS]" ;;
esac
cargo_fuzz_version=0.13.1

apt_install gcc g++ libc6-dev
ensure_nightly
# cargo-fuzz itself builds on stable: its locked rustix 0.36 fails on this nightly.
[ -n "$(toolchain_rustc stable)" ] || rustup toolchain install stable --profile minimal >&2 ||
    die "cannot install the stable toolchain"
fuzz_root=$cache/cargo-fuzz
if [ "$("$fuzz_root/bin/cargo-fuzz" --version 2>/dev/null)" != "cargo-fuzz $cargo_fuzz_version" ]; then
    say "installing cargo-fuzz $cargo_fuzz_version"
    cargo +stable install --locked -q cargo-fuzz --version "$cargo_fuzz_version" \
        --root "$fuzz_root" >&2 || die "cannot install cargo-fuzz $cargo_fuzz_version"
fi
PATH=$fuzz_root/bin:$PATH

cd "$root"
# fuzz SUBCOMMAND ARGS...: cargo fuzz on tests/fuzz (the option before any `--`).
fuzz() {
    sub=$1
    shift
    cargo "+$nightly" fuzz "$sub" --fuzz-dir tests/fuzz "$@"
}
fuzz build
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=''
for t in $(fuzz list); do
    mkdir -p "$scratch/$t"
    # A new target may have no corpus yet: it starts from nothing.
    corpus=tests/fuzz/corpus/$t
    [ -d "$corpus" ] || corpus=''
    say "fuzzing $t for ${seconds}s"
    if fuzz run "$t" "$scratch/$t" ${corpus:+"$corpus"} -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        >"$scratch/$t.log" 2>&1; then
        # libFuzzer's last status line: executions, coverage, corpus.
        grep -E '^#[0-9]+' "$scratch/$t.log" | tail -n 1 >&2 || true
    else
        tail -n 40 "$scratch/$t.log" >&2
        failed="$failed $t"
    fi
done
[ -z "$failed" ] || die "fuzz targets failed:$failed (inputs in tests/fuzz/artifacts/)"
echo "fuzzing: every target ran ${seconds}s with no crash"
