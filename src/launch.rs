//! `qing run`: from a validated spec to the container's exit status, in one straight
//! path. This is the only file that knows the order of things.
//!
//! ```text
//! qing run (host)                 container init (PID 1)         command (PID 2)
//! 1 check image, volumes and
//!   devices,
//!   claim the name, cgroups
//! 2 new PID ns, clone ──────────► 3 join cgroups, unshare the
//!                                   other namespaces
//!                                 4 build the root, hostname,
//!                                   loopback, switch root
//!                                 5 fork ──────────────────────► 6 workdir, user, caps,
//!                                                                  no_new_privs, exec
//! 7 wait, forwarding signals ◄─── wait, forwarding, reaping
//! 8 report an OOM kill; drops remove the cgroups and release the name
//! ```
//! Teardown mirrors setup: the cgroup and the claim undo themselves when dropped,
//! on every path; the mounts live only in the container's mount namespace.

use crate::cgroup::{self, layout::Layout, Cgroup, SelfRemoval};
use crate::error::{Context, Error, Result, EXIT_QING_FAILED};
use crate::net::bridge::{self, Attachment};
use crate::net::publish::Forwarder;
use crate::report::{self, ContainerEnd};
use crate::rootfs::devices::{check_devices, CheckedDevice};
use crate::rootfs::etc::{etc_files, EtcFiles};
use crate::rootfs::image::{open_image, Image};
use crate::rootfs::mounts::CgroupMount;
use crate::rootfs::overlay::PersistentLayer;
use crate::rootfs::pivot::{switch_root, Switched};
use crate::rootfs::volumes::{check_sources, CheckedVolume};
use crate::rootfs::{self, RootPlan};
use crate::security::{self, ExeIdentity};
use crate::spec::{self, Net, Process, Spec};
use crate::state::{self, Paths};
use crate::template::store::Store;
use crate::wait::{self, End, Exit};
use crate::{net, ns, process, running, sys, tty};
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::stat::{umask, Mode};
use nix::unistd::{chdir, setsid, Pid};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// What the container's processes need from the host side, prepared before clone.
struct Prepared<'a> {
    spec: &'a Spec,
    paths: &'a Paths,
    scratch: &'a Path,
    image: Image,
    /// The command, its environment and working directory: the user's or the image's.
    process: Process,
    persistent: Option<PersistentLayer>,
    volumes: Vec<CheckedVolume>,
    devices: Vec<CheckedDevice>,
    etc: EtcFiles,
    cgroup: &'a Cgroup,
    cgroup_mounts: Vec<CgroupMount>,
    qing_exe: ExeIdentity,
    /// `--net bridge`: the container's lease and veth.
    network: Option<&'a Attachment>,
    /// `--net container:NAME`: NAME's network namespace.
    net_of: Option<OwnedFd>,
    /// The caller's claim on the name; the init shares it, and gives it up if the
    /// caller dies first.
    claim: &'a state::Claim,
}

/// `qing run`: start the container, wait for it, and give its exit status. With
/// `tty`, the command gets a terminal of the container's own, relayed to this one.
pub fn run(spec: &Spec, paths: &Paths, tty: bool) -> Result<i32> {
    security::require_root()?;
    let claim = state::claim(&spec.name)?;
    // Published ports are bound first: a port in use stops the run before anything
    // of the container exists.
    let mut forwarder = Forwarder::bind(&spec.publish)?;
    let (host_tty, container_tty) = match tty.then(tty::channel).transpose()? {
        Some((host, container)) => (Some(host), Some(container)),
        None => (None, None),
    };
    let started = start(spec, paths, &claim, container_tty)?;
    forwarder.set_target(started.address());
    // 7. Forwarding signals (and relaying the terminal, and serving published ports)
    //    until the container's init ends.
    let waited = match host_tty.and_then(tty::HostEnd::receive) {
        Some(master) => tty::relay(master, started.init, &mut forwarder)?,
        None => wait::wait(started.init, false, &mut [&mut forwarder])?,
    };
    match waited.end {
        End::Exited(exit) => {
            crate::debug::step!("the container's init {}", exit.describe());
            Ok(started.ended(exit))
        }
        End::ParentDied => Err(Error::new(
            "the container's init ended without an exit status",
        )),
    }
}

/// A container whose command runs, for `qing run` to wait for or a supervisor to
/// watch. Dropping it removes the container's cgroups and releases its image: only
/// once its init has ended.
pub struct Started<'a> {
    pub init: Pid,
    spec: &'a Spec,
    cgroup: Cgroup,
    /// Held while the container lives: the image's loop device, the --overlay lock.
    _image: Image,
    _persistent: Option<PersistentLayer>,
    _network: Option<Attachment>,
}

impl Started<'_> {
    /// The container's address on the bridge, for published ports.
    pub fn address(&self) -> Option<std::net::Ipv4Addr> {
        self._network.as_ref().map(|a| a.addr)
    }
}

/// Steps 1 to 6: returns once the container's command has been executed, or with the
/// error that stopped it (after its init has ended). `claim` is the caller's hold on
/// the container's name; `terminal`, where the command sends its terminal's master.
pub fn start<'a>(
    spec: &'a Spec,
    paths: &Paths,
    claim: &state::Claim,
    terminal: Option<tty::ContainerEnd>,
) -> Result<Started<'a>> {
    // 1. Everything that can fail on bad input fails here, before anything exists.
    //    (Root was checked before the name was claimed.)
    spec.capabilities.check_host()?;
    let image = open_image(&spec.rootfs, &Store::new(&paths.data))?;
    crate::debug::step!("rootfs {} ({})", image.path().display(), image.kind());
    let process = spec::process(spec, &image.defaults)?;
    let persistent = spec
        .overlay
        .as_deref()
        .map(PersistentLayer::lock)
        .transpose()?;
    let volumes = check_sources(&spec.volumes)?;
    let devices = check_devices(&spec.devices)?;
    let network = match spec.net {
        Net::Bridge => Some(net::bridge::attach(
            &paths.config,
            &paths.run,
            &spec.name,
            spec.ip,
            |n| state::is_claimed(n).unwrap_or(true),
        )?),
        Net::None | Net::Host | Net::Container => None,
    };
    let net_of = match &spec.net_of {
        Some(other) => {
            let c = running::find(other)?;
            Some(c.open(&c.init, "ns/net", OFlag::O_RDONLY)?)
        }
        None => None,
    };
    let etc = etc_files(
        &spec.hostname,
        spec.net,
        network.as_ref().map(|a| a.addr),
        &spec.dns,
        |p| sys::read_text(p).ok(),
    );
    let qing_exe = ExeIdentity::of_current_process()?;
    let layout = Layout::discover_or_mount()?;
    let scratch = paths.scratch()?;
    let cgroup = cgroup::create(&layout, &spec.name, &spec.limits)?;
    let cgroup_mounts = cgroup
        .shown_hierarchies(&layout)
        .map(|(mount, v2, options)| CgroupMount::new(mount, v2, options))
        .collect();
    let prepared = Prepared {
        spec,
        paths,
        scratch: &scratch,
        image,
        process,
        persistent,
        volumes,
        devices,
        etc,
        cgroup: &cgroup,
        cgroup_mounts,
        qing_exe,
        network: network.as_ref(),
        net_of,
        claim,
    };
    let (host_end, container_end) = report::channel()?;
    let v2_dir = cgroup.open_v2_dir()?;
    wait::block_signals()?;

    // 2. The container's init starts as PID 1 of a new PID namespace, and never
    //    returns here.
    ns::new_pid_namespace_for_next_child()?;
    let init = match ns::spawn_init(v2_dir.as_ref())? {
        ns::Spawned::Parent(pid) => pid,
        ns::Spawned::Child { in_cgroup } => {
            container_init(&prepared, container_end, terminal, in_cgroup)
        }
    };
    drop((container_end, terminal, v2_dir));
    // Back to qing's own PID namespace for anything this process starts later (a
    // supervisor's next container; under qemu-user, the emulator's threads). Without
    // it, under qemu-user, the fork-bomb test's killed `qing run` left its container's
    // cgroups behind in 1 of 3 runs (0 of 10 with it). Three system calls.
    let _ = ns::own_pid_namespace_for_children();

    // Setup either fails, with a message, or ends in the command's execve. After a
    // failure the init ends by itself; its cgroups go once it has.
    if let Some(e) = host_end.wait_for_exec() {
        let _ = wait::wait(init, false, &mut []);
        return Err(e);
    }
    let Prepared {
        image, persistent, ..
    } = prepared;
    Ok(Started {
        init,
        spec,
        cgroup,
        _image: image,
        _persistent: persistent,
        _network: network,
    })
}

impl Started<'_> {
    pub fn ended(&self, exit: Exit) -> i32 {
        report_end(self.spec, exit, self.cgroup.oom_killed())
    }
}

/// Step 8: the exit status a shell would give for how the container's init ended. An
/// OOM kill ends in SIGKILL: it is said once.
pub fn report_end(spec: &Spec, exit: Exit, oom: bool) -> i32 {
    let code = exit.code();
    if code == 128 + libc::SIGKILL && oom {
        let limit = spec
            .limits
            .memory_bytes
            .map(|b| format!(" (--memory {})", spec::format_size(b)));
        crate::error::say!(
            "qing: container {} was killed by its memory limit{}",
            spec.name,
            limit.unwrap_or_default()
        );
    }
    code
}

/// PID 1 of the container: sets it up, starts the command, then stays as its init.
fn container_init(
    p: &Prepared,
    report: ContainerEnd,
    terminal: Option<tty::ContainerEnd>,
    born_in_v2: bool,
) -> ! {
    let (command, removal) = match set_up_container(p, &report, terminal, born_in_v2) {
        Ok(started) => started,
        Err(e) => {
            report.send(&e);
            sys::exit_now(e.exit_code())
        }
    };
    // The command holds the channel until its execve: qing run reads end-of-file
    // then, and moves on to forwarding signals.
    drop(report);
    let code = match wait::wait(command, true, &mut []).map(|w| w.end) {
        Ok(End::Exited(exit)) => {
            // qing run may have been killed as the command ended: the cleanup is then
            // the init's, as below.
            if sys::signal_pending(sys::parent_death_signal()) {
                wait::kill_namespace_and_reap();
                removal.remove();
                p.claim.release();
            }
            exit.code()
        }
        // qing run was killed and cannot clean up: the init does, once it is alone.
        Ok(End::ParentDied) => {
            wait::kill_namespace_and_reap();
            removal.remove();
            p.claim.release();
            EXIT_QING_FAILED
        }
        Err(e) => {
            crate::error::say!("qing: {e}");
            EXIT_QING_FAILED
        }
    };
    sys::exit_now(code)
}

/// Returns the command's PID; the init's copy of `terminal` closes on the way out.
fn set_up_container(
    p: &Prepared,
    report: &ContainerEnd,
    terminal: Option<tty::ContainerEnd>,
    born_in_v2: bool,
) -> Result<(Pid, SelfRemoval)> {
    // First: close /proc/1/exe to the container, hear of qing run's death, and leave
    // the terminal's process group (a Ctrl-C reaches qing run, which forwards it once).
    security::make_undumpable()?;
    sys::set_parent_death_signal().ctx("set the parent-death signal")?;
    let mut keep = p.image.descriptors();
    keep.extend(p.persistent.as_ref().map(PersistentLayer::raw_fd));
    keep.push(report.raw_fd());
    keep.extend(terminal.as_ref().map(tty::ContainerEnd::raw_fd));
    keep.extend(p.net_of.as_ref().map(AsRawFd::as_raw_fd));
    keep.extend(p.claim.fds());
    sys::close_all_except(&keep).ctx("close inherited descriptors")?;
    setsid().ctx("start a new session")?;
    umask(Mode::empty());

    // 3. Its cgroups, then its own namespaces: the cgroups it is in become the root
    //    of its cgroup namespace.
    p.cgroup.join_self(born_in_v2)?;
    let removal = p.cgroup.prepare_self_removal()?;
    if !report.host_is_alive() {
        // qing run died before the parent-death signal was armed.
        removal.remove();
        return Err(Error::new("qing run exited before the container started"));
    }
    // Opened while still in the host's network namespace, to pull the veth in later.
    let host_netlink = p.network.map(|_| bridge::open_host_netlink()).transpose()?;
    ns::enter_own_namespaces(p.spec.net)?;
    if let Some(other) = &p.net_of {
        ns::join_network(other)?;
    }

    // 4. The root, the host name, loopback, and the switch into the root.
    let plan = RootPlan {
        scratch: p.scratch,
        image: &p.image,
        read_only: p.spec.read_only,
        persistent: p.persistent.as_ref(),
        etc: &p.etc,
        volumes: &p.volumes,
        devices: &p.devices,
        cgroups: &p.cgroup_mounts,
    };
    let built = rootfs::build(&plan)?;
    if built.overlay_missing {
        say_once(
            p.paths,
            "no-overlayfs",
            &format!(
                "this kernel has no overlayfs ({}): container roots are read-only",
                crate::kernel::OVERLAY_FS.name
            ),
        );
    }
    ns::set_hostname(&p.spec.hostname)?;
    if matches!(p.spec.net, Net::None | Net::Bridge) {
        net::bring_up_loopback()?;
    }
    if let (Some(a), Some(host)) = (p.network, host_netlink) {
        bridge::configure_inside(a, host)?;
    }
    let switched = switch_root(&built.root, p.spec.no_pivot)?;

    // 5. The command runs under this init.
    match sys::clone_process(CloneFlags::empty()).ctx("fork the container's command")? {
        None => run_command(p, switched, report, terminal),
        Some(child) => Ok((child, removal)),
    }
}

/// 6. The command's process: its last steps as qing, then execve.
fn run_command(
    p: &Prepared,
    switched: Switched,
    report: &ContainerEnd,
    terminal: Option<tty::ContainerEnd>,
) -> ! {
    let e = match prepare_command(p, switched, terminal) {
        Ok(home) => {
            let env = process::environment(&p.process.env, &p.spec.hostname, &home);
            process::exec_command(&p.process.argv, &env, &p.qing_exe)
        }
        Err(e) => e,
    };
    report.send(&e);
    sys::exit_now(e.exit_code())
}

/// Returns the user's home directory, for the command's environment.
fn prepare_command(
    p: &Prepared,
    switched: Switched,
    terminal: Option<tty::ContainerEnd>,
) -> Result<String> {
    sys::close_from(3, true).ctx("mark descriptors close-on-exec")?;
    enter_workdir(&p.process.workdir)?;
    let creds = process::resolve_user(p.spec.user.as_ref())?;
    if let Some(t) = terminal {
        t.attach_new_terminal(creds.uid)?;
    }
    let caps = p
        .spec
        .capabilities
        .for_root(switched == Switched::ChrootFallback);
    process::confine(&creds, caps, p.spec.seccomp)?;
    Ok(creds.home)
}

/// Made when missing, as docker does; then checked to be reachable from the root.
fn enter_workdir(workdir: &std::ffi::CStr) -> Result<()> {
    let path = Path::new(std::ffi::OsStr::from_bytes(workdir.to_bytes()));
    if let Err(e) = chdir(path) {
        if e != nix::errno::Errno::ENOENT {
            return Err(Error::sys(
                format!("enter working directory {}", path.display()),
                e,
            ));
        }
        std::fs::create_dir_all(path).at("create working directory", path)?;
        chdir(path).at("enter working directory", path)?;
    }
    security::verify_cwd_inside_root(&path.display().to_string())
}

/// Prints a notice once per boot: the marker lives in the runtime directory.
fn say_once(paths: &Paths, key: &str, notice: &str) {
    let marker = paths.run.join(key);
    let new = nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CREAT | nix::fcntl::OFlag::O_EXCL;
    if sys::open_file(&marker, new, 0o600).is_ok() {
        crate::error::say!("qing: {notice}");
    }
}
