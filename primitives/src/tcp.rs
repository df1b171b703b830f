//! The `tcp` header type: TCP headers (with options) and their fields.
//!
//! Setters are functional and leave the checksum alone; it is recomputed when the packet
//! is marshalled.

use crate::bytes::{get, set};
use crate::{Exn, Prim, Rt, Type, Word, mono};

/// The primitives of this file.
pub const PRIMS: &[Prim] = &[
    Prim {
        name: "tcpSrc",
        signature: "tcp -> int",
        doc: "The source port.",
        typing: mono!([Type::Tcp] -> Type::Int),
        compute: |rt, a, _| Ok(get(rt.heap.bytes(a[0]), 0, 2)),
        raises: &[],
        effectful: false,
    },
    Prim {
        name: "tcpDst",
        signature: "tcp -> int",
        doc: "The destination port.",
        typing: mono!([Type::Tcp] -> Type::Int),
        compute: |rt, a, _| Ok(get(rt.heap.bytes(a[0]), 2, 2)),
        raises: &[],
        effectful: false,
    },
    Prim {
        name: "tcpSrcSet",
        signature: "tcp*int -> tcp",
        doc: "tcpSrcSet(h, p): h with source port p (its low 16 bits).",
        typing: mono!([Type::Tcp, Type::Int] -> Type::Tcp),
        compute: |rt, a, _| setter(rt, a, 0, 2),
        raises: &[],
        effectful: false,
    },
    Prim {
        name: "tcpDstSet",
        signature: "tcp*int -> tcp",
        doc: "tcpDstSet(h, p): h with destination port p (its low 16 bits).",
        typing: mono!([Type::Tcp, Type::Int] -> Type::Tcp),
        compute: |rt, a, _| setter(rt, a, 2, 2),
        raises: &[],
        effectful: false,
    },
    Prim {
        name: "tcpSeq",
        signature: "tcp -> int",
        doc: "The sequence number.",
        typing: mono!([Type::Tcp] -> Type::Int),
        compute: |rt, a, _| Ok(get(rt.heap.bytes(a[0]), 4, 4)),
        raises: &[],
        effectful: false,
    },
    Prim {
        name: "tcpAck",
        signature: "tcp -> int",
        doc: "The acknowledgement number.",
        typing: mono!([Type::Tcp] -> Type::Int),
        compute: |rt, a, _| Ok(get(rt.heap.bytes(a[0]), 8, 4)),
        raises: &[],
        effectful: false,
    },
    Prim {
        name: "tcpFlags",
        signature: "tcp -> int",
        doc: "The flag bits (FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32, ECE 64, CWR 128, AE 256).",
        typing: mono!([Type::Tcp] -> Type::Int),
        compute: |rt, a, _| Ok(get(rt.heap.bytes(a[0]), 12, 2) & 0x1ff),
        raises: &[],
        effectful: false,
    },
];

fn setter(rt: &mut Rt, a: &[Word], off: usize, n: usize) -> Result<Word, Exn> {
    let b = set(rt.heap.bytes(a[0]), off, n, a[1]);
    Ok(rt.heap.alloc_bytes_vec(b))
}

/// A minimal TCP header: data offset 5 (20 bytes), all else zero.
pub fn minimal() -> Vec<u8> {
    let mut h = vec![0u8; 20];
    h[12] = 0x50;
    h
}

/// Header length in bytes as the data-offset field gives it.
pub fn header_len(b: &[u8]) -> usize {
    (get(b, 12, 1) as usize >> 4) * 4
}

/// A one-line description, as the REPL shows header values.
pub fn describe(b: &[u8]) -> String {
    const NAMES: [(u64, char); 6] = [(2, 'S'), (1, 'F'), (4, 'R'), (8, 'P'), (16, '.'), (32, 'U')];
    let flags = get(b, 12, 2) & 0x1ff;
    let f: String = NAMES.iter().filter(|(bit, _)| flags & bit != 0).map(|&(_, c)| c).collect();
    format!("<tcp {} > {} [{}] seq {} ack {}>", get(b, 0, 2), get(b, 2, 2), f, get(b, 4, 4), get(b, 8, 4))
}
