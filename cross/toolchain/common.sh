# shellcheck shell=sh
# cross/toolchain/common.sh: helpers shared by cross/*.sh (sourced, never run).
# Everything here installs on demand and is a no-op when already done, so a warm
# machine never waits on the network.

# shellcheck disable=SC2034  # used by the scripts that source this file
cache=${QING_CACHE:-/var/cache/qing}

# The nightly the build flags were tested with. `-Zpanic-immediate-abort` and the
# "immediate-abort" panic strategy are unstable and have changed spelling before:
# pin the date rather than follow the moving `nightly` channel.
nightly_pin='nightly-2026-05-20'
nightly_rustc='1.97.0-nightly (e50aa6fba 2026-05-19)'

say() { printf '%s\n' "$*" >&2; }
die() { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# apt_install PKG...: installs what is missing; `apt-get update` only runs then.
apt_install() {
    missing=
    for p in "$@"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    [ "$(id -u)" = 0 ] || die "must run as root to install Debian packages:$missing"
    say "installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -q update >&2 || say "apt-get update reported errors; trying the install anyway"
    # shellcheck disable=SC2086
    apt-get -q install -y --no-install-recommends $missing >&2 ||
        die "apt-get install$missing failed"
}

# ensure_rustup: rustup on PATH. Machines of this project normally have it; a bare
# Debian gets rustup-init from static.rust-lang.org (sh.rustup.rs is not reachable
# from every build host, the dist server is), checked against its published sha256.
ensure_rustup() {
    PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
    export PATH
    command -v rustup >/dev/null 2>&1 && return 0
    apt_install ca-certificates curl
    say "installing rustup"
    t=$(mktemp -d)
    u=https://static.rust-lang.org/rustup/dist/$(uname -m)-unknown-linux-gnu/rustup-init
    if ! curl -fsSL --retry 3 -o "$t/rustup-init" "$u" ||
        ! curl -fsSL --retry 3 -o "$t/sum" "$u.sha256"; then
        die "cannot download $u"
    fi
    (cd "$t" && printf '%s  rustup-init\n' "$(cut -d' ' -f1 sum)" | sha256sum -c - >&2) ||
        die "rustup-init checksum mismatch"
    chmod +x "$t/rustup-init"
    "$t/rustup-init" -y --no-modify-path --profile minimal --default-toolchain none >&2 ||
        die "rustup-init failed"
    rm -rf "$t"
}

# toolchain_rustc TC: the `rustc -V` line of an installed toolchain, empty if none.
toolchain_rustc() {
    r=$(rustup which --toolchain "$1" rustc 2>/dev/null) && "$r" -V 2>/dev/null
}

# nightly_has_rust_src: whether toolchain $nightly is installed with rust-src.
nightly_has_rust_src() {
    [ -n "$(toolchain_rustc "$nightly")" ] &&
        rustup component list --installed --toolchain "$nightly" 2>/dev/null | grep -q '^rust-src'
}

# ensure_nightly: sets $nightly to a toolchain name with rust-src. Reuses `nightly`
# when it already is the tested build, else installs the dated pin (QING_NIGHTLY
# overrides, at your own risk).
ensure_nightly() {
    ensure_rustup
    if [ -n "${QING_NIGHTLY:-}" ]; then
        nightly=$QING_NIGHTLY
    elif [ "$(toolchain_rustc nightly)" = "rustc $nightly_rustc" ]; then
        nightly=nightly
    else
        nightly=$nightly_pin
    fi
    if ! nightly_has_rust_src; then
        # One install at a time: two builds starting together on a fresh machine would
        # both install, and rustup fails the second on the first one's files
        # ("detected conflict").
        mkdir -p "$cache"
        exec 8>"$cache/.rustup.lock"
        flock 8
        if [ -z "$(toolchain_rustc "$nightly")" ]; then
            say "installing Rust toolchain $nightly"
            rustup toolchain install "$nightly" --profile minimal --component rust-src >&2 ||
                die "cannot install toolchain $nightly"
        fi
        nightly_has_rust_src || rustup component add rust-src --toolchain "$nightly" >&2 ||
            die "cannot add rust-src to $nightly (needed by -Zbuild-std)"
        exec 8>&-
    fi
    v=$(toolchain_rustc "$nightly")
    if [ "$v" != "rustc $nightly_rustc" ]; then
        [ -n "${QING_NIGHTLY:-}" ] || die "$nightly is '$v', expected '$nightly_rustc'"
        say "warning: $nightly is '$v'; the flags were tested with '$nightly_rustc'"
    fi
}
