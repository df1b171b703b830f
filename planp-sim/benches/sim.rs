//! How fast `planp sim` runs the paper's audio experiment (`examples/audio/topology.toml`:
//! 460 simulated seconds, 3.3 million events, 418 thousand runs of the router's channel
//! and 46 thousand of the client's), with each engine: `cargo bench -p planp-sim`.
//! After criterion's report, a table from this run: time per run, events per second,
//! and the JIT's speed over the interpreter (`docs/performance.md` records one run).

use criterion::Criterion;
use planp_interp::Engine;
use planp_sim::sim::{self, Options};
use planp_sim::topology;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf()
}

fn mean_ns(id: &str) -> Option<f64> {
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root().join("target"), PathBuf::from);
    let p = target.join("criterion").join("sim").join(id).join("new").join("estimates.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()?;
    v["mean"]["point_estimate"].as_f64()
}

fn main() {
    let t = topology::read(&root().join("examples/audio/topology.toml")).expect("the example");
    let mut c = Criterion::default().sample_size(10).configure_from_args();
    let mut g = c.benchmark_group("sim");
    let mut events = 0;
    for (name, engine) in [("interp", Engine::Interp), ("jit", Engine::Jit)] {
        let opts = Options { engine, out: None, without: Vec::new() };
        g.bench_function(name, |b| {
            b.iter(|| {
                let r = sim::run(&t, &opts, "bench").expect("the example runs");
                events = r.events;
            })
        });
    }
    g.finish();
    c.final_summary();
    let (i, j) = (mean_ns("interp"), mean_ns("jit"));
    println!();
    println!("| engine | time per run (ms) | events per second (millions) |");
    println!("|---|---:|---:|");
    for (name, t) in [("interp", i), ("jit", j)] {
        let (ms, rate) = t.map_or(("—".into(), "—".into()), |ns| {
            (format!("{:.0}", ns / 1e6), format!("{:.2}", events as f64 / (ns / 1e9) / 1e6))
        });
        println!("| {name} | {ms} | {rate} |");
    }
    if let (Some(i), Some(j)) = (i, j) {
        println!("\nJIT over interpreter, whole simulation: {:.2}x ({events} events per run)", i / j);
    }
}
