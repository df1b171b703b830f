//! A primitive that exists only for a test (cargo feature `test-primitive`, which the
//! shipped `planp` binary does not enable). It proves that a primitive written as two
//! functions in this crate, and nothing else, reaches the type checker and the
//! interpreter: `planp-interp/tests/extension.rs` uses it from a PLAN-P program.
//! `testPeek` and `testMix` do the same for primitives written in the two-level style
//! (module `two_level`): the JIT inlines them, and nothing outside this file names them.

use crate::{Exn, Prim, Rt, Site, Type, Word, inline1, inline2, mono};
use planp_specialize_macro::specialize;

/// The primitives of this file.
pub const PRIMS: &[Prim] = &[
    Prim {
        name: "testPeek",
        signature: "blob -> int",
        doc: "testPeek(b): the big-endian 16-bit number at byte 1 of b (0 if b is shorter). Test builds only.",
        typing: mono!([Type::Blob] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::peek(rt, a[0])),
        raises: &[],
        effectful: false,
        inline: inline1!(two_level::peek, two_level::peek_gen),
    },
    Prim {
        name: "testMix",
        signature: "int*int -> int",
        doc: "testMix(a, b): (a xor b << 3) and 0xffff, or a if b is 0. Test builds only.",
        typing: mono!([Type::Int, Type::Int] -> Type::Int),
        compute: |rt, a, _| Ok(two_level::mix(rt, a[0], a[1])),
        raises: &[],
        effectful: false,
        inline: inline2!(two_level::mix, two_level::mix_gen),
    },
    Prim {
        name: "testRepeat",
        signature: "string*int -> string",
        doc: "testRepeat(s, n): s repeated n times (n < 0 raises Subscript). Test builds only.",
        typing: mono!([Type::String, Type::Int] -> Type::String),
        compute: repeat,
        raises: &[crate::rt::SUBSCRIPT],
        effectful: false,
        inline: None,
    },
];

/// The test-only primitives the JIT inlines.
#[specialize]
pub mod two_level {
    use crate::{Rt, Word};
    use planp_jit::BeBytes;

    /// `testPeek`: a byte slice read at a static offset.
    pub fn peek(#[dynamic] rt: &mut Rt, #[dynamic] b: Word) -> Word {
        let bytes: &[u8] = rt.heap.bytes(b);
        bytes.be(1, 2)
    }

    /// `testMix`: word operations and a dynamic `if`, no call at all.
    pub fn mix(#[dynamic] _rt: &mut Rt, #[dynamic] a: Word, #[dynamic] b: Word) -> Word {
        if b == 0 { a } else { (a ^ b.wrapping_shl(3)) & 0xffff }
    }
}

/// The compute function: the typing function above has proven `a[0]` is a string and
/// `a[1]` an int.
fn repeat(rt: &mut Rt, a: &[Word], _: &Site) -> Result<Word, Exn> {
    let n = a[1] as i64;
    if !(0..=1 << 20).contains(&n) {
        return Err(crate::rt::SUBSCRIPT);
    }
    let s = rt.heap.bytes(a[0]).repeat(n as usize);
    Ok(rt.heap.alloc_bytes_vec(s))
}
