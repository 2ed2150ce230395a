//! The security baseline, attacked from inside real containers.

mod common;
use common::{output, qing_bin, rootfs, status_field, Container, RootfsCopy};
use std::process::Command;

/// Docker's default set.
const DEFAULT_CAPS: &str = "00000000a80425fb";

#[test]
fn capabilities_are_cut_to_the_default_set_and_nothing_is_inheritable() {
    let c = Container::new("caps");
    let root = c.sh_ok(&[], "cat /proc/self/status");
    for key in ["CapBnd", "CapEff", "CapPrm"] {
        assert_eq!(status_field(&root, key), DEFAULT_CAPS, "{key}");
    }
    assert_eq!(status_field(&root, "CapInh"), "0000000000000000");
    assert_eq!(status_field(&root, "CapAmb"), "0000000000000000");
    assert_eq!(status_field(&root, "NoNewPrivs"), "1");
    let user = c.sh_ok(&["--user", "1000"], "cat /proc/self/status");
    assert_eq!(status_field(&user, "CapEff"), "0000000000000000");
    assert_eq!(status_field(&user, "CapPrm"), "0000000000000000");
    assert_eq!(status_field(&user, "CapBnd"), DEFAULT_CAPS);
    assert_eq!(status_field(&user, "NoNewPrivs"), "1");
    c.assert_no_leftovers();
}

/// CapBnd and CapEff of a container run with `opts`, and whether `ip link set lo mtu`
/// (CAP_NET_ADMIN in its own network namespace) and `chown` (CAP_CHOWN) worked.
fn caps_with(c: &Container, opts: &[&str]) -> (String, String, bool, bool) {
    let out = c.sh_ok(
        opts,
        "grep -E '^Cap(Bnd|Eff)' /proc/self/status; touch /tmp/f; \
         ip link set lo mtu 1400 2>/dev/null && echo net_admin; \
         chown 1 /tmp/f 2>/dev/null && echo chown; true",
    );
    (
        status_field(&out, "CapBnd").to_string(),
        status_field(&out, "CapEff").to_string(),
        out.lines().any(|l| l == "net_admin"),
        out.lines().any(|l| l == "chown"),
    )
}

#[test]
fn capabilities_are_added_and_dropped_by_dockers_names_and_rules() {
    let c = Container::new("cap-opts");
    let default = (
        DEFAULT_CAPS.to_string(),
        DEFAULT_CAPS.to_string(),
        false,
        true,
    );
    assert_eq!(caps_with(&c, &[]), default);
    // A name with or without CAP_, in any case; it takes effect, not only in status.
    let net_admin = format!("{:016x}", 0xa80425fbu64 | 1 << 12);
    for name in ["NET_ADMIN", "cap_net_admin"] {
        assert_eq!(
            caps_with(&c, &["--cap-add", name]),
            (net_admin.clone(), net_admin.clone(), true, true),
            "{name}"
        );
    }
    let no_chown = format!("{:016x}", 0xa80425fbu64 & !1);
    assert_eq!(
        caps_with(&c, &["--cap-drop", "CHOWN"]),
        (no_chown.clone(), no_chown, false, false)
    );
    // ALL dropped: only what is added; the user is still switched without SETUID or
    // SETGID, and the set is empty in every respect.
    let zero = "0000000000000000".to_string();
    assert_eq!(
        caps_with(&c, &["--cap-drop", "ALL"]),
        (zero.clone(), zero.clone(), false, false)
    );
    let out = c.sh_ok(
        &["--cap-drop", "ALL", "--user", "1000"],
        "id -u; grep -E '^Cap(Bnd|Prm)' /proc/self/status",
    );
    assert_eq!(out, format!("1000\nCapPrm:\t{zero}\nCapBnd:\t{zero}\n"));
    assert_eq!(
        caps_with(&c, &["--cap-drop", "all", "--cap-add", "NET_ADMIN"]),
        (
            "0000000000001000".into(),
            "0000000000001000".into(),
            true,
            false
        )
    );
    // ALL added: every capability this host has (this qing's own bounding set), less
    // the dropped.
    let host = status_field(
        &std::fs::read_to_string("/proc/self/status").unwrap(),
        "CapBnd",
    )
    .to_string();
    let host = u64::from_str_radix(&host, 16).unwrap();
    let all_but_raw = format!("{:016x}", host & ((1 << 41) - 1) & !(1 << 13));
    let got = caps_with(&c, &["--cap-add", "ALL", "--cap-drop", "NET_RAW"]);
    assert_eq!((&got.0, &got.1), (&all_but_raw, &all_but_raw));
    c.assert_no_leftovers();
}

#[test]
fn a_capability_the_host_lacks_is_refused_by_name_and_all_means_what_it_has() {
    // As on this machine, whose bounding set lacks CAP_SYS_RESOURCE: made so here
    // for qing alone, so that the test means the same everywhere.
    let c = Container::new("cap-missing");
    let qing = |opts: &[&str]| {
        output({
            let mut cmd = Command::new("setpriv");
            cmd.args(["--bounding-set", "-sys_resource", "--inh-caps=-all"]);
            cmd.arg(qing_bin())
                .arg("--root")
                .arg(&c.state_root)
                .args(["run", "--name", &c.name])
                .args(opts)
                .arg(rootfs())
                .args(["--", "/bin/grep", "CapBnd", "/proc/self/status"]);
            cmd
        })
    };
    let out = qing(&["--cap-add", "sys_resource"]);
    assert_eq!(out.code, 125, "{out:?}");
    assert!(
        out.stderr.contains("--cap-add SYS_RESOURCE")
            && out.stderr.contains("bounding set")
            && out.stdout.is_empty(),
        "{out:?}"
    );
    c.assert_no_leftovers();
    let out = qing(&["--cap-add", "ALL"]);
    assert_eq!(out.code, 0, "{out:?}");
    let bounding = u64::from_str_radix(status_field(&out.stdout, "CapBnd"), 16).unwrap();
    assert_eq!(bounding & 1 << 24, 0, "{out:?}");
    assert_ne!(bounding & 1 << 21, 0, "ALL has CAP_SYS_ADMIN: {out:?}");
    c.assert_no_leftovers();
}

#[test]
fn no_descriptor_leaks_into_the_container() {
    let c = Container::new("fds");
    // The shell gives qing a descriptor of a host directory without close-on-exec.
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg("exec 7</ 8>/tmp/qing-leak-test; exec \"$@\"")
        .arg("sh")
        .arg(qing_bin());
    cmd.arg("--root")
        .arg(&c.state_root)
        .args(["run", "--name", &c.name])
        .arg(rootfs());
    cmd.args(["--", "/bin/sh", "-c", "ls /proc/self/fd | tr '\\n' ' '; echo; ls /proc/1/fd | tr '\\n' ' '; echo; readlink /proc/1/fd/0 || echo denied"]);
    let out = output(cmd);
    assert_eq!(out.code, 0, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines.first(),
        Some(&"0 1 2 3 "),
        "only stdio (and ls's own directory) may be open: {out:?}"
    );
    // The init keeps stdio, one cgroup directory per hierarchy and the claim on the
    // name with its directory, for cleaning up if qing run is killed, and the
    // signalfd it waits on; the container can open none of them.
    let init_fds: Vec<&str> = lines
        .get(1)
        .map(|l| l.split_whitespace().collect())
        .unwrap_or_default();
    assert!(
        init_fds.starts_with(&["0", "1", "2"]) && init_fds.len() <= 3 + 4 + 2 + 1,
        "{out:?}"
    );
    assert_eq!(
        lines.get(2),
        Some(&"denied"),
        "the init's descriptors are closed to the container: {out:?}"
    );
    let _ = std::fs::remove_file("/tmp/qing-leak-test");
    c.assert_no_leftovers();
}

#[test]
fn a_working_directory_through_a_leaked_descriptor_is_refused() {
    let c = Container::new("cwd-leak");
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg("exec 7</; exec \"$@\"")
        .arg("sh")
        .arg(qing_bin());
    cmd.arg("--root")
        .arg(&c.state_root)
        .args(["run", "--name", &c.name, "--workdir", "/proc/self/fd/7"])
        .arg(rootfs());
    cmd.args(["--", "/bin/sh", "-c", "pwd; ls"]);
    let out = output(cmd);
    assert_eq!(out.code, 125, "{out:?}");
    assert!(out.stderr.contains("working directory"), "{out:?}");
    assert!(
        !out.stdout.contains("proc") || !out.stdout.contains("boot"),
        "host root listed: {out:?}"
    );
    c.assert_no_leftovers();
}

fn sha256(path: &std::path::Path) -> String {
    let out = output({
        let mut c = Command::new("sha256sum");
        c.arg(path);
        c
    });
    out.stdout.split_whitespace().next().unwrap().to_string()
}

#[test]
fn the_host_qing_binary_cannot_be_written_from_inside() {
    // A private copy of the binary, so a failure cannot damage the one under test.
    let dir = std::env::temp_dir().join(format!("qing-exe-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("qing");
    std::fs::copy(qing_bin(), &bin).unwrap();
    let before = sha256(&bin);

    // An image whose commands lead back to the binary that starts it (CVE-2019-5736).
    let copy = RootfsCopy::new("exe");
    std::os::unix::fs::symlink("/proc/self/exe", copy.0.join("bin/evil")).unwrap();
    std::fs::write(copy.0.join("bin/evil.sh"), "#!/proc/self/exe\n").unwrap();
    std::fs::write(copy.0.join("bin/evil2.sh"), "#!/bin/evil.sh\n").unwrap();
    for f in ["evil.sh", "evil2.sh"] {
        Command::new("chmod")
            .arg("+x")
            .arg(copy.0.join("bin").join(f))
            .status()
            .unwrap();
    }
    let c = Container::new("exe");
    let run = |cmd: &[&str]| {
        output({
            let mut q = Command::new(&bin);
            q.arg("--root")
                .arg(&c.state_root)
                .args(["run", "--name", &c.name])
                .arg(&copy.0)
                .arg("--")
                .args(cmd);
            q
        })
    };
    // PID 1 is qing's init; every other process is the container's own.
    let attack = "for p in /proc/[0-9]*; do \
                    echo pwn > $p/exe 2>/dev/null && echo WROTE-$p; \
                    cat $p/exe > /dev/null 2>&1 && echo READ-$p; \
                    readlink $p/exe > /dev/null 2>&1 && echo LINK-$p; \
                    cat $p/mem > /dev/null 2>&1 && echo MEM-$p; \
                  done; true";
    let out = run(&["/bin/sh", "-c", attack]);
    assert_eq!(out.code, 0, "{out:?}");
    for leak in [
        "WROTE-/proc/1\n",
        "READ-/proc/1\n",
        "LINK-/proc/1\n",
        "MEM-/proc/1\n",
    ] {
        assert!(
            !out.stdout.contains(leak),
            "the init's /proc entries must be closed ({leak}): {out:?}"
        );
    }
    for cmd in [
        "/proc/self/exe",
        "/bin/evil",
        "/bin/evil.sh",
        "/bin/evil2.sh",
        "evil",
    ] {
        let out = run(&[cmd]);
        assert_eq!(out.code, 126, "{cmd}: {out:?}");
        assert!(out.stderr.contains("qing binary"), "{cmd}: {out:?}");
    }
    assert_eq!(sha256(&bin), before, "the host binary changed");
    std::fs::remove_dir_all(&dir).unwrap();
    c.assert_no_leftovers();
}

#[test]
fn volume_destinations_never_follow_a_symlink_out_of_the_root() {
    let outside = std::env::temp_dir().join(format!("qing-escape-{}", std::process::id()));
    std::fs::create_dir_all(&outside).unwrap();
    let copy = RootfsCopy::new("vol-escape");
    std::os::unix::fs::symlink(&outside, copy.0.join("escape")).unwrap();
    std::os::unix::fs::symlink("../../../../..", copy.0.join("etc/up")).unwrap();
    let src = std::env::temp_dir().join(format!("qing-vol-src-{}", std::process::id()));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), "volume").unwrap();
    let c = Container::new("vol-escape");
    let volume_a = format!("{}:/escape/inside", src.display());
    let volume_b = format!("{}:/etc/up/tmp/up", src.display());
    let out = c.run_in(
        &copy.0,
        &["--volume", &volume_a, "--volume", &volume_b],
        &["/bin/sh", "-c", "cat /escape/inside/f; echo; cat /tmp/up/f"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "volume\nvolume");
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "something was created outside the root"
    );
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mountinfo.contains(&outside.display().to_string()));
    std::fs::remove_dir_all(&outside).unwrap();
    std::fs::remove_dir_all(&src).unwrap();
    c.assert_no_leftovers();
}

#[test]
fn a_proc_or_dev_symlink_in_the_image_is_refused() {
    for dir in ["proc", "sys", "dev"] {
        let copy = RootfsCopy::new(&format!("link-{dir}"));
        std::fs::remove_dir(copy.0.join(dir)).unwrap();
        std::os::unix::fs::symlink("/tmp", copy.0.join(dir)).unwrap();
        let c = Container::new(&format!("link-{dir}"));
        let out = c.run_in(&copy.0, &[], &["/bin/true"]);
        assert_eq!(out.code, 125, "{out:?}");
        assert!(
            out.stderr.contains(&format!("/{dir}")) && out.stderr.contains("symlink"),
            "{out:?}"
        );
        c.assert_no_leftovers();
    }
}

#[test]
fn device_nodes_from_the_image_or_made_inside_cannot_be_opened() {
    // /dev/zero's numbers: such a node opens wherever devices are allowed (this
    // machine refuses its disk even to the host, so a disk node would prove nothing).
    let (major, minor) = (1, 5);
    let copy = RootfsCopy::new("nodes");
    let made = Command::new("mknod")
        .arg(copy.0.join("disk"))
        .args(["c", &major.to_string(), &minor.to_string()])
        .status();
    assert!(made.unwrap().success());
    let volume = std::env::temp_dir().join(format!("qing-nodes-vol-{}", std::process::id()));
    std::fs::create_dir_all(&volume).unwrap();
    let c = Container::new("nodes");
    let script = format!(
        "head -c 1 /disk > /dev/null 2>&1 && echo OPENED-image; \
         for d in / /dev /dev/shm /tmp /data; do \
           mknod $d/n c {major} {minor} && echo made-$d; head -c 1 $d/n > /dev/null 2>&1 && echo OPENED-$d; \
         done; true"
    );
    let spec = format!("{}:/data", volume.display());
    let out = c.run_in(&copy.0, &["--volume", &spec], &["/bin/sh", "-c", &script]);
    assert!(
        !out.stdout.contains("OPENED"),
        "a device node opened: {out:?}"
    );
    assert!(
        out.stdout.contains("made-/dev") && out.stdout.contains("made-/data"),
        "CAP_MKNOD is docker's: {out:?}"
    );
    std::fs::remove_dir_all(&volume).unwrap();
    c.assert_no_leftovers();
}

#[test]
fn a_host_without_some_default_capabilities_still_runs_containers() {
    // As on a machine whose bounding set lacks CAP_NET_RAW (and, like this one,
    // CAP_SYS_RESOURCE): the container gets the default set less what is missing.
    let c = Container::new("fewer-caps");
    let out = output({
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--bounding-set",
            "-net_raw,-sys_resource",
            "--inh-caps=-all",
        ]);
        cmd.arg(qing_bin())
            .arg("--root")
            .arg(&c.state_root)
            .args(["run", "--name", &c.name])
            .arg(rootfs());
        cmd.args(["--", "/bin/cat", "/proc/self/status"]);
        cmd
    });
    assert_eq!(out.code, 0, "{out:?}");
    let expected = format!("{:016x}", 0xa80425fbu64 & !(1 << 13));
    assert_eq!(status_field(&out.stdout, "CapBnd"), expected);
    assert_eq!(status_field(&out.stdout, "CapEff"), expected);
    c.assert_no_leftovers();
}
