//! Binding-time attributes for the PLAN-P interpreter, and (to come) the generator of its
//! run-time specializer.
//!
//! `#[specialize]` marks an evaluator function written in the two-level style: each
//! parameter is `#[stat]` (known when a program is loaded: the syntax tree, types, slots)
//! or `#[dynamic]` (known only when a packet arrives: the machine with its frames, heap
//! and states). Today the macro checks the annotations and emits the function unchanged,
//! so the annotated interpreter *is* the interpreter; the issue "The generated
//! specializer" extends it to also emit the generating extension from the same body.
//! The discipline is described in `docs/architecture.md`.
//!
//! The macro is a small pipeline, as in thiserror: parse the item, read the attributes,
//! validate, expand. Mistakes are spanned compile errors; a fallback expansion (the
//! function with its attributes stripped) keeps the user to one error.

use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::quote;
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, parse_macro_input};

/// The binding time of a parameter.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum BindingTime {
    Static,
    Dynamic,
}

/// Read and remove the binding-time attribute of one parameter.
fn take_binding_time(arg: &mut FnArg, errors: &mut Vec<syn::Error>) -> Option<BindingTime> {
    let span = arg.span();
    let attrs = match arg {
        FnArg::Receiver(r) => &mut r.attrs,
        FnArg::Typed(t) => &mut t.attrs,
    };
    let mut found: Option<(BindingTime, Span)> = None;
    attrs.retain(|a| {
        let bt = if a.path().is_ident("stat") {
            BindingTime::Static
        } else if a.path().is_ident("dynamic") {
            BindingTime::Dynamic
        } else {
            return true;
        };
        if let syn::Meta::Path(_) = a.meta {
        } else {
            errors.push(syn::Error::new(
                a.span(),
                "binding-time attributes take no arguments: write `#[stat]` or `#[dynamic]`",
            ));
        }
        if let Some((prev, _)) = found {
            errors.push(syn::Error::new(
                a.span(),
                if prev == bt {
                    "this parameter's binding time is given twice"
                } else {
                    "a parameter is either `#[stat]` or `#[dynamic]`, not both"
                },
            ));
        } else {
            found = Some((bt, a.span()));
        }
        false
    });
    if found.is_none() {
        errors.push(syn::Error::new(
            span,
            "every parameter of a `#[specialize]` function needs a binding time: `#[stat]` (known when the program is loaded) or `#[dynamic]` (known when a packet arrives)",
        ));
    }
    found.map(|(bt, _)| bt)
}

/// Mark a function of the interpreter as written in the two-level style. See the crate
/// documentation.
#[proc_macro_attribute]
pub fn specialize(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Vec::new();
    if !attr.is_empty() {
        errors.push(syn::Error::new(proc_macro2::TokenStream::from(attr).span(), "`#[specialize]` takes no arguments"));
    }
    let mut func = parse_macro_input!(item as ItemFn);
    let mut times = Vec::new();
    for arg in func.sig.inputs.iter_mut() {
        times.push(take_binding_time(arg, &mut errors));
    }
    if !times.is_empty() && times.iter().all(|t| *t == Some(BindingTime::Static)) {
        errors.push(syn::Error::new(
            func.sig.ident.span(),
            "a `#[specialize]` function with only static parameters does no dynamic work; make it an ordinary function called at specialization time",
        ));
    }
    if let Some(c) = &func.sig.constness {
        errors.push(syn::Error::new(c.span(), "a `#[specialize]` function cannot be `const`"));
    }
    if let Some(a) = &func.sig.asyncness {
        errors.push(syn::Error::new(a.span(), "a `#[specialize]` function cannot be `async`"));
    }
    let errs = errors.into_iter().map(|e| e.to_compile_error());
    quote!(#(#errs)* #func).into()
}
