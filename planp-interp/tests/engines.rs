//! The differential harness: every program we have runs over every capture we have under
//! the interpreter and under the JIT, and everything observable must agree: for each
//! packet the channel that took it, what it printed and sent (the bytes of every frame),
//! the exception that ended it (which one, and where), whether it passed through; then
//! the final states and what initialisation printed.
//!
//! The harness checks itself: the same comparison between a program and a copy changed
//! in one constant must find the difference (`a_planted_difference_is_caught`), so an
//! agreement is not vacuous. `tests/run.rs` runs its data-driven cases under both engines
//! too, against the same expected transcripts; `tests/generated.rs` does the same for
//! generated programs.

use planp_interp::capture::Reader;
use planp_interp::{Engine, Node, NodeConfig, Outcome, Program};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(ext))
        .collect();
    v.sort();
    v
}

/// Every program of the repository that loads: examples, test programs, sessions.
fn programs() -> Vec<PathBuf> {
    let r = root();
    let mut v = Vec::new();
    v.extend(files(&r.join("examples"), ".planp"));
    v.extend(files(&r.join("examples/paper"), ".planp"));
    v.extend(files(&r.join("examples/loadbalancer"), ".planp"));
    v.extend(files(&r.join("examples/mpeg"), ".planp"));
    v.extend(files(&r.join("examples/bridge"), ".planp"));
    v.extend(files(&r.join("examples/audio"), ".planp"));
    v.extend(files(&r.join("planp-interp/tests/data/ok"), ".planp"));
    v.extend(files(&r.join("planp-interp/tests/data/run"), ".planp"));
    v.extend(files(&r.join("planp-interp/tests/oracle"), ".planp"));
    v.extend(files(&r.join("planp-repl/tests/sessions"), ".planp"));
    assert!(v.len() > 40, "programs: {}", v.len());
    v
}

/// A captured packet.
struct Packet {
    link: planp_interp::LinkType,
    data: Vec<u8>,
    orig_len: usize,
    ts_ns: u64,
}

/// Every packet of every capture: tcpdump's corpus and ours.
fn packets() -> Vec<(String, Vec<Packet>)> {
    let r = root();
    let mut caps = files(&r.join("testdata/pcaps/corpus"), "");
    caps.extend(files(&r.join("testdata"), ".pcap"));
    let mut out = Vec::new();
    for c in caps {
        let mut reader = Reader::open(&c).unwrap();
        let mut v = Vec::new();
        while let Some(Ok(p)) = reader.next() {
            v.push(Packet { link: p.link, data: p.data, orig_len: p.orig_len as usize, ts_ns: p.ts_ns });
        }
        out.push((c.file_name().unwrap().to_string_lossy().to_string(), v));
    }
    out
}

/// What a node does with a program and the packets, as something to compare.
#[derive(Debug, PartialEq)]
struct Observed {
    init: Vec<planp_primitives::Effect>,
    outcomes: Vec<(String, usize, Outcome)>,
    states: String,
    used_jit: bool,
}

/// How packets are handed to the node: a fresh outcome for each (`process_captured`), or
/// one outcome reused from packet to packet (`process_into`, as `planp run` does), whose
/// buffers then hold the previous packet's bytes.
#[derive(Clone, Copy)]
enum Outcomes {
    Fresh,
    Reused,
}

fn observe(
    prog: Arc<Program>,
    engine: Engine,
    caps: &[(String, Vec<Packet>)],
    how: Outcomes,
) -> Result<Observed, String> {
    let cfg = NodeConfig { this_host: 0x0a00_0001, engine, ..NodeConfig::default() };
    let mut node = Node::new(prog, cfg).map_err(|e| format!("load: {}", e.diag.message))?;
    let used_jit = node.compiled().is_some();
    let init = node.init_effects().to_vec();
    let mut outcomes = Vec::new();
    let mut reused = Outcome::default();
    for (name, pkts) in caps {
        for (i, p) in pkts.iter().enumerate() {
            let o = match how {
                Outcomes::Fresh => node.process_captured(p.link, &p.data, p.orig_len, p.ts_ns),
                Outcomes::Reused => {
                    node.process_into(p.link, &p.data, p.orig_len, p.ts_ns, &mut reused);
                    reused.clone()
                }
            };
            outcomes.push((name.clone(), i + 1, o));
        }
    }
    Ok(Observed { init, outcomes, states: node.describe_states(10_000), used_jit })
}

/// Compare the interpreter running `a` with the JIT running `b`: the first difference.
/// The interpreter gets a fresh outcome for each packet, the JIT one reused outcome, so
/// the comparison also checks that reusing an outcome's buffers changes nothing.
fn compare(a: Arc<Program>, b: Arc<Program>, caps: &[(String, Vec<Packet>)]) -> Result<(), String> {
    let i = observe(a, Engine::Interp, caps, Outcomes::Fresh);
    let j = observe(b, Engine::Jit, caps, Outcomes::Reused);
    let (i, j) = match (i, j) {
        (Err(x), Err(y)) if x == y => return Ok(()),
        (Ok(i), Ok(j)) => (i, j),
        (i, j) => return Err(format!("loading differs: {:?} / {:?}", i.err(), j.err())),
    };
    if planp_jit::available().is_ok() && !j.used_jit {
        return Err("the JIT was asked for and is available, but the interpreter ran".into());
    }
    if i.init != j.init {
        return Err(format!("initialisation differs: {:?} / {:?}", i.init, j.init));
    }
    for ((name, n, x), (_, _, y)) in i.outcomes.iter().zip(&j.outcomes) {
        if x != y {
            return Err(format!("{name} packet {n}:\n  interpreter {x:?}\n  JIT         {y:?}"));
        }
    }
    if i.states != j.states {
        return Err(format!("final states differ:\n  interpreter {}\n  JIT         {}", i.states, j.states));
    }
    Ok(())
}

fn load(path: &Path) -> Option<Arc<Program>> {
    let text = std::fs::read_to_string(path).unwrap();
    planp_interp::load(&path.to_string_lossy(), &text).ok()
}

#[test]
fn every_program_over_every_capture() {
    let caps = packets();
    let total: usize = caps.iter().map(|(_, v)| v.len()).sum();
    assert!(total > 3000, "packets: {total}");
    let mut checked = 0;
    let mut channel_runs = 0usize;
    for p in programs() {
        let Some(prog) = load(&p) else { continue };
        if let Err(e) = compare(prog.clone(), prog.clone(), &caps) {
            panic!("{}: the engines disagree: {e}", p.display());
        }
        checked += 1;
        if let Ok(o) = observe(prog, Engine::Jit, &caps, Outcomes::Fresh) {
            channel_runs += o.outcomes.iter().filter(|(_, _, o)| o.channel.is_some()).count();
        }
    }
    assert!(checked > 40, "programs checked: {checked}");
    // The comparison is not only over packets that no channel takes.
    assert!(channel_runs > 10_000, "channel runs: {channel_runs}");
}

/// A reused outcome gives what a fresh one gives, on one engine, for every program over
/// our own captures (those of tcpdump's corpus are covered by the comparison of the
/// engines, whose JIT side reuses its outcome).
#[test]
fn a_reused_outcome_is_a_fresh_one() {
    let caps: Vec<(String, Vec<Packet>)> = packets().into_iter().filter(|(n, _)| n.ends_with(".pcap")).collect();
    let mut checked = 0;
    for p in programs() {
        let Some(prog) = load(&p) else { continue };
        let fresh = observe(prog.clone(), Engine::Interp, &caps, Outcomes::Fresh);
        let reused = observe(prog, Engine::Interp, &caps, Outcomes::Reused);
        match (fresh, reused) {
            (Ok(f), Ok(r)) => {
                for ((name, n, x), (_, _, y)) in f.outcomes.iter().zip(&r.outcomes) {
                    assert_eq!(x, y, "{}: {name} packet {n}: fresh and reused outcomes differ", p.display());
                }
                assert_eq!(f.states, r.states, "{}", p.display());
                checked += 1;
            }
            (f, r) => assert_eq!(f.err(), r.err(), "{}", p.display()),
        }
    }
    assert!(checked > 40, "programs checked: {checked}");
}

/// The harness finds a difference when there is one: figure 2, and a copy whose second
/// server is another address, differ on the HTTP capture.
#[test]
fn a_planted_difference_is_caught() {
    let caps: Vec<(String, Vec<Packet>)> =
        packets().into_iter().filter(|(n, _)| n == "http-three-clients.pcap" || n == "print-flags.pcap").collect();
    assert_eq!(caps.len(), 2);
    let text = std::fs::read_to_string(root().join("examples/paper/figure2.planp")).unwrap();
    let a = planp_interp::load("a", &text).unwrap();
    let b = planp_interp::load("b", &text.replace("131.254.60.109", "131.254.60.110")).unwrap();
    assert!(compare(a.clone(), a.clone(), &caps).is_ok());
    let e = compare(a.clone(), b, &caps).expect_err("a changed constant must be seen");
    assert!(e.contains("packet"), "{e}");
    // And a difference only in the final state is seen too.
    let c = planp_interp::load(
        "c",
        &text.replace("(tablePut(tbl, key, (s, src, dst)); s)", "(tablePut(tbl, key, (s, dst, dst)); s)"),
    )
    .unwrap();
    let e = compare(a, c, &caps).expect_err("a changed state must be seen");
    assert!(e.contains("differ"), "{e}");
}

/// The code `:asm` and `--dump-asm` show is generated again with notes on; notes must not
/// change a byte of it, for every channel of every program. And the notes carry the
/// PLAN-P source: line, column and text of each expression.
#[test]
fn notes_do_not_change_the_code() {
    if planp_jit::available().is_err() {
        return;
    }
    let mut channels = 0;
    for path in programs() {
        let Some(prog) = load(&path) else { continue };
        let c = planp_interp::jit::Compiled::new(prog.clone()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for i in 0..prog.channels.len() {
            let with = c.channel_code_with_notes(i).unwrap();
            assert_eq!(c.channel_code(i), &with[..], "{} channel {i}: notes changed the code", path.display());
            channels += 1;
        }
    }
    assert!(channels > 30, "{channels} channels");
    let prog = load(&root().join("examples/paper/figure2.planp")).unwrap();
    let asm = planp_interp::jit::Compiled::new(prog).unwrap().disassemble(0);
    for want in [
        "; channel network#0",
        "; 36:5  if (tcpDst(tcph) = 80) then ...",
        "; 39:27  getSetS(ipSrc(iph), ipDst(iph), (tcph), ss, ps)",
        "; 17:26  (src, tcpSrc(tcph))",
        "; eval: ExprKind::If",
    ] {
        assert!(asm.contains(want), "no {want:?} in\n{asm}");
    }
}

/// Calls are unfolded, so a chain of functions that each call the next twice doubles the
/// code at every step. Such a program is refused by the JIT before any code is made
/// (not generated until memory runs out), with a message saying why, and the node runs
/// it with the interpreter; a program just like it but small is compiled.
#[test]
fn exponential_unfolding_is_refused_not_attempted() {
    if planp_jit::available().is_err() {
        return;
    }
    let chain = |n: usize| {
        let mut src = String::from("fun f0(x : int) : int = x + 1\n");
        for i in 1..=n {
            src += &format!("fun f{i}(x : int) : int = f{}(x) + f{}(x + 1)\n", i - 1, i - 1);
        }
        src += &format!(
            "channel network(ps : int, ss : unit, p : ip*blob) is (OnRemote(network, p); (f{n}(ps) mod 7, ss))\n"
        );
        planp_interp::load("chain", &src).unwrap_or_else(|d| panic!("{}", d.render_plain()))
    };
    let big = chain(40);
    let err = planp_interp::jit::Compiled::new(big.clone()).expect_err("2^40 copies of f0 must be refused");
    let msg = err.to_string();
    assert!(msg.contains("unfolds every call") && msg.contains("limit is"), "{msg}");
    let node = Node::new(big, NodeConfig { engine: Engine::Jit, ..NodeConfig::default() }).unwrap();
    assert!(node.compiled().is_none());
    assert!(node.jit_unavailable().is_some_and(|w| w.contains("unfolds every call")), "{:?}", node.jit_unavailable());
    let small = chain(6);
    assert!(planp_interp::jit::Compiled::new(small).is_ok());
}

/// The node's resource limit reached by an initialiser (a string doubled 40 times) is a
/// diagnostic of its own under both engines, not an uncaught exception, and the
/// initialiser's `handle _` does not take it (`docs/language.md`, "Resource limits").
/// The same limit in a channel is the run case `tests/data/run/resource_limit.planp`.
#[test]
fn a_resource_limit_at_load_is_a_diagnostic() {
    let steps = (1..=40).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
    let src = format!(
        "fun double(acc : string, i : int) : string = acc ^ acc\n\
         val big : string = (try foldl(double, \"0123456789abcdef\", [{steps}]) handle _ => \"caught\")\n\
         channel network(ps : int, ss : int, p : ip*blob) is (OnRemote(network, p); (ps, ss))\n"
    );
    let prog = planp_interp::load("big.planp", &src).unwrap_or_else(|d| panic!("{}", d.render_plain()));
    for engine in [Engine::Interp, Engine::Jit] {
        match Node::new(prog.clone(), NodeConfig { engine, ..NodeConfig::default() }) {
            Ok(_) => panic!("{engine:?}: the node loaded a program whose initialiser makes 16 TiB"),
            Err(e) => {
                assert_eq!(e.diag.name, "resource-limit", "{engine:?}: {:?}", e.diag);
                let labels = format!("{:?}", e.diag.labels);
                assert!(labels.contains("64 MiB") && e.diag.message.contains("`big`"), "{:?}", e.diag);
            }
        }
    }
}
