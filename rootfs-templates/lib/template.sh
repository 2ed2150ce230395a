# shellcheck shell=sh
# shellcheck disable=SC2154  # here, repo, name, arch, outdir, stage, work, old: set by the caller
# rootfs-templates/lib/template.sh: what every template shares, sourced by build.sh and
# from-docker.sh: fetching and unpacking .debs, the base layout, the shared-library
# closure, the CA bundle, normalisation, and the three outputs (directory, squashfs,
# manifest). The caller sets: here (rootfs-templates/), repo, name, arch, outdir,
# stage (the finished tree), work (scratch space), old, and defines die.

# ---- helpers for recipes ------------------------------------------------------------

# words_json CMD: CMD as a JSON array of words: CMD is one already ("[...]"), or words
# split as the shell would (quotes kept together). Fails on an empty or malformed CMD.
words_json() {
    python3 -c 'import json, shlex, sys
v = sys.argv[1]
try:
    words = json.loads(v) if v.lstrip().startswith("[") else shlex.split(v)
except ValueError:
    sys.exit(1)
if not isinstance(words, list) or not words or not all(isinstance(w, str) and w for w in words):
    sys.exit(1)
print(json.dumps(words))' "$1" 2>/dev/null
}

# triplet ARCH: Debian's multiarch directory name for ARCH.
triplet() {
    case $1 in
        amd64) echo x86_64-linux-gnu ;;
        arm64) echo aarch64-linux-gnu ;;
        armhf) echo arm-linux-gnueabihf ;;
        mipsel) echo mipsel-linux-gnu ;;
    esac
}

# closure ROOT DIR...: copies into ROOT the shared libraries (and the dynamic loader)
# that the ELF files already in ROOT link, found in the unpacked package trees DIR.
closure() {
    r=$1; shift
    python3 "$here/lib/elf_closure.py" "$r" "$(triplet "$arch")" "$@" >/dev/null ||
        die "the shared-library closure of $name is incomplete: add the package that has it"
}

# deb ARCH PKG: path of the cached .deb (downloads it on first use).
deb() {
    p=$(sh "$repo/cross/debs.sh" "$1" "$2") || die "cannot get package $2 for $1"
    [ -f "$p" ] || die "cross/debs.sh gave no file for $2 ($1)"
    echo "$p"
}

# unpack DEB: unpacks the .deb once into the scratch space and prints the directory.
unpack() {
    # (A failed deb in "$(unpack "$(deb ...)")" leaves this an empty name.)
    [ -f "$1" ] || die "no package to unpack (see the error above)"
    d="$work/$(basename "$1" .deb)"
    if [ ! -d "$d" ]; then
        mkdir -p "$d"
        dpkg-deb -x "$1" "$d" || die "cannot unpack $1"
    fi
    echo "$d"
}

# strip_elf FILE...: drops symbols and debug sections from ELF files of any architecture
# (Debian ships some, libjvm and libpython among them, with large symbol tables). MIPS
# objects also carry a .pdr section that nothing reads at run time.
strip_elf() {
    command -v llvm-strip-14 >/dev/null || apt-get install -y -q llvm-14 >&2 ||
        die "cannot install llvm-14 (for llvm-strip)"
    llvm-strip-14 --strip-unneeded --remove-section=.pdr "$@" || die "llvm-strip failed on $*"
}

# epoch_from FILE: SOURCE_DATE_EPOCH defaults to the mtime of a file from the package;
# Debian clamps those to the package's changelog date, so it changes only with the package.
epoch_from() {
    : "${SOURCE_DATE_EPOCH:=$(stat -c %Y "$1")}"
}

# base_layout ROOT: the directories, accounts and name-lookup files every template has.
# Users: root, app (1000, the unprivileged user to run workloads as) and nobody/nogroup
# (65534).
base_layout() {
    for d in bin sbin usr usr/bin usr/sbin etc dev proc sys run home var; do
        mkdir -m 0755 "$1/$d"
    done
    mkdir -m 1777 "$1/tmp" "$1/var/tmp"
    mkdir -m 0700 "$1/root"
    mkdir -m 0755 "$1/home/app"
    cat >"$1/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
    cat >"$1/etc/group" <<'EOF'
root:x:0:
app:x:1000:
nogroup:x:65534:
EOF
    chmod 0644 "$1/etc/passwd" "$1/etc/group"
    # Name lookup. qing writes hostname, hosts and resolv.conf into a writable root, but
    # can only bind over files that exist in a read-only one: without /etc/hosts,
    # "localhost" would not resolve there. nsswitch.conf: files before DNS, as Debian.
    printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$1/etc/hosts"
    printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' >"$1/etc/nsswitch.conf"
    : >"$1/etc/hostname"
    : >"$1/etc/resolv.conf"
    chmod 0644 "$1/etc/hosts" "$1/etc/nsswitch.conf" "$1/etc/hostname" "$1/etc/resolv.conf"
}

# ca_bundle ROOT: /etc/ssl/certs/ca-certificates.crt from Debian's ca-certificates, as
# update-ca-certificates would make it, in a fixed order.
ca_bundle() {
    certs=$(unpack "$(deb "$arch" ca-certificates)")/usr/share/ca-certificates
    [ -d "$certs" ] || die "ca-certificates has no certificates"
    mkdir -p "$1/etc/ssl/certs"
    find "$certs" -name '*.crt' | LC_ALL=C sort | while read -r crt; do
        cat "$crt"
        # Some files lack a final newline; PEM blocks must not run together.
        [ -z "$(tail -c 1 "$crt")" ] || echo
    done >"$1/etc/ssl/certs/ca-certificates.crt"
    chmod 0644 "$1/etc/ssl/certs/ca-certificates.crt"
}

# normalize: ownership from the build host (or a .deb) must not leak into the tree;
# app owns its home so that workloads running as app can write there; every mtime is
# SOURCE_DATE_EPOCH. A tree whose owners are part of its content (from-docker.sh: an
# image's files) sets TEMPLATE_KEEP_OWNERS=1 to keep them, and with them the setuid and
# setgid bits that chown(2) clears.
normalize() {
    if [ -z "${TEMPLATE_KEEP_OWNERS:-}" ]; then
        chown -hR 0:0 "$stage"
        [ -d "$stage/home/app" ] && chown 1000:1000 "$stage/home/app"
    fi
    find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

# ---- the check ------------------------------------------------------------------------

# check_run CMD: runs CMD (words_json's forms) once in a qing container of the finished
# tree, with the template's environment and working directory, read-only (the check
# cannot change what is published), without network, in 256 MB, for at most
# QING_CHECK_TIMEOUT seconds (300). A foreign ARCH runs under qemu-user (binfmt, as
# cross/qemu-user.sh sets it up). The app's output goes to stderr; a failing check stops
# the build before anything is written.
check_run() {
    qing=${QING:-$(command -v qing || true)}
    if [ -z "$qing" ]; then
        qing=$repo/target/release/qing
        if [ ! -x "$qing" ]; then
            command -v cargo >/dev/null ||
                die "--check needs qing: set QING=PATH, put qing on PATH, or build it (cargo build --release)"
            (cd "$repo" && cargo build --release -q) >&2 || die "--check: cargo build --release failed"
        fi
    fi
    [ -x "$qing" ] || die "--check: QING=$qing is not an executable"
    case $arch in amd64) q=x86_64 ;; arm64) q=aarch64 ;; armhf) q=arm ;; *) q=$arch ;; esac
    if [ "$arch" != "$(dpkg --print-architecture)" ]; then
        sh "$repo/cross/qemu-user.sh" "$q" >/dev/null ||
            die "--check for $arch needs qemu-user for $q (cross/qemu-user.sh $q)"
    fi
    mkdir -p "$work/check-state"
    echo "rootfs-templates/build.sh: checking $name: $1" >&2
    status=0
    QING_BIN_PATH=$qing STATE=$work/check-state ROOT=$stage CHECK=$(words_json "$1") \
    ENVS=$TEMPLATE_ENV WORKDIR=$TEMPLATE_WORKDIR \
        timeout -k 10 "${QING_CHECK_TIMEOUT:-300}" python3 -c 'import json, os
e = os.environ
argv = [e["QING_BIN_PATH"], "--root", e["STATE"], "run", "--read-only", "--net", "none",
        "--memory", "256m", "--workdir", e["WORKDIR"]]
for kv in json.loads(e["ENVS"]):
    argv += ["--env", kv]
argv += [e["ROOT"], "--"] + json.loads(e["CHECK"])
os.execv(argv[0], argv)' >&2 || status=$?
    [ $status = 0 ] || die "the check of $name failed (status $status): the app does not run in the new template, which is not written"
}

# ---- outputs ----------------------------------------------------------------------------
# Every output is made from the finished tree in $stage by one publish_* step; the
# directory goes last because it moves $stage away.

# publish_dir: swap the new tree in place of OUTDIR/NAME. rename(2) cannot replace a
# non-empty directory, so the old tree is moved aside first; the gap between the two
# renames is the only moment OUTDIR/NAME is missing.
publish_dir() {
    if [ -e "$outdir/$name" ]; then mv "$outdir/$name" "$old"; fi
    mv "$stage" "$outdir/$name"
    rm -rf "$old"
}

# publish_squashfs: xz (or zstd: QING_SQUASHFS_COMP=zstd), with mtimes and ordering fixed
# (ownership is normalize's), so two builds of one template are byte-identical. The x86
# and ARM branch filters shrink executables. xz is the smallest and the compressor most
# board kernels have; the kernel decompresses zstd about 5x faster, so the first
# container of an image starts sooner (tests/bench/start.sh; README, Performance), for
# about 10% more flash. SOURCE_DATE_EPOCH is kept out of mksquashfs's environment: it refuses
# -mkfs-time and -all-time when the variable is there (as when the caller exported it).
publish_squashfs() {
    case ${QING_SQUASHFS_COMP:-xz} in
        xz)
            case $arch in
                amd64) comp="-comp xz -Xbcj x86" ;;
                armhf) comp="-comp xz -Xbcj arm,armthumb" ;;
                *) comp="-comp xz" ;;
            esac ;;
        zstd) comp="-comp zstd -Xcompression-level 22" ;;
        *) die "QING_SQUASHFS_COMP='$QING_SQUASHFS_COMP': use xz or zstd" ;;
    esac
    rm -f "$outdir/.$name.squashfs.new"
    # shellcheck disable=SC2086  # $comp is options and their values
    env -u SOURCE_DATE_EPOCH mksquashfs "$stage" "$outdir/.$name.squashfs.new" -noappend -quiet -no-progress \
        $comp -b 256K -no-xattrs \
        -mkfs-time "$SOURCE_DATE_EPOCH" -all-time "$SOURCE_DATE_EPOCH" >/dev/null ||
        die "mksquashfs failed for $name"
}

# publish_manifest: what qing checks and runs. Sizes are bytes; the directory's is its
# content (files and symlink targets), not the filesystem's blocks for directories.
# variant is base, full or app; a recipe that trims to an app writes $work/kept.json (a
# JSON array of {"module", "why"}), which goes in as "kept".
publish_manifest() {
    sha=$(sha256sum "$outdir/.$name.squashfs.new" | cut -d' ' -f1)
    dir_bytes=$(find "$stage" \( -type f -o -type l \) -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
    sq_bytes=$(stat -c %s "$outdir/.$name.squashfs.new")
    NAME=$name ARCH=$arch SHA=$sha DIR=$dir_bytes SQ=$sq_bytes EPOCH=$SOURCE_DATE_EPOCH COMP=${QING_SQUASHFS_COMP:-xz} \
    CMD=$TEMPLATE_COMMAND ENVS=$TEMPLATE_ENV WORKDIR=$TEMPLATE_WORKDIR VARIANT=${variant:-base} \
    KEPT=$work/kept.json python3 - >"$outdir/.$name.json.new" <<'PY' ||
import json, os
e = os.environ
manifest = {
    "name": e["NAME"], "arch": e["ARCH"], "squashfs": e["NAME"] + ".squashfs",
    "directory": e["NAME"],
    "sha256": e["SHA"], "compression": e["COMP"],
    "size": {"directory": int(e["DIR"]), "squashfs": int(e["SQ"])},
    "command": json.loads(e["CMD"]), "env": json.loads(e["ENVS"]),
    "workdir": e["WORKDIR"], "created": int(e["EPOCH"]), "variant": e["VARIANT"],
}
if os.path.exists(e["KEPT"]):
    with open(e["KEPT"]) as f:
        manifest["kept"] = json.load(f)
print(json.dumps(manifest, indent=2))
PY
        die "cannot write the manifest of $name (TEMPLATE_COMMAND and TEMPLATE_ENV must be JSON arrays)"
}

# publish: the three outputs, the squashfs and manifest from $stage first, then the
# directory (which moves $stage away).
publish() {
    publish_squashfs
    publish_manifest
    mv "$outdir/.$name.squashfs.new" "$outdir/$name.squashfs"
    mv "$outdir/.$name.json.new" "$outdir/$name.json"
    publish_dir
}
