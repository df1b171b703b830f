//! PLAN-P hash tables: `mkTable`, `tableGet`, `tablePut`, `tableMember`, `tableRemove`,
//! `tableSize`, `tableKeys`.
//!
//! A table's type names its value type (`(int*host*host) hash_table`, as the paper
//! writes it); its key type is inferred from the calls that use it, and all of them must
//! agree. Keys may be of any type that admits equality; a key is stored as its canonical
//! encoding ([`crate::value::encode`]), so two keys are the same exactly when they are
//! equal. Tables are mutable: `tablePut` and `tableRemove` change the table in place.
//! `tableKeys` lists the keys in the order of their encodings, so that a program's
//! output never depends on how the table happens to be laid out.

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
        inline: None,
    },
    Prim {
        name: "tableGet",
        signature: "'v hash_table * 'k -> 'v",
        doc: "tableGet(t, k): the value stored under k; raises NotFound when there is none.",
        typing: ty_get,
        compute: get,
        raises: &[NOT_FOUND],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "tablePut",
        signature: "'v hash_table * 'k * 'v -> unit",
        doc: "tablePut(t, k, v): store v under k, replacing any previous value.",
        typing: ty_put,
        compute: put,
        raises: &[],
        effectful: true,
        inline: None,
    },
    Prim {
        name: "tableMember",
        signature: "'v hash_table * 'k -> bool",
        doc: "tableMember(t, k): is there a value under k?",
        typing: ty_member,
        compute: member,
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "tableRemove",
        signature: "'v hash_table * 'k -> bool",
        doc: "tableRemove(t, k): remove the value under k; true if there was one.",
        typing: ty_member,
        compute: remove,
        raises: &[],
        effectful: true,
        inline: None,
    },
    Prim {
        name: "tableSize",
        signature: "'v hash_table -> int",
        doc: "The number of entries of a table.",
        typing: ty_size,
        compute: size,
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "tableKeys",
        signature: "'v hash_table -> 'k list",
        doc: "The keys of a table, in the order of their canonical encodings: deterministic, but not `<` (negative ints come after the others, shorter strings before longer ones).",
        typing: ty_keys,
        compute: keys,
        raises: &[],
        effectful: false,
        inline: None,
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

fn ty_keys(cx: &mut dyn TypeCx, a: &[Type]) -> Result<Type, PrimTypeError> {
    check::arity(a, 1)?;
    let (k, _) = check::table(cx, a, 0)?;
    Ok(Type::List(Box::new(k)))
}

/// Run `f` on the heap and the encoding of key `k` (in the runtime's reused buffer).
fn with_key<R>(rt: &mut Rt, site: &Site, k: Word, f: impl FnOnce(&mut crate::heap::Heap, &[u8]) -> R) -> R {
    let mut buf = std::mem::take(&mut rt.key_buf);
    buf.clear();
    value::encode(&rt.heap, &site.args[1], k, &mut buf);
    let r = f(&mut rt.heap, &buf);
    rt.key_buf = buf;
    r
}

fn mk(rt: &mut Rt, _: &[Word], _: &Site) -> Result<Word, Exn> {
    Ok(rt.heap.table_new())
}

/// A lookup of key `a[1]` in table `a[0]`: PLAN-P's way to read an entry that may be
/// missing is `tableMember` then `tableGet` of one key, often the same object, which
/// the second lookup then answers without encoding it again.
fn lookup(rt: &mut Rt, a: &[Word], site: &Site) -> Option<Word> {
    if let Some(found) = rt.heap.remembered(a[0], a[1], &site.args[1]) {
        return found;
    }
    let found = with_key(rt, site, a[1], |h, k| h.table_get(a[0], k));
    rt.heap.remember_key_word(a[1], &site.args[1]);
    found
}

fn get(rt: &mut Rt, a: &[Word], site: &Site) -> Result<Word, Exn> {
    lookup(rt, a, site).ok_or(NOT_FOUND)
}

fn put(rt: &mut Rt, a: &[Word], site: &Site) -> Result<Word, Exn> {
    let is_ptr = site.args[2].is_ptr();
    with_key(rt, site, a[1], |h, k| h.table_put(a[0], k, a[2], is_ptr));
    Ok(0)
}

fn member(rt: &mut Rt, a: &[Word], site: &Site) -> Result<Word, Exn> {
    Ok(lookup(rt, a, site).is_some() as Word)
}

fn remove(rt: &mut Rt, a: &[Word], site: &Site) -> Result<Word, Exn> {
    Ok(with_key(rt, site, a[1], |h, k| h.table_remove(a[0], k)) as Word)
}

fn size(rt: &mut Rt, a: &[Word], _: &Site) -> Result<Word, Exn> {
    Ok(rt.heap.table_len(a[0]) as Word)
}

fn keys(rt: &mut Rt, a: &[Word], site: &Site) -> Result<Word, Exn> {
    let Type::List(k) = &site.ret else { panic!("internal error: tableKeys returns {}", site.ret) };
    let encoded: Vec<Box<[u8]>> = rt.heap.table_entries(a[0]).into_iter().map(|(key, _)| key.into()).collect();
    let mut words = Vec::with_capacity(encoded.len());
    for key in &encoded {
        let mut input: &[u8] = key;
        match value::decode(&mut rt.heap, k, &mut input) {
            Some(w) if input.is_empty() => words.push(w),
            _ => panic!("internal error: a key of this table is not an encoded `{k}`"),
        }
    }
    Ok(rt.heap.list_from(&words, k.is_ptr()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rt::NOT_FOUND;
    use crate::testing::*;

    fn table_of(k: Type, v: Type) -> Type {
        Type::Table(Box::new(k), Box::new(v))
    }

    #[test]
    fn get_put_member_remove_size() {
        let mut rt = Rt::new();
        let ty = table_of(Type::String, Type::Int);
        let t = call(&mut rt, "mkTable", &[int(4)]).unwrap();
        let k = rt.heap.alloc_bytes(b"k");
        let k2 = rt.heap.alloc_bytes(b"k");
        let put = Site { args: vec![ty.clone(), Type::String, Type::Int], ret: Type::Unit };
        let look = Site { args: vec![ty.clone(), Type::String], ret: Type::Int };
        let ask = Site { args: vec![ty.clone(), Type::String], ret: Type::Bool };
        assert_eq!(call_at(&mut rt, "tableGet", &[t, k], &look), Err(NOT_FOUND));
        call_at(&mut rt, "tablePut", &[t, k, 1], &put).unwrap();
        call_at(&mut rt, "tablePut", &[t, k2, 2], &put).unwrap();
        assert_eq!(call_at(&mut rt, "tableGet", &[t, k], &look), Ok(2), "equal keys are one key");
        assert_eq!(call_at(&mut rt, "tableMember", &[t, k2], &ask), Ok(1));
        assert_eq!(call(&mut rt, "tableSize", &[(ty.clone(), t)]), Ok(1));
        assert_eq!(call_at(&mut rt, "tableRemove", &[t, k], &ask), Ok(1));
        assert_eq!(call_at(&mut rt, "tableRemove", &[t, k], &ask), Ok(0));
        assert_eq!(call_at(&mut rt, "tableMember", &[t, k2], &ask), Ok(0));
        assert_eq!(call(&mut rt, "tableSize", &[(ty, t)]), Ok(0));
    }

    /// `tableMember` then `tableGet` of one key object: the second lookup is answered
    /// from the first without encoding the key, and never wrongly: not for another
    /// object, not at another key type, not after a change, not once the scratch space
    /// (whose handles are then reused) is reset.
    #[test]
    fn a_key_word_is_remembered_soundly() {
        let mut rt = Rt::new();
        let kty = Type::Tuple(vec![Type::Host, Type::Int]);
        let ty = table_of(kty.clone(), Type::Int);
        let t = rt.heap.table_new();
        let put = Site { args: vec![ty.clone(), kty.clone(), Type::Int], ret: Type::Unit };
        let look = Site { args: vec![ty.clone(), kty.clone()], ret: Type::Int };
        let ask = Site { args: vec![ty.clone(), kty.clone()], ret: Type::Bool };
        let k = rt.heap.tuple_from(&[7, 80], 0);
        call_at(&mut rt, "tablePut", &[t, k, 1], &put).unwrap();
        assert_eq!(call_at(&mut rt, "tableMember", &[t, k], &ask), Ok(1));
        assert_eq!(rt.heap.remembered(t, k, &kty), Some(Some(1)), "the key object is remembered");
        assert_eq!(call_at(&mut rt, "tableGet", &[t, k], &look), Ok(1));
        assert_eq!(rt.heap.remembered(t, k, &Type::Int), None, "not at another kind of key type");
        let other = rt.heap.tuple_from(&[7, 81], 0);
        assert_eq!(call_at(&mut rt, "tableMember", &[t, other], &ask), Ok(0), "another key object");
        call_at(&mut rt, "tablePut", &[t, other, 2], &put).unwrap();
        assert_eq!(call_at(&mut rt, "tableGet", &[t, other], &look), Ok(2), "after a put");
        // The scratch space is reset: the next tuple gets the first one's handle.
        assert_eq!(call_at(&mut rt, "tableMember", &[t, k], &ask), Ok(1));
        assert!(rt.heap.remembered(t, k, &kty).is_some());
        rt.heap.reset_scratch();
        let again = rt.heap.tuple_from(&[9, 9], 0);
        assert_eq!(again, k, "a handle reused");
        assert_eq!(rt.heap.remembered(t, again, &kty), None);
        assert_eq!(call_at(&mut rt, "tableMember", &[t, again], &ask), Ok(0), "a new object under an old handle");
    }

    #[test]
    fn table_typing() {
        let t = type_of("mkTable", &[Type::Int]).unwrap();
        assert!(matches!(t, Type::Table(..)));
        let ty = table_of(Type::String, Type::Int);
        assert_eq!(type_of("tableGet", &[ty.clone(), Type::String]), Ok(Type::Int));
        assert!(type_of("tableGet", &[ty.clone(), Type::Int]).is_err(), "one key type per table");
        assert!(type_of("tablePut", &[ty.clone(), Type::String, Type::Bool]).is_err());
        let bad_key = table_of(Type::Var(0), Type::Int);
        assert!(type_of("tableMember", &[bad_key, ty]).is_err(), "tables are not keys");
    }

    #[test]
    fn keys_in_encoding_order() {
        let mut rt = Rt::new();
        let ty = table_of(Type::Int, Type::String);
        let t = rt.heap.table_new();
        let v = rt.heap.alloc_bytes(b"v");
        for k in [5i64, -1, 0, 300, 2] {
            let site = Site { args: vec![ty.clone(), Type::Int, Type::String], ret: Type::Unit };
            call_at(&mut rt, "tablePut", &[t, k as Word, v], &site).unwrap();
        }
        let l = call(&mut rt, "tableKeys", &[(ty.clone(), t)]).unwrap();
        let got: Vec<i64> = rt.heap.list_to_vec(l).into_iter().map(|w| w as i64).collect();
        assert_eq!(got, [0, 2, 5, 300, -1], "big-endian two's complement: negatives last");

        let empty = rt.heap.table_new();
        assert_eq!(call(&mut rt, "tableKeys", &[(ty, empty)]), Ok(crate::NIL));
    }

    #[test]
    fn compound_keys_are_decoded() {
        let mut rt = Rt::new();
        let kty = Type::Tuple(vec![Type::String, Type::Host]);
        let ty = table_of(kty.clone(), Type::Int);
        let t = rt.heap.table_new();
        let site = Site { args: vec![ty.clone(), kty.clone(), Type::Int], ret: Type::Unit };
        for (i, (s, h)) in [(&b"bb"[..], 2u64), (b"a", 9), (b"bb", 1)].into_iter().enumerate() {
            let s = rt.heap.alloc_bytes(s);
            let k = rt.heap.tuple_from(&[s, h], 0b01);
            call_at(&mut rt, "tablePut", &[t, k, i as Word], &site).unwrap();
        }
        let l = call(&mut rt, "tableKeys", &[(ty, t)]).unwrap();
        let mut out = String::new();
        value::repr(&rt.heap, &Type::List(Box::new(kty)), l, &mut out, &mut 100);
        assert_eq!(out, r#"[("a", 0.0.0.9), ("bb", 0.0.0.1), ("bb", 0.0.0.2)]"#, "shorter strings first");
    }

    #[test]
    fn typing() {
        // The key type comes from the table's type, known or not yet.
        assert_eq!(type_of("tableKeys", &[table_of(Type::Host, Type::Int)]), Ok(Type::List(Box::new(Type::Host))));
        let t = type_of("tableKeys", &[table_of(Type::Var(0), Type::Int)]).unwrap();
        assert!(matches!(t, Type::List(k) if matches!(*k, Type::Var(_))));
        assert!(type_of("tableKeys", &[Type::List(Box::new(Type::Int))]).is_err());
        assert!(type_of("tableKeys", &[]).is_err());
    }
}
