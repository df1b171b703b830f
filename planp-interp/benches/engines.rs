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
use planp_interp::capture::Reader;
use planp_interp::jit::Compiled;
use planp_interp::{Engine, LinkType, Node, NodeConfig, Program};
use std::collections::HashMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf()
}

/// A captured packet: link type, bytes, original length, timestamp.
struct Pkt {
    link: LinkType,
    data: Vec<u8>,
    len: usize,
    ts: u64,
}

fn capture(rel: &str) -> Vec<Pkt> {
    let mut r = Reader::open(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let mut out = Vec::new();
    while let Some(p) = r.next() {
        let p = p.unwrap_or_else(|e| panic!("{rel}: {e}"));
        out.push(Pkt { link: p.link, len: p.orig_len as usize, ts: p.ts_ns, data: p.data });
    }
    out
}

/// Figure 4's traffic: TCP packets whose payload is a command byte and an int (`CmdA`)
/// or a bool (`CmdB`), and some of neither shape.
fn figure4_packets() -> Vec<Pkt> {
    use etherparse::PacketBuilder;
    (0..64u32)
        .map(|i| {
            let payload: Vec<u8> = match i % 4 {
                0 | 1 => {
                    let mut p = vec![1u8];
                    p.extend((i as i32 * 1000 - 7).to_be_bytes());
                    p
                }
                2 => vec![2, (i % 2) as u8],
                _ => b"neither shape".to_vec(),
            };
            let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .tcp(40000 + i as u16, 7000, i * 100, 65535);
            let mut frame = Vec::with_capacity(b.size(payload.len()));
            b.write(&mut frame, &payload).expect("a frame");
            let len = frame.len();
            Pkt { link: LinkType::ETHERNET, data: frame, len, ts: 1_700_000_000_000_000_000 + u64::from(i) * 1000 }
        })
        .collect()
}

struct Example {
    name: &'static str,
    program: &'static str,
    packets: Vec<Pkt>,
}

fn examples() -> Vec<Example> {
    vec![
        Example {
            name: "figure2",
            program: "examples/paper/figure2.planp",
            packets: capture("testdata/http-three-clients.pcap"),
        },
        Example { name: "figure4", program: "examples/paper/figure4.planp", packets: figure4_packets() },
        Example { name: "tour", program: "examples/tour.planp", packets: capture("testdata/http-three-clients.pcap") },
        Example { name: "heavy", program: "examples/heavy.planp", packets: capture("testdata/pcaps/corpus/afs.pcap") },
    ]
}

fn load(rel: &str) -> Arc<Program> {
    let text = std::fs::read_to_string(root().join(rel)).expect("the example");
    planp_interp::load(rel, &text).unwrap_or_else(|d| panic!("{}", d.render_plain()))
}

fn node(prog: &Arc<Program>, engine: Engine) -> Node {
    Node::new(prog.clone(), NodeConfig { engine, ..NodeConfig::default() }).expect("the example loads")
}

/// One pass of `packets` through `node`; the number of frames sent, so nothing is
/// optimised away.
fn pass(node: &mut Node, packets: &[Pkt]) -> usize {
    let mut n = 0;
    for p in packets {
        n += node.process_captured(p.link, &p.data, p.len, p.ts).frames.len();
    }
    n
}

// ---- figure 2 by hand --------------------------------------------------------------

/// Figure 2's load balancer written directly in Rust over Ethernet/IPv4/TCP frames, as
/// a built-in protocol would be: a connection table keyed by client address and port,
/// the destination (requests) or source (replies) rewritten, the IP and TCP checksums
/// updated incrementally (RFC 1624), one output frame per packet.
#[derive(Default)]
struct HandLb {
    conns: HashMap<(u32, u16), (u8, u32, u32)>,
    last: u8,
}

const SERVERS: [u32; 2] = [u32::from_be_bytes([131, 254, 60, 81]), u32::from_be_bytes([131, 254, 60, 109])];

fn rd16(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

fn rd32(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Replace the 32-bit field at `at` by `new`, updating the checksums at `sums`.
fn rewrite32(f: &mut [u8], at: usize, new: u32, sums: &[usize]) {
    let old = rd32(f, at);
    f[at..at + 4].copy_from_slice(&new.to_be_bytes());
    for &c in sums {
        // HC' = ~(~HC + ~m + m') over 16-bit one's complement words.
        let mut s = u32::from(!rd16(f, c));
        for (o, n) in [(old >> 16, new >> 16), (old & 0xffff, new & 0xffff)] {
            s += (!o & 0xffff) + n;
        }
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        f[c..c + 2].copy_from_slice(&(!(s as u16)).to_be_bytes());
    }
}

impl HandLb {
    /// The frame sent for `frame` (a packet it does not handle passes as it was).
    fn process(&mut self, frame: &[u8]) -> Vec<u8> {
        let mut out = frame.to_vec();
        if frame.len() < 34 || rd16(frame, 12) != 0x0800 || frame[23] != 6 {
            return out;
        }
        let ihl = usize::from(frame[14] & 15) * 4;
        let tcp = 14 + ihl;
        if frame.len() < tcp + 20 {
            return out;
        }
        let (src, dst) = (rd32(frame, 26), rd32(frame, 30));
        let (sport, dport) = (rd16(frame, tcp), rd16(frame, tcp + 2));
        let sums = [24, tcp + 16];
        if dport == 80 {
            let last = self.last;
            let con = self.conns.entry((src, sport)).or_insert(((last + 1) % 2, src, dst)).0;
            self.last = con;
            rewrite32(&mut out, 30, SERVERS[usize::from(con)], &sums);
        } else if sport == 80
            && let Some(&(_, _, virt)) = self.conns.get(&(dst, dport))
        {
            rewrite32(&mut out, 26, virt, &sums);
        }
        out
    }
}

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
            g.bench_function(label, |b| b.iter(|| pass(&mut n, black_box(&ex.packets))));
        }
        if ex.name == "figure2" {
            let mut lb = HandLb::default();
            g.bench_function("rust", |b| {
                b.iter(|| black_box(&ex.packets).iter().map(|p| lb.process(&p.data).len()).sum::<usize>())
            });
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
