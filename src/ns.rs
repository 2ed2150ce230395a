//! Namespaces: which ones a container gets, creating its first process inside them,
//! and the two that are entered later (cgroup, after the process has joined its
//! cgroups; UTS, which only needs its hostname set).

use crate::error::{Context, Result};
use crate::spec::Net;
use crate::sys;
use nix::errno::Errno;
use nix::sched::{unshare, CloneFlags};
use nix::unistd::Pid;
use std::os::fd::{AsRawFd, OwnedFd};

/// Mount, PID, UTS and IPC always; network unless the host's is shared.
pub fn container_flags(net: Net) -> CloneFlags {
    let flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC;
    match net {
        Net::None => flags | CloneFlags::CLONE_NEWNET,
        Net::Host => flags,
    }
}

/// The container's first process, as seen from where `spawn_in_namespaces` returns.
pub enum Spawned {
    /// In `qing run`: the init's PID.
    Parent(Pid),
    /// In the init; `in_cgroup` says whether it was born in the v2 cgroup it was given.
    Child { in_cgroup: bool },
}

/// Creates the container's first process, PID 1 of its new PID namespace, born in
/// the v2 cgroup `v2_dir` where the kernel can do that (see sys::clone_into_cgroup).
pub fn spawn_in_namespaces(flags: CloneFlags, v2_dir: Option<&OwnedFd>) -> Result<Spawned> {
    let what = || {
        format!(
            "create the container's namespaces (clone flags {:#x})",
            flags.bits()
        )
    };
    let born_in_cgroup = match v2_dir.map(|fd| sys::clone_into_cgroup(flags, fd.as_raw_fd())) {
        Some(Ok(child)) => Some(child),
        Some(Err(Errno::ENOSYS | Errno::E2BIG | Errno::EINVAL)) | None => None,
        Some(Err(e)) => return Err(crate::error::Error::sys(what(), e)),
    };
    let (child, in_cgroup) = match born_in_cgroup {
        Some(child) => (child, true),
        None => (sys::clone_process(flags).context(what)?, false),
    };
    Ok(match child {
        Some(pid) => Spawned::Parent(pid),
        None => Spawned::Child { in_cgroup },
    })
}

/// Makes the process's current cgroups the root of what it sees. Kernels before 4.6
/// have no cgroup namespace: the container then sees the host's cgroup paths.
pub fn enter_cgroup_namespace() -> Result<()> {
    match unshare(CloneFlags::CLONE_NEWCGROUP) {
        Ok(()) | Err(Errno::EINVAL) => Ok(()),
        Err(e) => Err(crate::error::Error::sys("create the cgroup namespace", e)),
    }
}

pub fn set_hostname(name: &str) -> Result<()> {
    nix::unistd::sethostname(name).context(|| format!("set hostname {name}"))
}
