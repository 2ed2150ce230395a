# tests/bench/peers.sh: sourced by the benchmarks in tests/bench/. Sets up the peers qing
# is compared with (unshare, crun, lxc-execute) on one copy of the busybox template, and
# takes everything down again. Needs root and Debian 12; installs what it lacks with apt.
#
# After peers_setup:
#   $B_TMP      scratch dir (rootfs copy, OCI bundle, LXC config, qing's --root)
#   $B_ROOTFS   the rootfs every runner uses
#   $B_CRUN     how to call crun here (see peers_setup)
#   $B_LXC      lxc-execute's arguments up to the command
# The caller traps EXIT with peers_cleanup, and calls peers_check_leftovers at the end.
# shellcheck shell=sh disable=SC2034  # the B_* variables are read by the sourcing script

# The sourcing script lives in tests/bench/, so the repo is two levels above it.
B_REPO=$(cd "$(dirname "$0")/../.." && pwd)
B_NAME=qbench            # every container and cgroup made here has this in its name
B_TMP="" B_HOLDER="" B_BEFORE="" B_IMAGE=""

peers_die() { echo "tests/bench: $*" >&2; exit 1; }

# peers_install CMD:PKG...: apt-get installs the packages whose command is missing.
peers_install() {
    missing=""
    for cp in "$@"; do
        command -v "${cp%%:*}" >/dev/null 2>&1 || missing="$missing ${cp#*:}"
    done
    [ -z "$missing" ] && return 0
    echo "installing:$missing" >&2
    # lxc's recommends (dnsmasq, bridge tools, debootstrap...) are not needed to run a
    # config-file container, and would only change the host. (On a host run by systemd,
    # the lxc package still enables lxc-net, which brings up an lxcbr0 bridge.)
    # shellcheck disable=SC2086
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing; } >&2 ||
        peers_die "apt-get install$missing failed"
}

peers_versions() {
    # shellcheck disable=SC1091
    echo "kernel $(uname -r); $(. /etc/os-release && echo "$PRETTY_NAME")"
    dpkg-query -W -f '${Package} ${Version}\n' hyperfine util-linux crun lxc
    if [ -n "${QING:-}" ] && [ -x "$QING" ]; then
        v=$("$QING" --version 2>/dev/null) || true
        echo "qing $QING: ${v:-(no --version output)}"
    fi
}

# A snapshot of what a container runtime can leave behind: mounts and cgroups.
peers_state() {
    cat /proc/self/mountinfo
    find /sys/fs/cgroup -name "*$B_NAME*" 2>/dev/null | LC_ALL=C sort
    cat /sys/block/loop*/loop/backing_file 2>/dev/null | LC_ALL=C sort
}

peers_setup() {
    [ "$(id -u)" = 0 ] || peers_die "must run as root"
    B_BEFORE=$(peers_state)
    B_TMP=$(mktemp -d /tmp/qing-bench.XXXXXX)

    # The template is built once and copied: runtimes write into the rootfs (LXC creates
    # and removes entries in /), and the shared template must stay as built.
    arch=$(dpkg --print-architecture)
    tpl=${ROOTFS:-$B_REPO/.cache/rootfs/$arch/busybox}
    if [ ! -x "$tpl/bin/busybox" ]; then
        [ -z "${ROOTFS:-}" ] || peers_die "ROOTFS=$ROOTFS has no bin/busybox"
        echo "building the busybox template into $tpl" >&2
        "$B_REPO/rootfs-templates/build.sh" busybox "$arch" "${tpl%/busybox}" >&2
    fi
    B_ROOTFS=$B_TMP/rootfs
    cp -a "$tpl" "$B_ROOTFS"
    # The same tree as a squashfs image with its manifest, for qing's image path.
    B_IMAGE=""
    if [ -f "$tpl.squashfs" ] && [ -f "$tpl.json" ]; then
        B_IMAGE=$B_TMP/busybox.squashfs
        cp "$tpl.squashfs" "$B_IMAGE"
        cp "$tpl.json" "$B_TMP/busybox.json"
    fi

    # OCI bundle: crun's own default spec, changed only where the comparison needs it: no
    # terminal, /bin/true, our rootfs writable like the other runners', and a cgroup
    # namespace (crun can; its default spec has none).
    mkdir "$B_TMP/bundle"
    (cd "$B_TMP/bundle" && crun spec)
    jq --arg r "$B_ROOTFS" '.process.terminal = false | .process.args = ["/bin/true"]
        | .root = {path: $r, readonly: false} | .linux.namespaces += [{type: "cgroup"}]' \
        "$B_TMP/bundle/config.json" >"$B_TMP/bundle/config.tmp"
    mv "$B_TMP/bundle/config.tmp" "$B_TMP/bundle/config.json"

    # crun 1.8 refuses a hybrid cgroup layout. Rather than paying an unshare, a shell and
    # an umount on every run (~4 ms here), one process holds a mount namespace without the
    # cgroup2 mount, and each run only enters it (nsenter: ~0.7 ms). The holder ignores
    # Ctrl-C so that peers_cleanup can still use it to delete an interrupted container.
    B_CRUN="crun"
    if mountpoint -q /sys/fs/cgroup/unified; then
        unshare -m --propagation private sh -c 'trap "" INT HUP; umount /sys/fs/cgroup/unified && exec sleep infinity' \
            </dev/null >/dev/null 2>&1 &
        B_HOLDER=$!
        i=0
        while nsenter -t "$B_HOLDER" -m mountpoint -q /sys/fs/cgroup/unified 2>/dev/null; do
            kill -0 "$B_HOLDER" 2>/dev/null || peers_die "could not hide /sys/fs/cgroup/unified for crun"
            i=$((i + 1)); [ $i -lt 100 ] || peers_die "timed out hiding /sys/fs/cgroup/unified for crun"
            sleep 0.05
        done
        B_CRUN="nsenter -t $B_HOLDER -m crun"
    fi

    # LXC without templates; net type empty = a new network namespace with only lo.
    mkdir "$B_TMP/lxc"
    cat >"$B_TMP/lxc.conf" <<EOF
lxc.rootfs.path = dir:$B_ROOTFS
lxc.uts.name = $B_NAME
lxc.mount.auto = proc:mixed sys:ro
lxc.net.0.type = empty
EOF
    B_LXC="lxc-execute -n $B_NAME-lxc -P $B_TMP/lxc -f $B_TMP/lxc.conf"
}

# Idempotent, and safe after a failure at any point of peers_setup or of a run.
peers_cleanup() {
    [ -n "$B_TMP" ] || return 0
    if [ -n "$B_HOLDER" ]; then
        $B_CRUN delete -f "$B_NAME-crun" >/dev/null 2>&1 || true
        kill "$B_HOLDER" 2>/dev/null || true
        wait "$B_HOLDER" 2>/dev/null || true
        B_HOLDER=""
    else
        crun delete -f "$B_NAME-crun" >/dev/null 2>&1 || true
    fi
    lxc-stop -P "$B_TMP/lxc" -n "$B_NAME-lxc" -k >/dev/null 2>&1 || true
    # A runtime that left a mount under B_TMP (qing's --root, the rootfs) would have rm
    # delete the mounted files: refuse, and leave it for a person to look at.
    if grep -F -q -e " $B_TMP/" -e " $B_TMP " /proc/self/mountinfo; then
        echo "tests/bench: mounts left under $B_TMP; not removing it:" >&2
        grep -F -e " $B_TMP/" -e " $B_TMP " /proc/self/mountinfo >&2
    else
        rm -rf --one-file-system "$B_TMP"
    fi
    B_TMP=""
}

# Compares the mounts and cgroups with the snapshot peers_setup took, and looks for any
# process still running from a scratch dir or under one of our names. Returns 1 if
# anything was left. Call it after peers_cleanup.
peers_check_leftovers() {
    left=0
    after=$(peers_state)
    if [ "$after" != "$B_BEFORE" ]; then
        d=$(mktemp -d)
        printf '%s\n' "$B_BEFORE" >"$d/before"
        printf '%s\n' "$after" >"$d/after"
        diff -u "$d/before" "$d/after" >&2 || true
        rm -rf "$d"
        echo "tests/bench: mounts or cgroups differ from before the run (above; another job on this machine can also cause this)" >&2
        left=1
    fi
    if pgrep -a -f "/tmp/qing-bench\.|$B_NAME-" >&2; then
        echo "tests/bench: processes left running (above)" >&2
        left=1
    fi
    [ $left = 1 ] || echo "leftovers: none (mounts, cgroups named *$B_NAME*, processes)"
    return $left
}
