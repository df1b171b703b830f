//! The `ip6` header type: IPv6 headers, with their extension headers.
//!
//! An `ip6` value holds the fixed 40-byte header followed by the extension headers
//! (hop-by-hop, routing, fragment, destination options, authentication) up to the
//! transport header. Addresses are 16-byte blobs.

use crate::bytes::get;
use crate::{Prim, Type, mono};

/// The primitives of this file.
pub const PRIMS: &[Prim] = &[Prim {
    name: "ip6HopLimit",
    signature: "ip6 -> int",
    doc: "The hop limit.",
    typing: mono!([Type::Ip6] -> Type::Int),
    compute: |rt, a, _| Ok(get(rt.heap.bytes(a[0]), 7, 1)),
    raises: &[],
    effectful: false,
}];

/// A minimal IPv6 header: version 6, hop limit 64, no next header (59), all else zero.
pub fn minimal() -> Vec<u8> {
    let mut h = vec![0u8; 40];
    h[0] = 0x60;
    h[6] = 59;
    h[7] = 64;
    h
}

/// The text form of a 16-byte IPv6 address (RFC 5952, as `std` writes it).
pub fn format_addr(b: &[u8]) -> String {
    match <[u8; 16]>::try_from(b) {
        Ok(a) => std::net::Ipv6Addr::from(a).to_string(),
        Err(_) => "<bad address>".into(),
    }
}

/// A one-line description, as the REPL shows header values.
pub fn describe(b: &[u8]) -> String {
    let addr = |o: usize| b.get(o..o + 16).map_or_else(|| "?".into(), format_addr);
    format!("<ip6 {} > {} next {} hlim {} plen {}>", addr(8), addr(24), get(b, 6, 1), get(b, 7, 1), get(b, 4, 2))
}
