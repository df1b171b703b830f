//! Shims: the functions generated code calls, made from closures.
//!
//! A generating extension turns a call of Rust code with dynamic arguments into a call
//! through the one ABI (`extern "sysv64" fn(&mut M, u64, ...) -> Ret`). It writes the
//! call as a closure over the machine and one parameter per word argument,
//! `|m: &mut M, x1, x2| f(m, x1, x2)`, and asks [`shim1`]..[`shim5`] for the address of
//! a trampoline that rebuilds the arguments from their words, runs the closure (inside
//! [`crate::catch_panic`]) and returns its result as a [`Ret`].
//!
//! The argument types are fixed in a way that keeps the words honest: a **static**
//! argument's type is the type of the value the generating extension lifted (passed as
//! [`static_arg`]`(&value)`), so the trampoline rebuilds exactly that type from the
//! address or scalar; any coercion the call needs (a `&Box<T>` used as a `&T`) happens
//! inside the closure, on concrete types. A **dynamic** argument's type
//! ([`dynamic_arg`]) is inferred from the call, and the word is the canonical form of a
//! value of that type (the interpreter passes values of the parameter's type: Rust has
//! no implicit integer conversions).
//!
//! The closure captures nothing (a compile-time assertion), so the trampoline can make
//! it from nothing: its type is the function.

use crate::Ret;
use crate::lift::{FromWord, IntoRet, catch_panic, catch_panic_slice};
use std::marker::PhantomData;

/// The type of one word argument of a shim.
pub struct ArgTy<A>(PhantomData<fn() -> A>);

/// A static argument: its type is that of `value`, the value lifted into the code.
pub fn static_arg<A>(_value: &A) -> ArgTy<A> {
    ArgTy(PhantomData)
}

/// A dynamic argument: its type is inferred from the call.
pub fn dynamic_arg<A>() -> ArgTy<A> {
    ArgTy(PhantomData)
}

/// The closure `F`, made from nothing: it is zero-sized and captures nothing.
#[inline(always)]
fn conjure<F>() -> F {
    const { assert!(std::mem::size_of::<F>() == 0, "a shim's closure must capture nothing") };
    // SAFETY: `F` is zero-sized (asserted at compile time above), so reading one reads
    // no bytes, and a dangling, well-aligned pointer is valid for it; a closure type that
    // captures nothing has exactly one value, and this is it.
    unsafe { std::ptr::NonNull::<F>::dangling().as_ptr().read() }
}

macro_rules! shims {
    ($($name:ident $tramp:ident ($($a:ident $w:ident),*);)*) => {$(
        #[allow(clippy::too_many_arguments)]
        extern "sysv64" fn $tramp<M, $($a: FromWord,)* R: IntoRet, F: Fn(&mut M, $($a),*) -> R>(
            m: &mut M,
            $($w: u64),*
        ) -> Ret {
            let f: F = conjure();
            catch_panic(move || {
                // SAFETY: each word was made by the generating extension from a value of
                // exactly this type: `StaticArg::lift` of the static value whose type
                // `static_arg` recorded, or the canonical word of a dynamic value that
                // the interpreter passes at this type; lifted references point into the
                // static data that `Code::run`'s contract keeps alive and unchanged.
                f(m, $(unsafe { <$a as FromWord>::from_word($w) }),*)
            })
        }

        /// The address of the shim that runs `f` with the machine and words rebuilt as
        /// the argument types say.
        pub fn $name<M, $($a: FromWord,)* R: IntoRet, F: Fn(&mut M, $($a),*) -> R>(
            _f: F,
            $($w: ArgTy<$a>),*
        ) -> usize {
            let _ = ($($w,)*);
            $tramp::<M, $($a,)* R, F> as extern "sysv64" fn(&mut M, $(shims!(@u64 $w)),*) -> Ret as usize
        }
    )*};
    (@u64 $w:ident) => { u64 };
}

shims! {
    shim0 tramp0 ();
    shim1 tramp1 (A1 a1);
    shim2 tramp2 (A1 a1, A2 a2);
    shim3 tramp3 (A1 a1, A2 a2, A3 a3);
    shim4 tramp4 (A1 a1, A2 a2, A3 a3, A4 a4);
    shim5 tramp5 (A1 a1, A2 a2, A3 a3, A4 a4, A5 a5);
}

macro_rules! slice_shims {
    ($($name:ident $tramp:ident ($($a:ident $w:ident),*);)*) => {$(
        #[allow(clippy::too_many_arguments)]
        extern "sysv64" fn $tramp<M, $($a: FromWord,)* F: for<'a> Fn(&'a mut M, $($a),*) -> &'a [u8]>(
            m: &mut M,
            $($w: u64),*
        ) -> Ret {
            let f: F = conjure();
            catch_panic_slice(move || {
                // SAFETY: as for the word shims: each word was made from a value of
                // exactly this type.
                f(m, $(unsafe { <$a as FromWord>::from_word($w) }),*)
            })
        }

        /// The address of the shim that runs `f`, which gives a byte slice of the
        /// machine, for [`crate::Gen::call_slice`].
        pub fn $name<M, $($a: FromWord,)* F: for<'a> Fn(&'a mut M, $($a),*) -> &'a [u8]>(
            _f: F,
            $($w: ArgTy<$a>),*
        ) -> usize {
            let _ = ($($w,)*);
            $tramp::<M, $($a,)* F> as extern "sysv64" fn(&mut M, $(shims!(@u64 $w)),*) -> Ret as usize
        }
    )*};
}

slice_shims! {
    shim_slice0 tramp_slice0 ();
    shim_slice1 tramp_slice1 (A1 a1);
    shim_slice2 tramp_slice2 (A1 a1, A2 a2);
    shim_slice3 tramp_slice3 (A1 a1, A2 a2, A3 a3);
    shim_slice4 tramp_slice4 (A1 a1, A2 a2, A3 a3, A4 a4);
    shim_slice5 tramp_slice5 (A1 a1, A2 a2, A3 a3, A4 a4, A5 a5);
}
