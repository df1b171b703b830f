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
            stack: vec![0; prog.stack_size.max(8)],
            fp: 0,
            globals: vec![0; prog.globals.len()],
            strings,
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
        if self.stack.len() < prog.stack_size {
            self.stack.resize(prog.stack_size, 0);
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

/// The evaluator proper, in the two-level style: `#[specialize]` derives from each
/// function here its generating extension (`eval_gen`, ...), which the JIT runs once per
/// program to emit the code of the dynamic part. See `docs/specialization.md`.
#[specialize]
pub mod engine {
    use super::{Machine, Raised, concat, deep_compare, reverse, send};
    use crate::ir::{Arith, CmpKind, CmpOp, Expr, ExprKind, FoldDir, Fun, Program, Slot};
    use crate::span::Span;
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
                Ok(concat(m, x, y))
            }
            ExprKind::Tuple(es, mask) => {
                let h = m.rt.heap.alloc_tuple(es.len(), *mask);
                for (i, x) in es.iter().enumerate() {
                    let v = eval(p, x, m)?;
                    m.rt.heap.tuple_set(h, i, v);
                }
                Ok(h)
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
                let v = eval(p, packet, m)?;
                match neighbor {
                    Some(n) => {
                        let to = eval(p, n, m)?;
                        send(m, kind, target, &packet.ty, v, to);
                    }
                    None => send(m, kind, target, &packet.ty, v, lift(super::NO_NEIGHBOR)),
                }
                Ok(0)
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

/// `x ^ y` on strings or blobs.
fn concat(m: &mut Machine, x: Word, y: Word) -> Word {
    let heap = &mut m.rt.heap;
    let mut joined = Vec::with_capacity(heap.bytes(x).len() + heap.bytes(y).len());
    joined.extend_from_slice(heap.bytes(x));
    joined.extend_from_slice(heap.bytes(y));
    heap.alloc_bytes_vec(joined)
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
    let bytes = match &target.layout {
        Some(layout) => packet::marshal(layout, v, &m.rt.heap, m.reuse.as_ref()),
        None => {
            let mut out = Vec::new();
            value::encode(&m.rt.heap, ty, v, &mut out);
            out
        }
    };
    let link_level = target.layout.as_ref().is_some_and(|l| l.starts_with_eth());
    m.rt.send(Send { kind, channel: target.channel.clone(), overload: target.overload, bytes, neighbor, link_level });
}

/// The pointer mask of the `(protocol state, channel state)` pair a channel returns.
pub fn state_pair_mask(ps: &Type, ss: &Type) -> u64 {
    tuple_mask(&[ps.clone(), ss.clone()])
}
