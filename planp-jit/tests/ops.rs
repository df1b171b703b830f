//! Every word operation and comparison against Rust's semantics: operands in registers
//! (frame slots loaded, so dynamic), in spill slots (the pool exhausted first), owned or
//! shared, the same value twice, and constants (the folding path).
#![allow(unsafe_code)]
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

mod common;

use common::*;
use planp_jit::*;
use proptest::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};

const ALL_COND: [Cond; 10] =
    [Cond::Eq, Cond::Ne, Cond::LtS, Cond::LeS, Cond::GtS, Cond::GeS, Cond::LtU, Cond::LeU, Cond::GtU, Cond::GeU];

/// Rust's semantics; `None` for a division by zero.
fn expect2(op: Op2, a: u64, b: u64) -> Option<u64> {
    let (sa, sb) = (a as i64, b as i64);
    Some(match op {
        Op2::Add => a.wrapping_add(b),
        Op2::Sub => a.wrapping_sub(b),
        Op2::Mul => a.wrapping_mul(b),
        Op2::And => a & b,
        Op2::Or => a | b,
        Op2::Xor => a ^ b,
        Op2::Shl => a.wrapping_shl((b % 64) as u32),
        Op2::ShrU => a.wrapping_shr((b % 64) as u32),
        Op2::ShrS => sa.wrapping_shr((b % 64) as u32) as u64,
        Op2::DivS if b == 0 => return None,
        Op2::DivS => sa.wrapping_div(sb) as u64,
        Op2::RemS if b == 0 => return None,
        Op2::RemS => sa.wrapping_rem(sb) as u64,
        Op2::DivU => a.checked_div(b)?,
        Op2::RemU => a.checked_rem(b)?,
    })
}

fn expect1(op: Op1, a: u64) -> u64 {
    match op {
        Op1::Neg => a.wrapping_neg(),
        Op1::Not => !a,
        Op1::Zext(8) => a as u8 as u64,
        Op1::Zext(16) => a as u16 as u64,
        Op1::Zext(32) => a as u32 as u64,
        Op1::Sext(8) => a as i8 as i64 as u64,
        Op1::Sext(16) => a as i16 as i64 as u64,
        Op1::Sext(32) => a as i32 as i64 as u64,
        Op1::Zext(n) if n >= 64 => a,
        Op1::Sext(n) if n >= 64 => a,
        Op1::Zext(0) | Op1::Sext(0) => 0,
        Op1::Zext(n) => a & ((1u64 << n) - 1),
        Op1::Sext(n) => {
            let v = a & ((1u64 << n) - 1);
            if v >> (n - 1) & 1 == 1 { v | !((1u64 << n) - 1) } else { v }
        }
    }
}

fn expect_cond(c: Cond, a: u64, b: u64) -> bool {
    let (sa, sb) = (a as i64, b as i64);
    match c {
        Cond::Eq => a == b,
        Cond::Ne => a != b,
        Cond::LtS => sa < sb,
        Cond::LeS => sa <= sb,
        Cond::GtS => sa > sb,
        Cond::GeS => sa >= sb,
        Cond::LtU => a < b,
        Cond::LeU => a <= b,
        Cond::GtU => a > b,
        Cond::GeU => a >= b,
    }
}

fn word() -> BoxedStrategy<u64> {
    let edges = vec![
        0,
        1,
        2,
        3,
        7,
        8,
        31,
        32,
        63,
        64,
        65,
        127,
        128,
        255,
        256,
        0x7f,
        0x80,
        0xff,
        0x7fff,
        0x8000,
        0xffff,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_ffff,
        0x1_0000_0000,
        i64::MAX as u64,
        i64::MIN as u64,
        u64::MAX,
        u64::MAX - 1,
        -128i64 as u64,
        -129i64 as u64,
        -(1i64 << 31) as u64,
        -(1i64 << 31) as u64 - 1,
    ];
    prop_oneof![
        3 => any::<u64>(),
        3 => prop::sample::select(edges),
        2 => 0u64..200,
        1 => (-200i64..200).prop_map(|x| x as u64),
    ]
    .boxed()
}

/// How an operand is given.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// Loaded from the frame, passed owned.
    Owned,
    /// Loaded from the frame, passed shared (released after).
    Shared,
    /// A constant.
    Const,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::Owned), Just(Kind::Shared), Just(Kind::Const)]
}

/// Where the operands land: `busy` values are loaded first (filling the pool in order,
/// spilling past 10), then those marked in `holes` are released, so the operands take
/// the freed registers (rcx, rdx, ... included) or spill slots.
#[derive(Clone, Debug)]
struct Setup {
    busy: usize,
    holes: Vec<bool>,
}

fn setup() -> impl Strategy<Value = Setup> {
    (0usize..14)
        .prop_flat_map(|n| prop::collection::vec(prop::bool::weighted(0.3), n))
        .prop_map(|holes| Setup { busy: holes.len(), holes })
}

const BUSY: u32 = 2;
const OUT: u32 = 30;
const KEPT: u32 = 40;
const FRAME: usize = 64;

/// Keep the expected panics (division by zero in generated code) off stderr; others
/// are reported as usual.
fn quiet_expected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info
                .payload()
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| info.payload().downcast_ref::<&str>().copied())
                .unwrap_or("");
            if !msg.contains("ended with PANIC") {
                default(info);
            }
        }));
    });
}

/// Build code around `body` (which gets the operands and gives the result), run it, and
/// check the result and that every other live value survived. `Err` = the run panicked.
fn harness(setup: &Setup, inputs: &[(Kind, u64)], body: impl FnOnce(&mut G, &[V]) -> V) -> Result<u64, String> {
    quiet_expected_panics();
    let mut g = G::new();
    let busy: Vec<V> = (0..setup.busy).map(|i| g.load_frame(BUSY + i as u32)).collect();
    for (i, &h) in setup.holes.iter().enumerate() {
        if h {
            g.release(busy[i]);
        }
    }
    let mut vals = Vec::new();
    let mut args = Vec::new();
    for (i, &(k, w)) in inputs.iter().enumerate() {
        let v = match k {
            Kind::Const => g.imm(w),
            _ => g.load_frame(i as u32),
        };
        vals.push(v);
        args.push(if k == Kind::Shared { v.shared() } else { v });
    }
    let r = body(&mut g, &args);
    for (i, &(k, _)) in inputs.iter().enumerate() {
        if k == Kind::Shared {
            g.release(vals[i]);
        }
    }
    g.store_frame(OUT, r);
    for (i, &h) in setup.holes.iter().enumerate() {
        if !h {
            g.store_frame(KEPT + i as u32, busy[i]);
        }
    }
    let z = g.imm(0);
    g.ret(z);
    let code = g.finish().unwrap();
    let mut frame = vec![0u64; FRAME];
    for (i, &(_, w)) in inputs.iter().enumerate() {
        frame[i] = w;
    }
    for i in 0..setup.busy {
        frame[BUSY as usize + i] = 0x5151_0000 + i as u64 * 0x0101_0101_0101;
    }
    let out = catch_unwind(AssertUnwindSafe(|| run(&code, &mut frame)));
    let (ret, _) = out.map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })?;
    assert_eq!(ret, Ret { value: 0, status: OK });
    for (i, &h) in setup.holes.iter().enumerate() {
        if !h {
            assert_eq!(
                frame[KEPT as usize + i],
                frame[BUSY as usize + i],
                "live value {i} clobbered\n{}",
                code.disassemble()
            );
        }
    }
    Ok(frame[OUT as usize])
}

fn check_op2(op: Op2, a: (Kind, u64), b: (Kind, u64), same: bool, s: &Setup) {
    let want = expect2(op, a.1, if same { a.1 } else { b.1 });
    let folded = a.0 == Kind::Const && (same || b.0 == Kind::Const);
    let inputs: Vec<(Kind, u64)> = if same { vec![a] } else { vec![a, b] };
    let got = harness(s, &inputs, |g, v| {
        let r = if same {
            // The same value twice: once shared, once as given.
            g.op2(op, v[0].shared(), v[0])
        } else {
            g.op2(op, v[0], v[1])
        };
        if folded && want.is_some() {
            assert_eq!(g.constant(r), want, "{op:?} did not fold");
        }
        r
    });
    match (want, got) {
        (Some(w), Ok(g)) => assert_eq!(g, w, "{op:?} {a:?} {b:?} same={same}"),
        (None, Err(msg)) => assert!(msg.contains("PANIC"), "{msg}"),
        (w, g) => panic!("{op:?} {a:?} {b:?}: want {w:?}, got {g:?}"),
    }
}

fn op1() -> impl Strategy<Value = Op1> {
    prop_oneof![
        Just(Op1::Neg),
        Just(Op1::Not),
        prop::sample::select(vec![8u8, 16, 32]).prop_map(Op1::Zext),
        prop::sample::select(vec![8u8, 16, 32]).prop_map(Op1::Sext),
        (0u8..=70).prop_map(Op1::Zext),
        (0u8..=70).prop_map(Op1::Sext),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn op2_matches_rust(
        op in prop::sample::select(ALL_OP2.to_vec()),
        ka in kind(), a in word(), kb in kind(), b in word(),
        same in prop::bool::weighted(0.1),
        s in setup(),
    ) {
        check_op2(op, (ka, a), (kb, b), same, &s);
    }

    #[test]
    fn op1_matches_rust(op in op1(), k in kind(), a in word(), s in setup()) {
        let want = expect1(op, a);
        let got = harness(&s, &[(k, a)], |g, v| {
            let r = g.op1(op, v[0]);
            if k == Kind::Const {
                assert_eq!(g.constant(r), Some(want));
            }
            r
        });
        prop_assert_eq!(got, Ok(want), "{:?} {:#x}", op, a);
    }

    #[test]
    fn cmp_matches_rust(
        c in prop::sample::select(ALL_COND.to_vec()),
        ka in kind(), a in word(), kb in kind(), b in word(),
        s in setup(),
    ) {
        let want = expect_cond(c, a, b) as u64;
        let got = harness(&s, &[(ka, a), (kb, b)], |g, v| g.cmp(c, v[0], v[1]));
        prop_assert_eq!(got, Ok(want), "cmp {:?} {:#x} {:#x}", c, a, b);
    }

    #[test]
    fn branch_cmp_matches_rust(
        c in prop::sample::select(ALL_COND.to_vec()),
        ka in kind(), a in word(), kb in kind(), b in word(),
        s in setup(),
    ) {
        let want = expect_cond(c, a, b) as u64;
        let got = harness(&s, &[(ka, a), (kb, b)], |g, v| {
            let x = g.var();
            let yes = g.label();
            let join = g.label();
            g.branch_cmp(c, v[0], v[1], yes);
            let zero = g.imm(0);
            g.set(x, zero);
            g.jump(join);
            g.bind(yes);
            let one = g.imm(1);
            g.set(x, one);
            g.bind(join);
            let r = g.get(x);
            g.release_var(x);
            r
        });
        prop_assert_eq!(got, Ok(want), "branch {:?} {:#x} {:#x}", c, a, b);
    }

    #[test]
    fn branch_zero_matches_rust(k in kind(), a in word(), nonzero in any::<bool>(), s in setup()) {
        let want = ((a != 0) == nonzero) as u64;
        let got = harness(&s, &[(k, a)], |g, v| {
            let x = g.var();
            let yes = g.label();
            let join = g.label();
            if nonzero {
                g.branch_nonzero(v[0], yes);
            } else {
                g.branch_zero(v[0], yes);
            }
            let zero = g.imm(0);
            g.set(x, zero);
            g.jump(join);
            g.bind(yes);
            let one = g.imm(1);
            g.set(x, one);
            g.bind(join);
            let r = g.get(x);
            g.release_var(x);
            r
        });
        prop_assert_eq!(got, Ok(want));
    }
}

/// The corner cases, each in every operand form and with the operands in every
/// position of the pool (rcx and rdx included) and spilled.
#[test]
fn corners_in_every_position() {
    let pairs = [
        (i64::MIN as u64, u64::MAX),
        (i64::MIN as u64, 1),
        (u64::MAX, 2),
        (5, 0),
        (0, 0),
        (1, 64),
        (1, 65),
        (u64::MAX, 63),
        (0x8000_0000_0000_0001, 127),
        (7, (-3i64) as u64),
        ((-7i64) as u64, 3),
        (1 << 32, 1 << 31),
    ];
    for busy in 0..13 {
        for hole in 0..=busy {
            let holes: Vec<bool> = (0..busy).map(|i| i == hole || i + 1 == hole).collect();
            let s = Setup { busy, holes };
            for op in ALL_OP2 {
                for &(a, b) in &pairs {
                    for (ka, kb) in [
                        (Kind::Owned, Kind::Owned),
                        (Kind::Shared, Kind::Owned),
                        (Kind::Owned, Kind::Shared),
                        (Kind::Shared, Kind::Const),
                        (Kind::Const, Kind::Owned),
                        (Kind::Const, Kind::Const),
                    ] {
                        check_op2(op, (ka, a), (kb, b), false, &s);
                    }
                }
            }
        }
    }
}

#[test]
fn division_by_a_constant_zero_ends_with_panic() {
    for op in [Op2::DivS, Op2::RemS, Op2::DivU, Op2::RemU] {
        let mut g = G::new();
        let a = g.load_frame(0);
        let z = g.imm(0);
        let r = g.op2(op, a, z);
        // The rest is unreachable: it emits nothing.
        let len = g.imm(1);
        g.store_frame(1, r);
        g.ret(len);
        let code = g.finish().unwrap();
        quiet_expected_panics();
        let out = catch_unwind(AssertUnwindSafe(|| run(&code, &mut [10, 0])));
        assert!(out.is_err());
    }
}
