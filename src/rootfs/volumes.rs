//! Volumes: host paths bound into the container. Sources are checked on the host
//! before the container exists (a missing one is bad input) and opened again inside
//! the container's mount namespace, whose copies of the host's mounts a bind must
//! come from. Destinations are resolved inside the container's root, never through a
//! symlink that leaves it.

use super::resolve::{fd_path, resolve, Create, Resolved};
use crate::error::{Context, Error, Result};
use crate::spec::Volume;
use crate::sys;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::{fstat, stat, SFlag};
use nix::sys::statvfs::{statvfs, FsFlags};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

pub struct CheckedVolume {
    pub volume: Volume,
    source_is_dir: bool,
    /// nosuid/nodev/noexec of the source's mount, kept when remounting read-only.
    source_flags: MsFlags,
}

pub fn check_sources(volumes: &[Volume]) -> Result<Vec<CheckedVolume>> {
    volumes.iter().map(check_source).collect()
}

fn check_source(v: &Volume) -> Result<CheckedVolume> {
    let src = v.source.display();
    let st = match stat(&v.source) {
        Ok(st) => st,
        Err(Errno::ENOENT) => {
            return Err(
                Error::new(format!("volume source {src} does not exist on the host"))
                    .hint("create it first, or fix the path in --volume"),
            )
        }
        Err(e) => return Err(Error::sys(format!("volume source {src}"), e)),
    };
    let vfs = statvfs(&v.source).context(|| format!("statvfs volume source {src}"))?;
    let mut source_flags = MsFlags::empty();
    for (fs, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
    ] {
        if vfs.flags().contains(fs) {
            source_flags |= ms;
        }
    }
    let source_is_dir = st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFDIR.bits();
    Ok(CheckedVolume {
        volume: v.clone(),
        source_is_dir,
        source_flags,
    })
}

/// Binds each volume at its destination inside `root`. Missing destinations are
/// created when the root is writable.
pub fn mount_volumes(
    root: BorrowedFd,
    root_writable: bool,
    volumes: &[CheckedVolume],
) -> Result<()> {
    // The mounts of the volumes made so far, which a later one must not take for its own.
    let mut made: Vec<Option<u64>> = Vec::with_capacity(volumes.len());
    for v in volumes {
        let source = crate::sys::open_fd(&v.volume.source, OFlag::O_PATH, 0)
            .at("open volume source", &v.volume.source)?;
        let dest = &v.volume.dest;
        let create = match (root_writable, v.source_is_dir) {
            (false, _) => Create::Nothing,
            (true, true) => Create::Dirs,
            (true, false) => Create::DirsThenFile,
        };
        let target = resolve(root, dest, create).map_err(|e| {
            e.hint("the destination must exist in a read-only root, and be a directory for a directory")
        })?;
        if target.is_dir != v.source_is_dir {
            let (s, d) = if v.source_is_dir {
                ("a directory", "a file")
            } else {
                ("a file", "a directory")
            };
            return Err(Error::new(format!(
                "volume {}: the source is {s} but {} in the container is {d}",
                v.volume.source.display(),
                dest.display()
            ))
            .hint("bind a directory onto a directory and a file onto a file"));
        }
        crate::mount::mount_from(
            std::path::Path::new(fd_path(&source).as_str()),
            std::path::Path::new(target.proc_path().as_str()),
            MsFlags::MS_BIND | MsFlags::MS_REC,
        )
        .context(|| {
            format!(
                "bind volume {} on {}",
                v.volume.source.display(),
                dest.display()
            )
        })?;
        // Reopen: the descriptor above names the directory under the new mount. The
        // name may lead elsewhere by now (swapped for a link while the container
        // started, CVE-2021-30465's shape), and the remount would then make another
        // mount read-only (the root's /tmp, or another volume of the same source)
        // while an `:ro` volume stayed writable. Only the new mount itself is
        // remounted: a mount root of the source's very object, and neither the mount
        // the destination was on nor an earlier volume's.
        let mounted = resolve(root, dest, Create::Nothing)?;
        let id = |fd| fstat(fd).map(|st| (st.st_dev, st.st_ino));
        let here = super::resolve::mount_id(mounted.fd.as_fd());
        let new_mount = here.is_none()
            || (here != super::resolve::mount_id(target.fd.as_fd()) && !made.contains(&here));
        if !new_mount
            || id(mounted.fd.as_fd()).ok() != Some(id(source.as_fd()).at("stat", &v.volume.source)?)
        {
            return Err(Error::new(format!(
                "volume {}: {} in the container changed while the container started",
                v.volume.source.display(),
                dest.display()
            ))
            .hint("nothing may change the rootfs's files during a start: run again"));
        }
        made.push(here);
        restrict(&mounted, v.volume.read_only, v.source_flags).context(|| {
            format!(
                "make volume {} nodev{}",
                dest.display(),
                if v.volume.read_only {
                    " and read-only"
                } else {
                    ""
                }
            )
        })?;
    }
    Ok(())
}

/// Every volume is nodev: the container has CAP_MKNOD (as with docker), and a node it
/// made on a volume must not open a host device. `ro` adds read-only. The whole tree
/// where the kernel can (mount_setattr, 5.12), else the top mount.
fn restrict(mounted: &Resolved, read_only: bool, keep: MsFlags) -> nix::Result<()> {
    match sys::restrict_mount_tree(mounted.fd.as_fd().as_raw_fd(), read_only) {
        Err(Errno::ENOSYS) => {
            let ro = if read_only {
                MsFlags::MS_RDONLY
            } else {
                MsFlags::empty()
            };
            let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_NODEV | ro | keep;
            crate::mount::set_mount_flags(std::path::Path::new(mounted.proc_path().as_str()), flags)
        }
        other => other,
    }
}
