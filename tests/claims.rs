//! The claim on a container's name, and the state qing keeps, against processes that
//! are not root's qing: another account, and a container on the host's network. Both
//! try what took a name before (binding the abstract socket `@qing/NAME`) and what
//! would take one now (qing's claim file); neither may keep qing from running,
//! starting, reporting, joining or stopping that container, or read its secrets.

mod common;

use common::named::Lc;
use common::{probe_dir, qing_bin, rootfs, Container, NAMES};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// `squatter NAME` holding what it could get, and what it said it got.
struct Squatter {
    child: Child,
    said: String,
}

impl Squatter {
    fn wait_until_squatting(mut child: Child) -> Squatter {
        let mut said = String::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        while !said.ends_with("squatting\n") {
            let before = said.len();
            out.read_line(&mut said).unwrap();
            assert!(said.len() > before, "the squatter ended: {said}");
        }
        Squatter { child, said }
    }
}

impl Drop for Squatter {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// Drives every command that depends on the claim on `name`, which the squatter
/// holds what it can of: each must behave as if nobody held it.
fn qing_is_unaffected_by(lc: &Lc, name: &str) {
    // qing run --name: the name is free.
    let rootfs = rootfs().display().to_string();
    let run = lc.q(&["run", "--name", name, &rootfs, "--", "/bin/true"]);
    assert_eq!(run.code, 0, "run --name {name}: {run:?}");

    lc.create(name, &[], "echo up; exec sleep 100");
    let status = lc.q(&["status", name]);
    assert_eq!(
        (status.code, status.stdout.as_str()),
        (3, format!("{name}: stopped\n").as_str()),
        "{status:?}"
    );
    let list = lc.ok(&["list"]);
    assert!(
        list.lines()
            .any(|l| l.starts_with(name) && l.contains("stopped")),
        "{list}"
    );

    lc.ok(&["start", name]);
    let status = lc.q(&["status", name]);
    assert_eq!(status.code, 0, "{status:?}");
    assert!(
        status.stdout.starts_with(&format!("{name}: running (pid ")),
        "{status:?}"
    );
    let list = lc.ok(&["list", "--json"]);
    let entry = list
        .split("},{")
        .find(|e| e.contains(&format!("\"name\":\"{name}\"")))
        .unwrap_or_else(|| panic!("{name} not listed: {list}"));
    assert!(entry.contains("\"state\":\"running\""), "{entry}");
    assert!(
        !entry.contains("\"pid\":0"),
        "a running container has a PID: {entry}"
    );
    let exec = lc.q(&["exec", name, "/bin/sh", "-c", "echo joined"]);
    assert_eq!(
        (exec.code, exec.stdout.as_str()),
        (0, "joined\n"),
        "{exec:?}"
    );

    lc.ok(&["stop", "--time", "2", name]);
    assert_eq!(lc.q(&["status", name]).code, 3);
    lc.assert_gone(name);
}

/// The probe run as user nobody, as an unprivileged process on the host would.
fn squat_as_nobody(name: &str) -> Squatter {
    let probe = probe_dir("squatter").join("squatter");
    let child = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(&probe)
        .arg(name)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    Squatter::wait_until_squatting(child)
}

#[test]
fn another_account_cannot_take_a_containers_name() {
    if common::skip_without_any(&["named", "exec"]) {
        return;
    }
    let lc = Lc::new("claim-user");
    let name = format!("squat-{}", std::process::id());
    // Make sure the claims directory exists, so the squatter meets it.
    lc.q(&[
        "run",
        "--name",
        &name,
        &rootfs().display().to_string(),
        "--",
        "/bin/true",
    ]);
    let squatter = squat_as_nobody(&name);
    assert!(
        squatter.said.contains("abstract: bound"),
        "{}",
        squatter.said
    );
    assert!(
        squatter.said.contains("claim file: Permission denied"),
        "{}",
        squatter.said
    );
    let dir = std::fs::metadata(NAMES).unwrap();
    assert_eq!(
        dir.permissions().mode() & 0o777,
        0o700,
        "{NAMES} is root's alone"
    );
    qing_is_unaffected_by(&lc, &name);
    drop(squatter);
}

#[test]
fn a_container_on_the_host_network_cannot_take_a_name() {
    if common::skip_without_any(&["named", "exec"]) {
        return;
    }
    let lc = Lc::new("claim-hostnet");
    let name = format!("squat-hn-{}", std::process::id());
    let c = Container::new("claim-squatter");
    let volume = format!("{}:/probe:ro", probe_dir("squatter").display());
    let child = c
        .command(
            &["--net", "host", "--volume", &volume],
            rootfs(),
            &["/probe/squatter", &name],
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let squatter = Squatter::wait_until_squatting(child);
    // The old claim, an abstract socket of the host's network namespace, was its to
    // take; qing's claims are not even in its view.
    assert!(
        squatter.said.contains("abstract: bound"),
        "{}",
        squatter.said
    );
    assert!(
        squatter
            .said
            .contains("claim file: No such file or directory"),
        "{}",
        squatter.said
    );
    qing_is_unaffected_by(&lc, &name);
    drop(squatter);
    c.assert_no_leftovers();
}

/// Runs qing with umask 0, the most open a caller can leave it.
fn qing_with_umask_0(root: &Path, args: &[&str]) -> common::Output {
    let mut c = Command::new("sh");
    c.args(["-c", "umask 000; exec \"$@\"", "sh"])
        .arg(qing_bin())
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null());
    common::output(c)
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// What user nobody gets trying to read `path`.
fn read_as_nobody(path: &Path) -> common::Output {
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "cat"])
        .arg(path);
    common::output(c)
}

#[test]
fn configs_records_and_logs_are_roots_alone_whatever_the_umask() {
    if common::skip_without_any(&["named", "exec"]) {
        return;
    }
    let parent = std::env::temp_dir().join(format!("qing-private-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&parent);
    std::fs::create_dir(&parent).unwrap();
    std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o755)).unwrap();
    // A root that does not exist yet: qing makes it, and all below it.
    let root = parent.join("state");
    let name = format!("secret-{}", std::process::id());
    let rootfs = rootfs().display().to_string();
    let create = qing_with_umask_0(
        &root,
        &[
            "create",
            "--env",
            "API_KEY=s3cret",
            &name,
            &rootfs,
            "--",
            "/bin/sh",
            "-c",
            "echo logged; exec sleep 100",
        ],
    );
    assert_eq!(create.code, 0, "{create:?}");
    let start = qing_with_umask_0(&root, &["start", &name]);
    assert_eq!(start.code, 0, "{start:?}");

    let config = root.join(format!("etc/{name}.json"));
    let record = root.join(format!("run/containers/{name}.json"));
    let pidfile = root.join(format!("run/containers/{name}.pid"));
    let log = root.join(format!("log/{name}.log"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("logged")
    {
        assert!(std::time::Instant::now() < deadline, "nothing logged");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    for dir in ["", "etc", "run", "run/containers", "run/scratch", "log"] {
        let d = root.join(dir);
        assert_eq!(mode(&d), 0o700, "{}", d.display());
    }
    for file in [&config, &record, &pidfile, &log] {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    assert_eq!(mode(Path::new(NAMES)), 0o700);
    assert_eq!(mode(&Path::new(NAMES).join(&name)), 0o600);
    for file in [&config, &record, &log] {
        let out = read_as_nobody(file);
        assert_ne!(out.code, 0, "nobody read {}: {out:?}", file.display());
        assert!(
            !out.stdout.contains("s3cret") && !out.stdout.contains("logged"),
            "{out:?}"
        );
    }
    // Nor can it ask qing: status is root's to tell, and says so.
    let mut status = Command::new("setpriv");
    status
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(qing_bin())
        .arg("--root")
        .arg(&root)
        .args(["status", &name]);
    let status = common::output(status);
    assert_eq!(status.code, 4, "{status:?}");
    assert!(status.stderr.contains("run qing as root"), "{status:?}");

    let stop = qing_with_umask_0(&root, &["stop", "--time", "2", &name]);
    assert_eq!(stop.code, 0, "{stop:?}");
    assert!(!record.exists() && !pidfile.exists());
    assert!(common::name_is_free(&name));
    let rm = qing_with_umask_0(&root, &["rm", &name]);
    assert_eq!(rm.code, 0, "{rm:?}");
    std::fs::remove_dir_all(&parent).unwrap();
    let _ = std::io::stdout().flush();
}
