//! `qing check`, and qing on a machine where no cgroup filesystem is mounted.

mod common;
use common::{output, qing_bin, rootfs, Container};
use std::process::Command;

#[test]
fn check_reports_every_feature_and_passes_on_this_machine() {
    let out = output({
        let mut c = Command::new(qing_bin());
        c.arg("check");
        c
    });
    assert_eq!(out.code, 0, "{out:?}");
    for feature in [
        "mount namespace",
        "PID namespace",
        "UTS namespace",
        "IPC namespace",
        "network namespace",
        "cgroup namespace",
        "memory controller",
        "pids controller",
        "cpu controller",
        "tmpfs",
        "devpts",
        "overlayfs",
        "squashfs",
        "loop devices",
        "veth",
        "bridge",
        "nft or iptables", // tests/run.sh installs iptables
        "seccomp filters",
        "pivot_root",
    ] {
        let line = out
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(feature));
        // A build reports what it needs: images need squashfs, the bridge veth.
        let needed_by = match feature {
            "squashfs" | "loop devices" => Some("squashfs"),
            "veth" | "bridge" | "nft or iptables" => Some("bridge"),
            _ => None,
        };
        if let Some(f) = needed_by.filter(|f| !common::has_feature(f)) {
            assert!(
                line.is_none(),
                "{feature} reported without the feature {f}: {out:?}"
            );
            continue;
        }
        let line = line.unwrap_or_else(|| panic!("{feature} not reported: {out:?}"));
        // qemu-user refuses seccomp for the programs it emulates.
        let emulated = std::env::var_os("QING_TEST_EMULATED").is_some();
        if !(emulated && feature == "seccomp filters") {
            assert!(line.contains(" OK"), "{line}");
        }
    }
    // The trials ran in a throwaway namespace: none of their links or mounts remain.
    assert!(!std::path::Path::new("/sys/class/net/qing-probe0").exists());
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mountinfo.contains(" - overlay "), "a trial mount leaked");
    let trial_loops = common::loops_backed_by(std::path::Path::new("/"))
        .into_iter()
        .filter(|l| l.contains("empty.squashfs"))
        .collect::<Vec<_>>();
    assert!(
        trial_loops.is_empty(),
        "the squashfs trial's loop device leaked: {trial_loops:?}"
    );
}

/// Runs `script` in a private mount namespace with every cgroup mount removed.
#[test]
fn check_kconfig_prints_the_kernel_options_of_the_features_built_in() {
    let out = output({
        let mut c = Command::new(qing_bin());
        c.args(["check", "--kconfig"]);
        c
    });
    assert_eq!(out.code, 0, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[0].starts_with("# The kernel options qing ") && lines[0].contains("features: "),
        "{out:?}"
    );
    for line in &lines[1..] {
        let name = line
            .strip_suffix("=y")
            .unwrap_or_else(|| panic!("{line:?}"));
        assert!(
            name.starts_with("CONFIG_")
                && name[7..]
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
            "{line:?}"
        );
    }
    let has = |option: &str| lines.contains(&format!("{option}=y").as_str());
    for core in [
        "CONFIG_NAMESPACES",
        "CONFIG_PID_NS",
        "CONFIG_MEMCG",
        "CONFIG_CGROUP_PIDS",
    ] {
        assert!(has(core), "{core}: {out:?}");
    }
    // A feature's options come with the feature, and only with it.
    assert_eq!(
        has("CONFIG_SQUASHFS"),
        common::has_feature("squashfs"),
        "{out:?}"
    );
    assert_eq!(has("CONFIG_VETH"), common::has_feature("bridge"), "{out:?}");
}

fn without_cgroups(script: &str) -> common::Output {
    output({
        let mut c = Command::new("unshare");
        c.args(["-m", "--propagation", "private", "sh", "-c"]);
        c.arg(format!(
            "umount -R /sys/fs/cgroup 2>/dev/null || umount -l /sys/fs/cgroup; {script}"
        ));
        c
    })
}

#[test]
fn check_names_the_kernel_option_of_what_is_missing() {
    let out = without_cgroups(&format!("{} check", qing_bin().display()));
    assert_eq!(
        out.code, 0,
        "controllers still exist in the kernel: {out:?}"
    );
    assert!(
        out.stdout.contains("no cgroup filesystem mounted"),
        "{out:?}"
    );
    assert!(
        out.stdout.contains("qing mounts a cgroup filesystem"),
        "{out:?}"
    );
}

#[test]
fn with_no_cgroup_filesystem_mounted_qing_mounts_one_and_limits_still_apply() {
    let c = Container::new("nocgroup");
    let script = format!(
        "{} --root {} run --name {} --memory 64m --pids 16 {} -- sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max'; \
         echo exit=$?; grep -c -E ' - cgroup2? ' /proc/self/mountinfo",
        qing_bin().display(),
        c.state_root.display(),
        c.name,
        rootfs().display()
    );
    let out = without_cgroups(&script);
    assert!(out.stdout.starts_with("67108864\nexit=0\n"), "{out:?}");
    let mounted: u32 = out.stdout.lines().last().unwrap().parse().unwrap();
    assert!(mounted >= 1, "qing mounted no cgroup filesystem: {out:?}");
    c.assert_no_leftovers();
}

#[test]
fn check_fails_and_names_the_remedy_when_a_required_controller_is_missing() {
    if !std::path::Path::new("/sys/fs/cgroup/memory").exists() {
        return; // not a v1 or hybrid host: nothing to unmount
    }
    // The kernel has a memory controller, but this namespace mounts no hierarchy of it.
    let out = output({
        let mut c = Command::new("unshare");
        c.args(["-m", "--propagation", "private", "sh", "-c"]);
        c.arg(format!(
            "umount /sys/fs/cgroup/memory && {} check",
            qing_bin().display()
        ));
        c
    });
    assert_eq!(out.code, 1, "{out:?}");
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("memory controller"))
        .unwrap();
    assert!(
        line.contains("MISSING") && line.contains("mount -t cgroup -o memory"),
        "{line}"
    );
    assert!(
        out.stdout.contains("1 required feature(s) missing"),
        "{out:?}"
    );
}
