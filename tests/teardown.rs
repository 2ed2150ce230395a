//! Nothing of a container remains once it has ended, however it ended: killed from
//! the host, or with the `qing run` that started it killed outright.

mod common;
use common::{rootfs, Container};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

/// Starts a container with a command, a background process and an orphan, and
/// returns once all three run.
fn start_busy(c: &Container) -> Child {
    let script = "sleep 60 & (sleep 60 &); echo up; exec sleep 60";
    let mut child = c
        .command(&[], rootfs(), &["/bin/sh", "-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "up\n");
    child
}

#[test]
fn sigkill_of_qing_run_leaves_nothing_behind() {
    let c = Container::new("kill-qing");
    let mut child = start_busy(&c);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    // The container's init notices, kills the rest, and removes the cgroups.
    c.assert_no_leftovers_within(Duration::from_secs(5));
}

#[test]
fn sigkill_of_the_containers_init_from_the_host_ends_run_with_137() {
    let c = Container::new("kill-init");
    let mut child = start_busy(&c);
    let procs = c
        .cgroup_dirs()
        .into_iter()
        .map(|d| d.join("cgroup.procs"))
        .find(|f| f.exists())
        .unwrap();
    let pids: Vec<i32> = std::fs::read_to_string(procs)
        .unwrap()
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect();
    let init = *pids.iter().min().unwrap();
    kill(Pid::from_raw(init), Signal::SIGKILL).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(137));
    c.assert_no_leftovers();
}

#[test]
fn sigterm_to_qing_run_stops_the_container_and_cleans_up() {
    let c = Container::new("term-qing");
    let mut child = start_busy(&c);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(143));
    c.assert_no_leftovers();
}
