//! Where qing keeps its state, and the claim a running container holds on its name.
//!
//! A name is claimed by binding an abstract unix socket, `\0qing/NAME`, and holding
//! it while the container lives. Names are machine-wide because the cgroup tree
//! (`qing/NAME`) is. The bind is atomic, costs no write to the filesystem (which may
//! be flash), and the kernel releases it however its holder dies: a killed qing never
//! leaves a stale claim behind.

use crate::error::{Context, Error, Result};
use nix::errno::Errno;
use nix::sys::socket::{bind, socket, AddressFamily, SockFlag, SockType, UnixAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

pub struct Paths {
    /// Runtime state: gone at reboot, like the containers it describes.
    pub run: PathBuf,
    /// Installed templates and other data that survive a reboot.
    pub data: PathBuf,
}

impl Paths {
    /// `--root DIR` puts both under DIR; the default is /run/qing and /var/lib/qing.
    /// A relative DIR is made absolute now: the container's init changes directory
    /// while it builds the root.
    pub fn new(root: Option<&str>) -> Result<Paths> {
        let Some(dir) = root else {
            return Ok(Paths {
                run: PathBuf::from("/run/qing"),
                data: PathBuf::from("/var/lib/qing"),
            });
        };
        if dir.is_empty() {
            return Err(Error::new("--root is empty").hint("give the directory for qing's state"));
        }
        let dir = std::env::current_dir()
            .context(|| "find the current directory for --root".to_string())?
            .join(dir);
        Ok(Paths {
            run: dir.join("run"),
            data: dir.join("lib"),
        })
    }

    /// The directory each container covers with its own scratch tmpfs, inside its
    /// private mount namespace; on the host it stays empty.
    pub fn scratch(&self) -> Result<PathBuf> {
        let dir = self.run.join("scratch");
        std::fs::create_dir_all(&dir)
            .context(|| format!("create qing's runtime directory {}", dir.display()))?;
        Ok(dir)
    }
}

/// A container's hold on its name, released when dropped or when its holder exits.
pub struct Claim(#[allow(dead_code)] OwnedFd);

pub fn claim(name: &str) -> Result<Claim> {
    let fd = socket(
        AddressFamily::Unix,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .context(|| "create the socket that claims the container's name".to_string())?;
    let addr = UnixAddr::new_abstract(format!("qing/{name}").as_bytes())
        .context(|| format!("name the claim for {name:?}"))?;
    match bind(fd.as_raw_fd(), &addr) {
        Ok(()) => Ok(Claim(fd)),
        Err(Errno::EADDRINUSE) => Err(Error::new(format!(
            "a container named {name:?} is already running"
        ))
        .hint("choose another --name, or stop that container first")),
        Err(e) => Err(Error::sys(format!("claim the name {name:?}"), e)),
    }
}
