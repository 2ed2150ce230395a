#!/bin/sh
# tests/bench/start.sh [-r RUNS] [-w WARMUP]
#
# Start-to-exit latency of /bin/true in a container, for qing and its peers, on one copy
# of the busybox template and with the same namespaces (mount, pid, uts, ipc, net, cgroup).
# All runners go in ONE hyperfine invocation, back to back, so that their ratios hold on a
# noisy shared machine even when absolute times drift from one invocation to the next.
#
#   floor           unshare -fpmuinC --root=R --mount-proc=/proc /bin/true: the kernel work
#                   alone (fork, unshare, chroot, mount proc, exec), one binary, no shell
#   unshare+chroot  the same through chroot(1), one more exec (the floor of older notes)
#   crun            crun run on an OCI bundle from `crun spec` (Debian's crun)
#   lxc-execute     LXC 5 with a config file, lxc.net.0.type = empty
#   qing            $QING run, when QING names an executable; skipped otherwise
#   qing-unconfined the same with --seccomp unconfined: what compiling and installing
#                   the default seccomp filter costs a start
#   qing-squashfs   the same from the template's squashfs image (xz): a loop device and
#                   a squashfs mount more, and a cold page cache: each run is the first
#                   container of the image, so what it executes is decompressed anew
#                   (the image is verified in the first run, then remembered)
#   qing-squashfs-zstd   the same tree compressed with zstd (QING_SQUASHFS_COMP=zstd)
#   qing-squashfs-warm   a copy of the xz image while another container of it runs: the
#                   containers share its superblock, so its pages are already there
#
# Root only; installs hyperfine, crun, lxc and jq with apt-get if missing; builds the
# template with rootfs-templates/build.sh if missing. ROOTFS=DIR uses another busybox tree.
# Ends by checking that no mount, cgroup or process was left behind.
set -eu

runs=30 warmup=3
usage() { echo "usage: tests/bench/start.sh [-r RUNS] [-w WARMUP]   (env: QING=path/to/qing, ROOTFS=dir)" >&2; exit 2; }
while getopts r:w:h opt; do
    case $opt in
        r) runs=$OPTARG ;;
        w) warmup=$OPTARG ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage
case $runs$warmup in *[!0-9]*) usage ;; esac
[ "$runs" -ge 2 ] || { echo "tests/bench/start.sh: -r needs at least 2 runs" >&2; exit 2; }

# shellcheck source-path=SCRIPTDIR source=peers.sh
. "$(dirname "$0")/peers.sh"

peers_install hyperfine:hyperfine crun:crun lxc-execute:lxc jq:jq pgrep:procps mksquashfs:squashfs-tools
Q_HOLDER=""
stop_holder() {
    [ -n "$Q_HOLDER" ] || return 0
    kill "$Q_HOLDER" 2>/dev/null || true
    wait "$Q_HOLDER" 2>/dev/null || true
    Q_HOLDER=""
}
trap 'stop_holder; peers_cleanup' EXIT
trap 'exit 130' INT TERM HUP
peers_setup

R=$B_ROOTFS
# Positional parameters hold hyperfine's arguments: "-n NAME COMMAND" per runner.
set -- \
    -n floor "unshare -fpmuinC --root=$R --mount-proc=/proc /bin/true" \
    -n unshare+chroot "unshare -fpmuinC --mount-proc=$R/proc chroot $R /bin/true" \
    -n crun "$B_CRUN run -b $B_TMP/bundle $B_NAME-crun" \
    -n lxc-execute "$B_LXC -- /bin/true"
if [ -n "${QING:-}" ] && [ -x "$QING" ]; then
    # hyperfine -N splits the command line itself, without a shell: no quoting possible.
    case $QING in *[[:space:]\'\"\\]*) peers_die "QING path must not contain spaces or quotes: $QING" ;; esac
    # One name for every run (runs are sequential); a *qbench* name also lets the
    # leftover check find qing's cgroups.
    set -- "$@" -n qing "$QING --root $B_TMP/qingroot run --name $B_NAME-qing $R -- /bin/true" \
        -n qing-unconfined "$QING --root $B_TMP/qingroot run --name $B_NAME-qun --seccomp unconfined $R -- /bin/true"
    if [ -n "$B_IMAGE" ]; then
        run="$QING --root $B_TMP/qingroot run"
        mksquashfs "$B_ROOTFS" "$B_TMP/zstd.squashfs" -comp zstd -Xcompression-level 22 -b 256K \
            -no-xattrs -noappend -quiet -no-progress >/dev/null || peers_die "mksquashfs -comp zstd failed"
        mkdir "$B_TMP/warm"
        cp "$B_IMAGE" "${B_IMAGE%.squashfs}.json" "$B_TMP/warm/"
        $run --name "$B_NAME-holder" "$B_TMP/warm/busybox.squashfs" -- sleep 100000 </dev/null >/dev/null 2>&1 &
        Q_HOLDER=$!
        i=0
        until grep -q -s "$B_TMP/warm" /sys/block/loop*/loop/backing_file; do
            kill -0 "$Q_HOLDER" 2>/dev/null || peers_die "the holder container of the warm image did not start"
            i=$((i + 1)); [ $i -lt 200 ] || peers_die "timed out starting the holder container"
            sleep 0.05
        done
        set -- "$@" -n qing-squashfs "$run --name $B_NAME-qsq $B_IMAGE -- /bin/true" \
            -n qing-squashfs-zstd "$run --name $B_NAME-qzs $B_TMP/zstd.squashfs -- /bin/true" \
            -n qing-squashfs-warm "$run --name $B_NAME-qsw $B_TMP/warm/busybox.squashfs -- /bin/true"
    fi
else
    echo "qing: skipped (QING='${QING:-}' is not an executable; set QING=path/to/qing to include it)" >&2
fi

echo "== versions"
peers_versions
echo "== rootfs: busybox template copied to $R; $runs runs and $warmup warmup runs each"

# One run of each first, so that a failing runner is named with its own error output
# instead of hyperfine's bare exit status.
n=0
for x in "$@"; do
    n=$((n + 1))
    case $((n % 3)) in
        2) name=$x ;;
        0) # shellcheck disable=SC2086  # the command line is meant to split on spaces
           $x </dev/null >"$B_TMP/smoke.out" 2>&1 || {
               cat "$B_TMP/smoke.out" >&2
               peers_die "$name failed: $x"
           } ;;
    esac
done

echo "== hyperfine"
hyperfine -N --style basic -w "$warmup" -r "$runs" --export-json "$B_TMP/result.json" "$@"

echo "== ratios to the floor (medians shown too: they resist this machine's outliers)"
jq -r '.results[] | [.command, .mean, .stddev, .median, .min] | @tsv' "$B_TMP/result.json" |
awk -F '\t' '
    { name[NR] = $1; mean[name[NR]] = $2; sd[NR] = $3; med[NR] = $4; min[NR] = $5 }
    END {
        f = mean["floor"]
        printf "%-16s %9s %8s %9s %9s %12s %14s\n", "runner", "mean ms", "sd ms", "median ms", "min ms",
            "mean/floor", "median/floor"
        for (i = 1; i <= NR; i++)
            printf "%-16s %9.2f %8.2f %9.2f %9.2f %12.2f %14.2f\n", name[i], mean[name[i]] * 1000, sd[i] * 1000,
                med[i] * 1000, min[i] * 1000, mean[name[i]] / f, med[i] / med[1]
        if ("qing" in mean) printf "qing / crun (means): %.2f   qing / lxc-execute (means): %.2f\n",
            mean["qing"] / mean["crun"], mean["qing"] / mean["lxc-execute"]
        if ("qing-squashfs" in mean) printf "to qing (means): qing-squashfs %.2f, qing-squashfs-zstd %.2f, qing-squashfs-warm %.2f\n",
            mean["qing-squashfs"] / mean["qing"], mean["qing-squashfs-zstd"] / mean["qing"], mean["qing-squashfs-warm"] / mean["qing"]
    }'

stop_holder
peers_cleanup
peers_check_leftovers
