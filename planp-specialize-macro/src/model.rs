//! What the macro knows about the annotated functions: binding times of parameters,
//! word types of dynamic values, the shape of results.

use proc_macro2::{Ident, Span};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, Pat, ReturnType, Type};

/// The type of a dynamic value: one machine word in canonical form (unsigned types
/// zero-extended, signed ones sign-extended, `bool` as 0 or 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WordTy {
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    Bool,
}

impl WordTy {
    /// Read a type written in the interpreter: the integer types, `usize`/`isize` (64
    /// bits here), `bool`, and `Word` (the machine word, `u64`).
    pub fn parse(t: &Type) -> Option<WordTy> {
        let Type::Path(p) = t else { return None };
        if p.qself.is_some() {
            return None;
        }
        let last = p.path.segments.last()?;
        if !last.arguments.is_empty() {
            return None;
        }
        Some(match last.ident.to_string().as_str() {
            "u8" => WordTy::U8,
            "u16" => WordTy::U16,
            "u32" => WordTy::U32,
            "u64" | "usize" | "Word" => WordTy::U64,
            "i8" => WordTy::I8,
            "i16" => WordTy::I16,
            "i32" => WordTy::I32,
            "i64" | "isize" => WordTy::I64,
            "bool" => WordTy::Bool,
            _ => return None,
        })
    }

    pub fn signed(self) -> bool {
        matches!(self, WordTy::I8 | WordTy::I16 | WordTy::I32 | WordTy::I64)
    }

    /// The width in bits (bool counts as 64: it is 0 or 1 and never narrowed).
    pub fn bits(self) -> u8 {
        match self {
            WordTy::U8 | WordTy::I8 => 8,
            WordTy::U16 | WordTy::I16 => 16,
            WordTy::U32 | WordTy::I32 => 32,
            _ => 64,
        }
    }

    /// The Rust type, for casts of lifted constants.
    pub fn rust(self) -> proc_macro2::TokenStream {
        match self {
            WordTy::U8 => quote::quote!(u8),
            WordTy::U16 => quote::quote!(u16),
            WordTy::U32 => quote::quote!(u32),
            WordTy::U64 => quote::quote!(u64),
            WordTy::I8 => quote::quote!(i8),
            WordTy::I16 => quote::quote!(i16),
            WordTy::I32 => quote::quote!(i32),
            WordTy::I64 => quote::quote!(i64),
            WordTy::Bool => quote::quote!(bool),
        }
    }
}

/// The binding time and role of a parameter.
#[derive(Clone, Debug)]
pub enum ParamKind {
    /// Known when the program is loaded.
    Static,
    /// The machine: frames, heap, effects (a reference).
    Machine,
    /// A dynamic word.
    Word(WordTy),
}

#[derive(Clone, Debug)]
pub struct Param {
    pub name: Ident,
    pub ty: Type,
    pub kind: ParamKind,
}

/// What a function gives back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetKind {
    /// Nothing.
    Unit,
    /// A word.
    Word(WordTy),
    /// `Result<T, E>` or `Option<T>`: failure is a jump to the current handler; the
    /// value is a word or nothing.
    Fallible(Option<WordTy>),
}

/// A function written in the two-level style.
#[derive(Clone, Debug)]
pub struct TwoLevel {
    pub name: Ident,
    pub params: Vec<Param>,
    pub ret: RetKind,
    /// The machine's type (`T` of `&T` / `&mut T`), if the function has a machine.
    pub machine: Option<Type>,
}

/// Read and remove the binding-time attribute of one parameter.
fn take_binding_time(arg: &mut FnArg, errors: &mut Vec<syn::Error>) -> Option<bool> {
    let span = arg.span();
    let attrs = match arg {
        FnArg::Receiver(r) => &mut r.attrs,
        FnArg::Typed(t) => &mut t.attrs,
    };
    let mut found: Option<bool> = None;
    attrs.retain(|a| {
        let is_static = if a.path().is_ident("stat") {
            true
        } else if a.path().is_ident("dynamic") {
            false
        } else {
            return true;
        };
        if !matches!(a.meta, syn::Meta::Path(_)) {
            errors.push(syn::Error::new(
                a.span(),
                "binding-time attributes take no arguments: write `#[stat]` or `#[dynamic]`",
            ));
        }
        match found {
            Some(prev) => errors.push(syn::Error::new(
                a.span(),
                if prev == is_static {
                    "this parameter's binding time is given twice"
                } else {
                    "a parameter is either `#[stat]` or `#[dynamic]`, not both"
                },
            )),
            None => found = Some(is_static),
        }
        false
    });
    if found.is_none() {
        errors.push(syn::Error::new(
            span,
            "every parameter of a two-level function needs a binding time: `#[stat]` (known when the program is loaded) or `#[dynamic]` (known when a packet arrives)",
        ));
    }
    found
}

/// Does any parameter of `f` carry a binding-time attribute (so `f` is two-level)?
pub fn is_two_level(f: &ItemFn) -> bool {
    f.sig.inputs.iter().any(|a| {
        let attrs = match a {
            FnArg::Receiver(r) => &r.attrs,
            FnArg::Typed(t) => &t.attrs,
        };
        attrs.iter().any(|a| a.path().is_ident("stat") || a.path().is_ident("dynamic"))
    })
}

/// Unwrap `Result<T, _>` / `Option<T>`.
fn fallible_inner(t: &Type) -> Option<Option<&Type>> {
    let Type::Path(p) = t else { return None };
    let last = p.path.segments.last()?;
    let name = last.ident.to_string();
    if name != "Result" && name != "Option" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(a) = &last.arguments else { return None };
    let first = a.args.first()?;
    let syn::GenericArgument::Type(inner) = first else { return None };
    if let Type::Tuple(t) = inner
        && t.elems.is_empty()
    {
        return Some(None);
    }
    Some(Some(inner))
}

/// Read the signature of a two-level function, removing its binding-time attributes.
pub fn read_signature(f: &mut ItemFn, errors: &mut Vec<syn::Error>) -> Option<TwoLevel> {
    let mut params = Vec::new();
    let mut machine = None;
    let mut ok = true;
    for arg in f.sig.inputs.iter_mut() {
        let bt = take_binding_time(arg, errors);
        let FnArg::Typed(pt) = arg else {
            errors.push(syn::Error::new(arg.span(), "a two-level function cannot take `self`"));
            ok = false;
            continue;
        };
        let Pat::Ident(pi) = &*pt.pat else {
            errors.push(syn::Error::new(pt.pat.span(), "parameters of a two-level function are plain names"));
            ok = false;
            continue;
        };
        let name = pi.ident.clone();
        let ty = (*pt.ty).clone();
        let kind = match bt {
            None => {
                ok = false;
                continue;
            }
            Some(true) => ParamKind::Static,
            Some(false) => {
                if let Type::Reference(r) = &ty {
                    if let Some(m) = &machine {
                        let _: &Type = m;
                        errors.push(syn::Error::new(
                            pt.ty.span(),
                            "a two-level function has at most one machine (a `#[dynamic]` reference)",
                        ));
                        ok = false;
                        continue;
                    }
                    machine = Some((*r.elem).clone());
                    ParamKind::Machine
                } else if let Some(w) = WordTy::parse(&ty) {
                    ParamKind::Word(w)
                } else {
                    errors.push(syn::Error::new(
                        pt.ty.span(),
                        "a `#[dynamic]` parameter is a machine word (`u8`..`u64`, `i8`..`i64`, `usize`, `bool`, `Word`) or a reference to the machine",
                    ));
                    ok = false;
                    continue;
                }
            }
        };
        params.push(Param { name, ty, kind });
    }
    if !params.is_empty() && params.iter().all(|p| matches!(p.kind, ParamKind::Static)) {
        errors.push(syn::Error::new(
            f.sig.ident.span(),
            "a two-level function with only static parameters does no dynamic work; make it an ordinary function called at specialization time",
        ));
        ok = false;
    }
    if let Some(c) = &f.sig.constness {
        errors.push(syn::Error::new(c.span(), "a two-level function cannot be `const`"));
        ok = false;
    }
    if let Some(a) = &f.sig.asyncness {
        errors.push(syn::Error::new(a.span(), "a two-level function cannot be `async`"));
        ok = false;
    }
    if !f.sig.generics.params.is_empty() {
        errors.push(syn::Error::new(
            f.sig.generics.span(),
            "a two-level function cannot be generic: its generating extension is one function",
        ));
        ok = false;
    }
    let ret = match &f.sig.output {
        ReturnType::Default => RetKind::Unit,
        ReturnType::Type(_, t) => {
            if let Type::Tuple(tt) = &**t
                && tt.elems.is_empty()
            {
                RetKind::Unit
            } else if let Some(inner) = fallible_inner(t) {
                match inner {
                    None => RetKind::Fallible(None),
                    Some(it) => match WordTy::parse(it) {
                        Some(w) => RetKind::Fallible(Some(w)),
                        None => {
                            errors.push(syn::Error::new(
                                it.span(),
                                "a two-level function gives back a machine word, `()`, or a `Result`/`Option` of one",
                            ));
                            return None;
                        }
                    },
                }
            } else if let Some(w) = WordTy::parse(t) {
                RetKind::Word(w)
            } else {
                errors.push(syn::Error::new(
                    t.span(),
                    "a two-level function gives back a machine word, `()`, or a `Result`/`Option` of one",
                ));
                return None;
            }
        }
    };
    if !ok {
        return None;
    }
    Some(TwoLevel { name: f.sig.ident.clone(), params, ret, machine })
}

/// A fresh identifier for generated code.
pub fn fresh(prefix: &str, n: &mut u32) -> Ident {
    *n += 1;
    Ident::new(&format!("__{prefix}{n}"), Span::mixed_site())
}
