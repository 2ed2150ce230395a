//! Helpers of the tests that use `--net bridge` (net.rs, publish.rs): each test moves
//! its thread into a network namespace of its own before it starts anything.

use super::{rootfs, Container};
use std::process::Command;
use std::time::{Duration, Instant};

/// Moves this test's thread (and so everything it starts) into a new network
/// namespace with loopback up.
pub fn own_network() {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare a network namespace");
    let up = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .unwrap();
    assert!(up.success());
}

/// The links of this namespace, by name.
pub fn links() -> Vec<String> {
    let out = Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect()
}

pub fn leases(c: &Container) -> String {
    std::fs::read_to_string(c.state_root.join("run/net/qing0.leases")).unwrap_or_default()
}

pub fn bridged(c: &Container, opts: &[&str], script: &str) -> Command {
    let mut all = vec!["--net", "bridge"];
    all.extend_from_slice(opts);
    c.command(&all, rootfs(), &["/bin/sh", "-c", script])
}

pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Nothing of the bridge's users is left: no veth, no lease.
pub fn assert_no_network_leftovers(c: &Container) {
    let left: Vec<String> = links()
        .into_iter()
        .filter(|l| l.starts_with("qv") || l.starts_with("qc"))
        .collect();
    assert!(left.is_empty(), "veths left: {left:?}");
    assert_eq!(leases(c), "", "leases left");
}
