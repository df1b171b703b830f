//! Audio sample conversions, for the audio-adaptation protocol of the paper (section
//! 3.1): routers degrade CD-quality audio (16-bit stereo) to 16-bit mono or 8-bit mono
//! when their link is loaded, and the clients' node converts it back.
//!
//! Format: PCM samples as CD audio carries them. A 16-bit sample is a signed
//! (two's complement) 16-bit integer, **little-endian** (low byte first). An 8-bit
//! sample is one signed byte. A stereo frame is the left sample then the right one, so a
//! 16-bit stereo frame is 4 bytes: left low, left high, right low, right high. A blob
//! holds frames back to back; a trailing incomplete frame or sample is dropped.
//!
//! The conversions: stereo to mono averages the two samples of a frame (rounding toward
//! zero); mono to stereo duplicates each sample; 16 to 8 bits keeps a sample's high byte
//! (its top 8 bits, still signed); 8 to 16 bits makes a byte b the sample b*256. Going
//! down and back up therefore loses the low bits and the difference between channels,
//! never the sample count or the loudness.

use crate::{Exn, Prim, Rt, Type, Word, mono};

/// The primitives of this file.
pub const PRIMS: &[Prim] = &[
    Prim {
        name: "audioStereoToMono",
        signature: "blob -> blob",
        doc: "16-bit stereo frames (little-endian, left then right) to 16-bit mono: each frame's two samples averaged, rounding toward zero.",
        typing: mono!([Type::Blob] -> Type::Blob),
        compute: |rt, a, _| convert(rt, a, stereo_to_mono),
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "audioMonoToStereo",
        signature: "blob -> blob",
        doc: "16-bit mono samples (little-endian) to 16-bit stereo: each sample for both channels.",
        typing: mono!([Type::Blob] -> Type::Blob),
        compute: |rt, a, _| convert(rt, a, mono_to_stereo),
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "audio16To8",
        signature: "blob -> blob",
        doc: "16-bit samples (little-endian) to signed 8-bit samples: each sample's high byte.",
        typing: mono!([Type::Blob] -> Type::Blob),
        compute: |rt, a, _| convert(rt, a, to_8),
        raises: &[],
        effectful: false,
        inline: None,
    },
    Prim {
        name: "audio8To16",
        signature: "blob -> blob",
        doc: "Signed 8-bit samples to 16-bit samples (little-endian): each byte b becomes b*256.",
        typing: mono!([Type::Blob] -> Type::Blob),
        compute: |rt, a, _| convert(rt, a, to_16),
        raises: &[],
        effectful: false,
        inline: None,
    },
];

fn convert(rt: &mut Rt, a: &[Word], f: fn(&[u8]) -> Vec<u8>) -> Result<Word, Exn> {
    let out = f(rt.heap.bytes(a[0]));
    Ok(rt.heap.alloc_bytes_vec(out))
}

fn sample(b: &[u8]) -> i32 {
    i16::from_le_bytes([b[0], b[1]]) as i32
}

/// 16-bit stereo to 16-bit mono.
pub fn stereo_to_mono(b: &[u8]) -> Vec<u8> {
    b.chunks_exact(4).flat_map(|f| (((sample(&f[..2]) + sample(&f[2..])) / 2) as i16).to_le_bytes()).collect()
}

/// 16-bit mono to 16-bit stereo.
pub fn mono_to_stereo(b: &[u8]) -> Vec<u8> {
    b.chunks_exact(2).flat_map(|s| [s[0], s[1], s[0], s[1]]).collect()
}

/// 16-bit samples to 8-bit samples.
pub fn to_8(b: &[u8]) -> Vec<u8> {
    b.chunks_exact(2).map(|s| s[1]).collect()
}

/// 8-bit samples to 16-bit samples.
pub fn to_16(b: &[u8]) -> Vec<u8> {
    b.iter().flat_map(|&x| [0, x]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    fn run(name: &str, b: &[u8]) -> Vec<u8> {
        let mut rt = Rt::new();
        let b = arg_bytes(&mut rt, Type::Blob, b);
        call_bytes(&mut rt, name, &[b]).unwrap()
    }

    fn le(samples: &[i16]) -> Vec<u8> {
        samples.iter().flat_map(|s| s.to_le_bytes()).collect()
    }

    #[test]
    fn stereo_to_mono_averages_toward_zero() {
        let frames =
            le(&[100, 300, -100, -301, 3, 0, -3, 0, i16::MAX, i16::MAX, i16::MIN, i16::MIN, i16::MAX, i16::MIN]);
        assert_eq!(run("audioStereoToMono", &frames), le(&[200, -200, 1, -1, i16::MAX, i16::MIN, 0]));
        // A trailing incomplete frame is dropped.
        let mut partial = le(&[10, 20, 30]);
        assert_eq!(run("audioStereoToMono", &partial), le(&[15]));
        partial.push(1);
        assert_eq!(run("audioStereoToMono", &partial), le(&[15]));
        assert_eq!(run("audioStereoToMono", &[1, 2, 3]), []);
        assert_eq!(run("audioStereoToMono", &[]), []);
    }

    #[test]
    fn mono_to_stereo_duplicates() {
        assert_eq!(run("audioMonoToStereo", &le(&[1, -2, 0x1234])), le(&[1, 1, -2, -2, 0x1234, 0x1234]));
        assert_eq!(run("audioMonoToStereo", &[0x34, 0x12, 0x56]), le(&[0x1234, 0x1234]), "odd byte dropped");
        assert_eq!(run("audioMonoToStereo", &[]), []);
    }

    #[test]
    fn sixteen_to_eight_keeps_the_high_byte() {
        assert_eq!(
            run("audio16To8", &le(&[0x1234, -1, i16::MIN, i16::MAX, 0x00ff, 256])),
            [0x12, 0xff, 0x80, 0x7f, 0, 1]
        );
        assert_eq!(run("audio16To8", &[0x34, 0x12, 0x99]), [0x12], "odd byte dropped");
        assert_eq!(run("audio16To8", &[]), []);
    }

    #[test]
    fn eight_to_sixteen_scales_by_256() {
        assert_eq!(run("audio8To16", &[0x12, 0xff, 0x80, 0x7f, 0]), le(&[0x1200, -256, i16::MIN, 0x7f00, 0]));
        assert_eq!(run("audio8To16", &[]), []);
        // Down and up: the high byte survives.
        let s = le(&[0x1234, -0x1234, 77]);
        assert_eq!(run("audio8To16", &run("audio16To8", &s)), le(&[0x1200, -0x1300, 0]));
    }

    #[test]
    fn typing() {
        assert_eq!(type_of("audio16To8", &[Type::Blob]), Ok(Type::Blob));
        assert!(type_of("audio16To8", &[Type::String]).is_err());
    }
}
