#!/bin/sh
# tests/bench/templates.sh [ARCH...]   (default: amd64 arm64 armhf mipsel)
#
# The size of every template beside what it replaces, measured in one run:
#   directory, squashfs   the template as built (from its manifest), in bytes;
#   idle RSS              the sample service's resident memory once it has answered a
#                         request, read from inside a qing container (on the host's own
#                         architecture only: under qemu-user the emulator would count);
#   Debian closure        what Debian installs for the same runtime: the package and all
#                         its Depends and Pre-Depends (Installed-Size), for the same arch;
#   vs closure            how many times smaller the squashfs is than that closure.
# Then, for the host's architecture, the variants: the full templates (python-full,
# java-full; idle RSS of their sample service) and a template per app for the test apps
# of tests/apps (Python's six, Java's three, Go's greeter), whose idle RSS is the app's
# process once it has done its work and printed its ok line, waiting (APP_IDLE=1,
# tests/common/probe.sh --idle). The percentage is of the base template's squashfs.
# Then the anchor figures of common container images, for comparison.
#
# Templates are built into .cache/templates/ARCH unless there already (tests/run.sh
# builds them there); QING names the qing binary (default: a release build).
set -eu
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "tests/bench/templates.sh: run as root (it starts containers)" >&2; exit 1; }
archs=${*:-amd64 arm64 armhf mipsel}
out=$PWD/.cache/templates
host=$(dpkg --print-architecture)
qing=${QING:-$(cross/build.sh x86_64-unknown-linux-musl | tail -n 1)}
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT

# The Debian package whose closure a template stands for ("" when there is none: a Go
# service is one static binary).
debian_runtime() {
    case $1 in
        busybox) echo busybox-static ;;
        python) echo python3 ;;
        java) echo openjdk-17-jre-headless ;;
        *) echo "" ;;
    esac
}

# A number member of the manifest ("directory" is also the name of the directory form,
# a string: the digits are what tell the size apart).
json_field() { sed -n "s/.*\"$2\": \([0-9][0-9]*\).*/\1/p" "$1" | head -n 1; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1000000 }'; }

# idle_rss TEMPLATE DIR [--idle]: the resident memory of the template's service (or,
# with --idle, of its test app) as probe.sh reads it.
idle_rss() {
    t=$1 dir=$2 mode=${3:-}
    # The manifest's command starts the service, but for busybox (its default is the
    # debug shell; the service is /app/service), as the tests do.
    cmd=$(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["command"]))' "$dir/$t.json")
    [ "$cmd" != /bin/sh ] || cmd=/app/service
    # shellcheck disable=SC2086  # the manifest's command, word-split as the shell would
    "$qing" --root "$state" run --memory 256m \
        --volume "$dir/busybox/bin/busybox:/.qt/busybox:ro" \
        --volume "$PWD/tests/common/probe.sh:/.qt/probe.sh:ro" \
        "$dir/$t.squashfs" -- /.qt/busybox sh /.qt/probe.sh $mode $cmd |
        sed -n 's/^rss \([0-9]*\)$/\1 kB/p'
}

printf '%-8s %-7s %11s %11s %10s %15s %11s\n' template arch directory squashfs "idle RSS" "Debian closure" "vs closure"
for arch in $archs; do
    for t in busybox python go java; do
        if [ ! -f "$out/$arch/$t.json" ]; then
            rootfs-templates/build.sh "$t" "$arch" "$out/$arch" >/dev/null 2>"$state/build.err" || {
                printf '%-8s %-7s %s\n' "$t" "$arch" "not built: $(tail -n 1 "$state/build.err")"
                continue
            }
        fi
        m=$out/$arch/$t.json
        dir_b=$(json_field "$m" directory)
        sq_b=$(json_field "$m" squashfs)
        rss="-"
        [ "$arch" != "$host" ] || rss=$(idle_rss "$t" "$out/$arch")
        pkg=$(debian_runtime "$t")
        if [ -n "$pkg" ]; then
            closure=$(sh cross/debs.sh --closure "$arch" "$pkg" 2>/dev/null | sed -n 's/ total$//p')
            ratio=$(awk -v c="$closure" -v s="$sq_b" 'BEGIN { printf "%.0fx", c / s }')
            closure="$(mb "$closure") ($pkg)"
        else
            closure="-" ratio="-"
        fi
        printf '%-8s %-7s %11s %11s %10s %15s %11s\n' "$t" "$arch" "$(mb "$dir_b")" "$(mb "$sq_b")" "${rss:--}" "$closure" "$ratio"
    done
done

# VARIANT ARCH TEMPLATE ARGS...: a variant's row, built unless there already.
variant_row() {
    t=$1 arch=$2 base=$3
    shift 3
    if [ ! -f "$out/$arch/$t.json" ]; then
        rootfs-templates/build.sh "$base" "$arch" "$out/$arch" --name "$t" "$@" >/dev/null 2>"$state/build.err" || {
            printf '%-14s %-7s %s\n' "$t" "$arch" "not built: $(tail -n 1 "$state/build.err")"
            return 0
        }
    fi
    m=$out/$arch/$t.json
    dir_b=$(json_field "$m" directory)
    sq_b=$(json_field "$m" squashfs)
    rss="-"
    case $* in
        --full) rss=$(idle_rss "$t" "$out/$arch") ;;
        --app*) rss=$(idle_rss "$t" "$out/$arch" --idle) ;;
    esac
    pct=$(awk -v a="$sq_b" -v b="$(json_field "$out/$arch/$base.json" squashfs)" 'BEGIN { printf "%.0f%%", 100 * a / b }')
    printf '%-14s %-7s %11s %11s %10s %15s\n' "$t" "$arch" "$(mb "$dir_b")" "$(mb "$sq_b")" "${rss:--}" "$pct of $base"
}

if echo " $archs " | grep -q " $host "; then
    echo
    printf '%-14s %-7s %11s %11s %10s %15s\n' variant arch directory squashfs "idle RSS" "squashfs vs base"
    variant_row python-full "$host" python --full
    variant_row java-full "$host" java --full
    # The requests app reads its server's certificates beside it: a copy gets them.
    mkdir -p "$state/py"
    cp -R tests/apps/python/requests "$state/py/requests"
    sh tests/common/certs.sh "$state/certs" >/dev/null 2>&1
    cp "$state/certs/ca.crt" "$state/certs/server.crt" "$state/certs/server.key" "$state/py/requests/"
    for app in tests/apps/python/*/; do
        app=${app%/}
        [ "$(basename "$app")" != requests ] || app=$state/py/requests
        variant_row "py-$(basename "$app")" "$host" python --app "$app" --requirements "$app/requirements.txt"
    done
    for app in jetty sql xml; do
        jar=$(sh tests/apps/java/make.sh "$app" "$state/java/$app")
        classpath=""
        [ -z "$(ls "$state/java/$app/lib")" ] || classpath="--classpath $state/java/$app/lib"
        # shellcheck disable=SC2086  # no option, or the option and a path without spaces
        variant_row "java-$app" "$host" java --app "$jar" $classpath
    done
    variant_row go-greeter "$host" go --app tests/apps/go/greeter
fi

cat <<'ANCHORS'

Anchors (uncompressed, published figures):
  python:3.12-alpine 48.7 MB; distroless python3 about 50 MB
  distroless static about 2 MiB before the app; Go on scratch is the binary alone
  distroless java17 about 223 MB; eclipse-temurin:17-jre-alpine 156 MB;
  Ubuntu chiselled JRE 17 125 MB; a jlink runtime on distroless cc 88.6 MB
ANCHORS
