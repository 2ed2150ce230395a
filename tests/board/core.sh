#!/bin/sh
# Runs inside an emulated board (cross/board.sh): the root is the initramfs, so
# pivot_root cannot work; overlayfs is a module nobody loaded; no cgroup filesystem is
# mounted. MODE=v2 (default) lets qing mount cgroups itself, which gives pure cgroup
# v2 on this kernel; MODE=v1 mounts v1 hierarchies first, as an old board's init
# would, which gives pure cgroup v1.
#
# Prints PASS/FAIL lines and exits non-zero when any check failed.
#
# The helpers are called through `expect`, which shellcheck cannot follow:
# shellcheck disable=SC2317
set -u
MODE=${MODE:-v2}
failed=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failed=1; }
expect() { # expect DESCRIPTION COMMAND...: the command must succeed
    what=$1; shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
has() { # has TEXT PATTERN: whether a line of TEXT matches PATTERN
    printf '%s\n' "$1" | grep -q -- "$2"
}
lacks() { ! has "$@"; }
differ() { ! cmp -s "$1" "$2"; }
Q="qing --root /run/q"

if [ "$MODE" = v1 ]; then
    mount -t tmpfs cgroup /sys/fs/cgroup
    for c in memory cpu pids; do
        mkdir -p /sys/fs/cgroup/$c && mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c
    done
fi

echo "== qing check ($MODE)"
check=$(qing check)
echo "$check"
expect "check: pivot_root is reported impossible from the initramfs" has "$check" "pivot_root .*OPTIONAL"
expect "check: overlayfs is reported missing with its kernel option" has "$check" "overlayfs .*OPTIONAL.*CONFIG_OVERLAY_FS"
expect "check: every required feature is present" has "$check" "Every required feature is present"

echo "== run from an initramfs root, without overlayfs"
out=$($Q run --name a /rootfs -- sh -c 'touch /x 2>&1; grep CapBnd /proc/self/status; echo hello' 2>/tmp/err)
code=$?
cat /tmp/err
echo "$out"
expect "run exits 0 under the chroot fallback" [ "$code" = 0 ]
expect "the root is read-only without overlayfs" has "$out" "Read-only file system"
expect "the fallback drops CAP_SYS_CHROOT" has "$out" "CapBnd:.00000000a80025fb"
expect "qing says once that overlayfs is missing" grep -q "no overlayfs" /tmp/err
$Q run --name b /rootfs -- true 2>/tmp/err2
expect "and does not say it again" [ ! -s /tmp/err2 ]
out=$($Q run --name c /rootfs -- sh -c 'ls /; test -e /test.sh && echo HOST-VISIBLE; test -e /usr/bin/qing && echo QING-VISIBLE')
expect "the initramfs's own files are not visible" lacks "$out" VISIBLE

echo "== cgroups ($MODE)"
mounts=$(grep cgroup /proc/mounts)
echo "$mounts"
if [ "$MODE" = v2 ]; then
    expect "qing mounted cgroup2 itself" has "$mounts" "cgroup2 /sys/fs/cgroup"
else
    expect "qing used the v1 hierarchies it found" lacks "$mounts" cgroup2
fi
# shellcheck disable=SC2016  # the container's shell expands $x, not this one
$Q run --name oom --memory 16m /rootfs -- sh -c 'x=a; while :; do x="$x$x"; done' 2>/tmp/err
code=$?
cat /tmp/err
expect "a memory hog is OOM-killed with 137" [ "$code" = 137 ]
expect "and qing says the memory limit killed it" grep -q "memory limit" /tmp/err
# ash gives up on its script when a fork fails: the forking happens in a subshell.
out=$($Q run --name pids --pids 12 /rootfs -- sh -c 'cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max 2>/dev/null; (for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do sleep 2 & done) 2>/dev/null; sleep 0.5; ls /proc | grep -c "^[0-9]"')
echo "$out"
expect "the pids limit is applied" has "$out" "^12$"
expect "and holds: at most 12 processes ran" [ "$(printf '%s\n' "$out" | tail -n 1)" -le 12 ]
out=$($Q run --name cpu --cpus 0.5 /rootfs -- sh -c 'cat /sys/fs/cgroup/cpu.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null')
expect "the cpu quota is applied" has "$out" "50000"

echo "== with overlayfs loaded"
if modprobe overlay; then
    out=$($Q run --name d /rootfs -- sh -c 'echo data > /x && cat /x')
    expect "the root is writable with overlayfs" [ "$out" = data ]
    expect "and the template is unchanged" [ ! -e /rootfs/x ]
else
    fail "modprobe overlay"
fi

echo "== a squashfs template through a loop device"
if modprobe loop && modprobe squashfs; then
    out=$($Q run --name sq /images/busybox.squashfs -- sh -c 'echo data > /x && cat /x; grep -c " - squashfs " /proc/self/mountinfo' 2>&1)
    echo "$out"
    expect "the verified image runs, writable through the overlay" has "$out" "^data$"
    loops=$(cat /sys/block/loop*/loop/backing_file 2>/dev/null)
    expect "its loop device is released when it ends" [ -z "$loops" ]
    cp /images/busybox.squashfs /tmp/bad.squashfs
    cp /images/busybox.json /tmp/bad.json
    sed -i 's/busybox.squashfs/bad.squashfs/' /tmp/bad.json
    # One byte changed: X, or Y where the image already has an X there.
    printf 'X' | dd of=/tmp/bad.squashfs bs=1 seek=20000 conv=notrunc 2>/dev/null
    cmp -s /images/busybox.squashfs /tmp/bad.squashfs &&
        printf 'Y' | dd of=/tmp/bad.squashfs bs=1 seek=20000 conv=notrunc 2>/dev/null
    expect "the copy is corrupted" differ /images/busybox.squashfs /tmp/bad.squashfs
    $Q run --name bad /tmp/bad.squashfs -- true 2>/tmp/err
    code=$?
    cat /tmp/err
    expect "a corrupted image is refused with 125" [ "$code" = 125 ]
    expect "and the message says it does not match" grep -q "does not match its manifest" /tmp/err
    expect "and no loop device is left" [ -z "$(cat /sys/block/loop*/loop/backing_file 2>/dev/null)" ]
else
    fail "modprobe loop squashfs"
fi

echo "== seccomp: Docker's default filter, from this board's syscall table"
# /bin/syscalls (tests/probes/syscalls.c, built with musl's numbers for this board)
# prints "NAME ERRNO" per call, 0 for success. MIPS numbers its errors its own way,
# and numbers its o32 calls from 4000: 1000 is below the table, not past it, so it
# gets the default EPERM where ARM's 1000 (past the table) gets ENOSYS.
enosys=38 einval=22 unknown=38
case $(uname -m) in mips*) enosys=89 unknown=1 ;; esac
out=$($Q run --name sc /rootfs -- sh -c 'grep "^Seccomp:" /proc/self/status; syscalls' 2>&1)
echo "$out"
expect "the command runs under a filter" has "$out" "^Seccomp:.2"
for call in keyctl bpf perf_event_open unshare_user unshare_uts socket_vsock socket_alg; do
    expect "$call is denied with EPERM" has "$out" "^$call 1\$"
done
expect "clone3 gets ENOSYS, so that the C library uses clone" has "$out" "^clone3 $enosys\$"
expect "a number past the table gets ENOSYS" has "$out" "^x32 $enosys\$"
expect "call 1000 gets $unknown" has "$out" "^unknown $unknown\$"
for call in socket_inet getpid personality_query clone_fork; do
    expect "$call is allowed" has "$out" "^$call 0\$"
done
out=$($Q run --name sc --cap-add SYS_ADMIN /rootfs -- syscalls 2>&1)
echo "$out"
expect "CAP_SYS_ADMIN allows unshare" has "$out" "^unshare_uts 0\$"
expect "and clone3 (a size of 0: EINVAL)" has "$out" "^clone3 $einval\$"
out=$($Q run --name sc --seccomp unconfined /rootfs -- sh -c 'grep "^Seccomp:" /proc/self/status; syscalls' 2>&1)
echo "$out"
expect "--seccomp unconfined runs without a filter" has "$out" "^Seccomp:.0"
expect "and the kernel itself answers clone3 (EINVAL)" has "$out" "^clone3 $einval\$"

echo "== leftovers"
left=$(find /sys/fs/cgroup -path '*/qing/*' -type d 2>/dev/null)
expect "no cgroup is left under qing/" [ -z "$left" ]
expect "no mount of a container is left" lacks "$(cat /proc/mounts)" /run/q
expect "no state directory is left" [ -z "$(ls /run/q/run/containers)" ]
exit $failed
