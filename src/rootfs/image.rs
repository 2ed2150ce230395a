//! What `ROOTFS` names, checked on the host as the directory the container's root is
//! built on. Today that is a directory; squashfs files and installed template names
//! resolve to a directory here too, so nothing after this step changes for them.

use crate::error::{Context, Error, Result};
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::{stat, Mode, SFlag};
use std::os::fd::OwnedFd;
use std::path::PathBuf;

pub struct Image {
    pub path: PathBuf,
    /// Mode and owner of the image's top directory, which the writable layer copies.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

pub fn check_image(rootfs: &str) -> Result<Image> {
    let hint = "give a directory that holds a root filesystem (with /bin/sh or your command)";
    let st = match stat(rootfs) {
        Ok(st) => st,
        Err(Errno::ENOENT) => {
            return Err(
                Error::new(format!("rootfs {rootfs}: no such file or directory")).hint(hint),
            )
        }
        Err(e) => return Err(Error::sys(format!("rootfs {rootfs}"), e).hint(hint)),
    };
    if st.st_mode & SFlag::S_IFMT.bits() != SFlag::S_IFDIR.bits() {
        return Err(Error::new(format!("rootfs {rootfs} is not a directory")).hint(hint));
    }
    Ok(Image {
        path: PathBuf::from(rootfs),
        mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
    })
}

impl Image {
    /// Opened from inside the container's mount namespace: overlayfs and bind mounts
    /// take only mounts of the caller's own namespace.
    pub fn open_dir(&self) -> Result<OwnedFd> {
        open(
            &self.path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .context(|| format!("open rootfs {}", self.path.display()))
    }
}
