//! Which cgroup hierarchies this machine has, read once from /proc/self/mountinfo:
//! pure v2, pure v1, or hybrid (v1 controllers beside a v2 tree). When none is
//! mounted, as under a bare busybox init, qing mounts the kind the kernel offers.

use crate::error::{Context, Error, Result};
use crate::kernel;
use nix::mount::MsFlags;
use std::path::{Path, PathBuf};

/// The controllers qing puts every container in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Controller {
    Memory,
    Cpu,
    Pids,
}

pub const CONTROLLERS: [Controller; 3] = [Controller::Memory, Controller::Cpu, Controller::Pids];

impl Controller {
    pub fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Cpu => "cpu",
            Controller::Pids => "pids",
        }
    }

    /// What to do when no mounted hierarchy offers it: mount one, if the kernel has
    /// the controller; otherwise enable it in the kernel.
    pub fn remedy(self) -> String {
        if kernel_has(self) {
            let name = self.name();
            format!("the kernel has it, but no mounted hierarchy offers it: mount one, e.g. `mount -t cgroup -o {name} cgroup /sys/fs/cgroup/{name}`")
        } else {
            format!("enable {} in the kernel", self.kernel_option())
        }
    }

    /// The kernel option that provides it, for error messages and `qing check`.
    pub fn kernel_option(self) -> &'static str {
        match self {
            Controller::Memory => kernel::MEMCG.name,
            Controller::Cpu => kernel::CFS_BANDWIDTH.name,
            Controller::Pids => kernel::CGROUP_PIDS.name,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hierarchy {
    pub mount: PathBuf,
    pub v2: bool,
    /// v1: the mount options that name this hierarchy ("cpu,cpuacct"); v2: the
    /// controllers it offers ("cpu,memory,pids"), read once from cgroup.controllers.
    pub options: String,
}

#[derive(Debug, Default, PartialEq)]
pub struct Layout {
    pub v2: Option<Hierarchy>,
    pub v1: Vec<Hierarchy>,
}

impl Layout {
    pub fn discover() -> Result<Layout> {
        let text =
            crate::sys::read_text("/proc/self/mountinfo").ctx("read /proc/self/mountinfo")?;
        let mut layout = parse_mountinfo(&text);
        if let Some(v2) = layout.v2.as_mut() {
            let offered =
                crate::sys::read_text(v2.mount.join("cgroup.controllers")).unwrap_or_default();
            v2.options = super::files::controllers(&offered);
        }
        Ok(layout)
    }

    /// Finds the hierarchies, mounting them first when none is mounted at all.
    pub fn discover_or_mount() -> Result<Layout> {
        let layout = Layout::discover()?;
        if layout.v2.is_some() || !layout.v1.is_empty() {
            return Ok(layout);
        }
        mount_default()?;
        Layout::discover()
    }

    pub fn describe(&self) -> &'static str {
        match (&self.v2, self.v1.is_empty()) {
            (Some(_), true) => "cgroup v2",
            (Some(_), false) => "hybrid: cgroup v1 controllers beside a cgroup v2 tree",
            (None, false) => "cgroup v1",
            (None, true) => "no cgroup filesystem mounted",
        }
    }

    /// The hierarchy that holds `controller`: a v1 hierarchy claims a controller for
    /// itself, so it wins over the v2 tree.
    pub fn hierarchy_of(&self, controller: Controller) -> Option<&Hierarchy> {
        let offers = |h: &&Hierarchy| h.options.split(',').any(|o| o == controller.name());
        self.v1
            .iter()
            .find(offers)
            .or_else(|| self.v2.as_ref().filter(offers))
    }
}

/// Whether the kernel has `controller` at all, mounted or not (/proc/cgroups).
pub fn kernel_has(controller: Controller) -> bool {
    let cgroups = crate::sys::read_text("/proc/cgroups").unwrap_or_default();
    cgroups.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.first() == Some(&controller.name()) && f.get(3) == Some(&"1")
    })
}

/// mountinfo lines: `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - FSTYPE SOURCE SUPEROPTS`.
/// Only mounts of a hierarchy's root count; the first mount of each hierarchy wins.
pub fn parse_mountinfo(text: &str) -> Layout {
    let mut layout = Layout::default();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        let (Some(root), Some(point), Some(fstype)) = (left.get(3), left.get(4), right.first())
        else {
            continue;
        };
        if *root != "/" {
            continue;
        }
        let mount = PathBuf::from(unescape(point));
        match *fstype {
            "cgroup2" if layout.v2.is_none() => {
                layout.v2 = Some(Hierarchy {
                    mount,
                    v2: true,
                    options: String::new(),
                })
            }
            "cgroup" => {
                let options: Vec<&str> = right
                    .get(2)
                    .unwrap_or(&"")
                    .split(',')
                    .filter(|o| !matches!(*o, "rw" | "ro") && !o.starts_with("release_agent="))
                    .collect();
                let options = options.join(",");
                if !layout.v1.iter().any(|h| h.options == options) {
                    layout.v1.push(Hierarchy {
                        mount,
                        v2: false,
                        options,
                    });
                }
            }
            _ => {}
        }
    }
    layout
}

/// mountinfo writes space, tab, newline and backslash as octal escapes.
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        // Three octal digits after a backslash, naming a byte (at most \\377).
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .map(|d| d.iter().fold(0u32, |n, c| n * 8 + u32::from(c - b'0')))
            .and_then(|n| u8::try_from(n).ok());
        match octal {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mounts cgroups at /sys/fs/cgroup the way the kernel can: v2 when qing's
/// controllers are free for it, otherwise each needed v1 hierarchy, with exactly the
/// controllers the kernel already groups together (a different grouping is refused).
fn mount_default() -> Result<()> {
    let base = Path::new("/sys/fs/cgroup");
    if !base.is_dir() {
        return Err(Error::new(
            "no cgroup filesystem is mounted and /sys/fs/cgroup does not exist",
        )
        .hint("mount sysfs on /sys (mount -t sysfs sysfs /sys), then run qing again"));
    }
    let cgroups = crate::sys::read_text("/proc/cgroups").unwrap_or_default();
    let hierarchy_of = |name: &str| -> Option<u32> {
        cgroups.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.first() == Some(&name) && f.get(3) == Some(&"1")).then(|| f.get(1)?.parse().ok())?
        })
    };
    let filesystems = crate::sys::read_text("/proc/filesystems").unwrap_or_default();
    let has_v2 = filesystems.lines().any(|l| l.ends_with("\tcgroup2"));
    let v1_ids: Vec<u32> = CONTROLLERS
        .iter()
        .filter_map(|c| hierarchy_of(c.name()))
        .filter(|id| *id != 0)
        .collect();
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;

    if has_v2 && v1_ids.is_empty() {
        return crate::mount::mount_fs("cgroup2", base, "cgroup2", flags, None)
            .ctx("mount cgroup2 on /sys/fs/cgroup")
            .map_err(|e| e.hint(kernel::CGROUPS.needed()));
    }
    crate::mount::mount_fs("cgroup", base, "tmpfs", flags, Some("mode=755,size=64k"))
        .ctx("mount tmpfs on /sys/fs/cgroup")?;
    let mut done: Vec<u32> = Vec::new();
    for c in CONTROLLERS {
        let id = hierarchy_of(c.name()).unwrap_or(0);
        if done.contains(&id) {
            continue;
        }
        // Controllers sharing a hierarchy id must be mounted together.
        let names: Vec<&str> = cgroups
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.get(1).and_then(|h| h.parse::<u32>().ok()) == Some(id) && f.get(3) == Some(&"1"))
                    .then(|| f.first().copied())?
            })
            .collect();
        let opts = if id == 0 {
            c.name().to_string()
        } else {
            names.join(",")
        };
        let point = base.join(&opts);
        std::fs::create_dir_all(&point).at("create", &point)?;
        crate::mount::mount_fs("cgroup", &point, "cgroup", flags, Some(opts.as_str()))
            .context(|| format!("mount the {opts} cgroup hierarchy on {}", point.display()))
            .map_err(|e| e.hint(format!("check that the kernel has {}", c.kernel_option())))?;
        done.push(id);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
24 1 0:22 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
25 24 0:23 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
26 24 0:24 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
27 24 0:25 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
28 24 0:26 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
29 24 0:27 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
30 1 0:25 /sub /mnt/pids-bind rw,relatime - cgroup cgroup rw,pids
";

    #[test]
    fn hybrid_layout_finds_v1_controllers_and_the_v2_tree() {
        let l = parse_mountinfo(HYBRID);
        assert_eq!(
            l.v2.as_ref().unwrap().mount,
            PathBuf::from("/sys/fs/cgroup/unified")
        );
        assert_eq!(l.v1.len(), 4);
        assert_eq!(
            l.hierarchy_of(Controller::Memory).unwrap().mount,
            PathBuf::from("/sys/fs/cgroup/memory")
        );
        assert_eq!(l.hierarchy_of(Controller::Pids).unwrap().options, "pids");
        assert_eq!(
            l.describe(),
            "hybrid: cgroup v1 controllers beside a cgroup v2 tree"
        );
    }

    #[test]
    fn co_mounted_v1_controllers_keep_their_grouping() {
        let l = parse_mountinfo(
            "25 24 0:23 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n",
        );
        let h = l.hierarchy_of(Controller::Cpu).unwrap();
        assert_eq!(
            (h.options.as_str(), h.mount.to_str().unwrap()),
            ("cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct")
        );
        assert!(l.hierarchy_of(Controller::Memory).is_none());
        assert_eq!(l.describe(), "cgroup v1");
    }

    #[test]
    fn pure_v2_and_nothing_mounted_are_told_apart() {
        let l = parse_mountinfo("30 1 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
        assert!(l.v1.is_empty() && l.v2.is_some());
        assert_eq!(
            parse_mountinfo("1 0 8:1 / / rw - ext4 /dev/vda rw\n"),
            Layout::default()
        );
    }

    #[test]
    fn a_v2_tree_holds_the_controllers_it_offers_unless_v1_claims_them() {
        let mut l = parse_mountinfo(HYBRID);
        l.v2.as_mut().unwrap().options = "memory,hugetlb".into();
        assert!(
            !l.hierarchy_of(Controller::Memory).unwrap().v2,
            "v1 memory wins"
        );
        l.v1.retain(|h| h.options != "memory");
        assert!(l.hierarchy_of(Controller::Memory).unwrap().v2);
        assert!(l.hierarchy_of(Controller::Cpu).is_some_and(|h| !h.v2));
    }

    #[test]
    fn mount_points_with_escaped_spaces_are_decoded() {
        assert_eq!(unescape("/a\\040b\\134c"), "/a b\\c");
        assert_eq!(unescape("/trailing\\04"), "/trailing\\04");
        assert_eq!(
            unescape("/big\\777"),
            "/big\\777",
            "not a byte: kept as written"
        );
    }

    #[test]
    fn malformed_mountinfo_lines_are_skipped_not_fatal() {
        let l = parse_mountinfo("garbage\n1 2 - \n - cgroup\n\n");
        assert_eq!(l, Layout::default());
    }
}
