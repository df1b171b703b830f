//! The `ip` header type: IPv4 headers (with options) and their fields.
//!
//! Setters are functional: they return a new header. Checksums are not kept up to date
//! by setters; they are recomputed when a packet is marshalled to be sent.

use crate::bytes::{get, set};
use crate::value::format_host;
use crate::{Exn, Prim, Rt, Type, Word, mono};

/// The primitives of this file.
pub const PRIMS: &[Prim] = &[
    Prim {
        name: "ipSrc",
        signature: "ip -> host",
        doc: "The source address.",
        typing: mono!([Type::Ip] -> Type::Host),
        compute: |rt, a, _| Ok(get(rt.heap.bytes(a[0]), 12, 4)),
        raises: &[],
        effectful: false,
    },
    Prim {
        name: "ipDst",
        signature: "ip -> host",
        doc: "The destination address.",
        typing: mono!([Type::Ip] -> Type::Host),
        compute: |rt, a, _| Ok(get(rt.heap.bytes(a[0]), 16, 4)),
        raises: &[],
        effectful: false,
    },
    Prim {
        name: "ipSrcSet",
        signature: "ip*host -> ip",
        doc: "ipSrcSet(h, a): h with source address a.",
        typing: mono!([Type::Ip, Type::Host] -> Type::Ip),
        compute: |rt, a, _| setter(rt, a, 12, 4),
        raises: &[],
        effectful: false,
    },
    Prim {
        name: "ipDstSet",
        signature: "ip*host -> ip",
        doc: "ipDstSet(h, a): h with destination address a.",
        typing: mono!([Type::Ip, Type::Host] -> Type::Ip),
        compute: |rt, a, _| setter(rt, a, 16, 4),
        raises: &[],
        effectful: false,
    },
    Prim {
        name: "ipTtl",
        signature: "ip -> int",
        doc: "The time-to-live.",
        typing: mono!([Type::Ip] -> Type::Int),
        compute: |rt, a, _| Ok(get(rt.heap.bytes(a[0]), 8, 1)),
        raises: &[],
        effectful: false,
    },
    Prim {
        name: "ipTtlSet",
        signature: "ip*int -> ip",
        doc: "ipTtlSet(h, t): h with time-to-live t (its low 8 bits).",
        typing: mono!([Type::Ip, Type::Int] -> Type::Ip),
        compute: |rt, a, _| setter(rt, a, 8, 1),
        raises: &[],
        effectful: false,
    },
    Prim {
        name: "ipTos",
        signature: "ip -> int",
        doc: "The type-of-service (DSCP and ECN) byte.",
        typing: mono!([Type::Ip] -> Type::Int),
        compute: |rt, a, _| Ok(get(rt.heap.bytes(a[0]), 1, 1)),
        raises: &[],
        effectful: false,
    },
    Prim {
        name: "ipProto",
        signature: "ip -> int",
        doc: "The protocol number of the payload (6 for TCP, 17 for UDP).",
        typing: mono!([Type::Ip] -> Type::Int),
        compute: |rt, a, _| Ok(get(rt.heap.bytes(a[0]), 9, 1)),
        raises: &[],
        effectful: false,
    },
    Prim {
        name: "ipLen",
        signature: "ip -> int",
        doc: "The total-length field (header and payload, in bytes).",
        typing: mono!([Type::Ip] -> Type::Int),
        compute: |rt, a, _| Ok(get(rt.heap.bytes(a[0]), 2, 2)),
        raises: &[],
        effectful: false,
    },
];

fn setter(rt: &mut Rt, a: &[Word], off: usize, n: usize) -> Result<Word, Exn> {
    let b = set(rt.heap.bytes(a[0]), off, n, a[1]);
    Ok(rt.heap.alloc_bytes_vec(b))
}

/// A minimal IPv4 header: version 4, header length 20, TTL 64, all else zero.
pub fn minimal() -> Vec<u8> {
    let mut h = vec![0u8; 20];
    h[0] = 0x45;
    h[8] = 64;
    h
}

/// Header length in bytes as the IHL field gives it.
pub fn header_len(b: &[u8]) -> usize {
    (get(b, 0, 1) as usize & 0x0f) * 4
}

/// A one-line description, as the REPL shows header values.
pub fn describe(b: &[u8]) -> String {
    format!(
        "<ip {} > {} proto {} ttl {} len {}>",
        format_host(get(b, 12, 4) as u32),
        format_host(get(b, 16, 4) as u32),
        get(b, 9, 1),
        get(b, 8, 1),
        get(b, 2, 2)
    )
}
