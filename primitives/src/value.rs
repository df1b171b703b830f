//! Type-directed operations on untagged words: structural equality, ordering, printing,
//! the canonical byte encoding (hash-table keys, user-channel packets) and default values.
//!
//! Every function here takes the static [`Type`] of the word it looks at; the word alone
//! does not say what it is.

use crate::heap::{Heap, NIL, Word};
use crate::types::Type;
use crate::{eth, ip, ip6, tcp, udp};
use std::cmp::Ordering;
use std::fmt::Write as _;

/// Structural equality (`=`).
pub fn equal(heap: &Heap, ty: &Type, a: Word, b: Word) -> bool {
    match ty {
        Type::String | Type::Blob | Type::Eth | Type::Ip | Type::Ip6 | Type::Tcp | Type::Udp => {
            a == b || heap.bytes(a) == heap.bytes(b)
        }
        Type::Tuple(ts) => {
            a == b || ts.iter().enumerate().all(|(i, t)| equal(heap, t, heap.tuple_get(a, i), heap.tuple_get(b, i)))
        }
        Type::List(t) => {
            let (mut a, mut b) = (a, b);
            loop {
                if a == b {
                    return true;
                }
                if a == NIL || b == NIL {
                    return false;
                }
                if !equal(heap, t, heap.head(a), heap.head(b)) {
                    return false;
                }
                a = heap.tail(a);
                b = heap.tail(b);
            }
        }
        // Tables are not equality types (the checker rejects them); identity is the
        // only sensible meaning if one ever got here.
        _ => a == b,
    }
}

/// Ordering for the types `<`, `<=`, `>`, `>=` accept: `int` (signed), `char` and
/// `host` (unsigned), `string` (bytewise, lexicographic).
pub fn compare(heap: &Heap, ty: &Type, a: Word, b: Word) -> Ordering {
    match ty {
        Type::Int => (a as i64).cmp(&(b as i64)),
        Type::String => heap.bytes(a).cmp(heap.bytes(b)),
        _ => a.cmp(&b),
    }
}

/// Dotted-quad text of an IPv4 address.
pub fn format_host(h: u32) -> String {
    let b = h.to_be_bytes();
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

/// The bytes `print` writes: strings and chars as they are (bytes, not necessarily
/// UTF-8), integers with a leading `-` when negative, everything else as [`repr`] shows it.
pub fn display(heap: &Heap, ty: &Type, w: Word, out: &mut Vec<u8>) {
    match ty {
        Type::String => out.extend_from_slice(heap.bytes(w)),
        Type::Char => out.push(w as u8),
        Type::Int => out.extend_from_slice((w as i64).to_string().as_bytes()),
        _ => {
            let mut s = String::new();
            repr(heap, ty, w, &mut s, &mut { usize::MAX });
            out.extend_from_slice(s.as_bytes());
        }
    }
}

/// Escape one byte for a string or char literal.
fn escape_byte(b: u8, quote: u8, out: &mut String) {
    match b {
        b'\n' => out.push_str("\\n"),
        b'\t' => out.push_str("\\t"),
        b'\r' => out.push_str("\\r"),
        b'\\' => out.push_str("\\\\"),
        b if b == quote => {
            out.push('\\');
            out.push(b as char)
        }
        0x20..=0x7e => out.push(b as char),
        b => {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
}

/// A value written as PLAN-P source would write it (`~5`, `"text"`, `'c'`, `[1, 2]`), as
/// the REPL shows values. `budget` bounds how many list elements, table entries and bytes
/// are shown; what is left out is written `...`.
pub fn repr(heap: &Heap, ty: &Type, w: Word, out: &mut String, budget: &mut usize) {
    match ty {
        Type::Unit => out.push_str("()"),
        Type::Int => {
            let v = w as i64;
            if v < 0 {
                let _ = write!(out, "~{}", v.unsigned_abs());
            } else {
                let _ = write!(out, "{v}");
            }
        }
        Type::Bool => out.push_str(if w != 0 { "true" } else { "false" }),
        Type::Char => {
            out.push('\'');
            escape_byte(w as u8, b'\'', out);
            out.push('\'');
        }
        Type::Host => out.push_str(&format_host(w as u32)),
        Type::String => {
            out.push('"');
            for &b in heap.bytes(w) {
                if *budget == 0 {
                    out.push_str("...");
                    break;
                }
                *budget -= 1;
                escape_byte(b, b'"', out);
            }
            out.push('"');
        }
        Type::Blob => {
            let b = heap.bytes(w);
            let _ = write!(out, "<blob {} byte{}", b.len(), if b.len() == 1 { "" } else { "s" });
            if !b.is_empty() {
                out.push(':');
                for (i, x) in b.iter().enumerate() {
                    if i == 16 || *budget == 0 {
                        out.push_str(" ...");
                        break;
                    }
                    *budget = budget.saturating_sub(1);
                    let _ = write!(out, " {x:02x}");
                }
            }
            out.push('>');
        }
        Type::Eth => out.push_str(&eth::describe(heap.bytes(w))),
        Type::Ip => out.push_str(&ip::describe(heap.bytes(w))),
        Type::Ip6 => out.push_str(&ip6::describe(heap.bytes(w))),
        Type::Tcp => out.push_str(&tcp::describe(heap.bytes(w))),
        Type::Udp => out.push_str(&udp::describe(heap.bytes(w))),
        Type::Tuple(ts) => {
            out.push('(');
            for (i, t) in ts.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr(heap, t, heap.tuple_get(w, i), out, budget);
            }
            out.push(')');
        }
        Type::List(t) => {
            out.push('[');
            let mut l = w;
            let mut first = true;
            while l != NIL {
                if !first {
                    out.push_str(", ");
                }
                first = false;
                if *budget == 0 {
                    out.push_str("...");
                    break;
                }
                *budget -= 1;
                repr(heap, t, heap.head(l), out, budget);
                l = heap.tail(l);
            }
            out.push(']');
        }
        Type::Table(k, v) => {
            let entries = heap.table_entries(w);
            out.push('{');
            for (i, (key, val)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                if *budget == 0 {
                    let _ = write!(out, "... ({} more)", entries.len() - i);
                    break;
                }
                *budget -= 1;
                let mut kb: &[u8] = key;
                repr_encoded(k, &mut kb, out);
                out.push_str(" => ");
                repr(heap, v, *val, out, budget);
            }
            out.push('}');
        }
        Type::Var(_) | Type::Error => out.push('_'),
    }
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if input.len() < n {
        return None;
    }
    let (a, b) = input.split_at(n);
    *input = b;
    Some(a)
}

fn take_u32(input: &mut &[u8]) -> Option<u32> {
    take(input, 4).map(|b| u32::from_be_bytes(b.try_into().unwrap()))
}

/// Print a value from its canonical encoding (used for hash-table keys, which are stored
/// encoded).
fn repr_encoded(ty: &Type, input: &mut &[u8], out: &mut String) {
    let mut heap = Heap::new();
    match decode(&mut heap, ty, input) {
        Some(w) => repr(&heap, ty, w, out, &mut 64),
        None => out.push_str("<undecodable>"),
    }
}

/// Can values of this type be encoded (and so be hash-table keys or travel on a
/// user-defined channel)? Everything but hash tables.
pub fn encodable(ty: &Type) -> bool {
    ty.admits_equality()
}

/// The canonical encoding: big-endian scalars (int 8 bytes, host 4, char and bool 1,
/// unit nothing), byte strings and headers as a 4-byte length and the bytes, tuples as
/// their fields in order, lists as a 4-byte count and the elements. Two values are equal
/// exactly when their encodings are.
pub fn encode(heap: &Heap, ty: &Type, w: Word, out: &mut Vec<u8>) {
    if encode_scalar(ty, w, out) {
        return;
    }
    match ty {
        Type::Unit | Type::Var(_) | Type::Error | Type::Int | Type::Bool | Type::Char | Type::Host => {}
        Type::String | Type::Blob | Type::Eth | Type::Ip | Type::Ip6 | Type::Tcp | Type::Udp => {
            let b = heap.bytes(w);
            out.extend_from_slice(&(b.len() as u32).to_be_bytes());
            out.extend_from_slice(b);
        }
        Type::Tuple(ts) => {
            debug_assert_eq!(heap.fields(w).len(), ts.len(), "a tuple of another type");
            for (t, &f) in ts.iter().zip(heap.fields(w)) {
                // Scalar fields (most keys are tuples of them) without a recursive call.
                if !encode_scalar(t, f, out) {
                    encode(heap, t, f, out);
                }
            }
        }
        Type::List(t) => {
            let elems = heap.list_to_vec(w);
            out.extend_from_slice(&(elems.len() as u32).to_be_bytes());
            for e in elems {
                encode(heap, t, e, out);
            }
        }
        Type::Table(..) => panic!("internal error: hash tables have no encoding"),
    }
}

/// [`encode`] for the types whose values are words, not objects: `false` for the others
/// (and nothing written).
#[inline(always)]
fn encode_scalar(ty: &Type, w: Word, out: &mut Vec<u8>) -> bool {
    match ty {
        Type::Unit | Type::Var(_) | Type::Error => {}
        Type::Int => out.extend_from_slice(&w.to_be_bytes()),
        Type::Bool => out.push((w != 0) as u8),
        Type::Char => out.push(w as u8),
        Type::Host => out.extend_from_slice(&(w as u32).to_be_bytes()),
        _ => return false,
    }
    true
}

/// Decode one value of type `ty` from the front of `input` into the scratch space;
/// `None` when the bytes are not a valid encoding.
pub fn decode(heap: &mut Heap, ty: &Type, input: &mut &[u8]) -> Option<Word> {
    Some(match ty {
        Type::Unit | Type::Var(_) | Type::Error => 0,
        Type::Int => u64::from_be_bytes(take(input, 8)?.try_into().unwrap()),
        Type::Bool => match take(input, 1)?[0] {
            0 => 0,
            1 => 1,
            _ => return None,
        },
        Type::Char => take(input, 1)?[0] as Word,
        Type::Host => take_u32(input)? as Word,
        Type::String | Type::Blob | Type::Eth | Type::Ip | Type::Ip6 | Type::Tcp | Type::Udp => {
            let n = take_u32(input)? as usize;
            let b = take(input, n)?;
            heap.alloc_bytes(b)
        }
        Type::Tuple(ts) => {
            let mut mask = 0u64;
            let mut fields = Vec::with_capacity(ts.len());
            for (i, t) in ts.iter().enumerate() {
                fields.push(decode(heap, t, input)?);
                if t.is_ptr() {
                    mask |= 1 << i;
                }
            }
            heap.tuple_from(&fields, mask)
        }
        Type::List(t) => {
            let n = take_u32(input)? as usize;
            // Each element takes at least one byte unless it is `unit`; refuse counts the
            // input cannot hold before allocating for them.
            if n > input.len() && **t != Type::Unit {
                return None;
            }
            let mut elems = Vec::with_capacity(n.min(input.len() + 1));
            for _ in 0..n {
                elems.push(decode(heap, t, input)?);
            }
            heap.list_from(&elems, t.is_ptr())
        }
        Type::Table(..) => return None,
    })
}

/// The value a state of type `ty` starts with when the program gives none: `0`, `false`,
/// `'\000'`, `""`, an empty blob, `0.0.0.0`, `()`, `[]`, an empty hash table, a minimal
/// well-formed header, and tuples of these.
pub fn zero(heap: &mut Heap, ty: &Type) -> Word {
    match ty {
        Type::String | Type::Blob => heap.alloc_bytes(b""),
        Type::Eth => heap.alloc_bytes(&eth::minimal()),
        Type::Ip => heap.alloc_bytes(&ip::minimal()),
        Type::Ip6 => heap.alloc_bytes(&ip6::minimal()),
        Type::Tcp => heap.alloc_bytes(&tcp::minimal()),
        Type::Udp => heap.alloc_bytes(&udp::minimal()),
        Type::Tuple(ts) => {
            let mut mask = 0u64;
            let mut fields = Vec::with_capacity(ts.len());
            for (i, t) in ts.iter().enumerate() {
                fields.push(zero(heap, t));
                if t.is_ptr() {
                    mask |= 1 << i;
                }
            }
            heap.tuple_from(&fields, mask)
        }
        Type::Table(..) => heap.table_new(),
        _ => 0,
    }
}

/// The pointer mask of a tuple type: bit i set when component i is a handle.
pub fn tuple_mask(ts: &[Type]) -> u64 {
    ts.iter().enumerate().filter(|(_, t)| t.is_ptr()).fold(0, |m, (i, _)| m | 1 << i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample_type() -> Type {
        Type::Tuple(vec![
            Type::Int,
            Type::List(Box::new(Type::Tuple(vec![Type::String, Type::Char]))),
            Type::Host,
            Type::Bool,
        ])
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(n in any::<i64>(), items in proptest::collection::vec((".{0,8}", any::<u8>()), 0..6), h in any::<u32>(), b in any::<bool>()) {
            let mut heap = Heap::new();
            let elems: Vec<Word> = items.iter().map(|(s, c)| {
                let s = heap.alloc_bytes(s.as_bytes());
                heap.tuple_from(&[s, *c as Word], 1)
            }).collect();
            let l = heap.list_from(&elems, true);
            let v = heap.tuple_from(&[n as Word, l, h as Word, b as Word], 0b10);
            let ty = sample_type();
            let mut enc = Vec::new();
            encode(&heap, &ty, v, &mut enc);
            let mut input = &enc[..];
            let back = decode(&mut heap, &ty, &mut input).unwrap();
            prop_assert!(input.is_empty());
            prop_assert!(equal(&heap, &ty, v, back));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut heap = Heap::new();
            let mut input = &bytes[..];
            let _ = decode(&mut heap, &sample_type(), &mut input);
        }
    }

    #[test]
    fn repr_is_source_like() {
        let mut heap = Heap::new();
        let s = heap.alloc_bytes(b"a\"b\n");
        let t = heap.tuple_from(&[(-5i64) as Word, s, b'x' as Word], 0b010);
        let ty = Type::Tuple(vec![Type::Int, Type::String, Type::Char]);
        let mut out = String::new();
        repr(&heap, &ty, t, &mut out, &mut { usize::MAX });
        assert_eq!(out, r#"(~5, "a\"b\n", 'x')"#);
        let mut out = Vec::new();
        display(&heap, &Type::Int, (-5i64) as Word, &mut out);
        assert_eq!(out, b"-5");
        let s = heap.alloc_bytes(b"caf\xe9");
        let mut out = Vec::new();
        display(&heap, &Type::String, s, &mut out);
        assert_eq!(out, b"caf\xe9", "strings are printed as bytes, not as UTF-8");
    }
}
