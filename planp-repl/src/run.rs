//! `planp run PROGRAM --pcap IN [--out OUT] [--host ADDR] [--trace] [--limit N]
//! [--engine interp|jit] [--dump-asm]`: feed every packet of a capture through a program
//! on one node.
//!
//! Output: the program's printed output on stdout (with `--trace`, inside the trace
//! instead, one line per event), after the JIT's code of every channel with
//! `--dump-asm`; a summary (which names the engine that ran) on stderr. OUT receives
//! every frame the node sends (forwarded, rewritten, passed through), as a pcap file of
//! IN's link type. Both engines give the same bytes on stdout and in OUT.
//!
//! Exit codes: 0 success; 1 the program does not load (diagnostics on stderr); 2 bad
//! usage; 3 IN cannot be read or is not a capture, or OUT cannot be written; 4 IN is a
//! capture but is cut short or damaged (the packets before the damage were processed and
//! written).

use planp_interp::capture::{CaptureError, Format, Reader, Writer};
use planp_interp::packet::describe;
use planp_interp::span::line_col;
use planp_interp::{Engine, LinkType, Node, NodeConfig, Outcome, Program};
use planp_primitives::{Effect, SendKind};
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

/// What `planp run` was asked to do.
pub struct RunArgs {
    /// The program file.
    pub program: String,
    /// The input capture.
    pub pcap: String,
    /// The output capture.
    pub out: Option<String>,
    /// The node's address.
    pub host: Ipv4Addr,
    /// Print a trace line per event.
    pub trace: bool,
    /// Stop after this many packets.
    pub limit: Option<u64>,
    /// The engine asked for.
    pub engine: Engine,
    /// Print the code of every channel before running.
    pub dump_asm: bool,
}

/// Counters for the summary.
#[derive(Default, Debug, Clone, Copy)]
pub struct Stats {
    /// Packets read.
    pub packets_in: u64,
    /// Frames sent (written to OUT when there is one).
    pub frames_out: u64,
    /// Packets passed on unchanged (no channel took them, or their channel failed).
    pub passed: u64,
    /// Packets a channel took and neither sent anything for nor delivered.
    pub dropped: u64,
    /// Packets whose channel delivered something to the local host (`deliver`).
    pub delivered: u64,
    /// Exceptions that escaped a channel.
    pub exceptions: u64,
    /// Channel runs.
    pub channel_runs: u64,
}

impl Stats {
    /// Count what one packet's outcome did (everything but `packets_in`).
    pub fn count(&mut self, o: &Outcome) {
        self.channel_runs += o.channel.is_some() as u64;
        self.exceptions += o.exception.is_some() as u64;
        self.passed += o.pass_through as u64;
        let delivered = o.effects.iter().any(|e| matches!(e, Effect::Deliver(_)));
        self.delivered += delivered as u64;
        self.dropped += (!o.pass_through && o.frames.is_empty() && !delivered) as u64;
        self.frames_out += o.frames.len() as u64;
    }
}

/// Escape bytes for a trace line: printable ASCII as is, the rest as `\n`, `\xHH`.
pub fn escape(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b {
        match c {
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s
}

fn timestamp(ns: u64) -> String {
    format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

/// The trace lines for one packet (see `docs/run.md` for the format).
pub fn trace_lines(prog: &Program, n: u64, lt: LinkType, frame: &[u8], ts_ns: u64, o: &Outcome) -> Vec<String> {
    let mut lines = Vec::new();
    let before = describe::fields(lt, frame);
    lines.push(format!("#{n} in t={} len={} {}", timestamp(ts_ns), frame.len(), describe::summary(&before)));
    match o.channel {
        Some(i) => {
            let c = &prog.channels[i];
            lines.push(format!("#{n} channel {}#{} ({})", c.name, c.overload, c.pkt_type));
        }
        None => lines.push(format!("#{n} no channel")),
    }
    let mut frames = o.frames.iter();
    for e in &o.effects {
        match e {
            Effect::Print(s) => lines.push(format!("#{n} print \"{}\"", escape(s))),
            Effect::Deliver(b) => lines.push(format!("#{n} deliver len={}", b.len())),
            Effect::Send(s) => {
                let Some(f) = frames.next() else { continue };
                let how = if s.kind == SendKind::Remote { "OnRemote" } else { "OnNeighbor" };
                let after = describe::fields(lt, f);
                let changes = describe::changes(&before, &after);
                let what = if changes.is_empty() {
                    "unchanged".to_string()
                } else {
                    format!("changed {}", changes.join(", "))
                };
                lines.push(format!(
                    "#{n} out {how} {}#{} len={} {} ({what})",
                    s.channel,
                    s.overload,
                    f.len(),
                    describe::summary(&after)
                ));
            }
        }
    }
    if let Some(x) = &o.exception {
        let (l, c) = line_col(&prog.text, x.span.start as usize);
        lines.push(format!("#{n} exception {} at {}:{l}:{c} escaped {}", x.exn, prog.name, x.from));
    }
    if o.pass_through {
        lines.push(format!("#{n} pass len={}", frame.len()));
    } else if o.frames.is_empty() {
        lines.push(format!("#{n} drop"));
    }
    lines
}

fn capture_exit(e: &CaptureError) -> ExitCode {
    match e {
        CaptureError::Broken { .. } => ExitCode::from(4),
        _ => ExitCode::from(3),
    }
}

/// Run a program over a capture.
pub fn run(args: &RunArgs, prog: Arc<Program>) -> ExitCode {
    let cfg = NodeConfig { this_host: u32::from(args.host), engine: args.engine, ..NodeConfig::default() };
    let mut node = match Node::new(prog.clone(), cfg) {
        Ok(n) => n,
        Err(e) => {
            let _ = std::io::stdout().write_all(&e.output);
            crate::print_diags(&args.program, &prog.text, vec![e.diag]);
            return ExitCode::from(1);
        }
    };
    if let Some(why) = node.jit_unavailable() {
        let what = if args.dump_asm { "no code to show; " } else { "" };
        eprintln!("planp run: the JIT is unavailable ({why}); {what}the interpreter runs the channels");
    }
    let engine = match node.compiled() {
        Some(c) => {
            if args.dump_asm {
                let all = ((0..prog.channels.len()).collect(), true);
                let mut stdout = std::io::stdout().lock();
                let _ = stdout.write_all(crate::asm::dump(&prog, c, &all).as_bytes());
                let _ = stdout.write_all(b"\n");
                let _ = stdout.flush();
            }
            format!("engine jit (code generated in {})", crate::asm::millis(c.gen_time))
        }
        None if node.jit_unavailable().is_some() => "engine interp (JIT unavailable)".to_string(),
        None => "engine interp".to_string(),
    };
    let mut reader = match Reader::open(&args.pcap) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return capture_exit(&e);
        }
    };
    let mut writer: Option<Writer> = None;
    let mut mismatched = 0u64;
    let mut stats = Stats::default();
    let mut damage: Option<CaptureError> = None;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let started = Instant::now();
    // One outcome for every packet: its buffers are reused (no allocation per packet).
    let mut o = Outcome::default();
    while args.limit.is_none_or(|l| stats.packets_in < l) {
        let p = match reader.next() {
            None => break,
            Some(Ok(p)) => p,
            Some(Err(e)) => {
                damage = Some(e);
                break;
            }
        };
        stats.packets_in += 1;
        node.process_into(p.link, &p.data, p.orig_len as usize, p.ts_ns, &mut o);
        let o = &o;
        stats.count(o);
        if args.trace {
            for l in trace_lines(&prog, stats.packets_in, p.link, &p.data, p.ts_ns, o) {
                let _ = writeln!(out, "{l}");
            }
        } else {
            for e in &o.effects {
                if let Effect::Print(s) = e {
                    let _ = out.write_all(s);
                }
            }
        }
        if let Some(path) = &args.out {
            if writer.is_none() {
                let nanos = match reader.format() {
                    Some(Format::Pcap { nanos, .. }) => nanos,
                    _ => true,
                };
                match Writer::create(path, p.link, nanos) {
                    Ok(w) => writer = Some(w),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::from(3);
                    }
                }
            }
            let w = writer.as_mut().expect("created above");
            if w.link() != p.link {
                mismatched += o.frames.len() as u64;
                continue;
            }
            for f in &o.frames {
                let orig = if o.pass_through { p.orig_len } else { f.len() as u32 };
                if let Err(e) = w.write(p.ts_ns, f, orig) {
                    eprintln!("error: {e}");
                    return ExitCode::from(3);
                }
            }
        }
    }
    let elapsed = started.elapsed();
    let _ = out.flush();
    drop(out);
    if let Some(path) = &args.out {
        let w = match writer {
            Some(w) => w,
            // An empty capture still gives a (valid, empty) output file.
            None => match Writer::create(path, reader.link().unwrap_or(LinkType::ETHERNET), false) {
                Ok(w) => w,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(3);
                }
            },
        };
        if let Err(e) = w.finish() {
            eprintln!("error: {e}");
            return ExitCode::from(3);
        }
    }
    let pps = if elapsed.as_secs_f64() > 0.0 { stats.packets_in as f64 / elapsed.as_secs_f64() } else { 0.0 };
    let delivered = if stats.delivered > 0 { format!(", {} delivered", stats.delivered) } else { String::new() };
    eprintln!(
        "planp run: {} packets in, {} out, {} passed through, {} dropped{delivered}, {} exception{}, {} channel run{}; {engine}; {:.0} packets/s",
        stats.packets_in,
        stats.frames_out,
        stats.passed,
        stats.dropped,
        stats.exceptions,
        if stats.exceptions == 1 { "" } else { "s" },
        stats.channel_runs,
        if stats.channel_runs == 1 { "" } else { "s" },
        pps
    );
    if mismatched > 0 {
        eprintln!(
            "warning: {mismatched} frames from interfaces of another link type than the first were not written (OUT is a pcap file of one link type)"
        );
    }
    if let Some(e) = damage {
        eprintln!("error: {e}");
        return capture_exit(&e);
    }
    ExitCode::SUCCESS
}
