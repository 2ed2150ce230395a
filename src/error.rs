//! Errors are values that say what qing was doing, on which object, what the kernel
//! answered, and what the user can do about it.

use nix::errno::Errno;
use std::fmt;

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
            write!(f, ": {}", errno.desc())?;
        }
        if let Some(hint) = &self.0.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Attaches "what was being done" to a failed system call.
pub trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for nix::Result<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|errno| Error::sys(what(), errno))
    }
}

impl<T> Context<T> for std::io::Result<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| {
            Error::sys(
                what(),
                Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
            )
        })
    }
}
