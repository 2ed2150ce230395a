#!/bin/sh
# tests/bench/supervisor.sh [N]   (default 10)
#
# Memory each started container costs on the host: the resident set (VmRSS) of its qing
# supervisor, for N containers started with `qing start` on the busybox template (half
# idle, half writing a log line every half second, which wakes their supervisors), read
# once they have settled. In the same run, for comparison: LXC's monitor process for one
# `lxc-start -d` container of the same rootfs, when LXC is installed.
#
# QING names the qing binary (default: a release build). Root only; leaves nothing.
set -eu
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "tests/bench/supervisor.sh: run as root" >&2; exit 1; }
n=${1:-10}
case $n in ''|*[!0-9]*) echo "usage: tests/bench/supervisor.sh [N]" >&2; exit 2 ;; esac
qing=${QING:-$(cross/build.sh x86_64-unknown-linux-musl | tail -n 1)}
arch=$(dpkg --print-architecture)
tpl=.cache/templates/$arch/busybox
[ -x "$tpl/bin/busybox" ] || rootfs-templates/build.sh busybox "$arch" ".cache/templates/$arch" >/dev/null
root=$(mktemp -d /tmp/qing-rss.XXXXXX)
q() { "$qing" --root "$root" "$@"; }
cleanup() {
    for c in "$root"/etc/*.json; do
        [ -e "$c" ] && q stop --time 2 "$(basename "$c" .json)" >/dev/null 2>&1
    done
    [ -z "${lxcdir:-}" ] || { lxc-stop -P "$lxcdir" -n qbench-rss -k >/dev/null 2>&1; rm -rf "$lxcdir"; }
    rm -rf "$root"
}
trap cleanup EXIT

i=0
while [ $i -lt "$n" ]; do
    if [ $((i % 2)) = 0 ]; then
        q create "idle$i" "$PWD/$tpl" -- /bin/sleep 100000 >/dev/null
        q start "idle$i"
    else
        q create "chatty$i" "$PWD/$tpl" -- /bin/sh -c 'while :; do echo tick; sleep 0.5; done' >/dev/null
        q start "chatty$i"
    fi
    i=$((i + 1))
done
sleep 3

rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }
echo "qing supervisors, VmRSS in kB (measured asleep, the state they spend their time in):"
for pidfile in "$root"/run/containers/*.pid; do
    name=$(basename "$pidfile" .pid)
    pid=$(cat "$pidfile")
    # A chatty supervisor may be awake at the moment of reading: take the least of three.
    best=$(for _ in 1 2 3; do rss "$pid"; sleep 0.17; done | sort -n | head -n 1)
    echo "$name $best"
done | sort | awk '{ print "  " $1 ": " $2; s += $2; if ($2 > max) max = $2 } END { printf "  mean %.0f kB, max %d kB over %d supervisors\n", s / NR, max, NR }'

if command -v lxc-start >/dev/null 2>&1; then
    lxcdir=$(mktemp -d /tmp/qing-rss-lxc.XXXXXX)
    cat >"$lxcdir/config" <<EOF
lxc.rootfs.path = dir:$PWD/$tpl
lxc.uts.name = qbench-rss
lxc.mount.auto = proc:mixed sys:ro
lxc.net.0.type = empty
lxc.init.cmd = /bin/sleep 100000
EOF
    if lxc-start -P "$lxcdir" -n qbench-rss -f "$lxcdir/config" -d >/dev/null 2>&1; then
        sleep 2
        mon=$(pgrep -f "\[lxc monitor\] $lxcdir qbench-rss" | head -n 1)
        [ -n "$mon" ] && echo "LXC 5 monitor for one container: $(rss "$mon") kB"
    fi
fi
