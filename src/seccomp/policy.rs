//! Docker's default policy (moby/profiles seccomp/default.json), for one
//! architecture's table and the container's capabilities. Which group each syscall
//! is in comes with the tables (docker-default.txt, through generate.sh); the rules
//! of the groups with conditions are here.

use super::bpf::{Action, Cond, Op, Rule, Verdict, EPERM};
use super::tables::{groups::GROUPS, Table};

/// A group of Docker's default policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Allow,
    /// Every family but AF_ALG (38) and AF_VSOCK (40).
    Socket,
    /// Only the personalities Docker allows.
    Personality,
    /// Without namespace flags, unless the container has CAP_SYS_ADMIN.
    Clone,
    /// ENOSYS, so that the C library uses clone, unless CAP_SYS_ADMIN.
    Clone3,
    /// Allowed with any of these capabilities (bits by number).
    Caps(u64),
}

const CAP_SYS_ADMIN: u64 = 1 << 21;
/// CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
/// CLONE_NEWPID | CLONE_NEWNET.
const NAMESPACE_FLAGS: u64 = 0x7E02_0000;
/// The personalities allowed: PER_LINUX, UNAME26, PER_LINUX32, PER_LINUX32|UNAME26,
/// and 0xffffffff, which only asks.
const PERSONALITIES: [u64; 5] = [0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

/// What denies: Docker's defaultAction and defaultErrnoRet.
pub const DEFAULT: Action = Action::Errno(EPERM);

/// The verdict of every syscall of `table` that does not get DEFAULT, ascending.
pub fn docker_default(table: &Table, caps: u64) -> Vec<(u32, Verdict)> {
    let allow = || Verdict::Do(Action::Allow);
    // Each condition is on the first argument, an int or flags the kernel takes
    // as 32 bits: the low word only, whatever a 64-bit register holds above it.
    let first_is = |op: Op, value: u64| Cond {
        arg: 0,
        op,
        value,
        wide: false,
    };
    let any_of = |conds: Vec<Cond>| Verdict::Rules {
        rules: conds
            .into_iter()
            .map(|c| Rule {
                conds: vec![c],
                action: Action::Allow,
            })
            .collect(),
        otherwise: DEFAULT,
    };
    let admin = caps & CAP_SYS_ADMIN != 0;
    table
        .calls()
        .filter_map(|(nr, g)| {
            let group = GROUPS.get(usize::from(g).checked_sub(1)?)?;
            let v = match *group {
                Group::Allow => allow(),
                Group::Socket => any_of(vec![
                    first_is(Op::Lt, 38),
                    first_is(Op::Eq, 39),
                    first_is(Op::Gt, 40),
                ]),
                Group::Personality => {
                    any_of(PERSONALITIES.iter().map(|&p| first_is(Op::Eq, p)).collect())
                }
                Group::Clone if admin => allow(),
                Group::Clone => any_of(vec![first_is(Op::MaskedEq(NAMESPACE_FLAGS), 0)]),
                Group::Clone3 if admin => allow(),
                Group::Clone3 => Verdict::Do(Action::Errno(table.arch.enosys)),
                Group::Caps(need) if caps & need != 0 => allow(),
                Group::Caps(_) => return None,
            };
            Some((nr, v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::bpf::tests::{nosys, ALLOW, DENY};
    use crate::seccomp::bpf::{compile, run, Call, Insn, Policy};
    use crate::seccomp::tables::{AARCH64, ARM, MIPS, MIPSEL, X86_64};

    /// Docker's default set (capabilities.rs).
    const DOCKER_CAPS: u64 = 0xa80425fb;
    const ALL_TABLES: [&Table; 5] = [&X86_64, &AARCH64, &ARM, &MIPSEL, &MIPS];

    fn filter(t: &Table, caps: u64) -> Vec<Insn> {
        let syscalls = docker_default(t, caps);
        compile(&Policy {
            arch: t.arch,
            syscalls: &syscalls,
            default: DEFAULT,
            known_up_to: t.known_up_to(),
        })
        .expect("compiles")
    }

    /// What the filter answers for `name(args)`, and in how many instructions.
    fn ask(t: &Table, prog: &[Insn], name: &str, args: [u64; 6]) -> (u32, usize) {
        let nr = t
            .number(name)
            .unwrap_or_else(|| panic!("{name} in the table"));
        let call = Call {
            nr,
            arch: t.arch.audit,
            args,
        };
        run(prog, &call, t.arch.big_endian).expect("the program ends")
    }

    fn answer(t: &Table, prog: &[Insn], name: &str, a0: u64) -> u32 {
        ask(t, prog, name, [a0, 0, 0, 0, 0, 0]).0
    }

    #[test]
    fn dockers_default_policy_on_every_table() {
        for t in ALL_TABLES {
            let p = filter(t, DOCKER_CAPS);
            let a = |name: &str, a0: u64| answer(t, &p, name, a0);
            for name in [
                "read",
                "write",
                "openat",
                "futex",
                "execve",
                "exit_group",
                "wait4",
            ] {
                assert_eq!(a(name, 0), ALLOW, "{name} {:#x}", t.arch.audit);
            }
            for name in [
                "keyctl",
                "bpf",
                "unshare",
                "perf_event_open",
                "mount",
                "setns",
            ] {
                assert_eq!(a(name, 0), DENY, "{name} {:#x}", t.arch.audit);
            }
            for name in ["io_uring_setup", "add_key", "kexec_load", "userfaultfd"] {
                assert_eq!(a(name, 0), DENY, "{name} {:#x}", t.arch.audit);
            }
            assert_eq!(a("clone3", 0), nosys(&t.arch));
            // clone: a thread or a process, not a namespace.
            assert_eq!(a("clone", 0x3d0f00), ALLOW);
            assert_eq!(a("clone", 0x1000_0000 | 0x11), DENY, "CLONE_NEWUSER");
            assert_eq!(a("clone", 0x2000_0000), DENY, "CLONE_NEWPID");
            // socket: not AF_ALG (38) nor AF_VSOCK (40).
            for (family, want) in [
                (1, ALLOW),
                (2, ALLOW),
                (10, ALLOW),
                (16, ALLOW),
                (38, DENY),
                (40, DENY),
                (39, ALLOW),
            ] {
                assert_eq!(a("socket", family), want, "family {family}");
            }
            for (persona, want) in [
                (0, ALLOW),
                (8, ALLOW),
                (0x20000, ALLOW),
                (0xffff_ffff, ALLOW),
                (0x40000, DENY),
            ] {
                assert_eq!(a("personality", persona), want, "personality {persona:#x}");
            }
            // A number past the table: ENOSYS, so libc falls back.
            let past = t.known_up_to() + 1;
            let call = Call {
                nr: past,
                arch: t.arch.audit,
                args: [0; 6],
            };
            assert_eq!(
                run(&p, &call, t.arch.big_endian).map(|r| r.0),
                Some(nosys(&t.arch))
            );
            assert!(p.len() < 600, "{} instructions", p.len());
        }
    }

    #[test]
    fn capability_groups_follow_the_containers_capabilities() {
        let admin = DOCKER_CAPS | 1 << 21;
        for t in ALL_TABLES {
            let p = filter(t, admin);
            for name in [
                "unshare",
                "mount",
                "setns",
                "bpf",
                "perf_event_open",
                "clone3",
            ] {
                assert_eq!(answer(t, &p, name, 0), ALLOW, "{name} {:#x}", t.arch.audit);
            }
            assert_eq!(answer(t, &p, "clone", 0x1000_0000), ALLOW);
            assert_eq!(answer(t, &p, "reboot", 0), DENY);
            // Without SYS_CHROOT (the chroot fallback, --cap-drop) chroot is denied.
            assert_eq!(answer(t, &filter(t, DOCKER_CAPS), "chroot", 0), ALLOW);
            assert_eq!(
                answer(t, &filter(t, DOCKER_CAPS & !(1 << 18)), "chroot", 0),
                DENY
            );
            assert_eq!(answer(t, &filter(t, 1 << 25), "settimeofday", 0), ALLOW);
        }
    }

    #[test]
    fn the_32_bit_tables_allow_what_their_musl_needs() {
        for t in [&ARM, &MIPSEL, &MIPS] {
            let p = filter(t, DOCKER_CAPS);
            for name in [
                "clock_gettime64",
                "futex_time64",
                "ppoll_time64",
                "utimensat_time64",
                "_llseek",
                "mmap2",
            ] {
                assert_eq!(answer(t, &p, name, 0), ALLOW, "{name} {:#x}", t.arch.audit);
            }
        }
        let p = filter(&ARM, DOCKER_CAPS);
        for name in [
            "set_tls",
            "cacheflush",
            "breakpoint",
            "arm_fadvise64_64",
            "arm_sync_file_range",
        ] {
            assert_eq!(answer(&ARM, &p, name, 0), ALLOW, "{name}");
        }
        // Between the last regular number and ARM's private calls: newer than the table.
        let call = Call {
            nr: 0x0f_0000,
            arch: ARM.arch.audit,
            args: [0; 6],
        };
        assert_eq!(run(&p, &call, false).map(|r| r.0), Some(nosys(&ARM.arch)));
    }

    /// The figures of the README: filter lengths, and the instructions a call runs.
    #[test]
    fn instruction_counts() {
        for (arch, t) in ["x86_64", "aarch64", "arm", "mipsel", "mips"]
            .iter()
            .zip(ALL_TABLES)
        {
            let p = filter(t, DOCKER_CAPS);
            let steps = |name: &str, a0: u64| ask(t, &p, name, [a0, 0, 0, 0, 0, 0]).1;
            eprintln!(
                "{arch}: {} instructions; read {}, futex {}, socket(AF_INET) {}, clone {}",
                p.len(),
                steps("read", 0),
                steps("futex", 0),
                steps("socket", 2),
                steps("clone", 0x11)
            );
            assert!(steps("read", 0) < 16);
        }
    }
}
