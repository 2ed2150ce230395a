//! The init integration under boards/, driven for real: the sysvinit/busybox script
//! under sh with its exit codes, the OpenWrt procd script through a stand-in for
//! procd's shell API (its commands are then run as procd would run them), and the
//! systemd unit checked by systemd-analyze and its Exec lines run as systemd would.

mod common;
use common::named::Lc;
use common::qing_bin;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn board_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("boards")
        .join(path)
}

/// The settings file the scripts read: this test's qing and state root.
fn defaults(lc: &Lc) -> PathBuf {
    let file = lc.root.join("defaults");
    let text = format!(
        "QING={}\nQING_OPTS=\"--root {}\"\nQING_CONFIG_DIR={}\nQING_STOP_TIME=3\n",
        qing_bin().display(),
        lc.root.display(),
        lc.root.join("etc").display()
    );
    std::fs::write(&file, text).unwrap();
    file
}

/// `sh SCRIPT ARGS` with QING_DEFAULTS set; its exit code.
fn sh(lc: &Lc, script: &Path, args: &[&str]) -> i32 {
    let out = Command::new("sh")
        .arg(script)
        .args(args)
        .env("QING_DEFAULTS", defaults(lc))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    out.status.code().unwrap_or(-1)
}

/// Container names are machine-wide: each test prefixes its own.
fn three_configs(lc: &Lc, prefix: &str) -> [String; 3] {
    let [early, late, manual] = ["early", "late", "manual"].map(|n| format!("{prefix}-{n}"));
    lc.create(
        &late,
        &["--autostart", "--order", "2"],
        "echo up; sleep 600",
    );
    lc.create(
        &early,
        &["--autostart", "--order", "1"],
        "echo up; sleep 600",
    );
    lc.create(&manual, &[], "echo up; sleep 600");
    [early, late, manual]
}

fn status(lc: &Lc, name: &str) -> i32 {
    lc.q(&["status", name]).code
}

fn supervisor_of(lc: &Lc, name: &str) -> String {
    std::fs::read_to_string(lc.root.join(format!("run/containers/{name}.pid"))).unwrap_or_default()
}

#[test]
fn the_sysvinit_script_starts_stops_restarts_and_reports_with_lsb_codes() {
    if common::skip_without_any(&["named"]) {
        return;
    }
    let lc = Lc::new("sysv");
    let [early, late, manual] = three_configs(&lc, "sv");
    let (early, late, manual) = (early.as_str(), late.as_str(), manual.as_str());
    let script = board_file("sysvinit/qing");
    let run = |args: &[&str]| sh(&lc, &script, args);

    assert_eq!(run(&["status"]), 3, "nothing runs yet");
    assert_eq!(run(&["start"]), 0);
    assert_eq!((status(&lc, early), status(&lc, late)), (0, 0));
    assert_eq!(status(&lc, manual), 3, "not autostart");
    assert_eq!(run(&["status"]), 0, "every autostart container runs");

    assert_eq!(run(&["status", manual]), 3);
    assert_eq!(run(&["start", manual]), 0);
    assert_eq!(
        run(&["start", manual]),
        0,
        "starting a running one succeeds"
    );
    assert_eq!(run(&["status", manual]), 0);

    // Linked as qing.NAME, the script is the service of that one container.
    let link = lc.root.join(format!("qing.{manual}"));
    std::os::unix::fs::symlink(&script, &link).unwrap();
    assert_eq!(sh(&lc, &link, &["status"]), 0);
    assert_eq!(sh(&lc, &link, &["stop"]), 0);
    assert_eq!(sh(&lc, &link, &["status"]), 3);
    assert_eq!(
        sh(&lc, &link, &["stop"]),
        0,
        "stopping a stopped one succeeds"
    );
    lc.assert_gone(manual);

    let before = supervisor_of(&lc, early);
    assert_eq!(run(&["restart", early]), 0);
    assert_eq!(status(&lc, early), 0);
    assert_ne!(supervisor_of(&lc, early), before, "a new supervisor");

    assert_eq!(run(&["stop"]), 0);
    assert_eq!(run(&["status"]), 3);
    for name in [early, late, manual] {
        lc.assert_gone(name);
    }
    assert_eq!(run(&["status", "nosuch"]), 4, "unknown");
    assert_eq!(run(&["start", "nosuch"]), 1);
    assert_eq!(run(&["bogus"]), 2, "bad arguments");
    assert_eq!(run(&[]), 2);
}

/// procd's shell API as far as the script uses it: every instance it opens is
/// printed as "NAME COMMAND...", and a parameter procd lacks is an error.
const PROCD_STANDIN: &str = r#"
procd_open_instance() { instance=$1; command=; }
procd_set_param() {
    key=$1; shift
    case $key in
        command) command="$*" ;;
        stdout|stderr|term_timeout|respawn|env|limits|file|pidfile) ;;
        *) echo "procd has no parameter $key" >&2; exit 90 ;;
    esac
}
procd_close_instance() { echo "$instance $command"; }
start() { start_service; }
stop() { stop_service; }
. "$SCRIPT"
"$@"
"#;

fn procd(lc: &Lc, action: &str) -> (i32, String) {
    let out = Command::new("sh")
        .args(["-c", PROCD_STANDIN, "procd", action])
        .env("SCRIPT", board_file("openwrt/qing"))
        .env("QING_DEFAULTS", defaults(lc))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn spawn_line(line: &str) -> Child {
    let words: Vec<&str> = line.split_whitespace().collect();
    Command::new(words[0])
        .args(&words[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_exit(child: &mut Child) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code().unwrap_or(-1);
        }
        assert!(
            Instant::now() < deadline,
            "the supervised qing did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_procd_script_gives_procd_qing_commands_that_run_and_stop() {
    if common::skip_without_any(&["named"]) {
        return;
    }
    let script = board_file("openwrt/qing");
    let syntax = Command::new("sh").arg("-n").arg(&script).status().unwrap();
    assert!(syntax.success(), "sh -n {}", script.display());

    let lc = Lc::new("procd");
    let [early, late, _] = three_configs(&lc, "pd");
    let (code, instances) = procd(&lc, "start_service");
    assert_eq!(code, 0, "{instances}");
    let names: Vec<&str> = instances
        .lines()
        .filter_map(|l| l.split(' ').next())
        .collect();
    assert_eq!(names, [early, late], "the autostart configs: {instances}");
    // procd runs each command and watches it.
    let mut children: Vec<(String, Child)> = Vec::new();
    for line in instances.lines() {
        let (name, command) = line.split_once(' ').unwrap();
        assert!(command.contains(" start --foreground "), "{command}");
        children.push((name.to_string(), spawn_line(command)));
    }
    for (name, _) in &children {
        lc.wait_for("the instance to run", || status(&lc, name) == 0);
    }
    assert_eq!(procd(&lc, "status_service").0, 0);
    let (code, out) = procd(&lc, "stop_service");
    assert_eq!(code, 0, "{out}");
    for (name, child) in &mut children {
        let code = wait_exit(child);
        assert!(code == 0 || code == 143, "{name}: qing exited {code}");
        lc.assert_gone(name);
    }
    assert_eq!(procd(&lc, "status_service").0, 3);
}

/// The unit's `Key=value` lines.
fn unit_values(unit: &str, key: &str) -> Vec<String> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_systemd_unit_verifies_and_its_commands_start_and_stop_the_container() {
    if common::skip_without_any(&["named"]) {
        return;
    }
    let unit = std::fs::read_to_string(board_file("systemd/qing@.service")).unwrap();
    let bin = qing_bin().display().to_string();
    let lc = Lc::new("systemd");
    // systemd-analyze checks that the binary exists: point it at the one under test.
    let dir = lc.root.join("units");
    std::fs::create_dir_all(&dir).unwrap();
    let instance = dir.join("qing@web.service");
    std::fs::write(&instance, unit.replace("/usr/bin/qing", &bin)).unwrap();
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&instance)
        .output()
        .expect("systemd-analyze (apt install systemd)");
    let complaints = String::from_utf8_lossy(&verify.stderr);
    assert!(
        verify.status.success() && complaints.trim().is_empty(),
        "systemd-analyze verify: {complaints}"
    );
    assert_eq!(
        unit_values(&unit, "ConditionPathExists"),
        ["/etc/qing/%i.json"],
        "qing's default config dir"
    );

    // As systemd would: %i is the instance; this test's state root goes in.
    lc.create("sd-web", &[], "echo up; sleep 600");
    let command = |key: &str| {
        let values = unit_values(&unit, key);
        assert_eq!(values.len(), 1, "one {key}");
        values[0].replace("%i", "sd-web").replace(
            "/usr/bin/qing",
            &format!("{bin} --root {}", lc.root.display()),
        )
    };
    let mut main = spawn_line(&command("ExecStart"));
    lc.wait_for("the service to run", || status(&lc, "sd-web") == 0);
    let mut stop = spawn_line(&command("ExecStop"));
    assert_eq!(wait_exit(&mut stop), 0, "ExecStop");
    let code = wait_exit(&mut main);
    let success: Vec<i32> = unit_values(&unit, "SuccessExitStatus")
        .iter()
        .flat_map(|v| v.split_whitespace().filter_map(|c| c.parse().ok()))
        .chain([0])
        .collect();
    assert!(success.contains(&code), "the main process exited {code}");
    assert_eq!(status(&lc, "sd-web"), 3);
    lc.assert_gone("sd-web");
}
