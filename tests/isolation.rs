//! Isolation, asserted from inside real containers: namespaces, the init, the root
//! switch, the writable layer, and the kernel filesystems.

mod common;
use common::{rootfs, Container, RootfsCopy};
use nix::sys::signal::Signal;
use std::process::Stdio;
use std::time::Duration;

fn host_ns(ns: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{ns}"))
        .unwrap()
        .display()
        .to_string()
}

#[test]
fn every_namespace_is_new_and_only_net_host_shares_the_network() {
    let c = Container::new("ns-new");
    let script = "for n in mnt pid uts ipc net cgroup; do readlink /proc/self/ns/$n; done";
    let inside = c.sh_ok(&[], script);
    for (line, ns) in inside
        .lines()
        .zip(["mnt", "pid", "uts", "ipc", "net", "cgroup"])
    {
        assert_ne!(line, host_ns(ns), "{ns} namespace is the host's");
    }
    assert_eq!(inside.lines().count(), 6, "{inside}");
    let host_net = c.sh_ok(
        &["--net", "host"],
        "readlink /proc/self/ns/net; readlink /proc/self/ns/uts",
    );
    let mut lines = host_net.lines();
    assert_eq!(lines.next(), Some(host_ns("net").as_str()));
    assert_ne!(lines.next(), Some(host_ns("uts").as_str()));
    c.assert_no_leftovers();
}

#[test]
fn loopback_is_the_only_interface_and_is_up() {
    let c = Container::new("lo-up");
    let out = c.sh_ok(
        &[],
        "ls /sys/class/net; ip link show lo; ping -c 1 -W 2 127.0.0.1 >/dev/null && echo ping-ok",
    );
    assert!(out.starts_with("lo\n"), "{out}");
    assert!(out.contains("<LOOPBACK,UP"), "{out}");
    assert!(out.contains("ping-ok"), "{out}");
    c.assert_no_leftovers();
}

#[test]
fn the_command_runs_under_a_pid_1_init_that_exits_with_its_status() {
    let c = Container::new("pid1");
    let out = c.sh(
        &[],
        "grep PPid /proc/$$/status; grep PPid /proc/1/status; exit 42",
    );
    assert_eq!(out.code, 42, "{out:?}");
    assert_eq!(
        out.stdout, "PPid:\t1\nPPid:\t0\n",
        "the command's parent is the init, PID 1, whose parent is outside the namespace: {out:?}"
    );
    let killed = c.sh(&[], "kill -KILL $$");
    assert_eq!(killed.code, 137, "{killed:?}");
    assert!(
        !killed.stderr.contains("memory"),
        "no OOM message for a plain SIGKILL: {killed:?}"
    );
    c.assert_no_leftovers();
}

#[test]
fn the_init_reaps_orphaned_zombies() {
    let c = Container::new("reap");
    // Each subshell exits at once, leaving its sleep to be adopted by PID 1; after they
    // exit no process may be left a zombie.
    let script = "for i in 1 2 3 4 5; do (sleep 0.2 &); done; sleep 1; \
                  for s in /proc/[0-9]*/stat; do read -r a b st rest < $s 2>/dev/null && echo $st; done";
    let out = c.sh_ok(&[], script);
    assert!(!out.lines().any(|s| s == "Z"), "zombies remain: {out}");
    c.assert_no_leftovers();
}

/// Starts a container whose command traps every forwarded signal, sends `signal` to
/// qing itself, and returns qing's exit status.
fn exit_after_signal(c: &Container, signal: Signal) -> Option<i32> {
    let script = "for s in TERM INT HUP QUIT USR1 USR2; do trap \"echo got-$s; exit 0\" $s; done; \
                  echo ready; while :; do sleep 0.05; done";
    let mut running = c.start(&[], script, "ready");
    running.signal(signal);
    let line = running.next_line();
    assert!(
        line.starts_with("got-"),
        "the command did not see {signal}: {line:?}"
    );
    running.wait()
}

#[test]
fn signals_sent_to_qing_reach_the_command() {
    let c = Container::new("signals");
    for sig in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
    ] {
        assert_eq!(exit_after_signal(&c, sig), Some(0), "signal {sig}");
        c.assert_no_leftovers();
    }
}

#[test]
fn an_untrapped_sigterm_ends_the_container_with_143() {
    let c = Container::new("sigterm");
    let running = c.start(&[], "echo ready; exec sleep 30", "ready");
    std::thread::sleep(Duration::from_millis(100));
    running.signal(Signal::SIGTERM);
    assert_eq!(running.wait(), Some(143));
    c.assert_no_leftovers();
}

#[test]
fn the_host_root_is_unreachable_after_pivot_root_and_after_the_chroot_fallback() {
    let marker = format!("/qing-host-marker-{}", std::process::id());
    std::fs::write(&marker, "host").unwrap();
    let c = Container::new("pivot");
    for opts in [&[][..], &["--no-pivot"][..]] {
        let out = c.sh_ok(opts, &format!("test -e {marker} && echo visible; cat /proc/self/mountinfo; grep CapBnd /proc/self/status"));
        assert!(
            !out.contains("visible"),
            "host file visible with {opts:?}: {out}"
        );
        let root_line = out
            .lines()
            .find(|l| l.split(' ').nth(4) == Some("/"))
            .unwrap();
        assert!(
            root_line.contains(" - overlay "),
            "root is not the container's overlay: {root_line}"
        );
        assert!(
            !out.contains(&c.state_root.display().to_string()),
            "host paths show in mountinfo: {out}"
        );
        let chroot_cap = out.contains("CapBnd:\t00000000a80025fb");
        assert_eq!(
            chroot_cap,
            opts == ["--no-pivot"],
            "CAP_SYS_CHROOT only goes under the fallback: {out}"
        );
    }
    std::fs::remove_file(&marker).unwrap();
    c.assert_no_leftovers();
}

#[test]
fn the_root_is_writable_and_writes_never_reach_the_template() {
    let c = Container::new("overlay");
    let before = common::output({
        let mut l = std::process::Command::new("ls");
        l.arg("-la").arg(rootfs()).arg(rootfs().join("etc"));
        l
    });
    c.sh_ok(
        &[],
        "echo changed > /etc/passwd && touch /new-file && rm /bin/ls && mkdir /srv/x -p",
    );
    let after = c.sh_ok(&[], "ls /new-file 2>&1; grep -c root /etc/passwd");
    assert!(
        after.contains("No such file"),
        "writes must vanish on exit: {after}"
    );
    assert!(rootfs().join("bin/ls").exists() && !rootfs().join("new-file").exists());
    let passwd = std::fs::read_to_string(rootfs().join("etc/passwd")).unwrap();
    assert!(passwd.contains("root:"), "template changed: {passwd}");
    let again = common::output({
        let mut l = std::process::Command::new("ls");
        l.arg("-la").arg(rootfs()).arg(rootfs().join("etc"));
        l
    });
    assert_eq!(before.stdout, again.stdout, "template directory changed");
    c.assert_no_leftovers();
}

#[test]
fn read_only_root_keeps_tmp_and_run_writable() {
    let c = Container::new("ro");
    let out = c.sh(
        &["--read-only"],
        "touch /x 2>&1; touch /tmp/y && echo tmp-ok; touch /run/z && echo run-ok",
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("Read-only file system"), "{out:?}");
    assert!(
        out.stdout.contains("tmp-ok") && out.stdout.contains("run-ok"),
        "{out:?}"
    );
    c.assert_no_leftovers();
}

#[test]
fn a_read_only_root_gets_etc_files_bound_over_its_own() {
    let copy = RootfsCopy::new("ro-etc");
    for f in ["hostname", "hosts", "resolv.conf"] {
        std::fs::write(copy.0.join("etc").join(f), "from the image\n").unwrap();
    }
    let c = Container::new("ro-etc");
    let out = c.run_in(
        &copy.0,
        &["--read-only", "--hostname", "ro-box"],
        &["/bin/sh", "-c", "cat /etc/hostname /etc/hosts"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.starts_with("ro-box\n") && out.stdout.contains("127.0.1.1\tro-box"),
        "{out:?}"
    );
    assert_eq!(
        std::fs::read_to_string(copy.0.join("etc/hostname")).unwrap(),
        "from the image\n"
    );
    c.assert_no_leftovers();
}

#[test]
fn proc_hides_kernel_state_and_is_read_only_where_it_could_change_the_host() {
    let c = Container::new("proc");
    let script = "for f in /proc/keys /proc/timer_list /proc/kcore /proc/sysrq-trigger /proc/sched_debug; do \
                    [ -e $f ] && echo \"$f bytes=$(cat $f 2>/dev/null | wc -c)\"; done; \
                  ls /proc/acpi | wc -l; \
                  for d in sys bus fs irq; do grep -q \" /proc/$d ro,\" /proc/self/mountinfo && echo $d-ro; done; \
                  echo 1 > /proc/sys/vm/drop_caches 2>&1 || echo write-refused";
    let out = c.sh_ok(&[], script);
    for line in out.lines().filter(|l| l.starts_with("/proc/")) {
        assert!(line.ends_with("bytes=0"), "masked file readable: {line}");
    }
    assert!(out.contains("/proc/keys bytes=0"), "{out}");
    for d in ["sys-ro", "bus-ro", "fs-ro", "irq-ro"] {
        assert!(out.contains(d), "{d} missing: {out}");
    }
    assert!(out.contains("write-refused"), "{out}");
    c.assert_no_leftovers();
}

#[test]
fn sys_is_read_only_and_shows_the_containers_own_cgroups() {
    let c = Container::new("sys");
    let out = c.sh_ok(&[], "touch /sys/x 2>&1; grep ' /sys ' /proc/self/mountinfo; cat /proc/self/cgroup; ls /sys/fs/cgroup");
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(out.contains(" /sys ro,"), "{out}");
    for line in out.lines().filter(|l| l.contains(":/")) {
        assert!(
            line.ends_with(":/"),
            "cgroup namespace must root the container's cgroups: {line}"
        );
    }
    // Where the host has v1 hierarchies, runtimes also need cpuset and cpuacct to trust
    // what they read (JDK 17 ignores v1 limits without them).
    let host = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    for controller in ["cpuset", "cpuacct", "memory"] {
        let v1_has = host.lines().any(|l| {
            l.split_once(" - cgroup ")
                .is_some_and(|(_, opts)| opts.split([',', ' ']).any(|o| o == controller))
        });
        if v1_has {
            let inside = c.sh_ok(
                &[],
                &format!("grep -c ' - cgroup .*[, ]{controller}' /proc/self/mountinfo"),
            );
            assert_eq!(
                inside, "1\n",
                "the v1 {controller} hierarchy must be shown, once"
            );
        }
    }
    c.assert_no_leftovers();
}

#[test]
fn dev_is_minimal_with_working_pts_shm_and_mqueue() {
    let c = Container::new("dev");
    let out = c.sh_ok(
        &[],
        "ls /dev | sort | tr '\\n' ' '; echo; head -c 4 /dev/zero | wc -c; echo x > /dev/null && echo null-ok; \
         head -c 8 /dev/urandom | wc -c; echo shm > /dev/shm/f && cat /dev/shm/f; \
         grep -E ' /dev/(pts|mqueue) ' /proc/self/mountinfo | cut -d' ' -f5,9",
    );
    assert!(
        out.starts_with(
            "fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero \n"
        ),
        "{out}"
    );
    assert!(out.contains("null-ok") && out.contains("\nshm\n"), "{out}");
    assert!(
        out.contains("/dev/pts devpts") && out.contains("/dev/mqueue mqueue"),
        "{out}"
    );
    c.assert_no_leftovers();
}

#[test]
fn hostname_and_etc_files_follow_the_network_mode() {
    let c = Container::new("etc");
    let none = c.sh_ok(
        &["--hostname", "boxy"],
        "hostname; cat /etc/hostname; cat /etc/hosts; cat /etc/resolv.conf",
    );
    assert!(none.starts_with("boxy\nboxy\n"), "{none}");
    assert!(
        none.contains("127.0.0.1\tlocalhost") && none.contains("127.0.1.1\tboxy"),
        "{none}"
    );
    assert!(
        !none.contains("nameserver"),
        "no name servers without a network: {none}"
    );
    let host = c.sh_ok(
        &["--net", "host"],
        "cat /etc/resolv.conf; tail -n 1 /etc/hosts; hostname",
    );
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    assert!(
        host.starts_with(&host_resolv),
        "host mode shares the host's resolv.conf: {host}"
    );
    assert!(
        host.ends_with(&format!("127.0.1.1\t{0}\n{0}\n", c.name)),
        "default hostname is the name: {host}"
    );
    c.assert_no_leftovers();
}

#[test]
fn env_workdir_and_user_options_shape_the_process() {
    let c = Container::new("opts");
    // A copy with no manifest beside it: qing's own default PATH applies.
    let bare = RootfsCopy::new("opts");
    let out = c.run_in(
        &bare.0,
        &[
            "--env",
            "GREETING=hi there",
            "--workdir",
            "/srv/new/dir",
            "--user",
            "1000:1000",
        ],
        &[
            "/bin/sh",
            "-c",
            "echo \"$GREETING\"; pwd; id -u; id -g; echo $HOME; echo $PATH",
        ],
    );
    assert_eq!(out.stdout, "hi there\n/srv/new/dir\n1000\n1000\n/home/app\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n", "{out:?}");
    let named = c.sh_ok(&["--user", "nobody"], "id -u; id -g");
    assert_eq!(named, "65534\n65534\n");
    c.assert_no_leftovers();
}

#[test]
fn image_symlinks_at_etc_files_resolve_inside_the_root() {
    let copy = RootfsCopy::new("etc-links");
    let outside = std::env::temp_dir().join(format!("qing-outside-{}", std::process::id()));
    std::fs::create_dir_all(&outside).unwrap();
    // Templates ship /etc/hosts (and resolv.conf): the image has links there instead.
    for f in ["etc/hosts", "etc/resolv.conf"] {
        let _ = std::fs::remove_file(copy.0.join(f));
    }
    std::os::unix::fs::symlink(outside.join("hosts"), copy.0.join("etc/hosts")).unwrap();
    std::os::unix::fs::symlink(
        "../../../../../../../../run/resolve/stub.conf",
        copy.0.join("etc/resolv.conf"),
    )
    .unwrap();
    let c = Container::new("etc-links");
    let out = c.run_in(
        &copy.0,
        &[],
        &["/bin/sh", "-c", "cat /etc/hosts; ls /run/resolve"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("localhost") && out.stdout.contains("stub.conf"),
        "{out:?}"
    );
    assert!(
        !outside.join("hosts").exists(),
        "a file was created outside the root"
    );
    std::fs::remove_dir_all(&outside).unwrap();
    c.assert_no_leftovers();
}

#[test]
fn the_default_command_is_a_shell() {
    let c = Container::new("default-sh");
    let mut cmd = c.command(&[], rootfs(), &[]);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"echo from-sh $0\nexit 3\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from-sh /bin/sh\n");
    c.assert_no_leftovers();
}

#[test]
fn a_relative_root_and_closed_stdio_work_as_init_scripts_give_them() {
    let c = Container::new("rel-root");
    let dir = c.state_root.join("cwd");
    std::fs::create_dir_all(&dir).unwrap();
    // Started from a shell that closed stdin, stdout and stderr, with --root relative
    // to its directory; the command writes a file to show it ran.
    let out = common::output({
        let mut cmd = std::process::Command::new("/bin/sh");
        cmd.current_dir(&dir)
            .arg("-c")
            .arg("\"$@\" 0<&- 1>&- 2>&-; echo exit=$?")
            .arg("sh");
        cmd.arg(common::qing_bin())
            .args(["--root", "relative-state", "run", "--name", &c.name]);
        cmd.arg(rootfs())
            .args(["--volume", &format!("{}:/out", dir.display())]);
        cmd.args([
            "--",
            "/bin/sh",
            "-c",
            "readlink /proc/self/fd/0 > /out/stdin-is",
        ]);
        cmd
    });
    assert_eq!(out.stdout, "exit=0\n", "{out:?}");
    let stdin_is = std::fs::read_to_string(dir.join("stdin-is")).unwrap();
    assert_eq!(stdin_is, "/dev/null\n", "closed stdio becomes /dev/null");
    assert!(dir.join("relative-state/run/scratch").is_dir());
    c.assert_no_leftovers();
}
