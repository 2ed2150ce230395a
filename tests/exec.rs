//! `qing exec`: one more process in a running container, with the container's
//! namespaces, cgroups, user and restrictions; and what a hostile container can see
//! of the process while it is still qing.

mod common;
use common::{output, qing_bin, Container, Output};
use std::process::Command;

fn exec(c: &Container, args: &[&str]) -> Output {
    let mut q = Command::new(qing_bin());
    q.arg("--root").arg(&c.state_root).arg("exec").args(args);
    q.stdin(std::process::Stdio::null());
    output(q)
}

/// The host's view of a process's namespaces, as `readlink /proc/PID/ns/X` prints.
fn namespaces_of(pid: &str) -> Vec<String> {
    ["pid", "ipc", "uts", "net", "cgroup", "mnt"]
        .iter()
        .map(|ns| {
            std::fs::read_link(format!("/proc/{pid}/ns/{ns}"))
                .unwrap()
                .display()
                .to_string()
        })
        .collect()
}

/// The container's command (the init's first child), as the host numbers it.
fn command_pid(c: &Container) -> String {
    let procs: Vec<String> = c
        .cgroup_dirs()
        .iter()
        .flat_map(|d| {
            std::fs::read_to_string(d.join("cgroup.procs"))
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    let status = |p: &str| std::fs::read_to_string(format!("/proc/{p}/status")).unwrap_or_default();
    let inner = |p: &str| -> u32 {
        let s = status(p);
        common::status_field(&s, "NSpid")
            .rsplit('\t')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let init = procs
        .iter()
        .find(|p| inner(p) == 1)
        .expect("the container's init")
        .clone();
    procs
        .iter()
        .filter(|p| common::status_field(&status(p), "PPid") == init)
        .min_by_key(|p| inner(p))
        .expect("the container's command")
        .clone()
}

#[test]
fn exec_joins_every_namespace_and_cgroup_of_the_container() {
    if common::skip_without_any(&["exec"]) {
        return;
    }
    let c = Container::new("exec-ns");
    let running = c.start(&[], "echo up; read x; exit 0", "up");
    let expected = namespaces_of(&command_pid(&c));
    let script = "for n in pid ipc uts net cgroup mnt; do readlink /proc/self/ns/$n; done; \
                  cat /proc/self/cgroup; hostname; echo $$";
    let out = exec(&c, &[&c.name, "/bin/sh", "-c", script]);
    assert_eq!(out.code, 0, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[..6].to_vec(), expected, "{out:?}");
    // Inside the container's cgroup namespace, its own cgroups are the root.
    let cgroup_lines: Vec<&&str> = lines[6..].iter().filter(|l| l.contains(':')).collect();
    assert!(!cgroup_lines.is_empty());
    for l in cgroup_lines {
        assert!(l.ends_with(":/"), "exec is in the container's cgroups: {l}");
    }
    assert!(
        out.stdout.contains(&format!("\n{}\n", c.name)),
        "its hostname"
    );
    let pid: u32 = lines.last().unwrap().parse().unwrap();
    assert!(pid > 2, "a PID of the container's namespace: {pid}");
    assert_eq!(running.wait(), Some(0));
    c.assert_no_leftovers();
}

#[test]
fn exec_runs_as_the_container_does_unless_told_otherwise() {
    if common::skip_without_any(&["exec"]) {
        return;
    }
    let c = Container::new("exec-user");
    let running = c.start(
        &["--user", "app", "--env", "COLOR=blue", "--workdir", "/tmp"],
        "echo up; read x; exit 0",
        "up",
    );
    let host_status = std::fs::read_to_string(format!("/proc/{}/status", command_pid(&c))).unwrap();
    let script =
        "id -u; pwd; echo $COLOR $HOME; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status";
    let out = exec(&c, &[&c.name, "/bin/sh", "-c", script]);
    assert_eq!(out.code, 0, "{out:?}");
    let mut expected = String::from("1000\n/tmp\nblue /home/app\n");
    for key in ["CapBnd", "CapEff", "NoNewPrivs"] {
        expected.push_str(&format!(
            "{key}:\t{}\n",
            common::status_field(&host_status, key)
        ));
    }
    let sorted = |s: &str| {
        let mut l: Vec<String> = s.lines().map(str::to_string).collect();
        l.sort();
        l
    };
    assert_eq!(sorted(&out.stdout), sorted(&expected), "{out:?}");

    let out = exec(
        &c,
        &[
            "--user",
            "0",
            "--env",
            "COLOR=red",
            "--workdir",
            "/etc",
            &c.name,
            "/bin/sh",
            "-c",
            "id -u; pwd; echo $COLOR $HOME",
        ],
    );
    assert_eq!(out.stdout, "0\n/etc\nred /root\n", "{out:?}");
    assert_eq!(running.wait(), Some(0));
    c.assert_no_leftovers();
}

#[test]
fn exec_gives_the_capabilities_the_container_was_given() {
    if common::skip_without_any(&["exec"]) {
        return;
    }
    let c = Container::new("exec-caps");
    let running = c.start(
        &[
            "--cap-drop",
            "ALL",
            "--cap-add",
            "NET_ADMIN",
            "--cap-add",
            "KILL",
        ],
        "echo up; read x; exit 0",
        "up",
    );
    let script = "grep -E '^Cap(Bnd|Eff)' /proc/self/status; ip link set lo mtu 1400 && echo net_admin; chown 1 /tmp 2>/dev/null || echo no chown";
    let expected = "CapEff:\t0000000000001020\nCapBnd:\t0000000000001020\nnet_admin\nno chown\n";
    let out = exec(&c, &[&c.name, "/bin/sh", "-c", script]);
    assert_eq!((out.code, out.stdout.as_str()), (0, expected), "{out:?}");
    let out = exec(&c, &["--user", "0", &c.name, "/bin/sh", "-c", script]);
    assert_eq!((out.code, out.stdout.as_str()), (0, expected), "{out:?}");
    assert_eq!(running.wait(), Some(0));
    c.assert_no_leftovers();
}

#[test]
fn exec_gives_the_command_exit_status_and_the_shell_conventions() {
    if common::skip_without_any(&["exec"]) {
        return;
    }
    let c = Container::new("exec-codes");
    let running = c.start(&[], "echo up; read x; exit 0", "up");
    assert_eq!(exec(&c, &[&c.name, "/bin/sh", "-c", "exit 7"]).code, 7);
    assert_eq!(
        exec(&c, &[&c.name, "/bin/sh", "-c", "kill -TERM $$"]).code,
        143
    );
    let out = exec(&c, &[&c.name, "no-such-command"]);
    assert_eq!(out.code, 127, "{out:?}");
    let out = exec(&c, &[&c.name, "/etc/passwd"]);
    assert_eq!(out.code, 126, "{out:?}");
    let out = exec(&c, &[&c.name, "/proc/self/exe"]);
    assert_eq!(out.code, 126, "{out:?}");
    assert!(out.stderr.contains("qing binary"), "{out:?}");
    // Only its stdio: no descriptor of the host or of qing comes along.
    let out = exec(&c, &[&c.name, "/bin/ls", "/proc/self/fd"]);
    assert_eq!(out.stdout, "0\n1\n2\n3\n", "{out:?}");
    assert_eq!(running.wait(), Some(0));
    c.assert_no_leftovers();
}

#[test]
fn exec_on_a_container_that_is_not_running_is_a_clear_error() {
    if common::skip_without_any(&["exec"]) {
        return;
    }
    let c = Container::new("exec-none");
    for (args, says) in [
        (vec![c.name.as_str(), "true"], "is running"),
        (vec!["bad/name", "true"], "name"),
        (vec![c.name.as_str()], "needs a command"),
        (vec!["--user", "x:y:z", c.name.as_str(), "true"], "--user"),
        (vec!["--env", "=v", c.name.as_str(), "true"], "--env"),
    ] {
        let out = exec(&c, &args);
        assert_eq!(out.code, 125, "{args:?}: {out:?}");
        assert!(out.stderr.contains(says), "{args:?}: {out:?}");
    }
    c.assert_no_leftovers();
}

/// While the joined process is still qing, in the container's PID namespace and with
/// the container's capabilities already, the container must not reach the host
/// binary through it (the runc /proc/self/exe escape class). A FIFO as the command
/// holds it there: qing reads a command's `#!` line before executing it.
#[test]
fn the_container_cannot_reach_the_host_binary_through_a_joining_process() {
    if common::skip_without_any(&["exec"]) {
        return;
    }
    let c = Container::new("exec-exe");
    let attacker = "mkfifo /tmp/cmd; chmod +x /tmp/cmd; echo up; read go; \
                    for p in /proc/[0-9]*; do n=${p#/proc/}; \
                      [ $n = 1 ] || [ $n = $$ ] && continue; \
                      if readlink $p/exe; then echo LINK $n; else echo DENIED $n; fi; \
                      cat $p/exe > /dev/null 2>&1 && echo READ $n; \
                      echo x 2>/dev/null > $p/exe && echo WROTE $n; \
                      cat $p/environ > /dev/null 2>&1 && echo ENVIRON $n; \
                    done 2>&1; \
                    echo '#!/bin/sh' > /tmp/cmd; echo done; read x; exit 0";
    let mut running = c.start(&[], attacker, "up");
    let command = command_pid(&c);
    let (confined_caps, init) = {
        let s = std::fs::read_to_string(format!("/proc/{command}/status")).unwrap();
        let caps = common::status_field(&s, "CapEff").to_string();
        (caps, common::status_field(&s, "PPid").to_string())
    };
    let mut joining = Command::new(qing_bin());
    joining
        .arg("--root")
        .arg(&c.state_root)
        .args(["exec", &c.name, "/tmp/cmd"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let joining = joining.spawn().unwrap();
    // Wait for the joined process to be confined (it then blocks on the FIFO).
    let confined = || {
        c.cgroup_dirs().iter().any(|d| {
            let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
            procs.lines().any(|p| {
                // Neither the init nor one of its children (the attacker): the
                // joined process, whose parent is qing exec on the host.
                std::fs::read_to_string(format!("/proc/{p}/status")).is_ok_and(|s| {
                    *p != init
                        && common::status_field(&s, "PPid") != init
                        && common::status_field(&s, "CapEff") == confined_caps
                })
            })
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !confined() {
        assert!(
            std::time::Instant::now() < deadline,
            "the joined process never appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    use std::io::Write;
    writeln!(running.child.stdin.as_mut().unwrap(), "go").unwrap();
    let mut report = String::new();
    loop {
        let line = running.next_line();
        if line == "done\n" || line.is_empty() {
            break;
        }
        report.push_str(&line);
    }
    assert!(
        report.contains("DENIED"),
        "the attacker saw the joined process: {report}"
    );
    for leak in ["LINK", "READ", "WROTE", "ENVIRON", "qing"] {
        assert!(!report.contains(leak), "{leak}: {report}");
    }
    // A FIFO cannot be executed.
    let joined = joining.wait_with_output().unwrap();
    assert_eq!(joined.status.code(), Some(126), "{joined:?}");
    assert_eq!(running.wait(), Some(0));
    c.assert_no_leftovers();
}
