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
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

pub struct Paths {
    /// Runtime state: gone at reboot, like the containers it describes.
    pub run: PathBuf,
    /// Installed templates and other data that survive a reboot.
    pub data: PathBuf,
    /// Container configs, NAME.json.
    pub config: PathBuf,
    /// Containers' logs, NAME.log and one rotated NAME.log.1.
    pub logs: PathBuf,
}

impl Paths {
    /// The defaults are /run/qing, /var/lib/qing, /etc/qing and /var/log/qing.
    /// `--root DIR` puts them all under DIR (run, lib, etc, log); `--config-dir`
    /// moves the configs alone. A relative DIR is made absolute now: the container's
    /// init changes directory while it builds the root.
    pub fn new(root: Option<&str>, config_dir: Option<&str>) -> Result<Paths> {
        let absolute = |flag: &str, dir: &str| -> Result<PathBuf> {
            if dir.is_empty() {
                return Err(Error::new(format!("{flag} is empty")).hint("give a directory"));
            }
            Ok(std::env::current_dir()
                .context(|| format!("find the current directory for {flag}"))?
                .join(dir))
        };
        let mut paths = match root {
            None => Paths {
                run: PathBuf::from("/run/qing"),
                data: PathBuf::from("/var/lib/qing"),
                config: PathBuf::from("/etc/qing"),
                logs: PathBuf::from("/var/log/qing"),
            },
            Some(dir) => {
                let dir = absolute("--root", dir)?;
                Paths {
                    run: dir.join("run"),
                    data: dir.join("lib"),
                    config: dir.join("etc"),
                    logs: dir.join("log"),
                }
            }
        };
        if let Some(dir) = config_dir {
            paths.config = absolute("--config-dir", dir)?;
        }
        Ok(paths)
    }

    /// Where supervised containers' records and pidfiles are.
    pub fn containers(&self) -> PathBuf {
        self.run.join("containers")
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
pub struct Claim(OwnedFd);

impl Claim {
    /// The claim's descriptor, for a supervisor to keep across its execve.
    pub fn fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }

    /// A claim passed across execve as its descriptor.
    pub fn adopt(fd: OwnedFd) -> Claim {
        Claim(fd)
    }
}

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

/// Whether some process holds the claim on `name`: the container runs. Read from
/// /proc/net/unix, where abstract names show as `@qing/NAME`, so that looking never
/// takes the name, even for an instant.
pub fn is_claimed(name: &str) -> bool {
    let wanted = format!("@qing/{name}");
    crate::sys::read_text("/proc/net/unix").is_ok_and(|t| {
        t.lines()
            .any(|l| l.split_whitespace().nth(7) == Some(wanted.as_str()))
    })
}

/// The names every running container holds, from /proc/net/unix.
pub fn claimed_names() -> Vec<String> {
    let text = crate::sys::read_text("/proc/net/unix").unwrap_or_default();
    let mut names: Vec<String> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(7)?.strip_prefix("@qing/"))
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// temp, fsync, rename: the file is the old one or the new one, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).context(|| format!("create {}", dir.display()))?;
    let temp = path.with_extension(format!("tmp{}", std::process::id()));
    let result = std::fs::File::create(&temp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&temp, path))
        .context(|| format!("write {}", path.display()));
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}
