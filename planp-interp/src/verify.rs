//! The safety verifier: properties of a program checked before it runs
//! (`docs/safety.md`).
//!
//! - **Local termination**: the call graph (calls and folds) is acyclic, so every
//!   channel's work on a packet is finite (folds run over lists, which are finite).
//! - **Delivery**: every path of every `network` channel that ends normally sends a
//!   packet or delivers one to the local host (`deliver`), and no exception can escape
//!   a channel.
//! - **Linear duplication**: a least fixpoint decides which channels may copy packets
//!   (a path with two sends, or a send to a channel that may copy); then no path may
//!   make two sends to channels that may copy.
//! - **Global termination**: the addresses of each send's packet, relative to the
//!   packet processed, drive an exploration of abstract (source, destination) states; a
//!   cycle through a change of destination could go on forever.
//!
//! The analyses are over the checked IR, path by path but without enumerating paths:
//! each expression gets a summary (does some path end normally without sending, and
//! which branches select it; the most sends on one path; the exceptions that may
//! escape), composed in sequence and at branches, a function's computed once. They are
//! conservative: the value of a condition is not known, so every branch counts, with one
//! refinement (a `tableGet` under `tableMember` of the same table and key cannot raise
//! `NotFound`). The assumptions (routing without cycles, named hosts are end hosts) are
//! in `docs/safety.md`.

use crate::diag::{Diag, Label, Phase};
use crate::ir::{Arith, Expr, ExprKind, FunId, PACKET_PARTS, PACKET_SLOT, Program, Slot};
use crate::packet::Part;
use crate::span::Span;
use planp_primitives::{Exn, rt::DIV_BY_ZERO, rt::NOT_FOUND};
use planp_primitives::{SendKind, Type};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A property the verifier checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Property {
    /// Every packet's processing ends on each node.
    LocalTermination,
    /// Packets do not cycle between hosts.
    GlobalTermination,
    /// Every packet is forwarded (or delivered), and no exception escapes.
    Delivery,
    /// No path makes two sends that may each be copied further.
    Duplication,
}

impl Property {
    /// How the property is called in reports.
    pub fn name(self) -> &'static str {
        match self {
            Property::LocalTermination => "local termination",
            Property::GlobalTermination => "global termination",
            Property::Delivery => "delivery",
            Property::Duplication => "linear duplication",
        }
    }
}

/// What the verifier says of one property.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// It holds; why.
    Holds(String),
    /// It does not; the diagnostics say where.
    Fails,
}

/// The verifier's verdict on a program.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// Each property's status, with a line per channel for the channel properties.
    pub properties: Vec<(Property, Status, Vec<String>)>,
    /// The violations, as errors with labels (phase `verify`).
    pub diags: Vec<Diag>,
    /// What was found for each channel (in program order; empty if the call graph has a
    /// cycle).
    pub channels: Vec<ChannelFacts>,
    /// How long verification took.
    pub time: Duration,
}

/// What the analyses found for one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelFacts {
    /// Does every path that ends normally send a packet?
    pub sends_on_every_path: bool,
    /// The exceptions that may escape it.
    pub may_raise: Vec<Exn>,
    /// May it copy packets (the fixpoint's answer)?
    pub copies: bool,
}

impl Verdict {
    /// Does every checked property hold?
    pub fn ok(&self) -> bool {
        self.diags.is_empty()
    }

    /// The names of the properties that fail.
    pub fn failed(&self) -> Vec<&'static str> {
        self.properties.iter().filter(|(_, s, _)| *s == Status::Fails).map(|(p, ..)| p.name()).collect()
    }

    /// The verdict for people: a line per property, then a line per channel under the
    /// channel properties (`planp check --explain`).
    pub fn explain(&self) -> String {
        let mut out = String::new();
        for (p, s, lines) in &self.properties {
            let (word, why) = match s {
                Status::Holds(w) => ("holds", w.as_str()),
                Status::Fails => ("FAILS", "see the errors above"),
            };
            out.push_str(&format!("  {:<19} {word}: {why}\n", p.name()));
            for l in lines {
                out.push_str(&format!("      {l}\n"));
            }
        }
        out
    }
}

/// Verify `prog`.
pub fn verify(prog: &Program) -> Verdict {
    let start = Instant::now();
    let mut diags = Vec::new();
    let mut properties = Vec::new();

    // Local termination.
    match call_cycle(prog) {
        None => properties.push((
            Property::LocalTermination,
            Status::Holds(format!(
                "no function calls itself, directly or not ({} function{}); folds run over lists, which are finite",
                prog.funs.len(),
                if prog.funs.len() == 1 { "" } else { "s" }
            )),
            Vec::new(),
        )),
        Some(f) => {
            let fun = &prog.funs[f];
            diags.push(
                Diag::new(
                    Phase::Verify,
                    "local-termination",
                    format!("`{}` can call itself: its work on a packet may not end", fun.name),
                    fun.span,
                    "part of a cycle of calls",
                )
                .help("PLAN-P functions cannot be recursive; iterate over a list with foldl or foldr"),
            );
            properties.push((Property::LocalTermination, Status::Fails, Vec::new()));
            // The other analyses unfold calls: they need an acyclic call graph.
            return Verdict { properties, diags, channels: Vec::new(), time: start.elapsed() };
        }
    }

    // Global termination.
    let (status, lines, mut found) = global_termination(prog);
    diags.append(&mut found);
    properties.push((Property::GlobalTermination, status, lines));

    // Which channels may copy packets: a least fixpoint.
    let mut copies = vec![false; prog.channels.len()];
    let mut sums;
    let mut iterations = 0;
    loop {
        iterations += 1;
        let mut a = Analysis { prog, copies: &copies, funs: HashMap::new(), guards: Vec::new() };
        sums = prog.channels.iter().map(|c| a.expr(&c.body)).collect::<Vec<Sum>>();
        let next: Vec<bool> = sums.iter().map(|s| s.most.len() >= 2 || !s.copying.is_empty()).collect();
        if next == copies {
            break;
        }
        copies = next;
    }

    // Delivery.
    let mut lines = Vec::new();
    let mut delivery_ok = true;
    for (ch, s) in prog.channels.iter().zip(&sums) {
        let who = format!("{}#{}", ch.name, ch.overload);
        if ch.is_network() {
            match &s.silent {
                None => lines.push(format!("{who}: every path sends the packet on or delivers it")),
                Some(path) => {
                    delivery_ok = false;
                    lines.push(format!("{who}: a path sends nothing"));
                    let mut d = Diag::new(
                        Phase::Verify,
                        "delivery",
                        format!("channel {who} may drop its packet: a path through it sends nothing"),
                        ch.span,
                        "on a path through this channel no packet is sent: the packet would be lost",
                    )
                    .help(
                        "send the packet on every path (`OnRemote(network, p)` forwards it unchanged), or hand it to this host with `deliver`; a packet that no send carries is lost",
                    );
                    for l in path {
                        d = d.label(l.span, l.text.clone());
                    }
                    diags.push(d);
                }
            }
        }
        for Raise { exn, span, .. } in &s.raises {
            delivery_ok = false;
            let name = prog.exceptions.get(exn.0 as usize).map_or("?", String::as_str);
            lines.push(format!("{who}: `{name}` may escape"));
            diags.push(
                Diag::new(
                    Phase::Verify,
                    "escaping-exception",
                    format!("exception `{name}` may escape channel {who}: its packet would not be processed"),
                    *span,
                    format!("may raise `{name}`, which nothing handles"),
                )
                .label(ch.span, "in this channel")
                .help(format!("handle it: `try ... handle {name} => ...` around this expression, or test first")),
            );
        }
    }
    properties.push((
        Property::Delivery,
        if delivery_ok {
            Status::Holds(
                "every network channel sends or delivers on every path, and no exception escapes a channel".into(),
            )
        } else {
            Status::Fails
        },
        lines,
    ));

    // Duplication.
    let mut lines = Vec::new();
    let mut dup_ok = true;
    for ((ch, s), &c) in prog.channels.iter().zip(&sums).zip(&copies) {
        let who = format!("{}#{}", ch.name, ch.overload);
        if s.copying.len() >= 2 {
            dup_ok = false;
            lines.push(format!("{who}: a path makes two sends that may each be copied"));
            diags.push(
                Diag::new(
                    Phase::Verify,
                    "duplication",
                    format!("channel {who} may duplicate packets exponentially"),
                    s.copying[1],
                    "a second send on the same path to a channel that may copy packets",
                )
                .label(s.copying[0], "the first")
                .label(ch.span, "in this channel")
                .help("send at most once on each path to a channel that copies packets; each copy would be copied again at the next node"),
            );
        } else {
            lines.push(format!(
                "{who}: {}",
                if c { "may copy packets (once per path)" } else { "never copies packets" }
            ));
        }
    }
    properties.push((
        Property::Duplication,
        if dup_ok {
            Status::Holds(format!(
                "no path sends twice to a channel that may copy packets (fixpoint in {iterations} iteration{})",
                if iterations == 1 { "" } else { "s" }
            ))
        } else {
            Status::Fails
        },
        lines,
    ));

    diags.sort_by_key(|d| d.span().start);
    let channels = sums
        .iter()
        .zip(&copies)
        .map(|(s, &copies)| ChannelFacts {
            sends_on_every_path: s.silent.is_none(),
            may_raise: s.raises.iter().map(|r| r.exn).collect(),
            copies,
        })
        .collect();
    Verdict { properties, diags, channels, time: start.elapsed() }
}

/// A function that is part of a cycle of calls (through calls or folds), if any.
fn call_cycle(prog: &Program) -> Option<usize> {
    fn callees(e: &Expr, out: &mut Vec<usize>) {
        let mut stack = vec![e];
        while let Some(e) = stack.pop() {
            if let ExprKind::Call { fun, .. } | ExprKind::Fold { fun, .. } = &e.kind {
                out.push(fun.0 as usize);
            }
            stack.extend(e.children());
        }
    }
    let n = prog.funs.len();
    let edges: Vec<Vec<usize>> = prog
        .funs
        .iter()
        .map(|f| {
            let mut v = Vec::new();
            callees(&f.body, &mut v);
            v
        })
        .collect();
    // Iterative depth-first search: 0 unseen, 1 on the stack, 2 done.
    let mut state = vec![0u8; n];
    for root in 0..n {
        if state[root] != 0 {
            continue;
        }
        let mut stack = vec![(root, 0usize)];
        state[root] = 1;
        while let Some((f, i)) = stack.pop() {
            if i < edges[f].len() {
                stack.push((f, i + 1));
                let g = edges[f][i];
                match state.get(g) {
                    Some(0) => {
                        state[g] = 1;
                        stack.push((g, 0));
                    }
                    Some(1) => return Some(g),
                    _ => {}
                }
            } else {
                state[f] = 2;
            }
        }
    }
    None
}

/// What the paths through an expression do (see the module documentation).
#[derive(Clone, Debug)]
struct Sum {
    /// A path that ends normally without sending a packet, as the branches that select
    /// it; `None` if every path that ends normally sends.
    silent: Option<Vec<Label>>,
    /// The sends of the path with the most sends (two at most are kept).
    most: Vec<Span>,
    /// The sends to channels that may copy packets, on the path with the most of them
    /// (two at most are kept).
    copying: Vec<Span>,
    /// The exceptions that may escape, each with a place that raises it and the most
    /// sends (and copying sends) a path makes before raising it.
    raises: Vec<Raise>,
}

/// An exception that may escape.
#[derive(Clone, Debug)]
struct Raise {
    exn: Exn,
    span: Span,
    most: Vec<Span>,
    copying: Vec<Span>,
}

impl Sum {
    /// Nothing happens; it ends normally.
    fn unit() -> Sum {
        Sum { silent: Some(Vec::new()), most: Vec::new(), copying: Vec::new(), raises: Vec::new() }
    }

    /// `self`, then `b`.
    fn then(mut self, b: Sum) -> Sum {
        self.silent = match (self.silent, b.silent) {
            (Some(mut p), Some(q)) => {
                p.extend(q);
                p.truncate(MAX_LABELS);
                Some(p)
            }
            _ => None,
        };
        for mut r in b.raises {
            // What `self` sent happened before `b` raised.
            r.most = cap(self.most.iter().copied().chain(r.most));
            r.copying = cap(self.copying.iter().copied().chain(r.copying));
            add_raise(&mut self.raises, r);
        }
        self.most = cap(self.most.into_iter().chain(b.most));
        self.copying = cap(self.copying.into_iter().chain(b.copying));
        self
    }

    /// `a` or `b`, `la`/`lb` saying what selects each.
    fn or(a: Sum, b: Sum, la: Label, lb: Label) -> Sum {
        let silent = match (a.silent, b.silent) {
            (Some(p), _) => Some(std::iter::once(la).chain(p).take(MAX_LABELS).collect()),
            (None, Some(q)) => Some(std::iter::once(lb).chain(q).take(MAX_LABELS).collect()),
            (None, None) => None,
        };
        let most = if b.most.len() > a.most.len() { b.most } else { a.most };
        let copying = if b.copying.len() > a.copying.len() { b.copying } else { a.copying };
        let mut raises = a.raises;
        for r in b.raises {
            add_raise(&mut raises, r);
        }
        Sum { silent, most, copying, raises }
    }
}

/// The most branch labels a diagnostic shows for a silent path: the first choices on it,
/// enough to find it, and a bound that keeps summaries small (a path through functions
/// that call each other twice would otherwise double at every level).
const MAX_LABELS: usize = 8;

fn cap(it: impl Iterator<Item = Span>) -> Vec<Span> {
    it.take(2).collect()
}

/// Add `r` to `v`: one entry per exception, with the most sends before it.
fn add_raise(v: &mut Vec<Raise>, r: Raise) {
    match v.iter_mut().find(|x| x.exn == r.exn) {
        Some(x) => {
            if r.most.len() > x.most.len() {
                x.most = r.most;
            }
            if r.copying.len() > x.copying.len() {
                x.copying = r.copying;
            }
        }
        None => v.push(r),
    }
}

fn raise(exn: Exn, span: Span) -> Raise {
    Raise { exn, span, most: Vec::new(), copying: Vec::new() }
}

fn label(span: Span, text: &str) -> Label {
    Label { span, text: text.to_string() }
}

struct Analysis<'a> {
    prog: &'a Program,
    /// Which channels may copy packets (the fixpoint's current guess).
    copies: &'a [bool],
    /// Function summaries, computed once each.
    funs: HashMap<u32, Sum>,
    /// `tableMember(table, key)` conditions known true here (pure-expression keys).
    guards: Vec<(String, String)>,
}

impl Analysis<'_> {
    fn seq<'e>(&mut self, es: impl IntoIterator<Item = &'e Expr>) -> Sum {
        let mut s = Sum::unit();
        for e in es {
            let x = self.expr(e);
            s = s.then(x);
        }
        s
    }

    fn fun(&mut self, f: FunId) -> Sum {
        if let Some(s) = self.funs.get(&f.0) {
            return s.clone();
        }
        // Guards do not reach into a function: its body is analysed once for every call.
        let saved = std::mem::take(&mut self.guards);
        let s = self.expr(&self.prog.funs[f.0 as usize].body);
        self.guards = saved;
        self.funs.insert(f.0, s.clone());
        s
    }

    /// Does a send to this target go to a channel that may copy packets?
    fn copying(&self, channel: &str, overload: u32) -> bool {
        self.prog
            .channels
            .iter()
            .zip(self.copies)
            .any(|(c, &k)| k && c.name == channel && (channel == "network" || c.overload == overload))
    }

    fn expr(&mut self, e: &Expr) -> Sum {
        match &e.kind {
            ExprKind::Raise(x) => {
                Sum { silent: None, most: Vec::new(), copying: Vec::new(), raises: vec![raise(*x, e.span)] }
            }
            ExprKind::If(c, t, f) => {
                let sc = self.expr(c);
                let guard = self.member_guard(c, t);
                let n = self.guards.len();
                self.guards.extend(guard);
                let st = self.expr(t);
                self.guards.truncate(n);
                let sf = self.expr(f);
                sc.then(Sum::or(st, sf, label(c.span, "when this is true"), label(c.span, "when this is false")))
            }
            ExprKind::And(a, b) => {
                let sa = self.expr(a);
                let sb = self.expr(b);
                sa.then(Sum::or(
                    sb,
                    Sum::unit(),
                    label(a.span, "when this is true"),
                    label(a.span, "when this is false"),
                ))
            }
            ExprKind::Or(a, b) => {
                let sa = self.expr(a);
                let sb = self.expr(b);
                sa.then(Sum::or(
                    Sum::unit(),
                    sb,
                    label(a.span, "when this is true"),
                    label(a.span, "when this is false"),
                ))
            }
            ExprKind::Try(body, handlers) => {
                let b = self.expr(body);
                let mut normal = Sum { raises: Vec::new(), ..b.clone() };
                for r in &b.raises {
                    match handlers.iter().find(|h| h.exn.is_none_or(|x| x == r.exn)) {
                        None => add_raise(&mut normal.raises, r.clone()),
                        Some(h) => {
                            // The sends made before the raise (on the path with the most
                            // of them; possibly none, so the prefix may be silent), then
                            // the handler.
                            let prefix = Sum {
                                silent: Some(Vec::new()),
                                most: r.most.clone(),
                                copying: r.copying.clone(),
                                raises: Vec::new(),
                            };
                            let name = self.prog.exceptions.get(r.exn.0 as usize).map_or("?", String::as_str);
                            let hs = prefix.then(self.expr(&h.body));
                            normal = Sum::or(
                                normal,
                                hs,
                                label(body.span, "when this ends normally"),
                                label(r.span, &format!("when this raises `{name}`, then its handler")),
                            );
                        }
                    }
                }
                // Handlers of exceptions the body cannot raise still count (conservative
                // for what they raise and send, harmless for silence).
                normal
            }
            ExprKind::Call { fun, args, .. } => {
                let s = self.seq(args.iter());
                let f = self.fun(*fun);
                s.then(f)
            }
            ExprKind::Fold { fun, init, list, .. } => {
                let s = self.seq([&**init, &**list]);
                let f = self.fun(*fun);
                // Applied once per element: none for the empty list, possibly many times.
                let many = Sum {
                    silent: None,
                    most: cap(f.most.iter().chain(f.most.iter()).copied()),
                    copying: cap(f.copying.iter().chain(f.copying.iter()).copied()),
                    raises: f.raises.clone(),
                };
                s.then(Sum::or(
                    Sum::unit(),
                    many,
                    label(e.span, "when the list is empty"),
                    label(e.span, "when the list is not empty"),
                ))
            }
            ExprKind::Prim { prim, args, .. } => {
                let s = self.seq(args.iter());
                let p = planp_primitives::get(*prim);
                let guarded = p.name == "tableGet" && self.is_guarded(args);
                let mut own = Sum::unit();
                if p.name == "deliver" {
                    // Handing the value to the local host is delivering it.
                    own.silent = None;
                }
                for x in p.raises {
                    if !(guarded && *x == NOT_FOUND) {
                        add_raise(&mut own.raises, raise(*x, e.span));
                    }
                }
                s.then(own)
            }
            ExprKind::Arith(Arith::Div | Arith::Mod, a, b) => {
                let s = self.seq([&**a, &**b]);
                let mut own = Sum::unit();
                if !matches!(b.kind, ExprKind::Const(k) if k != 0) {
                    own.raises.push(raise(DIV_BY_ZERO, e.span));
                }
                s.then(own)
            }
            ExprKind::Send { target, packet, neighbor, .. } => {
                let s = self.seq(std::iter::once(&**packet).chain(neighbor.as_deref()));
                let copying = self.copying(&target.channel, target.overload);
                s.then(Sum {
                    silent: None,
                    most: vec![e.span],
                    copying: if copying { vec![e.span] } else { Vec::new() },
                    raises: Vec::new(),
                })
            }
            _ => {
                let kids = e.children();
                self.seq(kids)
            }
        }
    }

    /// The guards `tableMember(T, K)` that condition `c` establishes in the branch `t`
    /// (`c` itself, or a conjunct of an `andalso`), when T and K are pure and nothing in
    /// the branch can remove a key from T.
    fn member_guard(&self, c: &Expr, t: &Expr) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut conds = vec![c];
        while let Some(c) = conds.pop() {
            match &c.kind {
                ExprKind::And(a, b) => conds.extend([&**a, &**b]),
                ExprKind::Prim { prim, args, .. }
                    if planp_primitives::get(*prim).name == "tableMember" && args.len() == 2 =>
                {
                    if let (Some(tk), Some(kk)) = (pure_key(&args[0]), pure_key(&args[1])) {
                        out.push((tk, kk));
                    }
                }
                _ => {}
            }
        }
        out.retain(|(table, _)| self.no_removal(t, table));
        out
    }

    fn is_guarded(&self, args: &[Expr]) -> bool {
        if args.len() != 2 {
            return false;
        }
        match (pure_key(&args[0]), pure_key(&args[1])) {
            (Some(t), Some(k)) => self.guards.iter().any(|(gt, gk)| *gt == t && *gk == k),
            _ => false,
        }
    }

    /// Can nothing in `e` (or in the functions it calls) remove a key from the table
    /// `table` (a pure expression's key)? A `tablePut` only adds, so a member stays one;
    /// a `tableRemove` of another table is harmless, one of a table that is not a pure
    /// expression (or in a called function) may be this one.
    fn no_removal(&self, e: &Expr, table: &str) -> bool {
        let mut seen = vec![false; self.prog.funs.len()];
        let mut stack = vec![(e, false)];
        while let Some((e, in_fun)) = stack.pop() {
            match &e.kind {
                ExprKind::Call { fun, .. } | ExprKind::Fold { fun, .. } => {
                    let f = fun.0 as usize;
                    if !std::mem::replace(&mut seen[f], true) {
                        stack.push((&self.prog.funs[f].body, true));
                    }
                }
                ExprKind::Prim { prim, args, .. } if planp_primitives::get(*prim).name == "tableRemove" => {
                    let other = !in_fun && args.first().and_then(pure_key).is_some_and(|k| k != table);
                    if !other {
                        return false;
                    }
                }
                _ => {}
            }
            stack.extend(e.children().into_iter().map(|k| (k, in_fun)));
        }
        true
    }
}

/// A canonical text for a pure expression made of variables, constants, tuples and
/// projections (the same text: the same value, PLAN-P variables being immutable).
fn pure_key(e: &Expr) -> Option<String> {
    Some(match &e.kind {
        ExprKind::Local(s) => format!("l{s}"),
        ExprKind::Outer { hops, slot } => format!("o{hops}.{slot}"),
        ExprKind::Global(g) => format!("g{}", g.0),
        ExprKind::Const(w) => format!("c{w}"),
        ExprKind::Proj(x, i) => format!("#{i}({})", pure_key(x)?),
        ExprKind::Tuple(xs, _, _) => {
            let parts: Option<Vec<String>> = xs.iter().map(pure_key).collect();
            format!("({})", parts?.join(","))
        }
        _ => return None,
    })
}

// ---- global termination -------------------------------------------------------------

/// An address, as a send's packet carries it, relative to the packet being processed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Addr {
    /// The processed packet's source.
    Src,
    /// Its destination.
    Dst,
    /// An address written in the program.
    Konst,
    /// `thisHost()`.
    This,
    /// Anything else (computed, read from a table, ...).
    Unknown,
}

/// What the analysis knows of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Abs {
    /// An IP header with these addresses.
    Hdr(Addr, Addr),
    /// An address.
    Host(Addr),
    /// A packet tuple whose IP header is this.
    Pkt(Addr, Addr),
    /// Nothing useful.
    Other,
}

/// A `network` send: where its packet goes.
#[derive(Clone, Copy, Debug)]
struct NetSend {
    span: Span,
    kind: SendKind,
    src: Addr,
    dst: Addr,
    /// For `OnNeighbor`: the neighbour.
    neighbor: Addr,
}

/// Collect the `network` sends reachable from a channel body, with the addresses of
/// their packets, by a walk that follows `let`s (and calls, whose parameters are
/// unknown).
struct Dests<'a> {
    prog: &'a Program,
    env: HashMap<Slot, Abs>,
    sends: Vec<NetSend>,
    /// The value of each function walked already (its body is walked once).
    values: Vec<Option<Abs>>,
}

/// What two alternatives give: what they agree on.
fn join(a: Abs, b: Abs) -> Abs {
    let addr = |x: Addr, y: Addr| if x == y { x } else { Addr::Unknown };
    match (a, b) {
        _ if a == b => a,
        (Abs::Host(x), Abs::Host(y)) => Abs::Host(addr(x, y)),
        (Abs::Hdr(s1, d1), Abs::Hdr(s2, d2)) => Abs::Hdr(addr(s1, s2), addr(d1, d2)),
        (Abs::Pkt(s1, d1), Abs::Pkt(s2, d2)) => Abs::Pkt(addr(s1, s2), addr(d1, d2)),
        _ => Abs::Other,
    }
}

impl Dests<'_> {
    fn abs(&mut self, e: &Expr) -> Abs {
        let a = self.abs_inner(e);
        match (a, &e.ty) {
            (Abs::Other, Type::Ip | Type::Ip6) => Abs::Hdr(Addr::Unknown, Addr::Unknown),
            (Abs::Other, Type::Host) => Abs::Host(Addr::Unknown),
            _ => a,
        }
    }

    fn abs_inner(&mut self, e: &Expr) -> Abs {
        match &e.kind {
            ExprKind::Local(s) => self.env.get(s).copied().unwrap_or(Abs::Other),
            ExprKind::Const(_) | ExprKind::Str(_) => Abs::Host(Addr::Konst),
            ExprKind::Proj(x, _) => match self.abs(x) {
                Abs::Pkt(s, d) if matches!(e.ty, Type::Ip | Type::Ip6) => Abs::Hdr(s, d),
                _ => Abs::Other,
            },
            ExprKind::Tuple(es, _, _) => {
                let mut hdr = None;
                for x in es {
                    let a = self.abs(x);
                    if hdr.is_none()
                        && matches!(x.ty, Type::Ip | Type::Ip6)
                        && let Abs::Hdr(s, d) = a
                    {
                        hdr = Some((s, d));
                    }
                }
                hdr.map_or(Abs::Other, |(s, d)| Abs::Pkt(s, d))
            }
            ExprKind::Let { binds, body } => {
                for (slot, v) in binds {
                    let a = self.abs(v);
                    self.env.insert(*slot, a);
                }
                self.abs(body)
            }
            ExprKind::Prim { prim, args, .. } => {
                let vals: Vec<Abs> = args.iter().map(|a| self.abs(a)).collect();
                let name = planp_primitives::get(*prim).name;
                let host = |a: Abs| if let Abs::Host(x) = a { x } else { Addr::Unknown };
                match (name, vals.as_slice()) {
                    ("thisHost", _) => Abs::Host(Addr::This),
                    ("ipSrc" | "ip6Src", [Abs::Hdr(s, _)]) => Abs::Host(*s),
                    ("ipDst" | "ip6Dst", [Abs::Hdr(_, d)]) => Abs::Host(*d),
                    ("ipSrcSet" | "ip6SrcSet", [Abs::Hdr(_, d), v]) => Abs::Hdr(host(*v), *d),
                    ("ipDstSet" | "ip6DstSet", [Abs::Hdr(s, _), v]) => Abs::Hdr(*s, host(*v)),
                    // The other setters of a header keep its addresses.
                    (n, [Abs::Hdr(s, d), ..]) if n.starts_with("ip") && n.ends_with("Set") => Abs::Hdr(*s, *d),
                    _ => Abs::Other,
                }
            }
            ExprKind::Send { kind, target, packet, neighbor } => {
                let pa = self.abs(packet);
                let na = neighbor.as_deref().map(|n| self.abs(n));
                if &*target.channel == "network" {
                    let (src, dst) = match pa {
                        Abs::Pkt(s, d) | Abs::Hdr(s, d) => (s, d),
                        // A packet without an IP header (`eth*blob`): where it goes is
                        // not an address the program chose.
                        _ if target.layout.as_ref().is_some_and(|l| l.net().is_none()) => (Addr::Src, Addr::Dst),
                        _ => (Addr::Unknown, Addr::Unknown),
                    };
                    let neighbor = match na {
                        Some(Abs::Host(x)) => x,
                        _ => Addr::Unknown,
                    };
                    self.sends.push(NetSend { span: e.span, kind: *kind, src, dst, neighbor });
                }
                Abs::Other
            }
            ExprKind::Call { fun, .. } | ExprKind::Fold { fun, .. } => {
                for a in e.children() {
                    self.abs(a);
                }
                let f = fun.0 as usize;
                // The callee's parameters are not known here: its value is what its body
                // gives without them (a function that returns one of the hosts it names
                // gives a named host), the same at every call, so its body is walked
                // once (and its sends recorded once).
                let v = match self.values[f] {
                    Some(v) => v,
                    None => {
                        let saved = std::mem::take(&mut self.env);
                        let v = self.abs(&self.prog.funs[f].body);
                        self.env = saved;
                        self.values[f] = Some(v);
                        v
                    }
                };
                if matches!(e.kind, ExprKind::Fold { .. }) { Abs::Other } else { v }
            }
            ExprKind::If(c, t, f) => {
                self.abs(c);
                let (a, b) = (self.abs(t), self.abs(f));
                join(a, b)
            }
            _ => {
                for k in e.children() {
                    self.abs(k);
                }
                Abs::Other
            }
        }
    }
}

/// An abstract packet state: its source and destination, as symbols relative to the
/// first packet: its source (S), its destination (D), a host written in the program or
/// `thisHost()` (end of the journey), or unknown.
type State = (Addr, Addr);

/// Global termination: packets do not cycle between hosts. Assumptions (docs/safety.md):
/// routing has no cycles, every node on a packet's way may run the program, and the
/// hosts a program names (constants, `thisHost()`) are end hosts, where a packet sent to
/// them ends its journey. A packet whose destination a send leaves alone makes progress
/// along its route; one whose destination changes is redirected. The exploration
/// follows the abstract states `(source, destination)` from the first packet's
/// `(S, D)` through every send; the program is rejected if a cycle of states contains a
/// redirection (the packet could go back and forth forever), or if a send's destination
/// is unknown (nothing can be proved).
fn global_termination(prog: &Program) -> (Status, Vec<String>, Vec<Diag>) {
    let mut diags = Vec::new();
    let mut lines = Vec::new();
    let mut all_ok = true;
    for ch in prog.channels.iter().filter(|c| c.is_network()) {
        let who = format!("{}#{}", ch.name, ch.overload);
        let Some(layout) = &ch.layout else { continue };
        let mut d = Dests { prog, env: HashMap::new(), sends: Vec::new(), values: vec![None; prog.funs.len()] };
        if layout.net().is_some() {
            d.env.insert(
                PACKET_SLOT,
                if layout.is_tuple() { Abs::Pkt(Addr::Src, Addr::Dst) } else { Abs::Hdr(Addr::Src, Addr::Dst) },
            );
            // The components, in their own slots (`ir::unbox_packet`).
            for (k, part) in layout.parts.iter().enumerate() {
                if matches!(part, Part::Ip | Part::Ip6) {
                    d.env.insert(PACKET_PARTS + k as Slot, Abs::Hdr(Addr::Src, Addr::Dst));
                }
            }
        }
        d.abs(&ch.body);
        let sends = d.sends;
        // A send to a neighbour that is not a fixed host may bounce between neighbours.
        let mut bad = None;
        for s in &sends {
            if s.kind == SendKind::Neighbor && !matches!(s.neighbor, Addr::Konst | Addr::This) {
                bad = Some((
                    s.span,
                    "this sends the packet to a neighbour the program computes: two nodes may hand it to each other forever",
                ));
                break;
            }
            if s.kind == SendKind::Remote && s.dst == Addr::Unknown {
                bad = Some((
                    s.span,
                    "this send's destination is computed: where the packet goes next cannot be followed",
                ));
                break;
            }
        }
        if let Some((span, label)) = bad {
            all_ok = false;
            lines.push(format!("{who}: a destination cannot be followed"));
            diags.push(
                Diag::new(Phase::Verify, "global-termination", format!("channel {who} may keep packets travelling forever"), span, label)
                    .label(ch.span, "in this channel")
                    .help("send to the packet's own source or destination, a host written in the program, or thisHost(); or run it with --unverified"),
            );
            continue;
        }
        // Explore the states; edges labelled redirect or not.
        let start: State = (Addr::Src, Addr::Dst);
        let mut states = vec![start];
        let mut edges: Vec<(usize, usize, bool, Span)> = Vec::new();
        let mut i = 0;
        while i < states.len() {
            let (cs, cd) = states[i];
            for s in &sends {
                if s.kind == SendKind::Neighbor {
                    continue; // to a fixed host: the end of the journey
                }
                let map = |a: Addr| match a {
                    Addr::Src => cs,
                    Addr::Dst => cd,
                    x => x,
                };
                let next = (map(s.src), map(s.dst));
                if matches!(next.1, Addr::Konst | Addr::This) {
                    continue; // to an end host
                }
                let j = match states.iter().position(|x| *x == next) {
                    Some(j) => j,
                    None => {
                        states.push(next);
                        states.len() - 1
                    }
                };
                edges.push((i, j, next.1 != cd, s.span));
            }
            i += 1;
        }
        // A redirect edge u -> v on a cycle: u reachable from v.
        let reach = |from: usize, to: usize| {
            let mut seen = vec![false; states.len()];
            let mut stack = vec![from];
            while let Some(x) = stack.pop() {
                if x == to {
                    return true;
                }
                if std::mem::replace(&mut seen[x], true) {
                    continue;
                }
                stack.extend(edges.iter().filter(|e| e.0 == x).map(|e| e.1));
            }
            false
        };
        match edges.iter().find(|(u, v, redirect, _)| *redirect && reach(*v, *u)) {
            None => lines.push(format!(
                "{who}: {} send{} to network, {} abstract state{} explored, no cycle through a redirection",
                sends.len(),
                if sends.len() == 1 { "" } else { "s" },
                states.len(),
                if states.len() == 1 { "" } else { "s" }
            )),
            Some(&(_, _, _, span)) => {
                all_ok = false;
                lines.push(format!("{who}: a packet can be sent back and forth"));
                diags.push(
                    Diag::new(
                        Phase::Verify,
                        "global-termination",
                        format!("channel {who} may send packets back and forth between hosts forever"),
                        span,
                        "this send changes the packet's destination, and the program can change it back",
                    )
                    .label(ch.span, "in this channel")
                    .help("a packet redirected to its source (or back) is redirected again at the next node running the program; keep the destination, or send to a fixed host"),
                );
            }
        }
    }
    let status = if all_ok {
        Status::Holds(
            "no packet can be redirected in a cycle (routing without cycles; hosts the program names are end hosts)"
                .into(),
        )
    } else {
        Status::Fails
    };
    (status, lines, diags)
}
