//! A PLAN-P node: one loaded program with its states, processing packets one at a time.
//!
//! Channel semantics (`docs/language.md`, "Channels"):
//! - the protocol state is shared by all channels; each channel (each overload) has its
//!   own channel state; both persist from packet to packet;
//! - a packet is given to the first `network` channel, in program order, whose packet
//!   type it matches; a packet that no channel takes passes on unchanged;
//! - printed text and sent packets are effects, collected in order;
//! - an exception that escapes a channel ends that packet's processing: the states (hash
//!   tables included) are as they were before the packet, the packets it sent are
//!   discarded (what it printed stays), and the packet passes on unchanged;
//! - everything a packet allocates is freed when it is done, except what the new states
//!   keep; so memory does not grow from packet to packet unless the states do.

use crate::diag::{Diag, Phase};
use crate::eval::{Machine, Raise, eval};
use crate::ir::{Init, Program};
use crate::packet::{Part, unmarshal};
use crate::span::Span;
use planp_primitives::heap::HeapStats;
use planp_primitives::value::{self, zero};
use planp_primitives::{Effect, Heap, Rt, Word};
use std::sync::Arc;

/// How the bytes given to [`Node::process`] begin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// At the IPv4 header.
    Ip,
    /// At an Ethernet II header.
    Ethernet,
}

/// Facts about the node a program runs on.
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeConfig {
    /// The node's address (`thisHost`).
    pub this_host: u32,
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

    /// Process one packet whose bytes begin as `link` says, at time `now_ns`.
    pub fn process(&mut self, link: Link, bytes: &[u8], now_ns: u64) -> Outcome {
        self.m.rt.now_ns = now_ns;
        let prog = self.prog.clone();
        let ip_start = match link {
            Link::Ip => Some(0),
            Link::Ethernet => (bytes.len() >= 14 && bytes[12..14] == [0x08, 0x00]).then_some(14),
        };
        for (i, ch) in prog.channels.iter().enumerate() {
            let Some(layout) = &ch.layout else { continue };
            let input = match (layout.parts[0], link) {
                (Part::Eth, Link::Ethernet) => bytes,
                (Part::Eth, Link::Ip) => continue,
                (_, _) => match ip_start {
                    Some(s) => &bytes[s..],
                    None => continue,
                },
            };
            if let Some(pkt) = unmarshal(layout, input, &mut self.m.rt.heap) {
                return self.run(i, pkt);
            }
        }
        self.m.rt.heap.reset_scratch();
        Outcome { channel: None, effects: Vec::new(), exception: None, pass_through: true }
    }

    /// Deliver a packet sent on a user-defined channel (`OnRemote(c, v)` from a node
    /// running this program): `bytes` is the value's canonical encoding.
    pub fn deliver(&mut self, channel: &str, overload: u32, bytes: &[u8], now_ns: u64) -> Outcome {
        self.m.rt.now_ns = now_ns;
        let prog = self.prog.clone();
        let found =
            prog.channels.iter().position(|c| c.name == channel && c.overload == overload && c.layout.is_none());
        if let Some(i) = found {
            let mut input = bytes;
            let v = value::decode(&mut self.m.rt.heap, &prog.channels[i].pkt_type, &mut input);
            if let (Some(v), true) = (v, input.is_empty()) {
                return self.run(i, v);
            }
        }
        self.m.rt.heap.reset_scratch();
        Outcome { channel: None, effects: Vec::new(), exception: None, pass_through: true }
    }

    /// Run channel `i` on packet value `pkt` (already in the scratch space).
    fn run(&mut self, i: usize, pkt: Word) -> Outcome {
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
        Outcome { channel: Some(i), effects, pass_through: exception.is_some(), exception }
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
