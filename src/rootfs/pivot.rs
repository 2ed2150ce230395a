//! Switching the container's process to its new root.
//!
//! pivot_root moves the old root away and the old root is then detached, so nothing
//! of the host stays reachable. It fails with EINVAL when the host's root is the
//! initramfs (rootfs), which can never be moved. The fallback, like runc's
//! --no-pivot: detach every host mount that is not on the way to the new root, move
//! the new root onto `/`, and chroot into it.
//!
//! What the fallback weakens: the initramfs's own files stay underneath the new root
//! in the container's mount namespace. A process that can chroot again can climb out
//! to them (the classic chroot escape), so under the fallback the container loses
//! CAP_SYS_CHROOT too; a leaked directory descriptor would also lead there, which is
//! why every descriptor is closed first. The host's other mounts are detached.

use crate::cgroup::layout::unescape;
use crate::error::{Context, Error, Result};
use nix::errno::Errno;
use nix::mount::{umount2, MntFlags, MsFlags};
use nix::unistd::{chdir, chroot, pivot_root};
use std::path::Path;

/// How the root was switched; the fallback costs the container CAP_SYS_CHROOT.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Switched {
    PivotRoot,
    ChrootFallback,
}

pub fn switch_root(root_path: &Path, force_fallback: bool) -> Result<Switched> {
    chdir(root_path).at("enter", root_path)?;
    if !force_fallback {
        match pivot_root(".", ".") {
            Ok(()) => {
                // The old root now sits on top of the new one; detach it whole.
                umount2(".", MntFlags::MNT_DETACH).ctx("detach the host's root")?;
                chdir("/").ctx("enter the new root")?;
                crate::debug::step!("pivot_root into {}", root_path.display());
                return Ok(Switched::PivotRoot);
            }
            Err(Errno::EINVAL) => {}
            Err(e) => return Err(Error::sys("pivot_root into the container's root", e)),
        }
    }
    detach_host_mounts(root_path)?;
    crate::mount::mount_from(Path::new("."), Path::new("/"), MsFlags::MS_MOVE)
        .context(|| format!("move {} onto /", root_path.display()))?;
    chroot(".").ctx("chroot into the container's root")?;
    chdir("/").ctx("enter the new root")?;
    crate::debug::step!(
        "chroot into {} (the fallback: pivot_root cannot leave this root)",
        root_path.display()
    );
    Ok(Switched::ChrootFallback)
}

/// The mount points of a mountinfo text, unescaped.
pub fn mount_points(mountinfo: &str) -> impl Iterator<Item = String> + '_ {
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(unescape))
}

/// Lazily detaches every mount that is neither the new root, below it, nor one of its
/// ancestors (which must stay until the move), deepest first.
fn detach_host_mounts(root_path: &Path) -> Result<()> {
    let text = crate::sys::read_text("/proc/self/mountinfo").ctx("read /proc/self/mountinfo")?;
    let mut points: Vec<String> = mount_points(&text)
        .filter(|p| {
            let p = Path::new(p);
            !(root_path.starts_with(p) || p.starts_with(root_path))
        })
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        match umount2(p.as_str(), MntFlags::MNT_DETACH) {
            Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(Error::sys(format!("detach host mount {p}"), e)),
        }
    }
    Ok(())
}
