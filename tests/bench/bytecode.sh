#!/bin/sh
# tests/bench/bytecode.sh [RUNS]   (default 5)
#
# What `--bytecode` buys a Python app's template, in one run on this machine (amd64):
# the Flask and FastAPI test apps (tests/apps/python) are built twice, with and without
# --bytecode, and each template imports its app's framework in a read-only qing
# container (`import flask`; `import fastapi, uvicorn`), RUNS times, the two in turn.
# Reported per template: directory and squashfs bytes (from its manifest) and the
# median time the import took inside the container (Python's own clock, so neither
# qing's start nor the image's mount counts); then the ratio without/with. Each run
# starts from a new mount of the image, so its pages are read and decompressed again,
# as at a board's boot.
#
# QING names the qing binary (default: a release build). Templates go to
# .cache/bench-bytecode (wheels come from the Python package index once, then the cache).
set -eu
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "tests/bench/bytecode.sh: run as root (it starts containers)" >&2; exit 1; }
runs=${1:-5}
case $runs in ''|*[!0-9]*|0) echo "tests/bench/bytecode.sh: RUNS wants a whole number above 0, got '$runs'" >&2; exit 2 ;; esac
qing=${QING:-$(cross/build.sh x86_64-unknown-linux-musl | tail -n 1)}
out=$PWD/.cache/bench-bytecode
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT

# import_of APP: what the app's framework is, as an import statement.
import_of() {
    case $1 in flask) echo "import flask" ;; fastapi) echo "import fastapi, uvicorn" ;; esac
}

for app in flask fastapi; do
    dir=tests/apps/python/$app
    for variant in plain bytecode; do
        set -- --app "$dir" --requirements "$dir/requirements.txt" --name "$app-$variant"
        [ $variant = plain ] || set -- "$@" --bytecode
        QING=$qing rootfs-templates/build.sh python amd64 "$out" "$@" >/dev/null
        "$qing" --root "$state" import "$out/$app-$variant.json" >/dev/null
    done
done

# seconds APP VARIANT: one import's time inside a new read-only container.
seconds() {
    "$qing" --root "$state" run --read-only --net none "$1-$2" /usr/bin/python3 -c \
        "import time; t = time.perf_counter(); $(import_of "$1"); print('%.3f' % (time.perf_counter() - t))"
}

echo "| app | template | directory | squashfs | import (median of $runs) |"
echo "|---|---|---|---|---|"
for app in flask fastapi; do
    : >"$state/plain" && : >"$state/bytecode"
    for _ in $(seq "$runs"); do
        for variant in plain bytecode; do
            seconds "$app" "$variant" >>"$state/$variant"
        done
    done
    for variant in plain bytecode; do
        sort -n "$state/$variant" | awk -v n="$runs" 'NR == int((n + 1) / 2)' >"$state/$variant.median"
        python3 -c 'import json, sys
m = json.load(open(sys.argv[1]))
print("| %s | %s | %.1f MB | %.1f MB | %s s |" % (sys.argv[2], sys.argv[3], m["size"]["directory"] / 1e6, m["size"]["squashfs"] / 1e6, sys.argv[4]))' \
            "$out/$app-$variant.json" "$app" "$([ $variant = plain ] && echo "--app" || echo "--app --bytecode")" "$(cat "$state/$variant.median")"
    done
    awk -v a="$(cat "$state/plain.median")" -v b="$(cat "$state/bytecode.median")" -v app="$app" \
        'BEGIN { printf "%s: the import takes %.1fx as long without --bytecode\n", app, a / b }' >>"$state/ratios"
done
echo
cat "$state/ratios"
