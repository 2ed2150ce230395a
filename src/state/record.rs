//! What qing records of a supervised container in RUN/containers: NAME.json, its
//! state as its supervisor last wrote it, and NAME.pid, the supervisor's PID, for init
//! scripts. Both are written atomically (temp, fsync, rename): a reader or a crash
//! never sees half a file. A record says what was; whether the container runs is the
//! claim on its name (`state::is_claimed`), which no crash can leave stale.

use crate::error::Result;
use crate::json;
use crate::state::{write_atomic, Paths};
use std::path::PathBuf;

#[derive(Debug, Clone, Default)]
pub struct Record {
    /// "running", or "restarting" (waiting out the backoff).
    pub state: String,
    pub supervisor: u64,
    /// The container's init, as the host sees it; 0 when none runs.
    pub pid: u64,
    /// When the current (or last) run started, in seconds since the epoch.
    pub started: u64,
    pub restarts: u64,
    /// How the last run ended: "exited 0", "signal 15", "oom".
    pub exit: String,
}

/// The record's and the pidfile's names in RUN/containers.
pub fn files(name: &str) -> [String; 2] {
    [format!("{name}.json"), format!("{name}.pid")]
}

fn record_path(paths: &Paths, name: &str) -> PathBuf {
    let [record, _] = files(name);
    paths.containers().join(record)
}

pub fn pidfile(paths: &Paths, name: &str) -> PathBuf {
    let [_, pidfile] = files(name);
    paths.containers().join(pidfile)
}

pub fn write(paths: &Paths, name: &str, r: &Record) -> Result<()> {
    let text = json::to_string(&json::object(vec![
        ("state", json::string(&r.state)),
        ("supervisor", json::number(r.supervisor)),
        ("pid", json::number(r.pid)),
        ("started", json::number(r.started)),
        ("restarts", json::number(r.restarts)),
        ("exit", json::string(&r.exit)),
    ]));
    write_atomic(&record_path(paths, name), format!("{text}\n").as_bytes())
}

pub fn read(paths: &Paths, name: &str) -> Option<Record> {
    let doc = json::read_object(&record_path(paths, name), 4096, "record").ok()?;
    // A damaged record reads as zeros: it says what was, and nothing hangs on it.
    let number = |k: &str| doc.unsigned(k).ok().flatten().unwrap_or(0);
    Some(Record {
        state: doc.string("state").ok().flatten().unwrap_or_default(),
        supervisor: number("supervisor"),
        pid: number("pid"),
        started: number("started"),
        restarts: number("restarts"),
        exit: doc.string("exit").ok().flatten().unwrap_or_default(),
    })
}

pub fn write_pidfile(paths: &Paths, name: &str, pid: u32) -> Result<()> {
    write_atomic(&pidfile(paths, name), format!("{pid}\n").as_bytes())
}

/// Removes the record and the pidfile of `name`.
pub fn remove(paths: &Paths, name: &str) {
    let _ = std::fs::remove_file(record_path(paths, name));
    let _ = std::fs::remove_file(pidfile(paths, name));
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
