#!/bin/sh
# boards/kernel/generate.sh [--check]
#
# The kernel options qing uses are one list, src/kernel.rs (`qing check` reports them,
# `qing check --kconfig` prints them). This turns the list into what the build systems
# read, for each build option (cargo feature) that uses kernel options:
#   boards/buildroot/package/qing/qing.mk   QING_LINUX_CONFIG_FIXUPS_<FEATURE>, between
#                                           the two "generated" comment lines
#   boards/yocto/meta-qing/recipes-kernel/linux/linux-yocto/qing-<feature>.cfg
#                                           the kernel fragments (qing-core.cfg ...)
# --check writes nothing and fails, naming the file, if any of them is not what the
# list makes (tests run it, so that the three cannot drift apart).
set -eu
cd "$(dirname "$0")/../.."
check=no
case ${1:-} in
    --check) check=yes ;;
    '') ;;
    *) echo "usage: boards/kernel/generate.sh [--check]" >&2; exit 2 ;;
esac
list=src/kernel.rs
mk=boards/buildroot/package/qing/qing.mk
cfgdir=boards/yocto/meta-qing/recipes-kernel/linux/linux-yocto
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LC_ALL=C

# "FEATURE OPTION" per line, in the list's order: the lines `NAME, FEATURE, NEED;`
# inside kernel_options! { ... }.
awk '
    /^kernel_options! \{/ { inside = 1; next }
    inside && /^\}/ { inside = 0 }
    inside && /^ *[A-Z0-9_]+, [A-Z]+, (REQUIRED|OPTIONAL);$/ {
        gsub(/[,;]/, ""); print tolower($2), "CONFIG_" $1
    }
' "$list" >"$tmp/options"
[ -s "$tmp/options" ] || { echo "generate.sh: no options found in $list" >&2; exit 1; }
# Every line of the macro that is not a comment must have been read.
in_macro=$(awk '/^kernel_options! \{/ { inside = 1; next } inside && /^\}/ { inside = 0 }
    inside && !/^ *\/\/\// && NF { n++ } END { print n + 0 }' "$list")
[ "$in_macro" = "$(wc -l <"$tmp/options")" ] ||
    { echo "generate.sh: $list has lines in kernel_options! that are not NAME, FEATURE, NEED;" >&2; exit 1; }
features=$(cut -d' ' -f1 "$tmp/options" | awk '!seen[$0]++')

# The Buildroot part: one define per feature, one KCONFIG_ENABLE_OPT line per option.
{
    echo "# The kernel options of each build option: generated from src/kernel.rs by"
    echo "# boards/kernel/generate.sh (do not edit by hand; run it after changing the list)."
    for f in $features; do
        upper=$(echo "$f" | tr '[:lower:]' '[:upper:]')
        echo "define QING_LINUX_CONFIG_FIXUPS_$upper"
        awk -v f="$f" '$1 == f { printf "\t$(call KCONFIG_ENABLE_OPT,%s)\n", $2 }' "$tmp/options"
        echo "endef"
    done
    echo "# End of the generated part."
} >"$tmp/fixups"
awk -v fixups="$tmp/fixups" '
    /^# The kernel options of each build option: generated/ { skip = 1; while ((getline l < fixups) > 0) print l }
    !skip { print }
    skip && /^# End of the generated part\.$/ { skip = 0 }
' "$mk" >"$tmp/qing.mk"
grep -q '^define QING_LINUX_CONFIG_FIXUPS_CORE$' "$tmp/qing.mk" ||
    { echo "generate.sh: $mk has no generated part to replace" >&2; exit 1; }

# The Yocto fragments: one per feature.
mkdir "$tmp/cfg"
for f in $features; do
    {
        echo "# The kernel options of qing's $f build option: generated from src/kernel.rs"
        echo "# by boards/kernel/generate.sh (do not edit by hand)."
        awk -v f="$f" '$1 == f { print $2 "=y" }' "$tmp/options"
    } >"$tmp/cfg/qing-$f.cfg"
done

stale=""
compare() { cmp -s "$1" "$2" || stale="$stale $2"; }
compare "$tmp/qing.mk" "$mk"
for f in "$tmp"/cfg/*.cfg; do compare "$f" "$cfgdir/${f##*/}"; done
for f in "$cfgdir"/qing-*.cfg; do
    [ -e "$f" ] || continue
    [ -e "$tmp/cfg/${f##*/}" ] || stale="$stale $f(no such feature)"
done
if [ "$check" = yes ]; then
    [ -z "$stale" ] || { echo "generate.sh: not what src/kernel.rs makes:$stale (run boards/kernel/generate.sh)" >&2; exit 1; }
    exit 0
fi
cp "$tmp/qing.mk" "$mk"
mkdir -p "$cfgdir"
rm -f "$cfgdir"/qing-*.cfg
cp "$tmp"/cfg/*.cfg "$cfgdir/"
echo "generate.sh: wrote $mk and $cfgdir/qing-*.cfg from $list"
