//! Reading and writing big-endian fields of header bytes without ever panicking: a
//! field that lies beyond the end of a (truncated) header reads as 0 and is not written.

/// The big-endian value of `n` bytes (at most 8) at `off`, or 0 if they are not all
/// there: [`planp_jit::BeBytes::be`], the meaning the JIT's inlined field reads share.
pub fn get(b: &[u8], off: usize, n: usize) -> u64 {
    planp_jit::BeBytes::be(b, off, n)
}

/// A copy of `b` with the `n` bytes at `off` set to the low bytes of `v`, big-endian.
pub fn set(b: &[u8], off: usize, n: usize, v: u64) -> Vec<u8> {
    let mut out = b.to_vec();
    if let Some(f) = out.get_mut(off..off + n) {
        for (i, x) in f.iter_mut().enumerate() {
            *x = (v >> (8 * (n - 1 - i))) as u8;
        }
    }
    out
}

/// The Internet checksum (RFC 1071) of `data`, folded, complemented.
pub fn internet_checksum(data: &[u8], initial: u32) -> u16 {
    let mut sum = initial as u64;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u16::from_be_bytes([c[0], c[1]]) as u64;
    }
    if let [last] = chunks.remainder() {
        sum += (*last as u64) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_out_of_range_read_zero_and_are_not_written() {
        assert_eq!(get(&[1, 2, 3], 1, 2), 0x0203);
        assert_eq!(get(&[1, 2, 3], 2, 2), 0);
        assert_eq!(set(&[1, 2, 3], 2, 2, 0xffff), vec![1, 2, 3]);
        assert_eq!(set(&[1, 2, 3], 0, 2, 0xabcd), vec![0xab, 0xcd, 3]);
    }

    #[test]
    fn checksum_of_rfc1071_example() {
        // RFC 1071 section 3 example: sum of 0001 f203 f4f5 f6f7 is ddf2 (before complement).
        assert_eq!(internet_checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7], 0), !0xddf2);
    }
}
