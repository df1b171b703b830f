//! How fast code is generated: a 1000-operation expression chain, a loop with calls, and
//! a deep expression that spills; each emitted only (`emit`) and emitted and made
//! executable (`finish`: one mmap and one mprotect more). The number of instructions
//! each emits is printed once, to read the times per instruction.

use criterion::{Criterion, criterion_group, criterion_main};
use planp_jit::{Cond, Gen, Op1, Op2, V};
use std::hint::black_box;

struct Machine;
type G = Gen<'static, Machine>;

/// A stand-in shim address (never called here).
const SHIM: usize = 0x7f00_1234_5678;

/// `((f0 op1 k1) op2 f1) op3 ...`: 1000 operations on loaded slots and constants.
fn chain(g: &mut G) -> V {
    let mut acc = g.load_frame(0);
    for i in 0..250u32 {
        let v = g.load_frame(i % 16);
        let k = g.imm(i as u64 * 3 + 1);
        let t = g.op2(Op2::Mul, v, k);
        acc = g.op2(Op2::Add, acc, t);
        let s = g.imm(i as u64 % 7);
        acc = g.op2(Op2::Shl, acc, s);
        acc = g.op1(Op1::Not, acc);
    }
    acc
}

/// A loop over a frame of `n` words, calling a shim each iteration, with values alive
/// across it.
fn a_loop(g: &mut G) -> V {
    let keep: Vec<V> = (0..6).map(|i| g.load_frame(20 + i)).collect();
    let n = g.load_frame(0);
    let i = g.var();
    let acc = g.var();
    let z = g.imm(0);
    g.set(i, z);
    let z = g.imm(0);
    g.set(acc, z);
    let head = g.label();
    let done = g.label();
    let fail = g.label();
    g.push_handler(fail);
    g.bind(head);
    let iv = g.get(i);
    g.branch_cmp(Cond::GeU, iv, n.shared(), done);
    let iv = g.get(i);
    let x = g.load_frame_at(iv, 1);
    let a = g.get(acc);
    let r = g.call(SHIM, &[a, x], true);
    g.set(acc, r);
    let iv = g.get(i);
    let one = g.imm(1);
    let iv = g.op2(Op2::Add, iv, one);
    g.set(i, iv);
    g.jump(head);
    g.bind(fail);
    let m = g.imm(u64::MAX);
    g.set(acc, m);
    g.bind(done);
    g.pop_handler();
    let mut r = g.get(acc);
    for v in keep {
        r = g.op2(Op2::Xor, r, v);
    }
    g.release(n);
    g.release_var(i);
    g.release_var(acc);
    r
}

/// `x0 + (x1 * 3 + (x2 * 4 + ...))` 60 deep: 60 values alive, most spilled.
fn deep(g: &mut G) -> V {
    let vs: Vec<V> = (0..60).map(|i| g.load_frame(i)).collect();
    let mut acc = g.imm(1);
    for (i, v) in vs.into_iter().enumerate().rev() {
        let k = g.imm(i as u64 + 3);
        let t = g.op2(Op2::Mul, v, k);
        acc = g.op2(Op2::Add, t, acc);
    }
    acc
}

/// What a benchmark emits.
type Body = fn(&mut G) -> V;

fn build(body: Body) -> G {
    let mut g = G::new();
    let v = body(&mut g);
    g.ret(v);
    g
}

fn instructions(body: Body) -> usize {
    let code = build(body).finish().unwrap();
    code.disassemble().lines().filter(|l| !l.starts_with(';')).count()
}

fn bench(c: &mut Criterion) {
    let cases: [(&str, Body); 3] = [("chain1000", chain), ("loop", a_loop), ("deep60", deep)];
    for (name, body) in cases {
        eprintln!("{name}: {} instructions", instructions(body));
        c.bench_function(&format!("emit/{name}"), |b| b.iter(|| black_box(build(body))));
        c.bench_function(&format!("finish/{name}"), |b| b.iter(|| black_box(build(body).finish().unwrap())));
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
