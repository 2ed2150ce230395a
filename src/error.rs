//! Errors are values that say what qing was doing, on which object, what the kernel
//! answered, and what the user can do about it.

use nix::errno::Errno;
use std::fmt;

/// `eprintln!` that never panics: a stderr that is gone (a closed pipe, a full
/// disk) is no reason for qing to abort halfway through, leaving things behind.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::error::line_to(false, format_args!($($arg)*))
    };
}
pub(crate) use say;

/// `println!` that never panics: `qing list | head -1` closes the pipe under it.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::error::line_to(true, format_args!($($arg)*))
    };
}
pub(crate) use out;

/// One line to stdout or stderr, its error dropped: what `out!` and `say!` do, in one
/// place.
#[inline(never)]
pub fn line_to(stdout: bool, line: fmt::Arguments) {
    use std::io::Write;
    // Whole, in one write: formatted straight onto stderr, a line would go out in
    // pieces, and the container's init and command share qing's stderr.
    let mut text = line.to_string();
    text.push('\n');
    let _ = if stdout {
        std::io::stdout().write_all(text.as_bytes())
    } else {
        std::io::stderr().write_all(text.as_bytes())
    };
}

/// `qing` itself failed: bad input, a missing kernel feature, a failed setup step.
pub const EXIT_QING_FAILED: i32 = 125;
/// The container's command exists but cannot be executed.
pub const EXIT_CANNOT_EXECUTE: i32 = 126;
/// The container's command was not found.
pub const EXIT_NOT_FOUND: i32 = 127;

pub type Result<T> = std::result::Result<T, Error>;

/// An error is one pointer: a `Result` of it stays small, `?` moves a word, and
/// dropping one is a single call. (Its parts inline made every error path of qing
/// copy and drop four fields: 30 KB of the binary.)
pub struct Error(Box<Inner>);

struct Inner {
    /// What qing was doing, naming the object: "mount overlay on /run/qing/x/root".
    what: String,
    /// The kernel's answer, when a system call failed.
    errno: Option<Errno>,
    /// What to do about it, when qing can tell.
    hint: Option<String>,
    exit_code: i32,
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Error {
    /// Bad input or an unusable environment; `what` already says what was wrong.
    pub fn new(what: impl Into<String>) -> Self {
        Error::made(what.into(), None)
    }

    /// A system call failed while doing `what`.
    pub fn sys(what: impl Into<String>, errno: Errno) -> Self {
        Error::made(what.into(), Some(errno))
    }

    #[inline(never)]
    fn made(what: String, errno: Option<Errno>) -> Self {
        Error(Box::new(Inner {
            what,
            errno,
            hint: None,
            exit_code: EXIT_QING_FAILED,
        }))
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.0.hint = Some(hint.into());
        self
    }

    pub fn with_exit_code(mut self, code: i32) -> Self {
        self.0.exit_code = code;
        self
    }

    pub fn exit_code(&self) -> i32 {
        self.0.exit_code
    }

    /// What was being done (or was wrong), without the kernel's answer or the hint.
    pub fn what(&self) -> &str {
        &self.0.what
    }

    /// The same error, said another way (a flag's message told about a config key).
    pub fn reword(mut self, what: String) -> Self {
        self.0.what = what;
        self
    }

    pub fn errno(&self) -> Option<Errno> {
        self.0.errno
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.what)?;
        if let Some(errno) = self.0.errno {
            write!(f, ": {}", crate::sys::strerror(errno))?;
        }
        if let Some(hint) = &self.0.hint {
            write!(f, "\n  hint: {hint}")?;
        } else if let Some(hint) = self.0.errno.and_then(errno_hint) {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// The remedy of a failed system call whose site gave none, when the errno alone
/// tells it: the machine's limits and state filesystems, not the input.
fn errno_hint(errno: Errno) -> Option<&'static str> {
    match errno {
        Errno::EMFILE => Some(
            "qing ran out of file descriptors: raise the limit (`ulimit -n`; qing needs about 20)",
        ),
        Errno::ENFILE => Some("the system's file table is full: close files, or raise fs.file-max"),
        Errno::ENOSPC => Some("the filesystem is full: free space on it, or give --root another"),
        Errno::EROFS => Some("the filesystem is read-only: remount it read-write, or give --root a writable directory"),
        _ => None,
    }
}

/// Attaches "what was being done" to a failed system call. `at` and `ctx` are the
/// common shapes, built in one place rather than at every call site.
pub trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
    /// "VERB PATH": `.at("create", &dir)`.
    fn at(self, verb: &'static str, path: &std::path::Path) -> Result<T>;
    /// A fixed description: `.ctx("start a new session")`.
    fn ctx(self, what: &'static str) -> Result<T>;
}

#[inline(never)]
fn failed_at(errno: Errno, verb: &str, path: &std::path::Path) -> Error {
    Error::sys(format!("{verb} {}", path.display()), errno)
}

/// The errno of an I/O error; EIO for one that has none.
pub fn errno_of(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

impl<T> Context<T> for nix::Result<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|errno| Error::sys(what(), errno))
    }

    fn at(self, verb: &'static str, path: &std::path::Path) -> Result<T> {
        self.map_err(|errno| failed_at(errno, verb, path))
    }

    fn ctx(self, what: &'static str) -> Result<T> {
        self.map_err(|errno| Error::sys(what, errno))
    }
}

impl<T> Context<T> for std::io::Result<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::sys(what(), errno_of(&e)))
    }

    fn at(self, verb: &'static str, path: &std::path::Path) -> Result<T> {
        self.map_err(|e| failed_at(errno_of(&e), verb, path))
    }

    fn ctx(self, what: &'static str) -> Result<T> {
        self.map_err(|e| Error::sys(what, errno_of(&e)))
    }
}

/// Shows `text` as it was given, in double quotes, with control characters (and
/// quotes and backslashes) escaped, so that nothing in a hostile value can move a
/// terminal's cursor or pass for qing's own words. `{:?}` would do as much, at the
/// price of core's Unicode tables in every binary.
pub fn quoted(text: &str) -> Quoted<'_> {
    Quoted(text)
}

pub struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for c in self.0.chars() {
            match c {
                '"' | '\\' => write!(f, "\\{c}")?,
                '\n' => f.write_str("\\n")?,
                '\t' => f.write_str("\\t")?,
                c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_escape_what_a_terminal_would_act_on() {
        assert_eq!(quoted("web").to_string(), "\"web\"");
        assert_eq!(quoted("").to_string(), "\"\"");
        assert_eq!(
            quoted("a\"b\\c\n\t\u{1b}[2J\0é").to_string(),
            "\"a\\\"b\\\\c\\n\\t\\u{1b}[2J\\u{0}é\""
        );
    }

    #[test]
    fn a_full_read_only_or_descriptor_less_machine_gets_a_remedy() {
        let text = Error::sys("open /x", Errno::EMFILE).to_string();
        assert!(
            text.contains("hint: qing ran out of file descriptors"),
            "{text}"
        );
        let text = Error::sys("write /x", Errno::ENOSPC).to_string();
        assert!(text.contains("hint: the filesystem is full"), "{text}");
        let text = Error::sys("write /x", Errno::EROFS).to_string();
        assert!(text.contains("hint: the filesystem is read-only"), "{text}");
        let own = Error::sys("write /x", Errno::ENOSPC)
            .hint("mine")
            .to_string();
        assert!(
            own.ends_with("hint: mine") && !own.contains("full"),
            "{own}"
        );
    }
}
