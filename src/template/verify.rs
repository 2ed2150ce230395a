//! Checking an image against the sha256 of its manifest, once. Hashing 20 MB on a slow
//! board takes seconds, so a good result is remembered per file identity: device,
//! inode, size, mtime and ctime. Rewriting the file changes its ctime, which no one
//! can set back (utimensat sets mtime, never ctime), so a changed image is hashed again.
//!
//! The remembered results are small files in DATA/verified, one per image, written
//! only when an image is hashed: a container start writes nothing.

use super::hex;
use crate::error::{Context, Error, Result};
use nix::sys::stat::{fstat, FileStat};
use sha2::{Digest, Sha256};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// What makes a file the same file with the same content, short of reading it.
#[derive(PartialEq, Debug)]
pub struct Identity(String);

impl Identity {
    pub fn of(st: &FileStat) -> Identity {
        Identity(format!(
            "{} {} {} {}.{} {}.{}",
            st.st_dev,
            st.st_ino,
            st.st_size,
            st.st_mtime,
            st.st_mtime_nsec,
            st.st_ctime,
            st.st_ctime_nsec
        ))
    }

    /// The cache entry's file name: one entry per device and inode.
    fn entry(&self, cache: &Path) -> PathBuf {
        let mut parts = self.0.split(' ');
        let dev = parts.next().unwrap_or_default();
        let ino = parts.next().unwrap_or_default();
        cache.join(format!("{dev}-{ino}"))
    }
}

/// Whether the image open at `fd` was verified before, as it is now, to have `sha256`.
pub fn remembered(fd: impl AsFd, sha256: &[u8; 32], cache: &Path) -> bool {
    let Ok(st) = fstat(fd) else { return false };
    let id = Identity::of(&st);
    let wanted = format!("{} {}\n", id.0, hex(sha256));
    crate::sys::read_text(id.entry(cache)).is_ok_and(|text| text == wanted)
}

/// Remembers that the image open at `fd` has `sha256`. Best effort: a board with a
/// read-only data directory just hashes at every start.
pub fn remember(fd: impl AsFd, sha256: &[u8; 32], cache: &Path) {
    let Ok(st) = fstat(fd) else { return };
    let id = Identity::of(&st);
    let entry = id.entry(cache);
    let line = format!("{} {}\n", id.0, hex(sha256));
    let _ = crate::state::write_atomic(&entry, line.as_bytes());
}

/// The sha256 of everything readable from `fd`, read from its start.
pub fn sha256_of(fd: impl AsFd, path: &Path) -> Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut offset = 0i64;
    loop {
        let n = nix::sys::uio::pread(fd.as_fd(), &mut buf, offset).at("read", path)?;
        let Some(chunk) = buf.get(..n) else { break };
        if chunk.is_empty() {
            break;
        }
        hasher.update(chunk);
        offset += n as i64;
    }
    Ok(hasher.finalize().into())
}

/// Checks the image open at `fd` against `expected`, hashing it only when this
/// identity has not been verified before.
pub fn verify(
    fd: impl AsFd + Copy,
    path: &Path,
    manifest: &Path,
    expected: &[u8; 32],
    cache: &Path,
) -> Result<()> {
    if remembered(fd, expected, cache) {
        crate::debug::step!("{}: verified before, and unchanged since", path.display());
        return Ok(());
    }
    let actual = sha256_of(fd, path)?;
    crate::debug::step!("{}: hashed, sha256 {}", path.display(), hex(&actual));
    if &actual != expected {
        return Err(Error::new(format!(
            "{} does not match its manifest {}: its sha256 is {}, the manifest says {}",
            path.display(),
            manifest.display(),
            hex(&actual),
            hex(expected)
        ))
        .hint("the image is corrupt or was changed: rebuild it, or import it again"));
    }
    remember(fd, expected, cache);
    Ok(())
}
