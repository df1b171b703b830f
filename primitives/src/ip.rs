//! The `ip` header type: IPv4 headers (with options) and their fields, and the `host`
//! helpers (an IPv4 address as text or as an integer).
//!
//! Getters read fields big-endian; a field beyond the end of a truncated header reads as
//! 0. Setters are functional: they return a new header, and take the low bits of their
//! int argument that fit the field. Checksums are not kept up to date by setters; they
//! are recomputed when a packet is marshalled to be sent.

use crate::bytes::get;
use crate::value::format_host;
use crate::{Exn, Prim, Rt, Type, Word, inline1, mono};
use planp_specialize_macro::specialize;

/// The primitives of this file.
pub const PRIMS: &[Prim] = &[
    Prim {
        name: "ipVersion",
        signature: "ip -> int",
        doc: "The version field (4).",
        typing: mono!([Type::Ip] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::ip_version(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::ip_version, two_level::ip_version_gen),
    },
    Prim {
        name: "ipHlen",
        signature: "ip -> int",
        doc: "The header length in bytes (the IHL field times 4: 20 without options).",
        typing: mono!([Type::Ip] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::ip_hlen(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::ip_hlen, two_level::ip_hlen_gen),
    },
    Prim {
        name: "ipTos",
        signature: "ip -> int",
        doc: "The type-of-service (DSCP and ECN) byte.",
        typing: mono!([Type::Ip] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::ip_tos(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::ip_tos, two_level::ip_tos_gen),
    },
    Prim {
        name: "ipTosSet",
        signature: "ip*int -> ip",
        doc: "ipTosSet(h, t): h with type-of-service byte t (its low 8 bits).",
        typing: mono!([Type::Ip, Type::Int] -> Type::Ip),
        compute: |rt, a, _| setter(rt, a, 1, 1),
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "ipLen",
        signature: "ip -> int",
        doc: "The total-length field (header and payload, in bytes).",
        typing: mono!([Type::Ip] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::ip_len(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::ip_len, two_level::ip_len_gen),
    },
    Prim {
        name: "ipId",
        signature: "ip -> int",
        doc: "The identification field.",
        typing: mono!([Type::Ip] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::ip_id(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::ip_id, two_level::ip_id_gen),
    },
    Prim {
        name: "ipIdSet",
        signature: "ip*int -> ip",
        doc: "ipIdSet(h, i): h with identification i (its low 16 bits).",
        typing: mono!([Type::Ip, Type::Int] -> Type::Ip),
        compute: |rt, a, _| setter(rt, a, 4, 2),
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "ipFlags",
        signature: "ip -> int",
        doc: "The 3 flag bits (MF 1, DF 2, reserved 4).",
        typing: mono!([Type::Ip] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::ip_flags(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::ip_flags, two_level::ip_flags_gen),
    },
    Prim {
        name: "ipFragOff",
        signature: "ip -> int",
        doc: "The fragment offset, in units of 8 bytes.",
        typing: mono!([Type::Ip] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::ip_frag_off(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::ip_frag_off, two_level::ip_frag_off_gen),
    },
    Prim {
        name: "ipTtl",
        signature: "ip -> int",
        doc: "The time-to-live.",
        typing: mono!([Type::Ip] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::ip_ttl(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::ip_ttl, two_level::ip_ttl_gen),
    },
    Prim {
        name: "ipTtlSet",
        signature: "ip*int -> ip",
        doc: "ipTtlSet(h, t): h with time-to-live t (its low 8 bits).",
        typing: mono!([Type::Ip, Type::Int] -> Type::Ip),
        compute: |rt, a, _| setter(rt, a, 8, 1),
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "ipProto",
        signature: "ip -> int",
        doc: "The protocol number of the payload (6 for TCP, 17 for UDP).",
        typing: mono!([Type::Ip] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::ip_proto(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::ip_proto, two_level::ip_proto_gen),
    },
    Prim {
        name: "ipProtoSet",
        signature: "ip*int -> ip",
        doc: "ipProtoSet(h, p): h with protocol number p (its low 8 bits).",
        typing: mono!([Type::Ip, Type::Int] -> Type::Ip),
        compute: |rt, a, _| setter(rt, a, 9, 1),
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "ipChecksum",
        signature: "ip -> int",
        doc: "The header checksum field, as received (setters do not update it).",
        typing: mono!([Type::Ip] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::ip_checksum(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::ip_checksum, two_level::ip_checksum_gen),
    },
    Prim {
        name: "ipSrc",
        signature: "ip -> host",
        doc: "The source address.",
        typing: mono!([Type::Ip] -> Type::Host),
        compute: |rt, a, _| Ok(two_level::ip_src(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::ip_src, two_level::ip_src_gen),
    },
    Prim {
        name: "ipDst",
        signature: "ip -> host",
        doc: "The destination address.",
        typing: mono!([Type::Ip] -> Type::Host),
        compute: |rt, a, _| Ok(two_level::ip_dst(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::ip_dst, two_level::ip_dst_gen),
    },
    Prim {
        name: "ipSrcSet",
        signature: "ip*host -> ip",
        doc: "ipSrcSet(h, a): h with source address a.",
        typing: mono!([Type::Ip, Type::Host] -> Type::Ip),
        compute: |rt, a, _| setter(rt, a, 12, 4),
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "ipDstSet",
        signature: "ip*host -> ip",
        doc: "ipDstSet(h, a): h with destination address a.",
        typing: mono!([Type::Ip, Type::Host] -> Type::Ip),
        compute: |rt, a, _| setter(rt, a, 16, 4),
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "hostToString",
        signature: "host -> string",
        doc: "The dotted-quad text of an address (\"131.254.60.81\").",
        typing: mono!([Type::Host] -> Type::String),
        compute: |rt, a, _| Ok(rt.heap.alloc_bytes(format_host(a[0] as u32).as_bytes())),
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "hostToInt",
        signature: "host -> int",
        doc: "An address as an unsigned 32-bit integer (10.0.0.1 is 167772161).",
        typing: mono!([Type::Host] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::host_to_int(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::host_to_int, two_level::host_to_int_gen),
    },
    Prim {
        name: "hostOfInt",
        signature: "int -> host",
        doc: "The address whose 32 bits are the low 32 bits of an integer (hostOfInt(hostToInt(h) + 1) is the next address).",
        typing: mono!([Type::Int] -> Type::Host),
        compute: |rt, a, _| Ok(two_level::host_of_int(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::host_of_int, two_level::host_of_int_gen),
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

    /// `ipVersion`.
    pub fn ip_version(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(0, 1).wrapping_shr(4)
    }

    /// `ipTos`.
    pub fn ip_tos(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(1, 1)
    }

    /// `ipLen`.
    pub fn ip_len(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(2, 2)
    }

    /// `ipId`.
    pub fn ip_id(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(4, 2)
    }

    /// `ipFlags`.
    pub fn ip_flags(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(6, 1).wrapping_shr(5)
    }

    /// `ipFragOff`.
    pub fn ip_frag_off(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(6, 2) & 0x1fff
    }

    /// `ipTtl`.
    pub fn ip_ttl(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(8, 1)
    }

    /// `ipProto`.
    pub fn ip_proto(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(9, 1)
    }

    /// `ipChecksum`.
    pub fn ip_checksum(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(10, 2)
    }

    /// `ipSrc`.
    pub fn ip_src(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(12, 4)
    }

    /// `ipDst`.
    pub fn ip_dst(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(16, 4)
    }

    /// `hostToInt`.
    pub fn host_to_int(#[dynamic] _rt: &mut Rt, #[dynamic] x: Word) -> Word {
        x & 0xffff_ffff
    }

    /// `hostOfInt`.
    pub fn host_of_int(#[dynamic] _rt: &mut Rt, #[dynamic] x: Word) -> Word {
        x & 0xffff_ffff
    }

    /// `ipHlen`: the header length in bytes, from its length field in 32-bit words.
    pub fn ip_hlen(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        (b.be(0, 1) & 0x0f).wrapping_mul(4)
    }
}

fn setter(rt: &mut Rt, a: &[Word], off: usize, n: usize) -> Result<Word, Exn> {
    Ok(rt.heap.bytes_with_field(a[0], off, n, a[1]))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    /// 192.168.0.1 > 131.254.60.81, TOS 0xb8, length 0x0054, id 0xbeef, flags DF,
    /// fragment offset 0x0123 (with MF: flags 0b011), TTL 64, UDP, checksum 0x1234.
    fn hdr() -> Vec<u8> {
        vec![0x45, 0xb8, 0x00, 0x54, 0xbe, 0xef, 0x61, 0x23, 64, 17, 0x12, 0x34, 192, 168, 0, 1, 131, 254, 60, 81]
    }

    fn g(name: &str, h: &[u8]) -> i64 {
        get_field(Type::Ip, name, h)
    }

    #[test]
    fn getters() {
        let h = hdr();
        assert_eq!(g("ipVersion", &h), 4);
        assert_eq!(g("ipHlen", &h), 20);
        assert_eq!(g("ipTos", &h), 0xb8);
        assert_eq!(g("ipLen", &h), 0x54);
        assert_eq!(g("ipId", &h), 0xbeef);
        assert_eq!(g("ipFlags", &h), 0b011);
        assert_eq!(g("ipFragOff", &h), 0x0123);
        assert_eq!(g("ipTtl", &h), 64);
        assert_eq!(g("ipProto", &h), 17);
        assert_eq!(g("ipChecksum", &h), 0x1234);
        assert_eq!(g("ipSrc", &h), 0xc0a8_0001);
        assert_eq!(g("ipDst", &h), 0x83fe_3c51);
        let mut opts = h.clone();
        opts[0] = 0x4f;
        assert_eq!(g("ipHlen", &opts), 60);
        let mut flags = h.clone();
        flags[6] = 0xff;
        flags[7] = 0xff;
        assert_eq!((g("ipFlags", &flags), g("ipFragOff", &flags)), (7, 0x1fff));
    }

    #[test]
    fn truncated_headers_read_zero() {
        for name in [
            "ipVersion",
            "ipHlen",
            "ipTos",
            "ipLen",
            "ipId",
            "ipFlags",
            "ipFragOff",
            "ipTtl",
            "ipProto",
            "ipChecksum",
            "ipSrc",
            "ipDst",
        ] {
            assert_eq!(g(name, &[]), 0, "{name}");
        }
        let h = hdr();
        assert_eq!(g("ipDst", &h[..19]), 0);
        assert_eq!(g("ipSrc", &h[..19]), 0xc0a8_0001);
        assert_eq!(g("ipId", &h[..5]), 0);
    }

    #[test]
    fn setters_change_one_field_and_keep_low_bits() {
        let h = hdr();
        let cases: [(&str, &str, (Type, Word), i64); 7] = [
            ("ipTosSet", "ipTos", int(0x1ff), 0xff),
            ("ipIdSet", "ipId", int(0x12345), 0x2345),
            ("ipTtlSet", "ipTtl", int(-1), 255),
            ("ipProtoSet", "ipProto", int(6), 6),
            ("ipProtoSet", "ipProto", int(0x100), 0),
            ("ipSrcSet", "ipSrc", (Type::Host, 0x0a00_0001), 0x0a00_0001),
            ("ipDstSet", "ipDst", (Type::Host, 0xffff_fffe), 0xffff_fffe),
        ];
        for (set, get, v, want) in cases {
            let mut rt = Rt::new();
            let hw = arg_bytes(&mut rt, Type::Ip, &h);
            let n = call_bytes(&mut rt, set, &[hw, v]).unwrap();
            assert_eq!(g(get, &n), want, "{set}");
            assert_eq!(n.len(), h.len());
            let differing = n.iter().zip(&h).filter(|(a, b)| a != b).count();
            assert!(differing <= 4, "{set} changed only its field");
            assert_eq!(g("ipChecksum", &n), 0x1234, "{set} leaves the checksum alone");
        }
        // A field beyond the end of a truncated header is not written.
        assert_eq!(set_field(Type::Ip, "ipIdSet", &h[..5], 7), &h[..5]);
    }

    #[test]
    fn setters_are_functional() {
        let mut rt = Rt::new();
        let h = arg_bytes(&mut rt, Type::Ip, &hdr());
        let n = call(&mut rt, "ipTosSet", &[h.clone(), int(0)]).unwrap();
        assert_ne!(bytes_of(&rt, n), hdr());
        assert_eq!(bytes_of(&rt, h.1), hdr());
    }

    #[test]
    fn hosts() {
        let mut rt = Rt::new();
        let s = call_bytes(&mut rt, "hostToString", &[(Type::Host, 0x83fe_3c51)]).unwrap();
        assert_eq!(s, b"131.254.60.81");
        let s = call_bytes(&mut rt, "hostToString", &[(Type::Host, 0xffff_ffff)]).unwrap();
        assert_eq!(s, b"255.255.255.255");
        assert_eq!(call(&mut rt, "hostToInt", &[(Type::Host, 0xffff_ffff)]), Ok(0xffff_ffff), "unsigned");
        assert_eq!(call(&mut rt, "hostToInt", &[(Type::Host, 0x0a00_0001)]), Ok(167772161));
        assert_eq!(call(&mut rt, "hostOfInt", &[int(-1)]), Ok(0xffff_ffff), "low 32 bits");
        assert_eq!(call(&mut rt, "hostOfInt", &[int(0x1_0a00_0001)]), Ok(0x0a00_0001));
        assert_eq!(call(&mut rt, "hostOfInt", &[int(0)]), Ok(0));
    }

    #[test]
    fn typing() {
        assert_eq!(type_of("ipFlags", &[Type::Ip]), Ok(Type::Int));
        assert_eq!(type_of("hostOfInt", &[Type::Int]), Ok(Type::Host));
        assert!(type_of("ipSrcSet", &[Type::Ip, Type::Int]).is_err());
        assert!(type_of("ipTos", &[Type::Ip6]).is_err());
        assert!(type_of("hostToInt", &[]).is_err());
    }
}
