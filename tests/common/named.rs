//! Named containers for the tests that drive them (lifecycle, init scripts): one
//! test's qing with its own state root, configs in ROOT/etc, and what must be gone
//! once a container has stopped.

use super::{output, processes_mentioning, qing_bin, rootfs, Output};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// One test's qing: `--root ROOT`, configs in ROOT/etc.
pub struct Lc {
    pub root: PathBuf,
}

impl Lc {
    pub fn new(tag: &str) -> Lc {
        let root = std::env::temp_dir().join(format!("qing-lc-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        Lc { root }
    }

    pub fn q(&self, args: &[&str]) -> Output {
        let mut c = Command::new(qing_bin());
        c.arg("--root").arg(&self.root).args(args);
        c.stdin(std::process::Stdio::null());
        output(c)
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.q(args);
        assert_eq!(out.code, 0, "qing {args:?}: {out:?}");
        out.stdout
    }

    pub fn create(&self, name: &str, opts: &[&str], script: &str) {
        let rootfs = rootfs().display().to_string();
        let mut args = vec!["create"];
        args.extend_from_slice(opts);
        args.extend([name, rootfs.as_str(), "--", "/bin/sh", "-c", script]);
        self.ok(&args);
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.root.join(format!("log/{name}.log"))).unwrap_or_default()
    }

    pub fn wait_for(&self, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Nothing of `name` runs or remains but its config: no claim, cgroup, mount,
    /// record, pidfile or process.
    pub fn assert_gone(&self, name: &str) {
        assert!(super::name_is_free(name), "{name} is still claimed");
        for m in super::cgroup_mounts() {
            let d = m.join("qing").join(name);
            assert!(!d.exists(), "cgroup left: {}", d.display());
        }
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(
            !mountinfo.contains(&self.root.display().to_string()),
            "mount left under the root"
        );
        for f in [format!("{name}.json"), format!("{name}.pid")] {
            let p = self.root.join("run/containers").join(f);
            assert!(!p.exists(), "state file left: {}", p.display());
        }
        let procs: Vec<_> = processes_mentioning(name)
            .into_iter()
            .filter(|p| {
                std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                    .is_ok_and(|c| c.contains(&*self.root.display().to_string()))
            })
            .collect();
        assert!(procs.is_empty(), "processes left: {procs:?}");
    }
}

impl Drop for Lc {
    fn drop(&mut self) {
        // Stop whatever a failed test left running, then remove the root.
        for e in std::fs::read_dir(self.root.join("etc"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Some(n) = e.file_name().to_str().and_then(|n| n.strip_suffix(".json")) {
                let _ = self.q(&["stop", "--time", "1", n]);
            }
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
