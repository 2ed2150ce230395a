//! Where qing keeps its state, who may read it, and the claim a running container
//! holds on its name.
//!
//! Everything qing writes is root's alone: directories 0700, files 0600, whatever
//! the umask. Configs hold secrets (`--env API_KEY=...`), and records and logs say
//! what runs.
//!
//! A name is claimed by a lock on `/run/qing/names/NAME` (`Claim`), held while the
//! container lives. Names are machine-wide, as the cgroup tree (`qing/NAME`) is, so
//! the claims are too, whatever `--root` says. The directory is root's alone, so no
//! other account and no container can take a name; the lock is atomic, lives on a
//! tmpfs (no write to flash), and the kernel drops it however its holders die.

use crate::error::{Context, Error, Result};
use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fstat, fstatat, Mode};
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

pub mod record;

/// Where the claims on container names are: machine-wide, root's alone.
pub const NAMES: &str = "/run/qing/names";

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
        private_dir(&dir)?;
        Ok(dir)
    }
}

/// A container's hold on its name: a lock on `NAMES/NAME`, shared by every copy of
/// its descriptor (the container's init inherits one, and a supervisor keeps it across
/// its execve). Whoever releases it removes the file first, while still holding the
/// lock; a claimer that opened the file before then finds the lock on a file no
/// longer there, and tries again (`claim`).
pub struct Claim {
    file: OwnedFd,
    /// NAMES, open: the init removes the file through it after its holder has died,
    /// when no path of the host means anything to the init any more.
    dir: OwnedFd,
    /// RUN/containers, open, when a supervisor records the container there: the
    /// records go with the claim.
    records: Option<OwnedFd>,
    name: String,
}

impl Claim {
    /// The descriptors to keep open: across a supervisor's execve, in the init.
    pub fn fds(&self) -> Vec<RawFd> {
        let mut fds = vec![self.file.as_raw_fd(), self.dir.as_raw_fd()];
        fds.extend(self.records.as_ref().map(AsRawFd::as_raw_fd));
        fds
    }

    /// A claim passed across execve as its descriptors.
    pub fn adopt(file: OwnedFd, dir: OwnedFd, records: Option<OwnedFd>, name: &str) -> Claim {
        Claim {
            file,
            dir,
            records,
            name: name.to_string(),
        }
    }

    /// From now on the container's records in `paths` go when the claim does: a
    /// supervisor's container, whose init removes them if the supervisor is killed.
    pub fn with_records(mut self, paths: &Paths) -> Result<Claim> {
        let dir = paths.containers();
        private_dir(&dir)?;
        let fd =
            crate::sys::open_fd(&dir, OFlag::O_RDONLY | OFlag::O_DIRECTORY, 0).at("open", &dir)?;
        self.records = Some(fd);
        Ok(self)
    }

    /// Gives the name up: the records and the claim's file go, and the lock with
    /// the last descriptor. The container's init calls this when the claim's holder
    /// died first.
    pub fn release(&self) {
        use nix::unistd::{unlinkat, UnlinkatFlags};
        if let Some(dir) = &self.records {
            for file in record::files(&self.name) {
                let _ = unlinkat(dir, file.as_str(), UnlinkatFlags::NoRemoveDir);
            }
        }
        let _ = unlinkat(&self.dir, self.name.as_str(), UnlinkatFlags::NoRemoveDir);
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.release();
    }
}

/// NAMES, open; made on the first claim after boot (every start asks: one open
/// when it is there).
fn open_names() -> Result<OwnedFd> {
    let open = || {
        crate::sys::open_fd(
            Path::new(NAMES),
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW,
            0,
        )
    };
    match open() {
        Err(Errno::ENOENT) => {
            private_dir(Path::new(NAMES))?;
            open()
        }
        other => other,
    }
    .context(|| format!("open {NAMES}"))
}

fn already_running(name: &str) -> Error {
    Error::new(format!(
        "a container named {name_q} is already running",
        name_q = crate::error::quoted(name)
    ))
    .hint("choose another --name, or stop that container first")
}

/// Claims `name` for the caller, or says it runs already.
pub fn claim(name: &str) -> Result<Claim> {
    let dir = open_names()?;
    loop {
        let file = openat(
            &dir,
            name,
            OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .context(|| format!("open {NAMES}/{name}"))?;
        if !crate::sys::lock_whole_file(file.as_raw_fd())
            .context(|| format!("lock {NAMES}/{name}"))?
        {
            return Err(already_running(name));
        }
        // Still the file at that name? A holder removes it before letting go.
        let held = fstat(&file).context(|| format!("stat {NAMES}/{name}"))?;
        match fstatat(&dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) if (st.st_dev, st.st_ino) == (held.st_dev, held.st_ino) => {
                return Ok(Claim {
                    file,
                    dir,
                    records: None,
                    name: name.to_string(),
                })
            }
            Ok(_) | Err(Errno::ENOENT) => continue,
            Err(e) => return Err(Error::sys(format!("stat {NAMES}/{name}"), e)),
        }
    }
}

/// Whether some process holds the claim on `name`: the container runs. Asks the
/// kernel about the lock without taking it, so that looking never takes the name.
/// Reading NAMES needs root: for anyone else this is an error that says so.
pub fn is_claimed(name: &str) -> Result<bool> {
    let path = Path::new(NAMES).join(name);
    let file = match crate::sys::open_fd(&path, OFlag::O_RDONLY | OFlag::O_NOFOLLOW, 0) {
        Ok(f) => f,
        Err(Errno::ENOENT) => return Ok(false),
        Err(e) => return Err(names_error(e)),
    };
    crate::sys::whole_file_locked(file.as_raw_fd()).at("test the lock on", &path)
}

fn names_error(e: Errno) -> Error {
    let err = Error::sys(format!("read the claims on container names in {NAMES}"), e);
    if e == Errno::EACCES {
        err.hint("they are root's alone: run qing as root")
    } else {
        err
    }
}

/// The names that running containers hold.
pub fn claimed_names() -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(NAMES) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(names_error(Errno::from_raw(
                e.raw_os_error().unwrap_or(libc::EIO),
            )))
        }
    };
    let mut names = Vec::new();
    for name in entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
    {
        if is_claimed(&name)? {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Creates `dir`, and any parent that is missing, as root's alone (0700). An
/// existing directory is left as it is.
pub fn private_dir(dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .at("create", dir)
}

/// Opens `path` for writing, created as root's alone (0600) if it is not there;
/// `flags` adds O_TRUNC, O_APPEND or O_EXCL.
pub fn private_file(path: &Path, flags: OFlag) -> std::io::Result<std::fs::File> {
    crate::sys::open_file(path, OFlag::O_WRONLY | OFlag::O_CREAT | flags, 0o600)
}

/// temp, fsync, rename: the file is the old one or the new one, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_via(
        path,
        &path.with_extension(format!("tmp{}", std::process::id())),
        bytes,
    )
}

/// `write_atomic` through a temp file of the caller's naming: one that whoever cleans
/// up after a writer killed mid-write knows to remove.
pub fn write_atomic_via(path: &Path, temp: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    private_dir(dir)?;
    let result = private_file(temp, OFlag::O_TRUNC)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(temp, path))
        .at("write", path);
    if result.is_err() {
        let _ = std::fs::remove_file(temp);
    }
    result
}
