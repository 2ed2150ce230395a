//! `qing exec`: one more process in a running container, in one straight path as
//! `launch` is for a new one.
//!
//! ```text
//! qing exec (host)                       joined process
//! 1 find the container's init and command
//!   in its cgroups; open their namespaces,
//!   root and working directory
//! 2 non-dumpable; PID namespace for the
//!   next child; fork ───────────────────► 3 join the cgroups, then the other
//!                                           namespaces, then the root
//!                                         4 terminal, workdir, user, caps,
//!                                           no_new_privs, exec
//! 5 wait (or relay the terminal),
//!   forwarding signals
//! ```
//! The joined process is born in the container's PID namespace, so processes there
//! see it from its first instruction: it is non-dumpable from birth (inherited from
//! qing exec), which closes its /proc/PID/exe, fd and mem to them until its execve.
//! It keeps no descriptor of the host but its stdio and what it needs to join.

use crate::cgroup::existing::Existing;
use crate::error::{Context, Error, Result};
use crate::process::{self, Credentials};
use crate::security::{self, ExeIdentity};
use crate::spec::{self, User};
use crate::wait::{self, End};
use crate::{ns, report, running, sys, tty};
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::stat::fstat;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// What `qing exec` was asked.
pub struct Request {
    pub name: String,
    pub command: Vec<String>,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub tty: bool,
}

/// The running container, held open: everything the joined process needs, taken
/// from the host before it leaves it.
struct Target {
    cgroups: Existing,
    /// (namespace, /proc/INIT/ns/...), the PID namespace first.
    namespaces: Vec<(CloneFlags, OwnedFd)>,
    /// The init's root directory: the container's root.
    root: OwnedFd,
    /// The command's working directory, where the joined process starts.
    cwd: Option<OwnedFd>,
    /// The command's credentials, capabilities (its bounding set) and initial
    /// environment.
    creds: Credentials,
    caps: u64,
    seccomp: crate::seccomp::Choice,
    env: Vec<CString>,
}

const NAMESPACES: [(CloneFlags, &str); 6] = [
    (CloneFlags::CLONE_NEWPID, "ns/pid"),
    (CloneFlags::CLONE_NEWIPC, "ns/ipc"),
    (CloneFlags::CLONE_NEWUTS, "ns/uts"),
    (CloneFlags::CLONE_NEWNET, "ns/net"),
    (CloneFlags::CLONE_NEWCGROUP, "ns/cgroup"),
    (CloneFlags::CLONE_NEWNS, "ns/mnt"),
];

pub fn exec(req: &Request) -> Result<i32> {
    spec::validate_name(&req.name)?;
    let argv = spec::to_cstrings(&req.command)?;
    if argv.is_empty() {
        return Err(Error::new("qing exec needs a command")
            .hint("qing exec NAME CMD [ARG...], like qing exec web /bin/sh"));
    }
    let user = req.user.as_deref().map(spec::parse_user).transpose()?;
    let workdir = req
        .workdir
        .as_deref()
        .map(spec::parse_workdir)
        .transpose()?;
    let mut extra_env = Vec::new();
    for e in &req.env {
        extra_env.extend(spec::parse_env(e, |k| std::env::var(k).ok())?);
    }
    if !nix::unistd::geteuid().is_root() {
        return Err(
            Error::new("qing exec needs root: it joins a container's namespaces")
                .hint("run it as root"),
        );
    }

    // 1. The container, held by descriptors from here on.
    let target = Target::open(&req.name)?;
    let mut env = target.env.clone();
    env.retain(|e| !extra_env.iter().any(|x| same_key(x, e)));
    env.extend(extra_env);
    let qing_exe = ExeIdentity::of_current_process()?;

    // 2. Born in the container's PID namespace, non-dumpable from the start.
    security::make_undumpable()?;
    let (host_end, container_end) = report::channel()?;
    let terminal = req.tty.then(tty::channel).transpose()?;
    wait::block_signals()?;
    let (pid_flag, pid_ns) = target
        .namespaces
        .first()
        .ok_or_else(|| Error::new("the container's PID namespace is missing"))?;
    nix::sched::setns(pid_ns, *pid_flag)
        .context(|| format!("enter the PID namespace of container {}", req.name))?;
    let joined = sys::clone_process(CloneFlags::empty()).ctx("fork the joined process");
    let _ = ns::own_pid_namespace_for_children();
    let child = match joined? {
        Some(child) => child,
        None => {
            let terminal_end = terminal.map(|(_, container)| container);
            drop(host_end);
            let how = How {
                argv: &argv,
                env: &env,
                user: user.as_ref(),
                workdir: workdir.as_deref(),
                qing_exe: &qing_exe,
            };
            joined_process(&target, &how, container_end, terminal_end)
        }
    };
    drop(container_end);

    // 5. As qing run waits for its container.
    let master = terminal.and_then(|(host, container)| {
        drop(container);
        host.receive()
    });
    if let Some(e) = host_end.wait_for_exec() {
        let _ = wait::wait(child, false, &mut []);
        return Err(e);
    }
    let waited = match master {
        Some(m) => tty::relay(m, child, &mut crate::net::publish::Forwarder::none())?,
        None => wait::wait(child, false, &mut [])?,
    };
    match waited.end {
        End::Exited(exit) => Ok(exit.code()),
        End::ParentDied => Err(Error::new("the joined process was lost")),
    }
}

/// How the joined process runs its command.
struct How<'a> {
    argv: &'a [CString],
    env: &'a [CString],
    user: Option<&'a User>,
    workdir: Option<&'a std::ffi::CStr>,
    qing_exe: &'a ExeIdentity,
}

fn joined_process(
    t: &Target,
    how: &How,
    report: report::ContainerEnd,
    terminal: Option<tty::ContainerEnd>,
) -> ! {
    let e = match enter(t, how, &report, terminal) {
        Ok(env) => process::exec_command(how.argv, &env, how.qing_exe),
        Err(e) => e,
    };
    report.send(&e);
    sys::exit_now(e.exit_code())
}

/// Steps 3 and 4; returns the command's environment.
fn enter(
    t: &Target,
    how: &How,
    report: &report::ContainerEnd,
    terminal: Option<tty::ContainerEnd>,
) -> Result<Vec<CString>> {
    // 3. Cgroups first, by their host paths, then the namespaces, the mount one last:
    //    after it no host path means anything.
    t.cgroups.join_self()?;
    let mut keep: Vec<i32> = t.namespaces.iter().map(|(_, fd)| fd.as_raw_fd()).collect();
    keep.extend([t.root.as_raw_fd(), report.raw_fd()]);
    keep.extend(t.cwd.as_ref().map(AsRawFd::as_raw_fd));
    keep.extend(terminal.as_ref().map(tty::ContainerEnd::raw_fd));
    sys::close_all_except(&keep).ctx("close inherited descriptors")?;
    // setns of a mount namespace wants a filesystem context of our own; qemu-user's
    // threads would share this one.
    nix::sched::unshare(CloneFlags::CLONE_FS).ctx("unshare the fs context")?;
    for ((flag, fd), (_, path)) in t.namespaces.iter().zip(NAMESPACES).skip(1) {
        nix::sched::setns(fd, *flag).context(|| format!("enter the container's {path}"))?;
        crate::debug::step!("joined the container's {path}");
    }
    // Under the chroot fallback the container's root is not its namespace's root.
    let ns_root = nix::sys::stat::stat("/").ctx("stat /")?;
    let root = fstat(&t.root).ctx("stat the container's root")?;
    let chroot_fallback = (ns_root.st_dev, ns_root.st_ino) != (root.st_dev, root.st_ino);
    // The command's own set (under the fallback it lacks CAP_SYS_CHROOT already).
    let caps = crate::capabilities::Capabilities {
        keep: t.caps,
        named: 0,
    }
    .for_root(chroot_fallback);
    nix::unistd::fchdir(&t.root).ctx("enter the container's root")?;
    nix::unistd::chroot(".").ctx("chroot into the container's root")?;
    crate::debug::step!("in the container's root");

    // 4. As for the container's own command.
    let creds = match how.user {
        Some(u) => process::resolve_user(Some(u))?,
        None => t.creds.clone(),
    };
    match terminal {
        Some(end) => end.attach_new_terminal(creds.uid)?,
        None => {
            nix::unistd::setsid().ctx("start a new session")?;
        }
    }
    sys::close_from(3, true).ctx("mark descriptors close-on-exec")?;
    enter_workdir(how.workdir, t.cwd.as_ref())?;
    process::confine(&creds, caps, t.seccomp)?;
    let mut env = how.env.to_vec();
    if how.user.is_some() {
        if let Ok(home) = CString::new(format!("HOME={}", creds.home)) {
            env.retain(|e| !same_key(&home, e));
            env.push(home);
        }
    }
    Ok(env)
}

/// `--workdir`, else where the container's command is, else the root.
fn enter_workdir(workdir: Option<&std::ffi::CStr>, cwd: Option<&OwnedFd>) -> Result<()> {
    if let Some(w) = workdir {
        let path = std::path::Path::new(std::ffi::OsStr::from_bytes(w.to_bytes()));
        nix::unistd::chdir(path).at("enter working directory", path)?;
        return security::verify_cwd_inside_root(&path.display().to_string());
    }
    let inside = cwd.is_some_and(|fd| {
        nix::unistd::fchdir(fd).is_ok()
            && security::verify_cwd_inside_root("(the command's)").is_ok()
    });
    if !inside {
        nix::unistd::chdir("/").ctx("enter /")?;
    }
    Ok(())
}

fn same_key(a: &CString, b: &CString) -> bool {
    let key = |c: &CString| {
        c.to_bytes()
            .split(|x| *x == b'=')
            .next()
            .map(<[u8]>::to_vec)
    };
    key(a) == key(b)
}

impl Target {
    /// The running container, and what the joined process needs of it.
    fn open(name: &str) -> Result<Target> {
        let c = running::find(name)?;
        let mut namespaces = Vec::new();
        for (flag, path) in NAMESPACES {
            namespaces.push((flag, c.open(&c.init, path, OFlag::O_RDONLY)?));
        }
        let root = c.open(&c.init, "root", OFlag::O_PATH | OFlag::O_DIRECTORY)?;
        let cwd = c
            .open(&c.command, "cwd", OFlag::O_PATH | OFlag::O_DIRECTORY)
            .ok();
        let status = c.read(&c.command, "status")?;
        let unreadable = || {
            Error::new(format!(
                "cannot read the credentials of container {name}'s command"
            ))
        };
        let creds = credentials(&status).ok_or_else(unreadable)?;
        let caps = crate::capabilities::bounding_of(&status).ok_or_else(unreadable)?;
        // The container's filter: the default one is made from the capabilities,
        // the same for every process of the container.
        let seccomp = crate::seccomp::Choice::of_process(&status);
        let environ = c.read(&c.command, "environ").unwrap_or_default();
        let env = environ
            .split('\0')
            .filter(|e| e.contains('='))
            .filter_map(|e| CString::new(e).ok())
            .collect();
        Ok(Target {
            cgroups: c.cgroups,
            namespaces,
            root,
            cwd,
            creds,
            caps,
            seccomp,
            env,
        })
    }
}

/// The effective user, group and groups of a process, from /proc/PID/status.
fn credentials(status: &str) -> Option<Credentials> {
    let field = |key: &str, index: usize| -> Option<u32> {
        let line = status.lines().find_map(|l| l.strip_prefix(key))?;
        line.split_whitespace().nth(index)?.parse().ok()
    };
    let groups = status
        .lines()
        .find_map(|l| l.strip_prefix("Groups:"))?
        .split_whitespace()
        .filter_map(|g| g.parse().ok())
        .collect();
    Some(Credentials {
        uid: field("Uid:", 1)?,
        gid: field("Gid:", 1)?,
        groups,
        home: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_the_effective_ids_and_groups() {
        let status = "Uid:\t1000\t1001\t1000\t1000\nGid:\t50\t51\t50\t50\nGroups:\t5 20 \n";
        let c = credentials(status).unwrap();
        assert_eq!((c.uid, c.gid, c.groups), (1001, 51, vec![5, 20]));
        assert!(credentials("Uid:\tx\n").is_none());
    }
}
