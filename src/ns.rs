//! Namespaces. The PID namespace is the one a process cannot move itself into:
//! `qing run` makes it for its next child, and that child, the container's init and
//! PID 1 there, unshares the others for itself once it has joined its cgroups (so
//! that they become the root of its cgroup namespace). The two steps do the same
//! kernel work as one clone(2) with namespace flags, and also run under qemu-user,
//! which refuses such a clone.

use crate::error::{Context, Error, Result};
use crate::spec::Net;
use crate::sys;
use nix::errno::Errno;
use nix::sched::{unshare, CloneFlags};
use nix::unistd::Pid;
use std::os::fd::{AsRawFd, OwnedFd};

pub fn new_pid_namespace_for_next_child() -> Result<()> {
    match unshare(CloneFlags::CLONE_NEWPID) {
        // A supervisor starting its container again, after a start that failed: the
        // namespace for children is still that one's.
        Err(Errno::EINVAL) => own_pid_namespace_for_children()
            .and_then(|()| unshare(CloneFlags::CLONE_NEWPID).context(String::new)),
        other => other.context(String::new),
    }
    .map_err(|e| e.reword("create the container's PID namespace".to_string()))
    .map_err(|e| e.hint(crate::kernel::PID_NS.needed()))
}

/// Once the init is born, points the namespace for this process's next children back
/// to its own. The kernel makes a new PID namespace only from the caller's own (a
/// supervisor restarting its container needs that), and refuses threads across PID
/// namespaces (qemu-user starts one in every process it runs).
pub fn own_pid_namespace_for_children() -> Result<()> {
    crate::sys::open_fd(
        std::path::Path::new("/proc/self/ns/pid"),
        nix::fcntl::OFlag::O_RDONLY,
        0,
    )
    .and_then(|own| nix::sched::setns(own, CloneFlags::CLONE_NEWPID))
    .ctx("return to qing's own PID namespace (setns /proc/self/ns/pid)")
}

/// The container's first process, as seen from where `spawn_init` returns.
pub enum Spawned {
    /// In `qing run`: the init's PID.
    Parent(Pid),
    /// In the init; `in_cgroup` says whether it was born in the v2 cgroup it was given.
    Child { in_cgroup: bool },
}

/// Creates the container's init, born in the v2 cgroup `v2_dir` where the kernel can
/// do that (see sys::clone_into_cgroup).
pub fn spawn_init(v2_dir: Option<&OwnedFd>) -> Result<Spawned> {
    let what = || "create the container's first process".to_string();
    let born_in_cgroup =
        match v2_dir.map(|fd| sys::clone_into_cgroup(CloneFlags::empty(), fd.as_raw_fd())) {
            Some(Ok(child)) => Some(child),
            Some(Err(Errno::ENOSYS | Errno::E2BIG | Errno::EINVAL)) | None => None,
            Some(Err(e)) => return Err(Error::sys(what(), e)),
        };
    let (child, in_cgroup) = match born_in_cgroup {
        Some(child) => (child, true),
        None => (
            sys::clone_process(CloneFlags::empty()).context(what)?,
            false,
        ),
    };
    Ok(match child {
        Some(pid) => {
            let born = if in_cgroup {
                ", born in its v2 cgroup"
            } else {
                ""
            };
            crate::debug::step!("the container's init is process {pid}{born}");
            Spawned::Parent(pid)
        }
        None => Spawned::Child { in_cgroup },
    })
}

/// In the init: new mount, UTS, IPC and cgroup namespaces, and a network namespace
/// unless the host's is shared. Kernels before 4.6 have no cgroup namespace; the
/// container then sees the host's cgroup paths.
pub fn enter_own_namespaces(net: Net) -> Result<()> {
    let mut flags = CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWIPC;
    if matches!(net, Net::None | Net::Bridge) {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    let what = |f: CloneFlags| {
        format!(
            "create the container's namespaces (unshare flags {:#x})",
            f.bits()
        )
    };
    crate::debug::step!(
        "unshare namespaces {:#x}",
        (flags | CloneFlags::CLONE_NEWCGROUP).bits()
    );
    match unshare(flags | CloneFlags::CLONE_NEWCGROUP) {
        Ok(()) => Ok(()),
        Err(Errno::EINVAL) => unshare(flags).context(|| what(flags)),
        Err(e) => Err(Error::sys(what(flags | CloneFlags::CLONE_NEWCGROUP), e)),
    }
    .map_err(|e| e.hint("run `qing check` to see which namespaces the kernel lacks"))
}

/// `--net container:NAME`: into the network namespace `ns` (of NAME's init).
pub fn join_network(ns: &OwnedFd) -> Result<()> {
    nix::sched::setns(ns, CloneFlags::CLONE_NEWNET)
        .ctx("join the other container's network namespace")
}

pub fn set_hostname(name: &str) -> Result<()> {
    nix::unistd::sethostname(name).context(|| format!("set hostname {name}"))?;
    crate::debug::step!("hostname {name}");
    Ok(())
}
