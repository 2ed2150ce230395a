//! Namespaces: which ones a container gets, creating its first process inside them,
//! and the two that are entered later (cgroup, after the process has joined its
//! cgroups; UTS, which only needs its hostname set).

use crate::error::{Context, Result};
use crate::spec::Net;
use crate::sys;
use nix::errno::Errno;
use nix::sched::{unshare, CloneFlags};
use nix::unistd::Pid;

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

/// Creates the container's first process, PID 1 of its new PID namespace. Returns
/// `None` in that process.
pub fn spawn_in_namespaces(flags: CloneFlags) -> Result<Option<Pid>> {
    sys::clone_process(flags).context(|| {
        format!(
            "create the container's namespaces (clone flags {:#x})",
            flags.bits()
        )
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
