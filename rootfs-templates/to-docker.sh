#!/bin/sh
# rootfs-templates/to-docker.sh MANIFEST [TAG]
#
# Makes a Docker image from a qing template: MANIFEST is OUTDIR/NAME.json as build.sh (or
# from-docker.sh) writes it, and the image's one layer is the directory OUTDIR/NAME/ next
# to it (the manifest's "directory", or its "name"). The manifest's command, env and
# workdir become the image's CMD, ENV and WORKDIR, and its arch the image's platform
# (amd64, arm64, arm/v7 for armhf, mipsle for mipsel).
# TAG defaults to qing/NAME:ARCH. Prints the image id (only that, on stdout) at the end.
#
# Talks to the engine in DOCKER_HOST (e.g. eval "$(tests/docker/engine.sh env DIR)");
# DOCKER names the client to use (default: docker on PATH). Never pulls anything.
#
# The layer is a tar of the tree made reproducibly: names sorted, numeric owners (the
# build host's user names must not matter), every mtime the manifest's "created", GNU
# format (no atime/ctime). Docker keeps the tar as given, so the layer's diff id is the
# tar's sha256 and is the same for two conversions of one template; the image id is not,
# because `docker import` stamps the image with the time of the import.
#
# dockerd 20.10 ignores the architecture in `docker import --platform`; the image is then
# stamped again with `docker load` (see below). The result is checked against the manifest
# (platform, layer, CMD/ENV/WORKDIR) before the id is printed.
set -eu

me=rootfs-templates/to-docker.sh
die() { echo "$me: $*" >&2; exit 1; }
docker=${DOCKER:-docker}

[ $# -eq 1 ] || [ $# -eq 2 ] || { echo "usage: $me MANIFEST [TAG]" >&2; exit 2; }
manifest=$1 tag=${2:-}
[ -f "$manifest" ] || die "no manifest '$manifest'"
[ "$(id -u)" = 0 ] || die "must run as root (the template's tree is owned by root, some of it unreadable to others)"
command -v python3 >/dev/null || die "python3 is needed to read the manifest"
command -v "$docker" >/dev/null || die "no docker client '$docker'"

export LC_ALL=C
umask 022

# ---- the manifest ---------------------------------------------------------------------

# One line per field, or one ERROR line. Each --change is one line of Dockerfile syntax
# that the daemon parses and then expands $VARIABLES in (ENV and WORKDIR), so values are
# quoted with \ " $ escaped; a newline cannot be written at all.
fields=$(python3 - "$manifest" <<'PY'
import json, sys
def fail(msg):
    print("ERROR " + msg); sys.exit(0)
try:
    m = json.load(open(sys.argv[1]))
except (OSError, ValueError) as e:
    fail("cannot read the manifest: %s" % e)
if not isinstance(m, dict):
    fail("the manifest is not a JSON object")
name, arch = m.get("name"), m.get("arch")
cmd, env, wd, created = m.get("command", []), m.get("env", []), m.get("workdir", "/"), m.get("created")
def bad(n):
    return not isinstance(n, str) or not n or "/" in n or n.startswith(".") or "\n" in n
if bad(name):
    fail("bad name %r" % (name,))
# The tree is OUTDIR/<directory> (manifests from before that field: OUTDIR/<name>).
directory = m.get("directory", name)
if bad(directory):
    fail("bad directory %r" % (directory,))
platform = {"amd64": "linux/amd64", "arm64": "linux/arm64", "armhf": "linux/arm/v7",
            "mipsel": "linux/mipsle"}.get(arch)
if platform is None:
    fail("unknown arch %r (amd64, arm64, armhf, mipsel)" % (arch,))
if not (isinstance(cmd, list) and all(isinstance(c, str) for c in cmd)):
    fail("command is not an array of strings")
if not (isinstance(env, list) and all(isinstance(e, str) and "=" in e[1:] for e in env)):
    fail("env is not an array of NAME=value strings")
for e in env:
    if any(ch.isspace() or ch in "\"'$\\" for ch in e.split("=", 1)[0]):
        fail("env name %r cannot be given to docker import" % e.split("=", 1)[0])
if not isinstance(wd, str) or not wd.startswith("/"):
    fail("workdir is not an absolute path")
if not isinstance(created, int) or isinstance(created, bool) or created < 0:
    fail("created is not a time in seconds")
if any("\n" in s or "\r" in s for s in cmd + env + [wd]):
    fail("a newline in command, env or workdir cannot be given to docker import")
def quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'
print("name " + name)
print("directory " + directory)
print("arch " + arch)
print("platform " + platform)
print("created %d" % created)
print("dirbytes %d" % int(m.get("size", {}).get("directory", -1)))
# The expected image config, to check what the daemon made of the changes.
print("expect " + json.dumps([cmd or None, env or None, wd]))
if cmd:
    print("change CMD " + json.dumps(cmd))
for e in env:
    k, v = e.split("=", 1)
    print("change ENV %s=%s" % (k, quote(v)))
print("change WORKDIR " + wd.replace("\\", "\\\\").replace("$", "\\$"))
PY
) || die "cannot read $manifest"
case $fields in "ERROR "*) die "$manifest: ${fields#ERROR }" ;; esac
field() { printf '%s\n' "$fields" | sed -n "s/^$1 //p"; }
name=$(field name) arch=$(field arch) platform=$(field platform) created=$(field created)

dir=$(cd "$(dirname "$manifest")" && pwd)/$(field directory)
if [ ! -d "$dir" ] || [ -L "$dir" ]; then die "no template directory $dir next to $manifest"; fi

if [ -z "$tag" ]; then
    tag=qing/$name:$arch
    # Docker repository names are lower case [a-z0-9] words joined by . _ -; template
    # names are freer.
    printf '%s\n' "$name" | grep -qE '^[a-z0-9]+([._-]+[a-z0-9]+)*$' ||
        die "'$name' cannot be a Docker repository name: give a TAG"
fi

# ---- the layer ------------------------------------------------------------------------

work=$(mktemp -d "${TMPDIR:-/tmp}/qing-to-docker.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# A shared lock on OUTDIR: build.sh and from-docker.sh take it exclusively to swap the
# tree, so the tree cannot change under tar.
exec 9<"$(dirname "$dir")"
flock -s 9

# The directory must be the one the manifest describes (same byte count as publish counts).
bytes=$(find "$dir" \( -type f -o -type l \) -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
[ "$bytes" = "$(field dirbytes)" ] ||
    die "$dir holds $bytes bytes but $manifest says $(field dirbytes): rebuild the template"

# "./" first carries the root directory's own mode and owner.
tar -C "$dir" --create --file "$work/layer.tar" --format=gnu --sort=name --numeric-owner \
    --mtime="@$created" --no-acls --no-xattrs --no-selinux . ||
    die "cannot make a tar of $dir"
exec 9<&-
layer_sha=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)

# ---- the image ------------------------------------------------------------------------

set -- --platform "$platform" --message "qing template $name ($arch) from $manifest"
while IFS= read -r change; do
    set -- "$@" --change "$change"
done <<EOF
$(field change)
EOF
"$docker" import "$@" "$work/layer.tar" "$tag" >"$work/id" ||
    die "docker import failed (is DOCKER_HOST set to a running engine? tests/docker/engine.sh)"
id=$(tail -n 1 "$work/id")

# dockerd before 23.0 (Debian 12's is 20.10) takes only the OS from --platform and stamps
# the image with its own architecture. Then the image is made again with the right one:
# `docker load` of an archive holding only a config (the imported one with architecture
# and variant set) and a manifest; its one layer is the one just imported, so load finds
# it in the store and reads no layer file. The mis-stamped image is removed.
"$docker" image inspect --format '{{json .}}' "$id" >"$work/inspect" || die "cannot inspect $id"
TAG=$tag PLATFORM=$platform python3 - "$work/inspect" "$work/restamp.tar" <<'PY' ||
import hashlib, io, json, os, sys, tarfile
i = json.load(open(sys.argv[1]))
os_, arch, *variant = os.environ["PLATFORM"].split("/")
if (i.get("Os"), i.get("Architecture"), i.get("Variant") or "") == (os_, arch, "".join(variant)):
    sys.exit(3)   # the engine did it right
config = {"architecture": arch, "os": os_, "config": i["Config"], "created": i["Created"],
          "docker_version": i.get("DockerVersion", ""), "comment": i.get("Comment", ""),
          "history": [{"created": i["Created"], "comment": i.get("Comment", "")}],
          "rootfs": {"type": "layers", "diff_ids": i["RootFS"]["Layers"]}}
if variant:
    config["variant"] = variant[0]
blob = json.dumps(config, separators=(",", ":")).encode()
name = hashlib.sha256(blob).hexdigest() + ".json"
manifest = json.dumps([{"Config": name, "RepoTags": [os.environ["TAG"]],
                        "Layers": ["layer%d/layer.tar" % n for n in range(len(i["RootFS"]["Layers"]))]}]).encode()
with tarfile.open(sys.argv[2], "w") as t:
    for n, data in ((name, blob), ("manifest.json", manifest)):
        e = tarfile.TarInfo(n); e.size = len(data); e.mode = 0o644
        t.addfile(e, io.BytesIO(data))
PY
    case $? in
        3) ;;
        *) die "cannot make the archive that sets the platform of $id" ;;
    esac
if [ -e "$work/restamp.tar" ]; then
    "$docker" load -q -i "$work/restamp.tar" >"$work/load.log" 2>&1 ||
        { cat "$work/load.log" >&2; die "docker load (to set the platform $platform) failed"; }
    new=$("$docker" image inspect --format '{{.Id}}' "$tag") || die "cannot inspect $tag"
    [ "$new" = "$id" ] || "$docker" image rm "$id" >/dev/null || die "cannot remove image $id"
    id=$new
fi

# Check what the daemon made of it: the platform, the layer (the tar as given) and the
# config, against the manifest.
"$docker" image inspect --format '{{json .}}' "$id" >"$work/inspect" || die "cannot inspect $id"
EXPECT=$(field expect) LAYER="sha256:$layer_sha" PLATFORM=$platform python3 - "$work/inspect" <<'PY' ||
import json, os, sys
i = json.load(open(sys.argv[1]))
c = i.get("Config") or {}
got_platform = "/".join(p for p in (i.get("Os"), i.get("Architecture"), i.get("Variant")) if p)
problems = []
if got_platform != os.environ["PLATFORM"]:
    problems.append("platform %s, not %s" % (got_platform, os.environ["PLATFORM"]))
if (i.get("RootFS") or {}).get("Layers") != [os.environ["LAYER"]]:
    problems.append("layers %s, not [%s]" % ((i.get("RootFS") or {}).get("Layers"), os.environ["LAYER"]))
got = [c.get("Cmd") or None, c.get("Env") or None, c.get("WorkingDir") or "/"]
if got != json.loads(os.environ["EXPECT"]):
    problems.append("config %s, not %s" % (json.dumps(got), os.environ["EXPECT"]))
for p in problems:
    print("rootfs-templates/to-docker.sh: the image has " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
{
    "$docker" image rm -f "$id" >/dev/null 2>&1 || true
    die "image $id does not match $manifest (removed it)"
}

echo "$me: $tag: layer sha256:$layer_sha" >&2
echo "$id"
