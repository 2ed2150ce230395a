//! The supervisor: one small process per started container, which holds it. It owns
//! the claim on the container's name for as long as it lives, starts the container
//! (`launch::start`), copies what the container writes into its log, forwards the
//! signals it gets (SIGTERM and SIGINT also mean: do not restart), records each run
//! while it lasts, writes how each ended to the log, and restarts by the policy, with
//! exponential backoff. When it ends, no state file of the container remains.
//!
//! It stays small by executing itself anew once the container runs (`handoff`): the
//! watching loop (`resume`, entered as argv[0] "qing-supervisor") touches a fraction
//! of the pages that starting a container did. Its PID does not change, so the
//! container's init is still its child, and still hears of its death: if the
//! supervisor is killed, the init takes the container down and removes its cgroups,
//! and the kernel drops the claim.

use crate::cgroup::existing::existing;
use crate::config::{self, Config, Restart};
use crate::error::{Context, Error, Result};
use crate::launch;
use crate::logs::Log;
use crate::net::publish::Forwarder;
use crate::spec::Spec;
use crate::state::record::{self, Record};
use crate::state::{self, Claim, Paths};
use crate::wait::{self, End, Waited};
use nix::unistd::Pid;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

mod handoff;
use handoff::{hand_off, parse_carried, Carried};

/// argv[0] of the supervisor's watching loop; `main` looks for it.
pub const ARGV0: &str = "qing-supervisor";
/// The first wait before a restart; it doubles up to the longest.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const LONGEST_BACKOFF: Duration = Duration::from_secs(30);
/// A run this long was not a crash loop: the backoff and the failure count start over.
const STABLE_RUN: Duration = Duration::from_secs(10);

/// How `qing start` hears that the container runs, or why it could not start.
pub struct Ready {
    answer: Option<std::fs::File>,
    /// The config's lock, held until the container runs (or failed to start), so that
    /// a `qing stop` meanwhile finds it started, with its record and pidfile.
    lock: Option<OwnedFd>,
}

impl Ready {
    pub fn none() -> Ready {
        Ready {
            answer: None,
            lock: None,
        }
    }

    /// `qing start` waits for the answer, holding the lock itself.
    pub fn channel(fd: OwnedFd) -> Ready {
        Ready {
            answer: Some(std::fs::File::from(fd)),
            lock: None,
        }
    }

    /// `qing start --foreground`: nobody waits, but the lock is held until then.
    pub fn holding(lock: OwnedFd) -> Ready {
        Ready {
            answer: None,
            lock: Some(lock),
        }
    }

    fn ok(&mut self) {
        self.lock = None;
        if let Some(mut f) = self.answer.take() {
            let _ = f.write_all(b"0");
        }
    }

    /// Tells `qing start` why the container did not start; in the foreground, where
    /// nobody waits for an answer, says it on stderr.
    fn fail(&mut self, e: &Error) {
        self.lock = None;
        match self.answer.take() {
            Some(mut f) => {
                let _ = write!(f, "{} {e}", e.exit_code());
            }
            None => crate::error::say!("qing: {e}"),
        }
    }
}

/// The first start: from `qing start` (a forked daemon with `capture`, or the process
/// itself in the foreground). Returns only when the container could not start.
pub fn run(paths: &Paths, config: &Config, spec: &Spec, mut ready: Ready, capture: bool) -> i32 {
    let name = &config.name;
    let setup = || -> Result<(Claim, Option<OwnedFd>, Forwarder)> {
        let claim = state::claim(name)?.with_records(paths)?;
        // Before the container exists: a port in use fails the start, leaving nothing.
        let forwarder = Forwarder::bind(&spec.publish)?;
        let output = if capture {
            // Opened once here so that a log that cannot be written fails the start.
            Log::open(&paths.logs, name, config.log_size, config.syslog)?;
            Some(capture_output()?)
        } else {
            None
        };
        wait::block_signals()?;
        record::write_pidfile(paths, name, std::process::id())?;
        Ok((claim, output, forwarder))
    };
    let (claim, output, forwarder) = match setup() {
        Ok(parts) => parts,
        Err(e) => {
            ready.fail(&e);
            return e.exit_code();
        }
    };
    let carried = Carried {
        paths: Paths {
            run: paths.run.clone(),
            data: paths.data.clone(),
            config: paths.config.clone(),
            logs: paths.logs.clone(),
        },
        name: name.clone(),
        claim,
        output,
        forwarder,
        init: Pid::from_raw(0),
        started: 0,
        restarts: 0,
        failures: 0,
        backoff: FIRST_BACKOFF,
    };
    let mut carried = carried;
    let e = start_and_hand_off(&mut carried, spec, &mut ready);
    // `qing start` hears of it once nothing of the container is left: the claim takes
    // the record and pidfile with it.
    drop(carried);
    ready.fail(&e);
    e.exit_code()
}

/// Starts the container, records it and executes the watching loop; returns only the
/// error that kept it from starting.
fn start_and_hand_off(c: &mut Carried, spec: &Spec, ready: &mut Ready) -> Error {
    c.started = record::now();
    let started = match launch::start(spec, &c.paths, &c.claim, None) {
        Ok(s) => s,
        Err(e) => return e,
    };
    c.init = started.init;
    c.forwarder.set_target(started.address());
    let rec = Record {
        state: "running".into(),
        supervisor: u64::from(std::process::id()),
        pid: c.init.as_raw() as u64,
        started: c.started,
        restarts: c.restarts,
        exit: String::new(),
    };
    let _ = record::write(&c.paths, &c.name, &rec);
    ready.ok();
    // The container's cgroups and image now belong to the watching loop, in this
    // process after execve: nothing of `started` may be dropped here.
    std::mem::forget(started);
    let e = hand_off(c);
    // No execve (no /proc?): watch from here, at the cost of the pages already touched.
    crate::error::say!(
        "qing: supervisor of {}: {e}; watching without re-executing",
        c.name
    );
    watch_and_restart(c)
}

/// `main` when argv[0] is ARGV0: the watching loop, after the handoff.
pub fn resume(args: &[String]) -> i32 {
    match parse_carried(args) {
        Ok(mut c) => watch_and_restart(&mut c),
        Err(e) => {
            crate::error::say!("qing: supervisor: {e}");
            crate::error::EXIT_QING_FAILED
        }
    }
}

/// Watches the running container until it ends, then restarts it by the policy (and
/// hands off again) or finishes: the exit goes to the log, the state files go.
fn watch_and_restart(c: &mut Carried) -> ! {
    let config = config::read(&c.paths.config, &c.name).ok().flatten();
    let mut log = config
        .as_ref()
        .filter(|_| c.output.is_some())
        .and_then(|cfg| Log::open(&c.paths.logs, &c.name, cfg.log_size, cfg.syslog).ok());
    let began = Instant::now();
    // Until the container's init ends: its output to the log, signals passed on, its
    // published ports served.
    let mut output = Output {
        pipe: c.output.as_ref(),
        log: &mut log,
    };
    let waited = wait::wait(c.init, false, &mut [&mut output, &mut c.forwarder]);
    let (exit, stopping) = match waited {
        Ok(Waited {
            end: End::Exited(exit),
            stop_asked,
        }) => (exit, stop_asked),
        // Without a signalfd nothing can be watched: end the container as if killed.
        Ok(_) | Err(_) => {
            let _ = nix::sys::signal::kill(c.init, nix::sys::signal::Signal::SIGKILL);
            let _ = wait::reap(Some(c.init), true);
            finish(
                c,
                &mut log,
                "could not be watched",
                crate::error::EXIT_QING_FAILED,
            )
        }
    };
    // Connections to the container that ended go with it; the host's ports stay.
    c.forwarder.set_target(None);
    let oom = existing(&c.name).oom_killed();
    let spec = config.as_ref().and_then(|cfg| cfg.spec().ok());
    let code = match &spec {
        Some(spec) => launch::report_end(spec, exit, oom),
        None => exit.code(),
    };
    let exit = if oom {
        "oom".to_string()
    } else {
        exit.describe()
    };
    // The container's cgroups and its place on the bridge, which `launch::start`
    // made, go once its init has.
    if let Err(e) = existing(&c.name).remove() {
        crate::error::say!("qing: {e}");
    }
    crate::net::bridge::detach(&c.paths.config, &c.paths.run, &c.name);
    drain(c.output.as_ref(), &mut log);
    if began.elapsed() >= STABLE_RUN {
        c.failures = 0;
        c.backoff = FIRST_BACKOFF;
    }
    let restart = config.as_ref().map_or(Restart::No, |cfg| cfg.restart);
    let (Some(spec), false, true) = (spec, stopping, should_restart(restart, code, c.failures))
    else {
        finish(c, &mut log, &exit, code)
    };
    loop {
        c.failures += 1;
        c.restarts += 1;
        let rec = Record {
            state: "restarting".into(),
            supervisor: u64::from(std::process::id()),
            restarts: c.restarts,
            started: c.started,
            exit: exit.clone(),
            pid: 0,
        };
        let _ = record::write(&c.paths, &c.name, &rec);
        crate::error::say!(
            "qing: {} {exit}; restarting in {} ms",
            c.name,
            c.backoff.as_millis() as u64
        );
        drain(c.output.as_ref(), &mut log);
        if wait::stop_asked_within(c.backoff) {
            finish(c, &mut log, &exit, code);
        }
        c.backoff = (c.backoff * 2).min(LONGEST_BACKOFF);
        let e = start_and_hand_off(c, &spec, &mut Ready::none());
        crate::error::say!("qing: restarting {} failed: {e}", c.name);
        if !should_restart(restart, e.exit_code(), c.failures) {
            finish(c, &mut log, "failed to start", e.exit_code());
        }
    }
}

/// The end of the supervisor: how the container ended goes to the log, and the claim
/// goes with the record and pidfile.
fn finish(c: &mut Carried, log: &mut Option<Log>, exit: &str, code: i32) -> ! {
    crate::error::say!("qing: {} {exit}; not restarting", c.name);
    drain(c.output.as_ref(), log);
    c.claim.release();
    crate::sys::exit_now(code)
}

pub fn should_restart(policy: Restart, code: i32, failures: u32) -> bool {
    match policy {
        Restart::No => false,
        Restart::Always => true,
        Restart::OnFailure { max } => code != 0 && max.is_none_or(|m| failures < m),
    }
}

/// The container's stdout and stderr: a pipe whose write end becomes the supervisor's
/// own fds 1 and 2, which the container inherits; qing's own messages land there too.
fn capture_output() -> Result<OwnedFd> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let (read, write) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK).ctx("create the log pipe")?;
    // The container's end blocks as a terminal or a file would.
    fcntl(&write, FcntlArg::F_SETFL(OFlag::empty())).ctx("set up the log pipe")?;
    crate::sys::dup_onto(write.as_raw_fd(), 1).ctx("log stdout")?;
    crate::sys::dup_onto(write.as_raw_fd(), 2).ctx("log stderr")?;
    Ok(read)
}

/// Copies what is in the output pipe now into the log.
fn drain(output: Option<&OwnedFd>, log: &mut Option<Log>) {
    let (Some(pipe), Some(log)) = (output, log.as_mut()) else {
        return;
    };
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = nix::unistd::read(pipe, &mut buf) {
        match buf.get(..n) {
            Some(chunk) if !chunk.is_empty() => log.write(chunk),
            _ => break,
        }
    }
}

/// The container's output as a source of the wait loop: copied into its log.
struct Output<'a> {
    pipe: Option<&'a OwnedFd>,
    log: &'a mut Option<Log>,
}

impl wait::Source for Output<'_> {
    fn want(&self, fds: &mut Vec<libc::pollfd>) {
        fds.push(crate::sys::pollfd(
            self.pipe.map_or(-1, |p| p.as_raw_fd()),
            true,
            false,
        ));
    }

    fn serve(&mut self, ready: &[libc::pollfd]) {
        if ready.iter().any(|p| p.revents != 0) {
            drain(self.pipe, self.log);
        }
    }

    fn ended(&mut self) {
        drain(self.pipe, self.log);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_restart_policy_decides_by_status_and_count() {
        assert!(!should_restart(Restart::No, 1, 0));
        assert!(should_restart(Restart::Always, 0, 100));
        let twice = Restart::OnFailure { max: Some(2) };
        assert!(!should_restart(twice, 0, 0), "success is not a failure");
        assert!(should_restart(twice, 1, 0) && should_restart(twice, 137, 1));
        assert!(!should_restart(twice, 1, 2), "at most twice in a row");
        assert!(should_restart(Restart::OnFailure { max: None }, 1, 10_000));
    }
}
