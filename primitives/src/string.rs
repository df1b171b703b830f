//! Characters, strings and blobs: conversions, lengths, slices and searching.
//!
//! Strings and blobs are both immutable byte sequences; the operations that make sense
//! for both (`size`, `substring`, `search`) accept either and return the same kind.

use crate::rt::SUBSCRIPT;
use crate::types::check;
use crate::{Exn, NIL, Prim, PrimTypeError, Rt, Site, Type, TypeCx, Word, mono};

/// The primitives of this file.
pub const PRIMS: &[Prim] = &[
    Prim {
        name: "ord",
        signature: "char -> int",
        doc: "The code of a character (0..=255).",
        typing: mono!([Type::Char] -> Type::Int),
        compute: identity,
        raises: &[],
        effectful: false,
    },
    Prim {
        name: "charPos",
        signature: "char -> int",
        doc: "The position of a character in the character set, as figure 4 of the paper uses it (same as `ord`).",
        typing: mono!([Type::Char] -> Type::Int),
        compute: identity,
        raises: &[],
        effectful: false,
    },
    Prim {
        name: "chr",
        signature: "int -> char",
        doc: "The character with a code; raises Subscript outside 0..=255.",
        typing: mono!([Type::Int] -> Type::Char),
        compute: chr,
        raises: &[SUBSCRIPT],
        effectful: false,
    },
    Prim {
        name: "explode",
        signature: "string -> char list",
        doc: "The characters of a string.",
        typing: mono!([Type::String] -> Type::List(Box::new(Type::Char))),
        compute: explode,
        raises: &[],
        effectful: false,
    },
    Prim {
        name: "implode",
        signature: "char list -> string",
        doc: "The string of a list of characters.",
        typing: mono!([Type::List(Box::new(Type::Char))] -> Type::String),
        compute: implode,
        raises: &[],
        effectful: false,
    },
    Prim {
        name: "size",
        signature: "string -> int | blob -> int",
        doc: "The number of bytes of a string or blob.",
        typing: ty_size,
        compute: size,
        raises: &[],
        effectful: false,
    },
    Prim {
        name: "substring",
        signature: "string*int*int -> string | blob*int*int -> blob",
        doc: "substring(s, i, n): the n bytes of s from position i; raises Subscript if they are not all in s.",
        typing: ty_substring,
        compute: substring,
        raises: &[SUBSCRIPT],
        effectful: false,
    },
    Prim {
        name: "search",
        signature: "string*string -> int | blob*blob -> int",
        doc: "search(s, t): the first position of t in s, or ~1 when t does not occur.",
        typing: ty_search,
        compute: search,
        raises: &[],
        effectful: false,
    },
    Prim {
        name: "intToString",
        signature: "int -> string",
        doc: "Decimal text of an integer, with `-` for negatives.",
        typing: mono!([Type::Int] -> Type::String),
        compute: int_to_string,
        raises: &[],
        effectful: false,
    },
    Prim {
        name: "blobOfString",
        signature: "string -> blob",
        doc: "The bytes of a string as a blob.",
        typing: mono!([Type::String] -> Type::Blob),
        compute: identity,
        raises: &[],
        effectful: false,
    },
    Prim {
        name: "stringOfBlob",
        signature: "blob -> string",
        doc: "The bytes of a blob as a string.",
        typing: mono!([Type::Blob] -> Type::String),
        compute: identity,
        raises: &[],
        effectful: false,
    },
];

/// Strings, blobs and chars share their representation with what they convert to.
fn identity(_: &mut Rt, a: &[Word], _: &Site) -> Result<Word, Exn> {
    Ok(a[0])
}

fn chr(_: &mut Rt, a: &[Word], _: &Site) -> Result<Word, Exn> {
    if a[0] <= 255 { Ok(a[0]) } else { Err(SUBSCRIPT) }
}

fn explode(rt: &mut Rt, a: &[Word], _: &Site) -> Result<Word, Exn> {
    let chars: Vec<Word> = rt.heap.bytes(a[0]).iter().map(|&b| b as Word).collect();
    Ok(rt.heap.list_from(&chars, false))
}

fn implode(rt: &mut Rt, a: &[Word], _: &Site) -> Result<Word, Exn> {
    let mut s = Vec::new();
    let mut l = a[0];
    while l != NIL {
        s.push(rt.heap.head(l) as u8);
        l = rt.heap.tail(l);
    }
    Ok(rt.heap.alloc_bytes_vec(s))
}

fn ty_size(cx: &mut dyn TypeCx, a: &[Type]) -> Result<Type, PrimTypeError> {
    check::arity(a, 1)?;
    check::bytes_like(cx, a, 0)?;
    Ok(Type::Int)
}

fn size(rt: &mut Rt, a: &[Word], _: &Site) -> Result<Word, Exn> {
    Ok(rt.heap.bytes(a[0]).len() as Word)
}

fn ty_substring(cx: &mut dyn TypeCx, a: &[Type]) -> Result<Type, PrimTypeError> {
    check::arity(a, 3)?;
    let t = check::bytes_like(cx, a, 0)?;
    check::arg(cx, a, 1, &Type::Int)?;
    check::arg(cx, a, 2, &Type::Int)?;
    Ok(t)
}

fn substring(rt: &mut Rt, a: &[Word], _: &Site) -> Result<Word, Exn> {
    let b = rt.heap.bytes(a[0]);
    let (i, n) = (a[1] as i64, a[2] as i64);
    if i < 0 || n < 0 || i.checked_add(n).is_none_or(|end| end as u64 > b.len() as u64) {
        return Err(SUBSCRIPT);
    }
    let part = b[i as usize..(i + n) as usize].to_vec();
    Ok(rt.heap.alloc_bytes_vec(part))
}

fn ty_search(cx: &mut dyn TypeCx, a: &[Type]) -> Result<Type, PrimTypeError> {
    check::arity(a, 2)?;
    let t = check::bytes_like(cx, a, 0)?;
    check::arg(cx, a, 1, &t)?;
    Ok(Type::Int)
}

fn search(rt: &mut Rt, a: &[Word], _: &Site) -> Result<Word, Exn> {
    let (s, t) = (rt.heap.bytes(a[0]), rt.heap.bytes(a[1]));
    let pos = if t.is_empty() { Some(0) } else { s.windows(t.len()).position(|w| w == t) };
    Ok(pos.map_or(-1i64, |p| p as i64) as Word)
}

fn int_to_string(rt: &mut Rt, a: &[Word], _: &Site) -> Result<Word, Exn> {
    let s = (a[0] as i64).to_string();
    Ok(rt.heap.alloc_bytes(s.as_bytes()))
}
