#!/bin/sh
# rootfs-templates/from-docker.sh IMAGE NAME [OUTDIR]
#
# Turns a Docker image that the engine already has (nothing is ever pulled) into a qing
# template with the same three outputs as build.sh: OUTDIR/NAME/, OUTDIR/NAME.squashfs and
# OUTDIR/NAME.json (OUTDIR defaults to the current directory).
#   filesystem: `docker create` + `docker export` of a container that is never started,
#               minus what the container's "init layer" adds (below);
#   manifest:   command = Config.Entrypoint + Config.Cmd, env = Config.Env (plus Docker's
#               default PATH if the image sets none, as `docker run` would add it),
#               workdir = Config.WorkingDir or /, arch from Architecture (+ Variant);
#   created:    SOURCE_DATE_EPOCH defaults to the image's Created time, so converting one
#               image twice gives the same squashfs.
# The tree then goes through lib/template.sh's normalize and publish like a built template.
#
# Talks to the engine in DOCKER_HOST (e.g. eval "$(tests/docker/engine.sh env DIR)");
# DOCKER names the client to use (default: docker on PATH).
#
# What `docker export` changes: dockerd 20.10 gives every container an "init layer" with
# /.dockerenv, /etc/hosts, /etc/hostname, /etc/resolv.conf, /dev/console (empty files, mode
# 0755), /etc/mtab -> /proc/mounts, and /dev/pts, /dev/shm, /proc, /sys, /dev, /etc
# (directories, where missing). It first unlinks whatever non-directory the image has at
# those paths, so even an image's own /etc/hostname or /etc/hosts comes out of the export
# empty. So these paths are taken from `docker save` instead (the image's layers, applied
# in order with their whiteouts): the ones the image lacks are removed, and the ones it
# has as files or symlinks are put back as the image has them.
#
# Not carried over: Config.User (the manifest has no user; a warning says so), exposed
# ports, volumes, labels, stop signal, health check; extended attributes (file
# capabilities), as for every template (mksquashfs -no-xattrs). Owners and setuid/setgid
# bits are the image's: TEMPLATE_KEEP_OWNERS=1 tells lib/template.sh's normalize so.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
me=rootfs-templates/from-docker.sh
docker=${DOCKER:-docker}

die() { echo "$me: $*" >&2; exit 1; }

[ $# -eq 2 ] || [ $# -eq 3 ] || { echo "usage: $me IMAGE NAME [OUTDIR]" >&2; exit 2; }
image=$1 name=$2 outdir=${3:-.}
# NAME: build.sh's rules (it is a file name in OUTDIR, and no hidden one).
case $name in */*|.*|'') echo "$me: bad NAME '$name' (no '/', not empty, not starting with '.')" >&2; exit 2 ;; esac
[ -n "$image" ] || { echo "$me: IMAGE is empty" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "must run as root (the tree keeps the image's owners and device files)"

# Sorting, globbing and tools' output must not depend on the caller's locale or umask.
export LC_ALL=C
umask 022

command -v "$docker" >/dev/null || die "no docker client '$docker'"
command -v python3 >/dev/null && command -v mksquashfs >/dev/null || {
    apt-get update -q >&2 && apt-get install -y -q python3 squashfs-tools >&2
} || die "cannot install python3 and squashfs-tools"

# ---- the image ------------------------------------------------------------------------

inspect=$("$docker" image inspect --format '{{json .}}' "$image" 2>&1) || {
    case $inspect in
        *"No such image"*|*"no such image"*)
            die "unknown image '$image': it must be present in the engine ($me never pulls)" ;;
        *) die "cannot inspect image '$image': $inspect" ;;
    esac
}

# One "key value" line per field, or one ERROR line.
fields=$(printf '%s' "$inspect" | python3 -c '
import json, re, sys
def fail(msg):
    print("ERROR " + msg); sys.exit(0)
i = json.load(sys.stdin)
c = i.get("Config") or {}
if i.get("Os", "linux") != "linux":
    fail("image is for %s, not linux" % i.get("Os"))
a, v = i.get("Architecture"), i.get("Variant") or ""
arch = {("amd64", ""): "amd64", ("arm64", ""): "arm64", ("arm64", "v8"): "arm64",
        ("arm", "v7"): "armhf", ("arm", ""): "armhf", ("mipsle", ""): "mipsel"}.get((a, v))
if arch is None:
    fail("architecture %s%s has no qing arch (amd64, arm64, arm/v7, mipsle)" % (a, "/" + v if v else ""))
command = (c.get("Entrypoint") or []) + (c.get("Cmd") or [])
env = c.get("Env") or []
# docker run adds this PATH to a container whose image sets none (Debian docker.io 20.10).
if not any(e.startswith("PATH=") for e in env):
    env = env + ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", i.get("Created") or "")
if not m:
    fail("cannot read the image Created time %r" % i.get("Created"))
from datetime import datetime
t = datetime.fromisoformat(m.group(1) + ("+00:00" if m.group(3) == "Z" else m.group(3)))
workdir, user = c.get("WorkingDir") or "/", c.get("User") or ""
if "\n" in workdir + user:
    fail("a newline in WorkingDir or User")
print("id " + i["Id"])
print("arch " + arch)
print("command " + json.dumps(command))
print("env " + json.dumps(env))
print("workdir " + workdir)
print("created %d" % min(max(int(t.timestamp()), 0), 2**32 - 1))
print("user " + user)
')
case $fields in "ERROR "*) die "image '$image': ${fields#ERROR }" ;; esac
field() { printf '%s\n' "$fields" | sed -n "s/^$1 //p"; }
id=$(field id) arch=$(field arch)
TEMPLATE_COMMAND=$(field command)
TEMPLATE_ENV=$(field env)
TEMPLATE_WORKDIR=$(field workdir)
# SOURCE_DATE_EPOCH from the environment wins; it must not stay exported, because
# mksquashfs refuses -mkfs-time/-all-time when it is in its environment.
epoch=${SOURCE_DATE_EPOCH:-$(field created)}
unset SOURCE_DATE_EPOCH
SOURCE_DATE_EPOCH=$epoch
case $SOURCE_DATE_EPOCH in ''|*[!0-9]*) die "SOURCE_DATE_EPOCH '$SOURCE_DATE_EPOCH' is not a number of seconds" ;; esac
[ "$TEMPLATE_COMMAND" != "[]" ] ||
    echo "$me: warning: image '$image' has neither Entrypoint nor Cmd: the manifest's command is empty" >&2
[ -z "$(field user)" ] ||
    echo "$me: warning: image '$image' runs as user '$(field user)'; a manifest cannot say so (run it with --user)" >&2

# ---- OUTDIR, lock, scratch ------------------------------------------------------------

mkdir -p "$outdir" 2>/dev/null || die "cannot create OUTDIR '$outdir'"
outdir=$(cd "$outdir" && pwd)
probe="$outdir/.$name.probe.$$"
touch "$probe" 2>/dev/null || die "OUTDIR '$outdir' is not writable"
rm -f "$probe"

# As in build.sh: one writer per OUTDIR at a time (a lock on the directory itself); the new
# tree is staged inside OUTDIR so that the final rename stays on one filesystem.
exec 9<"$outdir"
flock 9

cid=
work=$(mktemp -d "${TMPDIR:-/tmp}/qing-from-docker.XXXXXX")
# The tree is unpacked in a box only root can enter: until its device nodes are dropped
# (below), no one else may reach them.
box="$outdir/.$name.new.$$"
stage="$box/tree"
old="$outdir/.$name.old.$$"
# The container made for the export goes on every path out, error or signal.
trap 'if [ -n "$cid" ]; then "$docker" rm -f "$cid" >/dev/null 2>&1 || echo "$me: could not remove container $cid" >&2; fi
      rm -rf "$work" "$box" "$old" "$outdir/.$name.squashfs.new" "$outdir/.$name.json.new"' EXIT
trap 'exit 130' INT TERM
rm -rf "$box"
mkdir -m 0700 "$box"
mkdir -m 0755 "$stage"

# shellcheck source=rootfs-templates/lib/template.sh
. "$here/lib/template.sh"

# ---- the filesystem -------------------------------------------------------------------

# Never started, so nothing runs and nothing is mounted in it; the entrypoint is given
# because `docker create` refuses an image with no command at all.
# (Its stderr is kept for errors only: docker warns about every foreign-arch image.)
cid=$("$docker" create --network none --entrypoint /.qing-export "$id" 2>"$work/create.err") ||
    { cat "$work/create.err" >&2; die "cannot create a container from $image"; }
{ "$docker" export "$cid" || : >"$work/export-failed"; } |
    tar -x -f - -C "$stage" --numeric-owner --same-owner --same-permissions ||
    die "cannot unpack the export of $image"
[ ! -e "$work/export-failed" ] || die "docker export of $image failed"
"$docker" rm -f "$cid" >/dev/null || die "cannot remove container $cid"
cid=

# Put back what the init layer changed (see the header), from the image's own layers:
# initlayer.py prints "absent PATH" for each init path the image does not have (deepest
# first) and "restore PATH" for each it has as a non-directory (shallowest first; docker
# replaced those by its own), and writes those entries, as the image has them, to a tar.
cat >"$work/initlayer.py" <<'PY'
import json, os, sys, tarfile
INIT = ["/.dockerenv", "/dev", "/dev/console", "/dev/pts", "/dev/shm", "/etc", "/etc/hostname",
        "/etc/hosts", "/etc/mtab", "/etc/resolv.conf", "/proc", "/sys"]
def norm(n):
    n = os.path.normpath("/" + n)
    return "/" if n == "//" else n
def under(p, d):   # p is d or below it
    return p == d or p.startswith(d.rstrip("/") + "/")

# Per layer: the entries at init paths (with their data), the init paths that exist only
# as parents of its entries, and its whiteouts (file) and opaque directories.
layers, links, manifest = {}, {}, None
with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as outer:
    for m in outer:
        if m.name == "manifest.json":
            manifest = json.load(outer.extractfile(m))
        elif m.issym():   # docker save links to a layer it already wrote
            links[m.name] = os.path.normpath(os.path.join(os.path.dirname(m.name), m.linkname))
        elif m.isfile() and m.name != "repositories" and not m.name.endswith(".json"):
            entries, parents, gone, opaque = {}, set(), set(), set()
            try:
                with tarfile.open(fileobj=outer.extractfile(m), mode="r|*") as layer:
                    for e in layer:
                        p = norm(e.name)
                        base, parent = os.path.basename(p), os.path.dirname(p)
                        if base == ".wh..wh..opq":
                            opaque.add(parent)
                        elif base.startswith(".wh."):
                            gone.add(os.path.join(parent, base[4:]))
                        elif p in INIT:
                            data = layer.extractfile(e).read() if e.isfile() else None
                            entries[p] = (e, data)
                        else:
                            parents.update(q for q in INIT if under(p, q))
            except tarfile.TarError:
                continue   # not a layer (config, VERSION, ...)
            layers[m.name] = (entries, parents, gone, opaque)
if manifest is None:
    sys.exit("no manifest.json in the output of docker save")

# The image: the layers applied in order; a whiteout hides what lower layers have there.
have = {}
for name in manifest[0]["Layers"]:
    entries, parents, gone, opaque = layers[links.get(name, name)]
    have = {q: v for q, v in have.items() if not any(under(q, g) for g in gone)
            and not any(under(q, o) and q != o for o in opaque)}
    for q in parents:
        if q not in have or not have[q][0].isdir():
            have[q] = (tarfile.TarInfo(q), None)   # type DIRTYPE only by implication
            have[q][0].type = tarfile.DIRTYPE
    have.update(entries)
    # Docker's applier replaces a directory by a non-directory with all it held: what
    # lower layers had below it is gone. (Kept, /etc/hostname under an /etc that became
    # a link was restored through the link, wherever it pointed: onto the host.)
    for p, (e, _) in entries.items():
        if not e.isdir():
            have = {q: v for q, v in have.items() if q == p or not under(q, p)}

with tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT) as out:
    for q in sorted(set(INIT) - set(have), reverse=True):
        print("absent " + q)
    for q in sorted(have):
        e, data = have[q]
        if e.islnk():
            # A hard link's target is found through the tree, where a symlink out
            # (an export's /tmp -> a host directory) would link a host file in.
            print("from-docker.sh: warning: %s is a hard link in the image; "
                  "docker's empty file stays" % q, file=sys.stderr)
        elif not e.isdir():
            print("restore " + q)
            e.name = q.lstrip("/")
            out.addfile(e, None if data is None else __import__("io").BytesIO(data))
PY
{ "$docker" save "$id" || : >"$work/save-failed"; } |
    python3 "$work/initlayer.py" "$work/restore.tar" >"$work/initpaths" ||
    die "cannot read the layers of $image from docker save"
[ ! -e "$work/save-failed" ] || die "docker save of $image failed"
# Each init path is reached from the tree's root through real directories only: tar and
# rm follow a symlink on the way, and an export whose /etc or /dev is one would send the
# removal or the restore through it, outside the tree.
parents_are_dirs() {
    d=${1%/*}
    while [ -n "$d" ]; do
        if [ -L "$stage$d" ] || { [ -e "$stage$d" ] && [ ! -d "$stage$d" ]; }; then
            return 1
        fi
        d=${d%/*}
    done
}
while read -r what p; do
    parents_are_dirs "$p" || die "$image: a symlink or file on the way to $p in the export"
    if [ "$what" = restore ]; then
        rm -rf "${stage:?}$p"
    elif [ -d "$stage$p" ] && [ ! -L "$stage$p" ]; then
        rmdir "$stage$p" || die "$p, added by docker, is not empty"
    else
        rm -f "$stage$p"
    fi
done <"$work/initpaths"
while read -r what p; do
    [ "$what" != restore ] || parents_are_dirs "$p" ||
        die "$image: a symlink or file on the way to $p in the image"
done <"$work/initpaths"
tar -x -f "$work/restore.tar" -C "$stage" --numeric-owner --same-owner --same-permissions ||
    die "cannot put back the image's own init-layer paths"
# Device nodes are dropped: qing gives every container a /dev of its own, and every
# mount it could make a node on is nodev, so a node in a template could only ever be
# opened on the host, in OUTDIR/NAME (an image's world-writable disk, say).
nodes=$(find "$stage" \( -type b -o -type c \) -print -delete | wc -l)
[ "$nodes" = 0 ] || echo "$me: warning: dropped the $nodes device node(s) of image '$image'" >&2
# Docker's runtime gives every container /proc, /sys and /dev; an image made FROM scratch
# has none of them. Empty mount points let qing run the template with a read-only root.
for d in proc sys dev; do
    [ -e "$stage/$d" ] || [ -L "$stage/$d" ] || mkdir -m 0755 "$stage/$d"
done

# ---- outputs --------------------------------------------------------------------------

# shellcheck disable=SC2034  # read by lib/template.sh's normalize
TEMPLATE_KEEP_OWNERS=1
normalize
# The directory keeps the image's setuid and setgid files (containers need them): any
# host account that can reach OUTDIR/NAME could run them as their owners, root's
# included (CVE-2021-41091, Docker's own data directory). Said unless OUTDIR is closed.
if [ -n "$(find "$stage" -type f -perm /6000 -print -quit)" ] &&
    [ -n "$(find "$outdir" -maxdepth 0 -perm /001 -print)" ]; then
    echo "$me: warning: image '$image' has setuid or setgid files, and any host account can reach them in $outdir/$name: chmod 0700 $outdir" >&2
fi
publish
echo "$outdir/$name"
