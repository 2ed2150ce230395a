//! What qing reads in a cgroup's files, parsed apart from the reading (tests/fuzz
//! feeds them bytes). A container's processes can write some of these, and the
//! kernel formats the rest: nothing here may assume a well-formed file.

/// cgroup.procs: one PID a line; anything else is skipped.
pub fn procs(text: &str) -> impl Iterator<Item = i32> + '_ {
    text.lines().filter_map(|l| l.trim().parse().ok())
}

/// memory.events (v2) or memory.oom_control (v1): whether `oom_kill` counts a kill.
pub fn oom_killed(text: &str) -> bool {
    text.lines()
        .filter_map(|l| l.strip_prefix("oom_kill "))
        .any(|n| n.trim().parse::<u64>().is_ok_and(|n| n > 0))
}

/// A file of one number: memory.current, pids.current, cpuacct.usage.
pub fn number(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// cpu.stat (v2): `usage_usec`.
pub fn cpu_usage_usec(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("usage_usec ").and_then(number))
}

/// cgroup.controllers (v2): the controllers offered, comma-separated as v1 options.
pub fn controllers(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(",")
}
