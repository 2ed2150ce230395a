//! Capabilities, the seccomp probe and filter, and mount attributes (mount_setattr).

use nix::errno::Errno;
use std::os::fd::RawFd;

// Capabilities: version 3 of the capget/capset interface carries 64 bits as two halves.
const CAP_V3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The calling thread's permitted set.
pub fn cap_permitted() -> nix::Result<u64> {
    let mut header = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: both pointers are valid for the sizes the v3 interface writes.
    Errno::result(unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) })?;
    Ok(u64::from(data[0].permitted) | u64::from(data[1].permitted) << 32)
}

/// Sets effective = permitted = `caps`, and empties the inheritable set.
pub fn cap_set(caps: u64) -> nix::Result<()> {
    let mut header = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let half = |shift: u32| {
        let bits = (caps >> shift) as u32;
        CapData {
            effective: bits,
            permitted: bits,
            inheritable: 0,
        }
    };
    let data = [half(0), half(32)];
    // SAFETY: both pointers are valid for the v3 interface's reads.
    Errno::result(unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) }).map(drop)
}

pub fn cap_drop_bounding(cap: u32) -> nix::Result<()> {
    // SAFETY: integer arguments only.
    Errno::result(unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) })
        .map(drop)
}

/// Empties the ambient set; kernels before 4.3 have none, which is just as empty.
pub fn cap_clear_ambient() -> nix::Result<()> {
    // SAFETY: integer arguments only.
    let ret = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    match Errno::result(ret) {
        Err(Errno::EINVAL) | Ok(_) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Makes a mount and every mount below it nodev, and read-only when asked
/// (mount_setattr, Linux 5.12). Returns ENOSYS on older kernels, where callers fall
/// back to remounting the top mount alone.
pub fn restrict_mount_tree(fd: RawFd, read_only: bool) -> nix::Result<()> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    const MOUNT_ATTR_RDONLY: u64 = 0x1;
    const MOUNT_ATTR_NODEV: u64 = 0x4;
    const AT_RECURSIVE: u32 = 0x8000;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_NODEV | if read_only { MOUNT_ATTR_RDONLY } else { 0 },
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: the empty path is a valid C string and attr is valid for its size.
    Errno::result(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd,
            c"".as_ptr(),
            libc::AT_EMPTY_PATH as u32 | AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
    .map(drop)
}

/// Whether the kernel takes seccomp filters: with a null filter, a kernel that knows
/// filter mode answers EFAULT, one that does not answers EINVAL.
pub fn seccomp_filter_supported() -> bool {
    // SAFETY: a null program pointer is rejected by the kernel before any use.
    let ret = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER as libc::c_ulong,
            0usize,
            0,
            0,
        )
    };
    ret == -1 && Errno::last() == Errno::EFAULT
}

/// Installs a seccomp filter on the calling thread, which has no_new_privs set
/// (else the kernel wants CAP_SYS_ADMIN). The filter stays through execve and is
/// inherited by every child.
pub fn seccomp_set_filter(filter: &[libc::sock_filter]) -> nix::Result<()> {
    let len = u16::try_from(filter.len()).map_err(|_| Errno::EINVAL)?;
    let prog = libc::sock_fprog {
        len,
        filter: filter.as_ptr().cast_mut(),
    };
    // SAFETY: prog points to `len` instructions that outlive the call; the kernel
    // copies them and writes nothing.
    let ret = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER as libc::c_ulong,
            &prog as *const libc::sock_fprog,
            0,
            0,
        )
    };
    Errno::result(ret).map(drop)
}

// The system calls that take 32-bit ids: on 32-bit ARM the plain numbers are the old
// 16-bit ones.
#[cfg(target_arch = "arm")]
const ID_CALLS: [libc::c_long; 3] = [
    libc::SYS_setgroups32,
    libc::SYS_setresgid32,
    libc::SYS_setresuid32,
];
#[cfg(not(target_arch = "arm"))]
const ID_CALLS: [libc::c_long; 3] = [
    libc::SYS_setgroups,
    libc::SYS_setresgid,
    libc::SYS_setresuid,
];

/// Sets the calling process's supplementary groups, then its real, effective and
/// saved group and user ids. Raw system calls, not the C library's: musl applies
/// each to every thread of the process through signals (__synccall, 3 KB), and the
/// process that calls this has one thread.
pub fn set_ids(groups: &[u32], gid: u32, uid: u32) -> Result<(), (&'static str, Errno)> {
    let [setgroups, setresgid, setresuid] = ID_CALLS;
    // SAFETY: the list is valid for its length; the other calls take integers.
    unsafe {
        Errno::result(libc::syscall(setgroups, groups.len(), groups.as_ptr()))
            .map_err(|e| ("set the supplementary groups", e))?;
        Errno::result(libc::syscall(setresgid, gid, gid, gid)).map_err(|e| ("switch group", e))?;
        Errno::result(libc::syscall(setresuid, uid, uid, uid)).map_err(|e| ("switch user", e))?;
    }
    Ok(())
}
