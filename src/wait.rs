//! Waiting for a child: one loop for every waiter. `qing run` and `qing exec` wait
//! for what they started, the container's init for its command (reaping every orphan
//! the kernel hands it as PID 1), the supervisor for the container's init. Meanwhile
//! the loop passes the signals on and serves its sources: a terminal to relay,
//! published ports to forward, a log to copy (each a `Source`).
//!
//! Signals are blocked from before the child exists (`block_signals`) and read from a
//! signalfd: nothing runs in signal context, and a blocked signal is queued even for
//! a PID namespace's init, which the kernel otherwise shields from signals it has no
//! handler for.
//!
//! Memory: a waiter sleeps nearly all the time. Once it has had nothing to do for
//! `SHED_EVERY`, it lets go of the pages of qing it touched before it sleeps
//! (`sys::sleep_shedding`), and the kernel maps back what the next wake-up uses. At
//! most ten times a second: woken sooner, it stays awake for the rest of the interval
//! and lets go then. A container that ends within the first interval never pays for
//! reading where the pages are.

use crate::error::{Context, Result};
use crate::sys::{self, SignalSet};
use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// Passed on to the child: what init scripts, terminals and users send to stop or
/// poke a service.
pub const FORWARDED: [libc::c_int; 6] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// A waiter lets go of its pages at most this often.
const SHED_EVERY: Duration = Duration::from_millis(100);

/// Every signal the loop takes: the forwarded ones, SIGCHLD, SIGWINCH for a terminal,
/// and the init's parent-death signal.
fn waited() -> SignalSet {
    let mut signals = FORWARDED.to_vec();
    signals.extend([libc::SIGCHLD, libc::SIGWINCH, sys::parent_death_signal()]);
    SignalSet::of(&signals)
}

/// Blocks the waited signals before the child exists, so none is lost between its
/// creation and the wait. A SIGCHLD ignored by whoever started qing would make
/// children vanish unreaped: it is reset to the default first.
pub fn block_signals() -> Result<()> {
    sys::default_signal_action(libc::SIGCHLD);
    waited().block().ctx("block signals")
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    /// As a shell reports it: the code, or 128 + the signal.
    pub fn code(self) -> i32 {
        match self {
            Exit::Code(code) => code,
            Exit::Signal(sig) => 128 + sig,
        }
    }

    /// For logs and records: "exited 0", "signal 15".
    pub fn describe(self) -> String {
        match self {
            Exit::Code(code) => format!("exited {code}"),
            Exit::Signal(sig) => format!("signal {sig}"),
        }
    }
}

/// Reaps a child that has ended, `who` or any, and says how it ended; waits for one
/// when `block`. None when no child has ended (or none is left).
pub fn reap(who: Option<Pid>, block: bool) -> Option<(Pid, Exit)> {
    let flags = (!block).then_some(WaitPidFlag::WNOHANG);
    loop {
        match waitpid(who, flags) {
            Ok(WaitStatus::Exited(pid, code)) => return Some((pid, Exit::Code(code))),
            Ok(WaitStatus::Signaled(pid, sig, _)) => return Some((pid, Exit::Signal(sig as i32))),
            Ok(WaitStatus::StillAlive) => return None,
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(_) => return None,
        }
    }
}

/// Something the loop serves while it waits: a terminal, published ports, a log.
pub trait Source {
    /// Appends the descriptors to poll and what for.
    fn want(&self, fds: &mut Vec<libc::pollfd>);
    /// Serves what poll found ready among the entries `want` appended.
    fn serve(&mut self, ready: &[libc::pollfd]);
    /// A signal that is not for the child (SIGWINCH).
    fn signal(&mut self, _sig: libc::c_int) {}
    /// The child has ended: take what it left behind (a terminal's last output).
    fn ended(&mut self) {}
}

pub enum End {
    Exited(Exit),
    /// The waiter's parent died (only the container's init hears of it).
    ParentDied,
}

pub struct Waited {
    pub end: End,
    /// SIGTERM or SIGINT came during the wait: the caller was asked to stop.
    pub stop_asked: bool,
}

/// Waits until `child` ends, passing signals on to it and serving `sources`.
/// `as_init` returns early when the waiter's parent dies.
pub fn wait(child: Pid, as_init: bool, sources: &mut [&mut dyn Source]) -> Result<Waited> {
    let signals = waited().descriptor().ctx("watch signals")?;
    let mut stop_asked = false;
    let mut ranges: Option<Vec<(usize, usize)>> = None;
    // The first interval passes without shedding.
    let mut shed_at = Instant::now();
    let mut fds = Vec::new();
    let mut ends = Vec::with_capacity(sources.len());
    loop {
        fds.clear();
        ends.clear();
        fds.push(sys::pollfd(signals.as_raw_fd(), true, false));
        for s in sources.iter() {
            s.want(&mut fds);
            ends.push(fds.len());
        }
        let since = shed_at.elapsed();
        if since < SHED_EVERY {
            sys::poll(&mut fds, Some(SHED_EVERY - since));
        } else {
            shed_at = Instant::now();
            let ranges = ranges.get_or_insert_with(sys::executable_ranges);
            sys::sleep_shedding(&mut fds, ranges);
        }
        while let Some(sig) = sys::next_signal(signals.as_raw_fd()) {
            match sig {
                libc::SIGCHLD => {}
                libc::SIGWINCH => sources.iter_mut().for_each(|s| s.signal(sig)),
                _ if sig == sys::parent_death_signal() => {
                    if as_init {
                        return Ok(Waited {
                            end: End::ParentDied,
                            stop_asked,
                        });
                    }
                }
                _ => {
                    stop_asked |= sig == libc::SIGTERM || sig == libc::SIGINT;
                    // The child may be exiting already; a failed kill changes nothing.
                    if let Ok(sig) = Signal::try_from(sig) {
                        let _ = kill(child, sig);
                    }
                }
            }
        }
        while let Some((pid, exit)) = reap(None, false) {
            if pid == child {
                sources.iter_mut().for_each(|s| s.ended());
                return Ok(Waited {
                    end: End::Exited(exit),
                    stop_asked,
                });
            }
        }
        let mut start = 1;
        for (s, &end) in sources.iter_mut().zip(&ends) {
            s.serve(fds.get(start..end).unwrap_or_default());
            start = end;
        }
    }
}

/// Waits out `time` (a supervisor's backoff); true when SIGTERM or SIGINT came
/// meanwhile. Other signals have no child to go to, and are dropped.
pub fn stop_asked_within(time: Duration) -> bool {
    let Ok(signals) = waited().descriptor() else {
        return false;
    };
    let deadline = Instant::now() + time;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let mut fds = [sys::pollfd(signals.as_raw_fd(), true, false)];
        sys::poll(&mut fds, Some(left));
        while let Some(sig) = sys::next_signal(signals.as_raw_fd()) {
            if sig == libc::SIGTERM || sig == libc::SIGINT {
                return true;
            }
        }
    }
}

/// From a PID namespace's init: kills every other process of the namespace and
/// reaps them all.
pub fn kill_namespace_and_reap() {
    let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
    while reap(None, true).is_some() {}
}
