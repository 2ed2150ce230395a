//! The container's seccomp filter (`--seccomp`): Docker's default policy, compiled
//! by qing to classic BPF for the target's own syscall table and the container's
//! capabilities, and installed as the command's last step before execve.
//!
//! A syscall the policy denies fails with EPERM; one newer than the table with
//! ENOSYS, so that the C library falls back to an older call; x32 calls on x86_64
//! are refused; a call through another architecture kills the process.

pub mod bpf;
pub mod policy;
pub mod tables;

use crate::error::{quoted, Context, Error, Result};
use crate::features::SECCOMP;

/// `--seccomp`: which filter the container's processes get.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Docker's default policy.
    #[default]
    Default,
    /// No filter.
    Unconfined,
}

impl Choice {
    pub fn parse(value: &str) -> Result<Choice> {
        match value {
            "default" => Ok(Choice::Default),
            "unconfined" => Ok(Choice::Unconfined),
            _ => Err(Error::new(format!(
                "--seccomp {}: this qing knows the filters default and unconfined, and reads no profile files yet",
                quoted(value)
            ))
            .hint("give --seccomp default (Docker's default policy) or --seccomp unconfined")),
        }
    }

    /// The choice a running container's command was given, from its
    /// /proc/PID/status, for `qing exec`: a process under a filter has `Seccomp: 2`.
    pub fn of_process(status: &str) -> Choice {
        let mode = status.lines().find_map(|l| l.strip_prefix("Seccomp:"));
        match mode.map(str::trim) {
            Some("2") => Choice::Default,
            _ => Choice::Unconfined,
        }
    }
}

/// The default filter for a container holding `caps`; None where qing has no
/// syscall table for the architecture.
pub fn default_filter(caps: u64) -> Result<Option<Vec<bpf::Insn>>> {
    let Some(table) = tables::NATIVE else {
        return Ok(None);
    };
    let syscalls = policy::docker_default(table, caps);
    bpf::compile(&bpf::Policy {
        arch: table.arch,
        syscalls: &syscalls,
        default: policy::DEFAULT,
        known_up_to: table.known_up_to(),
    })
    .map(Some)
}

/// Installs the chosen filter on the calling process, which has no_new_privs set
/// and execs next. Without kernel support (no SECCOMP_FILTER, or under
/// qemu-user, which refuses filters) the default filter is left out.
pub fn install(choice: Choice, caps: u64) -> Result<()> {
    if !SECCOMP.built {
        crate::debug::step!("no seccomp filter: this qing was built without them");
        return Ok(());
    }
    if choice == Choice::Unconfined {
        crate::debug::step!("no seccomp filter (--seccomp unconfined)");
        return Ok(());
    }
    if !crate::sys::seccomp_filter_supported() {
        crate::debug::step!(
            "no seccomp filter: the kernel takes none ({}; qemu-user)",
            crate::kernel::SECCOMP_FILTER.name
        );
        return Ok(());
    }
    let Some(prog) = default_filter(caps)? else {
        crate::debug::step!("no seccomp filter: qing has no syscall table for this architecture");
        return Ok(());
    };
    // The instructions a call runs are the unit tests' figures (policy.rs,
    // instruction_counts): the interpreter stays out of the binary.
    crate::debug::step!("seccomp filter: {} instructions", prog.len());
    let filter: Vec<libc::sock_filter> = prog
        .iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    crate::sys::seccomp_set_filter(&filter).ctx("install the seccomp filter")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_by_name_and_from_a_process_status() {
        assert_eq!(Choice::parse("default").ok(), Some(Choice::Default));
        assert_eq!(Choice::parse("unconfined").ok(), Some(Choice::Unconfined));
        for bad in ["", "Default", "strict", "/etc/profile.json"] {
            let e = Choice::parse(bad)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains("--seccomp") && e.contains("hint"), "{bad}: {e}");
        }
        let status = |mode: &str| {
            format!("Name:\tsh\nNoNewPrivs:\t1\nSeccomp:\t{mode}\nSeccomp_filters:\t1\n")
        };
        assert_eq!(Choice::of_process(&status("2")), Choice::Default);
        assert_eq!(Choice::of_process(&status("0")), Choice::Unconfined);
        // A kernel without seccomp (SECCOMP) has no such line, and no filter.
        assert_eq!(Choice::of_process("Name:\tsh\n"), Choice::Unconfined);
    }

    #[test]
    fn the_native_filter_compiles_for_dockers_caps() {
        let prog = default_filter(0xa80425fb).ok().flatten();
        assert!(prog.is_some_and(|p| p.len() > 100 && p.len() < bpf::MAX_INSNS));
    }
}
