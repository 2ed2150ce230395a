//! The fixed cgroup tree: every container lives at `qing/NAME` in each hierarchy it
//! uses. One face for the launcher; v1, v2 and hybrid layouts sit behind it.
//!
//! A container uses the hierarchy of each controller qing limits (memory, cpu, pids),
//! and the v2 tree too when one is mounted, so that it always has a v2 home for its
//! cgroup namespace and for killing everything in it at once.

pub mod existing;
pub mod files;
pub mod layout;

use crate::error::{Context, Error, Result};
use crate::spec::{Limits, CPU_PERIOD_US};
use layout::{Controller, Hierarchy, Layout, CONTROLLERS};
use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// The container's directory in one hierarchy.
struct Dir {
    path: PathBuf,
    v2: bool,
    /// The controllers qing drives through this directory.
    controllers: Vec<Controller>,
    /// Where the hierarchy is mounted, and the v1 options that name it.
    mount: PathBuf,
    options: String,
}

/// A container's cgroups. Dropping it removes them, so every error path cleans up.
pub struct Cgroup {
    dirs: Vec<Dir>,
}

/// Creates `qing/NAME` in every hierarchy the container uses and applies `limits`.
/// A directory left by a qing that was killed is emptied and taken over.
pub fn create(layout: &Layout, name: &str, limits: &Limits) -> Result<Cgroup> {
    let mut plan: Vec<(&Hierarchy, Vec<Controller>)> = Vec::new();
    for c in CONTROLLERS {
        match layout.hierarchy_of(c) {
            Some(h) => match plan.iter_mut().find(|(p, _)| *p == h) {
                Some((_, cs)) => cs.push(c),
                None => plan.push((h, vec![c])),
            },
            None if limit_asked(limits, c) => {
                return Err(Error::new(format!(
                "--{} needs the {} cgroup controller, which no cgroup hierarchy here offers ({})",
                option_of(c),
                c.name(),
                layout.describe()
            ))
                .hint(format!("{}; or run without --{}", c.remedy(), option_of(c))))
            }
            None => {}
        }
    }
    if let Some(v2) = &layout.v2 {
        if !plan.iter().any(|(h, _)| *h == v2) {
            plan.push((v2, Vec::new()));
        }
    }
    if plan.is_empty() {
        return Err(Error::new("no cgroup hierarchy is usable")
            .hint("run `qing check` to see what the kernel offers"));
    }

    let mut cgroup = Cgroup { dirs: Vec::new() };
    for (h, controllers) in plan {
        let parent = h.mount.join("qing");
        let path = parent.join(name);
        if h.v2 {
            enable_v2_controllers(&h.mount, &parent, &controllers)?;
        } else if !parent.is_dir() {
            make_dir(&parent)?;
        }
        if let Err(e) = nix::unistd::mkdir(&path, nix::sys::stat::Mode::from_bits_truncate(0o755)) {
            if e != Errno::EEXIST {
                return Err(Error::sys(format!("create cgroup {}", path.display()), e));
            }
            // Left behind by a qing that was killed (its container died with it), or
            // in use by a qing the name's claim cannot see (another network
            // namespace): only an empty one is taken over.
            let procs = crate::sys::read_text(path.join("cgroup.procs")).unwrap_or_default();
            if !procs.trim().is_empty() {
                return Err(Error::new(format!(
                    "a container named {name_q} is already running (cgroup {} has processes)",
                    path.display(),
                    name_q = crate::error::quoted(name)
                ))
                .hint("choose another --name, or stop that container first"));
            }
            remove_dir(&path, h.v2)?;
            make_dir(&path)?;
        }
        cgroup.dirs.push(Dir {
            path,
            v2: h.v2,
            controllers,
            mount: h.mount.clone(),
            options: h.options.clone(),
        });
        if let Some(d) = cgroup.dirs.last() {
            apply_limits(&d.path, d.v2, &d.controllers, limits)?;
            crate::debug::step!("cgroup {}", d.path.display());
        }
    }
    Ok(cgroup)
}

/// What the container's init keeps so that it can remove the container's cgroups
/// itself if `qing run` is killed: a directory descriptor per hierarchy, opened
/// before the root switch. The init is non-dumpable, so the container cannot reach
/// them through /proc/1/fd; still, each is the least that works. In v1 it is `qing/`
/// (a v1 cgroup may hold processes at any level), never the root, whose
/// release_agent would run a program on the host. v2 has no release_agent, but its
/// `qing/` delegates controllers and so may hold no process: there it is the root.
pub struct SelfRemoval {
    /// (directory, the container's cgroup relative to the directory)
    bases: Vec<(OwnedFd, PathBuf)>,
}

impl SelfRemoval {
    /// Moves the calling process into each base directory, then removes the
    /// container's cgroup below it. Called by the init once it is alone. The move is
    /// through cgroup.procs, which takes every thread of the process (v1's `tasks`
    /// would take only this one, and a second thread, such as qemu-user's own, would
    /// keep the cgroup busy); its slower migration lock does not matter here.
    pub fn remove(&self) {
        for (base, relative) in &self.bases {
            if let Ok(fd) = openat(
                base,
                "cgroup.procs",
                OFlag::O_WRONLY | OFlag::O_CLOEXEC,
                Mode::empty(),
            ) {
                let _ = nix::unistd::write(&fd, b"0");
            }
            let _ = nix::unistd::unlinkat(
                base,
                relative.as_path(),
                nix::unistd::UnlinkatFlags::RemoveDir,
            );
        }
    }
}

impl Cgroup {
    pub fn prepare_self_removal(&self) -> Result<SelfRemoval> {
        let mut bases = Vec::new();
        for d in &self.dirs {
            let base = if d.v2 {
                d.mount.clone()
            } else {
                d.mount.join("qing")
            };
            let dir = crate::sys::open_fd(&base, OFlag::O_RDONLY | OFlag::O_DIRECTORY, 0)
                .at("open cgroup", &base)?;
            let relative = d.path.strip_prefix(&base).unwrap_or(&d.path).to_path_buf();
            bases.push((dir, relative));
        }
        Ok(SelfRemoval { bases })
    }

    /// The v2 directory, opened for creating the container's first process in it.
    pub fn open_v2_dir(&self) -> Result<Option<OwnedFd>> {
        let Some(d) = self.dirs.iter().find(|d| d.v2) else {
            return Ok(None);
        };
        crate::sys::open_fd(&d.path, OFlag::O_RDONLY | OFlag::O_DIRECTORY, 0)
            .map(Some)
            .at("open cgroup", &d.path)
    }

    /// Moves the calling process into every directory it was not born in; the
    /// container's first process calls this before it unshares its cgroup namespace.
    ///
    /// In v1 the single-threaded process moves itself through `tasks`: a thread that
    /// moves itself skips the global threadgroup lock (Linux 6.0), whose writers wait
    /// for an RCU grace period. cgroup.procs in v2 cannot skip it; CLONE_INTO_CGROUP
    /// avoids it there.
    pub fn join_self(&self, born_in_v2: bool) -> Result<()> {
        for d in self.dirs.iter().filter(|d| !(d.v2 && born_in_v2)) {
            let file = d.path.join(if d.v2 { "cgroup.procs" } else { "tasks" });
            crate::sys::write_file(&file, b"0").at("join cgroup", &d.path)?;
            crate::debug::step!("joined cgroup {}", d.path.display());
        }
        Ok(())
    }

    /// Whether the kernel's OOM killer has killed anything in the memory cgroup.
    pub fn oom_killed(&self) -> bool {
        let Some(d) = self
            .dirs
            .iter()
            .find(|d| d.controllers.contains(&Controller::Memory))
        else {
            return false;
        };
        let file = if d.v2 {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        files::oom_killed(&crate::sys::read_text(d.path.join(file)).unwrap_or_default())
    }

    /// What the container is shown of its cgroups, read-only, as (host mount point, is
    /// v2, v1 options): the hierarchies that hold its limits, and the v1 cpuset and
    /// cpuacct hierarchies, which it does not join. Runtimes read their limits there:
    /// JDK 17 trusts cgroup v1 only when memory, cpu, cpuacct and cpuset are all
    /// mounted, and sizes its heap from the host's RAM otherwise. In the container's
    /// cgroup namespace each shows only the subtree the container started in. A hybrid
    /// layout's v2 tree, used only to track the processes, is left out.
    pub fn shown_hierarchies<'a>(
        &'a self,
        layout: &'a Layout,
    ) -> impl Iterator<Item = (&'a Path, bool, &'a str)> {
        let limiting = self.dirs.iter().filter(|d| !d.controllers.is_empty());
        let read_by_runtimes = layout.v1.iter().filter(move |h| {
            h.options
                .split(',')
                .any(|c| c == "cpuset" || c == "cpuacct")
                && !self.dirs.iter().any(|d| d.mount == h.mount)
        });
        limiting
            .map(|d| (d.mount.as_path(), d.v2, d.options.as_str()))
            .chain(read_by_runtimes.map(|h| (h.mount.as_path(), false, h.options.as_str())))
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        for d in self.dirs.iter().rev() {
            if let Err(e) = remove_dir(&d.path, d.v2) {
                crate::error::say!("qing: {e}");
            }
        }
    }
}

fn limit_asked(limits: &Limits, c: Controller) -> bool {
    match c {
        Controller::Memory => limits.memory_bytes.is_some(),
        Controller::Cpu => limits.cpu_quota_us.is_some(),
        Controller::Pids => limits.pids.is_some(),
    }
}

fn option_of(c: Controller) -> &'static str {
    match c {
        Controller::Memory => "memory",
        Controller::Cpu => "cpus",
        Controller::Pids => "pids",
    }
}

fn apply_limits(dir: &Path, v2: bool, controllers: &[Controller], limits: &Limits) -> Result<()> {
    for c in controllers {
        match (c, v2) {
            (Controller::Memory, _) => {
                let Some(bytes) = limits.memory_bytes else {
                    continue;
                };
                let (limit, swap, swap_value) = if v2 {
                    ("memory.max", "memory.swap.max", "0".to_string())
                } else {
                    (
                        "memory.limit_in_bytes",
                        "memory.memsw.limit_in_bytes",
                        bytes.to_string(),
                    )
                };
                write(dir, limit, &bytes.to_string())?;
                // No swap beyond the limit, so that the limit is what the container gets;
                // the file is missing when the kernel does not account swap.
                if dir.join(swap).exists() {
                    write(dir, swap, &swap_value)?;
                }
            }
            (Controller::Cpu, _) => {
                let Some(quota) = limits.cpu_quota_us else {
                    continue;
                };
                if v2 {
                    write(dir, "cpu.max", &format!("{quota} {CPU_PERIOD_US}"))?;
                } else {
                    write(dir, "cpu.cfs_period_us", &CPU_PERIOD_US.to_string())?;
                    write(dir, "cpu.cfs_quota_us", &quota.to_string())?;
                }
            }
            (Controller::Pids, _) => {
                let Some(max) = limits.pids else { continue };
                write(dir, "pids.max", &max.to_string())?;
            }
        }
    }
    Ok(())
}

/// v2 only lets a cgroup use the controllers its parents delegate through
/// `cgroup.subtree_control`, at every level from the root down to `qing`.
fn enable_v2_controllers(root: &Path, parent: &Path, controllers: &[Controller]) -> Result<()> {
    if !parent.is_dir() {
        make_dir(parent)?;
    }
    for level in [root, parent] {
        let file = level.join("cgroup.subtree_control");
        let enabled = crate::sys::read_text(&file).unwrap_or_default();
        let missing: Vec<String> = controllers
            .iter()
            .filter(|c| !enabled.split_whitespace().any(|e| e == c.name()))
            .map(|c| format!("+{}", c.name()))
            .collect();
        if !missing.is_empty() {
            crate::sys::write_file(&file, missing.join(" ").as_bytes())
                .context(|| format!("enable {} in {}", missing.join(" "), file.display()))?;
        }
    }
    Ok(())
}

fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    let path = dir.join(file);
    crate::sys::write_file(&path, value.as_bytes())
        .context(|| format!("write {value} to {}", path.display()))
}

fn make_dir(path: &Path) -> Result<()> {
    match nix::unistd::mkdir(path, nix::sys::stat::Mode::from_bits_truncate(0o755)) {
        Ok(()) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(Error::sys(format!("create cgroup {}", path.display()), e)),
    }
}

/// Removes a container's cgroup. Its processes are normally gone by now; any that
/// remain (moved in from outside, or a killed qing's leftovers) are killed first.
fn remove_dir(path: &Path, v2: bool) -> Result<()> {
    for attempt in 0..200 {
        let removed =
            std::fs::remove_dir(path).map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)));
        match removed {
            Ok(()) | Err(Errno::ENOENT) => return Ok(()),
            Err(Errno::EBUSY) => {
                if attempt == 0
                    && v2
                    && crate::sys::write_file(path.join("cgroup.kill"), b"1").is_ok()
                {
                    continue;
                }
                let procs = crate::sys::read_text(path.join("cgroup.procs")).unwrap_or_default();
                for pid in files::procs(&procs) {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
                // Teardown only, never the start path: dying processes leave the
                // cgroup a moment after their SIGKILL.
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(e) => return Err(Error::sys(format!("remove cgroup {}", path.display()), e)),
        }
    }
    Err(Error::new(format!(
        "remove cgroup {}: processes are still in it after 1 s",
        path.display()
    ))
    .hint("find them with `cat cgroup.procs` in that directory and stop them"))
}
