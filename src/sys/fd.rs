//! Descriptors: closing, duplicating, locking and passing them, and small reads
//! and writes on raw ones.

use nix::errno::Errno;
use std::os::fd::RawFd;

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

/// open(2) of `path` with `flags`, close-on-exec always, and the `mode` of a file it
/// creates. One call for every site, not an inlined copy of nix's generic path
/// conversion each.
#[inline(never)]
pub fn open_fd(
    path: &std::path::Path,
    flags: nix::fcntl::OFlag,
    mode: u32,
) -> nix::Result<std::os::fd::OwnedFd> {
    let mode = nix::sys::stat::Mode::from_bits_truncate(mode);
    nix::fcntl::open(path, flags | nix::fcntl::OFlag::O_CLOEXEC, mode)
}

/// `open_fd` as a `File`. Not std's File::open or OpenOptions: their checks of the
/// options bring an error type with core's Unicode tables into the binary.
pub fn open_file(
    path: &std::path::Path,
    flags: nix::fcntl::OFlag,
    mode: u32,
) -> std::io::Result<std::fs::File> {
    open_fd(path, flags, mode)
        .map(std::fs::File::from)
        .map_err(|e| std::io::Error::from_raw_os_error(e as i32))
}

/// Reads a small text file, such as a /proc or cgroup file, whole. /proc files
/// report size 0, so std's reader would start with 32 bytes and double its way up,
/// one read(2) per step; this starts with a page.
pub fn read_text(path: impl AsRef<std::path::Path>) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::with_capacity(4096);
    open_file(path.as_ref(), nix::fcntl::OFlag::O_RDONLY, 0)?.read_to_string(&mut text)?;
    Ok(text)
}

/// Writes `bytes` to an existing file, such as a cgroup or /proc file, in one write.
pub fn write_file(path: impl AsRef<std::path::Path>, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    open_file(path.as_ref(), nix::fcntl::OFlag::O_WRONLY, 0)?.write_all(bytes)
}

/// Creates (or truncates) `path` with `mode` and writes `bytes` to it.
pub fn create_file(
    path: impl AsRef<std::path::Path>,
    bytes: &[u8],
    mode: u32,
) -> std::io::Result<()> {
    use nix::fcntl::OFlag;
    use std::io::Write;
    let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC;
    open_file(path.as_ref(), flags, mode)?.write_all(bytes)
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

/// Takes ownership of a descriptor nothing else owns, after checking that it is open:
/// one a supervisor passed to itself across execve, or one accept4 just returned.
pub fn adopt_fd(fd: RawFd) -> nix::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: F_GETFD only reads the descriptor's flags.
    Errno::result(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    // SAFETY: the descriptor is open, and by this function's contract nothing else
    // in the process owns it.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Lets `fd` survive execve (clears close-on-exec).
pub fn keep_across_exec(fd: RawFd) -> nix::Result<()> {
    // SAFETY: integers only.
    Errno::result(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) }).map(drop)
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

/// An entry for `poll`: wait until `fd` can be read, or written, or both. A negative
/// `fd` is skipped by poll.
pub fn pollfd(fd: RawFd, read: bool, write: bool) -> libc::pollfd {
    let events = if read { libc::POLLIN } else { 0 } | if write { libc::POLLOUT } else { 0 };
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

/// Whether a read of `fd` would not block now.
pub fn readable_now(fd: RawFd) -> bool {
    let mut p = pollfd(fd, true, false);
    // SAFETY: one valid pollfd, zero timeout.
    unsafe { libc::poll(&mut p, 1, 0) == 1 && p.revents & libc::POLLIN != 0 }
}

/// Owns a descriptor the kernel just installed in this process (SCM_RIGHTS).
pub fn own_received_fd(fd: RawFd) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: the kernel installed this descriptor for the caller a moment ago, and
    // nothing else in this process knows its number.
    unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
}

/// poll(2) on raw descriptors (a negative one is skipped), until one is ready or
/// `timeout` passes; the number of ready ones. Interrupted counts as none ready.
pub fn poll(fds: &mut [libc::pollfd], timeout: Option<std::time::Duration>) -> usize {
    let ms = timeout.map_or(-1, |t| i32::try_from(t.as_millis()).unwrap_or(i32::MAX));
    // SAFETY: `fds` is valid for its length, which poll only writes `revents` within.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    usize::try_from(n).unwrap_or(0)
}

/// A write lock on the whole of `fd`'s file that belongs to its open file description
/// (F_OFD_SETLK): like flock, it is shared by every copy of the descriptor, across
/// fork and execve, and the kernel drops it when the last copy closes, however the
/// holders end. Returns false when another open file description holds it.
pub fn lock_whole_file(fd: RawFd) -> nix::Result<bool> {
    let mut lock = whole_file_write_lock();
    // SAFETY: `lock` is a valid, initialised flock for F_OFD_SETLK to read.
    match Errno::result(unsafe { libc::fcntl(fd, libc::F_OFD_SETLK, &mut lock) }) {
        Ok(_) => Ok(true),
        Err(Errno::EAGAIN | Errno::EACCES) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether some open file description holds a lock on `fd`'s file (F_OFD_GETLK):
/// asks without taking it, even for an instant.
pub fn whole_file_locked(fd: RawFd) -> nix::Result<bool> {
    let mut lock = whole_file_write_lock();
    // SAFETY: `lock` is a valid flock that F_OFD_GETLK reads and overwrites.
    Errno::result(unsafe { libc::fcntl(fd, libc::F_OFD_GETLK, &mut lock) })?;
    Ok(i32::from(lock.l_type) != libc::F_UNLCK)
}

fn whole_file_write_lock() -> libc::flock {
    // SAFETY: flock is plain old data; all-zero is a valid value (and F_OFD_* want
    // l_pid 0), filled in below: a write lock from offset 0 to the end (length 0).
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock
}
