//! Packet types: which types a `network` channel may take, when a packet matches one,
//! and how packet values are read from and written to bytes.
//!
//! A packet type is a header stack followed by payload fields:
//! `eth [* field ...]` (any Ethernet frame, IP or not, as in `eth*blob`) or
//! `[eth *] (ip | ip6) [* tcp | * udp] [* field ...]`, where a field is `char` (1 byte),
//! `bool` (1 byte, 0 or 1), `int` (4 bytes, big-endian, sign-extended), `host` (4 bytes),
//! `string` (bytes up to a NUL, which is consumed) or `blob` (all remaining bytes; last
//! field only). A packet matches when every header is present and well formed and the
//! fields consume its payload exactly (a final `blob` takes whatever is left). The
//! specification is `docs/packets.md`.
//!
//! - [`link`]: where the IP packet is in a captured frame, and how to put one back;
//! - [`checksum`]: full and incremental Internet checksums;
//! - [`encap`]: how packets of user-defined channels travel between nodes;
//! - [`describe`]: one-line frame summaries for traces.

pub mod checksum;
pub mod describe;
pub mod encap;
pub mod link;

use planp_primitives::bytes::get;
use planp_primitives::{Heap, Type, Word, ip, ip6};

/// One component of a packet type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    /// Ethernet II header, with any VLAN tags (and, before an IP part, any MPLS labels).
    Eth,
    /// IPv4 header with options.
    Ip,
    /// IPv6 header with extension headers.
    Ip6,
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

impl Part {
    fn is_ptr(self) -> bool {
        !matches!(self, Part::Char | Part::Bool | Part::Int | Part::Host)
    }
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

    /// Does the type start at the link layer (with `eth`)?
    pub fn starts_with_eth(&self) -> bool {
        self.parts.first() == Some(&Part::Eth)
    }

    /// The network part (`ip` or `ip6`), if the type has one (`eth*blob` does not).
    pub fn net(&self) -> Option<Part> {
        self.parts.iter().copied().find(|p| matches!(p, Part::Ip | Part::Ip6))
    }

    /// The pointer mask of the packet tuple.
    pub fn mask(&self) -> u64 {
        self.parts.iter().enumerate().fold(0, |m, (i, p)| if p.is_ptr() { m | 1 << i } else { m })
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
    let has_net = match comps.get(i) {
        Some(Type::Ip) => {
            parts.push(Part::Ip);
            true
        }
        Some(Type::Ip6) => {
            parts.push(Part::Ip6);
            true
        }
        // `eth*blob` (and `eth` followed by fields): any Ethernet frame, IP or not.
        _ if i == 1 => false,
        _ => {
            return Err("a packet type starts with `ip`, `ip6` or `eth`, as in `ip*tcp*blob` or `eth*blob`".into());
        }
    };
    if has_net {
        i += 1;
    }
    match comps.get(i).filter(|_| has_net) {
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
                return Err(format!(
                    "`{t}` is out of place: headers come first, in the order eth, ip or ip6, tcp or udp"
                ));
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

/// The shape of an IP packet: header length, payload protocol, whether it is a
/// fragment, and where it ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpShape {
    /// Bytes of IP header (IPv4 options, or IPv6 extension headers, included).
    pub header_len: usize,
    /// The protocol of the payload (after IPv6 extension headers).
    pub proto: u8,
    /// Is the packet a fragment other than the first (so without the transport header)?
    pub fragment: bool,
    /// Is the packet a first fragment (offset 0, more fragments to come)? It starts with
    /// the transport header, but the rest of the segment is in later fragments, and the
    /// transport length and checksum are the whole datagram's.
    pub first_fragment: bool,
    /// Where the packet ends in the bytes: its length, or the end of the captured bytes
    /// when the capture cut it short (anything after is link-layer padding or trailer).
    pub total_len: usize,
}

/// The bits of a header length or packet length in a [`shape_word`].
pub const SHAPE_LEN_MASK: u64 = (1 << 24) - 1;
/// Where the packet's length starts in a [`shape_word`].
pub const SHAPE_TOTAL_SHIFT: u32 = 24;
/// Where the protocol byte starts in a [`shape_word`].
pub const SHAPE_PROTO_SHIFT: u32 = 48;
/// Set in a [`shape_word`] for a fragment other than the first.
pub const SHAPE_FRAGMENT: u64 = 1 << 56;
/// Set in a [`shape_word`] for a first fragment.
pub const SHAPE_FIRST_FRAGMENT: u64 = 1 << 57;

/// An [`IpShape`] in one word, as matching in generated code reads it: header length
/// (bits 0-23), packet length (24-47), protocol (48-55), fragment flags (56, 57). `None`
/// for lengths of 16 MiB or more, which no capture holds (pcap's largest snapshot
/// length is 256 KiB).
pub fn shape_word(s: &IpShape) -> Option<u64> {
    let (hl, total) = (s.header_len as u64, s.total_len as u64);
    if hl > SHAPE_LEN_MASK || total > SHAPE_LEN_MASK {
        return None;
    }
    Some(
        hl | total << SHAPE_TOTAL_SHIFT
            | (s.proto as u64) << SHAPE_PROTO_SHIFT
            | if s.fragment { SHAPE_FRAGMENT } else { 0 }
            | if s.first_fragment { SHAPE_FIRST_FRAGMENT } else { 0 },
    )
}

/// Parse an IPv4 header at the start of `b`. A total length of 0 (as captured with
/// segmentation offload) means "the captured bytes"; a total length beyond them is
/// accepted only if the capture `truncated` the frame (a short snapshot length), and the
/// packet ends where the capture does.
pub fn ipv4_shape(b: &[u8], truncated: bool) -> Option<IpShape> {
    if b.len() < 20 || b[0] >> 4 != 4 {
        return None;
    }
    let hl = ip::header_len(b);
    let total = match get(b, 2, 2) as usize {
        0 => b.len(),
        t if t > b.len() && !truncated => return None,
        t => t.min(b.len()),
    };
    if hl < 20 || total < hl {
        return None;
    }
    let (offset, more) = (get(b, 6, 2) & 0x1fff, get(b, 6, 2) & 0x2000 != 0);
    Some(IpShape {
        header_len: hl,
        proto: b[9],
        fragment: offset != 0,
        first_fragment: offset == 0 && more,
        total_len: total,
    })
}

/// Parse an IPv6 header and its extension headers at the start of `b`. A payload length
/// of 0 (jumbograms, segmentation offload) means "the captured bytes"; a length beyond
/// them is accepted only if the capture `truncated` the frame.
pub fn ipv6_shape(b: &[u8], truncated: bool) -> Option<IpShape> {
    if b.len() < 40 || b[0] >> 4 != 6 {
        return None;
    }
    let total = match get(b, 4, 2) as usize {
        0 => b.len(),
        p if 40 + p > b.len() && !truncated => return None,
        p => (40 + p).min(b.len()),
    };
    let (mut off, mut next, mut fragment, mut first_fragment) = (40usize, b[6], false, false);
    while let Some(len) = ip6::extension_len(next, b.get(off + 1).copied().unwrap_or(0)) {
        if off + 8 > total {
            return None;
        }
        if next == ip6::FRAGMENT {
            // Offset (13 bits) and the M flag; offset 0 without M is a whole datagram
            // (an atomic fragment, RFC 6946).
            let (offset, more) = (get(b, off + 2, 2) & 0xfff8, get(b, off + 2, 2) & 1 != 0);
            fragment |= offset != 0;
            first_fragment |= offset == 0 && more;
        }
        next = b[off];
        off += len;
        if off > total {
            return None;
        }
    }
    Some(IpShape {
        header_len: off,
        proto: next,
        fragment,
        first_fragment: first_fragment && !fragment,
        total_len: total,
    })
}

// Matching a frame against a packet type (unmarshalling) is `engine::unmarshal` in
// `eval.rs`: written in the two-level style, it is what the interpreter runs and what
// the JIT compiles for each `network` channel's type (`engine::dispatch`).

/// What the packet being processed lets marshalling reuse: its transport checksum, when
/// a sent packet carries the same payload object behind a transport header of the same
/// length, so that the checksum can be updated from the changed header words alone
/// (RFC 1624) instead of summing the payload again; and, when it is a first fragment,
/// the bytes a sent first fragment's checksum is updated from.
#[derive(Clone, Debug, Default)]
pub struct Reuse {
    /// The input's payload blob (a handle), if its type has a final `blob` after a
    /// transport header.
    pub blob: Option<Word>,
    /// The input's IP header (a handle on its bytes, which no setter changes: setters
    /// make new objects, and the input's stay in the scratch space until the packet is
    /// done).
    pub ip: Word,
    /// The input's transport header (a handle, likewise).
    pub l4: Word,
    /// The input's transport protocol.
    pub proto: u8,
    /// The input's segment length (transport header and payload).
    pub seg_len: usize,
    /// Is the input's transport checksum a base for an update: did it verify (and, for
    /// UDP, was it not 0)?
    pub valid: bool,
    /// The input, when it is a first fragment carrying a TCP or UDP header.
    pub first_fragment: Option<FirstFragment>,
}

/// A first fragment being processed (offset 0, more fragments set, TCP or UDP): its
/// transport checksum is the whole datagram's, which a sent first fragment keeps,
/// updated for what the program changed in the bytes this fragment carries.
#[derive(Clone, Debug)]
pub struct FirstFragment {
    /// The IP header (IPv6 extension headers included).
    pub ip: Vec<u8>,
    /// The transport protocol, 6 or 17.
    pub proto: u8,
    /// The transport bytes the fragment carries: the header and the start of the payload.
    pub seg: Vec<u8>,
}

impl FirstFragment {
    /// The first fragment `net_bytes` (the network packet of a packet of `layout`), if
    /// it is one.
    fn of(layout: &PacketLayout, net_bytes: &[u8]) -> Option<FirstFragment> {
        let s = match layout.net()? {
            // Offset 0 and more fragments, or no first fragment (a quick test first).
            Part::Ip if net_bytes.len() < 8 || get(net_bytes, 6, 2) & 0x3fff != 0x2000 => return None,
            Part::Ip => ipv4_shape(net_bytes, true)?,
            _ => ipv6_shape(net_bytes, true)?,
        };
        if !s.first_fragment || !matches!(s.proto, 6 | 17) {
            return None;
        }
        let seg = net_bytes.get(s.header_len..s.total_len)?.to_vec();
        Some(FirstFragment { ip: net_bytes[..s.header_len].to_vec(), proto: s.proto, seg })
    }
}

impl Reuse {
    /// What a packet of `layout`, unmarshalled into the components `parts` (one word
    /// each) from the network packet `net_bytes`, offers for reuse.
    pub fn of(layout: &PacketLayout, parts_words: &[Word], net_bytes: &[u8], heap: &Heap) -> Reuse {
        let first_fragment = FirstFragment::of(layout, net_bytes);
        let none = || Reuse { first_fragment: first_fragment.clone(), ..Reuse::default() };
        let parts = &layout.parts;
        let Some(t) = parts.iter().position(|p| matches!(p, Part::Tcp | Part::Udp)) else { return none() };
        if parts.last() != Some(&Part::Blob) || parts.len() != t + 2 {
            return none();
        }
        let (ip, l4, blob) = (parts_words[t - 1], parts_words[t], parts_words[t + 1]);
        let (ip_bytes, l4_len) = (heap.bytes(ip), heap.bytes(l4).len());
        let proto = if parts[t] == Part::Tcp { 6 } else { 17 };
        let seg_len = l4_len + heap.bytes(blob).len();
        let seg = net_bytes.get(ip_bytes.len()..ip_bytes.len() + seg_len);
        // A UDP checksum of 0 is no base for an update: over IPv4 it means "no checksum"
        // (a sent packet whose field is still 0 keeps it, see `fix_up`), over IPv6 it is
        // not allowed (the sent packet's checksum is computed).
        let valid = seg
            .is_some_and(|s| !(proto == 17 && s.get(6..8) == Some(&[0, 0])) && checksum::verifies(ip_bytes, proto, s));
        Reuse { blob: Some(blob), ip, l4, proto, seg_len, valid, first_fragment }
    }
}

/// Write a packet value as bytes: headers and fields in order, then the IP total or
/// payload length, the IP protocol or last next-header (when a TCP or UDP header
/// follows), the UDP length and the IPv4, TCP and UDP checksums are made correct. A UDP
/// checksum of 0 ("none") over IPv4 stays 0. A fragment's transport length and checksum
/// are the whole datagram's and are not recomputed (a first fragment's checksum is
/// updated from the input's, see [`FirstFragment`]). With `reuse`, a transport checksum
/// is updated incrementally when the payload is the input's.
pub fn marshal(layout: &PacketLayout, w: Word, heap: &Heap, reuse: Option<&Reuse>) -> Vec<u8> {
    let mut out = Vec::new();
    marshal_into(layout, w, heap, reuse, &mut out);
    out
}

/// [`marshal`] into `out`, which is emptied first (its capacity is reused).
pub fn marshal_into(layout: &PacketLayout, w: Word, heap: &Heap, reuse: Option<&Reuse>, out: &mut Vec<u8>) {
    let whole = [w];
    let fields = if layout.is_tuple() { heap.fields(w) } else { &whole[..] };
    marshal_parts_into(layout, fields, heap, reuse, out)
}

/// [`marshal_into`] of the packet whose components are `fields`, one word each.
pub fn marshal_parts_into(
    layout: &PacketLayout,
    fields: &[Word],
    heap: &Heap,
    reuse: Option<&Reuse>,
    out: &mut Vec<u8>,
) {
    assert_eq!(fields.len(), layout.parts.len(), "internal error: a packet value of another type");
    // One pass, each part's bytes looked up once. (`out` is usually a reused buffer,
    // already large enough: no pass to size it first.)
    out.clear();
    let mut ip_at = None;
    let mut l4 = None;
    let mut blob = None;
    for (&part, &v) in layout.parts.iter().zip(fields) {
        match part {
            Part::Eth | Part::Ip | Part::Ip6 | Part::Tcp | Part::Udp => {
                match part {
                    Part::Ip | Part::Ip6 => ip_at = Some(out.len()),
                    Part::Tcp | Part::Udp => l4 = Some((out.len(), part)),
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
            Part::Blob => {
                blob = Some(v);
                out.extend_from_slice(heap.bytes(v));
            }
        }
    }
    if let Some(ipo) = ip_at {
        let same_payload = reuse.filter(|r| r.valid && r.blob.is_some() && r.blob == blob).map(|r| Base {
            ip: heap.bytes(r.ip),
            l4: heap.bytes(r.l4),
            proto: r.proto,
            seg_len: r.seg_len,
        });
        let first_fragment = reuse.and_then(|r| r.first_fragment.as_ref());
        fix_up(out, ipo, l4, same_payload.as_ref(), first_fragment);
    }
}

/// The input's headers a sent packet's transport checksum is updated from (see
/// [`Reuse`]).
struct Base<'a> {
    ip: &'a [u8],
    l4: &'a [u8],
    proto: u8,
    seg_len: usize,
}

/// Make lengths, protocol and checksums of the IP packet at `ipo` correct.
fn fix_up(
    out: &mut [u8],
    ipo: usize,
    l4: Option<(usize, Part)>,
    reuse: Option<&Base<'_>>,
    first_fragment: Option<&FirstFragment>,
) {
    let pkt_len = out.len() - ipo;
    let v6 = out[ipo] >> 4 == 6;
    let (hl, proto_at) = if v6 {
        if pkt_len < 40 {
            return;
        }
        // The last next-header field of the extension chain.
        let (mut at, mut off, mut next) = (ipo + 6, ipo + 40, out[ipo + 6]);
        let end = l4.map_or(out.len(), |(o, _)| o);
        while off + 8 <= end {
            let Some(len) = ip6::extension_len(next, out[off + 1]) else { break };
            at = off;
            next = out[off];
            off += len;
        }
        let payload = if pkt_len - 40 > 0xffff { 0 } else { (pkt_len - 40) as u16 };
        out[ipo + 4..ipo + 6].copy_from_slice(&payload.to_be_bytes());
        (l4.map_or(off - ipo, |(o, _)| o - ipo), at)
    } else {
        if pkt_len < 20 {
            return;
        }
        let hl = ip::header_len(&out[ipo..]).clamp(20, pkt_len);
        // A packet longer than the field can say (Linux BIG TCP, segmentation offload)
        // carries 0, as it was captured.
        let total = if pkt_len > 0xffff { 0 } else { pkt_len as u16 };
        out[ipo + 2..ipo + 4].copy_from_slice(&total.to_be_bytes());
        (hl, ipo + 9)
    };
    if let Some((_, p)) = l4 {
        out[proto_at] = if p == Part::Tcp { 6 } else { 17 };
    }
    if !v6 {
        out[ipo + 10..ipo + 12].copy_from_slice(&[0, 0]);
        let c = checksum::finish(checksum::sum(&out[ipo..ipo + hl], 0));
        out[ipo + 10..ipo + 12].copy_from_slice(&c.to_be_bytes());
    }
    // Is the packet sent a fragment? (Its lengths were just made right, so a packet cut
    // short by the capture is read as what it is.)
    // (An IPv4 packet with a transport header in its type whose offset and
    // more-fragments bit are 0 is no fragment: its shape is not needed.)
    let maybe_fragment = v6 || get(out, ipo + 6, 2) & 0x3fff != 0;
    let shape = match () {
        _ if l4.is_some() && !maybe_fragment => None,
        _ if v6 => ipv6_shape(&out[ipo..], true),
        _ => ipv4_shape(&out[ipo..], true),
    };
    // With no transport header in the type (`ip*blob`), a TCP or UDP segment carried in
    // the blob is treated as one, unless the packet is a later fragment (which has no
    // transport header).
    let l4 = l4.or_else(|| {
        let shape = shape?;
        match shape.proto {
            6 if !shape.fragment => Some((ipo + shape.header_len, Part::Tcp)),
            17 if !shape.fragment => Some((ipo + shape.header_len, Part::Udp)),
            _ => None,
        }
    });
    let Some((l4o, part)) = l4 else { return };
    let proto = if part == Part::Tcp { 6 } else { 17 };
    let seg_len = out.len() - l4o;
    let (ck_at, min_len) = if part == Part::Tcp { (16, 20) } else { (6, 8) };
    if seg_len < min_len {
        return;
    }
    if let Some(s) = shape.filter(|s| s.fragment || s.first_fragment) {
        // A fragment: the segment is not all here, and the UDP length and the checksum
        // are the whole datagram's. They are left as they are, except that a first
        // fragment's checksum follows the changes the program made to its bytes.
        if let Some(base) = first_fragment.filter(|_| s.first_fragment) {
            update_first_fragment(out, ipo, l4o, proto, ck_at, base);
        }
        return;
    }
    if part == Part::Udp {
        // Over 65535 bytes (an IPv6 jumbogram, segmentation offload), the UDP length is
        // 0, as RFC 2675 says and as the IP lengths are.
        let len = if seg_len > 0xffff { 0 } else { seg_len as u16 };
        out[l4o + 4..l4o + 6].copy_from_slice(&len.to_be_bytes());
        if !v6 && out[l4o + 6..l4o + 8] == [0, 0] {
            return; // no checksum
        }
    }
    let pseudo = checksum::pseudo(&out[ipo..l4o], proto, seg_len);
    let hdr_len = reuse.map_or(0, |r| r.l4.len());
    // The sum of a transport header with its checksum field (at an even offset) read as
    // zero.
    let sum_without_ck = |h: &[u8], acc: u64| checksum::sum(&h[ck_at + 2..], checksum::sum(&h[..ck_at], acc));
    // The shortcut holds only if the payload sits where it sat in the input: same
    // transport header length, same segment length (the payload is the same object).
    let new_hdr_len = if part == Part::Tcp { ((out[l4o + 12] >> 4) as usize * 4).min(seg_len) } else { 8 };
    let incremental =
        reuse.filter(|r| r.proto == proto && r.l4.len() >= min_len && hdr_len == new_hdr_len && seg_len == r.seg_len);
    let c = match incremental {
        Some(r) => {
            // RFC 1624: only the pseudo-header and the transport header changed.
            let old_ck = u16::from_be_bytes([r.l4[ck_at], r.l4[ck_at + 1]]);
            let old_part = sum_without_ck(r.l4, checksum::pseudo(r.ip, proto, r.seg_len));
            let new_part = sum_without_ck(&out[l4o..l4o + hdr_len], pseudo);
            checksum::update(old_ck, old_part, new_part)
        }
        None => {
            out[l4o + ck_at..l4o + ck_at + 2].copy_from_slice(&[0, 0]);
            checksum::finish(checksum::sum(&out[l4o..], pseudo))
        }
    };
    // UDP transmits a computed 0 as 0xffff (0 means "no checksum").
    let c = if part == Part::Udp && c == 0 { 0xffff } else { c };
    out[l4o + ck_at..l4o + ck_at + 2].copy_from_slice(&c.to_be_bytes());
}

/// A sent first fragment (IP header at `ipo`, transport bytes from `l4o`) whose checksum
/// field still holds the checksum of the first fragment being processed, `base`, for
/// the same protocol and as many transport bytes: update that checksum (RFC 1624) by the
/// difference between the two fragments' pseudo-headers and transport bytes, so that it
/// stays right for the reassembled datagram (the later fragments are not changed). If
/// nothing in them changed, the checksum is kept as it is. A UDP checksum of 0 (none
/// over IPv4, not allowed over IPv6) stays 0: there is nothing to update.
fn update_first_fragment(out: &mut [u8], ipo: usize, l4o: usize, proto: u8, ck_at: usize, base: &FirstFragment) {
    let seg = &out[l4o..];
    if base.proto != proto || base.seg.len() != seg.len() || base.seg.get(ck_at..ck_at + 2) != seg.get(ck_at..ck_at + 2)
    {
        return;
    }
    let old_ck = u16::from_be_bytes([seg[ck_at], seg[ck_at + 1]]);
    if proto == 17 && old_ck == 0 {
        return;
    }
    // The pseudo-header's length: for UDP the UDP length field (which counts the whole
    // datagram); for TCP the datagram's segment length, which a first fragment does not
    // know but which is the same on both sides, so it is left out of both.
    let part = |ip: &[u8], seg: &[u8]| {
        let len = if proto == 17 { get(seg, 4, 2) as usize } else { 0 };
        let mut seg = seg.to_vec();
        seg[ck_at..ck_at + 2].copy_from_slice(&[0, 0]);
        checksum::sum(&seg, checksum::pseudo(ip, proto, len))
    };
    let old_part = part(&base.ip, &base.seg);
    let new_part = part(&out[ipo..l4o], &out[l4o..]);
    if checksum::fold(old_part) == checksum::fold(new_part) {
        return;
    }
    let c = checksum::update(old_ck, old_part, new_part);
    let c = if proto == 17 && c == 0 { 0xffff } else { c };
    out[l4o + ck_at..l4o + ck_at + 2].copy_from_slice(&c.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::link::LinkType;
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

    /// Match `pkt`, a raw IP packet, against `layout` with `engine::unmarshal` (the
    /// interpreter's copy), on a machine that borrows `heap`.
    fn raw(layout: &PacketLayout, pkt: &[u8], heap: &mut Heap) -> Option<Word> {
        use crate::eval::{Machine, NET_IPV4, NET_IPV6, engine};
        let d = link::decode(LinkType::RAW, pkt);
        let net = match d.net {
            link::Net::Ipv4 => NET_IPV4,
            link::Net::Ipv6 => NET_IPV6,
            link::Net::Other => 0,
        };
        let mut rt = planp_primitives::Rt::default();
        std::mem::swap(&mut rt.heap, heap);
        let mut m = Machine::for_matching(rt, layout.parts.len());
        m.set_input(pkt, d.link_len, d.net_end, net);
        let v = engine::unmarshal(layout, true, &mut m);
        std::mem::swap(&mut m.rt.heap, heap);
        v
    }

    fn tcp_ok(out: &[u8]) -> bool {
        checksum::verifies(&out[..20], 6, &out[20..])
    }

    #[test]
    fn round_trip_fixes_checksums() {
        let pkt = tcp_packet([10, 0, 0, 1], [10, 0, 0, 2], 1234, 80, b"GET /");
        let l = lay(&[Type::Ip, Type::Tcp, Type::Blob]);
        let mut heap = Heap::new();
        let v = raw(&l, &pkt, &mut heap).unwrap();
        let out = marshal(&l, v, &heap, None);
        assert_eq!(checksum::fold(checksum::sum(&out[..20], 0)), 0xffff, "IP header checksum verifies");
        assert!(tcp_ok(&out), "TCP checksum verifies");
        assert_eq!(&out[40..], b"GET /");
        // The same packet as `ip*blob`, with the destination rewritten: the TCP checksum
        // inside the blob is fixed too.
        let l = lay(&[Type::Ip, Type::Blob]);
        let v = raw(&l, &pkt, &mut heap).unwrap();
        let ip2 = planp_primitives::bytes::set(heap.bytes(heap.tuple_get(v, 0)), 16, 4, 0x0a00_0063);
        let ip2 = heap.alloc_bytes_vec(ip2);
        let v2 = heap.tuple_from(&[ip2, heap.tuple_get(v, 1)], 0b11);
        let out = marshal(&l, v2, &heap, None);
        assert!(tcp_ok(&out), "TCP checksum inside the blob verifies");
    }

    /// A rewrite that keeps the payload updates the checksum incrementally, with the
    /// same result as a full computation.
    #[test]
    fn incremental_update_matches_full() {
        let mut pkt = tcp_packet([10, 0, 0, 1], [10, 0, 0, 2], 1234, 80, &[7u8; 1000]);
        let l = lay(&[Type::Ip, Type::Tcp, Type::Blob]);
        let mut heap = Heap::new();
        // Give the input a correct checksum first.
        let v = raw(&l, &pkt, &mut heap).unwrap();
        pkt = marshal(&l, v, &heap, None);
        let v = raw(&l, &pkt, &mut heap).unwrap();
        let reuse = Reuse::of(&l, heap.fields(v), &pkt, &heap);
        assert!(reuse.valid);
        let ip2 = planp_primitives::bytes::set(heap.bytes(heap.tuple_get(v, 0)), 16, 4, 0x83fe_3c51);
        let tcp2 = planp_primitives::bytes::set(heap.bytes(heap.tuple_get(v, 1)), 2, 2, 8080);
        let (ip2, tcp2) = (heap.alloc_bytes_vec(ip2), heap.alloc_bytes_vec(tcp2));
        let v2 = heap.tuple_from(&[ip2, tcp2, heap.tuple_get(v, 2)], 0b111);
        let inc = marshal(&l, v2, &heap, Some(&reuse));
        let full = marshal(&l, v2, &heap, None);
        assert!(tcp_ok(&inc));
        assert_eq!(inc, full);
    }

    #[test]
    fn fields_must_consume_the_payload_exactly() {
        let mut heap = Heap::new();
        let five = tcp_packet([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, &[1, 0, 0, 0, 7]);
        let two = tcp_packet([1, 1, 1, 1], [2, 2, 2, 2], 1, 2, &[2, 1]);
        let ci = lay(&[Type::Ip, Type::Tcp, Type::Char, Type::Int]);
        let cb = lay(&[Type::Ip, Type::Tcp, Type::Char, Type::Bool]);
        assert!(raw(&ci, &five, &mut heap).is_some());
        assert!(raw(&cb, &five, &mut heap).is_none());
        assert!(raw(&ci, &two, &mut heap).is_none());
        assert!(raw(&cb, &two, &mut heap).is_some());
    }

    #[test]
    fn bad_layouts_are_explained() {
        assert!(layout_of(&Type::Tuple(vec![Type::Tcp, Type::Ip])).is_err());
        assert!(layout_of(&Type::Tuple(vec![Type::Ip, Type::Blob, Type::Char])).is_err());
        assert!(layout_of(&Type::Tuple(vec![Type::Ip, Type::List(Box::new(Type::Int))])).is_err());
        assert!(layout_of(&Type::Ip).is_ok());
        assert!(layout_of(&Type::Tuple(vec![Type::Eth, Type::Ip6, Type::Udp, Type::Blob])).is_ok());
    }

    #[test]
    fn ipv6_extension_headers_are_skipped() {
        // Fixed header with next = hop-by-hop (0), an 8-byte hop-by-hop with next = UDP.
        let mut p = vec![0x60, 0, 0, 0, 0, 0, 0, 64];
        p.extend([0u8; 32]);
        p.extend([17, 0, 0, 0, 0, 0, 0, 0]);
        p.extend([0x30, 0x39, 0, 53, 0, 9, 0, 0, b'x']);
        let plen = (p.len() - 40) as u16;
        p[4..6].copy_from_slice(&plen.to_be_bytes());
        let s = ipv6_shape(&p, false).unwrap();
        assert_eq!((s.header_len, s.proto, s.fragment), (48, 17, false));
        let l = lay(&[Type::Ip6, Type::Udp, Type::Blob]);
        let mut heap = Heap::new();
        let v = raw(&l, &p, &mut heap).unwrap();
        let out = marshal(&l, v, &heap, None);
        assert!(checksum::verifies(&out[..48], 17, &out[48..]), "UDP over IPv6 gets a checksum");
    }

    #[test]
    fn truncated_input_never_panics() {
        let pkt = tcp_packet([10, 0, 0, 1], [10, 0, 0, 2], 1234, 80, b"GET /");
        let l = lay(&[Type::Ip, Type::Tcp, Type::Blob]);
        let mut heap = Heap::new();
        for n in 0..pkt.len() {
            let _ = raw(&l, &pkt[..n], &mut heap);
        }
    }
}
