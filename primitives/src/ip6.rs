//! The `ip6` header type: IPv6 headers, with their extension headers.
//!
//! An `ip6` value holds the fixed 40-byte header followed by the extension headers
//! ([`EXTENSION_HEADERS`]: hop-by-hop, routing, fragment, destination options,
//! authentication, mobility, HIP, shim6) up to the transport header. Addresses are 16-byte blobs.
//!
//! Getters read fields big-endian; a field beyond the end of a truncated header reads as
//! 0. Setters are functional: they return a new header.

use crate::bytes::{get, set};
use crate::rt::SUBSCRIPT;
use crate::{Exn, Prim, Rt, Type, Word, inline1, mono};
use planp_specialize_macro::specialize;

/// The primitives of this file.
pub const PRIMS: &[Prim] = &[
    Prim {
        name: "ip6TrafficClass",
        signature: "ip6 -> int",
        doc: "The traffic-class byte (DSCP and ECN).",
        typing: mono!([Type::Ip6] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::ip6_traffic_class(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::ip6_traffic_class, two_level::ip6_traffic_class_gen),
    },
    Prim {
        name: "ip6FlowLabel",
        signature: "ip6 -> int",
        doc: "The 20-bit flow label.",
        typing: mono!([Type::Ip6] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::ip6_flow_label(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::ip6_flow_label, two_level::ip6_flow_label_gen),
    },
    Prim {
        name: "ip6PayloadLen",
        signature: "ip6 -> int",
        doc: "The payload-length field (extension headers and payload, in bytes).",
        typing: mono!([Type::Ip6] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::ip6_payload_len(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::ip6_payload_len, two_level::ip6_payload_len_gen),
    },
    Prim {
        name: "ip6Next",
        signature: "ip6 -> int",
        doc: "The protocol after the extension headers (6 for TCP, 17 for UDP, 59 for none).",
        typing: mono!([Type::Ip6] -> Type::Int),
        compute: |rt, a, _| Ok(next_protocol(rt.heap.bytes(a[0]))),
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "ip6HopLimit",
        signature: "ip6 -> int",
        doc: "The hop limit.",
        typing: mono!([Type::Ip6] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::ip6_hop_limit(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::ip6_hop_limit, two_level::ip6_hop_limit_gen),
    },
    Prim {
        name: "ip6HopLimitSet",
        signature: "ip6*int -> ip6",
        doc: "ip6HopLimitSet(h, n): h with hop limit n (its low 8 bits).",
        typing: mono!([Type::Ip6, Type::Int] -> Type::Ip6),
        compute: |rt, a, _| {
            let b = set(rt.heap.bytes(a[0]), 7, 1, a[1]);
            Ok(rt.heap.alloc_bytes_vec(b))
        },
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "ip6Src",
        signature: "ip6 -> blob",
        doc: "The source address (16 bytes).",
        typing: mono!([Type::Ip6] -> Type::Blob),
        compute: |rt, a, _| addr_get(rt, a, 8),
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "ip6Dst",
        signature: "ip6 -> blob",
        doc: "The destination address (16 bytes).",
        typing: mono!([Type::Ip6] -> Type::Blob),
        compute: |rt, a, _| addr_get(rt, a, 24),
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "ip6SrcSet",
        signature: "ip6*blob -> ip6",
        doc: "ip6SrcSet(h, a): h with source address a; raises Subscript unless a has 16 bytes.",
        typing: mono!([Type::Ip6, Type::Blob] -> Type::Ip6),
        compute: |rt, a, _| addr_set(rt, a, 8),
        raises: &[SUBSCRIPT],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "ip6DstSet",
        signature: "ip6*blob -> ip6",
        doc: "ip6DstSet(h, a): h with destination address a; raises Subscript unless a has 16 bytes.",
        typing: mono!([Type::Ip6, Type::Blob] -> Type::Ip6),
        compute: |rt, a, _| addr_set(rt, a, 24),
        raises: &[SUBSCRIPT],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "ip6AddrToString",
        signature: "blob -> string",
        doc: "The text of a 16-byte IPv6 address (RFC 5952: \"2001:db8::1\"); raises Subscript unless it has 16 bytes.",
        typing: mono!([Type::Blob] -> Type::String),
        compute: |rt, a, _| {
            let b = rt.heap.bytes(a[0]);
            if b.len() != 16 {
                return Err(SUBSCRIPT);
            }
            let s = format_addr(b);
            Ok(rt.heap.alloc_bytes(s.as_bytes()))
        },
        raises: &[SUBSCRIPT],
        effectful: false,
        inline: None,
    },
];

/// The primitives of this file that the JIT inlines, in the two-level style
/// (`docs/primitives.md`): each is the primitive's computation, and `#[specialize]`
/// derives from it the generating extension the JIT runs to inline it (a field read
/// becomes a bounds check, a load and a byte swap).
#[specialize]
pub mod two_level {
    use crate::{Rt, Word};
    use planp_jit::BeBytes;

    /// `ip6TrafficClass`.
    pub fn ip6_traffic_class(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(0, 2).wrapping_shr(4) & 0xff
    }

    /// `ip6FlowLabel`.
    pub fn ip6_flow_label(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(1, 3) & 0xf_ffff
    }

    /// `ip6PayloadLen`.
    pub fn ip6_payload_len(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(4, 2)
    }

    /// `ip6HopLimit`.
    pub fn ip6_hop_limit(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(7, 1)
    }
}

/// The 16 bytes of an address at `off` (missing bytes read as 0).
fn addr_get(rt: &mut Rt, a: &[Word], off: usize) -> Result<Word, Exn> {
    let b = rt.heap.bytes(a[0]);
    let v: Vec<u8> = (off..off + 16).map(|i| b.get(i).copied().unwrap_or(0)).collect();
    Ok(rt.heap.alloc_bytes_vec(v))
}

/// A copy of the header with the address at `off` replaced by the blob `a[1]`; bytes
/// beyond the end of a truncated header are not written.
fn addr_set(rt: &mut Rt, a: &[Word], off: usize) -> Result<Word, Exn> {
    let v = rt.heap.bytes(a[1]);
    if v.len() != 16 {
        return Err(SUBSCRIPT);
    }
    let mut b = rt.heap.bytes(a[0]).to_vec();
    if let Some(f) = b.get_mut(off..off + 16) {
        f.copy_from_slice(v);
    }
    Ok(rt.heap.alloc_bytes_vec(b))
}

/// Hop-by-hop options (next-header number of an extension header).
pub const HOP_BY_HOP: u8 = 0;
/// Routing header.
pub const ROUTING: u8 = 43;
/// Fragment header (8 bytes).
pub const FRAGMENT: u8 = 44;
/// Authentication header (length in 4-byte units, minus 2).
pub const AUTH: u8 = 51;
/// Destination options.
pub const DEST_OPTS: u8 = 60;
/// Mobility header (RFC 6275).
pub const MOBILITY: u8 = 135;
/// Host Identity Protocol (RFC 7401).
pub const HIP: u8 = 139;
/// Shim6 (RFC 5533).
pub const SHIM6: u8 = 140;

/// The IPv6 extension headers that may come between the fixed header and the transport
/// header, the one list every walk of the chain uses: `ip6Next`, matching
/// (`planp-interp`'s `ipv6_shape`), marshalling's fix-up, and the checksum's final
/// destination.
pub const EXTENSION_HEADERS: [u8; 8] = [HOP_BY_HOP, ROUTING, FRAGMENT, AUTH, DEST_OPTS, MOBILITY, HIP, SHIM6];

/// Is next-header number `next` one of the [`EXTENSION_HEADERS`]?
pub fn is_extension(next: u8) -> bool {
    EXTENSION_HEADERS.contains(&next)
}

/// The length in bytes of an extension header of type `next` whose second byte (its
/// length field) is `len_byte`, or `None` when `next` is not an extension header. The
/// fragment header is 8 bytes (its second byte is reserved), the authentication header
/// (`len_byte` + 2) × 4, the others (`len_byte` + 1) × 8.
pub fn extension_len(next: u8, len_byte: u8) -> Option<usize> {
    let len = len_byte as usize;
    match next {
        FRAGMENT => Some(8),
        AUTH => Some((len + 2) * 4),
        n if is_extension(n) => Some((len + 1) * 8),
        _ => None,
    }
}

/// The protocol after the extension headers: follow the next-header chain from byte 6
/// through the extension headers, stopping at the end of the bytes (then the result is
/// the type of the first extension header that is not there).
pub fn next_protocol(b: &[u8]) -> Word {
    let mut next = get(b, 6, 1) as u8;
    let mut off = 40;
    while off < b.len() {
        // A missing length byte reads as 0.
        let Some(len) = extension_len(next, b.get(off + 1).copied().unwrap_or(0)) else { break };
        next = b[off];
        off += len;
    }
    next as Word
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    const SRC: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const DST: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55];

    /// Traffic class 0xab, flow label 0xcdef1, payload length 0x0123, next `next`, hop
    /// limit 64, then `ext`.
    fn hdr(next: u8, ext: &[u8]) -> Vec<u8> {
        let mut h = vec![0x6a, 0xbc, 0xde, 0xf1, 0x01, 0x23, next, 64];
        h.extend(SRC);
        h.extend(DST);
        h.extend(ext);
        h
    }

    fn g(name: &str, h: &[u8]) -> i64 {
        get_field(Type::Ip6, name, h)
    }

    #[test]
    fn fixed_fields() {
        let h = hdr(17, &[]);
        assert_eq!(g("ip6TrafficClass", &h), 0xab);
        assert_eq!(g("ip6FlowLabel", &h), 0xcdef1);
        assert_eq!(g("ip6PayloadLen", &h), 0x0123);
        assert_eq!(g("ip6HopLimit", &h), 64);
        assert_eq!(g("ip6Next", &h), 17);
        for name in ["ip6TrafficClass", "ip6FlowLabel", "ip6PayloadLen", "ip6HopLimit", "ip6Next"] {
            assert_eq!(g(name, &[]), 0, "{name} of an empty header");
        }
        assert_eq!(g("ip6TrafficClass", &h[..1]), 0, "the field straddles bytes 0 and 1");
        assert_eq!(g("ip6Next", &minimal()), 59);
        let h = set_field(Type::Ip6, "ip6HopLimitSet", &hdr(17, &[]), 0x1ff);
        assert_eq!((g("ip6HopLimit", &h), h.len()), (255, 40));
        assert_eq!(set_field(Type::Ip6, "ip6HopLimitSet", &h[..7], 1), &h[..7]);
    }

    #[test]
    fn next_skips_extension_headers() {
        // hop-by-hop (8 bytes) -> routing (len 1: 16 bytes) -> fragment (8) ->
        // destination options (8) -> authentication (len 1: 12 bytes) -> TCP.
        let mut ext = vec![43, 0, 0, 0, 0, 0, 0, 0];
        ext.extend([44, 1]);
        ext.extend([0; 14]);
        // The fragment header's second byte is reserved, not a length: 0xff is not read.
        ext.extend([60, 0xff, 0, 0, 0, 0, 0, 0]);
        ext.extend([51, 0, 0, 0, 0, 0, 0, 0]);
        ext.extend([6, 1]);
        ext.extend([0; 10]);
        let h = hdr(0, &ext);
        assert_eq!(g("ip6Next", &h), 6);
        // Stopping at the end of the bytes: cut inside the authentication header, the
        // chain is followed as far as it is there.
        assert_eq!(g("ip6Next", &h[..40 + 8 + 16 + 8 + 8 + 1]), 6);
        assert_eq!(g("ip6Next", &h[..40 + 8 + 16 + 8 + 8]), 51, "the AH is not there");
        assert_eq!(g("ip6Next", &h[..40]), 0, "no extension header bytes at all");
        assert_eq!(g("ip6Next", &h[..41]), 43);
        // Not an extension header: the chain stops even if bytes follow.
        assert_eq!(g("ip6Next", &hdr(17, &[0, 0, 0, 0, 0, 0, 0, 0])), 17);
        assert_eq!(g("ip6Next", &hdr(59, &[1, 2, 3])), 59);
        // Mobility (135), HIP (139) and shim6 (140) are skipped too, as matching does:
        // mobility (8 bytes) -> HIP (len 1: 16 bytes) -> shim6 (8 bytes) -> UDP.
        let mut ext = vec![139, 0, 0, 0, 0, 0, 0, 0];
        ext.extend([140, 1]);
        ext.extend([0; 14]);
        ext.extend([17, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(g("ip6Next", &hdr(135, &ext)), 17);
        assert_eq!(g("ip6Next", &hdr(135, &[59, 0, 0, 0, 0, 0, 0, 0])), 59);
    }

    #[test]
    fn addresses() {
        let mut rt = Rt::new();
        let h = arg_bytes(&mut rt, Type::Ip6, &hdr(6, &[]));
        assert_eq!(call_bytes(&mut rt, "ip6Src", std::slice::from_ref(&h)).unwrap(), SRC);
        assert_eq!(call_bytes(&mut rt, "ip6Dst", &[h]).unwrap(), DST);
        let short = arg_bytes(&mut rt, Type::Ip6, &hdr(6, &[])[..30]);
        let mut want = DST[..6].to_vec();
        want.extend([0; 10]);
        assert_eq!(call_bytes(&mut rt, "ip6Dst", &[short]).unwrap(), want, "missing bytes read as 0");

        let h = arg_bytes(&mut rt, Type::Ip6, &hdr(6, &[1, 2]));
        let a = arg_bytes(&mut rt, Type::Blob, &DST);
        let n = call_bytes(&mut rt, "ip6SrcSet", &[h.clone(), a.clone()]).unwrap();
        assert_eq!((&n[8..24], &n[24..40], &n[40..]), (&DST[..], &DST[..], &[1u8, 2][..]));
        let b = arg_bytes(&mut rt, Type::Blob, &SRC);
        let n = call_bytes(&mut rt, "ip6DstSet", &[h.clone(), b]).unwrap();
        assert_eq!((&n[8..24], &n[24..40]), (&SRC[..], &SRC[..]));
        for bad in [&[][..], &[0; 4], &[0; 15], &[0; 17]] {
            let bad = arg_bytes(&mut rt, Type::Blob, bad);
            assert_eq!(call(&mut rt, "ip6SrcSet", &[h.clone(), bad.clone()]), Err(SUBSCRIPT));
            assert_eq!(call(&mut rt, "ip6DstSet", &[h.clone(), bad]), Err(SUBSCRIPT));
        }
        let short = arg_bytes(&mut rt, Type::Ip6, &hdr(6, &[])[..30]);
        assert_eq!(call_bytes(&mut rt, "ip6DstSet", &[short, a]).unwrap(), &hdr(6, &[])[..30]);
    }

    #[test]
    fn address_text() {
        let mut rt = Rt::new();
        let mut text = |b: &[u8]| {
            let a = arg_bytes(&mut rt, Type::Blob, b);
            call_bytes(&mut rt, "ip6AddrToString", &[a]).map(|s| String::from_utf8(s).unwrap())
        };
        assert_eq!(text(&SRC).unwrap(), "2001:db8::1");
        assert_eq!(text(&DST).unwrap(), "fe80::211:22ff:fe33:4455");
        assert_eq!(text(&[0; 16]).unwrap(), "::");
        let mut mapped = [0u8; 16];
        mapped[10..].copy_from_slice(&[0xff, 0xff, 10, 0, 0, 1]);
        assert_eq!(text(&mapped).unwrap(), "::ffff:10.0.0.1");
        assert_eq!(text(&[0; 4]), Err(SUBSCRIPT));
        assert_eq!(text(&[]), Err(SUBSCRIPT));
        assert_eq!(text(&[0; 17]), Err(SUBSCRIPT));
    }

    #[test]
    fn typing() {
        assert_eq!(type_of("ip6Src", &[Type::Ip6]), Ok(Type::Blob));
        assert!(type_of("ip6Src", &[Type::Ip]).is_err());
        assert!(type_of("ip6AddrToString", &[Type::String]).is_err());
    }
}
