//! Container logs. A supervisor copies what its container writes to stdout and stderr
//! into LOGS/NAME.log, capped: the write that would pass the cap first moves the file
//! to NAME.log.1, the one rotation, and starts a new one, so at most twice the cap is
//! ever on disk (boards log to flash). Or each line goes to syslog as `qing/NAME`.

use crate::error::{Context, Error, Result};
use nix::sys::socket::{connect, socket, AddressFamily, SockFlag, SockType, UnixAddr};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

pub enum Log {
    File {
        path: PathBuf,
        file: File,
        size: u64,
        cap: u64,
    },
    Syslog {
        socket: OwnedFd,
        tag: String,
        /// The start of a line not yet ended.
        partial: Vec<u8>,
    },
}

pub fn log_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.log"))
}

fn rotated(path: &Path) -> PathBuf {
    path.with_extension("log.1")
}

impl Log {
    pub fn open(dir: &Path, name: &str, cap: u64, syslog: bool) -> Result<Log> {
        if syslog {
            return Ok(Log::Syslog {
                socket: connect_syslog()?,
                tag: format!("qing/{name}"),
                partial: Vec::new(),
            });
        }
        crate::state::private_dir(dir)?;
        let path = log_path(dir, name);
        let file =
            crate::state::private_file(&path, nix::fcntl::OFlag::O_APPEND).at("open", &path)?;
        // A log an older qing made readable to all is made root's alone.
        let _ = nix::sys::stat::fchmod(&file, nix::sys::stat::Mode::from_bits_truncate(0o600));
        let size = file.metadata().map_or(0, |m| m.len());
        Ok(Log::File {
            path,
            file,
            size,
            cap,
        })
    }

    /// Best effort: a full disk or a gone syslog must not stop the container.
    pub fn write(&mut self, bytes: &[u8]) {
        match self {
            Log::File {
                path,
                file,
                size,
                cap,
            } => {
                // A single write larger than the cap keeps its end.
                let start = bytes.len().saturating_sub(*cap as usize);
                let bytes = bytes.get(start..).unwrap_or_default();
                if *size + bytes.len() as u64 > *cap {
                    let fresh = std::fs::rename(&*path, rotated(path)).and_then(|()| {
                        crate::state::private_file(path, nix::fcntl::OFlag::O_TRUNC)
                    });
                    if let Ok(f) = fresh {
                        *file = f;
                        *size = 0;
                    }
                }
                if file.write_all(bytes).is_ok() {
                    *size += bytes.len() as u64;
                }
            }
            Log::Syslog {
                socket,
                tag,
                partial,
            } => {
                partial.extend_from_slice(bytes);
                // Whole lines go out; a very long one goes out in pieces.
                while let Some(end) = partial
                    .iter()
                    .position(|b| *b == b'\n')
                    .or((partial.len() > 1024).then_some(1024))
                {
                    let line: Vec<u8> = partial.drain(..=end.min(partial.len() - 1)).collect();
                    // <14>: facility user, severity info.
                    let mut msg = format!("<14>{tag}: ").into_bytes();
                    msg.extend_from_slice(line.strip_suffix(b"\n").unwrap_or(&line));
                    let send = |s: &OwnedFd| {
                        nix::sys::socket::send(
                            s.as_raw_fd(),
                            &msg,
                            nix::sys::socket::MsgFlags::empty(),
                        )
                    };
                    // A restarted syslog daemon has a new socket at the same path.
                    if send(socket).is_err() {
                        if let Ok(fresh) = connect_syslog() {
                            *socket = fresh;
                            let _ = send(socket);
                        }
                    }
                }
            }
        }
    }
}

fn connect_syslog() -> Result<OwnedFd> {
    let socket = socket(
        AddressFamily::Unix,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .ctx("create a socket for syslog")?;
    let addr = UnixAddr::new("/dev/log").ctx("name /dev/log")?;
    connect(socket.as_raw_fd(), &addr)
        .ctx("connect to syslog at /dev/log")
        .map_err(|e| e.hint("start a syslog daemon (busybox syslogd, logd), or log to a file"))?;
    Ok(socket)
}

/// `qing logs NAME [--tail N] [--follow]`: the rotated file, then the current one.
pub fn show(dir: &Path, name: &str, tail: Option<usize>, follow: bool) -> Result<i32> {
    let path = log_path(dir, name);
    let mut text = Vec::new();
    for p in [rotated(&path), path.clone()] {
        if let Ok(mut f) = crate::sys::open_file(&p, nix::fcntl::OFlag::O_RDONLY, 0) {
            f.read_to_end(&mut text).at("read", &p)?;
        }
    }
    let shown = match tail {
        None => &text[..],
        Some(n) => {
            // The start of the n-th last line (a final newline ends the last line).
            let body = text.strip_suffix(b"\n").unwrap_or(&text);
            let starts = body
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i + 1);
            let cut = starts
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .nth(n.saturating_sub(1));
            match (n, cut) {
                (0, _) => &text[text.len()..],
                (_, Some(i)) => text.get(i..).unwrap_or_default(),
                (_, None) => &text[..],
            }
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(shown).and_then(|()| out.flush());
    if follow {
        follow_file(&path, &mut out)?;
    }
    Ok(0)
}

/// Prints what is added to the log as it comes, across rotations, until interrupted.
fn follow_file(path: &Path, out: &mut impl Write) -> Result<()> {
    let identity = |f: &File| {
        use std::os::unix::fs::MetadataExt;
        f.metadata().map(|m| (m.dev(), m.ino())).ok()
    };
    let open = |p: &Path| crate::sys::open_file(p, nix::fcntl::OFlag::O_RDONLY, 0).ok();
    let mut file = open(path);
    let mut pos = file
        .as_ref()
        .and_then(|f| f.metadata().ok())
        .map_or(0, |m| m.len());
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let current = open(path);
        let rotated = match (&file, &current) {
            (Some(a), Some(b)) => identity(a) != identity(b),
            (None, Some(_)) => true,
            _ => false,
        };
        if rotated {
            // The rest of the old file first, then the new one from its start.
            if let Some(old) = file.as_mut() {
                copy_from(old, pos, &mut buf, out)?;
            }
            file = current;
            pos = 0;
        }
        if let Some(f) = file.as_mut() {
            let len = f.metadata().map_or(pos, |m| m.len());
            if len < pos {
                pos = 0; // truncated by hand
            }
            pos = copy_from(f, pos, &mut buf, out)?;
        }
    }
}

fn copy_from(f: &mut File, pos: u64, buf: &mut [u8], out: &mut impl Write) -> Result<u64> {
    let mut pos = f
        .seek(SeekFrom::Start(pos))
        .map_err(|_| Error::new("seek in the log"))?;
    loop {
        let n = f.read(buf).unwrap_or(0);
        let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
            break;
        };
        out.write_all(chunk)
            .and_then(|()| out.flush())
            .map_err(|_| Error::new("write the log out"))?;
        pos += n as u64;
    }
    Ok(pos)
}

/// Removes both files of `name`'s log.
pub fn remove(dir: &Path, name: &str) {
    let path = log_path(dir, name);
    let _ = std::fs::remove_file(rotated(&path));
    let _ = std::fs::remove_file(path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_never_holds_more_than_twice_its_cap() {
        let dir = std::env::temp_dir().join(format!("qing-log-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut log = Log::open(&dir, "c", 4096, false).unwrap();
        for i in 0..1000 {
            log.write(format!("line {i} of some length to fill it\n").as_bytes());
        }
        log.write(&[b'x'; 10_000]);
        let total: u64 = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum();
        assert!(total <= 2 * 4096, "{total} bytes on disk for a 4096 cap");
        assert!(std::fs::read(dir.join("c.log"))
            .unwrap()
            .ends_with(&[b'x'; 100]));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
