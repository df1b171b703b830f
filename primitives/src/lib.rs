//! PLAN-P's run-time library: the value model (untagged words and a heap), the run-time
//! context, and the primitives.
//!
//! # Primitives are two functions
//! A primitive is a [`Prim`]: a **compute** function, which runs the primitive on
//! argument words, and a **typing** function, which gives the result type from the
//! argument types (and so also decides which argument types are accepted). Everything
//! else in a `Prim` is documentation. The primitives are listed in the `PRIMS` slice of
//! the file of their domain (`ip.rs`, `table.rs`, ...), and [`all`] gathers those
//! slices; adding a primitive therefore touches this crate only, and rebuilding makes
//! it known to the type checker, the interpreter and the REPL. See `docs/primitives.md`.
//!
//! This crate knows nothing of the PLAN-P syntax tree: it sees types, words and bytes.

pub mod heap;
pub mod rt;
pub mod types;
pub mod value;

pub mod audio;
pub mod bytes;
pub mod eth;
pub mod io;
pub mod ip;
pub mod ip6;
pub mod list;
pub mod node;
pub mod string;
pub mod table;
pub mod tcp;
pub mod udp;

#[cfg(test)]
mod testing;

#[cfg(feature = "test-primitive")]
pub mod test_primitive;

pub use heap::{Heap, NIL, Word};
pub use rt::{Effect, Exn, Rt, Send, SendKind, Site};
pub use types::{PrimTypeError, Type, TypeCx};

use std::sync::OnceLock;

/// The typing function of a primitive: argument types to result type.
pub type TypingFn = fn(&mut dyn TypeCx, &[Type]) -> Result<Type, PrimTypeError>;

/// The compute function of a primitive: argument words to result word, or an exception.
/// `site` gives the solved argument and result types of this call.
pub type ComputeFn = fn(&mut Rt, &[Word], &Site) -> Result<Word, Exn>;

/// A primitive.
pub struct Prim {
    /// The name programs call it by.
    pub name: &'static str,
    /// Its type as a reader should see it, e.g. `ip -> host` (the typing function is
    /// the authority; this is what `:prims` shows).
    pub signature: &'static str,
    /// One line saying what it does.
    pub doc: &'static str,
    /// Result type from argument types.
    pub typing: TypingFn,
    /// The computation.
    pub compute: ComputeFn,
    /// The exceptions it may raise (for the safety verifier and the documentation).
    pub raises: &'static [Exn],
    /// Does it have an effect (printing, mutation, reading the node's state)? Pure
    /// primitives may be evaluated early when their arguments are known.
    pub effectful: bool,
    /// The compute function in the two-level style, if it has one: then the JIT inlines
    /// the primitive (runs its generating extension) instead of calling `compute`, and
    /// `compute` calls that same function. Written with [`inline1!`]; see
    /// `docs/primitives.md`.
    pub inline: Option<Inline>,
}

/// A primitive's computation as a two-level function over the run-time context, by
/// number of arguments: the function and its generating extension (derived by
/// `#[specialize]`), which the evaluator's generating extension runs for a call of the
/// primitive, so that the primitive's code is part of the channel's.
#[derive(Clone, Copy)]
pub enum Inline {
    /// One argument.
    A1(&'static planp_jit::Inline1<Rt>),
    /// Two arguments.
    A2(&'static planp_jit::Inline2<Rt>),
}

impl Inline {
    /// How many arguments the function takes.
    pub fn arity(&self) -> usize {
        match self {
            Inline::A1(_) => 1,
            Inline::A2(_) => 2,
        }
    }
}

/// `inline1!(m::f, m::f_gen)`: the [`Prim::inline`] of a primitive of one argument whose
/// computation is the two-level function `m::f` (in a `#[specialize]` module), `m::f_gen`
/// its generating extension.
#[macro_export]
macro_rules! inline1 {
    ($f:path, $g:path) => {
        Some($crate::Inline::A1(&::planp_jit::Inline1 { run: $f, r#gen: $g }))
    };
}

/// `inline2!(m::f, m::f_gen)`: as [`inline1!`], for two arguments.
#[macro_export]
macro_rules! inline2 {
    ($f:path, $g:path) => {
        Some($crate::Inline::A2(&::planp_jit::Inline2 { run: $f, r#gen: $g }))
    };
}

impl std::fmt::Debug for Prim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Prim({})", self.name)
    }
}

/// A primitive's index in [`all`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PrimId(pub u32);

fn registry() -> &'static [&'static Prim] {
    static ALL: OnceLock<Vec<&'static Prim>> = OnceLock::new();
    ALL.get_or_init(|| {
        let domains: &[&'static [Prim]] = &[
            io::PRIMS,
            list::PRIMS,
            string::PRIMS,
            table::PRIMS,
            eth::PRIMS,
            ip::PRIMS,
            ip6::PRIMS,
            tcp::PRIMS,
            udp::PRIMS,
            node::PRIMS,
            audio::PRIMS,
            #[cfg(feature = "test-primitive")]
            test_primitive::PRIMS,
        ];
        let mut v: Vec<&'static Prim> = domains.iter().flat_map(|d| d.iter()).collect();
        v.sort_by_key(|p| p.name);
        v
    })
}

/// Every primitive, sorted by name.
pub fn all() -> &'static [&'static Prim] {
    registry()
}

/// The primitive called `name`.
pub fn lookup(name: &str) -> Option<(PrimId, &'static Prim)> {
    let all = registry();
    all.binary_search_by_key(&name, |p| p.name).ok().map(|i| (PrimId(i as u32), all[i]))
}

/// The primitive with index `id`.
pub fn get(id: PrimId) -> &'static Prim {
    registry()[id.0 as usize]
}

/// Build a typing function for a primitive with a fixed (monomorphic) signature:
/// `mono!([Type::Ip, Type::Host] -> Type::Ip)`.
#[macro_export]
macro_rules! mono {
    ([$($arg:expr),* $(,)?] -> $ret:expr) => {{
        fn typing(
            cx: &mut dyn $crate::TypeCx,
            args: &[$crate::Type],
        ) -> ::std::result::Result<$crate::Type, $crate::PrimTypeError> {
            let want: &[$crate::Type] = &[$($arg),*];
            $crate::types::check::arity(args, want.len())?;
            for (i, w) in want.iter().enumerate() {
                $crate::types::check::arg(cx, args, i, w)?;
            }
            Ok($ret)
        }
        typing as $crate::TypingFn
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_documented() {
        let all = all();
        for w in all.windows(2) {
            assert_ne!(w[0].name, w[1].name, "two primitives are called {}", w[0].name);
        }
        for p in all {
            assert!(!p.doc.is_empty() && !p.signature.is_empty(), "{} lacks documentation", p.name);
        }
        assert!(lookup("ipDstSet").is_some());
        assert!(lookup("noSuchPrimitive").is_none());
    }

    /// The arguments before `->` in a signature, counted at the top level of `*`.
    fn arity(signature: &str) -> usize {
        let args = signature.split("->").next().unwrap_or("");
        let mut depth = 0i32;
        let mut n = 1;
        for c in args.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                '*' if depth == 0 => n += 1,
                _ => {}
            }
        }
        n
    }

    #[test]
    fn inlined_primitives_take_as_many_words_as_their_signature_says() {
        let inlined: Vec<_> = all().iter().filter(|p| p.inline.is_some()).collect();
        assert!(inlined.len() >= 30, "the header getters are inlined");
        for p in inlined {
            let inl = p.inline.expect("filtered");
            assert_eq!(inl.arity(), arity(p.signature), "{}: {}", p.name, p.signature);
        }
    }

    /// A primitive's `compute` is its two-level function: on header bytes of every length
    /// (getters read 0 beyond the end), the registry's compute and the inlined function's
    /// interpreter side give the same word.
    #[test]
    fn compute_and_the_inlined_function_agree() {
        let mut rt = Rt::default();
        let site = Site { args: Vec::new(), ret: Type::Int };
        for len in [0usize, 1, 3, 8, 20, 40] {
            let bytes: Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(73).wrapping_add(5)).collect();
            let h = rt.heap.alloc_bytes(&bytes);
            for p in all().iter().filter(|p| p.inline.is_some()) {
                let a = [h, 0x1234_5678_9abc];
                let via_compute = (p.compute)(&mut rt, &a[..arity(p.signature)], &site);
                let direct = match p.inline.expect("filtered") {
                    Inline::A1(f) => (f.run)(&mut rt, h),
                    Inline::A2(f) => (f.run)(&mut rt, h, a[1]),
                };
                assert_eq!(via_compute, Ok(direct), "{} on {len} bytes", p.name);
            }
        }
    }
}
