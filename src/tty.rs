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

use crate::error::{Context, Error, Result};
use crate::features::TTY;
use crate::net::publish::Forwarder;
use crate::sys;
use nix::fcntl::OFlag;
use nix::sys::signal::{kill, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
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
        let slave = nix::fcntl::open(
            name.as_str(),
            OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
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
/// a terminal, and published ports are served meanwhile. Expects the forwarded
/// signals to be blocked already (supervise::block_signals).
pub fn relay(master: OwnedFd, child: Pid, forwarder: &mut Forwarder) -> Result<WaitStatus> {
    if !TTY.built {
        return Err(TTY.left_out("--tty"));
    }
    let mut set = crate::supervise::forwarded_and_sigchld();
    set.add(Signal::SIGWINCH);
    set.thread_block().ctx("block SIGWINCH")?;
    let sigfd =
        SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC).ctx("watch signals for the terminal")?;
    let stdin = std::io::stdin();
    let _raw = RawMode::enter(stdin.as_fd());
    sys::copy_window_size(0, master.as_raw_fd());
    let mut stdin_open = true;
    let mut buf = [0u8; 4096];
    loop {
        let wait_on = |fd: RawFd| sys::pollfd(fd, true, false);
        let mut fds = vec![
            wait_on(master.as_raw_fd()),
            wait_on(sigfd.as_raw_fd()),
            // A negative descriptor is skipped by poll.
            wait_on(if stdin_open { 0 } else { -1 }),
        ];
        forwarder.want(&mut fds);
        sys::poll(&mut fds, None);
        let ready = |i: usize| fds.get(i).is_some_and(|p| p.revents != 0);
        let (from_master, from_signals, from_stdin) = (ready(0), ready(1), ready(2));
        if from_master && !copy(master.as_raw_fd(), 1, &mut buf) {
            // Every process of the terminal has closed it: only the exit is left.
            return wait_for(child);
        }
        if from_stdin && !copy(0, master.as_raw_fd(), &mut buf) {
            // End of input: the terminal's end-of-file character, as a user would type.
            let _ = nix::unistd::write(&master, &[4]);
            stdin_open = false;
        }
        if from_signals {
            if let Ok(Some(info)) = sigfd.read_signal() {
                let sig = info.ssi_signo as libc::c_int;
                if sig == libc::SIGWINCH {
                    sys::copy_window_size(0, master.as_raw_fd());
                } else if sig == libc::SIGCHLD {
                    if let Some(status) = ended(child) {
                        drain(master.as_raw_fd(), &mut buf);
                        return Ok(status);
                    }
                } else if let Ok(s) = Signal::try_from(sig) {
                    let _ = kill(child, s);
                }
            }
        }
        forwarder.serve(fds.get(3..).unwrap_or_default());
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

/// What the terminal still holds once the child has ended.
fn drain(master: RawFd, buf: &mut [u8]) {
    while sys::readable_now(master) && copy(master, 1, buf) {}
}

fn ended(child: Pid) -> Option<WaitStatus> {
    match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
        Ok(s @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => Some(s),
        _ => None,
    }
}

fn wait_for(child: Pid) -> Result<WaitStatus> {
    loop {
        match waitpid(child, None) {
            Ok(s @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => return Ok(s),
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::sys(format!("wait for process {child}"), e)),
        }
    }
}
