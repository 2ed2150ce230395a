//! The syscall tables, generated from the kernel's by generate.sh (the committed
//! output beside it). A build carries only its target's table; tests carry all.

use crate::seccomp::bpf::Arch;

#[cfg(any(test, target_arch = "aarch64"))]
#[rustfmt::skip]
mod aarch64;
#[cfg(any(test, target_arch = "arm"))]
#[rustfmt::skip]
mod arm;
#[rustfmt::skip]
pub mod groups;
#[cfg(any(test, target_arch = "mips"))]
#[rustfmt::skip]
mod mips;
#[cfg(any(test, target_arch = "x86_64"))]
#[rustfmt::skip]
mod x86_64;

/// One architecture's system calls, in number order.
pub struct Table {
    pub arch: Arch,
    /// The names, one space between: for the tests, and for profiles, which name
    /// syscalls (FILE.json, to come); a build that never reads them drops them.
    #[cfg_attr(not(test), allow(dead_code))]
    pub names: &'static str,
    /// The numbers, ascending; see `number`.
    pub numbers: &'static [u16],
    /// Each one's group of Docker's default policy (groups.rs), 0 for none.
    pub groups: &'static [u8],
}

/// ARM's private calls (__ARM_NR_BASE + n, 0x0f0000 + n) are written 0xf000 + n,
/// so that every table fits 16 bits a number.
const ARM_PRIVATE_WRITTEN: u16 = 0xf000;
const ARM_PRIVATE_BASE: u32 = 0x0f_0000;

impl Table {
    /// The system calls, (number, group), ascending.
    pub fn calls(&self) -> impl Iterator<Item = (u32, u8)> + '_ {
        self.numbers
            .iter()
            .map(|&n| match n.checked_sub(ARM_PRIVATE_WRITTEN) {
                Some(private) => ARM_PRIVATE_BASE + u32::from(private),
                None => u32::from(n),
            })
            .zip(self.groups.iter().copied())
    }

    /// The highest number of the kernel's numbering (ARM's private calls aside):
    /// above it, a number is newer than the table.
    pub fn known_up_to(&self) -> u32 {
        self.numbers
            .iter()
            .filter(|&&n| n < ARM_PRIVATE_WRITTEN)
            .max()
            .map_or(0, |&n| u32::from(n))
    }

    /// A system call's number, by name.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn number(&self, name: &str) -> Option<u32> {
        let at = self.names.split(' ').position(|n| n == name)?;
        self.calls().nth(at).map(|(nr, _)| nr)
    }
}

#[cfg(any(test, target_arch = "x86_64"))]
pub const X86_64: Table = Table {
    arch: Arch {
        audit: 0xC000_003E,
        big_endian: false,
        x32: true,
        enosys: 38,
    },
    names: x86_64::NAMES,
    numbers: &x86_64::NUMBERS,
    groups: &x86_64::GROUPS,
};
#[cfg(any(test, target_arch = "aarch64"))]
pub const AARCH64: Table = Table {
    arch: Arch {
        audit: 0xC000_00B7,
        big_endian: false,
        x32: false,
        enosys: 38,
    },
    names: aarch64::NAMES,
    numbers: &aarch64::NUMBERS,
    groups: &aarch64::GROUPS,
};
/// EABI, little-endian.
#[cfg(any(test, target_arch = "arm"))]
pub const ARM: Table = Table {
    arch: Arch {
        audit: 0x4000_0028,
        big_endian: false,
        x32: false,
        enosys: 38,
    },
    names: arm::NAMES,
    numbers: &arm::NUMBERS,
    groups: &arm::GROUPS,
};
/// o32, little-endian.
#[cfg(any(test, all(target_arch = "mips", target_endian = "little")))]
pub const MIPSEL: Table = Table {
    arch: Arch {
        audit: 0x4000_0008,
        big_endian: false,
        x32: false,
        enosys: 89,
    },
    names: mips::NAMES,
    numbers: &mips::NUMBERS,
    groups: &mips::GROUPS,
};
/// o32, big-endian: the same numbers, the arguments' words the other way round.
#[cfg(any(test, all(target_arch = "mips", target_endian = "big")))]
pub const MIPS: Table = Table {
    arch: Arch {
        audit: 0x0000_0008,
        big_endian: true,
        x32: false,
        enosys: 89,
    },
    names: mips::NAMES,
    numbers: &mips::NUMBERS,
    groups: &mips::GROUPS,
};

/// The table of the architecture qing runs on; None where qing has none.
#[cfg(target_arch = "x86_64")]
pub const NATIVE: Option<&Table> = Some(&X86_64);
#[cfg(target_arch = "aarch64")]
pub const NATIVE: Option<&Table> = Some(&AARCH64);
#[cfg(target_arch = "arm")]
pub const NATIVE: Option<&Table> = Some(&ARM);
#[cfg(all(target_arch = "mips", target_endian = "little"))]
pub const NATIVE: Option<&Table> = Some(&MIPSEL);
#[cfg(all(target_arch = "mips", target_endian = "big"))]
pub const NATIVE: Option<&Table> = Some(&MIPS);
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "mips"
)))]
pub const NATIVE: Option<&Table> = None;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_ascending_and_whole() {
        for t in [&X86_64, &AARCH64, &ARM, &MIPSEL, &MIPS] {
            assert_eq!(t.names.split(' ').count(), t.numbers.len());
            assert_eq!(t.groups.len(), t.numbers.len());
            let n: Vec<u32> = t.calls().map(|c| c.0).collect();
            assert!(n.windows(2).all(|w| w[0] < w[1]));
            assert!(t
                .groups
                .iter()
                .all(|&g| usize::from(g) <= groups::GROUPS.len()));
        }
        // Numbers the kernels have had for years, and recent ones libc lacks.
        assert_eq!(X86_64.number("read"), Some(0));
        assert_eq!(X86_64.number("clone3"), Some(435));
        assert_eq!(AARCH64.number("openat"), Some(56));
        assert_eq!(ARM.number("clock_gettime64"), Some(403));
        assert_eq!(ARM.number("set_tls"), Some(0x0f_0005));
        assert_eq!(ARM.known_up_to(), ARM.number("mseal").unwrap_or(0));
        assert_eq!(MIPSEL.number("read"), Some(4003));
        assert_eq!(MIPS.number("futex_time64"), Some(4422));
        // x32 numbers are not in the table.
        assert!(X86_64.calls().all(|(n, _)| n < 512));
    }

    #[test]
    fn generated_tables_match_the_kernel_source() {
        // The check needs the kernel source generate.sh fetches (150 MB, apt): it runs
        // where that is cached, as in the tree that made the tables.
        let root = env!("CARGO_MANIFEST_DIR");
        let cached =
            std::path::Path::new(root).join(".cache/linux-source/linux-source-6.12.tar.xz");
        if !cached.exists() && std::env::var_os("QING_LINUX_SOURCE").is_none() {
            eprintln!("skipped: no kernel source at {}", cached.display());
            return;
        }
        let out = std::process::Command::new("sh")
            .arg(format!("{root}/src/seccomp/tables/generate.sh"))
            .arg("--check")
            .output()
            .expect("runs generate.sh");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
