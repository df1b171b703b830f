//! PLAN-P types as the type checker and the typing functions of primitives see them.
//!
//! Types live here rather than in `planp-interp` because a primitive's typing function
//! (one of its two functions) computes a result type from argument types, and primitives
//! must not depend on the front end. `Type::Var` exists because the checker infers
//! monomorphic types by unification; typing functions receive a [`TypeCx`] to unify with.

use std::fmt;

/// A PLAN-P type.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Type {
    /// `unit`, whose only value is `()`.
    Unit,
    /// `int`: 64-bit two's complement, wrapping.
    Int,
    /// `bool`.
    Bool,
    /// `char`: one byte.
    Char,
    /// `string`: immutable bytes, usually text.
    String,
    /// `host`: an IPv4 address.
    Host,
    /// `blob`: immutable raw bytes.
    Blob,
    /// `eth`: an Ethernet header.
    Eth,
    /// `ip`: an IPv4 header (with its options).
    Ip,
    /// `ip6`: an IPv6 header (with its extension headers).
    Ip6,
    /// `tcp`: a TCP header (with its options).
    Tcp,
    /// `udp`: a UDP header.
    Udp,
    /// `t1*t2*...*tn`, n >= 2.
    Tuple(Vec<Type>),
    /// `t list`.
    List(Box<Type>),
    /// `v hash_table`: a mutable table. The key type (first) is not written in programs;
    /// it is inferred from the table's uses.
    Table(Box<Type>, Box<Type>),
    /// A type not yet known to the checker (inference variable).
    Var(u32),
    /// The type of an expression that already has a reported error; unifies with anything
    /// so that one mistake gives one diagnostic.
    Error,
}

impl Type {
    /// Is a value of this type represented by a heap handle (as opposed to an unboxed
    /// scalar)? The run time needs this to trace and copy values; it never looks at a word
    /// to find out.
    pub fn is_ptr(&self) -> bool {
        matches!(
            self,
            Type::String
                | Type::Blob
                | Type::Eth
                | Type::Ip
                | Type::Ip6
                | Type::Tcp
                | Type::Udp
                | Type::Tuple(_)
                | Type::List(_)
                | Type::Table(..)
        )
    }

    /// Is this one of the four header types?
    pub fn is_header(&self) -> bool {
        matches!(self, Type::Eth | Type::Ip | Type::Ip6 | Type::Tcp | Type::Udp)
    }

    /// Does the type admit `=` and `<>`, and may it be a hash-table key? Every type does
    /// except hash tables and types that contain them.
    pub fn admits_equality(&self) -> bool {
        match self {
            Type::Table(..) => false,
            Type::Tuple(ts) => ts.iter().all(Type::admits_equality),
            Type::List(t) => t.admits_equality(),
            _ => true,
        }
    }

    /// Does the type contain an inference variable?
    pub fn has_vars(&self) -> bool {
        match self {
            Type::Var(_) => true,
            Type::Tuple(ts) => ts.iter().any(Type::has_vars),
            Type::List(t) => t.has_vars(),
            Type::Table(k, v) => k.has_vars() || v.has_vars(),
            _ => false,
        }
    }

    /// Does the type contain [`Type::Error`]?
    pub fn has_error(&self) -> bool {
        match self {
            Type::Error => true,
            Type::Tuple(ts) => ts.iter().any(Type::has_error),
            Type::List(t) => t.has_error(),
            Type::Table(k, v) => k.has_error() || v.has_error(),
            _ => false,
        }
    }

    /// The name of a base type as written in programs, for the lexer-free type parser.
    pub fn base_from_name(name: &str) -> Option<Type> {
        Some(match name {
            "unit" => Type::Unit,
            "int" => Type::Int,
            "bool" => Type::Bool,
            "char" => Type::Char,
            "string" => Type::String,
            "host" => Type::Host,
            "blob" => Type::Blob,
            "eth" => Type::Eth,
            "ip" => Type::Ip,
            "ip6" => Type::Ip6,
            "tcp" => Type::Tcp,
            "udp" => Type::Udp,
            _ => return None,
        })
    }

    fn fmt_prec(&self, f: &mut fmt::Formatter<'_>, prec: u8) -> fmt::Result {
        // prec 0: top; 1: inside a tuple component; 2: before a postfix constructor.
        match self {
            Type::Unit => f.write_str("unit"),
            Type::Int => f.write_str("int"),
            Type::Bool => f.write_str("bool"),
            Type::Char => f.write_str("char"),
            Type::String => f.write_str("string"),
            Type::Host => f.write_str("host"),
            Type::Blob => f.write_str("blob"),
            Type::Eth => f.write_str("eth"),
            Type::Ip => f.write_str("ip"),
            Type::Ip6 => f.write_str("ip6"),
            Type::Tcp => f.write_str("tcp"),
            Type::Udp => f.write_str("udp"),
            Type::Error => f.write_str("{error}"),
            // PLAN-P programs have no type variables; an unknown type reads as `_`.
            Type::Var(_) => f.write_str("_"),
            Type::Tuple(ts) => {
                if prec >= 1 {
                    f.write_str("(")?;
                }
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        f.write_str("*")?;
                    }
                    t.fmt_prec(f, 1)?;
                }
                if prec >= 1 {
                    f.write_str(")")?;
                }
                Ok(())
            }
            Type::List(t) => {
                t.fmt_prec(f, 2)?;
                f.write_str(" list")
            }
            Type::Table(_, v) => {
                v.fmt_prec(f, 2)?;
                f.write_str(" hash_table")
            }
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_prec(f, 0)
    }
}

/// Two types that cannot be made equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mismatch;

/// What a typing function may do with types: make fresh variables, look through solved
/// variables, and unify. The type checker implements it.
pub trait TypeCx {
    /// A fresh inference variable.
    fn fresh(&mut self) -> Type;
    /// `t` with every solved variable replaced by its solution (deeply).
    fn resolve(&self, t: &Type) -> Type;
    /// Make `a` and `b` equal, or fail leaving both unchanged.
    fn unify(&mut self, a: &Type, b: &Type) -> Result<(), Mismatch>;
}

/// Why a primitive rejects its arguments. `arg` names the offending argument (0-based)
/// so that the diagnostic points at it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrimTypeError {
    /// The argument at fault, if one is.
    pub arg: Option<usize>,
    /// What is wrong, as a sentence fragment ("expected `ip`, found `tcp`").
    pub message: String,
    /// How to fix it, when there is something useful to say.
    pub help: Option<String>,
}

impl PrimTypeError {
    /// An error about argument `arg`.
    pub fn at(arg: usize, message: impl Into<String>) -> Self {
        PrimTypeError { arg: Some(arg), message: message.into(), help: None }
    }
    /// An error about the call as a whole.
    pub fn call(message: impl Into<String>) -> Self {
        PrimTypeError { arg: None, message: message.into(), help: None }
    }
    /// Attach a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Helpers for writing typing functions: arity and argument checks that produce good
/// messages.
pub mod check {
    use super::{PrimTypeError, Type, TypeCx};

    /// Exactly `n` arguments.
    pub fn arity(args: &[Type], n: usize) -> Result<(), PrimTypeError> {
        if args.len() == n {
            Ok(())
        } else {
            Err(PrimTypeError::call(format!(
                "expects {n} argument{}, but {} {} given",
                if n == 1 { "" } else { "s" },
                args.len(),
                if args.len() == 1 { "was" } else { "were" }
            )))
        }
    }

    /// Argument `i` must have type `want` (unified, so variables are solved).
    pub fn arg(cx: &mut dyn TypeCx, args: &[Type], i: usize, want: &Type) -> Result<(), PrimTypeError> {
        let got = &args[i];
        cx.unify(got, want)
            .map_err(|_| PrimTypeError::at(i, format!("expected `{}`, found `{}`", want, cx.resolve(got))))
    }

    /// Argument `i` must be a hash table; returns its (key, value) types.
    pub fn table(cx: &mut dyn TypeCx, args: &[Type], i: usize) -> Result<(Type, Type), PrimTypeError> {
        let (k, v) = (cx.fresh(), cx.fresh());
        let want = Type::Table(Box::new(k.clone()), Box::new(v.clone()));
        arg(cx, args, i, &want).map_err(|e| PrimTypeError {
            message: format!("expected a hash table, found `{}`", cx.resolve(&args[i])),
            ..e
        })?;
        Ok((cx.resolve(&k), cx.resolve(&v)))
    }

    /// Argument `i` must be a list; returns its element type.
    pub fn list(cx: &mut dyn TypeCx, args: &[Type], i: usize) -> Result<Type, PrimTypeError> {
        let e = cx.fresh();
        let want = Type::List(Box::new(e.clone()));
        arg(cx, args, i, &want).map_err(|err| PrimTypeError {
            message: format!("expected a list, found `{}`", cx.resolve(&args[i])),
            ..err
        })?;
        Ok(cx.resolve(&e))
    }

    /// Argument `i` must be a string or a blob (already known); returns which.
    pub fn bytes_like(cx: &mut dyn TypeCx, args: &[Type], i: usize) -> Result<Type, PrimTypeError> {
        match cx.resolve(&args[i]) {
            t @ (Type::String | Type::Blob) => Ok(t),
            Type::Error => Ok(Type::Error),
            Type::Var(_) => Err(PrimTypeError::at(i, "cannot tell whether this is a `string` or a `blob`")
                .with_help("add a type annotation to the value passed here")),
            t => Err(PrimTypeError::at(i, format!("expected `string` or `blob`, found `{t}`"))),
        }
    }
}
