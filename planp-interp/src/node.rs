//! A PLAN-P node: one loaded program with its states, processing packets one at a time.
//!
//! Channel semantics (`docs/language.md`, "Channels"):
//! - the protocol state is shared by all channels; each channel (each overload) has its
//!   own channel state; both persist from packet to packet;
//! - a packet is given to the first `network` channel, in program order, whose packet
//!   type it matches; a packet that no channel takes passes on unchanged;
//! - a packet sent on a user-defined channel (see `packet::encap`) is given to that
//!   channel, if the program has it;
//! - printed text and sent packets are effects, collected in order; sent packets become
//!   frames of the input's link type;
//! - an exception that escapes a channel ends that packet's processing: the states (hash
//!   tables included) are as they were before the packet, the packets it sent are
//!   discarded (what it printed stays), and the packet passes on unchanged;
//! - everything a packet allocates is freed when it is done, except what the new states
//!   keep; so memory does not grow from packet to packet unless the states do.

use crate::diag::{Diag, Phase};
use crate::eval::{Machine, Raise, eval};
use crate::ir::{Init, Program};
use crate::packet::link::{self, Decoded, LinkType, Net};
use crate::packet::{Captured, Reuse, encap, ipv4_shape, ipv6_shape, unmarshal};
use crate::span::Span;
use planp_primitives::heap::HeapStats;
use planp_primitives::value::{self, zero};
use planp_primitives::{Effect, Heap, Rt, SendKind, Word};
use std::sync::Arc;

/// Facts about the node a program runs on.
#[derive(Clone, Copy, Debug)]
pub struct NodeConfig {
    /// The node's address (`thisHost`).
    pub this_host: u32,
    /// The window over which `linkLoad()` measures the outgoing link, in nanoseconds.
    pub load_window_ns: u64,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig { this_host: 0, load_window_ns: 1_000_000_000 }
    }
}

/// An exception that escaped a channel (or an initialiser).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uncaught {
    /// The exception's name.
    pub exn: String,
    /// Where it was raised.
    pub span: Span,
    /// The channel (or initialiser) it escaped from.
    pub from: String,
}

/// What happened to one packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The channel that ran (index into the program's channels), if any.
    pub channel: Option<usize>,
    /// Printed text and sent packets, in order.
    pub effects: Vec<Effect>,
    /// The exception that ended the channel, if one did.
    pub exception: Option<Uncaught>,
    /// Does the packet pass on unchanged (no channel took it, or its channel failed)?
    pub pass_through: bool,
    /// The frames the node sends, in order, of the input's link type: one for each packet
    /// sent, or the input frame itself when it passes through.
    pub frames: Vec<Vec<u8>>,
}

/// A node running one program.
#[derive(Debug)]
pub struct Node {
    prog: Arc<Program>,
    m: Machine,
    ps: Word,
    ss: Vec<Word>,
    init_effects: Vec<Effect>,
}

/// Why a program could not be loaded on a node: an exception escaped an initialiser.
#[derive(Clone, Debug)]
pub struct LoadError {
    /// The diagnostic (where the exception was raised, what was being initialised).
    pub diag: Diag,
    /// What the initialisers printed before the failure.
    pub output: Vec<u8>,
}

impl Node {
    /// Load `prog` on a node: initialise the globals in order, then each channel's state.
    /// An exception escaping an initialiser is a load error, reported as a diagnostic
    /// together with what was printed before it.
    pub fn new(prog: Arc<Program>, cfg: NodeConfig) -> Result<Node, LoadError> {
        let mut rt = Rt::new();
        rt.this_host = cfg.this_host;
        rt.load = planp_primitives::rt::LinkLoad::new(cfg.load_window_ns);
        let mut m = Machine::new(&prog, rt);
        for init in &prog.inits {
            let g = &prog.globals[init.global.0 as usize];
            let v = run_init(&prog, init, &mut m)
                .map_err(|r| load_error(&prog, &mut m, r, &format!("`{}`", g.name), g.span))?;
            let v = m.rt.heap.promote(v, g.ty.is_ptr());
            m.set_global(init.global.0, v);
        }
        let mut ss = Vec::with_capacity(prog.channels.len());
        for ch in &prog.channels {
            let v = match &ch.init {
                Some(init) => run_init(&prog, init, &mut m).map_err(|r| {
                    load_error(&prog, &mut m, r, &format!("the initstate of channel `{}`", ch.name), ch.span)
                })?,
                None => zero(&mut m.rt.heap, &ch.ss_type),
            };
            ss.push(m.rt.heap.promote(v, ch.ss_type.is_ptr()));
        }
        let ps = zero(&mut m.rt.heap, &prog.ps_type);
        let ps = m.rt.heap.promote(ps, prog.ps_type.is_ptr());
        m.rt.heap.reset_scratch();
        let init_effects = m.rt.take_effects();
        let mut node = Node { prog, m, ps, ss, init_effects };
        node.collect();
        Ok(node)
    }

    /// Add declarations checked after the program (see `typeck::Env::add`) and run their
    /// initialisers; returns what they printed. If one raises, the node is as before.
    pub fn extend(&mut self, d: &crate::ir::Delta) -> Result<Vec<Effect>, LoadError> {
        let p = &self.prog;
        let marks = (p.globals.len(), p.inits.len(), p.funs.len(), p.strings.len(), p.exceptions.len());
        Arc::make_mut(&mut self.prog).extend(d);
        let prog = self.prog.clone();
        self.m.grow(&prog);
        self.m.rt.heap.begin();
        for init in &d.inits {
            let g = &prog.globals[init.global.0 as usize];
            match run_init(&prog, init, &mut self.m) {
                Ok(v) => {
                    let v = self.m.rt.heap.promote(v, g.ty.is_ptr());
                    self.m.set_global(init.global.0, v);
                }
                Err(r) => {
                    self.m.rt.heap.rollback();
                    let e = load_error(&prog, &mut self.m, r, &format!("`{}`", g.name), g.span);
                    self.m.rt.heap.reset_scratch();
                    let (gl, it, fu, st, ex) = marks;
                    Arc::make_mut(&mut self.prog).truncate(gl, it, fu, st, ex);
                    let prog = self.prog.clone();
                    self.m.grow(&prog);
                    return Err(e);
                }
            }
        }
        self.m.rt.heap.commit();
        self.m.rt.heap.reset_scratch();
        if self.m.rt.heap.wants_collection() {
            self.collect();
        }
        Ok(self.m.rt.take_effects())
    }

    /// Return the protocol state and every channel's state to their initial values (the
    /// channels' `initstate`, or the zero value of their type); globals are kept.
    pub fn reset_states(&mut self) -> Result<(), LoadError> {
        let prog = self.prog.clone();
        let mut ss = Vec::with_capacity(prog.channels.len());
        for ch in &prog.channels {
            let v = match &ch.init {
                Some(init) => run_init(&prog, init, &mut self.m).map_err(|r| {
                    load_error(&prog, &mut self.m, r, &format!("the initstate of channel `{}`", ch.name), ch.span)
                })?,
                None => zero(&mut self.m.rt.heap, &ch.ss_type),
            };
            ss.push(self.m.rt.heap.promote(v, ch.ss_type.is_ptr()));
        }
        let ps = zero(&mut self.m.rt.heap, &prog.ps_type);
        self.ps = self.m.rt.heap.promote(ps, prog.ps_type.is_ptr());
        self.ss = ss;
        self.m.rt.heap.reset_scratch();
        let _ = self.m.rt.take_effects();
        self.collect();
        Ok(())
    }

    /// What the initialisers printed (and sent) when the program was loaded.
    pub fn init_effects(&self) -> &[Effect] {
        &self.init_effects
    }

    /// Global `g`'s value.
    pub fn global(&self, g: usize) -> Word {
        self.m.globals()[g]
    }

    /// The program.
    pub fn program(&self) -> &Arc<Program> {
        &self.prog
    }

    /// Process one frame of link type `lt`, whole (not cut short by a capture), at time
    /// `now_ns`.
    pub fn process(&mut self, lt: LinkType, frame: &[u8], now_ns: u64) -> Outcome {
        self.process_captured(lt, frame, frame.len(), now_ns)
    }

    /// Process one captured frame of link type `lt` that was `wire_len` bytes long on the
    /// wire (more than `frame.len()` if the capture cut it short), at time `now_ns`.
    pub fn process_captured(&mut self, lt: LinkType, frame: &[u8], wire_len: usize, now_ns: u64) -> Outcome {
        self.m.rt.now_ns = now_ns;
        let d = link::decode(lt, frame);
        let prog = self.prog.clone();
        let mut outcome = None;
        if let Some((i, v)) = self.channel_packet(frame, &d) {
            outcome = Some(self.run(i, v, None));
        }
        let ethernet = lt.base() == 1;
        if outcome.is_none() && (d.net != Net::Other || ethernet) {
            for (i, ch) in prog.channels.iter().enumerate() {
                let Some(layout) = &ch.layout else { continue };
                let fits = match layout.net() {
                    Some(crate::packet::Part::Ip) => d.net == Net::Ipv4,
                    Some(_) => d.net == Net::Ipv6,
                    None => ethernet,
                };
                if !fits {
                    continue;
                }
                let how = Captured { ethernet, truncated: wire_len > frame.len() };
                if let Some(pkt) = unmarshal(layout, frame, &d, how, &mut self.m.rt.heap) {
                    let net = &frame[d.link_len..d.net_end];
                    let reuse = Reuse::of(layout, pkt, net, &self.m.rt.heap);
                    outcome = Some(self.run(i, pkt, Some(reuse)));
                    break;
                }
            }
        }
        let mut o = outcome.unwrap_or_else(|| {
            self.m.rt.heap.reset_scratch();
            Outcome { channel: None, effects: Vec::new(), exception: None, pass_through: true, frames: Vec::new() }
        });
        o.frames = self.frames(lt, frame, &d, &o);
        for f in &o.frames {
            self.m.rt.load.record(now_ns, f.len() as u64);
        }
        o
    }

    /// A user-channel packet of this program (see [`encap`]) carried by the frame.
    fn channel_packet(&mut self, frame: &[u8], d: &Decoded) -> Option<(usize, Word)> {
        let net = frame.get(d.link_len..d.net_end)?;
        let s = match d.net {
            Net::Ipv4 => ipv4_shape(net, false)?,
            Net::Ipv6 => ipv6_shape(net, false)?,
            Net::Other => return None,
        };
        let udp = net.get(s.header_len..s.total_len)?;
        // A fragment (first or later) holds only part of the value: not a channel packet.
        if s.proto != 17
            || s.fragment
            || s.first_fragment
            || udp.len() < 8
            || u16::from_be_bytes([udp[2], udp[3]]) != encap::PORT
        {
            return None;
        }
        // The datagram ends at the UDP length (0: the bytes there are), as in matching.
        let udp_len = match u16::from_be_bytes([udp[4], udp[5]]) as usize {
            0 => udp.len(),
            l if l < 8 || l > udp.len() => return None,
            l => l,
        };
        let c = encap::parse(&udp[8..udp_len])?;
        let prog = self.prog.clone();
        let i = prog
            .channels
            .iter()
            .position(|ch| ch.layout.is_none() && ch.name == c.channel && ch.overload == u32::from(c.overload))?;
        let mut input = c.value;
        let v = value::decode(&mut self.m.rt.heap, &prog.channels[i].pkt_type, &mut input)?;
        if !input.is_empty() {
            self.m.rt.heap.reset_scratch();
            return None;
        }
        Some((i, v))
    }

    /// The frames for an outcome: each sent packet in a frame of the input's link type,
    /// or the input frame when it passes through.
    fn frames(&self, lt: LinkType, frame: &[u8], d: &Decoded, o: &Outcome) -> Vec<Vec<u8>> {
        if o.pass_through {
            return vec![frame.to_vec()];
        }
        let ethernet = lt.base() == 1;
        // Where user-channel packets go when sent with OnRemote: on to the destination
        // of the packet being processed (IPv4), or to this node.
        let here = self.m.rt.this_host;
        let dst = match frame.get(d.link_len..d.net_end) {
            Some(net) if d.net == Net::Ipv4 && net.len() >= 20 => {
                u32::from_be_bytes([net[16], net[17], net[18], net[19]])
            }
            _ => here,
        };
        let mut out = Vec::new();
        for e in &o.effects {
            let Effect::Send(s) = e else { continue };
            let net_packet;
            let bytes: &[u8] = if s.channel == "network" {
                let is_eth = s.link_level;
                if is_eth && ethernet {
                    out.push(s.bytes.clone());
                    continue;
                }
                if is_eth {
                    // An Ethernet frame built by the program, on a capture of another
                    // link type: its IP packet goes in a frame of that type.
                    let e = link::decode(LinkType::ETHERNET, &s.bytes);
                    if e.net == Net::Other {
                        continue; // not an IP packet: nothing to put in a frame of this type
                    }
                    &s.bytes[e.link_len..]
                } else {
                    &s.bytes
                }
            } else {
                let to = if s.kind == SendKind::Neighbor { s.neighbor.unwrap_or(dst) } else { dst };
                net_packet = encap::packet(here, to, &s.channel, s.overload, &s.bytes);
                &net_packet
            };
            // `None` only for a frame of a link type with a header that carried no IP
            // packet, which no channel takes (only Ethernet frames reach `eth*...`
            // channels, and `encode` builds an Ethernet header for those).
            out.extend(link::encode(lt, frame, d, bytes));
        }
        out
    }

    /// Deliver a packet sent on a user-defined channel directly (as if it had arrived in
    /// the encapsulation of `packet::encap`): `bytes` is the value's canonical encoding.
    pub fn deliver(&mut self, channel: &str, overload: u32, bytes: &[u8], now_ns: u64) -> Outcome {
        let packet = encap::packet(self.m.rt.this_host, self.m.rt.this_host, channel, overload, bytes);
        self.process(LinkType::RAW, &packet, now_ns)
    }

    /// Run channel `i` on packet value `pkt` (already in the scratch space).
    fn run(&mut self, i: usize, pkt: Word, reuse: Option<Reuse>) -> Outcome {
        self.m.reuse = reuse;
        let prog = self.prog.clone();
        let ch = &prog.channels[i];
        let mark = self.m.rt.effects_len();
        self.m.rt.heap.begin();
        self.m.reset_frames();
        self.m.set_local(0, self.ps);
        self.m.set_local(1, self.ss[i]);
        self.m.set_local(2, pkt);
        let result = eval(&prog, &ch.body, &mut self.m);
        let exception = match result {
            Ok(pair) => {
                let heap = &mut self.m.rt.heap;
                let (nps, nss) = (heap.tuple_get(pair, 0), heap.tuple_get(pair, 1));
                self.ps = heap.promote(nps, prog.ps_type.is_ptr());
                self.ss[i] = heap.promote(nss, ch.ss_type.is_ptr());
                heap.commit();
                None
            }
            Err(r) => {
                self.m.rt.heap.rollback();
                self.m.rt.discard_sends_since(mark);
                Some(Uncaught {
                    exn: prog.exceptions[r.exn.0 as usize].clone(),
                    span: r.span,
                    from: format!("channel {}", ch.name),
                })
            }
        };
        let effects = self.m.rt.take_effects();
        self.m.rt.heap.reset_scratch();
        if self.m.rt.heap.wants_collection() {
            self.collect();
        }
        self.m.reuse = None;
        Outcome { channel: Some(i), effects, pass_through: exception.is_some(), exception, frames: Vec::new() }
    }

    /// Collect the persistent heap from the node's roots.
    fn collect(&mut self) {
        let prog = &self.prog;
        let mut roots: Vec<Word> = self.m.strings().to_vec();
        roots.extend(prog.globals.iter().zip(self.m.globals()).filter(|(g, _)| g.ty.is_ptr()).map(|(_, &w)| w));
        if prog.ps_type.is_ptr() {
            roots.push(self.ps);
        }
        roots.extend(prog.channels.iter().zip(&self.ss).filter(|(c, _)| c.ss_type.is_ptr()).map(|(_, &w)| w));
        self.m.rt.heap.collect(roots);
    }

    /// The heap's counters (for tests of memory behaviour).
    pub fn heap_stats(&self) -> HeapStats {
        self.m.rt.heap.stats()
    }

    /// The heap (to read values the node holds).
    pub fn heap(&self) -> &Heap {
        &self.m.rt.heap
    }

    /// The protocol state.
    pub fn protocol_state(&self) -> Word {
        self.ps
    }

    /// Channel `i`'s state.
    pub fn channel_state(&self, i: usize) -> Word {
        self.ss[i]
    }

    /// The protocol state and every channel's state, written as values, one per line.
    pub fn describe_states(&self, budget: usize) -> String {
        let heap = &self.m.rt.heap;
        let mut out = String::new();
        let mut b = budget;
        out.push_str("protocol state : ");
        out.push_str(&self.prog.ps_type.to_string());
        out.push_str(" = ");
        value::repr(heap, &self.prog.ps_type, self.ps, &mut out, &mut b);
        out.push('\n');
        for (ch, &w) in self.prog.channels.iter().zip(&self.ss) {
            let mut b = budget;
            out.push_str(&format!("channel {} ({}) state : {} = ", ch.name, ch.pkt_type, ch.ss_type));
            value::repr(heap, &ch.ss_type, w, &mut out, &mut b);
            out.push('\n');
        }
        out
    }
}

fn run_init(prog: &Program, init: &Init, m: &mut Machine) -> Result<Word, Raise> {
    m.reset_frames();
    eval(prog, &init.body, m)
}

fn load_error(prog: &Program, m: &mut Machine, r: Raise, what: &str, def: Span) -> LoadError {
    let output =
        m.rt.take_effects().into_iter().flat_map(|e| if let Effect::Print(s) = e { s } else { Vec::new() }).collect();
    let exn = &prog.exceptions[r.exn.0 as usize];
    let diag = Diag::new(
        Phase::Load,
        "uncaught-exception",
        format!("uncaught exception `{exn}` while initialising {what}"),
        r.span,
        format!("`{exn}` raised here"),
    )
    .label(def, "initialised here")
    .help("an initialiser must not raise; handle the exception with `try ... handle`");
    LoadError { diag, output }
}
