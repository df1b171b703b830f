//! Lists and pairs: `hd`, `tl`, `fst`, `snd`, `length`, `rev`, `nth`, `member`.
//!
//! `hd`, `tl`, `fst` and `snd` are also PLAN's prefix operators (`hd l`); the parser
//! turns both forms into a call of the primitive.

use crate::heap::SCRATCH_OBJECT_BYTES;
use crate::rt::{EMPTY, RESOURCE_LIMIT, SUBSCRIPT};
use crate::types::check;
use crate::{Exn, NIL, Prim, PrimTypeError, Rt, Site, Type, TypeCx, Word, value};

/// The primitives of this file.
pub const PRIMS: &[Prim] = &[
    Prim {
        name: "hd",
        signature: "'a list -> 'a",
        doc: "The first element of a list; raises Empty on [].",
        typing: ty_hd,
        compute: hd,
        raises: &[EMPTY],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "tl",
        signature: "'a list -> 'a list",
        doc: "A list without its first element; raises Empty on [].",
        typing: ty_tl,
        compute: tl,
        raises: &[EMPTY],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "fst",
        signature: "'a*'b -> 'a",
        doc: "The first component of a pair.",
        typing: ty_fst,
        compute: fst,
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "snd",
        signature: "'a*'b -> 'b",
        doc: "The second component of a pair.",
        typing: ty_snd,
        compute: snd,
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "length",
        signature: "'a list -> int",
        doc: "The number of elements of a list.",
        typing: ty_length,
        compute: length,
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "rev",
        signature: "'a list -> 'a list",
        doc: "A list in reverse order.",
        typing: ty_tl,
        compute: rev,
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "append",
        signature: "'a list * 'a list -> 'a list",
        doc: "append(l1, l2), also written l1 @ l2: the elements of l1 followed by those of l2.",
        typing: ty_append,
        compute: append,
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "nth",
        signature: "'a list * int -> 'a",
        doc: "nth(l, i): element i of l, counting from 0; raises Subscript when there is none.",
        typing: ty_nth,
        compute: nth,
        raises: &[SUBSCRIPT],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "member",
        signature: "'a * 'a list -> bool",
        doc: "member(x, l): does l contain an element equal to x?",
        typing: ty_member,
        compute: member,
        raises: &[],
        effectful: false,
        inline: None,
    },
];

fn ty_hd(cx: &mut dyn TypeCx, a: &[Type]) -> Result<Type, PrimTypeError> {
    check::arity(a, 1)?;
    check::list(cx, a, 0)
}

fn ty_tl(cx: &mut dyn TypeCx, a: &[Type]) -> Result<Type, PrimTypeError> {
    check::arity(a, 1)?;
    let e = check::list(cx, a, 0)?;
    Ok(Type::List(Box::new(e)))
}

fn pair(cx: &mut dyn TypeCx, a: &[Type]) -> Result<(Type, Type), PrimTypeError> {
    check::arity(a, 1)?;
    match cx.resolve(&a[0]) {
        Type::Tuple(ts) if ts.len() == 2 => Ok((ts[0].clone(), ts[1].clone())),
        Type::Error => Ok((Type::Error, Type::Error)),
        Type::Var(_) => {
            let (x, y) = (cx.fresh(), cx.fresh());
            check::arg(cx, a, 0, &Type::Tuple(vec![x.clone(), y.clone()]))?;
            Ok((x, y))
        }
        t => Err(PrimTypeError::at(0, format!("expected a pair, found `{t}`"))
            .with_help("for a tuple of another size, use `#n e` to take component n")),
    }
}

fn ty_fst(cx: &mut dyn TypeCx, a: &[Type]) -> Result<Type, PrimTypeError> {
    Ok(pair(cx, a)?.0)
}

fn ty_snd(cx: &mut dyn TypeCx, a: &[Type]) -> Result<Type, PrimTypeError> {
    Ok(pair(cx, a)?.1)
}

fn ty_length(cx: &mut dyn TypeCx, a: &[Type]) -> Result<Type, PrimTypeError> {
    check::arity(a, 1)?;
    check::list(cx, a, 0)?;
    Ok(Type::Int)
}

fn ty_append(cx: &mut dyn TypeCx, a: &[Type]) -> Result<Type, PrimTypeError> {
    check::arity(a, 2)?;
    let e = check::list(cx, a, 0)?;
    let t = Type::List(Box::new(e));
    check::arg(cx, a, 1, &t)?;
    Ok(cx.resolve(&t))
}

fn ty_nth(cx: &mut dyn TypeCx, a: &[Type]) -> Result<Type, PrimTypeError> {
    check::arity(a, 2)?;
    let e = check::list(cx, a, 0)?;
    check::arg(cx, a, 1, &Type::Int)?;
    Ok(e)
}

fn ty_member(cx: &mut dyn TypeCx, a: &[Type]) -> Result<Type, PrimTypeError> {
    check::arity(a, 2)?;
    let e = check::list(cx, a, 1)?;
    check::arg(cx, a, 0, &e)?;
    let e = cx.resolve(&e);
    if !e.admits_equality() {
        return Err(PrimTypeError::at(0, format!("`{e}` values cannot be compared"))
            .with_help("member compares with `=`, and hash tables have no equality"));
    }
    Ok(Type::Bool)
}

fn hd(rt: &mut Rt, a: &[Word], _: &Site) -> Result<Word, Exn> {
    if a[0] == NIL { Err(EMPTY) } else { Ok(rt.heap.head(a[0])) }
}

fn tl(rt: &mut Rt, a: &[Word], _: &Site) -> Result<Word, Exn> {
    if a[0] == NIL { Err(EMPTY) } else { Ok(rt.heap.tail(a[0])) }
}

fn fst(rt: &mut Rt, a: &[Word], _: &Site) -> Result<Word, Exn> {
    Ok(rt.heap.tuple_get(a[0], 0))
}

fn snd(rt: &mut Rt, a: &[Word], _: &Site) -> Result<Word, Exn> {
    Ok(rt.heap.tuple_get(a[0], 1))
}

fn length(rt: &mut Rt, a: &[Word], _: &Site) -> Result<Word, Exn> {
    let (mut n, mut l) = (0u64, a[0]);
    while l != NIL {
        n += 1;
        l = rt.heap.tail(l);
    }
    Ok(n)
}

fn rev(rt: &mut Rt, a: &[Word], site: &Site) -> Result<Word, Exn> {
    let head_ptr = matches!(&site.ret, Type::List(t) if t.is_ptr());
    let (mut out, mut l) = (NIL, a[0]);
    while l != NIL {
        out = rt.heap.cons(rt.heap.head(l), out, head_ptr);
        l = rt.heap.tail(l);
    }
    Ok(out)
}

fn append(rt: &mut Rt, a: &[Word], site: &Site) -> Result<Word, Exn> {
    let head_ptr = matches!(&site.ret, Type::List(t) if t.is_ptr());
    let first = rt.heap.list_to_vec(a[0]);
    // `l @ l` doubles a list: the node's resource limit, not its memory, ends a chain of
    // them (`docs/language.md`, "Resource limits").
    if !rt.heap.scratch_room(first.len().saturating_mul(SCRATCH_OBJECT_BYTES)) {
        return Err(RESOURCE_LIMIT);
    }
    let mut out = a[1];
    for &x in first.iter().rev() {
        out = rt.heap.cons(x, out, head_ptr);
    }
    Ok(out)
}

fn nth(rt: &mut Rt, a: &[Word], _: &Site) -> Result<Word, Exn> {
    let i = a[1] as i64;
    if i < 0 {
        return Err(SUBSCRIPT);
    }
    let mut l = a[0];
    for _ in 0..i {
        if l == NIL {
            return Err(SUBSCRIPT);
        }
        l = rt.heap.tail(l);
    }
    if l == NIL { Err(SUBSCRIPT) } else { Ok(rt.heap.head(l)) }
}

fn member(rt: &mut Rt, a: &[Word], site: &Site) -> Result<Word, Exn> {
    let ty = &site.args[0];
    let mut l = a[1];
    while l != NIL {
        if value::equal(&rt.heap, ty, a[0], rt.heap.head(l)) {
            return Ok(1);
        }
        l = rt.heap.tail(l);
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    fn ints(rt: &mut Rt, xs: &[i64]) -> (Type, Word) {
        let ws: Vec<Word> = xs.iter().map(|&x| x as Word).collect();
        (Type::List(Box::new(Type::Int)), rt.heap.list_from(&ws, false))
    }

    fn to_ints(rt: &Rt, l: Word) -> Vec<i64> {
        rt.heap.list_to_vec(l).into_iter().map(|w| w as i64).collect()
    }

    #[test]
    fn heads_tails_and_pairs() {
        let mut rt = Rt::new();
        let l = ints(&mut rt, &[1, 2, 3]);
        let e = ints(&mut rt, &[]);
        assert_eq!(call1(&mut rt, "hd", &l), Ok(1));
        let t = call1(&mut rt, "tl", &l).unwrap();
        assert_eq!(to_ints(&rt, t), [2, 3]);
        assert_eq!(call1(&mut rt, "hd", &e), Err(EMPTY));
        assert_eq!(call(&mut rt, "tl", &[e]), Err(EMPTY));
        let p = rt.heap.tuple_from(&[7, 8], 0);
        let pt = Type::Tuple(vec![Type::Int, Type::Char]);
        assert_eq!(call(&mut rt, "fst", &[(pt.clone(), p)]), Ok(7));
        assert_eq!(call(&mut rt, "snd", &[(pt, p)]), Ok(8));
        assert!(type_of("fst", &[Type::Tuple(vec![Type::Int; 3])]).is_err(), "pairs only");
        assert_eq!(type_of("snd", &[Type::Tuple(vec![Type::Int, Type::Char])]), Ok(Type::Char));
    }

    #[test]
    fn whole_list_operations() {
        let mut rt = Rt::new();
        let l = ints(&mut rt, &[1, 2, 3]);
        let m = ints(&mut rt, &[4]);
        let e = ints(&mut rt, &[]);
        assert_eq!(call1(&mut rt, "length", &l), Ok(3));
        assert_eq!(call1(&mut rt, "length", &e), Ok(0));
        let r = call1(&mut rt, "rev", &l).unwrap();
        assert_eq!(to_ints(&rt, r), [3, 2, 1]);
        let a = call(&mut rt, "append", &[l.clone(), m.clone()]).unwrap();
        assert_eq!(to_ints(&rt, a), [1, 2, 3, 4]);
        assert_eq!(call(&mut rt, "append", &[e.clone(), m.clone()]), Ok(m.1), "the right list is shared");
        for (i, want) in [(0, Ok(1)), (2, Ok(3)), (3, Err(SUBSCRIPT)), (-1, Err(SUBSCRIPT)), (i64::MAX, Err(SUBSCRIPT))]
        {
            assert_eq!(call(&mut rt, "nth", &[l.clone(), int(i)]), want, "nth {i}");
        }
        assert_eq!(call(&mut rt, "member", &[int(2), l.clone()]), Ok(1));
        assert_eq!(call(&mut rt, "member", &[int(5), l]), Ok(0));
        assert_eq!(call(&mut rt, "member", &[int(5), e]), Ok(0));
        let table = Type::Table(Box::new(Type::Int), Box::new(Type::Int));
        assert!(type_of("member", &[table.clone(), Type::List(Box::new(table))]).is_err(), "no equality");
    }
}
