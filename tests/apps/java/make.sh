#!/bin/sh
# tests/apps/java/make.sh APP OUTDIR
#
# Makes the test app APP (a directory here: one .java file and jars.txt) ready to run:
#   OUTDIR/APP.jar    the app, compiled by the host's javac 17, Main-Class set, every entry
#                     dated as the source file so that two makes give the same jar
#   OUTDIR/lib/*.jar  the jars jars.txt names, from Debian 12's packages (fetched once by
#                     cross/debs.sh into its cache, offline after)
# Prints OUTDIR/APP.jar.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
die() { echo "tests/apps/java/make.sh: $*" >&2; exit 1; }
[ $# -eq 2 ] || die "usage: tests/apps/java/make.sh APP OUTDIR"
app=$1 out=$2
[ -f "$here/$app/jars.txt" ] || die "no test app '$app' in $here"
jdk=/usr/lib/jvm/java-17-openjdk-$(dpkg --print-architecture)/bin
[ -x "$jdk/javac" ] || {
    apt-get update -q >&2 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openjdk-17-jdk-headless >&2
} || die "cannot install openjdk-17-jdk-headless (for javac and jar)"

work=$(mktemp -d "${TMPDIR:-/tmp}/qing-java-app.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$out/lib" "$work/classes"
out=$(cd "$out" && pwd)

# The jars, copied as files (Debian's names are links to versioned files).
grep -v '^#' "$here/$app/jars.txt" | while read -r package jar; do
    [ -n "$package" ] || continue
    deb=$(sh "$repo/cross/debs.sh" amd64 "$package") || die "cannot fetch $package"
    [ -d "$work/$package" ] || { mkdir "$work/$package" && dpkg-deb -x "$deb" "$work/$package"; } ||
        die "cannot unpack $deb"
    cp -L "$work/$package/usr/share/java/$jar" "$out/lib/$jar" || die "$package has no /usr/share/java/$jar"
done

src=$(ls "$here/$app"/*.java)
main=$(basename "$src" .java)
"$jdk/javac" --release 17 -encoding UTF-8 -cp "$out/lib/*" -d "$work/classes" "$src" >&2 ||
    die "javac failed on $src"
printf 'Manifest-Version: 1.0\nCreated-By: qing tests\nMain-Class: %s\n' "$main" >"$work/MANIFEST.MF"
date=$(date -u -d "@$(stat -c %Y "$src")" +%Y-%m-%dT%H:%M:%SZ)
# shellcheck disable=SC2046  # class file names: no spaces
(cd "$work/classes" && "$jdk/jar" --create --file "$out/$app.jar" --manifest "$work/MANIFEST.MF" \
    --date "$date" $(find . -name '*.class' | LC_ALL=C sort)) || die "jar failed on $src"
echo "$out/$app.jar"
