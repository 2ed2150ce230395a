//! Waiting for a child while passing signals on to it. `qing run` waits this way for
//! the container's init, and the init waits this way for the command, reaping every
//! orphan that the kernel reparents to it as PID 1.
//!
//! The signals are blocked and taken with sigwaitinfo rather than caught: nothing
//! runs in signal context, and a blocked signal is queued even for a PID namespace's
//! init, which the kernel otherwise shields from signals it has no handler for.

use crate::error::{Context, Error, Result};
use crate::net::publish::Forwarder;
use crate::sys::{self, SignalSet};
use nix::errno::Errno;
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::AsRawFd;

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

fn waited() -> SignalSet {
    let mut signals = FORWARDED.to_vec();
    signals.extend([libc::SIGCHLD, sys::parent_death_signal()]);
    SignalSet::of(&signals)
}

/// Blocks the waited signals before the child exists, so none is lost between its
/// creation and the wait. A SIGCHLD ignored by whoever started qing would make
/// children vanish unreaped: it is reset to the default first.
pub fn block_signals() -> Result<()> {
    sys::default_signal_action(libc::SIGCHLD);
    waited().block().ctx("block signals")
}

pub enum Ended {
    Exited(WaitStatus),
    /// `qing run` died (only the init asks to hear of that).
    ParentDied,
}

/// How a child ended, as a shell reports it: its code, or 128 + the signal.
pub fn exit_code(status: WaitStatus) -> i32 {
    match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
        _ => crate::error::EXIT_QING_FAILED,
    }
}

/// Waits until `child` ends, forwarding signals to it. `as_init` also reaps every
/// other child, as a PID namespace's init must, and returns when the parent dies.
pub fn wait_forwarding(child: Pid, as_init: bool) -> Result<Ended> {
    let set = waited();
    let whom = if as_init { None } else { Some(child) };
    loop {
        let sig = set.wait().ctx("wait for signals")?;
        if sig == sys::parent_death_signal() {
            if as_init {
                return Ok(Ended::ParentDied);
            }
            continue;
        }
        if sig != libc::SIGCHLD {
            // The child may be exiting already; a failed kill then changes nothing.
            if let Ok(sig) = Signal::try_from(sig) {
                let _ = kill(child, sig);
            }
            continue;
        }
        loop {
            match waitpid(whom, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(s @ (WaitStatus::Exited(pid, _) | WaitStatus::Signaled(pid, _, _)))
                    if pid == child =>
                {
                    return Ok(Ended::Exited(s))
                }
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys(format!("wait for process {child}"), e)),
            }
        }
    }
}

/// The forwarded signals and SIGCHLD, for a signalfd: what a loop that also waits on
/// descriptors takes (`qing run` serving published ports, the supervisor).
pub fn forwarded_and_sigchld() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    for s in FORWARDED {
        if let Ok(sig) = Signal::try_from(s) {
            set.add(sig);
        }
    }
    set
}

/// `wait_forwarding` for `qing run` with published ports: serves them meanwhile.
pub fn wait_serving(child: Pid, forwarder: &mut Forwarder) -> Result<WaitStatus> {
    let signals = SignalFd::with_flags(
        &forwarded_and_sigchld(),
        SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK,
    )
    .ctx("watch signals")?;
    loop {
        let mut fds = vec![sys::pollfd(signals.as_raw_fd(), true, false)];
        forwarder.want(&mut fds);
        sys::poll(&mut fds, None);
        while let Ok(Some(info)) = signals.read_signal() {
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGCHLD) | Err(_) => {}
                // The child may be exiting already; a failed kill then changes nothing.
                Ok(sig) => drop(kill(child, sig)),
            }
        }
        match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            Ok(s @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => return Ok(s),
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(Error::sys(format!("wait for process {child}"), e)),
        }
        forwarder.serve(fds.get(1..).unwrap_or_default());
    }
}

/// From a PID namespace's init: kills every other process of the namespace and
/// reaps them all.
pub fn kill_namespace_and_reap() {
    let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
    while !matches!(waitpid(None, None), Err(Errno::ECHILD)) {}
}
