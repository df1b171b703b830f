//! Random, well-typed PLAN-P programs and synthetic packets, both read from a stream of
//! bytes, and the comparison of the interpreter with the JIT on them.
//!
//! Shared by `planp-interp/tests/generated.rs` (a seeded proptest: the bytes come from
//! proptest, which shrinks them) and `fuzz/fuzz_targets/engines.rs` (the bytes come from
//! libFuzzer), which include this file with `#[path]`.
//!
//! Every random decision is a call on [`Choices`]: an exhausted stream answers 0, and 0
//! is always the simplest answer (a leaf, no optional part), so any byte string makes a
//! program and shorter strings make smaller programs.
//!
//! Programs are generated type-directed ([`Gen::expr`] makes an expression of a wanted
//! type in an environment of typed variables, functions and exceptions, with a depth
//! budget), so that every program loads: one that does not is a bug of this generator.
//! Operands whose type the checker must know when it meets them (`#n`, `size`, `[]`,
//! `mkTable`, ...) are annotated. Growth is bounded so that no program runs for long:
//! fold functions with a growing accumulator add to it (never double it), states and
//! table values that could grow are cut to a few elements when stored, sizes given to
//! `makeBlob` are reduced modulo 65.

#![allow(dead_code)]

use planp_interp::{Engine, LinkType, Node, NodeConfig, Outcome};
use planp_primitives::Effect;
use std::fmt::{self, Write as _};
use std::sync::Arc;

/// Random decisions, read from bytes. Past the end every answer is 0.
pub struct Choices<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Choices<'a> {
    /// Decisions read from `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Choices { data, pos: 0 }
    }

    /// The next byte (0 past the end).
    pub fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    /// A number in `0..n` (0 when `n` is 0 or 1).
    pub fn below(&mut self, n: usize) -> usize {
        match n {
            0 | 1 => 0,
            2..=256 => self.byte() as usize % n,
            _ => (usize::from(self.byte()) << 8 | usize::from(self.byte())) % n,
        }
    }

    /// True with probability `pct`%; false past the end.
    pub fn chance(&mut self, pct: usize) -> bool {
        self.below(100) >= 100 - pct.min(100)
    }

    /// An index into `weights`, each chosen with its weight; 0 is answered past the end
    /// when its weight is not 0 (the first alternative is the simplest).
    pub fn weighted(&mut self, weights: &[usize]) -> usize {
        let total: usize = weights.iter().sum();
        assert!(total > 0, "no alternative");
        let mut r = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if r < w {
                return i;
            }
            r -= w;
        }
        unreachable!()
    }

    /// One of `items`.
    pub fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }

    /// A 32-bit number.
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }
}

/// The types the generator uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ty {
    Unit,
    Int,
    Bool,
    Char,
    Str,
    Host,
    Blob,
    Ip,
    Udp,
    Tcp,
    Tuple(Vec<Ty>),
    List(Box<Ty>),
    Table(Box<Ty>),
}

use Ty::*;

fn list(t: Ty) -> Ty {
    List(Box::new(t))
}

fn table(t: Ty) -> Ty {
    Table(Box::new(t))
}

impl Ty {
    /// Does the type admit equality (no hash tables inside)?
    fn admits_eq(&self) -> bool {
        match self {
            Table(_) => false,
            Tuple(ts) => ts.iter().all(Ty::admits_eq),
            List(t) => t.admits_eq(),
            _ => true,
        }
    }

    /// Is the type ordered (`<` and friends)?
    fn ord(&self) -> bool {
        matches!(self, Int | Char | Host | Str)
    }

    fn is_header(&self) -> bool {
        matches!(self, Ip | Udp | Tcp)
    }

    /// Can a value of this type be much larger than a constant (and so must be cut
    /// before it is stored from packet to packet)?
    fn grows(&self) -> bool {
        match self {
            Str | Blob | List(_) => true,
            Tuple(ts) => ts.iter().any(Ty::grows),
            _ => false,
        }
    }

    /// Written where a postfix `list`/`hash_table` or a `*` follows.
    fn atom(&self) -> String {
        match self {
            Tuple(_) => format!("({self})"),
            _ => self.to_string(),
        }
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unit => f.write_str("unit"),
            Int => f.write_str("int"),
            Bool => f.write_str("bool"),
            Char => f.write_str("char"),
            Str => f.write_str("string"),
            Host => f.write_str("host"),
            Blob => f.write_str("blob"),
            Ip => f.write_str("ip"),
            Udp => f.write_str("udp"),
            Tcp => f.write_str("tcp"),
            Tuple(ts) => f.write_str(&ts.iter().map(Ty::atom).collect::<Vec<_>>().join("*")),
            List(t) => write!(f, "{} list", t.atom()),
            Table(t) => write!(f, "{} hash_table", t.atom()),
        }
    }
}

/// A variable in scope.
#[derive(Clone, Debug)]
struct Var {
    name: String,
    ty: Ty,
}

/// Which fold a function was made for: its parameters are `(acc, x)` or `(x, acc)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fold {
    Left,
    Right,
}

/// A function in scope.
#[derive(Clone, Debug)]
struct Fun {
    name: String,
    params: Vec<Ty>,
    ret: Ty,
    /// Does calling it send (directly or through the functions it calls)?
    sends: bool,
    /// Made to be given to a fold (its accumulator does not blow up).
    fold: Option<Fold>,
    /// An upper bound on the expression nodes one call of it unfolds into under the JIT,
    /// which copies a function's body to every call site: its text's length (each node
    /// takes at least a character) plus the bounds of the calls in it.
    unfolded: u64,
}

/// How many expression nodes (by [`Fun::unfolded`]'s measure) the calls of a program's
/// channels may unfold into: below the JIT's `MAX_UNFOLDED` (200,000), with room for the
/// channel bodies' own text, so that the JIT takes every program (a chain of functions
/// that each call the next several times would otherwise grow exponentially, and the
/// JIT refuses such a program; `tests/engines.rs` checks that refusal).
const UNFOLD_BUDGET: u64 = 100_000;

/// A user-defined channel overload: its name and packet type.
#[derive(Clone, Debug)]
struct UserChan {
    name: String,
    ty: Ty,
}

const BUILTIN_EXNS: [&str; 4] = ["DivByZero", "NotFound", "Empty", "Subscript"];

/// Network packet types the generator gives channels or sends.
fn net_types() -> Vec<Ty> {
    vec![
        Tuple(vec![Ip, Udp, Blob]),
        Tuple(vec![Ip, Tcp, Blob]),
        Tuple(vec![Ip, Udp, Int, Blob]),
        Tuple(vec![Ip, Blob]),
        Tuple(vec![Ip, Udp, Char, Blob]),
        Tuple(vec![Ip, Udp, Str, Blob]),
        Tuple(vec![Ip, Udp, Host, Blob]),
        Tuple(vec![Ip, Tcp, Int, Blob]),
        Tuple(vec![Ip, Udp, Bool, Blob]),
    ]
}

/// The program generator.
pub struct Gen<'a> {
    c: Choices<'a>,
    /// Variables in scope, innermost last; a name bound twice is the last binding.
    vars: Vec<Var>,
    /// Functions in scope, top-level and local.
    funs: Vec<Fun>,
    /// Exceptions in scope.
    exns: Vec<String>,
    /// The key type of every hash table of the program.
    key: Ty,
    /// The user-defined channels of the program.
    chans: Vec<UserChan>,
    /// May the code being generated send (not an initialiser)?
    can_send: bool,
    /// Has the code generated since this was last cleared sent?
    sends: bool,
    fresh: usize,
    /// Added to the depth of channel bodies and functions: 0 to 2.
    extra: usize,
    /// For each function or channel body being generated, innermost last: what the calls
    /// made in it so far unfold into ([`Fun::unfolded`]).
    unfold: Vec<u64>,
    /// What the channel bodies generated so far unfold into.
    unfolded_total: u64,
}

/// A random, well-typed program made from `data`.
pub fn program(data: &[u8]) -> String {
    Gen::new(data).program()
}

/// The program and packets the `engines` fuzz target makes of its input: the first byte
/// says how many of the following bytes describe the packets; the rest describes the
/// program. (Shared with the regression tests that replay the fuzzer's findings.)
pub fn fuzz_input(data: &[u8]) -> (String, Vec<TestPacket>) {
    let n = data.first().map_or(0, |&b| usize::from(b)).min(data.len().saturating_sub(1));
    let (pk, prog) = data.get(1..).unwrap_or_default().split_at(n);
    (program(prog), packets(&mut Choices::new(pk)))
}

/// [`program`], and how many bytes of `data` it read (at most `data.len()`).
pub fn program_used(data: &[u8]) -> (String, usize) {
    let mut g = Gen::new(data);
    let p = g.program();
    (p, g.c.pos.min(data.len()))
}

impl<'a> Gen<'a> {
    /// A generator reading its decisions from `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Gen {
            c: Choices::new(data),
            vars: Vec::new(),
            funs: Vec::new(),
            exns: BUILTIN_EXNS.iter().map(|s| s.to_string()).collect(),
            key: Int,
            chans: Vec::new(),
            can_send: false,
            sends: false,
            fresh: 0,
            extra: 0,
            unfold: Vec::new(),
            unfolded_total: 0,
        }
    }

    fn name(&mut self, prefix: &str) -> String {
        self.fresh += 1;
        format!("{prefix}{}", self.fresh)
    }

    // ---------------------------------------------------------------- programs

    /// A whole program: exceptions, top-level values and functions, then channels.
    pub fn program(&mut self) -> String {
        let mut out = String::new();
        self.extra = self.c.weighted(&[6, 3, 1]);
        self.key = self.c.pick(&[Int, Str, Host, Tuple(vec![Host, Int]), Char, Tuple(vec![Int, Str])]);
        let ps = self.state_ty(2);
        for _ in 0..self.c.below(4) {
            let e = self.name("E");
            writeln!(out, "exception {e}").unwrap();
            self.exns.push(e);
        }
        // The channels' packet types are chosen first, so that sends can name them.
        let mut nets = Vec::new();
        let all = net_types();
        for _ in 0..1 + self.c.below(3) {
            let t = self.c.pick(&all);
            if !nets.contains(&t) {
                nets.push(t);
            }
        }
        let user_types = [Int, Str, Tuple(vec![Int, Host]), list(Int), Tuple(vec![Str, Bool, Char]), Host];
        for _ in 0..self.c.below(3) {
            let name =
                if self.chans.is_empty() || self.c.chance(60) { self.name("u") } else { self.chans[0].name.clone() };
            let ty = self.c.pick(&user_types);
            if !self.chans.iter().any(|u| u.name == name && u.ty == ty) {
                self.chans.push(UserChan { name, ty });
            }
        }
        for _ in 0..self.c.below(8) {
            match self.c.weighted(&[4, 3, 2, 1]) {
                0 => self.top_val(&mut out),
                1 => self.top_fun(&mut out),
                2 => {
                    let can_send = self.c.chance(50);
                    self.fold_fun(&mut out, 3, can_send)
                }
                _ => {
                    let e = self.name("E");
                    writeln!(out, "exception {e}").unwrap();
                    self.exns.push(e);
                }
            }
        }
        // Network channels in a random order among the user channels.
        let mut chans: Vec<(String, Ty)> = nets.into_iter().map(|t| ("network".to_string(), t)).collect();
        for u in self.chans.clone() {
            let at = self.c.below(chans.len() + 1);
            chans.insert(at, (u.name, u.ty));
        }
        for (name, pty) in chans {
            self.channel(&mut out, &name, &ps, &pty);
        }
        out
    }

    /// `val v : T = e`, initialised at load time (so it cannot send, and an exception
    /// would stop the program from loading: most initialisers catch everything).
    fn top_val(&mut self, out: &mut String) {
        let ty = self.value_ty(2);
        let name = self.name("v");
        self.can_send = false;
        let mut e = self.expr(&ty, 3);
        if !self.c.chance(10) {
            let d = self.leaf(&ty);
            e = format!("(try {e} handle _ => ({d}))");
        }
        writeln!(out, "val {name} : {ty} = {e}").unwrap();
        self.vars.push(Var { name, ty });
    }

    /// A top-level function of 0 to 3 parameters; it sees the values declared before it
    /// and calls only functions declared before it (so there is no recursion, and a value
    /// that calls it is initialised after every value it uses).
    fn top_fun(&mut self, out: &mut String) {
        let can_send = self.c.chance(50);
        let (text, f) = self.fun_decl(3 + self.extra, can_send);
        writeln!(out, "{text}").unwrap();
        self.funs.push(f);
    }

    /// A function declaration (top-level or local) and its signature.
    fn fun_decl(&mut self, depth: usize, can_send: bool) -> (String, Fun) {
        let name = self.name("f");
        let mark = self.mark();
        let mut params = Vec::new();
        let mut ps = Vec::new();
        for _ in 0..self.c.below(4) {
            let t = self.value_ty(2);
            let a = self.name("a");
            ps.push(format!("{a} : {t}"));
            params.push(t.clone());
            self.vars.push(Var { name: a, ty: t });
        }
        let ret = self.value_ty(2);
        let (saved_send, saved_sends) = (self.can_send, self.sends);
        self.can_send = can_send;
        self.sends = false;
        self.unfold.push(0);
        let body = self.expr(&ret, depth);
        let calls = self.unfold.pop().expect("pushed above");
        let sends = self.sends;
        self.can_send = saved_send;
        self.sends = saved_sends;
        self.restore(mark);
        let text = format!("fun {name}({}) : {ret} =\n  {body}", ps.join(", "));
        let unfolded = text.len() as u64 + calls;
        (text, Fun { name, params, ret, sends, fold: None, unfolded })
    }

    /// A function for `foldl` (`(acc, x)`) or `foldr` (`(x, acc)`). An accumulator that
    /// can grow is only added to.
    fn fold_fun(&mut self, out: &mut String, depth: usize, can_send: bool) {
        let (text, f) = self.fold_decl(depth, can_send);
        writeln!(out, "{text}").unwrap();
        self.funs.push(f);
    }

    fn fold_decl(&mut self, depth: usize, can_send: bool) -> (String, Fun) {
        let name = self.name("f");
        let dir = if self.c.chance(50) { Fold::Right } else { Fold::Left };
        let acc_ty = self.c.pick(&[Int, Str, list(Int), Bool, Tuple(vec![Int, Host]), Blob, list(Str), Char]);
        let x_ty = self.value_ty(1);
        let acc = self.name("acc");
        let x = self.name("x");
        let mark = self.mark();
        let saved = (self.can_send, self.sends);
        (self.can_send, self.sends) = (can_send, false);
        self.unfold.push(0);
        self.vars.push(Var { name: x.clone(), ty: x_ty.clone() });
        let body = if acc_ty.grows() {
            // `acc` is not in scope for the added part.
            let add = match &acc_ty {
                List(t) => {
                    let e = self.expr(t, depth);
                    format!("({e} :: {acc})")
                }
                _ => {
                    let e = self.expr(&acc_ty, depth);
                    if self.c.chance(50) { format!("({acc} ^ {e})") } else { format!("(({e} : {acc_ty}) ^ {acc})") }
                }
            };
            if self.c.chance(30) {
                let cond = self.expr(&Bool, depth - 1);
                format!("(if {cond} then {acc} else {add})")
            } else {
                add
            }
        } else {
            self.vars.push(Var { name: acc.clone(), ty: acc_ty.clone() });
            self.expr(&acc_ty, depth)
        };
        let calls = self.unfold.pop().expect("pushed above");
        let sends = self.sends;
        (self.can_send, self.sends) = saved;
        self.restore(mark);
        let (params, ptys) = match dir {
            Fold::Left => (format!("{acc} : {acc_ty}, {x} : {x_ty}"), vec![acc_ty.clone(), x_ty]),
            Fold::Right => (format!("{x} : {x_ty}, {acc} : {acc_ty}"), vec![x_ty, acc_ty.clone()]),
        };
        let text = format!("fun {name}({params}) : {acc_ty} =\n  {body}");
        let unfolded = text.len() as u64 + calls;
        (text, Fun { name, params: ptys, ret: acc_ty, sends, fold: Some(dir), unfolded })
    }

    /// `channel NAME(ps : PS, ss : SS, p : PT) [initstate e] is body`.
    fn channel(&mut self, out: &mut String, name: &str, ps: &Ty, pty: &Ty) {
        let ss = self.state_ty(2);
        let mut head = format!("channel {name}(ps : {ps}, ss : {ss}, p : {pty})");
        if self.constructible(&ss) && self.c.chance(40) {
            self.can_send = false;
            let mut e = self.expr(&ss, 2);
            if !self.c.chance(10) {
                let d = self.leaf(&ss);
                e = format!("(try {e} handle _ => ({d}))");
            }
            write!(head, " initstate {e}").unwrap();
        }
        let mark = self.mark();
        self.vars.push(Var { name: "ps".into(), ty: ps.clone() });
        self.vars.push(Var { name: "ss".into(), ty: ss.clone() });
        self.vars.push(Var { name: "p".into(), ty: pty.clone() });
        self.can_send = true;
        let pair = Tuple(vec![ps.clone(), ss.clone()]);
        self.unfold.push(0);
        let mut decls = Vec::new();
        for _ in 0..self.c.below(4) {
            decls.push(self.let_decl(3));
        }
        let mut body = Vec::new();
        for _ in 0..self.c.below(4) {
            body.push(self.expr(&Unit, 3 + self.extra));
        }
        if self.c.chance(60) {
            body.push(self.send(2));
        }
        body.push(self.expr(&pair, 4 + self.extra));
        let e = format!("let\n    {}\n  in\n    {}\n  end", decls.join("\n    "), body.join(";\n    "));
        let e = self.clamp(&pair, e);
        let calls = self.unfold.pop().expect("pushed above");
        self.unfolded_total += e.len() as u64 + calls;
        self.restore(mark);
        writeln!(out, "{head} is\n  {e}").unwrap();
    }

    /// `e`, cut when its type can grow: strings and blobs to 24 bytes, lists to 6
    /// elements, tuples component by component. Values kept from packet to packet (states,
    /// table values) go through this, so no program grows them without bound.
    fn clamp(&mut self, ty: &Ty, e: String) -> String {
        if !ty.grows() {
            return e;
        }
        let v = self.name("c");
        match ty {
            Str | Blob => {
                format!("let val {v} : {ty} = {e} in if size({v}) > 24 then substring({v}, 0, 24) else {v} end")
            }
            List(_) => format!("let val {v} : {ty} = {e} in if length({v}) > 6 then ([] : {ty}) else {v} end"),
            Tuple(ts) => {
                let parts: Vec<String> =
                    ts.iter().enumerate().map(|(i, t)| self.clamp(t, format!("#{} {v}", i + 1))).collect();
                format!("let val {v} : {ty} = {e} in ({}) end", parts.join(", "))
            }
            _ => unreachable!(),
        }
    }

    // ---------------------------------------------------------------- scopes

    fn mark(&self) -> (usize, usize, usize) {
        (self.vars.len(), self.funs.len(), self.exns.len())
    }

    fn restore(&mut self, (v, f, e): (usize, usize, usize)) {
        self.vars.truncate(v);
        self.funs.truncate(f);
        self.exns.truncate(e);
    }

    /// The variables in scope (the last binding of each name).
    fn visible(&self) -> Vec<Var> {
        let mut out: Vec<Var> = Vec::new();
        for v in self.vars.iter().rev() {
            if !out.iter().any(|o| o.name == v.name) {
                out.push(v.clone());
            }
        }
        out
    }

    /// Expressions made of a variable and projections that have type `ty`: `x`, `#2 x`,
    /// `#1 (#3 x)`.
    fn sources(&self, ty: &Ty) -> Vec<String> {
        fn walk(e: &str, t: &Ty, want: &Ty, out: &mut Vec<String>, depth: usize) {
            if t == want {
                out.push(e.to_string());
            }
            if let (Tuple(ts), true) = (t, depth < 2) {
                for (i, c) in ts.iter().enumerate() {
                    walk(&format!("(#{} {e})", i + 1), c, want, out, depth + 1);
                }
            }
        }
        let mut out = Vec::new();
        for v in self.visible() {
            walk(&v.name, &v.ty, ty, &mut out, 0);
        }
        out
    }

    /// Can an expression of this type be made here without `raise`? Headers come only
    /// from variables (the packet, parameters, states).
    fn constructible(&self, ty: &Ty) -> bool {
        match ty {
            Ip | Udp | Tcp => !self.sources(ty).is_empty(),
            Tuple(ts) => ts.iter().all(|t| self.constructible(t)),
            _ => true,
        }
    }

    /// Functions in scope returning `ty` that may be called here, within what is left
    /// of [`UNFOLD_BUDGET`].
    fn callable(&self, ty: &Ty) -> Vec<Fun> {
        let used = self.unfolded_total + self.unfold.iter().sum::<u64>();
        let room = UNFOLD_BUDGET.saturating_sub(used);
        self.funs
            .iter()
            .filter(|f| {
                f.ret == *ty
                    && (self.can_send || !f.sends)
                    && f.unfolded <= room
                    && f.params.iter().all(|p| self.constructible(p))
            })
            .cloned()
            .collect()
    }

    /// Count a call of `f` in the body being generated ([`Fun::unfolded`]).
    fn charge(&mut self, f: &Fun) {
        if let Some(calls) = self.unfold.last_mut() {
            *calls += f.unfolded;
        }
    }

    // ---------------------------------------------------------------- types

    /// A type for a value: base types, headers where some are in scope, tuples, lists
    /// and tables.
    fn value_ty(&mut self, depth: usize) -> Ty {
        let headers: Vec<Ty> = [Ip, Udp, Tcp].into_iter().filter(|h| self.constructible(h)).collect();
        let weights = [
            6,
            3,
            3,
            2,
            2,
            2,
            if headers.is_empty() { 0 } else { 2 },
            if depth > 0 { 2 } else { 0 },
            if depth > 0 { 2 } else { 0 },
            if depth > 0 { 1 } else { 0 },
            1,
        ];
        match self.c.weighted(&weights) {
            0 => Int,
            1 => Bool,
            2 => Str,
            3 => Host,
            4 => Char,
            5 => Blob,
            6 => self.c.pick(&headers),
            7 => {
                let n = 2 + self.c.below(2);
                Tuple((0..n).map(|_| self.value_ty(depth - 1)).collect())
            }
            8 => list(self.value_ty(depth - 1)),
            9 => table(self.table_value_ty()),
            _ => Unit,
        }
    }

    /// A type whose values are compared with `=` (no tables).
    fn eq_ty(&mut self, depth: usize) -> Ty {
        loop {
            let t = self.value_ty(depth);
            if t.admits_eq() {
                return t;
            }
        }
    }

    /// Values stored in tables: small, or cut when stored (strings).
    fn table_value_ty(&mut self) -> Ty {
        self.c.pick(&[Int, Host, Bool, Str, Tuple(vec![Int, Host]), Tuple(vec![Str, Int])])
    }

    /// A state type: kept from packet to packet, so its lists hold only small values.
    fn state_ty(&mut self, depth: usize) -> Ty {
        let small = [Int, Bool, Host, Char, Tuple(vec![Int, Host])];
        match self.c.weighted(&[5, 2, 2, 2, 1, 2, 2, 1, 1, 1, if depth > 0 { 2 } else { 0 }]) {
            0 => Int,
            1 => Unit,
            2 => Str,
            3 => table(self.table_value_ty()),
            4 => Bool,
            5 => list(self.c.pick(&small)),
            6 => Host,
            7 => Ip,
            8 => Udp,
            9 => Blob,
            _ => {
                let n = 2 + self.c.below(2);
                Tuple((0..n).map(|_| self.state_ty(depth - 1)).collect())
            }
        }
    }

    // ---------------------------------------------------------------- expressions

    /// An expression of type `ty`, at most about `d` levels deep.
    pub fn expr(&mut self, ty: &Ty, d: usize) -> String {
        if d == 0 {
            return self.leaf(ty);
        }
        let calls = self.callable(ty);
        let folds: Vec<Fun> = calls.iter().filter(|f| f.fold.is_some()).cloned().collect();
        let in_table = matches!(ty, Int | Host | Bool | Str) || *ty == Tuple(vec![Int, Host]);
        let weights = [
            3,                                    // leaf
            14,                                   // a form of this type
            4,                                    // if
            3,                                    // let
            3,                                    // try
            if calls.is_empty() { 0 } else { 4 }, // call
            2,                                    // projection
            2,                                    // sequence
            0,                                    // raise (in `if` branches instead)
            2,                                    // hd / nth
            if in_table { 2 } else { 0 },         // tableGet
            1,                                    // annotation
            if folds.is_empty() { 0 } else { 3 }, // fold
        ];
        match self.c.weighted(&weights) {
            0 => self.leaf(ty),
            1 => self.specific(ty, d),
            2 => {
                let c = self.expr(&Bool, d - 1);
                let a = if self.c.chance(15) { self.raise() } else { self.expr(ty, d - 1) };
                let b = self.expr(ty, d - 1);
                format!("(if {c} then {a} else {b})")
            }
            3 => self.let_expr(ty, d),
            4 => self.try_expr(ty, d),
            5 => {
                let f = self.c.pick(&calls);
                self.call(&f, d)
            }
            6 => self.projection(ty, d),
            7 => {
                let mut parts = Vec::new();
                for _ in 0..1 + self.c.below(2) {
                    parts.push(self.expr(&Unit, d - 1));
                }
                parts.push(self.expr(ty, d - 1));
                format!("({})", parts.join("; "))
            }
            8 => self.raise(),
            9 => {
                let l = self.expr(&list(ty.clone()), d - 1);
                if self.c.chance(50) {
                    self.partial(ty, format!("(hd ({l}))"), "Empty")
                } else {
                    let i = self.small_int(d - 1);
                    self.partial(ty, format!("nth({l}, {i})"), "Subscript")
                }
            }
            10 => {
                let t = self.expr(&table(ty.clone()), d - 1);
                let k = self.key_expr(d - 1);
                self.partial(ty, format!("tableGet({t}, {k})"), "NotFound")
            }
            11 => {
                let e = self.expr(ty, d - 1);
                format!("({e} : {ty})")
            }
            _ => {
                let f = self.c.pick(&folds);
                self.fold(&f, d)
            }
        }
    }

    fn raise(&mut self) -> String {
        let e = self.c.pick(&self.exns.clone());
        format!("(raise {e})")
    }

    fn call(&mut self, f: &Fun, d: usize) -> String {
        self.charge(f);
        if f.sends {
            self.sends = true;
        }
        let args: Vec<String> = f.params.iter().map(|t| self.expr(t, d - 1)).collect();
        format!("{}({})", f.name, args.join(", "))
    }

    /// `foldl(f, z, l)` or `foldr(f, z, l)`.
    fn fold(&mut self, f: &Fun, d: usize) -> String {
        self.charge(f);
        if f.sends {
            self.sends = true;
        }
        let (kw, elem) = match f.fold {
            Some(Fold::Left) => ("foldl", f.params[1].clone()),
            _ => ("foldr", f.params[0].clone()),
        };
        let z = self.expr(&f.ret, d - 1);
        let l = self.expr(&list(elem), d - 1);
        format!("{kw}({}, {z}, {l})", f.name)
    }

    /// An integer that is often a valid index or count.
    fn small_int(&mut self, d: usize) -> String {
        if self.c.chance(30) { self.expr(&Int, d) } else { self.c.below(3).to_string() }
    }

    /// `e`, which may raise `exn`, most often inside a `try` that handles it (or any
    /// exception, or another one, which lets it through) with a leaf of type `ty`.
    fn partial(&mut self, ty: &Ty, e: String, exn: &str) -> String {
        if !self.c.chance(75) {
            return e;
        }
        let h = match self.c.below(6) {
            0..=2 => exn.to_string(),
            3 | 4 => "_".to_string(),
            _ => self.c.pick(&self.exns.clone()),
        };
        let f = self.leaf(ty);
        format!("(try {e} handle {h} => ({f}))")
    }

    /// A key for the program's tables: mostly one of a few values, so that lookups find
    /// what was stored.
    fn key_expr(&mut self, d: usize) -> String {
        if self.c.chance(40) {
            return self.expr(&self.key.clone(), d);
        }
        let i = self.c.below(3);
        match &self.key {
            Int => ["1", "2", "3"][i].to_string(),
            Str => ["\"a\"", "\"b\"", "\"\""][i].to_string(),
            Host => ["10.0.0.1", "10.0.0.2", "131.254.60.81"][i].to_string(),
            Char => ["'a'", "'b'", "'\\000'"][i].to_string(),
            Tuple(ts) if ts[0] == Host => format!("(10.0.0.{}, {})", i + 1, i),
            _ => format!("({i}, \"{i}\")"),
        }
    }

    /// `#i e` of type `ty`: from a variable of a tuple type, or from an annotated tuple.
    fn projection(&mut self, ty: &Ty, d: usize) -> String {
        let srcs: Vec<String> = self.sources(ty).into_iter().filter(|s| s.starts_with('(')).collect();
        if !srcs.is_empty() && self.c.chance(50) {
            return self.c.pick(&srcs);
        }
        let n = if self.c.chance(15) { 4 + self.c.below(20) } else { 2 + self.c.below(2) };
        let at = self.c.below(n);
        let mut ts = Vec::new();
        for i in 0..n {
            ts.push(if i == at { ty.clone() } else { self.value_ty(0) });
        }
        let tt = Tuple(ts);
        let e = self.expr(&tt, d - 1);
        format!("(#{} ({e} : {tt}))", at + 1)
    }

    /// `let` with values, local functions (possibly for folds) and local exceptions.
    fn let_expr(&mut self, ty: &Ty, d: usize) -> String {
        let mark = self.mark();
        let mut decls = Vec::new();
        for _ in 0..1 + self.c.below(3) {
            decls.push(self.let_decl(d - 1));
        }
        let mut body = Vec::new();
        for _ in 0..self.c.below(2) {
            body.push(self.expr(&Unit, d - 1));
        }
        body.push(self.expr(ty, d - 1));
        self.restore(mark);
        format!("let {} in {} end", decls.join(" "), body.join("; "))
    }

    /// One declaration of a `let`; what it declares is pushed on the scope.
    ///
    /// At depth 0 only values (of leaves) and exceptions: functions need depth 1, and
    /// granting it here would let `let`s nest in declarations without bound (depth must
    /// only fall; see `let_chains_stay_within_the_parsers_nesting`).
    fn let_decl(&mut self, d: usize) -> String {
        let funs = if d == 0 { 0 } else { 1 };
        match self.c.weighted(&[7, 2 * funs, funs, 1]) {
            0 => {
                let ty = self.value_ty(2);
                let e = self.expr(&ty, d);
                // Sometimes shadow a variable in scope.
                let vis = self.visible();
                let name = if !vis.is_empty() && self.c.chance(15) { self.c.pick(&vis).name } else { self.name("v") };
                self.vars.push(Var { name: name.clone(), ty: ty.clone() });
                format!("val {name} : {ty} = {e}")
            }
            1 => {
                let (text, f) = self.fun_decl(d, self.can_send);
                self.funs.push(f);
                text
            }
            2 => {
                let (text, f) = self.fold_decl(d, self.can_send);
                self.funs.push(f);
                text
            }
            _ => {
                let e = self.name("L");
                self.exns.push(e.clone());
                format!("exception {e}")
            }
        }
    }

    /// `try e handle ...`: handlers by name or `_`, some of which raise again.
    fn try_expr(&mut self, ty: &Ty, d: usize) -> String {
        let e = self.expr(ty, d - 1);
        let mut hs = Vec::new();
        for _ in 0..1 + self.c.below(3) {
            let name = if self.c.chance(20) { "_".to_string() } else { self.c.pick(&self.exns.clone()) };
            let h = if self.c.chance(20) {
                if name != "_" && self.c.chance(50) { format!("raise {name}") } else { self.raise() }
            } else {
                self.expr(ty, d - 1)
            };
            hs.push(format!("{name} => ({h})"));
        }
        format!("(try {e} handle {})", hs.join(" | "))
    }

    /// A literal or a variable of type `ty`, or a projection of a variable.
    fn leaf(&mut self, ty: &Ty) -> String {
        let srcs = self.sources(ty);
        let prefer = if matches!(ty, Table(_)) { 85 } else { 40 };
        if !srcs.is_empty() && (ty.is_header() || self.c.chance(prefer)) {
            return self.c.pick(&srcs);
        }
        // Values known only at run time, so that the JIT cannot fold them.
        let ip = self.sources(&Ip);
        if !ip.is_empty() && self.c.chance(25) {
            let h = self.c.pick(&ip);
            match ty {
                Int => return format!("{}({h})", self.c.pick(&["ipTtl", "ipLen", "ipId", "ipTos", "ipChecksum"])),
                Bool => return format!("(ipTtl({h}) > {})", self.c.below(256)),
                Host => return format!("{}({h})", self.c.pick(&["ipSrc", "ipDst"])),
                Char => return format!("chr(ipTtl({h}))"),
                _ => {}
            }
        }
        match ty {
            Unit => "()".into(),
            Int => self.int_lit(),
            Bool => self.c.pick(&["true", "false"]).into(),
            Char => self.c.pick(&["'a'", "#\"z\"", "'\\n'", "'\\255'", "'\\''", "'\\x41'", "'0'", "'\\000'"]).into(),
            Str => self.str_lit(),
            Host => self
                .c
                .pick(&["10.0.0.1", "10.0.0.2", "0.0.0.0", "255.255.255.255", "131.254.60.81", "192.168.1.7"])
                .into(),
            Blob => {
                if self.c.chance(30) {
                    format!("makeBlob({}, {})", self.c.below(9), self.c.below(300))
                } else {
                    format!("blobOfString({})", self.str_lit())
                }
            }
            Ip | Udp | Tcp => self.raise(),
            Tuple(ts) => {
                let parts: Vec<String> = ts.iter().map(|t| self.leaf(t)).collect();
                format!("({})", parts.join(", "))
            }
            List(t) => {
                if self.c.chance(30) {
                    format!("([] : {ty})")
                } else {
                    let e = self.leaf(t);
                    format!("[{e}]")
                }
            }
            Table(_) => format!("(mkTable({}) : {ty})", 1 + self.c.below(16)),
        }
    }

    fn int_lit(&mut self) -> String {
        const LITS: [&str; 18] = [
            "0",
            "1",
            "2",
            "7",
            "42",
            "~1",
            "~7",
            "255",
            "256",
            "65535",
            "9223372036854775807",
            "(~9223372036854775807 - 1)",
            "~9223372036854775808",
            "0xff",
            "0xffffffffffffffff",
            "~0x10",
            "(- 3)",
            "100000",
        ];
        if self.c.chance(30) { self.c.below(1000).to_string() } else { self.c.pick(&LITS).into() }
    }

    fn str_lit(&mut self) -> String {
        const LITS: [&str; 10] = [
            "\"\"",
            "\"a\"",
            "\"hello\"",
            "\"tab\\there\"",
            "\"\\x41\\066\"",
            "\"q\\\"uote\"",
            "\"nul\\0byte\"",
            "\"~42\"",
            "\"-7\"",
            "\"\\255\\n\"",
        ];
        self.c.pick(&LITS).into()
    }

    /// A form particular to `ty`: operators and primitives that give a `ty`.
    fn specific(&mut self, ty: &Ty, d: usize) -> String {
        let d1 = d - 1;
        match ty {
            Unit => self.unit_form(d),
            Int => self.int_form(d),
            Bool => self.bool_form(d),
            Char => match self.c.below(3) {
                0 => self.leaf(ty),
                1 => {
                    let i = self.expr(&Int, d1);
                    let e = if self.c.chance(50) { format!("chr({i})") } else { format!("chr(({i} mod 256))") };
                    self.partial(ty, e, "Subscript")
                }
                _ => {
                    let s = self.expr(&Str, d1);
                    format!("(hd (explode ({s})))")
                }
            },
            Str => match self.c.below(7) {
                0 => self.leaf(ty),
                1 | 2 => {
                    let a = self.expr(&Str, d1);
                    let b = self.expr(&Str, d1);
                    format!("({a} ^ {b})")
                }
                3 => {
                    let i = self.expr(&Int, d1);
                    format!("intToString({i})")
                }
                4 => {
                    let h = self.expr(&Host, d1);
                    format!("hostToString({h})")
                }
                5 => {
                    let s = self.expr(&Str, d1);
                    let (i, n) = (self.small_int(d1), self.small_int(d1));
                    self.partial(ty, format!("substring(({s} : string), {i}, {n})"), "Subscript")
                }
                _ => {
                    if self.c.chance(50) {
                        let l = self.expr(&list(Char), d1);
                        format!("(implode ({l}))")
                    } else {
                        let b = self.expr(&Blob, d1);
                        format!("stringOfBlob({b})")
                    }
                }
            },
            Host => match self.c.below(5) {
                0 => self.leaf(ty),
                3 => "prevHop()".into(),
                1 if self.constructible(&Ip) => {
                    let h = self.expr(&Ip, d1);
                    let f = self.c.pick(&["ipSrc", "ipDst"]);
                    format!("{f}({h})")
                }
                2 => {
                    let i = self.expr(&Int, d1);
                    format!("hostOfInt({i})")
                }
                _ => "thisHost()".into(),
            },
            Blob => match self.c.below(8) {
                0 => self.leaf(ty),
                1 => {
                    let s = self.expr(&Str, d1);
                    format!("blobOfString({s})")
                }
                2 => {
                    let a = self.expr(&Blob, d1);
                    let b = self.expr(&Blob, d1);
                    format!("(({a} : blob) ^ {b})")
                }
                3 => {
                    let v = self.expr(&Int, d1);
                    let n = self.small_int(d1);
                    self.partial(ty, format!("bytesOfInt({v}, {n})"), "Subscript")
                }
                4 => {
                    let n = self.expr(&Int, d1);
                    let v = self.expr(&Int, d1);
                    format!("makeBlob(({n} mod 65), {v})")
                }
                5 => {
                    let b = self.expr(&Blob, d1);
                    let (i, v) = (self.small_int(d1), self.expr(&Int, d1));
                    self.partial(ty, format!("setByte({b}, {i}, {v})"), "Subscript")
                }
                6 => {
                    let b = self.expr(&Blob, d1);
                    let (i, n) = (self.small_int(d1), self.small_int(d1));
                    self.partial(ty, format!("substring(({b} : blob), {i}, {n})"), "Subscript")
                }
                _ => {
                    let b = self.expr(&Blob, d1);
                    let f = self.c.pick(&["audioStereoToMono", "audioMonoToStereo", "audio16To8", "audio8To16"]);
                    format!("{f}({b})")
                }
            },
            Ip => {
                let h = self.expr(&Ip, d1);
                if self.c.chance(50) {
                    let a = self.expr(&Host, d1);
                    let f = self.c.pick(&["ipSrcSet", "ipDstSet"]);
                    format!("{f}({h}, {a})")
                } else {
                    let v = self.expr(&Int, d1);
                    let f = self.c.pick(&["ipTtlSet", "ipTosSet", "ipIdSet", "ipProtoSet"]);
                    format!("{f}({h}, {v})")
                }
            }
            Udp => {
                let h = self.expr(&Udp, d1);
                let v = self.expr(&Int, d1);
                let f = self.c.pick(&["udpSrcSet", "udpDstSet"]);
                format!("{f}({h}, {v})")
            }
            Tcp => {
                let h = self.expr(&Tcp, d1);
                let v = self.expr(&Int, d1);
                let f =
                    self.c.pick(&["tcpSrcSet", "tcpDstSet", "tcpSeqSet", "tcpAckSet", "tcpFlagsSet", "tcpWindowSet"]);
                format!("{f}({h}, {v})")
            }
            Tuple(ts) => {
                let parts: Vec<String> = ts.iter().map(|t| self.expr(t, d1)).collect();
                format!("({})", parts.join(", "))
            }
            List(t) => self.list_form(t, d),
            Table(_) => self.leaf(ty),
        }
    }

    fn int_form(&mut self, d: usize) -> String {
        let d1 = d - 1;
        match self.c.weighted(&[2, 6, 3, 2, 1, 2, 3, 2, 2, 1, 1, 1, 3, 2]) {
            0 => self.int_lit(),
            1 => {
                let op = self.c.pick(&["+", "-", "*", "+", "-"]);
                let a = self.expr(&Int, d1);
                let b = self.expr(&Int, d1);
                format!("({a} {op} {b})")
            }
            2 => {
                // Division and remainder, by zero and by ~1 of the smallest integer too.
                let op = self.c.pick(&["/", "div", "mod", "%"]);
                let a = match self.c.below(3) {
                    0 => self.expr(&Int, d1),
                    1 => "(~9223372036854775807 - 1)".into(),
                    _ => "~9223372036854775808".into(),
                };
                let b = match self.c.below(4) {
                    0 | 1 => self.expr(&Int, d1),
                    2 => "0".into(),
                    _ => "~1".into(),
                };
                if b == "~1" {
                    format!("({a} {op} {b})")
                } else {
                    self.partial(&Int, format!("({a} {op} {b})"), "DivByZero")
                }
            }
            3 => {
                let a = self.expr(&Int, d1);
                if self.c.chance(50) { format!("(~ ({a}))") } else { format!("(- ({a}))") }
            }
            4 => {
                let t = self.value_ty(1);
                let l = self.expr(&list(t), d1);
                format!("length({l})")
            }
            5 => {
                let t = self.c.pick(&[Str, Blob]);
                let s = self.expr(&t, d1);
                format!("size(({s} : {t}))")
            }
            6 => self.getter(d),
            7 => {
                let t = self.c.pick(&[Str, Blob]);
                let s = self.expr(&t, d1);
                match self.c.below(3) {
                    0 => {
                        let i = self.small_int(d1);
                        self.partial(&Int, format!("byteAt(({s} : {t}), {i})"), "Subscript")
                    }
                    1 => {
                        let s2 = self.expr(&t, d1);
                        format!("search(({s} : {t}), {s2})")
                    }
                    _ => {
                        let b = self.expr(&Blob, d1);
                        let (i, n) = (self.small_int(d1), self.small_int(d1));
                        self.partial(&Int, format!("intOfBytes({b}, {i}, {n})"), "Subscript")
                    }
                }
            }
            8 => match self.c.below(4) {
                0 => {
                    let c = self.expr(&Char, d1);
                    let f = self.c.pick(&["ord", "charPos"]);
                    format!("{f}({c})")
                }
                1 => {
                    let h = self.expr(&Host, d1);
                    format!("hostToInt({h})")
                }
                2 => {
                    let s = self.expr(&Str, d1);
                    self.partial(&Int, format!("stringToInt({s})"), "NotFound")
                }
                _ => {
                    let v = self.table_value_ty();
                    let t = self.expr(&table(v), d1);
                    format!("tableSize({t})")
                }
            },
            9 => "now()".into(),
            10 => {
                if self.c.below(2) == 0 {
                    "linkLoad()".into()
                } else {
                    "length(neighbors())".into()
                }
            }
            11 => {
                let s = self.c.below(63);
                format!("({} * {})", self.expr(&Int, d1), 1u64 << s)
            }
            12 => {
                // Bit operators; shift counts are taken modulo 64.
                let a = self.expr(&Int, d1);
                match self.c.below(4) {
                    0 => format!("(noti ({a}))"),
                    1 => {
                        let b = self.shift_count(d1);
                        let op = self.c.pick(&["<<", ">>"]);
                        format!("({a} {op} {b})")
                    }
                    _ => {
                        let b = self.expr(&Int, d1);
                        let op = self.c.pick(&["andi", "ori", "xori"]);
                        format!("({a} {op} {b})")
                    }
                }
            }
            _ => self.wide_int(d),
        }
    }

    fn shift_count(&mut self, d: usize) -> String {
        match self.c.below(4) {
            0 => self.expr(&Int, d),
            1 => self.int_atom(d),
            _ => self.c.pick(&["0", "1", "4", "63", "64", "65", "~1", "~64", "32"]).into(),
        }
    }

    /// An integer that is usually not a constant (so that the JIT cannot fold it): a
    /// variable, a header field, a call.
    fn int_atom(&mut self, d: usize) -> String {
        let srcs = self.sources(&Int);
        match self.c.below(5) {
            0 | 1 if !srcs.is_empty() => self.c.pick(&srcs),
            2 => self.getter(d.max(1)),
            3 => {
                let calls = self.callable(&Int);
                if calls.is_empty() {
                    self.expr(&Int, d)
                } else {
                    let f = self.c.pick(&calls);
                    self.call(&f, d.max(1))
                }
            }
            _ => self.expr(&Int, d.min(1)),
        }
    }

    /// A right-nested chain of 6 to 17 operands: every operand but the last is live while
    /// the rest is computed, so the JIT runs out of registers, spills, and keeps values
    /// across the calls, divisions and shifts in the chain.
    fn wide_int(&mut self, d: usize) -> String {
        let n = 6 + self.c.below(12);
        let mut out = self.int_atom(d - 1);
        for _ in 1..n {
            let a = self.int_atom(d - 1);
            let op = self.c.pick(&["+", "-", "*", "div", "mod", "andi", "ori", "xori", "<<", ">>", "+", "-"]);
            out = match op {
                "div" | "mod" => self.partial(&Int, format!("({a} {op} {out})"), "DivByZero"),
                _ => format!("({a} {op} {out})"),
            };
        }
        out
    }

    /// A header field of a header in scope.
    fn getter(&mut self, d: usize) -> String {
        let hs: Vec<Ty> = [Ip, Udp, Tcp].into_iter().filter(|h| self.constructible(h)).collect();
        if hs.is_empty() {
            return self.int_lit();
        }
        let h = self.c.pick(&hs);
        let f = match h {
            Ip => self.c.pick(&[
                "ipVersion",
                "ipHlen",
                "ipTos",
                "ipLen",
                "ipId",
                "ipFlags",
                "ipFragOff",
                "ipTtl",
                "ipProto",
                "ipChecksum",
            ]),
            Udp => self.c.pick(&["udpSrc", "udpDst", "udpLen", "udpChecksum"]),
            _ => self.c.pick(&[
                "tcpSrc",
                "tcpDst",
                "tcpSeq",
                "tcpAck",
                "tcpHlen",
                "tcpFlags",
                "tcpWindow",
                "tcpChecksum",
                "tcpUrgent",
            ]),
        };
        let e = self.expr(&h, d - 1);
        format!("{f}({e})")
    }

    fn bool_form(&mut self, d: usize) -> String {
        let d1 = d - 1;
        match self.c.weighted(&[1, 4, 3, 3, 2, 2, 1]) {
            0 => self.c.pick(&["true", "false"]).into(),
            1 => {
                let t = self.eq_ty(1);
                let a = self.expr(&t, d1);
                let b = self.expr(&t, d1);
                let op = self.c.pick(&["=", "<>"]);
                format!("({a} {op} {b})")
            }
            2 => {
                let t = self.c.pick(&[Int, Int, Char, Host, Str]);
                let a = self.expr(&t, d1);
                let b = self.expr(&t, d1);
                let op = self.c.pick(&["<", "<=", ">", ">="]);
                format!("({a} {op} {b})")
            }
            3 => {
                let a = self.expr(&Bool, d1);
                let b = self.expr(&Bool, d1);
                let op = self.c.pick(&["andalso", "orelse", "and", "or"]);
                format!("({a} {op} {b})")
            }
            4 => {
                let a = self.expr(&Bool, d1);
                format!("(not ({a}))")
            }
            5 => {
                let v = self.table_value_ty();
                let t = self.expr(&table(v), d1);
                let k = self.key_expr(d1);
                let f = self.c.pick(&["tableMember", "tableMember", "tableRemove"]);
                format!("{f}({t}, {k})")
            }
            _ => {
                let t = self.eq_ty(1);
                let x = self.expr(&t, d1);
                let l = self.expr(&list(t), d1);
                format!("member({x}, {l})")
            }
        }
    }

    fn list_form(&mut self, t: &Ty, d: usize) -> String {
        let d1 = d - 1;
        let lt = list(t.clone());
        let keys = *t == self.key;
        match self.c.weighted(&[3, 3, 2, 2, 1, if keys { 1 } else { 0 }, if *t == Char { 1 } else { 0 }]) {
            0 => {
                let n = self.c.below(4);
                if n == 0 {
                    return format!("([] : {lt})");
                }
                let es: Vec<String> = (0..n).map(|_| self.expr(t, d1)).collect();
                format!("[{}]", es.join(", "))
            }
            1 => {
                let x = self.expr(t, d1);
                let l = self.expr(&lt, d1);
                format!("({x} :: {l})")
            }
            2 => {
                let l = self.expr(&lt, d1);
                self.partial(&lt, format!("(tl ({l}))"), "Empty")
            }
            3 => {
                let a = self.expr(&lt, d1);
                let b = self.expr(&lt, d1);
                if self.c.chance(50) { format!("({a} @ {b})") } else { format!("append({a}, {b})") }
            }
            4 => {
                let l = self.expr(&lt, d1);
                format!("rev({l})")
            }
            5 => {
                let v = self.table_value_ty();
                let tb = self.expr(&table(v), d1);
                format!("tableKeys({tb})")
            }
            _ => {
                let s = self.expr(&Str, d1);
                format!("(explode ({s}))")
            }
        }
    }

    /// Something done for its effect: printing, storing in a table, sending.
    fn unit_form(&mut self, d: usize) -> String {
        let d1 = d - 1;
        let send = if self.can_send { 4 } else { 0 };
        match self.c.weighted(&[1, 4, 3, send, 1]) {
            0 => "()".into(),
            1 => {
                let t = self.value_ty(2);
                let e = self.expr(&t, d1);
                let f = self.c.pick(&["print", "println"]);
                format!("{f}({e})")
            }
            2 => {
                let v = self.table_value_ty();
                let t = self.expr(&table(v.clone()), d1);
                let k = self.key_expr(d1);
                let x = self.expr(&v, d1);
                let x = self.clamp(&v, x);
                format!("tablePut({t}, {k}, {x})")
            }
            3 => self.send(d),
            _ => {
                let c = self.expr(&Bool, d1);
                let a = self.expr(&Unit, d1);
                format!("(if {c} then {a} else ())")
            }
        }
    }

    /// `OnRemote` or `OnNeighbor` of a packet to `network` or of a value to a user channel.
    fn send(&mut self, d: usize) -> String {
        let d1 = d - 1;
        let nets: Vec<Ty> = net_types().into_iter().filter(|t| self.constructible(t)).collect();
        let to_user = !self.chans.is_empty() && (nets.is_empty() || self.c.chance(40));
        if !to_user && nets.is_empty() {
            return "()".into();
        }
        self.sends = true;
        let (chan, ty) = if to_user {
            let u = self.c.pick(&self.chans.clone());
            (u.name, u.ty)
        } else {
            ("network".to_string(), self.c.pick(&nets))
        };
        let e = self.expr(&ty, d1);
        if self.c.chance(20) {
            let h = self.expr(&Host, d1);
            format!("OnNeighbor({chan}, ({e} : {ty}), {h})")
        } else {
            format!("OnRemote({chan}, ({e} : {ty}))")
        }
    }
}

// -------------------------------------------------------------------- packets

/// A synthetic frame given to a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestPacket {
    pub link: LinkType,
    pub frame: Vec<u8>,
    pub ts_ns: u64,
}

/// The address of the node the programs run on (`thisHost()`): 10.0.0.1.
pub const THIS_HOST: u32 = 0x0a00_0001;

fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for p in parts {
        for ch in p.chunks(2) {
            let w = if ch.len() == 2 { u16::from_be_bytes([ch[0], ch[1]]) } else { u16::from_be_bytes([ch[0], 0]) };
            sum += u32::from(w);
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// 1 to 8 IPv4 UDP or TCP packets, in Ethernet or raw-IP frames, with varied addresses,
/// ports, options and payloads of 0 to 64 bytes.
pub fn packets(c: &mut Choices<'_>) -> Vec<TestPacket> {
    let n = 1 + c.below(8);
    let link = if c.chance(25) { LinkType::RAW } else { LinkType::ETHERNET };
    let mut ts = 1_700_000_000_000_000_000u64;
    (0..n)
        .map(|_| {
            ts += [1_000u64, 250_000_000, 1_500_000_000][c.below(3)];
            TestPacket { link, frame: frame(c, link), ts_ns: ts }
        })
        .collect()
}

/// What a synthetic IPv4 packet holds.
#[derive(Clone, Debug)]
pub struct Spec {
    pub tcp: bool,
    pub src: u32,
    pub dst: u32,
    pub sport: u16,
    pub dport: u16,
    pub payload: Vec<u8>,
    /// Four bytes of IP options (NOPs and an end-of-list).
    pub options: bool,
    pub tos: u8,
    pub id: u16,
    pub dont_fragment: bool,
    pub ttl: u8,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    /// The transport checksum: right, none (UDP only) or wrong.
    pub checksum: Checksum,
}

/// The transport checksum a synthetic packet carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checksum {
    Right,
    Zero,
    Wrong,
}

impl Spec {
    /// UDP from 10.0.0.2:`sport` to 10.0.0.1:`dport` with `payload`, checksum right.
    pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Spec {
        Spec {
            tcp: false,
            src: 0x0a00_0002,
            dst: THIS_HOST,
            sport,
            dport,
            payload: payload.to_vec(),
            options: false,
            tos: 0,
            id: 1,
            dont_fragment: false,
            ttl: 64,
            seq: 0,
            ack: 0,
            flags: 0,
            checksum: Checksum::Right,
        }
    }

    /// The same over TCP (an ACK).
    pub fn tcp(sport: u16, dport: u16, payload: &[u8]) -> Spec {
        Spec { tcp: true, seq: 1000, ack: 2000, flags: 0x10, ..Spec::udp(sport, dport, payload) }
    }

    /// The frame: an Ethernet header (or none, for raw IP), IPv4, UDP or TCP, payload.
    pub fn frame(&self, link: LinkType) -> Vec<u8> {
        let options: &[u8] = if self.options { &[1, 1, 1, 0] } else { &[] };
        let ihl = 20 + options.len();
        let transport_len = if self.tcp { 20 } else { 8 };
        let total = ihl + transport_len + self.payload.len();
        let proto = if self.tcp { 6 } else { 17 };
        let mut ip = vec![0x40 | (ihl / 4) as u8, self.tos, (total >> 8) as u8, total as u8];
        ip.extend(self.id.to_be_bytes());
        ip.extend([if self.dont_fragment { 0x40 } else { 0 }, 0, self.ttl, proto, 0, 0]);
        ip.extend(self.src.to_be_bytes());
        ip.extend(self.dst.to_be_bytes());
        ip.extend(options);
        let sum = checksum(&[&ip]);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        let mut tr = Vec::new();
        tr.extend(self.sport.to_be_bytes());
        tr.extend(self.dport.to_be_bytes());
        if self.tcp {
            tr.extend(self.seq.to_be_bytes());
            tr.extend(self.ack.to_be_bytes());
            tr.extend([0x50, self.flags, 0xff, 0xff, 0, 0, 0, 0]);
        } else {
            tr.extend(((8 + self.payload.len()) as u16).to_be_bytes());
            tr.extend([0, 0]);
        }
        let len = ((transport_len + self.payload.len()) as u16).to_be_bytes();
        let (s, d) = (self.src.to_be_bytes(), self.dst.to_be_bytes());
        let sum = checksum(&[&s, &d, &[0, proto], &len, &tr, &self.payload]);
        let sum = match self.checksum {
            Checksum::Right => sum,
            Checksum::Zero => 0,
            Checksum::Wrong => sum ^ 0x0101,
        };
        let at = if self.tcp { 16 } else { 6 };
        tr[at..at + 2].copy_from_slice(&sum.to_be_bytes());
        let mut f = Vec::new();
        if link == LinkType::ETHERNET {
            f.extend([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00]);
        }
        f.extend(ip);
        f.extend(tr);
        f.extend(&self.payload);
        f
    }
}

fn frame(c: &mut Choices<'_>, link: LinkType) -> Vec<u8> {
    const HOSTS: [u32; 6] = [0x0a00_0002, THIS_HOST, 0x83fe_3c51, 0xc0a8_0107, 0xffff_ffff, 0];
    const PORTS: [u16; 7] = [1234, 80, 53, 7070, 6000, 3324, 65535];
    let tcp = c.chance(40);
    let src = if c.chance(20) { c.u32() } else { c.pick(&HOSTS) };
    let dst = if c.chance(20) { c.u32() } else { c.pick(&HOSTS[..4]) };
    let sport = if c.chance(20) { c.u32() as u16 } else { c.pick(&PORTS) };
    let dport = if c.chance(20) { c.u32() as u16 } else { c.pick(&PORTS[..5]) };
    let payload: Vec<u8> = match c.below(4) {
        // Text with a NUL (for a `string` field), or bytes.
        0 => b"hello\0rest".to_vec(),
        _ => (0..c.below(65)).map(|_| c.byte()).collect(),
    };
    let spec = Spec {
        tcp,
        src,
        dst,
        sport,
        dport,
        payload,
        options: c.chance(15),
        tos: c.pick(&[0u8, 0x10, 0xb8]),
        id: c.u32() as u16,
        dont_fragment: c.chance(30),
        ttl: c.pick(&[64u8, 1, 255, 0]),
        seq: c.u32(),
        ack: c.u32(),
        flags: c.pick(&[0x10u8, 0x02, 0x18, 0x12, 0x11, 0x04]),
        checksum: match c.below(8) {
            0 if !tcp => Checksum::Zero,
            1 => Checksum::Wrong,
            _ => Checksum::Right,
        },
    };
    spec.frame(link)
}

/// A frame in one line: link type, addresses, ports, payload length, bytes.
pub fn describe(p: &TestPacket) -> String {
    let ip = if p.link == LinkType::ETHERNET { &p.frame[14.min(p.frame.len())..] } else { &p.frame[..] };
    let mut s = format!("{} at {} ns", if p.link == LinkType::ETHERNET { "ethernet" } else { "raw" }, p.ts_ns);
    if ip.len() >= 20 {
        let ihl = usize::from(ip[0] & 15) * 4;
        let a = |o: usize| format!("{}.{}.{}.{}", ip[o], ip[o + 1], ip[o + 2], ip[o + 3]);
        let proto = match ip[9] {
            6 => "tcp",
            17 => "udp",
            _ => "ip",
        };
        let port = |o: usize| ip.get(ihl + o..ihl + o + 2).map(|b| u16::from_be_bytes([b[0], b[1]])).unwrap_or(0);
        write!(s, ": {proto} {}:{} > {}:{}", a(12), port(0), a(16), port(2)).unwrap();
    }
    let hex: String = p.frame.iter().map(|b| format!("{b:02x}")).collect();
    write!(s, "\n      frame {hex}").unwrap();
    s
}

// -------------------------------------------------------------------- the oracle

/// Why a comparison failed.
#[derive(Debug)]
pub enum Failure {
    /// The program does not load: a bug of the generator (or of the checker).
    NoLoad(String),
    /// The engines disagree.
    Differ(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::NoLoad(s) => write!(f, "the program does not load (generator bug):\n{s}"),
            Failure::Differ(s) => f.write_str(s),
        }
    }
}

/// At most this many frames made by a program are fed back to it (user-channel packets
/// it sent, UDP to port 3324), so that its user channels run too.
const FEEDBACK: usize = 12;

/// The UDP destination port of an IPv4 frame, if it is UDP.
fn udp_dport(link: LinkType, f: &[u8]) -> Option<u16> {
    let ip = if link == LinkType::ETHERNET {
        if f.get(12..14)? != [8, 0] {
            return None;
        }
        &f[14..]
    } else {
        f
    };
    let ihl = usize::from(*ip.first()? & 15) * 4;
    if *ip.get(9)? != 17 {
        return None;
    }
    let p = ip.get(ihl + 2..ihl + 4)?;
    Some(u16::from_be_bytes([p[0], p[1]]))
}

fn node(prog: &Arc<planp_interp::Program>, engine: Engine) -> Result<Node, String> {
    let cfg = NodeConfig { this_host: THIS_HOST, engine, ..NodeConfig::default() };
    Node::new(prog.clone(), cfg).map_err(|e| format!("{:?}\n  output {:?}", e.diag, String::from_utf8_lossy(&e.output)))
}

fn load(src: &str) -> Result<Arc<planp_interp::Program>, Failure> {
    planp_interp::load("generated.planp", src).map_err(|d| Failure::NoLoad(format!("{}\n{src}", d.render_plain())))
}

/// Run `interp_src` under the interpreter and `jit_src` under the JIT (the same text,
/// except to check the harness itself) on `packets`, and the frames they send on
/// user channels; everything observable must be the same: loading (or why it failed),
/// what initialisation printed, each packet's outcome (channel, printed bytes, sent
/// bytes, exception with its span, pass-through, frames), and the final states.
pub fn compare(interp_src: &str, jit_src: &str, packets: &[TestPacket]) -> Result<(), Failure> {
    compare_counting(interp_src, jit_src, packets).map(|_| ())
}

/// What the engines did on a program, counted (they agreed on it).
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Programs that loaded on a node (no initialiser raised).
    pub loaded: usize,
    /// Packets given to the nodes, fed-back ones included.
    pub packets: usize,
    /// Packets a channel took.
    pub channel_runs: usize,
    /// Packets a user channel took (fed back).
    pub user_channel_runs: usize,
    /// Channel runs that ended in an exception.
    pub exceptions: usize,
    /// Channel runs that returned new states.
    pub completed: usize,
    /// Packets sent (by runs that completed).
    pub sends: usize,
    /// Runs that printed.
    pub prints: usize,
}

impl Stats {
    /// Add `o` to these counts.
    pub fn add(&mut self, o: &Stats) {
        self.loaded += o.loaded;
        self.packets += o.packets;
        self.channel_runs += o.channel_runs;
        self.user_channel_runs += o.user_channel_runs;
        self.exceptions += o.exceptions;
        self.completed += o.completed;
        self.sends += o.sends;
        self.prints += o.prints;
    }
}

/// [`compare`] of a program with itself, and what it did.
pub fn stats(src: &str, packets: &[TestPacket]) -> Result<Stats, Failure> {
    compare_counting(src, src, packets)
}

fn compare_counting(interp_src: &str, jit_src: &str, packets: &[TestPacket]) -> Result<Stats, Failure> {
    let a = load(interp_src)?;
    let b = load(jit_src)?;
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| compare_loaded(&a, &b, packets)));
    let result = match run {
        Ok(r) => r,
        Err(e) => {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(format!("an engine panicked: {msg}"))
        }
    };
    result.map_err(|why| {
        Failure::Differ(format!("the engines disagree: {why}\n--- program (run by the interpreter) ---\n{interp_src}"))
    })
}

fn compare_loaded(
    a: &Arc<planp_interp::Program>,
    b: &Arc<planp_interp::Program>,
    packets: &[TestPacket],
) -> Result<Stats, String> {
    let mut stats = Stats::default();
    let (mut i, mut j) = match (node(a, Engine::Interp), node(b, Engine::Jit)) {
        (Ok(i), Ok(j)) => (i, j),
        (Err(x), Err(y)) if x == y => return Ok(stats),
        (x, y) => {
            return Err(format!("loading differs:\n  interpreter {:?}\n  JIT         {:?}", x.err(), y.err()));
        }
    };
    if planp_jit::available().is_ok() && j.compiled().is_none() {
        return Err(format!("the JIT is available but did not run: {:?}", j.jit_unavailable()));
    }
    if i.init_effects() != j.init_effects() {
        return Err(format!(
            "initialisation differs:\n  interpreter {:?}\n  JIT         {:?}",
            i.init_effects(),
            j.init_effects()
        ));
    }
    let mut queue: std::collections::VecDeque<TestPacket> = packets.iter().cloned().collect();
    let mut seen: Vec<String> = Vec::new();
    let mut fed = 0;
    stats.loaded = 1;
    while let Some(p) = queue.pop_front() {
        let user = stats.packets >= packets.len();
        stats.packets += 1;
        seen.push(describe(&p));
        // Links for `neighbors()` and `prevHop()`: two neighbours, the packet from the
        // first one, or from nowhere known, in turn.
        let prev = if stats.packets % 2 == 0 { 0x0a00_0009 } else { 0 };
        i.set_links(&[0x0a00_0009, 0x0a00_000a], prev);
        j.set_links(&[0x0a00_0009, 0x0a00_000a], prev);
        let x: Outcome = i.process(p.link, &p.frame, p.ts_ns);
        let y: Outcome = j.process(p.link, &p.frame, p.ts_ns);
        if x != y {
            let n = seen.len();
            let earlier = seen[..n - 1].iter().map(|s| format!("    {s}\n")).collect::<String>();
            return Err(format!(
                "on packet {n}:\n    {}\n  interpreter {x:?}\n  JIT         {y:?}\n  earlier packets:\n{earlier}",
                seen[n - 1]
            ));
        }
        if x.channel.is_some() {
            stats.channel_runs += 1;
            stats.user_channel_runs += usize::from(user);
            stats.exceptions += usize::from(x.exception.is_some());
            stats.completed += usize::from(x.exception.is_none());
            stats.prints += usize::from(x.effects.iter().any(|e| matches!(e, Effect::Print(_))));
            if x.exception.is_none() {
                stats.sends += x.effects.iter().filter(|e| matches!(e, Effect::Send(_))).count();
            }
        }
        for f in &x.frames {
            if fed < FEEDBACK && !x.pass_through && udp_dport(p.link, f) == Some(3324) {
                fed += 1;
                queue.push_back(TestPacket { link: p.link, frame: f.clone(), ts_ns: p.ts_ns + 1 });
            }
        }
    }
    let (x, y) = (i.describe_states(10_000), j.describe_states(10_000));
    if x != y {
        return Err(format!("final states differ:\n  interpreter {x}\n  JIT         {y}"));
    }
    Ok(stats)
}
