//! Where qing keeps its state, and the claim a running container holds on its name.
//!
//! Each container owns `RUN/containers/NAME/`, with a `lock` file that its qing
//! process holds locked (flock) for as long as the container lives. A directory whose
//! lock nobody holds was left by a qing that was killed: the next claim takes it over.
//! Claims and releases happen under one short global lock, `RUN/lock`, so two qing
//! processes never race on the same name.

use crate::error::{Context, Error, Result};
use nix::errno::Errno;
use nix::fcntl::{open, Flock, FlockArg, OFlag};
use nix::sys::stat::Mode;
use std::fs::File;
use std::path::{Path, PathBuf};

pub struct Paths {
    /// Runtime state: gone at reboot, like the containers it describes.
    pub run: PathBuf,
    /// Installed templates and other data that survive a reboot.
    #[allow(dead_code)] // read by the templates commands
    pub data: PathBuf,
}

impl Paths {
    /// `--root DIR` puts both under DIR; the default is /run/qing and /var/lib/qing.
    pub fn new(root: Option<&str>) -> Paths {
        match root {
            Some(dir) => Paths {
                run: Path::new(dir).join("run"),
                data: Path::new(dir).join("lib"),
            },
            None => Paths {
                run: PathBuf::from("/run/qing"),
                data: PathBuf::from("/var/lib/qing"),
            },
        }
    }

    pub fn container_dir(&self, name: &str) -> PathBuf {
        self.run.join("containers").join(name)
    }
}

/// A container's hold on its name and its runtime directory. Dropping it removes the
/// directory, so every error path after the claim cleans up.
pub struct Claim {
    dir: PathBuf,
    global_lock: PathBuf,
    _lock: Flock<File>,
}

impl Claim {
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        // Under the global lock, so a concurrent claim never sees a half-removed dir.
        let _global = lock_file(&self.global_lock, FlockArg::LockExclusive);
        let _ = std::fs::remove_file(self.dir.join("lock"));
        let _ = std::fs::remove_dir(&self.dir);
    }
}

pub fn claim(paths: &Paths, name: &str) -> Result<Claim> {
    let containers = paths.run.join("containers");
    std::fs::create_dir_all(&containers)
        .context(|| format!("create qing's state directory {}", containers.display()))?;
    let global_lock = paths.run.join("lock");
    let _global = lock_file(&global_lock, FlockArg::LockExclusive)?;

    let dir = paths.container_dir(name);
    match nix::unistd::mkdir(&dir, Mode::from_bits_truncate(0o700)) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(Error::sys(format!("create {}", dir.display()), e)),
    }
    let lock = lock_file(&dir.join("lock"), FlockArg::LockExclusiveNonblock).map_err(|e| {
        if e.errno() == Some(Errno::EWOULDBLOCK) {
            Error::new(format!("a container named {name:?} is already running"))
                .hint("choose another --name, or stop that container first")
        } else {
            e
        }
    })?;
    Ok(Claim {
        dir,
        global_lock,
        _lock: lock,
    })
}

fn lock_file(path: &Path, how: FlockArg) -> Result<Flock<File>> {
    let fd = open(
        path,
        OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .context(|| format!("open lock file {}", path.display()))?;
    Flock::lock(File::from(fd), how)
        .map_err(|(_, e)| Error::sys(format!("lock {}", path.display()), e))
}
