//! Bad input: a clear message that names what was wrong and what to do, exit 125
//! (126/127 for a command that cannot run), and nothing left behind.

mod common;
use common::{output, qing_bin, rootfs, Container};
use std::process::Command;

struct Case {
    args: Vec<String>,
    code: i32,
    /// Words the message must contain: the bad value, and the way out.
    says: &'static [&'static str],
}

fn case(args: &[&str], code: i32, says: &'static [&'static str]) -> Case {
    Case {
        args: args.iter().map(|s| s.to_string()).collect(),
        code,
        says,
    }
}

fn check(c: &Container, cases: Vec<Case>) {
    for case in cases {
        let mut cmd = Command::new(qing_bin());
        cmd.arg("--root").arg(&c.state_root).args(&case.args);
        let out = output(cmd);
        assert_eq!(out.code, case.code, "{:?}: {out:?}", case.args);
        for word in case.says {
            assert!(
                out.stderr.contains(word),
                "{:?} should say {word:?}: {out:?}",
                case.args
            );
        }
        assert!(out.stderr.starts_with("qing: "), "{out:?}");
        c.assert_no_leftovers();
    }
}

#[test]
fn bad_rootfs_and_commands_get_clear_errors() {
    let c = Container::new("bad-rootfs");
    let r = rootfs().display().to_string();
    let n = c.name.as_str();
    check(
        &c,
        vec![
            case(
                &["run", "--name", n, "/nonexistent/rootfs"],
                125,
                &["/nonexistent/rootfs", "no such file"],
            ),
            case(
                &["run", "--name", n, "/etc/passwd"],
                125,
                &["/etc/passwd", "not a directory", "hint"],
            ),
            case(
                &["run", "--name", n, &r, "--", "no-such-command"],
                127,
                &["no-such-command", "not found"],
            ),
            case(
                &["run", "--name", n, &r, "--", "/no/such/path"],
                127,
                &["/no/such/path"],
            ),
            case(
                &["run", "--name", n, &r, "--", "/etc/passwd"],
                126,
                &["/etc/passwd", "cannot execute"],
            ),
            case(&["run", "--name", n, &r, "--", "/etc"], 126, &["/etc"]),
        ],
    );
}

#[test]
fn bad_limits_get_clear_errors() {
    let c = Container::new("bad-limits");
    let r = rootfs().display().to_string();
    let n = c.name.as_str();
    check(
        &c,
        vec![
            case(
                &["run", "--name", n, "--memory", "12x", &r],
                125,
                &["--memory", "12x", "k, m or g"],
            ),
            case(
                &["run", "--name", n, "--memory", "-5m", &r],
                125,
                &["--memory"],
            ),
            case(
                &["run", "--name", n, "--memory", "99999999999999999999g", &r],
                125,
                &["--memory"],
            ),
            case(
                &["run", "--name", n, "--memory", "1k", &r],
                125,
                &["--memory", "2m"],
            ),
            case(
                &["run", "--name", n, "--cpus", "-1", &r],
                125,
                &["--cpus", "-1"],
            ),
            case(&["run", "--name", n, "--cpus", "0", &r], 125, &["--cpus"]),
            case(&["run", "--name", n, "--cpus", "1e9", &r], 125, &["--cpus"]),
            case(
                &["run", "--name", n, "--cpus", "4096", &r],
                125,
                &["--cpus", "CPUs"],
            ),
            case(
                &["run", "--name", n, "--pids", "0", &r],
                125,
                &["--pids", "0"],
            ),
            case(
                &["run", "--name", n, "--pids", "lots", &r],
                125,
                &["--pids"],
            ),
        ],
    );
}

#[test]
fn bad_volumes_get_clear_errors() {
    let c = Container::new("bad-volumes");
    let r = rootfs().display().to_string();
    let n = c.name.as_str();
    check(
        &c,
        vec![
            case(
                &["run", "--name", n, "--volume", "/no/such/source:/data", &r],
                125,
                &["/no/such/source", "does not exist"],
            ),
            case(
                &["run", "--name", n, "--volume", "/tmp:relative/dest", &r],
                125,
                &["relative/dest", "absolute"],
            ),
            case(
                &["run", "--name", n, "--volume", "relative:/data", &r],
                125,
                &["absolute"],
            ),
            case(
                &["run", "--name", n, "--volume", "/tmp", &r],
                125,
                &["--volume"],
            ),
            case(
                &["run", "--name", n, "--volume", "/tmp:/data:rx", &r],
                125,
                &["rx"],
            ),
            case(
                &["run", "--name", n, "--volume", "/tmp:/", &r],
                125,
                &["root"],
            ),
        ],
    );
}

#[test]
fn bad_flags_names_and_other_options_get_clear_errors() {
    let c = Container::new("bad-flags");
    let r = rootfs().display().to_string();
    let n = c.name.as_str();
    let mut cases = vec![
        case(
            &["run", "--name", n, "--bogus", &r],
            125,
            &["--bogus", "help"],
        ),
        case(&["run", "--name", n], 125, &["rootfs"]),
        case(&["frobnicate"], 125, &["frobnicate"]),
        case(&[], 125, &[]),
        case(
            &["run", "--name", "../../etc", &r],
            125,
            &["--name", "../../etc"],
        ),
        case(&["run", "--name", "", &r], 125, &["--name"]),
        case(
            &["run", "--name", n, "--hostname", "bad_host!", &r],
            125,
            &["--hostname"],
        ),
        case(
            &["run", "--name", n, "--net", "bridge0", &r],
            125,
            &["--net", "bridge0"],
        ),
        case(
            &["run", "--name", n, "--user", "no such", &r],
            125,
            &["--user"],
        ),
        case(
            &["run", "--name", n, "--user", "ghost", &r],
            125,
            &["ghost", "passwd"],
        ),
        // (uid_t)-1 means "unchanged" to setresuid: it would leave the command root.
        case(
            &["run", "--name", n, "--user", "4294967295", &r],
            125,
            &["--user", "4294967295"],
        ),
        case(
            &["run", "--name", n, "--user", "0:4294967295", &r],
            125,
            &["--user"],
        ),
        case(&["run", "--name", n, &r, "--", ""], 125, &["empty"]),
        case(
            &["run", "--name", n, "--workdir", "relative", &r],
            125,
            &["--workdir", "absolute"],
        ),
        case(
            &["run", "--name", n, "--env", "=value", &r],
            125,
            &["--env"],
        ),
        case(
            &["run", "--name", n, "--cap-add", "NET_ADMINN", &r],
            125,
            &["--cap-add", "NET_ADMINN", "no such capability"],
        ),
        case(
            &["run", "--name", n, "--cap-drop", "", &r],
            125,
            &["--cap-drop", "no such capability"],
        ),
    ];
    // A build without seccomp refuses --seccomp itself (the feature-gated cases below).
    if common::has_feature("seccomp") {
        cases.extend([
            case(
                &["run", "--name", n, "--seccomp", "strict", &r],
                125,
                &["--seccomp", "strict", "--seccomp unconfined"],
            ),
            case(
                &["run", "--name", n, "--seccomp", "/nonexistent.json", &r],
                125,
                &["--seccomp", "reads no profile files yet"],
            ),
        ]);
    }
    check(&c, cases);
}

#[test]
fn a_running_name_cannot_be_taken_twice() {
    let c = Container::new("dup-name");
    let first = c.start(&[], "echo up; sleep 30", "up");
    let second = c.run(&[], &["/bin/true"]);
    assert_eq!(second.code, 125, "{second:?}");
    assert!(second.stderr.contains("already running"), "{second:?}");
    // Names are machine-wide, like the cgroup tree: another --root cannot take it.
    let other_root =
        std::env::temp_dir().join(format!("qing-test-other-root-{}", std::process::id()));
    let mut cmd = Command::new(qing_bin());
    cmd.arg("--root")
        .arg(&other_root)
        .args(["run", "--name", &c.name])
        .arg(rootfs())
        .arg("/bin/true");
    let third = output(cmd);
    assert_eq!(third.code, 125, "{third:?}");
    assert!(third.stderr.contains("already running"), "{third:?}");
    assert!(
        c.cgroup_dirs().iter().any(|d| d.exists()),
        "the running container's cgroups must survive"
    );
    let _ = std::fs::remove_dir_all(&other_root);
    first.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(first.wait(), Some(143));
    c.assert_no_leftovers();
}

#[test]
fn help_and_version_exit_zero() {
    let help = output({
        let mut c = Command::new(qing_bin());
        c.args(["run", "--help"]);
        c
    });
    assert_eq!(help.code, 0);
    assert!(
        help.stdout.contains("--memory") && help.stdout.contains("--volume"),
        "{help:?}"
    );
    let version = output({
        let mut c = Command::new(qing_bin());
        c.arg("version");
        c
    });
    assert_eq!(version.code, 0);
    assert!(version.stdout.starts_with("qing "), "{version:?}");
}

#[test]
fn an_unprivileged_user_is_told_that_run_needs_root() {
    let c = Container::new("nonroot");
    let out = output({
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ]);
        cmd.arg(qing_bin())
            .arg("--root")
            .arg(&c.state_root)
            .args(["run", "--name", &c.name])
            .arg(rootfs())
            .arg("/bin/true");
        cmd
    });
    assert_eq!(out.code, 125, "{out:?}");
    assert!(out.stderr.contains("needs root"), "{out:?}");
    c.assert_no_leftovers();
}

/// What a build without each feature must refuse, by name, and what its help must not
/// offer: (feature, qing's arguments after --root, an option its help would list).
const GATED: [(&str, &[&str], &str); 14] = [
    (
        "bridge",
        &["run", "--net", "bridge", "ROOTFS", "true"],
        "--ip",
    ),
    (
        "bridge",
        &["run", "--ip", "10.199.0.9", "ROOTFS", "true"],
        "--publish",
    ),
    (
        "bridge",
        &["run", "--publish", "8080:80", "ROOTFS", "true"],
        "--ip",
    ),
    ("bridge", &["net"], "--ip"),
    ("named", &["create", "web", "ROOTFS"], "create"),
    ("named", &["list"], "create"),
    ("exec", &["exec", "web", "true"], "exec"),
    (
        "exec",
        &["run", "--net", "container:web", "ROOTFS", "true"],
        "exec",
    ),
    ("tty", &["run", "-t", "ROOTFS", "true"], "--tty"),
    ("squashfs", &["templates"], "templates"),
    (
        "squashfs",
        &["run", "--overlay", "/tmp", "ROOTFS", "true"],
        "--overlay",
    ),
    ("squashfs", &["import", "web.json"], "import"),
    ("debug", &["--debug", "run", "ROOTFS", "true"], "--debug"),
    (
        "seccomp",
        &["run", "--seccomp", "unconfined", "ROOTFS", "true"],
        "--seccomp",
    ),
];

#[test]
fn a_build_without_a_feature_refuses_its_options_by_name_and_does_not_offer_them() {
    let version = output({
        let mut c = Command::new(qing_bin());
        c.arg("version");
        c
    });
    let features = common::features();
    for f in features {
        assert!(
            common::cargo_features().contains(f),
            "qing version lists {f:?}: {version:?}"
        );
    }
    let help = |args: &[&str]| {
        let mut c = Command::new(qing_bin());
        c.args(args);
        output(c).stdout
    };
    let (overview, run_help) = (help(&["--help"]), help(&["run", "--help"]));
    let c = Container::new("gated");
    let r = rootfs().display().to_string();
    let mut tried = 0;
    for (feature, args, offered) in GATED {
        if common::has_feature(feature) {
            continue;
        }
        tried += 1;
        let args: Vec<&str> = args
            .iter()
            .map(|a| if *a == "ROOTFS" { r.as_str() } else { a })
            .collect();
        let mut cmd = Command::new(qing_bin());
        cmd.arg("--root").arg(&c.state_root).args(&args);
        let out = output(cmd);
        assert_eq!(out.code, 125, "{args:?}: {out:?}");
        assert!(
            out.stderr.contains("this qing was built without")
                && out.stderr.contains(&format!("(feature {feature})")),
            "{args:?}: {out:?}"
        );
        let offers = if offered.starts_with("--") {
            run_help.contains(&format!("{offered} ")) || overview.contains(&format!("{offered} "))
        } else {
            overview
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{offered} ")))
        };
        assert!(
            !offers,
            "the help of a build without {feature} offers {offered}"
        );
        c.assert_no_leftovers();
    }
    if tried == 0 {
        // The default build: every feature is there, nothing is refused.
        assert!(
            run_help.contains("--publish") && overview.contains("  exec "),
            "{overview}"
        );
    }
}

/// Under a low descriptor limit (`ulimit -n`) `qing run` either runs or fails with
/// the kernel's answer and a remedy: never as another fault (a descriptor that could
/// not be opened was once told as "/dev in the rootfs changed while the container
/// started"), never a crash, and nothing left.
#[test]
fn a_descriptor_limit_is_said_as_such_and_leaves_nothing() {
    use std::os::unix::process::CommandExt;
    let c = Container::new("emfile");
    for limit in (4..=24).rev() {
        let mut cmd = c.command(&[], rootfs(), &["/bin/true"]);
        // SAFETY: setrlimit is async-signal-safe; nothing else runs before exec.
        unsafe {
            cmd.pre_exec(move || {
                let l = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: limit,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &l) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        let out = output(cmd);
        assert!(
            out.code == 0 || out.code == 125,
            "ulimit -n {limit}: {out:?}"
        );
        if out.code == 125 {
            assert!(
                out.stderr.starts_with("qing: "),
                "ulimit -n {limit}: {out:?}"
            );
            assert!(
                !out.stderr.contains("changed"),
                "ulimit -n {limit}: {out:?}"
            );
            assert!(
                out.stderr
                    .contains("hint: qing ran out of file descriptors"),
                "ulimit -n {limit}: {out:?}"
            );
        }
        c.assert_no_leftovers();
    }
}
