//! Nothing of a container remains once it has ended, however it ended: killed from
//! the host, or with the `qing run` that started it killed outright.

mod common;
use common::{Container, Running};
use nix::sys::signal::Signal;
use std::time::Duration;

/// A container with a command, a background process and an orphan, all running.
fn start_busy(c: &Container) -> Running {
    c.start(&[], "sleep 60 & (sleep 60 &); echo up; exec sleep 60", "up")
}

#[test]
fn sigkill_of_qing_run_leaves_nothing_behind() {
    let c = Container::new("kill-qing");
    let running = start_busy(&c);
    running.signal(Signal::SIGKILL);
    running.wait();
    // The container's init notices, kills the rest, and removes the cgroups.
    c.assert_no_leftovers_within(Duration::from_secs(5));
}

#[test]
fn sigkill_of_the_containers_init_from_the_host_ends_run_with_137() {
    let c = Container::new("kill-init");
    let running = start_busy(&c);
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
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(init), Signal::SIGKILL).unwrap();
    assert_eq!(running.wait(), Some(137));
    c.assert_no_leftovers();
}

#[test]
fn sigterm_to_qing_run_stops_the_container_and_cleans_up() {
    let c = Container::new("term-qing");
    let running = start_busy(&c);
    running.signal(Signal::SIGTERM);
    assert_eq!(running.wait(), Some(143));
    c.assert_no_leftovers();
}
