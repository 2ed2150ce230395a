//! The supervisor's execve of itself (see the module above): what it carries across
//! as arguments, and taking it back on the other side. Descriptors (the claim, the
//! output pipe, the published ports' sockets) stay open across by number.

use super::ARGV0;
use crate::error::{Error, Result};
use crate::net::publish::{Forwarder, Listener};
use crate::state::{Claim, Paths};
use nix::fcntl::OFlag;
use nix::unistd::Pid;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::Duration;

/// What the supervisor carries across its execve, as arguments.
pub struct Carried {
    pub paths: Paths,
    pub name: String,
    pub claim: Claim,
    /// The read end of the container's output, when it is logged.
    pub output: Option<OwnedFd>,
    /// Published ports: their host sockets, bound once for every restart.
    pub forwarder: Forwarder,
    pub init: Pid,
    pub started: u64,
    pub restarts: u64,
    pub failures: u32,
    pub backoff: Duration,
}

/// Executes this binary anew as the watching loop; returns only why it could not.
pub fn hand_off(c: &Carried) -> Error {
    let mut args = vec![
        ARGV0.to_string(),
        c.name.clone(),
        format!("run={}", c.paths.run.display()),
        format!("data={}", c.paths.data.display()),
        format!("config={}", c.paths.config.display()),
        format!("logs={}", c.paths.logs.display()),
        format!("init={}", c.init),
        format!("started={}", c.started),
        format!("restarts={}", c.restarts),
        format!("failures={}", c.failures),
        format!("backoff_ms={}", c.backoff.as_millis() as u64),
        format!("debug={}", crate::debug::since()),
    ];
    // Executed through a descriptor, not the path: under qemu-user, execve of
    // /proc/self/exe would start the emulator itself, while the descriptor that qemu
    // hands out for it is the emulated binary. It stays open (binfmt interpreters need
    // its /proc/self/fd path after execve); the new image closes it first thing.
    let exe = match crate::sys::open_fd(std::path::Path::new("/proc/self/exe"), OFlag::O_RDONLY, 0)
    {
        Ok(fd) => fd,
        Err(e) => return Error::sys("open /proc/self/exe", e),
    };
    args.push(format!("exe={}", exe.as_raw_fd()));
    let mut keep = vec![exe.as_raw_fd()];
    for (key, fd) in ["claim", "claim_dir", "records"]
        .into_iter()
        .zip(c.claim.fds())
    {
        args.push(format!("{key}={fd}"));
        keep.push(fd);
    }
    for l in c.forwarder.listeners() {
        let proto = if l.udp { "udp" } else { "tcp" };
        args.push(format!(
            "listener={},{},{proto}",
            l.socket.as_raw_fd(),
            l.port
        ));
        keep.push(l.socket.as_raw_fd());
    }
    if let Some(target) = c.forwarder.target() {
        args.push(format!("target={target}"));
    }
    if let Some(o) = &c.output {
        args.push(format!("output={}", o.as_raw_fd()));
        keep.push(o.as_raw_fd());
    }
    for fd in keep {
        if let Err(e) = crate::sys::keep_across_exec(fd) {
            return Error::sys("keep a descriptor across execve", e);
        }
    }
    let Ok(args) = args
        .into_iter()
        .map(CString::new)
        .collect::<std::result::Result<Vec<_>, _>>()
    else {
        return Error::new("a path with a NUL byte");
    };
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.into_encoded_bytes();
            kv.push(b'=');
            kv.extend(v.into_encoded_bytes());
            CString::new(kv).ok()
        })
        .collect();
    match nix::unistd::fexecve(&exe, &args, &env) {
        Err(e) => Error::sys("execute /proc/self/exe", e),
        Ok(never) => match never {},
    }
}

/// The other side of `hand_off`: what the arguments carried.
pub fn parse_carried(args: &[String]) -> Result<Carried> {
    let bad = || Error::new("qing-supervisor is started by `qing start`, not by hand");
    let name = args.get(1).ok_or_else(bad)?.clone();
    let get = |key: &str| {
        args.iter()
            .skip(2)
            .find_map(|a| a.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_string)
    };
    let number = |key: &str| get(key).and_then(|v| v.parse::<u64>().ok()).ok_or_else(bad);
    let fd = |key: &str| -> Result<Option<OwnedFd>> {
        match get(key) {
            None => Ok(None),
            Some(v) => {
                let raw = v.parse().map_err(|_| bad())?;
                crate::sys::adopt_fd(raw).map(Some).map_err(|_| bad())
            }
        }
    };
    let path = |key: &str| get(key).map(PathBuf::from).ok_or_else(bad);
    drop(fd("exe")?);
    crate::debug::resume(number("debug")?);
    let mut listeners = Vec::new();
    for value in args.iter().filter_map(|a| a.strip_prefix("listener=")) {
        let mut parts = value.split(',');
        let (Some(raw), Some(port), Some(proto), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        listeners.push(Listener {
            socket: crate::sys::adopt_fd(raw.parse().map_err(|_| bad())?).map_err(|_| bad())?,
            port: port.parse().map_err(|_| bad())?,
            udp: proto == "udp",
        });
    }
    let mut forwarder = Forwarder::new(listeners);
    forwarder.set_target(
        get("target")
            .map(|t| t.parse())
            .transpose()
            .map_err(|_| bad())?,
    );
    Ok(Carried {
        paths: Paths {
            run: path("run")?,
            data: path("data")?,
            config: path("config")?,
            logs: path("logs")?,
        },
        claim: Claim::adopt(
            fd("claim")?.ok_or_else(bad)?,
            fd("claim_dir")?.ok_or_else(bad)?,
            fd("records")?,
            &name,
        ),
        output: fd("output")?,
        forwarder,
        init: Pid::from_raw(i32::try_from(number("init")?).map_err(|_| bad())?),
        started: number("started")?,
        restarts: number("restarts")?,
        failures: u32::try_from(number("failures")?).map_err(|_| bad())?,
        backoff: Duration::from_millis(number("backoff_ms")?),
        name,
    })
}
