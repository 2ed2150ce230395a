//! Letting go of this process's own pages while it sleeps (the supervisor).

use super::read_text;

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
