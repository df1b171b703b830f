//! The resolved program the interpreter runs (and the specializer will compile).
//!
//! Everything static is decided here: names are frame slots, globals, functions,
//! primitives or exception numbers; every node has its solved type; operators know the
//! kind of their operands (signed, unsigned, bytes, structural); tuples know which fields
//! are handles; calls know where the callee's frame starts. The evaluator never looks a
//! name up or inspects a type to decide what to do.

use crate::packet::PacketLayout;
use crate::span::Span;
use planp_primitives::{Exn, PrimId, SendKind, Site, Type, Word};
use std::sync::Arc;

/// A slot in a frame.
pub type Slot = u32;

/// A function's index in [`Program::funs`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FunId(pub u32);

/// A global's index in [`Program::globals`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GlobalId(pub u32);

/// A checked, resolved program.
#[derive(Clone, Debug)]
pub struct Program {
    /// Name of the source (a path, usually).
    pub name: String,
    /// The source text (for messages at run time).
    pub text: Arc<str>,
    /// Top-level `val`s.
    pub globals: Vec<Global>,
    /// Their initialisers, in the order they run.
    pub inits: Vec<Init>,
    /// All functions, top-level and local.
    pub funs: Vec<Fun>,
    /// All channels; overloads of one name are consecutive, in source order.
    pub channels: Vec<Channel>,
    /// Names of all exceptions, indexed by exception number (built-ins first).
    pub exceptions: Vec<String>,
    /// String literals.
    pub strings: Vec<Box<[u8]>>,
    /// The protocol state's type (shared by every channel).
    pub ps_type: Type,
    /// Frame slots needed by the deepest chain of calls from any entry point.
    pub stack_size: usize,
    /// Problems found that do not stop the program from loading.
    pub warnings: Vec<crate::diag::Diag>,
}

/// A top-level `val`.
#[derive(Clone, Debug)]
pub struct Global {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// Where it is declared.
    pub span: Span,
}

/// Code run once, when the program is loaded: a global's initialiser or a channel's
/// `initstate`.
#[derive(Clone, Debug)]
pub struct Init {
    /// The global it initialises (for channel `initstate`, unused).
    pub global: GlobalId,
    /// The expression.
    pub body: Expr,
    /// Slots its frame needs.
    pub frame_size: u32,
}

/// A function (top-level or local; local ones reach their enclosing frame through a
/// static link).
#[derive(Clone, Debug)]
pub struct Fun {
    /// Its name.
    pub name: String,
    /// Parameter types (parameters are slots 0..n).
    pub params: Vec<Type>,
    /// Result type.
    pub ret: Type,
    /// Slots its frame needs.
    pub frame_size: u32,
    /// Body.
    pub body: Expr,
    /// The declaration.
    pub span: Span,
    /// Is it a local function? Then slot 0 of its frame holds the static link (the
    /// frame it is defined in) and its parameters are slots 1..=n; otherwise they are
    /// slots 0..n.
    pub local: bool,
}

/// Where a `network` channel's packet components are when its body starts: component
/// `k` in slot `PACKET_PARTS + k` of its frame (slot 3 is unused). The dispatch reads
/// them into exactly these slots of the frame the channel then runs in, so they are in
/// place with no copy; the type checker rewrites `#k p` of the packet parameter `p` to
/// a read of its slot, so the packet's tuple is made only when it is used whole
/// ([`Channel::packet_whole`]). The packet's type is static: taking apart a tuple made
/// for the occasion is work the specializer should not leave to run time.
pub const PACKET_PARTS: Slot = 4;

/// A channel (one overload).
#[derive(Clone, Debug)]
pub struct Channel {
    /// Its name.
    pub name: String,
    /// Its position among the overloads of its name.
    pub overload: u32,
    /// Channel state type.
    pub ss_type: Type,
    /// Packet type.
    pub pkt_type: Type,
    /// For `network` channels: how packets of this type are laid out.
    pub layout: Option<PacketLayout>,
    /// `initstate`, if given.
    pub init: Option<Init>,
    /// Body: slot 0 is the protocol state, 1 the channel state, 2 the packet. In a
    /// `network` channel the packet's components are also in slots [`PACKET_PARTS`]`..`
    /// (see there), and slot 2 holds the packet only if [`Channel::packet_whole`].
    pub body: Expr,
    /// Does the body of this `network` channel use its packet whole (not only through
    /// projections)? Only then does the dispatch make the packet's tuple. Always true for
    /// user channels.
    pub packet_whole: bool,
    /// Slots its frame needs.
    pub frame_size: u32,
    /// The channel's header in the source.
    pub span: Span,
}

impl Channel {
    /// Is this a `network` channel (one that sees the packets of existing applications)?
    pub fn is_network(&self) -> bool {
        self.name == "network"
    }
}

/// An expression with its type and span.
#[derive(Clone, Debug)]
pub struct Expr {
    /// What it does.
    pub kind: ExprKind,
    /// Its (solved) type.
    pub ty: Type,
    /// Where it is in the source.
    pub span: Span,
}

/// Integer arithmetic (wrapping; `/` and `%` raise `DivByZero` on zero and wrap
/// `i64::MIN / ~1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arith {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (truncating)
    Div,
    /// `%` (sign of the dividend)
    Mod,
    /// `andi`
    And,
    /// `ori`
    Or,
    /// `xori`
    Xor,
    /// `<<` (the count's low 6 bits)
    Shl,
    /// `>>`, arithmetic (the count's low 6 bits)
    Shr,
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// How a comparison compares its operands, decided from their type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CmpKind {
    /// As signed words (`int`).
    Signed,
    /// As unsigned words (`char`, `host`, `bool`, `unit`, and equality of scalars).
    Unsigned,
    /// By the structure of the values (strings, tuples, lists, ...), with their type.
    Deep(Type),
}

/// One handler of `try`.
#[derive(Clone, Debug)]
pub struct Handler {
    /// The exception handled (`None`: any).
    pub exn: Option<Exn>,
    /// The handler's expression.
    pub body: Expr,
}

/// Where an `OnRemote`/`OnNeighbor` sends.
#[derive(Clone, Debug)]
pub struct SendTarget {
    /// The channel name.
    pub channel: std::sync::Arc<str>,
    /// The overload (for user channels).
    pub overload: u32,
    /// For `network`: the packet layout to marshal.
    pub layout: Option<PacketLayout>,
    /// The packet sent is the channel's own tuple packet, unchanged: its components
    /// are marshalled from their slots, from this one on ([`unbox_packet`]), and the
    /// packet expression is not evaluated.
    pub parts_at: Option<Slot>,
}

/// `foldl` or `foldr`.
pub use crate::ast::FoldDir;

/// Expression forms.
#[derive(Clone, Debug)]
pub enum ExprKind {
    /// A scalar constant (ints, bools, chars, hosts, unit).
    Const(Word),
    /// String literal number n.
    Str(u32),
    /// A slot of the current frame.
    Local(Slot),
    /// A slot of an enclosing function's frame, `hops` static links up.
    Outer {
        /// Static links to follow.
        hops: u32,
        /// The slot there.
        slot: Slot,
    },
    /// A global.
    Global(GlobalId),
    /// `let val ... val ... in body end`: each value is stored in its slot, in order
    /// (local functions and exceptions leave no code). Flat, so that a long `let` does
    /// not make a deep tree.
    Let {
        /// The bindings, in order.
        binds: Vec<(Slot, Expr)>,
        /// The scope.
        body: Box<Expr>,
    },
    /// Evaluate in order; the value is the last one's.
    Seq(Vec<Expr>),
    /// `if`
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `andalso`
    And(Box<Expr>, Box<Expr>),
    /// `orelse`
    Or(Box<Expr>, Box<Expr>),
    /// `not`
    Not(Box<Expr>),
    /// `~`
    Neg(Box<Expr>),
    /// `noti`
    NotI(Box<Expr>),
    /// Integer arithmetic.
    Arith(Arith, Box<Expr>, Box<Expr>),
    /// A comparison.
    Compare(CmpOp, CmpKind, Box<Expr>, Box<Expr>),
    /// `^` on strings or blobs.
    Concat(Box<Expr>, Box<Expr>),
    /// A tuple; `mask` bit i is set when component i is a handle; the components wait in
    /// the slots from the third field on until the tuple is made.
    Tuple(Vec<Expr>, u64, Slot),
    /// `#n e`, with n from 0 here.
    Proj(Box<Expr>, u32),
    /// `[]`
    Nil,
    /// `[e1, ..., en]` (n >= 1); the flag says whether the elements are handles; the
    /// elements are evaluated into the `n` frame slots from the third field, then the
    /// list is built from them in one step. Flat, so that a long list literal does not
    /// make a deep tree.
    List(Vec<Expr>, bool, Slot),
    /// `h :: t`; the flag says whether the head is a handle.
    Cons(Box<Expr>, Box<Expr>, bool),
    /// `raise E`
    Raise(Exn),
    /// `try e handle ...`
    Try(Box<Expr>, Vec<Handler>),
    /// A call of a PLAN-P function: the callee's frame starts at slot `base` of the
    /// caller's; the arguments (after the static link, for a local callee) are stored
    /// there and become the callee's parameters.
    Call {
        /// The callee.
        fun: FunId,
        /// First slot of the callee's frame, in the caller's frame.
        base: Slot,
        /// Arguments.
        args: Vec<Expr>,
        /// For a local callee: how many static links to follow from the caller to reach
        /// the callee's enclosing frame.
        link: Option<u32>,
    },
    /// A call of a primitive: arguments go to slots `base..` and are passed as a slice.
    Prim {
        /// The primitive.
        prim: PrimId,
        /// First argument slot.
        base: Slot,
        /// Arguments.
        args: Vec<Expr>,
        /// Solved argument and result types.
        site: Box<Site>,
    },
    /// `foldl` / `foldr` with a named function.
    Fold {
        /// Direction.
        dir: FoldDir,
        /// The function applied.
        fun: FunId,
        /// First slot of the callee's frame.
        base: Slot,
        /// Static links, as for `Call`.
        link: Option<u32>,
        /// Initial accumulator.
        init: Box<Expr>,
        /// The list.
        list: Box<Expr>,
        /// Does the list hold handles?
        elem_ptr: bool,
    },
    /// `OnRemote` / `OnNeighbor`.
    Send {
        /// Which.
        kind: SendKind,
        /// Channel and layout.
        target: Box<SendTarget>,
        /// The packet.
        packet: Box<Expr>,
        /// The neighbour (`OnNeighbor`).
        neighbor: Option<Box<Expr>>,
    },
    /// A channel's new states as a tuple literal in tail position of its body (the
    /// checker's rewrite, [`tail_states`]): the protocol state and the channel state
    /// are evaluated, then stored in slots 0 and 1 of the channel's frame
    /// ([`STATE_SLOTS`]), where the node takes them. The pair is never made. The value
    /// is `()`.
    States(Box<Expr>, Box<Expr>),
    /// A channel's new states given in tail position by another expression than a tuple
    /// literal: the pair's fields are stored in slots 0 and 1. The value is `()`.
    StatesOf(Box<Expr>),
}

/// What declarations checked after a program add to it (see `typeck::Env::add`).
#[derive(Clone, Debug)]
pub struct Delta {
    /// New globals, numbered after the program's.
    pub globals: Vec<Global>,
    /// Their initialisers, in order.
    pub inits: Vec<Init>,
    /// New functions, numbered after the program's.
    pub funs: Vec<Fun>,
    /// New string literals.
    pub strings: Vec<Box<[u8]>>,
    /// New exceptions.
    pub exceptions: Vec<String>,
    /// Frame slots the new initialisers need.
    pub stack_size: usize,
    /// Warnings about the new declarations.
    pub warnings: Vec<crate::diag::Diag>,
}

impl Expr {
    /// The sub-expressions of `e`, in evaluation order (not the bodies of the functions
    /// it calls).
    pub fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            ExprKind::Const(_)
            | ExprKind::Str(_)
            | ExprKind::Local(_)
            | ExprKind::Outer { .. }
            | ExprKind::Global(_)
            | ExprKind::Nil
            | ExprKind::Raise(_) => vec![],
            ExprKind::Let { binds, body } => binds.iter().map(|(_, v)| v).chain([&**body]).collect(),
            ExprKind::Seq(es) | ExprKind::List(es, _, _) | ExprKind::Tuple(es, _, _) => es.iter().collect(),
            ExprKind::If(a, b, c) => vec![a, b, c],
            ExprKind::And(a, b)
            | ExprKind::Or(a, b)
            | ExprKind::Arith(_, a, b)
            | ExprKind::Concat(a, b)
            | ExprKind::Compare(_, _, a, b)
            | ExprKind::Cons(a, b, _) => vec![a, b],
            ExprKind::Not(a) | ExprKind::Neg(a) | ExprKind::NotI(a) | ExprKind::Proj(a, _) => vec![a],
            ExprKind::Try(b, hs) => std::iter::once(&**b).chain(hs.iter().map(|h| &h.body)).collect(),
            ExprKind::Call { args, .. } | ExprKind::Prim { args, .. } => args.iter().collect(),
            ExprKind::Fold { init, list, .. } => vec![init, list],
            ExprKind::Send { packet, neighbor, .. } => std::iter::once(&**packet).chain(neighbor.as_deref()).collect(),
            ExprKind::States(a, b) => vec![a, b],
            ExprKind::StatesOf(a) => vec![a],
        }
    }
}

impl Expr {
    /// The sub-expressions of `e`, mutably, in the order of [`Expr::children`].
    pub fn children_mut(&mut self) -> Vec<&mut Expr> {
        match &mut self.kind {
            ExprKind::Const(_)
            | ExprKind::Str(_)
            | ExprKind::Local(_)
            | ExprKind::Outer { .. }
            | ExprKind::Global(_)
            | ExprKind::Nil
            | ExprKind::Raise(_) => vec![],
            ExprKind::Let { binds, body } => binds.iter_mut().map(|(_, v)| v).chain([&mut **body]).collect(),
            ExprKind::Seq(es) | ExprKind::List(es, _, _) | ExprKind::Tuple(es, _, _) => es.iter_mut().collect(),
            ExprKind::If(a, b, c) => vec![a, b, c],
            ExprKind::And(a, b)
            | ExprKind::Or(a, b)
            | ExprKind::Arith(_, a, b)
            | ExprKind::Concat(a, b)
            | ExprKind::Compare(_, _, a, b)
            | ExprKind::Cons(a, b, _) => vec![a, b],
            ExprKind::Not(a) | ExprKind::Neg(a) | ExprKind::NotI(a) | ExprKind::Proj(a, _) => vec![a],
            ExprKind::Try(b, hs) => std::iter::once(&mut **b).chain(hs.iter_mut().map(|h| &mut h.body)).collect(),
            ExprKind::Call { args, .. } | ExprKind::Prim { args, .. } => args.iter_mut().collect(),
            ExprKind::Fold { init, list, .. } => vec![init, list],
            ExprKind::Send { packet, neighbor, .. } => {
                std::iter::once(&mut **packet).chain(neighbor.as_deref_mut()).collect()
            }
            ExprKind::States(a, b) => vec![a, b],
            ExprKind::StatesOf(a) => vec![a],
        }
    }
}

/// The packet parameter's slot in a channel's frame.
pub const PACKET_SLOT: Slot = 2;

/// Where a channel's body leaves its new states: the slots of its `ps` and `ss`
/// parameters, 0 and 1 ([`ExprKind::States`]).
pub const STATE_SLOTS: Slot = 0;

/// Rewrite the tail positions of a channel's body, where its new states are given, to
/// store them in slots 0 and 1 ([`ExprKind::States`], [`ExprKind::StatesOf`]) instead
/// of making a pair for the node to take apart. Tail positions are the body itself,
/// both arms of an `if`, the body of a `let`, the last of a sequence, and the body and
/// every handler of a `try`. (A store there is the last thing its path does, so
/// nothing reads the parameters after it, and an exception that escapes the channel
/// rolls everything back anyway.)
pub fn tail_states(e: &mut Expr) {
    match &mut e.kind {
        ExprKind::If(_, t, f) => {
            tail_states(t);
            tail_states(f);
        }
        ExprKind::Let { body, .. } => tail_states(body),
        ExprKind::Seq(es) => {
            if let Some(last) = es.last_mut() {
                tail_states(last);
            }
        }
        ExprKind::Try(body, handlers) => {
            tail_states(body);
            for h in handlers {
                tail_states(&mut h.body);
            }
        }
        ExprKind::Raise(_) => {}
        ExprKind::Tuple(es, _, _) if es.len() == 2 => {
            let b = es.pop().expect("two components");
            let a = es.pop().expect("two components");
            e.kind = ExprKind::States(Box::new(a), Box::new(b));
        }
        _ => {
            let inner = std::mem::replace(e, Expr { kind: ExprKind::Nil, ty: e.ty.clone(), span: e.span });
            e.kind = ExprKind::StatesOf(Box::new(inner));
        }
    }
}

/// Rewrite the body of a `network` channel to read its packet's components from their
/// slots ([`PACKET_PARTS`]): `#k p` of a tuple packet `p` becomes slot `PACKET_PARTS +
/// k`, a packet of one component is slot `PACKET_PARTS` itself, and a send of `p`
/// unchanged marshals the components from their slots ([`SendTarget::parts_at`]).
/// Gives whether the body still needs the packet whole: it uses a tuple packet in
/// another way, or calls a local function (which may reach the packet through its
/// static link).
pub fn unbox_packet(body: &mut Expr, tuple: bool) -> bool {
    fn walk(e: &mut Expr, tuple: bool, whole: &mut bool) {
        match &mut e.kind {
            ExprKind::Send { target, packet, neighbor, .. }
                if tuple && target.layout.is_some() && matches!(packet.kind, ExprKind::Local(PACKET_SLOT)) =>
            {
                target.parts_at = Some(PACKET_PARTS);
                if let Some(n) = neighbor {
                    walk(n, tuple, whole);
                }
                return;
            }
            ExprKind::Proj(x, k) if tuple && matches!(x.kind, ExprKind::Local(PACKET_SLOT)) => {
                e.kind = ExprKind::Local(PACKET_PARTS + *k);
                return;
            }
            ExprKind::Local(PACKET_SLOT) if !tuple => {
                e.kind = ExprKind::Local(PACKET_PARTS);
                return;
            }
            ExprKind::Local(PACKET_SLOT) => *whole = true,
            ExprKind::Call { link: Some(_), .. } | ExprKind::Fold { link: Some(_), .. } => *whole = true,
            _ => {}
        }
        for c in e.children_mut() {
            walk(c, tuple, whole);
        }
    }
    let mut whole = false;
    walk(body, tuple, &mut whole);
    whole
}

impl Program {
    /// The name of exception `e`: one of [`Program::exceptions`], or the node's resource
    /// limit ([`planp_primitives::rt::RESOURCE_LIMIT`]), which is none of them.
    pub fn exception_name(&self, e: planp_primitives::Exn) -> &str {
        match self.exceptions.get(e.0 as usize) {
            Some(name) => name,
            None if e == planp_primitives::rt::RESOURCE_LIMIT => planp_primitives::rt::RESOURCE_LIMIT_NAME,
            None => "(unknown exception)",
        }
    }

    /// Where `e` is in the program's source and how it reads, for the notes of
    /// generated code: `line:column  text` (the first line of the text, at most 60
    /// characters). Empty for constants and variables (they would only repeat the
    /// expression around them) and for expressions whose text is not the program's
    /// (declarations typed at the REPL).
    pub fn source_note(&self, e: &Expr) -> String {
        if matches!(
            e.kind,
            ExprKind::Const(_)
                | ExprKind::Str(_)
                | ExprKind::Local(_)
                | ExprKind::Outer { .. }
                | ExprKind::Global(_)
                | ExprKind::Nil
        ) {
            return String::new();
        }
        let Some(text) = self.text.get(e.span.start as usize..e.span.end as usize).filter(|t| !t.is_empty()) else {
            return String::new();
        };
        let first = text.lines().next().unwrap_or("").trim_end();
        let short: String = first.chars().take(60).collect();
        let cut = if short.len() < text.trim_end().len() { " ..." } else { "" };
        let (line, col) = crate::span::line_col(&self.text, e.span.start as usize);
        format!("{line}:{col}  {short}{cut}")
    }

    /// Add declarations checked after the program.
    pub fn extend(&mut self, d: &Delta) {
        self.globals.extend(d.globals.iter().cloned());
        self.inits.extend(d.inits.iter().cloned());
        self.funs.extend(d.funs.iter().cloned());
        self.strings.extend(d.strings.iter().cloned());
        self.exceptions.extend(d.exceptions.iter().cloned());
        self.stack_size = self.stack_size.max(d.stack_size);
    }

    /// Undo [`Program::extend`]: keep the first `globals`, `inits`, `funs`, `strings`
    /// and `exceptions` items.
    pub fn truncate(&mut self, globals: usize, inits: usize, funs: usize, strings: usize, exceptions: usize) {
        self.globals.truncate(globals);
        self.inits.truncate(inits);
        self.funs.truncate(funs);
        self.strings.truncate(strings);
        self.exceptions.truncate(exceptions);
    }

    /// A listing of the program's interface: exceptions, globals, functions and channels
    /// with their types, one per line (what `planp check --verbose` and the REPL's
    /// `:load` show, and what the front-end tests compare).
    pub fn summary(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let builtin = planp_primitives::rt::BUILTIN_EXCEPTIONS.len();
        for e in &self.exceptions[builtin..] {
            let _ = writeln!(out, "exception {e}");
        }
        for g in &self.globals {
            let _ = writeln!(out, "val {} : {}", g.name, g.ty);
        }
        for f in &self.funs {
            let params: Vec<String> = f.params.iter().map(Type::to_string).collect();
            let kind = if f.local { "local fun" } else { "fun" };
            let _ = writeln!(out, "{kind} {}({}) : {}", f.name, params.join(", "), f.ret);
        }
        for c in &self.channels {
            let _ = writeln!(
                out,
                "channel {}#{}(ps : {}, ss : {}, p : {}){}",
                c.name,
                c.overload,
                self.ps_type,
                c.ss_type,
                c.pkt_type,
                if c.init.is_some() { " initstate" } else { "" }
            );
        }
        out
    }
}
