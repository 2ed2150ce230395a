#!/bin/sh
# tests/bench/size.sh [TARGET...]   (default: all five release targets)
#
# What each build option costs: for every target, the release binary (cross/build.sh)
# of the default build (every feature), of the minimal build (--no-default-features),
# and of the minimal build plus each feature alone. Prints a markdown table: the two
# builds in bytes, then each feature as bytes more than the minimal build. The
# Buildroot and Yocto options quote these figures.
#
# The features are the default list of Cargo.toml. A feature's cost alone can differ
# from what it adds to a build that has others (they share code): the last row says
# how far the sum of the parts is from the default build.
#
# The backquotes in the table's text are markdown's, not the shell's:
# shellcheck disable=SC2016
set -eu
cd "$(dirname "$0")/../.."
targets=${*:-x86_64-unknown-linux-musl aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf mipsel-unknown-linux-musl mips-unknown-linux-musl}
features=$(sed -n 's/^default = \[\(.*\)\]/\1/p' Cargo.toml | tr -d '",')
[ -n "$features" ] || { echo "tests/bench/size.sh: no default features in Cargo.toml" >&2; exit 1; }
sizes=$(mktemp -d /tmp/qing-size.XXXXXX)
trap 'rm -rf "$sizes"' EXIT

# size TARGET NAME [CARGO FLAGS...]: builds, and keeps the size as $sizes/TARGET.NAME.
size() {
    t=$1 name=$2
    shift 2
    bin=$(cross/build.sh "$t" "$@" | tail -n 1)
    stat -c %s "$bin" >"$sizes/$t.$name"
    printf '%s %s: %s bytes\n' "$t" "$name" "$(cat "$sizes/$t.$name")" >&2
}
for t in $targets; do
    size "$t" default
    size "$t" minimal --no-default-features
    for f in $features; do
        size "$t" "$f" --no-default-features --features "$f"
    done
done

get() { cat "$sizes/$1.$2"; }
short() { echo "${1%%-*}"; }
printf '| build |'
for t in $targets; do printf ' %s |' "$(short "$t")"; done
printf '\n|---|'
for t in $targets; do printf '%s' '---:|'; done
printf '\n| default (every feature) |'
for t in $targets; do printf ' %s |' "$(get "$t" default)"; done
printf '\n| minimal (`--no-default-features`) |'
for t in $targets; do printf ' %s |' "$(get "$t" minimal)"; done
for f in $features; do
    printf '\n| + `%s` |' "$f"
    for t in $targets; do printf ' +%s |' "$(($(get "$t" "$f") - $(get "$t" minimal)))"; done
done
printf '\n| default - minimal - each alone (shared code) |'
for t in $targets; do
    parts=0
    for f in $features; do parts=$((parts + $(get "$t" "$f") - $(get "$t" minimal))); done
    printf ' %s |' "$(($(get "$t" default) - $(get "$t" minimal) - parts))"
done
printf '\n'
