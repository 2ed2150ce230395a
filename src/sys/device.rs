//! Devices through ioctls: network interfaces, loop devices, terminals.

use nix::errno::Errno;
use std::os::fd::RawFd;

/// Brings a network interface up with the classic ioctl: no netlink needed for
/// loopback, and it works on every kernel.
pub fn interface_up(name: &str) -> nix::Result<()> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // SAFETY: integer arguments; the result is owned below.
    let fd = Errno::result(unsafe {
        libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0)
    })?;
    // SAFETY: fd was just returned by socket(2) and is owned by nothing else.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain old data; zeroed is a valid empty request.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    if name.len() >= req.ifr_name.len() {
        return Err(Errno::EINVAL);
    }
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    // SAFETY: req is a valid ifreq for both ioctls; the flags field is the union
    // member these two requests use.
    unsafe {
        Errno::result(libc::ioctl(
            sock.as_raw_fd(),
            libc::SIOCGIFFLAGS as _,
            &mut req,
        ))?;
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        Errno::result(libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS as _, &req))?;
    }
    Ok(())
}

// Loop devices (linux/loop.h). The request numbers are plain, the same on every
// architecture.
const LOOP_SET_FD: libc::c_ulong = 0x4C00;
const LOOP_CLR_FD: libc::c_ulong = 0x4C01;
const LOOP_SET_STATUS64: libc::c_ulong = 0x4C04;
const LOOP_GET_STATUS64: libc::c_ulong = 0x4C05;
const LOOP_CONFIGURE: libc::c_ulong = 0x4C0A;
const LOOP_CTL_GET_FREE: libc::c_ulong = 0x4C82;
pub const LO_FLAGS_READ_ONLY: u32 = 1;
pub const LO_FLAGS_AUTOCLEAR: u32 = 4;

#[repr(C)]
struct LoopInfo64 {
    device: u64,
    inode: u64,
    rdevice: u64,
    offset: u64,
    sizelimit: u64,
    number: u32,
    encrypt_type: u32,
    encrypt_key_size: u32,
    flags: u32,
    file_name: [u8; 64],
    crypt_name: [u8; 64],
    encrypt_key: [u8; 32],
    init: [u64; 2],
}

#[repr(C)]
struct LoopConfig {
    fd: u32,
    block_size: u32,
    info: LoopInfo64,
    reserved: [u64; 8],
}

fn loop_ioctl<T>(fd: RawFd, request: libc::c_ulong, arg: *const T) -> nix::Result<libc::c_int> {
    // SAFETY: every caller passes a pointer to a value of the kernel's type for
    // `request` (or an integer cast to a pointer), valid for the call.
    Errno::result(unsafe { libc::ioctl(fd, request as _, arg) })
}

/// The number of a free loop device, from /dev/loop-control (allocating one if need be).
pub fn loop_get_free(control: RawFd) -> nix::Result<u32> {
    loop_ioctl(control, LOOP_CTL_GET_FREE, std::ptr::null::<u8>()).map(|n| n as u32)
}

/// Binds `file` to the loop device `dev` with `flags`, in one call where the kernel has
/// LOOP_CONFIGURE (5.8), else with LOOP_SET_FD and LOOP_SET_STATUS64. A read-only
/// backing descriptor makes a read-only device either way.
pub fn loop_configure(dev: RawFd, file: RawFd, flags: u32) -> nix::Result<()> {
    // SAFETY: all-zero is a valid loop_info64 / loop_config (no pointers inside).
    let mut config: LoopConfig = unsafe { std::mem::zeroed() };
    config.fd = file as u32;
    config.info.flags = flags;
    match loop_ioctl(dev, LOOP_CONFIGURE, &config) {
        Ok(_) => return Ok(()),
        // Older kernels (and qemu-user, which does not know the request) refuse it.
        Err(Errno::EINVAL | Errno::ENOTTY | Errno::ENOSYS) => {}
        Err(e) => return Err(e),
    }
    loop_ioctl(dev, LOOP_SET_FD, file as usize as *const u8)?;
    if let Err(e) = loop_ioctl(dev, LOOP_SET_STATUS64, &config.info) {
        let _ = loop_ioctl(dev, LOOP_CLR_FD, std::ptr::null::<u8>());
        return Err(e);
    }
    Ok(())
}

/// What a loop device is bound to, from LOOP_GET_STATUS64.
pub struct LoopStatus {
    pub device: u64,
    pub inode: u64,
    pub offset: u64,
    pub sizelimit: u64,
    pub flags: u32,
}

/// The binding of a loop device; ENXIO when it is free.
pub fn loop_status(dev: RawFd) -> nix::Result<LoopStatus> {
    // SAFETY: all-zero is a valid loop_info64 (no pointers inside); the kernel fills it.
    let mut info: LoopInfo64 = unsafe { std::mem::zeroed() };
    loop_ioctl(
        dev,
        LOOP_GET_STATUS64,
        &mut info as *mut LoopInfo64 as *const LoopInfo64,
    )?;
    Ok(LoopStatus {
        device: info.device,
        inode: info.inode,
        offset: info.offset,
        sizelimit: info.sizelimit,
        flags: info.flags,
    })
}

/// Makes the terminal at `fd` the caller's controlling terminal (the caller leads a
/// session that has none).
pub fn make_controlling_terminal(fd: RawFd) -> nix::Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument (0: do not steal it from another
    // session).
    Errno::result(unsafe { libc::ioctl(fd, libc::TIOCSCTTY as _, 0) }).map(drop)
}

/// The number N of the pseudo-terminal whose master is `fd` (/dev/pts/N).
pub fn terminal_number(fd: RawFd) -> nix::Result<u32> {
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int to the pointer it is given.
    Errno::result(unsafe { libc::ioctl(fd, libc::TIOCGPTN as _, &mut n) })?;
    Ok(n)
}

/// Gives the terminal `to` the window size of the terminal `from`, when `from` is one.
pub fn copy_window_size(from: RawFd, to: RawFd) {
    // SAFETY: TIOCGWINSZ fills the winsize it is given, TIOCSWINSZ reads it; both
    // fail harmlessly on a descriptor that is not a terminal.
    unsafe {
        let mut size: libc::winsize = std::mem::zeroed();
        if libc::ioctl(from, libc::TIOCGWINSZ as _, &mut size) == 0 {
            libc::ioctl(to, libc::TIOCSWINSZ as _, &size);
        }
    }
}

/// The index of the network interface `name` in this network namespace.
pub fn interface_index(name: &str) -> nix::Result<u32> {
    let name = std::ffi::CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: a NUL-terminated name; if_nametoindex only reads it.
    match unsafe { libc::if_nametoindex(name.as_ptr()) } {
        0 => Err(Errno::last()),
        index => Ok(index),
    }
}
