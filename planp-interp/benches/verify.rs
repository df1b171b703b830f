//! What the safety verifier costs on each shipped example (`docs/safety.md` records one
//! run): `cargo bench -p planp-interp --bench verify`. After criterion's report, a table:
//! the example's size (lines, channels, functions, sends in the source) and the mean
//! verification time measured in this run.

use criterion::Criterion;
use planp_interp::verify::verify;
use std::hint::black_box;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf()
}

const EXAMPLES: [(&str, &str); 4] = [
    ("figure2", "examples/paper/figure2.planp"),
    ("figure4", "examples/paper/figure4.planp"),
    ("tour", "examples/tour.planp"),
    ("heavy", "examples/heavy.planp"),
];

fn mean_ns(id: &str) -> Option<f64> {
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root().join("target"), PathBuf::from);
    let p = target.join("criterion").join("verify").join(id).join("new").join("estimates.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()?;
    v["mean"]["point_estimate"].as_f64()
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("verify");
    let mut rows = Vec::new();
    for (name, path) in EXAMPLES {
        let text = std::fs::read_to_string(root().join(path)).expect("the example");
        let prog = planp_interp::load(path, &text).unwrap_or_else(|d| panic!("{}", d.render_plain()));
        g.bench_function(name, |b| b.iter(|| verify(black_box(&prog))));
        let sends = text.matches("OnRemote").count() + text.matches("OnNeighbor").count();
        let v = verify(&prog);
        rows.push((name, text.lines().count(), prog.channels.len(), prog.funs.len(), sends, v.ok()));
    }
    g.finish();
    c.final_summary();
    println!();
    println!("| example | lines | channels | functions | sends | verdict | verify (µs) |");
    println!("|---|---:|---:|---:|---:|---|---:|");
    for (name, lines, ch, funs, sends, ok) in rows {
        let t = mean_ns(name).map_or("—".into(), |ns| format!("{:.1}", ns / 1000.0));
        let verdict = if ok { "verified" } else { "rejected" };
        println!("| {name} | {lines} | {ch} | {funs} | {sends} | {verdict} | {t} |");
    }
}
