# shellcheck shell=sh
# shellcheck disable=SC2154  # here, repo, name, arch, outdir, stage, work, old: set by the caller
# rootfs-templates/lib/template.sh: what every template shares, sourced by build.sh and
# from-docker.sh: fetching and unpacking .debs, the base layout, the shared-library
# closure, the CA bundle, normalisation, and the three outputs (directory, squashfs,
# manifest). The caller sets: here (rootfs-templates/), repo, name, arch, outdir,
# stage (the finished tree), work (scratch space), old, and defines die.

# ---- helpers for recipes ------------------------------------------------------------

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
publish_manifest() {
    sha=$(sha256sum "$outdir/.$name.squashfs.new" | cut -d' ' -f1)
    dir_bytes=$(find "$stage" \( -type f -o -type l \) -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
    sq_bytes=$(stat -c %s "$outdir/.$name.squashfs.new")
    NAME=$name ARCH=$arch SHA=$sha DIR=$dir_bytes SQ=$sq_bytes EPOCH=$SOURCE_DATE_EPOCH COMP=${QING_SQUASHFS_COMP:-xz} \
    CMD=$TEMPLATE_COMMAND ENVS=$TEMPLATE_ENV WORKDIR=$TEMPLATE_WORKDIR python3 - >"$outdir/.$name.json.new" <<'PY' ||
import json, os
e = os.environ
print(json.dumps({
    "name": e["NAME"], "arch": e["ARCH"], "squashfs": e["NAME"] + ".squashfs",
    "directory": e["NAME"],
    "sha256": e["SHA"], "compression": e["COMP"],
    "size": {"directory": int(e["DIR"]), "squashfs": int(e["SQ"])},
    "command": json.loads(e["CMD"]), "env": json.loads(e["ENVS"]),
    "workdir": e["WORKDIR"], "created": int(e["EPOCH"]),
}, indent=2))
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
