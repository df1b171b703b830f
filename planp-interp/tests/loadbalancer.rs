//! The load-balancing gateway of the paper (section 3.2): figure 2's strategy
//! (`examples/paper/figure2.planp`, the servers alternate) and a second one
//! (`examples/loadbalancer/weighted.planp`, weighted round robin), checked for what they
//! do, under both engines: each new connection goes to the server its strategy says,
//! every later packet of a connection to the same server, replies get the virtual
//! server's address back as their source, every checksum of what is sent verifies, and
//! both programs pass the safety verifier. Over synthetic conversations (many clients)
//! and over the real HTTP conversations of the corpus.

mod examples;

use etherparse::{PacketBuilder, SlicedPacket, TransportSlice};
use planp_interp::capture::Reader;
use planp_interp::{Engine, LinkType, Node, NodeConfig};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const VS: [u8; 4] = [131, 254, 60, 1];
const SERVERS: [[u8; 4]; 2] = [[131, 254, 60, 81], [131, 254, 60, 109]];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn frame(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, seq: u32, syn: bool, data: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src, dst, 64)
        .tcp(sport, dport, seq, 8192);
    let b = if syn { b.syn() } else { b.psh().ack(1) };
    let mut f = Vec::with_capacity(b.size(data.len()));
    b.write(&mut f, data).unwrap();
    f
}

/// Addresses and ports of a frame, and whether its IP and TCP checksums verify.
fn read(f: &[u8]) -> ([u8; 4], [u8; 4], u16, u16, bool) {
    let p = SlicedPacket::from_ethernet(f).expect("an Ethernet frame");
    let Some(etherparse::NetSlice::Ipv4(ip)) = &p.net else { panic!("IPv4") };
    let Some(TransportSlice::Tcp(tcp)) = &p.transport else { panic!("TCP") };
    let h = ip.header().to_header();
    let ip_ok = h.calc_header_checksum() == h.header_checksum;
    let tcp_ok = tcp.to_header().calc_checksum_ipv4(&h, tcp.payload()).ok() == Some(tcp.checksum());
    (h.source, h.destination, tcp.source_port(), tcp.destination_port(), ip_ok && tcp_ok)
}

/// `n` clients each open a connection (SYN), send a request, and get a reply from the
/// server that took them (`server_of`), the connections interleaved.
fn conversations(n: usize, server_of: &dyn Fn(usize) -> usize) -> Vec<Vec<u8>> {
    let client = |k: usize| ([10, 0, (k / 200) as u8, (k % 200 + 1) as u8], 20000 + k as u16);
    let mut out = Vec::new();
    for k in 0..n {
        let (c, port) = client(k);
        out.push(frame(c, VS, port, 80, 100, true, b""));
    }
    for k in 0..n {
        let (c, port) = client(k);
        out.push(frame(c, VS, port, 80, 101, false, format!("GET /page{k}.html HTTP/1.0\r\n\r\n").as_bytes()));
        out.push(frame(SERVERS[server_of(k)], c, 80, port, 500, false, b"HTTP/1.0 200 OK\r\n\r\nhello"));
    }
    out
}

/// Run `frames` through the program under `engine`: every frame sent.
fn run(
    prog: &std::sync::Arc<planp_interp::Program>,
    engine: Engine,
    frames: &[Vec<u8>],
    lt: LinkType,
) -> Vec<Vec<Vec<u8>>> {
    let mut node = Node::new(prog.clone(), NodeConfig { engine, ..NodeConfig::default() }).unwrap();
    frames.iter().enumerate().map(|(i, f)| node.process(lt, f, 1_000_000 * i as u64).frames).collect()
}

/// The checks on one program and strategy.
fn balances(rel: &str, strategy: &dyn Fn(usize) -> usize) {
    let prog = examples::verified(rel);
    let n = 30;
    let input = conversations(n, strategy);
    let outs = run(&prog, Engine::Interp, &input, LinkType::ETHERNET);
    assert_eq!(outs, run(&prog, Engine::Jit, &input, LinkType::ETHERNET), "{rel}: the engines differ");
    let mut server_of_conn: HashMap<u16, [u8; 4]> = HashMap::new();
    for (i, (inp, out)) in input.iter().zip(&outs).enumerate() {
        assert_eq!(out.len(), 1, "{rel}: packet {i} gives one frame");
        let (src, dst, sport, dport, sums) = read(&out[0]);
        let (isrc, _, _, _, _) = read(inp);
        assert!(sums, "{rel}: packet {i}: a checksum does not verify");
        if dport == 80 {
            let k = (sport - 20000) as usize;
            assert_eq!(src, isrc, "{rel}: a request keeps its source");
            let want = SERVERS[strategy(k)];
            assert_eq!(dst, want, "{rel}: connection {k} goes to the server its strategy picks");
            assert_eq!(*server_of_conn.entry(sport).or_insert(dst), dst, "{rel}: connection {k} changed server");
        } else {
            assert_eq!(src, VS, "{rel}: a reply gets the virtual server's address back");
            assert_eq!(sport, 80);
        }
    }
    assert_eq!(server_of_conn.len(), n);
}

#[test]
fn figure2_alternates_the_servers() {
    // The first connection goes to server 1: `last` starts at 0, and (0 + 1) mod 2 = 1.
    balances("examples/paper/figure2.planp", &|k| (k + 1) % 2);
}

#[test]
fn the_weighted_strategy_gives_server_0_two_connections_in_three() {
    balances("examples/loadbalancer/weighted.planp", &|k| if k % 3 == 2 { 1 } else { 0 });
}

/// The real HTTP conversations of the corpus (a loopback conversation, AccECN
/// handshakes, and replies of a server behind a VLAN whose requests are not in the
/// capture): every request of a connection goes to one physical server, a reply of a
/// connection the gateway does not know is forwarded as it came; both strategies, both
/// engines.
#[test]
fn real_http_conversations() {
    for rel in ["examples/paper/figure2.planp", "examples/loadbalancer/weighted.planp"] {
        let prog = examples::verified(rel);
        let mut requests = 0;
        for cap in ["print-flags.pcap", "accecn_handshake.pcap", "ipv4_tcp_http_xml.pcap"] {
            let mut r = Reader::open(root().join("testdata/pcaps/corpus").join(cap)).unwrap();
            let (mut frames, mut lt) = (Vec::new(), LinkType::ETHERNET);
            while let Some(p) = r.next() {
                let p = p.unwrap();
                lt = p.link;
                frames.push(p.data);
            }
            let outs = run(&prog, Engine::Interp, &frames, lt);
            assert_eq!(outs, run(&prog, Engine::Jit, &frames, lt), "{rel} on {cap}: the engines differ");
            let mut server: HashMap<([u8; 4], u16), [u8; 4]> = HashMap::new();
            for (inp, out) in frames.iter().zip(&outs) {
                assert_eq!(out.len(), 1, "{rel} on {cap}: one frame per packet");
                let out = &out[0];
                let d = planp_interp::packet::link::decode(lt, out);
                let ip = &out[d.link_len..];
                if ip.len() < 40 || ip[0] >> 4 != 4 || ip[9] != 6 {
                    continue;
                }
                let src: [u8; 4] = ip[12..16].try_into().unwrap();
                let dst: [u8; 4] = ip[16..20].try_into().unwrap();
                let hl = (ip[0] & 15) as usize * 4;
                let (sport, dport) =
                    (u16::from_be_bytes([ip[hl], ip[hl + 1]]), u16::from_be_bytes([ip[hl + 2], ip[hl + 3]]));
                if dport == 80 {
                    requests += 1;
                    assert!(SERVERS.contains(&dst), "{rel} on {cap}: a request goes to a physical server");
                    assert_eq!(
                        *server.entry((src, sport)).or_insert(dst),
                        dst,
                        "{rel} on {cap}: a connection changed server"
                    );
                } else if !server.contains_key(&(dst, dport)) {
                    assert_eq!(out, inp, "{rel} on {cap}: a reply of an unknown connection is forwarded as it came");
                }
            }
        }
        assert_eq!(requests, 9, "{rel}: the requests of the captures");
    }
}
