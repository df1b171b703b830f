//! Link layers: where the network packet starts in a captured frame, and how a network
//! packet is put back into a frame of the same link type.
//!
//! Supported link types (the pcap `LINKTYPE_` numbers): Ethernet (1) with 802.1Q and
//! 802.1ad (QinQ) tags and MPLS label stacks, BSD loopback (0, and OpenBSD's 108), PPP (9), raw IP (101, and
//! 12/14 on some systems), Linux cooked captures v1 (113) and v2 (276), raw IPv4 (228)
//! and IPv6 (229), and NFLOG (239). Frames of other link types, and frames whose network
//! protocol is neither IPv4 nor IPv6, carry no IP packet: no `network` channel sees them,
//! and they pass through unchanged.
//!
//! Written by hand: each link header is a few fixed fields, and what matters here (the
//! offset of the IP header, the field to rewrite when the IP version changes) is not
//! what the header crates expose.

use planp_primitives::bytes::get;

/// A pcap link type: the `network` field of a pcap header or the link type of a pcapng
/// interface. The low 16 bits are the type; the upper bits of the pcap field may say
/// that frames end with a frame check sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback: a 4-byte address family in the capturing host's byte order.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet.
    pub const ETHERNET: LinkType = LinkType(1);
    /// PPP, with or without the HDLC address and control bytes.
    pub const PPP: LinkType = LinkType(9);
    /// Raw IP (IPv4 or IPv6, by the version nibble).
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback: a 4-byte address family, big-endian.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux cooked capture, version 1.
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux netfilter log messages.
    pub const NFLOG: LinkType = LinkType(239);
    /// Linux cooked capture, version 2.
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// The link type without the FCS bits.
    pub fn base(self) -> u32 {
        self.0 & 0xffff
    }

    /// The name tcpdump uses for it.
    pub fn name(self) -> String {
        match self.base() {
            0 => "NULL".into(),
            1 => "EN10MB".into(),
            9 => "PPP".into(),
            12 | 14 | 101 => "RAW".into(),
            108 => "LOOP".into(),
            113 => "LINUX_SLL".into(),
            228 => "IPV4".into(),
            229 => "IPV6".into(),
            239 => "NFLOG".into(),
            276 => "LINUX_SLL2".into(),
            n => format!("linktype {n}"),
        }
    }
}

/// The network protocol a frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Net {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
    /// Anything else (ARP, LLDP, ...), or a frame too short to tell.
    Other,
}

/// Where the network packet is in a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Bytes of link header before the network packet (for Ethernet, the 14-byte header
    /// and any VLAN tags).
    pub link_len: usize,
    /// Where the network packet's bytes end (for NFLOG, the end of the payload TLV's
    /// value; otherwise the end of the frame, trailers included).
    pub net_end: usize,
    /// The network protocol.
    pub net: Net,
    /// Does the link header end in an MPLS label stack (Ethernet, PPP)? Then what
    /// follows the bottom label says its own IP version, and no protocol field names it.
    pub mpls: bool,
}

/// The IP version announced by the first byte of a network packet. Frames labelled IPv4
/// or IPv6 by their link header are classified by this nibble, as tshark does.
fn by_version(b: &[u8], at: usize) -> Net {
    match b.get(at).map(|v| v >> 4) {
        Some(4) => Net::Ipv4,
        Some(6) => Net::Ipv6,
        _ => Net::Other,
    }
}

fn ethertype_net(b: &[u8], at: usize, ethertype: u64) -> Net {
    match ethertype {
        0x0800 | 0x86dd => by_version(b, at),
        _ => Net::Other,
    }
}

/// The length of an Ethernet header with its VLAN tags (not MPLS labels), whatever the
/// frame carries.
pub fn ethernet_header_len(frame: &[u8]) -> Option<usize> {
    if frame.len() < 14 {
        return None;
    }
    let mut off = 12;
    while is_tag(get(frame, off, 2)) {
        off += 4;
        if off + 2 > frame.len() {
            return None;
        }
    }
    Some(off + 2)
}

/// Is this EtherType a VLAN tag (802.1Q, 802.1ad, or the old QinQ 0x9100)?
fn is_tag(t: u64) -> bool {
    matches!(t, 0x8100 | 0x88a8 | 0x9100)
}

/// Where the network packet starts in `frame`, and which protocol it is. Never panics;
/// a frame too short for its link header carries no network packet.
pub fn decode(lt: LinkType, frame: &[u8]) -> Decoded {
    let n = frame.len();
    let none = Decoded { link_len: n, net_end: n, net: Net::Other, mpls: false };
    let at = |link_len: usize, net: Net| {
        if link_len <= n { Decoded { link_len, net_end: n, net, mpls: false } } else { none }
    };
    match lt.base() {
        1 => {
            if n < 14 {
                return none;
            }
            let (mut off, mut t) = (12, get(frame, 12, 2));
            while is_tag(t) && off + 6 <= n {
                off += 4;
                t = get(frame, off, 2);
            }
            if is_tag(t) {
                return none;
            }
            let start = off + 2;
            if t == 0x8847 || t == 0x8848 {
                return mpls(frame, start);
            }
            at(start, ethertype_net(frame, start, t))
        }
        0 | 108 => {
            if n < 4 {
                return none;
            }
            let le = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]);
            let be = u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
            let family = if lt.base() == 108 || le > 0xffff { be } else { le };
            let net = match family {
                2 => Net::Ipv4,
                24 | 28 | 30 => Net::Ipv6,
                _ => Net::Other,
            };
            at(4, if net == Net::Other { net } else { by_version(frame, 4) })
        }
        9 => {
            let off = if frame.starts_with(&[0xff, 0x03]) { 2 } else { 0 };
            let (proto_len, proto) = if frame.get(off).is_some_and(|b| b & 1 == 1) {
                (1, get(frame, off, 1)) // a compressed one-byte protocol field
            } else {
                (2, get(frame, off, 2))
            };
            let start = off + proto_len;
            let net = match proto {
                0x0021 => Net::Ipv4,
                0x0057 => Net::Ipv6,
                0x0281 | 0x0283 => return mpls(frame, start),
                _ => Net::Other,
            };
            at(start, net)
        }
        12 | 14 | 101 => at(0, by_version(frame, 0)),
        228 => at(0, if by_version(frame, 0) == Net::Ipv4 { Net::Ipv4 } else { Net::Other }),
        229 => at(0, if by_version(frame, 0) == Net::Ipv6 { Net::Ipv6 } else { Net::Other }),
        113 => {
            if n < 16 {
                return none;
            }
            at(16, ethertype_net(frame, 16, get(frame, 14, 2)))
        }
        276 => {
            if n < 20 {
                return none;
            }
            at(20, ethertype_net(frame, 20, get(frame, 0, 2)))
        }
        239 => decode_nflog(frame),
        _ => none,
    }
}

/// An MPLS label stack at `start`: labels of 4 bytes up to the one with the
/// bottom-of-stack bit; the IP version nibble says what is underneath.
fn mpls(frame: &[u8], mut start: usize) -> Decoded {
    let n = frame.len();
    loop {
        if start + 4 > n {
            return Decoded { link_len: n, net_end: n, net: Net::Other, mpls: false };
        }
        let bottom = frame[start + 2] & 1 == 1;
        start += 4;
        if bottom {
            return Decoded { link_len: start, net_end: n, net: by_version(frame, start), mpls: true };
        }
    }
}

/// NFLOG: a 4-byte header (address family, version, resource id), then TLVs with
/// little-endian 16-bit length (header included) and type, each padded to 4 bytes; the
/// packet is the value of the TLV of type 9.
fn decode_nflog(frame: &[u8]) -> Decoded {
    let n = frame.len();
    let none = Decoded { link_len: n, net_end: n, net: Net::Other, mpls: false };
    let mut off = 4;
    while off + 4 <= n {
        let len = u16::from_le_bytes([frame[off], frame[off + 1]]) as usize;
        let ty = u16::from_le_bytes([frame[off + 2], frame[off + 3]]);
        if len < 4 || off + len > n {
            return none;
        }
        if ty == 9 {
            let net = match frame[0] {
                2 => Net::Ipv4,
                10 => Net::Ipv6,
                _ => Net::Other,
            };
            return Decoded { link_len: off + 4, net_end: off + len, net, mpls: false };
        }
        off += (len + 3) & !3;
    }
    none
}

/// A frame of the same link type as `original` carrying the network packet `net_packet`
/// instead of the original's: the original's link header is kept, with its protocol
/// field (EtherType, family, ...) and any length field made right for the new packet.
/// For link types without a header, the frame is the packet.
///
/// - Under an MPLS label stack (Ethernet, PPP), the labels are kept and the EtherType
///   or PPP protocol before them still says MPLS: the version nibble after the bottom
///   label says which IP it is. Only a bottom label that is an explicit null label,
///   which names the version (RFC 3032: 0 for IPv4, 2 for IPv6), is switched to the
///   other one when the packet's version differs.
/// - When `original` carried no IP packet (`d.net` is [`Net::Other`]; on Ethernet, a
///   frame an `eth*...` channel took), its header is no header for an IP packet. On
///   Ethernet the new frame gets the original's Ethernet header and VLAN tags (MPLS
///   labels, which carried something else, are left out) with the EtherType of the
///   packet's version; other link types with a header give `None` (no channel takes a
///   non-IP frame of those).
pub fn encode(lt: LinkType, original: &[u8], d: &Decoded, net_packet: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    encode_into(lt, original, d, net_packet, &mut out).then_some(out)
}

/// [`encode`] into `out`, which is emptied first (its capacity is reused); `false` where
/// `encode` gives `None` (and `out` is then empty).
pub fn encode_into(lt: LinkType, original: &[u8], d: &Decoded, net_packet: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    let v6 = net_packet.first().is_some_and(|b| b >> 4 == 6);
    let (header, mpls) = match lt.base() {
        _ if d.net != Net::Other => (&original[..d.link_len.min(original.len())], d.mpls),
        1 => match ethernet_header_len(original) {
            Some(n) => (&original[..n], false),
            None => return false,
        },
        12 | 14 | 101 | 228 | 229 => (&original[..0], false),
        _ => return false,
    };
    out.reserve(header.len() + net_packet.len() + 8);
    out.extend_from_slice(header);
    let l = out.len();
    match lt.base() {
        1 | 9 if mpls => switch_explicit_null(out, v6),
        1 if l >= 2 => out[l - 2..].copy_from_slice(if v6 { &[0x86, 0xdd] } else { &[0x08, 0x00] }),
        113 if l >= 16 => out[14..16].copy_from_slice(if v6 { &[0x86, 0xdd] } else { &[0x08, 0x00] }),
        276 if l >= 20 => out[0..2].copy_from_slice(if v6 { &[0x86, 0xdd] } else { &[0x08, 0x00] }),
        0 | 108 if l >= 4 => {
            let old = &header[..4];
            let big = lt.base() == 108 || u32::from_le_bytes([old[0], old[1], old[2], old[3]]) > 0xffff;
            let family: u32 = if v6 { if d.net == Net::Ipv6 { family_of(old, big) } else { 24 } } else { 2 };
            out[..4].copy_from_slice(&if big { family.to_be_bytes() } else { family.to_le_bytes() });
        }
        9 if l >= 1 => {
            let p: u16 = if v6 { 0x0057 } else { 0x0021 };
            if out[l - 1] & 1 == 1 && (l == 1 || out[l - 2] == 0x03) {
                out[l - 1] = p as u8; // compressed protocol field
            } else if l >= 2 {
                out[l - 2..].copy_from_slice(&p.to_be_bytes());
            }
        }
        239 if l >= 8 => {
            out[0] = if v6 { 10 } else { 2 };
            let len = (net_packet.len() + 4).min(0xffff) as u16;
            out[l - 4..l - 2].copy_from_slice(&len.to_le_bytes());
        }
        _ => {}
    }
    out.extend_from_slice(net_packet);
    if lt.base() == 239 {
        // Pad the payload TLV, then keep the TLVs that followed it.
        while !(out.len() - d.link_len).is_multiple_of(4) {
            out.push(0);
        }
        let after = (d.net_end + 3) & !3;
        if after < original.len() {
            out.extend_from_slice(&original[after..]);
        }
    }
    true
}

/// The bottom MPLS label (the last 4 bytes of `header`): an IPv4 explicit null label (0)
/// over an IPv6 packet becomes the IPv6 one (2), and the converse; any other label is
/// kept, its traffic class, bottom-of-stack bit and TTL always.
fn switch_explicit_null(header: &mut [u8], v6: bool) {
    let l = header.len();
    if l < 4 {
        return;
    }
    let word = get(header, l - 4, 4);
    let label = match (word >> 12, v6) {
        (0, true) => 2,
        (2, false) => 0,
        _ => return,
    };
    header[l - 4..].copy_from_slice(&((label << 12 | word & 0xfff) as u32).to_be_bytes());
}

fn family_of(b: &[u8], big: bool) -> u32 {
    if big { u32::from_be_bytes([b[0], b[1], b[2], b[3]]) } else { u32::from_le_bytes([b[0], b[1], b[2], b[3]]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ethernet_with_two_tags() {
        let mut f = vec![0u8; 12];
        f.extend([0x88, 0xa8, 0, 10, 0x81, 0x00, 0, 20, 0x08, 0x00, 0x45, 0]);
        let d = decode(LinkType::ETHERNET, &f);
        assert_eq!((d.link_len, d.net), (22, Net::Ipv4));
        let out = encode(LinkType::ETHERNET, &f, &d, &[0x60, 1, 2]).unwrap();
        assert_eq!(&out[20..22], &[0x86, 0xdd], "the innermost EtherType follows the IP version");
        assert_eq!(&out[12..14], &[0x88, 0xa8], "tags are kept");
    }

    #[test]
    fn mpls_labels_are_kept() {
        let mut f = vec![0u8; 12];
        f.extend([0x88, 0x47, 0, 0, 0x01, 0x40, 0x45, 0]); // IPv4 explicit null, bottom, TTL 64
        let d = decode(LinkType::ETHERNET, &f);
        assert_eq!((d.link_len, d.net, d.mpls), (18, Net::Ipv4, true));
        assert_eq!(encode(LinkType::ETHERNET, &f, &d, &[0x45, 9]).unwrap(), [&f[..18], &[0x45, 9]].concat());
        let out = encode(LinkType::ETHERNET, &f, &d, &[0x60, 9]).unwrap();
        assert_eq!(&out[12..18], &[0x88, 0x47, 0, 0, 0x21, 0x40], "IPv6 explicit null for IPv6");
        let mut p = vec![0x02, 0x81, 0x00, 0x06, 0x41, 0x40, 0x60]; // PPP, label 100
        let d = decode(LinkType::PPP, &p);
        assert_eq!((d.link_len, d.net, d.mpls), (6, Net::Ipv6, true));
        assert_eq!(encode(LinkType::PPP, &p, &d, &[0x45]).unwrap(), [&p[..6], &[0x45]].concat());
        p[4] = 0x40; // no bottom-of-stack label: no IP packet, no MPLS header to keep
        assert!(!decode(LinkType::PPP, &p).mpls);
    }

    #[test]
    fn frames_after_frames_without_ip() {
        // ARP with a VLAN tag: the Ethernet header and the tag, the EtherType of the packet.
        let mut f = vec![1u8; 12];
        f.extend([0x81, 0x00, 0, 9, 0x08, 0x06]);
        f.extend([0; 28]);
        let d = decode(LinkType::ETHERNET, &f);
        assert_eq!(d.net, Net::Other);
        let out = encode(LinkType::ETHERNET, &f, &d, &[0x60, 1]).unwrap();
        assert_eq!(out, [&f[..16], &[0x86, 0xdd, 0x60, 1]].concat());
        assert_eq!(encode(LinkType::ETHERNET, &f[..13], &decode(LinkType::ETHERNET, &f[..13]), &[0x45]), None);
        // Another link type with a header: no frame; no header: the packet.
        let mut sll = vec![0u8; 14];
        sll.extend([0x08, 0x06, 0, 1]);
        let d = decode(LinkType::LINUX_SLL, &sll);
        assert_eq!((d.net, encode(LinkType::LINUX_SLL, &sll, &d, &[0x45])), (Net::Other, None));
        let d = decode(LinkType::RAW, &[0x10]);
        assert_eq!(encode(LinkType::RAW, &[0x10], &d, &[0x45]), Some(vec![0x45]));
    }

    #[test]
    fn nflog_payload_tlv() {
        // header, a 8-byte TLV of type 1, the payload TLV (type 9) with 5 bytes, padding.
        let mut f = vec![2, 0, 0, 0];
        f.extend([8, 0, 1, 0, 0xaa, 0xbb, 0xcc, 0xdd]);
        f.extend([9, 0, 9, 0, 0x45, 1, 2, 3, 4, 0, 0, 0]);
        let d = decode(LinkType::NFLOG, &f);
        assert_eq!((d.link_len, d.net_end, d.net), (16, 21, Net::Ipv4));
        let out = encode(LinkType::NFLOG, &f, &d, &[0x45, 9, 9]).unwrap();
        assert_eq!(&out[12..14], &[7, 0]);
        assert_eq!(out.len() % 4, 0);
    }

    #[test]
    fn short_and_unknown_frames_carry_nothing() {
        for lt in [0, 1, 9, 101, 108, 113, 228, 229, 239, 276, 147] {
            for n in 0..24 {
                let f = vec![0x45; n];
                let d = decode(LinkType(lt), &f);
                assert!(d.link_len <= n.max(d.link_len));
                if d.net != Net::Other {
                    assert!(d.link_len <= n);
                }
            }
        }
        assert_eq!(decode(LinkType(147), &[0x45; 40]).net, Net::Other);
    }

    #[test]
    fn loopback_family_in_either_byte_order() {
        let le = [2, 0, 0, 0, 0x45];
        let be = [0, 0, 0, 30, 0x60];
        assert_eq!(decode(LinkType::NULL, &le).net, Net::Ipv4);
        assert_eq!(decode(LinkType::NULL, &be).net, Net::Ipv6);
        let d = decode(LinkType::NULL, &be);
        assert_eq!(encode(LinkType::NULL, &be, &d, &[0x60]).unwrap()[..4], [0, 0, 0, 30]);
    }
}
