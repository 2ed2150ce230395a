//! A seccomp policy compiled to classic BPF, the kernel's filter language, without
//! libseccomp: the architecture check, then a binary search over number ranges,
//! each range ending in one action or in rules on the arguments.
//!
//! The program is built backwards, from its last instruction to its first, so that
//! every jump's target is already placed and its distance known when the jump is
//! written.

use crate::error::{Error, Result};

/// One instruction, as the kernel's `struct sock_filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

// The opcodes used (linux/bpf_common.h): BPF_LD|BPF_W|BPF_ABS, BPF_ALU|BPF_AND|BPF_K,
// BPF_JMP|BPF_JA, BPF_JMP|BPF_JEQ/JGT/JGE|BPF_K, BPF_RET|BPF_K.
const LOAD: u16 = 0x20;
const AND: u16 = 0x54;
const JA: u16 = 0x05;
const JEQ: u16 = 0x15;
const JGT: u16 = 0x25;
const JGE: u16 = 0x35;
const RET: u16 = 0x06;

/// The kernel refuses a longer filter (BPF_MAXINSNS).
pub const MAX_INSNS: usize = 4096;

// struct seccomp_data: nr, arch, instruction pointer, then six 64-bit arguments.
const NR: u32 = 0;
const ARCH: u32 = 4;
const ARGS: u32 = 16;

pub const EPERM: u16 = 1;

/// What the filter answers for a system call (SECCOMP_RET_*). Docker's default
/// policy uses two; profiles (FILE.json, not read yet) name the others.
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Allow,
    Errno(u16),
    KillProcess,
    KillThread,
    Trap,
    Log,
    Trace(u16),
}

impl Action {
    fn ret(self) -> u32 {
        match self {
            Action::Allow => 0x7fff_0000,
            Action::Errno(e) => 0x0005_0000 | u32::from(e),
            Action::KillProcess => 0x8000_0000,
            Action::KillThread => 0,
            Action::Trap => 0x0003_0000,
            Action::Log => 0x7ffc_0000,
            Action::Trace(m) => 0x7ff0_0000 | u32::from(m),
        }
    }
}

/// How an argument is compared with a value (libseccomp's SCMP_CMP_*), all of which
/// profiles may name.
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `(argument & mask) == value`.
    MaskedEq(u64),
}

/// A condition on one argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cond {
    /// 0 to 5.
    pub arg: u8,
    pub op: Op,
    pub value: u64,
    /// Compare all 64 bits; else the low 32 only, for arguments the kernel takes as
    /// int: a 64-bit register's upper half would otherwise pass a check the kernel
    /// then ignores.
    pub wide: bool,
}

/// Conditions that must all hold (ANDed: CVE-2017-18367 was an OR), and the action
/// when they do.
#[derive(Debug, Clone)]
pub struct Rule {
    pub conds: Vec<Cond>,
    pub action: Action,
}

/// What a system call gets: an action, or the first of some rules that matches
/// (the rules are ORed), else `otherwise`.
#[derive(Debug, Clone)]
pub enum Verdict {
    Do(Action),
    Rules { rules: Vec<Rule>, otherwise: Action },
}

/// The architecture a filter is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arch {
    /// AUDIT_ARCH_*: the filter kills a process calling through any other.
    pub audit: u32,
    /// The low word of an argument is at offset 4 of its 8 bytes.
    pub big_endian: bool,
    /// x86_64: numbers with the x32 bit (0x40000000) are refused, all of them.
    pub x32: bool,
    /// ENOSYS, which the C library takes for "no such call, use the older one":
    /// 38, but 89 on MIPS, which numbers its errors its own way.
    pub enosys: u16,
}

/// Numbers from this one up are x32 calls on x86_64.
pub const X32_BIT: u32 = 0x4000_0000;

/// A filter to compile: verdicts for some numbers, and what the rest get.
pub struct Policy<'a> {
    pub arch: Arch,
    /// Ascending, each number once.
    pub syscalls: &'a [(u32, Verdict)],
    /// For a number not listed up to `known_up_to`, the table's highest.
    pub default: Action,
    /// A number not listed above it is newer than the table: ENOSYS, so that the C
    /// library falls back to an older call.
    pub known_up_to: u32,
}

/// A placed instruction, counted from the end of the program.
type Label = usize;

struct Builder {
    /// The program, last instruction first.
    rev: Vec<Insn>,
}

impl Builder {
    fn push(&mut self, code: u16, jt: u8, jf: u8, k: u32) -> Label {
        self.rev.push(Insn { code, jt, jf, k });
        self.rev.len()
    }

    /// How many instructions an instruction pushed now skips to reach `to`.
    fn distance(&self, to: Label) -> usize {
        self.rev.len() - to
    }

    fn ret(&mut self, a: Action) -> Label {
        self.push(RET, 0, 0, a.ret())
    }

    fn load(&mut self, offset: u32) -> Label {
        self.push(LOAD, 0, 0, offset)
    }

    fn and(&mut self, mask: u32) -> Label {
        self.push(AND, 0, 0, mask)
    }

    /// A conditional jump reaches at most 255 instructions ahead: a farther target
    /// is reached through an unconditional jump (32-bit reach) placed right after.
    fn jump(&mut self, code: u16, k: u32, mut t: Label, mut f: Label) -> Label {
        for target in [&mut t, &mut f] {
            if self.distance(*target) > 253 {
                let far = self.distance(*target) as u32;
                *target = self.push(JA, 0, 0, far);
            }
        }
        let (jt, jf) = (self.distance(t) as u8, self.distance(f) as u8);
        self.push(code, jt, jf, k)
    }

    /// One condition: to `pass` if it holds, else to `fail`.
    fn cond(&mut self, c: &Cond, arch: Arch, pass: Label, fail: Label) -> Label {
        let base = ARGS + 8 * u32::from(c.arg);
        let (lo_at, hi_at) = if arch.big_endian {
            (base + 4, base)
        } else {
            (base, base + 4)
        };
        let (lo, hi) = (c.value as u32, (c.value >> 32) as u32);
        // The low word's test, the last (or only) one.
        let low = |b: &mut Builder| -> Label {
            match c.op {
                Op::Eq => b.jump(JEQ, lo, pass, fail),
                Op::Ne => b.jump(JEQ, lo, fail, pass),
                Op::Gt => b.jump(JGT, lo, pass, fail),
                Op::Ge => b.jump(JGE, lo, pass, fail),
                Op::Lt => b.jump(JGE, lo, fail, pass),
                Op::Le => b.jump(JGT, lo, fail, pass),
                Op::MaskedEq(m) => {
                    b.jump(JEQ, lo, pass, fail);
                    b.and(m as u32)
                }
            };
            b.load(lo_at)
        };
        if !c.wide {
            return low(self);
        }
        let low_entry = low(self);
        // The high word decides unless it equals the value's.
        match c.op {
            Op::Eq => self.jump(JEQ, hi, low_entry, fail),
            Op::Ne => self.jump(JEQ, hi, low_entry, pass),
            Op::Gt | Op::Ge => {
                let eq = self.jump(JEQ, hi, low_entry, fail);
                self.jump(JGT, hi, pass, eq)
            }
            Op::Lt | Op::Le => {
                let eq = self.jump(JEQ, hi, low_entry, pass);
                self.jump(JGT, hi, fail, eq)
            }
            Op::MaskedEq(m) => {
                let m_hi = (m >> 32) as u32;
                self.jump(JEQ, hi, low_entry, fail);
                self.and(m_hi)
            }
        };
        self.load(hi_at)
    }

    fn verdict(&mut self, v: &Verdict, arch: Arch) -> Label {
        match v {
            Verdict::Do(a) => self.ret(*a),
            Verdict::Rules { rules, otherwise } => {
                let mut next = self.ret(*otherwise);
                for rule in rules.iter().rev() {
                    let mut entry = self.ret(rule.action);
                    for c in rule.conds.iter().rev() {
                        entry = self.cond(c, arch, entry, next);
                    }
                    next = entry;
                }
                next
            }
        }
    }

    /// The binary search over ranges[..]: each range is (first number, verdict),
    /// the ranges ascending and together covering every number.
    fn search(&mut self, ranges: &[(u32, &Verdict)], arch: Arch) -> Label {
        match ranges {
            [] => self.ret(Action::KillProcess),
            [(_, v)] => self.verdict(v, arch),
            _ => {
                let mid = ranges.len() / 2;
                let (low, high) = ranges.split_at(mid);
                let first_high = high.first().map_or(0, |r| r.0);
                let h = self.search(high, arch);
                let l = self.search(low, arch);
                self.jump(JGE, first_high, h, l)
            }
        }
    }
}

/// The ranges of numbers that get one verdict, ascending from 0.
fn ranges<'a>(
    p: &'a Policy,
    enosys: &'a Verdict,
    x32: &'a Verdict,
    default: &'a Verdict,
) -> Vec<(u32, &'a Verdict)> {
    let mut out: Vec<(u32, &Verdict)> = Vec::with_capacity(p.syscalls.len() * 2 + 4);
    let mut add = |from: u32, v: &'a Verdict| {
        // Neighbours with the same action are one range; those with rules stay apart
        // (comparing rules would cost more code than the few ranges it saves).
        let same = |last: &Verdict| matches!((last, v), (Verdict::Do(a), Verdict::Do(b)) if a == b);
        if !out.last().is_some_and(|(_, last)| same(last)) {
            out.push((from, v));
        }
    };
    // What a number that is not listed gets.
    let unlisted = |n: u32| {
        if p.arch.x32 && n >= X32_BIT {
            x32
        } else if n > p.known_up_to {
            enosys
        } else {
            default
        }
    };
    let mut next = 0u32;
    for (nr, v) in p.syscalls {
        if *nr < next {
            continue;
        }
        if *nr > next {
            add(next, unlisted(next));
            if next <= p.known_up_to && *nr > p.known_up_to.saturating_add(1) {
                add(p.known_up_to.saturating_add(1), enosys);
            }
        }
        add(*nr, v);
        match nr.checked_add(1) {
            Some(n) => next = n,
            None => return out,
        }
    }
    add(next, unlisted(next));
    if next <= p.known_up_to {
        add(p.known_up_to.saturating_add(1), enosys);
    }
    if p.arch.x32 && next < X32_BIT {
        add(X32_BIT, x32);
    }
    out
}

/// The filter for `p`, at most MAX_INSNS long.
pub fn compile(p: &Policy) -> Result<Vec<Insn>> {
    let enosys = Verdict::Do(Action::Errno(p.arch.enosys));
    let x32 = Verdict::Do(Action::Errno(EPERM));
    let default = Verdict::Do(p.default);
    let ranges = ranges(p, &enosys, &x32, &default);
    let mut b = Builder {
        rev: Vec::with_capacity(ranges.len() * 2 + 8),
    };
    b.search(&ranges, p.arch);
    let by_number = b.load(NR);
    let kill = b.ret(Action::KillProcess);
    b.jump(JEQ, p.arch.audit, by_number, kill);
    b.load(ARCH);
    if b.rev.len() > MAX_INSNS {
        return Err(Error::new(format!(
            "the seccomp filter has {} instructions, more than the kernel's {MAX_INSNS}",
            b.rev.len()
        ))
        .hint("give the profile fewer rules with conditions on arguments"));
    }
    b.rev.reverse();
    Ok(b.rev)
}

/// A system call as the filter sees it.
#[cfg(test)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Call {
    pub nr: u32,
    pub arch: u32,
    pub args: [u64; 6],
}

/// Runs a filter as the kernel would, for the tests and the README's figures: what
/// it returns for `call`, and how many instructions that took. None for a program
/// that would misbehave (the kernel's checker refuses such programs).
#[cfg(test)]
pub fn run(prog: &[Insn], call: &Call, big_endian: bool) -> Option<(u32, usize)> {
    let mut data = [0u8; 64];
    let mut put = |at: usize, bytes: &[u8]| {
        if let Some(d) = data.get_mut(at..at + bytes.len()) {
            d.copy_from_slice(bytes);
        }
    };
    let word = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    put(0, &word(call.nr));
    put(4, &word(call.arch));
    for (i, a) in call.args.iter().enumerate() {
        let bytes = if big_endian {
            a.to_be_bytes()
        } else {
            a.to_le_bytes()
        };
        put(16 + 8 * i, &bytes);
    }
    let (mut acc, mut pc, mut steps) = (0u32, 0usize, 0usize);
    loop {
        let i = prog.get(pc)?;
        steps += 1;
        pc += 1;
        let skip = |taken: bool| usize::from(if taken { i.jt } else { i.jf });
        match i.code {
            LOAD => {
                let at = i.k as usize;
                let b: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
                acc = if big_endian {
                    u32::from_be_bytes(b)
                } else {
                    u32::from_le_bytes(b)
                };
            }
            AND => acc &= i.k,
            JA => pc += i.k as usize,
            JEQ => pc += skip(acc == i.k),
            JGT => pc += skip(acc > i.k),
            JGE => pc += skip(acc >= i.k),
            RET => return Some((i.k, steps)),
            _ => return None,
        }
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    pub const ALLOW: u32 = 0x7fff_0000;
    pub const DENY: u32 = 0x0005_0001;
    pub const NOSYS: u32 = 0x0005_0026;
    pub const KILL: u32 = 0x8000_0000;

    const X86: Arch = Arch {
        audit: 0xC000_003E,
        big_endian: false,
        x32: true,
        enosys: 38,
    };
    const MIPS: Arch = Arch {
        audit: 0x8,
        big_endian: true,
        x32: false,
        enosys: 89,
    };

    /// What a filter returns for ENOSYS on `arch`.
    pub fn nosys(arch: &Arch) -> u32 {
        0x0005_0000 | u32::from(arch.enosys)
    }

    fn ask(prog: &[Insn], arch: Arch, nr: u32, args: [u64; 6]) -> u32 {
        let call = Call {
            nr,
            arch: arch.audit,
            args,
        };
        run(prog, &call, arch.big_endian)
            .expect("the program ends")
            .0
    }

    fn cond(arg: u8, op: Op, value: u64, wide: bool) -> Cond {
        Cond {
            arg,
            op,
            value,
            wide,
        }
    }

    fn rules(rules: Vec<Vec<Cond>>) -> Verdict {
        Verdict::Rules {
            rules: rules
                .into_iter()
                .map(|conds| Rule {
                    conds,
                    action: Action::Allow,
                })
                .collect(),
            otherwise: Action::Errno(EPERM),
        }
    }

    fn policy(arch: Arch, syscalls: &[(u32, Verdict)]) -> Vec<Insn> {
        compile(&Policy {
            arch,
            syscalls,
            default: Action::Errno(EPERM),
            known_up_to: 400,
        })
        .expect("compiles")
    }

    #[test]
    fn actions_are_the_kernels_return_values() {
        // linux/seccomp.h: SECCOMP_RET_KILL_PROCESS, _KILL_THREAD, _TRAP, _ERRNO,
        // _TRACE, _LOG, _ALLOW, the data in the low 16 bits.
        let want = [
            (Action::KillProcess, KILL),
            (Action::KillThread, 0),
            (Action::Trap, 0x0003_0000),
            (Action::Errno(EPERM), DENY),
            (Action::Trace(7), 0x7ff0_0007),
            (Action::Log, 0x7ffc_0000),
            (Action::Allow, ALLOW),
        ];
        for (action, ret) in want {
            assert_eq!(action.ret(), ret, "{action:?}");
        }
    }

    #[test]
    fn allows_listed_denies_others_and_answers_enosys_past_the_table() {
        let list: Vec<(u32, Verdict)> = (0..300)
            .filter(|n| n % 3 != 0)
            .map(|n| (n, Verdict::Do(Action::Allow)))
            .collect();
        let p = policy(X86, &list);
        for n in 0..300 {
            let want = if n % 3 == 0 { DENY } else { ALLOW };
            assert_eq!(ask(&p, X86, n, [0; 6]), want, "syscall {n}");
        }
        assert_eq!(ask(&p, X86, 399, [0; 6]), DENY);
        assert_eq!(ask(&p, X86, 400, [0; 6]), DENY);
        assert_eq!(ask(&p, X86, 401, [0; 6]), NOSYS);
        assert_eq!(ask(&p, X86, 0x3fff_ffff, [0; 6]), NOSYS);
        // x32: refused whatever the number, listed ones included.
        assert_eq!(ask(&p, X86, X32_BIT | 1, [0; 6]), DENY);
        assert_eq!(ask(&p, X86, u32::MAX, [0; 6]), DENY);
        // Another architecture is killed.
        let call = Call {
            nr: 1,
            arch: 0x4000_0003,
            args: [0; 6],
        };
        assert_eq!(run(&p, &call, false).map(|r| r.0), Some(KILL));
        // A binary search: ~200 ranges take a handful of comparisons, not hundreds.
        let steps = run(
            &p,
            &Call {
                nr: 1,
                arch: X86.audit,
                args: [0; 6],
            },
            false,
        )
        .map(|r| r.1);
        assert!(steps.is_some_and(|s| s < 16), "{steps:?}");
    }

    #[test]
    fn conditions_on_several_arguments_are_anded_and_rules_ored() {
        // Allowed: (a0 == 1 && a1 == 2) || a2 == 3.
        let v = rules(vec![
            vec![cond(0, Op::Eq, 1, true), cond(1, Op::Eq, 2, true)],
            vec![cond(2, Op::Eq, 3, true)],
        ]);
        for arch in [X86, MIPS] {
            let p = policy(arch, &[(5, v.clone())]);
            assert_eq!(ask(&p, arch, 5, [1, 2, 0, 0, 0, 0]), ALLOW);
            assert_eq!(ask(&p, arch, 5, [1, 0, 0, 0, 0, 0]), DENY);
            assert_eq!(ask(&p, arch, 5, [0, 2, 0, 0, 0, 0]), DENY);
            assert_eq!(ask(&p, arch, 5, [0, 0, 3, 0, 0, 0]), ALLOW);
            assert_eq!(
                ask(&p, arch, 5, [1, 2, 0, 0, 0, 0].map(|a| a | 1 << 32)),
                DENY
            );
        }
    }

    #[test]
    fn comparisons_take_both_words_on_either_endianness() {
        let values = [
            0u64,
            1,
            7,
            8,
            9,
            0xffff_ffff,
            1 << 32,
            (1 << 32) + 8,
            u64::MAX,
        ];
        let ops = [
            Op::Eq,
            Op::Ne,
            Op::Lt,
            Op::Le,
            Op::Gt,
            Op::Ge,
            Op::MaskedEq(0xf0_0000_000f),
        ];
        for arch in [X86, MIPS] {
            for op in ops {
                for value in [8u64, (1 << 32) + 8] {
                    let p = policy(arch, &[(5, rules(vec![vec![cond(3, op, value, true)]]))]);
                    for a in values {
                        let holds = match op {
                            Op::Eq => a == value,
                            Op::Ne => a != value,
                            Op::Lt => a < value,
                            Op::Le => a <= value,
                            Op::Gt => a > value,
                            Op::Ge => a >= value,
                            Op::MaskedEq(m) => a & m == value,
                        };
                        let want = if holds { ALLOW } else { DENY };
                        let got = ask(&p, arch, 5, [0, 0, 0, a, 0, 0]);
                        assert_eq!(got, want, "{arch:?} {op:?} {value:#x} against {a:#x}");
                    }
                }
            }
        }
    }

    #[test]
    fn narrow_comparisons_ignore_the_upper_word() {
        // socket: not family 38 nor 40, whatever a 64-bit register's upper half holds.
        let v = rules(vec![
            vec![cond(0, Op::Lt, 38, false)],
            vec![cond(0, Op::Eq, 39, false)],
            vec![cond(0, Op::Gt, 40, false)],
        ]);
        let p = policy(X86, &[(41, v)]);
        for (family, want) in [
            (1u64, ALLOW),
            (38, DENY),
            (39, ALLOW),
            (40, DENY),
            (44, ALLOW),
        ] {
            assert_eq!(ask(&p, X86, 41, [family, 0, 0, 0, 0, 0]), want);
            assert_eq!(ask(&p, X86, 41, [family | 1 << 32, 0, 0, 0, 0, 0]), want);
        }
    }

    #[test]
    fn far_jumps_go_through_long_jumps() {
        // Many rules make the search's jumps longer than 255 instructions.
        let many: Vec<(u32, Verdict)> = (0..120)
            .map(|n| {
                let v = rules(
                    (0..3)
                        .map(|i| vec![cond(i, Op::Eq, u64::from(n) + 1, true)])
                        .collect(),
                );
                (n * 2, v)
            })
            .collect();
        let p = policy(X86, &many);
        assert!(p.len() > 1000 && p.iter().any(|i| i.code == JA));
        for n in 0..120u32 {
            let a = u64::from(n) + 1;
            assert_eq!(ask(&p, X86, n * 2, [a, 0, 0, 0, 0, 0]), ALLOW);
            assert_eq!(ask(&p, X86, n * 2, [0, 0, a, 0, 0, 0]), ALLOW);
            assert_eq!(ask(&p, X86, n * 2, [999, 0, 0, 0, 0, 0]), DENY);
            assert_eq!(ask(&p, X86, n * 2 + 1, [0; 6]), DENY);
        }
    }

    #[test]
    fn ranges_reach_the_ends_of_the_number_space() {
        let top = [(u32::MAX, Verdict::Do(Action::Allow))];
        let no_x32 = Arch { x32: false, ..X86 };
        for known_up_to in [0, 5, u32::MAX] {
            let p = compile(&Policy {
                arch: no_x32,
                syscalls: &top,
                default: Action::Errno(EPERM),
                known_up_to,
            })
            .expect("compiles");
            assert_eq!(ask(&p, no_x32, u32::MAX, [0; 6]), ALLOW);
            let below = if known_up_to == u32::MAX { DENY } else { NOSYS };
            assert_eq!(ask(&p, no_x32, u32::MAX - 1, [0; 6]), below);
            assert_eq!(ask(&p, no_x32, 0, [0; 6]), DENY);
        }
    }

    #[test]
    fn a_filter_over_the_kernels_limit_is_refused() {
        let many: Vec<(u32, Verdict)> = (0..400)
            .map(|n| {
                let v = rules(
                    (0..6)
                        .map(|i| vec![cond(i, Op::Eq, u64::from(n), true)])
                        .collect(),
                );
                (n, v)
            })
            .collect();
        let e = compile(&Policy {
            arch: X86,
            syscalls: &many,
            default: Action::Errno(EPERM),
            known_up_to: 400,
        });
        let e = e.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("more than the kernel's 4096"), "{e}");
    }
}
