//! The type checker: resolves names, infers and checks types, and produces the
//! [`crate::ir::Program`] the interpreter runs.
//!
//! Types are inferred by unification (monomorphic: no `let`-polymorphism), so
//! annotations are needed only where a type cannot be deduced from uses. Channel
//! parameters must be annotated: they are the program's interface.
//!
//! Scoping: top-level declarations are visible everywhere in the program (so recursion
//! can be detected and reported by name, and declarations may come in any order), but a
//! top-level `val` initialiser may use only values defined before it, directly or
//! through the functions it calls. Inside `let`, declarations are sequential as in ML;
//! a run of consecutive `fun` declarations forms a group whose members see each other.
//! Recursion, direct or mutual, is rejected after checking, with the cycle named.
//!
//! The checker does no I/O.

use crate::ast::{self, BinOp, FoldDir, LetDecl, Name, SendForm, TypeExpr, UnOp};
use crate::diag::{Diag, Phase, suggest};
use crate::ir::{self, Arith, CmpKind, CmpOp, Expr, ExprKind, FunId, GlobalId, Slot};
use crate::packet::{PacketLayout, layout_of};
use crate::span::Span;
use planp_primitives::rt::BUILTIN_EXCEPTIONS;
use planp_primitives::types::Mismatch;
use planp_primitives::value::tuple_mask;
use planp_primitives::{Exn, SendKind, Site, Type, TypeCx, Word};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The largest tuple (a tuple's pointer map is one 64-bit word).
pub const MAX_TUPLE: usize = 64;

// ---- unification -------------------------------------------------------------------

/// Solutions of inference variables.
#[derive(Clone, Debug, Default)]
pub struct Subst {
    sol: Vec<Option<Type>>,
}

impl Subst {
    fn shallow(&self, t: &Type) -> Type {
        let mut t = t.clone();
        while let Type::Var(v) = t {
            match &self.sol[v as usize] {
                Some(s) => t = s.clone(),
                None => break,
            }
        }
        t
    }

    fn occurs(&self, v: u32, t: &Type) -> bool {
        match self.shallow(t) {
            Type::Var(w) => v == w,
            Type::Tuple(ts) => ts.iter().any(|t| self.occurs(v, t)),
            Type::List(t) => self.occurs(v, &t),
            Type::Table(k, x) => self.occurs(v, &k) || self.occurs(v, &x),
            _ => false,
        }
    }

    fn unify_inner(&mut self, a: &Type, b: &Type) -> Result<(), Mismatch> {
        let (a, b) = (self.shallow(a), self.shallow(b));
        match (&a, &b) {
            (Type::Error, _) | (_, Type::Error) => Ok(()),
            (Type::Var(x), Type::Var(y)) if x == y => Ok(()),
            (Type::Var(x), t) | (t, Type::Var(x)) => {
                if self.occurs(*x, t) {
                    return Err(Mismatch);
                }
                self.sol[*x as usize] = Some(t.clone());
                Ok(())
            }
            (Type::Tuple(xs), Type::Tuple(ys)) if xs.len() == ys.len() => {
                for (x, y) in xs.iter().zip(ys) {
                    self.unify_inner(x, y)?;
                }
                Ok(())
            }
            (Type::List(x), Type::List(y)) => self.unify_inner(x, y),
            (Type::Table(k1, v1), Type::Table(k2, v2)) => {
                self.unify_inner(k1, k2)?;
                self.unify_inner(v1, v2)
            }
            (x, y) if x == y => Ok(()),
            _ => Err(Mismatch),
        }
    }

    /// Replace solved variables and default the rest to `unit`.
    fn zonk(&self, t: &Type) -> Type {
        match self.resolve(t) {
            t if !t.has_vars() => t,
            t => default_vars(&t),
        }
    }
}

fn default_vars(t: &Type) -> Type {
    match t {
        Type::Var(_) => Type::Unit,
        Type::Tuple(ts) => Type::Tuple(ts.iter().map(default_vars).collect()),
        Type::List(t) => Type::List(Box::new(default_vars(t))),
        Type::Table(k, v) => Type::Table(Box::new(default_vars(k)), Box::new(default_vars(v))),
        t => t.clone(),
    }
}

impl TypeCx for Subst {
    fn fresh(&mut self) -> Type {
        self.sol.push(None);
        Type::Var(self.sol.len() as u32 - 1)
    }

    fn resolve(&self, t: &Type) -> Type {
        match self.shallow(t) {
            Type::Tuple(ts) => Type::Tuple(ts.iter().map(|t| self.resolve(t)).collect()),
            Type::List(t) => Type::List(Box::new(self.resolve(&t))),
            Type::Table(k, v) => Type::Table(Box::new(self.resolve(&k)), Box::new(self.resolve(&v))),
            t => t,
        }
    }

    fn unify(&mut self, a: &Type, b: &Type) -> Result<(), Mismatch> {
        // Leave both unchanged on failure.
        let saved = self.sol.clone();
        let r = self.unify_inner(a, b);
        if r.is_err() {
            self.sol = saved;
        }
        r
    }
}

// ---- checker state -----------------------------------------------------------------

/// Whose frame a piece of code runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Owner {
    Fun(FunId),
    Init(GlobalId),
    Channel(usize),
    ChannelInit(usize),
}

#[derive(Clone, Debug)]
enum Binding {
    Local { depth: u32, slot: Slot, ty: Type },
    Global(GlobalId),
    Fun(FunId),
}

#[derive(Clone, Default)]
struct Scope {
    vals: HashMap<String, (Binding, Span)>,
    exns: HashMap<String, Exn>,
}

#[derive(Clone)]
struct Ctx {
    owner: Owner,
    depth: u32,
    next: Slot,
    max: Slot,
}

#[derive(Clone)]
struct FunSig {
    name: String,
    params: Vec<Type>,
    /// Name, span and whether it was annotated, per parameter.
    param_info: Vec<(String, Span, bool)>,
    ret: Type,
    /// For a local function, the depth of the context it is defined in.
    enclosing: Option<u32>,
    span: Span,
    /// Did its declaration fail to parse? Then calls are not checked.
    broken: bool,
    /// Slots its frame needs (once its body is checked).
    frame_size: u32,
    /// How deeply evaluating its body nests (once computed).
    eval_depth: usize,
}

#[derive(Clone)]
struct ChanSig {
    name: String,
    overload: u32,
    ss: Type,
    pkt: Type,
    layout: Option<PacketLayout>,
    span: Span,
    pkt_span: Span,
}

#[derive(Clone)]
struct Edge {
    from: Owner,
    to: FunId,
    base: Slot,
    span: Span,
}

#[derive(Clone)]
enum Deferred {
    Eq(Type, Span, Span),
    Ord(Type, Span, Span),
    Concat(Type, Span, Span),
}

#[derive(Clone)]
struct Checker {
    /// Checking input typed at a REPL: top-level names may be defined again (the new
    /// definition shadows the old one), and channels cannot be declared.
    repl: bool,
    subst: Subst,
    diags: Vec<Diag>,
    globals: Vec<ir::Global>,
    inits: Vec<Option<ir::Init>>,
    sigs: Vec<FunSig>,
    funs: Vec<Option<ir::Fun>>,
    chans: Vec<ChanSig>,
    chan_bodies: Vec<Option<(ir::Expr, u32, Option<ir::Init>)>>,
    chan_names: HashMap<String, Vec<usize>>,
    exceptions: Vec<String>,
    strings: Vec<Box<[u8]>>,
    string_ids: HashMap<Vec<u8>, u32>,
    scopes: Vec<Scope>,
    ctxs: Vec<Ctx>,
    deferred: Vec<Deferred>,
    edges: Vec<Edge>,
    reads: Vec<(Owner, GlobalId, Span)>,
    ps: Option<(Type, Span)>,
    order_err: HashSet<(u32, u32)>,
    /// Where packets are sent, by the code that sends them.
    sends: Vec<(Owner, Span)>,
    /// Problems that do not stop the program from loading.
    warnings: Vec<Diag>,
    /// Channels whose declaration did not parse (sends to them are not checked).
    broken_chans: HashSet<String>,
}

fn new_checker() -> Checker {
    let mut c = Checker {
        repl: false,
        subst: Subst::default(),
        diags: Vec::new(),
        globals: Vec::new(),
        inits: Vec::new(),
        sigs: Vec::new(),
        funs: Vec::new(),
        chans: Vec::new(),
        chan_bodies: Vec::new(),
        chan_names: HashMap::new(),
        exceptions: BUILTIN_EXCEPTIONS.iter().map(|(n, _)| n.to_string()).collect(),
        strings: Vec::new(),
        string_ids: HashMap::new(),
        scopes: vec![Scope::default()],
        ctxs: Vec::new(),
        deferred: Vec::new(),
        edges: Vec::new(),
        reads: Vec::new(),
        ps: None,
        order_err: HashSet::new(),
        sends: Vec::new(),
        warnings: Vec::new(),
        broken_chans: HashSet::new(),
    };
    for (i, (n, _)) in BUILTIN_EXCEPTIONS.iter().enumerate() {
        c.scopes[0].exns.insert(n.to_string(), Exn(i as u32));
    }
    c
}

/// Check a parsed program and resolve it. `name` and `text` are kept in the result for
/// run-time messages.
pub fn check(name: &str, text: Arc<str>, prog: &ast::Program) -> Result<ir::Program, Vec<Diag>> {
    Env::load(name, text, prog).map(|(p, _)| p)
}

/// A checked program's environment, kept so that more declarations can be checked
/// against it later: what a REPL session types after loading a program.
#[derive(Clone)]
pub struct Env {
    c: Checker,
}

impl Env {
    /// Check a program and keep its environment.
    pub fn load(name: &str, text: Arc<str>, prog: &ast::Program) -> Result<(ir::Program, Env), Vec<Diag>> {
        let mut c = new_checker();
        c.declare_top(prog);
        c.check_top(prog, 0, 0, 0);
        let p = c.finish(name, text)?;
        c.repl = true;
        Ok((p, Env { c }))
    }

    /// The environment of an empty program (and that program).
    pub fn empty(name: &str) -> (ir::Program, Env) {
        Env::load(name, Arc::from(""), &ast::Program::default()).expect("the empty program checks")
    }

    /// Check declarations typed after the program (their spans may point anywhere in a
    /// source map; see `lexer::lex_at`). On success the environment includes them and
    /// the result is what to add to the program; on failure the environment is as before.
    pub fn add(&mut self, decls: &ast::Program) -> Result<ir::Delta, Vec<Diag>> {
        let backup = self.c.clone();
        let (g0, f0, s0, e0) = (self.c.globals.len(), self.c.sigs.len(), self.c.strings.len(), self.c.exceptions.len());
        for d in &decls.decls {
            if let ast::Decl::Channel(ch) = d {
                self.c.error(
                    Diag::new(
                        Phase::Scope,
                        "channel-at-prompt",
                        "channels are declared in program files",
                        ch.head_span,
                        "not here",
                    )
                    .help("write the channel in a file and `:load` it"),
                );
            }
        }
        let decls = ast::Program {
            decls: decls.decls.iter().filter(|d| !matches!(d, ast::Decl::Channel(_))).cloned().collect(),
        };
        self.c.declare_top(&decls);
        self.c.check_top(&decls, g0 as u32, f0 as u32, self.c.chans.len());
        match self.c.finish_delta(g0, f0, s0, e0) {
            Ok(d) => Ok(d),
            Err(ds) => {
                self.c = backup;
                Err(ds)
            }
        }
    }

    /// The type an expression would have, without changing the environment.
    pub fn type_of(&self, e: &ast::Expr) -> Result<Type, Vec<Diag>> {
        let mut scratch = self.clone();
        let name = Name { text: "it".into(), span: e.span };
        let d = ast::Program { decls: vec![ast::Decl::Val(ast::ValDecl { name, ty: None, init: e.clone() })] };
        scratch.add(&d)?;
        let g = scratch.c.globals.last().expect("the expression's value");
        Ok(scratch.c.subst.resolve(&g.ty))
    }

    /// The current type of global `g` (types of globals declared at the prompt may be
    /// completed by later declarations).
    pub fn global_type(&self, g: usize) -> Type {
        self.c.subst.resolve(&self.c.globals[g].ty)
    }

    /// The names in scope at top level (for completion).
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.c.scopes[0].vals.keys().cloned().collect();
        v.sort();
        v
    }

    /// The type of a top-level function, written `(t1, t2) -> t`, if `name` is one.
    pub fn function_type(&self, name: &str) -> Option<String> {
        match self.c.scopes[0].vals.get(name) {
            Some((Binding::Fun(f), _)) => {
                let s = &self.c.sigs[f.0 as usize];
                let ps: Vec<String> = s.params.iter().map(|t| self.c.subst.resolve(t).to_string()).collect();
                Some(format!("({}) -> {}", ps.join(", "), self.c.subst.resolve(&s.ret)))
            }
            _ => None,
        }
    }

    /// The global a top-level name denotes now, if it is a value.
    pub fn global_named(&self, name: &str) -> Option<usize> {
        match self.c.scopes[0].vals.get(name) {
            Some((Binding::Global(g), _)) => Some(g.0 as usize),
            _ => None,
        }
    }
}

fn err_expr(span: Span) -> Expr {
    Expr { kind: ExprKind::Const(0), ty: Type::Error, span }
}

impl Checker {
    fn error(&mut self, d: Diag) {
        self.diags.push(d);
    }

    fn show(&self, t: &Type) -> String {
        self.subst.resolve(t).to_string()
    }

    /// Unify, reporting a mismatch at `span` with `message` (which receives the
    /// expected and found types).
    fn expect(
        &mut self,
        found: &Type,
        want: &Type,
        span: Span,
        message: impl FnOnce(String, String) -> (String, String),
    ) -> bool {
        if self.subst.unify(found, want).is_ok() {
            return true;
        }
        let (f, w) = (self.subst.resolve(found), self.subst.resolve(want));
        if f.has_error() || w.has_error() {
            return false;
        }
        let (msg, label) = message(w.to_string(), f.to_string());
        self.error(Diag::new(Phase::Type, "mismatch", msg, span, label));
        false
    }

    // ---- types ------------------------------------------------------------------

    fn type_expr(&mut self, t: &TypeExpr) -> Type {
        match t {
            TypeExpr::Named(n) => match Type::base_from_name(&n.text) {
                Some(t) => t,
                None => {
                    let mut d = Diag::new(
                        Phase::Type,
                        "unknown-type",
                        format!("unknown type `{}`", n.text),
                        n.span,
                        "not a type",
                    );
                    let names = ["unit", "int", "bool", "char", "string", "host", "blob", "eth", "ip", "tcp", "udp"];
                    if n.text == "list" || n.text == "hash_table" {
                        d = d.help(format!("`{}` follows its element type, as in `int {}`", n.text, n.text));
                    } else if let Some(s) = match n.text.as_str() {
                        "integer" | "long" | "int64" | "i64" | "word" => Some("int"),
                        "boolean" => Some("bool"),
                        "str" | "text" => Some("string"),
                        "bytes" | "buffer" => Some("blob"),
                        "address" | "addr" | "ipaddr" => Some("host"),
                        "void" => Some("unit"),
                        _ => None,
                    } {
                        d = d.help(format!("did you mean `{s}`?"));
                    } else if let Some(s) = suggest(&n.text, names) {
                        d = d.help(format!("did you mean `{s}`?"));
                    } else if n.text == "exn" || n.text == "port" || n.text == "dev" {
                        d = d.help(format!("PLAN's `{}` type is not part of PLAN-P", n.text));
                    }
                    self.error(d);
                    Type::Error
                }
            },
            TypeExpr::Tuple(ts, span) => {
                if ts.len() > MAX_TUPLE {
                    self.error(Diag::new(
                        Phase::Type,
                        "tuple-too-large",
                        format!("tuples have at most {MAX_TUPLE} components, this one has {}", ts.len()),
                        *span,
                        "too many components",
                    ));
                    return Type::Error;
                }
                Type::Tuple(ts.iter().map(|t| self.type_expr(t)).collect())
            }
            TypeExpr::Error(_) => Type::Error,
            TypeExpr::List(t, _) => Type::List(Box::new(self.type_expr(t))),
            TypeExpr::Table(t, _) => {
                let v = self.type_expr(t);
                Type::Table(Box::new(self.subst.fresh()), Box::new(v))
            }
        }
    }

    fn annot(&mut self, t: &Option<TypeExpr>) -> Type {
        match t {
            Some(t) => self.type_expr(t),
            None => self.subst.fresh(),
        }
    }

    // ---- scopes and frames ---------------------------------------------------------

    fn ctx(&mut self) -> &mut Ctx {
        self.ctxs.last_mut().expect("inside a frame")
    }

    fn depth(&self) -> u32 {
        self.ctxs.last().map_or(0, |c| c.depth)
    }

    fn owner(&self) -> Owner {
        self.ctxs.last().expect("inside a frame").owner
    }

    fn alloc(&mut self, n: u32) -> Slot {
        let c = self.ctx();
        let s = c.next;
        c.next += n;
        c.max = c.max.max(c.next);
        s
    }

    fn lookup(&self, name: &str) -> Option<&(Binding, Span)> {
        self.scopes.iter().rev().find_map(|s| s.vals.get(name))
    }

    fn lookup_exn(&self, name: &str) -> Option<Exn> {
        self.scopes.iter().rev().find_map(|s| s.exns.get(name).copied())
    }

    fn bind(&mut self, name: &Name, b: Binding) {
        self.scopes.last_mut().unwrap().vals.insert(name.text.clone(), (b, name.span));
    }

    /// Bind a top-level name, reporting a duplicate.
    fn bind_top(&mut self, name: &Name, b: Binding) -> bool {
        if self.repl {
            // At a prompt, a new definition shadows the old one (code already defined
            // keeps using the old one), as in ML.
            self.bind(name, b);
            return true;
        }
        if let Some((_, prev)) = self.scopes[0].vals.get(&name.text) {
            let prev = *prev;
            self.error(
                Diag::new(
                    Phase::Scope,
                    "duplicate",
                    format!("`{}` is defined twice", name.text),
                    name.span,
                    "defined again here",
                )
                .label(prev, "first defined here")
                .help("top-level names must be unique; rename one of them"),
            );
            return false;
        }
        self.bind(name, b);
        true
    }

    fn new_exception(&mut self, name: &Name, top: bool) {
        if top
            && !self.repl
            && let Some(e) = self.scopes[0].exns.get(&name.text)
        {
            let builtin = (e.0 as usize) < BUILTIN_EXCEPTIONS.len();
            let d = if builtin {
                Diag::new(
                    Phase::Scope,
                    "duplicate",
                    format!("`{}` is a built-in exception", name.text),
                    name.span,
                    "already declared by PLAN-P",
                )
                .help(format!("use the built-in `{}`, or give your exception another name", name.text))
            } else {
                Diag::new(
                    Phase::Scope,
                    "duplicate",
                    format!("exception `{}` is declared twice", name.text),
                    name.span,
                    "declared again here",
                )
            };
            self.error(d);
            return;
        }
        let id = Exn(self.exceptions.len() as u32);
        self.exceptions.push(name.text.clone());
        self.scopes.last_mut().unwrap().exns.insert(name.text.clone(), id);
    }

    fn string_id(&mut self, s: &[u8]) -> u32 {
        if let Some(&i) = self.string_ids.get(s) {
            return i;
        }
        let i = self.strings.len() as u32;
        self.strings.push(s.into());
        self.string_ids.insert(s.to_vec(), i);
        i
    }

    // ---- declarations ----------------------------------------------------------------

    fn fun_sig(&mut self, f: &ast::FunDecl, enclosing: Option<u32>) -> FunSig {
        let params: Vec<Type> = f.params.iter().map(|p| self.annot(&p.ty)).collect();
        let param_info = f.params.iter().map(|p| (p.name.text.clone(), p.name.span, p.ty.is_some())).collect();
        let ret = self.annot(&f.ret);
        FunSig {
            name: f.name.text.clone(),
            params,
            param_info,
            ret,
            enclosing,
            span: f.span,
            broken: false,
            frame_size: 0,
            eval_depth: 0,
        }
    }

    fn channel_param(&mut self, p: &ast::Param, what: &str) -> Type {
        match &p.ty {
            Some(t) => self.type_expr(t),
            None => {
                self.error(
                    Diag::new(
                        Phase::Type,
                        "missing-annotation",
                        format!("the {what} parameter of a channel needs a type"),
                        p.name.span,
                        "no type given",
                    )
                    .help(format!("write `{} : t`; a channel's parameter types are its interface", p.name.text)),
                );
                Type::Error
            }
        }
    }

    /// Pass 1: make every top-level name known (declarations may be used before they
    /// appear).
    fn declare_top(&mut self, prog: &ast::Program) {
        for d in &prog.decls {
            match d {
                ast::Decl::Exception(n) => self.new_exception(n, true),
                ast::Decl::Val(v) => {
                    let ty = self.annot(&v.ty);
                    let id = GlobalId(self.globals.len() as u32);
                    self.globals.push(ir::Global { name: v.name.text.clone(), ty, span: v.name.span });
                    self.inits.push(None);
                    // At a prompt, `val x = e` is sequential as in ML: `e` sees the
                    // previous `x` (the binding happens once `e` is checked).
                    if !self.repl {
                        self.bind_top(&v.name, Binding::Global(id));
                    }
                }
                ast::Decl::Fun(f) => {
                    let sig = self.fun_sig(f, None);
                    let id = FunId(self.sigs.len() as u32);
                    self.sigs.push(sig);
                    self.funs.push(None);
                    self.bind_top(&f.name, Binding::Fun(id));
                }
                ast::Decl::Channel(ch) => self.declare_channel(ch),
                ast::Decl::Broken(ast::BrokenKind::Val, name) => {
                    let id = GlobalId(self.globals.len() as u32);
                    self.globals.push(ir::Global { name: name.text.clone(), ty: Type::Error, span: name.span });
                    self.inits.push(None);
                    self.bind_top(name, Binding::Global(id));
                }
                ast::Decl::Broken(ast::BrokenKind::Channel, name) => {
                    self.broken_chans.insert(name.text.clone());
                }
                ast::Decl::Broken(ast::BrokenKind::Fun, name) => {
                    let id = FunId(self.sigs.len() as u32);
                    self.sigs.push(FunSig {
                        name: name.text.clone(),
                        params: Vec::new(),
                        param_info: Vec::new(),
                        ret: Type::Error,
                        enclosing: None,
                        span: name.span,
                        broken: true,
                        frame_size: 0,
                        eval_depth: 0,
                    });
                    self.funs.push(None);
                    self.bind_top(name, Binding::Fun(id));
                }
            }
        }
    }

    fn declare_channel(&mut self, ch: &ast::ChannelDecl) {
        let ps = self.channel_param(&ch.ps, "protocol-state");
        let ss = self.channel_param(&ch.ss, "channel-state");
        let pkt = self.channel_param(&ch.pkt, "packet");
        let ps_span = ch.ps.ty.as_ref().map_or(ch.ps.name.span, |t| t.span());
        let pkt_span = ch.pkt.ty.as_ref().map_or(ch.pkt.name.span, |t| t.span());
        match self.ps.clone() {
            None => self.ps = Some((ps, ps_span)),
            Some((first, first_span)) => {
                if self.subst.unify(&ps, &first).is_err() && !ps.has_error() && !first.has_error() {
                    let (a, b) = (self.show(&ps), self.show(&first));
                    self.error(
                        Diag::new(
                            Phase::Type,
                            "protocol-state",
                            "all channels share one protocol state, but these declare different types",
                            ps_span,
                            format!("`{a}` here"),
                        )
                        .label(first_span, format!("`{b}` here"))
                        .help("give every channel's first parameter the same type"),
                    );
                }
            }
        }
        let is_network = ch.name.text == "network";
        let mut layout = None;
        let mut pkt = pkt;
        if is_network && !pkt.has_error() {
            match layout_of(&pkt) {
                Ok(l) => {
                    use crate::packet::Part;
                    let transport = l.parts.iter().find(|p| matches!(p, Part::Tcp | Part::Udp));
                    if let (Some(t), false) = (transport, l.parts.contains(&Part::Blob)) {
                        let proto = if *t == Part::Tcp { "TCP" } else { "UDP" };
                        let exact = if l.parts.last() == Some(t) {
                            "without payload"
                        } else {
                            "whose payload is exactly these fields"
                        };
                        self.warnings.push(
                            Diag::new(Phase::Type, "exact-packet", format!("this channel takes only {proto} packets {exact}"), pkt_span, "no final `blob`")
                                .help("a packet matches only if its payload is consumed exactly; end the type with `*blob` to take the rest of any payload")
                                .warning(),
                        );
                    }
                    layout = Some(l)
                }
                Err(why) => {
                    let shown = self.show(&pkt);
                    // Uses of the packet are not checked further: one diagnostic, here.
                    pkt = Type::Error;
                    self.error(
                        Diag::new(
                            Phase::Type,
                            "packet-type",
                            format!("`{shown}` is not a packet type"),
                            pkt_span,
                            "not a packet type",
                        )
                        .help(why),
                    )
                }
            }
        } else if !is_network && !pkt.admits_equality() {
            self.error(
                Diag::new(
                    Phase::Type,
                    "packet-type",
                    "a packet cannot contain a hash table",
                    pkt_span,
                    "contains a hash table",
                )
                .help("packets travel between nodes; send the values you need instead of the table"),
            );
        }
        let idx = self.chans.len();
        let overloads = self.chan_names.entry(ch.name.text.clone()).or_default();
        let overload = overloads.len() as u32;
        // Overloads must differ in their packet types.
        for &o in overloads.iter() {
            let other = &self.chans[o];
            if self.subst.resolve(&other.pkt) == self.subst.resolve(&pkt) && !pkt.has_error() {
                let prev = other.pkt_span;
                let msg = format!(
                    "channel `{}` already has an overload for packets of type `{}`",
                    ch.name.text,
                    self.show(&pkt)
                );
                self.diags.push(
                    Diag::new(Phase::Type, "duplicate-overload", msg, pkt_span, "same packet type again")
                        .label(prev, "first overload")
                        .help("overloads of a channel are told apart by their packet types, which must differ"),
                );
                break;
            }
        }
        self.chan_names.get_mut(&ch.name.text).unwrap().push(idx);
        self.chans.push(ChanSig {
            name: ch.name.text.clone(),
            overload,
            ss,
            pkt,
            layout,
            span: ch.head_span,
            pkt_span,
        });
        self.chan_bodies.push(None);
    }

    /// Pass 2: check every body, in order.
    /// Pass 2: check every body, in order; the declarations' globals, functions and
    /// channels are numbered from `g0`, `f0` and `c0`.
    fn check_top(&mut self, prog: &ast::Program, g0: u32, f0: u32, c0: usize) {
        let (mut gi, mut fi, mut ci) = (g0, f0, c0);
        for d in &prog.decls {
            match d {
                ast::Decl::Exception(_) => {}
                ast::Decl::Val(v) => {
                    let id = GlobalId(gi);
                    gi += 1;
                    self.ctxs.push(Ctx { owner: Owner::Init(id), depth: 0, next: 0, max: 0 });
                    let e = self.expr(&v.init);
                    let want = self.globals[id.0 as usize].ty.clone();
                    let sp = v.init.span;
                    self.expect(&e.ty, &want, sp, |w, f| {
                        (
                            format!("the value of `{}` is `{f}`, but its annotation says `{w}`", v.name.text),
                            format!("this is `{f}`"),
                        )
                    });
                    let ctx = self.ctxs.pop().unwrap();
                    self.inits[id.0 as usize] = Some(ir::Init { global: id, body: e, frame_size: ctx.max });
                    if self.repl {
                        self.bind_top(&v.name, Binding::Global(id));
                    }
                }
                ast::Decl::Fun(f) => {
                    let id = FunId(fi);
                    fi += 1;
                    self.fun_body(id, f);
                }
                ast::Decl::Channel(ch) => {
                    self.channel_body(ci, ch);
                    ci += 1;
                }
                ast::Decl::Broken(ast::BrokenKind::Val, name) => {
                    let id = GlobalId(gi);
                    gi += 1;
                    self.inits[id.0 as usize] = Some(ir::Init { global: id, body: err_expr(name.span), frame_size: 0 });
                }
                ast::Decl::Broken(ast::BrokenKind::Channel, _) => {}
                ast::Decl::Broken(ast::BrokenKind::Fun, name) => {
                    let id = FunId(fi);
                    fi += 1;
                    self.funs[id.0 as usize] = Some(ir::Fun {
                        name: name.text.clone(),
                        params: Vec::new(),
                        ret: Type::Error,
                        frame_size: 0,
                        body: err_expr(name.span),
                        span: name.span,
                        local: false,
                    });
                }
            }
        }
    }

    fn fun_body(&mut self, id: FunId, f: &ast::FunDecl) {
        let (params, ret, enclosing) = {
            let s = &self.sigs[id.0 as usize];
            (s.params.clone(), s.ret.clone(), s.enclosing)
        };
        let depth = enclosing.map_or(0, |d| d + 1);
        let n = params.len() as u32;
        // A local function's frame starts with its static link.
        let off = enclosing.is_some() as u32;
        let first_free = n + off;
        self.ctxs.push(Ctx { owner: Owner::Fun(id), depth, next: first_free, max: first_free });
        self.scopes.push(Scope::default());
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for (i, p) in f.params.iter().enumerate() {
            if let Some(prev) = seen.insert(&p.name.text, p.name.span) {
                self.error(
                    Diag::new(
                        Phase::Scope,
                        "duplicate",
                        format!("parameter `{}` is named twice", p.name.text),
                        p.name.span,
                        "again here",
                    )
                    .label(prev, "first here"),
                );
            }
            self.bind(&p.name, Binding::Local { depth, slot: i as Slot + off, ty: params[i].clone() });
        }
        let body = self.expr(&f.body);
        self.expect(&body.ty, &ret, f.body.span, |w, fd| {
            (format!("`{}` returns `{fd}`, but its result type is `{w}`", f.name.text), format!("this is `{fd}`"))
        });
        self.scopes.pop();
        let ctx = self.ctxs.pop().unwrap();
        self.sigs[id.0 as usize].frame_size = ctx.max;
        self.funs[id.0 as usize] = Some(ir::Fun {
            name: f.name.text.clone(),
            params,
            ret,
            frame_size: ctx.max,
            body,
            span: f.span,
            local: enclosing.is_some(),
        });
    }

    fn channel_body(&mut self, idx: usize, ch: &ast::ChannelDecl) {
        let ps = self.ps.as_ref().map_or(Type::Error, |p| p.0.clone());
        let (ss, pkt) = (self.chans[idx].ss.clone(), self.chans[idx].pkt.clone());
        let init = ch.init.as_ref().map(|e| {
            self.ctxs.push(Ctx { owner: Owner::ChannelInit(idx), depth: 0, next: 0, max: 0 });
            let ie = self.expr(e);
            if self.subst.unify(&ie.ty, &ss).is_err() && !ie.ty.has_error() && !ss.has_error() {
                let (w, f) = (self.show(&ss), self.show(&ie.ty));
                let mut d = Diag::new(
                    Phase::Type,
                    "mismatch",
                    format!("`initstate` gives the channel state, of type `{w}`, but this is `{f}`"),
                    e.span,
                    format!("this is `{f}`"),
                );
                if let Some(t) = &ch.ss.ty {
                    d = d.label(t.span(), "the channel state's type");
                }
                if matches!(self.subst.resolve(&ss), Type::Table(..)) {
                    d = d.help("a new, empty hash table is `mkTable(n)`, where n is a size hint");
                }
                self.error(d);
            }
            let ctx = self.ctxs.pop().unwrap();
            ir::Init { global: GlobalId(u32::MAX), body: ie, frame_size: ctx.max }
        });
        // A `network` channel's packet components come in their own slots (`ir::PACKET_PARTS`).
        let first_free = self.chans[idx].layout.as_ref().map_or(3, |l| ir::PACKET_PARTS + l.parts.len() as Slot);
        self.ctxs.push(Ctx { owner: Owner::Channel(idx), depth: 0, next: first_free, max: first_free });
        self.scopes.push(Scope::default());
        let names = [&ch.ps.name, &ch.ss.name, &ch.pkt.name];
        for (i, (n, t)) in names.iter().zip([ps.clone(), ss.clone(), pkt]).enumerate() {
            if let Some(first) = names[..i].iter().find(|m| m.text == n.text) {
                self.error(
                    Diag::new(
                        Phase::Scope,
                        "duplicate",
                        format!("parameter `{}` is named twice", n.text),
                        n.span,
                        "again here",
                    )
                    .label(first.span, "first here"),
                );
            }
            self.bind(n, Binding::Local { depth: 0, slot: i as Slot, ty: t });
        }
        let body = self.expr(&ch.body);
        let want = Type::Tuple(vec![ps, ss]);
        let found = body.ty.clone();
        if self.subst.unify(&found, &want).is_err() && !found.has_error() && !want.has_error() {
            let (w, f) = (self.show(&want), self.show(&found));
            self.error(
                Diag::new(
                    Phase::Type,
                    "channel-result",
                    format!("a channel returns its new states, of type `{w}`, but this is `{f}`"),
                    ch.body.span,
                    format!("this is `{f}`"),
                )
                .label(ch.head_span, "the states' types are declared here")
                .help(format!(
                    "end each path of the channel with `({}, {})`, the new protocol and channel states",
                    ch.ps.name.text, ch.ss.name.text
                )),
            );
        }
        self.scopes.pop();
        let ctx = self.ctxs.pop().unwrap();
        self.chan_bodies[idx] = Some((body, ctx.max, init));
    }

    // ---- expressions -------------------------------------------------------------------

    fn expr(&mut self, e: &ast::Expr) -> Expr {
        use ast::ExprKind as A;
        let span = e.span;
        let mk = |kind, ty| Expr { kind, ty, span };
        match &e.kind {
            A::Int(v) => mk(ExprKind::Const(*v as Word), Type::Int),
            A::Bool(b) => mk(ExprKind::Const(*b as Word), Type::Bool),
            A::Char(c) => mk(ExprKind::Const(*c as Word), Type::Char),
            A::Host(h) => mk(ExprKind::Const(*h as Word), Type::Host),
            A::Unit => mk(ExprKind::Const(0), Type::Unit),
            A::Str(s) => {
                let id = self.string_id(s);
                mk(ExprKind::Str(id), Type::String)
            }
            A::Error => err_expr(span),
            A::Annot(inner, t) => {
                let mut x = self.expr(inner);
                let want = self.type_expr(t);
                let sp = x.span;
                self.expect(&x.ty, &want, sp, |w, f| {
                    (format!("this expression is `{f}`, but its annotation says `{w}`"), format!("this is `{f}`"))
                });
                x.span = span;
                x
            }
            A::Var(n) => self.var(n),
            A::Call(n, args) => self.call(n, args, span),
            A::Let(decls, body) => self.let_expr(decls, body, span),
            A::If(c, t, f) => {
                let c = self.expr(c);
                self.expect(&c.ty, &Type::Bool, c.span, |_, f| {
                    (format!("the condition of `if` must be a `bool`, but this is `{f}`"), format!("this is `{f}`"))
                });
                let t = self.expr(t);
                let f = self.expr(f);
                let mut ty = t.ty.clone();
                if self.subst.unify(&f.ty, &t.ty).is_err() {
                    ty = Type::Error;
                    if !t.ty.has_error() && !f.ty.has_error() {
                        let (tt, tf) = (self.show(&t.ty), self.show(&f.ty));
                        let mut d = Diag::new(
                            Phase::Type,
                            "branches",
                            format!("the branches of `if` have different types: `{tt}` and `{tf}`"),
                            f.span,
                            format!("this is `{tf}`"),
                        )
                        .label(t.span, format!("this is `{tt}`"));
                        if self.ctxs.last().is_some_and(|c| matches!(c.owner, Owner::Channel(_))) {
                            d = d.help("in a channel, every path ends with the new states `(ps, ss)`");
                        }
                        self.error(d);
                    }
                }
                mk(ExprKind::If(Box::new(c), Box::new(t), Box::new(f)), ty)
            }
            A::Seq(es) => {
                let es: Vec<Expr> = es.iter().map(|e| self.expr(e)).collect();
                let ty = es.last().map_or(Type::Unit, |e| e.ty.clone());
                mk(ExprKind::Seq(es), ty)
            }
            A::Tuple(es) => {
                if es.len() > MAX_TUPLE {
                    self.error(Diag::new(
                        Phase::Type,
                        "tuple-too-large",
                        format!("tuples have at most {MAX_TUPLE} components, this one has {}", es.len()),
                        span,
                        "too many components",
                    ));
                    return err_expr(span);
                }
                // The components' values wait in n slots while the later ones are
                // computed; then the tuple is made in one step.
                let mark = self.ctx().next;
                let base = self.alloc(es.len() as u32);
                let es: Vec<Expr> = es.iter().map(|e| self.expr(e)).collect();
                self.ctx().next = mark;
                let ty = Type::Tuple(es.iter().map(|e| e.ty.clone()).collect());
                mk(ExprKind::Tuple(es, 0, base), ty)
            }
            A::Proj(n, inner, hash_span) => {
                let inner = self.expr(inner);
                let t = self.subst.shallow(&inner.ty);
                let ty = match &t {
                    Type::Tuple(ts) if (*n as usize) <= ts.len() => ts[*n as usize - 1].clone(),
                    Type::Tuple(ts) => {
                        self.error(
                            Diag::new(
                                Phase::Type,
                                "projection",
                                format!("this tuple has {} components; there is no `#{n}`", ts.len()),
                                *hash_span,
                                "no such component",
                            )
                            .label(inner.span, format!("this is `{}`", self.show(&t))),
                        );
                        Type::Error
                    }
                    Type::Error => Type::Error,
                    Type::Var(_) => {
                        self.error(
                            Diag::new(
                                Phase::Type,
                                "projection",
                                format!("the type of this expression must be known to take `#{n}` of it"),
                                inner.span,
                                "type not known here",
                            )
                            .help("add a type annotation where this value is bound"),
                        );
                        Type::Error
                    }
                    other => {
                        self.error(
                            Diag::new(
                                Phase::Type,
                                "projection",
                                format!("`#{n}` takes a component of a tuple, but this is `{}`", self.show(other)),
                                inner.span,
                                "not a tuple",
                            )
                            .label(*hash_span, "projection"),
                        );
                        Type::Error
                    }
                };
                mk(ExprKind::Proj(Box::new(inner), n - 1), ty)
            }
            A::List(es) => {
                let elem = self.subst.fresh();
                let mut out = Vec::new();
                // The elements' values wait in n slots while the later ones are computed.
                let mark = self.ctx().next;
                let base = self.alloc(es.len() as u32);
                for x in es {
                    let x = self.expr(x);
                    let sp = x.span;
                    self.expect(&x.ty, &elem, sp, |w, f| {
                        (
                            format!("list elements must have one type: expected `{w}`, found `{f}`"),
                            format!("this is `{f}`"),
                        )
                    });
                    out.push(x);
                }
                self.ctx().next = mark;
                let ty = Type::List(Box::new(elem));
                if out.is_empty() { mk(ExprKind::Nil, ty) } else { mk(ExprKind::List(out, false, base), ty) }
            }
            A::Unary(op, inner) => {
                let inner = self.expr(inner);
                let op_span = Span::new(span.start as usize, span.start as usize + 1);
                match op {
                    UnOp::Neg => {
                        let ok = self.operands("~", &Type::Int, &[&inner], op_span);
                        mk(ExprKind::Neg(Box::new(inner)), if ok { Type::Int } else { Type::Error })
                    }
                    UnOp::Not => {
                        let op_span = Span::new(span.start as usize, span.start as usize + 3);
                        let ok = self.operands("not", &Type::Bool, &[&inner], op_span);
                        mk(ExprKind::Not(Box::new(inner)), if ok { Type::Bool } else { Type::Error })
                    }
                    UnOp::NotI => {
                        let op_span = Span::new(span.start as usize, span.start as usize + 4);
                        let ok = self.operands("noti", &Type::Int, &[&inner], op_span);
                        mk(ExprKind::NotI(Box::new(inner)), if ok { Type::Int } else { Type::Error })
                    }
                }
            }
            A::Binary(op, a, b, op_span) => self.binary(*op, a, b, *op_span, span),
            A::Raise(n) => match self.lookup_exn(&n.text) {
                Some(x) => {
                    let ty = self.subst.fresh();
                    mk(ExprKind::Raise(x), ty)
                }
                None => {
                    self.unknown_exn(n);
                    err_expr(span)
                }
            },
            A::Try(body, handlers) => {
                let body = self.expr(body);
                let ty = body.ty.clone();
                let mut hs = Vec::new();
                for h in handlers {
                    let exn = match &h.exn {
                        None => None,
                        Some(n) => match self.lookup_exn(&n.text) {
                            Some(x) => Some(x),
                            None => {
                                self.unknown_exn(n);
                                None
                            }
                        },
                    };
                    let hb = self.expr(&h.body);
                    let sp = hb.span;
                    self.expect(&hb.ty, &ty, sp, |w, f| {
                        (format!("a handler must have the type of the expression it protects: expected `{w}`, found `{f}`"), format!("this is `{f}`"))
                    });
                    hs.push(ir::Handler { exn, body: hb });
                }
                mk(ExprKind::Try(Box::new(body), hs), ty)
            }
            A::Fold(dir, f, z, l) => self.fold(*dir, f, z, l, span),
            A::Send(form, ch, pkt, dest) => self.send(*form, ch, pkt, dest.as_deref(), span),
        }
    }

    fn unknown_exn(&mut self, n: &Name) {
        let mut names: Vec<String> = Vec::new();
        for s in &self.scopes {
            names.extend(s.exns.keys().cloned());
        }
        let mut d = Diag::new(
            Phase::Scope,
            "undefined-exception",
            format!("unknown exception `{}`", n.text),
            n.span,
            "not declared",
        );
        d = match suggest(&n.text, names.iter().map(String::as_str)) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None => d.help(format!("declare it with `exception {}`", n.text)),
        };
        self.error(d);
    }

    fn all_value_names(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for s in &self.scopes {
            v.extend(s.vals.keys().cloned());
        }
        v
    }

    fn var(&mut self, n: &Name) -> Expr {
        let span = n.span;
        match self.lookup(&n.text).cloned() {
            Some((Binding::Local { depth, slot, ty }, _)) => {
                let cur = self.depth();
                let kind =
                    if depth == cur { ExprKind::Local(slot) } else { ExprKind::Outer { hops: cur - depth, slot } };
                Expr { kind, ty, span }
            }
            Some((Binding::Global(g), _)) => {
                let owner = self.owner();
                self.reads.push((owner, g, span));
                if let Owner::Init(cur) = owner
                    && g >= cur
                {
                    let gname = self.globals[g.0 as usize].name.clone();
                    let (msg, label) = if g == cur {
                        (format!("`{gname}` is used in its own definition"), "used here")
                    } else {
                        (format!("`{gname}` is used before it is defined"), "used here")
                    };
                    let d = Diag::new(Phase::Scope, "use-before-definition", msg, span, label)
                        .label(self.globals[g.0 as usize].span, "defined here")
                        .help("top-level values are initialised in order; move this definition after the one it uses");
                    self.order_err.insert((cur.0, g.0));
                    self.error(d);
                }
                Expr { kind: ExprKind::Global(g), ty: self.globals[g.0 as usize].ty.clone(), span }
            }
            Some((Binding::Fun(f), _)) => {
                let name = self.sigs[f.0 as usize].name.clone();
                self.error(
                    Diag::new(
                        Phase::Type,
                        "function-as-value",
                        format!("`{name}` is a function, not a value"),
                        span,
                        "used as a value",
                    )
                    .help(format!("functions are not values in PLAN-P; call it: `{name}(...)`")),
                );
                err_expr(span)
            }
            None => {
                let mut d = Diag::new(
                    Phase::Scope,
                    "undefined-name",
                    format!("cannot find `{}` in this scope", n.text),
                    span,
                    "not found",
                );
                let ml = match n.text.as_str() {
                    "nil" => Some("the empty list is written `[]`"),
                    "True" | "TRUE" => Some("booleans are written `true` and `false`"),
                    "False" | "FALSE" => Some("booleans are written `true` and `false`"),
                    "NONE" | "SOME" | "None" | "Some" => {
                        Some("PLAN-P has no option type; use an exception (`raise E` / `handle E`) or a flag")
                    }
                    "null" | "NULL" => Some("PLAN-P has no null; use an exception, `[]`, or a flag"),
                    _ => None,
                };
                if let Some(h) = ml {
                    self.error(d.help(h));
                    return err_expr(span);
                }
                let values = self.all_value_names();
                let prims = planp_primitives::all().iter().map(|p| p.name);
                if planp_primitives::lookup(&n.text).is_some() {
                    d = d.help(format!("`{}` is a primitive; call it: `{}(...)`", n.text, n.text));
                } else if let Some(s) = suggest(&n.text, values.iter().map(String::as_str)) {
                    d = d.help(format!("did you mean `{s}`?"));
                } else if let Some(s) = suggest(&n.text, prims) {
                    d = d.help(format!("did you mean the primitive `{s}`? Call it: `{s}(...)`"));
                }
                self.error(d);
                err_expr(span)
            }
        }
    }

    fn args(&mut self, args: &[ast::Expr]) -> Vec<Expr> {
        args.iter().map(|a| self.expr(a)).collect()
    }

    fn link_for(&self, f: FunId) -> Option<u32> {
        self.sigs[f.0 as usize].enclosing.map(|d| self.depth() - d)
    }

    fn call(&mut self, n: &Name, args: &[ast::Expr], span: Span) -> Expr {
        match self.lookup(&n.text).cloned() {
            Some((Binding::Fun(f), _)) => self.call_fun(f, n, args, span),
            Some((_, def)) => {
                let mut d = Diag::new(
                    Phase::Type,
                    "not-a-function",
                    format!("`{}` is a value, not a function", n.text),
                    n.span,
                    "called here",
                )
                .label(def, "defined here");
                if planp_primitives::lookup(&n.text).is_some() {
                    d = d.help(format!("this definition hides the primitive `{}`; rename it", n.text));
                }
                self.error(d);
                self.args(args);
                err_expr(span)
            }
            None => match planp_primitives::lookup(&n.text) {
                Some((pid, prim)) => self.call_prim(pid, prim, args, span),
                None => {
                    let mut names: Vec<String> = self.sigs.iter().map(|s| s.name.clone()).collect();
                    names.extend(planp_primitives::all().iter().map(|p| p.name.to_string()));
                    let mut d = Diag::new(
                        Phase::Scope,
                        "undefined-function",
                        format!("cannot find function `{}`", n.text),
                        n.span,
                        "not found",
                    );
                    if let Some(s) = suggest(&n.text, names.iter().map(String::as_str)) {
                        d = d.help(format!("did you mean `{s}`?"));
                    }
                    self.error(d);
                    self.args(args);
                    err_expr(span)
                }
            },
        }
    }

    fn call_fun(&mut self, f: FunId, n: &Name, args: &[ast::Expr], span: Span) -> Expr {
        if self.sigs[f.0 as usize].broken {
            self.args(args);
            return err_expr(span);
        }
        let (params, ret, def) = {
            let s = &self.sigs[f.0 as usize];
            (s.params.clone(), s.ret.clone(), s.span)
        };
        let link = self.link_for(f);
        let mark = self.ctx().next;
        let base = self.alloc(params.len() as u32 + link.is_some() as u32);
        let argv = self.args(args);
        self.ctx().next = mark;
        if argv.len() != params.len() {
            self.error(
                Diag::new(
                    Phase::Type,
                    "arity",
                    format!(
                        "`{}` takes {} argument{} but {} {} given",
                        n.text,
                        params.len(),
                        if params.len() == 1 { "" } else { "s" },
                        argv.len(),
                        if argv.len() == 1 { "was" } else { "were" }
                    ),
                    span,
                    "wrong number of arguments",
                )
                .label(def, "defined here"),
            );
            return err_expr(span);
        }
        for (a, p) in argv.iter().zip(&params) {
            let fname = n.text.clone();
            self.expect(&a.ty, p, a.span, |w, fd| {
                (format!("`{fname}` expects `{w}` here, found `{fd}`"), format!("this is `{fd}`"))
            });
        }
        let owner = self.owner();
        self.edges.push(Edge { from: owner, to: f, base, span: n.span });
        Expr { kind: ExprKind::Call { fun: f, base, args: argv, link }, ty: ret, span }
    }

    fn call_prim(
        &mut self,
        pid: planp_primitives::PrimId,
        prim: &'static planp_primitives::Prim,
        args: &[ast::Expr],
        span: Span,
    ) -> Expr {
        let mark = self.ctx().next;
        let base = self.alloc(args.len() as u32);
        let argv = self.args(args);
        self.ctx().next = mark;
        let tys: Vec<Type> = argv.iter().map(|a| self.subst.resolve(&a.ty)).collect();
        if tys.iter().any(Type::has_error) {
            return err_expr(span);
        }
        match (prim.typing)(&mut self.subst, &tys) {
            Ok(ret) => {
                let site = Site { args: tys, ret: ret.clone() };
                Expr { kind: ExprKind::Prim { prim: pid, base, args: argv, site: Box::new(site) }, ty: ret, span }
            }
            Err(e) => {
                let sig = format!("`{}` has type `{}`", prim.name, prim.signature);
                let d = match e.arg.and_then(|i| argv.get(i)) {
                    Some(a) => Diag::new(
                        Phase::Type,
                        "primitive-argument",
                        format!("wrong argument to `{}`: {}", prim.name, e.message),
                        a.span,
                        e.message.clone(),
                    ),
                    None => Diag::new(
                        Phase::Type,
                        "primitive-call",
                        format!("`{}` {}", prim.name, e.message),
                        span,
                        "in this call",
                    ),
                };
                self.error(d.help(e.help.unwrap_or(sig)));
                err_expr(span)
            }
        }
    }

    /// Check that both operands of `op` have type `want`; on failure, one diagnostic at
    /// the operator naming the offending operands, and `false`.
    fn operands(&mut self, op: &str, want: &Type, xs: &[&Expr], op_span: Span) -> bool {
        let mut bad: Vec<(Span, Type)> = Vec::new();
        for x in xs {
            if self.subst.unify(&x.ty, want).is_err() {
                bad.push((x.span, self.subst.resolve(&x.ty)));
            }
        }
        if bad.is_empty() {
            return true;
        }
        if bad.iter().any(|(_, t)| t.has_error()) {
            return false;
        }
        let found = if bad.len() == 2 && bad[0].1 == bad[1].1 {
            format!("both operands are `{}`", bad[0].1)
        } else if bad.len() == 2 {
            format!("these are `{}` and `{}`", bad[0].1, bad[1].1)
        } else {
            format!("this is `{}`", bad[0].1)
        };
        let mut d = Diag::new(
            Phase::Type,
            "operand",
            format!("`{op}` works on `{want}`, but {found}"),
            op_span,
            format!("`{op}` on `{want}`"),
        );
        for (sp, t) in &bad {
            d = d.label(*sp, format!("this is `{t}`"));
        }
        let t0 = &bad[0].1;
        let help = match (op, t0) {
            ("+", Type::String | Type::Blob) => Some("strings and blobs are joined with `^`"),
            ("~" | "-", Type::Bool) => Some("boolean negation is `not e`"),
            ("not", Type::Int) => Some("integer negation is `~e`"),
            (_, Type::Host) if want == &Type::Int => Some("hosts are not integers; compare them with `=` or `<`"),
            _ => None,
        };
        if let Some(h) = help {
            d = d.help(h);
        }
        self.error(d);
        false
    }

    fn binary(&mut self, op: BinOp, a: &ast::Expr, b: &ast::Expr, op_span: Span, span: Span) -> Expr {
        if op == BinOp::Append {
            // `l1 @ l2` is the primitive `append(l1, l2)`.
            let (pid, prim) = planp_primitives::lookup("append").expect("the primitive append exists");
            return self.call_prim(pid, prim, &[a.clone(), b.clone()], span);
        }
        let a = self.expr(a);
        let b = self.expr(b);
        let mk = |kind, ty| Expr { kind, ty, span };
        let text = op.text();
        match op {
            BinOp::Add
            | BinOp::Sub
            | BinOp::Mul
            | BinOp::Div
            | BinOp::Mod
            | BinOp::AndI
            | BinOp::OrI
            | BinOp::XorI
            | BinOp::Shl
            | BinOp::Shr => {
                let ok = self.operands(text, &Type::Int, &[&a, &b], op_span);
                let ar = match op {
                    BinOp::Add => Arith::Add,
                    BinOp::Sub => Arith::Sub,
                    BinOp::Mul => Arith::Mul,
                    BinOp::Div => Arith::Div,
                    BinOp::AndI => Arith::And,
                    BinOp::OrI => Arith::Or,
                    BinOp::XorI => Arith::Xor,
                    BinOp::Shl => Arith::Shl,
                    BinOp::Shr => Arith::Shr,
                    _ => Arith::Mod,
                };
                mk(ExprKind::Arith(ar, Box::new(a), Box::new(b)), if ok { Type::Int } else { Type::Error })
            }
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                if self.subst.unify(&b.ty, &a.ty).is_err() && !a.ty.has_error() && !b.ty.has_error() {
                    let (ta, tb) = (self.show(&a.ty), self.show(&b.ty));
                    self.error(
                        Diag::new(
                            Phase::Type,
                            "mismatch",
                            format!("`{text}` compares values of one type, but these are `{ta}` and `{tb}`"),
                            op_span,
                            "comparison",
                        )
                        .label(a.span, format!("this is `{ta}`"))
                        .label(b.span, format!("this is `{tb}`")),
                    );
                }
                let t = a.ty.clone();
                let cop = match op {
                    BinOp::Eq => CmpOp::Eq,
                    BinOp::Ne => CmpOp::Ne,
                    BinOp::Lt => CmpOp::Lt,
                    BinOp::Le => CmpOp::Le,
                    BinOp::Gt => CmpOp::Gt,
                    _ => CmpOp::Ge,
                };
                if matches!(op, BinOp::Eq | BinOp::Ne) {
                    self.deferred.push(Deferred::Eq(t, op_span, a.span));
                } else {
                    self.deferred.push(Deferred::Ord(t, op_span, a.span));
                }
                mk(ExprKind::Compare(cop, CmpKind::Unsigned, Box::new(a), Box::new(b)), Type::Bool)
            }
            BinOp::Cons => {
                let lt = Type::List(Box::new(a.ty.clone()));
                if self.subst.unify(&b.ty, &lt).is_err() {
                    let (ta, tb) = (self.show(&a.ty), self.show(&b.ty));
                    if !a.ty.has_error() && !b.ty.has_error() {
                        let mut d = Diag::new(
                            Phase::Type,
                            "cons",
                            format!("`::` takes an element on its left and a list of such elements on its right, but these are `{ta}` and `{tb}`"),
                            op_span,
                            "here",
                        )
                        .label(a.span, format!("this is `{ta}`"))
                        .label(b.span, format!("this is `{tb}`"));
                        let swapped = Type::List(Box::new(b.ty.clone()));
                        let mut trial = self.subst.clone();
                        if trial.unify(&a.ty, &swapped).is_ok() {
                            d = d.help("the element comes first: `x :: list`; to add at the end, write `list @ [x]`");
                        }
                        self.error(d);
                    }
                    return mk(ExprKind::Cons(Box::new(a), Box::new(b), false), Type::Error);
                }
                mk(ExprKind::Cons(Box::new(a), Box::new(b), false), lt)
            }
            BinOp::Concat => {
                let (ta, tb) = (self.subst.resolve(&a.ty), self.subst.resolve(&b.ty));
                let bytes = |t: &Type| matches!(t, Type::String | Type::Blob | Type::Var(_) | Type::Error);
                if !bytes(&ta) || !bytes(&tb) || self.subst.unify(&a.ty, &b.ty).is_err() {
                    if !ta.has_error() && !tb.has_error() {
                        let mut d = Diag::new(
                            Phase::Type,
                            "concat",
                            format!("`^` joins two strings or two blobs, but these are `{ta}` and `{tb}`"),
                            op_span,
                            "here",
                        )
                        .label(a.span, format!("this is `{ta}`"))
                        .label(b.span, format!("this is `{tb}`"));
                        d = d.help(if ta == Type::Int && tb == Type::Int {
                            "there is no power operator; `^` joins strings"
                        } else if ta == Type::Int || tb == Type::Int {
                            "convert integers to text with `intToString(n)`"
                        } else {
                            "convert between strings and blobs with `blobOfString` and `stringOfBlob`"
                        });
                        self.error(d);
                    }
                    return mk(ExprKind::Concat(Box::new(a), Box::new(b)), Type::Error);
                }
                let t = a.ty.clone();
                self.deferred.push(Deferred::Concat(t.clone(), op_span, a.span));
                mk(ExprKind::Concat(Box::new(a), Box::new(b)), t)
            }
            BinOp::Append => unreachable!("handled above"),
            BinOp::AndAlso | BinOp::OrElse => {
                let ok = self.operands(text, &Type::Bool, &[&a, &b], op_span);
                let kind = if op == BinOp::AndAlso {
                    ExprKind::And(Box::new(a), Box::new(b))
                } else {
                    ExprKind::Or(Box::new(a), Box::new(b))
                };
                mk(kind, if ok { Type::Bool } else { Type::Error })
            }
        }
    }

    fn let_expr(&mut self, decls: &[LetDecl], body: &ast::Expr, span: Span) -> Expr {
        let mark = self.ctx().next;
        let scopes_before = self.scopes.len();
        let mut vals: Vec<(Slot, Expr)> = Vec::new();
        let mut i = 0;
        while i < decls.len() {
            match &decls[i] {
                LetDecl::Val(v) => {
                    let init = self.expr(&v.init);
                    if let Some(t) = &v.ty {
                        let want = self.type_expr(t);
                        let name = v.name.text.clone();
                        let sp = init.span;
                        self.expect(&init.ty, &want, sp, |w, f| {
                            (
                                format!("the value of `{name}` is `{f}`, but its annotation says `{w}`"),
                                format!("this is `{f}`"),
                            )
                        });
                    }
                    let slot = self.alloc(1);
                    let depth = self.depth();
                    // Each `val` opens a scope so that a later one may shadow it.
                    self.scopes.push(Scope::default());
                    self.bind(&v.name, Binding::Local { depth, slot, ty: init.ty.clone() });
                    vals.push((slot, init));
                    i += 1;
                }
                LetDecl::Exception(n) => {
                    self.scopes.push(Scope::default());
                    self.new_exception(n, false);
                    i += 1;
                }
                LetDecl::Fun(_) => {
                    let start = i;
                    while i < decls.len() && matches!(decls[i], LetDecl::Fun(_)) {
                        i += 1;
                    }
                    self.scopes.push(Scope::default());
                    let depth = self.depth();
                    let mut ids = Vec::new();
                    let mut seen: HashMap<String, Span> = HashMap::new();
                    for d in &decls[start..i] {
                        let LetDecl::Fun(f) = d else { unreachable!() };
                        if let Some(prev) = seen.insert(f.name.text.clone(), f.name.span) {
                            self.error(
                                Diag::new(
                                    Phase::Scope,
                                    "duplicate",
                                    format!("`{}` is defined twice in this group of functions", f.name.text),
                                    f.name.span,
                                    "again here",
                                )
                                .label(prev, "first here"),
                            );
                        }
                        let sig = self.fun_sig(f, Some(depth));
                        let id = FunId(self.sigs.len() as u32);
                        self.sigs.push(sig);
                        self.funs.push(None);
                        self.bind(&f.name, Binding::Fun(id));
                        ids.push((id, f));
                    }
                    for (id, f) in ids {
                        self.fun_body(id, f);
                    }
                }
            }
        }
        let body = self.expr(body);
        self.scopes.truncate(scopes_before);
        self.ctx().next = mark;
        if vals.is_empty() {
            return Expr { span, ..body };
        }
        let ty = body.ty.clone();
        Expr { kind: ExprKind::Let { binds: vals, body: Box::new(body) }, ty, span }
    }

    fn fold(&mut self, dir: FoldDir, f: &Name, z: &ast::Expr, l: &ast::Expr, span: Span) -> Expr {
        let z = self.expr(z);
        let l = self.expr(l);
        let fid = match self.lookup(&f.text).cloned() {
            Some((Binding::Fun(id), _)) => id,
            _ => {
                let mut d = Diag::new(
                    Phase::Scope,
                    "fold-function",
                    format!("`{}` is not a function defined in this program", f.text),
                    f.span,
                    "not a function",
                );
                d = d.help("foldl and foldr take the name of a `fun` with two parameters");
                self.error(d);
                return err_expr(span);
            }
        };
        if self.sigs[fid.0 as usize].broken {
            return err_expr(span);
        }
        let (params, ret, def) = {
            let s = &self.sigs[fid.0 as usize];
            (s.params.clone(), s.ret.clone(), s.span)
        };
        if params.len() != 2 {
            self.error(
                Diag::new(
                    Phase::Type,
                    "fold-function",
                    format!(
                        "`{}` takes {} parameter{}, but a fold needs a function of two",
                        f.text,
                        params.len(),
                        if params.len() == 1 { "" } else { "s" }
                    ),
                    f.span,
                    "here",
                )
                .label(def, "defined here"),
            );
            return err_expr(span);
        }
        let (acc, elem) = match dir {
            FoldDir::Left => (params[0].clone(), params[1].clone()),
            FoldDir::Right => (params[1].clone(), params[0].clone()),
        };
        // The common mistake is the order of the function's parameters: foldl passes
        // (accumulator, element), foldr (element, accumulator). Say so in one diagnostic.
        let fits = |sub: &mut Subst, acc: &Type, elem: &Type| {
            sub.unify(&ret, acc).is_ok()
                && sub.unify(&z.ty, acc).is_ok()
                && sub.unify(&l.ty, &Type::List(Box::new(elem.clone()))).is_ok()
        };
        let mut trial = self.subst.clone();
        if !fits(&mut trial, &acc, &elem) && !z.ty.has_error() && !l.ty.has_error() {
            let mut other = self.subst.clone();
            if fits(&mut other, &elem, &acc) {
                let (this, that, order) = match dir {
                    FoldDir::Left => ("foldl", "foldr", "(accumulator, element)"),
                    FoldDir::Right => ("foldr", "foldl", "(element, accumulator)"),
                };
                let ps: Vec<String> = params.iter().map(|t| self.show(t)).collect();
                self.error(
                    Diag::new(
                        Phase::Type,
                        "fold-order",
                        format!("`{this}` passes {order} to its function, but `{}` takes ({})", f.text, ps.join(", ")),
                        f.span,
                        "parameters in the other order",
                    )
                    .label(def, "defined here")
                    .help(format!("did you mean `{that}`? Or swap the parameters of `{}`", f.text)),
                );
                return err_expr(span);
            }
        }
        let name = f.text.clone();
        self.expect(&ret, &acc, f.span, |w, fd| {
            (format!("a fold's function returns the accumulator: `{name}` returns `{fd}` but its accumulator parameter is `{w}`"), format!("returns `{fd}`"))
        });
        self.expect(&z.ty, &acc, z.span, |w, fd| {
            (format!("the initial accumulator must be `{w}`, found `{fd}`"), format!("this is `{fd}`"))
        });
        let lt = Type::List(Box::new(elem));
        self.expect(&l.ty, &lt, l.span, |w, fd| {
            (format!("the folded value must be `{w}`, found `{fd}`"), format!("this is `{fd}`"))
        });
        let link = self.link_for(fid);
        let mark = self.ctx().next;
        let base = self.alloc(2 + link.is_some() as u32);
        self.ctx().next = mark;
        let owner = self.owner();
        self.edges.push(Edge { from: owner, to: fid, base, span: f.span });
        Expr {
            kind: ExprKind::Fold { dir, fun: fid, base, link, init: Box::new(z), list: Box::new(l), elem_ptr: false },
            ty: ret,
            span,
        }
    }

    fn send(&mut self, form: SendForm, ch: &Name, pkt: &ast::Expr, dest: Option<&ast::Expr>, span: Span) -> Expr {
        if let ast::ExprKind::Var(v) = &pkt.kind
            && (v.text == "network" || self.chan_names.contains_key(&v.text))
            && ch.text != "network"
            && !self.chan_names.contains_key(&ch.text)
        {
            let how = if form == SendForm::Remote { "OnRemote" } else { "OnNeighbor" };
            self.error(
                Diag::new(
                    Phase::Scope,
                    "send-arguments",
                    format!("`{how}` takes the channel first, then the packet"),
                    pkt.span,
                    "this is the channel",
                )
                .label(ch.span, "and this the packet")
                .help(format!(
                    "write `{how}({}, {}{})`",
                    v.text,
                    ch.text,
                    if form == SendForm::Remote { "" } else { ", host" }
                )),
            );
            return err_expr(span);
        }
        let owner = self.owner();
        self.sends.push((owner, span));
        let pkt = self.expr(pkt);
        let dest = dest.map(|d| {
            let d = self.expr(d);
            let sp = d.span;
            self.expect(&d.ty, &Type::Host, sp, |_, f| {
                (format!("`OnNeighbor` sends to a `host`, but this is `{f}`"), format!("this is `{f}`"))
            });
            Box::new(d)
        });
        let kind = if form == SendForm::Remote { SendKind::Remote } else { SendKind::Neighbor };
        let mk = |target: ir::SendTarget, pkt: Expr, dest| Expr {
            kind: ExprKind::Send { kind, target: Box::new(target), packet: Box::new(pkt), neighbor: dest },
            ty: Type::Unit,
            span,
        };
        if ch.text == "network" {
            // The layout is computed when the packet's type is solved (in `finish`).
            return mk(
                ir::SendTarget { channel: ch.text.as_str().into(), overload: 0, layout: None, parts_at: None },
                pkt,
                dest,
            );
        }
        let Some(overloads) = self.chan_names.get(&ch.text).cloned() else {
            if self.broken_chans.contains(&ch.text) {
                return err_expr(span);
            }
            let mut d = Diag::new(
                Phase::Scope,
                "undefined-channel",
                format!("there is no channel `{}`", ch.text),
                ch.span,
                "not a channel",
            );
            let names: Vec<&str> = self.chan_names.keys().map(String::as_str).chain(["network"]).collect();
            if let Some(s) = suggest(&ch.text, names) {
                d = d.help(format!("did you mean `{s}`?"));
            }
            self.error(d);
            return err_expr(span);
        };
        let pt = self.subst.resolve(&pkt.ty);
        if pt.has_error() {
            return err_expr(span);
        }
        let mut candidates = Vec::new();
        for &o in &overloads {
            let mut trial = self.subst.clone();
            if trial.unify(&pt, &self.chans[o].pkt).is_ok() {
                candidates.push(o);
            }
        }
        let exact: Vec<usize> =
            candidates.iter().copied().filter(|&o| self.subst.resolve(&self.chans[o].pkt) == pt).collect();
        let chosen = match (candidates.len(), exact.len()) {
            (1, _) => candidates[0],
            (_, 1) => exact[0],
            (0, _) => {
                let types: Vec<String> =
                    overloads.iter().map(|&o| format!("`{}`", self.show(&self.chans[o].pkt))).collect();
                self.error(
                    Diag::new(
                        Phase::Type,
                        "send-type",
                        format!("channel `{}` takes no packet of type `{}`", ch.text, pt),
                        pkt.span,
                        format!("this is `{pt}`"),
                    )
                    .help(format!("`{}` takes packets of type {}", ch.text, types.join(" or "))),
                );
                return err_expr(span);
            }
            _ => {
                self.error(
                    Diag::new(
                        Phase::Type,
                        "send-ambiguous",
                        format!("cannot tell which overload of `{}` this packet is for", ch.text),
                        pkt.span,
                        "type not known precisely",
                    )
                    .help("annotate the packet's type"),
                );
                return err_expr(span);
            }
        };
        let want = self.chans[chosen].pkt.clone();
        let _ = self.subst.unify(&pkt.ty, &want);
        let overload = self.chans[chosen].overload;
        mk(ir::SendTarget { channel: ch.text.as_str().into(), overload, layout: None, parts_at: None }, pkt, dest)
    }

    // ---- after all bodies --------------------------------------------------------------

    /// The checks that need the whole program, and the finalised IR.
    fn finish(&mut self, name: &str, text: Arc<str>) -> Result<ir::Program, Vec<Diag>> {
        self.check_deferred();
        self.check_params_inferred();
        let cyclic = self.check_recursion();
        if !cyclic {
            self.check_init_order();
            self.check_no_send_at_load();
        }
        // Finalise every body: solved types, operand kinds, pointer maps, layouts.
        // Take the bodies but keep the vectors' lengths: they are indexed by number, and
        // declarations added later (at a prompt) are numbered after these.
        let mut funs: Vec<Option<ir::Fun>> = self.funs.iter_mut().map(Option::take).collect();
        for f in funs.iter_mut().flatten() {
            f.params = f.params.iter().map(|t| self.subst.zonk(t)).collect();
            f.ret = self.subst.zonk(&f.ret);
            self.fin(&mut f.body);
        }
        let mut inits: Vec<Option<ir::Init>> = self.inits.iter_mut().map(Option::take).collect();
        for i in inits.iter_mut().flatten() {
            self.fin(&mut i.body);
        }
        let mut bodies: Vec<_> = self.chan_bodies.iter_mut().map(Option::take).collect();
        for (b, _, init) in bodies.iter_mut().flatten() {
            self.fin(b);
            if let Some(i) = init {
                self.fin(&mut i.body);
            }
        }
        if !cyclic && self.diags.is_empty() {
            self.check_eval_depth(&funs, &inits, &bodies);
        }
        if !self.diags.is_empty() {
            self.diags.sort_by_key(|d| d.span().start);
            return Err(std::mem::take(&mut self.diags));
        }
        let stack_size = if cyclic { 0 } else { self.stack_size(&inits, &bodies) };
        let ps_type = self.ps.as_ref().map_or(Type::Unit, |p| self.subst.zonk(&p.0));
        let globals = self
            .globals
            .iter()
            .map(|g| ir::Global { name: g.name.clone(), ty: self.subst.zonk(&g.ty), span: g.span })
            .collect();
        let channels = self
            .chans
            .iter()
            .zip(bodies)
            .map(|(c, b)| {
                let (mut body, frame_size, init) = b.expect("every channel body was checked");
                ir::tail_states(&mut body);
                let packet_whole = match &c.layout {
                    Some(l) => ir::unbox_packet(&mut body, l.is_tuple()),
                    None => true,
                };
                ir::Channel {
                    name: c.name.clone(),
                    overload: c.overload,
                    ss_type: self.subst.zonk(&c.ss),
                    pkt_type: self.subst.zonk(&c.pkt),
                    layout: c.layout.clone(),
                    init,
                    body,
                    packet_whole,
                    frame_size,
                    span: c.span,
                }
            })
            .collect();
        Ok(ir::Program {
            name: name.to_owned(),
            text,
            globals,
            inits: inits.into_iter().map(|i| i.expect("every initialiser was checked")).collect(),
            funs: funs.into_iter().map(|f| f.expect("every function was checked")).collect(),
            channels,
            exceptions: self.exceptions.clone(),
            strings: self.strings.clone(),
            ps_type,
            stack_size,
            warnings: std::mem::take(&mut self.warnings),
        })
    }

    /// Like `finish`, for declarations added to a checked program: the checks, and the
    /// new functions, globals, strings and exceptions (numbered from `f0`, `g0`, `s0`,
    /// `e0`).
    fn finish_delta(&mut self, g0: usize, f0: usize, s0: usize, e0: usize) -> Result<ir::Delta, Vec<Diag>> {
        self.check_deferred();
        self.check_params_inferred();
        let cyclic = self.check_recursion();
        if !cyclic {
            self.check_init_order();
            self.check_no_send_at_load();
        }
        let mut funs: Vec<Option<ir::Fun>> =
            (0..self.funs.len()).map(|i| if i >= f0 { self.funs[i].take() } else { None }).collect();
        for f in funs.iter_mut().flatten() {
            f.params = f.params.iter().map(|t| self.subst.zonk(t)).collect();
            f.ret = self.subst.zonk(&f.ret);
            self.fin(&mut f.body);
        }
        let mut inits: Vec<Option<ir::Init>> =
            (0..self.inits.len()).map(|i| if i >= g0 { self.inits[i].take() } else { None }).collect();
        for i in inits.iter_mut().flatten() {
            self.fin(&mut i.body);
        }
        if !cyclic && self.diags.is_empty() {
            self.check_eval_depth(&funs, &inits, &[]);
        }
        if !self.diags.is_empty() {
            self.diags.sort_by_key(|d| d.span().start);
            return Err(std::mem::take(&mut self.diags));
        }
        let stack_size = self.stack_size(&inits, &[]);
        Ok(ir::Delta {
            globals: self.globals[g0..]
                .iter()
                .map(|g| ir::Global { name: g.name.clone(), ty: self.subst.zonk(&g.ty), span: g.span })
                .collect(),
            inits: inits.into_iter().skip(g0).map(|i| i.expect("every initialiser was checked")).collect(),
            funs: funs.into_iter().skip(f0).map(|f| f.expect("every function was checked")).collect(),
            strings: self.strings[s0..].to_vec(),
            exceptions: self.exceptions[e0..].to_vec(),
            stack_size,
            warnings: std::mem::take(&mut self.warnings),
        })
    }

    /// Initialisers run when the program is loaded, before it is on a network: they must
    /// not send packets, directly or through the functions they call.
    fn check_no_send_at_load(&mut self) {
        let n = self.sigs.len();
        let mut sends: Vec<Option<Span>> = vec![None; n];
        for &(o, sp) in &self.sends {
            if let Owner::Fun(f) = o {
                sends[f.0 as usize].get_or_insert(sp);
            }
        }
        let mut callees: Vec<Vec<usize>> = vec![Vec::new(); n];
        for e in &self.edges {
            if let Owner::Fun(f) = e.from {
                callees[f.0 as usize].push(e.to.0 as usize);
            }
        }
        for f in self.callees_first() {
            if sends[f].is_none() {
                sends[f] = callees[f].iter().find_map(|&c| sends[c]);
            }
        }
        let at_load = |o: &Owner| matches!(o, Owner::Init(_) | Owner::ChannelInit(_));
        let (when, help) = if self.repl {
            (
                "from the prompt",
                "the prompt evaluates expressions on no packet; run the program's channels on packets with `:pcap`",
            )
        } else {
            (
                "while the program is being loaded",
                "initialisers (top-level `val`s and `initstate`) run before the program is on a network; send from a channel",
            )
        };
        let mut ds = Vec::new();
        for &(o, sp) in self.sends.iter().filter(|(o, _)| at_load(o)) {
            let _ = o;
            ds.push(
                Diag::new(Phase::Scope, "send-at-load", format!("packets cannot be sent {when}"), sp, "sent here")
                    .help(help),
            );
        }
        for e in self.edges.iter().filter(|e| at_load(&e.from)) {
            if let Some(sp) = sends[e.to.0 as usize] {
                let fname = &self.sigs[e.to.0 as usize].name;
                ds.push(
                    Diag::new(
                        Phase::Scope,
                        "send-at-load",
                        format!("`{fname}` sends packets, but it is called {when}"),
                        e.span,
                        "called here",
                    )
                    .label(sp, "the packet is sent here")
                    .help(help),
                );
            }
        }
        self.diags.extend(ds);
    }

    fn check_deferred(&mut self) {
        for d in std::mem::take(&mut self.deferred) {
            match d {
                Deferred::Eq(t, op, at) => {
                    let t = self.subst.resolve(&t);
                    if !t.admits_equality() && !t.has_error() {
                        self.error(
                            Diag::new(
                                Phase::Type,
                                "equality",
                                format!("values of type `{t}` cannot be compared with `=`"),
                                op,
                                "comparison",
                            )
                            .label(at, format!("this is `{t}`"))
                            .help("hash tables have no equality; compare their contents with tableGet or tableMember"),
                        );
                    }
                }
                Deferred::Ord(t, op, at) => match self.subst.resolve(&t) {
                    Type::Int | Type::Char | Type::Host | Type::String | Type::Error => {}
                    v @ Type::Var(_) => {
                        let _ = self.subst.unify(&v, &Type::Int);
                    }
                    t => self.error(
                        Diag::new(
                            Phase::Type,
                            "ordering",
                            format!("values of type `{t}` cannot be ordered"),
                            op,
                            "comparison",
                        )
                        .label(at, format!("this is `{t}`"))
                        .help("`<`, `<=`, `>` and `>=` compare `int`, `char`, `host` and `string` values"),
                    ),
                },
                Deferred::Concat(t, op, at) => match self.subst.resolve(&t) {
                    Type::String | Type::Blob | Type::Error => {}
                    v @ Type::Var(_) => {
                        let _ = self.subst.unify(&v, &Type::String);
                    }
                    t => self.error(
                        Diag::new(Phase::Type, "concat", format!("`^` joins strings or blobs, not `{t}`"), op, "here")
                            .label(at, format!("this is `{t}`"))
                            .help(if t == Type::Int {
                                "to add integers use `+`"
                            } else {
                                "convert the values to strings first"
                            }),
                    ),
                },
            }
        }
    }

    fn check_params_inferred(&mut self) {
        let mut ds = Vec::new();
        for s in &self.sigs {
            for (t, (pname, span, annotated)) in s.params.iter().zip(&s.param_info) {
                if !annotated && self.subst.resolve(t).has_vars() {
                    ds.push(
                        Diag::new(
                            Phase::Type,
                            "cannot-infer",
                            format!("cannot infer the type of parameter `{pname}` of `{}`", s.name),
                            *span,
                            "type unknown",
                        )
                        .help(format!("add an annotation: `{pname} : int` (or whatever its type is)")),
                    );
                }
            }
        }
        self.diags.extend(ds);
    }

    /// Report every cycle of the call graph; returns whether there was one.
    fn check_recursion(&mut self) -> bool {
        let n = self.sigs.len();
        let mut succ: Vec<Vec<(FunId, Span)>> = vec![Vec::new(); n];
        for e in &self.edges {
            if let Owner::Fun(f) = e.from {
                succ[f.0 as usize].push((e.to, e.span));
            }
        }
        // Iterative DFS with colours; a back edge closes a cycle.
        let mut colour = vec![0u8; n];
        let mut found = false;
        let mut reported: HashSet<Vec<u32>> = HashSet::new();
        for root in 0..n {
            if colour[root] != 0 {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
            colour[root] = 1;
            while let Some(&mut (v, ref mut i)) = stack.last_mut() {
                if *i < succ[v].len() {
                    let (w, _) = succ[v][*i];
                    *i += 1;
                    let w = w.0 as usize;
                    if colour[w] == 0 {
                        colour[w] = 1;
                        stack.push((w, 0));
                    } else if colour[w] == 1 {
                        found = true;
                        // The cycle is the part of the stack from w to v, closed by v -> w.
                        let start = stack.iter().position(|&(x, _)| x == w).unwrap();
                        let cycle: Vec<(usize, Span)> =
                            stack[start..].iter().map(|&(x, k)| (x, succ[x][k - 1].1)).collect();
                        let mut key: Vec<u32> = cycle.iter().map(|&(x, _)| x as u32).collect();
                        key.sort_unstable();
                        if reported.insert(key) {
                            self.report_cycle(&cycle);
                        }
                    }
                } else {
                    colour[v] = 2;
                    stack.pop();
                }
            }
        }
        found
    }

    fn report_cycle(&mut self, cycle: &[(usize, Span)]) {
        let names: Vec<&str> = cycle.iter().map(|&(f, _)| self.sigs[f].name.as_str()).collect();
        let (msg, help) = if cycle.len() == 1 {
            (format!("`{}` calls itself: recursion is not allowed in PLAN-P", names[0]), "PLAN-P programs must terminate on every packet, so functions cannot be recursive; iterate over a list with foldl or foldr instead".to_string())
        } else {
            let mut path = names.join("` calls `");
            path.push_str(&format!("` calls `{}", names[0]));
            (
                format!("recursion is not allowed in PLAN-P: `{path}`"),
                "PLAN-P programs must terminate on every packet, so functions cannot call each other in a cycle"
                    .to_string(),
            )
        };
        let mut d = Diag::new(
            Phase::Scope,
            "recursion",
            msg,
            cycle[0].1,
            format!("`{}` calls `{}` here", names[0], names[1 % names.len()]),
        );
        for (k, &(_, sp)) in cycle.iter().enumerate().skip(1) {
            d = d.label(sp, format!("`{}` calls `{}` here", names[k], names[(k + 1) % names.len()]));
        }
        self.error(d.help(help));
    }

    /// Functions in an order where every function comes after the functions it calls
    /// (the call graph is acyclic when this is used). Iterative, so that a long chain of
    /// calls cannot exhaust the native stack.
    fn callees_first(&self) -> Vec<usize> {
        let n = self.sigs.len();
        let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
        for e in &self.edges {
            if let Owner::Fun(f) = e.from {
                succ[f.0 as usize].push(e.to.0 as usize);
            }
        }
        let mut order = Vec::with_capacity(n);
        let mut seen = vec![false; n];
        for root in 0..n {
            if seen[root] {
                continue;
            }
            seen[root] = true;
            let mut stack = vec![(root, 0usize)];
            while let Some(top) = stack.last_mut() {
                let (v, i) = *top;
                if i < succ[v].len() {
                    top.1 += 1;
                    let w = succ[v][i];
                    if !seen[w] {
                        seen[w] = true;
                        stack.push((w, 0));
                    }
                } else {
                    order.push(v);
                    stack.pop();
                }
            }
        }
        order
    }

    /// A global's initialiser must not reach, through calls, a global defined later.
    fn check_init_order(&mut self) {
        let n = self.sigs.len();
        // reads*(f): globals read by f or anything it calls.
        let mut reads: Vec<Vec<GlobalId>> = vec![Vec::new(); n];
        for &(o, g, _) in &self.reads {
            if let Owner::Fun(f) = o {
                reads[f.0 as usize].push(g);
            }
        }
        let mut callees: Vec<Vec<usize>> = vec![Vec::new(); n];
        for e in &self.edges {
            if let Owner::Fun(f) = e.from {
                callees[f.0 as usize].push(e.to.0 as usize);
            }
        }
        for f in self.callees_first() {
            let mut r = std::mem::take(&mut reads[f]);
            for &c in &callees[f] {
                if c != f {
                    r.extend_from_slice(&reads[c]);
                }
            }
            r.sort();
            r.dedup();
            reads[f] = r;
        }
        let mut ds = Vec::new();
        for e in &self.edges {
            let Owner::Init(cur) = e.from else { continue };
            if let Some(&g) = reads[e.to.0 as usize].iter().find(|&&g| g >= cur) {
                if !self.order_err.insert((cur.0, g.0)) {
                    continue;
                }
                let (gname, cname, fname) = (
                    &self.globals[g.0 as usize].name,
                    &self.globals[cur.0 as usize].name,
                    &self.sigs[e.to.0 as usize].name,
                );
                ds.push(
                    Diag::new(
                        Phase::Scope,
                        "use-before-definition",
                        format!("`{fname}` uses `{gname}`, which is not yet defined when `{cname}` is initialised"),
                        e.span,
                        "called here",
                    )
                    .label(self.globals[g.0 as usize].span, format!("`{gname}` is defined here"))
                    .help("top-level values are initialised in order; move this definition after the one it uses"),
                );
            }
        }
        self.diags.extend(ds);
    }

    /// The evaluator recurses on the tree, through calls; bound how deep that can go, so
    /// that no program can exhaust the native stack.
    fn check_eval_depth(
        &mut self,
        funs: &[Option<ir::Fun>],
        inits: &[Option<ir::Init>],
        bodies: &[Option<(Expr, u32, Option<ir::Init>)>],
    ) {
        // Functions checked earlier (in an earlier input) keep the depth computed then.
        let mut fun_depth: Vec<usize> = self.sigs.iter().map(|s| s.eval_depth).collect();
        for f in self.callees_first() {
            if let Some(x) = funs.get(f).and_then(Option::as_ref) {
                fun_depth[f] = depth(&x.body, &fun_depth);
            }
        }
        for (s, d) in self.sigs.iter_mut().zip(&fun_depth) {
            s.eval_depth = *d;
        }
        let mut entries: Vec<&Expr> = inits.iter().flatten().map(|i| &i.body).collect();
        for (b, _, init) in bodies.iter().flatten() {
            entries.push(b);
            if let Some(i) = init {
                entries.push(&i.body);
            }
        }
        for e in entries {
            let d = depth(e, &fun_depth);
            if d > MAX_EVAL_DEPTH {
                self.diags.push(
                    Diag::new(
                        Phase::Scope,
                        "too-deep",
                        format!("evaluating this nests {d} levels deep, through calls; the limit is {MAX_EVAL_DEPTH}"),
                        e.span,
                        "here",
                    )
                    .help("flatten the chain of nested calls, or name intermediate results with `let`"),
                );
            }
        }
    }

    /// Frame slots needed by the deepest chain of calls from any entry point.
    fn stack_size(&self, inits: &[Option<ir::Init>], bodies: &[Option<(Expr, u32, Option<ir::Init>)>]) -> usize {
        let n = self.sigs.len();
        let mut out: Vec<Vec<(Slot, usize)>> = vec![Vec::new(); n];
        let mut by_owner: HashMap<Owner, Vec<(Slot, usize)>> = HashMap::new();
        for e in &self.edges {
            match e.from {
                Owner::Fun(f) => out[f.0 as usize].push((e.base, e.to.0 as usize)),
                o => by_owner.entry(o).or_default().push((e.base, e.to.0 as usize)),
            }
        }
        let mut need = vec![0usize; n];
        for f in self.callees_first() {
            let own = self.sigs[f].frame_size as usize;
            need[f] = out[f].iter().fold(own, |m, &(base, to)| m.max(base as usize + need[to]));
        }
        let entries = inits
            .iter()
            .enumerate()
            .map(|(i, x)| (Owner::Init(GlobalId(i as u32)), x.as_ref().map_or(0, |x| x.frame_size)))
            .chain(bodies.iter().enumerate().flat_map(|(i, b)| {
                let b = b.as_ref();
                [
                    (Owner::Channel(i), b.map_or(0, |b| b.1)),
                    (Owner::ChannelInit(i), b.and_then(|b| b.2.as_ref()).map_or(0, |x| x.frame_size)),
                ]
            }));
        let mut total = 0;
        for (owner, frame) in entries {
            let calls = by_owner.get(&owner).map_or(&[][..], |v| v);
            let m = calls.iter().fold(frame as usize, |m, &(base, to)| m.max(base as usize + need[to]));
            total = total.max(m);
        }
        total
    }

    /// Finalise an expression: solved types, and everything derived from them.
    fn fin(&mut self, e: &mut Expr) {
        e.ty = self.subst.zonk(&e.ty);
        match &mut e.kind {
            ExprKind::Const(_)
            | ExprKind::Str(_)
            | ExprKind::Local(_)
            | ExprKind::Outer { .. }
            | ExprKind::Global(_)
            | ExprKind::Nil
            | ExprKind::Raise(_) => {}
            ExprKind::Let { binds, body } => {
                binds.iter_mut().for_each(|(_, v)| self.fin(v));
                self.fin(body);
            }
            ExprKind::List(es, ptr, _) => {
                es.iter_mut().for_each(|x| self.fin(x));
                *ptr = matches!(&e.ty, Type::List(t) if t.is_ptr());
            }
            ExprKind::Seq(es) => es.iter_mut().for_each(|x| self.fin(x)),
            ExprKind::If(a, b, c) => {
                self.fin(a);
                self.fin(b);
                self.fin(c);
            }
            ExprKind::And(a, b) | ExprKind::Or(a, b) | ExprKind::Arith(_, a, b) | ExprKind::Concat(a, b) => {
                self.fin(a);
                self.fin(b);
            }
            ExprKind::Not(a) | ExprKind::Neg(a) | ExprKind::NotI(a) | ExprKind::Proj(a, _) => self.fin(a),
            // Made after finalisation (`ir::tail_states`); nothing to solve.
            ExprKind::States(a, b) => {
                self.fin(a);
                self.fin(b);
            }
            ExprKind::StatesOf(a) => self.fin(a),
            ExprKind::Compare(op, kind, a, b) => {
                self.fin(a);
                self.fin(b);
                *kind = cmp_kind(*op, &a.ty);
            }
            ExprKind::Tuple(es, mask, _) => {
                es.iter_mut().for_each(|x| self.fin(x));
                let ts: Vec<Type> = es.iter().map(|x| x.ty.clone()).collect();
                *mask = tuple_mask(&ts);
            }
            ExprKind::Cons(h, t, hp) => {
                self.fin(h);
                self.fin(t);
                *hp = h.ty.is_ptr();
            }
            ExprKind::Try(b, hs) => {
                self.fin(b);
                hs.iter_mut().for_each(|h| self.fin(&mut h.body));
            }
            ExprKind::Call { args, .. } => args.iter_mut().for_each(|x| self.fin(x)),
            ExprKind::Prim { args, site, .. } => {
                args.iter_mut().for_each(|x| self.fin(x));
                site.args = site.args.iter().map(|t| self.subst.zonk(t)).collect();
                site.ret = self.subst.zonk(&site.ret);
                for t in site.args.iter().chain([&site.ret]) {
                    if let Some(k) = bad_key(t) {
                        let msg = format!("hash-table keys must admit equality, but this table's keys are `{k}`");
                        if !self.diags.iter().any(|d| d.message == msg) {
                            self.diags.push(
                                Diag::new(
                                    Phase::Type,
                                    "table-key",
                                    msg,
                                    args.get(1).map_or(e.span, |a| a.span),
                                    "this key",
                                )
                                .help("keys can be any type except hash tables"),
                            );
                        }
                    }
                }
            }
            ExprKind::Fold { init, list, elem_ptr, .. } => {
                self.fin(init);
                self.fin(list);
                *elem_ptr = matches!(&list.ty, Type::List(t) if t.is_ptr());
            }
            ExprKind::Send { target, packet, neighbor, .. } => {
                self.fin(packet);
                if let Some(n) = neighbor {
                    self.fin(n);
                }
                if &*target.channel == "network" && !packet.ty.has_error() {
                    match layout_of(&packet.ty) {
                        Ok(l) => target.layout = Some(l),
                        Err(why) => self.diags.push(
                            Diag::new(
                                Phase::Type,
                                "packet-type",
                                format!("`{}` is not a packet type", packet.ty),
                                packet.span,
                                "sent to the network here",
                            )
                            .help(why),
                        ),
                    }
                }
            }
        }
    }
}

/// How deeply evaluation may nest, counting the bodies of called functions.
pub const MAX_EVAL_DEPTH: usize = 2000;

/// The nesting depth of evaluating `e`, given the depth of every function's body.
fn depth(e: &Expr, fun_depth: &[usize]) -> usize {
    let inner = match &e.kind {
        ExprKind::Call { fun, .. } | ExprKind::Fold { fun, .. } => fun_depth[fun.0 as usize] + 1,
        _ => 0,
    };
    1 + e.children().into_iter().map(|k| depth(k, fun_depth)).max().unwrap_or(0).max(inner)
}

fn bad_key(t: &Type) -> Option<Type> {
    match t {
        Type::Table(k, v) => {
            if !k.admits_equality() {
                Some((**k).clone())
            } else {
                bad_key(v)
            }
        }
        Type::Tuple(ts) => ts.iter().find_map(bad_key),
        Type::List(t) => bad_key(t),
        _ => None,
    }
}

fn cmp_kind(op: CmpOp, t: &Type) -> CmpKind {
    match (op, t) {
        (
            CmpOp::Eq | CmpOp::Ne,
            Type::Int | Type::Bool | Type::Char | Type::Host | Type::Unit | Type::Error | Type::Var(_),
        ) => CmpKind::Unsigned,
        (CmpOp::Eq | CmpOp::Ne, t) => CmpKind::Deep(t.clone()),
        (_, Type::Int) => CmpKind::Signed,
        (_, Type::String) => CmpKind::Deep(Type::String),
        _ => CmpKind::Unsigned,
    }
}
