#!/bin/sh
# tests/bench/supervisor.sh [N]   (default 10)
#
# Memory each running container costs on the host, in the processes its manager keeps
# beside it: RSS, PSS and Anonymous from /proc/PID/smaps_rollup, in kB, read once they
# have settled (asleep, the state they spend their time in). One run measures, side by side:
# - N containers started with `qing start` on the busybox template, half idle (`sleep`),
#   half chatty (a log line every half second, which wakes their supervisors): for each,
#   its supervisor (ROOT/run/containers/NAME.pid, "qing-supervisor") and its container's
#   init (the supervisor's only child, qing too), and their sum; mean and max over the idle
#   and over the chatty ones.
# - One container of `qing run` (the foreground runner): qing run itself and its child,
#   the container's init, and their sum.
# - One container of the same rootfs under each peer: LXC's monitor ("[lxc monitor]", for
#   `lxc-start -d`) and Podman's conmon (`podman run -d` with crun, on a private storage
#   root, the image imported from the template); lxc, podman and crun are installed from
#   Debian when missing, and the script says so. containerd-shim is not run: its row is
#   the figure published in peers.md. A peer that cannot run here gets a line saying why.
# A chatty supervisor may be awake when read: each figure is the least of three readings
# (by RSS) ~0.17 s apart. PSS splits the pages that processes share, so a qing process's
# PSS falls as more containers run (all run the same binary). The table is markdown.
#
# QING names the qing binary (default: the release build of cross/build.sh, whose link
# places the sleeping code so that only 64 KB of code stays resident); it must have the
# feature named. Root only; leaves nothing, on success, error or Ctrl-C.
set -eu
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "tests/bench/supervisor.sh: run as root" >&2; exit 1; }
n=${1:-10}
case $n in ''|*[!0-9]*|0) echo "usage: tests/bench/supervisor.sh [N]   (N >= 1)" >&2; exit 2 ;; esac
die() { echo "tests/bench/supervisor.sh: $*" >&2; exit 1; }
say() { echo "$*" >&2; }

tmp=''
qroot='' runpid='' lxcname='' lxcstarted='' lxcmade='' pdir='' pcg='' pmade=''
names=''
cleanup() {
    set +e
    trap - EXIT INT TERM HUP
    if [ -n "$runpid" ]; then
        kill -TERM "$runpid" 2>/dev/null
        i=0
        while kill -0 "$runpid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -KILL "$runpid" 2>/dev/null
        wait "$runpid" 2>/dev/null
    fi
    for name in $names; do
        "$tmp/qing" --root "$qroot" stop --time 2 "$name" >/dev/null 2>&1
    done
    if [ -n "$lxcstarted" ]; then
        lxc-stop -P "$tmp/lxc" -n "$lxcname" -k >/dev/null 2>&1
    fi
    if [ -n "$lxcname" ]; then
        # LXC's lock directory for this run's LXC path, and what LXC made for the first
        # time (its lock tree, the cgroup lxc.pivot it moves its monitor to on the way out).
        rm -rf "/run/lxc/lock$tmp"
        for d in $lxcmade; do rmdir "$d" 2>/dev/null; done
    fi
    if [ -n "$pdir" ]; then
        p rm -f -t 0 -a >/dev/null 2>&1
        # conmon then runs `podman container cleanup` on the private root: let it end
        # before that root goes away.
        i=0
        while pgrep -f -- "$pdir/" >/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
        p rmi -a -f >/dev/null 2>&1
        # Podman's cgroups: conmon's (PARENT/conmon) stays after the container is gone.
        for c in /sys/fs/cgroup/*/"$pcg"; do
            [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null
        done
        # What this Podman writes outside its private root whatever its options say.
        for d in $pmade; do rm -rf "$d"; done
    fi
    # Whatever is still mounted under the scratch directory (Podman's storage).
    if [ -n "$tmp" ]; then
        awk -v t="$tmp/" 'index($2, t) == 1 { print $2 }' /proc/mounts | sort -r |
            while read -r m; do umount -l "$m" 2>/dev/null; done
    fi
    # A qing container stopped leaves no cgroup and no claim; one that failed halfway may.
    for name in $names; do
        for c in /sys/fs/cgroup/*/qing/"$name"; do
            [ -d "$c" ] || continue
            xargs kill -KILL <"$c/cgroup.procs" 2>/dev/null
            sleep 0.1
            find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null
        done
        [ -e "/run/qing/names/$name" ] && rm -f "/run/qing/names/$name"
    done
    [ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- qing, the template, the peers' packages -------------------------------------------
built=${QING:-$(cross/build.sh x86_64-unknown-linux-musl | tail -n 1)}
[ -x "$built" ] || die "no qing binary at '$built' (QING)"
arch=$(dpkg --print-architecture)
tpl=$PWD/.cache/templates/$arch/busybox
[ -x "$tpl/bin/busybox" ] || rootfs-templates/build.sh busybox "$arch" ".cache/templates/$arch" >/dev/null

tmp=$(mktemp -d /tmp/qing-rss.XXXXXX)
# A copy: the binary stays the same all through the run, whatever rebuilds its path.
# Its pages are then dropped from the page cache, to be read back from disk as an
# installed binary's are: pages just written stay cached in a way that the fault-around
# of a waking qing maps 84 KB of code where a binary read from disk gives 64.
cp "$built" "$tmp/qing"
sync "$tmp/qing"
dd if="$tmp/qing" iflag=nocache count=0 2>/dev/null
qing=$tmp/qing
qroot=$tmp/q
features=$("$qing" version | sed -n 's/^features: *//p')
case " $features " in *" named "*) ;; *) die "$built lacks the feature named (qing start); features: $features" ;; esac
notes=$tmp/notes
: >"$notes"
note() { echo "$*" >>"$notes"; }

install_pkgs() { # WHAT PACKAGE...: installs from Debian, says so; fails if it cannot
    what=$1; shift
    say "$what is not installed: installing it (apt-get install $*)"
    note "- $what was not installed: the script installed it (apt-get install $*)."
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >"$tmp/apt.log" 2>&1 ||
        { apt-get update >>"$tmp/apt.log" 2>&1 &&
          DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >>"$tmp/apt.log" 2>&1; }
}
have_lxc=yes have_podman=yes
command -v lxc-start >/dev/null 2>&1 || install_pkgs LXC lxc || {
    have_lxc=no
    note "- LXC: not measured: apt-get install lxc failed: $(tail -n 1 "$tmp/apt.log")"
}
if ! command -v podman >/dev/null 2>&1 || ! command -v conmon >/dev/null 2>&1 || [ ! -x /usr/bin/crun ]; then
    install_pkgs "Podman (with conmon and crun)" podman conmon crun || {
        have_podman=no
        note "- Podman: not measured: apt-get install podman conmon crun failed: $(tail -n 1 "$tmp/apt.log")"
    }
fi

# --- start everything, then let it settle ----------------------------------------------
# Container names are machine-wide (cgroups, claims): this run's carry its PID.
pre=qb$$
procs=$tmp/procs # GROUP LABEL ROLE PID, one process to read per line
: >"$procs"
q() { "$qing" --root "$qroot" "$@"; }
i=0
while [ $i -lt "$n" ]; do
    if [ $((i % 2)) = 0 ]; then kind=idle; else kind=chatty; fi
    name=$pre-$kind$i
    names="$names $name"
    if [ $kind = idle ]; then
        q create "$name" "$tpl" -- /bin/sleep 100000 >/dev/null
    else
        q create "$name" "$tpl" -- /bin/sh -c 'while :; do echo tick; sleep 0.5; done' >/dev/null
    fi
    q start "$name"
    i=$((i + 1))
done

names="$names $pre-run"
# exec: $! is then qing run itself, not a shell waiting for it.
(exec "$qing" --root "$qroot" run --name "$pre-run" "$tpl" -- /bin/sleep 100000 </dev/null >"$tmp/run.log" 2>&1) &
runpid=$!

lxcv='' podv='' conv='' crunv=''
if [ $have_lxc = yes ]; then
    lxcv=$(lxc-start --version)
    lxcname=$pre-lxc
    lxcmade=''
    # (a pattern that matches nothing stays as it is, and matches at cleanup)
    for d in /sys/fs/cgroup/*/lxc.pivot /run/lxc/lock/tmp /run/lxc/lock /run/lxc; do
        [ -e "$d" ] || lxcmade="$lxcmade $d"
    done
    mkdir "$tmp/lxc"
    cat >"$tmp/lxc/config" <<EOF
lxc.rootfs.path = dir:$tpl
lxc.uts.name = $lxcname
lxc.mount.auto = proc:mixed sys:ro
lxc.net.0.type = empty
lxc.init.cmd = /bin/sleep 100000
EOF
    lxcstarted=yes
    if ! err=$(lxc-start -P "$tmp/lxc" -n "$lxcname" -f "$tmp/lxc/config" -d 2>&1); then
        lxcstarted=''
        note "- LXC: not measured: lxc-start -d failed: $err"
    fi
fi

# Podman on a private root: its storage, its run state, its temporary files, its network
# configs and crun's state, all under $pdir. Debian's crun 1.8.1 refuses this machine's
# hybrid cgroups (cgroup2 at /sys/fs/cgroup/unified besides the v1 controllers): it runs
# behind a wrapper that hides that mount in a private mount namespace (peers.md).
# Podman's default RLIMIT_NOFILE and RLIMIT_NPROC are above the hard limits here, and
# without CAP_SYS_RESOURCE no runtime can raise them: --ulimit sets them lower.
p() { CONTAINERS_CONF="$pdir/containers.conf" podman --root "$pdir/root" --runroot "$pdir/run" --runtime "$pdir/crun" "$@"; }
podman_try() { # WHAT CMD...: runs CMD; on failure, notes its exact error and fails
    what=$1; shift
    if out=$("$@" 2>"$tmp/podman.err"); then return 0; fi
    note "- Podman: not measured: \`$what\` failed: $(grep -v '^[[:space:]]*$' "$tmp/podman.err" | tail -n 3 | paste -s -d ' ' -)"
    return 1
}
if [ $have_podman = yes ]; then
    podv=$(podman --version | sed 's/^podman version //')
    conv=$(conmon --version | sed -n '1s/^conmon version //p')
    for d in /run/containers /var/lib/containers; do [ -e "$d" ] || pmade="$pmade $d"; done
    pdir=$tmp/podman
    pcg=$pre-podman
    mkdir -p "$pdir/tmp" "$pdir/net" "$pdir/crun-state"
    # (crun makes its state directory, /run/crun by default, even for --version)
    crunv=$(/usr/bin/crun --root "$pdir/crun-state" --version | sed -n '1s/^crun version //p')
    cat >"$pdir/containers.conf" <<EOF
[network]
network_config_dir = "$pdir/net"
[engine]
tmp_dir = "$pdir/tmp"
image_copy_tmp_dir = "$pdir/tmp"
events_logger = "file"
cgroup_manager = "cgroupfs"
EOF
    cat >"$pdir/crun" <<EOF
#!/bin/sh
exec unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec /usr/bin/crun --root "\$0" "\$@"' "$pdir/crun-state" "\$@"
EOF
    chmod +x "$pdir/crun"
    tar -C "$tpl" -cf "$pdir/layer.tar" .
    if podman_try "podman import" p import "$pdir/layer.tar" "localhost/$pre-busybox:latest" &&
        podman_try "podman run -d" p run -d --name "$pre-podman" --cgroup-parent "/$pcg" --network none \
            --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "localhost/$pre-busybox:latest" /bin/sleep 100000 &&
        podman_try "podman inspect" p inspect --format '{{.State.ConmonPid}}' "$pre-podman"; then
        case $out in ''|0|*[!0-9]*) note "- Podman: not measured: no conmon PID for the container ('$out')" ;;
            *) echo "conmon podman conmon $out" >>"$procs" ;; esac
    fi
fi

sleep 3

# --- the processes to read -------------------------------------------------------------
argv0() { tr '\0' '\n' <"/proc/$1/cmdline" | head -n 1; }
for name in $names; do
    [ "$name" = "$pre-run" ] && continue
    kind=${name#"$pre"-}
    sup=$(cat "$qroot/run/containers/$name.pid") || die "$name: no supervisor pidfile"
    [ "$(argv0 "$sup")" = qing-supervisor ] || die "$name: process $sup is not a qing-supervisor"
    init=$(pgrep -P "$sup") || die "$name: its supervisor $sup has no child"
    [ "$(echo "$init" | wc -l)" = 1 ] || die "$name: its supervisor $sup has more than one child: $init"
    [ "$(argv0 "$init")" = "$qing" ] || die "$name: the supervisor's child $init is not qing's init"
    group=${kind%%[0-9]*}
    echo "$group $kind sup $sup" >>"$procs"
    echo "$group $kind init $init" >>"$procs"
done
kill -0 "$runpid" 2>/dev/null || die "qing run exited: $(cat "$tmp/run.log")"
[ "$(argv0 "$runpid")" = "$qing" ] || die "process $runpid is not qing run"
init=$(pgrep -P "$runpid") || die "qing run ($runpid) has no child: $(cat "$tmp/run.log")"
[ "$(argv0 "$init")" = "$qing" ] || die "qing run's child $init is not qing's init"
echo "run qing-run sup $runpid" >>"$procs"
echo "run qing-run init $init" >>"$procs"
if [ -n "$lxcstarted" ]; then
    mon=$(pgrep -f "^\[lxc monitor\] $tmp/lxc $lxcname\$" | head -n 1)
    if [ -n "$mon" ]; then echo "lxc lxc monitor $mon" >>"$procs"
    else note "- LXC: not measured: no \"[lxc monitor] $tmp/lxc $lxcname\" process"; fi
fi

# The least of three readings of each process, by RSS.
mem() { awk '/^Rss:/ { r = $2 } /^Pss:/ { p = $2 } /^Anonymous:/ { a = $2 } END { if (r == "") exit 1; print r, p, a }' "/proc/$1/smaps_rollup" 2>/dev/null; }
for round in 1 2 3; do
    while read -r group label role pid; do
        m=$(mem "$pid") || die "$label: process $pid ($role) is gone"
        echo "$group $label $role $m"
    done <"$procs"
    [ $round = 3 ] || sleep 0.17
done >"$tmp/readings"

# --- the tables ------------------------------------------------------------------------
qv=$("$qing" version | head -n 1)
echo "$qv, features: $features; $(wc -c <"$qing") bytes ($built)"
echo "rootfs: $tpl; $n containers of \`qing start\` ($(( (n + 1) / 2 )) idle, $((n / 2)) chatty) and one of \`qing run\`, read after 3 s"
echo
awk -v lxcv="$lxcv" -v podv="$podv" -v conv="$conv" -v crunv="$crunv" -v n="$n" '
function key(g, l, r) { return g SUBSEP l SUBSEP r }
{
    k = key($1, $2, $3)
    if (!(k in rss) || $4 < rss[k]) { rss[k] = $4; pss[k] = $5; anon[k] = $6 }
    gl = $1 SUBSEP $2
    if (!(gl in seen)) { seen[gl] = 1; order[++nl] = gl }
}
function cell(g, l, r,    k) { k = key(g, l, r); return rss[k] " | " pss[k] " | " anon[k] }
function sumup(g, l,    s, i) {
    s = key(g, l, "sum"); i = key(g, l, "sup"); j = key(g, l, "init")
    rss[s] = rss[i] + rss[j]; pss[s] = pss[i] + pss[j]; anon[s] = anon[i] + anon[j]
}
END {
    for (i = 1; i <= nl; i++) {
        split(order[i], a, SUBSEP)
        if (a[1] == "idle" || a[1] == "chatty" || a[1] == "run") sumup(a[1], a[2])
    }
    print "Per container, kB (supervisor: for `qing run`, qing run itself):"
    print ""
    print "| container | supervisor RSS | PSS | Anonymous | init RSS | PSS | Anonymous | sum RSS | PSS | Anonymous |"
    print "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    for (i = 1; i <= nl; i++) {
        split(order[i], a, SUBSEP)
        if (a[1] != "idle" && a[1] != "chatty" && a[1] != "run") continue
        printf "| %s | %s | %s | %s |\n", (a[1] == "run" ? "`qing run`" : a[2]), cell(a[1], a[2], "sup"), cell(a[1], a[2], "init"), cell(a[1], a[2], "sum")
    }
    print ""
    print "Per container, kB: mean (max) over the containers of a kind:"
    print ""
    print "| what | process | RSS | PSS | Anonymous |"
    print "|---|---|--:|--:|--:|"
    for (gi = 1; gi <= 2; gi++) {
        g = (gi == 1 ? "idle" : "chatty")
        for (ri = 1; ri <= 3; ri++) {
            r = (ri == 1 ? "sup" : ri == 2 ? "init" : "sum")
            c = 0; sr = sp = sa = 0; mr = mp = ma = 0
            for (i = 1; i <= nl; i++) {
                split(order[i], a, SUBSEP)
                if (a[1] != g) continue
                k = key(g, a[2], r); c++
                sr += rss[k]; sp += pss[k]; sa += anon[k]
                if (rss[k] > mr) mr = rss[k]; if (pss[k] > mp) mp = pss[k]; if (anon[k] > ma) ma = anon[k]
            }
            if (c == 0) continue
            what = (ri == 1 ? sprintf("`qing start`, %d %s containers", c, g) : "")
            proc = (ri == 1 ? "supervisor" : ri == 2 ? "init" : "**supervisor + init**")
            printf "|%s| %s | %.0f (%d) | %.0f (%d) | %.0f (%d) |\n", (what == "" ? " " : " " what " "), proc, sr / c, mr, sp / c, mp, sa / c, ma
        }
    }
    printf "| `qing run`, one container | qing run | %s |\n", cell("run", "qing-run", "sup")
    printf "| | init | %s |\n", cell("run", "qing-run", "init")
    printf "| | **qing run + init** | %s |\n", cell("run", "qing-run", "sum")
    if (key("lxc", "lxc", "monitor") in rss)
        printf "| LXC %s `lxc-start -d`, one container | `[lxc monitor]` | %s |\n", lxcv, cell("lxc", "lxc", "monitor")
    else
        printf "| LXC %s `lxc-start -d`, one container | `[lxc monitor]` | not measured (below) | | |\n", lxcv
    if (key("conmon", "podman", "conmon") in rss)
        printf "| Podman %s `podman run -d` (crun %s), one container | conmon %s | %s |\n", podv, crunv, conv, cell("conmon", "podman", "conmon")
    else
        printf "| Podman %s `podman run -d`, one container | conmon %s | not measured (below) | | |\n", podv, conv
    print "| Docker 20.10 `docker run -d`, one container (peers.md, not measured in this run) | containerd-shim | 13300 (13.3 MB) | | |"
}' "$tmp/readings"
echo
echo "- Each figure is the least (by RSS) of three readings of /proc/PID/smaps_rollup 0.17 s apart. PSS splits shared pages among the processes that map them: all of this run's qing processes run one binary."
[ -z "$lxcv" ] || echo "- LXC: \`lxc-start -d\`, \`lxc.net.0.type = empty\`, \`lxc.init.cmd = /bin/sleep 100000\`."
[ -z "$podv" ] || echo "- Podman: private --root, --runroot and containers.conf; image from \`podman import\` of the template; \`--network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024\`; crun behind \`unshare -m\` with /sys/fs/cgroup/unified unmounted (crun refuses hybrid cgroups)."
cat "$notes"
