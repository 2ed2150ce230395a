//! mount(2) in its three shapes, one function each, each a step of the `--debug`
//! trace. nix's `mount` is generic over four path types, and every instantiation,
//! inlined, copied its path conversions into each caller: through these, a mount is
//! one call.

use nix::mount::MsFlags;
use std::path::Path;

/// A filesystem of `fstype` on `target`; `source` is its name in /proc/mounts.
#[inline(never)]
pub fn mount_fs(
    source: &str,
    target: &Path,
    fstype: &str,
    flags: MsFlags,
    data: Option<&str>,
) -> nix::Result<()> {
    crate::debug::step!(
        "mount {fstype} on {} ({:#x})",
        target.display(),
        flags.bits()
    );
    nix::mount::mount(Some(source), target, Some(fstype), flags, data)
}

/// `source` on `target`: a bind mount (MS_BIND, with MS_REC its submounts too) or
/// a move (MS_MOVE).
#[inline(never)]
pub fn mount_from(source: &Path, target: &Path, flags: MsFlags) -> nix::Result<()> {
    crate::debug::step!(
        "mount {} on {} ({:#x})",
        source.display(),
        target.display(),
        flags.bits()
    );
    nix::mount::mount(Some(source), target, None::<&str>, flags, None::<&str>)
}

/// New flags for the mount at `target`: a remount, or a change of propagation.
#[inline(never)]
pub fn set_mount_flags(target: &Path, flags: MsFlags) -> nix::Result<()> {
    crate::debug::step!("mount flags {:#x} on {}", flags.bits(), target.display());
    nix::mount::mount(None::<&str>, target, None::<&str>, flags, None::<&str>)
}
