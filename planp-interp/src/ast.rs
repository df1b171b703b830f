//! The syntax tree the parser builds: close to the source, with spans everywhere.
//! Names are still text; the type checker resolves them and produces [`crate::ir`].

use crate::span::Span;

/// A name as written, with its span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    /// The text.
    pub text: String,
    /// Where it is.
    pub span: Span,
}

/// A whole program: its declarations in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Program {
    /// Top-level declarations.
    pub decls: Vec<Decl>,
}

/// A declaration.
#[derive(Clone, Debug, PartialEq)]
pub enum Decl {
    /// `val x : t = e`
    Val(ValDecl),
    /// `fun f(x : t, ...) : t = e`
    Fun(FunDecl),
    /// `exception E`
    Exception(Name),
    /// `channel NAME(ps : t, ss : t, p : t) [initstate e] is e`
    Channel(Box<ChannelDecl>),
    /// A `val`, `fun` or `channel` that did not parse after its name: the name is still declared
    /// (with an unknown type), so that its uses cause no further errors.
    Broken(BrokenKind, Name),
}

/// What a [`Decl::Broken`] was meant to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrokenKind {
    /// A `val`.
    Val,
    /// A `fun`.
    Fun,
    /// A `channel`.
    Channel,
}

/// `val x [: t] = e`
#[derive(Clone, Debug, PartialEq)]
pub struct ValDecl {
    /// The bound name.
    pub name: Name,
    /// The annotation, if any.
    pub ty: Option<TypeExpr>,
    /// The initialiser.
    pub init: Expr,
}

/// A parameter `x [: t]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// Its name.
    pub name: Name,
    /// Its annotation, if any.
    pub ty: Option<TypeExpr>,
}

/// `fun f(params) [: t] = e`
#[derive(Clone, Debug, PartialEq)]
pub struct FunDecl {
    /// The function's name.
    pub name: Name,
    /// Parameters.
    pub params: Vec<Param>,
    /// Result annotation.
    pub ret: Option<TypeExpr>,
    /// Body.
    pub body: Expr,
    /// The whole declaration.
    pub span: Span,
}

/// `channel NAME(ps : t, ss : t, p : t) [initstate e] is e`
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelDecl {
    /// The channel's name (`network` for packets of existing applications).
    pub name: Name,
    /// Protocol state parameter.
    pub ps: Param,
    /// Channel state parameter.
    pub ss: Param,
    /// Packet parameter.
    pub pkt: Param,
    /// The channel state's first value.
    pub init: Option<Expr>,
    /// Body.
    pub body: Expr,
    /// The header (`channel` to the packet parameter's closing parenthesis).
    pub head_span: Span,
}

/// A declaration inside `let`.
#[derive(Clone, Debug, PartialEq)]
pub enum LetDecl {
    /// `val`
    Val(ValDecl),
    /// `fun`
    Fun(FunDecl),
    /// `exception`
    Exception(Name),
}

/// A written type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeExpr {
    /// A base type name (`int`, `ip`, ...).
    Named(Name),
    /// `t1*t2*...`
    Tuple(Vec<TypeExpr>, Span),
    /// `t list`
    List(Box<TypeExpr>, Span),
    /// `t hash_table`
    Table(Box<TypeExpr>, Span),
    /// A type that did not lex (already reported).
    Error(Span),
}

impl TypeExpr {
    /// Where the type is written.
    pub fn span(&self) -> Span {
        match self {
            TypeExpr::Named(n) => n.span,
            TypeExpr::Tuple(_, s) | TypeExpr::List(_, s) | TypeExpr::Table(_, s) | TypeExpr::Error(s) => *s,
        }
    }
}

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is.
    pub span: Span,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` or `div`
    Div,
    /// `%` or `mod`
    Mod,
    /// `andi` (bitwise and)
    AndI,
    /// `ori` (bitwise or)
    OrI,
    /// `xori` (bitwise exclusive or)
    XorI,
    /// `<<`
    Shl,
    /// `>>` (arithmetic)
    Shr,
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
    /// `::`
    Cons,
    /// `@` (list append)
    Append,
    /// `^`
    Concat,
    /// `andalso` or `and`
    AndAlso,
    /// `orelse` or `or`
    OrElse,
}

impl BinOp {
    /// The operator as written.
    pub fn text(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::AndI => "andi",
            BinOp::OrI => "ori",
            BinOp::XorI => "xori",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
            BinOp::Eq => "=",
            BinOp::Ne => "<>",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Cons => "::",
            BinOp::Append => "@",
            BinOp::Concat => "^",
            BinOp::AndAlso => "andalso",
            BinOp::OrElse => "orelse",
        }
    }
}

/// Unary operators (the prefix primitives `hd`, `tl`, ... become calls instead).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnOp {
    /// `~` or prefix `-`
    Neg,
    /// `not`
    Not,
    /// `noti` (bitwise not)
    NotI,
}

/// `foldl` or `foldr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FoldDir {
    /// `foldl(f, z, [x1, ..., xn]) = f(...f(f(z, x1), x2)..., xn)`
    Left,
    /// `foldr(f, z, [x1, ..., xn]) = f(x1, f(x2, ... f(xn, z)))`
    Right,
}

/// One handler of `try ... handle`.
#[derive(Clone, Debug, PartialEq)]
pub struct Handler {
    /// The exception handled; `None` for `_` (any exception).
    pub exn: Option<Name>,
    /// The handler's expression.
    pub body: Expr,
}

/// `OnRemote` or `OnNeighbor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SendForm {
    /// `OnRemote(channel, packet)`
    Remote,
    /// `OnNeighbor(channel, packet, neighbour)`
    Neighbor,
}

/// Expression forms.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// An integer literal; the value is already negated for `~9223372036854775808`.
    Int(i64),
    /// `true` / `false`
    Bool(bool),
    /// A character literal.
    Char(u8),
    /// A string literal.
    Str(Vec<u8>),
    /// A host literal.
    Host(u32),
    /// `()`
    Unit,
    /// A variable.
    Var(Name),
    /// `f(args)`, or a prefix primitive such as `hd l`.
    Call(Name, Vec<Expr>),
    /// `let decls in body end` (a body of several expressions is a `Seq`).
    Let(Vec<LetDecl>, Box<Expr>),
    /// `if c then t else e`
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `(e1; e2; ...)`: evaluate in order, value of the last.
    Seq(Vec<Expr>),
    /// `(e1, e2, ...)`
    Tuple(Vec<Expr>),
    /// `#n e` (n from 1), with the span of `#n`.
    Proj(u32, Box<Expr>, Span),
    /// `[e1, e2, ...]`
    List(Vec<Expr>),
    /// A unary operator.
    Unary(UnOp, Box<Expr>),
    /// A binary operator, with the operator's span.
    Binary(BinOp, Box<Expr>, Box<Expr>, Span),
    /// `raise E`
    Raise(Name),
    /// `try e handle E => e' | ...`
    Try(Box<Expr>, Vec<Handler>),
    /// `foldl(f, z, l)` / `foldr(f, z, l)`
    Fold(FoldDir, Name, Box<Expr>, Box<Expr>),
    /// `OnRemote(c, p)` / `OnNeighbor(c, p, h)`
    Send(SendForm, Name, Box<Expr>, Option<Box<Expr>>),
    /// `(e : t)`: a type constraint.
    Annot(Box<Expr>, TypeExpr),
    /// Stands for an expression that did not parse (an error is already reported).
    Error,
}
