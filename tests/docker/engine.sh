#!/bin/sh
# tests/docker/engine.sh start|stop|env DIR
#
# A private Docker engine for tests: Debian's dockerd (docker.io 20.10) with everything it
# keeps under DIR and nothing on the host's network or default paths.
#   start  installs docker.io if /usr/sbin/dockerd is missing, starts dockerd, waits until
#          it answers and prints the environment for talking to it (as `env` does).
#   env    prints `export VAR=value` lines: eval "$(tests/docker/engine.sh env DIR)".
#   stop   stops dockerd, its containerd and shims, unmounts what is left under DIR and
#          removes DIR's runtime parts (DIR/data, the images, stays for the next start).
#          Idempotent: safe when nothing runs or DIR does not exist.
#
# Isolation, and why each piece is needed:
# - dockerd runs in its own mount namespace (slave propagation: host mounts still reach
#   it, its mounts never reach the host) with a tmpfs on /run. containerd 1.6 puts shim
#   sockets in /run/containerd/s whatever its state directory is, and dockerd would use a
#   system containerd if /run/containerd/containerd.sock existed; the tmpfs hides both, and
#   whatever the engine writes in /run disappears with it.
# - --data-root, --exec-root, --pidfile, the socket, the trust key (dockerd 20.10 writes
#   /etc/docker/key.json otherwise) and the --config-file (so /etc/docker/daemon.json
#   cannot change the engine) are all under DIR.
# - --bridge none, --iptables=false, --ip6tables=false, --ip-forward=false: no docker0, no
#   firewall rules, no sysctl change. Containers must be run with --network none.
# - --cgroup-parent: container cgroups under one directory of their own, removed by stop.
# - storage: overlay2, or vfs if overlay2 does not work here (QING_DOCKER_STORAGE to force).
#
# The client: /usr/local/bin/docker (a newer CLI) may shadow Debian's /usr/bin/docker on
# PATH. `env` pins DOCKER_API_VERSION to the daemon's, so either client talks to it, and
# sets DOCKER_BUILDKIT=0 (docker.io 20.10 has no buildx; the classic builder is used) and
# DOCKER_CONFIG under DIR (the caller's ~/.docker cannot interfere).
set -eu

me=tests/docker/engine.sh
die() { echo "$me: $*" >&2; exit 1; }

[ $# -eq 2 ] || { echo "usage: $me start|stop|env DIR" >&2; exit 2; }
action=$1
case $2 in
    /*) dir=$2 ;;
    '') die "DIR is empty" ;;
    *) dir=$(pwd)/$2 ;;
esac
dir=${dir%/}
[ -n "$dir" ] || die "DIR must not be /"
[ "$action" = env ] || [ "$(id -u)" = 0 ] || die "must run as root (dockerd needs it)"
export LC_ALL=C
# One name for DIR whichever way it is given (the engine's processes are found by it).
[ "$action" != start ] || mkdir -p "$dir"
if [ -d "$dir" ]; then dir=$(cd "$dir" && pwd -P); fi

dockerd_bin=/usr/sbin/dockerd
client=/usr/bin/docker   # Debian's own client, same version as the daemon

print_env() {
    echo "export DOCKER_HOST=unix://$dir/docker.sock"
    [ -f "$dir/api-version" ] && echo "export DOCKER_API_VERSION=$(cat "$dir/api-version")"
    echo "export DOCKER_BUILDKIT=0"
    echo "export DOCKER_CONFIG=$dir/client"
}

# The cgroup parent is per DIR, so two engines never share one.
cgparent=qing-docker-$(printf %s "$dir" | cksum | cut -d' ' -f1)

# ---- processes ------------------------------------------------------------------------

# daemon_pid: the PID in DIR's pidfile if that process is a dockerd started for DIR.
daemon_pid() {
    [ -f "$dir/docker.pid" ] || return 1
    p=$(cat "$dir/docker.pid" 2>/dev/null) || return 1
    case $p in ''|*[!0-9]*) return 1 ;; esac
    [ -r "/proc/$p/cmdline" ] || return 1
    tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF -- "--pidfile $dir/docker.pid" || return 1
    echo "$p"
}

# engine_pids: the engine's processes, those of its programs whose command line names
# DIR: dockerd, the containerd it started (--config DIR/exec/...) and the shims
# (-address DIR/exec/...). Anything else that names DIR (a `tail DIR/dockerd.log`) is
# not the engine's.
engine_pids() {
    for c in /proc/[0-9]*/cmdline; do
        p=${c#/proc/}; p=${p%/cmdline}
        case $(cat "/proc/$p/comm" 2>/dev/null) in
            dockerd|containerd|containerd-shim*|runc) ;;
            *) continue ;;
        esac
        tr '\0' ' ' 2>/dev/null <"$c" | grep -qF -- " $dir/" && echo "$p"
    done
    return 0
}

# children PID...: the direct children of the given processes (a shim's container init).
children() {
    for p in "$@"; do
        cat "/proc/$p/task/"*/children 2>/dev/null || true
    done | tr ' ' '\n' | grep . || true
}

# wait_gone SECONDS PID...: 0 once none of the processes exists any more.
wait_gone() {
    n=$(($1 * 10)); shift
    while [ "$n" -gt 0 ]; do
        alive=
        for p in "$@"; do [ -d "/proc/$p" ] && alive=1; done
        [ -z "$alive" ] && return 0
        sleep 0.1; n=$((n - 1))
    done
    return 1
}

# dk ARGS: Debian's client on DIR's socket, negotiating the API version itself.
dk() { DOCKER_API_VERSION='' DOCKER_CONFIG="$dir/client" "$client" -H "unix://$dir/docker.sock" "$@"; }
answers() { dk info --format '{{.ServerVersion}}' >/dev/null 2>&1; }

# ---- stop -----------------------------------------------------------------------------

do_stop() {
    [ -d "$dir" ] || return 0
    # dockerd stops its containers and its containerd on SIGTERM (up to its 15 s
    # shutdown timeout, plus the containers' 10 s stop timeout).
    if p=$(daemon_pid); then
        kill -TERM "$p" 2>/dev/null || true
        if ! wait_gone 40 "$p"; then
            echo "$me: dockerd $p did not stop in 40 s; killing it" >&2
            kill -KILL "$p" 2>/dev/null || true
            wait_gone 5 "$p" || die "dockerd $p survives SIGKILL"
        fi
    fi
    # Its containerd and shims exit after it; anything left (dockerd killed, or a crash)
    # is ended here: first what the shims run, then the shims and containerd.
    left=$(engine_pids)
    if [ -n "$left" ]; then
        # shellcheck disable=SC2086  # PID lists
        wait_gone 5 $left || true
        left=$(engine_pids)
    fi
    if [ -n "$left" ]; then
        # shellcheck disable=SC2086
        echo "$me: ending leftover engine processes:" $left >&2
        # shellcheck disable=SC2086
        kids=$(children $left)
        # shellcheck disable=SC2086
        [ -z "$kids" ] || kill -KILL $kids 2>/dev/null || true
        # shellcheck disable=SC2086
        kill -TERM $left 2>/dev/null || true
        # shellcheck disable=SC2086
        wait_gone 10 $left || kill -KILL $left 2>/dev/null || true
        # shellcheck disable=SC2086
        wait_gone 5 $left || die "engine processes survive SIGKILL:" $left
    fi
    # Mounts live in dockerd's own namespace and go with it; anything under DIR in ours
    # (an engine started some other way) is unmounted, deepest first.
    awk -v d="$dir/" '{ m = $5; gsub(/\\040/, " ", m); if (index(m "/", d) == 1) print m }' \
        /proc/self/mountinfo | sort -r | while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m" || echo "$me: cannot unmount $m" >&2
    done
    for cg in /sys/fs/cgroup/*/"$cgparent" /sys/fs/cgroup/"$cgparent"; do
        if [ -d "$cg" ]; then find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
    done
    rm -rf "$dir/exec" "$dir/docker.sock" "$dir/docker.pid" "$dir/client"
}

# ---- start ----------------------------------------------------------------------------

install_engine() {
    command -v apt-get >/dev/null || die "$dockerd_bin is missing and there is no apt-get"
    # The packages' maintainer scripts would start system-wide dockerd and containerd
    # services; a policy-rc.d that answers 101 forbids it. Any existing one is put back.
    saved=
    if [ -e /usr/sbin/policy-rc.d ]; then
        saved=$(mktemp /usr/sbin/.policy-rc.d.XXXXXX)
        cp -p /usr/sbin/policy-rc.d "$saved"
    fi
    # shellcheck disable=SC2064  # $saved is fixed now
    trap "if [ -n '$saved' ]; then mv -f '$saved' /usr/sbin/policy-rc.d; else rm -f /usr/sbin/policy-rc.d; fi" EXIT
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    { apt-get install -y -q --no-install-recommends docker.io ||
        { apt-get update -q && apt-get install -y -q --no-install-recommends docker.io; }
    } >&2 || die "cannot install docker.io"
    if [ -n "$saved" ]; then mv -f "$saved" /usr/sbin/policy-rc.d; else rm -f /usr/sbin/policy-rc.d; fi
    trap - EXIT
    [ -x "$dockerd_bin" ] || die "docker.io installed no $dockerd_bin"
    if [ -e /run/docker.pid ] || [ -e /run/docker.sock ]; then
        die "installing docker.io started a system dockerd; stop it (service docker stop)"
    fi
}

# launch DRIVER: starts dockerd in the background; prints its PID. setsid puts it in a
# session of its own (a Ctrl-C in the caller's terminal must not kill it); a background
# child of a script is never a process group leader, so setsid execs without forking and
# $! is dockerd's PID.
launch() {
    # shellcheck disable=SC2016  # $0.. are expanded by the inner sh
    setsid unshare --mount --propagation slave sh -c '
        mount -t tmpfs -o mode=0755,size=16m qing-docker-run /run || exit 1
        exec "$@"' sh \
        "$dockerd_bin" --config-file "$dir/daemon.json" \
        -H "unix://$dir/docker.sock" --data-root "$dir/data" --exec-root "$dir/exec" \
        --pidfile "$dir/docker.pid" \
        --bridge none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
        --storage-driver "$1" --exec-opt native.cgroupdriver=cgroupfs \
        --cgroup-parent "/$cgparent" \
        </dev/null >>"$dir/dockerd.log" 2>&1 &
    echo $!
}

do_start() {
    if [ ! -x "$dockerd_bin" ] || [ ! -x "$client" ]; then install_engine; fi
    # unix socket paths are limited to 108 bytes; containerd's is the longest.
    [ ${#dir} -le 60 ] || die "DIR is too long for unix sockets under it (60 bytes at most): $dir"
    if daemon_pid >/dev/null && answers; then
        print_env
        return 0
    fi
    do_stop   # leftovers of an engine that died
    mkdir -p "$dir/client"
    # dockerd 20.10 has the trust key's path only as a configuration-file setting.
    printf '{"deprecated-key-path": "%s/key.json"}\n' "$dir" >"$dir/daemon.json"
    : >"$dir/dockerd.log"
    for driver in ${QING_DOCKER_STORAGE:-overlay2 vfs}; do
        echo "=== $(date -u +%FT%TZ) start with storage driver $driver" >>"$dir/dockerd.log"
        pid=$(launch "$driver")
        n=600   # 60 s
        while [ "$n" -gt 0 ]; do
            answers && break
            [ -d "/proc/$pid" ] || break
            sleep 0.1; n=$((n - 1))
        done
        if answers; then
            dk version --format '{{.Server.APIVersion}}' >"$dir/api-version"
            print_env
            return 0
        fi
        if [ -d "/proc/$pid" ]; then
            do_stop
            echo "$me: dockerd did not answer within 60 s; the end of $dir/dockerd.log:" >&2
            tail -n 20 "$dir/dockerd.log" >&2
            exit 1
        fi
        do_stop
        echo "$me: dockerd exited with storage driver $driver" >&2
    done
    echo "$me: dockerd does not start; errors in $dir/dockerd.log:" >&2
    grep -E 'level=(error|fatal)|^failed' "$dir/dockerd.log" | tail -n 10 >&2
    exit 1
}

case $action in
    start) do_start ;;
    stop) do_stop ;;
    env) print_env ;;
    *) echo "usage: $me start|stop|env DIR" >&2; exit 2 ;;
esac
