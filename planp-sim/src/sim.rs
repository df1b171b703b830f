//! The simulation: a discrete-event loop over nodes, links and sources
//! (`docs/sim.md`, "Semantics").
//!
//! Events are ordered by time, then by the order they were scheduled in, so a run is a
//! function of the topology, its seed and the engine (and both engines give the same
//! run: `tests/sim.rs`). Every frame is Ethernet. A frame that arrives at a node is given
//! to the node's program, if it has one (`planp_interp::Node`); what the program sends,
//! or the frame itself when it passes through, then goes: to the node itself when
//! addressed to it (its players see it), to a neighbour (`OnNeighbor`), or along the
//! routes. Each direction of a link sends one frame at a time at the link's bandwidth,
//! after which the frame arrives at the other end a delay later; frames that find the
//! queue full are dropped.

use crate::topology::{Kind, SourceSpec, Topology};
use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TransportSlice};
use planp_interp::capture::{Reader, Writer};
use planp_interp::packet::link;
use planp_interp::{Diagnostics, Engine, LinkType, Node, NodeConfig};
use planp_primitives::Effect;
use planp_primitives::rt::LinkLoad;
use rand_core::{Rng, SeedableRng};
use rand_xorshift::XorShiftRng;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Frames that have crossed this many links are dropped (a routing loop).
pub const HOP_LIMIT: u8 = 64;
/// Audio datagrams: a sequence number and 10 ms of 16-bit stereo at 44.1 kHz.
pub const AUDIO_SAMPLES: usize = 1764;
/// The interval between audio datagrams.
pub const AUDIO_INTERVAL_NS: u64 = 10_000_000;

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A node's program has errors.
    #[error("the program of node `{node}` has errors")]
    Program {
        /// The node.
        node: String,
        /// Its diagnostics.
        diags: Diagnostics,
    },
    /// A node's program fails verification (and the node is not `unverified`).
    #[error("the program of node `{node}` fails verification: {}", failed.join(", "))]
    Verify {
        /// The node.
        node: String,
        /// The failing properties.
        failed: Vec<&'static str>,
        /// Its diagnostics.
        diags: Diagnostics,
    },
    /// A node's program raised an exception while initialising.
    #[error("the program of node `{node}` does not load")]
    Load {
        /// The node.
        node: String,
        /// The program (to render the diagnostic).
        diags: Diagnostics,
    },
    /// A capture source cannot be read.
    #[error("source capture {path}: {message}")]
    Capture {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The run took more events than the topology allows (`[sim] max_events`).
    #[error("the simulation stopped after {0} events, the most `[sim] max_events` allows")]
    Budget(u64),
    /// An output cannot be written.
    #[error("cannot write {path}: {message}")]
    Output {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// How to run a topology.
#[derive(Clone, Debug)]
pub struct Options {
    /// The engine of every node.
    pub engine: Engine,
    /// Where captures and the trace go (none: not written).
    pub out: Option<PathBuf>,
    /// Nodes that run no program in this run (the baseline's).
    pub without: Vec<usize>,
}

/// What happened at a node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Frames that arrived (from links or from the node's own sources).
    pub frames_in: u64,
    /// Channel runs.
    pub channel_runs: u64,
    /// Exceptions that escaped a channel.
    pub exceptions: u64,
    /// Frames addressed to the node and kept by it.
    pub received: u64,
    /// Values its program delivered (`deliver`).
    pub delivered: u64,
    /// Frames it sent on links.
    pub sent: u64,
    /// Frames it could not send, by reason.
    pub dropped: BTreeMap<&'static str, u64>,
    /// What its program printed.
    pub printed: Vec<u8>,
}

/// One direction of a link.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirStats {
    /// Frames sent.
    pub frames: u64,
    /// Bytes sent.
    pub bytes: u64,
    /// Frames dropped because the queue was full.
    pub drops: u64,
    /// The longest the queue was.
    pub max_queue: usize,
}

/// What an audio player heard.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlayerReport {
    /// The node.
    pub node: String,
    /// The port.
    pub port: u16,
    /// Datagrams the sources sent to it.
    pub sent: u64,
    /// Datagrams that arrived in time, in the original format.
    pub played: u64,
    /// Datagrams that arrived after their playout time.
    pub late: u64,
    /// Datagrams that arrived in another format (not 16-bit stereo).
    pub malformed: u64,
    /// Datagrams that never arrived.
    pub lost: u64,
    /// Gaps (silent periods: runs of consecutive datagrams not played), per phase.
    pub gaps: Vec<u64>,
}

/// A time series: bytes per second in each bin.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Its name.
    pub name: String,
    /// Bytes per second, bin by bin.
    pub values: Vec<f64>,
}

/// The result of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Which run (`adapted`, `baseline`).
    pub label: String,
    /// The engine.
    pub engine: Engine,
    /// Per node, in topology order.
    pub nodes: Vec<(String, NodeStats)>,
    /// Per link and direction: its name with the direction (`a-b a>b`).
    pub links: Vec<(String, DirStats)>,
    /// The recorded series, then every link direction's load.
    pub series: Vec<Series>,
    /// The width of a bin, seconds.
    pub bin_s: f64,
    /// The phases of the load sources: `[start, end)` in seconds.
    pub phases: Vec<(f64, f64)>,
    /// Per player.
    pub players: Vec<PlayerReport>,
    /// Events processed.
    pub events: u64,
}

struct Ev {
    t: u64,
    seq: u64,
    kind: EvKind,
}

enum EvKind {
    /// A frame arrives at a node, from a link (`None`: from its own applications), sent
    /// by `sender` (the node that put it on the wire; through a hub, the node before).
    Arrive { node: usize, frame: Vec<u8>, link: Option<usize>, hops: u8, sender: Option<usize> },
    /// A link direction has finished sending its frame.
    TxDone { link: usize, dir: usize },
    /// A source's next frame is due.
    Source(usize),
}

impl PartialEq for Ev {
    fn eq(&self, o: &Self) -> bool {
        (self.t, self.seq) == (o.t, o.seq)
    }
}
impl Eq for Ev {}
impl PartialOrd for Ev {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Ev {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.t, self.seq).cmp(&(o.t, o.seq))
    }
}

struct Dir {
    queue: VecDeque<(Vec<u8>, u8, usize)>,
    busy: bool,
    meter: LinkLoad,
    stats: DirStats,
    bins: Vec<u64>,
}

enum SourceState {
    Audio { seq: u32 },
    Load { rng: XorShiftRng },
    Capture { frames: Vec<(u64, Vec<u8>)>, next: usize },
}

struct Player {
    /// Per audio source feeding it: (source index, its sender's address).
    feeds: Vec<(usize, u32)>,
    /// Per feed: the first arrival of each sequence number, and its payload length.
    arrivals: Vec<BTreeMap<u32, (u64, usize)>>,
}

struct Sim<'a> {
    topo: &'a Topology,
    nodes: Vec<Option<Node>>,
    stats: Vec<NodeStats>,
    neighbors: Vec<Vec<(u32, usize)>>,
    /// The addresses of `neighbors`, as `neighbors()` gives them.
    neighbor_addrs: Vec<Vec<u32>>,
    links: Vec<[Dir; 2]>,
    /// `next[n][d]`: the link node `n` sends on towards node `d`.
    next: Vec<Vec<Option<usize>>>,
    by_addr: BTreeMap<u32, usize>,
    sources: Vec<SourceState>,
    players: Vec<Player>,
    events: BinaryHeap<Reverse<Ev>>,
    seq: u64,
    now: u64,
    captures: BTreeMap<usize, Writer>,
    trace: Option<std::io::BufWriter<std::fs::File>>,
    series_bins: Vec<Vec<u64>>,
    processed: u64,
}

/// The MAC address the simulator gives a node: 02:00 and its IPv4 address.
pub fn mac(addr: u32) -> [u8; 6] {
    let a = addr.to_be_bytes();
    [2, 0, a[0], a[1], a[2], a[3]]
}

fn ipv4_dst(frame: &[u8]) -> Option<u32> {
    match SlicedPacket::from_ethernet(frame).ok()?.net? {
        NetSlice::Ipv4(ip) => Some(u32::from_be_bytes(ip.header().destination())),
        _ => None,
    }
}

/// Load every node's program, checked and verified.
fn load_nodes(topo: &Topology, opts: &Options) -> Result<Vec<Option<Node>>, SimError> {
    let mut nodes = Vec::new();
    for (i, n) in topo.nodes.iter().enumerate() {
        let Some((path, text)) = &n.program else {
            nodes.push(None);
            continue;
        };
        if opts.without.contains(&i) {
            nodes.push(None);
            continue;
        }
        let name = path.display().to_string();
        let prog =
            planp_interp::load(&name, text).map_err(|diags| SimError::Program { node: n.name.clone(), diags })?;
        let verdict = planp_interp::verify::verify(&prog);
        if !verdict.ok() && !n.unverified {
            return Err(SimError::Verify {
                node: n.name.clone(),
                failed: verdict.failed(),
                diags: Diagnostics { name, text: text.as_str().into(), diags: verdict.diags },
            });
        }
        let cfg = NodeConfig { this_host: n.address, load_window_ns: topo.load_window_ns, engine: opts.engine };
        let node = Node::new(prog, cfg).map_err(|e| SimError::Load {
            node: n.name.clone(),
            diags: Diagnostics { name, text: text.as_str().into(), diags: vec![e.diag] },
        })?;
        nodes.push(Some(node));
    }
    Ok(nodes)
}

/// What the simulation should say before it runs, about nodes whose program fails
/// verification and runs anyway (`unverified = true`): which properties fail, and, when
/// global termination or linear duplication fails and the topology has a loop through
/// the node, the loop. The verifier knows programs, not deployments; this is where the
/// deployment is known (`docs/safety.md`). Programs that do not load are left to the
/// run, which reports them.
pub fn warnings(topo: &Topology) -> Vec<String> {
    let mut out = Vec::new();
    for (v, n) in topo.nodes.iter().enumerate() {
        let Some((path, text)) = &n.program else { continue };
        let Ok(prog) = planp_interp::load(&path.display().to_string(), text) else { continue };
        let verdict = planp_interp::verify::verify(&prog);
        if verdict.ok() {
            continue;
        }
        let failed = verdict.failed();
        let mut w = format!("node `{}` runs a program that fails verification ({})", n.name, failed.join(", "));
        let travels = failed.iter().any(|&p| p == "global termination" || p == "linear duplication");
        if let Some(cycle) = travels.then(|| loop_through(topo, v)).flatten() {
            let names: Vec<&str> = cycle.iter().map(|&i| topo.nodes[i].name.as_str()).collect();
            w += &format!(
                ", and the topology has a loop through it ({} - {}): packets it sends on may go round it until \
                 the hop limit, copied at each turn; break the loop (a tree, as a spanning tree would make it)",
                names.join(" - "),
                names[0]
            );
        }
        out.push(w);
    }
    out
}

/// A cycle of the links through node `v` (its nodes in order, from `v`) whose other
/// nodes all forward (routers, bridges, hubs: hosts do not forward what passes them),
/// if there is one.
fn loop_through(topo: &Topology, v: usize) -> Option<Vec<usize>> {
    let others = |u: usize| {
        topo.links
            .iter()
            .filter_map(move |l| match l.ends {
                [a, b] if a == u => Some(b),
                [a, b] if b == u => Some(a),
                _ => None,
            })
            .filter(|&x| topo.nodes[x].kind != Kind::Host)
    };
    let first: Vec<usize> = others(v).collect();
    for (i, &u) in first.iter().enumerate() {
        // A path from u back to another neighbour of v that avoids v closes a loop.
        let mut prev = vec![usize::MAX; topo.nodes.len()];
        prev[u] = u;
        prev[v] = v;
        let mut q = VecDeque::from([u]);
        while let Some(x) = q.pop_front() {
            if x != u && first.iter().enumerate().any(|(k, &f)| k != i && f == x) {
                let mut path = vec![x];
                let mut y = x;
                while y != u {
                    y = prev[y];
                    path.push(y);
                }
                path.push(v);
                path.reverse();
                return Some(path);
            }
            for y in others(x) {
                if prev[y] == usize::MAX {
                    prev[y] = x;
                    q.push_back(y);
                }
            }
        }
    }
    None
}

/// Shortest paths by hop count; ties go to the link listed first.
fn next_hops(topo: &Topology) -> Vec<Vec<Option<usize>>> {
    let n = topo.nodes.len();
    let mut next = vec![vec![None; n]; n];
    for d in 0..n {
        // Breadth first from the destination: a node reached over link l from node u
        // sends on l towards d.
        let mut seen = vec![false; n];
        seen[d] = true;
        let mut q = VecDeque::from([d]);
        while let Some(u) = q.pop_front() {
            for (li, l) in topo.links.iter().enumerate() {
                let v = match l.ends {
                    [a, b] if a == u => b,
                    [a, b] if b == u => a,
                    _ => continue,
                };
                if !seen[v] {
                    seen[v] = true;
                    next[v][d] = Some(li);
                    q.push_back(v);
                }
            }
        }
    }
    next
}

/// Run the topology once.
pub fn run(topo: &Topology, opts: &Options, label: &str) -> Result<Report, SimError> {
    let nodes = load_nodes(topo, opts)?;
    let mut neighbors = vec![Vec::new(); topo.nodes.len()];
    for (li, l) in topo.links.iter().enumerate() {
        neighbors[l.ends[0]].push((topo.nodes[l.ends[1]].address, li));
        neighbors[l.ends[1]].push((topo.nodes[l.ends[0]].address, li));
    }
    let bins = (topo.duration_ns.div_ceil(topo.bin_ns)) as usize;
    let dir = || Dir {
        queue: VecDeque::new(),
        busy: false,
        meter: LinkLoad::new(topo.load_window_ns),
        stats: DirStats::default(),
        bins: vec![0; bins],
    };
    let out_err =
        |path: &Path, e: &dyn std::fmt::Display| SimError::Output { path: path.into(), message: e.to_string() };
    let mut captures = BTreeMap::new();
    let mut trace = None;
    if let Some(out) = &opts.out {
        std::fs::create_dir_all(out).map_err(|e| out_err(out, &e))?;
        for &l in &topo.captures {
            let p = out.join(format!("{}.pcap", topo.links[l].name));
            captures.insert(l, Writer::create(&p, LinkType::ETHERNET, true).map_err(|e| out_err(&p, &e))?);
        }
        if topo.trace {
            let p = out.join("trace.txt");
            trace = Some(std::io::BufWriter::new(std::fs::File::create(&p).map_err(|e| out_err(&p, &e))?));
        }
    }
    let mut sim = Sim {
        topo,
        nodes,
        stats: vec![NodeStats::default(); topo.nodes.len()],
        neighbor_addrs: neighbors.iter().map(|v| v.iter().map(|&(a, _)| a).collect()).collect(),
        neighbors,
        links: topo.links.iter().map(|_| [dir(), dir()]).collect(),
        next: next_hops(topo),
        by_addr: topo.nodes.iter().enumerate().map(|(i, n)| (n.address, i)).collect(),
        sources: Vec::new(),
        players: Vec::new(),
        events: BinaryHeap::new(),
        seq: 0,
        now: 0,
        captures,
        trace,
        series_bins: vec![vec![0; bins]; topo.series.len()],
        processed: 0,
    };
    for p in &topo.players {
        let feeds: Vec<(usize, u32)> = topo
            .sources
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match *s {
                SourceSpec::Audio { from, to, port, .. } if to == p.node && port == p.port => {
                    Some((i, topo.nodes[from].address))
                }
                _ => None,
            })
            .collect();
        sim.players.push(Player { arrivals: vec![BTreeMap::new(); feeds.len()], feeds });
    }
    for (i, s) in topo.sources.iter().enumerate() {
        let (state, first) = match s {
            SourceSpec::Audio { start_ns, .. } => (SourceState::Audio { seq: 0 }, Some(*start_ns)),
            SourceSpec::Load { phases, .. } => {
                let rng = XorShiftRng::seed_from_u64(topo.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ i as u64);
                (SourceState::Load { rng }, phases.first().map(|p| p.at_ns))
            }
            SourceSpec::Capture { file, start_ns, .. } => {
                let frames = read_capture(file, *start_ns)?;
                let first = frames.first().map(|f| f.0);
                (SourceState::Capture { frames, next: 0 }, first)
            }
        };
        sim.sources.push(state);
        if let Some(t) = first {
            sim.at(t, EvKind::Source(i));
        }
    }
    while let Some(Reverse(ev)) = sim.events.pop() {
        if ev.t >= topo.duration_ns {
            break;
        }
        sim.now = ev.t;
        sim.processed += 1;
        if sim.processed > topo.max_events {
            return Err(SimError::Budget(topo.max_events));
        }
        match ev.kind {
            EvKind::Arrive { node, frame, link, hops, sender } => sim.arrive(node, frame, link, hops, sender),
            EvKind::TxDone { link, dir } => sim.tx_done(link, dir),
            EvKind::Source(i) => sim.source(i),
        }
    }
    sim.finish(label, opts.engine)
}

fn read_capture(file: &Path, start_ns: u64) -> Result<Vec<(u64, Vec<u8>)>, SimError> {
    let err = |m: String| SimError::Capture { path: file.into(), message: m };
    let mut r = Reader::open(file).map_err(|e| err(e.to_string()))?;
    let mut frames = Vec::new();
    let mut t0 = None;
    while let Some(p) = r.next() {
        let p = p.map_err(|e| err(e.to_string()))?;
        let lt = p.link;
        // Frames of other link types travel as Ethernet frames carrying their IP packet;
        // frames without one have no place on an Ethernet link and are left out.
        let frame = if lt.base() == 1 {
            p.data
        } else {
            let d = link::decode(lt, &p.data);
            if d.net == link::Net::Other {
                continue;
            }
            let ethertype: u16 = if d.net == link::Net::Ipv4 { 0x0800 } else { 0x86dd };
            let mut f = vec![0u8; 12];
            f.extend(ethertype.to_be_bytes());
            f.extend(&p.data[d.link_len..]);
            f
        };
        let t0 = *t0.get_or_insert(p.ts_ns);
        frames.push((start_ns.saturating_add(p.ts_ns.saturating_sub(t0)), frame));
    }
    Ok(frames)
}

impl Sim<'_> {
    fn at(&mut self, t: u64, kind: EvKind) {
        self.seq += 1;
        self.events.push(Reverse(Ev { t, seq: self.seq, kind }));
    }

    fn log(&mut self, node: usize, what: std::fmt::Arguments<'_>) {
        if let Some(w) = &mut self.trace {
            let _ = writeln!(w, "{:>12.6} {:<8} {}", self.now as f64 / 1e9, self.topo.nodes[node].name, what);
        }
    }

    /// The link a frame for `dst` leaves node `n` on: a static route (the longest prefix
    /// that matches), or the shortest path to the node with that address.
    fn route(&self, n: usize, dst: u32) -> Option<usize> {
        let stat = self
            .topo
            .routes
            .iter()
            .filter(|r| r.at == n && (r.len == 0 || (dst ^ r.prefix) >> (32 - u32::from(r.len)) == 0))
            .max_by_key(|r| r.len);
        if let Some(r) = stat {
            return self.topo.links.iter().position(|l| l.ends == [n, r.via] || l.ends == [r.via, n]);
        }
        let d = *self.by_addr.get(&dst)?;
        self.next[n][d]
    }

    fn other_end(&self, link: usize, n: usize) -> usize {
        let e = self.topo.links[link].ends;
        if e[0] == n { e[1] } else { e[0] }
    }

    fn drop(&mut self, n: usize, why: &'static str) {
        *self.stats[n].dropped.entry(why).or_default() += 1;
        self.log(n, format_args!("drop ({why})"));
    }

    fn arrive(&mut self, n: usize, frame: Vec<u8>, link: Option<usize>, hops: u8, sender: Option<usize>) {
        self.stats[n].frames_in += 1;
        let prev = sender.map_or(0, |s| self.topo.nodes[s].address);
        if self.trace.is_some() {
            let from =
                link.map_or("its applications".to_string(), |l| self.topo.nodes[self.other_end(l, n)].name.clone());
            self.log(n, format_args!("in  {} bytes from {from}", frame.len()));
        }
        if self.topo.nodes[n].kind == Kind::Hub {
            // A hub repeats the frame on every other link, as it is.
            let sender = sender.unwrap_or(n);
            for k in 0..self.neighbors[n].len() {
                let l = self.neighbors[n][k].1;
                if Some(l) == link {
                    continue;
                }
                if hops >= HOP_LIMIT {
                    self.drop(n, "hop limit");
                    continue;
                }
                let dir = usize::from(self.topo.links[l].ends[0] != n);
                self.stats[n].sent += 1;
                self.enqueue(l, dir, frame.clone(), hops + 1, sender);
            }
            return;
        }
        // Where the frame is going; and where it was going when it arrived (`None`: it
        // is the node's own).
        let dst = ipv4_dst(&frame);
        let arrived = link.map(|_| dst);
        // A packet of a user-defined channel is for the node it is addressed to: on a
        // segment the others see it pass, and their programs do not run it.
        let others = arrived.is_some_and(|d| d != Some(self.topo.nodes[n].address))
            && udp_dst(&frame) == Some(planp_interp::packet::encap::PORT);
        if self.nodes[n].is_none() || others {
            self.forward(n, frame, None, hops, true, arrived);
            return;
        }
        let load = dst.and_then(|d| self.route(n, d)).map(|l| {
            let dir = usize::from(self.topo.links[l].ends[0] != n);
            self.links[l][dir].meter.bytes_per_second(self.now)
        });
        let node = self.nodes[n].as_mut().expect("checked above");
        node.set_links(&self.neighbor_addrs[n], prev);
        node.set_link_load(load);
        let o = node.process(LinkType::ETHERNET, &frame, self.now);
        drop(frame);
        let st = &mut self.stats[n];
        st.channel_runs += o.channel.is_some() as u64;
        st.exceptions += o.exception.is_some() as u64;
        for e in &o.effects {
            match e {
                Effect::Print(s) => st.printed.extend_from_slice(s),
                Effect::Deliver(_) => st.delivered += 1,
                Effect::Send(_) => {}
            }
        }
        if self.trace.is_some() {
            if let Some(c) = o.channel {
                let prog = self.nodes[n].as_ref().expect("checked above").program().clone();
                self.log(n, format_args!("channel {} ({} frames out)", prog.channels[c].name, o.frames.len()));
            }
            if let Some(x) = &o.exception {
                self.log(n, format_args!("exception {} from {}", x.exn, x.from));
            }
            for e in &o.effects {
                match e {
                    Effect::Print(s) => {
                        self.log(n, format_args!("print {:?}", String::from_utf8_lossy(s)));
                    }
                    Effect::Deliver(b) => self.log(n, format_args!("deliver {} bytes", b.len())),
                    Effect::Send(_) => {}
                }
            }
        }
        for (k, f) in o.frames.into_iter().enumerate() {
            let hop = o.next_hops.get(k).copied().flatten();
            self.forward(n, f, hop, hops, o.pass_through, arrived);
        }
    }

    /// Send a frame on from node `n`: to itself, to neighbour `hop`, or along the routes.
    /// `arrived` is where the frame that caused it was going (`None`: the node's own).
    fn forward(
        &mut self,
        n: usize,
        mut frame: Vec<u8>,
        hop: Option<u32>,
        hops: u8,
        passing: bool,
        arrived: Option<Option<u32>>,
    ) {
        let spec = &self.topo.nodes[n];
        let dst = ipv4_dst(&frame);
        let link = match hop {
            Some(h) => match self.link_to_neighbor(n, h) {
                Some(l) => l,
                None => return self.drop(n, "no link to that neighbour"),
            },
            None => {
                let broadcast = frame.get(..6) == Some(&[0xff; 6]);
                if dst == Some(spec.address) || (broadcast && !spec.kind.transparent()) {
                    return self.receive(n, &frame);
                }
                // A host keeps what is for it and does not forward what is on its way
                // elsewhere, whether no channel took it or its program sent it on (on a
                // segment, it goes on anyway); packets of its own it sends.
                if spec.kind == Kind::Host && arrived.is_some_and(|a| passing || a == dst) {
                    return self.drop(n, "not for this host");
                }
                let Some(dst) = dst else { return self.drop(n, "not an IPv4 packet") };
                match self.route(n, dst) {
                    Some(l) => l,
                    None => return self.drop(n, "no route"),
                }
            }
        };
        if hops >= HOP_LIMIT {
            return self.drop(n, "hop limit");
        }
        let to = self.other_end(link, n);
        if !spec.kind.transparent() && frame.len() >= 14 {
            // A host or a router addresses the frame from itself to the neighbour it is
            // sent to, or along the routes to the next hop that is not a bridge or a hub
            // (those are transparent).
            let l2 = match hop {
                Some(h) => h,
                None => self.topo.nodes[self.l2_next(to, dst)].address,
            };
            frame[..6].copy_from_slice(&mac(l2));
            frame[6..12].copy_from_slice(&mac(spec.address));
        }
        let dir = usize::from(self.topo.links[link].ends[0] != n);
        self.stats[n].sent += 1;
        self.enqueue(link, dir, frame, hops + 1, n);
    }

    /// The link to neighbour `h`: a link to it, or a link to a hub whose segment
    /// (through hubs only) reaches it.
    fn link_to_neighbor(&self, n: usize, h: u32) -> Option<usize> {
        if let Some(&(_, l)) = self.neighbors[n].iter().find(|&&(a, _)| a == h) {
            return Some(l);
        }
        for &(_, l) in &self.neighbors[n] {
            let mut seen = vec![n];
            let mut todo = vec![self.other_end(l, n)];
            while let Some(u) = todo.pop() {
                if seen.contains(&u) {
                    continue;
                }
                seen.push(u);
                if self.topo.nodes[u].address == h {
                    return Some(l);
                }
                if self.topo.nodes[u].kind == Kind::Hub {
                    todo.extend(self.neighbors[u].iter().map(|&(_, m)| self.other_end(m, u)));
                }
            }
        }
        None
    }

    /// The first node that is not a bridge or a hub on the way from `to` towards `dst`.
    fn l2_next(&self, mut to: usize, dst: Option<u32>) -> usize {
        for _ in 0..self.topo.nodes.len() {
            if !self.topo.nodes[to].kind.transparent() {
                return to;
            }
            match dst.and_then(|d| self.route(to, d)) {
                Some(l) => to = self.other_end(l, to),
                None => return to,
            }
        }
        to
    }

    fn receive(&mut self, n: usize, frame: &[u8]) {
        self.stats[n].received += 1;
        self.log(n, format_args!("received {} bytes", frame.len()));
        let Ok(p) = SlicedPacket::from_ethernet(frame) else { return };
        let (Some(NetSlice::Ipv4(ip)), Some(TransportSlice::Udp(udp))) = (&p.net, &p.transport) else { return };
        let src = u32::from_be_bytes(ip.header().source());
        let payload = udp.payload();
        let Some(seq) = payload.get(..4) else { return };
        let seq = u32::from_be_bytes(seq.try_into().expect("4 bytes"));
        for (pi, spec) in self.topo.players.iter().enumerate() {
            if spec.node != n || spec.port != udp.destination_port() {
                continue;
            }
            let player = &mut self.players[pi];
            for (fi, &(_, from)) in player.feeds.iter().enumerate() {
                if from == src {
                    player.arrivals[fi].entry(seq).or_insert((self.now, payload.len()));
                }
            }
        }
    }

    fn enqueue(&mut self, link: usize, dir: usize, frame: Vec<u8>, hops: u8, sender: usize) {
        let cap = self.topo.links[link].queue;
        let d = &mut self.links[link][dir];
        if d.busy {
            if d.queue.len() >= cap {
                d.stats.drops += 1;
                let from = self.topo.links[link].ends[dir];
                self.log(from, format_args!("queue full on {}: frame dropped", self.topo.links[link].name));
                return;
            }
            d.queue.push_back((frame, hops, sender));
            d.stats.max_queue = d.stats.max_queue.max(d.queue.len());
            return;
        }
        self.transmit(link, dir, frame, hops, sender);
    }

    fn transmit(&mut self, link: usize, dir: usize, frame: Vec<u8>, hops: u8, sender: usize) {
        let spec = &self.topo.links[link];
        let len = frame.len() as u64;
        let tx_ns = (len * 8 * 1_000_000_000).div_ceil(spec.bandwidth_bps);
        let (now, bin) = (self.now, (self.now / self.topo.bin_ns) as usize);
        let d = &mut self.links[link][dir];
        d.busy = true;
        d.meter.record(now, len);
        d.stats.frames += 1;
        d.stats.bytes += len;
        if let Some(b) = d.bins.get_mut(bin) {
            *b += len;
        }
        // The UDP port is read once, if a series of this link direction needs it.
        let port = std::cell::OnceCell::new();
        for (si, s) in self.topo.series.iter().enumerate() {
            if s.link == link
                && s.dir == dir
                && (s.udp_ports.is_empty()
                    || port.get_or_init(|| udp_dst(&frame)).is_some_and(|p| s.udp_ports.contains(&p)))
                && let Some(b) = self.series_bins[si].get_mut(bin)
            {
                *b += len;
            }
        }
        if let Some(w) = self.captures.get_mut(&link) {
            // A failed write is reported when the capture is finished.
            let _ = w.write(now, &frame, frame.len() as u32);
        }
        let to = spec.ends[1 - dir];
        let done = now.saturating_add(tx_ns);
        let arrival = done.saturating_add(spec.delay_ns);
        self.at(done, EvKind::TxDone { link, dir });
        self.at(arrival, EvKind::Arrive { node: to, frame, link: Some(link), hops, sender: Some(sender) });
    }

    fn tx_done(&mut self, link: usize, dir: usize) {
        let d = &mut self.links[link][dir];
        d.busy = false;
        if let Some((f, hops, sender)) = d.queue.pop_front() {
            self.transmit(link, dir, f, hops, sender);
        }
    }

    fn source(&mut self, i: usize) {
        let topo = self.topo;
        let node = |n: usize| &topo.nodes[n];
        match (&topo.sources[i], &mut self.sources[i]) {
            (&SourceSpec::Audio { from, to, port, stop_ns, .. }, SourceState::Audio { seq }) => {
                let mut payload = Vec::with_capacity(4 + AUDIO_SAMPLES);
                payload.extend(seq.to_be_bytes());
                payload.extend(audio_samples(*seq));
                let f = udp_frame(node(from).address, node(to).address, port, port, &payload);
                *seq += 1;
                let next = self.now.saturating_add(AUDIO_INTERVAL_NS);
                if next < stop_ns {
                    self.at(next, EvKind::Source(i));
                }
                self.at(self.now, EvKind::Arrive { node: from, frame: f, link: None, hops: 0, sender: None });
            }
            (SourceSpec::Load { from, to, port, size, phases }, SourceState::Load { rng }) => {
                let phase = phases.iter().rev().find(|p| p.at_ns <= self.now).expect("started at the first phase");
                let f = if phase.rate > 0.0 {
                    let payload = vec![0u8; size.saturating_sub(42)];
                    Some(udp_frame(node(*from).address, node(*to).address, 9, *port, &payload))
                } else {
                    None
                };
                // Exponential gaps: the mean gap sends `rate` bytes per second.
                let next = if phase.rate > 0.0 {
                    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                    let mean_ns = *size as f64 / phase.rate * 1e9;
                    let gap = (-(1.0 - u).ln() * mean_ns).max(1.0) as u64;
                    let next = self.now.saturating_add(gap);
                    // A phase change ends the gap: the new rate starts when it says.
                    match phases.iter().find(|p| p.at_ns > self.now) {
                        Some(p) if p.at_ns < next => p.at_ns,
                        _ => next,
                    }
                } else {
                    phases.iter().find(|p| p.at_ns > self.now).map_or(u64::MAX, |p| p.at_ns)
                };
                if next < topo.duration_ns {
                    self.at(next, EvKind::Source(i));
                }
                if let Some(f) = f {
                    self.at(self.now, EvKind::Arrive { node: *from, frame: f, link: None, hops: 0, sender: None });
                }
            }
            (&SourceSpec::Capture { from, .. }, SourceState::Capture { frames, next }) => {
                let f = std::mem::take(&mut frames[*next].1);
                *next += 1;
                if let Some(&(t, _)) = frames.get(*next) {
                    // Captures are not always in time order; a frame stamped earlier
                    // than the one before it is sent right after it.
                    self.at(t.max(self.now), EvKind::Source(i));
                }
                self.at(self.now, EvKind::Arrive { node: from, frame: f, link: None, hops: 0, sender: None });
            }
            _ => unreachable!("a source's state is made from its spec"),
        }
    }

    fn finish(mut self, label: &str, engine: Engine) -> Result<Report, SimError> {
        let topo = self.topo;
        if let Some(Err(e)) = self.trace.as_mut().map(|w| w.flush()) {
            return Err(SimError::Output { path: "trace.txt".into(), message: e.to_string() });
        }
        for (l, w) in std::mem::take(&mut self.captures) {
            w.finish()
                .map_err(|e| SimError::Output { path: topo.links[l].name.clone().into(), message: e.to_string() })?;
        }
        let bin_s = topo.bin_ns as f64 / 1e9;
        let rate = |bins: &[u64]| bins.iter().map(|&b| b as f64 / bin_s).collect::<Vec<f64>>();
        let mut series: Vec<Series> = topo
            .series
            .iter()
            .zip(&self.series_bins)
            .map(|(s, b)| Series { name: s.name.clone(), values: rate(b) })
            .collect();
        let mut links = Vec::new();
        for (l, spec) in topo.links.iter().enumerate() {
            for dir in 0..2 {
                let (a, b) = (&topo.nodes[spec.ends[dir]].name, &topo.nodes[spec.ends[1 - dir]].name);
                let name = format!("{} {a}>{b}", spec.name);
                series.push(Series { name: name.clone(), values: rate(&self.links[l][dir].bins) });
                links.push((name, self.links[l][dir].stats.clone()));
            }
        }
        // Phases: the load sources' phase boundaries.
        let mut cuts: Vec<u64> = vec![0];
        for s in &topo.sources {
            if let SourceSpec::Load { phases, .. } = s {
                cuts.extend(phases.iter().map(|p| p.at_ns).filter(|&t| t > 0 && t < topo.duration_ns));
            }
        }
        cuts.sort_unstable();
        cuts.dedup();
        let bounds: Vec<(u64, u64)> =
            cuts.iter().enumerate().map(|(i, &a)| (a, cuts.get(i + 1).copied().unwrap_or(topo.duration_ns))).collect();
        let mut players = Vec::new();
        for (spec, p) in topo.players.iter().zip(&self.players) {
            let mut r = PlayerReport {
                node: topo.nodes[spec.node].name.clone(),
                port: spec.port,
                gaps: vec![0; bounds.len()],
                ..Default::default()
            };
            for (fi, &(src, _)) in p.feeds.iter().enumerate() {
                let SourceSpec::Audio { start_ns, .. } = topo.sources[src] else { unreachable!("players hear audio") };
                let mut in_gap = false;
                let SourceState::Audio { seq: count } = self.sources[src] else { unreachable!("audio state") };
                for seq in 0..count {
                    let sent = start_ns.saturating_add(u64::from(seq) * AUDIO_INTERVAL_NS);
                    // Only datagrams whose playout time falls within the run count.
                    if sent.saturating_add(spec.playout_ns) >= topo.duration_ns {
                        break;
                    }
                    r.sent += 1;
                    let ok = match p.arrivals[fi].get(&seq) {
                        None => {
                            r.lost += 1;
                            false
                        }
                        Some(&(t, _)) if t > sent.saturating_add(spec.playout_ns) => {
                            r.late += 1;
                            false
                        }
                        Some(&(_, len)) if len != 4 + AUDIO_SAMPLES => {
                            r.malformed += 1;
                            false
                        }
                        Some(_) => {
                            r.played += 1;
                            true
                        }
                    };
                    if !ok && !in_gap {
                        let ph = bounds.iter().position(|&(a, b)| sent >= a && sent < b).unwrap_or(0);
                        r.gaps[ph] += 1;
                    }
                    in_gap = !ok;
                }
            }
            players.push(r);
        }
        Ok(Report {
            label: label.to_string(),
            engine,
            nodes: topo.nodes.iter().map(|n| n.name.clone()).zip(self.stats).collect(),
            links,
            series,
            bin_s,
            phases: bounds.iter().map(|&(a, b)| (a as f64 / 1e9, b as f64 / 1e9)).collect(),
            players,
            events: self.processed,
        })
    }
}

fn udp_dst(frame: &[u8]) -> Option<u16> {
    match SlicedPacket::from_ethernet(frame).ok()?.transport? {
        TransportSlice::Udp(u) => Some(u.destination_port()),
        _ => None,
    }
}

/// A UDP datagram in an Ethernet frame (addresses for the first hop are filled in
/// when it is sent), with good checksums.
pub fn udp_frame(src: u32, dst: u32, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let b =
        PacketBuilder::ethernet2(mac(src), mac(dst)).ipv4(src.to_be_bytes(), dst.to_be_bytes(), 64).udp(sport, dport);
    let mut f = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut f, payload).expect("a datagram that fits");
    f
}

/// Datagram `seq`'s samples: 441 frames of a 441 Hz tone on the left and a 882 Hz
/// tone on the right, 16-bit little-endian (deterministic, and not silence, so that a
/// conversion that loses a channel or a byte shows). Both tones repeat every 100
/// frames, so one period is computed and repeated.
pub fn audio_samples(seq: u32) -> Vec<u8> {
    let period: Vec<[u8; 4]> = (0..100)
        .map(|i| {
            let t = f64::from(i) / 44_100.0;
            let l = (f64::sin(2.0 * std::f64::consts::PI * 441.0 * t) * 12_000.0) as i16;
            let r = (f64::sin(2.0 * std::f64::consts::PI * 882.0 * t) * 8_000.0) as i16;
            let (l, r) = (l.to_le_bytes(), r.to_le_bytes());
            [l[0], l[1], r[0], r[1]]
        })
        .collect();
    let first = (u64::from(seq) * 441 % 100) as usize;
    (0..AUDIO_SAMPLES / 4).flat_map(|i| period[(first + i) % 100]).collect()
}

/// Every node's program loaded, to check a topology without running it.
pub fn check(topo: &Topology) -> Result<(), SimError> {
    load_nodes(topo, &Options { engine: Engine::Interp, out: None, without: Vec::new() }).map(|_| ())
}
