//! The container's root filesystem, assembled inside its private mount namespace:
//! a writable overlay on the image (or the image read-only), the kernel filesystems,
//! /etc files for the network mode, and volumes. Everything mounted here dies with
//! the namespace, so there is nothing to unmount on the host afterwards.
//!
//! Layout of the scratch tmpfs, mounted over RUN/scratch in the container's namespace:
//!   root/   the overlay (or read-only bind), which becomes `/`
//!   upper/  work/   the overlay's writable layer: writes vanish on exit
//!   etc-*   hostname, hosts, resolv.conf, bound into a read-only root's /etc

pub mod etc;
pub mod image;
pub mod mounts;
pub mod pivot;
pub mod resolve;
pub mod volumes;

use crate::error::{Context, Error, Result};
use etc::EtcFiles;
use image::Image;
use mounts::CgroupMount;
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::Mode;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use volumes::CheckedVolume;

pub struct RootPlan<'a> {
    /// Where the container's private scratch tmpfs goes, in its own mount namespace.
    pub scratch: &'a Path,
    pub image: &'a Image,
    pub read_only: bool,
    pub etc: &'a EtcFiles,
    pub volumes: &'a [CheckedVolume],
    pub cgroups: &'a [CgroupMount],
}

pub struct Built {
    pub root: PathBuf,
    /// The kernel has no overlayfs, so the root is read-only although it was not asked.
    pub overlay_missing: bool,
}

pub fn build(plan: &RootPlan) -> Result<Built> {
    // Nothing mounted from here on may propagate back to the host.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .context(|| "make the container's mounts private".to_string())?;
    mount(
        Some("qing"),
        plan.scratch,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=700"),
    )
    .context(|| format!("mount tmpfs on {}", plan.scratch.display()))?;
    let root = plan.scratch.join("root");
    mkdir(&root, 0o755)?;

    let image_dir = plan.image.open_dir()?;
    let mut overlay_missing = false;
    let writable = !plan.read_only
        && match mount_overlay(plan.scratch, plan.image, &image_dir) {
            Ok(()) => true,
            Err(e) if e.errno() == Some(Errno::ENODEV) => {
                overlay_missing = true;
                false
            }
            Err(e) => return Err(e),
        };
    if !writable {
        mount(
            Some(resolve::fd_path(&image_dir).as_str()),
            &root,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .context(|| {
            format!(
                "bind rootfs {} on {}",
                plan.image.path.display(),
                root.display()
            )
        })?;
        mounts::remount_read_only(&root, MsFlags::MS_NODEV)?;
    }
    let root_fd = open(
        &root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .context(|| format!("open {}", root.display()))?;
    let rootfd = root_fd.as_fd();

    if !writable {
        mounts::mount_scratch_dirs(rootfd, &root)?;
    }
    mounts::mount_proc(rootfd, &root, writable)?;
    mounts::mount_sys(rootfd, &root, writable, plan.cgroups)?;
    mounts::mount_dev(rootfd, &root, writable)?;
    mounts::mask_paths(&root)?;
    etc::place(plan.etc, rootfd, writable, plan.scratch)?;
    // A volume whose source holds qing's runtime directory is bound recursively; an
    // unbindable scratch keeps the container's own tree out of it. Not sooner: the
    // overlay clones its upper layer's mount, and a read-only root's /etc files are
    // bound from the scratch; an unbindable mount refuses both.
    mount(
        None::<&str>,
        plan.scratch,
        None::<&str>,
        MsFlags::MS_UNBINDABLE,
        None::<&str>,
    )
    .context(|| format!("make {} unbindable", plan.scratch.display()))?;
    volumes::mount_volumes(rootfd, writable, plan.volumes)?;
    Ok(Built {
        root,
        overlay_missing,
    })
}

/// Overlay with the image as its only lower layer and the scratch tmpfs as upper.
/// The lower is named through a descriptor and upper and work relative to the scratch
/// directory, so no path with a ',' or ':' ever reaches the option string.
fn mount_overlay(scratch: &Path, image: &Image, image_dir: &OwnedFd) -> Result<()> {
    let upper = scratch.join("upper");
    mkdir(&upper, image.mode)?;
    nix::unistd::chown(&upper, Some(image.uid.into()), Some(image.gid.into()))
        .context(|| format!("chown {}", upper.display()))?;
    mkdir(&scratch.join("work"), 0o700)?;
    nix::unistd::chdir(scratch).context(|| format!("enter {}", scratch.display()))?;
    let options = format!(
        "lowerdir=/proc/self/fd/{},upperdir=upper,workdir=work",
        image_dir.as_raw_fd()
    );
    mount(
        Some("overlay"),
        "root",
        Some("overlay"),
        MsFlags::MS_NODEV,
        Some(options.as_str()),
    )
    .map_err(|e| {
        Error::sys(
            format!(
                "mount overlay on {} (lower {})",
                scratch.join("root").display(),
                image.path.display()
            ),
            e,
        )
        .hint("check `qing check`; --read-only runs without overlayfs")
    })
}

fn mkdir(path: &Path, mode: u32) -> Result<()> {
    nix::unistd::mkdir(path, Mode::from_bits_truncate(mode))
        .context(|| format!("create {}", path.display()))
}
