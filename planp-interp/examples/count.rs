//! Run one example of the engine comparison (`benches/workload/mod.rs`) in a loop, for
//! counting instructions with callgrind rather than timing: instruction counts do not
//! move with the machine's load, so differences of a few percent can be seen.
//!
//! ```sh
//! cargo build --release -p planp-interp --example count
//! valgrind --tool=callgrind target/release/examples/count figure2 jit 1000
//! ```
//!
//! Arguments: the example (`figure2`, `figure4`, `tour`, `heavy`), the engine (`interp`,
//! `jit`, or `rust` for figure 2 written by hand) and the number of passes over its
//! capture. `scripts/instructions.sh` runs it twice per case under callgrind and prints
//! the instructions per packet, the difference of the two runs divided by the packets
//! between them (so that loading and compiling the program cancel out).

use planp_interp::Engine;
use std::hint::black_box;

#[path = "../benches/workload/mod.rs"]
mod workload;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [name, engine, passes] = &args[..] else {
        eprintln!("usage: count EXAMPLE interp|jit|rust PASSES");
        std::process::exit(2);
    };
    let Ok(passes) = passes.parse::<usize>() else {
        eprintln!("count: PASSES is a number, not `{passes}`");
        std::process::exit(2);
    };
    let Some(ex) = workload::examples().into_iter().find(|e| e.name == name) else {
        eprintln!("count: no example `{name}`");
        std::process::exit(2);
    };
    let frames: usize = match engine.as_str() {
        "rust" if ex.name == "figure2" => {
            let mut lb = workload::HandLb::default();
            let mut out = Vec::new();
            (0..passes).map(|_| lb.pass(black_box(&ex.packets), &mut out)).sum()
        }
        "interp" | "jit" => {
            let engine = if engine == "jit" { Engine::Jit } else { Engine::Interp };
            let mut node = workload::node(&workload::load(ex.program), engine);
            let mut o = planp_interp::Outcome::default();
            (0..passes).map(|_| workload::pass(&mut node, black_box(&ex.packets), &mut o)).sum()
        }
        _ => {
            eprintln!("count: the engine is interp or jit (or rust, for figure2), not `{engine}`");
            std::process::exit(2);
        }
    };
    println!("{} packets, {frames} out", passes * ex.packets.len());
}
