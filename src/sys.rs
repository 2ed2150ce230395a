//! The few system calls nix does not wrap, or wraps in a way qing cannot use. Every
//! `unsafe` block of qing lives here, each with the reason it is sound.

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::unistd::Pid;
use std::os::fd::RawFd;

/// fork(2) with namespace flags: `clone` without a new stack, so the child goes on
/// from here with a copy of the parent's memory. Returns `None` in the child.
///
/// qing is single-threaded, so the child's copy of every lock and buffer is
/// consistent, exactly as after fork(2).
pub fn clone_process(flags: CloneFlags) -> nix::Result<Option<Pid>> {
    let flags = flags.bits() as libc::c_ulong | libc::SIGCHLD as libc::c_ulong;
    // SAFETY: a null stack means "share the caller's stack pointer in a copied
    // address space" (no CLONE_VM), which is fork semantics; the other pointer
    // arguments are null and unused without CLONE_*TID/SETTLS flags.
    let ret = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    match Errno::result(ret)? {
        0 => Ok(None),
        pid => Ok(Some(Pid::from_raw(pid as i32))),
    }
}

/// Like `clone_process`, but the child is born in the v2 cgroup `cgroup_dir` (an
/// open directory): clone3's CLONE_INTO_CGROUP, Linux 5.7. Being placed at birth
/// costs nothing, where moving a process through cgroup.procs takes a global lock
/// that waits for an RCU grace period, often 5-15 ms. Returns ENOSYS, E2BIG or
/// EINVAL on older kernels.
pub fn clone_into_cgroup(flags: CloneFlags, cgroup_dir: RawFd) -> nix::Result<Option<Pid>> {
    #[repr(C)]
    struct CloneArgs {
        flags: u64,
        pidfd: u64,
        child_tid: u64,
        parent_tid: u64,
        exit_signal: u64,
        stack: u64,
        stack_size: u64,
        tls: u64,
        set_tid: u64,
        set_tid_size: u64,
        cgroup: u64,
    }
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    let args = CloneArgs {
        flags: u64::from(flags.bits() as u32) | CLONE_INTO_CGROUP,
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        exit_signal: libc::SIGCHLD as u64,
        stack: 0,
        stack_size: 0,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: cgroup_dir as u64,
    };
    // SAFETY: as for clone_process: no stack means fork semantics in a copied address
    // space; args is valid for its size and outlives the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match Errno::result(ret)? {
        0 => Ok(None),
        pid => Ok(Some(Pid::from_raw(pid as i32))),
    }
}

/// Opens /dev/null on any of descriptors 0-2 that is closed, as init systems may
/// start a service that way: otherwise the next descriptor qing opens would become
/// someone's stdin or stderr.
pub fn ensure_stdio_open() {
    for fd in 0..3 {
        // SAFETY: F_GETFD only reads the descriptor's flags.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
            // SAFETY: a valid C string; the lowest free descriptor is `fd`, which is
            // kept open for the life of the process on purpose.
            unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        }
    }
}

/// Ends the calling process at once: no atexit handlers, no destructors, no stdio
/// flushing. Used by the processes qing forks, which must never run the parent's
/// cleanup (it would remove the parent's cgroups).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit takes no pointers and never returns.
    unsafe { libc::_exit(code) }
}

/// Closes every descriptor from `first` up, or marks them close-on-exec when
/// `cloexec` is set. Falls back to walking /proc/self/fd on kernels before 5.9/5.11.
pub fn close_from(first: RawFd, cloexec: bool) -> nix::Result<()> {
    let flags = if cloexec {
        libc::CLOSE_RANGE_CLOEXEC
    } else {
        0
    };
    // SAFETY: close_range only takes integers; descriptors owned elsewhere in this
    // process are not used again by callers after this (they exec or exit).
    let ret = unsafe { libc::syscall(libc::SYS_close_range, first as u32, u32::MAX, flags) };
    if ret == 0 {
        return Ok(());
    }
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .map_err(|_| Errno::ENOSYS)?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd >= first)
        .collect();
    for fd in fds {
        // SAFETY: as above; a descriptor that vanished (the read_dir's own) gives EBADF.
        unsafe {
            if cloexec {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            } else {
                libc::close(fd);
            }
        }
    }
    Ok(())
}

/// Closes every descriptor from 3 up except those in `keep`.
pub fn close_all_except(keep: &[RawFd]) -> nix::Result<()> {
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|fd| *fd >= 3).collect();
    keep.sort_unstable();
    let mut next = 3;
    for fd in keep {
        if fd > next {
            // SAFETY: integers only; the kept descriptors are outside the range.
            Errno::result(unsafe {
                libc::syscall(libc::SYS_close_range, next as u32, (fd - 1) as u32, 0)
            })
            .or_else(|_| {
                (next..fd).for_each(|f| {
                    // SAFETY: closing a descriptor number this process owns or EBADF.
                    unsafe { libc::close(f) };
                });
                Ok::<_, Errno>(0)
            })?;
        }
        next = fd + 1;
    }
    close_from(next, false)
}

/// Reads a small text file, such as a /proc or cgroup file, whole. /proc files
/// report size 0, so std's reader would start with 32 bytes and double its way up,
/// one read(2) per step; this starts with a page.
pub fn read_text(path: impl AsRef<std::path::Path>) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::with_capacity(4096);
    std::fs::File::open(path)?.read_to_string(&mut text)?;
    Ok(text)
}

/// The signal the kernel sends the container's init when `qing run` dies (prctl
/// PDEATHSIG). A realtime signal: no program sends it by accident, and it is not
/// one of those forwarded to the command.
pub fn parent_death_signal() -> libc::c_int {
    libc::SIGRTMIN()
}

/// Asks the kernel to send `parent_death_signal` to the calling process when its
/// parent dies.
pub fn set_parent_death_signal() -> nix::Result<()> {
    // SAFETY: integer arguments only.
    let sig = parent_death_signal() as libc::c_ulong;
    Errno::result(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig, 0, 0, 0) }).map(drop)
}

/// Whether `sig`, blocked, is waiting to be taken.
pub fn signal_pending(sig: libc::c_int) -> bool {
    // SAFETY: sigpending fills the set it is given; sigismember only reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut set) == 0 && libc::sigismember(&set, sig) == 1
    }
}

/// A set of signals by number; nix's SigSet cannot hold realtime signals.
pub struct SignalSet(libc::sigset_t);

impl SignalSet {
    pub fn of(signals: &[libc::c_int]) -> SignalSet {
        // SAFETY: sigemptyset initialises the set; sigaddset only writes into it, and
        // rejects a bad number with EINVAL without touching memory.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in signals {
                libc::sigaddset(&mut set, *s);
            }
            SignalSet(set)
        }
    }

    pub fn block(&self) -> nix::Result<()> {
        // SAFETY: the set is initialised; the old mask is not asked for.
        Errno::result(unsafe { libc::sigprocmask(libc::SIG_BLOCK, &self.0, std::ptr::null_mut()) })
            .map(drop)
    }

    /// Takes one pending signal of the set, waiting until there is one.
    pub fn wait(&self) -> nix::Result<libc::c_int> {
        loop {
            // SAFETY: the set is initialised; no siginfo is asked for.
            match Errno::result(unsafe { libc::sigwaitinfo(&self.0, std::ptr::null_mut()) }) {
                Err(Errno::EINTR) => continue,
                other => return other,
            }
        }
    }
}

/// Sets one signal's action back to the default.
pub fn default_signal_action(sig: libc::c_int) {
    // SAFETY: installs SIG_DFL, which runs no code of ours; a zeroed sigaction
    // is a valid "default, empty mask, no flags" value.
    unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(sig, &act, std::ptr::null_mut());
    }
}

/// Gives the container's command clean signal state. execve resets caught signals
/// by itself but keeps ignored ones (Rust ignores SIGPIPE; whoever started qing may
/// have ignored others) and the mask (qing blocks what it forwards). The ignored set
/// comes from /proc/self/status, so only those few are reset.
pub fn reset_signals() {
    let status = read_text("/proc/self/status").unwrap_or_default();
    let ignored = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        // Unknown: reset everything a 64-bit mask can name.
        .unwrap_or(u64::MAX);
    for sig in 1..=libc::SIGRTMAX().min(64) {
        if ignored & (1 << (sig - 1)) != 0 && sig != libc::SIGKILL && sig != libc::SIGSTOP {
            default_signal_action(sig);
        }
    }
    let empty = nix::sys::signal::SigSet::empty();
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&empty),
        None,
    );
}

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

/// Number of CPUs this process may run on, for validating `--cpus`.
pub fn online_cpus() -> u64 {
    // SAFETY: sysconf takes an integer and returns one.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n > 0 {
        n as u64
    } else {
        1
    }
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

/// dup2: `fd` copied onto `target` (which is closed first if open). The copy is not
/// close-on-exec, so children inherit it, as stdout or stderr.
pub fn dup_onto(fd: RawFd, target: RawFd) -> nix::Result<()> {
    // SAFETY: integers only; `target` is a standard descriptor the caller owns.
    Errno::result(unsafe { libc::dup2(fd, target) }).map(drop)
}

/// Takes an exclusive flock on `fd`, waiting for it. Unlike nix's Flock it never
/// unlocks on drop: the lock goes when the last descriptor of the open file closes, so
/// a forked child may close its copy without releasing its parent's lock.
pub fn flock_exclusive(fd: RawFd) -> nix::Result<()> {
    // SAFETY: integers only.
    Errno::result(unsafe { libc::flock(fd, libc::LOCK_EX) }).map(drop)
}

/// Takes ownership of a descriptor that a supervisor passed to itself across execve
/// (named in its arguments), after checking that it is open.
pub fn adopt_fd(fd: RawFd) -> nix::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: F_GETFD only reads the descriptor's flags.
    Errno::result(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    // SAFETY: the descriptor is open, and nothing else in this freshly executed process
    // owns it: the previous image passed it here on purpose.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Lets `fd` survive execve (clears close-on-exec).
pub fn keep_across_exec(fd: RawFd) -> nix::Result<()> {
    // SAFETY: integers only.
    Errno::result(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) }).map(drop)
}

/// The address ranges of this process's own executable that hold only what is in the
/// file, from /proc/self/smaps: its code, and read-only data with no private copy of
/// a page (a relocated one, RELRO, has them: MADV_DONTNEED would throw the relocated
/// copy away).
pub fn executable_ranges() -> Vec<(usize, usize)> {
    let (Ok(smaps), Ok(exe)) = (
        read_text("/proc/self/smaps"),
        std::fs::read_link("/proc/self/exe"),
    ) else {
        return Vec::new();
    };
    let exe = exe.to_string_lossy().into_owned();
    let mut ranges = Vec::new();
    let mut current: Option<(usize, usize, bool)> = None;
    for line in smaps.lines() {
        if let Some(kb) = line.strip_prefix("Anonymous:") {
            if let Some((a, b, code)) = current.take() {
                if code || kb.trim() == "0 kB" {
                    ranges.push((a, b));
                }
            }
            continue;
        }
        let mut fields = line.split(' ');
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) else {
            continue;
        };
        current = (line.ends_with(exe.as_str()) && (perms == "r-xp" || perms == "r--p"))
            .then_some((a, b, perms == "r-xp"));
    }
    ranges
}

/// Sleeps in ppoll(2) on `fds` until one is ready, having first let go of this
/// process's pages of `ranges` (its executable's, as read from the file): a long-lived
/// process that runs little of a large binary then keeps resident only the pages this
/// function and the kernel entry touch while it sleeps. Raw system calls only, so that
/// nothing else of the binary is touched between letting go and sleeping; the pages
/// stay in the page cache, shared, and come back as they are used.
#[inline(never)]
pub fn sleep_shedding(fds: &mut [libc::pollfd], ranges: &[(usize, usize)]) -> libc::c_long {
    for (a, b) in ranges {
        // SAFETY: this process's own read-only mappings holding only the file's pages:
        // MADV_DONTNEED drops its mapping of them; they are read back when used again.
        unsafe { libc::syscall(libc::SYS_madvise, *a, b - a, libc::MADV_DONTNEED) };
    }
    // SAFETY: `fds` is valid for its length; no timeout and no signal mask.
    unsafe {
        libc::syscall(
            libc::SYS_ppoll,
            fds.as_mut_ptr(),
            fds.len() as libc::c_ulong,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<libc::sigset_t>(),
            0usize,
        )
    }
}

/// A connected pair of SOCK_SEQPACKET sockets, close-on-exec: one message per send,
/// and end-of-file once the other end's last copy is closed.
pub fn seqpacket_pair() -> nix::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
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

/// One read(2) into `buf`, retried on EINTR; `None` on error.
pub fn read_some(fd: RawFd, buf: &mut [u8]) -> Option<usize> {
    loop {
        // SAFETY: the buffer is valid for writes of its length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        match Errno::result(n) {
            Ok(n) => return usize::try_from(n).ok(),
            Err(Errno::EINTR) => continue,
            Err(_) => return None,
        }
    }
}

/// Writes all of `bytes`; false if the descriptor stops taking them.
pub fn write_all(fd: RawFd, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        // SAFETY: the buffer is valid for reads of its length.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        match Errno::result(n) {
            Ok(n) => match bytes.get(usize::try_from(n).unwrap_or(0)..) {
                Some(rest) if n > 0 => bytes = rest,
                _ => return false,
            },
            Err(Errno::EINTR) => continue,
            Err(_) => return false,
        }
    }
    true
}

/// Whether a read of `fd` would not block now.
pub fn readable_now(fd: RawFd) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    unsafe { libc::poll(&mut p, 1, 0) == 1 && p.revents & libc::POLLIN != 0 }
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

/// Runs `program` with `args` (argv[0] first), its stdio on /dev/null and an empty
/// environment, and returns whether it exited 0. Not std::process::Command: its
/// environment map and spawn machinery cost 17 KB, for the one tool qing ever runs.
pub fn run_quietly(program: &std::ffi::CStr, args: &[std::ffi::CString]) -> nix::Result<bool> {
    use nix::sys::wait::{waitpid, WaitStatus};
    let null = nix::fcntl::open(
        c"/dev/null",
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    match clone_process(CloneFlags::empty())? {
        None => {
            use std::os::fd::AsRawFd;
            for fd in 0..3 {
                let _ = dup_onto(null.as_raw_fd(), fd);
            }
            let env: [&std::ffi::CStr; 0] = [];
            let _ = nix::unistd::execve(program, args, &env);
            exit_now(127)
        }
        Some(child) => loop {
            match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, code)) => return Ok(code == 0),
                Ok(WaitStatus::Signaled(..)) => return Ok(false),
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(e) => return Err(e),
            }
        },
    }
}
