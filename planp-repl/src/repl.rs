//! `planp repl [FILE]`: load a protocol, feed captures through it, look at the states,
//! evaluate expressions and declarations, reload.
//!
//! On a terminal the REPL uses rustyline (history, completion of commands, files,
//! engines, primitives, channels and names, multi-line input) and colours; with standard input
//! or output not a terminal it reads lines, prints no prompt and no colour, so a session
//! can be scripted: `planp repl < session.txt`. See `docs/repl.md`.

use crate::run::{Stats, escape};
use planp_interp::capture::{Format, Reader, Writer};
use planp_interp::packet::describe;
use planp_interp::parser::needs_more;
use planp_interp::session::{Session, SessionError};
use planp_interp::{Engine, NodeConfig, Outcome};
use planp_primitives::{Effect, SendKind};
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Editor, Helper};
use std::cell::RefCell;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The commands, with their arguments and what they do (`:help`).
const COMMANDS: &[(&str, &str, &str)] = &[
    (":load", "[--unverified] FILE", "load a program (parse, type-check, verify), listing its channels"),
    (":reload", "", "load the last program again, from scratch"),
    (
        ":pcap",
        "FILE [--out OUT] [--limit N] [--all | --quiet]",
        "feed a capture through the program, a line per packet",
    ),
    (":state", "", "show the protocol state and each channel's state"),
    (":reset", "", "return the states to their initial values"),
    (":type", "EXPR", "show the type of an expression without evaluating it"),
    (":engine", "[interp | jit]", "show or choose the engine that runs channels (choosing resets the states)"),
    (":asm", "[CHANNEL]", "the JIT's code of a channel (NAME or NAME#K), of the dispatch (`dispatch`), or of all"),
    (":prims", "[TEXT]", "list the primitives (whose name contains TEXT)"),
    (":help", "", "this list"),
    (":quit", "", "leave (also Ctrl-D)"),
];

/// Packet lines `:pcap` shows before it only counts (unless `--all`).
const SHOWN_LINES: u64 = 100;

/// Set by Ctrl-C while a capture runs.
static STOP: AtomicBool = AtomicBool::new(false);

/// Completion, multi-line input: what rustyline asks of us.
struct ReplHelper {
    names: Rc<RefCell<Vec<String>>>,
    /// Channels as `:asm` takes them: `NAME` and `NAME#K`.
    channels: Rc<RefCell<Vec<String>>>,
    files: FilenameCompleter,
}

/// The candidates among `words` that start with `word`, replacing it.
fn candidates<'a>(words: impl IntoIterator<Item = &'a String>, word: &str) -> Vec<Pair> {
    let mut c: Vec<Pair> = words
        .into_iter()
        .filter(|n| n.starts_with(word))
        .map(|n| Pair { display: n.clone(), replacement: n.clone() })
        .collect();
    c.dedup_by(|a, b| a.display == b.display);
    c
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        if before.starts_with(':') && !before.contains(' ') {
            let c = COMMANDS
                .iter()
                .filter(|(c, _, _)| c.starts_with(before))
                .map(|(c, _, _)| Pair { display: c.to_string(), replacement: format!("{c} ") })
                .collect();
            return Ok((0, c));
        }
        if before.starts_with(":load ") || before.starts_with(":pcap ") || before.contains("--out ") {
            return self.files.complete(line, pos, ctx);
        }
        // `:asm CHANNEL`, `:engine ENGINE`: one argument, from a fixed list.
        for (cmd, words) in
            [(":asm ", self.channels.borrow().clone()), (":engine ", vec!["interp".into(), "jit".into()])]
        {
            if let Some(arg) = before.strip_prefix(cmd) {
                let word = arg.trim_start();
                if word.contains(char::is_whitespace) {
                    return Ok((pos, Vec::new()));
                }
                return Ok((pos - word.len(), candidates(&words, word)));
            }
        }
        let start = before.rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '\'')).map_or(0, |i| i + 1);
        let word = &before[start..];
        if word.is_empty() {
            return Ok((pos, Vec::new()));
        }
        Ok((start, candidates(self.names.borrow().iter(), word)))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

impl Highlighter for ReplHelper {}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        if !input.trim_start().starts_with(':') && needs_more(input) {
            Ok(ValidationResult::Incomplete)
        } else {
            Ok(ValidationResult::Valid(None))
        }
    }
}

impl Helper for ReplHelper {}

/// A REPL.
pub struct Repl {
    session: Session,
    /// The file loaded last, and whether it was loaded with `--unverified` (`:reload`
    /// loads it the same way).
    file: Option<PathBuf>,
    unverified: bool,
    color: bool,
    interactive: bool,
    names: Rc<RefCell<Vec<String>>>,
    channels: Rc<RefCell<Vec<String>>>,
}

/// An engine's name, as `:engine` takes it.
fn engine_name(e: Engine) -> &'static str {
    match e {
        Engine::Interp => "interp",
        Engine::Jit => "jit",
    }
}

impl Repl {
    fn new(cfg: NodeConfig, color: bool, interactive: bool) -> Repl {
        let names = Rc::new(RefCell::new(Vec::new()));
        let channels = Rc::new(RefCell::new(Vec::new()));
        let mut r =
            Repl { session: Session::new(cfg), file: None, unverified: false, color, interactive, names, channels };
        r.refresh_names();
        r
    }

    /// Primitive, channel and top-level names, for completion.
    fn refresh_names(&mut self) {
        let mut v: Vec<String> = planp_primitives::all().iter().map(|p| p.name.to_string()).collect();
        v.extend(self.session.program().channels.iter().map(|c| c.name.clone()));
        v.extend(self.session.names());
        v.extend(
            [
                "foldl",
                "foldr",
                "OnRemote",
                "OnNeighbor",
                "network",
                "let",
                "val",
                "fun",
                "exception",
                "if",
                "then",
                "else",
                "try",
                "handle",
                "raise",
                "andalso",
                "orelse",
                "not",
            ]
            .map(String::from),
        );
        v.sort();
        v.dedup();
        *self.names.borrow_mut() = v;
        let mut c = Vec::new();
        for ch in &self.session.program().channels {
            if ch.overload == 0 {
                c.push(ch.name.clone());
            }
            c.push(format!("{}#{}", ch.name, ch.overload));
        }
        *self.channels.borrow_mut() = c;
    }

    fn error(&self, out: &mut dyn Write, e: SessionError) {
        match e {
            SessionError::Diags(d) => {
                let _ = write!(out, "{}", self.session.sources.render(&d, self.color, false));
            }
            SessionError::Load(e) => {
                let _ = out.write_all(&e.output);
                let _ = write!(out, "{}", self.session.sources.render(&[e.diag], self.color, false));
            }
            SessionError::Io(m) => {
                let _ = writeln!(out, "error: {m}");
            }
        }
    }

    /// Handle one complete input; `false` means quit.
    pub fn handle(&mut self, input: &str, out: &mut dyn Write) -> bool {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return true;
        }
        if let Some(cmd) = trimmed.strip_prefix(':') {
            let (name, arg) = cmd.split_once(char::is_whitespace).unwrap_or((cmd, ""));
            let arg = arg.trim();
            match name {
                "q" | "quit" => return false,
                "help" | "h" | "?" => self.help(out),
                "load" | "l" => {
                    let (unverified, file) = match arg.strip_prefix("--unverified") {
                        Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => (true, rest.trim()),
                        _ => (false, arg),
                    };
                    if file.is_empty() {
                        let _ = writeln!(out, "error: `:load` needs a file: `:load [--unverified] FILE`");
                    } else {
                        self.load(PathBuf::from(file), unverified, out);
                    }
                }
                "reload" | "r" => match self.file.clone() {
                    Some(f) => self.load(f, self.unverified, out),
                    None => {
                        let _ = writeln!(out, "error: no program has been loaded; use `:load FILE`");
                    }
                },
                "pcap" => self.pcap(arg, out),
                "state" | "s" => {
                    if self.session.program().channels.is_empty() {
                        let _ = writeln!(out, "no channels, so no states: `:load FILE` loads a program");
                    } else {
                        let _ = write!(out, "{}", self.session.describe_states());
                    }
                }
                "reset" => match self.session.node().reset_states() {
                    Ok(()) => {
                        let _ = writeln!(out, "states reset");
                    }
                    Err(e) => self.error(out, SessionError::Load(e)),
                },
                "type" | "t" => {
                    if arg.is_empty() {
                        let _ = writeln!(out, "error: `:type` needs an expression: `:type EXPR`");
                    } else if let Some(t) = self.session.function_type(arg) {
                        let _ = writeln!(out, "{arg} : {t}");
                    } else {
                        match self.session.type_of(arg) {
                            Ok(t) => {
                                let _ = writeln!(out, "{arg} : {t}");
                            }
                            Err(e) => self.error(out, e),
                        }
                    }
                }
                "engine" => self.engine(arg, out),
                "asm" => self.asm(arg, out),
                "prims" | "p" => {
                    let _ = write!(out, "{}", crate::prims(if arg.is_empty() { None } else { Some(arg) }));
                }
                other => {
                    let known: Vec<&str> = COMMANDS.iter().map(|(c, _, _)| &c[1..]).collect();
                    let close = known.iter().find(|k| k.starts_with(&other[..other.len().min(2)]));
                    let hint = close.map(|k| format!(" (did you mean `:{k}`?)")).unwrap_or_default();
                    let _ = writeln!(out, "error: unknown command `:{other}`{hint}; `:help` lists the commands");
                }
            }
            return true;
        }
        match self.session.eval(input) {
            Ok(ev) => {
                let _ = out.write_all(&ev.output);
                if !ev.output.is_empty() && !ev.output.ends_with(b"\n") {
                    let _ = writeln!(out);
                }
                if !ev.warnings.is_empty() {
                    let _ = write!(out, "{}", self.session.sources.render(&ev.warnings, self.color, false));
                }
                for d in &ev.declared {
                    let _ = writeln!(out, "{d}");
                }
                for v in &ev.values {
                    let _ = writeln!(out, "val {} : {} = {}", v.name, v.ty, v.value);
                }
            }
            Err(e) => self.error(out, e),
        }
        self.refresh_names();
        true
    }

    /// `:engine [interp | jit]`.
    fn engine(&mut self, arg: &str, out: &mut dyn Write) {
        let engine = match arg {
            "" => {
                let _ = writeln!(out, "engine: {}", self.engine_status());
                return;
            }
            "interp" => Engine::Interp,
            "jit" => Engine::Jit,
            other => {
                let _ = writeln!(out, "error: unknown engine `{other}`: choose `interp` or `jit`");
                return;
            }
        };
        match self.session.set_engine(engine) {
            Ok(false) => {
                let _ = writeln!(out, "engine: {} (already; nothing changed)", self.engine_status());
            }
            Ok(true) => {
                let _ = writeln!(out, "engine: {}", self.engine_status());
                let _ = writeln!(
                    out,
                    "node restarted on the program and the declarations typed here: top-level values computed again, states reset"
                );
            }
            Err(e) => {
                self.error(out, e);
                let _ = writeln!(
                    out,
                    "engine: {} (unchanged): switching restarts the node, which runs the declarations again, and one raised; `:reload` starts afresh",
                    self.engine_status()
                );
            }
        }
    }

    /// `jit`, `interp`, or `jit (unavailable: WHY; the interpreter runs the channels)`.
    fn engine_status(&self) -> String {
        let name = engine_name(self.session.engine());
        match self.session.jit_unavailable() {
            Some(why) => format!("{name} (unavailable: {why}; the interpreter runs the channels)"),
            None => name.to_string(),
        }
    }

    /// `:asm [CHANNEL]`: under the JIT, the code that runs; under the interpreter, the
    /// code `:engine jit` would run, generated now.
    fn asm(&mut self, arg: &str, out: &mut dyn Write) {
        let prog = self.session.program().clone();
        let which = match crate::asm::select(&prog, arg) {
            Ok(w) => w,
            Err(m) => {
                let _ = writeln!(out, "error: {m}");
                return;
            }
        };
        if let Some(code) = self.session.compiled() {
            let _ = write!(out, "{}", crate::asm::dump(&prog, code, &which));
            return;
        }
        if let Some(why) = self.session.jit_unavailable() {
            let _ = writeln!(out, "error: no code to show: the JIT is unavailable ({why})");
            return;
        }
        match planp_interp::jit::Compiled::new(prog.clone()) {
            Ok(code) => {
                let _ = writeln!(out, "(the engine is interp: this is the code `:engine jit` would run)");
                let _ = write!(out, "{}", crate::asm::dump(&prog, &code, &which));
            }
            Err(e) => {
                let _ = writeln!(out, "error: no code to show: the JIT is unavailable ({e})");
            }
        }
    }

    fn help(&self, out: &mut dyn Write) {
        let _ = writeln!(out, "Commands:");
        for (c, args, what) in COMMANDS {
            let _ = writeln!(out, "  {:<48} {what}", format!("{c} {args}"));
        }
        let _ = writeln!(out, "Anything else is PLAN-P: an expression (its value is bound to `it`) or declarations");
        let _ = writeln!(out, "(`val`, `fun`, `exception`). Input continues on the next line while it is unfinished.");
    }

    /// `:load [--unverified] FILE`: a program that fails verification is not loaded (the
    /// previous one stays) unless `--unverified` asks for it (docs/safety.md).
    fn load(&mut self, path: PathBuf, unverified: bool, out: &mut dyn Write) {
        let name = path.display().to_string();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                let _ = writeln!(out, "error: cannot read {name}: {e}");
                return;
            }
        };
        match Session::load(&name, &text, self.session.config()) {
            Ok(s) => {
                let v = planp_interp::verify::verify(s.program());
                if !v.ok() {
                    let failed = v.failed().join(", ");
                    if !unverified {
                        let _ = write!(out, "{}", s.sources.render(&v.diags, self.color, false));
                        let _ = writeln!(
                            out,
                            "error: {name} fails verification ({failed}), so it is not loaded; `:load --unverified {name}` loads it anyway"
                        );
                        return;
                    }
                    let _ = writeln!(out, "warning: {name} fails verification ({failed}); loaded unverified, as asked");
                }
                self.session = s;
                self.file = Some(path);
                self.unverified = unverified;
                let prog = self.session.program().clone();
                if !prog.warnings.is_empty() {
                    let _ = write!(out, "{}", self.session.sources.render(&prog.warnings, self.color, false));
                }
                let n = prog.channels.len();
                let _ = writeln!(
                    out,
                    "loaded {name}: {n} channel{}, {} function{}",
                    if n == 1 { "" } else { "s" },
                    prog.funs.len(),
                    if prog.funs.len() == 1 { "" } else { "s" }
                );
                for c in &prog.channels {
                    let _ = writeln!(
                        out,
                        "  channel {}#{} : packet {}, state {}",
                        c.name, c.overload, c.pkt_type, c.ss_type
                    );
                }
                if n > 0 {
                    let _ = writeln!(out, "  protocol state : {}", prog.ps_type);
                }
                if let Some(why) = self.session.jit_unavailable() {
                    let _ = writeln!(out, "  the JIT is unavailable ({why}); the interpreter runs the channels");
                }
            }
            Err(b) => {
                let (sources, e) = *b;
                // Keep the previous session running; report against the file's text.
                let saved = std::mem::replace(&mut self.session.sources, sources);
                self.error(out, e);
                self.session.sources = saved;
                self.file = Some(path);
            }
        }
        self.refresh_names();
    }

    fn pcap(&mut self, arg: &str, out: &mut dyn Write) {
        let mut words = arg.split_whitespace();
        let (mut file, mut out_path, mut limit, mut all, mut quiet) = (None, None, None, false, false);
        while let Some(w) = words.next() {
            match w {
                "--out" => match words.next() {
                    Some(p) => out_path = Some(PathBuf::from(p)),
                    None => {
                        let _ = writeln!(out, "error: `--out` needs a file: `:pcap FILE --out OUT`");
                        return;
                    }
                },
                "--limit" => match words.next().map(|n| (n, n.parse::<u64>())) {
                    Some((_, Ok(n))) => limit = Some(n),
                    Some((n, Err(_))) => {
                        let _ = writeln!(out, "error: `--limit` takes a number of packets, not `{n}`");
                        return;
                    }
                    None => {
                        let _ = writeln!(out, "error: `--limit` needs a number of packets: `--limit N`");
                        return;
                    }
                },
                "--all" => all = true,
                "--quiet" => quiet = true,
                f if file.is_none() && !f.starts_with("--") => file = Some(f.to_string()),
                other => {
                    let _ = writeln!(
                        out,
                        "error: unexpected `{other}`; usage: :pcap FILE [--out OUT] [--limit N] [--all | --quiet]"
                    );
                    return;
                }
            }
        }
        let Some(file) = file else {
            let _ = writeln!(out, "error: `:pcap` needs a capture: `:pcap FILE`");
            return;
        };
        let mut reader = match Reader::open(&file) {
            Ok(r) => r,
            Err(e) => {
                let _ = writeln!(out, "error: {e}");
                return;
            }
        };
        let prog = self.session.program().clone();
        let progress = self.interactive && std::io::stderr().is_terminal();
        let mut writer: Option<Writer> = None;
        let mut stats = Stats::default();
        let started = Instant::now();
        let mut last_progress = Instant::now();
        STOP.store(false, Ordering::SeqCst);
        let mut stopped = false;
        let mut damage = None;
        // One outcome for every packet: its buffers are reused (no allocation per packet).
        let mut o = Outcome::default();
        while limit.is_none_or(|l| stats.packets_in < l) {
            if STOP.swap(false, Ordering::SeqCst) {
                stopped = true;
                break;
            }
            let p = match reader.next() {
                None => break,
                Some(Ok(p)) => p,
                Some(Err(e)) => {
                    damage = Some(e);
                    break;
                }
            };
            stats.packets_in += 1;
            self.session.node().process_into(p.link, &p.data, p.orig_len as usize, p.ts_ns, &mut o);
            let o = &o;
            stats.count(o);
            if !quiet && (all || stats.packets_in <= SHOWN_LINES) {
                let line = self.compact_line(&prog, stats.packets_in, p.link, &p.data, o);
                if progress {
                    let _ = write!(std::io::stderr(), "\r\x1b[K");
                }
                let _ = writeln!(out, "{line}");
            }
            if let Some(path) = &out_path {
                if writer.is_none() {
                    let nanos = !matches!(reader.format(), Some(Format::Pcap { nanos: false, .. }));
                    match Writer::create(path, p.link, nanos) {
                        Ok(w) => writer = Some(w),
                        Err(e) => {
                            let _ = writeln!(out, "error: {e}");
                            return;
                        }
                    }
                }
                if let Some(w) = writer.as_mut().filter(|w| w.link() == p.link) {
                    for f in &o.frames {
                        let orig = if o.pass_through { p.orig_len } else { f.len() as u32 };
                        if let Err(e) = w.write(p.ts_ns, f, orig) {
                            let _ = writeln!(out, "error: {e}");
                            return;
                        }
                    }
                }
            }
            if progress && last_progress.elapsed() > Duration::from_millis(200) {
                last_progress = Instant::now();
                let _ = write!(std::io::stderr(), "\r\x1b[K{} packets...", stats.packets_in);
                let _ = std::io::stderr().flush();
            }
        }
        if progress {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
        if let Some(w) = writer
            && let Err(e) = w.finish()
        {
            let _ = writeln!(out, "error: {e}");
        }
        if !quiet && !all && stats.packets_in > SHOWN_LINES {
            let _ = writeln!(
                out,
                "... {} more packets not shown (`:pcap FILE --all` shows every one)",
                stats.packets_in - SHOWN_LINES
            );
        }
        if stopped {
            let _ = writeln!(out, "interrupted after {} packets", stats.packets_in);
        }
        if let Some(e) = damage {
            let _ = writeln!(out, "error: {e}");
        }
        let secs = started.elapsed().as_secs_f64();
        let pps = if secs > 0.0 { stats.packets_in as f64 / secs } else { 0.0 };
        let delivered = if stats.delivered > 0 { format!(", {} delivered", stats.delivered) } else { String::new() };
        let _ = writeln!(
            out,
            "{} in, {} out, {} passed through, {} dropped{delivered}, {} exception{}; {:.0} packets/s{}",
            stats.packets_in,
            stats.frames_out,
            stats.passed,
            stats.dropped,
            stats.exceptions,
            if stats.exceptions == 1 { "" } else { "s" },
            pps,
            out_path.map(|p| format!("; written to {}", p.display())).unwrap_or_default()
        );
    }

    /// One line for a packet: the channel, then what happened, `;`-separated.
    fn compact_line(
        &self,
        prog: &planp_interp::Program,
        n: u64,
        lt: planp_interp::LinkType,
        frame: &[u8],
        o: &Outcome,
    ) -> String {
        let head = match o.channel {
            Some(i) => format!("#{n} {}#{}", prog.channels[i].name, prog.channels[i].overload),
            None => format!("#{n} no channel"),
        };
        let before = describe::fields(lt, frame);
        let mut events = Vec::new();
        let mut frames = o.frames.iter();
        for e in &o.effects {
            match e {
                Effect::Print(s) => events.push(format!("print \"{}\"", escape(s))),
                Effect::Deliver(b) => events.push(format!("deliver len={}", b.len())),
                Effect::Send(s) => {
                    let Some(f) = frames.next() else { continue };
                    let how = if s.kind == SendKind::Remote { "OnRemote" } else { "OnNeighbor" };
                    let changes = describe::changes(&before, &describe::fields(lt, f));
                    let what = if changes.is_empty() { "unchanged".to_string() } else { changes.join(", ") };
                    let to =
                        if &*s.channel == "network" { String::new() } else { format!(" {}#{}", s.channel, s.overload) };
                    events.push(format!("{how}{to} len={} {what}", f.len()));
                }
            }
        }
        if let Some(x) = &o.exception {
            events.push(format!("exception {} at {}", x.exn, self.session.sources.locate(x.span.start)));
        }
        if o.pass_through {
            events.push("pass".into());
        } else if o.frames.is_empty() {
            events.push("drop".into());
        }
        format!("{head}: {}", events.join("; "))
    }
}

fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PLANP_HISTORY") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".planp_history"))
}

/// Run the REPL, loading `file` first if given (unverified if `unverified` says so).
pub fn main(file: Option<String>, unverified: bool, cfg: NodeConfig) -> ExitCode {
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let color = interactive && std::env::var_os("NO_COLOR").is_none();
    let mut repl = Repl::new(cfg, color, interactive);
    let stdout = std::io::stdout();
    if interactive {
        let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst));
        println!("planp {} — PLAN-P REPL. `:help` lists the commands, Ctrl-D leaves.", env!("CARGO_PKG_VERSION"));
    }
    if let Some(f) = file {
        repl.load(PathBuf::from(f), unverified, &mut stdout.lock());
    }
    if interactive {
        let config = rustyline::Config::builder().auto_add_history(true).max_history_size(10_000).map(|b| b.build());
        let Ok(config) = config else { return ExitCode::from(1) };
        let mut rl: Editor<ReplHelper, rustyline::history::DefaultHistory> = match Editor::with_config(config) {
            Ok(rl) => rl,
            Err(e) => {
                eprintln!("error: cannot start the line editor: {e}");
                return ExitCode::from(1);
            }
        };
        rl.set_helper(Some(ReplHelper {
            names: repl.names.clone(),
            channels: repl.channels.clone(),
            files: FilenameCompleter::new(),
        }));
        let hist = history_path();
        if let Some(h) = &hist {
            let _ = rl.load_history(h);
        }
        loop {
            match rl.readline("planp> ") {
                Ok(line) => {
                    let keep = repl.handle(&line, &mut stdout.lock());
                    let _ = stdout.lock().flush();
                    if !keep {
                        break;
                    }
                }
                Err(ReadlineError::Interrupted) => {
                    println!("^C (Ctrl-D or :quit leaves)");
                }
                Err(ReadlineError::Eof) => break,
                Err(e) => {
                    eprintln!("error: {e}");
                    break;
                }
            }
        }
        if let Some(h) = &hist {
            let _ = rl.save_history(h);
        }
        return ExitCode::SUCCESS;
    }
    // Scripted: lines from standard input, inputs continued while unfinished.
    let stdin = std::io::stdin();
    let mut pending = String::new();
    let mut out = stdout.lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if !pending.is_empty() {
            pending.push('\n');
        }
        pending.push_str(&line);
        if !pending.trim_start().starts_with(':') && needs_more(&pending) {
            continue;
        }
        let input = std::mem::take(&mut pending);
        let keep = repl.handle(&input, &mut out);
        let _ = out.flush();
        if !keep {
            return ExitCode::SUCCESS;
        }
    }
    if !pending.trim().is_empty() {
        repl.handle(&pending, &mut out);
    }
    ExitCode::SUCCESS
}
