//! The engines compared on the shipped examples, in one run:
//!
//! - `gen/<example>`: generating the JIT code of every channel of the program
//!   (`Compiled::new`, the generated specializer driving `planp_jit::Gen`, then `mmap`
//!   and `mprotect`);
//! - `packets/<example>/<engine>`: one pass of the example's capture through a node,
//!   every packet processed as `planp run` does it (link decoding, channel choice,
//!   unmarshalling, the channel, marshalling of what it sends), under the interpreter
//!   and under the JIT; for figure 2 also a hand-written Rust version of the same load
//!   balancer (`rust`), the "built-in C" of the paper's comparison.
//!
//! After criterion's own output, the bench prints a table of the ratios computed from the
//! estimates it just measured (`docs/performance.md` records one such run). Run with
//! `cargo bench -p planp-interp --bench engines`.

use criterion::{Criterion, Throughput};
use planp_interp::jit::Compiled;
use planp_interp::{Engine, Outcome};
use std::hint::black_box;
use std::path::PathBuf;

mod workload;
use workload::{Example, HandLb, examples, load, node, pass, root};

// ---- the benchmarks ------------------------------------------------------------------

fn benches(c: &mut Criterion, exs: &[Example]) {
    let mut g = c.benchmark_group("gen");
    for ex in exs {
        let prog = load(ex.program);
        g.bench_function(ex.name, |b| b.iter(|| Compiled::new(black_box(prog.clone())).expect("the JIT")));
    }
    g.finish();

    for ex in exs {
        let prog = load(ex.program);
        let mut g = c.benchmark_group(format!("packets/{}", ex.name));
        g.throughput(Throughput::Elements(ex.packets.len() as u64));
        for (label, engine) in [("interp", Engine::Interp), ("jit", Engine::Jit)] {
            let mut n = node(&prog, engine);
            let mut o = Outcome::default();
            g.bench_function(label, |b| b.iter(|| pass(&mut n, black_box(&ex.packets), &mut o)));
        }
        if ex.name == "figure2" {
            let mut lb = HandLb::default();
            let mut out = Vec::new();
            g.bench_function("rust", |b| b.iter(|| lb.pass(black_box(&ex.packets), &mut out)));
        }
        g.finish();
    }
}

/// The hand-written load balancer sends the same bytes as figure 2 under the
/// interpreter (checked before timing, so the baseline does the same work).
fn check_baseline(ex: &Example) {
    let prog = load(ex.program);
    let mut n = node(&prog, Engine::Interp);
    let mut lb = HandLb::default();
    for (k, p) in ex.packets.iter().enumerate() {
        let o = n.process_captured(p.link, &p.data, p.len, p.ts);
        assert_eq!(o.frames, vec![lb.process(&p.data)], "packet {k}: the hand-written figure 2 differs");
    }
}

// ---- the report ----------------------------------------------------------------------

fn criterion_dir() -> PathBuf {
    if let Ok(h) = std::env::var("CRITERION_HOME") {
        return PathBuf::from(h);
    }
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root().join("target"), PathBuf::from);
    target.join("criterion")
}

/// The mean time of a benchmark, in nanoseconds, from criterion's estimates of this run.
fn mean_ns(group: &str, id: &str) -> Option<f64> {
    let p = criterion_dir().join(group.replace('/', "_")).join(id).join("new").join("estimates.json");
    let text = std::fs::read_to_string(p).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["mean"]["point_estimate"].as_f64()
}

fn report(exs: &[Example]) {
    println!();
    println!(
        "| example | packets | code bytes | gen (µs) | interp (ns/packet) | JIT (ns/packet) | JIT speed-up | Rust (ns/packet) | JIT / Rust |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for ex in exs {
        let prog = load(ex.program);
        let bytes = Compiled::new(prog).map_or(0, |c| c.code_bytes());
        let n = ex.packets.len() as f64;
        let group = format!("packets/{}", ex.name);
        let (Some(gen_ns), Some(i), Some(j)) =
            (mean_ns("gen", ex.name), mean_ns(&group, "interp"), mean_ns(&group, "jit"))
        else {
            println!("| {} | (not measured in this run) |", ex.name);
            continue;
        };
        let (i, j) = (i / n, j / n);
        let (rust, vs) = match mean_ns(&group, "rust") {
            Some(r) => (format!("{:.0}", r / n), format!("{:.1}x", j / (r / n))),
            None => ("—".into(), "—".into()),
        };
        println!(
            "| {} | {} | {} | {:.1} | {:.0} | {:.0} | {:.2}x | {} | {} |",
            ex.name,
            ex.packets.len(),
            bytes,
            gen_ns / 1000.0,
            i,
            j,
            i / j,
            rust,
            vs
        );
    }
}

fn main() {
    let exs = examples();
    check_baseline(&exs[0]);
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c, &exs);
    c.final_summary();
    report(&exs);
}
