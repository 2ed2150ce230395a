//! `--device`: host device nodes given to the container. Every mount the container
//! can write is nodev, so a node it makes cannot be opened; a node given is bound
//! from the host instead, as the default ones are, and that bind mount keeps the
//! host's /dev flags. The host path is checked before the container exists (a node
//! that is missing or is not a device is bad input) and opened again inside the
//! container's mount namespace, where it must still be the same device. The place
//! in the container is reached without any symlink, so a hostile image cannot move
//! the node anywhere but where it was asked.

use super::resolve::{fd_path, resolve_no_symlinks, Create};
use crate::error::{Context, Error, Result};
use crate::spec::Device;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::{fstat, stat, FileStat, SFlag};
use std::os::fd::BorrowedFd;
use std::path::Path;

pub struct CheckedDevice {
    pub device: Device,
    /// The node's type bits and device number, as checked on the host.
    kind: u32,
    rdev: u64,
}

fn node(st: &FileStat) -> Option<(u32, u64)> {
    let kind = st.st_mode & SFlag::S_IFMT.bits();
    let is_node = kind == SFlag::S_IFCHR.bits() || kind == SFlag::S_IFBLK.bits();
    is_node.then_some((kind, st.st_rdev))
}

pub fn check_devices(devices: &[Device]) -> Result<Vec<CheckedDevice>> {
    devices.iter().map(check).collect()
}

fn check(d: &Device) -> Result<CheckedDevice> {
    let host = d.host.display();
    let st = match stat(&d.host) {
        Ok(st) => st,
        Err(Errno::ENOENT) => {
            return Err(
                Error::new(format!("--device {host}: no such node on the host"))
                    .hint("give a device node that exists, like /dev/ttyUSB0"),
            )
        }
        Err(e) => return Err(Error::sys(format!("--device {host}"), e)),
    };
    let (kind, rdev) = node(&st).ok_or_else(|| {
        Error::new(format!("--device {host}: not a character or block device"))
            .hint("give a device node; files and directories are --volume's")
    })?;
    Ok(CheckedDevice {
        device: d.clone(),
        kind,
        rdev,
    })
}

/// Binds each device at its place inside `root`, made (as an empty file, with its
/// directories) where missing: /dev is qing's own tmpfs, so that always works there.
pub fn bind_devices(root: BorrowedFd, devices: &[CheckedDevice]) -> Result<()> {
    for d in devices {
        let (host, path) = (&d.device.host, &d.device.path);
        let source = crate::sys::open_fd(host, OFlag::O_PATH, 0).at("open device", host)?;
        let st = fstat(&source).at("stat device", host)?;
        if node(&st) != Some((d.kind, d.rdev)) {
            return Err(Error::new(format!(
                "--device {}: the node changed while the container started",
                host.display()
            ))
            .hint("run again once the device has settled"));
        }
        let target = resolve_no_symlinks(root, path, Create::DirsThenFile).map_err(|e| {
            let what = format!("--device {}: {}", host.display(), e.what());
            e.reword(what).hint(
                "the place must be reachable without symlinks, and writable (it always is under /dev)",
            )
        })?;
        if target.is_dir {
            return Err(Error::new(format!(
                "--device {}: {} in the container is a directory",
                host.display(),
                path.display()
            ))
            .hint("give the path of the node itself, like /dev/ttyS1"));
        }
        crate::mount::mount_from(
            Path::new(fd_path(&source).as_str()),
            Path::new(target.proc_path().as_str()),
            MsFlags::MS_BIND,
        )
        .context(|| format!("bind device {} on {}", host.display(), path.display()))?;
    }
    Ok(())
}
