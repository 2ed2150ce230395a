//! The container's root filesystem, assembled inside its private mount namespace:
//! a writable overlay on the image (or the image read-only), the kernel filesystems,
//! /etc files for the network mode, devices and volumes. Everything mounted here dies with
//! the namespace, so there is nothing to unmount on the host afterwards.
//!
//! Layout of the scratch tmpfs, mounted over RUN/scratch in the container's namespace:
//!   root/   the overlay (or read-only bind), which becomes `/`
//!   image/  where a squashfs image is mounted, the overlay's lower layer
//!   upper/  work/   the overlay's writable layer: writes vanish on exit (unless
//!           `--overlay DIR` puts them in DIR)
//!   etc-*   hostname, hosts, resolv.conf, bound into a read-only root's /etc

pub mod devices;
pub mod etc;
pub mod image;
pub mod loopdev;
pub mod mounts;
pub mod overlay;
pub mod pivot;
pub mod resolve;
pub mod volumes;

use crate::error::{Context, Error, Result};
use etc::EtcFiles;
use image::Image;
use mounts::CgroupMount;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::Mode;
use overlay::PersistentLayer;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use volumes::CheckedVolume;

pub struct RootPlan<'a> {
    /// Where the container's private scratch tmpfs goes, in its own mount namespace.
    pub scratch: &'a Path,
    pub image: &'a Image,
    pub read_only: bool,
    /// `--overlay DIR`: the writable layer persists there.
    pub persistent: Option<&'a PersistentLayer>,
    pub etc: &'a EtcFiles,
    pub volumes: &'a [CheckedVolume],
    pub devices: &'a [devices::CheckedDevice],
    pub cgroups: &'a [CgroupMount],
}

pub struct Built {
    pub root: PathBuf,
    /// The kernel has no overlayfs, so the root is read-only although it was not asked.
    pub overlay_missing: bool,
}

pub fn build(plan: &RootPlan) -> Result<Built> {
    // Nothing mounted from here on may propagate back to the host.
    crate::mount::set_mount_flags(Path::new("/"), MsFlags::MS_REC | MsFlags::MS_PRIVATE)
        .ctx("make the container's mounts private")?;
    crate::mount::mount_fs(
        "qing",
        plan.scratch,
        "tmpfs",
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=700"),
    )
    .at("mount tmpfs on", plan.scratch)?;
    let root = plan.scratch.join("root");
    mkdir(&root, 0o755)?;

    let image_dir = plan.image.open_tree(&plan.scratch.join("image"))?;
    let mut overlay_missing = false;
    let writable = !plan.read_only
        && match writable_layer(plan, &root, &image_dir) {
            Ok(()) => true,
            Err(e) if e.errno() == Some(Errno::ENODEV) && plan.persistent.is_none() => {
                overlay_missing = true;
                false
            }
            Err(e) => return Err(e),
        };
    if !writable {
        crate::mount::mount_from(
            Path::new(resolve::fd_path(&image_dir).as_str()),
            &root,
            MsFlags::MS_BIND,
        )
        .context(|| {
            format!(
                "bind rootfs {} on {}",
                plan.image.path().display(),
                root.display()
            )
        })?;
        mounts::remount_read_only(&root, MsFlags::MS_NODEV)?;
    }
    let root_fd =
        crate::sys::open_fd(&root, OFlag::O_PATH | OFlag::O_DIRECTORY, 0).at("open", &root)?;
    let rootfd = root_fd.as_fd();

    if !writable {
        mounts::mount_scratch_dirs(rootfd, &root)?;
    }
    let proc = mounts::mount_proc(rootfd, &root, writable)?;
    let sys = mounts::mount_sys(rootfd, &root, writable, plan.cgroups)?;
    let dev = mounts::mount_dev(rootfd, &root, writable)?;
    mounts::mask_paths(&proc, &sys, &dev)?;
    // Before the volumes: a device's place is made in the container's own files,
    // never in a host directory bound there.
    devices::bind_devices(rootfd, plan.devices)?;
    etc::place(plan.etc, rootfd, writable, plan.scratch)?;
    // A volume whose source holds qing's runtime directory is bound recursively; an
    // unbindable scratch keeps the container's own tree out of it. Not sooner: the
    // overlay clones its upper layer's mount, and a read-only root's /etc files are
    // bound from the scratch; an unbindable mount refuses both.
    crate::mount::set_mount_flags(plan.scratch, MsFlags::MS_UNBINDABLE)
        .context(|| format!("make {} unbindable", plan.scratch.display()))?;
    volumes::mount_volumes(rootfd, writable, plan.volumes)?;
    Ok(Built {
        root,
        overlay_missing,
    })
}

/// The overlay's upper layer: in the scratch tmpfs, or persistent in `--overlay DIR`.
fn writable_layer(plan: &RootPlan, root: &Path, image_dir: &std::os::fd::OwnedFd) -> Result<()> {
    let layers = match plan.persistent {
        Some(layer) => layer.reopen_here()?,
        None => crate::sys::open_fd(plan.scratch, OFlag::O_PATH | OFlag::O_DIRECTORY, 0)
            .at("open", plan.scratch)?,
    };
    overlay::mount_overlay(root, image_dir, layers.as_fd(), plan.image.path()).map_err(|e| {
        match (plan.persistent, e.errno()) {
            (Some(layer), Some(Errno::ENODEV)) => Error::new(format!(
                "--overlay {}: this kernel has no overlayfs ({})",
                layer.path.display(),
                crate::kernel::OVERLAY_FS.name
            ))
            .hint("run without --overlay: the root is then read-only"),
            (Some(layer), Some(Errno::EINVAL)) => e.hint(format!(
                "{} must be on a filesystem that can hold an overlayfs upper layer",
                layer.path.display()
            )),
            _ => e,
        }
    })
}

fn mkdir(path: &Path, mode: u32) -> Result<()> {
    nix::unistd::mkdir(path, Mode::from_bits_truncate(mode)).at("create", path)
}
