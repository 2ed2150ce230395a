//! The seccomp filter: Docker's default policy on every container, for its own
//! command and for what `qing exec` joins to it, following its capabilities;
//! `--seccomp unconfined` goes without. A static probe makes the calls raw and
//! prints each errno.

mod common;
use common::{output, probe_dir, qing_bin, rootfs, Container};
use std::collections::BTreeMap;
use std::process::Command;

const EPERM: &str = "1";
const ENOSYS: &str = "38";

/// The probe's answers, by call.
fn answers(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn probe_volume() -> String {
    format!("{}:/probe:ro", probe_dir("syscalls").display())
}

/// The probe in a new container with `opts`.
fn probe(c: &Container, opts: &[&str]) -> BTreeMap<String, String> {
    let volume = probe_volume();
    let mut all = vec!["--volume", &volume];
    all.extend_from_slice(opts);
    let out = c.run(&all, &["/probe/syscalls"]);
    assert_eq!(out.code, 0, "{out:?}");
    answers(&out.stdout)
}

/// Seccomp filters need kernel support, which qemu-user (a cross build's tests)
/// refuses: `qing check` of the qing under test says whether it has it.
fn skip() -> bool {
    if common::skip_without("seccomp") {
        return true;
    }
    let check = output({
        let mut c = Command::new(qing_bin());
        c.arg("check");
        c
    });
    let ok = check
        .stdout
        .lines()
        .any(|l| l.trim_start().starts_with("seccomp filters") && l.trim_end().ends_with("OK"));
    // qemu-user refuses filters whatever the kernel has: there the emulated boards
    // prove them (tests/board/core.sh).
    if !ok && std::env::var_os("QING_TEST_EMULATED").is_some() {
        common::say_skipped("qemu-user refuses seccomp filters (tests/board/core.sh tests them)");
        return true;
    }
    common::skip_unless(ok, "seccomp filters (CONFIG_SECCOMP_FILTER)")
}

fn assert_default_filter(a: &BTreeMap<String, String>) {
    let get = |k: &str| a.get(k).map(String::as_str).unwrap_or("missing");
    for denied in [
        "keyctl",
        "bpf",
        "perf_event_open",
        "unshare_user",
        "unshare_uts",
        "socket_vsock",
        "socket_alg",
        "x32",
    ] {
        assert_eq!(get(denied), EPERM, "{denied}: {a:?}");
    }
    assert_eq!(get("clone3"), ENOSYS, "{a:?}");
    assert_eq!(get("unknown"), ENOSYS, "{a:?}");
    for allowed in ["socket_inet", "getpid", "personality_query", "clone_fork"] {
        assert_eq!(get(allowed), "0", "{allowed}: {a:?}");
    }
}

#[test]
fn the_default_filter_denies_dockers_list_with_eperm_and_newer_calls_with_enosys() {
    if skip() {
        return;
    }
    let c = Container::new("seccomp-default");
    assert_default_filter(&probe(&c, &[]));
    assert_default_filter(&probe(&c, &["--seccomp", "default"]));
    let status = c.sh_ok(&[], "grep -E '^Seccomp(_filters)?:' /proc/self/status");
    assert_eq!(status, "Seccomp:\t2\nSeccomp_filters:\t1\n");
    c.assert_no_leftovers();
}

#[test]
fn cap_sys_admin_opens_what_docker_gates_on_it() {
    if skip() {
        return;
    }
    let c = Container::new("seccomp-admin");
    let a = probe(&c, &["--cap-add", "SYS_ADMIN"]);
    let get = |k: &str| a.get(k).map(String::as_str).unwrap_or("missing");
    assert_eq!(get("unshare_uts"), "0", "{a:?}");
    // Past the filter, the kernel's own answers to the probe's bad arguments.
    assert_eq!(get("clone3"), "22", "{a:?}");
    assert_eq!(get("bpf"), "22", "{a:?}");
    assert_eq!(get("perf_event_open"), "14", "{a:?}");
    // Not gated on capabilities: still denied.
    assert_eq!(get("keyctl"), EPERM, "{a:?}");
    assert_eq!(get("socket_vsock"), EPERM, "{a:?}");
    c.assert_no_leftovers();
}

#[test]
fn unconfined_runs_without_a_filter() {
    if skip() {
        return;
    }
    let c = Container::new("seccomp-unconfined");
    let a = probe(&c, &["--seccomp", "unconfined"]);
    let get = |k: &str| a.get(k).map(String::as_str).unwrap_or("missing");
    assert_eq!(get("clone3"), "22", "{a:?}");
    assert_eq!(get("bpf"), "22", "{a:?}");
    assert_eq!(get("perf_event_open"), "14", "{a:?}");
    assert_ne!(get("socket_vsock"), EPERM, "{a:?}");
    assert_ne!(get("keyctl"), EPERM, "{a:?}");
    let status = c.sh_ok(
        &["--seccomp", "unconfined"],
        "grep '^Seccomp:' /proc/self/status",
    );
    assert_eq!(status, "Seccomp:\t0\n");
    c.assert_no_leftovers();
}

#[test]
fn exec_gets_the_containers_filter() {
    if skip() || common::skip_without("exec") {
        return;
    }
    let exec = |c: &Container, args: &[&str]| {
        let mut q = Command::new(qing_bin());
        q.arg("--root").arg(&c.state_root).arg("exec").args(args);
        q.stdin(std::process::Stdio::null());
        output(q)
    };
    let volume = probe_volume();
    let c = Container::new("seccomp-exec");
    let running = c.start(&["--volume", &volume], "echo up; read x; exit 0", "up");
    let out = exec(&c, &[&c.name, "/probe/syscalls"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_default_filter(&answers(&out.stdout));
    assert_eq!(running.wait(), Some(0));
    c.assert_no_leftovers();

    // With SYS_ADMIN the container's filter allows unshare: so does exec's.
    let c = Container::new("seccomp-exec-admin");
    let running = c.start(
        &["--volume", &volume, "--cap-add", "SYS_ADMIN"],
        "echo up; read x; exit 0",
        "up",
    );
    let out = exec(&c, &[&c.name, "/probe/syscalls"]);
    let a = answers(&out.stdout);
    assert_eq!(
        a.get("unshare_uts").map(String::as_str),
        Some("0"),
        "{out:?}"
    );
    assert_eq!(a.get("keyctl").map(String::as_str), Some(EPERM), "{out:?}");
    assert_eq!(running.wait(), Some(0));
    c.assert_no_leftovers();

    let c = Container::new("seccomp-exec-unconfined");
    let running = c.start(
        &["--volume", &volume, "--seccomp", "unconfined"],
        "echo up; read x; exit 0",
        "up",
    );
    let out = exec(
        &c,
        &[&c.name, "/bin/grep", "^Seccomp:", "/proc/self/status"],
    );
    assert_eq!(out.stdout, "Seccomp:\t0\n", "{out:?}");
    assert_eq!(running.wait(), Some(0));
    c.assert_no_leftovers();
}

#[test]
fn the_debug_trace_gives_the_filters_length() {
    if skip() || common::skip_without("debug") {
        return;
    }
    let c = Container::new("seccomp-debug");
    let mut q = Command::new(qing_bin());
    q.arg("--root")
        .arg(&c.state_root)
        .args(["--debug", "run", "--name", &c.name])
        .arg(rootfs())
        .args(["--", "/bin/true"]);
    let out = output(q);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("seccomp filter: ") && out.stderr.contains(" instructions"),
        "{out:?}"
    );
    c.assert_no_leftovers();
}

#[test]
fn supervised_containers_get_the_filter_their_config_names() {
    if skip() || common::skip_without("named") {
        return;
    }
    let lc = common::named::Lc::new("seccompcfg");
    let script = "grep ^Seccomp: /proc/self/status";
    lc.create("filtered", &[], script);
    lc.create("unfiltered", &["--seccomp", "unconfined"], script);
    let config = std::fs::read_to_string(lc.root.join("etc/unfiltered.json")).unwrap();
    assert!(config.contains(r#""seccomp": "unconfined""#), "{config}");
    for (name, mode) in [("filtered", 2), ("unfiltered", 0)] {
        lc.ok(&["start", name]);
        lc.wait_for("the container's end", || lc.q(&["status", name]).code == 3);
        let log = lc.log(name);
        assert_eq!(
            log.lines().next(),
            Some(format!("Seccomp:\t{mode}").as_str()),
            "{name}: {log}"
        );
        lc.assert_gone(name);
    }
}
