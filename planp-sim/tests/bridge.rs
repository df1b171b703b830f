//! The learning bridge (`examples/bridge`) on simulated networks, under both engines:
//! on a tree every frame reaches its host exactly once, and a station's frames are
//! flooded only until the bridges have heard from it (checked on the captures of every
//! link); on a topology with a loop, flooding never settles: frames circle until the
//! hop limit and hosts get copies (what the verifier's rejection of the bridge warns of).

use planp_interp::Engine;
use planp_interp::capture::Reader;
use planp_sim::sim::{self, Options, Report, mac};
use planp_sim::topology::{self, Topology};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn example() -> (PathBuf, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("examples/bridge/topology.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    (path, text)
}

fn run(t: &Topology, engine: Engine, out: Option<PathBuf>) -> Report {
    sim::run(t, &Options { engine, out, without: Vec::new() }, "bridge").unwrap_or_else(|e| panic!("{e}"))
}

fn stats<'r>(r: &'r Report, name: &str) -> &'r sim::NodeStats {
    &r.nodes.iter().find(|(n, _)| n == name).unwrap().1
}

fn frames(p: &Path) -> Vec<(u64, Vec<u8>)> {
    let mut rd = Reader::open(p).unwrap();
    let mut v = Vec::new();
    while let Some(f) = rd.next() {
        let f = f.unwrap();
        v.push((f.ts_ns, f.data));
    }
    v
}

#[test]
fn on_a_tree_each_frame_arrives_once_and_flooding_stops_once_a_station_has_spoken() {
    let (path, text) = example();
    let t = topology::parse(&path, &text).unwrap();
    let addr = |n: &str| t.nodes.iter().find(|x| x.name == n).unwrap().address;
    // Removed when the test ends, passed or failed.
    let out_tmp = tempfile::Builder::new().prefix("planp-sim-bridge-").tempdir().unwrap();
    let out = out_tmp.path().to_path_buf();
    let r = run(&t, Engine::Jit, Some(out.clone()));
    // The bridges fail verification, but the tree has no loop: no warning of one.
    let w = sim::warnings(&t);
    assert_eq!(w.len(), 2);
    assert!(
        w.iter().all(|w| w.ends_with("fails verification (global termination, delivery, linear duplication)")),
        "{w:?}"
    );
    let mut interp = run(&t, Engine::Interp, None);
    interp.engine = Engine::Jit;
    assert_eq!(r, interp, "the engines give the same run");

    // What each host's sources sent is what the link from it carried; what it was sent
    // by the others is what it received: exactly once, none lost, none duplicated.
    let link = |n: &str| &r.links.iter().find(|(x, _)| x == n).unwrap().1;
    let pairs = [("h1", "h3"), ("h3", "h1"), ("h2", "h4"), ("h4", "h2")];
    for (from, to) in pairs {
        let br = if from == "h1" || from == "h2" { "br1" } else { "br2" };
        let sent = link(&format!("{from}-{br} {from}>{br}")).frames;
        assert!(sent > 50, "{from} sent {sent}");
        assert_eq!(stats(&r, to).received, sent, "{to} receives what {from} sent, once");
    }

    // When did each bridge first hear from each station? From the captures: a frame
    // that starts on a link at `ts` arrives at its other end after its transmission
    // and the link's delay.
    let bw = 100_000_000u64;
    let mut heard: BTreeMap<(&str, [u8; 6]), u64> = BTreeMap::new();
    let mut flooded: Vec<(&str, [u8; 6], u64)> = Vec::new();
    for (host, br) in [("h1", "br1"), ("h2", "br1"), ("h3", "br2"), ("h4", "br2")] {
        let own = mac(addr(host));
        for (ts, f) in frames(&out.join(format!("{host}-{br}.pcap"))) {
            let (dst, src): ([u8; 6], [u8; 6]) = (f[..6].try_into().unwrap(), f[6..12].try_into().unwrap());
            if src == own {
                let at = ts + (f.len() as u64 * 8 * 1_000_000_000).div_ceil(bw);
                heard.entry((br, src)).or_insert(at);
            } else if dst != own {
                // A frame for another station, sent to this host: flooded by `br`.
                flooded.push((br, dst, ts));
            }
        }
    }
    for (ts, f) in frames(&out.join("br1-br2.pcap")) {
        let src: [u8; 6] = f[6..12].try_into().unwrap();
        let to = if src == mac(addr("h1")) || src == mac(addr("h2")) { "br2" } else { "br1" };
        let at = ts + (f.len() as u64 * 8 * 1_000_000_000).div_ceil(bw) + 1_000_000;
        heard.entry((to, src)).or_insert(at);
    }
    assert!(!flooded.is_empty(), "frames to stations not yet heard from are flooded");
    for (br, dst, ts) in &flooded {
        let learnt = heard.get(&(*br, *dst)).copied().unwrap_or(u64::MAX);
        // A frame leaves the bridge when it is processed, or after the one frame ahead
        // of it in the queue (1000 bytes at 100 Mb/s: 80 µs).
        assert!(*ts <= learnt + 80_000, "{br} flooded a frame for {dst:?} at {ts}, after hearing from it at {learnt}");
    }
    // And after that, nothing more is flooded to a host: the floods are only the frames
    // of the first moments of each conversation.
    let total: u64 = pairs.iter().map(|(_, to)| stats(&r, to).received).sum();
    assert!((flooded.len() as u64) * 3 < total, "{} floods for {total} frames", flooded.len());
}

#[test]
fn on_a_loop_flooding_never_settles() {
    let (path, text) = example();
    // A third bridge closes a loop br1 - br2 - br3 - br1.
    let text = text
        + r#"
[[node]]
name = "br3"
address = "10.1.0.3"
kind = "bridge"
program = "bridge.planp"
unverified = true

[[link]]
between = ["br2", "br3"]
bandwidth = "100Mb/s"
delay = "1ms"

[[link]]
between = ["br3", "br1"]
bandwidth = "100Mb/s"
delay = "1ms"
"#;
    let t = topology::parse(&path, &text).unwrap();
    // Said before the run: the bridges fail verification and sit on a loop.
    let w = sim::warnings(&t);
    assert_eq!(w.len(), 3, "{w:?}");
    for (w, b) in w.iter().zip(["br1", "br2", "br3"]) {
        assert!(w.starts_with(&format!("node `{b}` runs a program that fails verification (global termination, delivery, linear duplication), and the topology has a loop through it ({b} - ")), "{w}");
        assert!(w.contains(&format!(" - {b}): ")), "{w}");
    }
    let r = run(&t, Engine::Jit, None);
    let circled: u64 = r.nodes.iter().map(|(_, n)| n.dropped.get("hop limit").copied().unwrap_or(0)).sum();
    assert!(circled > 0, "frames go round the loop until the hop limit");
    let sent = r.links.iter().find(|(x, _)| x == "h1-br1 h1>br1").unwrap().1.frames;
    let got = stats(&r, "h3").received;
    assert!(got > sent, "h3 gets copies: {got} frames for {sent} sent");
}
