//! `--tty` for `qing run` and `qing exec`: qing is started on a pseudo-terminal the
//! test owns, as a user's shell would start it, and the test types at it.

mod common;
use common::{qing_bin, rootfs, Container};
use nix::pty::{openpty, Winsize};
use nix::sys::termios::{tcgetattr, LocalFlags};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A terminal the test types at, with qing running on its other end.
struct Terminal {
    master: std::fs::File,
    slave: OwnedFd,
    seen: mpsc::Receiver<u8>,
    text: String,
}

fn size(rows: u16, cols: u16) -> Winsize {
    Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

impl Terminal {
    /// Starts `qing ARGS` as the foreground process of a new terminal of 33x99.
    fn start(args: &[&str]) -> (Terminal, Child) {
        let pty = openpty(Some(&size(33, 99)), None).unwrap();
        let slave_fd = pty.slave.as_raw_fd();
        let stdio = || Stdio::from(pty.slave.try_clone().unwrap());
        let mut cmd = Command::new(qing_bin());
        cmd.args(args)
            .stdin(stdio())
            .stdout(stdio())
            .stderr(stdio());
        // SAFETY: setsid and ioctl are async-signal-safe.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
                libc::setsid();
                libc::ioctl(slave_fd, libc::TIOCSCTTY as _, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        let master = std::fs::File::from(pty.master);
        let mut reader = master.try_clone().unwrap();
        let (tx, seen) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || buf[..n].iter().any(|b| tx.send(*b).is_err()) {
                    break;
                }
            }
        });
        let t = Terminal {
            master,
            slave: pty.slave,
            seen,
            text: String::new(),
        };
        (t, child)
    }

    fn type_line(&mut self, line: &str) {
        self.master.write_all(line.as_bytes()).unwrap();
        self.master.write_all(b"\r").unwrap();
    }

    /// Reads until `marker` was printed; returns what came before it.
    fn until(&mut self, marker: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !self.text.contains(marker) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.seen.recv_timeout(left) {
                Ok(b) => self.text.push(b as char),
                Err(_) => panic!("no {marker:?} on the terminal; it shows:\n{}", self.text),
            }
        }
        let (before, after) = self.text.split_once(marker).unwrap();
        let before = before.to_string();
        self.text = after.to_string();
        before
    }

    fn resize(&self, rows: u16, cols: u16) {
        let ws = size(rows, cols);
        // SAFETY: TIOCSWINSZ reads the winsize it is given.
        unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ as _, &ws) };
    }

    fn is_raw(&self) -> bool {
        !tcgetattr(&self.slave)
            .unwrap()
            .local_flags
            .contains(LocalFlags::ICANON)
    }
}

/// Types at a shell with a terminal in the container: its own terminal device, the
/// window size and its changes, and the exit status; the host terminal is raw while
/// the shell runs and restored after.
fn drive_a_shell(t: &mut Terminal, child: &mut Child) {
    let before = tcgetattr(&t.slave).unwrap();
    // $((...)) makes the markers differ from the echo of what is typed.
    t.type_line("tty; stty size; echo M$((1+1))");
    let shown = t.until("M2");
    assert!(
        shown.contains("/dev/pts/0"),
        "a terminal of the container's devpts: {shown}"
    );
    assert!(
        shown.contains("33 99"),
        "the window size is passed in: {shown}"
    );
    assert!(
        t.is_raw(),
        "the host terminal is raw while the container has it"
    );
    t.resize(40, 120);
    // SIGWINCH reaches qing as the terminal's foreground process; give it a moment.
    std::thread::sleep(Duration::from_millis(300));
    t.type_line("stty size; echo M$((2+1))");
    assert!(t.until("M3").contains("40 120"), "a resize is passed on");
    t.type_line("exit 3");
    assert_eq!(child.wait().unwrap().code(), Some(3));
    let after = tcgetattr(&t.slave).unwrap();
    assert_eq!(
        after.local_flags, before.local_flags,
        "the host terminal is restored"
    );
    assert_eq!(after.input_flags, before.input_flags);
    assert_eq!(after.output_flags, before.output_flags);
}

#[test]
fn run_tty_gives_the_container_a_terminal_of_its_own() {
    if common::skip_without_any(&["tty"]) {
        return;
    }
    let c = Container::new("tty-run");
    let root = c.state_root.display().to_string();
    let image = rootfs().display().to_string();
    let (mut t, mut child) = Terminal::start(&[
        "--root", &root, "run", "--tty", "--name", &c.name, &image, "--", "/bin/sh",
    ]);
    drive_a_shell(&mut t, &mut child);
    c.assert_no_leftovers();
}

#[test]
fn exec_tty_gives_the_joined_shell_a_terminal_of_its_own() {
    if common::skip_without_any(&["tty", "exec"]) {
        return;
    }
    let c = Container::new("tty-exec");
    let running = c.start(&[], "echo up; read x; exit 0", "up");
    let root = c.state_root.display().to_string();
    let (mut t, mut child) = Terminal::start(&["--root", &root, "exec", "-t", &c.name, "/bin/sh"]);
    drive_a_shell(&mut t, &mut child);
    assert_eq!(running.wait(), Some(0));
    c.assert_no_leftovers();
}

#[test]
fn a_tty_container_whose_input_ends_gets_end_of_file() {
    if common::skip_without_any(&["tty"]) {
        return;
    }
    // Not a terminal on qing's side: input from a pipe still reaches the command, and
    // its end reads as end-of-file there.
    let c = Container::new("tty-eof");
    let mut child = c
        .command(
            &["--tty"],
            rootfs(),
            &["/bin/sh", "-c", "cat; echo after-eof"],
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"typed\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("typed") && text.contains("after-eof"),
        "{text}"
    );
    c.assert_no_leftovers();
}
