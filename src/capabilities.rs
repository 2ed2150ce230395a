//! The container's capabilities: Docker's default set, changed by `--cap-add` and
//! `--cap-drop` with Docker's names and rules, and cut right before execve.

use crate::error::{quoted, Context, Error, Result};
use crate::sys;

/// Every capability, in number order (linux/capability.h), as docker names them.
const NAMES: &str = "CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP \
LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE \
SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME \
SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG \
WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE";

const ALL: u64 = (1 << 41) - 1;
const CAP_SYS_CHROOT: u32 = 18;

/// Docker's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
/// NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP. Docker can grant
/// CAP_MKNOD because a device cgroup then decides which nodes may be opened; qing
/// keeps no device cgroup (v2 would need an eBPF program) and makes every mount the
/// container can write nodev instead, /dev included, where the few nodes it needs are
/// bound from the host.
const DEFAULT: u64 = 0xa80425fb;

/// What a container may hold, as bits by capability number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capabilities {
    /// The set the command keeps (less what the host lacks, for the default set and
    /// ALL).
    pub keep: u64,
    /// Named in --cap-add: the host must have these, or the run fails.
    pub named: u64,
}

/// A capability's name by number.
fn name(number: usize) -> &'static str {
    NAMES.split(' ').nth(number).unwrap_or("?")
}

/// A capability by Docker's name, with or without `CAP_`, in any case; `ALL` is
/// every capability.
fn parse(option: &str, name: &str) -> Result<u64> {
    let bare = match name.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("CAP_") => name.get(4..).unwrap_or_default(),
        _ => name,
    };
    if bare.eq_ignore_ascii_case("ALL") {
        return Ok(ALL);
    }
    match NAMES.split(' ').position(|n| n.eq_ignore_ascii_case(bare)) {
        Some(number) => Ok(1 << number),
        None => Err(
            Error::new(format!("{option} {}: no such capability", quoted(name))).hint(
                "name one as capabilities(7) and docker do (NET_ADMIN, CAP_SYS_TIME), or ALL",
            ),
        ),
    }
}

/// Docker's rules: ALL among the added gives every capability less the dropped; ALL
/// among the dropped gives only the added; otherwise the default set less the
/// dropped, plus the added.
pub fn from_options(add: &[String], drop: &[String]) -> Result<Capabilities> {
    let fold = |option: &str, names: &[String]| {
        names
            .iter()
            .try_fold(0u64, |mask, n| Ok(mask | parse(option, n)?))
    };
    let (added, dropped) = (fold("--cap-add", add)?, fold("--cap-drop", drop)?);
    let keep = if added == ALL {
        ALL & !dropped
    } else if dropped == ALL {
        added
    } else {
        DEFAULT & !dropped | added
    };
    let named = if added == ALL { 0 } else { added };
    Ok(Capabilities { keep, named })
}

impl Default for Capabilities {
    fn default() -> Capabilities {
        Capabilities {
            keep: DEFAULT,
            named: 0,
        }
    }
}

impl Capabilities {
    /// Under the chroot fallback CAP_SYS_CHROOT goes, whoever asked for it: with it,
    /// a process can chroot deeper and climb out past the old root.
    pub fn for_root(self, chroot_fallback: bool) -> u64 {
        match chroot_fallback {
            true => self.keep & !(1 << CAP_SYS_CHROOT),
            false => self.keep,
        }
    }

    /// Before anything of the container exists: a capability asked for by name that
    /// this qing does not hold (not in the host's bounding set) cannot be given.
    pub fn check_host(self) -> Result<()> {
        let have = sys::cap_permitted().ctx("read this process's capabilities")?;
        let missing = self.named & !have;
        match (0..64).find(|c| missing & (1 << c) != 0) {
            None => Ok(()),
            Some(c) => Err(Error::new(format!(
                "--cap-add {n}: qing does not hold CAP_{n} here (it is not in the host's bounding set), so no container can have it",
                n = name(c)
            ))
            .hint("leave it out, or run qing where the bounding set has it")),
        }
    }
}

/// First of the two steps that give the command its capabilities, while qing still
/// holds all of its own: cuts the bounding set to `keep`, so nothing outside it can
/// come back, through a setuid file or otherwise.
pub fn limit_bounding(keep: u64) -> Result<()> {
    // Dropping a capability that is already gone succeeds; EINVAL marks the first
    // number past the kernel's last capability.
    for cap in (0..64).filter(|c| keep & (1 << c) == 0) {
        match sys::cap_drop_bounding(cap) {
            Ok(()) => {}
            Err(nix::errno::Errno::EINVAL) => break,
            Err(e) => {
                return Err(
                    Error::sys(format!("drop capability {cap} from the bounding set"), e)
                        .hint("qing needs CAP_SETPCAP to limit a container's capabilities"),
                )
            }
        }
    }
    Ok(())
}

/// The second step, once the command's user is set (which needs CAP_SETGID and
/// CAP_SETUID, whatever `keep` says): effective and permitted become `keep`, less what
/// this process lacks (the default set and ALL never ask for what the host does not
/// have; a user other than root has lost them all in its setuid), and the
/// inheritable and ambient sets are emptied.
pub fn set(keep: u64) -> Result<()> {
    let have = sys::cap_permitted().ctx("read this process's capabilities")?;
    sys::cap_set(keep & have).ctx("set the container's capabilities")?;
    sys::cap_clear_ambient().ctx("clear the ambient capabilities")
}

/// The bounding set of a process, from its /proc/PID/status: what `qing exec` gives
/// the commands it joins to a container.
pub fn bounding_of(status: &str) -> Option<u64> {
    sys::status_mask(status, "CapBnd:")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(add: &[&str], drop: &[&str]) -> Result<Capabilities> {
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        from_options(&owned(add), &owned(drop))
    }

    #[test]
    fn default_set_is_dockers_and_loses_chroot_under_the_fallback() {
        // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE
        // NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP, as docker's default profile.
        let d = Capabilities::default();
        assert_eq!(d.for_root(false), 0xa80425fb);
        assert_eq!(d.for_root(true), 0xa80425fb & !(1 << CAP_SYS_CHROOT));
        assert_eq!(caps(&[], &[]).unwrap(), d);
    }

    #[test]
    fn names_are_dockers_with_or_without_cap_in_any_case() {
        assert_eq!(name(12), "NET_ADMIN");
        assert_eq!((name(40), name(41)), ("CHECKPOINT_RESTORE", "?"));
        assert_eq!(NAMES.split(' ').count(), 41);
        // The default set, by name.
        let default = [
            "CHOWN",
            "DAC_OVERRIDE",
            "FOWNER",
            "FSETID",
            "KILL",
            "SETGID",
            "SETUID",
            "SETPCAP",
            "NET_BIND_SERVICE",
            "NET_RAW",
            "SYS_CHROOT",
            "MKNOD",
            "AUDIT_WRITE",
            "SETFCAP",
        ];
        let by_name = default
            .iter()
            .map(|n| parse("x", n).unwrap())
            .fold(0, |m, c| m | c);
        assert_eq!(by_name, DEFAULT);
        for n in ["NET_ADMIN", "cap_net_admin", "Net_Admin", "CAP_NET_ADMIN"] {
            assert_eq!(caps(&[n], &[]).unwrap().keep, 0xa80425fb | 1 << 12, "{n}");
        }
        for bad in ["", "CAP_", "NETADMIN", "NET_ADMIN ", "ALL_", "41"] {
            let e = caps(&[bad], &[]).unwrap_err();
            assert!(e.what().starts_with("--cap-add \""), "{}", e.what());
            assert!(caps(&[], &[bad])
                .unwrap_err()
                .what()
                .starts_with("--cap-drop"));
        }
    }

    #[test]
    fn all_follows_dockers_rules() {
        let all = caps(&["ALL"], &["NET_RAW"]).unwrap();
        assert_eq!(all.keep, ALL & !(1 << 13));
        assert_eq!(all.named, 0, "ALL asks for nothing by name");
        let only = caps(&["NET_ADMIN"], &["ALL"]).unwrap();
        assert_eq!((only.keep, only.named), (1 << 12, 1 << 12));
        assert_eq!(caps(&[], &["all"]).unwrap().keep, 0);
        // Neither ALL: dropped from the default set, then added.
        let both = caps(&["CHOWN", "SYS_TIME"], &["CHOWN", "KILL"]).unwrap();
        assert_eq!(both.keep, (0xa80425fb & !(1 << 5)) | 1 << 25);
    }

    #[test]
    fn the_bounding_set_is_read_from_a_status_file() {
        let status = "Name:\tsh\nCapInh:\t0000000000000000\nCapBnd:\t00000000a80425fb\n";
        assert_eq!(bounding_of(status), Some(0xa80425fb));
        assert_eq!(bounding_of("CapBnd:\tzz\n"), None);
        assert_eq!(bounding_of(""), None);
    }
}
