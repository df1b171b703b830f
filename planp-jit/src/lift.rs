//! Moving Rust values across the shim ABI.
//!
//! Every dynamic value is one 64-bit word in a canonical form: unsigned integers
//! zero-extended, signed integers sign-extended, `bool` as 0 or 1, unit (and unit-like
//! markers) as 0. Static data is lifted into code as an immediate: scalars as their
//! word, references as addresses.
//!
//! Implemented for `u8`, `u16`, `u32`, `u64`, `usize`, `i8`, `i16`, `i32`, `i64`,
//! `isize`, `bool`, `char` (its code point), `()`, and references (their address; only
//! [`StaticArg`] for references to the static input, `'p`). [`IntoRet`] is implemented
//! for every [`ToWord`] type ([`crate::OK`]), for `Result<T, E>` and `Option<T>` with
//! `T: ToWord` (`Err`/`None` give [`crate::FAIL`] and the word 0: the error value itself
//! is dropped, failures carry their data in the machine).

use crate::{FAIL, OK, PANIC, Ret};
use std::any::Any;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// A value that is one word in canonical form.
pub trait ToWord {
    /// The canonical word.
    fn to_word(self) -> u64;
}

/// A value rebuilt from its word.
pub trait FromWord: Sized {
    /// Rebuild the value.
    ///
    /// # Safety
    /// `w` must come from [`ToWord::to_word`] or [`StaticArg::lift`] of a value of this
    /// type; for references, the referent must still be alive and unchanged.
    unsafe fn from_word(w: u64) -> Self;
}

/// Static data that generated code may carry as an immediate: scalars, and references
/// to data that lives as long as the generator's static input (`'p`).
pub trait StaticArg<'p> {
    /// The immediate.
    fn lift(self) -> u64;
}

/// What a shim returns, made into a [`Ret`]: a word ([`crate::OK`]), `Ok`/`Some`
/// ([`crate::OK`]) or `Err`/`None` ([`crate::FAIL`]).
pub trait IntoRet {
    /// The return value and status.
    fn into_ret(self) -> Ret;
}

macro_rules! scalar {
    ($($t:ty => $via:ty),* $(,)?) => {$(
        impl ToWord for $t {
            #[inline]
            fn to_word(self) -> u64 {
                // Through the 64-bit type of the same signedness: zero- or sign-extends.
                self as $via as u64
            }
        }

        impl FromWord for $t {
            #[inline]
            unsafe fn from_word(w: u64) -> Self {
                w as $t
            }
        }

        impl<'p> StaticArg<'p> for $t {
            #[inline]
            fn lift(self) -> u64 {
                self.to_word()
            }
        }
    )*};
}

scalar! {
    u8 => u64, u16 => u64, u32 => u64, u64 => u64, usize => u64,
    i8 => i64, i16 => i64, i32 => i64, i64 => i64, isize => i64,
}

impl ToWord for bool {
    #[inline]
    fn to_word(self) -> u64 {
        self as u64
    }
}

impl FromWord for bool {
    #[inline]
    unsafe fn from_word(w: u64) -> Self {
        w != 0
    }
}

impl<'p> StaticArg<'p> for bool {
    #[inline]
    fn lift(self) -> u64 {
        self.to_word()
    }
}

impl ToWord for char {
    #[inline]
    fn to_word(self) -> u64 {
        self as u64
    }
}

impl FromWord for char {
    #[inline]
    unsafe fn from_word(w: u64) -> Self {
        // A canonical word is a code point; anything else (a broken contract) reads as
        // the replacement character rather than an invalid `char`.
        u32::try_from(w).ok().and_then(char::from_u32).unwrap_or(char::REPLACEMENT_CHARACTER)
    }
}

impl<'p> StaticArg<'p> for char {
    #[inline]
    fn lift(self) -> u64 {
        self.to_word()
    }
}

impl ToWord for () {
    #[inline]
    fn to_word(self) -> u64 {
        0
    }
}

impl FromWord for () {
    #[inline]
    unsafe fn from_word(_: u64) -> Self {}
}

impl<'p> StaticArg<'p> for () {
    #[inline]
    fn lift(self) -> u64 {
        0
    }
}

impl<T> ToWord for &T {
    /// The address.
    #[inline]
    fn to_word(self) -> u64 {
        self as *const T as usize as u64
    }
}

impl<T> FromWord for &T {
    /// The reference at the address `w`.
    ///
    /// # Safety
    /// `w` is the address of a `T` (made by [`ToWord::to_word`] or [`StaticArg::lift`]
    /// of a `&T`) that is alive, unchanged and not mutably borrowed for as long as the
    /// reference is used.
    #[inline]
    unsafe fn from_word(w: u64) -> Self {
        // SAFETY: the caller guarantees that `w` is the address of a live, unchanged `T`
        // that outlives the reference (static data `Code::run`'s contract keeps alive).
        unsafe { &*(w as usize as *const T) }
    }
}

impl<'p, T> StaticArg<'p> for &'p T {
    /// The address.
    #[inline]
    fn lift(self) -> u64 {
        self.to_word()
    }
}

impl<T: ToWord> IntoRet for T {
    #[inline]
    fn into_ret(self) -> Ret {
        Ret { value: self.to_word(), status: OK }
    }
}

impl<T: ToWord, E> IntoRet for Result<T, E> {
    #[inline]
    fn into_ret(self) -> Ret {
        match self {
            Ok(v) => v.into_ret(),
            Err(_) => Ret { value: 0, status: FAIL },
        }
    }
}

impl<T: ToWord> IntoRet for Option<T> {
    #[inline]
    fn into_ret(self) -> Ret {
        match self {
            Some(v) => v.into_ret(),
            None => Ret { value: 0, status: FAIL },
        }
    }
}

thread_local! {
    /// The payload of the last panic a shim caught on this thread, until taken.
    static PAYLOAD: Cell<Option<Box<dyn Any + Send>>> = const { Cell::new(None) };
}

/// Run `f`, turning a panic into a [`crate::PANIC`] status (the payload is kept for
/// [`take_panic`]). Every shim's body runs inside it.
pub fn catch_panic<R: IntoRet>(f: impl FnOnce() -> R) -> Ret {
    // Unwind safety: after a panic, generated code ends at once and `Code::run` resumes
    // the panic, so nothing observes a half-updated machine that a caller of the entry
    // point would not also observe from the interpreter's own panic.
    match catch_unwind(AssertUnwindSafe(|| f().into_ret())) {
        Ok(ret) => ret,
        Err(payload) => {
            PAYLOAD.with(|p| p.set(Some(payload)));
            Ret { value: 0, status: PANIC }
        }
    }
}

/// Run `f`, which gives a byte slice, in a shim that returns it: its address in
/// [`Ret::value`] and its length in [`Ret::status`]. A panic is caught as in
/// [`catch_panic`] and gives the address 0, which no slice has (an empty one's address
/// is dangling, never null).
pub(crate) fn catch_panic_slice<'a>(f: impl FnOnce() -> &'a [u8]) -> Ret {
    match catch_unwind(AssertUnwindSafe(|| {
        let s = f();
        Ret { value: s.as_ptr() as u64, status: s.len() as u64 }
    })) {
        Ok(ret) => ret,
        Err(payload) => {
            PAYLOAD.with(|p| p.set(Some(payload)));
            Ret { value: 0, status: 0 }
        }
    }
}

/// The payload of the panic a shim caught, if any (taken by [`crate::Code::run`] to
/// resume it).
pub fn take_panic() -> Option<Box<dyn std::any::Any + Send>> {
    PAYLOAD.with(|p| p.take())
}
