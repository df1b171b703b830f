//! The workload of the engine comparisons, shared by `benches/engines.rs` (criterion,
//! time) and `examples/count.rs` (a loop to count instructions under callgrind): each
//! shipped example with its capture, a node per engine, one pass over the capture, and
//! figure 2's load balancer written by hand in Rust.

#![allow(dead_code)] // each user takes what it needs

use planp_interp::capture::Reader;
use planp_interp::{Engine, LinkType, Node, NodeConfig, Outcome, Program};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf()
}

/// A captured packet: link type, bytes, original length, timestamp.
pub struct Pkt {
    pub link: LinkType,
    pub data: Vec<u8>,
    pub len: usize,
    pub ts: u64,
}

pub fn capture(rel: &str) -> Vec<Pkt> {
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
pub fn figure4_packets() -> Vec<Pkt> {
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

pub struct Example {
    pub name: &'static str,
    pub program: &'static str,
    pub packets: Vec<Pkt>,
}

pub fn examples() -> Vec<Example> {
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

pub fn load(rel: &str) -> Arc<Program> {
    let text = std::fs::read_to_string(root().join(rel)).expect("the example");
    planp_interp::load(rel, &text).unwrap_or_else(|d| panic!("{}", d.render_plain()))
}

pub fn node(prog: &Arc<Program>, engine: Engine) -> Node {
    Node::new(prog.clone(), NodeConfig { engine, ..NodeConfig::default() }).expect("the example loads")
}

/// One pass of `packets` through `node`, as `planp run` does it (one `Outcome` reused
/// from packet to packet); the number of frames sent, so nothing is optimised away.
pub fn pass(node: &mut Node, packets: &[Pkt], o: &mut Outcome) -> usize {
    let mut n = 0;
    for p in packets {
        node.process_into(p.link, &p.data, p.len, p.ts, o);
        n += o.frames.len();
    }
    n
}

// ---- figure 2 by hand --------------------------------------------------------------

/// Figure 2's load balancer written directly in Rust over Ethernet/IPv4/TCP frames, as
/// a built-in protocol would be: a connection table keyed by client address and port,
/// the destination (requests) or source (replies) rewritten, the IP and TCP checksums
/// updated incrementally (RFC 1624), one output frame per packet.
#[derive(Default)]
pub struct HandLb {
    conns: HashMap<(u32, u16), (u8, u32, u32)>,
    last: u8,
}

pub const SERVERS: [u32; 2] = [u32::from_be_bytes([131, 254, 60, 81]), u32::from_be_bytes([131, 254, 60, 109])];

pub fn rd16(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

pub fn rd32(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Replace the 32-bit field at `at` by `new`, updating the checksums at `sums`.
pub fn rewrite32(f: &mut [u8], at: usize, new: u32, sums: &[usize]) {
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
    pub fn process(&mut self, frame: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        self.process_into(frame, &mut out);
        out
    }

    /// [`HandLb::process`] into `out` (emptied first, its capacity reused, as the engines
    /// reuse their outcome's buffers).
    pub fn process_into(&mut self, frame: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(frame);
        if frame.len() < 34 || rd16(frame, 12) != 0x0800 || frame[23] != 6 {
            return;
        }
        let ihl = usize::from(frame[14] & 15) * 4;
        let tcp = 14 + ihl;
        if frame.len() < tcp + 20 {
            return;
        }
        let (src, dst) = (rd32(frame, 26), rd32(frame, 30));
        let (sport, dport) = (rd16(frame, tcp), rd16(frame, tcp + 2));
        let sums = [24, tcp + 16];
        if dport == 80 {
            let last = self.last;
            let con = self.conns.entry((src, sport)).or_insert(((last + 1) % 2, src, dst)).0;
            self.last = con;
            rewrite32(out, 30, SERVERS[usize::from(con)], &sums);
        } else if sport == 80
            && let Some(&(_, _, virt)) = self.conns.get(&(dst, dport))
        {
            rewrite32(out, 26, virt, &sums);
        }
    }

    /// One pass of `packets` through the load balancer, one output buffer reused; the
    /// bytes sent, so nothing is optimised away.
    pub fn pass(&mut self, packets: &[Pkt], out: &mut Vec<u8>) -> usize {
        let mut n = 0;
        for p in packets {
            self.process_into(&p.data, out);
            n += out.len();
        }
        n
    }
}
