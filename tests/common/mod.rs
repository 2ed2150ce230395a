//! Harness for tests that run real containers: the real qing binary, as root, on a
//! real busybox rootfs. Every test gets its own state root and container name, so
//! tests run in parallel and each one checks that nothing of its container is left:
//! no mount, cgroup, state directory or process.
//!
//! QING_BIN picks another binary (a cross build under qemu-user, say) and
//! QING_TEST_ROOTFS another rootfs; by default the debug build runs on a busybox
//! rootfs that rootfs-templates/build.sh makes once under target/.
#![allow(dead_code)] // each test binary uses a different part

pub mod apps;
pub mod buildroot;
pub mod docker;
pub mod named;
pub mod net;
pub mod service;
pub mod yocto;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub fn qing_bin() -> PathBuf {
    std::env::var_os("QING_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_qing")))
}

pub fn rootfs() -> &'static Path {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS.get_or_init(|| {
        if let Some(dir) = std::env::var_os("QING_TEST_ROOTFS") {
            return PathBuf::from(dir);
        }
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = repo.join("target/test-rootfs");
        let dir = out.join("busybox");
        if !dir.join("bin/busybox").exists() {
            let status = Command::new(repo.join("rootfs-templates/build.sh"))
                .args(["busybox", "amd64"])
                .arg(&out)
                .status()
                .expect("run rootfs-templates/build.sh");
            assert!(status.success(), "building the busybox test rootfs failed");
        }
        dir
    })
}

/// The features of the qing under test, as `qing version` lists them.
pub fn features() -> &'static [String] {
    static FEATURES: OnceLock<Vec<String>> = OnceLock::new();
    FEATURES.get_or_init(|| {
        let out = Command::new(qing_bin())
            .arg("version")
            .output()
            .expect("run qing version");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("features:"))
            .unwrap_or_default();
        line.split_whitespace().map(str::to_string).collect()
    })
}

/// Every build option, as Cargo.toml's default features list them, in its order: what
/// the Buildroot sub-options and Yocto's PACKAGECONFIG must offer.
pub fn cargo_features() -> Vec<String> {
    let toml = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .expect("read Cargo.toml");
    let list = toml
        .lines()
        .find_map(|l| l.strip_prefix("default = ["))
        .and_then(|l| l.strip_suffix(']'))
        .expect("Cargo.toml has a one-line `default = [...]`");
    list.split(',')
        .map(|f| f.trim().trim_matches('"').to_string())
        .filter(|f| !f.is_empty())
        .collect()
}

pub fn has_feature(name: &str) -> bool {
    features().iter().any(|f| f == name)
}

/// True (and says so) when the qing under test was built without `feature`: the
/// caller then skips, with that reason on its output.
pub fn skip_without(feature: &str) -> bool {
    if has_feature(feature) {
        return false;
    }
    say_skipped(&format!(
        "{} was built without the feature {feature}",
        qing_bin().display()
    ));
    true
}

/// Says why a test is skipped, on the real stderr: the test harness captures what
/// `eprintln!` prints for a test that passes, and a skip must never be silent.
pub fn say_skipped(why: &str) {
    use std::io::Write;
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    let _ = writeln!(std::io::stderr(), "skipped {test}: {why}");
}

/// `skip_without` for each of `features`.
pub fn skip_without_any(features: &[&str]) -> bool {
    features.iter().any(|f| skip_without(f))
}

/// True when a test must be skipped because this machine lacks `what` (`ok` false):
/// it says so, and how to get it. Under tests/run.sh, which installs everything first
/// (QING_REQUIRE_ALL=1), a missing prerequisite fails the test instead.
pub fn skip_unless(ok: bool, what: &str) -> bool {
    if ok {
        return false;
    }
    assert!(
        std::env::var_os("QING_REQUIRE_ALL").is_none(),
        "this test needs {what}, and tests/run.sh must provide it"
    );
    say_skipped(&format!("this machine lacks {what}"));
    true
}

/// Whether binaries for `arch` (qemu's name: aarch64, arm, mipsel) run here through
/// qemu-user: binfmt_misc has an enabled handler for them.
pub fn qemu_user(arch: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/fs/binfmt_misc/qemu-{arch}"))
        .is_ok_and(|s| s.starts_with("enabled"))
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// One test's container: a private state root and a unique name.
pub struct Container {
    pub name: String,
    pub state_root: PathBuf,
}

impl Container {
    pub fn new(test: &str) -> Container {
        let name = format!("{test}-{}", std::process::id());
        let state_root = std::env::temp_dir().join(format!("qing-test-{name}"));
        let _ = std::fs::remove_dir_all(&state_root);
        std::fs::create_dir_all(&state_root).unwrap();
        Container { name, state_root }
    }

    /// `qing --root R run --name N OPTS ROOTFS -- CMD`, not yet started.
    pub fn command(&self, opts: &[&str], rootfs: &Path, cmd: &[&str]) -> Command {
        let mut c = Command::new(qing_bin());
        c.arg("--root")
            .arg(&self.state_root)
            .args(["run", "--name", &self.name])
            .args(opts)
            .arg(rootfs);
        if !cmd.is_empty() {
            c.arg("--").args(cmd);
        }
        c.stdin(Stdio::null());
        c
    }

    pub fn run_in(&self, rootfs: &Path, opts: &[&str], cmd: &[&str]) -> Output {
        output(self.command(opts, rootfs, cmd))
    }

    pub fn run(&self, opts: &[&str], cmd: &[&str]) -> Output {
        self.run_in(rootfs(), opts, cmd)
    }

    /// Runs a shell script in the container.
    pub fn sh(&self, opts: &[&str], script: &str) -> Output {
        self.run(opts, &["/bin/sh", "-c", script])
    }

    /// Like `sh`, and asserts the container exited 0.
    pub fn sh_ok(&self, opts: &[&str], script: &str) -> String {
        let out = self.sh(opts, script);
        assert_eq!(out.code, 0, "{out:?}");
        out.stdout
    }

    /// Nothing of this container may remain once qing has returned.
    pub fn assert_no_leftovers(&self) {
        let root = self.state_root.display().to_string();
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let left: Vec<&str> = mountinfo
            .lines()
            .filter(|l| l.contains(&root) || l.contains(&self.name))
            .collect();
        assert!(left.is_empty(), "mounts left behind: {left:#?}");
        for dir in cgroup_dirs(&self.name) {
            assert!(!dir.exists(), "cgroup left behind: {}", dir.display());
        }
        // Runtime state: the scratch mount point stays empty on the host, and
        // nothing else is written per container.
        let run = self.state_root.join("run");
        for entry in std::fs::read_dir(&run).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == "net" {
                // The bridge's lock and lease files are shared: only a lease of this
                // container would be its leftover.
                for f in std::fs::read_dir(entry.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    let text = std::fs::read_to_string(f.path()).unwrap_or_default();
                    assert!(
                        !text
                            .lines()
                            .any(|l| l.ends_with(&format!(" {}", self.name))),
                        "lease left behind in {}: {text}",
                        f.path().display()
                    );
                }
                continue;
            }
            assert!(
                name == "scratch" || name == "no-overlayfs",
                "state left behind: {}",
                entry.path().display()
            );
        }
        let scratch: Vec<_> = std::fs::read_dir(run.join("scratch"))
            .into_iter()
            .flatten()
            .flatten()
            .collect();
        assert!(scratch.is_empty(), "scratch left behind: {scratch:?}");
        assert!(
            name_is_free(&self.name),
            "the name {} is still claimed",
            self.name
        );
        let procs = processes_mentioning(&self.name);
        assert!(procs.is_empty(), "processes left behind: {procs:?}");
        let loops = loops_backed_by(&self.state_root);
        assert!(loops.is_empty(), "loop devices left behind: {loops:?}");
    }

    /// For kills that leave the cleanup to the container's init: give it a moment.
    pub fn assert_no_leftovers_within(&self, limit: std::time::Duration) {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if std::panic::catch_unwind(|| self.assert_no_leftovers()).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        self.assert_no_leftovers();
    }

    /// `qing --root R ARGS`: a command other than run, with this container's state.
    pub fn q(&self, args: &[&str]) -> Output {
        let mut c = Command::new(qing_bin());
        c.arg("--root").arg(&self.state_root).args(args);
        c.stdin(Stdio::null());
        output(c)
    }

    /// Another container with the same state root (and so the same leases).
    pub fn sibling(&self, suffix: &str) -> Container {
        Container {
            name: format!("{}-{suffix}", self.name),
            state_root: self.state_root.clone(),
        }
    }

    /// The container's cgroup directories, as qing creates them in each hierarchy.
    pub fn cgroup_dirs(&self) -> Vec<PathBuf> {
        cgroup_dirs(&self.name)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        // Never delete through a mount that was left behind: the check reports it.
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        if !mountinfo.contains(&self.state_root.display().to_string()) {
            let _ = std::fs::remove_dir_all(&self.state_root);
        }
    }
}

/// The targets qing releases for, as cross/toolchain/targets.sh lists them.
pub fn release_targets() -> Vec<String> {
    let out = output({
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(". cross/toolchain/targets.sh && echo \"$known_targets\"")
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        c
    });
    assert_eq!(out.code, 0, "{out:?}");
    out.stdout.split_whitespace().map(String::from).collect()
}

/// `cross/build.sh TARGET [CARGO FLAGS]`: the path of the release binary it made (its
/// last line).
pub fn release_build(target: &str, cargo_flags: &[&str]) -> PathBuf {
    let out = output({
        let mut c = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("cross/build.sh"));
        c.arg(target).args(cargo_flags);
        c
    });
    assert_eq!(out.code, 0, "cross/build.sh {target}: {out:?}");
    PathBuf::from(out.stdout.lines().last().unwrap_or_default())
}

pub fn output(mut c: Command) -> Output {
    let out = c.output().expect("start qing");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// What DIR holds, hidden files included, sorted ([] when DIR is missing): what a
/// failed build must not have left there.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Mount points of every cgroup hierarchy on this machine.
pub fn cgroup_mounts() -> Vec<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mountinfo
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let fstype = right.split(' ').next()?;
            (fstype == "cgroup" || fstype == "cgroup2")
                .then(|| PathBuf::from(left.split(' ').nth(4).unwrap()))
        })
        .collect()
}

fn cgroup_dirs(name: &str) -> Vec<PathBuf> {
    cgroup_mounts()
        .into_iter()
        .map(|m| m.join("qing").join(name))
        .collect()
}

/// Loop devices bound to a file under `dir`, as "loopN: FILE".
pub fn loops_backed_by(dir: &Path) -> Vec<String> {
    let dir = dir.display().to_string();
    std::fs::read_dir("/sys/block")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let file = std::fs::read_to_string(e.path().join("loop/backing_file")).ok()?;
            file.starts_with(&dir)
                .then(|| format!("{}: {}", e.file_name().to_string_lossy(), file.trim_end()))
        })
        .collect()
}

/// PIDs whose command line names the container.
pub fn processes_mentioning(name: &str) -> Vec<String> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| e.file_name().to_string_lossy() != me)
        .filter(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            cmdline.split(|b| *b == 0).any(|arg| arg == name.as_bytes())
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// A directory holding the probe `tests/probes/NAME.c`, built static (so that it runs
/// in any container it is bound into) once per test binary.
pub fn probe_dir(name: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-probe"));
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|b| b == name) {
        std::fs::create_dir_all(&dir).unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/probes/{name}.c"));
        let building = dir.join(format!("{name}.{}", std::process::id()));
        let status = Command::new("gcc")
            .args(["-static", "-O2", "-o"])
            .arg(&building)
            .arg(&src)
            .status()
            .unwrap();
        assert!(status.success(), "gcc -static {}", src.display());
        std::fs::rename(building, dir.join(name)).unwrap();
        built.push(name.to_string());
    }
    dir
}

/// A private copy of the busybox rootfs that a test may change.
pub struct RootfsCopy(pub PathBuf);

impl RootfsCopy {
    pub fn new(tag: &str) -> RootfsCopy {
        let dir =
            std::env::temp_dir().join(format!("qing-test-rootfs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let status = Command::new("cp")
            .arg("-a")
            .arg(rootfs())
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success());
        RootfsCopy(dir)
    }
}

impl Drop for RootfsCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The value of a `Key:\tvalue` line of /proc/PID/status text.
pub fn status_field<'a>(status: &'a str, key: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {key} in {status}"))
}

/// Makes `c` run in a private mount namespace where each `(source, target)` is bound
/// over its target: a stand-in for the host's /dev/log, tools hidden under
/// /dev/null. The host's mounts are not touched.
pub fn with_paths_covered(c: &mut Command, covers: Vec<(PathBuf, PathBuf)>) {
    // SAFETY: unshare and mount are async-signal-safe system calls; the paths were
    // made before fork.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(c, move || {
            use nix::mount::{mount, MsFlags};
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)?;
            let private = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
            mount(None::<&str>, "/", None::<&str>, private, None::<&str>)?;
            for (source, target) in &covers {
                mount(
                    Some(source),
                    target,
                    None::<&str>,
                    MsFlags::MS_BIND,
                    None::<&str>,
                )?;
            }
            Ok(())
        });
    }
}

/// Where qing's claims on container names are (`state::NAMES`).
pub const NAMES: &str = "/run/qing/names";

/// Whether some process holds the claim on `name`: a lock on NAMES/NAME, asked
/// about without taking it, so it can be polled while qing is claiming the name.
pub fn is_claimed(name: &str) -> bool {
    use nix::fcntl::{fcntl, FcntlArg};
    let Ok(file) = std::fs::File::open(Path::new(NAMES).join(name)) else {
        return false;
    };
    // SAFETY: flock is plain old data, and all zeros is a valid value.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as libc::c_short;
    fcntl(&file, FcntlArg::F_OFD_GETLK(&mut lock)).unwrap();
    i32::from(lock.l_type) != libc::F_UNLCK
}

/// Whether nothing of the claim on `name` is left: no holder, and no file.
pub fn name_is_free(name: &str) -> bool {
    !is_claimed(name) && !Path::new(NAMES).join(name).exists()
}

/// A container running in the background, its command's stdout piped back.
pub struct Running {
    pub child: std::process::Child,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Container {
    /// Starts `script` in the container and returns once it printed its first line,
    /// which must be `first_line`. Its stdin is a pipe the test may close.
    pub fn start(&self, opts: &[&str], script: &str, first_line: &str) -> Running {
        self.start_in(rootfs(), opts, script, first_line)
    }

    /// Like `start`, on another rootfs (an image, a manifest, a template name).
    pub fn start_in(
        &self,
        rootfs: &Path,
        opts: &[&str],
        script: &str,
        first_line: &str,
    ) -> Running {
        let mut child = self
            .command(opts, rootfs, &["/bin/sh", "-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start qing");
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut running = Running { child, stdout };
        assert_eq!(running.next_line(), format!("{first_line}\n"));
        running
    }
}

impl Running {
    pub fn next_line(&mut self) -> String {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut self.stdout, &mut line).unwrap();
        line
    }

    /// Sends `signal` to `qing run` itself.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }

    /// Closes the command's stdin, waits, and returns qing's exit status.
    pub fn wait(mut self) -> Option<i32> {
        drop(self.child.stdin.take());
        self.child.wait().unwrap().code()
    }
}
