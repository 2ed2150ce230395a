//! `qing --debug`: every step of a start and of an exec, in order, with times that
//! only grow; nothing of it without the flag; and a trace (or any output) into a
//! closed pipe never ends qing or the container early.

mod common;

use common::{output, qing_bin, rootfs, Container};
use std::process::{Command, Stdio};

/// A line of a trace: microseconds, the process (as it sees itself), what.
type Line = (u64, String, String);

fn trace(stderr: &str) -> Vec<Line> {
    stderr
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("qing: +")?;
            let (us, rest) = rest.split_once(" us [")?;
            let (process, what) = rest.split_once("] ")?;
            Some((
                us.trim().parse().ok()?,
                process.to_string(),
                what.to_string(),
            ))
        })
        .collect()
}

/// Asserts that `steps` appear in `lines`, each process's in this order and with
/// times that only grow. Across processes (qing, the init, the command) lines may
/// interleave: each writes when it gets there.
fn in_order(lines: &[Line], steps: &[&str]) {
    let mut last_of: Vec<(&str, usize)> = Vec::new();
    for step in steps {
        let found = lines.iter().enumerate().find(|(i, (_, process, what))| {
            what.starts_with(step)
                && last_of
                    .iter()
                    .find(|(p, _)| p == process)
                    .is_none_or(|(_, at)| i > at)
        });
        let Some((i, (_, process, _))) = found else {
            panic!("no {step:?} in order in the trace: {lines:#?}");
        };
        last_of.retain(|(p, _)| p != process);
        last_of.push((process.as_str(), i));
    }
    for (process, _) in &last_of {
        let times: Vec<u64> = lines
            .iter()
            .filter(|l| l.1 == *process)
            .map(|l| l.0)
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "times of {process} must grow: {lines:#?}"
        );
    }
}

/// The trace of `qing --debug run` of /bin/true in `c`, which must exit 0.
fn traced_run(c: &Container, opts: &[&str], rootfs: &std::path::Path) -> Vec<Line> {
    let mut cmd = Command::new(qing_bin());
    cmd.arg("--root").arg(&c.state_root).arg("--debug");
    cmd.args(["run", "--name", &c.name]).args(opts).arg(rootfs);
    cmd.arg("/bin/true").stdin(Stdio::null());
    let out = output(cmd);
    assert_eq!(out.code, 0, "{out:?}");
    trace(&out.stderr)
}

#[test]
fn the_trace_shows_each_step_of_a_start_in_order() {
    if common::skip_without("debug") {
        return;
    }
    let c = Container::new("debug-run");
    let lines = traced_run(&c, &["--memory", "32m"], rootfs());
    in_order(
        &lines,
        &[
            "rootfs ",
            "cgroup ",
            "the container's init is process",
            "unshare namespaces",
            "mount proc on",
            "mount sysfs on",
            "hostname ",
            "loopback up",
            "user 0, group 0",
            "capabilities ",
            "exec /bin/true",
            "the container's init exited 0",
        ],
    );
    assert!(
        lines
            .iter()
            .any(|(_, _, w)| w.starts_with("pivot_root into") || w.starts_with("chroot into")),
        "the switch of root: {lines:#?}"
    );
    c.assert_no_leftovers();

    // A squashfs image: its verification and its loop device.
    let image = rootfs().with_extension("squashfs");
    if image.exists() {
        let out = c.run_in(&image, &[], &["/bin/true"]);
        assert_eq!(out.code, 0, "{out:?}");
        assert!(out.stderr.is_empty(), "no trace without --debug: {out:?}");
        let lines = traced_run(&c, &[], &image);
        in_order(
            &lines,
            &[
                "rootfs ",
                "the container's init is process",
                "mount squashfs on",
            ],
        );
        assert!(
            lines.iter().any(
                |(_, _, w)| w.contains("bound to /dev/loop") || w.contains(" shares /dev/loop")
            ),
            "{lines:#?}"
        );
        c.assert_no_leftovers();
    }
}

#[test]
fn without_the_flag_a_start_says_nothing_of_its_own() {
    let c = Container::new("debug-off");
    let out = c.run(&[], &["/bin/true"]);
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out:?}");
    c.assert_no_leftovers();
}

#[test]
fn the_trace_shows_each_step_of_an_exec() {
    if common::skip_without("debug") || common::skip_without("exec") {
        return;
    }
    let c = Container::new("debug-exec");
    let running = c.start(&[], "echo up; exec sleep 60", "up");
    let mut cmd = Command::new(qing_bin());
    cmd.arg("--root")
        .arg(&c.state_root)
        .args(["--debug", "exec", &c.name, "/bin/true"]);
    let out = output(cmd);
    assert_eq!(out.code, 0, "{out:?}");
    in_order(
        &trace(&out.stderr),
        &[
            "joined cgroup ",
            "joined the container's ns/ipc",
            "joined the container's ns/mnt",
            "in the container's root",
            "capabilities ",
            "exec /bin/true",
        ],
    );
    running.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(running.wait(), Some(143));
    c.assert_no_leftovers();
}

/// Runs qing with its stdout and stderr on a pipe nobody reads: closed at once.
fn with_closed_output(args: &[&str]) -> Option<i32> {
    let mut child = Command::new(qing_bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    drop(child.stderr.take());
    child.wait().unwrap().code()
}

#[test]
fn output_into_a_closed_pipe_never_ends_qing_early() {
    let c = Container::new("closed-pipe");
    let root = c.state_root.display().to_string();
    let rootfs = rootfs().display().to_string();
    let mut run = vec!["--root", root.as_str()];
    if common::has_feature("debug") {
        run.push("--debug");
    }
    run.extend([
        "run",
        "--name",
        c.name.as_str(),
        rootfs.as_str(),
        "/bin/sh",
        "-c",
        "exit 7",
    ]);
    assert_eq!(
        with_closed_output(&run),
        Some(7),
        "the command's own status"
    );
    c.assert_no_leftovers();
    assert_eq!(with_closed_output(&["help"]), Some(0));
    assert_eq!(with_closed_output(&["run", "--bogus"]), Some(125));
}
