//! The kernel filesystems every container gets: /proc with the usual masks, a
//! read-only /sys with its own cgroups, and a minimal /dev. The mount points come from
//! the image, so each must be a real directory there: qing never follows a symlink
//! to mount procfs or sysfs (the runc /proc-symlink escape class). Each is opened
//! once, mounted on through its descriptor, and everything under it (nodes, masks,
//! read-only binds) goes through a descriptor of the new mount's root: a rename in the
//! image during the start cannot send any of it elsewhere (CVE-2021-30465's class).

use crate::error::{Context, Error, Result};
use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::mount::MsFlags;
use nix::sys::stat::{fstatat, mkdirat, Mode, SFlag};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Hidden: kernel state a container has no business reading or poking. Files are
/// covered by /dev/null, directories by an empty read-only tmpfs; which is which is
/// fixed by the kernel, so no stat is needed first.
const MASKED_FILES: [&str; 8] = [
    "kcore",
    "keys",
    "latency_stats",
    "sched_debug",
    "sysrq-trigger",
    "timer_list",
    "timer_stats",
    "interrupts",
];
/// Under /proc, then under /sys.
const MASKED_PROC_DIRS: [&str; 3] = ["acpi", "asound", "scsi"];
const MASKED_SYS_DIRS: [&str; 2] = ["firmware", "devices/virtual/powercap"];

/// Readable but never writable (under /proc): writes here would change the host's
/// kernel.
const READ_ONLY: [&str; 4] = ["bus", "fs", "irq", "sys"];

/// The device nodes a container gets, bound from the host's /dev.
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

const DEV_LINKS: [(&str, &str); 5] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
];

const NOSUID_NODEV_NOEXEC: MsFlags = MsFlags::MS_NOSUID
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC);

/// One cgroup hierarchy to show inside the container, under /sys/fs/cgroup.
pub struct CgroupMount {
    /// Directory name under /sys/fs/cgroup ("memory", "cpu,cpuacct", "unified").
    pub dir: String,
    pub v2: bool,
    /// v1 mount options naming the hierarchy ("cpu,cpuacct").
    pub options: String,
}

impl CgroupMount {
    /// Shown under the same name as on the host.
    pub fn new(host_mount: &Path, v2: bool, options: &str) -> CgroupMount {
        let dir = host_mount
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        CgroupMount {
            dir,
            v2,
            options: options.to_string(),
        }
    }
}

/// A directory held by a descriptor and named by its /proc/self/fd path, which no
/// rename or symlink in the image can send anywhere else.
pub struct Place(OwnedFd);

impl Place {
    pub fn path(&self) -> PathBuf {
        PathBuf::from(super::resolve::fd_path(&self.0))
    }
}

fn open_dir(root: BorrowedFd, name: &str) -> nix::Result<OwnedFd> {
    let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    openat(root, name, flags, Mode::empty())
}

/// Where a kernel filesystem goes: `root/NAME`, which must be a real directory, opened.
/// Returns `None` when it is missing and cannot be made (a read-only root).
pub fn mount_point(root: BorrowedFd, name: &str, writable: bool) -> Result<Option<Place>> {
    let not_a_dir = || {
        Error::new(format!("the rootfs's /{name} is not a plain directory (a symlink?)"))
            .hint(format!("qing mounts a kernel filesystem on /{name} and will not follow a link; make it a directory"))
    };
    match fstatat(root, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) if st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFDIR.bits() => {}
        Ok(_) => return Err(not_a_dir()),
        Err(Errno::ENOENT) if writable => {
            mkdirat(root, name, Mode::from_bits_truncate(0o755))
                .context(|| format!("create /{name} in the rootfs"))?;
        }
        Err(Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(Error::sys(format!("stat /{name} in the rootfs"), e)),
    }
    match open_dir(root, name) {
        Ok(fd) => Ok(Some(Place(fd))),
        Err(Errno::ENOTDIR | Errno::ELOOP) => Err(not_a_dir()),
        Err(e) => Err(Error::sys(format!("open /{name} in the rootfs"), e)),
    }
}

/// The root of what was just mounted on `point`, `root/NAME`, for every later step
/// under it. It is reached by name again, so it must prove to be a new mount: were
/// /NAME swapped for a link or another directory since `mount_point` opened it, the
/// nodes, masks and read-only binds would land wherever that leads (the host's own
/// directories, or a /proc left unmasked under another name).
fn mounted(root: BorrowedFd, name: &str, point: &Place) -> Result<Place> {
    let changed = || {
        Error::new(format!(
            "/{name} in the rootfs changed while the container started"
        ))
        .hint("nothing may change the rootfs's files during a start: run again")
    };
    // Gone or no longer a directory is a change; anything else (no descriptor
    // left) is said as it is.
    let fd = match open_dir(root, name) {
        Ok(fd) => fd,
        Err(Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP) => return Err(changed()),
        Err(e) => return Err(Error::sys(format!("open /{name} in the rootfs"), e)),
    };
    let id = super::resolve::mount_id;
    if id(fd.as_fd()).is_some() && id(fd.as_fd()) == id(point.0.as_fd()) {
        return Err(changed());
    }
    Ok(Place(fd))
}

fn required(point: Option<Place>, name: &str) -> Result<Place> {
    point.ok_or_else(|| {
        Error::new(format!("the read-only rootfs has no /{name} directory"))
            .hint(format!("add an empty /{name} directory to the rootfs"))
    })
}

pub fn mount_proc(root: BorrowedFd, root_path: &Path, writable: bool) -> Result<Place> {
    let point = required(mount_point(root, "proc", writable)?, "proc")?;
    crate::mount::mount_fs("proc", &point.path(), "proc", NOSUID_NODEV_NOEXEC, None)
        .at("mount proc on", &root_path.join("proc"))?;
    let proc = mounted(root, "proc", &point)?;
    for rel in READ_ONLY {
        let p = proc.path().join(rel);
        // Kernels without a path (no IRQ subsystem, say) answer ENOENT: nothing to do.
        match crate::mount::mount_from(&p, &p, MsFlags::MS_BIND | MsFlags::MS_REC) {
            Ok(()) => remount_read_only(&p, NOSUID_NODEV_NOEXEC)?,
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(Error::sys(format!("bind /proc/{rel} on itself"), e)),
        }
    }
    Ok(proc)
}

pub fn mount_sys(
    root: BorrowedFd,
    root_path: &Path,
    writable: bool,
    cgroups: &[CgroupMount],
) -> Result<Place> {
    let point = required(mount_point(root, "sys", writable)?, "sys")?;
    crate::mount::mount_fs(
        "sysfs",
        &point.path(),
        "sysfs",
        NOSUID_NODEV_NOEXEC | MsFlags::MS_RDONLY,
        None,
    )
    .at("mount sysfs on", &root_path.join("sys"))?;
    let sys = mounted(root, "sys", &point)?;
    let cg = sys.path().join("fs/cgroup");
    if cgroups.is_empty() || !cg.is_dir() {
        return Ok(sys);
    }
    let ro = NOSUID_NODEV_NOEXEC | MsFlags::MS_RDONLY;
    if let [only] = cgroups {
        if only.v2 {
            return crate::mount::mount_fs("cgroup2", &cg, "cgroup2", ro, None)
                .at("mount cgroup2 on", &cg)
                .map(|()| sys);
        }
    }
    crate::mount::mount_fs(
        "cgroup",
        &cg,
        "tmpfs",
        NOSUID_NODEV_NOEXEC,
        Some("mode=755,size=16k"),
    )
    .at("mount tmpfs on", &cg)?;
    for c in cgroups {
        let point = cg.join(&c.dir);
        nix::unistd::mkdir(&point, Mode::from_bits_truncate(0o755)).at("create", &point)?;
        let (fstype, options) = if c.v2 {
            ("cgroup2", None)
        } else {
            ("cgroup", Some(c.options.as_str()))
        };
        crate::mount::mount_fs(fstype, &point, fstype, ro, options)
            .context(|| format!("mount {fstype} on {}", point.display()))?;
    }
    remount_read_only(&cg, NOSUID_NODEV_NOEXEC)?;
    Ok(sys)
}

/// Masks go on after /proc, /sys and /dev exist (the places their mounts returned):
/// files are covered by /dev/null, directories by an empty read-only tmpfs.
pub fn mask_paths(proc: &Place, sys: &Place, dev: &Place) -> Result<()> {
    let null = dev.path().join("null");
    let files = MASKED_FILES.iter().map(|rel| (proc.path().join(rel), true));
    let dirs = MASKED_PROC_DIRS
        .iter()
        .map(|rel| (proc.path().join(rel), false));
    let sys_dirs = MASKED_SYS_DIRS
        .iter()
        .map(|rel| (sys.path().join(rel), false));
    for (p, file) in files.chain(dirs).chain(sys_dirs) {
        let masked = if file {
            crate::mount::mount_from(&null, &p, MsFlags::MS_BIND)
        } else {
            let ro = NOSUID_NODEV_NOEXEC | MsFlags::MS_RDONLY;
            crate::mount::mount_fs("tmpfs", &p, "tmpfs", ro, Some("size=4k"))
        };
        match masked {
            // Not in this kernel (no ACPI, no sound): nothing to hide.
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(Error::sys(format!("mask {}", p.display()), e)),
        }
    }
    Ok(())
}

/// A nodev tmpfs with the host's own device nodes bound in: the container may make
/// nodes (docker's capability set has CAP_MKNOD), but no node it makes, here or on
/// any other mount it can write, can be opened. That is what docker's device cgroup
/// does, without one.
pub fn mount_dev(root: BorrowedFd, root_path: &Path, writable: bool) -> Result<Place> {
    let point = required(mount_point(root, "dev", writable)?, "dev")?;
    crate::mount::mount_fs(
        "tmpfs",
        &point.path(),
        "tmpfs",
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=64k"),
    )
    .at("mount tmpfs on", &root_path.join("dev"))?;
    let place = mounted(root, "dev", &point)?;
    let dev = place.path();
    for name in DEVICES {
        let node = dev.join(name);
        crate::sys::create_file(&node, b"", 0o644).at("create", &node)?;
        let host = Path::new("/dev").join(name);
        crate::mount::mount_from(&host, &node, MsFlags::MS_BIND)
            .context(|| format!("bind the host's {} into the container", host.display()))
            .map_err(|e| e.hint("the host needs its /dev: mount devtmpfs on /dev"))?;
    }
    for (name, target) in DEV_LINKS {
        std::os::unix::fs::symlink(target, dev.join(name))
            .context(|| format!("link /dev/{name}"))?;
    }
    let sub = |name: &str| -> Result<PathBuf> {
        let p = dev.join(name);
        nix::unistd::mkdir(&p, Mode::from_bits_truncate(0o755)).at("create", &p)?;
        Ok(p)
    };
    let pts = sub("pts")?;
    crate::mount::mount_fs(
        "devpts",
        &pts,
        "devpts",
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620,gid=5"),
    )
    .at("mount devpts on", &pts)?;
    let shm = sub("shm")?;
    crate::mount::mount_fs(
        "shm",
        &shm,
        "tmpfs",
        NOSUID_NODEV_NOEXEC,
        Some("mode=1777,size=65536k"),
    )
    .at("mount tmpfs on", &shm)?;
    // No POSIX message queues in this kernel (ENODEV): no program in it can use
    // them either, so the container goes without /dev/mqueue.
    let mqueue = sub("mqueue")?;
    match crate::mount::mount_fs("mqueue", &mqueue, "mqueue", NOSUID_NODEV_NOEXEC, None) {
        Err(Errno::ENODEV) => std::fs::remove_dir(&mqueue).at("remove", &mqueue)?,
        other => other.at("mount mqueue on", &mqueue)?,
    }
    Ok(place)
}

/// A read-only root still needs somewhere to write: /tmp and /run get a tmpfs each,
/// where the image has those directories.
pub fn mount_scratch_dirs(root: BorrowedFd, root_path: &Path) -> Result<()> {
    for (name, mode) in [("tmp", "mode=1777"), ("run", "mode=755")] {
        if let Some(p) = mount_point(root, name, false)? {
            crate::mount::mount_fs(
                "tmpfs",
                &p.path(),
                "tmpfs",
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                Some(mode),
            )
            .at("mount tmpfs on", &root_path.join(name))?;
        }
    }
    Ok(())
}

pub fn remount_read_only(target: &Path, keep: MsFlags) -> Result<()> {
    crate::mount::set_mount_flags(
        target,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | keep,
    )
    .context(|| format!("make {} read-only", target.display()))
}
