//! The writable layer over the image: overlayfs with the image as its only lower layer.
//! The upper layer is the container's scratch tmpfs, so writes vanish when it ends, or
//! a directory the user gives with `--overlay DIR`, so they persist across runs.
//!
//! A persistent layer is used by one container at a time: overlayfs leaves two mounts
//! sharing an upper directory undefined. The lock is a flock on DIR, held by `qing run`
//! and inherited by the container's init, so it lasts as long as either of them.

use crate::error::{Context, Error, Result};
use crate::features::SQUASHFS;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg, OFlag};
use nix::mount::MsFlags;
use nix::sys::stat::{fstat, mkdirat, Mode};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// `--overlay DIR`, opened and locked on the host before the container starts.
pub struct PersistentLayer {
    pub path: PathBuf,
    dir: Flock<OwnedFd>,
}

impl PersistentLayer {
    pub fn lock(path: &Path) -> Result<PersistentLayer> {
        // A template's layer kept across runs comes with the templates.
        if !SQUASHFS.built {
            return Err(SQUASHFS.left_out("--overlay"));
        }
        let hint = "give an existing directory on a filesystem that supports overlayfs \
                    upper layers (ext4, f2fs, ubifs, tmpfs...)";
        let dir = match crate::sys::open_fd(path, OFlag::O_RDONLY | OFlag::O_DIRECTORY, 0) {
            Ok(dir) => dir,
            Err(Errno::ENOENT) => {
                return Err(
                    Error::new(format!("--overlay {}: no such directory", path.display()))
                        .hint(hint),
                )
            }
            Err(Errno::ENOTDIR) => {
                return Err(
                    Error::new(format!("--overlay {}: not a directory", path.display())).hint(hint),
                )
            }
            Err(e) => return Err(Error::sys(format!("--overlay {}", path.display()), e)),
        };
        let dir = Flock::lock(dir, FlockArg::LockExclusiveNonblock).map_err(|(_, e)| {
            if e == Errno::EWOULDBLOCK {
                Error::new(format!(
                    "--overlay {}: another container is using it",
                    path.display()
                ))
                .hint("a persistent layer serves one container at a time: stop the other, or give another directory")
            } else {
                Error::sys(format!("lock --overlay {}", path.display()), e)
            }
        })?;
        Ok(PersistentLayer {
            path: path.to_path_buf(),
            dir,
        })
    }

    pub fn raw_fd(&self) -> RawFd {
        self.dir.as_raw_fd()
    }

    /// The directory opened again from inside the container's mount namespace: overlayfs
    /// takes an upper layer only from the mounter's own namespace, and the locked
    /// descriptor was opened in the host's. It must still be the directory locked.
    pub fn reopen_here(&self) -> Result<OwnedFd> {
        if !SQUASHFS.built {
            return Err(SQUASHFS.left_out("--overlay"));
        }
        let here = crate::sys::open_fd(&self.path, OFlag::O_PATH | OFlag::O_DIRECTORY, 0)
            .at("open --overlay", &self.path)?;
        let same = match (fstat(&here), fstat(self.dir.as_fd())) {
            (Ok(a), Ok(b)) => (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino),
            _ => false,
        };
        if !same {
            return Err(Error::new(format!(
                "--overlay {} was replaced while the container started",
                self.path.display()
            )));
        }
        Ok(here)
    }
}

/// Mounts the overlay on `root`: `lower` is the image's tree, and `layers` the
/// directory that holds (or will hold) `upper/` and `work/`. The lower is named through
/// a descriptor and upper and work relative to `layers`, so no path with a ',' or ':'
/// ever reaches the option string.
pub fn mount_overlay(root: &Path, lower: &OwnedFd, layers: BorrowedFd, image: &Path) -> Result<()> {
    // The merged root takes its mode and owner from the upper directory: make it like
    // the image's own root the first time.
    let st = fstat(lower).at("stat rootfs", image)?;
    match mkdirat(
        layers,
        "upper",
        Mode::from_bits_truncate(st.st_mode & 0o7777),
    ) {
        Ok(()) => nix::unistd::fchownat(
            layers,
            "upper",
            Some(st.st_uid.into()),
            Some(st.st_gid.into()),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .ctx("chown the overlay's upper directory")?,
        Err(Errno::EEXIST) => {}
        Err(e) => return Err(Error::sys("create the overlay's upper directory", e)),
    }
    match mkdirat(layers, "work", Mode::from_bits_truncate(0o700)) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(Error::sys("create the overlay's work directory", e)),
    }
    nix::unistd::fchdir(layers).ctx("enter the overlay's layer directory")?;
    let options = format!(
        "lowerdir=/proc/self/fd/{},upperdir=upper,workdir=work",
        lower.as_raw_fd()
    );
    crate::mount::mount_fs(
        "overlay",
        root,
        "overlay",
        MsFlags::MS_NODEV,
        Some(options.as_str()),
    )
    .map_err(|e| {
        Error::sys(
            format!(
                "mount overlay on {} (lower {})",
                root.display(),
                image.display()
            ),
            e,
        )
        .hint("check `qing check`; --read-only runs without overlayfs")
    })
}
