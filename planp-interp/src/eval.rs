//! The evaluator, written in the two-level style the specializer consumes.
//!
//! Binding times: the program and its expressions are **static** (`#[stat]`); the
//! [`Machine`] (frames, heap, effects) and every [`Word`] computed from it are
//! **dynamic** (`#[dynamic]`). The functions of [`engine`] are the interpreter, and
//! `#[specialize]` derives from them their generating extensions (`engine::eval_gen`,
//! ...), which the JIT runs to emit code. The discipline (`docs/specialization.md`):
//!
//! - dispatch on the syntax tree is a `match` on a static value;
//! - recursion is on static sub-terms only (the tree is finite, so the generating
//!   extension unfolds it), and loops over static collections (arguments, tuple
//!   components, handlers) are `for` loops over them;
//! - dynamic work is word arithmetic (`wrapping_*`, comparisons, casts), the frame
//!   vocabulary of [`Machine`] (`frame_load`, `frame_store`, `frame_index`,
//!   `frame_load_at`, `in_frame`), and calls of Rust functions (heap access, primitives,
//!   sends), which become calls through one ABI in generated code; the one dynamic loop
//!   (`foldl`/`foldr` over a list) is a `while` on a dynamic condition;
//! - a static value used as dynamic data is passed through [`engine::lift`];
//! - exceptions are `Err(Raised)` propagated with `?` (what was raised, and where, is
//!   kept in the machine); `try` is a `match` on the result.
//!
//! Words carry no tags: what a word is follows from the static type at each node.

use crate::ir::{CmpOp, Expr, Program, Slot};
use crate::packet;
use crate::span::Span;
use planp_primitives::rt::RESOURCE_LIMIT;
use planp_primitives::value::{self, tuple_mask};
use planp_primitives::{Exn, NIL, Rt, Send, SendKind, Site, Type, Word};
use planp_specialize_macro::specialize;

/// An exception in flight: which one, and the expression that raised it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Raise {
    /// The exception.
    pub exn: Exn,
    /// Where it was raised (a `raise`, a primitive call, a division).
    pub span: Span,
}

/// The failure of an evaluation: an exception was raised; which one, and where, the
/// machine keeps ([`Machine::take_raised`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Raised;

// SAFETY: `OFFSET` is where the field `part` returns lives in every `Machine`.
#[allow(unsafe_code)] // The one promise the JIT needs to inline primitives (`Gen::part`).
unsafe impl planp_jit::Part<Rt> for Machine {
    const OFFSET: usize = std::mem::offset_of!(Machine, rt);
    fn part(&mut self) -> &mut Rt {
        &mut self.rt
    }
}

impl planp_jit::ToWord for Raised {
    fn to_word(self) -> u64 {
        0
    }
}

/// The dynamic state the evaluator works on: the frame stack, globals, string literals
/// and the run-time context (heap, effects).
#[derive(Debug)]
pub struct Machine {
    /// Heap, effects and node facts.
    pub rt: Rt,
    stack: Vec<Word>,
    fp: usize,
    globals: Vec<Word>,
    strings: Vec<Word>,
    raised: Raise,
    /// What the packet being processed lets marshalling reuse (its transport checksum).
    pub reuse: Option<packet::Reuse>,
}

impl Machine {
    /// A machine for `prog`: a stack as deep as the program can need, its string literals
    /// in the persistent heap, and globals all zero (the loader runs the initialisers).
    pub fn new(prog: &Program, mut rt: Rt) -> Machine {
        let strings = prog.strings.iter().map(|s| rt.heap.alloc_bytes_persistent(s)).collect();
        Machine {
            rt,
            stack: vec![0; prog.stack_size.max(dispatch_words(prog))],
            fp: 0,
            globals: vec![0; prog.globals.len()],
            strings,
            raised: Raise { exn: Exn(0), span: Span::new(0, 0) },
            reuse: None,
        }
    }

    /// A machine with no program, for matching frames against packet types of up to
    /// `parts` components (`engine::unmarshal`).
    pub fn for_matching(rt: Rt, parts: usize) -> Machine {
        Machine {
            rt,
            stack: vec![0; UNMARSHAL_SLOTS as usize + parts],
            fp: 0,
            globals: Vec::new(),
            strings: Vec::new(),
            raised: Raise { exn: Exn(0), span: Span::new(0, 0) },
            reuse: None,
        }
    }

    /// Make room for what a program extended after this machine was made needs: its new
    /// globals (zero until initialised), string literals and deeper stack.
    pub fn grow(&mut self, prog: &Program) {
        self.globals.resize(prog.globals.len(), 0);
        for s in &prog.strings[self.strings.len().min(prog.strings.len())..] {
            let h = self.rt.heap.alloc_bytes_persistent(s);
            self.strings.push(h);
        }
        self.strings.truncate(prog.strings.len());
        let words = prog.stack_size.max(dispatch_words(prog));
        if self.stack.len() < words {
            self.stack.resize(words, 0);
        }
    }

    // ---- the frame vocabulary (frame operations in generated code) --------------------

    /// Load slot `s` of the current frame.
    #[inline]
    pub fn frame_load(&self, s: Slot) -> Word {
        self.stack[self.fp + s as usize]
    }

    /// Store into slot `s` of the current frame.
    #[inline]
    pub fn frame_store(&mut self, s: Slot, w: Word) {
        self.stack[self.fp + s as usize] = w;
    }

    /// Slots `s..s + n` of the current frame.
    pub fn frame_slice(&self, s: Slot, n: usize) -> &[Word] {
        &self.stack[self.fp + s as usize..][..n]
    }

    /// The frame index (position in the word stack) of slot `s` of the current frame.
    #[inline]
    pub fn frame_index(&self, s: Slot) -> Word {
        (self.fp + s as usize) as Word
    }

    /// Load slot `s` of the frame that starts at frame index `i`.
    #[inline]
    pub fn frame_load_at(&self, i: Word, s: Slot) -> Word {
        self.stack[i as usize + s as usize]
    }

    /// Run `body` in the frame that starts at slot `base` of the current one.
    #[inline]
    pub fn in_frame<R>(&mut self, base: Slot, body: impl FnOnce(&mut Machine) -> R) -> R {
        let saved = self.fp;
        self.fp += base as usize;
        let r = body(self);
        self.fp = saved;
        r
    }

    /// The word stack (generated code addresses it directly).
    pub fn stack_mut(&mut self) -> &mut [Word] {
        &mut self.stack
    }

    // ---- called from the evaluator (calls through the ABI in generated code) ---------

    /// Raise `exn` at `span`: remember it, and give the failure to propagate.
    pub fn raise(&mut self, exn: &Exn, span: &Span) -> Raised {
        self.raised = Raise { exn: *exn, span: *span };
        Raised
    }

    /// Is the exception in flight `exn`?
    pub fn raised_is(&self, exn: &Exn) -> bool {
        self.raised.exn == *exn
    }

    /// Is what is in flight the node's resource limit ([`RESOURCE_LIMIT`]), which no
    /// handler takes?
    pub fn raised_limit(&self) -> bool {
        self.raised.exn == RESOURCE_LIMIT
    }

    /// `x ^ y`: new bytes, or the resource limit ([`RESOURCE_LIMIT`]) if the scratch
    /// space would hold more than its limit (`Heap::scratch_room`): a chain of `let`s or
    /// a fold that doubles a string would otherwise exhaust memory within one packet.
    pub fn concat(&mut self, x: Word, y: Word, span: &Span) -> Result<Word, Raised> {
        let heap = &mut self.rt.heap;
        let (a, b) = (heap.bytes(x), heap.bytes(y));
        if !heap.scratch_room(a.len().saturating_add(b.len())) {
            return Err(self.raise(&RESOURCE_LIMIT, span));
        }
        let mut joined = Vec::with_capacity(a.len() + b.len());
        joined.extend_from_slice(a);
        joined.extend_from_slice(b);
        Ok(heap.alloc_bytes_vec(joined))
    }

    /// The exception in flight.
    pub fn take_raised(&self) -> Raise {
        self.raised
    }

    /// Load a global.
    #[inline]
    pub fn global(&self, g: u32) -> Word {
        self.globals[g as usize]
    }

    /// Store a global (done by the loader only).
    pub fn set_global(&mut self, g: u32, w: Word) {
        self.globals[g as usize] = w;
    }

    /// All globals.
    pub fn globals(&self) -> &[Word] {
        &self.globals
    }

    /// The handle of string literal `i`.
    #[inline]
    pub fn string(&self, i: u32) -> Word {
        self.strings[i as usize]
    }

    /// The string literals' handles (roots for the collector).
    pub fn strings(&self) -> &[Word] {
        &self.strings
    }

    /// Reset the frame pointer to the bottom of the stack (before running an entry point).
    pub fn reset_frames(&mut self) {
        self.fp = 0;
    }

    /// Store the head of the non-empty list `l` at frame index `at`; give its tail.
    #[inline]
    pub fn uncons_into(&mut self, l: Word, at: Word) -> Word {
        let (head, tail) = (self.rt.heap.head(l), self.rt.heap.tail(l));
        self.stack[at as usize] = head;
        tail
    }

    /// A list of the `n` words from frame index `first`, in order.
    #[inline]
    pub fn list_from_frame(&mut self, first: Word, n: usize, elem_is_ptr: bool) -> Word {
        let start = first as usize;
        let Machine { rt, stack, .. } = self;
        rt.heap.list_from(&stack[start..start + n], elem_is_ptr)
    }

    /// A tuple of the `n` words from frame index `first`; bit `i` of `mask` says whether
    /// word `i` is a handle.
    pub fn tuple_from_frame(&mut self, first: Word, n: usize, mask: u64) -> Word {
        let start = first as usize;
        let Machine { rt, stack, .. } = self;
        rt.heap.tuple_from(&stack[start..start + n], mask)
    }

    // ---- the frame being matched (`engine::dispatch`) -------------------------------

    /// Make `frame` the frame [`engine::dispatch`] matches, and store in the dispatch
    /// slots what it reads: the frame's length, where its network packet starts and ends
    /// (`link_len <= net_end <= frame.len()`, as link decoding gives them; anything else
    /// is taken as a frame without a network packet) and its flags ([`NET_IPV4`],
    /// [`NET_IPV6`], [`ETHERNET`], [`TRUNCATED`]).
    pub fn set_input(&mut self, frame: &[u8], link_len: usize, net_end: usize, flags: Word) {
        self.rt.heap.set_input(frame);
        let n = frame.len();
        let (link_len, net_end, flags) =
            if link_len <= net_end && net_end <= n { (link_len, net_end, flags) } else { (n, n, flags & !NET_MASK) };
        self.fp = 0;
        self.stack[IN_LEN as usize] = n as Word;
        self.stack[IN_LINK_LEN as usize] = link_len as Word;
        self.stack[IN_NET_END as usize] = net_end as Word;
        self.stack[IN_FLAGS as usize] = flags;
    }

    /// The frame being matched (kept in the heap's scratch space, [`Heap::set_input`]).
    ///
    /// [`Heap::set_input`]: planp_primitives::heap::Heap::set_input
    pub fn input(&self) -> &[u8] {
        self.rt.heap.input()
    }

    /// A bytes object (in the scratch space) of the `len` bytes of the frame at `start`
    /// (both within it: `unmarshal` checked): the frame's own bytes, not a copy.
    pub fn alloc_input(&mut self, start: Word, len: Word) -> Word {
        let (s, l) = (start as usize, len as usize);
        self.rt.heap.input_bytes(s, l)
    }

    /// The length of the Ethernet header (VLAN tags included) the frame starts with.
    pub fn input_ethernet_len(&self) -> Option<Word> {
        packet::link::ethernet_header_len(self.rt.heap.input()).map(|n| n as Word)
    }

    /// Where the first 0 byte of the frame in `start..end` is.
    pub fn input_nul(&self, start: Word, end: Word) -> Option<Word> {
        let b = self.rt.heap.input().get(start as usize..end as usize)?;
        b.iter().position(|&x| x == 0).map(|i| start + i as Word)
    }

    /// The shape of the IPv4 (or, if `v6`, IPv6) packet in the frame's bytes
    /// `start..end`, packed in a word (`packet::shape_word`).
    pub fn input_ip_shape(&self, v6: bool, start: Word, end: Word, truncated: bool) -> Option<Word> {
        let b = self.rt.heap.input().get(start as usize..end as usize)?;
        let s = if v6 { packet::ipv6_shape(b, truncated)? } else { packet::ipv4_shape(b, truncated)? };
        packet::shape_word(&s)
    }

    /// Call a primitive: its arguments are the `n` words from frame index `first`.
    #[inline]
    pub fn call_prim(
        &mut self,
        p: &planp_primitives::Prim,
        site: &Site,
        first: Word,
        n: usize,
        span: &Span,
    ) -> Result<Word, Raised> {
        let start = first as usize;
        let Machine { rt, stack, .. } = self;
        match (p.compute)(rt, &stack[start..start + n], site) {
            Ok(w) => Ok(w),
            Err(exn) => Err(self.raise(&exn, span)),
        }
    }
}

// ---- the frame while `engine::dispatch` matches a frame -------------------------------

/// Slot of the dispatch frame holding the frame's length (slot 0 gets the number of the
/// channel that takes the frame).
pub const IN_LEN: Slot = 0;
/// Slot holding where the network packet starts in the frame.
pub const IN_LINK_LEN: Slot = 1;
/// Slot holding where the network packet's bytes end.
pub const IN_NET_END: Slot = 2;
/// Slot holding the frame's flags: its network protocol (`NET_*`), [`ETHERNET`],
/// [`TRUNCATED`].
pub const IN_FLAGS: Slot = 3;
/// Where `unmarshal` keeps the components it has read, one slot each: where the channel
/// that takes the frame finds them ([`crate::ir::PACKET_PARTS`]).
pub const UNMARSHAL_SLOTS: Slot = crate::ir::PACKET_PARTS;
/// The network protocol, in the low bits of the flags.
pub const NET_MASK: Word = 3;
/// An IPv4 packet.
pub const NET_IPV4: Word = 1;
/// An IPv6 packet.
pub const NET_IPV6: Word = 2;
/// The frame is an Ethernet frame.
pub const ETHERNET: Word = 4;
/// The capture cut the frame short.
pub const TRUNCATED: Word = 8;

/// The words of frame a program's dispatch needs: the inputs, then a slot per component
/// of its longest packet type.
pub fn dispatch_words(prog: &Program) -> usize {
    let parts = prog.channels.iter().filter_map(|c| c.layout.as_ref()).map(|l| l.parts.len()).max().unwrap_or(0);
    (UNMARSHAL_SLOTS as usize + parts).max(8)
}

/// The evaluator proper, in the two-level style: `#[specialize]` derives from each
/// function here its generating extension (`eval_gen`, ...), which the JIT runs once per
/// program to emit the code of the dynamic part. See `docs/specialization.md`.
#[specialize]
pub mod engine {
    use super::{
        ETHERNET, IN_FLAGS, IN_LEN, IN_LINK_LEN, IN_NET_END, Machine, NET_IPV4, NET_IPV6, NET_MASK, Raised, TRUNCATED,
        UNMARSHAL_SLOTS, deep_compare, reverse, send,
    };
    use crate::ir::{Arith, CmpKind, CmpOp, Expr, ExprKind, FoldDir, Fun, Program, STATE_SLOTS, Slot};
    use crate::packet::{PacketLayout, Part, SHAPE_FRAGMENT, SHAPE_LEN_MASK, SHAPE_PROTO_SHIFT, SHAPE_TOTAL_SHIFT};
    use crate::span::Span;
    use planp_jit::BeBytes;
    use planp_primitives::{Inline, NIL, Word};

    /// A static value used as dynamic data: the identity here; an immediate operand in
    /// generated code.
    #[inline(always)]
    pub fn lift(w: Word) -> Word {
        w
    }

    /// Evaluate `e` in the current frame.
    pub fn eval(#[stat] p: &Program, #[stat] e: &Expr, #[dynamic] m: &mut Machine) -> Result<Word, Raised> {
        note!("{}", p.source_note(e));
        match &e.kind {
            ExprKind::Const(w) => Ok(lift(*w)),
            ExprKind::Str(i) => Ok(m.string(*i)),
            ExprKind::Local(s) => Ok(m.frame_load(*s)),
            ExprKind::Outer { hops, slot } => {
                let fp = frame_up(*hops, m);
                Ok(m.frame_load_at(fp, *slot))
            }
            ExprKind::Global(g) => Ok(m.global(g.0)),
            ExprKind::Let { binds, body } => {
                for (slot, value) in binds {
                    let v = eval(p, value, m)?;
                    m.frame_store(*slot, v);
                }
                eval(p, body, m)
            }
            ExprKind::Seq(es) => {
                let (last, init) = es.split_last().expect("a sequence has at least one expression");
                for x in init {
                    eval(p, x, m)?;
                }
                eval(p, last, m)
            }
            ExprKind::If(c, t, f) => {
                if eval(p, c, m)? != 0 {
                    eval(p, t, m)
                } else {
                    eval(p, f, m)
                }
            }
            ExprKind::And(a, b) => {
                if eval(p, a, m)? != 0 {
                    eval(p, b, m)
                } else {
                    Ok(0)
                }
            }
            ExprKind::Or(a, b) => {
                if eval(p, a, m)? != 0 {
                    Ok(1)
                } else {
                    eval(p, b, m)
                }
            }
            ExprKind::Not(a) => Ok((eval(p, a, m)? == 0) as Word),
            ExprKind::Neg(a) => Ok((eval(p, a, m)? as i64).wrapping_neg() as Word),
            ExprKind::NotI(a) => Ok(!eval(p, a, m)?),
            ExprKind::Arith(op, a, b) => {
                let x = eval(p, a, m)?;
                let y = eval(p, b, m)?;
                arith(*op, x, y, &e.span, m)
            }
            ExprKind::Compare(op, kind, a, b) => {
                let x = eval(p, a, m)?;
                let y = eval(p, b, m)?;
                Ok(compare(op, kind, x, y, m))
            }
            ExprKind::Concat(a, b) => {
                let x = eval(p, a, m)?;
                let y = eval(p, b, m)?;
                m.concat(x, y, &e.span)
            }
            ExprKind::Tuple(es, mask, base) => {
                // The components, left to right, into their slots; then the tuple in one
                // step.
                for (i, x) in es.iter().enumerate() {
                    let v = eval(p, x, m)?;
                    m.frame_store(base + i as Slot, v);
                }
                let first = m.frame_index(*base);
                Ok(m.tuple_from_frame(first, es.len(), *mask))
            }
            ExprKind::Proj(t, i) => {
                let h = eval(p, t, m)?;
                Ok(m.rt.heap.tuple_get(h, *i as usize))
            }
            ExprKind::Nil => Ok(lift(NIL)),
            ExprKind::List(es, elem_ptr, base) => {
                // The elements, left to right, into their slots; then the list in one
                // step.
                for (i, x) in es.iter().enumerate() {
                    let v = eval(p, x, m)?;
                    m.frame_store(base + i as Slot, v);
                }
                let first = m.frame_index(*base);
                Ok(m.list_from_frame(first, es.len(), *elem_ptr))
            }
            ExprKind::Cons(h, t, head_ptr) => {
                let x = eval(p, h, m)?;
                let l = eval(p, t, m)?;
                Ok(m.rt.heap.cons(x, l, *head_ptr))
            }
            ExprKind::Raise(x) => Err(m.raise(x, &e.span)),
            ExprKind::Try(body, handlers) => match eval(p, body, m) {
                Ok(v) => Ok(v),
                Err(r) => {
                    // The node's resource limit is no exception of the language: no
                    // handler takes it.
                    if m.raised_limit() {
                        return Err(r);
                    }
                    for h in handlers {
                        match &h.exn {
                            None => return eval(p, &h.body, m),
                            Some(x) => {
                                if m.raised_is(x) {
                                    return eval(p, &h.body, m);
                                }
                            }
                        }
                    }
                    Err(r)
                }
            },
            ExprKind::Call { fun, base, args, link } => {
                let f = &p.funs[fun.0 as usize];
                let off = f.local as Slot;
                for (i, a) in args.iter().enumerate() {
                    let v = eval(p, a, m)?;
                    m.frame_store(base + off + i as Slot, v);
                }
                if let Some(hops) = link {
                    let l = frame_up(*hops, m);
                    m.frame_store(*base, l);
                }
                call(p, f, *base, m)
            }
            ExprKind::Prim { prim, base, args, site } => match &planp_primitives::get(*prim).inline {
                // A primitive written in the two-level style: its own function, which the
                // generating extension inlines.
                Some(Inline::A1(f)) if args.len() == 1 => {
                    let a = eval(p, &args[0], m)?;
                    Ok(planp_jit::inline1(f, m, a))
                }
                Some(Inline::A2(f)) if args.len() == 2 => {
                    let a = eval(p, &args[0], m)?;
                    let b = eval(p, &args[1], m)?;
                    Ok(planp_jit::inline2(f, m, a, b))
                }
                _ => {
                    for (i, a) in args.iter().enumerate() {
                        let v = eval(p, a, m)?;
                        m.frame_store(base + i as Slot, v);
                    }
                    let first = m.frame_index(*base);
                    m.call_prim(planp_primitives::get(*prim), site, first, args.len(), &e.span)
                }
            },
            ExprKind::Fold { dir, fun, base, link, init, list, elem_ptr } => {
                let f = &p.funs[fun.0 as usize];
                let off = f.local as Slot;
                let mut acc = eval(p, init, m)?;
                let l = eval(p, list, m)?;
                let mut cur = if *dir == FoldDir::Right { reverse(m, l, *elem_ptr) } else { l };
                let (acc_slot, elem_slot) = match dir {
                    FoldDir::Left => (base + off, base + off + 1),
                    FoldDir::Right => (base + off + 1, base + off),
                };
                while cur != NIL {
                    m.frame_store(acc_slot, acc);
                    // The element into its slot and the rest of the list, in one step.
                    let elem_at = m.frame_index(elem_slot);
                    cur = m.uncons_into(cur, elem_at);
                    if let Some(hops) = link {
                        let fr = frame_up(*hops, m);
                        m.frame_store(*base, fr);
                    }
                    acc = call(p, f, *base, m)?;
                }
                Ok(acc)
            }
            ExprKind::Send { kind, target, packet, neighbor } => {
                // The channel's own packet, sent unchanged, is marshalled from its
                // components' slots: `v` is then where they start in the stack.
                let v = match target.parts_at {
                    Some(s) => m.frame_index(s),
                    None => eval(p, packet, m)?,
                };
                match neighbor {
                    Some(n) => {
                        let to = eval(p, n, m)?;
                        send(m, kind, target, &packet.ty, v, to);
                    }
                    None => send(m, kind, target, &packet.ty, v, lift(super::NO_NEIGHBOR)),
                }
                Ok(0)
            }
            ExprKind::States(a, b) => {
                // The channel's new states, where the node takes them: no pair made.
                let x = eval(p, a, m)?;
                let y = eval(p, b, m)?;
                m.frame_store(STATE_SLOTS, x);
                m.frame_store(STATE_SLOTS + 1, y);
                Ok(lift(NIL))
            }
            ExprKind::StatesOf(e) => {
                let h = eval(p, e, m)?;
                let x = m.rt.heap.tuple_get(h, 0);
                let y = m.rt.heap.tuple_get(h, 1);
                m.frame_store(STATE_SLOTS, x);
                m.frame_store(STATE_SLOTS + 1, y);
                Ok(lift(NIL))
            }
        }
    }

    /// Run a function's body in a frame starting at `base`.
    pub fn call(
        #[stat] p: &Program,
        #[stat] f: &Fun,
        #[stat] base: Slot,
        #[dynamic] m: &mut Machine,
    ) -> Result<Word, Raised> {
        m.in_frame(base, |m| eval(p, &f.body, m))
    }

    /// The frame index of the frame `hops` static links up from the current one.
    pub fn frame_up(#[stat] hops: u32, #[dynamic] m: &mut Machine) -> Word {
        #[dynamic]
        let mut fp = m.frame_index(0);
        for _ in 0..hops {
            fp = m.frame_load_at(fp, 0);
        }
        fp
    }

    /// Integer arithmetic: 64-bit two's complement, wrapping; division and remainder by
    /// zero raise `DivByZero`; `i64::MIN / -1` wraps to `i64::MIN` (and its remainder
    /// is 0).
    pub fn arith(
        #[stat] op: Arith,
        #[dynamic] x: Word,
        #[dynamic] y: Word,
        #[stat] span: &Span,
        #[dynamic] m: &mut Machine,
    ) -> Result<Word, Raised> {
        match op {
            Arith::Add => Ok(x.wrapping_add(y)),
            Arith::Sub => Ok(x.wrapping_sub(y)),
            Arith::Mul => Ok(x.wrapping_mul(y)),
            Arith::Div => {
                if y == 0 {
                    return Err(m.raise(&planp_primitives::rt::DIV_BY_ZERO, span));
                }
                Ok((x as i64).wrapping_div(y as i64) as Word)
            }
            Arith::Mod => {
                if y == 0 {
                    return Err(m.raise(&planp_primitives::rt::DIV_BY_ZERO, span));
                }
                Ok((x as i64).wrapping_rem(y as i64) as Word)
            }
            Arith::And => Ok(x & y),
            Arith::Or => Ok(x | y),
            Arith::Xor => Ok(x ^ y),
            Arith::Shl => Ok(x.wrapping_shl((y & 63) as u32)),
            Arith::Shr => Ok((x as i64).wrapping_shr((y & 63) as u32) as Word),
        }
    }

    /// A comparison: 1 if it holds, else 0. Scalars compare as words (signed or
    /// unsigned as the type says); compound values structurally.
    pub fn compare(
        #[stat] op: &CmpOp,
        #[stat] kind: &CmpKind,
        #[dynamic] x: Word,
        #[dynamic] y: Word,
        #[dynamic] m: &mut Machine,
    ) -> Word {
        match kind {
            CmpKind::Signed => match op {
                CmpOp::Eq => (x == y) as Word,
                CmpOp::Ne => (x != y) as Word,
                CmpOp::Lt => ((x as i64) < (y as i64)) as Word,
                CmpOp::Le => ((x as i64) <= (y as i64)) as Word,
                CmpOp::Gt => ((x as i64) > (y as i64)) as Word,
                CmpOp::Ge => ((x as i64) >= (y as i64)) as Word,
            },
            CmpKind::Unsigned => match op {
                CmpOp::Eq => (x == y) as Word,
                CmpOp::Ne => (x != y) as Word,
                CmpOp::Lt => (x < y) as Word,
                CmpOp::Le => (x <= y) as Word,
                CmpOp::Gt => (x > y) as Word,
                CmpOp::Ge => (x >= y) as Word,
            },
            CmpKind::Deep(t) => deep_compare(m, op, t, x, y),
        }
    }

    /// Which `network` channel takes the frame in the machine ([`Machine::set_input`]):
    /// the first, in program order, whose packet type the frame matches. Gives the packet
    /// value [`unmarshal`] built and leaves the channel's number in slot 0; fails if no
    /// channel takes the frame. The channels and their packet types are static, so the
    /// generated code is the sequence of their matching code.
    // A dynamic result is taken apart by `match` (the two-level form; `if let` is for
    // static values).
    #[allow(clippy::single_match)]
    pub fn dispatch(#[stat] p: &Program, #[dynamic] m: &mut Machine) -> Option<Word> {
        for (i, ch) in p.channels.iter().enumerate() {
            if let Some(layout) = &ch.layout {
                note!("channel {}#{}: does the frame match?", ch.name, ch.overload);
                let flags = m.frame_load(IN_FLAGS);
                let fits = match layout.net() {
                    Some(Part::Ip) => (flags & NET_MASK) == NET_IPV4,
                    Some(_) => (flags & NET_MASK) == NET_IPV6,
                    None => (flags & ETHERNET) != 0,
                };
                if fits {
                    match unmarshal(layout, ch.packet_whole, m) {
                        Some(pkt) => {
                            m.frame_store(0, lift(i as Word));
                            return Some(pkt);
                        }
                        None => {}
                    }
                }
            }
        }
        None
    }

    /// The packet value of type `layout` that the frame in the machine carries, or a
    /// failure if it does not match the type (`docs/packets.md`, "Matching"): each
    /// component read in turn from the bytes left, `start..end` of the frame; headers
    /// and blobs become bytes objects, scalars words. What link decoding found is read
    /// from the dispatch slots where it is needed (`Machine::set_input`), rather than
    /// held in registers across the calls. Component `k` is left in slot
    /// `UNMARSHAL_SLOTS + k`, where the channel reads it; the packet value is made only
    /// if the channel uses it `whole` (otherwise the result is `NIL`).
    pub fn unmarshal(#[stat] layout: &PacketLayout, #[stat] whole: bool, #[dynamic] m: &mut Machine) -> Option<Word> {
        let has_net = layout.net().is_some();
        #[dynamic]
        let mut start: Word = 0;
        #[dynamic]
        let mut end: Word = 0;
        if has_net {
            start = m.frame_load(IN_LINK_LEN);
            end = m.frame_load(IN_NET_END);
        }
        #[dynamic]
        let mut shape: Word = 0;
        for (k, part) in layout.parts.iter().enumerate() {
            let slot = UNMARSHAL_SLOTS + k as Slot;
            note!("component {k}: {part:?}");
            match part {
                Part::Eth => {
                    if (m.frame_load(IN_FLAGS) & ETHERNET) == 0 {
                        return None;
                    }
                    // With an IP part, everything before the IP header (tags and MPLS
                    // labels included); without, the Ethernet header and its VLAN tags.
                    if has_net {
                        let link_len = m.frame_load(IN_LINK_LEN);
                        let v = m.alloc_input(0, link_len);
                        m.frame_store(slot, v);
                    } else {
                        let n: Word = m.input_ethernet_len()?;
                        let v = m.alloc_input(0, n);
                        m.frame_store(slot, v);
                        start = n;
                        end = m.frame_load(IN_LEN);
                    }
                }
                Part::Ip | Part::Ip6 => {
                    let truncated = (m.frame_load(IN_FLAGS) & TRUNCATED) != 0;
                    let s: Word = m.input_ip_shape(*part == Part::Ip6, start, end, truncated)?;
                    let hl = s & SHAPE_LEN_MASK;
                    let total = s.wrapping_shr(SHAPE_TOTAL_SHIFT) & SHAPE_LEN_MASK;
                    let v = m.alloc_input(start, hl);
                    m.frame_store(slot, v);
                    end = start.wrapping_add(total);
                    start = start.wrapping_add(hl);
                    shape = s;
                }
                Part::Tcp => {
                    if !has_net {
                        return None;
                    }
                    if (shape.wrapping_shr(SHAPE_PROTO_SHIFT) & 0xff) != 6
                        || (shape & SHAPE_FRAGMENT) != 0
                        || end.wrapping_sub(start) < 20
                    {
                        return None;
                    }
                    let f: &[u8] = m.input();
                    let hl = f.be(start.wrapping_add(12), 1).wrapping_shr(4).wrapping_mul(4);
                    if hl < 20 || hl > end.wrapping_sub(start) {
                        return None;
                    }
                    let v = m.alloc_input(start, hl);
                    m.frame_store(slot, v);
                    start = start.wrapping_add(hl);
                }
                Part::Udp => {
                    if !has_net {
                        return None;
                    }
                    if (shape.wrapping_shr(SHAPE_PROTO_SHIFT) & 0xff) != 17
                        || (shape & SHAPE_FRAGMENT) != 0
                        || end.wrapping_sub(start) < 8
                    {
                        return None;
                    }
                    let f: &[u8] = m.input();
                    let l = f.be(start.wrapping_add(4), 2);
                    let rest = end.wrapping_sub(start);
                    // 0: the bytes there are (IPv6 jumbograms, segmentation offload);
                    // longer than the bytes: cut short by the capture, or no match.
                    if l > rest && (m.frame_load(IN_FLAGS) & TRUNCATED) == 0 {
                        return None;
                    }
                    let len = if l == 0 || l > rest { rest } else { l };
                    if len < 8 {
                        return None;
                    }
                    let v = m.alloc_input(start, 8);
                    m.frame_store(slot, v);
                    end = start.wrapping_add(len);
                    start = start.wrapping_add(8);
                }
                Part::Char | Part::Bool => {
                    if start >= end {
                        return None;
                    }
                    let f: &[u8] = m.input();
                    let c = f.be(start, 1);
                    if *part == Part::Bool && c > 1 {
                        return None;
                    }
                    m.frame_store(slot, c);
                    start = start.wrapping_add(1);
                }
                Part::Int | Part::Host => {
                    if end.wrapping_sub(start) < 4 {
                        return None;
                    }
                    let f: &[u8] = m.input();
                    let x = f.be(start, 4);
                    if *part == Part::Int {
                        let i = x as i32;
                        m.frame_store(slot, i as Word);
                    } else {
                        m.frame_store(slot, x);
                    }
                    start = start.wrapping_add(4);
                }
                Part::String => {
                    let nul: Word = m.input_nul(start, end)?;
                    let v = m.alloc_input(start, nul.wrapping_sub(start));
                    m.frame_store(slot, v);
                    start = nul.wrapping_add(1);
                }
                Part::Blob => {
                    let v = m.alloc_input(start, end.wrapping_sub(start));
                    m.frame_store(slot, v);
                    start = end;
                }
            }
        }
        if start != end {
            return None;
        }
        // The channel reads the components from their slots; it needs the packet's
        // tuple only if it uses the packet whole.
        if !whole {
            Some(lift(NIL))
        } else if layout.is_tuple() {
            let first = m.frame_index(UNMARSHAL_SLOTS);
            Some(m.tuple_from_frame(first, layout.parts.len(), layout.mask()))
        } else {
            Some(m.frame_load(UNMARSHAL_SLOTS))
        }
    }
}

/// The neighbour argument of a send that has none.
pub const NO_NEIGHBOR: Word = u64::MAX;

/// Evaluate `e` in the current frame; an exception comes back with where it was raised.
pub fn eval(p: &Program, e: &Expr, m: &mut Machine) -> Result<Word, Raise> {
    engine::eval(p, e, m).map_err(|Raised| m.take_raised())
}

/// Structural comparison of compound values.
fn deep_compare(m: &Machine, op: &CmpOp, t: &Type, x: Word, y: Word) -> Word {
    use std::cmp::Ordering;
    let ord = match op {
        CmpOp::Eq | CmpOp::Ne => {
            if value::equal(&m.rt.heap, t, x, y) {
                Ordering::Equal
            } else {
                Ordering::Less
            }
        }
        _ => value::compare(&m.rt.heap, t, x, y),
    };
    (match op {
        CmpOp::Eq => ord.is_eq(),
        CmpOp::Ne => ord.is_ne(),
        CmpOp::Lt => ord.is_lt(),
        CmpOp::Le => ord.is_le(),
        CmpOp::Gt => ord.is_gt(),
        CmpOp::Ge => ord.is_ge(),
    }) as Word
}

/// A list in reverse order (for `foldr`).
fn reverse(m: &mut Machine, mut l: Word, elem_ptr: bool) -> Word {
    let mut out = NIL;
    while l != NIL {
        out = m.rt.heap.cons(m.rt.heap.head(l), out, elem_ptr);
        l = m.rt.heap.tail(l);
    }
    out
}

/// Marshal a packet and record it as sent (`neighbor` is [`NO_NEIGHBOR`] for none).
fn send(m: &mut Machine, kind: &SendKind, target: &crate::ir::SendTarget, ty: &Type, v: Word, neighbor: Word) {
    let kind = *kind;
    let neighbor = (neighbor != NO_NEIGHBOR).then_some(neighbor as u32);
    let mut bytes = m.rt.buffer();
    match (&target.layout, target.parts_at) {
        (Some(layout), Some(_)) => {
            let parts = &m.stack[v as usize..][..layout.parts.len()];
            packet::marshal_parts_into(layout, parts, &m.rt.heap, m.reuse.as_ref(), &mut bytes)
        }
        (Some(layout), None) => packet::marshal_into(layout, v, &m.rt.heap, m.reuse.as_ref(), &mut bytes),
        (None, _) => value::encode(&m.rt.heap, ty, v, &mut bytes),
    }
    let link_level = target.layout.as_ref().is_some_and(|l| l.starts_with_eth());
    m.rt.send(Send { kind, channel: target.channel.clone(), overload: target.overload, bytes, neighbor, link_level });
}

/// The pointer mask of the `(protocol state, channel state)` pair a channel returns.
pub fn state_pair_mask(ps: &Type, ss: &Type) -> u64 {
    tuple_mask(&[ps.clone(), ss.clone()])
}
