//! `--tty`: an interactive terminal for `qing run` and `qing exec`.
//!
//! The pseudo-terminal is made inside the container, from the container's own devpts,
//! by the process that becomes the command; only its master end crosses to the host,
//! over a socket (SCM_RIGHTS). Handing the container the host's terminal instead would
//! give it a host descriptor, through which it could reach the host's session.
//!
//! On the host, qing relays bytes between its own terminal, put in raw mode for the
//! while (restored on every way out but SIGKILL), and the master; window size changes
//! (SIGWINCH) are passed on.

use crate::error::{Context, Result};
use crate::features::TTY;
use crate::net::publish::Forwarder;
use crate::sys;
use crate::wait::{self, Waited};
use nix::fcntl::OFlag;
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use nix::unistd::Pid;
use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// The host's end of the socket that carries the master to it.
pub struct HostEnd(OwnedFd);
/// The container's end: the command's process sends the master through it.
pub struct ContainerEnd(OwnedFd);

pub fn channel() -> Result<(HostEnd, ContainerEnd)> {
    if !TTY.built {
        return Err(TTY.left_out("--tty"));
    }
    let (a, b) = sys::seqpacket_pair().ctx("create the terminal channel")?;
    Ok((HostEnd(a), ContainerEnd(b)))
}

impl ContainerEnd {
    pub fn raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    /// In the command's process, inside the container and still privileged: opens a
    /// pseudo-terminal, sends its master to the host, and makes the other end this
    /// process's controlling terminal and its stdin, stdout and stderr. `owner` gets
    /// the terminal, as login does for the user it starts.
    pub fn attach_new_terminal(self, owner: u32) -> Result<()> {
        if !TTY.built {
            return Err(TTY.left_out("--tty"));
        }
        let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
            .ctx("open /dev/ptmx in the container")?;
        nix::pty::unlockpt(&master).ctx("unlock the new terminal")?;
        // Not ptsname_r: musl's formats the name with snprintf, which would bring in
        // all of printf (10 KB).
        let number = sys::terminal_number(master.as_raw_fd()).ctx("name the new terminal")?;
        let name = format!("/dev/pts/{number}");
        let slave = crate::sys::open_fd(
            std::path::Path::new(name.as_str()),
            OFlag::O_RDWR | OFlag::O_NOCTTY,
            0,
        )
        .context(|| format!("open {name}"))?;
        let _ = nix::unistd::fchown(&slave, Some(nix::unistd::Uid::from_raw(owner)), None);
        let fds = [master.as_raw_fd()];
        let cmsg = [ControlMessage::ScmRights(&fds)];
        let iov = [std::io::IoSlice::new(b"t")];
        sendmsg::<()>(
            self.0.as_raw_fd(),
            &iov,
            &cmsg,
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .ctx("pass the terminal to qing")?;
        drop(master);
        // The controlling terminal needs a session of its own.
        nix::unistd::setsid().ctx("start a session for the terminal")?;
        sys::make_controlling_terminal(slave.as_raw_fd())
            .context(|| format!("make {name} the controlling terminal"))?;
        for target in 0..3 {
            sys::dup_onto(slave.as_raw_fd(), target)
                .context(|| format!("put {name} on descriptor {target}"))?;
        }
        Ok(())
    }
}

impl HostEnd {
    /// The master, once the command's process has made the terminal; `None` when
    /// setup failed first (the failure then comes through the setup report).
    pub fn receive(self) -> Option<OwnedFd> {
        if !TTY.built {
            return None;
        }
        let mut byte = [0u8; 1];
        let mut iov = [IoSliceMut::new(&mut byte)];
        let mut space = nix::cmsg_space!(RawFd);
        let msg = loop {
            match recvmsg::<()>(
                self.0.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Err(nix::errno::Errno::EINTR) => continue,
                other => break other.ok()?,
            }
        };
        let fd = msg.cmsgs().ok()?.find_map(|c| match c {
            ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
            _ => None,
        })?;
        Some(sys::own_received_fd(fd))
    }
}

/// The host terminal in raw mode, put back as it was when dropped.
struct RawMode {
    saved: Termios,
}

impl RawMode {
    fn enter(fd: BorrowedFd) -> Option<RawMode> {
        let saved = tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(fd, SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSAFLUSH, &self.saved);
    }
}

/// Relays between this process's stdin and stdout and the terminal `master` until
/// `child` ends, and gives how it ended. Forwarded signals go to `child`, as without
/// a terminal, and published ports are served meanwhile: the relay is one more source
/// of the one wait loop.
pub fn relay(master: OwnedFd, child: Pid, forwarder: &mut Forwarder) -> Result<Waited> {
    if !TTY.built {
        return Err(TTY.left_out("--tty"));
    }
    let stdin = std::io::stdin();
    let _raw = RawMode::enter(stdin.as_fd());
    sys::copy_window_size(0, master.as_raw_fd());
    let mut relay = Relay {
        master,
        master_open: true,
        stdin_open: true,
        buf: [0; 4096],
    };
    wait::wait(child, false, &mut [&mut relay, forwarder])
}

/// The terminal as a source of the wait loop: the master to stdout, stdin to the
/// master, window sizes along.
struct Relay {
    master: OwnedFd,
    /// False once every process of the terminal has closed it (it then reads EIO).
    master_open: bool,
    stdin_open: bool,
    buf: [u8; 4096],
}

impl wait::Source for Relay {
    fn want(&self, fds: &mut Vec<libc::pollfd>) {
        // A negative descriptor is skipped by poll.
        let master = if self.master_open {
            self.master.as_raw_fd()
        } else {
            -1
        };
        fds.push(sys::pollfd(master, true, false));
        fds.push(sys::pollfd(
            if self.stdin_open { 0 } else { -1 },
            true,
            false,
        ));
    }

    fn serve(&mut self, ready: &[libc::pollfd]) {
        let ready = |i: usize| ready.get(i).is_some_and(|p| p.revents != 0);
        let master = self.master.as_raw_fd();
        if ready(0) && !copy(master, 1, &mut self.buf) {
            // Every process of the terminal has closed it: only the exit is left.
            self.master_open = false;
        }
        if ready(1) && !copy(0, master, &mut self.buf) {
            // End of input: the terminal's end-of-file character, as a user would type.
            let _ = nix::unistd::write(&self.master, &[4]);
            self.stdin_open = false;
        }
    }

    fn signal(&mut self, sig: libc::c_int) {
        if sig == libc::SIGWINCH {
            sys::copy_window_size(0, self.master.as_raw_fd());
        }
    }

    /// What the terminal still holds once the child has ended.
    fn ended(&mut self) {
        let master = self.master.as_raw_fd();
        while self.master_open && sys::readable_now(master) && copy(master, 1, &mut self.buf) {}
    }
}

/// Copies what one read gives; false at end-of-file or a read error (a terminal that
/// every process has closed reads EIO). What `to` does not take is dropped: a closed
/// stdout must not stop the relay, or the container would block on a full terminal.
fn copy(from: RawFd, to: RawFd, buf: &mut [u8]) -> bool {
    match sys::read_some(from, buf) {
        Some(n) if n > 0 => {
            let _ = buf.get(..n).map(|b| sys::write_all(to, b));
            true
        }
        _ => false,
    }
}
