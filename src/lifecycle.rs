//! Named containers, as init scripts drive them: create and rm their configs, start
//! them under a supervisor, stop, restart, status (with the LSB init-script exit
//! codes), list, logs and stats.
//!
//! Whether a container runs is the claim on its name (`state::is_claimed`): true however
//! its supervisor ended. Two commands on one name are serialized by a flock on its
//! config file. What a supervisor records (`record`) only describes the last run.

use crate::cgroup::existing::existing;
use crate::config::{self, Config};
use crate::error::{Context, Error, Result};
use crate::json;
use crate::logs;
use crate::state::{self, record, Paths};
use crate::supervisor::{self, Ready};
use crate::sys;
use nix::fcntl::OFlag;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// LSB init-script status codes.
pub const STATUS_RUNNING: i32 = 0;
pub const STATUS_STOPPED: i32 = 3;
pub const STATUS_UNKNOWN: i32 = 4;

fn unknown(paths: &Paths, name: &str) -> Error {
    Error::new(format!(
        "no container named {name_q}: no {} and none running",
        config::path(&paths.config, name).display(),
        name_q = crate::error::quoted(name)
    ))
    .hint("create it with `qing create NAME ... ROOTFS`, or give --config-dir")
}

fn existing_config(paths: &Paths, name: &str) -> Result<Config> {
    config::read(&paths.config, name)?.ok_or_else(|| unknown(paths, name))
}

/// The lock of commands on `name`: a flock on its config, released when the last
/// descriptor of it closes (a forked supervisor closes its copy at once).
fn lock(paths: &Paths, name: &str) -> Result<OwnedFd> {
    let path = config::path(&paths.config, name);
    let fd = crate::sys::open_fd(&path, OFlag::O_RDONLY, 0).at("open", &path)?;
    sys::flock_exclusive(fd.as_raw_fd()).at("lock", &path)?;
    Ok(fd)
}

pub fn create(paths: &Paths, config: &Config) -> Result<i32> {
    config.spec()?;
    let path = config.create(&paths.config)?;
    crate::error::out!("{}", path.display());
    Ok(0)
}

pub fn rm(paths: &Paths, name: &str) -> Result<i32> {
    existing_config(paths, name)?;
    let _lock = lock(paths, name)?;
    if state::is_claimed(name)? {
        return Err(Error::new(format!(
            "container {name_q} is running",
            name_q = crate::error::quoted(name)
        ))
        .hint(format!("stop it first: qing stop {name}")));
    }
    let path = config::path(&paths.config, name);
    std::fs::remove_file(&path).at("remove", &path)?;
    record::remove(paths, name);
    logs::remove(&paths.logs, name);
    Ok(0)
}

/// Returns once the container's command runs, leaving its supervisor holding it; with
/// `foreground`, the supervisor is this process, until the container ends for good.
pub fn start(paths: &Paths, name: &str, foreground: bool) -> Result<i32> {
    crate::security::require_root()?;
    let config = existing_config(paths, name)?;
    let lock = lock(paths, name)?;
    let spec = config.spec()?;
    if state::is_claimed(name)? {
        return Err(Error::new(format!(
            "container {name_q} is already running",
            name_q = crate::error::quoted(name)
        ))
        .hint(format!("stop it first, or `qing restart {name}`")));
    }
    record::remove(paths, name);
    if foreground {
        return Ok(supervisor::run(
            paths,
            &config,
            &spec,
            Ready::holding(lock),
            false,
        ));
    }
    let (answer, ready) = nix::unistd::pipe2(OFlag::O_CLOEXEC).ctx("create a pipe")?;
    let supervisor = match sys::clone_process(nix::sched::CloneFlags::empty()) {
        Ok(None) => {
            // The supervisor: its own session, nothing of its caller's but the answer
            // (a caller reading our output to its end must not wait for it).
            sys::close_all_except(&[ready.as_raw_fd()]).ok();
            let _ = nix::unistd::setsid();
            if let Ok(null) =
                crate::sys::open_fd(std::path::Path::new("/dev/null"), OFlag::O_RDWR, 0)
            {
                for fd in 0..3 {
                    let _ = sys::dup_onto(null.as_raw_fd(), fd);
                }
            }
            let code = supervisor::run(paths, &config, &spec, Ready::channel(ready), true);
            sys::exit_now(code)
        }
        Ok(Some(pid)) => pid,
        Err(e) => return Err(Error::sys("fork the supervisor", e)),
    };
    drop(ready);
    let mut text = String::new();
    let _ = std::fs::File::from(answer).read_to_string(&mut text);
    drop(lock);
    if text != "0" {
        // A supervisor that failed exits right after its answer: once `qing start`
        // says so, not even that process of the container is left.
        let _ = nix::sys::wait::waitpid(supervisor, None);
    }
    match text.split_once(' ') {
        _ if text == "0" => Ok(0),
        Some((code, message)) => Err(Error::new(format!(
            "start {name} ({}): {message}",
            config::path(&paths.config, name).display()
        ))
        .with_exit_code(code.parse().unwrap_or(125))),
        None => Err(Error::new(format!(
            "the supervisor of {name} ended before the container started"
        ))
        .hint(format!("see `qing logs {name}`"))),
    }
}

/// `qing start --all`: every config marked autostart, by order then name.
pub fn start_all(paths: &Paths) -> Result<i32> {
    let (configs, mut failed) = autostart_configs(paths);
    for name in configs {
        if state::is_claimed(&name)? {
            continue;
        }
        if let Err(e) = start(paths, &name, false) {
            crate::error::say!("qing: start {name}: {e}");
            failed += 1;
        }
    }
    Ok(all_done(failed))
}

/// `qing stop --all`: every running container that has a config, in the reverse of
/// the start order.
pub fn stop_all(paths: &Paths, grace: Duration) -> Result<i32> {
    let mut failed = 0;
    let mut configs: Vec<Config> = config::all(&paths.config)
        .into_iter()
        .filter_map(|(_, c)| c.ok())
        .collect();
    configs.sort_by(|a, b| (b.order, &b.name).cmp(&(a.order, &a.name)));
    for c in configs {
        if !state::is_claimed(&c.name)? {
            continue;
        }
        if let Err(e) = stop(paths, &c.name, grace) {
            crate::error::say!("qing: stop {}: {e}", c.name);
            failed += 1;
        }
    }
    Ok(all_done(failed))
}

/// `qing status --all`: the autostart containers; 0 when all run, 3 when one does
/// not, 4 when a config is unreadable.
pub fn status_all(paths: &Paths) -> i32 {
    let (configs, failed) = autostart_configs(paths);
    let worst = configs
        .iter()
        .map(|name| status(paths, name))
        .max()
        .unwrap_or(STATUS_RUNNING);
    if failed > 0 {
        STATUS_UNKNOWN
    } else {
        worst
    }
}

/// The names of the autostart configs in their order, and how many configs could not
/// be read (each said on stderr).
fn autostart_configs(paths: &Paths) -> (Vec<String>, usize) {
    let mut configs: Vec<Config> = Vec::new();
    let mut failed = 0;
    for (name, c) in config::all(&paths.config) {
        match c {
            Ok(c) if c.autostart => configs.push(c),
            Ok(_) => {}
            Err(e) => {
                crate::error::say!("qing: {name}: {e}");
                failed += 1;
            }
        }
    }
    configs.sort_by(|a, b| (a.order, &a.name).cmp(&(b.order, &b.name)));
    (configs.into_iter().map(|c| c.name).collect(), failed)
}

fn all_done(failed: usize) -> i32 {
    if failed == 0 {
        0
    } else {
        crate::error::EXIT_QING_FAILED
    }
}

/// SIGTERM through the supervisor (which then does not restart), SIGKILL to everything
/// in the cgroups after `grace`; returns when all of it is gone. Stopping a stopped
/// container succeeds, and clears what a killed supervisor or `qing run` left.
pub fn stop(paths: &Paths, name: &str, grace: Duration) -> Result<i32> {
    let config = config::read(&paths.config, name)?;
    let rec = record::read(paths, name);
    if config.is_none()
        && rec.is_none()
        && !state::is_claimed(name)?
        && !left_by_a_killed_run(paths, name)
    {
        return Err(unknown(paths, name));
    }
    let _lock = match config {
        Some(_) => Some(lock(paths, name)?),
        None => None,
    };
    if state::is_claimed(name)? {
        let supervisor = rec
            .map(|r| r.supervisor)
            .filter(|p| is_supervisor_of(*p, name));
        match supervisor {
            Some(pid) => {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
            }
            None => existing(name).signal_all(Signal::SIGTERM),
        }
        if !released_within(name, grace) {
            existing(name).signal_all(Signal::SIGKILL);
            if !released_within(name, Duration::from_secs(5)) {
                if let Some(pid) = supervisor {
                    let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
                }
                if !released_within(name, Duration::from_secs(5)) {
                    return Err(Error::new(format!(
                        "container {name_q} would not stop",
                        name_q = crate::error::quoted(name)
                    ))
                    .hint(format!(
                        "see which process holds {}/{name}: fuser -v {}/{name}",
                        state::NAMES,
                        state::NAMES
                    )));
                }
            }
        }
    }
    existing(name).remove()?;
    crate::net::bridge::detach(&paths.config, &paths.run, name);
    record::remove(paths, name);
    // A claim whose holders all died before they could give it up leaves its file:
    // claimed and released again, it goes.
    drop(state::claim(name));
    Ok(0)
}

/// What a `qing run --name NAME` SIGKILLed during its start may leave, with no config
/// or record to say so: its claim's file (before its init existed to remove it), its
/// cgroups, its lease on the bridge (and so its veth). `qing stop NAME` clears them.
fn left_by_a_killed_run(paths: &Paths, name: &str) -> bool {
    std::path::Path::new(state::NAMES).join(name).exists()
        || !existing(name).is_empty()
        || crate::net::bridge::leased(&paths.config, &paths.run, name)
}

/// Whether `pid` is a qing process about `name` (a PID may have been reused since the
/// record was written). Under a binfmt interpreter (qemu-user) the command line starts
/// with the interpreter and the binary's path, so qing's own argv[0] may come third.
fn is_supervisor_of(pid: u64, name: &str) -> bool {
    pid > 0
        && sys::read_text(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
            let args: Vec<&str> = c.split('\0').collect();
            let qing = args
                .iter()
                .take(3)
                .any(|a| a.ends_with("qing") || *a == supervisor::ARGV0);
            qing && args.contains(&name)
        })
}

/// Polls: stopping is not the start path, and a claim has no event to wait on.
fn released_within(name: &str, time: Duration) -> bool {
    let deadline = Instant::now() + time;
    loop {
        if !state::is_claimed(name).unwrap_or(true) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn restart(paths: &Paths, name: &str, grace: Duration) -> Result<i32> {
    existing_config(paths, name)?;
    stop(paths, name, grace)?;
    start(paths, name, false)
}

/// Prints the state; the status is the LSB one: 0 running, 3 stopped, 4 unknown.
pub fn status(paths: &Paths, name: &str) -> i32 {
    let config = match config::read(&paths.config, name) {
        Ok(c) => c,
        Err(e) => {
            crate::error::say!("qing: {e}");
            return STATUS_UNKNOWN;
        }
    };
    let rec = record::read(paths, name);
    let running = match state::is_claimed(name) {
        Ok(running) => running,
        Err(e) => {
            crate::error::say!("qing: {e}");
            return STATUS_UNKNOWN;
        }
    };
    if running {
        let detail = rec
            .map(|r| {
                format!(
                    " (pid {}, up {}, restarts {})",
                    r.pid,
                    uptime(r.started),
                    r.restarts
                )
            })
            .unwrap_or_default();
        crate::error::out!("{name}: running{detail}");
        STATUS_RUNNING
    } else if config.is_some() || rec.is_some() {
        crate::error::out!("{name}: stopped");
        STATUS_STOPPED
    } else {
        crate::error::out!("{name}: unknown (no config and not running)");
        STATUS_UNKNOWN
    }
}

fn uptime(started: u64) -> String {
    let s = record::now().saturating_sub(started);
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// `qing list`: configured containers and any others that run.
pub fn list(paths: &Paths, as_json: bool) -> Result<i32> {
    let mut names: Vec<(String, String)> = config::all(&paths.config)
        .into_iter()
        .map(|(n, c)| {
            let rootfs = c
                .map(|c| c.options.rootfs)
                .unwrap_or_else(|_| "(bad config)".into());
            (n, rootfs)
        })
        .collect();
    for n in state::claimed_names()? {
        if !names.iter().any(|(m, _)| *m == n) {
            names.push((n, String::new()));
        }
    }
    names.sort();
    let mut rows = Vec::new();
    for (name, rootfs) in names {
        let running = state::is_claimed(&name)?;
        let rec = record::read(paths, &name).filter(|_| running);
        let memory = running
            .then(|| existing(&name).stats().memory_bytes)
            .flatten();
        rows.push((name, running, rec, memory, rootfs));
    }
    if as_json {
        let items: Vec<_> = rows
            .iter()
            .map(|(name, running, rec, memory, rootfs)| {
                json::object(vec![
                    ("name", json::string(name)),
                    (
                        "state",
                        json::string(if *running { "running" } else { "stopped" }),
                    ),
                    ("pid", json::number(rec.as_ref().map_or(0, |r| r.pid))),
                    (
                        "started",
                        json::number(rec.as_ref().map_or(0, |r| r.started)),
                    ),
                    ("memory_bytes", json::number(memory.unwrap_or(0))),
                    ("rootfs", json::string(rootfs)),
                ])
            })
            .collect();
        crate::error::out!("{}", json::to_string(&json::Value::Array(items)));
        return Ok(0);
    }
    crate::error::out!(
        "{:<20} {:<8} {:>8} {:>7} {:>9}  ROOTFS",
        "NAME",
        "STATE",
        "PID",
        "UPTIME",
        "MEMORY"
    );
    for (name, running, rec, memory, rootfs) in rows {
        let (pid, up) = match &rec {
            Some(r) => (r.pid.to_string(), uptime(r.started)),
            None => ("-".into(), "-".into()),
        };
        let mem = memory.map_or("-".into(), |m| format!("{}K", m / 1024));
        let state = if running { "running" } else { "stopped" };
        crate::error::out!("{name:<20} {state:<8} {pid:>8} {up:>7} {mem:>9}  {rootfs}");
    }
    Ok(0)
}

pub fn logs(paths: &Paths, name: &str, tail: Option<usize>, follow: bool) -> Result<i32> {
    let has_log = logs::log_path(&paths.logs, name).exists();
    if !has_log && config::read(&paths.config, name)?.is_none() {
        return Err(unknown(paths, name));
    }
    logs::show(&paths.logs, name, tail, follow)
}

pub fn stats(paths: &Paths, name: &str, as_json: bool) -> Result<i32> {
    if !state::is_claimed(name)? {
        return Err(match config::read(&paths.config, name)? {
            Some(_) => Error::new(format!(
                "container {name_q} is not running",
                name_q = crate::error::quoted(name)
            ))
            .hint(format!("start it: qing start {name}")),
            None => unknown(paths, name),
        });
    }
    let s = existing(name).stats();
    if as_json {
        crate::error::out!(
            "{}",
            json::to_string(&json::object(vec![
                ("name", json::string(name)),
                ("memory_bytes", json::number(s.memory_bytes.unwrap_or(0))),
                ("cpu_usec", json::number(s.cpu_usec.unwrap_or(0))),
                ("pids", json::number(s.pids.unwrap_or(0))),
            ]))
        );
    } else {
        let show = |v: Option<u64>| v.map_or("-".into(), |n| n.to_string());
        crate::error::out!("memory_bytes {}", show(s.memory_bytes));
        crate::error::out!("cpu_usec {}", show(s.cpu_usec));
        crate::error::out!("pids {}", show(s.pids));
    }
    Ok(0)
}
