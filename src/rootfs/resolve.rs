//! Paths inside the container's root, resolved as the container itself will see them:
//! symlinks are followed, but an absolute link or a `..` never climbs above the root.
//! Every mount target and file that comes from the image goes through here, so a
//! hostile image cannot point a mount at the host. Works on every kernel (openat2's
//! RESOLVE_IN_ROOT needs 5.6 and cannot create what is missing).

use crate::error::{Error, Result};
use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, OFlag};
use nix::sys::stat::{fstat, mkdirat, Mode, SFlag};
use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// What to make when part of the path is missing.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Create {
    Nothing,
    /// Missing components become directories.
    Dirs,
    /// Missing components become directories, and the last one an empty file.
    DirsThenFile,
}

/// Kernel's own limit on symlinks followed in one lookup.
const MAX_SYMLINKS: u32 = 40;

pub struct Resolved {
    /// An O_PATH descriptor of what the path names.
    pub fd: OwnedFd,
    pub is_dir: bool,
    /// A regular file (not a FIFO, socket or device node).
    pub is_file: bool,
}

impl Resolved {
    /// A path the kernel resolves to exactly this object, for mount(2).
    pub fn proc_path(&self) -> String {
        fd_path(&self.fd)
    }
}

pub fn fd_path(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// The id of the mount `fd` is on: `mnt_id` in /proc/self/fdinfo (Linux 3.15), or
/// None where the kernel does not say.
pub fn mount_id(fd: BorrowedFd) -> Option<u64> {
    // (crate::sys's reader: std::fs::read_to_string weighed 7 KB more.)
    let info = crate::sys::read_text(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).ok()?;
    mnt_id_of(&info)
}

/// `mnt_id` in the text of an fdinfo file.
pub fn mnt_id_of(info: &str) -> Option<u64> {
    info.lines()
        .find_map(|l| l.strip_prefix("mnt_id:"))?
        .trim()
        .parse()
        .ok()
}

pub fn resolve(root: BorrowedFd, path: &Path, create: Create) -> Result<Resolved> {
    walk(root, path, create, true)
}

/// As `resolve`, but a symlink anywhere on the path is an error: for what must land
/// exactly where it was asked (a device node).
pub fn resolve_no_symlinks(root: BorrowedFd, path: &Path, create: Create) -> Result<Resolved> {
    walk(root, path, create, false)
}

fn walk(root: BorrowedFd, path: &Path, create: Create, follow: bool) -> Result<Resolved> {
    let fail = |why: &str, e: Errno| {
        Error::sys(
            format!(
                "resolve {} inside the container's root ({why})",
                path.display()
            ),
            e,
        )
    };
    let open_path = |dir: BorrowedFd, name: &OsString| {
        openat(
            dir,
            name.as_os_str(),
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
    };
    let root_dup = || {
        openat(
            root,
            ".",
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
    };

    let mut todo: VecDeque<OsString> = components(path.as_os_str().as_bytes());
    let mut parents: Vec<OwnedFd> = Vec::new();
    let mut current = root_dup().map_err(|e| fail("open the root", e))?;
    let mut is_dir = true;
    let mut is_file = false;
    let mut links = 0;
    while let Some(name) = todo.pop_front() {
        if name.as_bytes() == b".." {
            if let Some(parent) = parents.pop() {
                current = parent;
            }
            is_dir = true;
            is_file = false;
            continue;
        }
        let last = todo.is_empty();
        let fd = match open_path(current.as_fd(), &name) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) if create != Create::Nothing => {
                let made = if last && create == Create::DirsThenFile {
                    openat(
                        current.as_fd(),
                        name.as_os_str(),
                        OFlag::O_CREAT
                            | OFlag::O_EXCL
                            | OFlag::O_WRONLY
                            | OFlag::O_NOFOLLOW
                            | OFlag::O_CLOEXEC,
                        Mode::from_bits_truncate(0o644),
                    )
                    .map(drop)
                } else {
                    mkdirat(
                        current.as_fd(),
                        name.as_os_str(),
                        Mode::from_bits_truncate(0o755),
                    )
                };
                match made {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(fail(&format!("create {}", name.to_string_lossy()), e)),
                }
                open_path(current.as_fd(), &name).map_err(|e| fail("open what was created", e))?
            }
            Err(e) => return Err(fail(&format!("open {}", name.to_string_lossy()), e)),
        };
        let kind = fstat(&fd).map_err(|e| fail("stat", e))?.st_mode & SFlag::S_IFMT.bits();
        if kind == SFlag::S_IFLNK.bits() {
            if !follow {
                return Err(Error::new(format!(
                    "{}: {} in the container's root is a symlink",
                    path.display(),
                    name.to_string_lossy()
                ))
                .hint("give a path with no symlink on the way"));
            }
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(fail("too many symlinks", Errno::ELOOP));
            }
            let target = readlinkat(&fd, "").map_err(|e| fail("read symlink", e))?;
            let target = target.as_bytes();
            if target.first() == Some(&b'/') {
                parents.clear();
                current = root_dup().map_err(|e| fail("open the root", e))?;
            }
            for c in components(target).into_iter().rev() {
                todo.push_front(c);
            }
            continue;
        }
        is_dir = kind == SFlag::S_IFDIR.bits();
        is_file = kind == SFlag::S_IFREG.bits();
        if !last && !is_dir {
            return Err(fail(
                &format!("{} is not a directory", name.to_string_lossy()),
                Errno::ENOTDIR,
            ));
        }
        parents.push(std::mem::replace(&mut current, fd));
    }
    Ok(Resolved {
        fd: current,
        is_dir,
        is_file,
    })
}

/// The non-empty, non-"." components of a path.
fn components(path: &[u8]) -> VecDeque<OsString> {
    path.split(|b| *b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .map(|c| OsString::from(std::ffi::OsStr::from_bytes(c)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use std::path::PathBuf;

    struct Tree(PathBuf);
    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn tree(tag: &str) -> Tree {
        let dir = std::env::temp_dir().join(format!("qing-resolve-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("root/etc")).unwrap();
        std::fs::create_dir_all(dir.join("outside")).unwrap();
        Tree(dir)
    }

    fn real_path(r: &Resolved) -> PathBuf {
        std::fs::read_link(r.proc_path()).unwrap()
    }

    fn open_root(t: &Tree) -> OwnedFd {
        crate::sys::open_fd(&t.0.join("root"), OFlag::O_PATH | OFlag::O_DIRECTORY, 0).unwrap()
    }

    #[test]
    fn absolute_symlinks_resolve_inside_the_root_not_on_the_host() {
        let t = tree("abs");
        symlink(t.0.join("outside"), t.0.join("root/escape")).unwrap();
        let root = open_root(&t);
        let r = resolve(root.as_fd(), Path::new("/escape/x"), Create::Dirs).unwrap();
        assert!(
            real_path(&r).starts_with(t.0.join("root")),
            "{:?}",
            real_path(&r)
        );
        assert!(
            !t.0.join("outside/x").exists(),
            "nothing may be created outside the root"
        );
    }

    #[test]
    fn dot_dot_in_paths_and_links_stops_at_the_root() {
        let t = tree("dotdot");
        symlink("../../../../outside", t.0.join("root/etc/up")).unwrap();
        let root = open_root(&t);
        let r = resolve(root.as_fd(), Path::new("/etc/up/f"), Create::DirsThenFile).unwrap();
        assert_eq!(real_path(&r), t.0.join("root/outside/f"));
        assert!(!r.is_dir && r.is_file);
        let r = resolve(root.as_fd(), Path::new("/../../etc"), Create::Nothing).unwrap();
        assert_eq!(real_path(&r), t.0.join("root/etc"));
    }

    #[test]
    fn dangling_links_create_their_target_inside_the_root() {
        let t = tree("dangling");
        symlink("../run/resolve/stub.conf", t.0.join("root/etc/resolv.conf")).unwrap();
        let root = open_root(&t);
        let r = resolve(
            root.as_fd(),
            Path::new("/etc/resolv.conf"),
            Create::DirsThenFile,
        )
        .unwrap();
        assert_eq!(real_path(&r), t.0.join("root/run/resolve/stub.conf"));
        assert!(t.0.join("root/run/resolve/stub.conf").is_file());
    }

    #[test]
    fn symlink_loops_and_files_used_as_directories_are_errors() {
        let t = tree("loop");
        symlink("b", t.0.join("root/a")).unwrap();
        symlink("a", t.0.join("root/b")).unwrap();
        std::fs::write(t.0.join("root/file"), "").unwrap();
        let root = open_root(&t);
        assert_eq!(
            resolve(root.as_fd(), Path::new("/a"), Create::Nothing)
                .err()
                .unwrap()
                .errno(),
            Some(Errno::ELOOP)
        );
        let e = resolve(root.as_fd(), Path::new("/file/x"), Create::Dirs)
            .err()
            .unwrap();
        assert_eq!(e.errno(), Some(Errno::ENOTDIR));
        assert!(resolve(root.as_fd(), Path::new("/missing"), Create::Nothing).is_err());
    }
}
