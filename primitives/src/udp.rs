//! The `udp` header type and its fields.
//!
//! Setters are functional and leave the length and checksum alone; both are recomputed
//! when the packet is marshalled.

use crate::bytes::{get, set};
use crate::{Exn, Prim, Rt, Type, Word, mono};

/// The primitives of this file.
pub const PRIMS: &[Prim] = &[
    Prim {
        name: "udpSrc",
        signature: "udp -> int",
        doc: "The source port.",
        typing: mono!([Type::Udp] -> Type::Int),
        compute: |rt, a, _| Ok(get(rt.heap.bytes(a[0]), 0, 2)),
        raises: &[],
        effectful: false,
    },
    Prim {
        name: "udpDst",
        signature: "udp -> int",
        doc: "The destination port.",
        typing: mono!([Type::Udp] -> Type::Int),
        compute: |rt, a, _| Ok(get(rt.heap.bytes(a[0]), 2, 2)),
        raises: &[],
        effectful: false,
    },
    Prim {
        name: "udpSrcSet",
        signature: "udp*int -> udp",
        doc: "udpSrcSet(h, p): h with source port p (its low 16 bits).",
        typing: mono!([Type::Udp, Type::Int] -> Type::Udp),
        compute: |rt, a, _| setter(rt, a, 0, 2),
        raises: &[],
        effectful: false,
    },
    Prim {
        name: "udpDstSet",
        signature: "udp*int -> udp",
        doc: "udpDstSet(h, p): h with destination port p (its low 16 bits).",
        typing: mono!([Type::Udp, Type::Int] -> Type::Udp),
        compute: |rt, a, _| setter(rt, a, 2, 2),
        raises: &[],
        effectful: false,
    },
    Prim {
        name: "udpLen",
        signature: "udp -> int",
        doc: "The length field (header and payload, in bytes).",
        typing: mono!([Type::Udp] -> Type::Int),
        compute: |rt, a, _| Ok(get(rt.heap.bytes(a[0]), 4, 2)),
        raises: &[],
        effectful: false,
    },
];

fn setter(rt: &mut Rt, a: &[Word], off: usize, n: usize) -> Result<Word, Exn> {
    let b = set(rt.heap.bytes(a[0]), off, n, a[1]);
    Ok(rt.heap.alloc_bytes_vec(b))
}

/// A minimal UDP header: length 8, all else zero.
pub fn minimal() -> Vec<u8> {
    vec![0, 0, 0, 0, 0, 8, 0, 0]
}

/// A one-line description, as the REPL shows header values.
pub fn describe(b: &[u8]) -> String {
    format!("<udp {} > {} len {}>", get(b, 0, 2), get(b, 2, 2), get(b, 4, 2))
}
