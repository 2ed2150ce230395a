#!/bin/bash
# tests/faults.sh [--seed N] [--trials N]: qing under faults (issue 13, section 5),
# as root, against QING (default: cross/build.sh x86_64-unknown-linux-musl's binary),
# with private state roots and the busybox template (built under target/test-rootfs
# if missing, imported as a squashfs template), in a network namespace of its own.
#
#   1. kills: SIGKILL of `qing run`, `qing start`, the supervisor and `qing stop`, at
#      a seeded random delay of 0-300 ms after each began (--trials in all, 200 by
#      default, the kinds in turn). After each: `qing status` and `qing list` tell
#      the truth (the container's command runs iff they say running), then `qing
#      stop` and `qing rm` leave nothing: no mount, cgroup, loop device, veth, lease,
#      record, claim, config, log or process.
#   2. a full state filesystem (a 64 KB tmpfs as the state root, filled): create and
#      start fail with exit 125 and a message naming the path, no JSON file under
#      the root is half written, and a container started before keeps running.
#   3. a read-only state root (a read-only bind), and EMFILE (`ulimit -n` 16 and
#      lower): clear errors (125, a message) or success, and nothing left.
#
# The seed is printed; the same seed gives the same schedule (kinds, delays, options).
# Exit status: 0 when nothing failed, 1 otherwise; the summary lists each failure with
# its trial number and what was left.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
repo=$PWD
[ "$(id -u)" = 0 ] || { echo "tests/faults.sh: run as root (it starts real containers)" >&2; exit 1; }

seed=$(( $(date +%s%N) % 32768 ))
trials=200
while [ $# -gt 0 ]; do
    case $1 in
        --seed) seed=${2:?--seed N}; shift 2 ;;
        --trials) trials=${2:?--trials N}; shift 2 ;;
        *) echo "usage: tests/faults.sh [--seed N] [--trials N]" >&2; exit 2 ;;
    esac
done
case $seed$trials in *[!0-9]*) echo "tests/faults.sh: --seed and --trials take numbers" >&2; exit 2 ;; esac

# shellcheck source=cross/toolchain/common.sh
. cross/toolchain/common.sh
# ip (iproute2), nsenter and losetup (util-linux, mount), pgrep (procps), python3 to
# parse JSON.
apt_install iproute2 util-linux mount procps python3 coreutils

QING=${QING:-$(cross/build.sh x86_64-unknown-linux-musl | tail -n 1)}
[ -x "$QING" ] || { echo "tests/faults.sh: no qing binary at '$QING'" >&2; exit 1; }
tpl=$repo/target/test-rootfs
[ -x "$tpl/busybox/bin/busybox" ] && [ -f "$tpl/busybox.json" ] ||
    rootfs-templates/build.sh busybox amd64 "$tpl" >/dev/null || exit 1
rootfs_dir=$tpl/busybox

echo "tests/faults.sh: seed $seed, $trials kill trials, qing $QING"
RANDOM=$seed
tag=qf$$
work=$(mktemp -d /tmp/qing-faults.XXXXXX)
ns=qing-faults-$$
ip netns add "$ns" && ip -n "$ns" link set lo up || exit 1

failures=()
fail() { failures+=("$*"); echo "  FAIL: $*"; }

# shellcheck disable=SC2317  # run by the trap
cleanup() {
    for r in "$work"/*/; do
        for c in "$r"etc/*.json; do
            [ -f "$c" ] && q "${r%/}" stop --time 1 "$(basename "$c" .json)" >/dev/null 2>&1
        done
    done
    while grep -q " $work" /proc/self/mountinfo; do
        umount -l "$(grep " $work" /proc/self/mountinfo | tail -n 1 | cut -d' ' -f5)" || break
    done
    ip netns del "$ns" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# q ROOT ARGS...: qing with state root ROOT, in the test's network namespace.
q() { local r=$1; shift; nsenter --net="/run/netns/$ns" "$QING" --root "$r" "$@"; }
# qbg ROOT ARGS...: the same in the background, $! its PID: nsenter executes qing in
# its own process, so that the kill reaches qing itself (not a subshell around it).
qbg() { local r=$1; shift; nsenter --net="/run/netns/$ns" "$QING" --root "$r" "$@" >/dev/null 2>&1 & }

# The container's command: a shell loop whose last argument marks it in /proc.
# payload NAME: sets cmd to it.
payload() { cmd=(/bin/sh -c 'while :; do echo tick; sleep 0.2; done' "qf-payload-$1"); }
payload_pids() { pgrep -f "^/bin/sh -c .* qf-payload-$1\$"; }

# now_ms: milliseconds since the epoch.
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# sleep_ms N
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

# truth ROOT NAME: status and list agree with /proc, once the kill's aftermath has
# settled (a start in flight may still come up, a dying init still hold the claim):
# the same answer twice, 300 ms apart; prints what disagrees when they never do
# within 5 s.
truth() {
    local first second
    first=$(truth_now "$@") || { echo "$first"; return 1; }
    sleep 0.3
    second=$(truth_now "$@") || { echo "$second"; return 1; }
    [ "$first" = "$second" ] || { echo "$first, then $second"; return 1; }
    echo "$second"
}

truth_now() {
    local r=$1 n=$2 deadline st pids rec listed
    deadline=$(( $(now_ms) + 5000 ))
    while :; do
        q "$r" status "$n" >/dev/null 2>&1; st=$?
        pids=$(payload_pids "$n")
        listed=$(q "$r" list 2>/dev/null | awk -v n="$n" '$1 == n { print $2 }')
        if [ "$st" = 0 ]; then
            rec=$(q "$r" status "$n" 2>/dev/null | sed -n 's/.*(pid \([0-9]*\),.*/\1/p')
            if [ -n "$pids" ] && [ "$listed" = running ] &&
                { [ -z "$rec" ] || [ "$rec" = 0 ] || [ -d "/proc/$rec" ]; }; then
                echo running; return 0
            fi
        elif [ "$st" = 3 ] || [ "$st" = 4 ]; then
            if [ -z "$pids" ] && [ "$listed" != running ]; then
                echo stopped; return 0
            fi
        fi
        if [ "$(now_ms)" -ge "$deadline" ]; then
            echo "status $st, list '${listed}', record pid '${rec:-}', command pids '$(echo "$pids" | tr '\n' ' ')'"
            return 1
        fi
        sleep 0.1
    done
}

# leftovers ROOT NAME: what of NAME remains, one line each (nothing when clean).
leftovers() {
    local r=$1 n=$2 m f
    awk -v r="$r/" -v n="$n" 'index($5, r) == 1 || index($0, n) { print "mount: " $5 }' /proc/self/mountinfo
    awk '$0 ~ / - cgroup2? / { print $5 }' /proc/self/mountinfo | while read -r m; do
        [ -e "$m/qing/$n" ] && echo "cgroup: $m/qing/$n"
    done
    losetup -a 2>/dev/null | grep -F "$r/" | sed 's/^/loop: /'
    ip -n "$ns" -o link show 2>/dev/null | awk -F': ' '$2 ~ /^q[vc][0-9]/ { print "veth: " $2 }'
    for f in "$r"/run/net/*.leases; do
        [ -f "$f" ] && grep -H " $n\$" "$f" | sed 's/^/lease: /'
    done
    for f in "$r/run/containers/$n".* "$r/etc/$n.json" "$r"/etc/."$n".json.* \
        "$r/log/$n.log" "$r/log/$n.log.1" "/run/qing/names/$n"; do
        [ -e "$f" ] && echo "file: $f"
    done
    [ -e "$r/run/scratch" ] && [ -n "$(ls -A "$r/run/scratch")" ] && echo "scratch: $(ls -A "$r/run/scratch")"
    pgrep -af -- "$n( |\$)" | sed 's/^/process: /'
}

# end_trial ROOT NAME WHAT: stop and rm, then nothing may be left.
end_trial() {
    local r=$1 n=$2 what=$3 out left
    if [ -f "$r/etc/$n.json" ]; then
        out=$(q "$r" stop --time 2 "$n" 2>&1) || fail "$what: qing stop: $out"
        out=$(q "$r" rm "$n" 2>&1) || fail "$what: qing rm: $out"
    else
        # `qing run --name`: stop knows it while it runs, and says so when it does not.
        out=$(q "$r" stop --time 2 "$n" 2>&1) ||
            case $out in *"no container named"*) ;; *) fail "$what: qing stop: $out" ;; esac
    fi
    # A killed supervisor's init cleans up after it: give it a moment.
    local deadline=$(( $(now_ms) + 3000 ))
    while left=$(leftovers "$r" "$n") && [ -n "$left" ] && [ "$(now_ms)" -lt "$deadline" ]; do
        sleep 0.1
    done
    [ -z "$left" ] || fail "$what: left behind: $(echo "$left" | tr '\n' ';')"
}

# supervisor_of ROOT NAME START_PID: the supervisor's PID, once there is one (its
# pidfile, else the child of `qing start`); empty if none came within 3 s.
supervisor_of() {
    local r=$1 n=$2 start=$3 deadline p
    deadline=$(( $(now_ms) + 3000 ))
    while [ "$(now_ms)" -lt "$deadline" ]; do
        p=$(cat "$r/run/containers/$n.pid" 2>/dev/null)
        [ -n "$p" ] || p=$(pgrep -P "$start" | head -n 1)
        if [ -n "$p" ] && { tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | grep -q " $n\( \|\$\)"; then
            echo "$p"; return 0
        fi
        sleep 0.005
    done
}

# ---- 1. kills
echo "== 1. SIGKILL of qing run, qing start, the supervisor, qing stop"
kroot=$work/kills
mkdir -p "$kroot"
q "$kroot" import "$tpl/busybox.json" >/dev/null || { echo "tests/faults.sh: import failed" >&2; exit 1; }
kinds=(run start supervisor stop)
declare -A done_kind fail_kind up_kind
for k in "${kinds[@]}"; do done_kind[$k]=0; fail_kind[$k]=0; up_kind[$k]=0; done
t0=$(date +%s)
for ((i = 1; i <= trials; i++)); do
    kind=${kinds[$(( (i - 1) % 4 ))]}
    delay=$(( RANDOM % 301 ))
    opts=()
    (( RANDOM % 2 )) && opts+=(--net bridge)
    (( RANDOM % 2 )) && opts+=(--memory 32m)
    if (( RANDOM % 2 )); then rootfs=busybox; else rootfs=$rootfs_dir; fi
    n=$tag-$i
    what="trial $i ($kind, ${delay} ms, ${opts[*]} ${rootfs##*/})"
    nfail=${#failures[@]}
    payload "$n"
    case $kind in
        run)
            qbg "$kroot" run --name "$n" "${opts[@]}" "$rootfs" "${cmd[@]}"
            pid=$!
            sleep_ms "$delay"; kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
            ;;
        start | supervisor | stop)
            q "$kroot" create "${opts[@]}" "$n" "$rootfs" -- "${cmd[@]}" >/dev/null ||
                fail "$what: create failed"
            [ "$kind" = stop ] && { q "$kroot" start "$n" >/dev/null || fail "$what: start failed"; }
            if [ "$kind" = stop ]; then
                qbg "$kroot" stop --time 1 "$n"
            else
                qbg "$kroot" start "$n"
            fi
            pid=$!
            began=$(now_ms)
            if [ "$kind" = supervisor ]; then
                sup=$(supervisor_of "$kroot" "$n" "$pid")
                rest=$(( delay - ($(now_ms) - began) ))
                [ "$rest" -gt 0 ] && sleep_ms "$rest"
                if [ -n "$sup" ]; then kill -KILL "$sup" 2>/dev/null; else fail "$what: no supervisor found"; fi
                wait "$pid" 2>/dev/null
            else
                sleep_ms "$delay"; kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
            fi
            ;;
    esac
    # A killed `qing run` or supervisor takes its container with it: within 5 s.
    if [ "$kind" = run ] || [ "$kind" = supervisor ]; then
        for _ in $(seq 50); do
            q "$kroot" status "$n" >/dev/null 2>&1 || break
            sleep 0.1
        done
    fi
    said=$(truth "$kroot" "$n") || fail "$what: status does not tell the truth: $said"
    if [ "$said" = running ]; then
        up_kind[$kind]=$(( up_kind[$kind] + 1 ))
        { [ "$kind" = run ] || [ "$kind" = supervisor ]; } &&
            fail "$what: the container outlived its killed $kind by 5 s"
    fi
    end_trial "$kroot" "$n" "$what"
    done_kind[$kind]=$(( done_kind[$kind] + 1 ))
    [ "${#failures[@]}" = "$nfail" ] || fail_kind[$kind]=$(( fail_kind[$kind] + 1 ))
    (( i % 20 == 0 )) && echo "  $i trials, $(( $(date +%s) - t0 )) s"
done
kill_summary=""
for k in "${kinds[@]}"; do
    kill_summary+="$k ${done_kind[$k]} (${up_kind[$k]} still running after the kill, ${fail_kind[$k]} failed), "
done
echo "  kills: ${kill_summary%, }"

# json_ok DIR: every JSON file under DIR parses; prints those that do not.
json_ok() {
    python3 - "$1" <<'EOF'
import json, os, sys
bad = 0
for d, _, files in os.walk(sys.argv[1]):
    for f in files:
        if f.endswith(".json") or ".json." in f or ".tmp" in f:
            p = os.path.join(d, f)
            try:
                json.load(open(p))
            except Exception as e:
                print(f"{p}: {e}")
                bad = 1
sys.exit(bad)
EOF
}

# clear_error WHAT CODE OUT PATH: exit 125 with a message that names PATH.
clear_error() {
    local what=$1 code=$2 out=$3 path=$4
    echo "  $what: exit $code: $(echo "$out" | head -n 1)"
    [ "$code" = 125 ] || fail "$what: exit $code, not 125: $out"
    case $out in *"$path"*) ;; *) fail "$what: the message does not name $path: $out" ;; esac
    case $out in *"hint: "?*) ;; *) fail "$what: the message gives no remedy: $out" ;; esac
}

# fill DIR: no byte and no inode left on DIR's filesystem.
fill() {
    dd if=/dev/zero of="$1/.fill" bs=4k 2>/dev/null
    local j=0
    while { : >"$1/.fill$j"; } 2>/dev/null; do j=$((j + 1)); done
}

# ---- 2. a full state filesystem
echo "== 2. a full state filesystem"
froot=$work/full
mkdir -p "$froot"
mount -t tmpfs -o size=64k,nr_inodes=48,mode=0700 qing-faults "$froot" || exit 1
a=$tag-full-a
payload "$a"; q "$froot" create "$a" "$rootfs_dir" -- "${cmd[@]}" >/dev/null || fail "full: create $a"
q "$froot" start "$a" >/dev/null || fail "full: start $a"
b=$tag-full-b
payload "$b"; q "$froot" create "$b" "$rootfs_dir" -- "${cmd[@]}" >/dev/null || fail "full: create $b"
fill "$froot"
c=$tag-full-c
out=$(q "$froot" create "$c" "$rootfs_dir" -- /bin/true 2>&1); code=$?
clear_error "full: create $c" "$code" "$out" "$froot/etc"
[ -e "$froot/etc/$c.json" ] && fail "full: create $c left $froot/etc/$c.json"
out=$(q "$froot" start "$b" 2>&1); code=$?
clear_error "full: start $b" "$code" "$out" "$froot/"
out=$(q "$froot" run --name "$c" "$rootfs_dir" -- /bin/true 2>&1); code=$?
[ "$code" = 0 ] || clear_error "full: run $c" "$code" "$out" "$froot/"
# A config that does not fit in what is left: free a page or two, give it 12 KB.
big=$(head -c 12000 /dev/zero | tr '\0' x)
for pages in 1 2; do
    rm -f "$froot/.fill"
    dd if=/dev/zero of="$froot/.fill" bs=4k count=$(( $(df --output=avail -B4k "$froot" | tail -n 1) - pages )) 2>/dev/null
    rm -f "$froot/.fill0"
    out=$(q "$froot" create --env "BIG=$big" "$c" "$rootfs_dir" -- /bin/true 2>&1); code=$?
    clear_error "full: create $c with $pages page(s) free" "$code" "$out" "$froot/etc"
    { : >"$froot/.fill0"; } 2>/dev/null
done
bad=$(json_ok "$froot") || fail "full: half-written JSON: $bad"
sleep 1
[ "$(truth "$froot" "$a")" = running ] || fail "full: $a stopped running on the full filesystem"
for n in "$b" "$c"; do
    [ -n "$(payload_pids "$n")" ] && fail "full: $n runs"
done
rm -f "$froot"/.fill*
for n in "$a" "$b"; do end_trial "$froot" "$n" "full"; done
end_trial "$froot" "$c" "full"
umount "$froot"

# ---- 3. a read-only state root, and EMFILE
echo "== 3. a read-only state root, and EMFILE"
rroot=$work/ro
mkdir -p "$rroot"
a=$tag-ro-a b=$tag-ro-b c=$tag-ro-c
payload "$a"; q "$rroot" create "$a" "$rootfs_dir" -- "${cmd[@]}" >/dev/null || fail "ro: create $a"
q "$rroot" start "$a" >/dev/null || fail "ro: start $a"
payload "$b"; q "$rroot" create "$b" "$rootfs_dir" -- "${cmd[@]}" >/dev/null || fail "ro: create $b"
mount --bind "$rroot" "$rroot" && mount -o remount,bind,ro "$rroot" || exit 1
out=$(q "$rroot" create "$c" "$rootfs_dir" -- /bin/true 2>&1); code=$?
clear_error "ro: create $c" "$code" "$out" "$rroot/etc"
out=$(q "$rroot" start "$b" 2>&1); code=$?
clear_error "ro: start $b" "$code" "$out" "$rroot/"
out=$(q "$rroot" run --name "$c" "$rootfs_dir" -- /bin/true 2>&1); code=$?
[ "$code" = 0 ] || clear_error "ro: run $c" "$code" "$out" "$rroot/"
[ "$(truth "$rroot" "$a")" = running ] || fail "ro: $a stopped running"
[ "$(truth "$rroot" "$b")" = stopped ] || fail "ro: $b runs"
umount "$rroot"
for n in "$a" "$b" "$c"; do end_trial "$rroot" "$n" "ro"; done

eroot=$work/emfile
mkdir -p "$eroot"
emfile_runs=0
for limit in 16 15 12 10 8 6 5 4; do
    n=$tag-emfile-$limit
    payload "$n"; q "$eroot" create "$n" "$rootfs_dir" -- "${cmd[@]}" >/dev/null || fail "emfile: create $n"
    for cmd in run start; do
        if [ "$cmd" = run ]; then
            out=$( (ulimit -n "$limit" && exec nsenter --net="/run/netns/$ns" "$QING" --root "$eroot" run --name "$n-r" "$rootfs_dir" -- /bin/true) 2>&1); code=$?
        else
            out=$( (ulimit -n "$limit" && exec nsenter --net="/run/netns/$ns" "$QING" --root "$eroot" start "$n") 2>&1); code=$?
        fi
        emfile_runs=$((emfile_runs + 1))
        case $code in
            0) ;;
            125) case $out in "qing: "*"hint: "?*) ;; *) fail "emfile: $cmd with ulimit -n $limit: an unclear error: $out" ;; esac ;;
            *) fail "emfile: $cmd with ulimit -n $limit: exit $code: $out" ;;
        esac
        echo "  ulimit -n $limit, $cmd: exit $code${out:+: $(echo "$out" | head -n 1)}"
    done
    truth "$eroot" "$n" >/dev/null || fail "emfile: status of $n does not tell the truth"
    end_trial "$eroot" "$n" "emfile ($limit)"
    end_trial "$eroot" "$n-r" "emfile ($limit, run)"
done

echo
echo "== summary (seed $seed)"
echo "kills: $trials trials: ${kill_summary%, }"
echo "full state filesystem, read-only state root, EMFILE ($emfile_runs runs): see above"
if [ "${#failures[@]}" = 0 ]; then
    echo "no failures"
    exit 0
fi
echo "${#failures[@]} failures:"
printf '  %s\n' "${failures[@]}"
exit 1
