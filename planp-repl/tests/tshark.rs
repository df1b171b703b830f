//! Captures written by `planp run` are read by an independent tool, tshark, which checks
//! the rewrites and the IP, TCP and UDP checksums.
//!
//! These tests need tshark (`.ci/run` installs it). Without it they fail, unless
//! `PLANP_SKIP_TSHARK=1` is set, in which case they say they were skipped.

use planp_interp::LinkType;
use planp_interp::capture::Writer;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Is tshark there? Panics with instructions if not (unless skipping is asked for).
fn have_tshark() -> bool {
    if Command::new("tshark").arg("--version").output().is_ok_and(|o| o.status.success()) {
        return true;
    }
    if std::env::var_os("PLANP_SKIP_TSHARK").is_some() {
        eprintln!("tshark is not installed: skipped (PLANP_SKIP_TSHARK is set)");
        return false;
    }
    panic!("these tests need tshark: `apt-get install tshark` (or set PLANP_SKIP_TSHARK=1 to skip them)");
}

/// A path `name` in a directory of its own, removed (with what was written there) when
/// the value is dropped, passed or failed.
struct Tmp {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl std::ops::Deref for Tmp {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for Tmp {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

fn tmp(name: &str) -> Tmp {
    let dir = tempfile::Builder::new().prefix("planp-tshark-").tempdir().unwrap();
    let path = dir.path().join(name);
    Tmp { _dir: dir, path }
}

fn planp_run(program: &Path, input: &Path, out: &Path) {
    let o = Command::new(env!("CARGO_BIN_EXE_planp"))
        .args(["run", program.to_str().unwrap(), "--pcap", input.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "planp run failed: {}", String::from_utf8_lossy(&o.stderr));
}

/// tshark's reading of a capture: one row per packet of the given fields (first
/// occurrence), with checksum validation on.
fn tshark(path: &Path, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r", path.to_str().unwrap()]);
    for o in ["ip.check_checksum:TRUE", "tcp.check_checksum:TRUE", "udp.check_checksum:TRUE"] {
        cmd.args(["-o", o]);
    }
    cmd.args(["-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let o = cmd.output().unwrap();
    String::from_utf8_lossy(&o.stdout).lines().map(|l| l.split('\t').map(str::to_string).collect()).collect()
}

/// Figure 2's load balancer, and its weighted variant, over a real HTTP conversation:
/// every request is sent to a physical server, replies keep the virtual address, and
/// every checksum verifies.
#[test]
fn figure2_over_an_http_capture() {
    for program in ["examples/paper/figure2.planp", "examples/loadbalancer/weighted.planp"] {
        balancer_over_an_http_capture(program);
    }
}

fn balancer_over_an_http_capture(program: &str) {
    if !have_tshark() {
        return;
    }
    let out = tmp(&format!("{}.pcap", program.replace('/', "-")));
    planp_run(&root().join(program), &root().join("testdata/pcaps/corpus/print-flags.pcap"), &out);
    let rows =
        tshark(&out, &["ip.src", "ip.dst", "tcp.srcport", "tcp.dstport", "ip.checksum.status", "tcp.checksum.status"]);
    assert_eq!(rows.len(), 10, "{program}");
    for r in &rows {
        assert_eq!((r[4].as_str(), r[5].as_str()), ("1", "1"), "{program}: checksums verify: {r:?}");
        if r[3] == "80" {
            assert!(
                r[1] == "131.254.60.81" || r[1] == "131.254.60.109",
                "{program}: a request goes to a physical server: {r:?}"
            );
        } else {
            assert_eq!(r[0], "127.0.0.1", "{program}: a reply keeps the virtual server's address: {r:?}");
        }
    }
}

/// A synthetic Ethernet capture with two HTTP clients: the first connection goes to
/// server 1, the second to server 0, and replies from a physical server get the virtual
/// server's address back.
#[test]
fn figure2_balances_two_clients() {
    if !have_tshark() {
        return;
    }
    let vs = [131, 254, 60, 1];
    let s1 = [131, 254, 60, 109];
    let pkt = |src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, flags: u8, data: &[u8]| {
        let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
        let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0];
        ip.extend(src);
        ip.extend(dst);
        ip.extend(sport.to_be_bytes());
        ip.extend(dport.to_be_bytes());
        ip.extend([0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        ip.extend(data);
        let n = ip.len() as u16;
        ip[2..4].copy_from_slice(&n.to_be_bytes());
        f.extend(ip);
        f
    };
    let input = tmp("two-clients.pcap");
    let mut w = Writer::create(&input, LinkType::ETHERNET, false).unwrap();
    let frames = [
        pkt([10, 0, 0, 1], vs, 1111, 80, 0x02, b""),
        pkt([10, 0, 0, 2], vs, 2222, 80, 0x02, b""),
        pkt([10, 0, 0, 1], vs, 1111, 80, 0x18, b"GET / HTTP/1.0\r\n\r\n"),
        pkt(s1, [10, 0, 0, 1], 80, 1111, 0x18, b"HTTP/1.0 200 OK\r\n\r\n"),
    ];
    for (i, f) in frames.iter().enumerate() {
        w.write(1_000_000_000 * (i as u64 + 1), f, f.len() as u32).unwrap();
    }
    w.finish().unwrap();
    let out = tmp("two-clients-out.pcap");
    planp_run(&root().join("examples/paper/figure2.planp"), &input, &out);
    let rows = tshark(&out, &["ip.src", "ip.dst", "ip.checksum.status", "tcp.checksum.status", "eth.type"]);
    let pairs: Vec<(&str, &str)> = rows.iter().map(|r| (r[0].as_str(), r[1].as_str())).collect();
    assert_eq!(
        pairs,
        vec![
            ("10.0.0.1", "131.254.60.109"),
            ("10.0.0.2", "131.254.60.81"),
            ("10.0.0.1", "131.254.60.109"),
            ("131.254.60.1", "10.0.0.1"),
        ]
    );
    assert!(rows.iter().all(|r| r[2] == "1" && r[3] == "1" && r[4] == "0x0800"), "{rows:?}");
}

/// The transport protocol right after the outer IP header, from tshark's list of
/// protocols in the frame (IPv6 extension headers skipped).
fn outer_transport(protocols: &str) -> Option<&str> {
    let mut it = protocols.split(':').skip_while(|p| *p != "ip" && *p != "ipv6").skip(1);
    it.find(|p| !p.starts_with("ipv6."))
}

/// Header rewrites over every capture of the corpus: tshark finds no bad checksum in the
/// packets written (a checksum tshark cannot verify, of a packet the capture cut short,
/// is not bad).
#[test]
fn rewritten_corpus_has_good_checksums() {
    if !have_tshark() {
        return;
    }
    let program = tmp("rewrite.planp");
    std::fs::write(
        &program,
        "channel network(ps : unit, ss : unit, p : ip*tcp*blob) is
           (OnRemote(network, (ipTtlSet(#1 p, ipTtl(#1 p) - 1), tcpDstSet(#2 p, tcpDst(#2 p) + 1), #3 p)); (ps, ss))
         channel network(ps : unit, ss : unit, p : ip*udp*blob) is
           (OnRemote(network, (ipDstSet(#1 p, 10.9.9.9), udpSrcSet(#2 p, 4242), #3 p)); (ps, ss))
         channel network(ps : unit, ss : unit, p : ip6*tcp*blob) is
           (OnRemote(network, (ip6HopLimitSet(#1 p, 1), tcpSrcSet(#2 p, 7), #3 p)); (ps, ss))
         channel network(ps : unit, ss : unit, p : ip6*udp*blob) is
           (OnRemote(network, (#1 p, udpDstSet(#2 p, 9), #3 p)); (ps, ss))
         channel network(ps : unit, ss : unit, p : ip*blob) is (OnRemote(network, (ipTtlSet(#1 p, 9), #2 p)); (ps, ss))",
    )
    .unwrap();
    let mut checked = 0;
    let mut bad = Vec::new();
    let corpus = root().join("testdata/pcaps/corpus");
    let mut names: Vec<_> = std::fs::read_dir(&corpus).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    for name in names {
        let out = tmp("rewritten.pcap");
        planp_run(&program, &corpus.join(&name), &out);
        let fields =
            ["frame.number", "frame.protocols", "ip.checksum.status", "tcp.checksum.status", "udp.checksum.status"];
        for r in tshark(&out, &fields) {
            let status = |i: usize| r.get(i).map(String::as_str).unwrap_or("");
            let mut check = |what: &str, s: &str| {
                checked += 1;
                if s == "0" {
                    bad.push(format!("{} #{}: bad {what} checksum", name.to_string_lossy(), status(0)));
                }
            };
            if status(1).starts_with("eth:ethertype:ip:") || status(1).starts_with("ip:") || status(1).contains(":ip:")
            {
                check("IP", status(2));
            }
            match outer_transport(status(1)) {
                Some("tcp") => check("TCP", status(3)),
                Some("udp") => check("UDP", status(4)),
                _ => {}
            }
        }
    }
    assert!(checked > 3000, "only {checked} checksums checked");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The check above can fail: tshark reports the offloaded (partial) TCP checksum of the
/// original BIG TCP capture as bad, and the same fields show it.
#[test]
fn the_checksum_check_can_fail() {
    if !have_tshark() {
        return;
    }
    let rows =
        tshark(&root().join("testdata/pcaps/corpus/bigtcp-ipv4.pcap"), &["frame.protocols", "tcp.checksum.status"]);
    assert_eq!(outer_transport(&rows[0][0]), Some("tcp"));
    assert_eq!(rows[0][1], "0", "tshark sees the input's TCP checksum as bad");
}

/// Timestamps and lengths read from pcap files of both byte orders, with microsecond and
/// nanosecond resolution, and from pcapng files, are tshark's.
#[test]
fn capture_reading_agrees_with_tshark() {
    if !have_tshark() {
        return;
    }
    for name in [
        "pptp.pcap",
        "tcp-handshake-nano.pcap",
        "print-flags.pcap",
        "bgp-role.pcapng",
        "OSPFv2_Capture_FINAL.pcapng",
        "icmpv6-length-zero.pcapng",
    ] {
        let path = root().join("testdata/pcaps/corpus").join(name);
        let theirs = tshark(&path, &["frame.time_epoch", "frame.len", "frame.cap_len"]);
        let mut r = planp_interp::capture::Reader::open(&path).unwrap();
        for (i, row) in theirs.iter().enumerate() {
            let p = r.next().unwrap().unwrap();
            let ts = format!("{}.{:09}", p.ts_ns / 1_000_000_000, p.ts_ns % 1_000_000_000);
            assert_eq!(
                (ts.as_str(), p.orig_len.to_string(), p.data.len().to_string()),
                (row[0].as_str(), row[1].clone(), row[2].clone()),
                "{name} #{}",
                i + 1
            );
        }
        assert!(r.next().is_none(), "{name}: more packets than tshark reads");
    }
}

/// tshark reads the captures `planp sim` writes, with good checksums: the audio
/// experiment's segment (original, 16-bit mono and 8-bit mono audio, the background
/// load) and every link of the bridged network.
#[test]
fn simulated_captures_have_good_checksums() {
    if !have_tshark() {
        return;
    }
    let out = tmp("sim-audio");
    let topo = root().join("examples/audio/topology.toml");
    let o = Command::new(env!("CARGO_BIN_EXE_planp"))
        .args(["sim", topo.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows = tshark(
        &out.join("router-segment.pcap"),
        &["udp.dstport", "udp.length", "ip.checksum.status", "udp.checksum.status"],
    );
    let mut by_kind = std::collections::BTreeMap::new();
    for r in &rows {
        assert_eq!((r[2].as_str(), r[3].as_str()), ("1", "1"), "checksums verify: {r:?}");
        let kind = match (r[0].as_str(), r[1].as_str()) {
            ("5004", "1776") => "stereo",     // 8 + 4 + 1764
            ("5006", "895") => "16-bit mono", // 8 + 4 + 1 + 882
            ("5006", "454") => "8-bit mono",  // 8 + 4 + 1 + 441
            ("9", "966") => "load",           // a 1000-byte frame
            other => panic!("unexpected datagram {other:?}"),
        };
        *by_kind.entry(kind).or_insert(0u64) += 1;
    }
    assert_eq!(by_kind.len(), 4, "{by_kind:?}");
    let summary = String::from_utf8_lossy(&o.stdout);
    let frames: u64 = summary
        .lines()
        .find(|l| l.contains("router-segment router>segment"))
        .unwrap()
        .split_whitespace()
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(rows.len() as u64, frames, "every frame the summary counts is in the capture");

    let out = tmp("sim-bridge");
    let topo = root().join("examples/bridge/topology.toml");
    let o = Command::new(env!("CARGO_BIN_EXE_planp"))
        .args(["sim", topo.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for link in ["br1-br2", "h1-br1", "h2-br1", "h3-br2", "h4-br2"] {
        let rows = tshark(&out.join(format!("{link}.pcap")), &["ip.checksum.status", "udp.checksum.status"]);
        assert!(!rows.is_empty(), "{link}");
        for r in rows {
            assert_eq!(r, ["1", "1"], "{link}: checksums verify");
        }
    }
}
