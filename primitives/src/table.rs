//! PLAN-P hash tables: `mkTable`, `tableGet`, `tablePut`, `tableMember`, `tableRemove`,
//! `tableSize`.
//!
//! A table's type names its value type (`(int*host*host) hash_table`, as the paper
//! writes it); its key type is inferred from the calls that use it, and all of them must
//! agree. Keys may be of any type that admits equality; a key is stored as its canonical
//! encoding ([`crate::value::encode`]), so two keys are the same exactly when they are
//! equal. Tables are mutable: `tablePut` and `tableRemove` change the table in place.

use crate::rt::NOT_FOUND;
use crate::types::check;
use crate::{Exn, Prim, PrimTypeError, Rt, Site, Type, TypeCx, Word, value};

/// The primitives of this file.
pub const PRIMS: &[Prim] = &[
    Prim {
        name: "mkTable",
        signature: "int -> 'v hash_table",
        doc: "A new, empty hash table; the argument is a size hint.",
        typing: ty_mk,
        compute: mk,
        raises: &[],
        effectful: true,
    },
    Prim {
        name: "tableGet",
        signature: "'v hash_table * 'k -> 'v",
        doc: "tableGet(t, k): the value stored under k; raises NotFound when there is none.",
        typing: ty_get,
        compute: get,
        raises: &[NOT_FOUND],
        effectful: false,
    },
    Prim {
        name: "tablePut",
        signature: "'v hash_table * 'k * 'v -> unit",
        doc: "tablePut(t, k, v): store v under k, replacing any previous value.",
        typing: ty_put,
        compute: put,
        raises: &[],
        effectful: true,
    },
    Prim {
        name: "tableMember",
        signature: "'v hash_table * 'k -> bool",
        doc: "tableMember(t, k): is there a value under k?",
        typing: ty_member,
        compute: member,
        raises: &[],
        effectful: false,
    },
    Prim {
        name: "tableRemove",
        signature: "'v hash_table * 'k -> bool",
        doc: "tableRemove(t, k): remove the value under k; true if there was one.",
        typing: ty_member,
        compute: remove,
        raises: &[],
        effectful: true,
    },
    Prim {
        name: "tableSize",
        signature: "'v hash_table -> int",
        doc: "The number of entries of a table.",
        typing: ty_size,
        compute: size,
        raises: &[],
        effectful: false,
    },
];

fn ty_mk(cx: &mut dyn TypeCx, a: &[Type]) -> Result<Type, PrimTypeError> {
    check::arity(a, 1)?;
    check::arg(cx, a, 0, &Type::Int)?;
    Ok(Type::Table(Box::new(cx.fresh()), Box::new(cx.fresh())))
}

/// The table's key type must accept argument 1, and keys must admit equality.
fn key(cx: &mut dyn TypeCx, a: &[Type], k: &Type) -> Result<(), PrimTypeError> {
    let given = cx.resolve(&a[1]);
    if !given.admits_equality() {
        return Err(PrimTypeError::at(1, format!("a key of type `{given}` cannot be compared"))
            .with_help("keys are compared with `=`, and hash tables have no equality"));
    }
    cx.unify(&a[1], k).map_err(|_| {
        PrimTypeError::at(
            1,
            format!("this table's keys are `{}`, but this key is `{}`", cx.resolve(k), cx.resolve(&a[1])),
        )
        .with_help("every use of one table must use keys of the same type")
    })
}

fn ty_get(cx: &mut dyn TypeCx, a: &[Type]) -> Result<Type, PrimTypeError> {
    check::arity(a, 2)?;
    let (k, v) = check::table(cx, a, 0)?;
    key(cx, a, &k)?;
    Ok(v)
}

fn ty_put(cx: &mut dyn TypeCx, a: &[Type]) -> Result<Type, PrimTypeError> {
    check::arity(a, 3)?;
    let (k, v) = check::table(cx, a, 0)?;
    key(cx, a, &k)?;
    check::arg(cx, a, 2, &v)?;
    Ok(Type::Unit)
}

fn ty_member(cx: &mut dyn TypeCx, a: &[Type]) -> Result<Type, PrimTypeError> {
    check::arity(a, 2)?;
    let (k, _) = check::table(cx, a, 0)?;
    key(cx, a, &k)?;
    Ok(Type::Bool)
}

fn ty_size(cx: &mut dyn TypeCx, a: &[Type]) -> Result<Type, PrimTypeError> {
    check::arity(a, 1)?;
    check::table(cx, a, 0)?;
    Ok(Type::Int)
}

fn encode_key(rt: &Rt, site: &Site, k: Word) -> Vec<u8> {
    let mut out = Vec::new();
    value::encode(&rt.heap, &site.args[1], k, &mut out);
    out
}

fn mk(rt: &mut Rt, _: &[Word], _: &Site) -> Result<Word, Exn> {
    Ok(rt.heap.table_new())
}

fn get(rt: &mut Rt, a: &[Word], site: &Site) -> Result<Word, Exn> {
    let k = encode_key(rt, site, a[1]);
    rt.heap.table_get(a[0], &k).ok_or(NOT_FOUND)
}

fn put(rt: &mut Rt, a: &[Word], site: &Site) -> Result<Word, Exn> {
    let k = encode_key(rt, site, a[1]);
    rt.heap.table_put(a[0], &k, a[2], site.args[2].is_ptr());
    Ok(0)
}

fn member(rt: &mut Rt, a: &[Word], site: &Site) -> Result<Word, Exn> {
    let k = encode_key(rt, site, a[1]);
    Ok(rt.heap.table_get(a[0], &k).is_some() as Word)
}

fn remove(rt: &mut Rt, a: &[Word], site: &Site) -> Result<Word, Exn> {
    let k = encode_key(rt, site, a[1]);
    Ok(rt.heap.table_remove(a[0], &k) as Word)
}

fn size(rt: &mut Rt, a: &[Word], _: &Site) -> Result<Word, Exn> {
    Ok(rt.heap.table_len(a[0]) as Word)
}
