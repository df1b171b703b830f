//! Characters, strings and blobs: conversions, lengths, slices, searching, and the bytes
//! of a blob as numbers.
//!
//! Strings and blobs are both immutable byte sequences; the operations that make sense
//! for both (`size`, `substring`, `search`, `byteAt`) accept either and return the same
//! kind. Numbers stored in bytes are big-endian (network order) and unsigned.

use crate::heap::SCRATCH_OBJECT_BYTES;
use crate::rt::{NOT_FOUND, RESOURCE_LIMIT, SUBSCRIPT};
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
        inline: None,
    },
    Prim {
        name: "charPos",
        signature: "char -> int",
        doc: "The position of a character in the character set, as figure 4 of the paper uses it (same as `ord`).",
        typing: mono!([Type::Char] -> Type::Int),
        compute: identity,
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "chr",
        signature: "int -> char",
        doc: "The character with a code; raises Subscript outside 0..=255.",
        typing: mono!([Type::Int] -> Type::Char),
        compute: chr,
        raises: &[SUBSCRIPT],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "explode",
        signature: "string -> char list",
        doc: "The characters of a string.",
        typing: mono!([Type::String] -> Type::List(Box::new(Type::Char))),
        compute: explode,
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "implode",
        signature: "char list -> string",
        doc: "The string of a list of characters.",
        typing: mono!([Type::List(Box::new(Type::Char))] -> Type::String),
        compute: implode,
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "size",
        signature: "string -> int | blob -> int",
        doc: "The number of bytes of a string or blob.",
        typing: ty_size,
        compute: size,
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "substring",
        signature: "string*int*int -> string | blob*int*int -> blob",
        doc: "substring(s, i, n): the n bytes of s from position i; raises Subscript if they are not all in s.",
        typing: ty_substring,
        compute: substring,
        raises: &[SUBSCRIPT],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "search",
        signature: "string*string -> int | blob*blob -> int",
        doc: "search(s, t): the first position of t in s, or ~1 when t does not occur.",
        typing: ty_search,
        compute: search,
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "intToString",
        signature: "int -> string",
        doc: "Decimal text of an integer, with `-` for negatives.",
        typing: mono!([Type::Int] -> Type::String),
        compute: int_to_string,
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "blobOfString",
        signature: "string -> blob",
        doc: "The bytes of a string as a blob.",
        typing: mono!([Type::String] -> Type::Blob),
        compute: identity,
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "stringOfBlob",
        signature: "blob -> string",
        doc: "The bytes of a blob as a string.",
        typing: mono!([Type::Blob] -> Type::String),
        compute: identity,
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "stringToInt",
        signature: "string -> int",
        doc: "The integer a decimal text denotes, with an optional leading `-` or `~`; raises NotFound when the text is not such a number or does not fit an int.",
        typing: mono!([Type::String] -> Type::Int),
        compute: string_to_int,
        raises: &[NOT_FOUND],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "byteAt",
        signature: "blob*int -> int | string*int -> int",
        doc: "byteAt(b, i): the byte at position i, as 0..255; raises Subscript when i is not a position of b.",
        typing: ty_byte_at,
        compute: byte_at,
        raises: &[SUBSCRIPT],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "setByte",
        signature: "blob*int*int -> blob",
        doc: "setByte(b, i, v): b with the byte at position i replaced by v (its low 8 bits); raises Subscript when i is not a position of b.",
        typing: mono!([Type::Blob, Type::Int, Type::Int] -> Type::Blob),
        compute: set_byte,
        raises: &[SUBSCRIPT],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "intOfBytes",
        signature: "blob*int*int -> int",
        doc: "intOfBytes(b, i, n): the unsigned big-endian value of the n bytes of b from position i (n = 8 may give a negative int); raises Subscript unless 1 <= n <= 8 and the bytes are all in b.",
        typing: mono!([Type::Blob, Type::Int, Type::Int] -> Type::Int),
        compute: int_of_bytes,
        raises: &[SUBSCRIPT],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "bytesOfInt",
        signature: "int*int -> blob",
        doc: "bytesOfInt(v, n): the low n bytes of v, big-endian; raises Subscript unless 1 <= n <= 8.",
        typing: mono!([Type::Int, Type::Int] -> Type::Blob),
        compute: bytes_of_int,
        raises: &[SUBSCRIPT],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "makeBlob",
        signature: "int*int -> blob",
        doc: "makeBlob(n, v): n bytes, each v (its low 8 bits); raises Subscript unless 0 <= n <= 16777216.",
        typing: mono!([Type::Int, Type::Int] -> Type::Blob),
        compute: make_blob,
        raises: &[SUBSCRIPT],
        effectful: false,
        inline: None,
    },
];

/// The largest blob `makeBlob` makes (16 MiB): a program cannot ask for unbounded memory.
pub const MAX_MADE_BLOB: i64 = 1 << 24;

/// Strings, blobs and chars share their representation with what they convert to.
fn identity(_: &mut Rt, a: &[Word], _: &Site) -> Result<Word, Exn> {
    Ok(a[0])
}

fn chr(_: &mut Rt, a: &[Word], _: &Site) -> Result<Word, Exn> {
    if a[0] <= 255 { Ok(a[0]) } else { Err(SUBSCRIPT) }
}

fn explode(rt: &mut Rt, a: &[Word], _: &Site) -> Result<Word, Exn> {
    // A list cell per character: a string near the resource limit would make a list many
    // times its size (`docs/language.md`, "Resource limits").
    if !rt.heap.scratch_room(rt.heap.bytes(a[0]).len().saturating_mul(SCRATCH_OBJECT_BYTES)) {
        return Err(RESOURCE_LIMIT);
    }
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

fn string_to_int(rt: &mut Rt, a: &[Word], _: &Site) -> Result<Word, Exn> {
    parse_int(rt.heap.bytes(a[0])).map(|v| v as Word).ok_or(NOT_FOUND)
}

/// Decimal digits with an optional leading `-` or `~`, in range; nothing else (no `+`,
/// no spaces, no empty digits).
fn parse_int(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s {
        [b'-' | b'~', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Accumulate negatively so that the most negative int parses too.
    let mut v: i64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_sub((d - b'0') as i64)?;
    }
    if neg { Some(v) } else { v.checked_neg() }
}

/// The positions `i..i + n` when they are all within `len` bytes.
fn span(len: usize, i: i64, n: i64) -> Option<std::ops::Range<usize>> {
    if i < 0 || n < 0 {
        return None;
    }
    let end = i.checked_add(n)?;
    (end as u64 <= len as u64).then_some(i as usize..end as usize)
}

fn ty_byte_at(cx: &mut dyn TypeCx, a: &[Type]) -> Result<Type, PrimTypeError> {
    check::arity(a, 2)?;
    check::bytes_like(cx, a, 0)?;
    check::arg(cx, a, 1, &Type::Int)?;
    Ok(Type::Int)
}

fn byte_at(rt: &mut Rt, a: &[Word], _: &Site) -> Result<Word, Exn> {
    let b = rt.heap.bytes(a[0]);
    let r = span(b.len(), a[1] as i64, 1).ok_or(SUBSCRIPT)?;
    Ok(b[r.start] as Word)
}

fn set_byte(rt: &mut Rt, a: &[Word], _: &Site) -> Result<Word, Exn> {
    let b = rt.heap.bytes(a[0]);
    let r = span(b.len(), a[1] as i64, 1).ok_or(SUBSCRIPT)?;
    let mut out = b.to_vec();
    out[r.start] = a[2] as u8;
    Ok(rt.heap.alloc_bytes_vec(out))
}

fn int_of_bytes(rt: &mut Rt, a: &[Word], _: &Site) -> Result<Word, Exn> {
    let b = rt.heap.bytes(a[0]);
    let n = a[2] as i64;
    if !(1..=8).contains(&n) {
        return Err(SUBSCRIPT);
    }
    let r = span(b.len(), a[1] as i64, n).ok_or(SUBSCRIPT)?;
    Ok(b[r].iter().fold(0, |acc, &x| acc << 8 | x as Word))
}

fn bytes_of_int(rt: &mut Rt, a: &[Word], _: &Site) -> Result<Word, Exn> {
    let n = a[1] as i64;
    if !(1..=8).contains(&n) {
        return Err(SUBSCRIPT);
    }
    let be = a[0].to_be_bytes();
    Ok(rt.heap.alloc_bytes(&be[8 - n as usize..]))
}

fn make_blob(rt: &mut Rt, a: &[Word], _: &Site) -> Result<Word, Exn> {
    let n = a[0] as i64;
    if !(0..=MAX_MADE_BLOB).contains(&n) {
        return Err(SUBSCRIPT);
    }
    Ok(rt.heap.alloc_bytes_vec(vec![a[1] as u8; n as usize]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    fn blob(rt: &mut Rt, b: &[u8]) -> (Type, Word) {
        arg_bytes(rt, Type::Blob, b)
    }

    fn string(rt: &mut Rt, b: &[u8]) -> (Type, Word) {
        arg_bytes(rt, Type::String, b)
    }

    #[test]
    fn chars() {
        let mut rt = Rt::new();
        let c = |x: u8| (Type::Char, x as Word);
        assert_eq!(call(&mut rt, "ord", &[c(b'A')]), Ok(65));
        assert_eq!(call(&mut rt, "charPos", &[c(255)]), Ok(255));
        assert_eq!(call(&mut rt, "chr", &[int(97)]), Ok(97));
        for bad in [256, -1, i64::MIN] {
            assert_eq!(call(&mut rt, "chr", &[int(bad)]), Err(SUBSCRIPT));
        }
        let s = string(&mut rt, b"a\xff");
        let l = call(&mut rt, "explode", &[s]).unwrap();
        assert_eq!(rt.heap.list_to_vec(l), [b'a' as Word, 0xff]);
        let back = call_bytes(&mut rt, "implode", &[(Type::List(Box::new(Type::Char)), l)]);
        assert_eq!(back, Ok(b"a\xff".to_vec()));
        assert_eq!(call_bytes(&mut rt, "implode", &[(Type::List(Box::new(Type::Char)), NIL)]), Ok(vec![]));
    }

    #[test]
    fn sizes_slices_and_searches() {
        let mut rt = Rt::new();
        let s = string(&mut rt, b"hello");
        let b = blob(&mut rt, b"\x00ab");
        assert_eq!(call1(&mut rt, "size", &s), Ok(5));
        assert_eq!(call1(&mut rt, "size", &b), Ok(3));
        assert_eq!(call_bytes(&mut rt, "substring", &[s.clone(), int(1), int(3)]), Ok(b"ell".to_vec()));
        assert_eq!(call_bytes(&mut rt, "substring", &[s.clone(), int(5), int(0)]), Ok(vec![]));
        for (i, n) in [(3, 3), (-1, 1), (6, 0), (1, -1), (i64::MAX, 1)] {
            assert_eq!(call(&mut rt, "substring", &[s.clone(), int(i), int(n)]), Err(SUBSCRIPT), "({i}, {n})");
        }
        let ll = string(&mut rt, b"ll");
        let none = string(&mut rt, b"xyz");
        let empty = string(&mut rt, b"");
        assert_eq!(call(&mut rt, "search", &[s.clone(), ll]), Ok(2));
        assert_eq!(call(&mut rt, "search", &[s.clone(), none]), Ok(-1i64 as Word));
        assert_eq!(call(&mut rt, "search", &[s, empty]), Ok(0));
        let ab = blob(&mut rt, b"ab");
        assert_eq!(call(&mut rt, "search", &[b, ab]), Ok(1));
        assert_eq!(type_of("substring", &[Type::Blob, Type::Int, Type::Int]), Ok(Type::Blob));
        assert!(type_of("search", &[Type::String, Type::Blob]).is_err(), "the same kind twice");
    }

    #[test]
    fn conversions() {
        let mut rt = Rt::new();
        assert_eq!(call_bytes(&mut rt, "intToString", &[int(-42)]), Ok(b"-42".to_vec()));
        assert_eq!(call_bytes(&mut rt, "intToString", &[int(i64::MIN)]), Ok(b"-9223372036854775808".to_vec()));
        let s = string(&mut rt, b"x\x00");
        let b = call1(&mut rt, "blobOfString", &s).unwrap();
        assert_eq!(bytes_of(&rt, b), b"x\x00");
        let back = call(&mut rt, "stringOfBlob", &[(Type::Blob, b)]).unwrap();
        assert_eq!(bytes_of(&rt, back), b"x\x00");
    }

    #[test]
    fn string_to_int() {
        let mut rt = Rt::new();
        let mut parse = |s: &str| {
            let s = arg_bytes(&mut rt, Type::String, s.as_bytes());
            call(&mut rt, "stringToInt", &[s]).map(|w| w as i64)
        };
        assert_eq!(parse("0"), Ok(0));
        assert_eq!(parse("42"), Ok(42));
        assert_eq!(parse("007"), Ok(7));
        assert_eq!(parse("-42"), Ok(-42));
        assert_eq!(parse("~42"), Ok(-42));
        assert_eq!(parse("-0"), Ok(0));
        assert_eq!(parse("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse("~9223372036854775808"), Ok(i64::MIN));
        for bad in [
            "",
            "-",
            "~",
            "+1",
            " 1",
            "1 ",
            "1a",
            "0x10",
            "--1",
            "-~1",
            "1_000",
            "9223372036854775808",
            "-9223372036854775809",
            "99999999999999999999999",
            "\u{663}",
        ] {
            assert_eq!(parse(bad), Err(NOT_FOUND), "{bad:?}");
        }
    }

    #[test]
    fn byte_at() {
        let mut rt = Rt::new();
        let b = blob(&mut rt, &[0, 0x7f, 0x80, 0xff]);
        let s = arg_bytes(&mut rt, Type::String, b"AZ");
        assert_eq!(call(&mut rt, "byteAt", &[b.clone(), int(0)]), Ok(0));
        assert_eq!(call(&mut rt, "byteAt", &[b.clone(), int(2)]), Ok(0x80), "unsigned");
        assert_eq!(call(&mut rt, "byteAt", &[b.clone(), int(3)]), Ok(0xff));
        assert_eq!(call(&mut rt, "byteAt", &[s.clone(), int(1)]), Ok(b'Z' as Word), "strings too");
        for i in [-1, 4, i64::MAX, i64::MIN] {
            assert_eq!(call(&mut rt, "byteAt", &[b.clone(), int(i)]), Err(SUBSCRIPT), "{i}");
        }
        assert_eq!(call(&mut rt, "byteAt", &[s, int(2)]), Err(SUBSCRIPT));
        let e = blob(&mut rt, &[]);
        assert_eq!(call(&mut rt, "byteAt", &[e, int(0)]), Err(SUBSCRIPT));
    }

    #[test]
    fn set_byte() {
        let mut rt = Rt::new();
        let b = blob(&mut rt, &[1, 2, 3]);
        assert_eq!(call_bytes(&mut rt, "setByte", &[b.clone(), int(0), int(9)]), Ok(vec![9, 2, 3]));
        assert_eq!(call_bytes(&mut rt, "setByte", &[b.clone(), int(2), int(0x1ff)]), Ok(vec![1, 2, 0xff]));
        assert_eq!(call_bytes(&mut rt, "setByte", &[b.clone(), int(1), int(-1)]), Ok(vec![1, 0xff, 3]));
        assert_eq!(bytes_of(&rt, b.1), [1, 2, 3], "functional");
        for i in [-1, 3, i64::MAX] {
            assert_eq!(call(&mut rt, "setByte", &[b.clone(), int(i), int(0)]), Err(SUBSCRIPT));
        }
    }

    #[test]
    fn int_of_bytes() {
        let mut rt = Rt::new();
        let b = blob(&mut rt, &[0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0xff]);
        let mut at = |i: i64, n: i64| call(&mut rt, "intOfBytes", &[b.clone(), int(i), int(n)]).map(|w| w as i64);
        assert_eq!(at(0, 1), Ok(0x12));
        assert_eq!(at(0, 2), Ok(0x1234));
        assert_eq!(at(1, 3), Ok(0x34_5678));
        assert_eq!(at(8, 1), Ok(0xff), "unsigned");
        assert_eq!(at(5, 4), Ok(0xbcde_f0ff), "unsigned");
        assert_eq!(at(0, 8), Ok(0x1234_5678_9abc_def0));
        assert_eq!(at(1, 8), Ok(0x3456_789a_bcde_f0ffu64 as i64));
        assert_eq!(at(2, 8), Err(SUBSCRIPT), "past the end");
        assert_eq!(at(9, 1), Err(SUBSCRIPT));
        assert_eq!(at(-1, 2), Err(SUBSCRIPT));
        assert_eq!(at(i64::MAX, 1), Err(SUBSCRIPT));
        for n in [0, 9, -1, i64::MIN] {
            assert_eq!(at(0, n), Err(SUBSCRIPT), "n = {n}");
        }
    }

    #[test]
    fn bytes_of_int() {
        let mut rt = Rt::new();
        let mut of = |v: i64, n: i64| call_bytes(&mut rt, "bytesOfInt", &[int(v), int(n)]);
        assert_eq!(of(0x1234, 2), Ok(vec![0x12, 0x34]));
        assert_eq!(of(0x1234, 1), Ok(vec![0x34]), "low bytes");
        assert_eq!(of(0x1234, 4), Ok(vec![0, 0, 0x12, 0x34]));
        assert_eq!(of(-1, 3), Ok(vec![0xff; 3]));
        assert_eq!(of(i64::MIN, 8), Ok(vec![0x80, 0, 0, 0, 0, 0, 0, 0]));
        for n in [0, 9, -1, i64::MAX] {
            assert_eq!(of(1, n), Err(SUBSCRIPT), "n = {n}");
        }
        // Round trip with intOfBytes.
        let b = of(0x0102_0304_0506, 8).unwrap();
        let b = blob(&mut rt, &b);
        assert_eq!(call(&mut rt, "intOfBytes", &[b, int(0), int(8)]), Ok(0x0102_0304_0506));
    }

    #[test]
    fn make_blob() {
        let mut rt = Rt::new();
        let mut make = |n: i64, v: i64| call_bytes(&mut rt, "makeBlob", &[int(n), int(v)]);
        assert_eq!(make(3, 7), Ok(vec![7, 7, 7]));
        assert_eq!(make(0, 7), Ok(vec![]));
        assert_eq!(make(2, 0x180), Ok(vec![0x80, 0x80]), "low 8 bits");
        assert_eq!(make(1, -1), Ok(vec![0xff]));
        assert_eq!(make(MAX_MADE_BLOB, 0).map(|b| b.len()), Ok(1 << 24));
        for n in [-1, MAX_MADE_BLOB + 1, i64::MAX, i64::MIN] {
            assert_eq!(make(n, 0), Err(SUBSCRIPT), "n = {n}");
        }
    }

    #[test]
    fn typing() {
        assert_eq!(type_of("byteAt", &[Type::Blob, Type::Int]), Ok(Type::Int));
        assert_eq!(type_of("byteAt", &[Type::String, Type::Int]), Ok(Type::Int));
        assert!(type_of("byteAt", &[Type::Ip, Type::Int]).is_err());
        assert!(type_of("byteAt", &[Type::Blob, Type::Char]).is_err());
        let e = type_of("byteAt", &[Type::Var(0), Type::Int]);
        assert!(e.is_err(), "an unknown type is not guessed");
        assert!(type_of("setByte", &[Type::String, Type::Int, Type::Int]).is_err());
        assert_eq!(type_of("stringToInt", &[Type::String]), Ok(Type::Int));
    }
}
