//! `planp sim TOPOLOGY [--out DIR] [--plot DIR] [--engine interp|jit] [--check]`: run a
//! network of PLAN-P nodes described by a topology file (`docs/sim.md`).
//!
//! Output: the summary on stdout (also written to DIR/summary.txt), and in DIR a capture
//! per recorded link, `series.csv`, `players.csv`, `trace.txt` when the topology asks
//! for it; the baseline run's files go to DIR/baseline. With `--plot`, the plots.
//!
//! Exit codes: 0 success; 1 the topology or a program is wrong (diagnostics on
//! stderr); 3 an input cannot be read or an output cannot be written.

use planp_interp::Engine;
use planp_sim::sim::{self, Options};
use planp_sim::{SimError, topology};
use std::path::PathBuf;
use std::process::ExitCode;

/// What `planp sim` was asked to do.
pub struct SimArgs {
    /// The topology file.
    pub topology: PathBuf,
    /// Where the results go.
    pub out: PathBuf,
    /// Where the plots go.
    pub plot: Option<PathBuf>,
    /// The engine of every node.
    pub engine: Engine,
    /// Only check the topology and its programs.
    pub check: bool,
}

fn report(e: SimError) -> ExitCode {
    match e {
        SimError::Program { node, diags } | SimError::Load { node, diags } => {
            eprint!("{}", crate::render(&diags, crate::Format::Fancy));
            eprintln!("planp sim: the program of node `{node}` does not load");
            ExitCode::from(1)
        }
        SimError::Verify { node, failed, diags } => {
            eprint!("{}", crate::render(&diags, crate::Format::Fancy));
            eprintln!(
                "planp sim: the program of node `{node}` fails verification ({}); `unverified = true` on the node runs it anyway",
                failed.join(", ")
            );
            ExitCode::from(1)
        }
        e @ SimError::Budget(_) => {
            eprintln!("planp sim: {e}; raise it in the topology if the run really is that large");
            ExitCode::from(1)
        }
        e @ (SimError::Capture { .. } | SimError::Output { .. }) => {
            eprintln!("planp sim: {e}");
            ExitCode::from(3)
        }
    }
}

/// Run `planp sim`.
pub fn main(a: SimArgs) -> ExitCode {
    let topo = match topology::read(&a.topology) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{:?}", miette::Report::new(e));
            return ExitCode::from(1);
        }
    };
    for w in sim::warnings(&topo) {
        eprintln!("planp sim: warning: {w}");
    }
    if a.check {
        return match sim::check(&topo) {
            Ok(()) => {
                println!(
                    "{}: ok ({} nodes, {} links, {} sources)",
                    a.topology.display(),
                    topo.nodes.len(),
                    topo.links.len(),
                    topo.sources.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => report(e),
        };
    }
    let mut runs = Vec::new();
    let main = Options { engine: a.engine, out: Some(a.out.clone()), without: Vec::new() };
    match sim::run(&topo, &main, "adapted") {
        Ok(r) => runs.push(r),
        Err(e) => return report(e),
    }
    if let Some(without) = &topo.baseline_without {
        let opts = Options { engine: a.engine, out: Some(a.out.join("baseline")), without: without.clone() };
        match sim::run(&topo, &opts, "baseline") {
            Ok(r) => runs.push(r),
            Err(e) => return report(e),
        }
    }
    let summary = planp_sim::output::summary(&runs);
    print!("{summary}");
    let write = || -> std::io::Result<Vec<String>> {
        std::fs::write(a.out.join("summary.txt"), &summary)?;
        for r in &runs {
            let dir = if r.label == "baseline" { a.out.join("baseline") } else { a.out.clone() };
            planp_sim::output::write_series(&dir, r)?;
            planp_sim::output::write_players(&dir, r)?;
        }
        match &a.plot {
            Some(p) => planp_sim::output::plot(p, &runs),
            None => Ok(Vec::new()),
        }
    };
    match write() {
        Ok(plots) => {
            for p in plots {
                println!("plot: {p}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("planp sim: cannot write the results: {e}");
            ExitCode::from(3)
        }
    }
}
