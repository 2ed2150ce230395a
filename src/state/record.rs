//! What qing records of a supervised container in RUN/containers: NAME.json, its
//! state as its supervisor last wrote it, and NAME.pid, the supervisor's PID, for init
//! scripts. Both are written atomically (temp, fsync, rename): a reader or a crash
//! never sees half a file. A record says what was; whether the container runs is the
//! claim on its name (`state::is_claimed`), which no crash can leave stale.

use crate::error::Result;
use crate::json;
use crate::state::{write_atomic_via, Paths};
use std::path::{Path, PathBuf};

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

/// The record's and the pidfile's names in RUN/containers, then their temp files':
/// one writer per name (the claim's holder), so fixed names, which the claim's release
/// removes too when a supervisor was killed mid-write.
pub fn files(name: &str) -> [String; 4] {
    [
        format!("{name}.json"),
        format!("{name}.pid"),
        format!("{name}.json.tmp"),
        format!("{name}.pid.tmp"),
    ]
}

fn record_path(paths: &Paths, name: &str) -> PathBuf {
    let [record, ..] = files(name);
    paths.containers().join(record)
}

pub fn pidfile(paths: &Paths, name: &str) -> PathBuf {
    let [_, pidfile, ..] = files(name);
    paths.containers().join(pidfile)
}

/// Writes `path` (the record or the pidfile) through its fixed temp file.
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut temp = path.as_os_str().to_owned();
    temp.push(".tmp");
    write_atomic_via(path, Path::new(&temp), bytes)
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
    write_file(&record_path(paths, name), format!("{text}\n").as_bytes())
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
    write_file(&pidfile(paths, name), format!("{pid}\n").as_bytes())
}

/// Removes the record and the pidfile of `name`, and their temp files.
pub fn remove(paths: &Paths, name: &str) {
    for file in files(name) {
        let _ = std::fs::remove_file(paths.containers().join(file));
    }
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_temp_file_left_by_a_writer_killed_mid_write_goes_with_the_record() {
        let root = std::env::temp_dir().join(format!("qing-record-{}", std::process::id()));
        let paths = Paths {
            run: root.join("run"),
            data: root.join("lib"),
            config: root.join("etc"),
            logs: root.join("log"),
        };
        let r = Record {
            state: "running".into(),
            pid: 7,
            ..Record::default()
        };
        write(&paths, "web", &r).unwrap();
        write_pidfile(&paths, "web", 42).unwrap();
        assert_eq!(read(&paths, "web").map(|r| r.pid), Some(7));
        let mut left: Vec<_> = std::fs::read_dir(paths.containers())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["web.json", "web.pid"], "no temp file after a write");
        // What a supervisor SIGKILLed between its write and its rename leaves.
        std::fs::write(paths.containers().join("web.json.tmp"), "{\"sta").unwrap();
        assert!(files("web").contains(&"web.json.tmp".to_string()));
        remove(&paths, "web");
        assert_eq!(std::fs::read_dir(paths.containers()).unwrap().count(), 0);
        let _ = std::fs::remove_dir_all(&root);
    }
}
