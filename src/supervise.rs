//! Waiting for a child while passing signals on to it. `qing run` waits this way for
//! the container's init, and the init waits this way for the command, reaping every
//! orphan that the kernel reparents to it as PID 1.
//!
//! The signals are blocked and taken with sigwait rather than caught by handlers:
//! nothing runs in signal context, and a blocked signal is queued even for a PID
//! namespace's init, which the kernel otherwise shields from signals it has no
//! handler for.

use crate::error::{Context, Result};
use crate::sys;
use nix::errno::Errno;
use nix::sys::signal::{kill, sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Passed on to the child: what init scripts, terminals and users send to stop or
/// poke a service.
pub const FORWARDED: [Signal; 6] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

fn waited_set() -> SigSet {
    let mut set = SigSet::empty();
    FORWARDED.iter().for_each(|s| set.add(*s));
    set.add(Signal::SIGCHLD);
    set
}

/// Blocks the forwarded signals and SIGCHLD before the child exists, so none is lost
/// between its creation and the wait. A SIGCHLD ignored by whoever started qing
/// would make children vanish unreaped: it is reset to the default first.
pub fn block_signals() -> Result<()> {
    sys::default_signal_action(libc::SIGCHLD);
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&waited_set()), None)
        .context(|| "block signals".to_string())
}

/// How a child ended, as a shell reports it: its code, or 128 + the signal.
pub fn exit_code(status: WaitStatus) -> i32 {
    match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
        _ => crate::error::EXIT_QING_FAILED,
    }
}

/// Waits until `child` ends, forwarding signals to it. With `reap_orphans`, also
/// reaps any other child, as a PID namespace's init must.
pub fn wait_forwarding(child: Pid, reap_orphans: bool) -> Result<WaitStatus> {
    let set = waited_set();
    let whom = if reap_orphans { None } else { Some(child) };
    loop {
        let sig = set.wait().context(|| "wait for signals".to_string())?;
        if sig != Signal::SIGCHLD {
            // The child may be exiting already; a failed kill then changes nothing.
            let _ = kill(child, sig);
            continue;
        }
        loop {
            match waitpid(whom, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(s @ (WaitStatus::Exited(pid, _) | WaitStatus::Signaled(pid, _, _)))
                    if pid == child =>
                {
                    return Ok(s)
                }
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(e) => {
                    return Err(crate::error::Error::sys(
                        format!("wait for process {child}"),
                        e,
                    ))
                }
            }
        }
    }
}
