//! The `udp` header type and its fields.
//!
//! Getters read fields big-endian; a field beyond the end of a truncated header reads as
//! 0. Setters are functional and leave the length and checksum alone; both are
//! recomputed when the packet is marshalled.

use crate::bytes::get;
use crate::{Exn, Prim, Rt, Type, Word, inline1, mono};
use planp_specialize_macro::specialize;

/// The primitives of this file.
pub const PRIMS: &[Prim] = &[
    Prim {
        name: "udpSrc",
        signature: "udp -> int",
        doc: "The source port.",
        typing: mono!([Type::Udp] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::udp_src(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::udp_src, two_level::udp_src_gen),
    },
    Prim {
        name: "udpDst",
        signature: "udp -> int",
        doc: "The destination port.",
        typing: mono!([Type::Udp] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::udp_dst(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::udp_dst, two_level::udp_dst_gen),
    },
    Prim {
        name: "udpSrcSet",
        signature: "udp*int -> udp",
        doc: "udpSrcSet(h, p): h with source port p (its low 16 bits).",
        typing: mono!([Type::Udp, Type::Int] -> Type::Udp),
        compute: |rt, a, _| setter(rt, a, 0, 2),
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "udpDstSet",
        signature: "udp*int -> udp",
        doc: "udpDstSet(h, p): h with destination port p (its low 16 bits).",
        typing: mono!([Type::Udp, Type::Int] -> Type::Udp),
        compute: |rt, a, _| setter(rt, a, 2, 2),
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "udpLen",
        signature: "udp -> int",
        doc: "The length field (header and payload, in bytes).",
        typing: mono!([Type::Udp] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::udp_len(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::udp_len, two_level::udp_len_gen),
    },
    Prim {
        name: "udpChecksum",
        signature: "udp -> int",
        doc: "The checksum field, as received (0: no checksum).",
        typing: mono!([Type::Udp] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::udp_checksum(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::udp_checksum, two_level::udp_checksum_gen),
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

    /// `udpSrc`.
    pub fn udp_src(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(0, 2)
    }

    /// `udpDst`.
    pub fn udp_dst(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(2, 2)
    }

    /// `udpLen`.
    pub fn udp_len(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(4, 2)
    }

    /// `udpChecksum`.
    pub fn udp_checksum(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(6, 2)
    }
}

fn setter(rt: &mut Rt, a: &[Word], off: usize, n: usize) -> Result<Word, Exn> {
    Ok(rt.heap.bytes_with_field(a[0], off, n, a[1]))
}

/// A minimal UDP header: length 8, all else zero.
pub fn minimal() -> Vec<u8> {
    vec![0, 0, 0, 0, 0, 8, 0, 0]
}

/// A one-line description, as the REPL shows header values.
pub fn describe(b: &[u8]) -> String {
    format!("<udp {} > {} len {}>", get(b, 0, 2), get(b, 2, 2), get(b, 4, 2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    const HDR: [u8; 8] = [0x00, 0x35, 0xc0, 0x01, 0x00, 0x0b, 0xab, 0xcd];

    fn g(name: &str, h: &[u8]) -> i64 {
        get_field(Type::Udp, name, h)
    }

    #[test]
    fn getters() {
        assert_eq!(g("udpSrc", &HDR), 53);
        assert_eq!(g("udpDst", &HDR), 0xc001);
        assert_eq!(g("udpLen", &HDR), 11);
        assert_eq!(g("udpChecksum", &HDR), 0xabcd);
        for name in ["udpSrc", "udpDst", "udpLen", "udpChecksum"] {
            assert_eq!(g(name, &[]), 0, "{name} of an empty header");
        }
        assert_eq!(g("udpChecksum", &HDR[..7]), 0);
    }

    #[test]
    fn setters() {
        let n = set_field(Type::Udp, "udpSrcSet", &HDR, 0x1_0007);
        assert_eq!(n, [0, 7, 0xc0, 0x01, 0, 0x0b, 0xab, 0xcd]);
        let n = set_field(Type::Udp, "udpDstSet", &HDR, -2);
        assert_eq!(n, [0, 0x35, 0xff, 0xfe, 0, 0x0b, 0xab, 0xcd]);
        assert_eq!(set_field(Type::Udp, "udpDstSet", &HDR[..3], 9), &HDR[..3]);
    }

    #[test]
    fn typing() {
        assert_eq!(type_of("udpChecksum", &[Type::Udp]), Ok(Type::Int));
        assert!(type_of("udpChecksum", &[Type::Tcp]).is_err());
    }
}
