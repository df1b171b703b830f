//! A primitive that exists only for a test (cargo feature `test-primitive`, which the
//! shipped `planp` binary does not enable). It proves that a primitive written as two
//! functions in this crate, and nothing else, reaches the type checker and the
//! interpreter: `planp-interp/tests/extension.rs` uses it from a PLAN-P program.

use crate::{Exn, Prim, Rt, Site, Type, Word, mono};

/// The primitives of this file.
pub const PRIMS: &[Prim] = &[Prim {
    name: "testRepeat",
    signature: "string*int -> string",
    doc: "testRepeat(s, n): s repeated n times (n < 0 raises Subscript). Test builds only.",
    typing: mono!([Type::String, Type::Int] -> Type::String),
    compute: repeat,
    raises: &[crate::rt::SUBSCRIPT],
    effectful: false,
    inline: None,
}];

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
