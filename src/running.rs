//! A running container found by its name, for the commands that join it (`qing exec`,
//! `--net container:NAME`): its init (PID 1 of its PID namespace) and its command
//! (the init's first child) among the processes of its cgroups, held by their /proc
//! directories.
//!
//! Once open, a /proc directory names that process and no other: if it ended and its
//! PID went to another process, reads through it fail. The init is checked to be PID
//! 1 in the container's cgroup after its directory is open.

use crate::cgroup::existing::{existing, Existing};
use crate::error::{Context, Error, Result};
use crate::features::EXEC;
use crate::sys;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::Mode;
use std::os::fd::OwnedFd;

/// What is read of a process's /proc files: its environment is the largest.
const MAX_PROC_FILE: u64 = 256 * 1024;

pub struct Running {
    pub name: String,
    pub cgroups: Existing,
    /// /proc/INIT and /proc/COMMAND.
    pub init: OwnedFd,
    pub command: OwnedFd,
    init_pid: i32,
}

pub fn find(name: &str) -> Result<Running> {
    if !EXEC.built {
        return Err(EXEC.left_out("joining a running container"));
    }
    let not_running = || {
        Error::new(format!(
            "no container named {name_q} is running",
            name_q = crate::error::quoted(name)
        ))
        .hint("see `qing list`; start it with `qing start NAME`")
    };
    let cgroups = existing(name);
    // (pid, parent, pid inside) of each process of the container.
    let processes: Vec<(i32, i32, i32)> = cgroups
        .pids()
        .into_iter()
        .filter_map(|pid| {
            let status = sys::read_text(format!("/proc/{pid}/status")).ok()?;
            let parent = field(&status, "PPid:")?.parse().ok()?;
            Some((pid, parent, namespace_pid(&status)?))
        })
        .collect();
    let init_pid = processes
        .iter()
        .find(|p| p.2 == 1)
        .map(|p| p.0)
        .ok_or_else(not_running)?;
    // The command is the init's first child: its lowest PID inside (not always 2,
    // under qemu-user the init's threads take PIDs too).
    let command_pid = processes
        .iter()
        .filter(|p| p.1 == init_pid)
        .min_by_key(|p| p.2)
        .map(|p| p.0)
        .ok_or_else(not_running)?;
    let proc_dir = |pid: i32| {
        crate::sys::open_fd(
            std::path::Path::new(format!("/proc/{pid}").as_str()),
            OFlag::O_DIRECTORY,
            0,
        )
        .map_err(|_| not_running())
    };
    let running = Running {
        name: name.to_string(),
        cgroups,
        init: proc_dir(init_pid)?,
        command: proc_dir(command_pid)?,
        init_pid,
    };
    let cgroup_line = format!("/qing/{name}");
    if namespace_pid(&running.read(&running.init, "status")?) != Some(1)
        || !running
            .read(&running.init, "cgroup")?
            .lines()
            .any(|l| l.ends_with(&cgroup_line))
    {
        return Err(not_running());
    }
    Ok(running)
}

impl Running {
    /// Opens `path` under one of the two /proc directories.
    pub fn open(&self, dir: &OwnedFd, path: &str, flags: OFlag) -> Result<OwnedFd> {
        openat(dir, path, flags | OFlag::O_CLOEXEC, Mode::empty()).context(|| {
            format!(
                "open /proc/{}/{path} of container {}",
                self.init_pid, self.name
            )
        })
    }

    pub fn read(&self, dir: &OwnedFd, path: &str) -> Result<String> {
        let fd = self.open(dir, path, OFlag::O_RDONLY)?;
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut std::io::Read::take(std::fs::File::from(fd), MAX_PROC_FILE),
            &mut text,
        )
        .context(|| format!("read /proc/{}/{path}", self.init_pid))?;
        Ok(text)
    }
}

fn field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(str::trim)
}

/// The innermost PID of a process, from the NSpid line of /proc/PID/status.
fn namespace_pid(status: &str) -> Option<i32> {
    field(status, "NSpid:")?
        .split_whitespace()
        .last()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_innermost_pid_is_the_last_of_nspid() {
        assert_eq!(namespace_pid("Name:\tsh\nNSpid:\t4242\t1\n"), Some(1));
        assert_eq!(namespace_pid("NSpid:\t17\n"), Some(17));
        assert_eq!(namespace_pid("Name:\tsh\n"), None);
    }
}
