//! Compiles device rules to a `BPF_PROG_TYPE_CGROUP_DEVICE` program.
//!
//! A tiny assembler for the handful of eBPF instructions needed (32-bit loads from the
//! context, 64-bit AND/RSH/MOV with an immediate or register, conditional jumps against an
//! immediate, exit), the compiler, and — for tests — an interpreter of that subset, so the
//! compiled programs are checked against [`super::evaluate`] without root.
//!
//! The context is `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`
//! with `access_type = (access << 16) | type`; the program returns 1 to allow, 0 to deny.

use super::{DeviceKind, Rule, ACC_ALL};

/// One `struct bpf_insn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    /// Opcode: class | operation | source.
    pub code: u8,
    /// Destination register (0..=10).
    pub dst: u8,
    /// Source register (0..=10).
    pub src: u8,
    /// Jump offset or memory offset.
    pub off: i16,
    /// Immediate.
    pub imm: i32,
}

// Opcode parts from <linux/bpf_common.h> and <linux/bpf.h>.
const LDX: u8 = 0x01;
const JMP: u8 = 0x05;
const ALU64: u8 = 0x07;
const W: u8 = 0x00;
const MEM: u8 = 0x60;
const K: u8 = 0x00;
const X: u8 = 0x08;
/// ALU operation: AND.
pub const AND: u8 = 0x50;
/// ALU operation: right shift.
pub const RSH: u8 = 0x70;
/// ALU operation: move.
pub const MOV: u8 = 0xb0;
/// Jump operation: always.
pub const JA: u8 = 0x00;
/// Jump operation: equal.
pub const JEQ: u8 = 0x10;
/// Jump operation: not equal.
pub const JNE: u8 = 0x50;
const EXIT: u8 = 0x90;

/// The kernel's device type numbers in `access_type`.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;

impl Insn {
    /// `dst = *(u32 *)(src + off)`
    pub fn ldx_w(dst: u8, src: u8, off: i16) -> Insn {
        Insn {
            code: LDX | W | MEM,
            dst,
            src,
            off,
            imm: 0,
        }
    }
    /// `dst <op>= imm` (64-bit)
    pub fn alu_imm(op: u8, dst: u8, imm: i32) -> Insn {
        Insn {
            code: ALU64 | op | K,
            dst,
            src: 0,
            off: 0,
            imm,
        }
    }
    /// `dst <op>= src` (64-bit)
    pub fn alu_reg(op: u8, dst: u8, src: u8) -> Insn {
        Insn {
            code: ALU64 | op | X,
            dst,
            src,
            off: 0,
            imm: 0,
        }
    }
    /// `if dst <op> imm goto +off`
    pub fn jmp_imm(op: u8, dst: u8, imm: i32, off: i16) -> Insn {
        Insn {
            code: JMP | op | K,
            dst,
            src: 0,
            off,
            imm,
        }
    }
    /// `exit` (return r0)
    pub fn exit() -> Insn {
        Insn {
            code: JMP | EXIT,
            dst: 0,
            src: 0,
            off: 0,
            imm: 0,
        }
    }
    /// The 8 bytes the kernel reads.
    pub fn encode(&self) -> [u8; 8] {
        let regs = if cfg!(target_endian = "little") {
            (self.dst & 0xf) | (self.src << 4)
        } else {
            (self.dst << 4) | (self.src & 0xf)
        };
        let off = self.off.to_ne_bytes();
        let imm = self.imm.to_ne_bytes();
        [
            self.code, regs, off[0], off[1], imm[0], imm[1], imm[2], imm[3],
        ]
    }
}

// Register use: r1 = ctx, r2 = type, r3 = access, r4 = major, r5 = minor, r6 = scratch.
const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;
const R6: u8 = 6;

/// A jump to the end of the current rule's block, resolved when the block is complete.
const SKIP: i16 = i16::MIN;

/// Compiles `rules` (in OCI order: later rules win, default deny).
pub fn compile(rules: &[Rule]) -> Vec<Insn> {
    let mut prog = vec![
        Insn::ldx_w(R2, R1, 0),
        Insn::alu_imm(AND, R2, 0xffff),
        Insn::ldx_w(R3, R1, 0),
        Insn::alu_imm(RSH, R3, 16),
        Insn::ldx_w(R4, R1, 4),
        Insn::ldx_w(R5, R1, 8),
    ];
    // The last matching rule decides, so test the rules from last to first.
    for rule in rules.iter().rev() {
        let mut block = Vec::new();
        match rule.kind {
            DeviceKind::All => {}
            DeviceKind::Char => block.push(Insn::jmp_imm(JNE, R2, DEV_CHAR, SKIP)),
            DeviceKind::Block => block.push(Insn::jmp_imm(JNE, R2, DEV_BLOCK, SKIP)),
        }
        // Every request asks for at least one bit, so a full-access rule always matches.
        if rule.access & ACC_ALL != ACC_ALL {
            block.push(Insn::alu_reg(MOV, R6, R3));
            if rule.allow {
                // allow matches when no requested bit lies outside the rule
                block.push(Insn::alu_imm(AND, R6, i32::from(!rule.access & ACC_ALL)));
                block.push(Insn::jmp_imm(JNE, R6, 0, SKIP));
            } else {
                // deny matches when any requested bit lies inside the rule
                block.push(Insn::alu_imm(AND, R6, i32::from(rule.access)));
                block.push(Insn::jmp_imm(JEQ, R6, 0, SKIP));
            }
        }
        // The immediate is the number's 32 bits (real majors and minors are 12 and 20 bits).
        if let Some(m) = rule.major {
            block.push(Insn::jmp_imm(JNE, R4, imm32(m), SKIP));
        }
        if let Some(m) = rule.minor {
            block.push(Insn::jmp_imm(JNE, R5, imm32(m), SKIP));
        }
        let catch_all = block.is_empty();
        block.push(Insn::alu_imm(MOV, R0, i32::from(rule.allow)));
        block.push(Insn::exit());
        let len = block.len();
        for (i, insn) in block.iter_mut().enumerate() {
            if insn.off == SKIP {
                insn.off = i16::try_from(len - i - 1).expect("a rule is a few instructions");
            }
        }
        prog.extend(block);
        if catch_all {
            // Nothing after a rule matching everything is reachable (the verifier
            // rejects unreachable instructions).
            return prog;
        }
    }
    prog.push(Insn::alu_imm(MOV, R0, 0));
    prog.push(Insn::exit());
    prog
}

/// A `u32` as an instruction's 32-bit immediate (the same bits).
fn imm32(v: u32) -> i32 {
    i32::from_ne_bytes(v.to_ne_bytes())
}

/// Runs a program of the compiled subset on a device request (for tests and debugging).
/// Returns r0, or `None` if the program leaves the subset, jumps out or runs too long.
pub fn run(prog: &[Insn], kind: DeviceKind, major: u32, minor: u32, access: u8) -> Option<u64> {
    let typ = match kind {
        DeviceKind::All => 0,
        DeviceKind::Char => DEV_CHAR.unsigned_abs(),
        DeviceKind::Block => DEV_BLOCK.unsigned_abs(),
    };
    let ctx = [(u32::from(access) << 16) | typ, major, minor];
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    for _ in 0..10_000 {
        let i = *prog.get(pc)?;
        pc += 1;
        let (d, s) = (usize::from(i.dst), usize::from(i.src));
        // 64-bit operations sign-extend the immediate.
        let imm = u64::from_ne_bytes(i64::from(i.imm).to_ne_bytes());
        match i.code {
            c if c == LDX | W | MEM && s == 1 => {
                r[d] = u64::from(*ctx.get(usize::try_from(i.off / 4).ok()?)?);
            }
            c if c == ALU64 | AND | K => r[d] &= imm,
            c if c == ALU64 | RSH | K => r[d] >>= imm,
            c if c == ALU64 | MOV | K => r[d] = imm,
            c if c == ALU64 | MOV | X => r[d] = r[s],
            c if c == JMP | EXIT => return Some(r[0]),
            c if c & 0x0f == JMP | K => {
                let taken = match c & 0xf0 {
                    JA => true,
                    JEQ => r[d] == imm,
                    JNE => r[d] != imm,
                    _ => return None,
                };
                if taken {
                    pc = usize::try_from(i64::try_from(pc).ok()? + i64::from(i.off)).ok()?;
                }
            }
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::{evaluate, ACC_MKNOD, ACC_READ, ACC_WRITE};

    #[test]
    fn encodes_like_the_kernel_header() {
        // r2 = *(u32 *)(r1 + 4): code 0x61, dst 2, src 1
        assert_eq!(
            Insn::ldx_w(2, 1, 4).encode(),
            [0x61, 0x12, 4, 0, 0, 0, 0, 0]
        );
        // r0 = 1: BPF_ALU64|BPF_MOV|BPF_K = 0xb7
        assert_eq!(
            Insn::alu_imm(MOV, 0, 1).encode(),
            [0xb7, 0, 0, 0, 1, 0, 0, 0]
        );
        // if r4 != 136 goto +3: 0x55
        assert_eq!(
            Insn::jmp_imm(JNE, 4, 136, 3).encode(),
            [0x55, 4, 3, 0, 136, 0, 0, 0]
        );
        assert_eq!(Insn::exit().encode(), [0x95, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            Insn::alu_reg(MOV, 6, 3).encode(),
            [0xbf, 0x36, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn empty_rules_deny_everything() {
        let p = compile(&[]);
        assert_eq!(run(&p, DeviceKind::Char, 1, 3, ACC_READ), Some(0));
    }

    #[test]
    fn catch_all_ends_the_program() {
        let all = Rule {
            allow: true,
            kind: DeviceKind::All,
            major: None,
            minor: None,
            access: ACC_ALL,
        };
        let null = Rule {
            allow: false,
            kind: DeviceKind::Char,
            major: Some(1),
            minor: Some(3),
            access: ACC_ALL,
        };
        let p = compile(&[null, all]);
        assert_eq!(p.len(), 8, "prologue + r0=1 + exit, nothing unreachable");
        assert_eq!(run(&p, DeviceKind::Char, 1, 3, ACC_READ), Some(1));
    }

    /// xorshift, so the property test needs no dependency and is reproducible.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
            xs[usize::try_from(self.next() % xs.len() as u64).unwrap()]
        }
    }

    #[test]
    fn compiled_programs_agree_with_the_reference_evaluator() {
        let mut rng = Rng(0x9e3779b97f4a7c15);
        let kinds = [DeviceKind::All, DeviceKind::Char, DeviceKind::Block];
        let nums = [None, Some(1), Some(3), Some(5)];
        let accesses = [
            ACC_READ,
            ACC_WRITE,
            ACC_MKNOD,
            ACC_READ | ACC_WRITE,
            ACC_ALL,
            ACC_READ | ACC_MKNOD,
        ];
        for _ in 0..400 {
            let n = (rng.next() % 6) as usize;
            let rules: Vec<Rule> = (0..n)
                .map(|_| Rule {
                    allow: rng.next() % 2 == 0,
                    kind: rng.pick(&kinds),
                    major: rng.pick(&nums),
                    minor: rng.pick(&nums),
                    access: rng.pick(&accesses),
                })
                .collect();
            let prog = compile(&rules);
            for kind in [DeviceKind::Char, DeviceKind::Block] {
                for major in [1, 3, 5] {
                    for minor in [1, 3, 5] {
                        for access in accesses {
                            let want = evaluate(&rules, kind, major, minor, access);
                            let got = run(&prog, kind, major, minor, access);
                            assert_eq!(
                                got,
                                Some(u64::from(want)),
                                "{rules:?} {kind:?} {major}:{minor} {access}"
                            );
                        }
                    }
                }
            }
        }
    }
}
