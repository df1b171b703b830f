//! How packets of user-defined channels travel between PLAN-P nodes.
//!
//! `OnRemote(c, v)` for a channel `c` other than `network` sends an ordinary UDP/IP
//! packet that any node running a program with channel `c` recognises:
//!
//! ```text
//! IPv4 header   source: the sending node (thisHost); destination: see docs/packets.md
//! UDP header    source and destination port 3324 (IANA "active-net", as PLAN used)
//! payload       "PLNP" (4 bytes)  version 1 (1 byte)  overload (1 byte)
//!               name length n (1 byte)  channel name (n bytes)
//!               the value, in its canonical encoding (primitives/src/value.rs)
//! ```
//!
//! A node receiving such a packet for a channel (and overload) of its program whose
//! packet type decodes the value exactly runs that channel; otherwise the packet is an
//! ordinary UDP packet to its `network` channels.

use super::checksum;

/// The UDP port of PLAN-P channel packets.
pub const PORT: u16 = 3324;
/// The magic bytes at the start of the payload.
pub const MAGIC: &[u8; 4] = b"PLNP";
/// The format version.
pub const VERSION: u8 = 1;

/// A decoded channel packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelPacket<'a> {
    /// The channel's name.
    pub channel: &'a str,
    /// Which overload.
    pub overload: u8,
    /// The encoded value.
    pub value: &'a [u8],
}

/// The UDP payload for a value sent on `channel`/`overload` (names longer than 255
/// bytes are cut: channel names are identifiers, far shorter).
pub fn payload(channel: &str, overload: u32, value: &[u8]) -> Vec<u8> {
    let name = &channel.as_bytes()[..channel.len().min(255)];
    let mut p = Vec::with_capacity(7 + name.len() + value.len());
    p.extend_from_slice(MAGIC);
    p.push(VERSION);
    p.push(overload.min(255) as u8);
    p.push(name.len() as u8);
    p.extend_from_slice(name);
    p.extend_from_slice(value);
    p
}

/// A length field of 16 bits: the length, or 0 when it does not fit (as marshalling
/// writes IP and UDP lengths over 65535: "the bytes there are", RFC 2675 for UDP).
fn len16(n: usize) -> [u8; 2] {
    u16::try_from(n).unwrap_or(0).to_be_bytes()
}

/// An IPv4/UDP packet from `src` to `dst` carrying a channel packet, TTL 64, with
/// correct lengths and checksums (lengths over 65535 are 0).
pub fn packet(src: u32, dst: u32, channel: &str, overload: u32, value: &[u8]) -> Vec<u8> {
    let data = payload(channel, overload, value);
    let total = 28 + data.len();
    let mut p = Vec::with_capacity(total);
    p.extend_from_slice(&[0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0]);
    p[2..4].copy_from_slice(&len16(total));
    p.extend_from_slice(&src.to_be_bytes());
    p.extend_from_slice(&dst.to_be_bytes());
    let c = checksum::finish(checksum::sum(&p, 0));
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(&PORT.to_be_bytes());
    p.extend_from_slice(&PORT.to_be_bytes());
    p.extend_from_slice(&len16(8 + data.len()));
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(&data);
    let mut c = checksum::finish(checksum::sum(&p[20..], checksum::pseudo(&p[..20], 17, p.len() - 20)));
    if c == 0 {
        c = 0xffff;
    }
    p[26..28].copy_from_slice(&c.to_be_bytes());
    p
}

/// Read a channel packet from a UDP payload sent to [`PORT`].
pub fn parse(udp_payload: &[u8]) -> Option<ChannelPacket<'_>> {
    let rest = udp_payload.strip_prefix(MAGIC)?;
    let (&version, rest) = rest.split_first()?;
    let (&overload, rest) = rest.split_first()?;
    let (&n, rest) = rest.split_first()?;
    if version != VERSION {
        return None;
    }
    let (name, value) = rest.split_at_checked(n as usize)?;
    let channel = std::str::from_utf8(name).ok()?;
    Some(ChannelPacket { channel, overload, value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let p = packet(0x0a000001, 0x0a000002, "audit", 2, &[1, 2, 3]);
        assert!(checksum::verifies(&p[..20], 17, &p[20..]));
        let c = parse(&p[28..]).unwrap();
        assert_eq!(c, ChannelPacket { channel: "audit", overload: 2, value: &[1, 2, 3] });
        assert!(parse(b"PLNP").is_none());
        assert!(parse(b"XXXX\x01\x00\x01a").is_none());
    }
}
