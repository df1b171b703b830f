//! What a node sends: the frames of rewritten packets, byte for byte, in the cases the
//! packet layer's fix-up has to get right (`docs/packets.md`, "Sending" and "The frames
//! a node sends"): link headers ending in MPLS labels, IP fragments, UDP checksums of 0,
//! IP-level sends caused by non-IP frames, lengths beyond 65535.
//!
//! Every input frame is built here, and checksums are checked with the small
//! implementation below (not the crate's), so a test states the bytes it expects.

use planp_interp::packet::encap;
use planp_interp::packet::link::{self, Net};
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

/// A whole IPv4/TCP packet.
fn ipv4_tcp(src: [u8; 4], dst: [u8; 4], data: &[u8]) -> Vec<u8> {
    let h = ipv4_header(src, dst, 6, 0x4000, 20 + data.len());
    let s = tcp_segment(&h, 1234, 80, data);
    [h, s].concat()
}

/// A whole IPv6/UDP packet (no extension headers).
fn ipv6_udp(data: &[u8]) -> Vec<u8> {
    let h = ipv6_header(17, &[], 8 + data.len());
    let s = udp_segment(&h, 1234, 53, data);
    [h, s].concat()
}

const DST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 2];
const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];

/// An Ethernet header with the given EtherType after the addresses (tags go in `mid`).
fn eth(mid: &[u8], ethertype: u16) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend(DST_MAC);
    f.extend(SRC_MAC);
    f.extend(mid);
    f.extend(ethertype.to_be_bytes());
    f
}

/// An ARP request (Ethernet payload, 28 bytes).
fn arp() -> Vec<u8> {
    let mut a = vec![0, 1, 8, 0, 6, 4, 0, 1];
    a.extend(SRC_MAC);
    a.extend([10, 0, 0, 1]);
    a.extend([0; 6]);
    a.extend([10, 0, 0, 2]);
    a
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

// ----- MPLS label stacks are kept --------------------------------------------------------

/// An MPLS label: 20-bit label, traffic class 0, bottom-of-stack bit, TTL.
fn label(value: u32, bottom: bool, ttl: u8) -> [u8; 4] {
    (value << 12 | u32::from(bottom) << 8 | u32::from(ttl)).to_be_bytes()
}

const REWRITE_TTL: &str = "channel network(ps : unit, ss : unit, p : ip*tcp*blob) is
  (OnRemote(network, (ipTtlSet(#1 p, ipTtl(#1 p) - 1), #2 p, #3 p)); (ps, ss))
channel network(ps : unit, ss : unit, p : ip6*udp*blob) is
  (OnRemote(network, (ip6HopLimitSet(#1 p, 9), #2 p, #3 p)); (ps, ss))";

/// Ethernet and PPP frames whose IP packet sits under an MPLS label stack: a rewritten
/// packet goes out under the same labels, bottom-of-stack bit and TTL included (the
/// bottom label of the review, 0006 4140, used to become 0006 0800).
#[test]
fn mpls_labels_are_kept_under_a_rewritten_packet() {
    let stack = [label(0x12345, false, 255), label(100, true, 64)].concat();
    assert_eq!(&stack[4..], &[0x00, 0x06, 0x41, 0x40]);
    let v4 = ipv4_tcp([10, 0, 0, 1], [10, 0, 0, 2], b"hello");
    let v6 = ipv6_udp(b"dns?");
    let cases = [
        (LinkType::ETHERNET, [eth(&[], 0x8847), stack.clone()].concat()),
        (LinkType::ETHERNET, [eth(&[0x81, 0, 0, 7], 0x8848), stack.clone()].concat()),
        (LinkType::PPP, [vec![0xff, 0x03, 0x02, 0x81], stack.clone()].concat()),
        (LinkType::PPP, [vec![0x02, 0x83], stack.clone()].concat()),
    ];
    for (lt, header) in cases {
        for (pkt, want_net) in [(&v4, Net::Ipv4), (&v6, Net::Ipv6)] {
            let frame = [header.clone(), pkt.clone()].concat();
            let mut n = node(REWRITE_TTL);
            let o = run(&mut n, lt, &frame);
            let out = one_frame(&o);
            assert_eq!(&out[..header.len()], &header[..], "{lt:?}: the link header and its labels are kept");
            let d = link::decode(lt, out);
            assert_eq!((d.link_len, d.net), (header.len(), want_net), "{lt:?}: the frame still carries IP");
            assert_ne!(&out[header.len()..], &pkt[..], "the packet was rewritten");
        }
    }
}

/// A packet of the other IP version sent under labels keeps them too (what follows the
/// bottom label says its version), except an explicit-null bottom label, which names the
/// version (RFC 3032: 0 for IPv4, 2 for IPv6) and follows it.
#[test]
fn mpls_labels_under_a_packet_of_the_other_version() {
    // The first IPv6 packet is kept in the protocol state; an IPv4 packet then sends it.
    let src = "channel network(ps : (ip6*blob) list, ss : unit, p : ip6*blob) is (p :: [], ss)
               channel network(ps : (ip6*blob) list, ss : unit, p : ip*blob) is
                 (OnRemote(network, hd ps); (ps, ss))";
    let v4 = ipv4_tcp([10, 0, 0, 1], [10, 0, 0, 2], b"x");
    let v6 = ipv6_udp(b"y");
    for (bottom, want) in [(100, 100), (0, 2)] {
        let stack = [label(7, false, 9), label(bottom, true, 64)].concat();
        let header = [eth(&[], 0x8847), stack].concat();
        let mut n = node(src);
        run(&mut n, LinkType::ETHERNET, &[header.clone(), v6.clone()].concat());
        let o = run(&mut n, LinkType::ETHERNET, &[header.clone(), v4.clone()].concat());
        let out = one_frame(&o);
        let want_header = [eth(&[], 0x8847), label(7, false, 9).to_vec(), label(want, true, 64).to_vec()].concat();
        assert_eq!(&out[..want_header.len()], &want_header[..], "bottom label {bottom}");
        assert_eq!(&out[want_header.len()..], &v6[..], "the IPv6 packet follows the labels");
        assert_eq!(link::decode(LinkType::ETHERNET, out).net, Net::Ipv6);
    }
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

/// A user-channel packet ends at its UDP length, as a UDP datagram does in matching:
/// bytes after it inside the IP packet are not part of the value.
#[test]
fn a_user_channel_value_ends_at_the_udp_length() {
    let mut n = node("channel c(ps : unit, ss : int, p : int) is (ps, ss + p)");
    let mut pkt = encap::packet(0x0a00_0001, 0x0a00_0002, "c", 0, &5i64.to_be_bytes());
    pkt.push(0xee); // inside the IP packet, after the UDP datagram
    let total = pkt.len() as u16;
    pkt[2..4].copy_from_slice(&total.to_be_bytes());
    pkt[10..12].copy_from_slice(&[0, 0]);
    let c = !fold_sum(&pkt[..20], 0);
    pkt[10..12].copy_from_slice(&c.to_be_bytes());
    let o = n.process(LinkType::RAW, &pkt, 1);
    assert_eq!(o.channel, Some(0));
    assert_eq!(n.channel_state(0), 5);
    // A UDP length beyond the IP packet: not a channel packet.
    pkt[24..26].copy_from_slice(&200u16.to_be_bytes());
    assert_eq!(n.process(LinkType::RAW, &pkt, 2).channel, None);
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

// ----- IP-level sends caused by non-IP Ethernet frames -----------------------------------

/// An `eth*blob` channel that takes an ARP frame and sends an IP-level packet (a
/// user-channel packet, or an IP packet kept from before) writes an Ethernet frame: the
/// taken frame's addresses and VLAN tags, and the EtherType of the packet's version.
#[test]
fn ip_sends_caused_by_a_non_ip_ethernet_frame_get_an_ethernet_header() {
    let src = "channel audit(ps : (ip*blob) list * (ip6*blob) list, ss : int, p : int) is (ps, ss + p)
               channel network(ps : (ip*blob) list * (ip6*blob) list, ss : unit, p : ip*blob) is ((p :: [], #2 ps), ss)
               channel network(ps : (ip*blob) list * (ip6*blob) list, ss : unit, p : ip6*blob) is ((#1 ps, p :: []), ss)
               channel network(ps : (ip*blob) list * (ip6*blob) list, ss : unit, p : eth*blob) is
                 (OnRemote(audit, 7); OnRemote(network, hd (#1 ps)); OnRemote(network, hd (#2 ps)); (ps, ss))";
    let v4 = ipv4_tcp([10, 0, 0, 1], [10, 0, 0, 2], b"kept");
    let v6 = ipv6_udp(b"kept");
    let mpls_non_ip = [label(16, true, 64).to_vec(), vec![0, 0, 0, 0], vec![0xee; 20]].concat();
    for (mid, ethertype, payload) in [
        (vec![], 0x0806, arp()),
        (vec![0x81, 0x00, 0, 5], 0x0806, arp()),
        (vec![0x88, 0xa8, 0, 1, 0x81, 0x00, 0, 2], 0x88cc, vec![2, 7, 4, 0, 0, 0, 0, 0, 0, 0]),
        (vec![], 0x8847, mpls_non_ip.clone()), // an MPLS frame that carries no IP
        (vec![], 0x0050, vec![0x42; 80]),      // an 802.3 frame (a length, not an EtherType)
    ] {
        let mut n = node(src);
        run(&mut n, LinkType::ETHERNET, &[eth(&[], 0x0800), v4.clone()].concat());
        run(&mut n, LinkType::ETHERNET, &[eth(&[], 0x86dd), v6.clone()].concat());
        let frame = [eth(&mid, ethertype), payload].concat();
        let o = run(&mut n, LinkType::ETHERNET, &frame);
        assert_eq!(o.frames.len(), 3);
        let header4 = eth(&mid, 0x0800);
        let header6 = eth(&mid, 0x86dd);
        for (out, header, net) in [
            (&o.frames[0], &header4, Net::Ipv4),
            (&o.frames[1], &header4, Net::Ipv4),
            (&o.frames[2], &header6, Net::Ipv6),
        ] {
            assert_eq!(&out[..header.len()], &header[..], "ethertype {ethertype:#06x}: an Ethernet header");
            let d = link::decode(LinkType::ETHERNET, out);
            assert_eq!((d.link_len, d.net), (header.len(), net));
        }
        let user = &o.frames[0][header4.len()..];
        let c = encap::parse(&user[28..]).expect("a user-channel packet");
        assert_eq!((c.channel, c.value), ("audit", &7i64.to_be_bytes()[..]));
        assert_eq!(&o.frames[1][header4.len()..], &v4[..]);
        assert_eq!(&o.frames[2][header6.len()..], &v6[..]);
    }
}

/// An Ethernet-level packet sent while processing a frame of another link type (here,
/// kept from an Ethernet frame of an earlier interface) goes out as the IP packet after
/// its Ethernet header; when what follows the header is not an IP packet (ARP), nothing
/// is sent: it cannot be put in a raw IP frame.
#[test]
fn ethernet_level_packets_on_a_raw_capture() {
    let src = "channel network(ps : (eth*blob) list, ss : unit, p : eth*blob) is (p :: [], ss)
               channel network(ps : (eth*blob) list, ss : unit, p : ip*blob) is (OnRemote(network, hd ps); (ps, ss))";
    let v4 = ipv4_tcp([10, 0, 0, 1], [10, 0, 0, 2], b"kept");
    for (frame, want) in [
        ([eth(&[], 0x0806), arp()].concat(), vec![]),
        ([eth(&[0x81, 0, 0, 3], 0x0800), v4.clone()].concat(), vec![v4.clone()]),
    ] {
        let mut n = node(src);
        run(&mut n, LinkType::ETHERNET, &frame);
        let o = run(&mut n, LinkType::RAW, &ipv4_tcp([10, 0, 0, 3], [10, 0, 0, 4], b"go"));
        assert_eq!(o.frames, want);
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

/// A user-channel value too big for 16-bit lengths goes out with IPv4 total length 0 and
/// UDP length 0 ("the captured bytes"), and a node reading that frame runs the channel
/// with the whole value.
#[test]
fn big_user_channel_packets_have_zero_lengths() {
    let src = "channel big(ps : unit, ss : int, p : blob) is (ps, ss + size(p))
               channel network(ps : unit, ss : unit, p : ip*tcp*blob) is (OnRemote(big, makeBlob(70000, 1)); (ps, ss))";
    let mut n = node(src);
    let out = run(&mut n, LinkType::RAW, &ipv4_tcp([10, 0, 0, 1], [10, 0, 0, 2], b"go")).frames.remove(0);
    assert!(out.len() > 70_000);
    assert_eq!((&out[2..4], &out[24..26]), (&[0, 0][..], &[0, 0][..]), "IPv4 total length and UDP length");
    assert!(verifies(&out[..20], 17, &out[20..]));
    let o = n.process(LinkType::RAW, &out, 2_000_000_000);
    assert_eq!(o.channel, Some(0), "the big channel takes it");
    assert_eq!(n.channel_state(0), 70_000, "the whole value arrived");
}

// ----- tshark's reading of the same frames -----------------------------------------------

/// The frames of the cases above, written to a capture and read by tshark, an
/// independent dissector: what it reassembles and checks agrees. Needs tshark, like
/// `planp-repl/tests/tshark.rs` (`PLANP_SKIP_TSHARK=1` skips it).
mod tshark {
    use super::*;
    use std::path::Path;
    use std::process::Command;

    fn have_tshark() -> bool {
        if Command::new("tshark").arg("--version").output().is_ok_and(|o| o.status.success()) {
            return true;
        }
        if std::env::var_os("PLANP_SKIP_TSHARK").is_some() {
            eprintln!("tshark is not installed: skipped (PLANP_SKIP_TSHARK is set)");
            return false;
        }
        panic!("this test needs tshark: `apt-get install tshark` (or set PLANP_SKIP_TSHARK=1 to skip it)");
    }

    /// The frames `src` sends for `frames`, written to a pcap file, which is removed when
    /// the returned path is dropped.
    fn sent(name: &str, src: &str, lt: LinkType, frames: &[Vec<u8>]) -> tempfile::TempPath {
        let suffix = format!("-{name}");
        let path =
            tempfile::Builder::new().prefix("planp-sending").suffix(&suffix).tempfile().unwrap().into_temp_path();
        let mut n = node(src);
        let mut w = planp_interp::capture::Writer::create(&path, lt, false).unwrap();
        for (i, f) in frames.iter().enumerate() {
            for out in n.process(lt, f, 1).frames {
                w.write(1_000_000_000 + i as u64, &out, out.len() as u32).unwrap();
            }
        }
        w.finish().unwrap();
        path
    }

    /// One row per frame: the protocol stack, then the fields (their last occurrence),
    /// checksum checks on.
    fn read(path: &Path, fields: &[&str]) -> Vec<Vec<String>> {
        let mut cmd = Command::new("tshark");
        cmd.args(["-n", "-r", path.to_str().unwrap()]);
        for o in ["ip.check_checksum:TRUE", "tcp.check_checksum:TRUE", "udp.check_checksum:TRUE"] {
            cmd.args(["-o", o]);
        }
        cmd.args(["-T", "fields", "-E", "separator=/t", "-E", "occurrence=l", "-e", "frame.protocols"]);
        for f in fields {
            cmd.args(["-e", f]);
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "tshark failed: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).lines().map(|l| l.split('\t').map(str::to_string).collect()).collect()
    }

    const CHECKS: [&str; 3] = ["ip.checksum.status", "tcp.checksum.status", "udp.checksum.status"];

    /// No checksum tshark checked is bad (status 0); returns how many it found good.
    fn good_checksums(rows: &[Vec<String>], from: usize) -> usize {
        let mut good = 0;
        for r in rows {
            for s in &r[from..] {
                assert_ne!(s, "0", "a bad checksum: {r:?}");
                good += usize::from(s == "1");
            }
        }
        good
    }

    #[test]
    fn tshark_reads_the_sent_frames() {
        if !have_tshark() {
            return;
        }
        // MPLS: the bottom-of-stack bit is still there and the packet under it decodes.
        let stack = [label(0x12345, false, 255), label(100, true, 64)].concat();
        let v4 = ipv4_tcp([10, 0, 0, 1], [10, 0, 0, 2], b"hello");
        let v6 = ipv6_udp(b"data");
        for (lt, head, top) in [
            (LinkType::ETHERNET, eth(&[], 0x8847), "eth:ethertype:mpls"),
            (LinkType::PPP, vec![0xff, 0x03, 0x02, 0x81], "ppp:mpls"),
        ] {
            let frames: Vec<Vec<u8>> =
                [&v4, &v6].iter().map(|p| [head.clone(), stack.clone(), p.to_vec()].concat()).collect();
            let rows = read(
                &sent("mpls.pcap", REWRITE_TTL, lt, &frames),
                &["mpls.bottom", "ip.ttl", CHECKS[0], CHECKS[1], CHECKS[2]],
            );
            assert_eq!(rows.len(), 2);
            assert!(rows[0][0].starts_with(&format!("{top}:ip:tcp")), "{rows:?}");
            assert!(rows[1][0].starts_with(&format!("{top}:ipv6:udp")), "{rows:?}");
            assert_eq!((rows[0][1].as_str(), rows[0][2].as_str()), ("1", "63"), "the last label is the bottom one");
            assert_eq!(good_checksums(&rows, 3), 3, "IPv4 and TCP, UDP over IPv6");
        }
        // Fragments, rewritten (addresses, ports), reassembled by tshark: the transport
        // checksum of each datagram verifies.
        let mut frames = Vec::new();
        for (proto, (first, rest)) in [(17u8, udp_first_fragment(false)), (6, tcp_first_fragment())] {
            let later = [ipv4_header([10, 0, 0, 1], [10, 0, 0, 2], proto, 6, rest.len()), rest].concat();
            frames.extend([first, later]);
        }
        let src = "channel network(ps : unit, ss : unit, p : ip*tcp*blob) is
                     (OnRemote(network, (ipDstSet(#1 p, hostOfInt(0x0a000063)), tcpDstSet(#2 p, 8080), #3 p)); (ps, ss))
                   channel network(ps : unit, ss : unit, p : ip*blob) is
                     (OnRemote(network, (ipDstSet(#1 p, hostOfInt(0x0a000063)),
                                         if ipFragOff(#1 p) = 0 then setByte(#2 p, 1, 1) else #2 p)); (ps, ss))";
        let rows = read(
            &sent("fragments.pcap", src, LinkType::RAW, &frames),
            &["udp.srcport", "tcp.dstport", CHECKS[0], CHECKS[1], CHECKS[2]],
        );
        assert_eq!(rows.len(), 4);
        assert!(rows[1][0].contains("udp") && rows[1][1] == "3841", "reassembled UDP, new port: {rows:?}");
        assert!(rows[3][0].contains("tcp") && rows[3][2] == "8080", "reassembled TCP, new port: {rows:?}");
        assert_eq!(good_checksums(&rows, 3), 6, "four IP headers, the UDP and the TCP datagram");
        // IPv6 fragments with a new destination.
        let data: Vec<u8> = (0..100u8).collect();
        let seg = udp_segment(&ipv6_header(17, &[], 108), 4000, 53, &data);
        let frames = [
            [ipv6_header(44, &[17, 0, 0, 1, 0, 0, 0, 42], 48), seg[..48].to_vec()].concat(),
            [ipv6_header(44, &[17, 0, 0, 48, 0, 0, 0, 42], 60), seg[48..].to_vec()].concat(),
        ];
        let src = "channel network(ps : unit, ss : unit, p : ip6*blob) is
                     (OnRemote(network, (ip6DstSet(#1 p, ip6Src(#1 p)), #2 p)); (ps, ss))";
        let rows = read(&sent("fragments6.pcap", src, LinkType::RAW, &frames), &["ipv6.dst", CHECKS[2]]);
        assert_eq!((rows[1][1].as_str(), rows[1][2].as_str()), ("2001:db8::1", "1"), "{rows:?}");
        // An IPv6 UDP checksum of 0, forwarded: computed.
        let mut pkt = ipv6_udp(b"some data");
        pkt[46..48].copy_from_slice(&[0, 0]);
        let src = "channel network(ps : unit, ss : unit, p : ip6*udp*blob) is
                     (OnRemote(network, (#1 p, udpSrcSet(#2 p, 53), #3 p)); (ps, ss))";
        let rows = read(&sent("zero6.pcap", src, LinkType::RAW, &[pkt]), &[CHECKS[2]]);
        assert_eq!(rows[0][1], "1", "{rows:?}");
        // IP-level sends caused by an ARP frame: Ethernet frames with the VLAN tag.
        let src = "channel audit(ps : (ip*blob) list, ss : int, p : int) is (ps, ss + p)
                   channel network(ps : (ip*blob) list, ss : unit, p : ip*blob) is (p :: [], ss)
                   channel network(ps : (ip*blob) list, ss : unit, p : eth*blob) is
                     (OnRemote(audit, 7); OnRemote(network, hd ps); (ps, ss))";
        let frames = [[eth(&[], 0x0800), v4.clone()].concat(), [eth(&[0x81, 0, 0, 5], 0x0806), arp()].concat()];
        let rows = read(
            &sent("arp.pcap", src, LinkType::ETHERNET, &frames),
            &["udp.dstport", CHECKS[0], CHECKS[1], CHECKS[2]],
        );
        assert_eq!(rows.len(), 2);
        assert!(rows[0][0].starts_with("eth:ethertype:vlan:ethertype:ip:udp") && rows[0][1] == "3324", "{rows:?}");
        assert!(rows[1][0].starts_with("eth:ethertype:vlan:ethertype:ip:tcp"), "{rows:?}");
        assert_eq!(good_checksums(&rows, 2), 4);
    }
}
