//! Our header parsing agrees with tshark's dissection of the 100 captures of tcpdump's
//! test suite: `testdata/pcaps/truth/NAME.tsv` holds tshark's reading of each packet
//! (`testdata/pcaps/oracle.sh`), and `tests/oracle/fields.planp` reads the same fields
//! with PLAN-P's primitives. Every packet is compared, field by field.
//!
//! Where tshark's conventions differ from ours, the difference is stated as a rule
//! below, with its reason; nothing else may differ.

use planp_interp::capture::Reader;
use planp_interp::packet::link::{self, Net};
use planp_interp::{LinkType, Node, NodeConfig};
use planp_primitives::Effect;
use std::path::Path;

const COLUMNS: [&str; 20] = [
    "frame.number",
    "frame.len",
    "frame.cap_len",
    "eth.type",
    "ip.src",
    "ip.dst",
    "ip.proto",
    "ip.ttl",
    "ip.len",
    "ipv6.src",
    "ipv6.dst",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.seq_raw",
    "tcp.ack_raw",
    "tcp.flags",
    "tcp.len",
    "udp.srcport",
    "udp.dstport",
    "udp.length",
];

fn col(name: &str) -> usize {
    COLUMNS.iter().position(|c| *c == name).unwrap()
}

/// Our row for one packet: frame columns from the capture, the rest from what the
/// program printed (decimal), with eth.type and tcp.flags written as tshark does; and
/// the protocol the outer IP header announces (the program's last column).
fn our_row(n: usize, orig_len: u32, cap_len: usize, printed: &str) -> (Vec<String>, Option<u64>) {
    let mut row = vec![n.to_string(), orig_len.to_string(), cap_len.to_string()];
    let mut fields: Vec<String> = if printed.is_empty() {
        vec![String::new(); 18]
    } else {
        printed.trim_end_matches('\n').split('\t').map(str::to_string).collect()
    };
    assert_eq!(fields.len(), 18, "{printed:?}");
    let proto = fields.pop().and_then(|p| p.parse().ok());
    row.extend(fields);
    for c in ["eth.type", "tcp.flags"] {
        let i = col(c);
        if let Ok(v) = row[i].parse::<u64>() {
            row[i] = format!("{v:#06x}");
        }
    }
    (row, proto)
}

/// What is wrong with the IP packet of a frame, if anything, by the rules of
/// `docs/packets.md` restated here: tshark shows what it can of a malformed or cut-off
/// header, but a PLAN-P packet type matches only well-formed headers (a packet cut short
/// by the capture's snapshot length is well formed as far as it goes).
fn malformation(frame: &[u8], link: LinkType, cut_by_capture: bool) -> Option<&'static str> {
    let d = link::decode(link, frame);
    let net = frame.get(d.link_len..d.net_end)?;
    let be16 = |b: &[u8], o: usize| b.get(o..o + 2).map(|x| u16::from_be_bytes([x[0], x[1]]) as usize);
    let (hl, total, proto, later_fragment) = match d.net {
        Net::Ipv4 => {
            if net.len() < 20 || (net[0] & 15) as usize * 4 > net.len() {
                return Some("IP header cut short");
            }
            let hl = (net[0] & 15) as usize * 4;
            let total = match be16(net, 2)? {
                0 => net.len(),
                t if t > net.len() && !cut_by_capture => {
                    return Some("IP length beyond a frame the capture did not cut");
                }
                t if t < hl => return Some("IP length smaller than its header"),
                t => t.min(net.len()),
            };
            (hl, total, net[9], be16(net, 6)? & 0x1fff != 0)
        }
        Net::Ipv6 => {
            if net.len() < 40 {
                return Some("IPv6 header cut short");
            }
            let total = match be16(net, 4)? {
                0 => return Some("IPv6 payload length 0: tshark 4.0 marks the TCP part malformed"),
                p if p + 40 > net.len() && !cut_by_capture => {
                    return Some("IPv6 length beyond a frame the capture did not cut");
                }
                p => (p + 40).min(net.len()),
            };
            // Extension headers (hop-by-hop, routing, fragment, destination options,
            // authentication, mobility, HIP, shim6) must fit in the packet.
            let (mut off, mut next, mut later) = (40usize, net[6], false);
            while matches!(next, 0 | 43 | 44 | 51 | 60 | 135 | 139 | 140) {
                if off + 8 > total {
                    return Some("IPv6 extension headers cut short or malformed");
                }
                let len = match next {
                    44 => {
                        later |= be16(net, off + 2)? & 0xfff8 != 0;
                        8
                    }
                    51 => (net[off + 1] as usize + 2) * 4,
                    _ => (net[off + 1] as usize + 1) * 8,
                };
                next = net[off];
                off += len;
                if off > total {
                    return Some("IPv6 extension headers cut short or malformed");
                }
            }
            (off, total, next, later)
        }
        Net::Other => return None,
    };
    let seg = net.get(hl..total)?;
    match proto {
        6 if !later_fragment && (seg.len() < 20 || (seg[12] >> 4) as usize * 4 > seg.len() || seg[12] >> 4 < 5) => {
            Some("TCP header cut short or malformed")
        }
        17 if !later_fragment => match be16(seg, 4) {
            None => Some("UDP header cut short"),
            Some(l) if l != 0 && (l < 8 || (l > seg.len() && !cut_by_capture)) => Some("UDP length malformed"),
            _ => None,
        },
        _ => None,
    }
}

/// Is the frame's IPv4 packet a fragment other than the first?
fn later_fragment(frame: &[u8], link: LinkType) -> bool {
    let d = link::decode(link, frame);
    let net = frame.get(d.link_len..d.net_end).unwrap_or(&[]);
    d.net == Net::Ipv4 && net.len() >= 8 && u16::from_be_bytes([net[6], net[7]]) & 0x1fff != 0
}

/// Where tshark's conventions differ from what PLAN-P's primitives read, by design. Each
/// rule names the columns it lets differ and says why; `ours` and `theirs` are the rows,
/// `proto` the outer protocol announced by the IP header.
fn allowed(
    c: &str,
    ours: &[String],
    theirs: &[&str],
    proto: Option<u64>,
    p: &planp_interp::capture::Packet,
) -> Option<&'static str> {
    let get = |name: &str| ours[col(name)].as_str();
    let has_v4 = !get("ip.src").is_empty();
    let has_v6 = !get("ipv6.src").is_empty();
    let t = |name: &str| theirs.get(col(name)).copied().unwrap_or("");
    // Only a field present on one side and absent on the other can be excused: two
    // different values are always a mismatch. (802.3 frames are the one exception: the
    // value is there, but tshark files it under another name.)
    let one_sided = get(c).is_empty() != t(c).is_empty();
    if !one_sided {
        return None;
    }
    // A malformed or cut-off header: tshark shows its fields, our types do not match it.
    if let Some(why) = malformation(&p.data, p.link, p.orig_len as usize > p.data.len()) {
        return Some(why);
    }
    // tshark reassembles IP fragments and shows the datagram's transport header on the
    // fragment that completes it; `udp`/`tcp` types match the first fragment only.
    if (c.starts_with("udp.") || c.starts_with("tcp.")) && get(c).is_empty() && later_fragment(&p.data, p.link) {
        return Some("transport header of a reassembled datagram");
    }
    // tshark prints the first occurrence of each field. When the outer packet carries
    // another packet (ICMP errors, GRE, Geneve, VXLAN, PIM registers, sFlow samples,
    // OpenFlow packet-ins), the first TCP or UDP header it sees is the inner one.
    if c.starts_with("tcp.") && proto != Some(6) && (has_v4 || has_v6) {
        return Some("tcp fields of an encapsulated packet");
    }
    if c.starts_with("udp.") && proto != Some(17) && (has_v4 || has_v6) {
        return Some("udp fields of an encapsulated packet");
    }
    // Likewise an IPv4 packet inside IPv6, or IPv6 inside IPv4.
    if c.starts_with("ip.") && has_v6 && !has_v4 && get(c).is_empty() {
        return Some("ip fields of an IPv4 packet inside IPv6");
    }
    if c.starts_with("ipv6.") && has_v4 && !has_v6 && get(c).is_empty() {
        return Some("ipv6 fields of an IPv6 packet inside IPv4");
    }
    // 802.3 frames carry a length where Ethernet II frames have their type: `ethType`
    // reads the field, tshark calls it eth.len.
    if c == "eth.type"
        && t(c).is_empty()
        && u64::from_str_radix(get(c).trim_start_matches("0x"), 16).is_ok_and(|v| v < 0x600)
    {
        return Some("802.3 length field");
    }
    // Arista's vendor EtherType 0xd28b adds a timestamp header before the real
    // EtherType; tshark decodes it, PLAN-P's link layer does not (the frame has no IP
    // packet for our types).
    if t("eth.type") == "0xd28b" && get(c).is_empty() {
        return Some("Arista vendor encapsulation");
    }
    None
}

#[test]
fn header_fields_agree_with_tshark() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = std::fs::read_to_string(root.join("tests/oracle/fields.planp")).unwrap();
    let prog = planp_interp::load("fields.planp", &src).unwrap_or_else(|d| panic!("{}", d.render_plain()));
    let corpus = root.join("../testdata/pcaps/corpus");
    let mut names: Vec<String> =
        std::fs::read_dir(&corpus).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    names.sort();
    let mut mismatches = Vec::new();
    let mut differences: std::collections::BTreeMap<&str, u64> = Default::default();
    let (mut packets, mut compared_fields) = (0, 0);
    for name in &names {
        let truth = std::fs::read_to_string(root.join(format!("../testdata/pcaps/truth/{name}.tsv"))).unwrap();
        let truth: Vec<Vec<&str>> = truth.lines().map(|l| l.split('\t').collect()).collect();
        let mut node = Node::new(prog.clone(), NodeConfig::default()).unwrap();
        let mut reader = Reader::open(corpus.join(name)).unwrap();
        let mut n = 0;
        while let Some(Ok(p)) = reader.next() {
            n += 1;
            let o = node.process_captured(p.link, &p.data, p.orig_len as usize, p.ts_ns);
            let printed: String = o
                .effects
                .iter()
                .map(|e| if let Effect::Print(s) = e { String::from_utf8_lossy(s).into_owned() } else { String::new() })
                .collect();
            let (ours, proto) = our_row(n, p.orig_len, p.data.len(), &printed);
            let Some(theirs) = truth.get(n - 1) else {
                mismatches.push(format!("{name} #{n}: not in the truth file"));
                continue;
            };
            packets += 1;
            for (i, c) in COLUMNS.iter().enumerate() {
                let t = theirs.get(i).copied().unwrap_or("");
                compared_fields += 1;
                if ours[i] != t {
                    match allowed(c, &ours, theirs, proto, &p) {
                        Some(why) => *differences.entry(why).or_insert(0) += 1,
                        None => mismatches.push(format!("{name} #{n} {c}: ours {:?} tshark {:?}", ours[i], t)),
                    }
                }
            }
        }
        assert_eq!(n, truth.len(), "{name}: packet count");
    }
    eprintln!("{packets} packets, {compared_fields} fields compared; allowed differences: {differences:?}");
    assert!(
        mismatches.is_empty(),
        "{} mismatches over {packets} packets ({compared_fields} fields):\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
