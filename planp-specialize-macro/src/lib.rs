//! Derives a run-time specializer from an interpreter written in the two-level style.
//!
//! `#[specialize]` goes on an inline module of the interpreter. In it, a function whose
//! parameters carry binding times, `#[stat]` (known when a program is loaded: syntax
//! tree, types, slots) or `#[dynamic]` (known when a packet arrives: the machine, and
//! words computed from it), is *two-level*. For each two-level function `f` the macro
//! emits
//!
//! - `f` itself, with the attributes removed: the interpreter, unchanged in meaning;
//! - `f_gen`, its **generating extension**: the same body in which static computation
//!   runs as written (a `match` on the syntax tree becomes a `match` in `f_gen`, calls on
//!   static sub-terms are unfolded, `for` loops over static data are unrolled) and every
//!   dynamic operation calls the code generator of `planp-jit` instead of being done:
//!   word arithmetic and comparisons, frame loads and stores at static offsets, a dynamic
//!   `if` or `while` as compare, branch and labels, calls of Rust code through one ABI
//!   (a *shim* per call site, generated here), failure (`Err`, `None`, `?`) as a jump to
//!   the handler the static context knows, static values used dynamically lifted as
//!   immediates.
//!
//! Binding-time mistakes are compile errors pointing at the offending expression (see
//! the UI tests). The rules, the dynamic vocabulary and a worked example are in
//! `docs/specialization.md`.
//!
//! Inside the module, `#[dynamic] let mut x = ...` makes a variable dynamic although its
//! first value is static (a loop accumulator); `#[stat]` on a `let` asserts that its value
//! is static. The statement `note!(fmt, args..)`, with static arguments only, attaches a
//! note formatted at specialization time to the code emitted next (the disassembly shows
//! it); the interpreter's copy drops it, so it costs the interpreter nothing.

mod model;
mod translate;

use model::{ParamKind, TwoLevel, is_two_level, read_signature};
use proc_macro::TokenStream;
use quote::{ToTokens, format_ident, quote};
use std::collections::HashMap;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Item, ItemFn, ItemMod, Type};

/// Remove binding-time attributes from `let` statements and `note!` statements (the
/// interpreter's copy).
struct StripLetAttrs;

impl VisitMut for StripLetAttrs {
    fn visit_local_mut(&mut self, l: &mut syn::Local) {
        l.attrs.retain(|a| !(a.path().is_ident("stat") || a.path().is_ident("dynamic")));
        syn::visit_mut::visit_local_mut(self, l);
    }

    fn visit_block_mut(&mut self, b: &mut syn::Block) {
        b.stmts.retain(|s| !matches!(s, syn::Stmt::Macro(m) if m.mac.path.is_ident("note")));
        syn::visit_mut::visit_block_mut(self, b);
    }
}

/// Give static reference parameters the lifetime `'p` of the static data.
fn static_param_type(t: &Type) -> Type {
    match t {
        Type::Reference(r) => {
            let mut r = r.clone();
            r.lifetime = Some(syn::Lifetime::new("'p", proc_macro2::Span::call_site()));
            Type::Reference(r)
        }
        t => t.clone(),
    }
}

/// Mark the module holding the two-level interpreter. See the crate documentation.
#[proc_macro_attribute]
pub fn specialize(attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = proc_macro2::TokenStream::from(attr);
    let item2 = proc_macro2::TokenStream::from(item.clone());
    let mut errors: Vec<syn::Error> = Vec::new();
    if !attr.is_empty() {
        errors.push(syn::Error::new(attr.span(), "`#[specialize]` takes no arguments"));
    }
    let mut module: ItemMod = match syn::parse2(item2.clone()) {
        Ok(m) => m,
        Err(_) => {
            let e = syn::Error::new(
                item2.span(),
                "`#[specialize]` goes on the inline module that holds the two-level functions (`#[specialize] mod engine { ... }`)",
            )
            .to_compile_error();
            return quote!(#e #item2).into();
        }
    };
    let module_name = module.ident.to_string();
    let Some((_, items)) = &mut module.content else {
        let e = syn::Error::new(module.span(), "`#[specialize]` needs an inline module: `mod engine { ... }`")
            .to_compile_error();
        return quote!(#e).into();
    };
    // Read every two-level function's signature first: calls between them are unfolded.
    let mut fns: HashMap<String, TwoLevel> = HashMap::new();
    let mut order = Vec::new();
    // The bodies as written (with their `let` attributes), for the translation.
    let mut bodies: HashMap<String, ItemFn> = HashMap::new();
    for it in items.iter_mut() {
        if let Item::Fn(f) = it
            && is_two_level(f)
        {
            if let Some(sig) = read_signature(f, &mut errors) {
                order.push(sig.name.to_string());
                bodies.insert(sig.name.to_string(), f.clone());
                fns.insert(sig.name.to_string(), sig);
            }
            StripLetAttrs.visit_item_fn_mut(f);
        }
    }
    // One machine type for the module.
    let mut machine: Option<Type> = None;
    for name in &order {
        if let Some(m) = &fns[name].machine {
            match &machine {
                None => machine = Some(m.clone()),
                Some(prev) if prev.to_token_stream().to_string() != m.to_token_stream().to_string() => {
                    errors.push(syn::Error::new(
                        m.span(),
                        "every two-level function of a module works on the same machine type",
                    ));
                }
                Some(_) => {}
            }
        }
    }
    let mut generated = Vec::new();
    if let Some(mty) = &machine {
        let mty_ts = mty.to_token_stream();
        for name in &order {
            let (sig, f) = (&fns[name], &bodies[name]);
            match generating_extension(&fns, sig, f, &mty_ts) {
                Ok(ts) => generated.push(ts),
                Err(es) => errors.extend(es),
            }
        }
    } else if !fns.is_empty() {
        errors.push(syn::Error::new(
            module.ident.span(),
            "no two-level function of this module takes the machine (a `#[dynamic]` reference)",
        ));
    }
    let errs = errors.iter().map(syn::Error::to_compile_error);
    if let Some((_, items)) = &mut module.content {
        for g in generated {
            match syn::parse2::<syn::File>(g) {
                Ok(file) => items.extend(file.items),
                Err(e) => {
                    let ce = e.to_compile_error();
                    items.push(Item::Verbatim(ce));
                }
            }
        }
    }
    let out = quote!(#(#errs)* #module);
    // For reading the generated code (docs/specialization.md shows some of it):
    // `PLANP_SPECIALIZE_DUMP=dir` writes each expanded module to `dir/<module>.rs`.
    if let Some(dir) = std::env::var_os("PLANP_SPECIALIZE_DUMP") {
        let path = std::path::Path::new(&dir).join(format!("{}.rs", module_name));
        let _ = std::fs::write(path, out.to_string());
    }
    out.into()
}

/// The generating extension of one function, and its shims.
fn generating_extension(
    fns: &HashMap<String, TwoLevel>,
    sig: &TwoLevel,
    f: &ItemFn,
    mty: &proc_macro2::TokenStream,
) -> Result<proc_macro2::TokenStream, Vec<syn::Error>> {
    let mut cx = translate::Cx::new(fns, sig, mty.clone());
    let body = cx.function(&f.block).map_err(|e| vec![e])?;
    if !cx.errors.is_empty() {
        return Err(std::mem::take(&mut cx.errors));
    }
    let vis = &f.vis;
    let name = format_ident!("{}_gen", sig.name);
    let mut params = Vec::new();
    for p in &sig.params {
        let n = &p.name;
        match &p.kind {
            ParamKind::Static => {
                let t = static_param_type(&p.ty);
                params.push(quote!(#n: #t));
            }
            ParamKind::Machine => {}
            ParamKind::Word(_) => params.push(quote!(#n: ::planp_jit::V)),
        }
    }
    let ret = match sig.ret {
        model::RetKind::Unit | model::RetKind::Fallible(None) => quote!(),
        _ => quote!(-> ::planp_jit::V),
    };
    let cg = proc_macro2::Ident::new("__planp_cg", proc_macro2::Span::mixed_site());
    let doc = format!(
        "The generating extension of [`{}`], derived by `#[specialize]`: emits the code of its dynamic part for the static arguments given.",
        sig.name
    );
    let shims = &cx.shims;
    Ok(quote! {
        #[doc = #doc]
        #[allow(unused_variables, unused_mut, unused_braces, unreachable_code, unused_parens, clippy::all)]
        #vis fn #name<'p>(#(#params,)* #cg: &mut ::planp_jit::Gen<'p, #mty>) #ret {
            #body
        }
        #(#shims)*
    })
}
