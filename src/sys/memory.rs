//! Letting go of this process's own pages while it sleeps (every waiter of wait.rs).

/// The address range of this process's own executable that holds only what is in
/// the file: from its ELF header, through its read-only data, to the end of its
/// code. The linker lays the read-only segments out first and the writable ones
/// (relocated data, RELRO) after, on pages of their own, so no page here has a
/// private copy that MADV_DONTNEED would throw away. Taken from the linker's own
/// symbols: no /proc to read.
pub fn executable_ranges() -> Vec<(usize, usize)> {
    extern "C" {
        static __ehdr_start: u8;
        static etext: u8;
    }
    // Only the symbols' addresses are taken, never their contents; the linker
    // defines both for every executable it links.
    let (start, end) = (
        std::ptr::addr_of!(__ehdr_start) as usize,
        std::ptr::addr_of!(etext) as usize,
    );
    let page = 4096;
    let (start, end) = (start & !(page - 1), (end + page - 1) & !(page - 1));
    if start < end {
        vec![(start, end)]
    } else {
        Vec::new()
    }
}

/// Sleeps in ppoll(2) on `fds` until one is ready, having first let go of this
/// process's pages of `ranges` (its executable's, as read from the file): a long-lived
/// process that runs little of a large binary then keeps resident only the pages this
/// function and the kernel entry touch while it sleeps. Raw system calls only, so that
/// nothing else of the binary is touched between letting go and sleeping; the pages
/// stay in the page cache, shared, and come back as they are used.
///
/// Its name is fixed so that the release link can place it beside the C library's
/// `syscall` (cross/toolchain/sleep.order): the kernel maps back the pages around
/// each page faulted in, up to 64 KiB, and the two in one such window keep 64 KB of
/// code resident where two windows kept 128.
#[inline(never)]
#[export_name = "qing_sleep_shedding"]
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
