//! Processes and signals: fork-like clones, exiting without cleanup, the
//! parent-death signal, signal sets and signalfds.

use super::read_text;
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

/// Ends the calling process at once: no atexit handlers, no destructors, no stdio
/// flushing. Used by the processes qing forks, which must never run the parent's
/// cleanup (it would remove the parent's cgroups).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit takes no pointers and never returns.
    unsafe { libc::_exit(code) }
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

    /// A descriptor that reads the set's signals as they come (signalfd), without
    /// blocking; the signals must be blocked first.
    pub fn descriptor(&self) -> nix::Result<std::os::fd::OwnedFd> {
        // SAFETY: the set is initialised; -1 asks for a new descriptor, owned below.
        let fd = Errno::result(unsafe {
            libc::signalfd(-1, &self.0, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK)
        })?;
        // SAFETY: the kernel just made this descriptor, and nothing else owns it.
        Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
    }
}

/// The next signal waiting on a signalfd, or None when none is.
pub fn next_signal(fd: RawFd) -> Option<libc::c_int> {
    // SAFETY: signalfd_siginfo is plain old data; all zeros is a valid value.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    // SAFETY: the buffer is valid for writes of its size.
    let n = unsafe { libc::read(fd, (&mut info as *mut libc::signalfd_siginfo).cast(), size) };
    (n == size as isize).then_some(info.ssi_signo as libc::c_int)
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

/// A hexadecimal mask line of /proc/PID/status (`SigIgn:`, `CapBnd:`), by its key.
pub fn status_mask(status: &str, key: &str) -> Option<u64> {
    let hex = status.lines().find_map(|l| l.strip_prefix(key))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// Gives the container's command clean signal state. execve resets caught signals
/// by itself but keeps ignored ones (Rust ignores SIGPIPE; whoever started qing may
/// have ignored others) and the mask (qing blocks what it forwards). The ignored set
/// comes from /proc/self/status, so only those few are reset.
pub fn reset_signals() {
    let status = read_text("/proc/self/status").unwrap_or_default();
    // Unknown: reset everything a 64-bit mask can name.
    let ignored = status_mask(&status, "SigIgn:").unwrap_or(u64::MAX);
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

/// The C library's text for `errno` ("No such file or directory"): the table the
/// binary has anyway, rather than a second copy.
pub fn strerror(errno: Errno) -> &'static str {
    // SAFETY: musl's strerror returns a pointer to a static, NUL-terminated string for
    // every value (an unknown one gets "No error information"), never freed or
    // changed; qing calls it from one thread.
    let text = unsafe { std::ffi::CStr::from_ptr(libc::strerror(errno as i32)) };
    text.to_str().unwrap_or("unknown error")
}

/// CLOCK_MONOTONIC, in microseconds.
pub fn monotonic_us() -> u64 {
    // SAFETY: a zeroed timespec is valid; clock_gettime only writes it.
    let mut t: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `t` is valid for the write.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t.tv_sec as u64 * 1_000_000 + t.tv_nsec as u64 / 1000
}
