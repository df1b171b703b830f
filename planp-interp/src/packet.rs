//! Packet types: which types a `network` channel may take, when a packet matches one,
//! and how packet values are read from and written to bytes.
//!
//! A packet type is a header stack followed by payload fields: `[eth*] ip [*tcp | *udp]
//! [*field ...]`, where a field is `char` (1 byte), `bool` (1 byte, 0 or 1), `int` (4
//! bytes, big-endian, sign-extended), `host` (4 bytes), `string` (bytes up to a NUL,
//! which is consumed) or `blob` (all remaining bytes; last field only). A packet matches
//! when every header is present and well formed and the fields consume its payload
//! exactly (a final `blob` takes whatever is left). Input bytes here start at the IP
//! header unless the type starts with `eth`. The specification is `docs/packets.md`.

use planp_primitives::bytes::{get, internet_checksum};
use planp_primitives::{Heap, Type, Word, ip, tcp};

/// One component of a packet type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    /// Ethernet II header (14 bytes).
    Eth,
    /// IPv4 header with options.
    Ip,
    /// TCP header with options.
    Tcp,
    /// UDP header.
    Udp,
    /// One byte.
    Char,
    /// One byte, 0 or 1.
    Bool,
    /// Four bytes, big-endian two's complement.
    Int,
    /// Four bytes, an IPv4 address.
    Host,
    /// Bytes up to a NUL.
    String,
    /// The rest of the packet.
    Blob,
}

/// How a packet type is laid out on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PacketLayout {
    /// The components, in order.
    pub parts: Vec<Part>,
}

impl PacketLayout {
    /// Is the packet value a tuple (more than one component)?
    pub fn is_tuple(&self) -> bool {
        self.parts.len() > 1
    }
}

/// The layout of a `network` packet type, or why the type is not one.
pub fn layout_of(ty: &Type) -> Result<PacketLayout, String> {
    let comps: Vec<&Type> = match ty {
        Type::Tuple(ts) => ts.iter().collect(),
        t => vec![t],
    };
    let mut parts = Vec::new();
    let mut i = 0;
    if comps.first() == Some(&&Type::Eth) {
        parts.push(Part::Eth);
        i += 1;
    }
    if comps.get(i) != Some(&&Type::Ip) {
        return Err("a packet type starts with `ip` (or `eth*ip`), as in `ip*tcp*blob`".into());
    }
    parts.push(Part::Ip);
    i += 1;
    match comps.get(i) {
        Some(Type::Tcp) => {
            parts.push(Part::Tcp);
            i += 1;
        }
        Some(Type::Udp) => {
            parts.push(Part::Udp);
            i += 1;
        }
        _ => {}
    }
    for (k, t) in comps.iter().enumerate().skip(i) {
        let p = match t {
            Type::Char => Part::Char,
            Type::Bool => Part::Bool,
            Type::Int => Part::Int,
            Type::Host => Part::Host,
            Type::String => Part::String,
            Type::Blob if k + 1 == comps.len() => Part::Blob,
            Type::Blob => {
                return Err("`blob` takes the rest of the packet, so it can only be the last component".into());
            }
            t if t.is_header() => {
                return Err(format!("`{t}` is out of place: headers come first, in the order eth, ip, tcp or udp"));
            }
            t => {
                return Err(format!(
                    "`{t}` cannot be part of a packet: payload fields are `char`, `bool`, `int`, `host`, `string` and a final `blob`"
                ));
            }
        };
        parts.push(p);
    }
    Ok(PacketLayout { parts })
}

/// Read a packet of layout `layout` from `bytes`, or `None` if it does not match.
/// Header and field values are allocated in the scratch space of `heap`.
pub fn unmarshal(layout: &PacketLayout, bytes: &[u8], heap: &mut Heap) -> Option<Word> {
    let mut vals: Vec<Word> = Vec::with_capacity(layout.parts.len());
    let mut rest = bytes;
    // The payload protocol announced by the IP header, and whether it is a fragment.
    let mut proto = 0u64;
    let mut fragment = false;
    for &part in &layout.parts {
        match part {
            Part::Eth => {
                if rest.len() < 14 || get(rest, 12, 2) != 0x0800 {
                    return None;
                }
                vals.push(heap.alloc_bytes(&rest[..14]));
                rest = &rest[14..];
            }
            Part::Ip => {
                if rest.len() < 20 || rest[0] >> 4 != 4 {
                    return None;
                }
                let hl = ip::header_len(rest);
                let total = get(rest, 2, 2) as usize;
                if hl < 20 || total < hl || total > rest.len() {
                    return None;
                }
                proto = get(rest, 9, 1);
                let frag = get(rest, 6, 2);
                fragment = frag & 0x3fff != 0;
                vals.push(heap.alloc_bytes(&rest[..hl]));
                rest = &rest[hl..total];
            }
            Part::Tcp => {
                if proto != 6 || fragment || rest.len() < 20 {
                    return None;
                }
                let hl = tcp::header_len(rest);
                if hl < 20 || hl > rest.len() {
                    return None;
                }
                vals.push(heap.alloc_bytes(&rest[..hl]));
                rest = &rest[hl..];
            }
            Part::Udp => {
                if proto != 17 || fragment || rest.len() < 8 {
                    return None;
                }
                let len = get(rest, 4, 2) as usize;
                if len < 8 || len > rest.len() {
                    return None;
                }
                vals.push(heap.alloc_bytes(&rest[..8]));
                rest = &rest[8..len];
            }
            Part::Char => {
                let (&c, r) = rest.split_first()?;
                vals.push(c as Word);
                rest = r;
            }
            Part::Bool => {
                let (&c, r) = rest.split_first()?;
                if c > 1 {
                    return None;
                }
                vals.push(c as Word);
                rest = r;
            }
            Part::Int => {
                let (f, r) = rest.split_at_checked(4)?;
                vals.push(i32::from_be_bytes(f.try_into().ok()?) as i64 as Word);
                rest = r;
            }
            Part::Host => {
                let (f, r) = rest.split_at_checked(4)?;
                vals.push(u32::from_be_bytes(f.try_into().ok()?) as Word);
                rest = r;
            }
            Part::String => {
                let nul = rest.iter().position(|&b| b == 0)?;
                vals.push(heap.alloc_bytes(&rest[..nul]));
                rest = &rest[nul + 1..];
            }
            Part::Blob => {
                vals.push(heap.alloc_bytes(rest));
                rest = &[];
            }
        }
    }
    if !rest.is_empty() {
        return None;
    }
    Some(if layout.is_tuple() { heap.tuple_from(&vals, mask(layout)) } else { vals[0] })
}

/// The pointer mask of a packet tuple.
pub fn mask(layout: &PacketLayout) -> u64 {
    layout.parts.iter().enumerate().fold(0, |m, (i, p)| match p {
        Part::Char | Part::Bool | Part::Int | Part::Host => m,
        _ => m | 1 << i,
    })
}

/// Write a packet value as bytes: headers and fields in order, then the IP total
/// length, the IP protocol (when a TCP or UDP header follows), the UDP length and the
/// IP, TCP and UDP checksums are made correct. A UDP checksum of 0 ("none") stays 0.
pub fn marshal(layout: &PacketLayout, w: Word, heap: &Heap) -> Vec<u8> {
    let field = |i: usize| if layout.is_tuple() { heap.tuple_get(w, i) } else { w };
    let mut out = Vec::new();
    let mut ip_at = None;
    let mut l4_at = None;
    for (i, &part) in layout.parts.iter().enumerate() {
        let v = field(i);
        match part {
            Part::Eth | Part::Ip | Part::Tcp | Part::Udp => {
                match part {
                    Part::Ip => ip_at = Some(out.len()),
                    Part::Tcp | Part::Udp => l4_at = Some((out.len(), part)),
                    _ => {}
                }
                out.extend_from_slice(heap.bytes(v));
            }
            Part::Char | Part::Bool => out.push(v as u8),
            Part::Int | Part::Host => out.extend_from_slice(&(v as u32).to_be_bytes()),
            Part::String => {
                out.extend_from_slice(heap.bytes(v));
                out.push(0);
            }
            Part::Blob => out.extend_from_slice(heap.bytes(v)),
        }
    }
    if let Some(ipo) = ip_at {
        fix_up(&mut out, ipo, l4_at);
    }
    out
}

/// Make lengths, protocol and checksums of an IPv4 packet at `ipo` correct.
fn fix_up(out: &mut [u8], ipo: usize, l4: Option<(usize, Part)>) {
    let hl = ip::header_len(&out[ipo..]).clamp(20, out.len() - ipo);
    if out.len() - ipo < 20 {
        return;
    }
    let total = (out.len() - ipo).min(0xffff) as u16;
    out[ipo + 2..ipo + 4].copy_from_slice(&total.to_be_bytes());
    if let Some((_, p)) = l4 {
        out[ipo + 9] = if p == Part::Tcp { 6 } else { 17 };
    }
    out[ipo + 10..ipo + 12].copy_from_slice(&[0, 0]);
    let c = internet_checksum(&out[ipo..ipo + hl], 0);
    out[ipo + 10..ipo + 12].copy_from_slice(&c.to_be_bytes());
    // With no transport header in the type (`ip*blob`), a TCP or UDP segment carried in
    // the blob still gets its checksum fixed, unless the packet is a fragment (then the
    // segment is not all here).
    let fragment = u16::from_be_bytes([out[ipo + 6], out[ipo + 7]]) & 0x3fff != 0;
    let l4 = l4.or(match out[ipo + 9] {
        6 if !fragment => Some((ipo + hl, Part::Tcp)),
        17 if !fragment => Some((ipo + hl, Part::Udp)),
        _ => None,
    });
    let Some((l4o, part)) = l4 else { return };
    let seg_len = out.len() - l4o;
    let mut pseudo = 0u32;
    for k in [12, 14, 16, 18] {
        pseudo += u16::from_be_bytes([out[ipo + k], out[ipo + k + 1]]) as u32;
    }
    pseudo += if part == Part::Tcp { 6 } else { 17 };
    pseudo += seg_len as u32;
    match part {
        Part::Tcp if seg_len >= 20 => {
            out[l4o + 16..l4o + 18].copy_from_slice(&[0, 0]);
            let c = internet_checksum(&out[l4o..], pseudo);
            out[l4o + 16..l4o + 18].copy_from_slice(&c.to_be_bytes());
        }
        Part::Udp if seg_len >= 8 => {
            out[l4o + 4..l4o + 6].copy_from_slice(&(seg_len.min(0xffff) as u16).to_be_bytes());
            if out[l4o + 6..l4o + 8] != [0, 0] {
                out[l4o + 6..l4o + 8].copy_from_slice(&[0, 0]);
                let mut c = internet_checksum(&out[l4o..], pseudo);
                if c == 0 {
                    c = 0xffff;
                }
                out[l4o + 6..l4o + 8].copy_from_slice(&c.to_be_bytes());
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TCP/IPv4 packet with payload `payload`, built by hand.
    pub(crate) fn tcp_packet(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0];
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
        p.extend_from_slice(payload);
        let n = p.len() as u16;
        p[2..4].copy_from_slice(&n.to_be_bytes());
        p
    }

    fn lay(ts: &[Type]) -> PacketLayout {
        layout_of(&Type::Tuple(ts.to_vec())).unwrap()
    }

    #[test]
    fn round_trip_fixes_checksums() {
        let pkt = tcp_packet([10, 0, 0, 1], [10, 0, 0, 2], 1234, 80, b"GET /");
        let l = lay(&[Type::Ip, Type::Tcp, Type::Blob]);
        let mut heap = Heap::new();
        let v = unmarshal(&l, &pkt, &mut heap).unwrap();
        let out = marshal(&l, v, &heap);
        assert_eq!(internet_checksum(&out[..20], 0), 0, "IP header checksum verifies");
        let mut pseudo = 0u32;
        for k in [12, 14, 16, 18] {
            pseudo += u16::from_be_bytes([out[k], out[k + 1]]) as u32;
        }
        pseudo += 6 + (out.len() - 20) as u32;
        assert_eq!(internet_checksum(&out[20..], pseudo), 0, "TCP checksum verifies");
        assert_eq!(&out[40..], b"GET /");
        // The same packet as `ip*blob`, with the destination rewritten: the TCP checksum
        // inside the blob is fixed too.
        let l = lay(&[Type::Ip, Type::Blob]);
        let v = unmarshal(&l, &pkt, &mut heap).unwrap();
        let ip2 = planp_primitives::bytes::set(heap.bytes(heap.tuple_get(v, 0)), 16, 4, 0x0a00_0063);
        let ip2 = heap.alloc_bytes_vec(ip2);
        let v2 = heap.tuple_from(&[ip2, heap.tuple_get(v, 1)], 0b11);
        let out = marshal(&l, v2, &heap);
        let mut pseudo = 0u32;
        for k in [12, 14, 16, 18] {
            pseudo += u16::from_be_bytes([out[k], out[k + 1]]) as u32;
        }
        pseudo += 6 + (out.len() - 20) as u32;
        assert_eq!(internet_checksum(&out[20..], pseudo), 0, "TCP checksum inside the blob verifies");
    }

    #[test]
    fn fields_must_consume_the_payload_exactly() {
        let mut heap = Heap::new();
        let five = tcp_packet([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, &[1, 0, 0, 0, 7]);
        let two = tcp_packet([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, &[2, 1]);
        let ci = lay(&[Type::Ip, Type::Tcp, Type::Char, Type::Int]);
        let cb = lay(&[Type::Ip, Type::Tcp, Type::Char, Type::Bool]);
        assert!(unmarshal(&ci, &five, &mut heap).is_some());
        assert!(unmarshal(&cb, &five, &mut heap).is_none());
        assert!(unmarshal(&ci, &two, &mut heap).is_none());
        assert!(unmarshal(&cb, &two, &mut heap).is_some());
    }

    #[test]
    fn bad_layouts_are_explained() {
        assert!(layout_of(&Type::Tuple(vec![Type::Tcp, Type::Ip])).is_err());
        assert!(layout_of(&Type::Tuple(vec![Type::Ip, Type::Blob, Type::Char])).is_err());
        assert!(layout_of(&Type::Tuple(vec![Type::Ip, Type::List(Box::new(Type::Int))])).is_err());
        assert!(layout_of(&Type::Ip).is_ok());
    }

    #[test]
    fn truncated_input_never_panics() {
        let pkt = tcp_packet([10, 0, 0, 1], [10, 0, 0, 2], 1234, 80, b"GET /");
        let l = lay(&[Type::Ip, Type::Tcp, Type::Blob]);
        let mut heap = Heap::new();
        for n in 0..pkt.len() {
            let _ = unmarshal(&l, &pkt[..n], &mut heap);
        }
    }
}
