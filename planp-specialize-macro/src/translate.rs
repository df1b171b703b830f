//! From the body of a two-level function to the body of its generating extension.
//!
//! Every expression of the body is classified by binding time as it is translated:
//!
//! - **static**: computed by the generating extension, as written (the syntax tree,
//!   slots, types, anything computed from static parameters only);
//! - **dynamic**: a machine word known when the code runs: in the generating extension
//!   it is a [`planp_jit::V`] handle, and computing it emits code;
//! - **fallible**: a dynamic `Result`/`Option`: its failure is a jump to the current
//!   handler, its success value a `V` (or nothing);
//! - **the machine** (a place such as `m` or `&mut m.rt.heap`), which only appears as the
//!   receiver or an argument of a call that becomes a *shim* (a call of the Rust code
//!   through the one ABI) or of a frame operation;
//! - **never**: control left (`return`, `Err(..)`, `None`).
//!
//! The translation of an expression is a Rust expression of the generating extension
//! (`Out`). See `docs/specialization.md` for the rules and their reasons.

use crate::model::{ParamKind, RetKind, TwoLevel, WordTy, fresh};
use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use std::collections::HashMap;
use syn::spanned::Spanned;
use syn::{BinOp, Block, Expr, ExprCall, ExprMethodCall, Pat, Stmt, UnOp};

type Ty = Option<WordTy>;

/// The translation of an expression.
#[derive(Clone)]
pub enum Out {
    /// A static value: the expression computing it in the generating extension.
    Static(TokenStream),
    /// A dynamic word: an expression of type `V` (owned or shared).
    Dyn(TokenStream, Ty),
    /// A dynamic `Result`/`Option`: an expression of type `V` ([`FK::Value`]) or `()`
    /// ([`FK::Unit`]); failure has jumped to the current handler.
    Fallible(TokenStream, FK),
    /// Dynamic effects and no value: an expression of type `()`.
    Unit(TokenStream),
    /// Control left: an expression of type `()` that ends in a jump.
    Never(TokenStream),
    /// A place in the machine (original syntax, for shims).
    Machine(TokenStream),
    /// The payload of a dynamic failure (it carries no data: errors keep theirs in the
    /// machine).
    Marker,
}

/// What a name is bound to.
#[derive(Clone, Debug)]
enum Bind {
    /// A static value (bound at this depth of dynamic control).
    Static {
        depth: usize,
    },
    /// A `let mut` dynamic variable: a `Var` (released at scope end).
    Var(Ty),
    /// A dynamic value held by a parameter or `let`: a `V` it owns, if owned
    /// (discarded at scope end). The flag says the name is used once, outside any loop
    /// or closure, in its scope: that use is its last, so it hands the value over owned
    /// (an operation can then work in place, a call need not save it) instead of
    /// shared; the discard at scope end is then a no-op.
    Val(Ty, bool),
    /// A byte slice of the machine (`let b: &[u8] = ...`): the `V`s of its address and
    /// its length, released at scope end; read with `b.be(off, n)` and `b.len()` only.
    Slice(Ident, Ident),
    Machine,
    Marker,
}

struct Scope {
    vars: Vec<(Ident, Bind)>,
}

/// The translation of one function.
pub struct Cx<'a> {
    fns: &'a HashMap<String, TwoLevel>,
    me: &'a TwoLevel,
    machine_ty: TokenStream,
    machine_name: Option<Ident>,
    scopes: Vec<Scope>,
    /// Depth of dynamic control (dynamic `if`, `while`, handler arms).
    dyn_depth: usize,
    /// Set by a block for the `let` it translates next: is its name used once after it?
    next_let_once: bool,
    counter: u32,
    /// When the function has `return`s: the result var (if it gives a word) and the
    /// exit label.
    ret: Option<(Option<Ident>, Ident)>,
    pub shims: Vec<TokenStream>,
    shim_count: u32,
    pub errors: Vec<syn::Error>,
    cg: Ident,
}

fn err(span: Span, msg: impl std::fmt::Display) -> syn::Error {
    syn::Error::new(span, msg)
}

/// An error covering all of `t` (its first to its last token).
fn err_at<T: ToTokens>(t: T, msg: impl std::fmt::Display) -> syn::Error {
    syn::Error::new_spanned(t, msg)
}

type R<T> = Result<T, syn::Error>;

/// What a fallible expression gives on success.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FK {
    /// A word (of this type, if known).
    Value(Ty),
    /// Nothing.
    Unit,
}

impl FK {
    fn of(r: Option<WordTy>) -> FK {
        match r {
            Some(w) => FK::Value(Some(w)),
            None => FK::Unit,
        }
    }
}

/// The expected shape at a position (from a function's result, for `Ok(..)` etc.).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Want {
    Any,
    Fallible(FK),
}

fn cond_of(op: &BinOp, ty: Ty, at: &syn::ExprBinary) -> R<TokenStream> {
    let signed = match op {
        BinOp::Eq(_) => return Ok(quote!(::planp_jit::Cond::Eq)),
        BinOp::Ne(_) => return Ok(quote!(::planp_jit::Cond::Ne)),
        _ => match ty {
            Some(t) => t.signed(),
            None => {
                return Err(err_at(
                    at,
                    "the type of these dynamic values is not known here, so an ordering comparison cannot be signed or unsigned: give the value a type (`let x: i64 = ...` or `x as u64`)",
                ));
            }
        },
    };
    Ok(match (op, signed) {
        (BinOp::Lt(_), true) => quote!(::planp_jit::Cond::LtS),
        (BinOp::Le(_), true) => quote!(::planp_jit::Cond::LeS),
        (BinOp::Gt(_), true) => quote!(::planp_jit::Cond::GtS),
        (BinOp::Ge(_), true) => quote!(::planp_jit::Cond::GeS),
        (BinOp::Lt(_), false) => quote!(::planp_jit::Cond::LtU),
        (BinOp::Le(_), false) => quote!(::planp_jit::Cond::LeU),
        (BinOp::Gt(_), false) => quote!(::planp_jit::Cond::GtU),
        (BinOp::Ge(_), false) => quote!(::planp_jit::Cond::GeU),
        _ => unreachable!("not a comparison"),
    })
}

fn negate_cond(c: &TokenStream) -> TokenStream {
    let s = c.to_string();
    let name = s.rsplit("::").next().unwrap_or("").trim().to_string();
    let neg = match name.as_str() {
        "Eq" => "Ne",
        "Ne" => "Eq",
        "LtS" => "GeS",
        "GeS" => "LtS",
        "LeS" => "GtS",
        "GtS" => "LeS",
        "LtU" => "GeU",
        "GeU" => "LtU",
        "LeU" => "GtU",
        "GtU" => "LeU",
        _ => unreachable!("not a condition"),
    };
    let id = format_ident!("{}", neg);
    quote!(::planp_jit::Cond::#id)
}

fn is_comparison(op: &BinOp) -> bool {
    matches!(op, BinOp::Eq(_) | BinOp::Ne(_) | BinOp::Lt(_) | BinOp::Le(_) | BinOp::Gt(_) | BinOp::Ge(_))
}

/// The single identifier an expression is, if it is one.
fn as_ident(e: &Expr) -> Option<&Ident> {
    match e {
        Expr::Path(p) if p.qself.is_none() && p.path.segments.len() == 1 && p.attrs.is_empty() => {
            let s = &p.path.segments[0];
            s.arguments.is_empty().then_some(&s.ident)
        }
        Expr::Paren(p) => as_ident(&p.expr),
        _ => None,
    }
}

/// The name of a path call's function (`Ok`, `eval`, `lift`...).
fn call_name(c: &ExprCall) -> Option<String> {
    match &*c.func {
        Expr::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

fn single_segment_call(c: &ExprCall) -> Option<String> {
    match &*c.func {
        Expr::Path(p) if p.qself.is_none() && p.path.segments.len() == 1 => Some(p.path.segments[0].ident.to_string()),
        _ => None,
    }
}

/// Does `e` contain a `return` (outside closures)?
pub fn has_return(b: &Block) -> bool {
    struct V(bool);
    impl<'ast> syn::visit::Visit<'ast> for V {
        fn visit_expr_return(&mut self, _: &'ast syn::ExprReturn) {
            self.0 = true;
        }
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    }
    let mut v = V(false);
    syn::visit::visit_block(&mut v, b);
    v.0
}

impl<'a> Cx<'a> {
    pub fn new(fns: &'a HashMap<String, TwoLevel>, me: &'a TwoLevel, machine_ty: TokenStream) -> Cx<'a> {
        let machine_name = me.params.iter().find(|p| matches!(p.kind, ParamKind::Machine)).map(|p| p.name.clone());
        Cx {
            fns,
            me,
            machine_ty,
            machine_name,
            scopes: vec![Scope { vars: Vec::new() }],
            dyn_depth: 0,
            next_let_once: false,
            counter: 0,
            ret: None,
            shims: Vec::new(),
            shim_count: 0,
            errors: Vec::new(),
            cg: Ident::new("__planp_cg", Span::mixed_site()),
        }
    }

    fn fresh(&mut self, p: &str) -> Ident {
        fresh(p, &mut self.counter)
    }

    fn lookup(&self, id: &Ident) -> Option<Bind> {
        for s in self.scopes.iter().rev() {
            for (n, b) in s.vars.iter().rev() {
                if n == id {
                    return Some(b.clone());
                }
            }
        }
        None
    }

    fn bind(&mut self, id: Ident, b: Bind) {
        self.scopes.last_mut().expect("a scope").vars.push((id, b));
    }

    /// Is any identifier in `tokens` bound to something dynamic?
    fn mentions_dynamic(&self, tokens: TokenStream) -> Option<Span> {
        for t in tokens {
            match t {
                TokenTree::Ident(i) => {
                    if let Some(b) = self.lookup(&i)
                        && !matches!(b, Bind::Static { .. })
                    {
                        return Some(i.span());
                    }
                }
                TokenTree::Group(g) => {
                    if let Some(s) = self.mentions_dynamic(g.stream()) {
                        return Some(s);
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// Before the arms of a dynamic choice are translated: a variable handed over owned
    /// at its one use on each path (`Bind::Val(_, true)`) that two or more arms use is
    /// passed shared in them instead. The arms are generated one after the other, so the
    /// first would free the value before the next reads it; it is freed at the end of
    /// its scope instead.
    fn share_across_arms(&mut self, arms: &[TokenStream]) {
        fn mentions(id: &Ident, ts: &TokenStream) -> bool {
            ts.clone().into_iter().any(|t| match t {
                TokenTree::Ident(i) => &i == id,
                TokenTree::Group(g) => mentions(id, &g.stream()),
                _ => false,
            })
        }
        for scope in &mut self.scopes {
            for (name, b) in &mut scope.vars {
                if let Bind::Val(_, once) = b
                    && *once
                    && arms.iter().filter(|a| mentions(name, a)).count() > 1
                {
                    *once = false;
                }
            }
        }
    }

    // ---- the function ---------------------------------------------------------------

    /// The body of the generating extension.
    pub fn function(&mut self, body: &Block) -> R<TokenStream> {
        let cg = self.cg.clone();
        for p in &self.me.params.clone() {
            let b = match p.kind {
                ParamKind::Static => Bind::Static { depth: 0 },
                ParamKind::Machine => Bind::Machine,
                ParamKind::Word(w) => Bind::Val(Some(w), used_once(&p.name, body.stmts.iter())),
            };
            self.bind(p.name.clone(), b);
        }
        let want = match self.me.ret {
            RetKind::Fallible(w) => Want::Fallible(FK::of(w)),
            _ => Want::Any,
        };
        let mut prologue = TokenStream::new();
        if has_return(body) {
            let label = self.fresh("ret_label");
            let var = match self.me.ret {
                RetKind::Word(_) | RetKind::Fallible(Some(_)) => {
                    let v = self.fresh("ret");
                    prologue.extend(quote!(let #v = #cg.var();));
                    Some(v)
                }
                _ => None,
            };
            prologue.extend(quote!(let #label = #cg.label();));
            self.ret = Some((var, label));
        }
        let (stmts, tail) = self.block_parts(body, want, true)?;
        let value = self.conform_ret(tail, body.span())?;
        let value_is_v = matches!(self.me.ret, RetKind::Word(_) | RetKind::Fallible(Some(_)));
        // The word parameters are the function's to free (an owned argument was handed
        // over; one used once was consumed already, and freeing it again does nothing).
        let params: Vec<Ident> =
            self.me.params.iter().filter(|p| matches!(p.kind, ParamKind::Word(_))).map(|p| p.name.clone()).collect();
        let value = if params.is_empty() {
            value
        } else if value_is_v {
            quote!({ let __r = #value; #(#cg.discard(#params);)* __r })
        } else {
            quote!({ #value; #(#cg.discard(#params);)* })
        };
        let finish = match &self.ret {
            // When no `return` was emitted, the value is the body's own (a constant stays
            // a constant) and there is no join.
            Some((Some(var), label)) => quote! {
                let __v = #value;
                if #cg.targeted(#label) {
                    #cg.set(#var, __v);
                    #cg.bind(#label);
                    #cg.take(#var)
                } else {
                    #cg.release_var(#var);
                    __v
                }
            },
            Some((None, label)) => quote! {
                #value;
                #cg.bind(#label);
            },
            None if value_is_v => quote!(#value),
            None => quote!(#value;),
        };
        Ok(quote! {
            #prologue
            #stmts
            #finish
        })
    }

    /// Make a value fit the function's result: a `V` expression or a `()` one.
    fn conform_ret(&mut self, o: Out, span: Span) -> R<TokenStream> {
        let cg = self.cg.clone();
        match self.me.ret {
            RetKind::Unit | RetKind::Fallible(None) => match o {
                Out::Static(ts) | Out::Unit(ts) | Out::Never(ts) | Out::Fallible(ts, FK::Unit) => {
                    Ok(quote!({ let _ = #ts; }))
                }
                Out::Dyn(ts, _) | Out::Fallible(ts, FK::Value(_)) => Ok(quote!({ let __d = #ts; #cg.discard(__d); })),
                Out::Machine(_) | Out::Marker => Err(err(span, "this function gives back nothing here")),
            },
            RetKind::Word(w) | RetKind::Fallible(Some(w)) => self.value_of(o, Some(w), span),
        }
    }

    // ---- blocks and statements --------------------------------------------------------

    /// A block's statements (as generating-extension code) and its tail value. The
    /// block's own scope is closed here: its dynamic locals are discarded, except a
    /// local the tail gives back (its ownership moves with it).
    fn block_parts(&mut self, b: &Block, want: Want, _fn_body: bool) -> R<(TokenStream, Out)> {
        self.scopes.push(Scope { vars: Vec::new() });
        let r = self.block_inner(b, want);
        let scope = self.scopes.pop().expect("the block's scope");
        let (stmts, tail, moved) = r?;
        let cg = self.cg.clone();
        let mut drops = TokenStream::new();
        for (name, bind) in scope.vars.iter().rev() {
            if Some(name) == moved.as_ref() {
                continue;
            }
            match bind {
                Bind::Val(..) => drops.extend(quote!(#cg.discard(#name);)),
                Bind::Var(_) => drops.extend(quote!(#cg.release_var(#name);)),
                Bind::Slice(p, l) => drops.extend(quote!(#cg.release(#p); #cg.release(#l);)),
                _ => {}
            }
        }
        if drops.is_empty() {
            return Ok((stmts, tail));
        }
        // Evaluate the tail, then drop the locals.
        let t = self.fresh("t");
        let tail = match tail {
            Out::Static(ts) => Out::Static(quote!({ let #t = #ts; #drops #t })),
            Out::Dyn(ts, ty) => Out::Dyn(quote!({ let #t = #ts; #drops #t }), ty),
            Out::Fallible(ts, k) => Out::Fallible(quote!({ let #t = #ts; #drops #t }), k),
            Out::Unit(ts) => Out::Unit(quote!({ #ts; #drops })),
            Out::Never(ts) => Out::Never(quote!({ #ts; #drops })),
            o @ (Out::Machine(_) | Out::Marker) => {
                let _ = o;
                return Err(err_at(b, "a block cannot give back the machine or a failure"));
            }
        };
        Ok((stmts, tail))
    }

    fn block_inner(&mut self, b: &Block, want: Want) -> R<(TokenStream, Out, Option<Ident>)> {
        let mut out = TokenStream::new();
        let mut diverged = false;
        let n = b.stmts.len();
        for (i, s) in b.stmts.iter().enumerate() {
            let last = i + 1 == n;
            match s {
                Stmt::Expr(e, None) if last => {
                    // The tail: a bare local gives its ownership to the block's value.
                    let moved = self.movable_local(e, want);
                    let o = if let Some((id, ty, wrap)) = &moved {
                        if *wrap { Out::Fallible(quote!(#id), FK::Value(*ty)) } else { Out::Dyn(quote!(#id), *ty) }
                    } else {
                        self.expr(e, want)?
                    };
                    return Ok((out, o, moved.map(|m| m.0)));
                }
                _ => {
                    // A `let` of one name: is that name used once in the rest of the block?
                    self.next_let_once = match s {
                        Stmt::Local(l) => match &l.pat {
                            Pat::Ident(pi) => used_once(&pi.ident, b.stmts[i + 1..].iter()),
                            Pat::Type(pt) => match &*pt.pat {
                                Pat::Ident(pi) => used_once(&pi.ident, b.stmts[i + 1..].iter()),
                                _ => false,
                            },
                            _ => false,
                        },
                        _ => false,
                    };
                    let (ts, never) = self.stmt_diverging(s)?;
                    out.extend(ts);
                    diverged = never;
                }
            }
        }
        if diverged {
            return Ok((out, Out::Never(quote!(())), None));
        }
        Ok((out, Out::Unit(quote!(())), None))
    }

    /// `x` or `Ok(x)`/`Some(x)` where `x` is a dynamic local of the innermost scope.
    fn movable_local(&self, e: &Expr, want: Want) -> Option<(Ident, Ty, bool)> {
        let (inner, wrap) = match e {
            Expr::Call(c)
                if matches!(call_name(c).as_deref(), Some("Ok" | "Some"))
                    && c.args.len() == 1
                    && matches!(want, Want::Fallible(FK::Value(_))) =>
            {
                (&c.args[0], true)
            }
            _ => (e, false),
        };
        let id = as_ident(inner)?;
        let scope = self.scopes.last()?;
        let (_, b) = scope.vars.iter().rev().find(|(n, _)| n == id)?;
        match b {
            Bind::Val(ty, _) => Some((id.clone(), *ty, wrap)),
            _ => None,
        }
    }

    /// A statement, and whether control leaves with it (`return`, `Err(..)`).
    fn stmt_diverging(&mut self, s: &Stmt) -> R<(TokenStream, bool)> {
        let cg = self.cg.clone();
        match s {
            Stmt::Expr(e, _semi) => {
                let o = self.expr(e, Want::Any)?;
                let never = matches!(o, Out::Never(_));
                Ok((
                    match o {
                        Out::Static(ts) | Out::Unit(ts) | Out::Never(ts) => quote!(#ts;),
                        Out::Dyn(ts, _) => quote!({ let __d = #ts; #cg.discard(__d); }),
                        Out::Fallible(_, _) => {
                            return Err(err_at(
                                e,
                                "this dynamic `Result` is ignored: use `?` (fail on to the caller) or `match` it; in generated code a failure is a jump, so it cannot be dropped",
                            ));
                        }
                        Out::Machine(_) => return Err(err_at(e, "the machine as a statement does nothing")),
                        Out::Marker => quote!(),
                    },
                    never,
                ))
            }
            s => Ok((self.stmt_plain(s)?, false)),
        }
    }

    fn stmt_plain(&mut self, s: &Stmt) -> R<TokenStream> {
        let cg = self.cg.clone();
        match s {
            Stmt::Local(l) => self.local(l),
            Stmt::Item(i) => Err(err_at(i, "items inside a two-level function are not supported: put them outside")),
            // `note!(fmt, args..)`: a note on the code emitted next, formatted from static
            // values at specialization time (the interpreter's copy drops it).
            Stmt::Macro(m) if m.mac.path.is_ident("note") => {
                const NOTE: &str = "a note is formatted when the code is generated: it can only show static values";
                if let Some(sp) = self.mentions_dynamic(m.mac.tokens.clone()) {
                    return Err(err(sp, NOTE));
                }
                // Names captured by the format string (`{x}`, `{x:?}`) count too.
                if let Some(TokenTree::Literal(lit)) = m.mac.tokens.clone().into_iter().next() {
                    let text = lit.to_string();
                    for piece in text.split('{').skip(1) {
                        let name: String = piece.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                        if name.is_empty() || name.chars().next().is_some_and(|c| c.is_ascii_digit()) {
                            continue;
                        }
                        let id = Ident::new(&name, lit.span());
                        if self.lookup(&id).is_some_and(|b| !matches!(b, Bind::Static { .. })) {
                            return Err(err(lit.span(), NOTE));
                        }
                    }
                }
                let tokens = &m.mac.tokens;
                Ok(quote!(if #cg.notes() { #cg.note(&::std::format!(#tokens)); }))
            }
            Stmt::Macro(m) => {
                if let Some(sp) = self.mentions_dynamic(m.mac.tokens.clone()) {
                    return Err(err(sp, "a macro cannot take dynamic values: call a function instead"));
                }
                Ok(quote!(#m))
            }
            Stmt::Expr(e, _semi) => {
                let o = self.expr(e, Want::Any)?;
                Ok(match o {
                    Out::Static(ts) | Out::Unit(ts) | Out::Never(ts) => quote!(#ts;),
                    Out::Dyn(ts, _) => quote!({ let __d = #ts; #cg.discard(__d); }),
                    Out::Fallible(_, _) => {
                        return Err(err_at(
                            e,
                            "this dynamic `Result` is ignored: use `?` (fail on to the caller) or `match` it; in generated code a failure is a jump, so it cannot be dropped",
                        ));
                    }
                    Out::Machine(_) => return Err(err_at(e, "the machine as a statement does nothing")),
                    Out::Marker => quote!(),
                })
            }
        }
    }

    fn local(&mut self, l: &syn::Local) -> R<TokenStream> {
        let cg = self.cg.clone();
        let mut force_dynamic = false;
        for a in &l.attrs {
            if a.path().is_ident("dynamic") {
                force_dynamic = true;
            } else if a.path().is_ident("stat") {
            } else {
                return Err(err_at(a, "only `#[dynamic]` and `#[stat]` may mark a `let` here"));
            }
        }
        let force_static = l.attrs.iter().any(|a| a.path().is_ident("stat"));
        let (pat, annot) = match &l.pat {
            Pat::Type(pt) => (&*pt.pat, Some(&*pt.ty)),
            p => (p, None),
        };
        let Some(init) = &l.init else {
            return Err(err_at(l, "a `let` in a two-level function needs a value"));
        };
        if let Some((_, d)) = &init.diverge {
            return Err(err_at(d, "`let ... else` is not supported in a two-level function"));
        }
        if annot.is_some_and(is_byte_slice) {
            return self.slice_local(pat, &init.expr, force_static);
        }
        let annot_ty = annot.and_then(WordTy::parse);
        let o = self.expr(&init.expr, Want::Any)?;
        let o = match (o, force_dynamic) {
            (Out::Static(ts), true) => {
                let t = annot_ty.map(|t| t.rust());
                let v = match t {
                    Some(t) if annot_ty != Some(WordTy::Bool) => {
                        quote!(#cg.imm(::planp_jit::ToWord::to_word((#ts) as #t)))
                    }
                    _ => quote!(#cg.imm(::planp_jit::ToWord::to_word(#ts))),
                };
                Out::Dyn(v, annot_ty)
            }
            (o, _) => o,
        };
        match o {
            Out::Static(ts) => {
                let mut names = Vec::new();
                collect_pat_idents(pat, &mut names);
                for n in names {
                    self.bind(n, Bind::Static { depth: self.dyn_depth });
                }
                let ty = annot.map(|t| quote!(: #t));
                Ok(quote!(let #pat #ty = #ts;))
            }
            Out::Dyn(ts, ty) if !force_static => {
                let ty = annot_ty.or(ty);
                match pat {
                    Pat::Ident(pi) if pi.subpat.is_none() => {
                        let id = pi.ident.clone();
                        if pi.mutability.is_some() {
                            self.bind(id.clone(), Bind::Var(ty));
                            Ok(quote!(let #id = #cg.var(); { let __v = #ts; #cg.set(#id, __v); }))
                        } else {
                            let once = std::mem::take(&mut self.next_let_once);
                            self.bind(id.clone(), Bind::Val(ty, once));
                            Ok(quote!(let #id = #ts;))
                        }
                    }
                    Pat::Wild(_) => Ok(quote!({ let __d = #ts; #cg.discard(__d); })),
                    p => Err(err_at(p, "a dynamic value is bound to one name (dynamic tuples do not exist)")),
                }
            }
            Out::Dyn(..) => Err(err_at(&init.expr, "this value is dynamic, but the `let` is marked `#[stat]`")),
            Out::Fallible(..) => Err(err_at(
                &init.expr,
                "a dynamic `Result` must be used with `?` or `match`ed, not bound: in generated code its failure is a jump",
            )),
            Out::Unit(ts) | Out::Never(ts) => {
                if let Pat::Ident(pi) = pat {
                    self.bind(pi.ident.clone(), Bind::Static { depth: self.dyn_depth });
                    Ok(quote!(let #pat = #ts;))
                } else {
                    Ok(quote!(let _ = #ts;))
                }
            }
            Out::Machine(_) => Err(err_at(
                &init.expr,
                "a reference into the machine cannot be bound to a name: write the whole path (`m.rt.heap`) where it is used",
            )),
            Out::Marker => {
                if let Pat::Ident(pi) = pat {
                    self.bind(pi.ident.clone(), Bind::Marker);
                }
                Ok(quote!())
            }
        }
    }

    /// `let b: &[u8] = CALL;`, CALL a call with the machine that gives bytes of it: a
    /// shim that gives the slice's address and length ([`planp_jit::Gen::call_slice`]).
    fn slice_local(&mut self, pat: &Pat, init: &Expr, force_static: bool) -> R<TokenStream> {
        const WHAT: &str = "a byte slice is bound by `let name: &[u8] = CALL;` where CALL is a call that takes the machine and gives bytes of it (`m.heap.bytes(h)`)";
        let Pat::Ident(pi) = pat else { return Err(err_at(pat, WHAT)) };
        if pi.mutability.is_some() || pi.subpat.is_some() || pi.by_ref.is_some() {
            return Err(err_at(pat, WHAT));
        }
        if force_static {
            return Err(err_at(pat, "a byte slice of the machine is dynamic: it cannot be marked `#[stat]`"));
        }
        let call = match init {
            Expr::Paren(p) => &*p.expr,
            e => e,
        };
        let ts = match call {
            Expr::Call(_) | Expr::MethodCall(_) => match self.shim_call_expr_kind(call, ShimKind::Slice)? {
                Some(Out::Dyn(ts, _)) => ts,
                _ => return Err(err_at(init, WHAT)),
            },
            _ => return Err(err_at(init, WHAT)),
        };
        let id = pi.ident.clone();
        let p = format_ident!("__{}_ptr", id);
        let l = format_ident!("__{}_len", id);
        self.bind(id, Bind::Slice(p.clone(), l.clone()));
        Ok(quote!(let (#p, #l) = #ts;))
    }

    /// A method call on a byte slice: `b.be(off, n)` (a static width; the offset static,
    /// a load at a constant displacement, or dynamic) or `b.len()`.
    fn slice_method(&mut self, mc: &ExprMethodCall, p: &Ident, l: &Ident) -> R<Out> {
        let cg = self.cg.clone();
        match (mc.method.to_string().as_str(), mc.args.len()) {
            ("len", 0) => Ok(Out::Dyn(quote!(#l.shared()), Some(WordTy::U64))),
            ("be", 2) => {
                let n = match self.expr(&mc.args[1], Want::Any)? {
                    Out::Static(ts) => ts,
                    _ => {
                        return Err(err_at(
                            &mc.args[1],
                            "the width of `.be` is static (a field has a fixed size): only its offset may be dynamic",
                        ));
                    }
                };
                let n = quote!(::core::convert::TryFrom::try_from(#n).expect("a static width of at most 8 bytes"));
                Ok(Out::Dyn(
                    match self.expr(&mc.args[0], Want::Any)? {
                        Out::Static(off) => quote!(#cg.load_be(
                            #p.shared(),
                            #l.shared(),
                            ::core::convert::TryFrom::try_from(#off).expect("a static offset below 4 GiB"),
                            #n,
                        )),
                        o => {
                            let off = self.value_of(o, Some(WordTy::U64), mc.args[0].span())?;
                            quote!({ let __off = #off; #cg.load_be_at(#p.shared(), #l.shared(), __off, #n) })
                        }
                    },
                    Some(WordTy::U64),
                ))
            }
            _ => Err(err_at(
                mc,
                "a byte slice of the machine is read with `.be(offset, width)` (a big-endian number, 0 if the bytes are not all there) and `.len()` only",
            )),
        }
    }

    /// `inline1(f, m, a)` (and `inline2`): `f` a static two-level function
    /// value (`planp_jit::Inline1`...), `m` the machine, then the words. Its generating
    /// extension runs here, for the part of the machine it works on.
    fn inline_call(&mut self, c: &ExprCall, k: usize) -> R<Out> {
        let cg = self.cg.clone();
        if c.args.len() != k + 2 {
            return Err(err_at(c, format!("`inline{k}` takes the function, the machine and {k} word(s)")));
        }
        let f = match self.expr(&c.args[0], Want::Any)? {
            Out::Static(ts) => ts,
            _ => return Err(err_at(&c.args[0], "the function inlined is static data (a `planp_jit::Inline` value)")),
        };
        if !matches!(self.expr(&c.args[1], Want::Any)?, Out::Machine(_)) {
            return Err(err_at(&c.args[1], "the second argument of an inlined call is the machine"));
        }
        let mut pre = TokenStream::new();
        let mut names = Vec::new();
        for a in c.args.iter().skip(2) {
            let o = self.expr(a, Want::Any)?;
            let v = self.value_of(o, Some(WordTy::U64), a.span())?;
            let t = self.fresh("ia");
            pre.extend(quote!(let #t = #v;));
            names.push(t);
        }
        let fv = self.fresh("inl");
        Ok(Out::Dyn(
            quote!({
                let #fv = #f;
                #pre
                #cg.part(|__planp_part| (#fv.r#gen)(#(#names,)* __planp_part))
            }),
            Some(WordTy::U64),
        ))
    }

    // ---- conversions ------------------------------------------------------------------

    /// An expression of type `V` for a value that must be dynamic, `ty` the type the
    /// context expects (for lifting constants).
    fn value_of(&mut self, o: Out, ty: Ty, span: Span) -> R<TokenStream> {
        let cg = self.cg.clone();
        Ok(match o {
            Out::Static(ts) => match ty {
                Some(t) if t != WordTy::Bool => {
                    let rt = t.rust();
                    quote_spanned!(span=> #cg.imm(::planp_jit::ToWord::to_word((#ts) as #rt)))
                }
                _ => quote_spanned!(span=> #cg.imm(::planp_jit::ToWord::to_word(#ts))),
            },
            Out::Dyn(ts, _) | Out::Fallible(ts, FK::Value(_)) => ts,
            Out::Never(ts) => quote!({ #ts; #cg.never() }),
            Out::Fallible(ts, FK::Unit) | Out::Unit(ts) => {
                let _ = ts;
                return Err(err(span, "this gives no value"));
            }
            Out::Machine(_) => {
                return Err(err(span, "the machine is not a word: it can only be the receiver or argument of a call"));
            }
            Out::Marker => return Err(err(span, "a failure carries no value")),
        })
    }

    fn ty_of(o: &Out) -> Ty {
        match o {
            Out::Dyn(_, t) => *t,
            Out::Fallible(_, FK::Value(t)) => *t,
            _ => None,
        }
    }

    // ---- expressions ------------------------------------------------------------------

    fn expr(&mut self, e: &Expr, want: Want) -> R<Out> {
        match e {
            Expr::Lit(_) => Ok(Out::Static(quote!(#e))),
            Expr::Paren(p) => self.expr(&p.expr, want),
            Expr::Group(g) => self.expr(&g.expr, want),
            Expr::Path(p) if p.path.is_ident("None") && matches!(want, Want::Fallible(_)) => {
                let cg = &self.cg;
                Ok(Out::Never(quote!(#cg.fail())))
            }
            Expr::Path(p) => self.path(p),
            Expr::Field(f) => {
                let base = self.expr(&f.base, Want::Any)?;
                match base {
                    Out::Static(ts) => {
                        let m = &f.member;
                        Ok(Out::Static(quote!(#ts.#m)))
                    }
                    Out::Machine(_) => Ok(Out::Machine(quote!(#e))),
                    _ => Err(err_at(
                        f,
                        "dynamic values are machine words and have no fields: read what you need through a function of the machine",
                    )),
                }
            }
            Expr::Reference(r) => {
                let inner = self.expr(&r.expr, Want::Any)?;
                match inner {
                    Out::Static(ts) => {
                        let m = &r.mutability;
                        Ok(Out::Static(quote!(&#m #ts)))
                    }
                    Out::Machine(_) => Ok(Out::Machine(quote!(#e))),
                    _ => Err(err_at(
                        r,
                        "a reference to a dynamic value: dynamic values are words, pass them as they are",
                    )),
                }
            }
            Expr::Unary(u) => self.unary(u),
            Expr::Binary(b) => self.binary(b),
            Expr::Cast(c) => self.cast(c),
            Expr::Block(b) if b.label.is_none() => {
                let (stmts, tail) = self.block_parts(&b.block, want, false)?;
                Ok(wrap_block(stmts, tail))
            }
            Expr::If(i) => self.if_expr(i, want),
            Expr::Match(m) => self.match_expr(m, want),
            Expr::ForLoop(f) => self.for_loop(f),
            Expr::While(w) => self.while_loop(w),
            Expr::Call(c) => self.call(c, want),
            // In a position that gives the function's `Result`, a call that becomes a
            // shim can fail.
            Expr::MethodCall(mc) => self.method_call(mc, matches!(want, Want::Fallible(_))),
            Expr::Try(t) => self.try_expr(t),
            Expr::Return(r) => self.return_expr(r),
            Expr::Assign(a) => self.assign(a),
            Expr::Index(ix) => {
                let base = self.expr(&ix.expr, Want::Any)?;
                let idx = self.expr(&ix.index, Want::Any)?;
                match (base, idx) {
                    (Out::Static(b), Out::Static(i)) => Ok(Out::Static(quote!(#b[#i]))),
                    _ => Err(err_at(
                        ix,
                        "indexing with a dynamic value or into dynamic data: static data is indexed by static values only; read the machine's data through a function",
                    )),
                }
            }
            Expr::Tuple(t) => {
                let mut parts = Vec::new();
                for x in &t.elems {
                    match self.expr(x, Want::Any)? {
                        Out::Static(ts) => parts.push(ts),
                        _ => {
                            return Err(err_at(
                                x,
                                "a tuple of dynamic values: dynamic values are single words; use separate `let`s",
                            ));
                        }
                    }
                }
                Ok(Out::Static(quote!((#(#parts,)*))))
            }
            Expr::Closure(_) | Expr::Macro(_) | Expr::Array(_) | Expr::Struct(_) | Expr::Range(_) | Expr::Repeat(_) => {
                if let Some(sp) = self.mentions_dynamic(e.to_token_stream()) {
                    return Err(err(
                        sp,
                        "a dynamic value inside a closure, macro, array, struct or range: these run at specialization time, so they take static values only",
                    ));
                }
                Ok(Out::Static(quote!(#e)))
            }
            Expr::Loop(l) => Err(err_at(l, "`loop` is not supported in a two-level function: use `while`")),
            Expr::Break(b) => Err(err_at(b, "`break` is not supported in a two-level function")),
            Expr::Continue(c) => Err(err_at(c, "`continue` is not supported in a two-level function")),
            Expr::Let(l) => Err(err_at(l, "`let` here is only supported as `if let` on a static value")),
            Expr::Unsafe(u) => Err(err_at(u, "`unsafe` is not allowed in a two-level function")),
            other => {
                if let Some(sp) = self.mentions_dynamic(other.to_token_stream()) {
                    return Err(err(sp, "this kind of expression is outside the dynamic vocabulary"));
                }
                Ok(Out::Static(quote!(#other)))
            }
        }
    }

    fn path(&mut self, p: &syn::ExprPath) -> R<Out> {
        if let Some(id) = p.path.get_ident()
            && p.qself.is_none()
        {
            match self.lookup(id) {
                Some(Bind::Static { .. }) | None => Ok(Out::Static(quote!(#p))),
                Some(Bind::Val(ty, true)) => Ok(Out::Dyn(quote!(#id), ty)),
                Some(Bind::Val(ty, false)) => Ok(Out::Dyn(quote!(#id.shared()), ty)),
                Some(Bind::Var(ty)) => {
                    let cg = &self.cg;
                    Ok(Out::Dyn(quote!(#cg.get(#id)), ty))
                }
                Some(Bind::Machine) => Ok(Out::Machine(quote!(#id))),
                Some(Bind::Marker) => Ok(Out::Marker),
                Some(Bind::Slice(..)) => Err(err(
                    id.span(),
                    "a byte slice of the machine is read with `.be(offset, width)` and `.len()` only: it cannot be passed on or stored",
                )),
            }
        } else {
            Ok(Out::Static(quote!(#p)))
        }
    }

    fn unary(&mut self, u: &syn::ExprUnary) -> R<Out> {
        let cg = self.cg.clone();
        let inner = self.expr(&u.expr, Want::Any)?;
        match (&u.op, inner) {
            (op, Out::Static(ts)) => Ok(Out::Static(quote!(#op #ts))),
            (UnOp::Not(_), o @ Out::Dyn(..)) => {
                let ty = Self::ty_of(&o);
                let v = self.value_of(o, ty, u.span())?;
                match ty {
                    Some(WordTy::Bool) | None => Ok(Out::Dyn(
                        quote!({ let __a = #v; let __z = #cg.imm(0); #cg.cmp(::planp_jit::Cond::Eq, __a, __z) }),
                        Some(WordTy::Bool),
                    )),
                    Some(t) => {
                        let n = quote!({ let __a = #v; #cg.op1(::planp_jit::Op1::Not, __a) });
                        Ok(Out::Dyn(normalize(&cg, n, t), Some(t)))
                    }
                }
            }
            (UnOp::Neg(_), Out::Dyn(..)) => {
                Err(err_at(u, "dynamic negation must say what happens on overflow: use `wrapping_neg()`"))
            }
            (UnOp::Deref(_), Out::Machine(_)) => Ok(Out::Machine(quote!(#u))),
            (_, _) => Err(err_at(u, "this operator is outside the dynamic vocabulary")),
        }
    }

    fn binary(&mut self, b: &syn::ExprBinary) -> R<Out> {
        let cg = self.cg.clone();
        if matches!(b.op, BinOp::And(_) | BinOp::Or(_)) {
            // Classify the operands first; they are translated under the control they
            // belong to.
            let l_static = matches!(self.expr_probe(&b.left)?, Out::Static(_));
            let r_static = matches!(self.expr_probe(&b.right)?, Out::Static(_));
            if l_static && r_static {
                let Out::Static(lt) = self.expr(&b.left, Want::Any)? else { unreachable!("probed static") };
                let Out::Static(rt) = self.expr(&b.right, Want::Any)? else { unreachable!("probed static") };
                let op = &b.op;
                return Ok(Out::Static(quote!(#lt #op #rt)));
            }
            // A dynamic boolean: compute it with branches.
            let f = self.fresh("f");
            let j = self.fresh("j");
            let res = self.fresh("res");
            let e = Expr::Binary(b.clone());
            let code = self.cond_false(&e, &f)?;
            return Ok(Out::Dyn(
                quote!({
                    let #f = #cg.label();
                    let #j = #cg.label();
                    let #res = #cg.var();
                    #code
                    { let __one = #cg.imm(1); #cg.set(#res, __one); }
                    #cg.jump(#j);
                    #cg.bind(#f);
                    { let __zero = #cg.imm(0); #cg.set(#res, __zero); }
                    #cg.bind(#j);
                    #cg.take(#res)
                }),
                Some(WordTy::Bool),
            ));
        }
        let l = self.expr(&b.left, Want::Any)?;
        let r = self.expr(&b.right, Want::Any)?;
        if let (Out::Static(lt), Out::Static(rt)) = (&l, &r) {
            let op = &b.op;
            return Ok(Out::Static(quote!(#lt #op #rt)));
        }
        let ty = Self::ty_of(&l).or(Self::ty_of(&r));
        if is_comparison(&b.op) {
            let c = cond_of(&b.op, ty, b)?;
            let lv = self.value_of(l, ty, b.left.span())?;
            let rv = self.value_of(r, ty, b.right.span())?;
            return Ok(Out::Dyn(quote!({ let __a = #lv; let __b = #rv; #cg.cmp(#c, __a, __b) }), Some(WordTy::Bool)));
        }
        let op = match &b.op {
            BinOp::BitAnd(_) => quote!(::planp_jit::Op2::And),
            BinOp::BitOr(_) => quote!(::planp_jit::Op2::Or),
            BinOp::BitXor(_) => quote!(::planp_jit::Op2::Xor),
            BinOp::Add(_) | BinOp::Sub(_) | BinOp::Mul(_) => {
                return Err(err_at(
                    b,
                    "dynamic arithmetic must say what happens on overflow: use `wrapping_add`, `wrapping_sub` or `wrapping_mul`",
                ));
            }
            BinOp::Div(_) | BinOp::Rem(_) => {
                return Err(err_at(
                    b,
                    "dynamic division must say what happens on overflow: use `wrapping_div` or `wrapping_rem` (after checking the divisor is not zero)",
                ));
            }
            BinOp::Shl(_) | BinOp::Shr(_) => {
                return Err(err_at(
                    b,
                    "dynamic shifts must say what happens to large counts: use `wrapping_shl` or `wrapping_shr`",
                ));
            }
            _ => {
                return Err(err_at(
                    b,
                    "this operator is outside the dynamic vocabulary (compound assignment is not supported: write `x = x.wrapping_add(y)`)",
                ));
            }
        };
        let lv = self.value_of(l, ty, b.left.span())?;
        let rv = self.value_of(r, ty, b.right.span())?;
        Ok(Out::Dyn(quote!({ let __a = #lv; let __b = #rv; #cg.op2(#op, __a, __b) }), ty))
    }

    /// Classify an expression without keeping its translation (no code is produced
    /// twice: callers translate again under the right control).
    fn expr_probe(&mut self, e: &Expr) -> R<Out> {
        self.probe(|cx| cx.expr(e, Want::Any))
    }

    /// Run a translation only to learn its result's kind: its shims and names are
    /// forgotten.
    fn probe<T>(&mut self, f: impl FnOnce(&mut Self) -> R<T>) -> R<T> {
        let saved_counter = self.counter;
        let saved_shims = self.shims.len();
        let saved_shim_count = self.shim_count;
        let r = f(self);
        self.counter = saved_counter;
        self.shims.truncate(saved_shims);
        self.shim_count = saved_shim_count;
        r
    }

    /// Code that jumps to `f` when the condition `e` is false and falls through when it
    /// is true.
    fn cond_false(&mut self, e: &Expr, f: &Ident) -> R<TokenStream> {
        self.cond_jump(e, f, false)
    }

    /// Code that jumps to `l` when the condition `e` is `when` and falls through
    /// otherwise. `&&` and `||` short-circuit (each is the other with `when` flipped, by
    /// De Morgan), a boolean `!` flips `when`, a comparison is one compare and branch.
    fn cond_jump(&mut self, e: &Expr, l: &Ident, when: bool) -> R<TokenStream> {
        let cg = self.cg.clone();
        match e {
            Expr::Paren(p) => self.cond_jump(&p.expr, l, when),
            // `a || b` jumping when true, `a && b` jumping when false: either side does.
            Expr::Binary(b) if matches!(b.op, BinOp::Or(_)) == when && matches!(b.op, BinOp::And(_) | BinOp::Or(_)) => {
                let a = self.cond_jump(&b.left, l, when)?;
                let c = self.cond_jump(&b.right, l, when)?;
                Ok(quote!(#a #c))
            }
            // `a && b` jumping when true, `a || b` jumping when false: `a` decides alone
            // only the other way, to a label just after.
            Expr::Binary(b) if matches!(b.op, BinOp::And(_) | BinOp::Or(_)) => {
                let skip = self.fresh(if when { "f" } else { "t" });
                let a = self.cond_jump(&b.left, &skip, !when)?;
                let c = self.cond_jump(&b.right, l, when)?;
                Ok(quote!(let #skip = #cg.label(); #a #c #cg.bind(#skip);))
            }
            Expr::Unary(u) if matches!(u.op, UnOp::Not(_)) && self.is_bool_cond(&u.expr)? => {
                self.cond_jump(&u.expr, l, !when)
            }
            Expr::Binary(b) if is_comparison(&b.op) => {
                let lhs = self.expr(&b.left, Want::Any)?;
                let rhs = self.expr(&b.right, Want::Any)?;
                if let (Out::Static(lt), Out::Static(rt)) = (&lhs, &rhs) {
                    let op = &b.op;
                    let test = if when { quote!(#lt #op #rt) } else { quote!(!(#lt #op #rt)) };
                    return Ok(quote!(if #test { #cg.jump(#l); }));
                }
                let ty = Self::ty_of(&lhs).or(Self::ty_of(&rhs));
                let c = cond_of(&b.op, ty, b)?;
                let c = if when { c } else { negate_cond(&c) };
                let lv = self.value_of(lhs, ty, b.left.span())?;
                let rv = self.value_of(rhs, ty, b.right.span())?;
                Ok(quote!({ let __a = #lv; let __b = #rv; #cg.branch_cmp(#c, __a, __b, #l); }))
            }
            _ => match self.expr(e, Want::Any)? {
                Out::Static(ts) => {
                    let test = if when { quote!(#ts) } else { quote!(!(#ts)) };
                    Ok(quote!(if #test { #cg.jump(#l); }))
                }
                o => {
                    let v = self.value_of(o, Some(WordTy::Bool), e.span())?;
                    let branch = if when { quote!(branch_nonzero) } else { quote!(branch_zero) };
                    Ok(quote!({ let __c = #v; #cg.#branch(__c, #l); }))
                }
            },
        }
    }

    /// Is `!e` a boolean negation (not a bitwise not of an integer)? Comparisons and
    /// boolean connectives are; otherwise the operand's type says.
    fn is_bool_cond(&mut self, e: &Expr) -> R<bool> {
        Ok(match e {
            Expr::Paren(p) => self.is_bool_cond(&p.expr)?,
            Expr::Binary(b) => is_comparison(&b.op) || matches!(b.op, BinOp::And(_) | BinOp::Or(_)),
            _ => matches!(Self::ty_of(&self.expr_probe(e)?), Some(WordTy::Bool) | None),
        })
    }

    fn cast(&mut self, c: &syn::ExprCast) -> R<Out> {
        let cg = self.cg.clone();
        let inner = self.expr(&c.expr, Want::Any)?;
        let target = WordTy::parse(&c.ty);
        match inner {
            Out::Static(ts) => {
                let t = &c.ty;
                Ok(Out::Static(quote!((#ts) as #t)))
            }
            o @ (Out::Dyn(..) | Out::Fallible(_, FK::Value(_))) => {
                let Some(t) = target else {
                    return Err(err_at(&c.ty, "a dynamic value can only be cast to a word type"));
                };
                let v = self.value_of(o, None, c.span())?;
                Ok(Out::Dyn(normalize(&cg, v, t), Some(t)))
            }
            _ => Err(err_at(c, "this cast is outside the dynamic vocabulary")),
        }
    }

    fn if_expr(&mut self, i: &syn::ExprIf, want: Want) -> R<Out> {
        let cg = self.cg.clone();
        // `if let` on a static value.
        if let Expr::Let(l) = &*i.cond {
            let scrut = self.expr(&l.expr, Want::Any)?;
            let Out::Static(s) = scrut else {
                return Err(err_at(
                    &l.expr,
                    "`if let` on a dynamic value: only static values can be matched by a pattern (use `match` with `Ok`/`Err` or `Some`/`None` for dynamic results)",
                ));
            };
            self.scopes.push(Scope { vars: Vec::new() });
            let mut names = Vec::new();
            collect_pat_idents(&l.pat, &mut names);
            for n in names {
                self.bind(n, Bind::Static { depth: self.dyn_depth });
            }
            let then = self.block_parts(&i.then_branch, want, false);
            self.scopes.pop();
            let (ts, tt) = then?;
            let then = wrap_block(ts, tt);
            let els = match &i.else_branch {
                Some((_, e)) => self.expr(e, want)?,
                None => Out::Unit(quote!(())),
            };
            let pat = &l.pat;
            let (a, b, kind) = self.unify(then, els, i.span(), want)?;
            return Ok(kind.with(quote!(if let #pat = #s { #a } else { #b })));
        }
        let cond_probe = self.expr_probe(&i.cond)?;
        if let Out::Static(_) = cond_probe {
            let Out::Static(c) = self.expr(&i.cond, Want::Any)? else { unreachable!("probed") };
            let (ts, tt) = self.block_parts(&i.then_branch, want, false)?;
            let then = wrap_block(ts, tt);
            let els = match &i.else_branch {
                Some((_, e)) => self.expr(e, want)?,
                None => Out::Unit(quote!(())),
            };
            let (a, b, kind) = self.unify(then, els, i.span(), want)?;
            return Ok(kind.with(quote!(if #c { #a } else { #b })));
        }
        // A dynamic condition: compare, branch, join.
        let else_l = self.fresh("else");
        let join = self.fresh("join");
        let cond = self.cond_false(&i.cond, &else_l)?;
        let arm_tokens: Vec<TokenStream> = std::iter::once(i.then_branch.to_token_stream())
            .chain(i.else_branch.as_ref().map(|(_, e)| e.to_token_stream()))
            .collect();
        self.share_across_arms(&arm_tokens);
        self.dyn_depth += 1;
        let then = self.block_parts(&i.then_branch, want, false);
        let els = match &i.else_branch {
            Some((_, e)) => self.expr(e, want),
            None => Ok(Out::Unit(quote!(()))),
        };
        self.dyn_depth -= 1;
        let (ts, tt) = then?;
        let then = wrap_block(ts, tt);
        let els = els?;
        self.join(vec![then, els], i.span(), want, |arms| {
            let a = &arms[0];
            let b = &arms[1];
            quote! {
                let #else_l = #cg.label();
                let #join = #cg.label();
                #cond
                #a
                #cg.jump(#join);
                #cg.bind(#else_l);
                #b
                #cg.bind(#join);
            }
        })
    }

    /// Join the values of dynamic alternatives: each arm's code (built by `layout` from
    /// the arms' statements) moves its value into a var read after the join.
    fn join(
        &mut self,
        arms: Vec<Out>,
        span: Span,
        want: Want,
        layout: impl FnOnce(&[TokenStream]) -> TokenStream,
    ) -> R<Out> {
        let cg = self.cg.clone();
        let kind = self.join_kind(&arms, want, span)?;
        match kind {
            JoinKind::Value(ty, fallible) => {
                let res = self.fresh("res");
                let mut codes = Vec::new();
                for a in arms {
                    let v = self.value_of(a, ty, span)?;
                    codes.push(quote!({ let __v = #v; #cg.set(#res, __v); }));
                }
                let body = layout(&codes);
                let ts = quote!({
                    let #res = #cg.var();
                    #body
                    #cg.take(#res)
                });
                Ok(if fallible { Out::Fallible(ts, FK::Value(ty)) } else { Out::Dyn(ts, ty) })
            }
            JoinKind::Unit(fallible) => {
                let mut codes = Vec::new();
                for a in arms {
                    codes.push(self.as_unit(a, span)?);
                }
                let body = layout(&codes);
                let ts = quote!({ #body });
                Ok(if fallible { Out::Fallible(ts, FK::Unit) } else { Out::Unit(ts) })
            }
        }
    }

    /// An alternative whose value is not used, as a `()` expression.
    fn as_unit(&mut self, o: Out, span: Span) -> R<TokenStream> {
        let cg = &self.cg;
        Ok(match o {
            Out::Dyn(ts, _) | Out::Fallible(ts, FK::Value(_)) => quote!({ let __d = #ts; #cg.discard(__d); }),
            Out::Static(ts) | Out::Unit(ts) | Out::Never(ts) | Out::Fallible(ts, FK::Unit) => quote!({ let _ = #ts; }),
            Out::Marker => quote!(()),
            Out::Machine(_) => return Err(err(span, "an arm gives back the machine")),
        })
    }

    /// Whether alternatives give a value (and of which type) and whether they are
    /// fallible.
    fn join_kind(&self, arms: &[Out], want: Want, span: Span) -> R<JoinKind> {
        let mut fallible = matches!(want, Want::Fallible(_));
        let mut value = false;
        let mut unit = false;
        let mut ty: Ty = None;
        for a in arms {
            match a {
                Out::Fallible(_, FK::Value(t)) => {
                    fallible = true;
                    value = true;
                    ty = ty.or(*t);
                }
                Out::Fallible(_, FK::Unit) => {
                    fallible = true;
                    unit = true;
                }
                Out::Dyn(_, t) => {
                    value = true;
                    ty = ty.or(*t);
                }
                Out::Static(ts) => {
                    if ts.to_string() != "()" {
                        value = true;
                    }
                }
                Out::Unit(_) => unit = true,
                Out::Never(_) | Out::Marker => {}
                Out::Machine(_) => return Err(err(span, "an arm gives back the machine")),
            }
        }
        // In well-typed code an arm without a value means none of them has one (a call
        // of Rust code always looks like a value here).
        if unit && matches!(want, Want::Any) {
            value = false;
        }
        match want {
            Want::Fallible(FK::Value(t)) => Ok(JoinKind::Value(ty.or(t), true)),
            Want::Fallible(FK::Unit) => Ok(JoinKind::Unit(true)),
            Want::Any if value => Ok(JoinKind::Value(ty, fallible)),
            Want::Any => Ok(JoinKind::Unit(fallible)),
        }
    }

    /// Two alternatives of a static choice, as expressions of one kind.
    fn unify(&mut self, a: Out, b: Out, span: Span, want: Want) -> R<(TokenStream, TokenStream, OutKind)> {
        if let (Out::Static(x), Out::Static(y)) = (&a, &b) {
            return Ok((x.clone(), y.clone(), OutKind::Static));
        }
        let arms = [a, b];
        let kind = self.join_kind(&arms, want, span)?;
        let [a, b] = arms;
        match kind {
            JoinKind::Value(ty, fallible) => {
                let x = self.value_of(a, ty, span)?;
                let y = self.value_of(b, ty, span)?;
                Ok((x, y, if fallible { OutKind::Fallible(FK::Value(ty)) } else { OutKind::Dyn(ty) }))
            }
            JoinKind::Unit(fallible) => {
                let x = self.as_unit(a, span)?;
                let y = self.as_unit(b, span)?;
                Ok((x, y, if fallible { OutKind::Fallible(FK::Unit) } else { OutKind::Unit }))
            }
        }
    }

    fn match_expr(&mut self, m: &syn::ExprMatch, want: Want) -> R<Out> {
        let cg = self.cg.clone();
        // A dynamic result: `Ok`/`Err` or `Some`/`None` arms are the success path and
        // the failure handler.
        if self.probe(|cx| cx.fallible_scrutinee(&m.expr))?.is_some() {
            return self.handler_match(m, want);
        }
        let scrut = self.expr(&m.expr, Want::Any)?;
        let Out::Static(s) = scrut else {
            return Err(err_at(
                &m.expr,
                "a `match` on a dynamic value: patterns are checked at specialization time, so the scrutinee must be static (use `if` for dynamic conditions, or `match` a dynamic `Result`/`Option` with `Ok`/`Err`, `Some`/`None`)",
            ));
        };
        let mut arms = Vec::new();
        let fname = self.me.name.to_string();
        for arm in &m.arms {
            self.scopes.push(Scope { vars: Vec::new() });
            let mut names = Vec::new();
            collect_pat_idents(&arm.pat, &mut names);
            for n in names {
                self.bind(n, Bind::Static { depth: self.dyn_depth });
            }
            let guard = match &arm.guard {
                Some((_, g)) => match self.expr(g, Want::Any) {
                    Ok(Out::Static(ts)) => Some(ts),
                    Ok(_) => {
                        self.scopes.pop();
                        return Err(err_at(g, "a match guard is checked at specialization time: it must be static"));
                    }
                    Err(e) => {
                        self.scopes.pop();
                        return Err(e);
                    }
                },
                None => None,
            };
            let body = self.expr(&arm.body, want);
            self.scopes.pop();
            arms.push((arm, guard, body?));
        }
        if arms.iter().all(|(_, _, b)| matches!(b, Out::Static(_))) {
            let parts = arms.iter().map(|(arm, guard, b)| {
                let Out::Static(ts) = b else { unreachable!("all static") };
                let pat = &arm.pat;
                let g = guard.as_ref().map(|g| quote!(if #g));
                quote!(#pat #g => #ts,)
            });
            return Ok(Out::Static(quote!(match #s { #(#parts)* })));
        }
        let outs: Vec<Out> = arms.iter().map(|(_, _, b)| b.clone()).collect();
        let kind = self.join_kind(&outs, want, m.span())?;
        let mut parts = Vec::new();
        for (arm, guard, b) in arms {
            let pat = &arm.pat;
            let g = guard.map(|g| quote!(if #g));
            let note = format!("{fname}: {}", pretty(&arm.pat.to_token_stream()));
            let body = match kind {
                JoinKind::Value(ty, _) => self.value_of(b, ty, arm.body.span())?,
                JoinKind::Unit(_) => self.as_unit(b, arm.body.span())?,
            };
            parts.push(quote!(#pat #g => { #cg.note(#note); #body },));
        }
        let ts = quote!(match #s { #(#parts)* });
        Ok(match kind {
            JoinKind::Value(ty, true) => Out::Fallible(ts, FK::Value(ty)),
            JoinKind::Value(ty, false) => Out::Dyn(ts, ty),
            JoinKind::Unit(true) => Out::Fallible(ts, FK::Unit),
            JoinKind::Unit(false) => Out::Unit(ts),
        })
    }

    /// If `e` is a call whose result is a dynamic `Result`/`Option` (a two-level function
    /// that can fail, or a call that becomes a shim), give it translated as fallible.
    fn fallible_scrutinee(&mut self, e: &Expr) -> R<Option<Out>> {
        match e {
            Expr::Paren(p) => self.fallible_scrutinee(&p.expr),
            Expr::Call(c) => {
                if let Some(name) = single_segment_call(c)
                    && let Some(f) = self.fns.get(&name)
                {
                    if let RetKind::Fallible(_) = f.ret {
                        return Ok(Some(self.call(c, Want::Any)?));
                    }
                    return Ok(None);
                }
                match self.expr_probe(e)? {
                    Out::Dyn(..) => match self.shim_call_expr(e, true)? {
                        Some(o) => Ok(Some(o)),
                        None => Ok(None),
                    },
                    _ => Ok(None),
                }
            }
            Expr::MethodCall(mc) => match self.expr_probe(e)? {
                Out::Dyn(..) => {
                    if self.is_vocab_method(mc) {
                        return Ok(None);
                    }
                    Ok(Some(self.method_call(mc, true)?))
                }
                _ => Ok(None),
            },
            _ => Ok(None),
        }
    }

    fn handler_match(&mut self, m: &syn::ExprMatch, want: Want) -> R<Out> {
        let cg = self.cg.clone();
        // Find the success and failure arms.
        let mut ok_arm = None;
        let mut err_arm = None;
        for arm in &m.arms {
            if arm.guard.is_some() {
                return Err(err_at(arm, "no guards on the arms of a match on a dynamic result"));
            }
            match &arm.pat {
                Pat::TupleStruct(ts) if ts.path.is_ident("Ok") || ts.path.is_ident("Some") => {
                    ok_arm = Some((arm, ts.elems.first().cloned()));
                }
                Pat::TupleStruct(ts) if ts.path.is_ident("Err") => err_arm = Some((arm, ts.elems.first().cloned())),
                Pat::Ident(pi) if pi.ident == "None" => err_arm = Some((arm, None)),
                Pat::Path(pp) if pp.path.is_ident("None") => err_arm = Some((arm, None)),
                p => {
                    return Err(err_at(
                        p,
                        "a match on a dynamic result has an `Ok(..)` (or `Some(..)`) arm and an `Err(..)` (or `None`) arm",
                    ));
                }
            }
        }
        let (Some((ok, ok_pat)), Some((er, er_pat))) = (ok_arm, err_arm) else {
            return Err(err_at(m, "a match on a dynamic result needs both a success and a failure arm"));
        };
        let h = self.fresh("handler");
        let join = self.fresh("join");
        let s = self.fresh("s");
        // The scrutinee runs with the failure arm as its handler.
        let scrut = match self.fallible_scrutinee(&m.expr)? {
            Some(o) => o,
            None => unreachable!("checked by the caller"),
        };
        let (scrut_code, scrut_ty) = match scrut {
            Out::Fallible(ts, FK::Value(t)) => (ts, t),
            Out::Fallible(ts, FK::Unit) => (ts, None),
            Out::Dyn(ts, t) => (ts, t),
            _ => unreachable!("a fallible scrutinee"),
        };
        let has_value = !matches!(self.fallible_kind(&m.expr), Some(RetKind::Fallible(None)) | Some(RetKind::Unit));
        self.share_across_arms(&[ok.body.to_token_stream(), er.body.to_token_stream()]);
        self.dyn_depth += 1;
        // Success arm: bind the value.
        self.scopes.push(Scope { vars: Vec::new() });
        let mut ok_prefix = TokenStream::new();
        if let Some(p) = &ok_pat {
            match p {
                Pat::Ident(pi) if has_value => {
                    let id = pi.ident.clone();
                    self.bind(id.clone(), Bind::Val(scrut_ty, false));
                    ok_prefix = quote!(let #id = #s;);
                }
                Pat::Wild(_) if has_value => ok_prefix = quote!(#cg.discard(#s);),
                Pat::Wild(_) | Pat::Tuple(_) => {}
                p => {
                    self.scopes.pop();
                    self.dyn_depth -= 1;
                    return Err(err_at(p, "bind the success value to a name or `_`"));
                }
            }
        } else if has_value {
            ok_prefix = quote!(#cg.discard(#s););
        }
        let ok_body = self.expr(&ok.body, want);
        let ok_scope = self.scopes.pop().expect("scope");
        let ok_body = ok_body.inspect_err(|_| self.dyn_depth -= 1)?;
        // The bound value is dropped after the arm unless the arm gives it back.
        let mut ok_drop = TokenStream::new();
        let moved = match (&ok_pat, &ok_body) {
            (Some(Pat::Ident(pi)), _) => {
                let gives_it = self.movable_expr(&ok.body, &pi.ident);
                if !gives_it && has_value {
                    let id = &pi.ident;
                    ok_drop = quote!(#cg.discard(#id););
                }
                gives_it
            }
            _ => false,
        };
        let _ = ok_scope;
        let ok_body = if moved {
            let Some(Pat::Ident(pi)) = &ok_pat else { unreachable!("moved needs a name") };
            let id = &pi.ident;
            match ok_body {
                Out::Fallible(_, k) => Out::Fallible(quote!(#id), k),
                Out::Dyn(_, t) => Out::Dyn(quote!(#id), t),
                o => o,
            }
        } else {
            ok_body
        };
        // Failure arm.
        self.scopes.push(Scope { vars: Vec::new() });
        if let Some(Pat::Ident(pi)) = &er_pat {
            self.bind(pi.ident.clone(), Bind::Marker);
        }
        let er_body = self.expr(&er.body, want);
        self.scopes.pop();
        self.dyn_depth -= 1;
        let er_body = er_body?;
        let ok_prefix2 = ok_prefix.clone();
        let out = self.join(vec![ok_body, er_body], m.span(), want, |arms| {
            let a = &arms[0];
            let b = &arms[1];
            quote! {
                let #h = #cg.label();
                let #join = #cg.label();
                #cg.push_handler(#h);
                let #s = #scrut_code;
                #cg.pop_handler();
                #ok_prefix2
                #a
                #ok_drop
                #cg.jump(#join);
                #cg.bind(#h);
                #b
                #cg.bind(#join);
            }
        })?;
        Ok(out)
    }

    /// Does the expression give back exactly the local `id` (possibly as `Ok(id)`)?
    fn movable_expr(&self, e: &Expr, id: &Ident) -> bool {
        match e {
            Expr::Paren(p) => self.movable_expr(&p.expr, id),
            Expr::Call(c) if matches!(call_name(c).as_deref(), Some("Ok" | "Some")) && c.args.len() == 1 => {
                as_ident(&c.args[0]) == Some(id)
            }
            _ => as_ident(e) == Some(id),
        }
    }

    fn fallible_kind(&self, e: &Expr) -> Option<RetKind> {
        match e {
            Expr::Paren(p) => self.fallible_kind(&p.expr),
            Expr::Call(c) => single_segment_call(c).and_then(|n| self.fns.get(&n)).map(|f| f.ret),
            _ => None,
        }
    }

    fn for_loop(&mut self, f: &syn::ExprForLoop) -> R<Out> {
        let it = self.expr_probe(&f.expr).and_then(|_| self.expr(&f.expr, Want::Any));
        let Ok(Out::Static(its)) = it else {
            return Err(err_at(
                &f.expr,
                "a `for` loop runs at specialization time, so it iterates over static data; a dynamic loop is a `while`",
            ));
        };
        self.scopes.push(Scope { vars: Vec::new() });
        let mut names = Vec::new();
        collect_pat_idents(&f.pat, &mut names);
        for n in names {
            self.bind(n, Bind::Static { depth: self.dyn_depth });
        }
        let body = self.block_parts(&f.body, Want::Any, false);
        self.scopes.pop();
        let (stmts, tail) = body?;
        let cg = self.cg.clone();
        let tail = match tail {
            Out::Static(ts) | Out::Unit(ts) | Out::Never(ts) => quote!(#ts;),
            Out::Dyn(ts, _) => quote!({ let __d = #ts; #cg.discard(__d); }),
            _ => return Err(err_at(&f.body, "a loop body gives no value")),
        };
        let pat = &f.pat;
        Ok(Out::Unit(quote!(for #pat in #its { #stmts #tail })))
    }

    fn while_loop(&mut self, w: &syn::ExprWhile) -> R<Out> {
        let cg = self.cg.clone();
        if let Out::Static(_) = self.expr_probe(&w.cond)? {
            return Err(err_at(
                &w.cond,
                "this `while` has a static condition: loops over static data are `for` loops, which run at specialization time",
            ));
        }
        let top = self.fresh("top");
        let exit = self.fresh("exit");
        let cond = self.cond_false(&w.cond, &exit)?;
        self.dyn_depth += 1;
        let body = self.block_parts(&w.body, Want::Any, false);
        self.dyn_depth -= 1;
        let (stmts, tail) = body?;
        let tail = match tail {
            Out::Static(ts) | Out::Unit(ts) | Out::Never(ts) => quote!(#ts;),
            Out::Dyn(ts, _) => quote!({ let __d = #ts; #cg.discard(__d); }),
            _ => return Err(err_at(&w.body, "a loop body gives no value")),
        };
        Ok(Out::Unit(quote!({
            let #top = #cg.label();
            let #exit = #cg.label();
            #cg.bind(#top);
            #cond
            #stmts
            #tail
            #cg.jump(#top);
            #cg.bind(#exit);
        })))
    }

    fn try_expr(&mut self, t: &syn::ExprTry) -> R<Out> {
        // A call of a two-level function that can fail, or a shim that can.
        match self.fallible_scrutinee(&t.expr)? {
            Some(Out::Fallible(ts, FK::Value(ty))) => Ok(Out::Dyn(ts, ty)),
            Some(Out::Fallible(ts, FK::Unit)) => Ok(Out::Unit(ts)),
            Some(Out::Dyn(ts, ty)) => Ok(Out::Dyn(ts, ty)),
            Some(_) => Err(err_at(t, "`?` here is outside the dynamic vocabulary")),
            None => match self.expr(&t.expr, Want::Any)? {
                Out::Static(_) => Err(err_at(
                    t,
                    "`?` on a static value would leave the generating extension, not the generated code; handle it with `match`",
                )),
                Out::Fallible(ts, FK::Value(ty)) => Ok(Out::Dyn(ts, ty)),
                Out::Fallible(ts, FK::Unit) => Ok(Out::Unit(ts)),
                _ => Err(err_at(t, "`?` applies to a call that can fail")),
            },
        }
    }

    fn return_expr(&mut self, r: &syn::ExprReturn) -> R<Out> {
        let cg = self.cg.clone();
        let Some((var, label)) = self.ret.clone() else { unreachable!("returns were found") };
        let want = match self.me.ret {
            RetKind::Fallible(w) => Want::Fallible(FK::of(w)),
            _ => Want::Any,
        };
        let value = match &r.expr {
            Some(e) => self.expr(e, want)?,
            None => Out::Static(quote!(())),
        };
        if let Out::Never(ts) = value {
            return Ok(Out::Never(ts));
        }
        match var {
            Some(var) => {
                let v = self.conform_ret(value, r.span())?;
                Ok(Out::Never(quote!({ let __v = #v; #cg.set(#var, __v); #cg.jump(#label); })))
            }
            None => {
                let v = self.conform_ret(value, r.span())?;
                Ok(Out::Never(quote!({ #v; #cg.jump(#label); })))
            }
        }
    }

    fn assign(&mut self, a: &syn::ExprAssign) -> R<Out> {
        let cg = self.cg.clone();
        let Some(id) = as_ident(&a.left) else {
            let l = self.expr_probe(&a.left)?;
            let r = self.expr(&a.right, Want::Any)?;
            if let (Out::Static(_), Out::Static(rt)) = (l, &r) {
                let left = &a.left;
                return Ok(Out::Static(quote!(#left = #rt)));
            }
            return Err(err_at(a, "assignment to this place is outside the dynamic vocabulary"));
        };
        let id = id.clone();
        match self.lookup(&id) {
            Some(Bind::Var(ty)) => {
                let r = self.expr(&a.right, Want::Any)?;
                let v = self.value_of(r, ty, a.right.span())?;
                Ok(Out::Unit(quote!({ let __v = #v; #cg.set(#id, __v); })))
            }
            Some(Bind::Static { depth, .. }) => {
                let r = self.expr(&a.right, Want::Any)?;
                let Out::Static(rt) = r else {
                    return Err(err_at(
                        &a.right,
                        "a dynamic value assigned to a static variable: mark the variable `#[dynamic]` where it is declared",
                    ));
                };
                if depth < self.dyn_depth {
                    return Err(err_at(
                        a,
                        "a static variable assigned under dynamic control: after the branches join, its value would depend on which one ran; mark it `#[dynamic]`",
                    ));
                }
                Ok(Out::Static(quote!(#id = #rt)))
            }
            Some(Bind::Val(..)) => {
                Err(err_at(&a.left, "this dynamic variable is not `mut`: declare it `let mut` to assign it"))
            }
            _ => Err(err_at(&a.left, "this cannot be assigned")),
        }
    }

    // ---- calls ------------------------------------------------------------------------

    fn call(&mut self, c: &ExprCall, want: Want) -> R<Out> {
        let cg = self.cg.clone();
        let name = call_name(c);
        match name.as_deref() {
            Some("Ok" | "Some") if c.args.len() == 1 => {
                let inner = self.expr(&c.args[0], Want::Any)?;
                let dynamic_ctx = matches!(want, Want::Fallible(_));
                return match inner {
                    Out::Static(ts) if !dynamic_ctx => {
                        let f = &c.func;
                        Ok(Out::Static(quote!(#f(#ts))))
                    }
                    Out::Static(ts) if ts.to_string() == "()" => Ok(Out::Fallible(quote!(()), FK::Unit)),
                    Out::Unit(ts) => Ok(Out::Fallible(ts, FK::Unit)),
                    o => {
                        let ty = match want {
                            Want::Fallible(FK::Value(t)) => t.or(Self::ty_of(&o)),
                            _ => Self::ty_of(&o),
                        };
                        let v = self.value_of(o, ty, c.args[0].span())?;
                        Ok(Out::Fallible(v, FK::Value(ty)))
                    }
                };
            }
            Some("Err") if c.args.len() == 1 => {
                let inner = self.expr(&c.args[0], Want::Any)?;
                let dynamic_ctx = matches!(want, Want::Fallible(_));
                return match inner {
                    Out::Static(ts) if !dynamic_ctx => {
                        let f = &c.func;
                        Ok(Out::Static(quote!(#f(#ts))))
                    }
                    Out::Static(ts) => Ok(Out::Never(quote!({ let _ = #ts; #cg.fail(); }))),
                    Out::Dyn(ts, _) => Ok(Out::Never(quote!({ let __d = #ts; #cg.discard(__d); #cg.fail(); }))),
                    Out::Unit(ts) => Ok(Out::Never(quote!({ #ts; #cg.fail(); }))),
                    Out::Marker => Ok(Out::Never(quote!(#cg.fail()))),
                    Out::Never(ts) => Ok(Out::Never(ts)),
                    _ => Err(err_at(c, "this failure is outside the dynamic vocabulary")),
                };
            }
            Some(n @ ("inline1" | "inline2")) => {
                let k = usize::from(n.as_bytes()[6] - b'0');
                return self.inline_call(c, k);
            }
            Some("lift") if c.args.len() == 1 && single_segment_call(c).is_some() => {
                let inner = self.expr(&c.args[0], Want::Any)?;
                let Out::Static(ts) = inner else {
                    return Err(err_at(&c.args[0], "`lift` makes a static value dynamic; this one is dynamic already"));
                };
                return Ok(Out::Dyn(quote!(#cg.imm(::planp_jit::ToWord::to_word(#ts))), Some(WordTy::U64)));
            }
            _ => {}
        }
        if let Some(n) = single_segment_call(c)
            && let Some(f) = self.fns.get(&n).cloned()
        {
            return self.unfold(c, &f);
        }
        // Any other function: static if its arguments are, else a shim.
        let mut all_static = true;
        let mut parts = Vec::new();
        for a in &c.args {
            match self.expr_probe(a)? {
                Out::Static(_) => {}
                _ => all_static = false,
            }
        }
        if all_static {
            for a in &c.args {
                let Out::Static(ts) = self.expr(a, Want::Any)? else { unreachable!("probed") };
                parts.push(ts);
            }
            let f = &c.func;
            if let Some(sp) = self.mentions_dynamic(f.to_token_stream()) {
                return Err(err(sp, "calling a dynamic function value is outside the dynamic vocabulary"));
            }
            return Ok(Out::Static(quote!(#f(#(#parts),*))));
        }
        match self.shim_call_expr(&Expr::Call(c.clone()), matches!(want, Want::Fallible(_)))? {
            Some(o) => Ok(o),
            None => Err(err_at(c, "this call is outside the dynamic vocabulary")),
        }
    }

    /// Unfold a call of a two-level function: its generating extension runs here.
    fn unfold(&mut self, c: &ExprCall, f: &TwoLevel) -> R<Out> {
        let cg = self.cg.clone();
        if c.args.len() != f.params.len() {
            return Err(err_at(c, format!("`{}` takes {} arguments", f.name, f.params.len())));
        }
        let mut pre = TokenStream::new();
        let mut args = Vec::new();
        for (a, p) in c.args.iter().zip(&f.params) {
            let o = self.expr(a, Want::Any)?;
            match (&p.kind, o) {
                (crate::model::ParamKind::Static, Out::Static(ts)) => {
                    let t = self.fresh("sa");
                    pre.extend(quote!(let #t = #ts;));
                    args.push(quote!(#t));
                }
                (crate::model::ParamKind::Static, _) => {
                    return Err(err_at(
                        a,
                        format!(
                            "a dynamic value flows into the static parameter `{}` of `{}`: static parameters are known when the program is loaded",
                            p.name, f.name
                        ),
                    ));
                }
                (crate::model::ParamKind::Machine, Out::Machine(_)) => {}
                (crate::model::ParamKind::Machine, _) => {
                    return Err(err_at(a, format!("`{}` expects the machine here", f.name)));
                }
                (crate::model::ParamKind::Word(w), o) => {
                    let v = self.value_of(o, Some(*w), a.span())?;
                    let t = self.fresh("da");
                    pre.extend(quote!(let #t = #v;));
                    args.push(quote!(#t));
                }
            }
        }
        let gen_name = format_ident!("{}_gen", f.name);
        let call = quote!({ #pre #gen_name(#(#args,)* #cg) });
        Ok(match f.ret {
            RetKind::Unit => Out::Unit(call),
            RetKind::Word(w) => Out::Dyn(call, Some(w)),
            RetKind::Fallible(w) => Out::Fallible(call, FK::of(w)),
        })
    }

    fn is_vocab_method(&self, mc: &ExprMethodCall) -> bool {
        let name = mc.method.to_string();
        matches!(name.as_str(), "frame_load" | "frame_store" | "frame_load_at" | "frame_index" | "in_frame")
            && self.receiver_is_machine(&mc.receiver)
    }

    fn receiver_is_machine(&self, e: &Expr) -> bool {
        match e {
            Expr::Path(_) => as_ident(e).and_then(|i| self.lookup(i)).is_some_and(|b| matches!(b, Bind::Machine)),
            Expr::Field(f) => self.receiver_is_machine(&f.base),
            Expr::Paren(p) => self.receiver_is_machine(&p.expr),
            Expr::Reference(r) => self.receiver_is_machine(&r.expr),
            Expr::Unary(u) if matches!(u.op, UnOp::Deref(_)) => self.receiver_is_machine(&u.expr),
            _ => false,
        }
    }

    fn method_call(&mut self, mc: &ExprMethodCall, fallible: bool) -> R<Out> {
        let cg = self.cg.clone();
        let name = mc.method.to_string();
        if let Some(id) = as_ident(&mc.receiver)
            && let Some(Bind::Slice(p, l)) = self.lookup(id)
        {
            return self.slice_method(mc, &p, &l);
        }
        if self.receiver_is_machine(&mc.receiver) {
            // The frame vocabulary.
            let static_arg = |cx: &mut Self, i: usize| -> R<TokenStream> {
                match cx.expr(&mc.args[i], Want::Any)? {
                    Out::Static(ts) => Ok(quote!((#ts) as u32)),
                    _ => Err(err_at(&mc.args[i], "frame slots are static")),
                }
            };
            match name.as_str() {
                "frame_load" if mc.args.len() == 1 => {
                    let s = static_arg(self, 0)?;
                    return Ok(Out::Dyn(quote!(#cg.load_frame(#s)), Some(WordTy::U64)));
                }
                "frame_index" if mc.args.len() == 1 => {
                    let s = static_arg(self, 0)?;
                    return Ok(Out::Dyn(quote!(#cg.frame_index(#s)), Some(WordTy::U64)));
                }
                "frame_store" if mc.args.len() == 2 => {
                    let s = static_arg(self, 0)?;
                    let o = self.expr(&mc.args[1], Want::Any)?;
                    let v = self.value_of(o, Some(WordTy::U64), mc.args[1].span())?;
                    return Ok(Out::Unit(quote!({ let __v = #v; #cg.store_frame(#s, __v); })));
                }
                "frame_load_at" if mc.args.len() == 2 => {
                    let o = self.expr(&mc.args[0], Want::Any)?;
                    let i = self.value_of(o, Some(WordTy::U64), mc.args[0].span())?;
                    let s = static_arg(self, 1)?;
                    return Ok(Out::Dyn(quote!({ let __i = #i; #cg.load_frame_at(__i, #s) }), Some(WordTy::U64)));
                }
                "in_frame" if mc.args.len() == 2 => {
                    let b = static_arg(self, 0)?;
                    let Expr::Closure(cl) = &mc.args[1] else {
                        return Err(err_at(&mc.args[1], "`in_frame` takes a closure `|m| ...` over the machine"));
                    };
                    if cl.inputs.len() != 1 {
                        return Err(err_at(cl, "`in_frame` takes a closure of the machine: `|m| ...`"));
                    }
                    self.scopes.push(Scope { vars: Vec::new() });
                    let mut names = Vec::new();
                    collect_pat_idents(&cl.inputs[0], &mut names);
                    for n in names {
                        self.bind(n, Bind::Machine);
                    }
                    let saved = self.machine_name.clone();
                    let body = self.expr(&cl.body, Want::Any);
                    self.machine_name = saved;
                    self.scopes.pop();
                    let body = body?;
                    let t = self.fresh("t");
                    return Ok(match body {
                        Out::Static(ts) => Out::Static(quote!({ #cg.enter(#b); let #t = #ts; #cg.leave(#b); #t })),
                        Out::Dyn(ts, ty) => Out::Dyn(quote!({ #cg.enter(#b); let #t = #ts; #cg.leave(#b); #t }), ty),
                        Out::Fallible(ts, k) => {
                            Out::Fallible(quote!({ #cg.enter(#b); let #t = #ts; #cg.leave(#b); #t }), k)
                        }
                        Out::Unit(ts) => Out::Unit(quote!({ #cg.enter(#b); #ts; #cg.leave(#b); })),
                        Out::Never(ts) => Out::Never(quote!({ #cg.enter(#b); #ts; #cg.leave(#b); })),
                        _ => return Err(err_at(cl, "this closure gives back nothing usable")),
                    });
                }
                _ => {}
            }
            return match self.shim_call_expr(&Expr::MethodCall(mc.clone()), fallible)? {
                Some(o) => Ok(o),
                None => Err(err_at(mc, "this call is outside the dynamic vocabulary")),
            };
        }
        let recv = self.expr(&mc.receiver, Want::Any)?;
        match recv {
            Out::Static(rts) => {
                let mut parts = Vec::new();
                for a in &mc.args {
                    match self.expr(a, Want::Any)? {
                        Out::Static(ts) => parts.push(ts),
                        _ => {
                            return Err(err_at(
                                a,
                                "a method of static data called with a dynamic argument: write a function that takes the static data as a parameter (it becomes a call in the generated code)",
                            ));
                        }
                    }
                }
                let m = &mc.method;
                let tf = &mc.turbofish;
                Ok(Out::Static(quote!(#rts.#m #tf(#(#parts),*))))
            }
            o @ (Out::Dyn(..) | Out::Fallible(_, FK::Value(_))) => self.word_method(mc, o),
            _ => Err(err_at(&mc.receiver, "this method call is outside the dynamic vocabulary")),
        }
    }

    /// Methods on dynamic words: the wrapping arithmetic.
    fn word_method(&mut self, mc: &ExprMethodCall, recv: Out) -> R<Out> {
        let cg = self.cg.clone();
        let ty = Self::ty_of(&recv);
        let name = mc.method.to_string();
        let span = mc.span();
        let need_ty = |what: &str| -> R<WordTy> {
            ty.ok_or_else(|| {
                err(
                    span,
                    format!(
                        "the type of this dynamic value is not known, so `{what}` cannot be compiled: give it a type (`let x: i64 = ...` or `(x as u64)`)"
                    ),
                )
            })
        };
        let (op, nargs) = match name.as_str() {
            "wrapping_add" => (quote!(::planp_jit::Op2::Add), 1),
            "wrapping_sub" => (quote!(::planp_jit::Op2::Sub), 1),
            "wrapping_mul" => (quote!(::planp_jit::Op2::Mul), 1),
            "wrapping_div" | "wrapping_rem" => {
                let t = need_ty(&name)?;
                let op = match (name.as_str(), t.signed()) {
                    ("wrapping_div", true) => quote!(::planp_jit::Op2::DivS),
                    ("wrapping_div", false) => quote!(::planp_jit::Op2::DivU),
                    (_, true) => quote!(::planp_jit::Op2::RemS),
                    (_, false) => quote!(::planp_jit::Op2::RemU),
                };
                (op, 1)
            }
            "wrapping_shl" | "wrapping_shr" => {
                let t = need_ty(&name)?;
                if t.bits() != 64 || t == WordTy::Bool {
                    return Err(err(span, "dynamic shifts are on 64-bit words only (`u64`, `i64`, `Word`)"));
                }
                let op = match (name.as_str(), t.signed()) {
                    ("wrapping_shl", _) => quote!(::planp_jit::Op2::Shl),
                    (_, true) => quote!(::planp_jit::Op2::ShrS),
                    (_, false) => quote!(::planp_jit::Op2::ShrU),
                };
                (op, 1)
            }
            "wrapping_neg" => (quote!(::planp_jit::Op1::Neg), 0),
            _ => {
                return Err(err_at(
                    &mc.method,
                    format!(
                        "`{name}` is outside the dynamic vocabulary: dynamic words support `wrapping_add`, `wrapping_sub`, `wrapping_mul`, `wrapping_div`, `wrapping_rem`, `wrapping_neg`, `wrapping_shl`, `wrapping_shr`, comparisons, `&`, `|`, `^`, `!` and casts; anything else is a call of a function (it becomes a call in the generated code)"
                    ),
                ));
            }
        };
        if mc.args.len() != nargs {
            return Err(err(span, format!("`{name}` takes {nargs} argument(s)")));
        }
        let rv = self.value_of(recv, ty, mc.receiver.span())?;
        let code = if nargs == 0 {
            quote!({ let __a = #rv; #cg.op1(#op, __a) })
        } else {
            let arg_ty = if name.ends_with("shl") || name.ends_with("shr") { Some(WordTy::U32) } else { ty };
            let o = self.expr(&mc.args[0], Want::Any)?;
            let av = self.value_of(o, arg_ty, mc.args[0].span())?;
            quote!({ let __a = #rv; let __b = #av; #cg.op2(#op, __a, __b) })
        };
        Ok(Out::Dyn(
            match ty {
                Some(t) if t.bits() < 64 && t != WordTy::Bool => normalize(&cg, code, t),
                _ => code,
            },
            ty,
        ))
    }

    /// A call of Rust code with dynamic arguments or the machine: a shim, called through
    /// the one ABI. Its static arguments are lifted into the code as immediates.
    ///
    /// The call becomes a closure `|m, x1, .., xn| CALL` given to `planp_jit::shimN`,
    /// with each static argument's type taken from the lifted value and each dynamic one
    /// inferred from the call (see `planp-jit/src/shim.rs` for why that is sound).
    fn shim_call_expr(&mut self, e: &Expr, fallible: bool) -> R<Option<Out>> {
        self.shim_call_expr_kind(e, if fallible { ShimKind::Fallible } else { ShimKind::Word })
    }

    /// [`Cx::shim_call_expr`] for a shim of any kind: for [`ShimKind::Slice`], the
    /// translation is an expression of type `(V, V)` (address, length).
    fn shim_call_expr_kind(&mut self, e: &Expr, kind: ShimKind) -> R<Option<Out>> {
        let fallible = kind == ShimKind::Fallible;
        let cg = self.cg.clone();
        let (args, build): (Vec<&Expr>, CallBuilder) = match e {
            Expr::Call(c) => {
                let func = c.func.clone();
                if let Some(sp) = self.mentions_dynamic(func.to_token_stream()) {
                    return Err(err(sp, "calling a dynamic function value is outside the dynamic vocabulary"));
                }
                (
                    c.args.iter().collect(),
                    Box::new(move |a: &[TokenStream], _recv: &TokenStream| quote!(#func(#(#a),*))),
                )
            }
            Expr::MethodCall(mc) => {
                if !self.receiver_is_machine(&mc.receiver) {
                    return Ok(None);
                }
                let method = mc.method.clone();
                let tf = mc.turbofish.clone();
                (
                    mc.args.iter().collect(),
                    Box::new(move |a: &[TokenStream], recv: &TokenStream| quote!(#recv.#method #tf(#(#a),*))),
                )
            }
            _ => return Ok(None),
        };
        let recv = match e {
            Expr::MethodCall(mc) => {
                let r = &mc.receiver;
                quote!(#r)
            }
            _ => quote!(),
        };
        let mut pre = TokenStream::new();
        let mut words = Vec::new();
        let mut params = Vec::new();
        let mut tys = Vec::new();
        let mut call_args = Vec::new();
        for a in args {
            let o = self.expr(a, Want::Any)?;
            match o {
                Out::Machine(place) => call_args.push(place),
                Out::Static(ts) => {
                    let k = words.len() + 1;
                    let sv = self.fresh("sa");
                    let w = self.fresh("w");
                    pre.extend(quote_spanned!(a.span()=>
                        let #sv = #ts;
                        let #w = #cg.imm(::planp_jit::StaticArg::lift(#sv));
                    ));
                    tys.push(quote!(::planp_jit::static_arg(&#sv)));
                    words.push(quote!(#w));
                    let x = Ident::new(&format!("__x{k}"), Span::mixed_site());
                    params.push(quote!(#x));
                    call_args.push(quote!(#x));
                }
                o @ (Out::Dyn(..) | Out::Fallible(_, FK::Value(_)) | Out::Never(_)) => {
                    let k = words.len() + 1;
                    let v = self.value_of(o, None, a.span())?;
                    let t = self.fresh("da");
                    pre.extend(quote!(let #t = #v;));
                    tys.push(quote!(::planp_jit::dynamic_arg()));
                    words.push(quote!(#t));
                    let x = Ident::new(&format!("__x{k}"), Span::mixed_site());
                    params.push(quote!(#x));
                    call_args.push(quote!(#x));
                }
                Out::Marker => {
                    return Err(err_at(a, "a failure payload carries no data: it cannot be passed to a function"));
                }
                Out::Fallible(..) => {
                    return Err(err_at(a, "use `?` on this dynamic `Result` before passing its value"));
                }
                Out::Unit(_) => return Err(err_at(a, "this argument gives no value")),
            }
        }
        if words.len() > 5 {
            return Err(err_at(
                e,
                "a call through the ABI takes the machine and at most five words: pass fewer arguments (static data can go by one reference to where it lives)",
            ));
        }
        let Some(mname) = self.machine_name.clone() else {
            return Err(err_at(
                e,
                "a call with dynamic arguments becomes a call through the ABI, which passes the machine: give this function the machine as a `#[dynamic]` parameter",
            ));
        };
        let mty = self.machine_ty.clone();
        let call = build(&call_args, &recv);
        let slice = kind == ShimKind::Slice;
        let shim_fn =
            if slice { format_ident!("shim_slice{}", words.len()) } else { format_ident!("shim{}", words.len()) };
        let note = format!("call: {}", pretty(&e.to_token_stream()));
        let f = self.fresh("shim");
        let emit = if slice {
            quote!(#cg.call_slice(#f, &[#(#words),*]))
        } else {
            quote!(#cg.call(#f, &[#(#words),*], #fallible))
        };
        let ts = quote!({
            #pre
            let #f = ::planp_jit::#shim_fn(|#mname: &mut #mty, #(#params),*| #call, #(#tys),*);
            #cg.note(#note);
            #emit
        });
        self.shim_count += 1;
        Ok(Some(if fallible { Out::Fallible(ts, FK::Value(None)) } else { Out::Dyn(ts, None) }))
    }
}

/// What a shim gives back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ShimKind {
    /// A word.
    Word,
    /// A word or a failure.
    Fallible,
    /// A byte slice of the machine.
    Slice,
}

/// Is `t` `&[u8]`?
fn is_byte_slice(t: &syn::Type) -> bool {
    match t {
        syn::Type::Reference(r) if r.mutability.is_none() => {
            matches!(&*r.elem, syn::Type::Slice(sl) if matches!(&*sl.elem, syn::Type::Path(p) if p.path.is_ident("u8")))
        }
        _ => false,
    }
}

/// Rebuilds a call from its arguments and its receiver.
type CallBuilder = Box<dyn Fn(&[TokenStream], &TokenStream) -> TokenStream>;

/// The kind of a static choice's alternatives.
enum OutKind {
    Static,
    Dyn(Ty),
    Fallible(FK),
    Unit,
}

impl OutKind {
    fn with(self, ts: TokenStream) -> Out {
        match self {
            OutKind::Static => Out::Static(ts),
            OutKind::Dyn(t) => Out::Dyn(ts, t),
            OutKind::Fallible(k) => Out::Fallible(ts, k),
            OutKind::Unit => Out::Unit(ts),
        }
    }
}

enum JoinKind {
    /// The arms give a word (of this type); fallible if they are `Result`s.
    Value(Ty, bool),
    /// The arms give nothing.
    Unit(bool),
}

fn wrap_block(stmts: TokenStream, tail: Out) -> Out {
    if stmts.is_empty() {
        return tail;
    }
    match tail {
        Out::Static(ts) => Out::Static(quote!({ #stmts #ts })),
        Out::Dyn(ts, t) => Out::Dyn(quote!({ #stmts #ts }), t),
        Out::Fallible(ts, k) => Out::Fallible(quote!({ #stmts #ts }), k),
        Out::Unit(ts) => Out::Unit(quote!({ #stmts #ts })),
        Out::Never(ts) => Out::Never(quote!({ #stmts #ts })),
        Out::Machine(ts) => Out::Machine(ts),
        Out::Marker => Out::Unit(quote!({ #stmts })),
    }
}

/// Re-establish the canonical form of a word of type `t` after an operation.
fn normalize(cg: &Ident, v: TokenStream, t: WordTy) -> TokenStream {
    let bits = t.bits();
    if bits == 64 || t == WordTy::Bool {
        return v;
    }
    let op = if t.signed() { quote!(::planp_jit::Op1::Sext(#bits)) } else { quote!(::planp_jit::Op1::Zext(#bits)) };
    quote!({ let __n = #v; #cg.op1(#op, __n) })
}

fn collect_pat_idents(p: &Pat, out: &mut Vec<Ident>) {
    match p {
        Pat::Ident(pi) => {
            // A lone identifier that names a unit variant or constant is not a binding,
            // but treating it as one is harmless (it is static either way).
            out.push(pi.ident.clone());
            if let Some((_, sub)) = &pi.subpat {
                collect_pat_idents(sub, out);
            }
        }
        Pat::Tuple(t) => t.elems.iter().for_each(|e| collect_pat_idents(e, out)),
        Pat::TupleStruct(t) => t.elems.iter().for_each(|e| collect_pat_idents(e, out)),
        Pat::Struct(s) => s.fields.iter().for_each(|f| collect_pat_idents(&f.pat, out)),
        Pat::Reference(r) => collect_pat_idents(&r.pat, out),
        Pat::Or(o) => {
            if let Some(first) = o.cases.first() {
                collect_pat_idents(first, out)
            }
        }
        Pat::Slice(s) => s.elems.iter().for_each(|e| collect_pat_idents(e, out)),
        Pat::Type(t) => collect_pat_idents(&t.pat, out),
        Pat::Paren(p) => collect_pat_idents(&p.pat, out),
        _ => {}
    }
}

/// Tokens as compact text (for notes).
fn pretty(ts: &TokenStream) -> String {
    let s = ts.to_string();
    let s = s.replace(" :: ", "::").replace(" . ", ".").replace(" ,", ",").replace("( ", "(").replace(" )", ")");
    let s = s.replace(" (", "(").replace("& ", "&").replace("{ ..}", "{..}");
    if s.len() > 60 {
        format!("{}...", &s[..s.char_indices().take(57).last().map_or(0, |(i, c)| i + c.len_utf8())])
    } else {
        s
    }
}

/// Is `name` used at most once on every path through `stmts` (and at least once), and
/// not inside a loop or a closure (where one occurrence may run, or be emitted, more than
/// once)? Then each use is the value's last on its path. Conservative: any other occurrence of the name (a shadowing binding's use, a
/// mention inside a macro) counts as a use.
fn used_once<'a>(name: &Ident, stmts: impl Iterator<Item = &'a Stmt>) -> bool {
    struct Uses<'n> {
        name: &'n Ident,
        count: usize,
        looping: usize,
        bad: bool,
    }
    impl<'ast> syn::visit::Visit<'ast> for Uses<'_> {
        fn visit_ident(&mut self, i: &'ast Ident) {
            if i == self.name {
                self.count += 1;
                if self.looping > 0 {
                    self.bad = true;
                }
            }
        }
        fn visit_macro(&mut self, m: &'ast syn::Macro) {
            if m.tokens.to_string().contains(&self.name.to_string()) {
                self.bad = true;
            }
            syn::visit::visit_macro(self, m);
        }
        fn visit_expr_while(&mut self, e: &'ast syn::ExprWhile) {
            self.looping += 1;
            syn::visit::visit_expr_while(self, e);
            self.looping -= 1;
        }
        fn visit_expr_for_loop(&mut self, e: &'ast syn::ExprForLoop) {
            self.looping += 1;
            syn::visit::visit_expr_for_loop(self, e);
            self.looping -= 1;
        }
        fn visit_expr_loop(&mut self, e: &'ast syn::ExprLoop) {
            self.looping += 1;
            syn::visit::visit_expr_loop(self, e);
            self.looping -= 1;
        }
        fn visit_expr_closure(&mut self, e: &'ast syn::ExprClosure) {
            self.looping += 1;
            syn::visit::visit_expr_closure(self, e);
            self.looping -= 1;
        }
        // Branches exclude each other: a use in each arm is one use on every path.
        fn visit_expr_match(&mut self, m: &'ast syn::ExprMatch) {
            self.visit_expr(&m.expr);
            let mut most = 0;
            for arm in &m.arms {
                let mut sub = Uses { name: self.name, count: 0, looping: self.looping, bad: false };
                syn::visit::visit_arm(&mut sub, arm);
                most = most.max(sub.count);
                self.bad |= sub.bad;
            }
            self.count += most;
        }
        fn visit_expr_if(&mut self, e: &'ast syn::ExprIf) {
            self.visit_expr(&e.cond);
            let mut then = Uses { name: self.name, count: 0, looping: self.looping, bad: false };
            syn::visit::visit_block(&mut then, &e.then_branch);
            let mut other = Uses { name: self.name, count: 0, looping: self.looping, bad: false };
            if let Some((_, x)) = &e.else_branch {
                other.visit_expr(x);
            }
            self.count += then.count.max(other.count);
            self.bad |= then.bad || other.bad;
        }
    }
    let mut u = Uses { name, count: 0, looping: 0, bad: false };
    for s in stmts {
        syn::visit::Visit::visit_stmt(&mut u, s);
    }
    u.count == 1 && !u.bad
}
