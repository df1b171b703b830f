//! The simulator's semantics, each checked against a model written here: a link's
//! queue and timing, routes (static ones win, loops end at the hop limit), `OnNeighbor`
//! crossing one link, a capture replayed byte for byte, determinism and the two engines
//! giving the same run, and the topology file's diagnostics.

use planp_interp::Engine;
use planp_interp::capture::Reader;
use planp_sim::sim::{self, AUDIO_INTERVAL_NS, Options, Report};
use planp_sim::topology::{self, Topology};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};

fn topo(name: &str, text: &str) -> Topology {
    // The file is read while it is parsed; its directory goes when this returns.
    let dir_tmp = tempfile::Builder::new().prefix(&format!("planp-sim-{name}-")).tempdir().unwrap();
    let dir = dir_tmp.path();
    let path = dir.join("topology.toml");
    std::fs::write(&path, text).unwrap();
    topology::parse(&path, text).unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)))
}

fn run(t: &Topology, engine: Engine, out: Option<PathBuf>) -> Report {
    sim::run(t, &Options { engine, out, without: Vec::new() }, "test").unwrap_or_else(|e| panic!("{e}"))
}

fn node<'r>(r: &'r Report, name: &str) -> &'r sim::NodeStats {
    &r.nodes.iter().find(|(n, _)| n == name).unwrap().1
}

fn link<'r>(r: &'r Report, name: &str) -> &'r sim::DirStats {
    &r.links.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no link direction {name}")).1
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// CD audio over a link slower than the audio: a FIFO with room for `queue` frames
/// besides the one on the wire, modelled here frame by frame.
#[test]
fn a_link_queues_delays_and_drops_as_a_fifo() {
    let (bps, delay_ns, queue, frames) = (1_000_000u64, 10_000_000u64, 4usize, 100u64);
    let t = topo(
        "fifo",
        &format!(
            r#"
[sim]
duration = "3s"
[[node]]
name = "a"
address = "10.0.0.1"
[[node]]
name = "b"
address = "10.0.0.2"
[[link]]
between = ["a", "b"]
bandwidth = "{bps}b/s"
delay = "{delay_ns}ns"
queue = {queue}
[[source]]
kind = "audio"
from = "a"
to = "b"
stop = "{stop}ms"
[[player]]
node = "b"
port = 5004
playout = "1.5s"
"#,
            stop = frames * 10
        ),
    );
    let r = run(&t, Engine::Interp, None);
    // The model: frame i is offered at i * 10 ms; a frame on the wire takes
    // len * 8 / bps; frames wait in order; a frame that finds `queue` waiting is lost.
    let len = 14 + 20 + 8 + 4 + 1764u64;
    let tx = (len * 8 * 1_000_000_000).div_ceil(bps);
    let (mut free_at, mut waiting, mut arrivals, mut lost) = (0u64, VecDeque::new(), Vec::new(), Vec::new());
    for i in 0..frames {
        let now = i * AUDIO_INTERVAL_NS;
        // Frames whose turn came before `now` have left the queue.
        while let Some(&j) = waiting.front() {
            if free_at > now {
                break;
            }
            waiting.pop_front();
            free_at += tx;
            arrivals.push((j, free_at + delay_ns));
        }
        if free_at <= now {
            free_at = now + tx;
            arrivals.push((i, free_at + delay_ns));
        } else if waiting.len() < queue {
            waiting.push_back(i);
        } else {
            lost.push(i);
        }
    }
    for j in waiting {
        free_at += tx;
        arrivals.push((j, free_at + delay_ns));
    }
    let d = link(&r, "a-b a>b");
    assert_eq!(d.drops, lost.len() as u64, "drops");
    assert!(d.drops > 10, "the link is too slow for the audio: {} drops", d.drops);
    assert_eq!(d.frames, arrivals.len() as u64);
    assert_eq!(d.bytes, arrivals.len() as u64 * len);
    assert_eq!(d.max_queue, queue);
    let p = &r.players[0];
    assert_eq!(p.sent, frames);
    assert_eq!(p.lost, lost.len() as u64);
    let late = arrivals.iter().filter(|&&(j, at)| at > j * AUDIO_INTERVAL_NS + 1_500_000_000).count() as u64;
    assert_eq!(p.late, late);
    assert_eq!(p.played, frames - lost.len() as u64 - late);
    // Gaps: runs of consecutive datagrams not played.
    let mut gaps = 0;
    for (k, &i) in lost.iter().enumerate() {
        if k == 0 || lost[k - 1] + 1 != i {
            gaps += 1;
        }
    }
    assert_eq!(p.gaps.iter().sum::<u64>(), gaps);
    assert_eq!(node(&r, "b").received, arrivals.len() as u64);
}

const CHAIN: &str = r#"
[sim]
duration = "2s"
[[node]]
name = "a"
address = "10.0.0.1"
[[node]]
name = "r1"
address = "10.0.1.1"
kind = "router"
[[node]]
name = "r2"
address = "10.0.2.1"
kind = "router"
[[node]]
name = "b"
address = "10.0.3.1"
[[link]]
between = ["a", "r1"]
bandwidth = "100Mb/s"
[[link]]
between = ["r1", "r2"]
bandwidth = "100Mb/s"
[[link]]
between = ["r2", "b"]
bandwidth = "100Mb/s"
[[source]]
kind = "audio"
from = "a"
to = "b"
stop = "1s"
"#;

#[test]
fn packets_follow_the_shortest_path_and_routers_address_the_next_hop() {
    // Removed when the test ends, passed or failed.
    let dir_tmp = tempfile::Builder::new().prefix("planp-sim-chain-").tempdir().unwrap();
    let dir = dir_tmp.path().to_path_buf();
    let t = topo("chain", &format!("{CHAIN}\n[record]\ncaptures = [\"r1-r2\"]\n"));
    let r = run(&t, Engine::Interp, Some(dir.clone()));
    assert_eq!(node(&r, "b").received, 100);
    assert_eq!(node(&r, "r1").sent, 100);
    assert_eq!(link(&r, "r2-b r2>b").frames, 100);
    // On r1-r2 the frames go from r1's MAC to r2's (02:00 and the address).
    let mut rd = Reader::open(dir.join("r1-r2.pcap")).unwrap();
    let f = rd.next().unwrap().unwrap();
    assert_eq!(&f.data[..12], &[2, 0, 10, 0, 2, 1, 2, 0, 10, 0, 1, 1]);
}

#[test]
fn static_routes_win_and_a_loop_ends_at_the_hop_limit() {
    // r2 sends b's traffic back to r1, which sends it to r2 again...
    let t = topo(
        "loop",
        &format!(
            "{CHAIN}\n[[route]]\nat = \"r2\"\nto = \"10.0.3.0/24\"\nvia = \"r1\"\n[[route]]\nat = \"r1\"\nto = \"0.0.0.0/0\"\nvia = \"r2\"\n"
        ),
    );
    let r = run(&t, Engine::Interp, None);
    assert_eq!(node(&r, "b").received, 0);
    let dropped: u64 = r.nodes.iter().map(|(_, n)| n.dropped.get("hop limit").copied().unwrap_or(0)).sum();
    assert_eq!(dropped, 100, "each frame dies once, at the hop limit");
    // The frames crossed a->r1 once and then bounced: 63 more links each.
    let bounces = link(&r, "r1-r2 r1>r2").frames + link(&r, "r1-r2 r2>r1").frames;
    assert_eq!(bounces, 100 * u64::from(sim::HOP_LIMIT - 1));
}

#[test]
fn on_neighbor_crosses_one_link_whatever_the_destination() {
    // r1's program sends the audio to neighbour `c` instead of along the route to b.
    // Removed when the test ends, passed or failed.
    let dir_tmp = tempfile::Builder::new().prefix("planp-sim-neigh-").tempdir().unwrap();
    let dir = dir_tmp.path().to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("divert.planp"),
        "channel network(ps : int, ss : unit, p : ip*udp*blob) is\n  (OnNeighbor(network, p, 10.0.9.1); (ps + 1, ss))\n",
    )
    .unwrap();
    let text = CHAIN.replace(
        "kind = \"router\"\n[[node]]\nname = \"r2\"",
        "kind = \"router\"\nprogram = \"divert.planp\"\nunverified = true\n[[node]]\nname = \"r2\"",
    ) + "[[node]]\nname = \"c\"\naddress = \"10.0.9.1\"\n[[link]]\nbetween = [\"r1\", \"c\"]\nbandwidth = \"100Mb/s\"\n[record]\ncaptures = [\"r1-c\"]\n";
    std::fs::write(dir.join("topology.toml"), &text).unwrap();
    let t = topology::parse(&dir.join("topology.toml"), &text).unwrap();
    for engine in [Engine::Interp, Engine::Jit] {
        let r = run(&t, engine, Some(dir.clone()));
        assert_eq!(node(&r, "r1").channel_runs, 100);
        // Addressed to c, from r1, though the packet is for b.
        let f = Reader::open(dir.join("r1-c.pcap")).unwrap().next().unwrap().unwrap().data;
        let want = (&sim::mac(0x0a00_0901)[..], &sim::mac(0x0a00_0101)[..], &[10, 0, 3, 1][..]);
        assert_eq!((&f[..6], &f[6..12], &f[30..34]), want);
        assert_eq!(link(&r, "r1-c r1>c").frames, 100);
        assert_eq!(link(&r, "r1-r2 r1>r2").frames, 0);
        // c is a host and the frames are not for it.
        assert_eq!(node(&r, "c").dropped.get("not for this host"), Some(&100));
    }
}

#[test]
fn a_capture_is_replayed_at_its_pace_and_byte_for_byte() {
    let cap = root().join("testdata/pcaps/corpus/print-flags.pcap");
    // Removed when the test ends, passed or failed.
    let dir_tmp = tempfile::Builder::new().prefix("planp-sim-replay-").tempdir().unwrap();
    let dir = dir_tmp.path().to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    let text = format!(
        r#"
[sim]
duration = "1000s"
[[node]]
name = "a"
address = "10.0.0.1"
[[node]]
name = "r"
address = "10.0.0.2"
kind = "router"
[[link]]
between = ["a", "r"]
bandwidth = "1Gb/s"
[[route]]
at = "a"
to = "0.0.0.0/0"
via = "r"
[[source]]
kind = "capture"
from = "a"
file = "{}"
start = "1s"
[record]
captures = ["a-r"]
"#,
        cap.display()
    );
    std::fs::write(dir.join("topology.toml"), &text).unwrap();
    let t = topology::parse(&dir.join("topology.toml"), &text).unwrap();
    let r = run(&t, Engine::Interp, Some(dir.clone()));
    let read = |p: &Path| {
        let mut rd = Reader::open(p).unwrap();
        let mut v = Vec::new();
        while let Some(f) = rd.next() {
            let f = f.unwrap();
            v.push((f.ts_ns, f.data));
        }
        v
    };
    let (orig, sent) = (read(&cap), read(&dir.join("a-r.pcap")));
    assert!(!orig.is_empty());
    assert_eq!(sent.len(), orig.len());
    assert_eq!(link(&r, "a-r a>r").frames, orig.len() as u64);
    // A frame is offered at its time in the capture (from 1 s; never before the one
    // before it) and goes on the wire when the link is free.
    let (mut offered, mut free) = (0u64, 0u64);
    for ((t0, f0), (t1, f1)) in orig.iter().zip(&sent) {
        offered = offered.max(1_000_000_000 + t0.saturating_sub(orig[0].0));
        let start = offered.max(free);
        assert_eq!(*t1, start, "the capture's pace");
        free = start + f1.len() as u64 * 8; // 1 Gb/s: a byte takes 8 ns
        assert_eq!(&f1[12..], &f0[12..], "only the Ethernet addresses change");
        assert_eq!(&f1[..6], &sim::mac(0x0a00_0002), "to the router");
    }
}

fn audio_topology() -> Topology {
    topology::read(&root().join("examples/audio/topology.toml")).unwrap()
}

#[test]
fn a_run_is_deterministic_and_both_engines_give_the_same_run() {
    let t = audio_topology();
    // Removed when the test ends, passed or failed.
    let base_tmp = tempfile::Builder::new().prefix("planp-sim-det-").tempdir().unwrap();
    let base = base_tmp.path().to_path_buf();
    let runs: Vec<(Report, Vec<u8>)> = [Engine::Jit, Engine::Jit, Engine::Interp]
        .iter()
        .enumerate()
        .map(|(i, &e)| {
            let out = base.join(i.to_string());
            let mut r = run(&t, e, Some(out.clone()));
            r.engine = Engine::Interp; // the only field allowed to differ
            (r, std::fs::read(out.join("router-segment.pcap")).unwrap())
        })
        .collect();
    assert!(runs[0].0.nodes.iter().any(|(_, n)| n.channel_runs > 0));
    assert_eq!(runs[0], runs[1], "the same topology and seed give the same run");
    assert_eq!(runs[0], runs[2], "the interpreter and the JIT give the same run");
}

/// A mistake in a topology: its message, and the text it points at.
fn mistake(text: &str) -> (String, Option<String>) {
    let path = std::env::temp_dir().join("planp-sim-mistake.toml");
    let e = topology::parse(&path, text).expect_err("a mistake");
    (e.message().to_string(), e.pointed().map(str::to_string))
}

#[test]
fn mistakes_in_a_topology_are_pointed_at() {
    let two = "[sim]\nduration = 1\n[[node]]\nname = \"a\"\naddress = \"10.0.0.1\"\n[[node]]\nname = \"b\"\naddress = \"10.0.0.2\"\n";
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("[[link]]\nbetween = [\"a\", \"c\"]\nbandwidth = \"1Mb/s\"\n", "no node is named `c`", Some("\"c\"")),
        ("[[link]]\nbetween = [\"a\", \"b\"]\nbandwidth = 1000\n", "not a bandwidth", Some("1000")),
        ("[[link]]\nbetween = [\"a\", \"b\"]\nbandwidth = \"1MB\"\n", "not a bandwidth", Some("\"1MB\"")),
        ("[[link]]\nbetween = [\"a\"]\nbandwidth = \"1Mb/s\"\n", "a link is between two nodes", Some("[\"a\"]")),
        ("[[link]]\nbetween = [\"a\", \"a\"]\nbandwidth = \"1Mb/s\"\n", "a link joins two different nodes", None),
        ("[[node]]\nname = \"c\"\naddress = \"10.0.0.1\"\n", "`c` has the address of `a`", Some("\"10.0.0.1\"")),
        ("[[node]]\nname = \"c\"\naddress = \"10.0.0\"\n", "`10.0.0` is not an IPv4 address", Some("\"10.0.0\"")),
        ("[[node]]\nname = \"a\"\naddress = \"10.0.0.3\"\n", "two nodes are named `a`", Some("\"a\"")),
        (
            "[[node]]\nname = \"c\"\naddress = \"10.0.0.3\"\nkind = \"switch\"\n",
            "no node kind `switch`",
            Some("\"switch\""),
        ),
        (
            "[[node]]\nname = \"c\"\naddress = \"10.0.0.3\"\nkind = \"hub\"\nprogram = \"p.planp\"\n",
            "a hub runs no program",
            Some("\"p.planp\""),
        ),
        ("[[source]]\nkind = \"video\"\nfrom = \"a\"\n", "no source kind `video`", Some("\"video\"")),
        ("[[source]]\nkind = \"audio\"\nfrom = \"a\"\n", "a source of kind `audio` needs `to`", Some("\"audio\"")),
        (
            "[[source]]\nkind = \"audio\"\nfrom = \"a\"\nto = \"b\"\nphases = []\n",
            "a source of kind `audio` has no `phases`",
            Some("\"audio\""),
        ),
        (
            "[[source]]\nkind = \"load\"\nfrom = \"a\"\nto = \"b\"\nphases = [{ at = 2, rate = \"1kB/s\" }, { at = 1, rate = \"1kB/s\" }]\n",
            "phases must be in time order",
            Some("1"),
        ),
        ("[[route]]\nat = \"a\"\nto = \"10.0.0.0/40\"\nvia = \"b\"\n", "`b` is not a neighbour of `a`", Some("\"b\"")),
        (
            "[[node]]\nname = \"c\"\naddress = \"10.0.0.3\"\nprogram = \"nowhere.planp\"\n",
            "cannot read",
            Some("\"nowhere.planp\""),
        ),
        ("[[link]]\nbetwen = [\"a\", \"b\"]\n", "unknown field `betwen`", Some("betwen")),
    ];
    for (extra, message, pointed) in cases {
        let (m, p) = mistake(&format!("{two}{extra}"));
        assert!(m.contains(message), "{extra}: got {m:?}, expected {message:?}");
        if let Some(pointed) = pointed {
            assert_eq!(p.as_deref(), Some(*pointed), "{extra}: {m}");
        }
    }
    let (m, _) = mistake("[[node]]\nname = \"a\"\naddress = \"10.0.0.1\"\n");
    assert!(m.contains("missing field `sim`"), "{m}");
    let (m, p) = mistake("[sim]\nduration = \"0s\"\n");
    assert_eq!((m.as_str(), p.as_deref()), ("the simulation must last some time", Some("\"0s\"")));
}

#[test]
fn a_program_that_fails_verification_runs_only_when_the_node_says_so() {
    // Removed when the test ends, passed or failed.
    let dir_tmp = tempfile::Builder::new().prefix("planp-sim-verify-").tempdir().unwrap();
    let dir = dir_tmp.path().to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    // Drops every packet: fails delivery.
    std::fs::write(dir.join("drop.planp"), "channel network(ps : int, ss : unit, p : ip*udp*blob) is (ps, ss)\n")
        .unwrap();
    let text = CHAIN.replace(
        "kind = \"router\"\n[[node]]\nname = \"r2\"",
        "kind = \"router\"\nprogram = \"drop.planp\"\n[[node]]\nname = \"r2\"",
    );
    std::fs::write(dir.join("topology.toml"), &text).unwrap();
    let t = topology::parse(&dir.join("topology.toml"), &text).unwrap();
    match sim::run(&t, &Options { engine: Engine::Interp, out: None, without: vec![] }, "x") {
        Err(sim::SimError::Verify { node, failed, .. }) => {
            assert_eq!((node.as_str(), failed), ("r1", vec!["delivery"]))
        }
        other => panic!("expected a verification error, got {:?}", other.map(|r| r.label)),
    }
    let text = text.replace("program = \"drop.planp\"", "program = \"drop.planp\"\nunverified = true");
    let t = topology::parse(&dir.join("topology.toml"), &text).unwrap();
    let r = run(&t, Engine::Interp, None);
    assert_eq!((node(&r, "r1").channel_runs, node(&r, "b").received), (100, 0));
}

/// The trace: a line per event, with the time, the node and what happened, in order.
#[test]
fn the_trace_tells_each_frame_s_way() {
    // Removed when the test ends, passed or failed.
    let dir_tmp = tempfile::Builder::new().prefix("planp-sim-trace-").tempdir().unwrap();
    let dir = dir_tmp.path().to_path_buf();
    let t = topo("trace", &format!("{CHAIN}\n[record]\ntrace = true\n"));
    run(&t, Engine::Interp, Some(dir.clone()));
    let trace = std::fs::read_to_string(dir.join("trace.txt")).unwrap();
    let first: Vec<&str> = trace.lines().take(4).collect();
    // 1810 bytes at 100 Mb/s: 144.8 µs per hop, no delay.
    let at = |k: u64, rest: &str| format!("{:>12.6} {rest}", (k * 144_800) as f64 / 1e9);
    let want = [
        at(0, "a        in  1810 bytes from its applications"),
        at(1, "r1       in  1810 bytes from a"),
        at(2, "r2       in  1810 bytes from r1"),
        at(3, "b        in  1810 bytes from r2"),
    ];
    assert_eq!(first, want);
    assert_eq!(trace.lines().filter(|l| l.ends_with("received 1810 bytes")).count(), 100);
    let times: Vec<f64> = trace.lines().map(|l| l.split_whitespace().next().unwrap().parse().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order");
}
