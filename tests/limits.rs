//! Limits through the fixed cgroup tree: memory (OOM inside the container), CPU
//! quota, process count, and the tree's life cycle.

mod common;
use common::Container;
use nix::sys::signal::Signal;

#[test]
fn memory_limit_oom_kills_inside_the_container_and_qing_reports_it() {
    let c = Container::new("oom");
    let out = c.sh(&["--memory", "16m"], "x=a; while :; do x=\"$x$x\"; done");
    assert_eq!(out.code, 137, "{out:?}");
    let notice: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("memory limit"))
        .collect();
    assert_eq!(
        notice.len(),
        1,
        "one line says the memory limit killed it: {out:?}"
    );
    c.assert_no_leftovers();
}

#[test]
fn memory_limit_is_what_the_container_sees_in_its_cgroup() {
    let c = Container::new("memlimit");
    let out = c.sh_ok(&["--memory", "24M"], "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max");
    assert_eq!(out.trim(), "25165824", "{out}");
    c.assert_no_leftovers();
}

/// busybox `time` prints real/user/sys lines: "real\t0m 2.00s".
fn seconds(report: &str, key: &str) -> f64 {
    let line = report
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("no {key} in {report}"));
    let value = line
        .split_whitespace()
        .last()
        .unwrap()
        .trim_end_matches('s');
    let (m, s) = line
        .split_whitespace()
        .nth(1)
        .map(|m| m.trim_end_matches('m'))
        .zip(Some(value))
        .unwrap();
    m.parse::<f64>().unwrap() * 60.0 + s.parse::<f64>().unwrap()
}

#[test]
fn cpu_quota_holds_a_busy_loop_near_its_share() {
    let c = Container::new("cpus");
    let out = c.sh(
        &["--cpus", "0.5"],
        "time timeout 3 sh -c 'while :; do :; done'",
    );
    let report = out.stderr.clone();
    let (real, used) = (
        seconds(&report, "real"),
        seconds(&report, "user") + seconds(&report, "sys"),
    );
    let share = used / real;
    // The quota is a ceiling (0.5 CPU); a loaded machine may give less, never more.
    assert!(
        (0.2..=0.6).contains(&share),
        "busy loop used {share:.2} CPU under --cpus 0.5: {out:?}"
    );
    c.assert_no_leftovers();
}

#[test]
fn a_fork_bomb_stays_inside_the_pids_limit() {
    let c = Container::new("forkbomb");
    // Watched from the host: inside, a saturated limit stops the watcher forking too.
    let running = c.start(
        &["--pids", "24"],
        // The main shell must not fork once the bomb saturates the limit (ash gives up
        // its script when a fork fails, and the container would end): it execs.
        "echo armed; (bomb() { bomb | bomb & }; bomb) & exec sleep 60",
        "armed",
    );
    let dir = c
        .cgroup_dirs()
        .into_iter()
        .find(|d| d.join("pids.current").exists())
        .expect("the container's pids cgroup");
    // Watched until the kernel refuses forks (pids.events counts them), which is what
    // a bomb against a limit must come to; the count never goes above the limit.
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
    let refused = || {
        read("pids.events").and_then(|e| {
            e.lines()
                .find_map(|l| l.strip_prefix("max ")?.trim().parse::<u64>().ok())
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut peak = 0;
    while refused().unwrap_or(0) == 0 && std::time::Instant::now() < deadline {
        if let Some(n) = read("pids.current").and_then(|t| t.trim().parse::<u64>().ok()) {
            peak = peak.max(n);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(
        refused().unwrap_or(0) > 0,
        "the bomb never hit the limit (peak {peak})"
    );
    assert!(peak <= 24, "{peak} tasks under --pids 24");
    // Under qemu-user a refused fork can crash the emulated process (a qemu bug), and
    // the container may be gone by now: SIGKILL only what is still there.
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(running.child.id() as i32),
        Signal::SIGKILL,
    );
    running.wait();
    c.assert_no_leftovers_within(std::time::Duration::from_secs(5));
}

#[test]
fn the_container_lives_at_qing_name_in_each_hierarchy_while_it_runs() {
    let c = Container::new("tree");
    let running = c.start(
        &["--memory", "32m", "--pids", "50"],
        "echo ready; read x; exit 0",
        "ready",
    );
    let used: Vec<_> = c.cgroup_dirs().into_iter().filter(|d| d.exists()).collect();
    // memory, cpu and pids, wherever each lives, plus the v2 tree when mounted.
    assert!(used.len() >= 2, "cgroup dirs: {used:?}");
    for d in &used {
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap();
        assert_eq!(
            procs.lines().count(),
            2,
            "init and command in {}: {procs}",
            d.display()
        );
    }
    assert_eq!(running.wait(), Some(0));
    c.assert_no_leftovers();
}
