//! How the container's processes tell `qing run` that setup failed, before there is a
//! command whose exit status could say so. A SOCK_SEQPACKET pair: one message is one
//! failure (exit code byte + text). Every end in the container is close-on-exec, so
//! the host end reads end-of-file exactly when the command has been executed, or when
//! everything in the container has died.

use crate::error::{Context, Error, Result, EXIT_QING_FAILED};
use nix::errno::Errno;
use nix::sys::socket::{recv, send, MsgFlags};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

const MAX_MESSAGE: usize = 4096;

pub struct HostEnd(OwnedFd);
pub struct ContainerEnd(OwnedFd);

pub fn channel() -> Result<(HostEnd, ContainerEnd)> {
    let (a, b) = crate::sys::seqpacket_pair().ctx("create the setup report channel")?;
    Ok((HostEnd(a), ContainerEnd(b)))
}

impl HostEnd {
    /// Blocks until the command was executed (`None`) or setup failed (the failure).
    pub fn wait_for_exec(&self) -> Option<Error> {
        let mut buf = [0u8; MAX_MESSAGE];
        loop {
            match recv(self.0.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(Errno::EINTR) => continue,
                Ok(0) | Err(_) => return None,
                Ok(n) => {
                    let (code, text) = buf.get(..n).and_then(|m| m.split_first())?;
                    return Some(
                        Error::new(String::from_utf8_lossy(text).into_owned())
                            .with_exit_code(i32::from(*code)),
                    );
                }
            }
        }
    }
}

impl ContainerEnd {
    pub fn raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    pub fn send(&self, e: &Error) {
        let code = u8::try_from(e.exit_code()).unwrap_or(EXIT_QING_FAILED as u8);
        let mut msg = vec![code];
        msg.extend(e.to_string().bytes().take(MAX_MESSAGE - 1));
        let _ = send(self.0.as_raw_fd(), &msg, MsgFlags::MSG_NOSIGNAL);
    }

    /// `qing run` may have died before this process asked to die with it: its end is
    /// then closed, and a peek reads end-of-file at once.
    pub fn host_is_alive(&self) -> bool {
        let mut b = [0u8; 1];
        !matches!(
            recv(
                self.0.as_raw_fd(),
                &mut b,
                MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT
            ),
            Ok(0)
        )
    }
}
