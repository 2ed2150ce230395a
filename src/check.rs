//! `qing check`: which kernel features qing needs are present, like lxc-checkconfig,
//! for board bring-up. Each line says OK, MISSING (required) or OPTIONAL (missing,
//! qing copes), with the kernel option to enable. Exits 1 when a required one is
//! missing.
//!
//! Features that can only be known by trying (an overlay mount, a veth pair, a
//! pivot_root) are tried for real in a throwaway child inside private mount and
//! network namespaces, which leaves nothing behind on the host.

use crate::cgroup::layout::{kernel_has, Controller, Layout};
use crate::kernel::{self, KernelOption};
use crate::{features, sys};
use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::sched::{unshare, CloneFlags};
use nix::sys::stat::Mode;
use std::path::Path;

enum Status {
    Ok,
    /// Required and missing: what to do about it.
    Missing(String),
    /// Missing but optional: what to do about it.
    Optional(String),
}

struct Report {
    missing: usize,
}

impl Report {
    fn section(&self, title: &str) {
        crate::error::out!("\n{title}");
    }

    fn line(&mut self, name: &str, status: Status, detail: &str) {
        let (word, extra) = match status {
            Status::Ok => ("OK", String::new()),
            Status::Missing(remedy) => {
                self.missing += 1;
                ("MISSING", remedy)
            }
            Status::Optional(remedy) => ("OPTIONAL", remedy),
        };
        let sep = if detail.is_empty() || extra.is_empty() {
            ""
        } else {
            "; "
        };
        let line = format!("  {name:<28} {word:<9} {extra}{sep}{detail}");
        crate::error::out!("{}", line.trim_end());
    }
}

fn required(ok: bool, option: &str) -> Status {
    if ok {
        Status::Ok
    } else {
        Status::Missing(format!("enable {option}"))
    }
}

/// OK, or what `option` being missing means: MISSING where qing needs it, else OPTIONAL.
fn option_status(ok: bool, option: &KernelOption) -> Status {
    let remedy = || format!("enable {}", option.name);
    match (ok, option.required) {
        (true, _) => Status::Ok,
        (false, true) => Status::Missing(remedy()),
        (false, false) => Status::Optional(remedy()),
    }
}

fn controller_status(ok: bool, c: Controller) -> Status {
    if ok {
        Status::Ok
    } else {
        Status::Missing(c.remedy())
    }
}

fn optional(ok: bool, option: &str) -> Status {
    if ok {
        Status::Ok
    } else {
        Status::Optional(format!("enable {option}"))
    }
}

// Results of the throwaway child's trials, as bits of its exit status.
const OVERLAY: i32 = 1;
const SQUASHFS: i32 = 2;
const VETH: i32 = 4;
const BRIDGE: i32 = 8;
const PIVOT_ROOT: i32 = 16;
const SECCOMP: i32 = 32;
const SQUASHFS_XZ: i32 = 64;
const SQUASHFS_ZSTD: i32 = 128;

/// An empty squashfs image compressed with xz (`mksquashfs EMPTY_DIR IMAGE -comp xz
/// -nopad -all-root -mkfs-time 0 -all-time 0`): the kernel refuses to mount it unless it
/// has the xz decompressor the templates need.
const EMPTY_XZ_SQUASHFS: [u8; 162] = [
    0x68, 0x73, 0x71, 0x73, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x11, 0x00, 0xc0, 0x00, 0x01, 0x00, 0x04, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xa2, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x9a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x82, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x82, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x8c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x20, 0x80, 0x01, 0x00, 0xed, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0x00,
    0x00, 0x00, 0x08, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x82, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x04, 0x80, 0x00, 0x00, 0x00, 0x00, 0x94, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00,
];

pub fn report() -> i32 {
    let uname = nix::sys::utsname::uname().ok();
    let release = uname
        .as_ref()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    crate::error::out!("qing check: Linux {release} on {}", std::env::consts::ARCH);
    let mut r = Report { missing: 0 };
    let trials = run_trials();

    r.section("Namespaces");
    for (ns, name, option) in [
        ("mnt", "mount namespace", &kernel::NAMESPACES),
        ("pid", "PID namespace", &kernel::PID_NS),
        ("uts", "UTS namespace", &kernel::UTS_NS),
        ("ipc", "IPC namespace", &kernel::IPC_NS),
        ("net", "network namespace", &kernel::NET_NS),
    ] {
        r.line(
            name,
            option_status(Path::new("/proc/self/ns").join(ns).exists(), option),
            "",
        );
    }
    let cgroup_ns = Path::new("/proc/self/ns/cgroup").exists();
    r.line(
        "cgroup namespace",
        optional(cgroup_ns, &format!("{} (Linux 4.6+)", kernel::CGROUPS.name)),
        if cgroup_ns {
            ""
        } else {
            "containers see the host's cgroup paths"
        },
    );

    let layout = Layout::discover().unwrap_or_default();
    let mounted = layout.v2.is_some() || !layout.v1.is_empty();
    r.section(&format!("Cgroups ({})", layout.describe()));
    if !mounted {
        crate::error::out!("  (qing mounts a cgroup filesystem at its first run)");
    }
    for (c, name) in [
        (Controller::Memory, "memory controller"),
        (Controller::Pids, "pids controller"),
    ] {
        let (ok, detail) = controller(&layout, mounted, c);
        r.line(name, controller_status(ok, c), &detail);
    }
    let (cpu, detail) = controller(&layout, mounted, Controller::Cpu);
    let status = match controller_status(cpu, Controller::Cpu) {
        Status::Ok if !cpu_quota_available(&layout) => {
            Status::Missing(format!("enable {}", kernel::CFS_BANDWIDTH.name))
        }
        other => other,
    };
    r.line("cpu controller (CFS quota)", status, &detail);

    r.section("Filesystems and devices");
    // What every container mounts: its /tmp, /dev and masks, its /dev/pts.
    let filesystems = sys::read_text("/proc/filesystems").unwrap_or_default();
    let has = |fs: &str| {
        filesystems
            .lines()
            .any(|l| l.split('\t').nth(1) == Some(fs))
    };
    r.line("tmpfs", option_status(has("tmpfs"), &kernel::TMPFS), "");
    r.line(
        "devpts",
        option_status(has("devpts"), &kernel::UNIX98_PTYS),
        "",
    );
    r.line(
        "mqueue",
        option_status(has("mqueue"), &kernel::POSIX_MQUEUE),
        "",
    );
    let tried = trials.is_some();
    let bit = |b: i32| trials.is_some_and(|t| t & b != 0);
    let untried = if tried {
        ""
    } else {
        "could not be tried (no private namespace)"
    };
    r.line(
        "overlayfs",
        option_status(bit(OVERLAY), &kernel::OVERLAY_FS),
        if bit(OVERLAY) {
            ""
        } else {
            "container roots are read-only without it"
        },
    );
    if features::SQUASHFS.built {
        squashfs_lines(&mut r, bit);
    }
    if features::BRIDGE.built {
        network_lines(&mut r, bit, untried);
    }

    r.section("Security");
    r.line(
        "seccomp filters",
        option_status(bit(SECCOMP), &kernel::SECCOMP_FILTER),
        untried,
    );
    let nnp = crate::sys::read_text("/proc/self/status").is_ok_and(|s| s.contains("NoNewPrivs:"));
    r.line(
        "no_new_privs",
        required(nnp, "a kernel of Linux 3.5 or later"),
        "",
    );

    r.section("Root");
    if bit(PIVOT_ROOT) {
        r.line("pivot_root", Status::Ok, "pivot_root works from this root");
    } else {
        let remedy = "qing switches with its chroot fallback; boot from a real root or switch_root out of the initramfs to avoid it";
        r.line(
            "pivot_root",
            Status::Optional(remedy.into()),
            "this root cannot be pivoted (an initramfs?)",
        );
    }

    if r.missing == 0 {
        crate::error::out!("\nEvery required feature is present.");
        0
    } else {
        crate::error::out!("\n{} required feature(s) missing: qing cannot run containers here until they are enabled.", r.missing);
        1
    }
}

/// Squashfs images: the filesystem, its compressors, loop devices.
fn squashfs_lines(r: &mut Report, bit: impl Fn(i32) -> bool) {
    let (squashfs, squashfs_detail) = match (bit(SQUASHFS), bit(SQUASHFS_XZ)) {
        (true, true) => (Status::Ok, "mounted an xz image through a loop device"),
        (true, false) => (
            Status::Optional(format!("enable {}", kernel::SQUASHFS_XZ.name)),
            "the templates are xz-compressed",
        ),
        (false, _) => (
            Status::Optional(format!(
                "enable {} and {}",
                kernel::SQUASHFS.name,
                kernel::SQUASHFS_XZ.name
            )),
            "needed for .squashfs templates",
        ),
    };
    r.line("squashfs (xz)", squashfs, squashfs_detail);
    r.line(
        "squashfs (zstd)",
        option_status(bit(SQUASHFS_ZSTD), &kernel::SQUASHFS_ZSTD),
        "for templates built with QING_SQUASHFS_COMP=zstd",
    );
    let loop_dev =
        Path::new("/dev/loop-control").exists() || Path::new("/sys/module/loop").exists();
    r.line(
        "loop devices",
        option_status(loop_dev, &kernel::BLK_DEV_LOOP),
        if loop_dev {
            ""
        } else {
            "needed for .squashfs templates"
        },
    );
}

/// The bridge: veth, bridge, and the NAT tool.
fn network_lines(r: &mut Report, bit: impl Fn(i32) -> bool, untried: &str) {
    r.section("Network");
    r.line(
        "veth",
        option_status(bit(VETH), &kernel::VETH),
        if bit(VETH) {
            untried
        } else {
            "needed for --net bridge"
        },
    );
    r.line(
        "bridge",
        option_status(bit(BRIDGE), &kernel::BRIDGE),
        if bit(BRIDGE) {
            untried
        } else {
            "needed for --net bridge"
        },
    );

    let nat_tool = crate::net::nat_tool();
    r.line(
        "nft or iptables",
        if nat_tool.is_some() {
            Status::Ok
        } else {
            Status::Optional("install nftables or iptables".to_string())
        },
        match nat_tool {
            Some(tool) => tool,
            None => "needed for the bridge's outbound NAT",
        },
    );
}

fn controller(layout: &Layout, mounted: bool, c: Controller) -> (bool, String) {
    match layout.hierarchy_of(c) {
        Some(h) => (
            true,
            format!("{} {}", if h.v2 { "v2" } else { "v1" }, h.mount.display()),
        ),
        None if !mounted => (kernel_has(c), String::new()),
        None => (false, String::new()),
    }
}

fn cpu_quota_available(layout: &Layout) -> bool {
    match layout.hierarchy_of(Controller::Cpu) {
        Some(h) if !h.v2 => h.mount.join("cpu.cfs_quota_us").exists(),
        _ => true,
    }
}

/// Forks a child that tries each feature in private namespaces and reports through
/// its exit status. `None` when the child could not make its namespaces.
fn run_trials() -> Option<i32> {
    match sys::clone_process(CloneFlags::empty()) {
        Ok(None) => sys::exit_now(trials()),
        Ok(Some(pid)) => match crate::wait::reap(Some(pid), true) {
            Some((_, crate::wait::Exit::Code(code))) => Some(code),
            _ => None,
        },
        Err(_) => None,
    }
}

/// The same, compressed with zstd.
const EMPTY_ZSTD_SQUASHFS: [u8; 160] = [
    0x68, 0x73, 0x71, 0x73, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x06, 0x00, 0x11, 0x00, 0xc0, 0x00, 0x01, 0x00, 0x04, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x98, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x8a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x1e, 0x00, 0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x20, 0xad, 0x00, 0x00, 0x02, 0x42, 0x04, 0x0a, 0xf0,
    0x19, 0x03, 0xff, 0xff, 0xbf, 0x9c, 0x94, 0x32, 0x05, 0xcf, 0xf5, 0xfc, 0xf1, 0x8f, 0x45, 0x00,
    0x08, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x04, 0x80, 0x00, 0x00, 0x00, 0x00, 0x92, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

/// Binds an empty image to a loop device and mounts it, as `qing run` mounts a
/// template. The loop device goes with the trial's namespace.
fn mounts_squashfs(content: &[u8], image: &Path, mount_point: &Path) -> bool {
    // Padded to 4 KiB as mksquashfs pads: the kernel reads the superblock by whole
    // blocks, and a 162-byte device has none.
    let mut padded = content.to_vec();
    padded.resize(4096, 0);
    if sys::create_file(image, &padded, 0o600).is_err() {
        return false;
    }
    let Ok(file) = crate::sys::open_fd(image, nix::fcntl::OFlag::O_RDONLY, 0) else {
        return false;
    };
    let Ok(device) = crate::rootfs::loopdev::attach(&file, image) else {
        return false;
    };
    let source = format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&device.fd)
    );
    crate::mount::mount_fs(
        source.as_str(),
        mount_point,
        "squashfs",
        MsFlags::MS_RDONLY,
        None,
    )
    .is_ok()
}

fn trials() -> i32 {
    if unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET).is_err()
        || crate::mount::set_mount_flags(Path::new("/"), MsFlags::MS_REC | MsFlags::MS_PRIVATE)
            .is_err()
    {
        // Every exit status is a set of results: report this by dying instead.
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
    let mut found = 0;
    if sys::seccomp_filter_supported() {
        found |= SECCOMP;
    }
    let bridge = features::BRIDGE.built;
    if bridge && crate::net::create_link("qing-probe0", "veth", Some("qing-probe1")).is_ok() {
        found |= VETH;
    }
    if bridge && crate::net::create_link("qing-probe2", "bridge", None).is_ok() {
        found |= BRIDGE;
    }
    // Any directory will do as a mount point in a private namespace.
    let Some(base) = ["/tmp", "/run", "/mnt", "/dev"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.is_dir())
    else {
        return found;
    };
    if crate::mount::mount_fs("qing", base, "tmpfs", MsFlags::empty(), None).is_err() {
        return found;
    }
    let dirs = ["lower", "upper", "work", "merged", "sq", "new"];
    if dirs
        .iter()
        .any(|d| nix::unistd::mkdir(&base.join(d), Mode::from_bits_truncate(0o755)).is_err())
    {
        return found;
    }
    let p = |d: &str| base.join(d).display().to_string();
    let overlay = format!(
        "lowerdir={},upperdir={},workdir={}",
        p("lower"),
        p("upper"),
        p("work")
    );
    if crate::mount::mount_fs(
        "overlay",
        &base.join("merged"),
        "overlay",
        MsFlags::empty(),
        Some(overlay.as_str()),
    )
    .is_ok()
    {
        found |= OVERLAY;
    }
    // A known filesystem rejects the bogus source; an unknown one answers ENODEV.
    match crate::mount::mount_fs(
        "/nonexistent",
        &base.join("sq"),
        "squashfs",
        MsFlags::MS_RDONLY,
        None,
    ) {
        Err(Errno::ENODEV) => {}
        _ => found |= SQUASHFS,
    }
    for (content, bit) in [
        (&EMPTY_XZ_SQUASHFS[..], SQUASHFS_XZ),
        (&EMPTY_ZSTD_SQUASHFS[..], SQUASHFS_ZSTD),
    ] {
        let image = base.join(format!("empty-{bit}.squashfs"));
        if features::SQUASHFS.built
            && found & SQUASHFS != 0
            && mounts_squashfs(content, &image, &base.join("sq"))
        {
            found |= bit;
            let _ = nix::mount::umount(&base.join("sq"));
        }
    }
    let new = base.join("new");
    if crate::mount::mount_fs("qing", &new, "tmpfs", MsFlags::empty(), None).is_ok()
        && nix::unistd::mkdir(&new.join("old"), Mode::from_bits_truncate(0o755)).is_ok()
        && nix::unistd::pivot_root(&new, &new.join("old")).is_ok()
    {
        found |= PIVOT_ROOT;
    }
    found
}
