//! `qing --debug`: each step of a start or an exec on stderr, with the microseconds
//! since qing started, for board bring-up (where a start fails, where its time goes).
//!
//! ```text
//! qing: +   1530 us [4123] cgroup /sys/fs/cgroup/memory/qing/web
//! qing: +   2087 us [1] mount proc on /run/qing/scratch/root/proc
//! ```
//! The number in brackets is the process as it sees itself: qing on the host, 1 for
//! the container's init, 2 for its command.
//!
//! Off, it costs nothing on the start path: `step!` asks one atomic and formats
//! nothing, and a build without the feature `debug` has no trace code at all.

use crate::features::DEBUG;
use std::sync::atomic::{AtomicU32, Ordering};

/// When qing started, on CLOCK_MONOTONIC: seconds + 1 (0 while the trace is off),
/// and microseconds. Two 32-bit halves: 32-bit MIPS has no 64-bit atomics.
static SINCE_S: AtomicU32 = AtomicU32::new(0);
static SINCE_US: AtomicU32 = AtomicU32::new(0);

fn store(us: u64) {
    SINCE_US.store((us % 1_000_000) as u32, Ordering::Relaxed);
    SINCE_S.store((us / 1_000_000) as u32 + 1, Ordering::Relaxed);
}

fn now_us() -> u64 {
    crate::sys::monotonic_us().max(1)
}

/// Turns the trace on, counting from now.
pub fn start() {
    if DEBUG.built {
        store(now_us());
    }
}

/// Turns the trace on, counting from `since` (a supervisor that executed itself anew
/// goes on with its first image's count).
pub fn resume(since: u64) {
    if DEBUG.built && since > 0 {
        store(since);
    }
}

/// When the count started (0: off), for a supervisor to carry across its execve.
pub fn since() -> u64 {
    match SINCE_S.load(Ordering::Relaxed) {
        0 => 0,
        _ if !DEBUG.built => 0,
        s => u64::from(s - 1) * 1_000_000 + u64::from(SINCE_US.load(Ordering::Relaxed)),
    }
}

pub fn on() -> bool {
    DEBUG.built && SINCE_S.load(Ordering::Relaxed) != 0
}

/// One line of the trace. Called through `step!`, which formats only when on.
#[inline(never)]
pub fn line(what: std::fmt::Arguments) {
    let elapsed = now_us().saturating_sub(since());
    crate::error::say!("qing: +{elapsed:>7} us [{}] {what}", std::process::id());
}

/// `step!("mount {} on {}", ...)`: a line of the `--debug` trace, formatted only when
/// the trace is on.
macro_rules! step {
    ($($arg:tt)*) => {
        if $crate::debug::on() {
            $crate::debug::line(format_args!($($arg)*))
        }
    };
}
pub(crate) use step;
