//! What lets a generating extension be inlined into another, and read bytes.
//!
//! - [`Part`]: a machine that contains another at a fixed offset (the interpreter's
//!   machine contains the run-time context the primitives work on). [`Gen::part`]
//!   generates code for the part inside code for the whole.
//! - [`Inline1`], [`Inline2`]: a two-level function of one or two words, as a value:
//!   the function itself (what the interpreter runs) and its generating extension (what
//!   the JIT runs to inline it). [`inline1`] and [`inline2`] call one; in a two-level
//!   function, the macro turns such a call into the generating extension's unfolding.
//! - [`BeBytes`]: the one read of a byte slice in the dynamic vocabulary, a big-endian
//!   number of a static width, 0 when the bytes are not all there. In generated code
//!   it is a bounds check and a load with a byte swap ([`Gen::load_be`] at a static
//!   offset, [`Gen::load_be_at`] at a dynamic one).

use crate::{Gen, V};

/// A machine `Self` that holds an `N` at byte offset [`Part::OFFSET`].
///
/// # Safety
/// `OFFSET` must be the offset of the `N` that [`Part::part`] returns, inside every
/// `Self` (write it with `std::mem::offset_of!`), so that generated code given the
/// address of a `Self` finds the `N` at that address plus `OFFSET`.
pub unsafe trait Part<N> {
    /// Where the part starts, in bytes from the start of the machine.
    const OFFSET: usize;
    /// The part.
    fn part(&mut self) -> &mut N;
}

// SAFETY: a machine is its own part at offset 0.
unsafe impl<M> Part<M> for M {
    const OFFSET: usize = 0;
    fn part(&mut self) -> &mut M {
        self
    }
}

macro_rules! inline_fns {
    ($($name:ident $call:ident ($($a:ident),*);)*) => {$(
        /// A two-level function of words over machine `M`, as a value: what the
        /// interpreter runs and its generating extension (see the module documentation).
        pub struct $name<M: 'static> {
            /// The function.
            pub run: fn(&mut M, $(inline_fns!(@word $a)),*) -> u64,
            /// Its generating extension: emits the function's code for its operands.
            pub r#gen: for<'p> fn($(inline_fns!(@v $a),)* &mut Gen<'p, M>) -> V,
        }

        /// Run `f` on the part of machine `m` it works on. In a two-level function the
        /// macro turns this call into `f`'s generating extension, run for that part.
        #[inline]
        pub fn $call<M: Part<N>, N>(f: &$name<N>, m: &mut M, $($a: u64),*) -> u64 {
            (f.run)(m.part(), $($a),*)
        }
    )*};
    (@word $a:ident) => { u64 };
    (@v $a:ident) => { V };
}

inline_fns! {
    Inline1 inline1 (a);
    Inline2 inline2 (a, b);
}

/// Reading big-endian numbers from bytes: the interpreter's meaning of the one byte
/// read in the dynamic vocabulary.
pub trait BeBytes {
    /// The big-endian number in the `n` bytes (at most 8) at `off`, or 0 if they are
    /// not all there.
    fn be<O: TryInto<usize>>(&self, off: O, n: usize) -> u64;
}

impl BeBytes for [u8] {
    #[inline]
    fn be<O: TryInto<usize>>(&self, off: O, n: usize) -> u64 {
        debug_assert!(n <= 8, "a big-endian read is at most 8 bytes");
        let Ok(off) = off.try_into() else { return 0 };
        match off.checked_add(n).and_then(|end| self.get(off..end)) {
            Some(f) => f.iter().fold(0, |acc, &x| acc << 8 | x as u64),
            None => 0,
        }
    }
}
