# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154  # variables shared with the sourcing script
# cross/toolchain/targets.sh: what each target needs, and its C runtime folder.
# Sourced by cross/build.sh and cross/test-qemu.sh after common.sh.
#
# Why a C runtime folder: the nightly ships no musl CRT of its own for these targets,
# and rustc links crt1.o crti.o crtbegin.o ... crtend.o crtn.o plus -lc -lunwind for
# a static musl executable. We hand it (`-L native=`) one folder per target:
# - x86_64/aarch64/armv7: Debian's musl-dev and libgcc-12-dev of that architecture
#   (crtbegin/crtend, and libgcc_eh.a as the unwinder for tests).
# - MIPS: zig's bundled musl, because Rust's MIPS musl targets are soft-float and
#   Debian's mipsel musl is hard-float (lld refuses to mix FP ABIs); Debian has no
#   big-endian mips port at all. zig also builds LLVM's libunwind for it.
# std on musl always links -lunwind. Release builds never unwind (immediate-abort), yet
# a real unwinder there still costs bytes (ARM's .ARM.exidx pulls its personality
# routines: +4 KB), so the folder's libunwind.a is an empty archive and the real one
# sits in unwind/, which cross/test-qemu.sh puts first on the search path.

ZIG_VERSION=${QING_ZIG_VERSION:-0.13.0}   # the -target spelling below is 0.13's
CRT_REV=r2   # bump when what goes into a C runtime folder changes

# target_vars TARGET: sets crt, qemu (qemu-user arch, empty = native), machine (what
# `file` must print), target_flags (rustc's, for this target alone), drop_pdr (MIPS:
# the release build drops .pdr, release_rustflags), release_budget (bytes the default
# build may weigh: 64 KB of the 512,000 kept free for what comes next), and the
# per-route variables.
# Returns 1 for an unknown target.
target_vars() {
    qemu='' target_flags='' drop_pdr='' release_budget=448000
    case $1 in
        x86_64-unknown-linux-musl)
            crt=debian debarch=amd64 muslarch=x86_64-linux-musl gccarch=x86_64-linux-gnu
            machine='ELF 64-bit LSB executable, x86-64' ;;
        aarch64-unknown-linux-musl)
            crt=debian debarch=arm64 muslarch=aarch64-linux-musl gccarch=aarch64-linux-gnu
            machine='ELF 64-bit LSB executable, ARM aarch64' qemu=aarch64 ;;
        armv7-unknown-linux-musleabihf)
            # Thumb-2: every ARMv7-A core runs it, and it is a quarter smaller than ARM.
            crt=debian debarch=armhf muslarch=arm-linux-musleabihf gccarch=arm-linux-gnueabihf
            target_flags='-C target-feature=+thumb-mode' release_budget=320000
            machine='ELF 32-bit LSB executable, ARM, EABI5' qemu=arm ;;
        mipsel-unknown-linux-musl)
            crt=zig zigtarget=mipsel-linux-musl drop_pdr=yes
            machine='ELF 32-bit LSB executable, MIPS' qemu=mipsel ;;
        mips-unknown-linux-musl)
            crt=zig zigtarget=mips-linux-musl drop_pdr=yes
            machine='ELF 32-bit MSB executable, MIPS' qemu=mips ;;
        *) return 1 ;;
    esac
}
# What the minimal build (--no-default-features) may weigh, on every target. 216,000
# since docker's --cap-add, --cap-drop and --device joined the core (MIPS 208.6 KB).
minimal_budget=216000
known_targets="x86_64-unknown-linux-musl aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf mipsel-unknown-linux-musl mips-unknown-linux-musl"

# ensure_crt TARGET: sets crtdir, building it once under $cache/crt. The folder name
# carries the inputs' versions: a new musl-dev gives a new -L path, which makes cargo
# relink (it does not watch the files inside -L folders).
ensure_crt() {
    mkdir -p "$cache/crt"
    "crt_$crt" "$1"
}

crt_debian() {
    debs=$(sh "$here/debs.sh" "$debarch" musl-dev libgcc-12-dev) ||
        die "cannot fetch musl-dev/libgcc-12-dev for $debarch"
    # shellcheck disable=SC2086  # one path per line, no spaces
    id=$(printf '%s\n' $debs | xargs -n1 basename | md5sum | cut -c1-10)
    crtdir=$cache/crt/$1/deb-$CRT_REV-$id
    [ -f "$crtdir/.done" ] && return 0
    say "preparing the C runtime for $1 in $crtdir"
    crt_tmp=$(mktemp -d "$cache/crt/.tmp.XXXXXX")
    for d in $debs; do dpkg-deb -x "$d" "$crt_tmp/x"; done
    for f in crt1.o crti.o crtn.o libc.a; do
        cp "$crt_tmp/x/usr/lib/$muslarch/$f" "$crt_tmp/" || die "musl-dev for $debarch lacks $f"
    done
    for f in crtbegin.o crtend.o libgcc_eh.a; do
        cp "$crt_tmp"/x/usr/lib/gcc/"$gccarch"/*/"$f" "$crt_tmp/" ||
            die "libgcc-12-dev for $debarch lacks $f"
    done
    # gcc's unwinder has the same _Unwind_* ABI as LLVM's libunwind.
    mkdir "$crt_tmp/unwind"
    mv "$crt_tmp/libgcc_eh.a" "$crt_tmp/unwind/libunwind.a"
    rm -rf "$crt_tmp/x"
    crt_finish
}

# ensure_zig: sets zig, the path of the pinned zig, installed once from PyPI (also
# tests/board/run.sh's C compiler for its static probes).
ensure_zig() {
    zig=$cache/zig/$ZIG_VERSION/ziglang/zig
    if [ ! -x "$zig" ]; then
        say "installing zig $ZIG_VERSION from PyPI"
        python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
        # --target: a private folder; no venv needed, and PEP 668 does not apply there.
        rm -rf "$cache/zig/.tmp-$ZIG_VERSION"
        python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore \
            --target "$cache/zig/.tmp-$ZIG_VERSION" "ziglang==$ZIG_VERSION" >&2 ||
            die "pip install ziglang==$ZIG_VERSION failed"
        mv "$cache/zig/.tmp-$ZIG_VERSION" "$cache/zig/$ZIG_VERSION"
    fi
}

crt_zig() {
    ensure_zig
    crtdir=$cache/crt/$1/zig-$CRT_REV-$ZIG_VERSION
    [ -f "$crtdir/.done" ] && return 0
    say "preparing a soft-float musl for $1 with zig $ZIG_VERSION in $crtdir (~30 s, once)"
    crt_tmp=$(mktemp -d "$cache/crt/.tmp.XXXXXX")
    printf 'int main(void){return 0;}\n' >"$crt_tmp/hello.c"
    : >"$crt_tmp/empty.c"
    # zig builds its musl and libunwind on the first link of a hello world;
    # ZIG_VERBOSE_LINK prints the link line, which names the files it made.
    link=$(ZIG_GLOBAL_CACHE_DIR=$crt_tmp/zc ZIG_LOCAL_CACHE_DIR=$crt_tmp/zc ZIG_VERBOSE_LINK=1 \
        "$zig" cc -target "$zigtarget" -msoft-float -static -o "$crt_tmp/hello" "$crt_tmp/hello.c" \
        -lunwind 2>&1) || die "zig cc failed: $link"
    for f in $link; do
        case $f in */crt1.o|*/crti.o|*/crtn.o|*/libc.a|*/libunwind.a) cp "$f" "$crt_tmp/" ;; esac
    done
    for f in crt1.o crti.o crtn.o libc.a libunwind.a; do
        [ -f "$crt_tmp/$f" ] || die "zig's link line named no $f: $link"
    done
    # Rust's musl targets always link crtbegin.o/crtend.o; zig's musl has none, and
    # Debian's are hard-float. Empty soft-float objects are all that is needed.
    ZIG_GLOBAL_CACHE_DIR=$crt_tmp/zc ZIG_LOCAL_CACHE_DIR=$crt_tmp/zc \
        "$zig" cc -target "$zigtarget" -msoft-float -c -o "$crt_tmp/crtbegin.o" "$crt_tmp/empty.c" ||
        die "zig cc -c failed"
    cp "$crt_tmp/crtbegin.o" "$crt_tmp/crtend.o"
    mkdir "$crt_tmp/unwind"
    mv "$crt_tmp/libunwind.a" "$crt_tmp/unwind/libunwind.a"
    rm -rf "$crt_tmp/zc" "$crt_tmp/hello" "$crt_tmp/hello.c" "$crt_tmp/empty.c"
    crt_finish
}

crt_finish() {
    printf '!<arch>\n' >"$crt_tmp/libunwind.a"   # an empty ar archive
    touch "$crt_tmp/.done"
    mkdir -p "$(dirname "$crtdir")"
    rm -rf "$crtdir"
    mv "$crt_tmp" "$crtdir"
    crt_tmp=''
}

# nightly_rustflags: static, non-PIE (crt1.o, not rcrt1.o), linked by the rust-lld the
# toolchain ships. max-page-size=4096: lld otherwise aligns segments to 64 KiB on ARM
# and MIPS (+60 KB); the boards we target run 4 KiB pages. sha2's compact software
# backend (for CPUs without SHA instructions) is 8 KB smaller than the unrolled one;
# it hashes an image once, so speed matters less than flash.
# link-self-contained=no, and the CRT objects named here: the C runtime is always this
# folder's. rustc looks for crt1.o and libc.a in the sysroot first, so where rustup has
# installed the target's prebuilt std it would link that std's self-contained musl
# instead (another musl release: other bytes, as cross-rs's `rustup target add` showed
# on x86_64). With it off, rustc adds no CRT objects, so they are given in their order.
nightly_rustflags() {
    printf '%s' "-L native=$crtdir -C link-self-contained=no" \
        " -Z pre-link-arg=$crtdir/crt1.o -Z pre-link-arg=$crtdir/crti.o" \
        " -Z pre-link-arg=$crtdir/crtbegin.o" \
        " -C link-arg=$crtdir/crtend.o -C link-arg=$crtdir/crtn.o" \
        " -C linker=rust-lld -C link-arg=-zmax-page-size=4096" \
        " -C relocation-model=static -C target-feature=+crt-static" \
        " --cfg sha2_backend_soft=\"compact\"${target_flags:+ $target_flags}"
}

# release_rustflags: nightly_rustflags, less the unwind tables. A release build aborts
# on panic without unwinding, so .eh_frame (and lld's .eh_frame_hdr) is dead weight:
# 67 KB on x86_64. Tests unwind (the harness catches panics), so they keep them.
# sleep.order puts the code a sleeping qing runs at the start of .text, in one 64 KiB
# window (src/sys/memory.rs says why). MIPS drops .pdr (mips-no-pdr.ld says why).
release_rustflags() {
    nightly_rustflags
    printf '%s' " -C force-unwind-tables=no -C link-arg=--no-eh-frame-hdr" \
        " -C link-arg=--symbol-ordering-file=$here/toolchain/sleep.order" \
        " -C link-arg=--no-warn-symbol-ordering"
    [ -z "$drop_pdr" ] || printf '%s' " -C link-arg=-T$here/toolchain/mips-no-pdr.ld"
}

# release_cargo_config TARGET: the rest of the release build, as a cargo configuration
# file: build-std with the immediate-abort panic and std's optimize_for_size, and
# release_rustflags for TARGET. build-std is ["std"], what a bare -Zbuild-std builds
# (cargo adds what std needs), because cross-rs's build-std key adds a bare -Zbuild-std,
# which wins over this: so both routes build the same crates. cross/build.sh hands it to cargo (--config FILE); the
# cross-rs image (cross/Dockerfile) installs it as /.cargo/config.toml, which cargo reads
# there as it looks in every directory from the project's up to /. So both routes build
# with the same flags.
release_cargo_config() {
    # A TOML basic string: backslashes and quotes escaped.
    flags=$(release_rustflags | sed 's/\\/\\\\/g; s/"/\\"/g')
    cat <<EOF
# qing's release build for $1 (cross/toolchain/targets.sh, release_cargo_config).
[unstable]
build-std = ["std"]
build-std-features = ["optimize_for_size"]
panic-immediate-abort = true

[profile.release]
panic = "immediate-abort"

[target.$1]
rustflags = "$flags"
EOF
}
