//! The `tcp` header type: TCP headers (with options) and their fields.
//!
//! Getters read fields big-endian; a field beyond the end of a truncated header reads as
//! 0. Setters are functional, take the low bits of their int argument that fit the
//! field, and leave the checksum alone; it is recomputed when the packet is marshalled.

use crate::bytes::{get, set};
use crate::{Exn, Prim, Rt, Type, Word, inline1, mono};
use planp_specialize_macro::specialize;

/// The primitives of this file.
pub const PRIMS: &[Prim] = &[
    Prim {
        name: "tcpSrc",
        signature: "tcp -> int",
        doc: "The source port.",
        typing: mono!([Type::Tcp] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::tcp_src(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::tcp_src, two_level::tcp_src_gen),
    },
    Prim {
        name: "tcpDst",
        signature: "tcp -> int",
        doc: "The destination port.",
        typing: mono!([Type::Tcp] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::tcp_dst(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::tcp_dst, two_level::tcp_dst_gen),
    },
    Prim {
        name: "tcpSrcSet",
        signature: "tcp*int -> tcp",
        doc: "tcpSrcSet(h, p): h with source port p (its low 16 bits).",
        typing: mono!([Type::Tcp, Type::Int] -> Type::Tcp),
        compute: |rt, a, _| setter(rt, a, 0, 2),
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "tcpDstSet",
        signature: "tcp*int -> tcp",
        doc: "tcpDstSet(h, p): h with destination port p (its low 16 bits).",
        typing: mono!([Type::Tcp, Type::Int] -> Type::Tcp),
        compute: |rt, a, _| setter(rt, a, 2, 2),
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "tcpSeq",
        signature: "tcp -> int",
        doc: "The sequence number.",
        typing: mono!([Type::Tcp] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::tcp_seq(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::tcp_seq, two_level::tcp_seq_gen),
    },
    Prim {
        name: "tcpSeqSet",
        signature: "tcp*int -> tcp",
        doc: "tcpSeqSet(h, n): h with sequence number n (its low 32 bits).",
        typing: mono!([Type::Tcp, Type::Int] -> Type::Tcp),
        compute: |rt, a, _| setter(rt, a, 4, 4),
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "tcpAck",
        signature: "tcp -> int",
        doc: "The acknowledgement number.",
        typing: mono!([Type::Tcp] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::tcp_ack(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::tcp_ack, two_level::tcp_ack_gen),
    },
    Prim {
        name: "tcpAckSet",
        signature: "tcp*int -> tcp",
        doc: "tcpAckSet(h, n): h with acknowledgement number n (its low 32 bits).",
        typing: mono!([Type::Tcp, Type::Int] -> Type::Tcp),
        compute: |rt, a, _| setter(rt, a, 8, 4),
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "tcpHlen",
        signature: "tcp -> int",
        doc: "The header length in bytes (the data-offset field times 4: 20 without options).",
        typing: mono!([Type::Tcp] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::tcp_hlen(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::tcp_hlen, two_level::tcp_hlen_gen),
    },
    Prim {
        name: "tcpFlags",
        signature: "tcp -> int",
        doc: "The 12 bits after the data offset, as tshark's tcp.flags: FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32, ECE 64, CWR 128, AE 256, and 3 reserved bits.",
        typing: mono!([Type::Tcp] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::tcp_flags(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::tcp_flags, two_level::tcp_flags_gen),
    },
    Prim {
        name: "tcpFlagsSet",
        signature: "tcp*int -> tcp",
        doc: "tcpFlagsSet(h, f): h with the 12 flag bits f (FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32, ECE 64, CWR 128, AE 256, reserved above); the data offset is kept.",
        typing: mono!([Type::Tcp, Type::Int] -> Type::Tcp),
        compute: |rt, a, _| {
            let b = rt.heap.bytes(a[0]);
            let word = get(b, 12, 2) & !FLAG_BITS | a[1] & FLAG_BITS;
            let b = set(b, 12, 2, word);
            Ok(rt.heap.alloc_bytes_vec(b))
        },
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "tcpWindow",
        signature: "tcp -> int",
        doc: "The window size.",
        typing: mono!([Type::Tcp] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::tcp_window(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::tcp_window, two_level::tcp_window_gen),
    },
    Prim {
        name: "tcpWindowSet",
        signature: "tcp*int -> tcp",
        doc: "tcpWindowSet(h, w): h with window size w (its low 16 bits).",
        typing: mono!([Type::Tcp, Type::Int] -> Type::Tcp),
        compute: |rt, a, _| setter(rt, a, 14, 2),
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "tcpChecksum",
        signature: "tcp -> int",
        doc: "The checksum field, as received (setters do not update it).",
        typing: mono!([Type::Tcp] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::tcp_checksum(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::tcp_checksum, two_level::tcp_checksum_gen),
    },
    Prim {
        name: "tcpUrgent",
        signature: "tcp -> int",
        doc: "The urgent pointer.",
        typing: mono!([Type::Tcp] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::tcp_urgent(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::tcp_urgent, two_level::tcp_urgent_gen),
    },
];

/// The primitives of this file that the JIT inlines, in the two-level style
/// (`docs/primitives.md`): each is the primitive's computation, and `#[specialize]`
/// derives from it the generating extension the JIT runs to inline it (a field read
/// becomes a bounds check, a load and a byte swap).
#[specialize]
pub mod two_level {
    use super::FLAG_BITS;
    use crate::{Rt, Word};
    use planp_jit::BeBytes;

    /// `tcpSrc`.
    pub fn tcp_src(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(0, 2)
    }

    /// `tcpDst`.
    pub fn tcp_dst(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(2, 2)
    }

    /// `tcpSeq`.
    pub fn tcp_seq(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(4, 4)
    }

    /// `tcpAck`.
    pub fn tcp_ack(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(8, 4)
    }

    /// `tcpFlags`.
    pub fn tcp_flags(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(12, 2) & FLAG_BITS
    }

    /// `tcpWindow`.
    pub fn tcp_window(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(14, 2)
    }

    /// `tcpChecksum`.
    pub fn tcp_checksum(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(16, 2)
    }

    /// `tcpUrgent`.
    pub fn tcp_urgent(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(18, 2)
    }

    /// `tcpHlen`: the header length in bytes, from its length field in 32-bit words.
    pub fn tcp_hlen(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(12, 1).wrapping_shr(4).wrapping_mul(4)
    }
}

/// The flag bits of the 16-bit word at bytes 12..14: all but the 4-bit data offset (the
/// 3 reserved bits included, as tshark counts them).
const FLAG_BITS: u64 = 0xfff;

fn setter(rt: &mut Rt, a: &[Word], off: usize, n: usize) -> Result<Word, Exn> {
    Ok(rt.heap.bytes_with_field(a[0], off, n, a[1]))
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
    let flags = get(b, 12, 2) & 0xfff;
    let f: String = NAMES.iter().filter(|(bit, _)| flags & bit != 0).map(|&(_, c)| c).collect();
    format!("<tcp {} > {} [{}] seq {} ack {}>", get(b, 0, 2), get(b, 2, 2), f, get(b, 4, 4), get(b, 8, 4))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    /// 1234 > 80, seq 0x89abcdef, ack 7, data offset 6 with 4 bytes of options, a reserved
    /// bit and flags AE|SYN|ACK, window 0xfaf0, checksum 0xbeef, urgent 0x0102.
    fn hdr() -> Vec<u8> {
        vec![
            0x04, 0xd2, 0x00, 0x50, 0x89, 0xab, 0xcd, 0xef, 0, 0, 0, 7, 0x63, 0x12, 0xfa, 0xf0, 0xbe, 0xef, 0x01, 0x02,
            2, 4, 5, 0xb4,
        ]
    }

    fn g(name: &str, h: &[u8]) -> i64 {
        get_field(Type::Tcp, name, h)
    }

    #[test]
    fn getters() {
        let h = hdr();
        assert_eq!(g("tcpSrc", &h), 1234);
        assert_eq!(g("tcpDst", &h), 80);
        assert_eq!(g("tcpSeq", &h), 0x89ab_cdef, "unsigned");
        assert_eq!(g("tcpAck", &h), 7);
        assert_eq!(g("tcpHlen", &h), 24);
        assert_eq!(g("tcpFlags", &h), 0x312, "the reserved bits count, as in tshark");
        assert_eq!(g("tcpWindow", &h), 0xfaf0);
        assert_eq!(g("tcpChecksum", &h), 0xbeef);
        assert_eq!(g("tcpUrgent", &h), 0x0102);
        for name in
            ["tcpSrc", "tcpDst", "tcpSeq", "tcpAck", "tcpHlen", "tcpFlags", "tcpWindow", "tcpChecksum", "tcpUrgent"]
        {
            assert_eq!(g(name, &[]), 0, "{name} of an empty header");
        }
        assert_eq!(g("tcpUrgent", &h[..19]), 0);
        assert_eq!(g("tcpChecksum", &h[..19]), 0xbeef);
        assert_eq!(g("tcpFlags", &h[..13]), 0, "half a field reads as 0");
        assert_eq!(g("tcpHlen", &h[..13]), 24);
    }

    #[test]
    fn setters() {
        let h = hdr();
        let cases: [(&str, &str, i64, i64); 7] = [
            ("tcpSrcSet", "tcpSrc", 70000, 4464),
            ("tcpDstSet", "tcpDst", 8080, 8080),
            ("tcpSeqSet", "tcpSeq", -1, 0xffff_ffff),
            ("tcpAckSet", "tcpAck", 0x1_0000_0005, 5),
            ("tcpWindowSet", "tcpWindow", 0x10000, 0),
            ("tcpFlagsSet", "tcpFlags", 0x1401, 0x401),
            ("tcpFlagsSet", "tcpFlags", -1, 0xfff),
        ];
        for (set, get, v, want) in cases {
            let n = set_field(Type::Tcp, set, &h, v);
            assert_eq!(g(get, &n), want, "{set}({v})");
            assert_eq!(n.len(), h.len());
            assert_eq!(g("tcpChecksum", &n), 0xbeef, "{set} leaves the checksum alone");
            assert_eq!(g("tcpHlen", &n), 24, "{set} keeps the data offset");
            assert_eq!(&n[20..], &h[20..], "{set} keeps the options");
        }
        // The flags setter keeps the data offset and sets the reserved bits too.
        let n = set_field(Type::Tcp, "tcpFlagsSet", &h, 0);
        assert_eq!(&n[12..14], &[0x60, 0x00]);
        // Fields beyond the end of a truncated header are not written.
        assert_eq!(set_field(Type::Tcp, "tcpWindowSet", &h[..15], 1), &h[..15]);
        assert_eq!(set_field(Type::Tcp, "tcpFlagsSet", &h[..13], 1), &h[..13]);
    }

    #[test]
    fn typing() {
        assert_eq!(type_of("tcpWindowSet", &[Type::Tcp, Type::Int]), Ok(Type::Tcp));
        assert!(type_of("tcpWindowSet", &[Type::Udp, Type::Int]).is_err());
        assert!(type_of("tcpHlen", &[Type::Tcp, Type::Int]).is_err());
    }
}
