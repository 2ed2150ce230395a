#!/bin/sh
# rootfs-templates/build.sh RECIPE ARCH OUTDIR [OPTIONS]
#
#   rootfs-templates/build.sh python ARCH OUTDIR                  the base template
#   rootfs-templates/build.sh python ARCH OUTDIR --full           the whole runtime
#   rootfs-templates/build.sh python ARCH OUTDIR --app DIR [--requirements FILE | --wheels DIR]
#   rootfs-templates/build.sh java ARCH OUTDIR --app APP.jar [--classpath DIR]
#   rootfs-templates/build.sh go ARCH OUTDIR --app MODULE_DIR      a template for one app
#
# Builds a rootfs template for ARCH (amd64, arm64, armhf, mipsel) from Debian 12
# packages and writes three things:
#   OUTDIR/NAME/            the directory rootfs
#   OUTDIR/NAME.squashfs    the same tree, xz-compressed (QING_SQUASHFS_COMP=zstd for
#                           zstd) and reproducible
#   OUTDIR/NAME.json        its manifest: name, arch, sha256 of the squashfs, sizes, the
#                           default command, environment and working directory, and (for
#                           an app's template) what was kept and why
# NAME is RECIPE, RECIPE-full with --full, the app's name with --app, or --name NAME.
#
# Options (each recipe says which it takes, in RECIPE_OPTIONS):
#   --full               the whole runtime instead of the base selection
#   --app PATH           a template for one application: its files and what they use
#   --requirements FILE  python: the app's dependencies, fetched as wheels (cached)
#   --wheels DIR         python: the app's dependencies as wheel files, offline
#   --classpath DIR      java: the jars the app needs besides APP.jar
#   --keep MODULE        keep a module the app's import graph does not show (repeatable)
#   --bytecode           python: ship the bytecode of the app and its packages, so that
#                        no start compiles them (faster starts, a larger template)
#   --command CMD        the default command (words, or a JSON array)
#   --name NAME          the template's name
#   --check CMD          run CMD once in a qing container of the new template (under
#                        qemu-user for a foreign ARCH); a template whose check fails is
#                        not written. QING names the qing binary (default: qing on PATH,
#                        else this repository's release build)
#
# Each template is one recipe file, rootfs-templates/RECIPE/recipe.sh, which defines
# `recipe_build ROOT` and sets TEMPLATE_COMMAND, TEMPLATE_ENV (JSON arrays) and
# TEMPLATE_WORKDIR; this file holds what every recipe shares (options, fetching and
# unpacking .debs, the base layout, the shared-library closure, normalisation, the
# check, output: lib/template.sh).
#
# The result depends only on its inputs (.debs, wheels, the app): fixed modes, owner root,
# every mtime set to SOURCE_DATE_EPOCH (taken from the package unless set in the
# environment). A rebuild builds beside the old tree and swaps it in, so readers never
# see a half-built tree. Once the .debs (and wheels) are cached, no network is needed.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

die() { echo "rootfs-templates/build.sh: $*" >&2; exit 1; }
# usage_error MESSAGE: bad command line (status 2, nothing done).
usage_error() { echo "rootfs-templates/build.sh: $*" >&2; exit 2; }

# What every recipe shares: functions only, used from here on.
# shellcheck source=rootfs-templates/lib/template.sh
. "$here/lib/template.sh"

known_names() {
    for r in "$here"/*/recipe.sh; do [ -f "$r" ] && basename "$(dirname "$r")"; done | LC_ALL=C sort | paste -s -d ' ' -
}

[ $# -ge 3 ] || usage_error "usage: rootfs-templates/build.sh RECIPE ARCH OUTDIR [--full | --app PATH ...]  (RECIPE: $(known_names); see the head of this file)"
recipe=$1 arch=$2 outdir=$3
shift 3
case $recipe in */*|.*|'') recipe_ok=no ;; *) recipe_ok=yes ;; esac
if [ $recipe_ok = no ] || [ ! -f "$here/$recipe/recipe.sh" ]; then
    usage_error "unknown template '$recipe'; known: $(known_names)"
fi
case $arch in amd64|arm64|armhf|mipsel) ;; *)
    usage_error "unknown ARCH '$arch' (amd64, arm64, armhf, mipsel)" ;;
esac
case ${QING_SQUASHFS_COMP:-xz} in xz|zstd) ;; *)
    usage_error "QING_SQUASHFS_COMP='$QING_SQUASHFS_COMP': use xz (the default) or zstd" ;;
esac

# ---- options ----------------------------------------------------------------------------
# What the recipe reads: variant (base, full or app), app, app_requirements, app_wheels,
# app_classpath (absolute paths or empty), app_keep (words), app_bytecode (yes or no),
# app_command (a JSON array or empty); check_command is build.sh's own.
RECIPE_OPTIONS=""
# shellcheck source=/dev/null
. "$here/$recipe/recipe.sh"
variant=base app="" app_requirements="" app_wheels="" app_classpath="" app_keep="" app_command="" app_bytecode=no
check_command="" name="" full=no

# takes OPTION: the recipe takes OPTION (without its dashes), or the build stops here.
takes() {
    case " $RECIPE_OPTIONS " in *" $1 "*) return 0 ;; esac
    # shellcheck disable=SC2086  # the option words
    usage_error "the $recipe template takes no --$1 (it takes:$(printf ' --%s' $RECIPE_OPTIONS | sed 's/^ --$/ nothing/'))"
}
# absolute OPTION PATH TEST: PATH made absolute, after checking it with `test TEST`.
absolute() {
    test "$3" "$2" || case $3 in
        -d) usage_error "--$1 $2: no such directory" ;;
        *) usage_error "--$1 $2: no such file" ;;
    esac
    case $2 in /*) echo "$2" ;; *) echo "$PWD/$2" ;; esac
}
while [ $# -gt 0 ]; do
    opt=$1
    case $opt in
        --full|--bytecode|--app|--requirements|--wheels|--classpath|--keep|--command|--name|--check) ;;
        *) usage_error "unknown option '$opt' (see the head of rootfs-templates/build.sh)" ;;
    esac
    if [ "$opt" = --full ]; then
        takes full
        full=yes
        shift
        continue
    fi
    if [ "$opt" = --bytecode ]; then
        takes bytecode
        app_bytecode=yes
        shift
        continue
    fi
    [ $# -ge 2 ] || usage_error "$opt needs a value"
    value=$2
    shift 2
    case $opt in
        --app)
            takes app
            if [ -d "$value" ]; then app=$(absolute app "$value" -d); else app=$(absolute app "$value" -f); fi
            variant=app ;;
        --requirements) takes requirements; app_requirements=$(absolute requirements "$value" -f) ;;
        --wheels) takes wheels; app_wheels=$(absolute wheels "$value" -d) ;;
        --classpath) takes classpath; app_classpath=$(absolute classpath "$value" -d) ;;
        --keep)
            takes keep
            case $value in *[!A-Za-z0-9_.]*|''|.*|*.) usage_error "--keep '$value': not a module name" ;; esac
            app_keep="$app_keep $value" ;;
        --command)
            takes command
            case $value in '') usage_error "--command needs a command" ;; esac
            app_command=$value ;;
        --name) name=$value ;;
        --check)
            case $value in '') usage_error "--check needs a command" ;; esac
            check_command=$value ;;
    esac
done
if [ $full = yes ]; then
    [ -z "$app" ] || usage_error "--full and --app do not go together"
    variant=full
fi
if [ -z "$app" ]; then
    for v in "$app_requirements" "$app_wheels" "$app_classpath" "$app_keep" "$app_command"; do
        [ -z "$v" ] || usage_error "--requirements, --wheels, --classpath, --keep and --command need --app"
    done
    [ $app_bytecode = no ] || usage_error "--bytecode needs --app"
fi
[ -z "$app_requirements" ] || [ -z "$app_wheels" ] || usage_error "give --requirements or --wheels, not both"

if [ -z "$name" ]; then
    case $variant in
        base) name=$recipe ;;
        full) name=$recipe-full ;;
        app) name=$(basename "$app" .jar) ;;
    esac
fi
# NAME is a file name in OUTDIR and a template name for qing: no hidden or odd names.
case $name in
    .*|-*|*[!A-Za-z0-9._-]*|'') usage_error "'$name' cannot name a template (letters, digits, '.', '_' and '-'; not starting with '.' or '-'): give --name" ;;
esac

[ "$(id -u)" = 0 ] || die "must run as root (the tree is owned by root)"

command -v python3 >/dev/null && command -v mksquashfs >/dev/null || {
    apt-get update -q >&2 && apt-get install -y -q python3 squashfs-tools >&2
} || die "cannot install python3 and squashfs-tools"
if [ -n "$app_command" ]; then
    words=$(words_json "$app_command") || usage_error "--command '$app_command': give words or a JSON array of strings"
    app_command=$words
fi
[ -z "$check_command" ] || words_json "$check_command" >/dev/null ||
    usage_error "--check '$check_command': give words or a JSON array of strings"

# Sorting, globbing and tools' output must not depend on the caller's locale or umask.
export LC_ALL=C
umask 022

mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

# One builder per OUTDIR at a time: two concurrent swaps would race. The lock is on the
# directory itself, so no lock file is left behind.
exec 9<"$outdir"
flock 9

# work: scratch space for unpacked .debs. stage: the new tree, inside OUTDIR so that the
# final rename stays on one filesystem.
work=$(mktemp -d "${TMPDIR:-/tmp}/qing-template.XXXXXX")
stage="$outdir/.$name.new.$$"
old="$outdir/.$name.old.$$"
trap 'rm -rf "$work" "$stage" "$old" "$outdir/.$name.squashfs.new" "$outdir/.$name.json.new"' EXIT
trap 'exit 130' INT TERM
rm -rf "$stage"
mkdir -m 0755 "$stage"


# ---- build ----------------------------------------------------------------------------

TEMPLATE_COMMAND='["/bin/sh"]'
TEMPLATE_ENV='["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]'
TEMPLATE_WORKDIR=/
recipe_build "$stage"
[ -n "${SOURCE_DATE_EPOCH:-}" ] || die "recipe $recipe set no SOURCE_DATE_EPOCH (call epoch_from)"
[ -z "$app_command" ] || TEMPLATE_COMMAND=$app_command

normalize
[ -z "$check_command" ] || check_run "$check_command"

publish
echo "$outdir/$name"
