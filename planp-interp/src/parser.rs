//! The parser: tokens to [`crate::ast`] by recursive descent, with precedence climbing for
//! binary operators.
//!
//! `(e : t)` constrains the type of `e`.
//!
//! Precedence, loosest first: `orelse`/`or`; `andalso`/`and`; comparisons (which do not
//! chain); `::` (right); `+ - ^`; `* / % div mod`; prefix operators (`~ - not #n hd tl
//! fst snd ord chr explode implode`); calls and atoms. `if`, `try` and `let` may appear
//! wherever an operand may; the branches of `if` and the handlers of `try` extend as far
//! to the right as possible.
//!
//! Error recovery: a declaration that fails to parse is reported and skipped up to the
//! next `channel` or `exception`, or the next `val`/`fun` at the start of a line, so one
//! run reports the mistakes of several declarations. Nesting is bounded, so no input can
//! exhaust the stack.

use crate::ast::*;
use crate::diag::{Diag, Phase};
use crate::lexer::{Kw, Sym, Tok, Token, lex_at};
use crate::span::Span;

/// How deeply expressions and types may nest.
pub const MAX_NESTING: u32 = 256;

/// Parse a whole program. Problems are returned with the (partial) tree.
pub fn parse(src: &str) -> (Program, Vec<Diag>) {
    parse_at(src, 0)
}

/// Parse a program whose spans count from `base` (see [`crate::lexer::lex_at`]).
pub fn parse_at(src: &str, base: u32) -> (Program, Vec<Diag>) {
    let (toks, mut diags) = lex_at(src, base);
    let mut p = Parser { toks, pos: 0, diags: Vec::new(), depth: 0, decl_name: None };
    let prog = p.program();
    // After a literal or comment that is never closed, "found the end of the file" is noise.
    if diags.iter().any(|d| d.name == "unterminated-literal" || d.name == "unterminated-comment") {
        let eof = base + src.len() as u32;
        p.diags.retain(|d| d.span().start < eof);
    }
    diags.append(&mut p.diags);
    diags.sort_by_key(|d| d.span().start);
    (prog, diags)
}

/// What a line typed at the REPL is.
#[derive(Clone, Debug, PartialEq)]
pub enum Interactive {
    /// Declarations (`val`, `fun`, `exception`, `channel`).
    Decls(Vec<Decl>),
    /// An expression to evaluate.
    Expr(Expr),
}

/// Parse REPL input: declarations if it starts with a declaration keyword, otherwise one
/// expression (a trailing `;` is allowed).
pub fn parse_interactive(src: &str, base: u32) -> (Option<Interactive>, Vec<Diag>) {
    let (toks, mut diags) = lex_at(src, base);
    let mut p = Parser { toks, pos: 0, diags: Vec::new(), depth: 0, decl_name: None };
    let starts_decl = matches!(p.peek(), Tok::Kw(Kw::Val | Kw::Fun | Kw::Exception | Kw::Channel));
    let result = if starts_decl {
        let prog = p.program();
        Some(Interactive::Decls(prog.decls))
    } else {
        match p.expr() {
            Ok(e) => {
                if p.peek() == &Tok::Sym(Sym::Semi) {
                    p.bump();
                }
                if p.peek() != &Tok::Eof {
                    let t = p.cur().clone();
                    p.diags.push(Diag::new(
                        Phase::Parse,
                        "trailing-input",
                        format!("expected the end of the input, found {}", t.tok.describe()),
                        t.span,
                        "unexpected",
                    ));
                    None
                } else {
                    Some(Interactive::Expr(e))
                }
            }
            Err(Fail) => None,
        }
    };
    diags.append(&mut p.diags);
    (if diags.is_empty() { result } else { None }, diags)
}

/// Does `src` look like the beginning of an input that continues on the next line (an
/// unfinished declaration or expression, an open comment or string)? What a REPL asks
/// before running an input.
pub fn needs_more(src: &str) -> bool {
    if src.trim().is_empty() {
        return false;
    }
    let (_, diags) = parse_interactive(src, 0);
    let end = src.trim_end().len() as u32;
    diags.iter().any(|d| {
        matches!(d.name, "unterminated-comment")
            || d.message.ends_with("found the end of the file")
            || (d.name == "unterminated-literal"
                && d.span().start < end
                && src[d.span().start as usize..].starts_with('"'))
    }) && !diags.iter().any(|d| {
        d.span().start < end && d.name == "unexpected-token" && !d.message.ends_with("found the end of the file")
    })
}

/// An error has been reported; unwind to the nearest recovery point.
struct Fail;

type PResult<T> = Result<T, Fail>;

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    diags: Vec<Diag>,
    depth: u32,
    /// The kind and name of the top-level declaration being parsed, once its name is
    /// known (so that a declaration that fails later still declares its name).
    decl_name: Option<(BrokenKind, Name)>,
}

impl Parser {
    fn cur(&self) -> &Token {
        &self.toks[self.pos]
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.pos].tok
    }

    fn span(&self) -> Span {
        self.toks[self.pos].span
    }

    fn prev_span(&self) -> Span {
        self.toks[self.pos.saturating_sub(1)].span
    }

    fn bump(&mut self) -> Token {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn at_sym(&self, s: Sym) -> bool {
        self.peek() == &Tok::Sym(s)
    }

    fn at_kw(&self, k: Kw) -> bool {
        self.peek() == &Tok::Kw(k)
    }

    fn eat_sym(&mut self, s: Sym) -> bool {
        if self.at_sym(s) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn eat_kw(&mut self, k: Kw) -> bool {
        if self.at_kw(k) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// Report "expected `what`, found ..." at the current token.
    fn unexpected(&mut self, what: &str) -> Diag {
        let t = self.cur().clone();
        let mut d = Diag::new(
            Phase::Parse,
            "unexpected-token",
            format!("expected {what}, found {}", t.tok.describe()),
            t.span,
            format!("expected {what}"),
        );
        d = match &t.tok {
            Tok::Sym(Sym::Dot) => d.help("components of a tuple are separated by `,`, not `.` (as in `(con, ss)`)"),
            Tok::Sym(Sym::Eq) if what.contains("expression") => {
                d.help("equality is a single `=`; to bind a name use `let val x = e in ... end`")
            }
            Tok::Kw(k @ (Kw::Val | Kw::Fun | Kw::Channel | Kw::Exception)) if what.contains("expression") => {
                d.help(format!("the declaration before this `{}` seems unfinished", k.text()))
            }
            Tok::Kw(Kw::Handle) => d.help("a handler follows `try`: write `try e handle E => e'`"),
            Tok::Ident(f) if f == "fn" => d.help("PLAN-P has no anonymous functions; define a named `fun`"),
            Tok::Sym(Sym::Semi) if what.contains("`]`") || what.contains("`,`") => {
                d.help("list elements and arguments are separated by `,`")
            }
            _ => d,
        };
        d
    }

    fn expect_sym(&mut self, s: Sym) -> PResult<Span> {
        if self.at_sym(s) {
            Ok(self.bump().span)
        } else {
            let d = self.unexpected(&format!("`{}`", s.text()));
            self.diags.push(d);
            Err(Fail)
        }
    }

    /// Expect a closing symbol, pointing also at what it closes.
    fn expect_close(&mut self, s: Sym, open: Span, what: &str) -> PResult<Span> {
        if self.at_sym(s) {
            Ok(self.bump().span)
        } else {
            let d = self.unexpected(&format!("`{}`", s.text())).label(open, format!("to close this {what}"));
            self.diags.push(d);
            Err(Fail)
        }
    }

    fn expect_kw(&mut self, k: Kw, context: Option<(Span, &str)>) -> PResult<Span> {
        if self.at_kw(k) {
            Ok(self.bump().span)
        } else {
            let mut d = self.unexpected(&format!("`{}`", k.text()));
            if let Some((sp, text)) = context {
                d = d.label(sp, text);
            }
            if k == Kw::Else {
                d = d.help("in PLAN-P every `if` has an `else` branch");
            } else if k == Kw::Is && self.at_sym(Sym::Eq) {
                d = d.help("a channel's body follows `is`: `channel c(ps : t1, ss : t2, p : t3) is e`");
            }
            self.diags.push(d);
            Err(Fail)
        }
    }

    fn name(&mut self, what: &str) -> PResult<Name> {
        match self.peek().clone() {
            Tok::Ident(text) => {
                let span = self.bump().span;
                Ok(Name { text, span })
            }
            Tok::Kw(k) => {
                let d = self
                    .unexpected(what)
                    .help(format!("`{}` is a reserved word and cannot be used as a name", k.text()));
                self.diags.push(d);
                Err(Fail)
            }
            Tok::Sym(Sym::LParen) if what == "a name" => {
                let d = self.unexpected(what).help(
                    "PLAN-P has no patterns: bind the tuple to a name and take its components with `#1 t`, `#2 t`",
                );
                self.diags.push(d);
                Err(Fail)
            }
            _ => {
                let d = self.unexpected(what);
                self.diags.push(d);
                Err(Fail)
            }
        }
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            let sp = self.span();
            self.diags.push(
                Diag::new(Phase::Parse, "too-deep", "this expression is nested too deeply", sp, "here")
                    .help("name intermediate results with `let`"),
            );
            return Err(Fail);
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    // ---- declarations -------------------------------------------------------------

    fn program(&mut self) -> Program {
        let mut decls = Vec::new();
        while self.peek() != &Tok::Eof {
            let start = self.pos;
            self.depth = 0;
            self.decl_name = None;
            // ML allows `;` after a declaration; so do we.
            if self.eat_sym(Sym::Semi) {
                continue;
            }
            match self.decl() {
                Ok(d) => decls.push(d),
                Err(Fail) => {
                    if let Some((kind, name)) = self.decl_name.take() {
                        decls.push(Decl::Broken(kind, name));
                    }
                    self.sync(start)
                }
            }
        }
        Program { decls }
    }

    /// Skip to the start of the next declaration (always making progress).
    fn sync(&mut self, decl_start: usize) {
        if self.pos == decl_start {
            self.bump();
        }
        loop {
            let t = self.cur();
            match &t.tok {
                Tok::Eof | Tok::Kw(Kw::Channel | Kw::Exception) => return,
                Tok::Kw(Kw::Val | Kw::Fun) if t.at_line_start => return,
                _ => {
                    self.bump();
                }
            }
        }
    }

    fn decl(&mut self) -> PResult<Decl> {
        match self.peek() {
            Tok::Kw(Kw::Val) => Ok(Decl::Val(self.val_decl()?)),
            Tok::Kw(Kw::Fun) => Ok(Decl::Fun(self.fun_decl()?)),
            Tok::Kw(Kw::Exception) => {
                self.bump();
                Ok(Decl::Exception(self.name("an exception name")?))
            }
            Tok::Kw(Kw::Channel) => Ok(Decl::Channel(Box::new(self.channel_decl()?))),
            _ => {
                let d = self.unexpected("a declaration");
                let d = if d.help.is_some() {
                    d
                } else {
                    d.help("a program is a sequence of `val`, `fun`, `exception` and `channel` declarations")
                };
                self.diags.push(d);
                Err(Fail)
            }
        }
    }

    fn opt_annot(&mut self) -> PResult<Option<TypeExpr>> {
        if self.eat_sym(Sym::Colon) { Ok(Some(self.ty()?)) } else { Ok(None) }
    }

    fn val_decl(&mut self) -> PResult<ValDecl> {
        self.bump(); // val
        let name = self.name("a name")?;
        if self.depth == 0 && self.decl_name.is_none() {
            self.decl_name = Some((BrokenKind::Val, name.clone()));
        }
        let ty = self.opt_annot()?;
        if name.text == "rec" && matches!(self.peek(), Tok::Ident(_)) {
            let d = Diag::new(Phase::Parse, "val-rec", "PLAN-P has no `val rec`", name.span, "not part of PLAN-P")
                .help("define functions with `fun f(x : t) : t = e` (they cannot be recursive)");
            self.diags.push(d);
            return Err(Fail);
        }
        self.expect_sym(Sym::Eq)?;
        let init = self.expr()?;
        Ok(ValDecl { name, ty, init })
    }

    fn param(&mut self) -> PResult<Param> {
        let name = self.name("a parameter name")?;
        let ty = self.opt_annot()?;
        Ok(Param { name, ty })
    }

    fn fun_decl(&mut self) -> PResult<FunDecl> {
        let start = self.bump().span; // fun
        let name = self.name("a function name")?;
        if self.depth == 0 && self.decl_name.is_none() {
            self.decl_name = Some((BrokenKind::Fun, name.clone()));
        }
        let open = self.expect_sym(Sym::LParen).inspect_err(|_| {
            if let Some(d) = self.diags.last_mut() {
                d.help =
                    Some("a function's parameters are written in parentheses: `fun f(x : int) : int = x + 1`".into());
            }
        })?;
        let mut params = Vec::new();
        if !self.at_sym(Sym::RParen) {
            loop {
                params.push(self.param()?);
                if !self.eat_sym(Sym::Comma) {
                    break;
                }
            }
        }
        self.expect_close(Sym::RParen, open, "parameter list")?;
        let ret = self.opt_annot()?;
        self.expect_sym(Sym::Eq)?;
        let body = self.expr()?;
        let span = start.to(body.span);
        Ok(FunDecl { name, params, ret, body, span })
    }

    fn channel_decl(&mut self) -> PResult<ChannelDecl> {
        let start = self.bump().span; // channel
        let name = self.name("a channel name")?;
        if self.depth == 0 && self.decl_name.is_none() {
            self.decl_name = Some((BrokenKind::Channel, name.clone()));
        }
        let open = self.expect_sym(Sym::LParen)?;
        let ps = self.param()?;
        if self.at_sym(Sym::RParen) {
            let d = Diag::new(Phase::Parse, "channel-arity", "a channel has exactly three parameters, this one has one", self.span(), "the other two are missing")
                .help("the parameters are the protocol state, the channel state and the packet: `channel c(ps : t1, ss : t2, p : t3)`");
            self.diags.push(d);
            return Err(Fail);
        }
        self.expect_sym(Sym::Comma)?;
        let ss = self.param()?;
        if self.at_sym(Sym::RParen) {
            let d = Diag::new(Phase::Parse, "channel-arity", "a channel has exactly three parameters, this one has two", self.span(), "the third is missing")
                .help("the parameters are the protocol state, the channel state and the packet: `channel c(ps : t1, ss : t2, p : t3)`");
            self.diags.push(d);
            return Err(Fail);
        }
        self.expect_sym(Sym::Comma)?;
        let pkt = self.param()?;
        if self.at_sym(Sym::Comma) {
            let d = Diag::new(Phase::Parse, "channel-arity", "a channel has exactly three parameters", self.span(), "a fourth parameter starts here")
                .help("the parameters are the protocol state, the channel state and the packet: `channel c(ps : t1, ss : t2, p : t3)`");
            self.diags.push(d);
            return Err(Fail);
        }
        let close = self.expect_close(Sym::RParen, open, "parameter list")?;
        let init = if self.eat_kw(Kw::Initstate) { Some(self.expr()?) } else { None };
        self.expect_kw(Kw::Is, Some((start, "in this channel declaration")))?;
        let body = self.expr()?;
        Ok(ChannelDecl { name, ps, ss, pkt, init, body, head_span: start.to(close) })
    }

    // ---- types --------------------------------------------------------------------

    fn ty(&mut self) -> PResult<TypeExpr> {
        self.enter()?;
        let r = self.ty_tuple();
        self.leave();
        r
    }

    fn ty_tuple(&mut self) -> PResult<TypeExpr> {
        let first = self.ty_postfix()?;
        if !self.at_sym(Sym::Star) {
            return Ok(first);
        }
        let mut parts = vec![first];
        while self.eat_sym(Sym::Star) {
            parts.push(self.ty_postfix()?);
        }
        let span = parts[0].span().to(parts.last().unwrap().span());
        Ok(TypeExpr::Tuple(parts, span))
    }

    fn ty_postfix(&mut self) -> PResult<TypeExpr> {
        let mut t = self.ty_atom()?;
        let mut levels = 0;
        loop {
            if matches!(self.peek(), Tok::Ident(s) if s == "list" || s == "hash_table") {
                levels += 1;
                if self.depth + levels > MAX_NESTING {
                    self.diags.push(
                        Diag::new(Phase::Parse, "too-deep", "this type is nested too deeply", self.span(), "here")
                            .help("PLAN-P types nest a few levels at most; simplify this one"),
                    );
                    return Err(Fail);
                }
            }
            match self.peek() {
                Tok::Ident(s) if s == "list" => {
                    let sp = self.bump().span;
                    let span = t.span().to(sp);
                    t = TypeExpr::List(Box::new(t), span);
                }
                Tok::Ident(s) if s == "hash_table" => {
                    let sp = self.bump().span;
                    let span = t.span().to(sp);
                    t = TypeExpr::Table(Box::new(t), span);
                }
                _ => return Ok(t),
            }
        }
    }

    fn ty_atom(&mut self) -> PResult<TypeExpr> {
        match self.peek().clone() {
            Tok::Ident(text) => {
                let span = self.bump().span;
                Ok(TypeExpr::Named(Name { text, span }))
            }
            Tok::Error => Ok(TypeExpr::Error(self.bump().span)),
            Tok::Sym(Sym::LParen) => {
                let open = self.bump().span;
                let t = self.ty()?;
                if self.at_sym(Sym::Comma) {
                    let d = self.unexpected("`)`").label(open, "in this type").help(
                        "tuple types are written with `*`, as in `(int*host)`; a hash table's type names only its values: `(int*host) hash_table`",
                    );
                    self.diags.push(d);
                    return Err(Fail);
                }
                let close = self.expect_close(Sym::RParen, open, "parenthesis")?;
                Ok(match t {
                    TypeExpr::Tuple(p, _) => TypeExpr::Tuple(p, open.to(close)),
                    t => t,
                })
            }
            _ => {
                let d = self.unexpected("a type").help("types are `int`, `bool`, `char`, `string`, `host`, `blob`, `unit`, `eth`, `ip`, `tcp`, `udp`, `t list`, `t hash_table` and tuples `t1*t2`");
                self.diags.push(d);
                Err(Fail)
            }
        }
    }

    // ---- expressions ----------------------------------------------------------------

    fn expr(&mut self) -> PResult<Expr> {
        self.enter()?;
        let r = self.binary(0);
        self.leave();
        r
    }

    fn binop(&self) -> Option<(BinOp, u8, u8)> {
        Some(match self.peek() {
            Tok::Kw(Kw::Orelse | Kw::Or) => (BinOp::OrElse, 1, 2),
            Tok::Kw(Kw::Andalso | Kw::And) => (BinOp::AndAlso, 3, 4),
            Tok::Sym(Sym::Eq) => (BinOp::Eq, 5, 6),
            Tok::Sym(Sym::Ne) => (BinOp::Ne, 5, 6),
            Tok::Sym(Sym::Lt) => (BinOp::Lt, 5, 6),
            Tok::Sym(Sym::Le) => (BinOp::Le, 5, 6),
            Tok::Sym(Sym::Gt) => (BinOp::Gt, 5, 6),
            Tok::Sym(Sym::Ge) => (BinOp::Ge, 5, 6),
            Tok::Sym(Sym::ColonColon) => (BinOp::Cons, 7, 7),
            Tok::Sym(Sym::At) => (BinOp::Append, 7, 7),
            Tok::Kw(Kw::Ori) => (BinOp::OrI, 9, 10),
            Tok::Kw(Kw::Xori) => (BinOp::XorI, 9, 10),
            Tok::Kw(Kw::Andi) => (BinOp::AndI, 11, 12),
            Tok::Sym(Sym::Shl) => (BinOp::Shl, 13, 14),
            Tok::Sym(Sym::Shr) => (BinOp::Shr, 13, 14),
            Tok::Sym(Sym::Plus) => (BinOp::Add, 15, 16),
            Tok::Sym(Sym::Minus) => (BinOp::Sub, 15, 16),
            Tok::Sym(Sym::Caret) => (BinOp::Concat, 15, 16),
            Tok::Sym(Sym::Star) => (BinOp::Mul, 17, 18),
            Tok::Sym(Sym::Slash) | Tok::Kw(Kw::Div) => (BinOp::Div, 17, 18),
            Tok::Sym(Sym::Percent) | Tok::Kw(Kw::Mod) => (BinOp::Mod, 17, 18),
            _ => return None,
        })
    }

    fn binary(&mut self, min_bp: u8) -> PResult<Expr> {
        // Operands do not count as a level of nesting; prefix operators and parentheses do.
        let mut lhs = self.unary_inner()?;
        let mut chain = 0u32;
        let mut last_cmp: Option<Span> = None;
        while let Some((op, lbp, rbp)) = self.binop() {
            if lbp < min_bp {
                break;
            }
            let op_span = self.bump().span;
            let is_cmp = lbp == 5;
            if is_cmp && let Some(prev) = last_cmp {
                self.diags.push(
                    Diag::new(
                        Phase::Parse,
                        "chained-comparison",
                        "comparisons do not chain",
                        op_span,
                        "second comparison",
                    )
                    .label(prev, "first comparison")
                    .help("write `a < b andalso b < c`, or add parentheses"),
                );
                return Err(Fail);
            }
            chain += 1;
            if self.depth + chain > MAX_NESTING {
                self.diags.push(
                    Diag::new(Phase::Parse, "too-deep", "this expression is nested too deeply", op_span, "here")
                        .help("name intermediate results with `let`"),
                );
                return Err(Fail);
            }
            self.enter()?;
            let rhs = self.binary(rbp);
            self.leave();
            let rhs = rhs?;
            let span = lhs.span.to(rhs.span);
            lhs = Expr { kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs), op_span), span };
            last_cmp = if is_cmp { Some(op_span) } else { None };
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> PResult<Expr> {
        self.enter()?;
        let r = self.unary_inner();
        self.leave();
        r
    }

    fn unary_inner(&mut self) -> PResult<Expr> {
        let start = self.span();
        match self.peek().clone() {
            Tok::Sym(Sym::Tilde | Sym::Minus) => {
                self.bump();
                // Fold a negated decimal literal so that ~9223372036854775808 is i64::MIN.
                if let Tok::Int(m) = *self.peek() {
                    let lit = self.bump().span;
                    if !matches!(self.peek(), Tok::Sym(Sym::LParen)) {
                        return Ok(Expr { kind: ExprKind::Int((m as i64).wrapping_neg()), span: start.to(lit) });
                    }
                    self.pos -= 1;
                }
                let e = self.unary()?;
                Ok(Expr { span: start.to(e.span), kind: ExprKind::Unary(UnOp::Neg, Box::new(e)) })
            }
            Tok::Kw(Kw::Not) => {
                self.bump();
                let e = self.unary()?;
                Ok(Expr { span: start.to(e.span), kind: ExprKind::Unary(UnOp::Not, Box::new(e)) })
            }
            Tok::Kw(Kw::Noti) => {
                self.bump();
                let e = self.unary()?;
                Ok(Expr { span: start.to(e.span), kind: ExprKind::Unary(UnOp::NotI, Box::new(e)) })
            }
            Tok::Hash(n) => {
                self.bump();
                let e = self.unary()?;
                // `#0` and out-of-range numbers are already reported by the lexer.
                let span = start.to(e.span);
                let kind = if n == 0 { ExprKind::Error } else { ExprKind::Proj(n, Box::new(e), start) };
                Ok(Expr { span, kind })
            }
            Tok::Kw(k @ (Kw::Hd | Kw::Tl | Kw::Fst | Kw::Snd | Kw::Ord | Kw::Chr | Kw::Explode | Kw::Implode)) => {
                self.bump();
                let e = self.unary()?;
                let name = Name { text: k.text().to_owned(), span: start };
                Ok(Expr { span: start.to(e.span), kind: ExprKind::Call(name, vec![e]) })
            }
            Tok::Kw(Kw::If) => {
                self.bump();
                let c = self.expr()?;
                self.expect_kw(Kw::Then, Some((start, "in this `if`")))?;
                let t = self.expr()?;
                self.expect_kw(Kw::Else, Some((start, "in this `if`")))?;
                let e = self.expr()?;
                Ok(Expr { span: start.to(e.span), kind: ExprKind::If(Box::new(c), Box::new(t), Box::new(e)) })
            }
            Tok::Kw(Kw::Try) => {
                self.bump();
                let body = self.expr()?;
                self.expect_kw(Kw::Handle, Some((start, "in this `try`")))?;
                let mut handlers = Vec::new();
                loop {
                    let exn =
                        if self.eat_sym(Sym::Underscore) { None } else { Some(self.name("an exception name or `_`")?) };
                    self.expect_sym(Sym::Arrow)?;
                    let body = self.expr()?;
                    handlers.push(Handler { exn, body });
                    if !self.eat_sym(Sym::Bar) {
                        break;
                    }
                }
                let end = handlers.last().map_or(start, |h| h.body.span);
                Ok(Expr { span: start.to(end), kind: ExprKind::Try(Box::new(body), handlers) })
            }
            _ => self.primary(),
        }
    }

    fn args(&mut self, open: Span) -> PResult<Vec<Expr>> {
        let mut args = Vec::new();
        if !self.at_sym(Sym::RParen) {
            loop {
                args.push(self.expr()?);
                if !self.eat_sym(Sym::Comma) {
                    break;
                }
            }
        }
        self.expect_close(Sym::RParen, open, "argument list")?;
        Ok(args)
    }

    fn primary(&mut self) -> PResult<Expr> {
        let t = self.cur().clone();
        let start = t.span;
        let kind = match t.tok {
            Tok::Int(m) => {
                self.bump();
                if m > i64::MAX as u64 {
                    self.diags.push(
                        Diag::new(Phase::Parse, "bad-integer", "this integer does not fit in 64 bits", start, "too large")
                            .help("the largest integer is 9223372036854775807; only ~9223372036854775808 may be written with a larger magnitude"),
                    );
                }
                ExprKind::Int(m as i64)
            }
            Tok::HexInt(v) => {
                self.bump();
                ExprKind::Int(v as i64)
            }
            Tok::Error => {
                self.bump();
                ExprKind::Error
            }
            Tok::Str(s) => {
                self.bump();
                ExprKind::Str(s)
            }
            Tok::Char(c) => {
                self.bump();
                ExprKind::Char(c)
            }
            Tok::Host(h) => {
                self.bump();
                ExprKind::Host(h)
            }
            Tok::Kw(Kw::True) => {
                self.bump();
                ExprKind::Bool(true)
            }
            Tok::Kw(Kw::False) => {
                self.bump();
                ExprKind::Bool(false)
            }
            Tok::Ident(text)
                if text == "fn"
                    && matches!(
                        self.toks[(self.pos + 1).min(self.toks.len() - 1)].tok,
                        Tok::Ident(_) | Tok::Sym(Sym::LParen)
                    )
                    && self.toks[self.pos..].iter().take(40).any(|t| t.tok == Tok::Sym(Sym::Arrow)) =>
            {
                let d =
                    self.unexpected("an expression").help("PLAN-P has no anonymous functions; define a named `fun`");
                self.diags.push(d);
                return Err(Fail);
            }
            Tok::Ident(text) => {
                self.bump();
                let name = Name { text, span: start };
                // `f x`: in PLAN-P nothing can follow a variable directly; an ML
                // programmer means a call. One error, and the declaration is dropped.
                if matches!(
                    self.peek(),
                    Tok::Ident(_)
                        | Tok::Int(_)
                        | Tok::HexInt(_)
                        | Tok::Str(_)
                        | Tok::Char(_)
                        | Tok::Host(_)
                        | Tok::Hash(_)
                ) {
                    let help = match name.text.as_str() {
                        "case" => "PLAN-P has no `case`: use `if ... then ... else`".to_string(),
                        "ref" => {
                            "PLAN-P has no references: keep changing values in the channel states or in hash tables"
                                .to_string()
                        }
                        "fn" => "PLAN-P has no anonymous functions; define a named `fun`".to_string(),
                        f => format!("to call `{f}`, put its arguments in parentheses: `{f}(...)`"),
                    };
                    let d = self
                        .unexpected("an operator or the end of the expression")
                        .label(start, "this is not a function call")
                        .help(help);
                    self.diags.push(d);
                    return Err(Fail);
                }
                if self.at_sym(Sym::LParen) {
                    let open = self.bump().span;
                    let args = self.args(open)?;
                    let span = start.to(self.prev_span());
                    return Ok(Expr { kind: ExprKind::Call(name, args), span });
                }
                ExprKind::Var(name)
            }
            Tok::Sym(Sym::LParen) => return self.paren(),
            Tok::Sym(Sym::LBracket) => {
                let open = self.bump().span;
                let mut elems = Vec::new();
                if !self.at_sym(Sym::RBracket) {
                    loop {
                        elems.push(self.expr()?);
                        if !self.eat_sym(Sym::Comma) {
                            break;
                        }
                    }
                }
                let close = self.expect_close(Sym::RBracket, open, "list")?;
                return Ok(Expr { kind: ExprKind::List(elems), span: open.to(close) });
            }
            Tok::Kw(Kw::Let) => return self.let_expr(),
            Tok::Kw(Kw::Raise) => {
                self.bump();
                let n = self.name("an exception name")?;
                let span = start.to(n.span);
                return Ok(Expr { kind: ExprKind::Raise(n), span });
            }
            Tok::Kw(k @ (Kw::Foldl | Kw::Foldr)) => {
                self.bump();
                let open = self.expect_sym(Sym::LParen)?;
                let f = self.name("the name of a function")?;
                self.expect_sym(Sym::Comma)?;
                let z = self.expr()?;
                self.expect_sym(Sym::Comma)?;
                let l = self.expr()?;
                let close = self.expect_close(Sym::RParen, open, "argument list")?;
                let dir = if k == Kw::Foldl { FoldDir::Left } else { FoldDir::Right };
                return Ok(Expr { kind: ExprKind::Fold(dir, f, Box::new(z), Box::new(l)), span: start.to(close) });
            }
            Tok::Kw(k @ (Kw::OnRemote | Kw::OnNeighbor)) => {
                self.bump();
                let open = self.expect_sym(Sym::LParen)?;
                let ch = self.name("a channel name")?;
                self.expect_sym(Sym::Comma)?;
                let pkt = self.expr()?;
                let (form, dest) = if k == Kw::OnNeighbor {
                    self.expect_sym(Sym::Comma)?;
                    (SendForm::Neighbor, Some(Box::new(self.expr()?)))
                } else {
                    (SendForm::Remote, None)
                };
                let close = self.expect_close(Sym::RParen, open, "argument list")?;
                return Ok(Expr { kind: ExprKind::Send(form, ch, Box::new(pkt), dest), span: start.to(close) });
            }
            _ => {
                let d = self.unexpected("an expression");
                self.diags.push(d);
                return Err(Fail);
            }
        };
        Ok(Expr { kind, span: start })
    }

    /// `()`, `(e)`, `(e1, e2, ...)`, `(e1; e2; ...)`.
    fn paren(&mut self) -> PResult<Expr> {
        let open = self.bump().span;
        if self.at_sym(Sym::RParen) {
            let close = self.bump().span;
            return Ok(Expr { kind: ExprKind::Unit, span: open.to(close) });
        }
        let first = self.expr()?;
        if self.at_sym(Sym::Comma) {
            let mut elems = vec![first];
            while self.eat_sym(Sym::Comma) {
                elems.push(self.expr()?);
            }
            let close = self.expect_close(Sym::RParen, open, "tuple")?;
            return Ok(Expr { kind: ExprKind::Tuple(elems), span: open.to(close) });
        }
        if self.at_sym(Sym::Semi) {
            let mut elems = vec![first];
            while self.eat_sym(Sym::Semi) {
                self.no_trailing_semicolon(Sym::RParen)?;
                elems.push(self.expr()?);
            }
            let close = self.expect_close(Sym::RParen, open, "sequence")?;
            return Ok(Expr { kind: ExprKind::Seq(elems), span: open.to(close) });
        }
        if self.eat_sym(Sym::Colon) {
            let t = self.ty()?;
            let close = self.expect_close(Sym::RParen, open, "parenthesis")?;
            return Ok(Expr { kind: ExprKind::Annot(Box::new(first), t), span: open.to(close) });
        }
        let close = self.expect_close(Sym::RParen, open, "parenthesis")?;
        Ok(Expr { span: open.to(close), ..first })
    }

    /// After a `;` in a sequence, a closing token means a `;` too many.
    fn no_trailing_semicolon(&mut self, close: Sym) -> PResult<()> {
        if self.at_sym(close) {
            let d = Diag::new(
                Phase::Parse,
                "trailing-semicolon",
                "`;` separates expressions; nothing follows this one",
                self.prev_span(),
                "remove this `;`",
            )
            .help("the value of a sequence is its last expression");
            self.diags.push(d);
            return Err(Fail);
        }
        Ok(())
    }

    fn let_expr(&mut self) -> PResult<Expr> {
        let start = self.bump().span; // let
        let mut decls = Vec::new();
        loop {
            match self.peek() {
                Tok::Kw(Kw::Val) => decls.push(LetDecl::Val(self.val_decl()?)),
                Tok::Kw(Kw::Fun) => decls.push(LetDecl::Fun(self.fun_decl()?)),
                Tok::Kw(Kw::Exception) => {
                    self.bump();
                    decls.push(LetDecl::Exception(self.name("an exception name")?));
                }
                Tok::Kw(Kw::In) => break,
                Tok::Sym(Sym::Semi) => {
                    self.bump();
                }
                _ => {
                    let mut d = self.unexpected("`val`, `fun`, `exception` or `in`").label(start, "in this `let`");
                    let next = &self.toks[(self.pos + 1).min(self.toks.len() - 1)].tok;
                    if let (Tok::Ident(n), Tok::Sym(Sym::Eq | Sym::Colon)) = (self.peek(), next) {
                        d = d.help(format!("declarations in `let` start with `val`: `let val {n} = ... in ... end`"));
                    }
                    self.diags.push(d);
                    return Err(Fail);
                }
            }
        }
        self.bump(); // in
        let mut body = vec![self.expr()?];
        while self.eat_sym(Sym::Semi) {
            if self.at_kw(Kw::End) {
                let d = Diag::new(
                    Phase::Parse,
                    "trailing-semicolon",
                    "`;` separates expressions; nothing follows this one",
                    self.prev_span(),
                    "remove this `;`",
                )
                .help("the value of a sequence is its last expression");
                self.diags.push(d);
                return Err(Fail);
            }
            body.push(self.expr()?);
        }
        let end = self.expect_kw(Kw::End, Some((start, "this `let` needs an `end`")))?;
        let body = if body.len() == 1 {
            body.pop().unwrap()
        } else {
            let span = body[0].span.to(body.last().unwrap().span);
            Expr { kind: ExprKind::Seq(body), span }
        };
        Ok(Expr { kind: ExprKind::Let(decls, Box::new(body)), span: start.to(end) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(src: &str) -> Program {
        let (p, d) = parse(src);
        assert!(d.is_empty(), "{d:#?}");
        p
    }

    #[test]
    fn incomplete_inputs_are_recognised() {
        for more in ["let val x = 1 in", "fun f(x : int) : int =", "(1 +", "(* open", "if true then 1", "val s = \"abc"]
        {
            assert!(needs_more(more), "{more}");
        }
        for done in ["1 + 2", "val x = 1", "1 +* 2", "", "let in end"] {
            assert!(!needs_more(done), "{done}");
        }
    }

    #[test]
    fn precedence() {
        let p = ok("val x = 1 + 2 * 3 :: [] ");
        let Decl::Val(v) = &p.decls[0] else { panic!() };
        let ExprKind::Binary(BinOp::Cons, l, _, _) = &v.init.kind else { panic!("{:?}", v.init.kind) };
        assert!(matches!(l.kind, ExprKind::Binary(BinOp::Add, _, _, _)));
    }

    #[test]
    fn min_int_literal() {
        let p = ok("val x = ~9223372036854775808");
        let Decl::Val(v) = &p.decls[0] else { panic!() };
        assert_eq!(v.init.kind, ExprKind::Int(i64::MIN));
    }

    #[test]
    fn recovery_reports_several_declarations() {
        let (p, d) = parse("val x = \nval y = 2\nfun f( = 3\nval z = 1");
        assert_eq!(d.len(), 2, "{d:#?}");
        // The two broken declarations still declare their names.
        let broken = p.decls.iter().filter(|d| matches!(d, Decl::Broken(..))).count();
        assert_eq!((p.decls.len(), broken), (4, 2));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let src = format!("val x = {}1{}", "(".repeat(10_000), ")".repeat(10_000));
        let (_, d) = parse(&src);
        assert!(d.iter().any(|d| d.name == "too-deep"));
        let src = format!("val x = 1{}", " + 1".repeat(10_000));
        let (_, d) = parse(&src);
        assert!(d.iter().any(|d| d.name == "too-deep"));
        let src = format!("val x = {}[]", "1 :: ".repeat(10_000));
        let (_, d) = parse(&src);
        assert!(d.iter().any(|d| d.name == "too-deep"));
    }
}
