//! Internet checksums (RFC 1071): full computation over IPv4, TCP and UDP with their
//! pseudo-headers, and the incremental update of RFC 1624 for a segment whose payload
//! did not change.
//!
//! Written here rather than taken from a crate: the whole job is a 16-bit one's
//! complement sum (ten lines), and the incremental update needs the partial sums, which
//! the header crates do not expose.

use planp_primitives::ip6;

/// The one's complement sum of `data` as big-endian 16-bit words (an odd last byte is
/// padded with zero), added to `acc`, not folded.
///
/// Eight bytes are added at a time, as two 32-bit words: since 2^16 = 1 modulo 0xffff,
/// a 32-bit word counts as the sum of its two halves once folded, and the result is
/// zero exactly when the 16-bit sum is, so [`fold`] gives the same value either way (a
/// test checks it against the word-by-word definition).
pub fn sum(data: &[u8], mut acc: u64) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let x = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        acc += (x >> 32) + (x & 0xffff_ffff);
    }
    let mut pairs = chunks.remainder().chunks_exact(2);
    for c in &mut pairs {
        acc += u16::from_be_bytes([c[0], c[1]]) as u64;
    }
    if let [last] = pairs.remainder() {
        acc += (*last as u64) << 8;
    }
    acc
}

/// Fold a sum to 16 bits.
pub fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The checksum field value for data whose unfolded sum is `acc`.
pub fn finish(acc: u64) -> u16 {
    !fold(acc)
}

/// The pseudo-header sum for a transport segment of `len` bytes with protocol `proto`,
/// from the IPv4 or IPv6 header `ip` (with its IPv6 extension headers). For IPv6 with a
/// routing header that still has segments to visit, the destination is the final one
/// (RFC 8200 section 8.1).
pub fn pseudo(ip: &[u8], proto: u8, len: usize) -> u64 {
    let acc = if ip.first().is_some_and(|b| b >> 4 == 6) {
        sum(ip.get(8..24).unwrap_or(&[]), 0) + sum(final_destination(ip).unwrap_or(&[]), 0)
    } else {
        sum(ip.get(12..20).unwrap_or(&[]), 0)
    };
    acc + proto as u64 + (len as u64 & 0xffff) + (len as u64 >> 16)
}

/// The destination an IPv6 packet will finally reach: the last address of a type 0 or 2
/// routing header, or the first segment of a segment routing header (type 4), when
/// segments are left; otherwise the header's destination.
fn final_destination(ip: &[u8]) -> Option<&[u8]> {
    let dst = ip.get(24..40);
    let (mut off, mut next) = (40usize, *ip.get(6)?);
    while ip6::is_extension(next) {
        let h = ip.get(off..off + 8)?;
        let len = ip6::extension_len(next, h[1])?;
        if next == ip6::ROUTING && h[3] > 0 {
            let addrs = h[1] as usize / 2;
            return match h[2] {
                0 | 2 if addrs > 0 => ip.get(off + 8 + (addrs - 1) * 16..off + 8 + addrs * 16).or(dst),
                4 if addrs > 0 => ip.get(off + 8..off + 24).or(dst),
                _ => dst,
            };
        }
        next = h[0];
        off += len;
    }
    dst
}

/// RFC 1624, equation 3: the new checksum when the words summing to `old_part` were
/// replaced by words summing to `new_part`, everything else unchanged.
pub fn update(old_checksum: u16, old_part: u64, new_part: u64) -> u16 {
    let acc = (!old_checksum) as u64 + (!fold(old_part)) as u64 + fold(new_part) as u64;
    !fold(acc)
}

/// Does `segment` (TCP or UDP, checksum included) verify against its pseudo-header?
pub fn verifies(ip: &[u8], proto: u8, segment: &[u8]) -> bool {
    fold(sum(segment, pseudo(ip, proto, segment.len()))) == 0xffff
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wide_sum_edge_cases() {
        // Zero only for zeros; all ones (a 0xffff sum, one's complement "minus zero")
        // stays distinct from it; odd lengths around the 8-byte blocks.
        for data in [&[0u8; 16][..], &[0xff; 16], &[0xff; 9], &[0xff, 0xff, 0, 0, 0, 0, 0, 0, 0x80], &[1], &[]] {
            for acc in [0, 0xffff, 0x1_0000] {
                assert_eq!(fold(sum(data, acc)), fold(sum_by_words(data, acc)), "{data:?} + {acc}");
            }
        }
    }

    #[test]
    fn rfc1071_example() {
        assert_eq!(fold(sum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7], 0)), 0xddf2);
    }

    /// The definition: 16-bit big-endian words, an odd last byte padded with zero.
    fn sum_by_words(data: &[u8], mut acc: u64) -> u64 {
        for c in data.chunks(2) {
            acc += u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]) as u64;
        }
        acc
    }

    proptest! {
        /// Summing eight bytes at a time folds to what the word-by-word sum folds to.
        #[test]
        fn wide_sum_folds_as_word_sum(data in proptest::collection::vec(any::<u8>(), 0..200), acc in 0u64..1 << 20) {
            prop_assert_eq!(fold(sum(&data, acc)), fold(sum_by_words(&data, acc)));
        }

        /// The incremental update gives the checksum a full recomputation gives.
        #[test]
        fn incremental_equals_full(mut data in proptest::collection::vec(any::<u8>(), 8..64), at in 0usize..32, new in any::<[u8; 4]>()) {
            let at = (at % (data.len() / 2 - 1)) * 2;
            data[0] = 0; data[1] = 0; // the checksum field
            let old = finish(sum(&data, 0));
            let old_part = sum(&data[at..at + 4], 0);
            data[at..at + 4].copy_from_slice(&new);
            let full = finish(sum(&data, 0));
            let inc = update(old, old_part, sum(&new, 0));
            // 0x0000 and 0xffff are the same value in one's complement.
            prop_assert!(inc == full || (inc == 0 && full == 0xffff) || (inc == 0xffff && full == 0));
        }
    }
}
