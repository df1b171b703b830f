//! One-line descriptions of frames, and the fields that differ between two frames: what
//! `planp run --trace` and the REPL's `:pcap` print for each packet.

use super::link::{self, LinkType, Net};
use super::{ipv4_shape, ipv6_shape};
use planp_primitives::bytes::get;
use planp_primitives::ip6::format_addr;
use planp_primitives::value::format_host;
use std::fmt::Write as _;

/// The fields of a frame that a trace shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields {
    /// (name, value) pairs in a fixed order.
    pub fields: Vec<(&'static str, String)>,
}

impl Fields {
    /// The value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// Decode the fields of a frame: IP version, addresses, TTL or hop limit, protocol,
/// ports, TCP flags, and payload length.
pub fn fields(lt: LinkType, frame: &[u8]) -> Fields {
    let mut f = Vec::new();
    let d = link::decode(lt, frame);
    let Some(net) = frame.get(d.link_len..d.net_end) else { return Fields { fields: f } };
    let (shape, proto) = match d.net {
        Net::Ipv4 => match ipv4_shape(net, true) {
            Some(s) => {
                f.push(("ip.src", format_host(get(net, 12, 4) as u32)));
                f.push(("ip.dst", format_host(get(net, 16, 4) as u32)));
                f.push(("ip.ttl", get(net, 8, 1).to_string()));
                (s, s.proto)
            }
            None => return Fields { fields: vec![("ip", "malformed".into())] },
        },
        Net::Ipv6 => match ipv6_shape(net, true) {
            Some(s) => {
                f.push(("ip6.src", format_addr(&net[8..24])));
                f.push(("ip6.dst", format_addr(&net[24..40])));
                f.push(("ip6.hlim", get(net, 7, 1).to_string()));
                (s, s.proto)
            }
            None => return Fields { fields: vec![("ip6", "malformed".into())] },
        },
        Net::Other => return Fields { fields: f },
    };
    let seg = &net[shape.header_len..shape.total_len];
    match proto {
        6 if !shape.fragment && seg.len() >= 20 => {
            f.push(("tcp.src", get(seg, 0, 2).to_string()));
            f.push(("tcp.dst", get(seg, 2, 2).to_string()));
            f.push(("tcp.flags", format!("{:#05x}", get(seg, 12, 2) & 0xfff)));
            let hl = ((seg[12] >> 4) as usize * 4).min(seg.len());
            f.push(("payload", (seg.len() - hl).to_string()));
        }
        17 if !shape.fragment && seg.len() >= 8 => {
            f.push(("udp.src", get(seg, 0, 2).to_string()));
            f.push(("udp.dst", get(seg, 2, 2).to_string()));
            f.push(("payload", (seg.len() - 8).to_string()));
        }
        p => {
            f.push(("proto", p.to_string()));
            f.push(("payload", seg.len().to_string()));
        }
    }
    Fields { fields: f }
}

/// `ip 10.0.0.1 > 10.0.0.2 ttl 64 tcp 1234 > 80 flags 0x018 payload 5`.
pub fn summary(f: &Fields) -> String {
    let mut s = String::new();
    let g = |n: &str| f.get(n).unwrap_or("?").to_string();
    if f.get("ip.src").is_some() {
        let _ = write!(s, "ip {} > {} ttl {}", g("ip.src"), g("ip.dst"), g("ip.ttl"));
    } else if f.get("ip6.src").is_some() {
        let _ = write!(s, "ip6 {} > {} hlim {}", g("ip6.src"), g("ip6.dst"), g("ip6.hlim"));
    } else if f.fields.is_empty() {
        return "not IP".into();
    } else {
        return f.fields.iter().map(|(n, v)| format!("{n} {v}")).collect::<Vec<_>>().join(" ");
    }
    if f.get("tcp.src").is_some() {
        let _ = write!(s, " tcp {} > {} flags {}", g("tcp.src"), g("tcp.dst"), g("tcp.flags"));
    } else if f.get("udp.src").is_some() {
        let _ = write!(s, " udp {} > {}", g("udp.src"), g("udp.dst"));
    } else if let Some(p) = f.get("proto") {
        let _ = write!(s, " proto {p}");
    }
    let _ = write!(s, " payload {}", g("payload"));
    s
}

/// The fields whose values differ between `before` and `after`, as
/// `name old->new`; fields present in only one are shown with `-`.
pub fn changes(before: &Fields, after: &Fields) -> Vec<String> {
    let mut out = Vec::new();
    let mut names: Vec<&str> = before.fields.iter().map(|(n, _)| *n).collect();
    for (n, _) in &after.fields {
        if !names.contains(n) {
            names.push(n);
        }
    }
    for n in names {
        let (a, b) = (before.get(n), after.get(n));
        if a != b {
            out.push(format!("{n} {}->{}", a.unwrap_or("-"), b.unwrap_or("-")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_fields_are_named() {
        let a = crate::packet::tests::tcp_packet([10, 0, 0, 1], [10, 0, 0, 2], 1234, 80, b"x");
        let b = crate::packet::tests::tcp_packet([10, 0, 0, 1], [10, 0, 0, 9], 1234, 8080, b"x");
        let (fa, fb) = (fields(LinkType::RAW, &a), fields(LinkType::RAW, &b));
        assert_eq!(changes(&fa, &fb), vec!["ip.dst 10.0.0.2->10.0.0.9", "tcp.dst 80->8080"]);
        assert_eq!(summary(&fa), "ip 10.0.0.1 > 10.0.0.2 ttl 64 tcp 1234 > 80 flags 0x018 payload 1");
    }
}
