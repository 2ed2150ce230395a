#!/bin/sh
# tests/bench/publish.sh [ROUNDS]   (default 5)
#
# What a published port costs, against a direct connection to the container's bridge
# address in the same run, on the same echo service (tests/probes/echo.c):
# - latency: mean microseconds of a 64-byte TCP round trip on one connection, of a
#   connection (connect, one round trip, close) and of a UDP round trip, each measured
#   ROUNDS times alternating direct and published; the median of the rounds is shown
#   with the ratio published/direct;
# - memory: the resident set (VmRSS) of the supervisor of a started container with
#   published ports, asleep, and while it forwards 100 open connections, beside the
#   supervisor of the same container without them.
# Docker's userland proxy (docker-proxy, from Debian's docker.io, run by hand on the
# same ports' equivalents) is measured beside qing's forwarder when it is installed.
#
# Everything happens in a network namespace of the script's own: nothing touches the
# host's network. QING names the qing binary (default: a release build). Root only;
# leaves nothing.
set -eu
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "tests/bench/publish.sh: run as root" >&2; exit 1; }
rounds=${1:-5}
case $rounds in ''|*[!0-9]*) echo "usage: tests/bench/publish.sh [ROUNDS]" >&2; exit 2 ;; esac
if [ -z "${QING_BENCH_NETNS:-}" ]; then
    exec env QING_BENCH_NETNS=1 unshare -n "$0" "$@"
fi
if ! command -v gcc >/dev/null || ! command -v ip >/dev/null; then
    { apt-get update -q && apt-get install -y -q gcc libc6-dev iproute2; } >&2
fi
ip link set lo up
qing=${QING:-$(cross/build.sh x86_64-unknown-linux-musl | tail -n 1)}
arch=$(dpkg --print-architecture)
tpl=$PWD/.cache/templates/$arch/busybox
[ -x "$tpl/bin/busybox" ] || rootfs-templates/build.sh busybox "$arch" ".cache/templates/$arch" >/dev/null

work=$(mktemp -d /tmp/qing-bench-publish.XXXXXX)
q() { "$qing" --root "$work/root" "$@"; }
cleanup() {
    # Two PIDs, one word each.
    # shellcheck disable=SC2086
    [ -z "${proxies:-}" ] || kill $proxies 2>/dev/null || true
    q stop --time 2 published >/dev/null 2>&1 || true
    q stop --time 2 plain >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/probe"
gcc -static -O2 -o "$work/probe/echo" tests/probes/echo.c
gcc -O2 -o "$work/netprobe" tests/bench/netprobe.c
probe() { "$work/netprobe" "$@"; }
# wait_for_answer PORT WHO: until the echo service answers through 127.0.0.1:PORT.
wait_for_answer() {
    tries=0
    until probe tcp-connect 127.0.0.1 "$1" 1 >/dev/null 2>&1; do
        tries=$((tries + 1))
        [ $tries -lt 100 ] || { echo "tests/bench/publish.sh: $2 never answered" >&2; exit 1; }
        sleep 0.1
    done
}

q create published --net bridge --ip 10.199.0.77 --publish 18080:7000 \
    --publish 18080:7000/udp --volume "$work/probe:/probe:ro" "$tpl" -- /probe/echo 7000 >/dev/null
q create plain --net bridge --ip 10.199.0.78 --volume "$work/probe:/probe:ro" "$tpl" \
    -- /probe/echo 7000 >/dev/null
q start published
q start plain
wait_for_answer 18080 "the echo service"

proxy=$(command -v docker-proxy || ls /usr/sbin/docker-proxy 2>/dev/null || true)
proxies=''
if [ -n "$proxy" ]; then
    for proto in tcp udp; do
        "$proxy" -proto $proto -host-ip 127.0.0.1 -host-port 18081 -container-ip 10.199.0.77 \
            -container-port 7000 3>"$work/proxy-$proto.ready" 2>/dev/null &
        proxies="$proxies $!"
    done
    wait_for_answer 18081 docker-proxy
fi

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
printf '%-40s %8s %8s %6s' "mean per operation, median of $rounds rounds" direct qing ratio
[ -z "$proxy" ] || printf ' %13s %6s' docker-proxy ratio
echo
for test in "tcp-rtt 2000" "tcp-connect 300" "udp-rtt 2000"; do
    # The test's name and its count, split into $1 and $2.
    # shellcheck disable=SC2086
    set -- $test
    : >"$work/direct"
    : >"$work/qing"
    : >"$work/proxy"
    r=0
    while [ $r -lt "$rounds" ]; do
        probe "$1" 10.199.0.77 7000 "$2" >>"$work/direct"
        probe "$1" 127.0.0.1 18080 "$2" >>"$work/qing"
        [ -z "$proxy" ] || probe "$1" 127.0.0.1 18081 "$2" >>"$work/proxy"
        r=$((r + 1))
    done
    d=$(median <"$work/direct")
    case $1 in
        tcp-rtt) what="TCP round trip, 64 bytes (us)" ;;
        tcp-connect) what="TCP connect + round trip + close (us)" ;;
        *) what="UDP round trip, 64 bytes (us)" ;;
    esac
    ratio() { awk "BEGIN { printf \"%.2f\", $1 / $d }"; }
    p=$(median <"$work/qing")
    printf '%-40s %8s %8s %6s' "$what" "$d" "$p" "$(ratio "$p")"
    if [ -n "$proxy" ]; then
        p=$(median <"$work/proxy")
        printf ' %13s %6s' "$p" "$(ratio "$p")"
    fi
    echo
done

rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }
least_rss() { for _ in 1 2 3; do rss "$1"; sleep 0.2; done | sort -n | head -n 1; }
pub=$(cat "$work/root/run/containers/published.pid")
plain=$(cat "$work/root/run/containers/plain.pid")
sleep 1
echo "supervisor VmRSS (kB), asleep: without published ports $(least_rss "$plain")," \
    "with two $(least_rss "$pub")"
probe hold 127.0.0.1 18080 100 4 >"$work/hold" &
holder=$!
until grep -q holding "$work/hold" 2>/dev/null; do sleep 0.1; done
echo "supervisor VmRSS (kB) while it forwards 100 open connections: $(rss "$pub")"
wait $holder
if [ -n "$proxy" ]; then
    # shellcheck disable=SC2086  # the two PIDs, as $1 and $2
    set -- $proxies
    echo "docker-proxy VmRSS (kB), one process per port and protocol: $(rss "$1") (tcp)," \
        "$(rss "$2") (udp)"
fi
