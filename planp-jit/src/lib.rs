//! Run-time support for the x86-64 code the PLAN-P specializer generates.
//!
//! `planp-specialize-macro` reads the annotated interpreter of `planp-interp` and derives
//! from it a *generating extension*: Rust code that walks the static part of a program
//! (its syntax tree, types, slots) once and, for each dynamic operation of the
//! interpreter, calls one method of [`Gen`]. This crate is that code generator and the
//! runtime of what it produces:
//!
//! - [`Gen`]: values in registers (spilled to the native stack only around calls and
//!   when registers run out), labels and branches, word arithmetic and comparisons with
//!   the interpreter's exact semantics, loads and stores of the machine's word frame at
//!   static offsets, calls of Rust functions through one ABI ([`Ret`]), failure jumps to
//!   handlers;
//! - [`Code`]: the finished code in executable memory that is never writable and
//!   executable at once, with an entry point and a disassembly (iced-x86) annotated with
//!   the notes the generating extension left;
//! - the traits that move Rust values across the ABI: [`ToWord`], [`FromWord`],
//!   [`StaticArg`], [`IntoRet`].
//!
//! **Invariant: this crate knows no PLAN-P construct and no primitive.** It deals in
//! machine words, frames, labels and calls; what they mean comes from the interpreter.
//! `tests/invariant.rs` fails if a source file here names one.
//!
//! # The calling convention of generated code
//!
//! An entry point is `extern "sysv64" fn(machine: *mut M, frame: *mut u64) -> Ret`.
//! Inside, `r12` holds `machine` and `r13` holds `frame`, the base of the machine's
//! word stack; slot `s` at static frame offset `fp` is the word at `frame[fp + s]`.
//! Values live in `rbx`, `r14`, `r15` (callee-saved) and `rcx`, `rdx`, `rsi`, `rdi`,
//! `r8`–`r10` (caller-saved); `rax` and `r11` are scratch. The native stack holds the
//! saved registers and the spill slots, and is 16-byte aligned at every call.
//!
//! A *shim* is `extern "sysv64" fn(machine: *mut M, a1: u64, ..., a5: u64) -> Ret`
//! (at most five word arguments after the machine). Generated code calls it through an
//! absolute address in a register, after saving the caller-saved registers that hold
//! live values (restored after the call). Its [`Ret`] comes back in `rax` (value) and
//! `rdx` (status): [`OK`], [`FAIL`] (the operation failed in a way the interpreter
//! handles: an `Err` or a `None`; generated code jumps to the current failure handler)
//! or [`PANIC`] (the Rust code panicked; the shim caught it, [`Code::run`] resumes the
//! panic once the generated frames are gone). A panic never unwinds through generated
//! code.

#![allow(unsafe_code)] // Executable memory and calls into generated code; each use says why.

mod code;
mod r#gen; // `gen` is reserved in edition 2024.
mod inline;
mod lift;
mod shim;

pub use code::{Code, FrameOwner, JitError, available};
pub use r#gen::{Cond, Gen, Label, Op1, Op2, V, Var};
pub use inline::{BeBytes, Inline1, Inline2, Part, inline1, inline2};
pub use lift::{FromWord, IntoRet, StaticArg, ToWord, catch_panic, take_panic};
pub use shim::{
    ArgTy, dynamic_arg, shim_slice0, shim_slice1, shim_slice2, shim_slice3, shim_slice4, shim_slice5, shim0, shim1,
    shim2, shim3, shim4, shim5, static_arg,
};

/// What a shim or an entry point returns: a word and a status, in `rax` and `rdx`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ret {
    /// The result word (meaningful when `status` is [`OK`]).
    pub value: u64,
    /// [`OK`], [`FAIL`] or [`PANIC`].
    pub status: u64,
}

/// The operation succeeded.
pub const OK: u64 = 0;
/// The operation failed (an `Err` or a `None` in the interpreter).
pub const FAIL: u64 = 1;
/// Rust code called from generated code panicked.
pub const PANIC: u64 = 2;
