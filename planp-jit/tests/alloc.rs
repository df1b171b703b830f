//! Register allocation and control: deep expressions that exhaust the pool and spill,
//! values alive across calls of shims that clobber every caller-saved register,
//! arguments in every register permutation, variables in loops, nested failure handlers,
//! failing from deep inside, reachability, panics in shims.
#![allow(unsafe_code)]
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

mod common;

use common::*;
use planp_jit::*;
use proptest::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};

type Shim2 = extern "sysv64" fn(*mut TestMachine, u64, u64) -> Ret;
type Shim1 = extern "sysv64" fn(*mut TestMachine, u64) -> Ret;
type Shim5 = extern "sysv64" fn(*mut TestMachine, u64, u64, u64, u64, u64) -> Ret;

fn add_addr() -> usize {
    addr(add as Shim2)
}

// ---- deep expression trees --------------------------------------------------------

#[derive(Clone, Debug)]
enum E {
    Slot(u32),
    Const(u64),
    Bin(Op2, Box<E>, Box<E>),
    Un(Op1, Box<E>),
    Cmp(Cond, Box<E>, Box<E>),
    /// `op(v, v)`, the value used shared then owned.
    Twice(Op2, Box<E>),
    /// The clobbering `add` shim.
    Call(Box<E>, Box<E>),
}

const SLOTS: u32 = 8;

fn frame_values() -> Vec<u64> {
    vec![3, u64::MAX, 0x8000_0000_0000_0000, 77, 1 << 40, 5, 0xdead_beef, 12]
}

fn eval(e: &E, f: &[u64]) -> u64 {
    match e {
        E::Slot(s) => f[*s as usize],
        E::Const(c) => *c,
        E::Bin(op, a, b) => {
            let (a, b) = (eval(a, f), eval(b, f));
            let (sa, sb) = (a as i64, b as i64);
            match op {
                Op2::Add => a.wrapping_add(b),
                Op2::Sub => a.wrapping_sub(b),
                Op2::Mul => a.wrapping_mul(b),
                Op2::And => a & b,
                Op2::Or => a | b,
                Op2::Xor => a ^ b,
                Op2::Shl => a.wrapping_shl(b as u32),
                Op2::ShrU => a.wrapping_shr(b as u32),
                Op2::ShrS => sa.wrapping_shr(b as u32) as u64,
                // Divisors are made odd by the generator (`b | 1`).
                Op2::DivS => sa.wrapping_div(sb | 1) as u64,
                Op2::RemS => sa.wrapping_rem(sb | 1) as u64,
                Op2::DivU => a / (b | 1),
                Op2::RemU => a % (b | 1),
            }
        }
        E::Un(op, a) => {
            let a = eval(a, f);
            match op {
                Op1::Neg => a.wrapping_neg(),
                Op1::Not => !a,
                Op1::Zext(8) => a as u8 as u64,
                Op1::Sext(16) => a as i16 as u64,
                _ => unreachable!(),
            }
        }
        E::Cmp(c, a, b) => {
            let (a, b) = (eval(a, f), eval(b, f));
            (match c {
                Cond::LtS => (a as i64) < (b as i64),
                Cond::GeU => a >= b,
                _ => a == b,
            }) as u64
        }
        E::Twice(op, a) => {
            let a = eval(a, f);
            eval(&E::Bin(*op, Box::new(E::Const(a)), Box::new(E::Const(a))), f)
        }
        E::Call(a, b) => eval(a, f).wrapping_add(eval(b, f)),
    }
}

fn emit(g: &mut G, e: &E) -> V {
    match e {
        E::Slot(s) => g.load_frame(*s),
        E::Const(c) => g.imm(*c),
        E::Bin(op, a, b) => {
            let a = emit(g, a);
            let mut b = emit(g, b);
            if matches!(op, Op2::DivS | Op2::RemS | Op2::DivU | Op2::RemU) {
                let one = g.imm(1);
                b = g.op2(Op2::Or, b, one);
            }
            g.op2(*op, a, b)
        }
        E::Un(op, a) => {
            let a = emit(g, a);
            g.op1(*op, a)
        }
        E::Cmp(c, a, b) => {
            let a = emit(g, a);
            let b = emit(g, b);
            g.cmp(*c, a, b)
        }
        E::Twice(op, a) => {
            let a = emit(g, a);
            if matches!(op, Op2::DivS | Op2::RemS | Op2::DivU | Op2::RemU) {
                let one = g.imm(1);
                let d = g.op2(Op2::Or, a.shared(), one);
                let r = g.op2(*op, a, d);
                return r;
            }
            g.op2(*op, a.shared(), a)
        }
        E::Call(a, b) => {
            let a = emit(g, a);
            let b = emit(g, b);
            g.call(add_addr(), &[a, b], false)
        }
    }
}

fn tree() -> impl Strategy<Value = E> {
    let leaf = prop_oneof![
        3 => (0..SLOTS).prop_map(E::Slot),
        1 => prop_oneof![Just(0u64), Just(1), Just(63), Just(u64::MAX), any::<u64>()].prop_map(E::Const),
    ];
    let ops = prop::sample::select(ALL_OP2.to_vec());
    leaf.prop_recursive(24, 96, 2, move |inner| {
        prop_oneof![
            6 => (ops.clone(), inner.clone(), inner.clone()).prop_map(|(op, a, b)| E::Bin(op, Box::new(a), Box::new(b))),
            1 => (prop::sample::select(vec![Op1::Neg, Op1::Not, Op1::Zext(8), Op1::Sext(16)]), inner.clone())
                .prop_map(|(op, a)| E::Un(op, Box::new(a))),
            1 => (prop::sample::select(vec![Cond::LtS, Cond::GeU, Cond::Eq]), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| E::Cmp(c, Box::new(a), Box::new(b))),
            1 => (ops.clone(), inner.clone()).prop_map(|(op, a)| E::Twice(op, Box::new(a))),
            2 => (inner.clone(), inner.clone()).prop_map(|(a, b)| E::Call(Box::new(a), Box::new(b))),
        ]
    })
}

/// A right-leaning chain `x0 op (x1 op (x2 op ...))`: every left value stays alive
/// until the end, so `n` of them exhaust the pool.
fn chain(n: usize, with_calls: bool) -> E {
    let mut e = E::Slot(0);
    for i in (0..n).rev() {
        let left = E::Bin(Op2::Mul, Box::new(E::Slot(i as u32 % SLOTS)), Box::new(E::Const(i as u64 + 3)));
        e = if with_calls && i % 3 == 0 {
            E::Call(Box::new(left), Box::new(e))
        } else {
            E::Bin(if i % 2 == 0 { Op2::Add } else { Op2::Xor }, Box::new(left), Box::new(e))
        };
    }
    e
}

fn check_tree(e: &E) {
    let mut g = G::new();
    let v = emit(&mut g, e);
    g.ret(v);
    let code = g.finish().unwrap();
    let mut f = frame_values();
    let (r, _) = run(&code, &mut f);
    assert_eq!(r, Ret { value: eval(e, &frame_values()), status: OK }, "{e:?}\n{}", code.disassemble());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn trees_match_the_evaluator(e in tree()) {
        check_tree(&e);
    }
}

#[test]
fn deep_chains_spill_and_survive_calls() {
    for n in [5, 9, 10, 11, 12, 20, 40, 100] {
        for calls in [false, true] {
            check_tree(&chain(n, calls));
        }
    }
}

#[test]
fn a_spill_area_beyond_a_page_is_reserved_page_by_page() {
    // 1500 values alive at once: 12 KB of spill slots.
    let n = 1500u32;
    let mut g = G::new();
    let vs: Vec<V> = (0..n).map(|i| g.load_frame(i)).collect();
    let mut acc = g.imm(0);
    for (i, v) in vs.into_iter().enumerate() {
        let k = g.imm(i as u64 + 1);
        let t = g.op2(Op2::Mul, v, k);
        acc = g.op2(Op2::Add, acc, t);
    }
    g.ret(acc);
    let code = g.finish().unwrap();
    assert!(code.disassemble().lines().nth(7).unwrap().contains("jmp"), "{}", code.disassemble());
    let mut f: Vec<u64> = (0..n as u64).map(|i| i * 3 + 1).collect();
    let want = (0..n as u64).fold(0u64, |a, i| a.wrapping_add((i * 3 + 1) * (i + 1)));
    // On a thread with a small stack and a guard page: the stub touches every page.
    let r =
        std::thread::Builder::new().stack_size(256 * 1024).spawn(move || run(&code, &mut f).0).unwrap().join().unwrap();
    assert_eq!(r, Ret { value: want, status: OK });
}

// ---- calls ------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct CallCase {
    /// Values loaded before the call (frame slots 0..n).
    n: usize,
    /// Released before the arguments are chosen (holes in the pool).
    released: Vec<bool>,
    /// Arguments: index into the loaded values (mod the live ones), passed owned?
    args: Vec<(usize, bool)>,
    /// Extra constant arguments mixed in.
    consts: Vec<Option<u64>>,
    fallible: bool,
}

fn call_case() -> impl Strategy<Value = CallCase> {
    (0usize..22).prop_flat_map(|n| {
        (
            Just(n),
            prop::collection::vec(prop::bool::weighted(0.25), n),
            prop::collection::vec((0usize..64, any::<bool>()), 0..=5),
            prop::collection::vec(prop::option::weighted(0.2, any::<u64>()), 5),
            any::<bool>(),
        )
            .prop_map(|(n, released, args, consts, fallible)| CallCase { n, released, args, consts, fallible })
    })
}

fn check_call(c: &CallCase) {
    let mut g = G::new();
    let f: Vec<u64> = (0..64u64).map(|i| 0x1000 + i * 0x0101_0101).collect();
    let mut vals: Vec<Option<V>> = (0..c.n).map(|i| Some(g.load_frame(i as u32))).collect();
    for (i, &r) in c.released.iter().enumerate() {
        if r {
            g.release(vals[i].take().unwrap());
        }
    }
    let live: Vec<usize> = (0..c.n).filter(|&i| vals[i].is_some()).collect();
    let mut args = Vec::new();
    let mut want_args = Vec::new();
    let mut consumed = vec![false; c.n];
    for (k, &(pick, owned)) in c.args.iter().enumerate() {
        if let Some(x) = c.consts[k] {
            args.push(g.imm(x));
            want_args.push(x);
            continue;
        }
        if live.is_empty() {
            args.push(g.imm(k as u64));
            want_args.push(k as u64);
            continue;
        }
        let i = live[pick % live.len()];
        let v = vals[i].unwrap();
        // A value goes owned at most once, and only as its last use in the list.
        let later = c.args[k + 1..].iter().any(|&(p, _)| live[p % live.len()] == i);
        if owned && !consumed[i] && !later {
            consumed[i] = true;
            args.push(v);
        } else {
            args.push(v.shared());
        }
        want_args.push(f[i]);
    }
    // record5 takes five words: pad.
    while args.len() < 5 {
        let k = args.len() as u64;
        args.push(g.imm(k * 11));
        want_args.push(k * 11);
    }
    let r = g.call(addr(record5 as Shim5), &args, c.fallible);
    g.store_frame(63, r);
    for i in 0..c.n {
        if let Some(v) = vals[i]
            && !consumed[i]
        {
            g.store_frame(32 + i as u32, v);
        }
    }
    let z = g.imm(0);
    g.ret(z);
    let code = g.finish().unwrap();
    let mut frame = f.clone();
    let (ret, m) = run(&code, &mut frame);
    assert_eq!(ret.status, OK);
    assert_eq!(m.log, want_args, "arguments\n{}", code.disassemble());
    assert_eq!(frame[63], combine(&want_args));
    for i in 0..c.n {
        if vals[i].is_some() && !consumed[i] {
            assert_eq!(frame[32 + i], f[i], "value {i} not preserved\n{}", code.disassemble());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn calls_pass_arguments_and_preserve_live_values(c in call_case()) {
        check_call(&c);
    }
}

#[test]
fn arguments_in_every_argument_register_permutation() {
    // Load values into rbx, r14, r15, r10, rdi, r9, r8, rsi, rdx, rcx (the pool order),
    // then pass the ones in rsi, rdx, rcx, r8, r9 in every order.
    let perms = permutations(&[7, 8, 9, 6, 5]);
    for p in perms {
        for owned in [false, true] {
            let mut g = G::new();
            let vs: Vec<V> = (0..10).map(|i| g.load_frame(i)).collect();
            let args: Vec<V> = p.iter().map(|&i| if owned { vs[i] } else { vs[i].shared() }).collect();
            let r = g.call(addr(record5 as Shim5), &args, false);
            g.store_frame(20, r);
            for (i, v) in vs.iter().enumerate() {
                if !(owned && p.contains(&i)) {
                    g.store_frame(30 + i as u32, *v);
                }
            }
            let z = g.imm(0);
            g.ret(z);
            let code = g.finish().unwrap();
            let mut frame: Vec<u64> = (0..40).map(|i| 100 + i).collect();
            let (ret, m) = run(&code, &mut frame);
            assert_eq!(ret.status, OK);
            let want: Vec<u64> = p.iter().map(|&i| 100 + i as u64).collect();
            assert_eq!(m.log, want, "{p:?}\n{}", code.disassemble());
            for i in 0..10 {
                if !(owned && p.contains(&i)) {
                    assert_eq!(frame[30 + i], 100 + i as u64);
                }
            }
        }
    }
}

fn permutations(xs: &[usize]) -> Vec<Vec<usize>> {
    if xs.len() <= 1 {
        return vec![xs.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..xs.len() {
        let mut rest = xs.to_vec();
        let x = rest.remove(i);
        for mut p in permutations(&rest) {
            p.insert(0, x);
            out.push(p);
        }
    }
    out
}

// ---- variables and loops ----------------------------------------------------------

/// `sum = 0; i = 1; while i <= n { sum += i; i += 1 }` with `extra` values alive around
/// the loop (so the variables land in caller-saved registers or spill slots) and,
/// `with_call`, the addition done by a clobbering shim.
fn sum_loop(extra: usize, with_call: bool) -> Code<TestMachine> {
    let mut g = G::new();
    let keep: Vec<V> = (0..extra).map(|i| g.load_frame(10 + i as u32)).collect();
    let n = g.load_frame(0);
    let sum = g.var();
    let i = g.var();
    let zero = g.imm(0);
    g.set(sum, zero);
    let one = g.imm(1);
    g.set(i, one);
    // Fuel: a broken loop fails instead of running forever.
    let fuel = g.var();
    let f = g.load_frame(1);
    g.set(fuel, f);
    let head = g.label();
    let done = g.label();
    let out_of_fuel = g.label();
    g.bind(head);
    let fv = g.get(fuel);
    let one = g.imm(1);
    let fv = g.op2(Op2::Sub, fv, one);
    g.set(fuel, fv);
    let fv = g.get(fuel);
    g.branch_zero(fv, out_of_fuel);
    let iv = g.get(i);
    g.branch_cmp(Cond::GtU, iv, n.shared(), done);
    let s = g.get(sum);
    let iv = g.get(i);
    let s2 = if with_call { g.call(add_addr(), &[s, iv], false) } else { g.op2(Op2::Add, s, iv) };
    g.set(sum, s2);
    let iv = g.get(i);
    let one = g.imm(1);
    let i2 = g.op2(Op2::Add, iv, one);
    g.set(i, i2);
    g.jump(head);
    g.bind(out_of_fuel);
    g.fail();
    g.bind(done);
    // The values kept alive across the loop must be intact.
    let mut acc = g.get(sum);
    for (k, v) in keep.into_iter().enumerate() {
        let w = g.imm(k as u64 + 1);
        let t = g.op2(Op2::Mul, v, w);
        acc = g.op2(Op2::Add, acc, t);
    }
    g.release(n);
    g.release_var(sum);
    g.release_var(i);
    g.release_var(fuel);
    g.ret(acc);
    g.finish().unwrap()
}

#[test]
fn loops_with_variables() {
    for extra in [0, 3, 7, 9, 12, 20] {
        for with_call in [false, true] {
            let code = sum_loop(extra, with_call);
            for n in [0u64, 1, 2, 10, 1000] {
                let mut f = vec![0u64; 40];
                f[0] = n;
                f[1] = n + 2;
                for k in 0..extra {
                    f[10 + k] = 1000 + k as u64;
                }
                let (r, m) = run(&code, &mut f);
                let want = n * (n + 1) / 2 + (0..extra as u64).map(|k| (1000 + k) * (k + 1)).sum::<u64>();
                assert_eq!(r, Ret { value: want, status: OK }, "extra={extra} call={with_call} n={n}");
                assert_eq!(m.calls, if with_call { n } else { 0 });
            }
        }
    }
}

// ---- failure handlers -------------------------------------------------------------

/// ```text
/// x = 0
/// try {                          // outer
///     try {                      // inner
///         x = nonzero(f0)?       // fails if f0 == 0
///         x += nonzero(f1)?
///     } catch {
///         x = 100 + nonzero(f1)? // fails to the outer handler if f1 == 0
///     }
///     x += 10
///     if f2 == 0 { fail }        // to the outer handler
/// } catch { x += 1000 }
/// if f3 == 0 { fail }            // out of the entry: FAIL
/// return x
/// ```
fn handlers_code() -> Code<TestMachine> {
    let nz = addr(nonzero as Shim1);
    let mut g = G::new();
    // Values alive across everything, some in caller-saved registers.
    let keep: Vec<V> = (0..9).map(|i| g.load_frame(10 + i)).collect();
    let x = g.var();
    let z = g.imm(0);
    g.set(x, z);
    let outer = g.label();
    let inner = g.label();
    let after_inner = g.label();
    let after_outer = g.label();
    g.push_handler(outer);
    g.push_handler(inner);
    let a = g.load_frame(0);
    let r = g.call(nz, &[a], true);
    g.set(x, r);
    let b = g.load_frame(1);
    let r = g.call(nz, &[b], true);
    let xv = g.get(x);
    let s = g.op2(Op2::Add, xv, r);
    g.set(x, s);
    g.pop_handler();
    g.jump(after_inner);
    g.bind(inner);
    let b = g.load_frame(1);
    let r = g.call(nz, &[b], true);
    let h = g.imm(100);
    let s = g.op2(Op2::Add, r, h);
    g.set(x, s);
    g.bind(after_inner);
    let xv = g.get(x);
    let ten = g.imm(10);
    let s = g.op2(Op2::Add, xv, ten);
    g.set(x, s);
    let c = g.load_frame(2);
    let ok = g.label();
    g.branch_nonzero(c, ok);
    g.fail();
    g.bind(ok);
    g.pop_handler();
    g.jump(after_outer);
    g.bind(outer);
    let xv = g.get(x);
    let k = g.imm(1000);
    let s = g.op2(Op2::Add, xv, k);
    g.set(x, s);
    g.bind(after_outer);
    let d = g.load_frame(3);
    let ok = g.label();
    g.branch_nonzero(d, ok);
    g.fail();
    g.bind(ok);
    // x + sum(keep): the kept values must be intact on every path.
    let mut acc = g.get(x);
    for v in keep {
        acc = g.op2(Op2::Add, acc, v);
    }
    g.release_var(x);
    g.ret(acc);
    g.finish().unwrap()
}

#[test]
fn nested_failure_handlers() {
    let code = handlers_code();
    let kept: u64 = (0..9).map(|i| 500 + i).sum();
    let go = |f0, f1, f2, f3| {
        let mut f = vec![0u64; 32];
        f[..4].copy_from_slice(&[f0, f1, f2, f3]);
        for i in 0..9 {
            f[10 + i] = 500 + i as u64;
        }
        run(&code, &mut f).0
    };
    let ok = |v: u64| Ret { value: v + kept, status: OK };
    // No failure.
    assert_eq!(go(3, 4, 1, 1), ok(3 + 4 + 10));
    // The first call fails: inner handler.
    assert_eq!(go(0, 4, 1, 1), ok(100 + 4 + 10));
    // Both calls of f1 fail: inner handler, then outer handler.
    assert_eq!(go(3, 0, 1, 1), ok(3 + 1000));
    assert_eq!(go(0, 0, 1, 1), ok(1000));
    // An explicit fail to the outer handler.
    assert_eq!(go(3, 4, 0, 1), ok(3 + 4 + 10 + 1000));
    // Failing out of the entry.
    assert_eq!(go(3, 4, 1, 0), Ret { value: 0, status: FAIL });
    assert_eq!(go(0, 0, 0, 0), Ret { value: 0, status: FAIL });
}

#[test]
fn failing_from_deep_inside_an_expression() {
    // Twelve values alive (some spilled, some in caller-saved registers), then a deep
    // expression with a fallible call at the bottom; the handler uses the values made
    // before it was pushed.
    let nz = addr(nonzero as Shim1);
    let mut g = G::new();
    let before: Vec<V> = (0..12).map(|i| g.load_frame(10 + i)).collect();
    let handler = g.label();
    let join = g.label();
    let x = g.var();
    g.push_handler(handler);
    let mut pending = Vec::new();
    for i in 0..8 {
        pending.push(g.load_frame(i % 4));
    }
    let a = g.load_frame(0);
    let mut acc = g.call(nz, &[a], true);
    for v in pending.into_iter().rev() {
        acc = g.op2(Op2::Add, v, acc);
    }
    g.set(x, acc);
    g.pop_handler();
    g.jump(join);
    g.bind(handler);
    let m = g.imm(1 << 40);
    g.set(x, m);
    g.bind(join);
    let mut acc = g.get(x);
    for (i, v) in before.into_iter().enumerate() {
        let k = g.imm(i as u64 + 1);
        let t = g.op2(Op2::Mul, v, k);
        acc = g.op2(Op2::Add, acc, t);
    }
    g.release_var(x);
    g.ret(acc);
    let code = g.finish().unwrap();
    let kept: u64 = (0..12u64).map(|i| (700 + i) * (i + 1)).sum();
    for f0 in [0u64, 5] {
        let mut f = vec![0u64; 32];
        f[0] = f0;
        f[1] = 1;
        f[2] = 2;
        f[3] = 3;
        for i in 0..12 {
            f[10 + i] = 700 + i as u64;
        }
        let (r, _) = run(&code, &mut f);
        let body = if f0 == 0 { 1 << 40 } else { 2 * (f0 + 1 + 2 + 3) + f0 };
        assert_eq!(r, Ret { value: body + kept, status: OK }, "f0={f0}\n{}", code.disassemble());
    }
}

// ---- reachability -----------------------------------------------------------------

#[test]
fn code_after_a_jump_fail_or_ret_emits_nothing() {
    for kind in 0..3 {
        let build = |junk: bool| {
            let mut g = G::new();
            let a = g.load_frame(0);
            let x = g.var();
            g.set(x, a);
            let l = g.label();
            match kind {
                0 => g.jump(l),
                1 => g.fail(),
                _ => {
                    let v = g.get(x);
                    g.ret(v);
                }
            }
            if junk {
                // All of this is unreachable.
                let b = g.load_frame(1);
                let c = g.imm(4);
                let d = g.op2(Op2::Mul, b, c);
                assert_eq!(g.constant(d), None);
                let e = g.op1(Op1::Neg, d);
                let f = g.cmp(Cond::LtS, e, c);
                g.store_frame(3, f);
                let r = g.call(add_addr(), &[c, c], true);
                let n = g.never();
                g.set(x, n);
                g.branch_zero(r, l);
                let y = g.get(x);
                g.release(y);
                g.release(n);
                g.fail();
                let q = g.imm(9);
                g.ret(q);
            }
            g.bind(l);
            let v = g.get(x);
            g.ret(v);
            g.release_var(x);
            g.finish().unwrap()
        };
        let (with, without) = (build(true), build(false));
        assert_eq!(with.disassemble(), without.disassemble());
        assert_eq!(with.frame_words(), without.frame_words());
        let want = match kind {
            1 => Ret { value: 0, status: FAIL },
            _ => Ret { value: 42, status: OK },
        };
        assert_eq!(run(&with, &mut [42, 0, 0, 0]).0, want);
    }
}

#[test]
fn branches_on_constants_fold() {
    let mut g = G::new();
    let l = g.label();
    let one = g.imm(1);
    g.branch_zero(one, l); // never taken: nothing
    let two = g.imm(2);
    let three = g.imm(3);
    g.branch_cmp(Cond::LtU, two, three, l); // always taken: a jump
    let junk = g.load_frame(0);
    g.ret(junk);
    g.bind(l);
    let r = g.imm(7);
    g.ret(r);
    let code = g.finish().unwrap();
    let d = code.disassemble();
    assert!(!d.contains("cmp") && !d.contains("test") && !d.contains("r13]"), "{d}");
    assert_eq!(code.frame_words(), 0);
    assert_eq!(run(&code, &mut []).0, Ret { value: 7, status: OK });
}

// ---- panics -----------------------------------------------------------------------

#[test]
fn a_panic_in_a_shim_is_resumed_and_the_process_goes_on() {
    let p7 = addr(panics_on_7 as Shim1);
    let mut g = G::new();
    let keep: Vec<V> = (0..12).map(|i| g.load_frame(1 + i)).collect();
    let a = g.load_frame(0);
    let r = g.call(p7, &[a], false);
    let mut acc = r;
    for v in keep {
        acc = g.op2(Op2::Add, acc, v);
    }
    g.ret(acc);
    let code = g.finish().unwrap();
    for round in 0..3 {
        let mut f = vec![1u64; 16];
        f[0] = 7;
        let err = catch_unwind(AssertUnwindSafe(|| run(&code, &mut f))).unwrap_err();
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("shim got seven"), "round {round}: {msg:?}");
        assert!(take_panic().is_none(), "the payload was taken");
        f[0] = 8;
        assert_eq!(run(&code, &mut f).0, Ret { value: 16 + 12, status: OK });
    }
}

#[test]
fn catch_panic_and_into_ret() {
    assert_eq!(catch_panic(|| 5u8), Ret { value: 5, status: OK });
    assert_eq!(catch_panic(|| -1i32), Ret { value: u64::MAX, status: OK });
    assert_eq!(catch_panic(|| true), Ret { value: 1, status: OK });
    assert_eq!(catch_panic(|| ()), Ret { value: 0, status: OK });
    assert_eq!(catch_panic(|| Ok::<u16, String>(9)), Ret { value: 9, status: OK });
    assert_eq!(catch_panic(|| Err::<u16, String>("no".into())), Ret { value: 0, status: FAIL });
    assert_eq!(catch_panic(|| Some('a')), Ret { value: 97, status: OK });
    assert_eq!(catch_panic(|| None::<i64>), Ret { value: 0, status: FAIL });
    let r = catch_panic(|| -> u64 { std::panic::panic_any(17u32) });
    assert_eq!(r, Ret { value: 0, status: PANIC });
    assert_eq!(take_panic().unwrap().downcast_ref::<u32>(), Some(&17));
    assert!(take_panic().is_none());
}

// ---- lazily placed variables --------------------------------------------------------

/// A variable's location is chosen by its first set, which takes over the value's
/// register: `x = f0 + f1; return x` is the same code as `return f0 + f1`.
#[test]
fn a_first_set_takes_over_the_value_without_a_move() {
    let direct = {
        let mut g = G::new();
        let (a, b) = (g.load_frame(0), g.load_frame(1));
        let s = g.op2(Op2::Add, a, b);
        g.ret(s);
        g.finish().unwrap()
    };
    let through_var = {
        let mut g = G::new();
        let x = g.var();
        let (a, b) = (g.load_frame(0), g.load_frame(1));
        let s = g.op2(Op2::Add, a, b);
        g.set(x, s);
        let r = g.take(x);
        g.ret(r);
        g.finish().unwrap()
    };
    assert_eq!(direct.disassemble(), through_var.disassemble());
    let (r, _) = run(&through_var, &mut [40, 2]);
    assert_eq!(r, Ret { value: 42, status: OK });
}

/// The result variable of a two-way join, placed by the first branch's set: the second
/// branch moves its value there, and values alive across the join (including ones made
/// after the variable) keep their registers, also across a clobbering call in a branch.
#[test]
fn a_join_variable_placed_by_the_first_branch() {
    let mut g = G::new();
    let keep: Vec<V> = (0..6).map(|i| g.load_frame(10 + i)).collect();
    let res = g.var();
    let more: Vec<V> = (0..4).map(|i| g.load_frame(20 + i)).collect();
    let else_ = g.label();
    let join = g.label();
    let c = g.load_frame(0);
    g.branch_zero(c, else_);
    let a = g.load_frame(1);
    let k = g.imm(3);
    let t = g.op2(Op2::Mul, a, k);
    g.set(res, t);
    g.jump(join);
    g.bind(else_);
    let (a, b) = (g.load_frame(1), g.load_frame(2));
    let t = g.call(add_addr(), &[a, b], false);
    g.set(res, t);
    g.bind(join);
    let mut acc = g.take(res);
    for (k, v) in keep.into_iter().chain(more).enumerate() {
        let w = g.imm(k as u64 + 2);
        let t = g.op2(Op2::Mul, v, w);
        acc = g.op2(Op2::Add, acc, t);
    }
    g.ret(acc);
    let code = g.finish().unwrap();
    let base: u64 =
        (0..6u64).map(|k| (100 + k) * (k + 2)).sum::<u64>() + (0..4u64).map(|k| (200 + k) * (k + 8)).sum::<u64>();
    for (c, want) in [(1u64, 21u64), (0, 12)] {
        let mut f = vec![0u64; 30];
        f[0] = c;
        f[1] = 7;
        f[2] = 5;
        for k in 0..6 {
            f[10 + k] = 100 + k as u64;
        }
        for k in 0..4 {
            f[20 + k] = 200 + k as u64;
        }
        let (r, _) = run(&code, &mut f);
        assert_eq!(r, Ret { value: want + base, status: OK }, "c={c}");
    }
}

/// A variable first read inside a loop before any set would get a location that the
/// loop's earlier code may use on the next iteration; the backward jump refuses it.
#[test]
fn a_variable_read_before_set_inside_a_loop_is_refused() {
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut g = G::new();
        let x = g.var();
        let head = g.label();
        g.bind(head);
        let t = g.load_frame(0);
        g.release(t);
        let v = g.get(x);
        let one = g.imm(1);
        let v = g.op2(Op2::Add, v, one);
        g.set(x, v);
        g.jump(head);
    }));
    let err = result.expect_err("the backward jump must refuse the loop");
    assert!(panic_message(&*err).contains("read before it was set inside a loop"), "{}", panic_message(&*err));
}

/// A set in code that never runs still fixes the variable's location where it is: a
/// loop after it that reads the variable first (as in `foldl(f, raise E, l)`, whose
/// accumulator is set from a raise) is generated without tripping the loop check.
#[test]
fn a_set_in_unreachable_code_fixes_the_location() {
    let mut g = G::new();
    let x = g.var();
    let out = g.label();
    let seven = g.imm(7);
    g.ret(seven);
    // Unreachable from here to `out`, though the loop head makes the generator emit.
    let dead = g.load_frame(0);
    g.set(x, dead);
    let head = g.label();
    g.bind(head);
    let v = g.get(x);
    let lim = g.imm(50);
    g.branch_cmp(Cond::GeU, v, lim, out);
    let v = g.get(x);
    let t = g.load_frame(1);
    let v = g.op2(Op2::Add, v, t);
    g.set(x, v);
    g.jump(head);
    g.bind(out);
    let r = g.take(x);
    g.ret(r);
    let code = g.finish().unwrap();
    let (r, _) = run(&code, &mut [0, 0]);
    assert_eq!(r, Ret { value: 7, status: OK });
}
