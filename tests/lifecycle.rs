//! Named containers as init scripts drive them: configs, a supervisor per container,
//! start, stop, restart, status (LSB codes), list, logs, stats, restart policy, crash
//! safety and leaks. Real containers, each test with its own state root and configs.

mod common;
use common::named::Lc;
use common::{loops_backed_by, processes_mentioning, qing_bin, rootfs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn a_named_container_goes_through_its_whole_life() {
    if common::skip_without_any(&["named", "exec"]) {
        return;
    }
    let lc = Lc::new("life");
    lc.create(
        "web",
        &["--memory", "32m"],
        "echo hello from web; while :; do sleep 1; done",
    );
    assert!(lc.root.join("etc/web.json").exists());
    assert_eq!(lc.q(&["status", "web"]).code, 3, "created, not started");

    let start = Instant::now();
    lc.ok(&["start", "web"]);
    assert!(start.elapsed() < Duration::from_secs(5));
    let out = lc.q(&["status", "web"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.starts_with("web: running (pid "), "{out:?}");
    let pidfile = std::fs::read_to_string(lc.root.join("run/containers/web.pid")).unwrap();
    let supervisor: i32 = pidfile.trim().parse().unwrap();
    assert!(
        Path::new(&format!("/proc/{supervisor}")).exists(),
        "the pidfile names a live supervisor"
    );

    lc.wait_for("the log", || lc.log("web").contains("hello from web"));
    assert_eq!(lc.ok(&["logs", "web"]), "hello from web\n");
    let stats = lc.ok(&["stats", "web"]);
    let value = |k: &str| -> u64 {
        stats
            .lines()
            .find_map(|l| l.strip_prefix(k)?.trim().parse().ok())
            .unwrap()
    };
    assert!(value("memory_bytes") > 0 && value("pids") >= 2, "{stats}");
    let json = lc.ok(&["stats", "--json", "web"]);
    assert!(
        json.starts_with('{') && json.contains("\"pids\":"),
        "{json}"
    );
    // exec joins it: its host name, its output back here, its exit status.
    assert_eq!(lc.ok(&["exec", "web", "hostname"]), "web\n");
    assert_eq!(lc.q(&["exec", "web", "/bin/sh", "-c", "exit 9"]).code, 9);
    let list = lc.ok(&["list"]);
    assert!(
        list.lines()
            .any(|l| l.starts_with("web") && l.contains("running")),
        "{list}"
    );
    let list = lc.ok(&["list", "--json"]);
    assert!(
        list.contains(r#""name":"web""#) && list.contains(r#""state":"running""#),
        "{list}"
    );

    lc.ok(&["stop", "web"]);
    assert_eq!(lc.q(&["status", "web"]).code, 3);
    lc.assert_gone("web");
    assert_eq!(lc.q(&["exec", "web", "true"]).code, 125, "not running");
    lc.ok(&["stop", "web"]); // stopping a stopped container succeeds
    lc.ok(&["rm", "web"]);
    assert_eq!(lc.q(&["status", "web"]).code, 4, "unknown once removed");
    assert!(!lc.root.join("etc/web.json").exists() && !lc.root.join("log/web.log").exists());
}

#[test]
fn a_failing_command_is_restarted_up_to_max_times_with_backoff() {
    if common::skip_without_any(&["named"]) {
        return;
    }
    let lc = Lc::new("restart");
    lc.create("fails", &["--restart", "on-failure:3"], "echo run; exit 1");
    let start = Instant::now();
    lc.ok(&["start", "fails"]);
    lc.wait_for("the supervisor to give up", || {
        lc.log("fails").contains("not restarting")
    });
    let took = start.elapsed();
    let log = lc.log("fails");
    assert_eq!(
        log.matches("run\n").count(),
        4,
        "one run and 3 restarts: {log}"
    );
    // 250 ms, then 500, then 1000: each wait doubles.
    for ms in ["250 ms", "500 ms", "1000 ms"] {
        assert!(log.contains(&format!("restarting in {ms}")), "{log}");
    }
    assert!(
        took >= Duration::from_millis(1750),
        "the backoff was waited: {took:?}"
    );
    assert!(
        log.ends_with("qing: fails exited 1; not restarting\n"),
        "the exit reason: {log}"
    );
    lc.wait_for("the supervisor to end", || common::name_is_free("fails"));
    assert_eq!(lc.q(&["status", "fails"]).code, 3);
    lc.assert_gone("fails");
}

#[test]
fn stop_ends_an_always_restarting_container_for_good() {
    if common::skip_without_any(&["named"]) {
        return;
    }
    let lc = Lc::new("always");
    lc.create(
        "loop",
        &["--restart", "always"],
        "echo up; sleep 0.2; exit 0",
    );
    lc.ok(&["start", "loop"]);
    lc.wait_for("a restart", || lc.log("loop").matches("up\n").count() >= 2);
    lc.ok(&["stop", "--time", "5", "loop"]);
    lc.assert_gone("loop");
    let runs = lc.log("loop").matches("up\n").count();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        lc.log("loop").matches("up\n").count(),
        runs,
        "no run after stop"
    );
}

#[test]
fn a_log_written_ten_times_its_cap_leaves_at_most_twice_the_cap() {
    if common::skip_without_any(&["named"]) {
        return;
    }
    let lc = Lc::new("logcap");
    // 40 lines of 1 KiB: ten times the 4 KiB cap.
    lc.create(
        "chatty",
        &["--log-size", "4k"],
        "i=0; while [ $i -lt 40 ]; do printf '%01023d\\n' $i; i=$((i+1)); done; echo done",
    );
    lc.ok(&["start", "chatty"]);
    lc.wait_for("the end", || lc.log("chatty").contains("not restarting"));
    let rotated = std::fs::read_to_string(lc.root.join("log/chatty.log.1")).unwrap();
    assert!(
        (rotated + &lc.log("chatty")).contains("done\n"),
        "the last line is kept"
    );
    let total: u64 = std::fs::read_dir(lc.root.join("log"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(total <= 2 * 4096, "{total} bytes of logs for a 4k cap");
    assert!(lc.root.join("log/chatty.log.1").exists(), "one rotation");
    lc.ok(&["stop", "chatty"]);
}

#[test]
fn a_killed_supervisor_takes_its_container_down_and_stop_cleans_up() {
    if common::skip_without_any(&["named"]) {
        return;
    }
    let lc = Lc::new("sigkill");
    lc.create("victim", &[], "echo up; sleep 600");
    lc.ok(&["start", "victim"]);
    let pid: i32 = std::fs::read_to_string(lc.root.join("run/containers/victim.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    lc.wait_for("the container to go", || common::name_is_free("victim"));
    let out = lc.q(&["status", "victim"]);
    assert_eq!(out.code, 3, "status tells the truth: {out:?}");
    lc.ok(&["stop", "victim"]);
    lc.assert_gone("victim");
    assert!(processes_mentioning("sleep 600").is_empty());
}

#[test]
fn of_two_concurrent_starts_exactly_one_wins() {
    if common::skip_without_any(&["named"]) {
        return;
    }
    let lc = Lc::new("race");
    lc.create("one", &[], "sleep 600");
    let spawn = || {
        Command::new(qing_bin())
            .arg("--root")
            .arg(&lc.root)
            .args(["start", "one"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    let codes: Vec<i32> = outs.iter().map(|o| o.status.code().unwrap()).collect();
    assert!(codes.contains(&0) && codes.contains(&125), "{codes:?}");
    let loser = outs.iter().find(|o| o.status.code() == Some(125)).unwrap();
    assert!(
        String::from_utf8_lossy(&loser.stderr).contains("already running"),
        "{loser:?}"
    );
    lc.ok(&["stop", "one"]);
    lc.assert_gone("one");
}

#[test]
fn a_configs_capabilities_are_what_its_keys_say() {
    if common::skip_without_any(&["named"]) {
        return;
    }
    let lc = Lc::new("capcfg");
    let script = "grep CapBnd /proc/self/status";
    // Written by create from the options...
    lc.create(
        "capopts",
        &["--cap-drop", "ALL", "--cap-add", "NET_ADMIN"],
        script,
    );
    let config = std::fs::read_to_string(lc.root.join("etc/capopts.json")).unwrap();
    assert!(
        config.contains(r#""cap_add": ["NET_ADMIN"]"#) && config.contains(r#""cap_drop": ["ALL"]"#),
        "{config}"
    );
    // ...and by hand.
    let rootfs = rootfs().display().to_string();
    let text = format!(
        r#"{{"rootfs": "{rootfs}", "cap_drop": ["CHOWN"], "command": ["/bin/sh", "-c", "{script}"]}}"#
    );
    std::fs::write(lc.root.join("etc/capfile.json"), text).unwrap();
    for (name, bounding) in [("capopts", 0x1000u64), ("capfile", 0xa80425fa)] {
        lc.ok(&["start", name]);
        lc.wait_for("the container's end", || lc.q(&["status", name]).code == 3);
        let log = lc.log(name);
        assert_eq!(
            log.lines().next(),
            Some(format!("CapBnd:\t{bounding:016x}").as_str()),
            "{name}: {log}"
        );
        lc.assert_gone(name);
    }
}

#[test]
fn bad_configs_and_unknown_names_get_clear_errors_and_leave_nothing() {
    if common::skip_without_any(&["named", "exec"]) {
        return;
    }
    let lc = Lc::new("bad");
    std::fs::create_dir_all(lc.root.join("etc")).unwrap();
    let rootfs = rootfs().display().to_string();
    let cases = [
        (
            "unknownkey",
            format!(r#"{{"rootfs": "{rootfs}", "memroy": "1g"}}"#),
            "unknown key \"memroy\"",
        ),
        (
            "wrongtype",
            format!(r#"{{"rootfs": "{rootfs}", "pids": [1]}}"#),
            "key \"pids\"",
        ),
        (
            "badvalue",
            format!(r#"{{"rootfs": "{rootfs}", "memory": "12x"}}"#),
            "key \"memory\"",
        ),
        (
            "norootfs",
            r#"{"memory": "64m"}"#.to_string(),
            "no \"rootfs\"",
        ),
        (
            "missing",
            r#"{"rootfs": "/nonexistent-rootfs"}"#.to_string(),
            "no such file or directory",
        ),
        ("notjson", "{ rootfs".to_string(), "not valid JSON"),
        (
            "badcap",
            format!(r#"{{"rootfs": "{rootfs}", "cap_add": ["NET_ADMINN"]}}"#),
            "key \"cap_add\"",
        ),
        (
            "badseccomp",
            format!(r#"{{"rootfs": "{rootfs}", "seccomp": "strict"}}"#),
            "key \"seccomp\"",
        ),
    ];
    for (name, text, says) in cases {
        std::fs::write(lc.root.join(format!("etc/{name}.json")), text).unwrap();
        let out = lc.q(&["start", name]);
        assert_eq!(out.code, 125, "{name}: {out:?}");
        assert!(
            out.stderr.contains(says),
            "{name} should say {says:?}: {out:?}"
        );
        assert!(
            out.stderr.contains(&format!("{name}.json")),
            "{name}: names the file: {out:?}"
        );
        lc.assert_gone(name);
    }
    for args in [
        ["stop", "nosuch"],
        ["logs", "nosuch"],
        ["rm", "nosuch"],
        ["stats", "nosuch"],
    ] {
        let out = lc.q(&args);
        assert_eq!(out.code, 125, "{args:?}: {out:?}");
        assert!(
            out.stderr.contains("no container named \"nosuch\""),
            "{out:?}"
        );
    }
    assert_eq!(lc.q(&["status", "nosuch"]).code, 4);
    let out = lc.q(&["exec", "nosuch", "true"]);
    assert_eq!(out.code, 125, "{out:?}");
    assert!(
        out.stderr
            .contains("no container named \"nosuch\" is running"),
        "{out:?}"
    );
    for (args, says) in [
        (vec!["create", "--memory", "12x", "x", &rootfs], "--memory"),
        (
            vec!["create", "--restart", "sometimes", "x", &rootfs],
            "--restart",
        ),
        (
            vec!["create", "bad/name", &rootfs],
            "not a valid container name",
        ),
        (vec!["stop", "--time", "soon", "x"], "--time"),
        (vec!["start"], "NAME"),
    ] {
        let out = lc.q(&args);
        assert_eq!(out.code, 125, "{args:?}: {out:?}");
        assert!(
            out.stderr.contains(says),
            "{args:?} should say {says}: {out:?}"
        );
    }
    assert!(
        !lc.root.join("etc/x.json").exists(),
        "a bad create writes nothing"
    );
    lc.create("dup", &[], "true");
    let out = lc.q(&["create", "dup", &rootfs]);
    assert_eq!(out.code, 125, "{out:?}");
    assert!(out.stderr.contains("exists already"), "{out:?}");
    lc.create("busy", &[], "sleep 600");
    lc.ok(&["start", "busy"]);
    let out = lc.q(&["rm", "busy"]);
    assert_eq!(out.code, 125, "{out:?}");
    assert!(out.stderr.contains("is running"), "{out:?}");
    lc.ok(&["stop", "busy"]);
}

#[test]
fn in_the_foreground_qing_is_the_supervisor_and_forwards_sigterm() {
    if common::skip_without_any(&["named"]) {
        return;
    }
    let lc = Lc::new("fg");
    lc.create(
        "svc",
        &[],
        "trap 'echo got TERM; exit 7' TERM; echo up; while :; do sleep 0.1; done",
    );
    let mut child = Command::new(qing_bin())
        .arg("--root")
        .arg(&lc.root)
        .args(["start", "--foreground", "svc"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert_eq!(line, "up\n");
    assert_eq!(lc.q(&["status", "svc"]).code, 0);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    line.clear();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert_eq!(line, "got TERM\n");
    assert_eq!(
        child.wait().unwrap().code(),
        Some(7),
        "the container's status"
    );
    lc.assert_gone("svc");
}

#[test]
fn start_all_starts_the_autostart_configs_in_their_order() {
    if common::skip_without_any(&["named"]) {
        return;
    }
    let lc = Lc::new("all");
    let shared = lc.root.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    let vol = format!("{}:/shared", shared.display());
    lc.create(
        "second",
        &["--autostart", "--order", "2", "--volume", &vol],
        "echo second >> /shared/order; sleep 600",
    );
    lc.create(
        "first",
        &["--autostart", "--order", "1", "--volume", &vol],
        "echo first >> /shared/order; sleep 600",
    );
    lc.create(
        "manual",
        &["--volume", &vol],
        "echo manual >> /shared/order; sleep 600",
    );
    lc.ok(&["start", "--all"]);
    lc.wait_for("both", || {
        std::fs::read_to_string(shared.join("order")).is_ok_and(|t| t.lines().count() == 2)
    });
    assert_eq!(
        std::fs::read_to_string(shared.join("order")).unwrap(),
        "first\nsecond\n"
    );
    assert_eq!(lc.q(&["status", "manual"]).code, 3);
    for n in ["first", "second"] {
        lc.ok(&["stop", n]);
        lc.assert_gone(n);
    }
}

#[test]
fn two_hundred_start_stop_cycles_leak_nothing() {
    if common::skip_without_any(&["named", "squashfs"]) {
        return;
    }
    let lc = Lc::new("cycles");
    // From the squashfs image, so that loop devices are counted too.
    let image = rootfs().parent().unwrap().join("busybox.squashfs");
    lc.ok(&[
        "create",
        "cyc",
        &image.display().to_string(),
        "--",
        "/bin/sleep",
        "600",
    ]);
    let count = |what: &str| -> usize {
        match what {
            "mounts" => std::fs::read_to_string("/proc/self/mountinfo")
                .unwrap()
                .lines()
                .count(),
            "loops" => loops_backed_by(image.parent().unwrap()).len(),
            "files" => std::fs::read_dir(lc.root.join("run/containers")).map_or(0, |d| d.count()),
            _ => unreachable!(),
        }
    };
    let before = (count("mounts"), count("loops"));
    for i in 0..200 {
        let out = lc.q(&["start", "cyc"]);
        assert_eq!(out.code, 0, "cycle {i}: {out:?}");
        let out = lc.q(&["stop", "cyc"]);
        assert_eq!(out.code, 0, "cycle {i}: {out:?}");
    }
    assert_eq!(
        (count("mounts"), count("loops")),
        before,
        "mounts or loop devices leaked"
    );
    assert_eq!(count("files"), 0, "state files or pidfiles leaked");
    lc.assert_gone("cyc");
}

/// The host's /dev/log as this test's own syslog: the socket is bound there when the
/// host has none (and removed after); a host with a syslog daemon keeps it, and qing
/// then runs in a private mount namespace where the test's socket covers /dev/log.
struct Syslog {
    socket: std::os::unix::net::UnixDatagram,
    path: PathBuf,
    own_dev_log: bool,
}

impl Syslog {
    fn new(tag: &str) -> Syslog {
        let own_dev_log = !Path::new("/dev/log").exists();
        let path = if own_dev_log {
            PathBuf::from("/dev/log")
        } else {
            std::env::temp_dir().join(format!("qing-syslog-{tag}-{}", std::process::id()))
        };
        let _ = std::fs::remove_file(&path);
        let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Syslog {
            socket,
            path,
            own_dev_log,
        }
    }

    /// `qing ARGS` where /dev/log is this socket.
    fn qing(&self, lc: &Lc, args: &[&str]) -> i32 {
        let mut c = Command::new(qing_bin());
        c.arg("--root").arg(&lc.root).args(args);
        c.stdin(std::process::Stdio::null());
        if !self.own_dev_log {
            common::with_paths_covered(&mut c, vec![(self.path.clone(), "/dev/log".into())]);
        }
        c.status().unwrap().code().unwrap_or(-1)
    }

    fn next(&self) -> String {
        let mut buf = [0u8; 2048];
        let n = self.socket.recv(&mut buf).expect("a syslog message");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

impl Drop for Syslog {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[test]
fn logs_can_go_to_syslog_line_by_line_with_the_container_name() {
    if common::skip_without_any(&["named"]) {
        return;
    }
    let lc = Lc::new("syslog");
    let syslog = Syslog::new("syslog");
    lc.create(
        "chatty",
        &["--log", "syslog"],
        "echo first line; echo second line >&2; while :; do sleep 1; done",
    );
    assert_eq!(syslog.qing(&lc, &["start", "chatty"]), 0);
    let mut got = vec![syslog.next(), syslog.next()];
    got.sort();
    assert_eq!(
        got,
        [
            "<14>qing/chatty: first line",
            "<14>qing/chatty: second line"
        ]
    );
    assert!(
        !lc.root.join("log/chatty.log").exists(),
        "nothing goes to the file"
    );
    lc.ok(&["stop", "chatty"]);
    assert!(syslog
        .next()
        .starts_with("<14>qing/chatty: qing: chatty exited"));
    lc.assert_gone("chatty");
}

#[test]
fn a_stop_just_after_a_start_is_never_lost() {
    if common::skip_without_any(&["named", "squashfs"]) {
        return;
    }
    // A stop that comes while the container is still being started waits for the
    // start to finish, then stops it with SIGTERM, not after its grace time. The
    // start is kept slow where it matters, between the claim on the name and the
    // container's first process: the image is verified there, and every start must
    // hash it again because it is touched before each.
    let lc = Lc::new("stopearly");
    let images = lc.root.join("img");
    std::fs::create_dir_all(&images).unwrap();
    let built = rootfs().parent().unwrap();
    for f in ["busybox.squashfs", "busybox.json"] {
        std::fs::copy(built.join(f), images.join(f)).unwrap();
    }
    let image = images.join("busybox.squashfs");
    let image_arg = image.display().to_string();
    lc.ok(&[
        "create",
        "early",
        &image_arg,
        "--",
        "/bin/sh",
        "-c",
        "echo up; sleep 600",
    ]);
    for _ in 0..10 {
        std::fs::File::options()
            .write(true)
            .open(&image)
            .and_then(|f| f.set_modified(std::time::SystemTime::now()))
            .unwrap();
        let main = Command::new(qing_bin())
            .arg("--root")
            .arg(&lc.root)
            .args(["start", "--foreground", "early"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // No sleep between polls: the stop must come as early as it can.
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut main = main;
        while !common::is_claimed("early") {
            if Instant::now() >= deadline || main.try_wait().unwrap().is_some() {
                let _ = main.kill();
                let out = main.wait_with_output().unwrap();
                panic!("never claimed: {out:?}");
            }
        }
        let asked = Instant::now();
        lc.ok(&["stop", "--time", "30", "early"]);
        assert!(
            asked.elapsed() < Duration::from_secs(10),
            "the SIGTERM was lost: stop waited for its grace time"
        );
        let main = main.wait_with_output().unwrap();
        let said = String::from_utf8_lossy(&main.stderr);
        assert_eq!(main.status.code(), Some(143), "{said}");
        lc.assert_gone("early");
    }
}

#[test]
fn logs_tail_and_follow_and_restart_starts_anew() {
    if common::skip_without_any(&["named"]) {
        return;
    }
    let lc = Lc::new("logs");
    lc.create(
        "talk",
        &[],
        "for i in 1 2 3 4 5; do echo line$i; done; sleep 2; echo later; sleep 600",
    );
    lc.ok(&["start", "talk"]);
    lc.wait_for("five lines", || lc.log("talk").contains("line5\n"));
    assert_eq!(lc.ok(&["logs", "--tail", "2", "talk"]), "line4\nline5\n");
    let bad = lc.q(&["logs", "--tail", "two", "talk"]);
    assert_eq!(bad.code, 125, "{bad:?}");

    // --follow prints what is there, then what comes.
    let mut follower = Command::new(qing_bin())
        .arg("--root")
        .arg(&lc.root)
        .args(["logs", "--follow", "talk"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines =
        std::io::BufRead::lines(std::io::BufReader::new(follower.stdout.take().unwrap()));
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l == "later") {
        seen.push(lines.next().expect("follow keeps reading").unwrap());
    }
    assert_eq!(seen[..5], ["line1", "line2", "line3", "line4", "line5"]);
    follower.kill().unwrap();
    follower.wait().unwrap();

    let before = std::fs::read_to_string(lc.root.join("run/containers/talk.pid")).unwrap();
    lc.ok(&["restart", "--time", "2", "talk"]);
    assert_eq!(lc.q(&["status", "talk"]).code, 0);
    let after = std::fs::read_to_string(lc.root.join("run/containers/talk.pid")).unwrap();
    assert_ne!(before, after, "a new supervisor");
    lc.wait_for("the second run", || {
        lc.log("talk").matches("line5\n").count() == 2
    });
    lc.ok(&["stop", "talk"]);
    lc.assert_gone("talk");
}
