//! Loop devices for squashfs images, set up with the loop ioctls (no losetup).
//!
//! Containers of one image share one loop device, so the kernel shares one squashfs
//! superblock and caches its pages once: a device already bound, the way qing binds,
//! to the same file (same device and inode) is reused. Devices are bound read-only
//! with autoclear: the kernel frees one when its last user, a mount or a descriptor
//! held while mounting, goes away; that is, when the last container of the image
//! ends, however it ends. Nothing is left to clean up.

use crate::error::{Context, Error, Result};
use crate::sys;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg, OFlag};
use nix::sys::stat::fstat;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// An open loop device bound to the image; holding it keeps the binding alive.
pub struct LoopDevice {
    pub path: PathBuf,
    pub fd: OwnedFd,
}

pub fn attach(image: &OwnedFd, image_path: &Path) -> Result<LoopDevice> {
    let st = fstat(image).at("stat", image_path)?;
    let identity = (st.st_dev, st.st_ino);
    // Two qing processes starting the same image at once must not bind two devices:
    // the lock on the image file serializes looking for a bound device and binding one.
    // It is on the verified file itself, through a duplicate of its descriptor.
    let lock_fd = nix::unistd::dup(image).at("dup", image_path)?;
    let _lock = Flock::lock(lock_fd, FlockArg::LockExclusive)
        .map_err(|(_, e)| Error::sys(format!("lock {}", image_path.display()), e))?;
    if let Some(shared) = find_bound(identity) {
        crate::debug::step!("{} shares {}", image_path.display(), shared.path.display());
        return Ok(shared);
    }
    let control = crate::sys::open_fd(std::path::Path::new("/dev/loop-control"), OFlag::O_RDWR, 0)
        .ctx("open /dev/loop-control")
        .map_err(|e| {
            e.hint(format!(
                "the kernel needs loop devices ({}; modprobe loop)",
                crate::kernel::BLK_DEV_LOOP.name
            ))
        })?;
    // Another process (losetup, say) may take the free device between asking and binding.
    for _ in 0..16 {
        let n = sys::loop_get_free(control.as_raw_fd()).ctx("find a free loop device")?;
        let path = PathBuf::from(format!("/dev/loop{n}"));
        let dev = open_device(&path)?;
        match sys::loop_configure(dev.as_raw_fd(), image.as_raw_fd(), QING_FLAGS) {
            Ok(()) => {
                crate::debug::step!("{} bound to {}", image_path.display(), path.display());
                return Ok(LoopDevice { path, fd: dev });
            }
            Err(Errno::EBUSY) => continue,
            Err(e) => {
                return Err(Error::sys(
                    format!("bind {} to {}", image_path.display(), path.display()),
                    e,
                ))
            }
        }
    }
    Err(Error::new(format!(
        "no loop device could be bound to {}",
        image_path.display()
    ))
    .hint("other processes keep taking the free loop devices; try again"))
}

const QING_FLAGS: u32 = sys::LO_FLAGS_READ_ONLY | sys::LO_FLAGS_AUTOCLEAR;

/// Read-only: a device opened read-only is also bound read-only, whatever the flags.
fn open_device(path: &Path) -> Result<OwnedFd> {
    match crate::sys::open_fd(path, OFlag::O_RDONLY, 0) {
        // devtmpfs makes the node as the device is added; a bare /dev may lack it.
        Err(Errno::ENOENT) => Err(Error::new(format!("{} does not exist", path.display()))
            .hint("mount devtmpfs on /dev, or create the loop device nodes")),
        other => other.at("open", path),
    }
}

/// A loop device already bound to the file with `identity`, opened, which keeps it from
/// being cleared before the caller mounts it. Bound devices have a backing file in
/// sysfs; the identity check after opening makes a renamed, replaced or just-cleared
/// binding no match, and a device bound otherwise (with an offset, or writable) is
/// someone else's.
fn find_bound(identity: (u64, u64)) -> Option<LoopDevice> {
    for entry in std::fs::read_dir("/sys/block").ok()?.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with("loop") || !entry.path().join("loop/backing_file").exists() {
            continue;
        }
        let path = PathBuf::from("/dev").join(name);
        let Ok(dev) = crate::sys::open_fd(&path, OFlag::O_RDONLY, 0) else {
            continue;
        };
        if is_qing_binding(dev.as_fd(), identity) {
            return Some(LoopDevice { path, fd: dev });
        }
    }
    None
}

fn is_qing_binding(dev: BorrowedFd, identity: (u64, u64)) -> bool {
    sys::loop_status(dev.as_raw_fd()).is_ok_and(|s| {
        (s.device, s.inode) == identity
            && s.offset == 0
            && s.sizelimit == 0
            && s.flags & QING_FLAGS == QING_FLAGS
    })
}
