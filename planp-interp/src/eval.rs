//! The evaluator, written in the two-level style the specializer consumes.
//!
//! Binding times: the program and its expressions are **static** (`#[stat]`); the
//! [`Machine`] (frames, heap, effects) and every [`Word`] computed from it are
//! **dynamic** (`#[dynamic]`). The discipline (`docs/architecture.md`):
//!
//! - dispatch on the syntax tree is a `match` on a static value;
//! - recursion is on static sub-terms only (the tree is finite, so a specializer can
//!   unfold it), and loops over static collections (arguments, tuple components,
//!   handlers) are `for` loops over them;
//! - dynamic work is done only through the small vocabulary of [`Machine`] methods
//!   (frame loads and stores at static slots, heap access, primitive calls through one
//!   ABI, sends) and word arithmetic on `u64`; the one dynamic loop (`foldl`/`foldr` over a
//!   list) is a `while` on a dynamic condition;
//! - a static value used as dynamic data is passed through [`lift`];
//! - exceptions are `Err(Raise)` propagated with `?`; `try` is a `match` on the result.
//!
//! Words carry no tags: what a word is follows from the static type at each node.

use crate::ir::{Arith, CmpKind, CmpOp, Expr, ExprKind, FoldDir, Fun, Program, Slot};
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
    /// What the packet being processed lets marshalling reuse (its transport checksum).
    pub reuse: Option<packet::Reuse>,
}

/// A static value used as dynamic data. In the interpreter this is the identity; the
/// specializer turns it into an immediate operand.
#[inline(always)]
pub fn lift(w: Word) -> Word {
    w
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

    // ---- the dynamic vocabulary ------------------------------------------------------

    /// Load a slot of the current frame.
    #[inline]
    pub fn local(&self, s: Slot) -> Word {
        self.stack[self.fp + s as usize]
    }

    /// Store into a slot of the current frame.
    #[inline]
    pub fn set_local(&mut self, s: Slot, w: Word) {
        self.stack[self.fp + s as usize] = w;
    }

    /// The base of the frame `hops` static links up (0: the current frame).
    #[inline]
    pub fn frame_up(&self, hops: u32) -> Word {
        let mut fp = self.fp;
        for _ in 0..hops {
            fp = self.stack[fp] as usize;
        }
        fp as Word
    }

    /// Load slot `s` of the frame `hops` static links up.
    #[inline]
    pub fn outer(&self, hops: u32, s: Slot) -> Word {
        self.stack[self.frame_up(hops) as usize + s as usize]
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

    /// Run `body` in a frame that starts at slot `base` of the current one.
    #[inline]
    pub fn enter<R>(&mut self, base: Slot, body: impl FnOnce(&mut Machine) -> R) -> R {
        let saved = self.fp;
        self.fp += base as usize;
        let r = body(self);
        self.fp = saved;
        r
    }

    /// Reset the frame pointer to the bottom of the stack (before running an entry point).
    pub fn reset_frames(&mut self) {
        self.fp = 0;
    }

    /// Call a primitive: its arguments are slots `base..base + n` of the current frame.
    #[inline]
    pub fn call_prim(
        &mut self,
        p: &planp_primitives::Prim,
        site: &Site,
        base: Slot,
        n: usize,
        span: Span,
    ) -> Result<Word, Raise> {
        let start = self.fp + base as usize;
        let Machine { rt, stack, .. } = self;
        (p.compute)(rt, &stack[start..start + n], site).map_err(|exn| Raise { exn, span })
    }
}

fn arith(op: Arith, x: Word, y: Word, span: Span) -> Result<Word, Raise> {
    let (a, b) = (x as i64, y as i64);
    Ok(match op {
        Arith::Add => a.wrapping_add(b),
        Arith::Sub => a.wrapping_sub(b),
        Arith::Mul => a.wrapping_mul(b),
        Arith::Div => {
            if b == 0 {
                return Err(Raise { exn: planp_primitives::rt::DIV_BY_ZERO, span });
            }
            a.wrapping_div(b)
        }
        Arith::Mod => {
            if b == 0 {
                return Err(Raise { exn: planp_primitives::rt::DIV_BY_ZERO, span });
            }
            a.wrapping_rem(b)
        }
    } as Word)
}

fn compare(m: &Machine, op: CmpOp, kind: &CmpKind, x: Word, y: Word) -> Word {
    use std::cmp::Ordering;
    let ord = match kind {
        CmpKind::Signed => (x as i64).cmp(&(y as i64)),
        CmpKind::Unsigned => x.cmp(&y),
        CmpKind::Deep(t) => match op {
            CmpOp::Eq | CmpOp::Ne => {
                if value::equal(&m.rt.heap, t, x, y) {
                    Ordering::Equal
                } else {
                    Ordering::Less
                }
            }
            _ => value::compare(&m.rt.heap, t, x, y),
        },
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

/// Evaluate `e` in the current frame.
#[specialize]
pub fn eval(#[stat] p: &Program, #[stat] e: &Expr, #[dynamic] m: &mut Machine) -> Result<Word, Raise> {
    match &e.kind {
        ExprKind::Const(w) => Ok(lift(*w)),
        ExprKind::Str(i) => Ok(m.string(*i)),
        ExprKind::Local(s) => Ok(m.local(*s)),
        ExprKind::Outer { hops, slot } => Ok(m.outer(*hops, *slot)),
        ExprKind::Global(g) => Ok(m.global(g.0)),
        ExprKind::Let { binds, body } => {
            for (slot, value) in binds {
                let v = eval(p, value, m)?;
                m.set_local(*slot, v);
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
        ExprKind::Arith(op, a, b) => {
            let x = eval(p, a, m)?;
            let y = eval(p, b, m)?;
            arith(*op, x, y, e.span)
        }
        ExprKind::Compare(op, kind, a, b) => {
            let x = eval(p, a, m)?;
            let y = eval(p, b, m)?;
            Ok(compare(m, *op, kind, x, y))
        }
        ExprKind::Concat(a, b) => {
            let x = eval(p, a, m)?;
            let y = eval(p, b, m)?;
            let heap = &mut m.rt.heap;
            let mut joined = Vec::with_capacity(heap.bytes(x).len() + heap.bytes(y).len());
            joined.extend_from_slice(heap.bytes(x));
            joined.extend_from_slice(heap.bytes(y));
            Ok(heap.alloc_bytes_vec(joined))
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
        ExprKind::Nil => Ok(NIL),
        ExprKind::List(es, elem_ptr) => {
            // Built front to back: each new cell becomes the tail of the previous one.
            let mut first = NIL;
            let mut last = NIL;
            for x in es {
                let v = eval(p, x, m)?;
                let cell = m.rt.heap.cons(v, NIL, *elem_ptr);
                if last == NIL {
                    first = cell;
                } else {
                    m.rt.heap.set_tail(last, cell);
                }
                last = cell;
            }
            Ok(first)
        }
        ExprKind::Cons(h, t, head_ptr) => {
            let x = eval(p, h, m)?;
            let l = eval(p, t, m)?;
            Ok(m.rt.heap.cons(x, l, *head_ptr))
        }
        ExprKind::Raise(x) => Err(Raise { exn: *x, span: e.span }),
        ExprKind::Try(body, handlers) => match eval(p, body, m) {
            Ok(v) => Ok(v),
            Err(r) => {
                for h in handlers {
                    if h.exn.is_none_or(|x| x == r.exn) {
                        return eval(p, &h.body, m);
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
                m.set_local(base + off + i as Slot, v);
            }
            if let Some(hops) = link {
                let l = m.frame_up(*hops);
                m.set_local(*base, l);
            }
            call(p, f, *base, m)
        }
        ExprKind::Prim { prim, base, args, site } => {
            for (i, a) in args.iter().enumerate() {
                let v = eval(p, a, m)?;
                m.set_local(base + i as Slot, v);
            }
            m.call_prim(planp_primitives::get(*prim), site, *base, args.len(), e.span)
        }
        ExprKind::Fold { dir, fun, base, link, init, list, elem_ptr } => {
            let f = &p.funs[fun.0 as usize];
            let off = f.local as Slot;
            let mut acc = eval(p, init, m)?;
            let l = eval(p, list, m)?;
            let mut cur = match dir {
                FoldDir::Left => l,
                FoldDir::Right => reverse(m, l, *elem_ptr),
            };
            let (acc_slot, elem_slot) = match dir {
                FoldDir::Left => (base + off, base + off + 1),
                FoldDir::Right => (base + off + 1, base + off),
            };
            while cur != NIL {
                let x = m.rt.heap.head(cur);
                m.set_local(acc_slot, acc);
                m.set_local(elem_slot, x);
                if let Some(hops) = link {
                    let fr = m.frame_up(*hops);
                    m.set_local(*base, fr);
                }
                acc = call(p, f, *base, m)?;
                cur = m.rt.heap.tail(cur);
            }
            Ok(acc)
        }
        ExprKind::Send { kind, target, packet, neighbor } => {
            let v = eval(p, packet, m)?;
            let n = match neighbor {
                Some(n) => Some(eval(p, n, m)? as u32),
                None => None,
            };
            send(m, *kind, target, &packet.ty, v, n);
            Ok(0)
        }
    }
}

/// Run a function's body in a frame starting at `base`.
#[specialize]
pub fn call(
    #[stat] p: &Program,
    #[stat] f: &Fun,
    #[stat] base: Slot,
    #[dynamic] m: &mut Machine,
) -> Result<Word, Raise> {
    m.enter(base, |m| eval(p, &f.body, m))
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

/// Marshal a packet and record it as sent.
fn send(m: &mut Machine, kind: SendKind, target: &crate::ir::SendTarget, ty: &Type, v: Word, neighbor: Option<u32>) {
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
