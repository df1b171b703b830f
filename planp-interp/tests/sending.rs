//! What a node sends: the frames of rewritten packets, byte for byte, in the cases the
//! packet layer's fix-up has to get right (`docs/packets.md`, "Sending" and "The frames
//! a node sends"): link headers ending in MPLS labels, IP fragments, UDP checksums of 0,
//! IP-level sends caused by non-IP frames, lengths beyond 65535.
//!
//! Every input frame is built here, and checksums are checked with the small
//! implementation below (not the crate's), so a test states the bytes it expects.

use planp_interp::packet::encap;
use planp_interp::{LinkType, Node, NodeConfig, Outcome};

// ----- building frames -------------------------------------------------------------------

/// The RFC 1071 sum of `data` (16-bit big-endian words, an odd byte padded), folded.
fn fold_sum(data: &[u8], mut acc: u64) -> u16 {
    for c in data.chunks(2) {
        acc += u64::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The pseudo-header sum of a transport segment of `len` bytes (RFC 768, 793, 8200
/// section 8.1; no routing header in these tests).
fn pseudo(ip: &[u8], proto: u8, len: usize) -> u64 {
    let addrs = if ip[0] >> 4 == 6 { &ip[8..40] } else { &ip[12..20] };
    u64::from(fold_sum(addrs, 0)) + u64::from(proto) + (len as u64 & 0xffff) + (len as u64 >> 16)
}

/// Does the transport segment `seg` (checksum included) verify under the IP header `ip`?
fn verifies(ip: &[u8], proto: u8, seg: &[u8]) -> bool {
    fold_sum(seg, pseudo(ip, proto, seg.len())) == 0xffff
}

/// Set the transport checksum of `seg` (at `ck_at`) right for the IP header `ip`.
fn set_l4_checksum(ip: &[u8], proto: u8, seg: &mut [u8]) {
    let ck_at = if proto == 6 { 16 } else { 6 };
    seg[ck_at..ck_at + 2].copy_from_slice(&[0, 0]);
    let mut c = !fold_sum(seg, pseudo(ip, proto, seg.len()));
    if proto == 17 && c == 0 {
        c = 0xffff;
    }
    seg[ck_at..ck_at + 2].copy_from_slice(&c.to_be_bytes());
}

/// An IPv4 header (no options) with the given flags-and-offset word, for a payload of
/// `payload_len` bytes; header checksum right.
fn ipv4_header(src: [u8; 4], dst: [u8; 4], proto: u8, frag: u16, payload_len: usize) -> Vec<u8> {
    let mut h = vec![0x45, 0, 0, 0, 0x12, 0x34, 0, 0, 64, proto, 0, 0];
    h[2..4].copy_from_slice(&((20 + payload_len) as u16).to_be_bytes());
    h[6..8].copy_from_slice(&frag.to_be_bytes());
    h.extend(src);
    h.extend(dst);
    let c = !fold_sum(&h, 0);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h
}

const A6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const B6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/// An IPv6 header followed by `ext` (extension headers), announcing `next` and a
/// payload length of `ext` plus `payload_len` (0 if it does not fit in 16 bits).
fn ipv6_header(next: u8, ext: &[u8], payload_len: usize) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0, 0, 0, next, 64];
    let plen = ext.len() + payload_len;
    let plen = if plen > 0xffff { 0 } else { plen as u16 };
    h[4..6].copy_from_slice(&plen.to_be_bytes());
    h.extend(A6);
    h.extend(B6);
    h.extend(ext);
    h
}

/// A UDP segment with a right length and checksum for the IP header `ip`.
fn udp_segment(ip: &[u8], sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let mut s = Vec::new();
    s.extend(sport.to_be_bytes());
    s.extend(dport.to_be_bytes());
    let len = 8 + data.len();
    s.extend((if len > 0xffff { 0 } else { len as u16 }).to_be_bytes());
    s.extend([0, 0]);
    s.extend(data);
    set_l4_checksum(ip, 17, &mut s);
    s
}

/// A TCP segment (20-byte header) with a right checksum for the IP header `ip`.
fn tcp_segment(ip: &[u8], sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let mut s = Vec::new();
    s.extend(sport.to_be_bytes());
    s.extend(dport.to_be_bytes());
    s.extend([0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    s.extend(data);
    set_l4_checksum(ip, 6, &mut s);
    s
}

/// A whole IPv6/UDP packet (no extension headers).
fn ipv6_udp(data: &[u8]) -> Vec<u8> {
    let h = ipv6_header(17, &[], 8 + data.len());
    let s = udp_segment(&h, 1234, 53, data);
    [h, s].concat()
}

// ----- running programs ------------------------------------------------------------------

fn node(src: &str) -> Node {
    let prog = planp_interp::load("test.planp", src).unwrap_or_else(|d| panic!("{}", d.render_plain()));
    Node::new(prog, NodeConfig { this_host: 0x0a00_00fe, ..NodeConfig::default() }).unwrap()
}

/// Process one whole frame; the channel must take it and not fail.
fn run(n: &mut Node, lt: LinkType, frame: &[u8]) -> Outcome {
    let o = n.process(lt, frame, 1_000_000_000);
    assert!(o.exception.is_none(), "the channel raised {:?}", o.exception);
    assert!(!o.pass_through, "no channel took the frame");
    o
}

/// The only frame an outcome sends.
fn one_frame(o: &Outcome) -> &[u8] {
    assert_eq!(o.frames.len(), 1, "one frame sent");
    &o.frames[0]
}

// ----- fragments -------------------------------------------------------------------------

/// A UDP datagram of 108 bytes (100 of data), its whole checksum right, cut into a first
/// fragment of 48 bytes of UDP and the rest: (first fragment, rest of the segment).
fn udp_first_fragment(ck_zero: bool) -> (Vec<u8>, Vec<u8>) {
    let data: Vec<u8> = (0..100u8).collect();
    let whole = ipv4_header([10, 0, 0, 1], [10, 0, 0, 2], 17, 0, 108);
    let mut seg = udp_segment(&whole, 4000, 53, &data);
    if ck_zero {
        seg[6..8].copy_from_slice(&[0, 0]);
    }
    assert_eq!(&seg[4..6], &[0, 108]);
    let first = ipv4_header([10, 0, 0, 1], [10, 0, 0, 2], 17, 0x2000, 48);
    ([first, seg[..48].to_vec()].concat(), seg[48..].to_vec())
}

/// The same TCP segment (20-byte header, 60 bytes of data) as a first fragment of 48
/// bytes, over IPv4.
fn tcp_first_fragment() -> (Vec<u8>, Vec<u8>) {
    let data: Vec<u8> = (0..60u8).map(|b| b.wrapping_mul(7)).collect();
    let whole = ipv4_header([10, 0, 0, 1], [10, 0, 0, 2], 6, 0, 80);
    let seg = tcp_segment(&whole, 1234, 80, &data);
    let first = ipv4_header([10, 0, 0, 1], [10, 0, 0, 2], 6, 0x2000, 48);
    ([first, seg[..48].to_vec()].concat(), seg[48..].to_vec())
}

/// Does the datagram reassembled from the sent first fragment `sent` (a raw IPv4
/// packet) and the unchanged `rest` have a right transport checksum?
fn reassembled_verifies(sent: &[u8], rest: &[u8]) -> bool {
    let hl = usize::from(sent[0] & 0xf) * 4;
    let seg = [&sent[hl..], rest].concat();
    verifies(&sent[..hl], sent[9], &seg)
}

/// A first fragment forwarded as `ip*blob` keeps its transport header as it came: the
/// UDP length still counts the whole datagram (108, not 48) and the checksum is still
/// the whole datagram's (it was recomputed over the fragment alone).
#[test]
fn a_first_udp_fragment_forwarded_as_ip_blob_keeps_its_udp_header() {
    let (frag, rest) = udp_first_fragment(false);
    let mut n = node(
        "channel network(ps : unit, ss : unit, p : ip*blob) is
           (OnRemote(network, (ipTtlSet(#1 p, 63), #2 p)); (ps, ss))",
    );
    let o = run(&mut n, LinkType::RAW, &frag);
    let out = one_frame(&o);
    assert_eq!(out[8], 63);
    assert_eq!(&out[20..], &frag[20..], "the UDP header and data are sent as they came");
    assert!(reassembled_verifies(out, &rest));
    assert_eq!(fold_sum(&out[..20], 0), 0xffff, "the IP header checksum is right");
}

/// Changing the addresses (in the pseudo-header) or the ports of a first fragment
/// updates the transport checksum for the whole datagram (RFC 1624), from the one it
/// had; the UDP length stays the datagram's.
#[test]
fn a_rewritten_first_fragment_gets_the_whole_datagrams_checksum() {
    let programs = [
        // ip*blob, new destination address.
        "channel network(ps : unit, ss : unit, p : ip*blob) is
           (OnRemote(network, (ipDstSet(#1 p, hostOfInt(0x0a000063)), #2 p)); (ps, ss))",
        // ip*blob, a port changed by hand inside the blob, and a new source.
        "channel network(ps : unit, ss : unit, p : ip*blob) is
           (OnRemote(network, (ipSrcSet(#1 p, hostOfInt(0x0b000001)), setByte(#2 p, 3, 99))); (ps, ss))",
    ];
    for src in programs {
        for (frag, rest) in [udp_first_fragment(false), tcp_first_fragment()] {
            let mut n = node(src);
            let o = run(&mut n, LinkType::RAW, &frag);
            let out = one_frame(&o);
            assert_ne!(&out[12..20], &frag[12..20]);
            if frag[9] == 17 {
                assert_eq!(&out[24..26], &[0, 108], "the UDP length is the datagram's");
            }
            assert!(reassembled_verifies(out, &rest), "{src}: proto {}", frag[9]);
        }
    }
    // A TCP first fragment matches `ip*tcp*blob`: its header changed by the setters.
    let mut n = node(
        "channel network(ps : unit, ss : unit, p : ip*tcp*blob) is
           (OnRemote(network, (ipDstSet(#1 p, hostOfInt(0x0a000063)), tcpDstSet(tcpSeqSet(#2 p, 77), 8080), #3 p)); (ps, ss))",
    );
    let (frag, rest) = tcp_first_fragment();
    let o = run(&mut n, LinkType::RAW, &frag);
    let out = one_frame(&o);
    assert_eq!(&out[22..24], &8080u16.to_be_bytes());
    assert!(reassembled_verifies(out, &rest), "ip*tcp*blob first fragment");
    // Forwarded unchanged, it is the input (a TCP checksum of 0xffff is not turned into
    // the equivalent 0).
    let mut n = node("channel network(ps : unit, ss : unit, p : ip*tcp*blob) is (OnRemote(network, p); (ps, ss))");
    let o = run(&mut n, LinkType::RAW, &frag);
    assert_eq!(one_frame(&o), &frag[..]);
}

/// A UDP first fragment without a checksum (0, over IPv4) keeps 0 when rewritten; a
/// later fragment is sent with its payload as it came.
#[test]
fn fragments_without_checksum_and_later_fragments() {
    let (frag, _) = udp_first_fragment(true);
    let mut n = node(
        "channel network(ps : unit, ss : unit, p : ip*blob) is
           (OnRemote(network, (ipDstSet(#1 p, hostOfInt(0x0a000063)), setByte(#2 p, 1, 1))); (ps, ss))",
    );
    let out = run(&mut n, LinkType::RAW, &frag).frames.remove(0);
    assert_eq!((&out[24..26], &out[26..28]), (&[0, 108][..], &[0, 0][..]));
    // A later fragment whose bytes look like a UDP header: not touched.
    let mut n = node(
        "channel network(ps : unit, ss : unit, p : ip*blob) is
           (OnRemote(network, (ipDstSet(#1 p, hostOfInt(0x0a000063)), #2 p)); (ps, ss))",
    );
    let mut later = ipv4_header([10, 0, 0, 1], [10, 0, 0, 2], 17, 6, 16);
    later.extend([0xaa, 0xbb, 0xcc, 0xdd, 0, 99, 0x12, 0x34, 1, 2, 3, 4, 5, 6, 7, 8]);
    let out = run(&mut n, LinkType::RAW, &later).frames.remove(0);
    assert_eq!(&out[20..], &later[20..]);
}

/// IPv6: a first fragment (fragment header with offset 0 and M set) keeps the whole
/// datagram's checksum, updated when the addresses change.
#[test]
fn an_ipv6_first_fragment_keeps_the_datagrams_checksum() {
    let data: Vec<u8> = (0..100u8).collect();
    let whole = ipv6_header(17, &[], 108);
    let seg = udp_segment(&whole, 4000, 53, &data);
    let frag_hdr = [17, 0, 0, 1, 0, 0, 0, 42]; // offset 0, M set, id 42
    let first = [ipv6_header(44, &frag_hdr, 48), seg[..48].to_vec()].concat();
    let rest = &seg[48..];
    for src in [
        "channel network(ps : unit, ss : unit, p : ip6*blob) is (OnRemote(network, (ip6HopLimitSet(#1 p, 1), #2 p)); (ps, ss))",
        "channel network(ps : unit, ss : unit, p : ip6*blob) is
           (OnRemote(network, (ip6DstSet(#1 p, ip6Src(#1 p)), #2 p)); (ps, ss))",
    ] {
        let mut n = node(src);
        let out = run(&mut n, LinkType::RAW, &first).frames.remove(0);
        assert_eq!(&out[52..54], &[0, 108], "the UDP length is the datagram's");
        let reassembled = [&out[48..], rest].concat();
        assert!(verifies(&out[..40], 17, &reassembled), "{src}");
    }
}

/// A user-channel packet that is a first fragment carries only the start of the value:
/// no user channel takes it (the node does not reassemble), it is an ordinary packet.
#[test]
fn a_first_fragment_is_no_user_channel_packet() {
    let mut n = node("channel c(ps : unit, ss : int, p : int) is (ps, ss + p)");
    let whole = encap::packet(0x0a00_0001, 0x0a00_0002, "c", 0, &5i64.to_be_bytes());
    let o = n.process(LinkType::RAW, &whole, 1);
    assert_eq!(o.channel, Some(0), "the whole packet is the channel's");
    let mut first = whole.clone();
    first[6] |= 0x20; // more fragments
    first[10..12].copy_from_slice(&[0, 0]);
    let c = !fold_sum(&first[..20], 0);
    first[10..12].copy_from_slice(&c.to_be_bytes());
    let o = n.process(LinkType::RAW, &first, 2);
    assert_eq!((o.channel, o.pass_through), (None, true), "a first fragment is not");
}

// ----- UDP checksums of 0 ----------------------------------------------------------------

/// Over IPv6 a UDP checksum of 0 is not "no checksum" (it is not allowed): a forwarded
/// packet gets a computed checksum, not one updated from 0.
#[test]
fn ipv6_udp_zero_checksum_is_computed() {
    let mut pkt = ipv6_udp(b"some data");
    pkt[46..48].copy_from_slice(&[0, 0]);
    for src in [
        "channel network(ps : unit, ss : unit, p : ip6*udp*blob) is (OnRemote(network, (#1 p, udpSrcSet(#2 p, 53), #3 p)); (ps, ss))",
        "channel network(ps : unit, ss : unit, p : ip6*udp*blob) is (OnRemote(network, p); (ps, ss))",
        "channel network(ps : unit, ss : unit, p : ip6*blob) is (OnRemote(network, p); (ps, ss))",
    ] {
        let mut n = node(src);
        let out = run(&mut n, LinkType::RAW, &pkt).frames.remove(0);
        assert_ne!(&out[46..48], &[0, 0], "{src}");
        assert!(verifies(&out[..40], 17, &out[40..]), "{src}");
    }
}

/// Over IPv4 a UDP checksum of 0 means "none" and stays 0 through rewrites.
#[test]
fn ipv4_udp_zero_checksum_stays_zero() {
    let h = ipv4_header([10, 0, 0, 1], [10, 0, 0, 2], 17, 0, 12);
    let mut pkt = [h.clone(), udp_segment(&h, 1, 2, b"abcd")].concat();
    pkt[26..28].copy_from_slice(&[0, 0]);
    for src in [
        "channel network(ps : unit, ss : unit, p : ip*udp*blob) is (OnRemote(network, (ipDstSet(#1 p, hostOfInt(9)), udpSrcSet(#2 p, 53), #3 p)); (ps, ss))",
        "channel network(ps : unit, ss : unit, p : ip*udp*blob) is (OnRemote(network, p); (ps, ss))",
        "channel network(ps : unit, ss : unit, p : ip*blob) is (OnRemote(network, (ipDstSet(#1 p, hostOfInt(9)), #2 p)); (ps, ss))",
    ] {
        let mut n = node(src);
        let out = run(&mut n, LinkType::RAW, &pkt).frames.remove(0);
        assert_eq!(&out[26..28], &[0, 0], "{src}");
    }
}

// ----- lengths beyond 65535 --------------------------------------------------------------

/// A UDP datagram over 65535 bytes (an IPv6 jumbogram, or segmentation offload) has a
/// UDP length of 0 when sent, as RFC 2675 says, like the IP length fields; its checksum
/// covers it all.
#[test]
fn udp_lengths_beyond_65535_are_zero() {
    let data = vec![0x5a; 70_000];
    let h = ipv6_header(17, &[], 8 + data.len());
    assert_eq!(&h[4..6], &[0, 0]);
    let pkt = [h.clone(), udp_segment(&h, 1, 2, &data)].concat();
    assert_eq!(&pkt[44..46], &[0, 0]);
    let mut n = node(
        "channel network(ps : unit, ss : unit, p : ip6*udp*blob) is (OnRemote(network, (#1 p, udpSrcSet(#2 p, 9), #3 p)); (ps, ss))",
    );
    let out = run(&mut n, LinkType::RAW, &pkt).frames.remove(0);
    assert_eq!((&out[4..6], &out[44..46]), (&[0, 0][..], &[0, 0][..]), "IPv6 payload length and UDP length");
    assert!(verifies(&out[..40], 17, &out[40..]));
}
