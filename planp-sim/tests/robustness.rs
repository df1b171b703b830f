//! Bad topologies get a diagnostic, never a panic or a hang: random topologies built
//! from the format's pieces with extreme and wrong values (zero and huge bandwidths,
//! delays and rates, loops, self links, unknown names, programs on random nodes) are
//! either refused with a `TopologyError` or run to the end (or to their event budget)
//! without panicking; and mutated copies of the shipped topologies never panic the
//! reader.

use planp_interp::Engine;
use planp_sim::sim::{self, Options};
use planp_sim::topology;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use std::path::{Path, PathBuf};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("examples")
}

fn pick(v: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    proptest::sample::select(v)
}

// Mostly good values, sometimes bad or extreme ones: a topology has several, so most
// topologies have at most one thing wrong, and many have nothing wrong.
fn time() -> impl Strategy<Value = String> {
    prop_oneof![
        60 => (0u32..3000).prop_map(|ms| format!("\"{ms}ms\"")),
        1 => pick(&["0", "1", "0.5", "\"1e30s\"", "\"-1s\"", "\"2 parsecs\"", "-3", "\"1ns\"", "1e300"]).prop_map(String::from),
    ]
}

fn bandwidth() -> impl Strategy<Value = String> {
    prop_oneof![
        60 => (1u32..1000).prop_map(|m| format!("\"{m}Mb/s\"")),
        1 => pick(&["\"1b/s\"", "\"0b/s\"", "\"1e30Gb/s\"", "1000", "\"10MB/s\"", "\"-5kb/s\"", "\"nan\""]).prop_map(String::from),
    ]
}

fn rate() -> impl Strategy<Value = String> {
    prop_oneof![
        60 => (0u32..2000).prop_map(|k| format!("\"{k}kB/s\"")),
        1 => pick(&["\"0B/s\"", "\"1e30GB/s\"", "\"1b/s\"", "\"5MB/s\"", "12"]).prop_map(String::from),
    ]
}

const NAMES: &[&str] = &["a", "b", "c", "d", "e", "zz"];

/// A name of one of the `n` nodes generated (now and then `zz`, never one).
fn name(n: usize) -> impl Strategy<Value = &'static str> {
    prop_oneof![60 => (0..n).prop_map(|i| NAMES[i]), 1 => Just("zz")]
}

/// Node `i`.
fn node(i: usize) -> impl Strategy<Value = String> {
    (
        prop_oneof![24 => Just("host"), 16 => Just("router"), 8 => Just("bridge"), 8 => Just("hub"), 1 => Just("switch")],
        prop_oneof![
            6 => Just(""),
            2 => Just("audio/router.planp"),
            2 => Just("audio/client.planp"),
            2 => Just("bridge/bridge.planp"),
            1 => Just("nowhere.planp"),
            30 => Just(""),
        ],
        prop_oneof![4 => Just(true), 1 => Just(false)],
    )
        .prop_map(move |(kind, program, unverified)| {
            let mut s =
                format!("[[node]]\nname = \"{}\"\naddress = \"10.0.0.{}\"\nkind = \"{kind}\"\n", NAMES[i], i + 1);
            if !program.is_empty() && kind != "hub" {
                s += &format!("program = \"{}\"\n", examples().join(program).display());
            }
            if unverified {
                s += "unverified = true\n";
            }
            s
        })
}

fn nodes(n: usize) -> impl Strategy<Value = String> {
    (0..n).map(node).collect::<Vec<_>>().prop_map(|v| v.concat())
}

/// Two different nodes mostly; now and then one node twice or an unknown one.
fn pair(n: usize) -> impl Strategy<Value = (&'static str, &'static str)> {
    prop_oneof![
        60 => (0..n, 0..n - 1).prop_map(move |(a, k)| (NAMES[a], NAMES[(a + 1 + k) % n])),
        1 => (name(n), name(n)),
    ]
}

fn link(n: usize) -> impl Strategy<Value = String> {
    // Mostly two different nodes; now and then a node with itself or an unknown one.
    (pair(n), bandwidth(), time(), prop_oneof![60 => 1i64..80, 1 => -2i64..1]).prop_map(|((a, b), bw, d, q)| {
        format!("[[link]]\nbetween = [\"{a}\", \"{b}\"]\nbandwidth = {bw}\ndelay = {d}\nqueue = {q}\n")
    })
}

fn source(n: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        (pair(n), prop_oneof![20 => (0u32..1000, 1u32..3000).prop_map(|(s, d)| (format!("\"{s}ms\""), format!("\"{}ms\"", s + d))), 1 => (time(), time())])
            .prop_map(|((a, b), (s, e))| format!(
                "[[source]]\nkind = \"audio\"\nfrom = \"{a}\"\nto = \"{b}\"\nstart = {s}\nstop = {e}\n"
            )),
        (
            pair(n),
            prop_oneof![60 => 60i64..2000, 1 => -5i64..10_000],
            prop_oneof![20 => (0u32..2000, 1u32..3000).prop_map(|(a, d)| (format!("\"{a}ms\""), format!("\"{}ms\"", a + d))), 1 => (time(), time())],
            rate(),
            rate()
        )
            .prop_map(|((a, b), size, (t1, t2), r1, r2)| {
                format!(
                    "[[source]]\nkind = \"load\"\nfrom = \"{a}\"\nto = \"{b}\"\nsize = {size}\nphases = [{{ at = {t1}, rate = {r1} }}, {{ at = {t2}, rate = {r2} }}]\n"
                )
            }),
        (name(n), prop_oneof![10 => pick(&["print-flags.pcap", "bigtcp-ipv4.pcap"]), 1 => Just("nothing.pcap")]).prop_map(|(a, f)| {
            let file = examples().join("../testdata/pcaps/corpus").join(f);
            format!("[[source]]\nkind = \"capture\"\nfrom = \"{a}\"\nfile = \"{}\"\n", file.display())
        }),
    ]
}

fn extra(n: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        (name(n), pick(&["10.0.0.0/8", "0.0.0.0/0", "10.0.0.1", "1.2.3.4/33", "x"]), name(n))
            .prop_map(|(a, to, via)| format!("[[route]]\nat = \"{a}\"\nto = \"{to}\"\nvia = \"{via}\"\n")),
        (name(n), any::<u16>(), time())
            .prop_map(|(n, p, t)| format!("[[player]]\nnode = \"{n}\"\nport = {p}\nplayout = {t}\n")),
        (name(n), name(n)).prop_map(|(a, b)| format!(
            "[[series]]\nname = \"s\"\nlink = \"{a}-{b}\"\nfrom = \"{a}\"\nudp_ports = [5004]\n"
        )),
    ]
}

fn topology_text() -> impl Strategy<Value = String> {
    (2usize..6).prop_flat_map(topology_of)
}

fn topology_of(n: usize) -> impl Strategy<Value = String> {
    (
        prop_oneof![8 => (1u32..20).prop_map(|s| format!("\"{s}s\"")), 1 => time()],
        nodes(n),
        prop::collection::vec(link(n), 0..n.max(2)),
        prop::collection::vec(source(n), 0..4),
        prop::collection::vec(extra(n), 0..2),
        0u64..1000,
    )
        .prop_map(|(duration, nodes, links, sources, extras, seed)| {
            let mut s = format!("[sim]\nseed = {seed}\nduration = {duration}\nmax_events = 20000\n{nodes}");
            for part in links.iter().chain(&sources).chain(&extras) {
                s += part;
            }
            s
        })
}

/// 300 random topologies from a fixed seed: each is refused or runs, and enough of
/// them run (with traffic) for the test to mean something.
#[test]
fn random_topologies_are_refused_or_run() {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]));
    let strategy = (topology_text(), any::<bool>());
    let path = std::env::temp_dir().join("planp-sim-robustness.toml");
    let (mut refused, mut ran, mut busy, mut stopped) = (0, 0, 0, 0);
    for _ in 0..300 {
        let (text, jit) = strategy.new_tree(&mut runner).unwrap().current();
        let t = match topology::parse(&path, &text) {
            Ok(t) => t,
            Err(e) => {
                // SHOW=1 prints why each was refused, to tune the generator.
                if std::env::var_os("SHOW").is_some() {
                    eprintln!("refused: {}", e.message());
                }
                refused += 1;
                continue;
            }
        };
        let engine = if jit { Engine::Jit } else { Engine::Interp };
        match sim::run(&t, &Options { engine, out: None, without: vec![] }, "random") {
            Ok(r) => {
                assert!(r.events <= 20_000, "{text}");
                ran += 1;
                busy += usize::from(r.links.iter().any(|(_, d)| d.frames > 0));
            }
            Err(sim::SimError::Budget(n)) => {
                assert_eq!(n, 20_000);
                stopped += 1;
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                refused += 1;
            }
        }
    }
    eprintln!("{refused} refused, {ran} ran ({busy} with traffic), {stopped} stopped at the event budget");
    assert!(ran >= 30 && busy >= 10 && stopped >= 1 && refused >= 30, "{refused} {ran} {busy} {stopped}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_topologies_never_panic_the_reader(
        which in 0usize..2,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let file = ["audio/topology.toml", "bridge/topology.toml"][which];
        let mut bytes = std::fs::read(examples().join(file)).unwrap();
        for (i, b) in edits {
            let i = i.index(bytes.len());
            bytes[i] = b;
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = topology::parse(&examples().join(file), &text);
    }
}
