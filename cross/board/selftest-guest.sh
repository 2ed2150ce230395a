#!/bin/sh
# Runs inside the board (see cross/board/selftest.sh): shows that the board has the
# conditions it promises, and fails if one of them is missing.
set -u
fail=0
bad() { echo "SELFTEST FAIL: $*"; fail=1; }

echo "== uname: $(uname -srm)"
echo "== /proc/mounts"
cat /proc/mounts
grep -q ' / rootfs ' /proc/mounts || bad "root is not the initramfs (rootfs)"
grep -q cgroup /proc/mounts && bad "a cgroup filesystem is mounted"

echo "== pivot_root from the initramfs (expected: EINVAL)"
if unshare -m sh -c 'mount -t tmpfs t /mnt && mkdir /mnt/old && pivot_root /mnt /mnt/old' 2>&1; then
    bad "pivot_root worked from the initramfs"
fi

echo "== chroot into /rootfs"
out=$(chroot /rootfs /bin/sh -c 'echo hi from container')
echo "$out"
[ "$out" = "hi from container" ] || bad "chroot /rootfs did not run"
# The stand-in for qing is busybox: run it under an applet name to see it execute.
ln -s /usr/bin/qing /tmp/echo
echo "== /usr/bin/qing runs: $(/tmp/echo yes)"

echo "== filesystems before loading modules"
grep -E 'overlay|squashfs' /proc/filesystems && bad "overlay or squashfs already there"
mkdir -p /tmp/l /tmp/u /tmp/w /tmp/m
mount -t overlay o -o lowerdir=/tmp/l,upperdir=/tmp/u,workdir=/tmp/w /tmp/m 2>&1 &&
    bad "overlay mounted without its module"
echo "== modules shipped"
cat /lib/modules/*/modules.dep
for m in overlay squashfs loop; do modprobe "$m" || bad "modprobe $m"; done
echo "== filesystems after modprobe"
grep -E 'overlay|squashfs' /proc/filesystems || bad "overlay/squashfs missing after modprobe"
if mount -t overlay o -o lowerdir=/tmp/l,upperdir=/tmp/u,workdir=/tmp/w /tmp/m; then
    echo "overlay mounted on /tmp/m"
else
    bad "overlay mount after modprobe"
fi
if [ -e /dev/loop-control ]; then
    echo "/dev/loop-control present"
else
    bad "no /dev/loop-control after modprobe loop"
fi
echo "== selftest: fail=$fail"
exit $fail
