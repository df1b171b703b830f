//! The `eth` header type: Ethernet II headers.

use crate::bytes::get;
use crate::{Prim, Type, mono};
use std::fmt::Write as _;

/// The primitives of this file.
pub const PRIMS: &[Prim] = &[Prim {
    name: "ethType",
    signature: "eth -> int",
    doc: "The EtherType (0x0800 for IPv4).",
    typing: mono!([Type::Eth] -> Type::Int),
    compute: |rt, a, _| Ok(get(rt.heap.bytes(a[0]), 12, 2)),
    raises: &[],
    effectful: false,
}];

/// A minimal Ethernet header: zero addresses, EtherType IPv4.
pub fn minimal() -> Vec<u8> {
    let mut h = vec![0u8; 14];
    h[12] = 0x08;
    h
}

fn mac(b: &[u8], off: usize) -> String {
    let mut s = String::new();
    for i in 0..6 {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{:02x}", b.get(off + i).copied().unwrap_or(0));
    }
    s
}

/// A one-line description, as the REPL shows header values.
pub fn describe(b: &[u8]) -> String {
    format!("<eth {} > {} type 0x{:04x}>", mac(b, 6), mac(b, 0), get(b, 12, 2))
}
