//! The container's security baseline (its capabilities are `capabilities.rs`'s):
//! no_new_privs, descriptor hygiene, a working directory checked to be inside the
//! root, and the host's qing binary kept out of the container's reach.
//!
//! How the qing binary is kept out of reach (the runc /proc/self/exe escape class):
//! - The container's init is a qing process inside the container's PID namespace.
//!   It makes itself non-dumpable first thing, so its /proc/1/exe, /proc/1/fd and
//!   /proc/1/mem are closed to every process that lacks CAP_SYS_PTRACE, which the
//!   container never has.
//! - The process that becomes the container's command is a qing process until its
//!   execve. It refuses to execute a file that is the qing binary, reached through
//!   /proc/self/exe, a symlink, or a script's `#!` line.
//! - No descriptor of the host survives into the container: the init closes all but
//!   its own channel, and the command's process marks everything from 3 up
//!   close-on-exec.

use crate::error::{Context, Error, Result};
use nix::sys::stat::stat;
use std::path::Path;

/// Starting a container creates namespaces, mounts and cgroups, and its state is
/// root's alone.
pub fn require_root() -> Result<()> {
    if nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    Err(Error::new(
        "qing needs root to start a container: it creates namespaces, mounts and cgroups",
    )
    .hint("run it as root, from an init script or with sudo"))
}

pub fn set_no_new_privs() -> Result<()> {
    nix::sys::prctl::set_no_new_privs().ctx("set no_new_privs")
}

/// Closes /proc/PID/exe, fd, mem and friends of this process to anything without
/// CAP_SYS_PTRACE. Inherited by fork, undone by execve.
pub fn make_undumpable() -> Result<()> {
    nix::sys::prctl::set_dumpable(false).ctx("make qing's process non-dumpable")
}

/// The host file qing runs from, known by device and inode so that it is recognised
/// under any name, including /proc/self/exe.
#[derive(Clone, Copy, Debug)]
pub struct ExeIdentity {
    dev: u64,
    ino: u64,
}

impl ExeIdentity {
    pub fn of_current_process() -> Result<ExeIdentity> {
        let st = stat("/proc/self/exe").ctx("stat /proc/self/exe")?;
        Ok(ExeIdentity {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
        })
    }

    fn is(&self, path: &Path) -> bool {
        stat(path).is_ok_and(|st| st.st_dev == self.dev && st.st_ino == self.ino)
    }

    /// Refuses `program` if it is qing's own binary, or a script whose interpreter
    /// chain (the kernel follows up to 4 levels of `#!`) leads to it.
    pub fn refuse_if_qing(&self, program: &Path) -> Result<()> {
        let mut current = program.to_path_buf();
        for _ in 0..5 {
            if self.is(&current) {
                return Err(Error::new(format!(
                    "refusing to execute {}: it is the host's qing binary",
                    program.display()
                ))
                .with_exit_code(crate::error::EXIT_CANNOT_EXECUTE));
            }
            match script_interpreter(&current) {
                Some(next) => current = next,
                None => return Ok(()),
            }
        }
        Ok(())
    }
}

/// The interpreter named on a `#!` first line, if `path` is such a script.
fn script_interpreter(path: &Path) -> Option<std::path::PathBuf> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let n = crate::sys::open_file(path, nix::fcntl::OFlag::O_RDONLY, 0)
        .ok()?
        .read(&mut head)
        .ok()?;
    let line = head.get(..n)?.strip_prefix(b"#!")?;
    let line = line.split(|b| *b == b'\n').next()?;
    let start = line.iter().position(|b| *b != b' ' && *b != b'\t')?;
    let rest = line.get(start..)?;
    let end = rest
        .iter()
        .position(|b| *b == b' ' || *b == b'\t')
        .unwrap_or(rest.len());
    let interp = std::str::from_utf8(rest.get(..end)?).ok()?;
    Some(std::path::PathBuf::from(interp))
}

/// A working directory reached through a leaked descriptor, or left outside by a
/// chroot, has no path from the root: getcwd fails for it.
pub fn verify_cwd_inside_root(workdir: &str) -> Result<()> {
    match nix::unistd::getcwd() {
        Ok(p) if p.as_os_str().as_encoded_bytes().first() == Some(&b'/') => Ok(()),
        _ => Err(Error::new(format!(
            "working directory {workdir} is outside the container's root"
        ))
        .hint("give a --workdir that is a directory inside the container")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_interpreters_are_read_from_the_first_line() {
        let dir = std::env::temp_dir().join(format!("qing-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("s");
        std::fs::write(&script, "#! \t/proc/self/exe run x\necho\n").unwrap();
        assert_eq!(script_interpreter(&script), Some("/proc/self/exe".into()));
        std::fs::write(&script, "echo no shebang\n").unwrap();
        assert_eq!(script_interpreter(&script), None);
        std::fs::write(&script, "#!").unwrap();
        assert_eq!(script_interpreter(&script), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_running_binary_is_recognised_through_proc_self_exe() {
        let me = ExeIdentity::of_current_process().unwrap();
        assert!(me.refuse_if_qing(Path::new("/proc/self/exe")).is_err());
        assert!(me.refuse_if_qing(Path::new("/bin/sh")).is_ok());
    }
}
