//! Multipoint MPEG (`examples/mpeg`) on a simulated shared segment (a hub): the monitor
//! watches client A's control connection to the video server, client B asks the monitor
//! about the same file, the monitor's answer crosses the segment, and B's client program
//! then delivers the stream sent to A as it passes, while A still gets every packet once.
//! The control packets and B's query are captures made here; the stream is a load
//! source from the server to A's port. Both engines give the same run.

use etherparse::PacketBuilder;
use planp_interp::capture::{Reader, Writer};
use planp_interp::packet::encap;
use planp_interp::{Engine, LinkType};
use planp_sim::sim::{self, Options, Report};
use planp_sim::topology;
use std::path::Path;

const SERVER: [u8; 4] = [10, 0, 0, 100];
const A: [u8; 4] = [10, 0, 0, 1];
const B: [u8; 4] = [10, 0, 0, 2];
const MONITOR: [u8; 4] = [10, 0, 0, 50];

fn tcp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2([2; 6], [2; 6]).ipv4(src, dst, 64).tcp(sport, dport, 1, 8192);
    let mut f = Vec::new();
    b.psh().ack(1).write(&mut f, data).unwrap();
    f
}

/// A capture of one frame at `t` seconds, of link type `lt`.
fn capture(path: &Path, lt: LinkType, t: u64, frame: &[u8]) {
    let mut w = Writer::create(path, lt, true).unwrap();
    w.write(t * 1_000_000_000, frame, frame.len() as u32).unwrap();
    w.finish().unwrap();
}

/// The scenario's files in a directory removed when the returned value is dropped.
fn setup(file_b_wants: &str) -> (tempfile::TempDir, topology::Topology) {
    let dir_tmp = tempfile::Builder::new().prefix("planp-sim-mpeg-").tempdir().unwrap();
    let dir = dir_tmp.path().to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    capture(&dir.join("a.pcap"), LinkType::ETHERNET, 1, &tcp(A, SERVER, 3000, 7000, b"GET movie.mpg\n"));
    capture(&dir.join("server.pcap"), LinkType::ETHERNET, 1, &tcp(SERVER, A, 7000, 3000, b"OK 5004 352x240 30fps\n"));
    // B's question to the monitor: (B's address, the file), on the user channel `query`.
    let mut q = B.to_vec();
    q.extend((file_b_wants.len() as u32).to_be_bytes());
    q.extend(file_b_wants.as_bytes());
    let query = encap::packet(u32::from_be_bytes(B), u32::from_be_bytes(MONITOR), "query", 0, &q);
    capture(&dir.join("b.pcap"), LinkType::RAW, 3, &query);
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("examples/mpeg");
    let ip = |a: [u8; 4]| std::net::Ipv4Addr::from(a).to_string();
    let text = format!(
        r#"
[sim]
duration = "7s"
[[node]]
name = "seg"
address = "10.0.0.254"
kind = "hub"
[[node]]
name = "server"
address = "{server}"
[[node]]
name = "monitor"
address = "{monitor}"
program = "{ex}/monitor.planp"
[[node]]
name = "a"
address = "{a}"
program = "{ex}/client.planp"
[[node]]
name = "b"
address = "{b}"
program = "{ex}/client.planp"
[[link]]
between = ["server", "seg"]
bandwidth = "100Mb/s"
[[link]]
between = ["monitor", "seg"]
bandwidth = "100Mb/s"
[[link]]
between = ["a", "seg"]
bandwidth = "100Mb/s"
[[link]]
between = ["b", "seg"]
bandwidth = "100Mb/s"
[[source]]
kind = "capture"
from = "a"
file = "a.pcap"
start = "1s"
[[source]]
kind = "capture"
from = "server"
file = "server.pcap"
start = "1.01s"
[[source]]
kind = "capture"
from = "b"
file = "b.pcap"
start = "3s"
[[source]]
kind = "load"
from = "server"
to = "a"
port = 5004
size = 300
phases = [{{ at = "2s", rate = "30kB/s" }}, {{ at = "6s", rate = "0B/s" }}]
[record]
captures = ["b-seg", "server-seg"]
"#,
        server = ip(SERVER),
        monitor = ip(MONITOR),
        a = ip(A),
        b = ip(B),
        ex = examples.display()
    );
    std::fs::write(dir.join("topology.toml"), &text).unwrap();
    let t = topology::parse(&dir.join("topology.toml"), &text).unwrap();
    (dir_tmp, t)
}

fn run(t: &topology::Topology, engine: Engine, out: &Path) -> Report {
    sim::run(t, &Options { engine, out: Some(out.to_path_buf()), without: vec![] }, "mpeg").unwrap()
}

fn stats<'r>(r: &'r Report, name: &str) -> &'r sim::NodeStats {
    &r.nodes.iter().find(|(n, _)| n == name).unwrap().1
}

/// The UDP destination port and IP destination of each frame of a capture, in order.
fn udp_frames(p: &Path) -> Vec<(u16, [u8; 4])> {
    let mut rd = Reader::open(p).unwrap();
    let mut v = Vec::new();
    while let Some(f) = rd.next() {
        let f = f.unwrap().data;
        if f[23] == 17 {
            v.push((u16::from_be_bytes([f[36], f[37]]), f[30..34].try_into().unwrap()));
        }
    }
    v
}

#[test]
fn a_second_client_gets_the_stream_on_the_segment() {
    let (tmp, t) = setup("movie.mpg");
    let dir = tmp.path();
    let r = run(&t, Engine::Jit, &dir.join("jit"));
    let mut i = run(&t, Engine::Interp, &dir.join("interp"));
    i.engine = Engine::Jit;
    assert_eq!(r, i, "the engines give the same run");

    // The stream the server sent to A.
    let stream = udp_frames(&dir.join("jit/server-seg.pcap")).iter().filter(|&&(p, d)| p == 5004 && d == A).count();
    assert!(stream > 300, "{stream} stream packets");
    // A gets the server's answer and every stream packet, once: B and the monitor send
    // what passes on, and on a segment that is not forwarded again.
    assert_eq!(stats(&r, "a").received, 1 + stream as u64);
    assert_eq!(stats(&r, "a").delivered, 0, "A's client program captured nothing: no answer for it");
    // The monitor's answer reached B over the hub (OnNeighbor to a node on the
    // segment); from then on B delivers each stream packet that passes.
    let at_b = udp_frames(&dir.join("jit/b-seg.pcap"));
    let answer = at_b.iter().position(|&(p, d)| p == encap::PORT && d == B).expect("the answer crossed B's link");
    let after = at_b[answer..].iter().filter(|&&(p, d)| p == 5004 && d == A).count() as u64;
    assert!(after > 200 && (after as usize) < stream, "the stream started before the answer: {after} of {stream}");
    assert_eq!(stats(&r, "b").delivered, after);
    assert_eq!(stats(&r, "monitor").channel_runs, 3, "the two control packets and the query");
}

#[test]
fn a_file_not_being_served_is_not_captured() {
    let (tmp, t) = setup("other.mpg");
    let dir = tmp.path();
    let r = run(&t, Engine::Jit, &dir.join("jit"));
    assert_eq!(stats(&r, "b").delivered, 0);
    assert!(stats(&r, "a").received > 300);
}

/// tshark reads the segment's captures with good checksums: the control connection,
/// B's query and the monitor's answer (the channel encapsulation, UDP 3324), the stream.
/// Needs tshark (`.ci/run` installs it); `PLANP_SKIP_TSHARK=1` skips it.
#[test]
fn tshark_reads_the_segment() {
    if std::process::Command::new("tshark").arg("--version").output().is_err() {
        assert!(std::env::var_os("PLANP_SKIP_TSHARK").is_some(), "this test needs tshark (apt-get install tshark)");
        return;
    }
    let (tmp, t) = setup("movie.mpg");
    let dir = tmp.path();
    run(&t, Engine::Jit, &dir.join("tshark"));
    let mut kinds = std::collections::BTreeSet::new();
    for link in ["b-seg", "server-seg"] {
        let o = std::process::Command::new("tshark")
            .args(["-n", "-r"])
            .arg(dir.join(format!("tshark/{link}.pcap")))
            .args(["-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"])
            .args(["-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"])
            .args(["-e", "ip.checksum.status", "-e", "tcp.checksum.status", "-e", "udp.checksum.status"])
            .args(["-e", "tcp.dstport", "-e", "udp.dstport"])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.lines().count() > 100, "{link}: {out}");
        for l in out.lines() {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f[0], "1", "{link}: IP checksum: {l}");
            assert!(f[1] == "1" || f[2] == "1", "{link}: TCP or UDP checksum: {l}");
            kinds.insert(if f[3].is_empty() { format!("udp {}", f[4]) } else { "tcp".to_string() });
        }
    }
    let want: std::collections::BTreeSet<String> =
        ["tcp", "udp 3324", "udp 5004"].iter().map(|s| s.to_string()).collect();
    assert_eq!(kinds, want, "the control connection, the query and the answer, the stream");
}
