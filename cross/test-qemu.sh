#!/bin/bash
# cross/test-qemu.sh TARGET [cargo test args...]
#
# Runs qing's tests (`cargo test`) compiled for TARGET, foreign ones under qemu-user,
# e.g. `cross/test-qemu.sh aarch64-unknown-linux-musl --lib -- --nocapture`.
# Installs what it needs. The emulator is cargo's target runner, so binfmt_misc is
# not needed (cross/qemu-user.sh sets that up for running binaries by hand).
#
# Two routes, because tests need a std that can unwind (the harness catches panics):
# - x86_64 and aarch64: the stable toolchain with its prebuilt musl std, linked by
#   rust-lld with the std's own musl CRT. This is plain `cargo test`.
# - armv7, mipsel, mips: no prebuilt musl std can be had here, so the pinned nightly
#   builds std (-Zbuild-std) against the C runtime folder of cross/build.sh, with a
#   real unwinder first on the search path. RUSTDOCFLAGS gets the same flags, or
#   doctests would be linked by the host's cc.
# Syscalls (unshare, mount, ...) reach the host kernel under qemu-user, so tests
# that need root behave as they would natively.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
# shellcheck source=cross/toolchain/common.sh
. "$here/toolchain/common.sh"
# shellcheck source=cross/toolchain/targets.sh
. "$here/toolchain/targets.sh"

target=${1:-}
if ! target_vars "$target"; then
    echo "usage: cross/test-qemu.sh TARGET [cargo test args...]" >&2
    echo "TARGET is one of: $known_targets" >&2
    [ -n "$target" ] && echo "cross/test-qemu.sh: unknown TARGET '$target'" >&2
    exit 2
fi
shift

apt_install gcc libc6-dev
var=CARGO_TARGET_$(printf '%s' "$target" | tr 'a-z-' 'A-Z_')
if [ -n "$qemu" ]; then
    apt_install qemu-user-static
    export "${var}_RUNNER=qemu-$qemu-static"
    # For the few tests that know what emulation changes (qemu refuses seccomp).
    export QING_TEST_EMULATED=1
fi
unset CARGO_ENCODED_RUSTFLAGS
crt_tmp=''
trap 'rm -rf ${crt_tmp:+"$crt_tmp"}' EXIT

case $target in
    x86_64-unknown-linux-musl|aarch64-unknown-linux-musl)
        ensure_rustup
        if [ -z "$(toolchain_rustc stable)" ]; then
            rustup toolchain install stable --profile minimal >&2 || die "cannot install stable"
        fi
        rustup target list --installed --toolchain stable 2>/dev/null | grep -qx "$target" ||
            rustup target add "$target" --toolchain stable >&2 ||
            die "cannot add $target to the stable toolchain"
        export "${var}_LINKER=rust-lld"
        set -- cargo +stable test --target "$target" "$@" ;;
    *)
        ensure_nightly
        ensure_crt "$target"
        RUSTFLAGS="-L native=$crtdir/unwind $(nightly_rustflags)"
        RUSTDOCFLAGS=$RUSTFLAGS
        export RUSTFLAGS RUSTDOCFLAGS
        set -- cargo "+$nightly" test --target "$target" -Zbuild-std "$@" ;;
esac

# shellcheck disable=SC2016  # the quotes are for the reader
say "+ $(env | grep "^${var}_" | tr '\n' ' ')${RUSTFLAGS:+RUSTFLAGS='$RUSTFLAGS' }$*"
cd "$root"
exec "$@"
