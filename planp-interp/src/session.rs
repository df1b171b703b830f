//! An interactive session: a loaded program on a node, plus declarations and expressions
//! typed afterwards (what `planp repl` drives).
//!
//! Every piece of text the session has seen (the program file, then each input) is a
//! segment of one [`SourceMap`]: input N is parsed with its spans counted from the end
//! of the text before it, so a diagnostic or a run-time exception can point into any of
//! them and be shown with the right name, line and column.

use crate::ast;
use crate::diag::{Diag, Severity};
use crate::ir::Program;
use crate::jit::Compiled;
use crate::node::{Engine, LoadError, Node, NodeConfig};
use crate::parser::{self, Interactive};
use crate::span::{Span, line_col};
use crate::typeck::Env;
use miette::{Diagnostic, LabeledSpan, MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};
use planp_primitives::{Effect, Type, value};
use std::fmt;
use std::sync::Arc;

#[derive(Clone, Debug)]
struct Segment {
    name: String,
    base: u32,
    text: Arc<str>,
}

/// All the text of a session, each piece at its own offsets.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    segments: Vec<Segment>,
}

impl SourceMap {
    /// Add a piece of text; returns the offset its spans count from.
    pub fn add(&mut self, name: impl Into<String>, text: &str) -> u32 {
        // One byte of gap keeps an empty segment's end apart from the next one's start.
        let base = self.segments.last().map_or(0, |s| s.base + s.text.len() as u32 + 1);
        self.segments.push(Segment { name: name.into(), base, text: Arc::from(text) });
        base
    }

    fn segment(&self, offset: u32) -> Option<&Segment> {
        self.segments.iter().rev().find(|s| s.base <= offset)
    }

    /// `name:line:col` of an offset.
    pub fn locate(&self, offset: u32) -> String {
        match self.segment(offset) {
            Some(s) => {
                let (l, c) = line_col(&s.text, (offset - s.base) as usize);
                format!("{}:{l}:{c}", s.name)
            }
            None => format!("?:{offset}"),
        }
    }

    /// Render diagnostics whose spans point into this map: with source excerpts and
    /// labels (`color` for a terminal), or one line each (`short`).
    pub fn render(&self, diags: &[Diag], color: bool, short: bool) -> String {
        let mut out = String::new();
        if short {
            for d in diags {
                let sev = if d.is_error() { "" } else { "warning: " };
                out.push_str(&format!("{}: {sev}{}: {}\n", self.locate(d.span().start), d.code(), d.message));
            }
            return out;
        }
        let handler = if color {
            miette::GraphicalReportHandler::new()
        } else {
            miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
                .with_width(100)
                .with_links(false)
        };
        for d in diags {
            let r = MapReport { diag: d, map: self };
            let _ = handler.render_report(&mut out, &r);
        }
        out
    }
}

impl SourceCode for SourceMap {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let seg = self.segment(span.offset() as u32).ok_or(MietteError::OutOfBounds)?;
        let base = seg.base as usize;
        let local = SourceSpan::new((span.offset() - base).into(), span.len());
        let c = seg.text.read_span(&local, context_lines_before, context_lines_after)?;
        let at = SourceSpan::new((c.span().offset() + base).into(), c.span().len());
        Ok(Box::new(MietteSpanContents::new_named(
            seg.name.clone(),
            c.data(),
            at,
            c.line(),
            c.column(),
            c.line_count(),
        )))
    }
}

struct MapReport<'a> {
    diag: &'a Diag,
    map: &'a SourceMap,
}

impl fmt::Debug for MapReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl fmt::Display for MapReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl std::error::Error for MapReport<'_> {}

impl Diagnostic for MapReport<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.diag.code()))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(if self.diag.severity == Severity::Error { miette::Severity::Error } else { miette::Severity::Warning })
    }
    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diag.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(self.map)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        // Labels in another segment than the first cannot share its excerpt.
        let first = self.map.segment(self.diag.span().start).map(|s| s.base);
        Some(Box::new(
            self.diag
                .labels
                .iter()
                .enumerate()
                .filter(move |(_, l)| self.map.segment(l.span.start).map(|s| s.base) == first)
                .map(|(i, l)| {
                    let text = if l.text.is_empty() { None } else { Some(l.text.clone()) };
                    if i == 0 {
                        LabeledSpan::new_primary_with_span(text, l.span)
                    } else {
                        LabeledSpan::new_with_span(text, l.span)
                    }
                }),
        ))
    }
}

/// Why an input was not evaluated.
#[derive(Debug)]
pub enum SessionError {
    /// It does not parse or type-check.
    Diags(Vec<Diag>),
    /// An initialiser raised an exception.
    Load(LoadError),
    /// A file could not be read.
    Io(String),
}

/// A value a declaration or expression produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shown {
    /// The name (`it` for an expression).
    pub name: String,
    /// Its type.
    pub ty: String,
    /// Its value, as source (truncated when large).
    pub value: String,
}

/// What evaluating an input did.
#[derive(Clone, Debug, Default)]
pub struct Evaluated {
    /// Bytes printed.
    pub output: Vec<u8>,
    /// The values bound, in order.
    pub values: Vec<Shown>,
    /// Functions and exceptions declared (as `fun f : int -> int`, `exception E`).
    pub declared: Vec<String>,
    /// Warnings.
    pub warnings: Vec<Diag>,
}

/// A session.
pub struct Session {
    /// Everything the session has read.
    pub sources: SourceMap,
    env: Env,
    node: Node,
    cfg: NodeConfig,
    inputs: u32,
    /// How many elements of a list or table, or bytes of a string, values show.
    pub budget: usize,
}

impl Session {
    /// A session with no program (only declarations typed at the prompt).
    pub fn new(cfg: NodeConfig) -> Session {
        let (prog, env) = Env::empty("<empty>");
        let node = Node::new(Arc::new(prog), cfg).expect("the empty program loads");
        Session { sources: SourceMap::default(), env, node, cfg, inputs: 0, budget: 50 }
    }

    /// A session running the program `text` (named `name`).
    pub fn load(name: &str, text: &str, cfg: NodeConfig) -> Result<Session, Box<(SourceMap, SessionError)>> {
        let mut sources = SourceMap::default();
        sources.add(name, text);
        let (ast, diags) = parser::parse(text);
        let errors: Vec<Diag> = diags.iter().filter(|d| d.is_error()).cloned().collect();
        let checked = Env::load(name, Arc::from(text), &ast);
        let (mut prog, env) = match checked {
            Ok(x) if errors.is_empty() => x,
            Ok(_) => return Err(Box::new((sources, SessionError::Diags(diags)))),
            Err(mut d) => {
                let mut all = diags;
                all.append(&mut d);
                all.sort_by_key(|d| d.span().start);
                return Err(Box::new((sources, SessionError::Diags(all))));
            }
        };
        prog.warnings.extend(diags.into_iter().filter(|d| !d.is_error()));
        let node = Node::new(Arc::new(prog), cfg).map_err(|e| Box::new((sources.clone(), SessionError::Load(e))))?;
        Ok(Session { sources, env, node, cfg, inputs: 0, budget: 50 })
    }

    /// The node.
    pub fn node(&mut self) -> &mut Node {
        &mut self.node
    }

    /// The program (with what was declared at the prompt).
    pub fn program(&self) -> &Arc<Program> {
        self.node.program()
    }

    /// The node's configuration.
    pub fn config(&self) -> NodeConfig {
        self.cfg
    }

    /// The engine asked for (see [`Session::jit_unavailable`] for whether it runs).
    pub fn engine(&self) -> Engine {
        self.cfg.engine
    }

    /// Run channels on `engine` from now on. The node is started again from the
    /// session's program: the loaded file and every declaration typed since, whose
    /// initialisers run again in order (what they print is discarded), then the
    /// channels' `initstate`s. So top-level values are computed again and **the states
    /// start from their initial values**; names and types do not change.
    ///
    /// Returns `Ok(false)`, and changes nothing, when `engine` already is the engine;
    /// `Ok(true)` when the node was started again. If an initialiser raises this time,
    /// the session keeps its node and engine and the error says why. Asking for the JIT
    /// where it cannot run is not an error: the interpreter runs the channels and
    /// [`Session::jit_unavailable`] says why.
    pub fn set_engine(&mut self, engine: Engine) -> Result<bool, SessionError> {
        if engine == self.cfg.engine {
            return Ok(false);
        }
        let cfg = NodeConfig { engine, ..self.cfg };
        let node = Node::new(self.node.program().clone(), cfg).map_err(SessionError::Load)?;
        self.node = node;
        self.cfg = cfg;
        Ok(true)
    }

    /// Why the JIT does not run the channels although it is the engine asked for.
    pub fn jit_unavailable(&self) -> Option<&str> {
        self.node.jit_unavailable()
    }

    /// The channels' machine code, when the JIT runs them.
    pub fn compiled(&self) -> Option<&Compiled> {
        self.node.compiled()
    }

    /// Names in scope at top level.
    pub fn names(&self) -> Vec<String> {
        self.env.names()
    }

    fn next_input(&mut self, text: &str) -> u32 {
        self.inputs += 1;
        self.sources.add(format!("<input {}>", self.inputs), text)
    }

    /// Evaluate declarations or an expression typed at the prompt. An expression's value
    /// is bound to `it`.
    pub fn eval(&mut self, text: &str) -> Result<Evaluated, SessionError> {
        let base = self.next_input(text);
        let (parsed, diags) = parser::parse_interactive(text, base);
        let Some(parsed) = parsed else { return Err(SessionError::Diags(diags)) };
        let is_expr = matches!(parsed, Interactive::Expr(_));
        let decls = match parsed {
            Interactive::Decls(d) => d,
            Interactive::Expr(e) => {
                let name = ast::Name { text: "it".into(), span: e.span };
                vec![ast::Decl::Val(ast::ValDecl { name, ty: None, init: e })]
            }
        };
        let g0 = self.program().globals.len();
        let e0 = self.program().exceptions.len();
        let backup = self.env.clone();
        let delta = self.env.add(&ast::Program { decls }).map_err(SessionError::Diags)?;
        let effects = match self.node.extend(&delta) {
            Ok(e) => e,
            Err(mut e) => {
                // The node refused the declarations (an initialiser raised): forget them.
                self.env = backup;
                if is_expr && e.diag.name == "uncaught-exception" {
                    // An expression typed at the prompt is not an initialiser to the user:
                    // say only what escaped, and where.
                    if let Some(exn) = e.diag.message.split('`').nth(1) {
                        let exn = exn.to_string();
                        e.diag.message = format!("uncaught exception `{exn}`");
                        e.diag.labels.truncate(1);
                        e.diag.help = Some(format!("to catch it: `try EXPR handle {exn} => VALUE`"));
                    }
                } else if is_expr && e.diag.name == "resource-limit" {
                    e.diag.message = "the node's resource limit stopped this expression".to_string();
                    e.diag.labels.truncate(1);
                }
                return Err(SessionError::Load(e));
            }
        };
        let mut ev = Evaluated { warnings: delta.warnings.clone(), ..Evaluated::default() };
        for e in effects {
            if let Effect::Print(s) = e {
                ev.output.extend_from_slice(&s);
            }
        }
        for (i, g) in delta.globals.iter().enumerate() {
            let gi = g0 + i;
            let ty = self.env.global_type(gi);
            let mut v = String::new();
            let mut budget = self.budget;
            value::repr(self.node.heap(), &zonked(&ty), self.node.global(gi), &mut v, &mut budget);
            ev.values.push(Shown { name: g.name.clone(), ty: ty.to_string(), value: v });
        }
        for f in &delta.funs {
            if !f.local {
                let params: Vec<String> = f.params.iter().map(Type::to_string).collect();
                ev.declared.push(format!("fun {}({}) : {}", f.name, params.join(", "), f.ret));
            }
        }
        for x in &self.program().exceptions[e0..] {
            ev.declared.push(format!("exception {x}"));
        }
        Ok(ev)
    }

    /// The type of a function or primitive named `name`, if it is one (`:type f`).
    pub fn function_type(&self, name: &str) -> Option<String> {
        self.env.function_type(name).or_else(|| {
            if self.env.global_named(name).is_some() {
                return None;
            }
            planp_primitives::lookup(name).map(|(_, p)| format!("{} (primitive)", p.signature))
        })
    }

    /// The type of an expression, without evaluating it.
    pub fn type_of(&mut self, text: &str) -> Result<Type, SessionError> {
        let base = self.next_input(text);
        let (parsed, diags) = parser::parse_interactive(text, base);
        match parsed {
            Some(Interactive::Expr(e)) => self.env.type_of(&e).map_err(SessionError::Diags),
            Some(Interactive::Decls(_)) => Err(SessionError::Diags(vec![Diag::new(
                crate::diag::Phase::Parse,
                "not-an-expression",
                "`:type` takes an expression",
                Span::new(base as usize, base as usize + text.len()),
                "a declaration",
            )])),
            None => Err(SessionError::Diags(diags)),
        }
    }

    /// The states, one per line (tables and long values truncated).
    pub fn describe_states(&self) -> String {
        self.node.describe_states(self.budget)
    }
}

/// A type with its unsolved variables read as `unit` (how the run time treats them).
fn zonked(t: &Type) -> Type {
    match t {
        Type::Var(_) => Type::Unit,
        Type::Tuple(ts) => Type::Tuple(ts.iter().map(zonked).collect()),
        Type::List(t) => Type::List(Box::new(zonked(t))),
        Type::Table(k, v) => Type::Table(Box::new(zonked(k)), Box::new(zonked(v))),
        t => t.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Reader;

    /// Counts packets in the protocol state, bytes in its channel state and a table
    /// global, and forwards every packet with its TTL lowered.
    const PROG: &str = "val seen : int hash_table = mkTable(8)\n\
        channel network(ps : int, ss : int, p : ip*blob) initstate 10 is\n\
        \x20 (tablePut(seen, ipSrc(#1 p), ps);\n\
        \x20  OnRemote(network, (ipTtlSet(#1 p, ipTtl(#1 p) - 1), #2 p)); (ps + 1, ss + ipLen(#1 p)))\n";

    fn load() -> Session {
        match Session::load("t.planp", PROG, NodeConfig::default()) {
            Ok(s) => s,
            Err(b) => panic!("{:?}", b.1),
        }
    }

    /// The frames each packet of the HTTP capture gives.
    fn feed(s: &mut Session) -> Vec<Vec<Vec<u8>>> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/http-three-clients.pcap");
        let mut r = Reader::open(path).unwrap();
        let mut out = Vec::new();
        while let Some(p) = r.next() {
            let p = p.unwrap();
            out.push(s.node().process_captured(p.link, &p.data, p.orig_len as usize, p.ts_ns).frames);
        }
        out
    }

    fn value(s: &mut Session, expr: &str) -> String {
        s.eval(expr).unwrap().values.pop().unwrap().value
    }

    #[test]
    fn switching_engines_keeps_declarations_and_resets_states() {
        let mut s = load();
        let initial = s.describe_states();
        s.eval("val k = 7").unwrap();
        let by_interp = feed(&mut s);
        let states = s.describe_states();
        assert_ne!(states, initial);
        assert_eq!(value(&mut s, "tableSize(seen)"), "5");
        // The same engine again changes nothing.
        assert!(!s.set_engine(Engine::Interp).unwrap());
        assert_eq!(s.describe_states(), states);
        assert!(s.set_engine(Engine::Jit).unwrap());
        assert_eq!(s.engine(), Engine::Jit);
        assert_eq!(s.config().engine, Engine::Jit);
        assert!(s.compiled().is_some() != s.jit_unavailable().is_some());
        // States and top-level values start again; declarations typed here stay.
        assert_eq!(s.describe_states(), initial);
        assert_eq!(value(&mut s, "tableSize(seen)"), "0");
        assert_eq!(value(&mut s, "k + 1"), "8");
        // The same packets give the same frames and the same states.
        assert_eq!(feed(&mut s), by_interp);
        assert_eq!(s.describe_states(), states);
        // Declarations typed under the JIT are compiled with the channels.
        s.eval("fun twice(x : int) : int = 2 * x").unwrap();
        assert_eq!(value(&mut s, "twice(k)"), "14");
        assert!(s.set_engine(Engine::Interp).unwrap());
        assert!(s.compiled().is_none() && s.jit_unavailable().is_none());
        assert_eq!(value(&mut s, "twice(k)"), "14");
    }

    /// A declaration that held only because of what the channels did raises when the
    /// node starts again: the session keeps its node, states and engine.
    #[test]
    fn a_failed_switch_changes_nothing() {
        let mut s = load();
        feed(&mut s);
        s.eval("val first = tableGet(seen, 10.0.0.1)").unwrap();
        let states = s.describe_states();
        let first = value(&mut s, "first");
        match s.set_engine(Engine::Jit) {
            Err(SessionError::Load(e)) => assert!(e.diag.message.contains("NotFound"), "{}", e.diag.message),
            Err(e) => panic!("{e:?}"),
            Ok(b) => panic!("switched: {b}"),
        }
        assert_eq!(s.engine(), Engine::Interp);
        assert_eq!(s.describe_states(), states);
        assert_eq!(value(&mut s, "first"), first);
        assert_eq!(value(&mut s, "tableSize(seen)"), "5");
    }
}
