//! The `eth` header type: Ethernet II headers, with their VLAN tags.
//!
//! An `eth` value holds the 14-byte header (destination MAC, source MAC, EtherType)
//! followed by any 802.1Q / 802.1ad VLAN tags. MAC addresses are 6-byte blobs. For a
//! tagged frame, the EtherType field at bytes 12..14 holds the tag's type (0x8100 or
//! 0x88a8) and the tag's control information follows at bytes 14..16.
//!
//! Getters read fields big-endian and never fail: bytes beyond the end of a truncated
//! header read as 0. Setters are functional: they return a new header.

use crate::bytes::{get, set};
use crate::rt::SUBSCRIPT;
use crate::{Exn, Prim, Rt, Type, Word, inline1, mono};
use planp_specialize_macro::specialize;
use std::fmt::Write as _;

/// EtherType of an 802.1Q (customer) VLAN tag.
pub const TPID_8021Q: u64 = 0x8100;
/// EtherType of an 802.1ad (service, "QinQ") VLAN tag.
pub const TPID_8021AD: u64 = 0x88a8;

/// The primitives of this file.
pub const PRIMS: &[Prim] = &[
    Prim {
        name: "ethDst",
        signature: "eth -> blob",
        doc: "The destination MAC address (6 bytes).",
        typing: mono!([Type::Eth] -> Type::Blob),
        compute: |rt, a, _| mac_get(rt, a, 0),
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "ethSrc",
        signature: "eth -> blob",
        doc: "The source MAC address (6 bytes).",
        typing: mono!([Type::Eth] -> Type::Blob),
        compute: |rt, a, _| mac_get(rt, a, 6),
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "ethDstSet",
        signature: "eth*blob -> eth",
        doc: "ethDstSet(h, m): h with destination MAC address m; raises Subscript unless m has 6 bytes.",
        typing: mono!([Type::Eth, Type::Blob] -> Type::Eth),
        compute: |rt, a, _| mac_set(rt, a, 0),
        raises: &[SUBSCRIPT],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "ethSrcSet",
        signature: "eth*blob -> eth",
        doc: "ethSrcSet(h, m): h with source MAC address m; raises Subscript unless m has 6 bytes.",
        typing: mono!([Type::Eth, Type::Blob] -> Type::Eth),
        compute: |rt, a, _| mac_set(rt, a, 6),
        raises: &[SUBSCRIPT],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "ethType",
        signature: "eth -> int",
        doc: "The EtherType field at bytes 12..14 (0x0800 for IPv4, 0x86dd for IPv6; 0x8100 or 0x88a8 for a VLAN-tagged frame).",
        typing: mono!([Type::Eth] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::eth_type(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::eth_type, two_level::eth_type_gen),
    },
    Prim {
        name: "ethTypeSet",
        signature: "eth*int -> eth",
        doc: "ethTypeSet(h, t): h with EtherType field t (its low 16 bits).",
        typing: mono!([Type::Eth, Type::Int] -> Type::Eth),
        compute: |rt, a, _| {
            let b = set(rt.heap.bytes(a[0]), 12, 2, a[1]);
            Ok(rt.heap.alloc_bytes_vec(b))
        },
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "ethVlan",
        signature: "eth -> int",
        doc: "The VLAN id (12 bits) of the first 802.1Q or 802.1ad tag, or ~1 when the frame is untagged.",
        typing: mono!([Type::Eth] -> Type::Int),
        compute: |rt, a, _| Ok(vlan(rt.heap.bytes(a[0])) as Word),
        raises: &[],
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

    /// `ethType`.
    pub fn eth_type(#[dynamic] rt: &mut Rt, #[dynamic] h: Word) -> Word {
        let b: &[u8] = rt.heap.bytes(h);
        b.be(12, 2)
    }
}

/// The 6 bytes of a MAC address at `off` (missing bytes read as 0).
fn mac_get(rt: &mut Rt, a: &[Word], off: usize) -> Result<Word, Exn> {
    let b = rt.heap.bytes(a[0]);
    let m: Vec<u8> = (off..off + 6).map(|i| b.get(i).copied().unwrap_or(0)).collect();
    Ok(rt.heap.alloc_bytes_vec(m))
}

/// A copy of the header with the MAC address at `off` replaced by the blob `a[1]`.
fn mac_set(rt: &mut Rt, a: &[Word], off: usize) -> Result<Word, Exn> {
    let m = rt.heap.bytes(a[1]);
    if m.len() != 6 {
        return Err(SUBSCRIPT);
    }
    let b = set(rt.heap.bytes(a[0]), off, 6, get(m, 0, 6));
    Ok(rt.heap.alloc_bytes_vec(b))
}

/// The VLAN id of the first tag, or -1 when the EtherType is not a VLAN tag's. A tag cut
/// off by the end of the header reads as 0, like every missing field.
pub fn vlan(b: &[u8]) -> i64 {
    match get(b, 12, 2) {
        TPID_8021Q | TPID_8021AD => (get(b, 14, 2) & 0x0fff) as i64,
        _ => -1,
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    const DST: [u8; 6] = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55];
    const SRC: [u8; 6] = [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff];

    fn frame(ty: u16, tags: &[u8]) -> Vec<u8> {
        let mut h = DST.to_vec();
        h.extend(SRC);
        h.extend(ty.to_be_bytes());
        h.extend(tags);
        h
    }

    fn get_blob(name: &str, hdr: &[u8]) -> Vec<u8> {
        let mut rt = Rt::new();
        let h = arg_bytes(&mut rt, Type::Eth, hdr);
        call_bytes(&mut rt, name, &[h]).unwrap()
    }

    fn set_blob(name: &str, hdr: &[u8], m: &[u8]) -> Result<Vec<u8>, Exn> {
        let mut rt = Rt::new();
        let h = arg_bytes(&mut rt, Type::Eth, hdr);
        let m = arg_bytes(&mut rt, Type::Blob, m);
        call_bytes(&mut rt, name, &[h, m])
    }

    #[test]
    fn addresses() {
        let f = frame(0x0800, &[]);
        assert_eq!(get_blob("ethDst", &f), DST);
        assert_eq!(get_blob("ethSrc", &f), SRC);
        // Truncated headers: missing bytes read as 0, the result still has 6 bytes.
        assert_eq!(get_blob("ethSrc", &f[..8]), [0xaa, 0xbb, 0, 0, 0, 0]);
        assert_eq!(get_blob("ethDst", &[]), [0; 6]);
    }

    #[test]
    fn address_setters() {
        let f = frame(0x0800, &[1, 2]);
        let m = [1, 2, 3, 4, 5, 6];
        let d = set_blob("ethDstSet", &f, &m).unwrap();
        assert_eq!(&d[..6], &m);
        assert_eq!(&d[6..], &f[6..], "the rest is unchanged, tags included");
        let s = set_blob("ethSrcSet", &f, &m).unwrap();
        assert_eq!(&s[6..12], &m);
        assert_eq!((&s[..6], &s[12..]), (&f[..6], &f[12..]));
        // Wrong lengths raise Subscript.
        for bad in [&[][..], &[1, 2, 3, 4, 5], &[1, 2, 3, 4, 5, 6, 7]] {
            assert_eq!(set_blob("ethDstSet", &f, bad), Err(SUBSCRIPT));
            assert_eq!(set_blob("ethSrcSet", &f, bad), Err(SUBSCRIPT));
        }
        // A truncated header is not extended.
        assert_eq!(set_blob("ethSrcSet", &f[..8], &m).unwrap(), &f[..8]);
    }

    #[test]
    fn ether_type() {
        assert_eq!(get_field(Type::Eth, "ethType", &frame(0x86dd, &[])), 0x86dd);
        assert_eq!(get_field(Type::Eth, "ethType", &frame(0x8100, &[0, 5, 8, 0])), 0x8100);
        assert_eq!(get_field(Type::Eth, "ethType", &frame(0x0800, &[])[..13]), 0);
        let f = set_field(Type::Eth, "ethTypeSet", &frame(0x0800, &[]), 0x1_86dd);
        assert_eq!(f, frame(0x86dd, &[]), "low 16 bits");
        let f = set_field(Type::Eth, "ethTypeSet", &frame(0x0800, &[]), -1);
        assert_eq!(get_field(Type::Eth, "ethType", &f), 0xffff);
    }

    #[test]
    fn vlan_ids() {
        assert_eq!(get_field(Type::Eth, "ethVlan", &frame(0x0800, &[])), -1);
        // 802.1Q, PCP 5 and DEI set: only the 12-bit id is returned.
        assert_eq!(get_field(Type::Eth, "ethVlan", &frame(0x8100, &[0xb0 | 0x0f, 0xfe, 0x08, 0x00])), 0xffe);
        // 802.1ad outer tag then 802.1Q inner tag: the first (outer) one.
        let qinq = frame(0x88a8, &[0x00, 0x64, 0x81, 0x00, 0x00, 0xc8, 0x08, 0x00]);
        assert_eq!(get_field(Type::Eth, "ethVlan", &qinq), 100);
        // A tag cut off by the end of the header reads as 0.
        assert_eq!(get_field(Type::Eth, "ethVlan", &frame(0x8100, &[])), 0);
        assert_eq!(get_field(Type::Eth, "ethVlan", &[]), -1);
    }

    #[test]
    fn typing() {
        assert_eq!(type_of("ethSrc", &[Type::Eth]), Ok(Type::Blob));
        assert!(type_of("ethSrc", &[Type::Ip]).is_err());
        assert!(type_of("ethDstSet", &[Type::Eth, Type::String]).is_err());
    }
}
