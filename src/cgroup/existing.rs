//! A container's cgroups found by its name, for the commands that did not create them:
//! `stop` signals or kills what is in them and removes leftovers, `stats` and `list`
//! read what they count. `qing/NAME` in every mounted hierarchy that has it.

use super::files::{self, number};
use super::layout::Layout;
use super::remove_dir;
use crate::error::{Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::PathBuf;

pub struct Existing {
    /// (directory, is v2)
    dirs: Vec<(PathBuf, bool)>,
}

/// What the container's cgroups count.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub memory_bytes: Option<u64>,
    pub cpu_usec: Option<u64>,
    pub pids: Option<u64>,
}

pub fn existing(name: &str) -> Existing {
    let layout = Layout::discover().unwrap_or_default();
    let dirs = layout
        .v2
        .iter()
        .map(|h| (h, true))
        .chain(layout.v1.iter().map(|h| (h, false)))
        .map(|(h, v2)| (h.mount.join("qing").join(name), v2))
        .filter(|(d, _)| d.is_dir())
        .collect();
    Existing { dirs }
}

impl Existing {
    /// Whether the container has no cgroup directory in any hierarchy.
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
    }

    /// The PIDs in the container's cgroups.
    pub fn pids(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = self
            .dirs
            .iter()
            .flat_map(|(d, _)| {
                files::procs(&crate::sys::read_text(d.join("cgroup.procs")).unwrap_or_default())
                    .collect::<Vec<i32>>()
            })
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Moves the calling process into the container's cgroups (`qing exec`); "0" names
    /// the writer, whatever PID namespace it is in.
    pub fn join_self(&self) -> Result<()> {
        for (d, _) in &self.dirs {
            let procs = d.join("cgroup.procs");
            crate::sys::write_file(&procs, b"0").at("join cgroup", d)?;
            crate::debug::step!("joined cgroup {}", d.display());
        }
        Ok(())
    }

    pub fn signal_all(&self, sig: Signal) {
        for pid in self.pids() {
            let _ = kill(Pid::from_raw(pid), sig);
        }
    }

    /// Removes the cgroups, killing anything still in them.
    pub fn remove(&self) -> Result<()> {
        for (d, v2) in &self.dirs {
            remove_dir(d, *v2)?;
        }
        Ok(())
    }

    /// Whether the kernel's OOM killer has killed anything in the container.
    pub fn oom_killed(&self) -> bool {
        self.dirs.iter().any(|(d, v2)| {
            let file = if *v2 {
                "memory.events"
            } else {
                "memory.oom_control"
            };
            crate::sys::read_text(d.join(file)).is_ok_and(|t| files::oom_killed(&t))
        })
    }

    pub fn stats(&self) -> Stats {
        let mut s = Stats::default();
        let read = |d: &PathBuf, f: &str| crate::sys::read_text(d.join(f)).ok();
        for (d, v2) in &self.dirs {
            if s.memory_bytes.is_none() {
                let f = if *v2 {
                    "memory.current"
                } else {
                    "memory.usage_in_bytes"
                };
                s.memory_bytes = read(d, f).as_deref().and_then(number);
            }
            if s.pids.is_none() {
                s.pids = read(d, "pids.current").as_deref().and_then(number);
            }
            if s.cpu_usec.is_none() {
                s.cpu_usec = if *v2 {
                    // cpu.stat's usage is there whether the cpu controller is on or not.
                    read(d, "cpu.stat").and_then(|t| files::cpu_usage_usec(&t))
                } else {
                    read(d, "cpuacct.usage")
                        .as_deref()
                        .and_then(number)
                        .map(|ns| ns / 1000)
                };
            }
        }
        s
    }
}
