#!/bin/sh
# tests/run.sh: every test, from a fresh Debian 12 machine, as root.
#
#   1. lint: rustfmt, clippy (warnings are errors) on the default and the minimal
#      build, shellcheck on every shell script
#   1b. fuzzing: every cargo-fuzz target of tests/fuzz for 30 s from its committed
#      corpus (tests/fuzz/run.sh; README, "Fuzzing")
#   2. unit and container tests (cargo test): real containers on a busybox rootfs, the
#      busybox, python, go and java templates (amd64, and arm64 through qemu-user) as
#      squashfs images and directories, and as Docker images with a private engine;
#      then tests/faults.sh (seeded kills, a full and a read-only state root, EMFILE)
#   3. release builds for every target, the default build and the minimal one, each
#      checked static and within its budget
#   4. a smoke set (run, limits, isolation, bad input, teardown, security, check) on
#      the minimal build, so that no feature gate rots
#   5. the same tests for aarch64 under qemu-user, on arm64 templates (not the build
#      systems' tests, which drive the build machine's own tools)
#   6. emulated boards (QEMU system mode): arm64, armhf and mipsel, each with pure
#      cgroup v2 and pure v1, from an initramfs root without overlayfs; and an arm64
#      board laid out as the Buildroot packages do, booting from its disk into the
#      python template's service, which must answer from outside (tests/bench/boot.sh)
#
# Around it all, a machine-wide check that nothing was left behind: no mount, cgroup
# under qing/, loop device or qing process that was not there before.
# QING_TESTS=lint,fuzz,host,cross,minimal,qemu,boards picks a subset (default: all).
# Everything a test needs is installed here: a test that finds qemu-user or Docker
# missing fails (QING_REQUIRE_ALL), where run by hand it says so and skips.
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "tests/run.sh: run as root (the tests start real containers)" >&2; exit 1; }
parts=${QING_TESTS:-lint,fuzz,host,cross,minimal,qemu,boards}
export QING_REQUIRE_ALL=1
want() { case ",$parts," in *",$1,"*) return 0 ;; esac; return 1; }
started=$(date +%s)
section() { printf '\n== %s [%ss]\n' "$*" "$(($(date +%s) - started))"; }

# A hang must not eat CI's 90 minutes without a word: when the run is still going
# after QING_TEST_DEADLINE seconds (default 85 minutes), the watchdog prints every
# process with its state and kernel wait channel, and the kernel stacks of those in
# D state, then ends the run's processes (not the run itself, which then fails), so
# the log says what hung.
# shellcheck disable=SC2016  # the watchdog's script is expanded by its own shell
sh -c '
    trap "kill \$nap 2>/dev/null; exit 0" TERM
    sleep "$1" & nap=$!
    wait "$nap"
    echo "tests/run.sh: still running after $1 s (QING_TEST_DEADLINE): what runs, then it ends" >&2
    ps -eo pid,ppid,stat,etimes,wchan:28,args --forest | cut -c1-200 >&2
    for p in $(ps -eo pid=,stat= | awk "\$2 ~ /^D/ { print \$1 }"); do
        echo "-- kernel stack of $p:" >&2; cat "/proc/$p/stack" >&2 2>/dev/null
    done
    below() { for c in $(ps -o pid= --ppid "$1"); do below "$c"; echo "$c"; done; }
    kill -TERM $(below "$2" | grep -vx "$$") 2>/dev/null
' watchdog "${QING_TEST_DEADLINE:-5100}" $$ &
watchdog=$!
trap 'kill "$watchdog" 2>/dev/null || true' EXIT

# What the tests use on the host; cross/ and tests/board install their own. The
# stable toolchain runs the tests; cross/ brings the pinned nightly for releases.
# iproute2 inspects the test's own network namespaces (qing itself needs no `ip`);
# systemd brings systemd-analyze, which checks boards/systemd/qing@.service;
# nftables and iptables are the two tools the NAT test has qing call.
. cross/toolchain/common.sh
apt_install util-linux coreutils gcc libc6-dev iproute2 systemd iptables nftables
ensure_rustup
[ -n "$(toolchain_rustc stable)" ] || rustup toolchain install stable --profile minimal
# qemu-user for aarch64 through binfmt_misc (the host tests check arm64 templates and
# apps with it, the qemu part runs every test with it): set up before the snapshot,
# since mounting binfmt_misc is the machine's setup, not a test's leftover.
if want host || want qemu; then cross/qemu-user.sh aarch64 >/dev/null; fi

snapshot() {
    {
        cut -d' ' -f5 /proc/self/mountinfo | sort
        find /sys/fs/cgroup -path '*/qing/*' -type d 2>/dev/null | sort
        for f in /sys/block/loop*/loop/backing_file; do [ -e "$f" ] && echo "loop: $(cat "$f")"; done
        # The arguments alone, without PIDs, so that the two snapshots compare.
        # shellcheck disable=SC2009
        ps -eo args= | grep -E '^[^ ]*qing (--root|run|check)' | sort
    } 2>/dev/null
}
before=$(snapshot)

# Every template for ARCH, built fresh into .cache/templates/ARCH once per run. The
# busybox template is also the rootfs of the container tests.
mkdir -p .cache
export QING_TEMPLATES="$PWD/.cache/templates"
built=""
templates() {
    for arch in "$@"; do
        case " $built " in *" $arch "*) continue ;; esac
        section "templates for $arch: busybox, python, go, java"
        for t in busybox python go java; do
            rootfs-templates/build.sh "$t" "$arch" "$QING_TEMPLATES/$arch" >/dev/null
            echo "$t $arch: $(sed -n 's/.*"sha256": "\(.*\)".*/\1/p' "$QING_TEMPLATES/$arch/$t.json")"
        done
        built="$built $arch"
    done
}

if want lint; then
    section "lint: rustfmt, clippy (default and minimal build), shellcheck"
    apt_install shellcheck
    cargo +stable fmt --all -- --check
    cargo +stable fmt --manifest-path tests/fuzz/Cargo.toml -- --check
    cargo +stable clippy --all-targets -- -D warnings
    cargo +stable clippy --all-targets --no-default-features -- -D warnings
    # Every shell script: *.sh, and the extensionless ones that start with a shebang.
    git ls-files | while read -r f; do
        case $f in
            *.sh) echo "$f" ;;
            *.*) ;;
            *) head -c 32 "$f" 2>/dev/null | grep -q '^#!.*sh' && echo "$f" ;;
        esac
    done | xargs shellcheck -x
    echo "clean"
fi

if want fuzz; then
    section "fuzzing: every cargo-fuzz target for 30 s from its committed corpus"
    tests/fuzz/run.sh 30
fi

if want host; then
    # The arm64 templates' services run here through qemu-user (set up above); the
    # Docker tests run a private engine of Debian's docker.io.
    # tests/buildroot.rs runs the real Buildroot offline: make and a host gcc for its
    # kconfig, Debian's python3 with python3-magic and flake8 for its check-package.
    apt_install make python3-magic flake8
    # tests/yocto.rs runs the real bitbake offline: the host tools its sanity check
    # wants, the en_US.UTF-8 locale, and oelint-adv from the Python package index.
    apt_install chrpath diffstat gawk cpio locales lz4 zstd file
    if ! locale -a 2>/dev/null | grep -qi '^en_US.utf-\?8$'; then
        sed -i 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' /etc/locale.gen && locale-gen >/dev/null
    fi
    python3 -m oelint_adv --version >/dev/null 2>&1 || python3 -m pip install -q oelint-adv==9.11.2
    [ -x /usr/sbin/dockerd ] || apt_install docker.io
    # cross-rs, as a user installs it (its last release; tests/cross_rs.rs).
    [ -x "${QING_CACHE:-/var/cache/qing}/cross-rs/bin/cross" ] ||
        cargo +stable install --locked -q cross --version 0.2.5 --root "${QING_CACHE:-/var/cache/qing}/cross-rs"
    templates amd64 arm64
    section "unit and container tests on this machine"
    QING_TEST_ROOTFS=$QING_TEMPLATES/amd64/busybox cargo +stable test --no-fail-fast
    section "faults: kills, a full and a read-only state root, EMFILE (tests/faults.sh)"
    tests/faults.sh
fi

. cross/toolchain/targets.sh
if want cross; then
    section "release builds, default and minimal (static, within their budgets)"
    # build BUDGET TARGET [FLAGS...]: the binary's path; a build over its budget (or
    # failing) ends the run here, as build.sh's own status is not lost in a pipe.
    build() {
        QING_SIZE_BUDGET=$1 cross/build.sh "$2" ${3:+"$3"} >.cache/build.out || return 1
        tail -n 1 .cache/build.out
    }
    for t in $known_targets; do
        target_vars "$t"
        bin=$(build "$release_budget" "$t")
        size=$(stat -c %s "$bin")
        bin=$(build "$minimal_budget" "$t" --no-default-features)
        printf '%-34s %8d bytes (budget %d), minimal %8d (budget %d)\n' \
            "$t" "$size" "$release_budget" "$(stat -c %s "$bin")" "$minimal_budget"
    done
fi

if want minimal; then
    section "the smoke set on the minimal build (x86_64, --no-default-features)"
    templates amd64
    QING_SIZE_BUDGET=$minimal_budget cross/build.sh x86_64-unknown-linux-musl \
        --no-default-features >.cache/build.out
    minimal=$(tail -n 1 .cache/build.out)
    cp "$minimal" .cache/qing-minimal
    "$PWD/.cache/qing-minimal" version
    QING_BIN=$PWD/.cache/qing-minimal QING_TEST_ROOTFS=$QING_TEMPLATES/amd64/busybox \
        cargo +stable test --no-fail-fast --test isolation --test limits --test bad_input \
        --test teardown --test security --test check --test volumes --test debug
fi

if want qemu; then
    section "the same tests for aarch64 under qemu-user"
    templates arm64
    # Tests named on_amd64 are about the build machine's own templates: not here. Nor
    # are the build systems' (Buildroot, Yocto, cross-rs): they drive the build
    # machine's tools, which an aarch64 test binary would only run a second time.
    qemu_tests=--bins
    for f in tests/*.rs; do
        case $(basename "$f" .rs) in
            buildroot|yocto|cross_rs) ;;
            *) qemu_tests="$qemu_tests --test $(basename "$f" .rs)" ;;
        esac
    done
    # shellcheck disable=SC2086  # one word per option
    QING_TEST_ROOTFS=$QING_TEMPLATES/arm64/busybox \
        cross/test-qemu.sh aarch64-unknown-linux-musl --no-fail-fast $qemu_tests -- --skip on_amd64
fi

if want boards; then
    section "emulated boards: initramfs root, no overlayfs, pure cgroup v2 and v1"
    tests/board/run.sh arm64 armhf mipsel
    section "an emulated arm64 board boots into a containerised service"
    tests/bench/boot.sh --check
fi

section "leftovers"
after=$(snapshot)
if [ "$before" != "$after" ]; then
    echo "tests/run.sh: the tests left something behind (- before, + after):" >&2
    printf '%s\n' "$before" > .cache/leftovers.before
    printf '%s\n' "$after" > .cache/leftovers.after
    diff .cache/leftovers.before .cache/leftovers.after >&2 || true
    exit 1
fi
echo "none: mounts, cgroups, loop devices and processes are as before"
