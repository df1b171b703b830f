//! `planp`: check, evaluate, run and explore PLAN-P programs.
//!
//! This is the binary's edge: errors from the library are rendered here, with colours
//! when the output is a terminal, and turned into exit codes:
//! 0 success, 1 a program has errors (or a file cannot be read), 2 bad usage.

mod asm;
mod repl;
mod run;
mod sim;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use planp_interp::{Engine, Node, NodeConfig, load};
use planp_primitives::{Effect, value};
use std::io::{IsTerminal, Write as _};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "planp", version, about = "PLAN-P: application-specific protocols for existing applications")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    /// Source excerpts with labels (miette).
    Fancy,
    /// One line per problem: file:line:col: code: message.
    Short,
}

/// The engine that runs channels (`--engine`).
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EngineArg {
    /// The interpreter.
    Interp,
    /// Machine code generated from the interpreter (x86-64 Linux; elsewhere the
    /// interpreter runs, with a message).
    Jit,
}

impl From<EngineArg> for Engine {
    fn from(e: EngineArg) -> Engine {
        match e {
            EngineArg::Interp => Engine::Interp,
            EngineArg::Jit => Engine::Jit,
        }
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Parse, type-check and verify programs (termination, delivery, linear
    /// duplication: docs/safety.md); exit 0 when all are correct and verified (warnings
    /// are printed but do not fail the check).
    Check {
        /// Program files.
        #[arg(required = true)]
        files: Vec<String>,
        /// How to print problems.
        #[arg(long, value_enum, default_value = "fancy")]
        format: Format,
        /// Also print each program's interface: every declaration with its inferred type.
        #[arg(long, short)]
        verbose: bool,
        /// Print the verifier's verdict on each property, per channel, and its time.
        #[arg(long)]
        explain: bool,
    },
    /// An interactive workbench: load a program, feed captures, look at the states,
    /// evaluate expressions (`:help` inside).
    Repl {
        /// A program to load first.
        file: Option<String>,
        /// The node's address (`thisHost()`).
        #[arg(long, default_value = "0.0.0.0")]
        host: std::net::Ipv4Addr,
        /// The engine that runs channels (`:engine` switches it).
        #[arg(long, value_enum, default_value = "interp")]
        engine: EngineArg,
        /// Load FILE even if it fails verification (as `:load --unverified`).
        #[arg(long)]
        unverified: bool,
    },
    /// List the primitives: name, type, what each does, the exceptions it raises.
    Prims {
        /// Show only the primitives whose name contains this text.
        filter: Option<String>,
    },
    /// Feed every packet of a capture through a program on one node.
    Run {
        /// Program file.
        program: String,
        /// The input capture (pcap or pcapng).
        #[arg(long)]
        pcap: String,
        /// Write the frames the node sends to this pcap file.
        #[arg(long)]
        out: Option<String>,
        /// The node's address (`thisHost()`).
        #[arg(long, default_value = "0.0.0.0")]
        host: std::net::Ipv4Addr,
        /// Print one line per event (packet in, channel, print, packet out, exception).
        #[arg(long)]
        trace: bool,
        /// Stop after this many packets.
        #[arg(long)]
        limit: Option<u64>,
        /// The engine that runs channels [default: interp; jit with --dump-asm].
        #[arg(long, value_enum)]
        engine: Option<EngineArg>,
        /// Print the JIT's code of every channel before running (implies --engine jit).
        #[arg(long)]
        dump_asm: bool,
        /// Run the program even if it fails verification (`planp check` says why); the
        /// reason is printed.
        #[arg(long)]
        unverified: bool,
    },
    /// Run a network of PLAN-P nodes described by a topology file (docs/sim.md): links,
    /// routes, programs, traffic sources; write captures, time series and plots.
    Sim {
        /// The topology file (TOML).
        topology: std::path::PathBuf,
        /// Where the captures, the time series and the summary go.
        #[arg(long, default_value = "sim-out")]
        out: std::path::PathBuf,
        /// Draw the plots (SVG) into this directory.
        #[arg(long)]
        plot: Option<std::path::PathBuf>,
        /// The engine of every node.
        #[arg(long, value_enum, default_value = "jit")]
        engine: EngineArg,
        /// Only check the topology and load its programs.
        #[arg(long)]
        check: bool,
    },
    /// Load a program on a node: run its top-level initialisers and show the values of
    /// its top-level `val`s, what they printed, and the initial states.
    Eval {
        /// Program file.
        file: String,
    },
}

pub(crate) fn render(d: &planp_interp::Diagnostics, format: Format) -> String {
    match format {
        Format::Short => d.render_short(),
        Format::Fancy if std::io::stderr().is_terminal() => {
            let handler = miette::GraphicalReportHandler::new();
            let mut out = String::new();
            for r in d.reports() {
                let _ = handler.render_report(&mut out, &r);
            }
            out
        }
        Format::Fancy => d.render_plain(),
    }
}

/// Print diagnostics about a program to stderr.
pub(crate) fn print_diags(name: &str, text: &std::sync::Arc<str>, diags: Vec<planp_interp::Diag>) {
    let d = planp_interp::Diagnostics { name: name.to_owned(), text: text.clone(), diags };
    eprint!("{}", render(&d, Format::Fancy));
}

fn read(path: &str) -> Option<String> {
    match std::fs::read(path) {
        Ok(b) => match String::from_utf8(b) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("error: {path} is not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to());
                None
            }
        },
        Err(e) => {
            eprintln!("error: cannot read {path}: {e}");
            None
        }
    }
}

fn check(files: &[String], format: Format, verbose: bool, explain: bool) -> ExitCode {
    let mut ok = true;
    for f in files {
        let Some(text) = read(f) else {
            ok = false;
            continue;
        };
        match load(f, &text) {
            Ok(p) => {
                if !p.warnings.is_empty() {
                    let w = planp_interp::Diagnostics {
                        name: f.clone(),
                        text: text.as_str().into(),
                        diags: p.warnings.clone(),
                    };
                    eprint!("{}", render(&w, format));
                }
                if verbose {
                    print!("{}", p.summary());
                }
                let v = planp_interp::verify::verify(&p);
                if !v.ok() {
                    let d = planp_interp::Diagnostics {
                        name: f.clone(),
                        text: text.as_str().into(),
                        diags: v.diags.clone(),
                    };
                    eprint!("{}", render(&d, format));
                }
                let n = p.channels.len();
                let shape = format!(
                    "{n} channel{}, {} function{}",
                    if n == 1 { "" } else { "s" },
                    p.funs.len(),
                    if p.funs.len() == 1 { "" } else { "s" }
                );
                if v.ok() {
                    println!("{f}: ok ({shape}; verified)");
                } else {
                    ok = false;
                    let k = v.diags.len();
                    eprintln!("{f}: {k} verification error{} ({shape})", if k == 1 { "" } else { "s" });
                }
                if explain {
                    println!("{f}: verification in {} µs", v.time.as_micros());
                    print!("{}", v.explain());
                }
            }
            Err(d) => {
                ok = false;
                eprint!("{}", render(&d, format));
                let errors = d.diags.iter().filter(|d| d.is_error()).count();
                let warnings = d.diags.len() - errors;
                let mut summary = format!("{f}: {errors} error{}", if errors == 1 { "" } else { "s" });
                if warnings > 0 {
                    summary.push_str(&format!(", {warnings} warning{}", if warnings == 1 { "" } else { "s" }));
                }
                eprintln!("{summary}");
            }
        }
    }
    if ok { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

/// The primitive listing: one line per primitive.
pub(crate) fn prims(filter: Option<&str>) -> String {
    let mut out = String::new();
    let names = planp_primitives::rt::BUILTIN_EXCEPTIONS;
    for p in planp_primitives::all().iter().filter(|p| filter.is_none_or(|f| p.name.contains(f))) {
        let raises: Vec<&str> = p.raises.iter().map(|e| names[e.0 as usize].0).collect();
        let raises = if raises.is_empty() { String::new() } else { format!(" [raises {}]", raises.join(", ")) };
        out.push_str(&format!("{} : {}\n    {}{raises}\n", p.name, p.signature, p.doc));
    }
    out
}

fn eval(file: &str) -> ExitCode {
    let Some(text) = read(file) else { return ExitCode::from(1) };
    let prog = match load(file, &text) {
        Ok(p) => p,
        Err(d) => {
            eprint!("{}", render(&d, Format::Fancy));
            return ExitCode::from(1);
        }
    };
    if !prog.warnings.is_empty() {
        let w = planp_interp::Diagnostics {
            name: file.to_owned(),
            text: text.as_str().into(),
            diags: prog.warnings.clone(),
        };
        eprint!("{}", render(&w, Format::Fancy));
    }
    let node = match Node::new(prog.clone(), NodeConfig::default()) {
        Ok(n) => n,
        Err(e) => {
            let _ = std::io::stdout().write_all(&e.output);
            let d = planp_interp::Diagnostics { name: file.to_owned(), text: text.into(), diags: vec![e.diag] };
            eprint!("{}", render(&d, Format::Fancy));
            return ExitCode::from(1);
        }
    };
    for e in node.init_effects() {
        if let Effect::Print(s) = e {
            let _ = std::io::stdout().write_all(s);
        }
    }
    for (i, g) in prog.globals.iter().enumerate() {
        let mut s = String::new();
        value::repr(node.heap(), &g.ty, node.global(i), &mut s, &mut 200);
        println!("val {} : {} = {}", g.name, g.ty, s);
    }
    if !prog.channels.is_empty() {
        print!("{}", node.describe_states(200));
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Check { files, format, verbose, explain } => check(&files, format, verbose, explain),
        Cmd::Eval { file } => eval(&file),
        Cmd::Sim { topology, out, plot, engine, check } => {
            sim::main(sim::SimArgs { topology, out, plot, engine: engine.into(), check })
        }
        Cmd::Repl { file, host, engine, unverified } => repl::main(
            file,
            unverified,
            NodeConfig { this_host: u32::from(host), engine: engine.into(), ..NodeConfig::default() },
        ),
        Cmd::Prims { filter } => {
            print!("{}", prims(filter.as_deref()));
            ExitCode::SUCCESS
        }
        Cmd::Run { program, pcap, out, host, trace, limit, engine, dump_asm, unverified } => {
            if dump_asm && engine == Some(EngineArg::Interp) {
                let mut cli = Cli::command();
                cli.build();
                let cmd = match cli.find_subcommand_mut("run") {
                    Some(run) => run,
                    None => &mut cli,
                };
                cmd.error(
                    clap::error::ErrorKind::ArgumentConflict,
                    "`--dump-asm` shows the code the JIT generates: it cannot be used with `--engine interp`",
                )
                .exit();
            }
            let engine = engine.map_or(if dump_asm { Engine::Jit } else { Engine::Interp }, Engine::from);
            let Some(text) = read(&program) else { return ExitCode::from(1) };
            let prog = match load(&program, &text) {
                Ok(p) => p,
                Err(d) => {
                    eprint!("{}", render(&d, Format::Fancy));
                    return ExitCode::from(1);
                }
            };
            if !prog.warnings.is_empty() {
                print_diags(&program, &prog.text, prog.warnings.clone());
            }
            // The policy (docs/safety.md): a program that fails verification runs only
            // when asked for.
            let v = planp_interp::verify::verify(&prog);
            if !v.ok() {
                let failed = v.failed().join(", ");
                if unverified {
                    eprintln!(
                        "planp run: {program} fails verification ({failed}); running it unverified, as --unverified asks"
                    );
                } else {
                    print_diags(&program, &prog.text, v.diags.clone());
                    eprintln!(
                        "planp run: {program} fails verification ({failed}), so it is not run; `planp check --explain {program}` says why, and `--unverified` runs it anyway"
                    );
                    return ExitCode::from(1);
                }
            }
            run::run(&run::RunArgs { program, pcap, out, host, trace, limit, engine, dump_asm }, prog)
        }
    }
}
