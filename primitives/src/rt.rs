//! The run-time context a primitive computes in: the heap, the effects a packet's
//! processing produces (printed text and sent packets, in order), exceptions, and facts
//! about the node and the current packet.

use crate::heap::Heap;
use crate::types::Type;

/// An exception identity. Built-in exceptions have the first numbers (see
/// [`BUILTIN_EXCEPTIONS`]); the exceptions a program declares are numbered after them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Exn(pub u32);

/// The built-in exceptions, in the order of their numbers: name and meaning.
pub const BUILTIN_EXCEPTIONS: &[(&str, &str)] = &[
    ("DivByZero", "integer division or remainder by zero"),
    ("NotFound", "a hash-table lookup found no entry for its key"),
    ("Empty", "`hd` or `tl` of the empty list"),
    ("Subscript", "a position or length outside a string or blob, or `chr` of a value outside 0..=255"),
];

/// `DivByZero`.
pub const DIV_BY_ZERO: Exn = Exn(0);
/// `NotFound`.
pub const NOT_FOUND: Exn = Exn(1);
/// `Empty`.
pub const EMPTY: Exn = Exn(2);
/// `Subscript`.
pub const SUBSCRIPT: Exn = Exn(3);

/// The node's resource limit, raised like an exception but not one of the language's:
/// no program can name it, no handler takes it (not even `handle _`), and the verifier
/// does not count it. It ends the channel's run as an escaping exception does (the
/// states and tables rolled back, the sends discarded, the packet passed on as it came),
/// and it is reported under [`RESOURCE_LIMIT_NAME`]. What raises it: making the scratch
/// space hold more than [`crate::heap::SCRATCH_BYTES_LIMIT`] bytes while one packet is
/// processed (`docs/language.md`, "Resource limits").
pub const RESOURCE_LIMIT: Exn = Exn(u32::MAX);

/// The name [`RESOURCE_LIMIT`] is reported under.
pub const RESOURCE_LIMIT_NAME: &str = "ResourceLimit";

/// What the checker knows about one call of a primitive: the argument types and the
/// result type, fully solved. Polymorphic primitives (printing, tables) read it to know
/// how to treat their untagged arguments. It is static: fixed when the program is loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// Argument types.
    pub args: Vec<Type>,
    /// Result type.
    pub ret: Type,
}

/// How a packet leaves the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SendKind {
    /// `OnRemote`: routed towards the packet's destination.
    Remote,
    /// `OnNeighbor`: sent over one link to a given neighbour.
    Neighbor,
}

/// A packet sent by the program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Send {
    /// `OnRemote` or `OnNeighbor`.
    pub kind: SendKind,
    /// The channel the packet is sent on, by name (`network` for plain IP packets),
    /// shared with the program (no copy per packet).
    pub channel: std::sync::Arc<str>,
    /// Which overload of that channel (by its position among the overloads).
    pub overload: u32,
    /// The marshalled packet.
    pub bytes: Vec<u8>,
    /// For `OnNeighbor`: the neighbour's address.
    pub neighbor: Option<u32>,
    /// Do the bytes start with an Ethernet header (a packet type starting with `eth`)?
    pub link_level: bool,
}

/// An observable effect of running PLAN-P code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Bytes written by `print` or `println` (consecutive writes are merged). PLAN-P
    /// strings are bytes, and they are printed as they are, UTF-8 or not.
    Print(Vec<u8>),
    /// A packet sent with `OnRemote` or `OnNeighbor`.
    Send(Send),
    /// A value handed to the local host with `deliver` (its canonical encoding,
    /// `value::encode`): it goes to the node's applications, not on the wire.
    Deliver(Vec<u8>),
}

/// The measured load of the node's outgoing link: bytes sent over a sliding window of
/// time, from the timestamps of the packets (not the wall clock), so that replaying a
/// capture measures what happened when it was taken.
#[derive(Debug, Clone)]
pub struct LinkLoad {
    window_ns: u64,
    samples: std::collections::VecDeque<(u64, u64)>,
    bytes_in_window: u64,
}

impl Default for LinkLoad {
    fn default() -> Self {
        LinkLoad::new(1_000_000_000)
    }
}

impl LinkLoad {
    /// A meter over a window of `window_ns` nanoseconds (at least 1).
    pub fn new(window_ns: u64) -> Self {
        LinkLoad { window_ns: window_ns.max(1), samples: Default::default(), bytes_in_window: 0 }
    }

    /// The window's length in nanoseconds.
    pub fn window_ns(&self) -> u64 {
        self.window_ns
    }

    fn expire(&mut self, now_ns: u64) {
        while let Some(&(t, b)) = self.samples.front() {
            // Saturating: a damaged capture can carry times near the end of `u64`.
            if t.saturating_add(self.window_ns) > now_ns {
                break;
            }
            self.samples.pop_front();
            self.bytes_in_window -= b;
        }
    }

    /// Record `bytes` sent at time `ts_ns` (times must not go backwards; an earlier time
    /// counts as the latest one).
    pub fn record(&mut self, ts_ns: u64, bytes: u64) {
        let ts = self.samples.back().map_or(ts_ns, |&(t, _)| ts_ns.max(t));
        self.expire(ts);
        // Frames of one time are one sample (they expire together): the meter holds at
        // most one sample per distinct time in the window, also when a capture's times
        // go backwards (or one damaged time lies far ahead) and are counted as the latest.
        match self.samples.back_mut() {
            Some((t, b)) if *t == ts => *b += bytes,
            _ => self.samples.push_back((ts, bytes)),
        }
        self.bytes_in_window += bytes;
    }

    /// Bytes per second sent in the window that ends at `now_ns`.
    pub fn bytes_per_second(&mut self, now_ns: u64) -> u64 {
        self.expire(now_ns);
        (self.bytes_in_window as u128 * 1_000_000_000 / self.window_ns as u128) as u64
    }
}

/// The run-time context.
#[derive(Debug, Default)]
pub struct Rt {
    /// The heap.
    pub heap: Heap,
    effects: Vec<Effect>,
    /// The address of the node the program runs on (`thisHost`).
    pub this_host: u32,
    /// The time of the current packet, in nanoseconds since the Unix epoch.
    pub now_ns: u64,
    /// The load of the outgoing link (`linkLoad`), measured by the node itself.
    pub load: LinkLoad,
    /// The load of the current packet's outgoing link as measured by whoever runs the
    /// node, when that is not the node's own meter (the simulator, which knows which
    /// link the packet leaves on): `linkLoad` gives this instead of [`Rt::load`]'s reading.
    pub load_reading: Option<u64>,
    /// The neighbours of the node, one per link (`neighbors`): empty when the node runs
    /// alone over a capture.
    pub neighbors: Vec<u32>,
    /// The neighbour the current packet came from (`prevHop`); 0 (0.0.0.0) when not known.
    pub prev_hop: u32,
    /// A buffer reused for encoding hash-table keys (no allocation per lookup).
    pub(crate) key_buf: Vec<u8>,
    /// Byte buffers given back by whoever consumed the previous packet's outcome (sent
    /// packets, frames), handed out again for the next ones: a node that reuses its
    /// outcomes allocates nothing per packet for them (see [`Rt::buffer`]).
    spare: Vec<Vec<u8>>,
}

/// At most this many buffers wait in [`Rt`]'s pool.
const SPARE_BUFFERS: usize = 64;
/// A buffer larger than this is freed rather than kept (a jumbo frame's buffer is not
/// worth keeping for the ordinary packets that follow it).
const SPARE_CAPACITY: usize = 1 << 17;

impl Rt {
    /// A fresh context with an empty heap.
    pub fn new() -> Self {
        Self::default()
    }

    /// Record printed text.
    pub fn print(&mut self, s: &[u8]) {
        if let Some(Effect::Print(last)) = self.effects.last_mut() {
            last.extend_from_slice(s);
        } else {
            let mut b = self.buffer();
            b.extend_from_slice(s);
            self.effects.push(Effect::Print(b));
        }
    }

    /// Record a sent packet.
    pub fn send(&mut self, s: Send) {
        self.effects.push(Effect::Send(s));
    }

    /// Record a value delivered to the local host.
    pub fn deliver(&mut self, bytes: Vec<u8>) {
        self.effects.push(Effect::Deliver(bytes));
    }

    /// How many effects have been recorded (a mark for [`Rt::discard_sends_since`]).
    pub fn effects_len(&self) -> usize {
        self.effects.len()
    }

    /// Drop the packets sent (and the values delivered) since `mark`, keeping printed
    /// text: an aborted packet sends nothing, but what it printed has been seen.
    pub fn discard_sends_since(&mut self, mark: usize) {
        let tail = self.effects.split_off(mark.min(self.effects.len()));
        for e in tail {
            if let Effect::Print(s) = e {
                self.print(&s);
            }
        }
    }

    /// Take the effects recorded so far.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// Exchange the effects recorded so far with `into`, which must be empty: the caller
    /// gets the effects, and the run-time context keeps the empty vector's capacity for
    /// the next packet's (no allocation when outcomes are reused).
    pub fn swap_effects(&mut self, into: &mut Vec<Effect>) {
        debug_assert!(into.is_empty(), "internal error: effects would be lost");
        std::mem::swap(&mut self.effects, into);
    }

    /// An empty byte buffer: one given back with [`Rt::give_back`] (its capacity kept), or
    /// a new one.
    pub fn buffer(&mut self) -> Vec<u8> {
        self.spare.pop().unwrap_or_default()
    }

    /// Give back a buffer that is no longer needed, for [`Rt::buffer`] to hand out again
    /// (unless the pool is full or the buffer is very large: then it is freed).
    pub fn give_back(&mut self, mut b: Vec<u8>) {
        if self.spare.len() < SPARE_BUFFERS && b.capacity() > 0 && b.capacity() <= SPARE_CAPACITY {
            b.clear();
            self.spare.push(b);
        }
    }

    /// Give back the buffers of `effects` (their bytes) and empty it, keeping its
    /// capacity.
    pub fn give_back_effects(&mut self, effects: &mut Vec<Effect>) {
        for e in effects.drain(..) {
            match e {
                Effect::Print(b) | Effect::Deliver(b) => self.give_back(b),
                Effect::Send(s) => self.give_back(s.bytes),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames recorded at one time, or at times that went backwards, are one sample: a
    /// capture whose times stop advancing does not grow the meter.
    #[test]
    fn link_load_keeps_one_sample_per_time() {
        let mut l = LinkLoad::new(1_000_000_000);
        l.record(5_000_000_000, 100);
        for i in 0..10_000 {
            l.record(4_000_000_000 - i, 10);
        }
        assert_eq!(l.samples.len(), 1);
        assert_eq!(l.bytes_per_second(5_000_000_000), 100 + 10 * 10_000);
        l.record(5_500_000_000, 7);
        assert_eq!(l.samples.len(), 2);
        assert_eq!(l.bytes_per_second(6_000_000_000), 7, "the merged sample expires as one");
    }

    /// Buffers given back come out again empty, with their capacity; the pool stays
    /// bounded, in number and in the size of what it keeps.
    #[test]
    fn buffers_are_reused_within_bounds() {
        let mut rt = Rt::new();
        let mut b = rt.buffer();
        b.extend_from_slice(&[1; 100]);
        let p = b.as_ptr();
        rt.give_back(b);
        let b = rt.buffer();
        assert!(b.is_empty() && b.capacity() >= 100);
        assert_eq!(b.as_ptr(), p, "the same allocation");
        rt.give_back(Vec::with_capacity(SPARE_CAPACITY + 1));
        assert_eq!(rt.buffer().capacity(), 0, "a huge buffer is not kept");
        for _ in 0..SPARE_BUFFERS + 10 {
            rt.give_back(vec![0; 8]);
        }
        assert_eq!(rt.spare.len(), SPARE_BUFFERS);
        let mut effects = vec![Effect::Print(vec![1; 10]), Effect::Deliver(vec![2; 10])];
        let mut rt = Rt::new();
        rt.give_back_effects(&mut effects);
        assert!(effects.is_empty());
        assert_eq!(rt.spare.len(), 2);
    }

    /// Regression: a damaged capture's timestamp near `u64::MAX` overflowed the window
    /// arithmetic.
    #[test]
    fn link_load_survives_extreme_times() {
        let mut l = LinkLoad::new(1_000_000_000);
        l.record(u64::MAX - 5, 10);
        assert_eq!(l.bytes_per_second(u64::MAX - 1), 10);
        l.record(3, 1);
        assert!(l.bytes_per_second(u64::MAX) <= 11);
    }

    #[test]
    fn link_load_is_a_sliding_window_over_packet_times() {
        let mut l = LinkLoad::new(1_000_000_000);
        l.record(0, 1000);
        l.record(500_000_000, 500);
        assert_eq!(l.bytes_per_second(900_000_000), 1500);
        // At t = 1 s the first sample leaves the window.
        assert_eq!(l.bytes_per_second(1_000_000_000), 500);
        assert_eq!(l.bytes_per_second(2_000_000_000), 0);
        let mut half = LinkLoad::new(500_000_000);
        half.record(0, 100);
        assert_eq!(half.bytes_per_second(1), 200, "rates are per second whatever the window");
    }

    #[test]
    fn prints_merge_and_sends_can_be_discarded() {
        let mut rt = Rt::new();
        rt.print(b"a");
        let mark = rt.effects_len();
        rt.print(b"b");
        rt.send(Send {
            link_level: false,
            kind: SendKind::Remote,
            channel: "network".into(),
            overload: 0,
            bytes: vec![1],
            neighbor: None,
        });
        rt.print(b"c");
        rt.discard_sends_since(mark);
        assert_eq!(rt.take_effects(), vec![Effect::Print(b"abc".to_vec())]);
    }
}
