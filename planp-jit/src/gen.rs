//! The code generator the derived generating extensions drive.
//!
//! API CONTRACT (the macro relies on every sentence here):
//!
//! - A [`V`] is a handle on a value: a constant, a register or a spill slot. It is
//!   `Copy`. A V is *owned* (a temporary) unless it was made with [`V::shared`]. Every
//!   method that takes V operands **consumes its owned operands** (their locations are
//!   free again once the method returns) and leaves shared ones alone. [`Gen::release`]
//!   frees a value whatever its ownership (the macro calls it when a Rust variable that
//!   holds a V goes out of scope).
//! - A [`Var`] is a fixed location (register or spill slot) for a value that changes:
//!   a `let mut` of the interpreter, the result of a dynamic `if` or `match`. The
//!   location is chosen by the first [`Gen::set`] in emission order, which takes over an
//!   owned value's register (no move); [`Gen::set`] moves a value into it later,
//!   [`Gen::get`] copies it out as a new owned V, [`Gen::take`] turns it into one (and
//!   releases the variable). A variable must be set (possibly in unreachable code)
//!   before a loop that reads it; a backward [`Gen::jump`] checks this.
//! - The allocation state is the same after a call as before it: values in caller-saved
//!   registers are saved before the call and restored after. So control-flow joins never
//!   need to reconcile locations: a V made before a branch is in the same place on every
//!   path. Values made inside a branch must be consumed or released inside it.
//! - After an unconditional transfer ([`Gen::jump`], [`Gen::fail`], [`Gen::ret`]) the
//!   code is unreachable until the next [`Gen::bind`]; methods called in between emit
//!   nothing and return placeholder values.
//! - Constants fold: operations whose operands are all constants emit no code and give a
//!   constant; a branch on a constant is a jump or nothing.
//! - Arithmetic is on 64-bit words with the interpreter's semantics: `Add`, `Sub`, `Mul`
//!   wrap; shifts take their count modulo 64; `DivS`/`RemS` of `i64::MIN` by `-1` give
//!   `i64::MIN` and `0` (Rust's `wrapping_div`/`wrapping_rem`); a division by zero, which
//!   the interpreter never performs because it checks first, ends the entry with
//!   [`crate::PANIC`] instead of trapping.
//!
//! Two additions to the contract: [`Gen::discard`] consumes a value the way an operand
//! is consumed (an owned value is freed, a shared one left alone), and releasing or
//! discarding a value that is already free does nothing (value handles are never
//! reused, so a stale handle can never free a newer value). Using a freed value as an
//! operand is a bug of the caller and panics ("internal error"), as do binding a label
//! twice, jumping to a label that is never bound, and [`Gen::pop_handler`] without a
//! handler. A [`Gen::never`] placeholder emits nothing wherever it goes: an operation
//! on it gives another placeholder, `set`, `store_frame` and branches on it do nothing,
//! and as an argument of `call` or `ret` it is an undefined word.

// `dynasm!` converts each dynamic register number with `.into()`, even from `u8`.
#![allow(clippy::useless_conversion)]

use crate::code::{Code, Note};
use crate::{FAIL, JitError, PANIC, Part};
use dynasmrt::x64::X64Relocation;
use dynasmrt::{AssemblyOffset, DynamicLabel, DynasmApi, DynasmError, DynasmLabelApi, VecAssembler, dynasm};
use std::marker::PhantomData;

/// A value: a constant, a register or a spill slot (see the module's contract).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct V {
    pub(crate) id: u32,
    pub(crate) owned: bool,
}

impl V {
    /// A non-owning copy: operations that use it leave the value alive.
    pub fn shared(self) -> V {
        V { id: self.id, owned: false }
    }
}

/// A place to branch to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label(pub(crate) u32);

/// A fixed location for a value that changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Var(pub(crate) u32);

/// Two-operand word operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op2 {
    /// Wrapping addition.
    Add,
    /// Wrapping subtraction.
    Sub,
    /// Wrapping multiplication (the low 64 bits).
    Mul,
    /// Bitwise and.
    And,
    /// Bitwise or.
    Or,
    /// Bitwise exclusive or.
    Xor,
    /// Shift left by the count modulo 64.
    Shl,
    /// Logical shift right by the count modulo 64.
    ShrU,
    /// Arithmetic shift right by the count modulo 64.
    ShrS,
    /// Signed division, truncating (`i64::wrapping_div`).
    DivS,
    /// Signed remainder (`i64::wrapping_rem`).
    RemS,
    /// Unsigned division.
    DivU,
    /// Unsigned remainder.
    RemU,
}

/// One-operand word operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op1 {
    /// Two's complement negation (wrapping).
    Neg,
    /// Bitwise not.
    Not,
    /// Keep the low `n` bits (8, 16 or 32), clearing the others.
    Zext(u8),
    /// Keep the low `n` bits (8, 16 or 32), copying bit `n - 1` into the others.
    Sext(u8),
}

/// Comparisons; `S` is signed, `U` unsigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cond {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Signed less than.
    LtS,
    /// Signed less or equal.
    LeS,
    /// Signed greater than.
    GtS,
    /// Signed greater or equal.
    GeS,
    /// Unsigned less than.
    LtU,
    /// Unsigned less or equal.
    LeU,
    /// Unsigned greater than.
    GtU,
    /// Unsigned greater or equal.
    GeU,
}

/// The code generator. `'p` is the lifetime of the static data (the program) that the
/// generating extension reads and may lift into code as addresses; `M` is the machine
/// type whose pointer generated code passes to every shim.
///
/// # Implementation
///
/// **Native frame.** The prologue pushes `rbx`, `r12`, `r13`, `r14`, `r15` (the
/// callee-saved registers the code uses), moves `machine` to `r12` and `frame` to `r13`,
/// and reserves the spill area with `sub rsp, imm32`, whose immediate is patched by
/// [`Gen::finish`] once the number of spill slots is known (a spill area larger than a
/// page is instead reserved page by page by an out-of-line stub that touches each page,
/// so the guard page of a thread's stack is never jumped over). The spill area is, from
/// `rsp` up:
///
/// ```text
/// [rsp +  0 .. 56)        one save slot per caller-saved pool register
///                         (rcx, rdx, rsi, rdi, r8, r9, r10), used around calls
/// [rsp + 56 + 8*i]        spill slot i
/// ```
///
/// rounded up to 16 bytes, so `rsp` is 16-byte aligned everywhere in the body (it never
/// moves there) and so at every call; code that needs neither becomes a 7-byte `nop`.
/// Every exit goes through one epilogue at the end, followed by the stubs of the FAIL
/// and PANIC exits (`rax` = 0, `rdx` = the status).
///
/// **Assembly.** Code is assembled into a plain vector (dynasm-rs's `VecAssembler`,
/// labels as its dynamic labels); only [`Gen::finish`] maps memory, copies the code in
/// and makes it executable (see [`Code`]). An unconditional jump is emitted lazily, when
/// the next label is bound, and dropped if that label is its target.
///
/// **Registers.** `r12` = machine, `r13` = frame base, `rax` and `r11` scratch (results
/// of two-step sequences, large immediates, the callee address). The pool, in order of
/// preference: `rbx`, `r14`, `r15` (callee-saved: nothing to save around calls), then
/// `r10`, `rdi`, `r9`, `r8`, `rsi`, `rdx`, `rcx` (caller-saved; `rdx` and `rcx` last
/// because division and shifts need them).
///
/// **Spill policy.** A value or a [`Var`] gets its location when it is made and keeps it
/// until it is freed: a register from the pool if one is free, otherwise a spill slot.
/// Nothing is ever moved or evicted, which is what keeps every value in the same place on
/// every path. Operations take spilled operands from memory or through `rax`/`r11`.
///
/// **Calls.** Before a call, the caller-saved pool registers that hold values alive after
/// it (including [`Var`]s) are stored in their save slots; the arguments are loaded into
/// `rsi`, `rdx`, `rcx`, `r8`, `r9` (an argument whose register an earlier argument
/// overwrote is read back from its save slot), `rdi` gets the machine, `rax` the address.
/// After the call the status in `rdx` is compared, the saved registers are reloaded (the
/// loads leave the flags alone), and the code branches: [`crate::FAIL`] to the current
/// handler (fallible calls), anything else non-OK to the panic exit.
///
/// **Division and shifts.** Division computes in `rax`/`rdx`: a live value in `rdx` is
/// kept in `rdx`'s save slot meanwhile, a divisor in `rdx` or in memory goes through
/// `r11`; a dynamic divisor is checked for 0 (panic exit) and, when signed, for -1 (the
/// result is then `-a` or 0, as `wrapping_div`/`wrapping_rem` say). A dynamic shift
/// count goes through `cl`, a live `rcx` being kept in `r11` meanwhile.
#[repr(C)] // `Gen::part` views a `Gen<'p, M>` as a `Gen<'p, N>`: see there.
pub struct Gen<'p, M> {
    asm: VecAssembler<X64Relocation>,
    /// Where the machine the code works on starts, from the entry's machine (`r12`): 0,
    /// or the offset of a part of it inside [`Gen::part`].
    ctx_off: i32,
    /// Where each value is, by [`V::id`]; ids are never reused.
    vals: Vec<Loc>,
    /// Where each [`Var`] is.
    vars: Vec<Loc>,
    /// Free pool registers, bit `i` for `POOL[i]`.
    free: u16,
    /// Free spill slots.
    free_slots: Vec<u32>,
    /// Spill slots ever used.
    n_slots: u32,
    /// Were the save slots used?
    save_used: bool,
    /// The static frame offset.
    fp: u64,
    /// The frame words touched at static offsets.
    frame_words: u64,
    /// Our labels: the assembler's label and whether it is bound yet.
    labels: Vec<(DynamicLabel, bool)>,
    /// The failure handlers, innermost last.
    handlers: Vec<DynamicLabel>,
    /// Is the code being emitted reachable?
    reachable: bool,
    /// The variables read before any set gave them a location, in order (see
    /// [`Gen::var`]); a backward jump checks that none of those read since its label was
    /// bound existed then.
    undef_reads: Vec<u32>,
    /// For each bound label, `undef_reads.len()` and `vars.len()` when it was bound.
    bound_at: Vec<(u32, u32)>,
    /// The labels that emitted code may transfer to, bit per label.
    targeted: Vec<bool>,
    /// An unconditional jump not emitted yet (dropped if its label is bound next).
    pending: Option<DynamicLabel>,
    /// Notes placed since `pending` was set start here.
    pending_notes: usize,
    notes: Vec<Note>,
    note_text: String,
    /// Are notes recorded? (Off, [`Gen::note`] does nothing: code generated to run.)
    notes_on: bool,
    /// Offset of the prologue's `sub rsp, imm32`.
    reserve_at: usize,
    after_prologue: DynamicLabel,
    exit: DynamicLabel,
    fail_exit: DynamicLabel,
    panic_exit: DynamicLabel,
    fail_used: bool,
    panic_used: bool,
    _p: Marker<'p, M>,
}

/// `Gen` holds static data of lifetime `'p` (as addresses) and code for machines `M`.
type Marker<'p, M> = PhantomData<(&'p (), fn(&mut M))>;

// ---- registers and locations --------------------------------------------------------

const RAX: u8 = 0;
const RCX: u8 = 1;
const RDX: u8 = 2;
const RBX: u8 = 3;
const RSI: u8 = 6;
const RDI: u8 = 7;
const R8: u8 = 8;
const R9: u8 = 9;
const R10: u8 = 10;
const R11: u8 = 11;
const R14: u8 = 14;
const R15: u8 = 15;

/// The allocatable registers, most preferred first.
const POOL: [u8; 10] = [RBX, R14, R15, R10, RDI, R9, R8, RSI, RDX, RCX];
const ALL_FREE: u16 = (1 << POOL.len()) - 1;
/// `POOL_INDEX[r]`: where register `r` is in `POOL` (255: not in the pool).
const POOL_INDEX: [u8; 16] = {
    let mut t = [255u8; 16];
    let mut i = 0;
    while i < POOL.len() {
        t[POOL[i] as usize] = i as u8;
        i += 1;
    }
    t
};
/// The caller-saved pool registers, each with its save slot.
const CALLER_SAVED: [u8; 7] = [RCX, RDX, RSI, RDI, R8, R9, R10];
/// Word argument registers of a shim (the machine goes in `rdi`).
const ARG_REGS: [u8; 5] = [RSI, RDX, RCX, R8, R9];
/// Bytes of the save slots below the spill slots.
const SAVE_AREA: i32 = 8 * CALLER_SAVED.len() as i32;
/// Spill areas larger than this are reserved page by page.
const PAGE: usize = 4096;

fn save_disp(r: u8) -> i32 {
    let i = CALLER_SAVED.iter().position(|&c| c == r).expect("internal error: not a caller-saved register");
    8 * i as i32
}

fn slot_disp(s: u32) -> i32 {
    i32::try_from(s)
        .ok()
        .and_then(|s| s.checked_mul(8))
        .and_then(|d| d.checked_add(SAVE_AREA))
        .expect("internal error: spill area beyond 2 GiB")
}

/// Does `x` read as a sign-extended 32-bit immediate?
fn imm32(x: u64) -> Option<i32> {
    i32::try_from(x as i64).ok()
}

/// Where a value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Loc {
    Imm(u64),
    Reg(u8),
    Slot(u32),
    /// The placeholder of a value that is never computed.
    Never,
    /// Freed.
    Dead,
    /// A [`Var`] that has no location yet: it gets one when it is first set (taking over
    /// the set value's location when that value is owned, so no move is emitted) or read.
    Unset,
}

/// An instruction's source operand.
#[derive(Clone, Copy)]
enum Src {
    R(u8),
    /// `[rsp + disp]`.
    M(i32),
    I(i32),
}

/// Two-operand instructions of the `op reg, src` shape.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Alu {
    Add,
    Sub,
    And,
    Or,
    Xor,
    Cmp,
    Imul,
}

/// Where an operation computes its result (see [`Gen::work`]).
#[derive(Clone, Copy)]
enum Work {
    /// In the register of the owned first operand.
    InPlace,
    /// In a fresh register.
    Fresh,
    /// In `rax`, moved to a fresh location once the operands are freed.
    Scratch,
}

// ---- constant folding ---------------------------------------------------------------

/// `x op y` with the interpreter's semantics; `None` for a division by zero.
pub(crate) fn fold2(op: Op2, x: u64, y: u64) -> Option<u64> {
    let (sx, sy) = (x as i64, y as i64);
    Some(match op {
        Op2::Add => x.wrapping_add(y),
        Op2::Sub => x.wrapping_sub(y),
        Op2::Mul => x.wrapping_mul(y),
        Op2::And => x & y,
        Op2::Or => x | y,
        Op2::Xor => x ^ y,
        Op2::Shl => x << (y & 63),
        Op2::ShrU => x >> (y & 63),
        Op2::ShrS => (sx >> (y & 63)) as u64,
        Op2::DivS | Op2::RemS if y == 0 => return None,
        Op2::DivS => sx.wrapping_div(sy) as u64,
        Op2::RemS => sx.wrapping_rem(sy) as u64,
        Op2::DivU => x.checked_div(y)?,
        Op2::RemU => x.checked_rem(y)?,
    })
}

/// `op x`.
pub(crate) fn fold1(op: Op1, x: u64) -> u64 {
    match op {
        Op1::Neg => x.wrapping_neg(),
        Op1::Not => !x,
        Op1::Zext(n) if n >= 64 => x,
        Op1::Sext(n) if n >= 64 => x,
        Op1::Zext(0) | Op1::Sext(0) => 0,
        Op1::Zext(n) => x & ((1u64 << n) - 1),
        Op1::Sext(n) => (((x << (64 - n)) as i64) >> (64 - n)) as u64,
    }
}

/// `x c y`.
pub(crate) fn holds(c: Cond, x: u64, y: u64) -> bool {
    let (sx, sy) = (x as i64, y as i64);
    match c {
        Cond::Eq => x == y,
        Cond::Ne => x != y,
        Cond::LtS => sx < sy,
        Cond::LeS => sx <= sy,
        Cond::GtS => sx > sy,
        Cond::GeS => sx >= sy,
        Cond::LtU => x < y,
        Cond::LeU => x <= y,
        Cond::GtU => x > y,
        Cond::GeU => x >= y,
    }
}

/// The condition with its operands swapped: `a c b` iff `b swapped(c) a`.
fn swapped(c: Cond) -> Cond {
    match c {
        Cond::Eq => Cond::Eq,
        Cond::Ne => Cond::Ne,
        Cond::LtS => Cond::GtS,
        Cond::LeS => Cond::GeS,
        Cond::GtS => Cond::LtS,
        Cond::GeS => Cond::LeS,
        Cond::LtU => Cond::GtU,
        Cond::LeU => Cond::GeU,
        Cond::GtU => Cond::LtU,
        Cond::GeU => Cond::LeU,
    }
}

impl<'p, M> Default for Gen<'p, M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'p, M> Gen<'p, M> {
    /// A generator for one entry point. Emits the prologue.
    pub fn new() -> Self {
        let mut asm = VecAssembler::new_with_capacity(0, 1024, 0, 0, 16, 0, 32);
        let after_prologue = asm.new_dynamic_label();
        let exit = asm.new_dynamic_label();
        let fail_exit = asm.new_dynamic_label();
        let panic_exit = asm.new_dynamic_label();
        dynasm!(asm
            ; .arch x64
            ; push rbx
            ; push r12
            ; push r13
            ; push r14
            ; push r15
            ; mov r12, rdi
            ; mov r13, rsi
        );
        let reserve_at = asm.offset().0;
        dynasm!(asm
            ; .arch x64
            ; sub rsp, DWORD 0
            ; =>after_prologue
        );
        debug_assert_eq!(asm.offset().0, reserve_at + 7);
        Gen {
            asm,
            ctx_off: 0,
            vals: Vec::with_capacity(64),
            vars: Vec::new(),
            free: ALL_FREE,
            free_slots: Vec::new(),
            n_slots: 0,
            save_used: false,
            fp: 0,
            frame_words: 0,
            labels: Vec::with_capacity(16),
            handlers: Vec::new(),
            reachable: true,
            undef_reads: Vec::new(),
            bound_at: Vec::with_capacity(16),
            targeted: Vec::with_capacity(16),
            pending: None,
            pending_notes: 0,
            notes: Vec::new(),
            note_text: String::new(),
            notes_on: true,
            reserve_at,
            after_prologue,
            exit,
            fail_exit,
            panic_exit,
            fail_used: false,
            panic_used: false,
            _p: PhantomData,
        }
    }

    // ---- values ---------------------------------------------------------------------

    /// A constant.
    pub fn imm(&mut self, w: u64) -> V {
        self.new_val(Loc::Imm(w))
    }

    /// The constant `v` is, if it is one.
    pub fn constant(&self, v: V) -> Option<u64> {
        match self.vals.get(v.id as usize) {
            Some(Loc::Imm(w)) => Some(*w),
            _ => None,
        }
    }

    /// Free `v`'s location, owned or shared.
    pub fn release(&mut self, v: V) {
        let loc = self.vals[v.id as usize];
        self.free_loc(loc);
        self.vals[v.id as usize] = Loc::Dead;
    }

    /// Consume `v` as an operand would: free its location if it is owned, leave a shared
    /// value alone. (What a generating extension does with a value it does not use.)
    pub fn discard(&mut self, v: V) {
        self.consume(v);
    }

    /// A placeholder for the value of an expression that does not finish (it jumped).
    pub fn never(&mut self) -> V {
        self.new_val(Loc::Never)
    }

    /// A fixed location, initially undefined.
    ///
    /// The location is chosen lazily: the first [`Gen::set`] (in emission order) that
    /// emits code takes over the location of an owned value, so the value is not moved,
    /// and the variable holds no register while the code before it is generated. This is
    /// sound because the location is fixed from then on and, in emission order, nothing
    /// allocated later can take it; values alive across the set were allocated earlier
    /// and so are elsewhere. The one unsound pattern, a variable read before any set
    /// inside a loop whose head was bound before (the read would pick a location the
    /// loop's earlier code may use), cannot arise from Rust code, which initialises a
    /// variable before a loop reads it; [`Gen::jump`] checks it and panics.
    pub fn var(&mut self) -> Var {
        let id = u32::try_from(self.vars.len()).expect("internal error: too many variables");
        self.vars.push(Loc::Unset);
        Var(id)
    }

    /// Move `v` into `x`.
    pub fn set(&mut self, x: Var, v: V) {
        if self.emits(&[v]) {
            let src = self.loc(v);
            if self.vars[x.0 as usize] == Loc::Unset && v.owned && matches!(src, Loc::Reg(_) | Loc::Slot(_)) {
                // Take over the value's location: no move, and `v` is consumed.
                self.vars[x.0 as usize] = src;
                self.vals[v.id as usize] = Loc::Dead;
                return;
            }
            let dst = self.var_loc(x);
            self.move_loc(dst, src);
        } else if self.vars[x.0 as usize] == Loc::Unset {
            // A set in code that never runs still fixes the location here, where the
            // source says the variable is initialised (before any loop that reads it).
            let loc = self.alloc();
            self.vars[x.0 as usize] = loc;
        }
        self.consume(v);
    }

    /// A copy of `x`'s current value (owned).
    pub fn get(&mut self, x: Var) -> V {
        if !self.reachable {
            return self.never();
        }
        let src = self.var_loc(x);
        let dst = self.alloc();
        self.move_loc(dst, src);
        self.new_val(dst)
    }

    /// `x`'s current value as an owned value, and `x` released: [`Gen::get`] then
    /// [`Gen::release_var`] without the copy.
    pub fn take(&mut self, x: Var) -> V {
        if !self.reachable {
            self.release_var(x);
            return self.never();
        }
        let loc = self.var_loc(x);
        self.vars[x.0 as usize] = Loc::Dead;
        self.new_val(loc)
    }

    /// Free `x`'s location.
    pub fn release_var(&mut self, x: Var) {
        let loc = self.vars[x.0 as usize];
        self.free_loc(loc);
        self.vars[x.0 as usize] = Loc::Dead;
    }

    // ---- word operations ----------------------------------------------------------

    /// `a op b`.
    pub fn op2(&mut self, op: Op2, a: V, b: V) -> V {
        if !self.emits(&[a, b]) {
            return self.skip(&[a, b]);
        }
        let (la, lb) = (self.loc(a), self.loc(b));
        if let (Loc::Imm(x), Loc::Imm(y)) = (la, lb) {
            self.consume(a);
            self.consume(b);
            return match fold2(op, x, y) {
                Some(r) => self.imm(r),
                None => {
                    self.goto_panic();
                    self.never()
                }
            };
        }
        match op {
            Op2::Shl | Op2::ShrU | Op2::ShrS => self.shift(op, a, b, la, lb),
            Op2::DivS | Op2::RemS | Op2::DivU | Op2::RemU => self.divide(op, a, b, la, lb),
            Op2::Add | Op2::Sub | Op2::Mul | Op2::And | Op2::Or | Op2::Xor => self.arith(op, a, b, la, lb),
        }
    }

    /// `op a`.
    pub fn op1(&mut self, op: Op1, a: V) -> V {
        if !self.emits(&[a]) {
            return self.skip(&[a]);
        }
        let la = self.loc(a);
        if let Loc::Imm(x) = la {
            self.consume(a);
            return self.imm(fold1(op, x));
        }
        match op {
            Op1::Zext(n) | Op1::Sext(n) if n >= 64 => return self.pass(a, la),
            Op1::Zext(0) | Op1::Sext(0) => {
                self.consume(a);
                return self.imm(0);
            }
            _ => {}
        }
        let (r, w) = self.work(a, la);
        match op {
            Op1::Neg => dynasm!(self.asm ; .arch x64 ; neg Rq(r)),
            Op1::Not => dynasm!(self.asm ; .arch x64 ; not Rq(r)),
            Op1::Zext(8) => dynasm!(self.asm ; .arch x64 ; and Rd(r), DWORD 0xFF),
            Op1::Zext(16) => dynasm!(self.asm ; .arch x64 ; and Rd(r), DWORD 0xFFFF),
            Op1::Zext(32) => dynasm!(self.asm ; .arch x64 ; mov Rd(r), Rd(r)),
            Op1::Sext(32) => dynasm!(self.asm ; .arch x64 ; movsxd Rq(r), Rd(r)),
            Op1::Zext(n) => {
                let s = (64 - n) as i8;
                dynasm!(self.asm ; .arch x64 ; shl Rq(r), BYTE s ; shr Rq(r), BYTE s);
            }
            Op1::Sext(n) => {
                let s = (64 - n) as i8;
                dynasm!(self.asm ; .arch x64 ; shl Rq(r), BYTE s ; sar Rq(r), BYTE s);
            }
        }
        self.finish_op(w, r, a, None)
    }

    /// 1 if `a c b`, else 0.
    pub fn cmp(&mut self, c: Cond, a: V, b: V) -> V {
        if !self.emits(&[a, b]) {
            return self.skip(&[a, b]);
        }
        let (la, lb) = (self.loc(a), self.loc(b));
        if let (Loc::Imm(x), Loc::Imm(y)) = (la, lb) {
            self.consume(a);
            self.consume(b);
            return self.imm(holds(c, x, y) as u64);
        }
        let c = self.compare(c, la, lb);
        self.consume(a);
        self.consume(b);
        self.setcc(c);
        let dst = self.alloc();
        match dst {
            Loc::Reg(d) => dynasm!(self.asm ; .arch x64 ; movzx Rd(d), al),
            _ => {
                dynasm!(self.asm ; .arch x64 ; movzx eax, al);
                self.move_loc(dst, Loc::Reg(RAX));
            }
        }
        self.new_val(dst)
    }

    // ---- the machine's word frame ---------------------------------------------------

    /// Load slot `slot` of the current frame: the word at `frame[fp + slot]`.
    pub fn load_frame(&mut self, slot: u32) -> V {
        if !self.reachable {
            return self.never();
        }
        let index = self.fp.wrapping_add(slot as u64);
        self.load_static(index)
    }

    /// Store `v` into slot `slot` of the current frame.
    pub fn store_frame(&mut self, slot: u32, v: V) {
        if !self.emits(&[v]) {
            self.consume(v);
            return;
        }
        let index = self.fp.wrapping_add(slot as u64);
        self.touch(index);
        let lv = self.loc(v);
        let (ix, disp) = self.frame_addr(index);
        match (lv, ix) {
            (Loc::Imm(x), None) if imm32(x).is_some() => {
                let i = imm32(x).unwrap_or_default();
                dynasm!(self.asm ; .arch x64 ; mov QWORD [r13 + disp], DWORD i);
            }
            (Loc::Reg(r), _) => self.st_frame(ix, disp, r),
            _ => {
                // `rax` may hold the index: go through `r11`.
                self.mov_r_loc(R11, lv);
                self.st_frame(ix, disp, R11);
            }
        }
        self.consume(v);
    }

    /// Load the word at `frame[index + slot]`, `index` a dynamic frame index.
    ///
    /// (An access at a dynamic index is not counted in [`Code::frame_words`]: the caller
    /// gives a frame as large as the interpreter's.)
    pub fn load_frame_at(&mut self, index: V, slot: u32) -> V {
        if !self.emits(&[index]) {
            return self.skip(&[index]);
        }
        let li = self.loc(index);
        let ix = match li {
            Loc::Imm(i) => {
                self.consume(index);
                return self.load_static(i.wrapping_add(slot as u64));
            }
            Loc::Reg(r) => r,
            _ => {
                self.mov_r_loc(RAX, li);
                RAX
            }
        };
        let (ix, disp) = match i32::try_from(slot as u64 * 8) {
            Ok(d) => (ix, d),
            Err(_) => {
                if ix != RAX {
                    self.mov_rr(RAX, ix);
                }
                self.mov_ri(R11, slot as u64);
                dynasm!(self.asm ; .arch x64 ; add rax, r11);
                (RAX, 0)
            }
        };
        self.consume(index);
        let dst = self.alloc();
        let d = match dst {
            Loc::Reg(d) => d,
            _ => RAX,
        };
        dynasm!(self.asm ; .arch x64 ; mov Rq(d), QWORD [r13 + Rq(ix) * 8 + disp]);
        self.move_loc(dst, Loc::Reg(d));
        self.new_val(dst)
    }

    /// The frame index of slot `slot` of the current frame (`fp + slot`), a constant.
    pub fn frame_index(&mut self, slot: u32) -> V {
        self.imm(self.fp.wrapping_add(slot as u64))
    }

    /// Make the frame that starts at slot `base` of the current one current (a static
    /// change of `fp`: no code).
    pub fn enter(&mut self, base: u32) {
        self.fp = self.fp.wrapping_add(base as u64);
    }

    /// Undo [`Gen::enter`]`(base)`.
    pub fn leave(&mut self, base: u32) {
        self.fp = self.fp.checked_sub(base as u64).expect("internal error: leave without enter");
    }

    // ---- control ------------------------------------------------------------------

    /// A new label.
    pub fn label(&mut self) -> Label {
        let id = u32::try_from(self.labels.len()).expect("internal error: too many labels");
        let l = self.asm.new_dynamic_label();
        self.labels.push((l, false));
        self.targeted.push(false);
        Label(id)
    }

    /// Does emitted (reachable) code jump or branch to `l`, or may it fail to `l` as a
    /// handler? A generating extension uses this to skip a join nothing reaches.
    pub fn targeted(&self, l: Label) -> bool {
        self.targeted[l.0 as usize]
    }

    /// Place `l` here.
    pub fn bind(&mut self, l: Label) {
        let entry = &mut self.labels[l.0 as usize];
        assert!(!entry.1, "internal error: label {l:?} bound twice");
        entry.1 = true;
        let dl = entry.0;
        if self.bound_at.len() <= l.0 as usize {
            self.bound_at.resize(l.0 as usize + 1, (0, 0));
        }
        self.bound_at[l.0 as usize] = (self.undef_reads.len() as u32, self.vars.len() as u32);
        self.bind_dl(dl);
    }

    /// Jump to `l`.
    pub fn jump(&mut self, l: Label) {
        let (dl, bound) = self.labels[l.0 as usize];
        if bound && self.reachable {
            // A backward jump: no variable that existed at the loop's head may have got
            // its location by a read since (see [`Gen::var`]).
            let (reads, existing) = self.bound_at[l.0 as usize];
            assert!(
                self.undef_reads[reads as usize..].iter().all(|&x| x >= existing),
                "internal error: a variable was read before it was set inside a loop"
            );
        }
        if self.reachable {
            self.targeted[l.0 as usize] = true;
        }
        self.jump_dl(dl);
    }

    /// Jump to `l` if `v` is zero.
    pub fn branch_zero(&mut self, v: V, l: Label) {
        self.branch_test(v, l, true);
    }

    /// Jump to `l` if `v` is not zero.
    pub fn branch_nonzero(&mut self, v: V, l: Label) {
        self.branch_test(v, l, false);
    }

    /// Jump to `l` if `a c b`.
    pub fn branch_cmp(&mut self, c: Cond, a: V, b: V, l: Label) {
        if !self.emits(&[a, b]) {
            self.skip(&[a, b]);
            return;
        }
        let (la, lb) = (self.loc(a), self.loc(b));
        if let (Loc::Imm(x), Loc::Imm(y)) = (la, lb) {
            self.consume(a);
            self.consume(b);
            if holds(c, x, y) {
                self.jump(l);
            }
            return;
        }
        let c = self.compare(c, la, lb);
        self.consume(a);
        self.consume(b);
        let dl = self.labels[l.0 as usize].0;
        self.targeted[l.0 as usize] = true;
        self.jcc(c, dl);
    }

    /// Make `l` the failure handler until the matching [`Gen::pop_handler`].
    pub fn push_handler(&mut self, l: Label) {
        let dl = self.labels[l.0 as usize].0;
        self.targeted[l.0 as usize] = true;
        self.handlers.push(dl);
    }

    /// Restore the previous failure handler.
    pub fn pop_handler(&mut self) {
        self.handlers.pop().expect("internal error: pop_handler without push_handler");
    }

    /// Jump to the current failure handler (the outermost one returns [`crate::FAIL`]
    /// from the entry point).
    pub fn fail(&mut self) {
        if !self.reachable {
            return;
        }
        let target = self.handler();
        self.jump_dl(target);
    }

    /// Return `v` from the entry point with status [`crate::OK`].
    pub fn ret(&mut self, v: V) {
        if !self.reachable {
            self.consume(v);
            return;
        }
        let lv = self.loc(v);
        self.mov_r_loc(RAX, lv);
        self.consume(v);
        dynasm!(self.asm ; .arch x64 ; xor edx, edx);
        self.jump_dl(self.exit);
    }

    // ---- calls --------------------------------------------------------------------

    /// Call the shim at address `f` with the machine and `args` (at most five). If
    /// `fallible`, a [`crate::FAIL`] status jumps to the current failure handler; a
    /// [`crate::PANIC`] status always ends the entry point with that status. Gives the
    /// returned word.
    pub fn call(&mut self, f: usize, args: &[V], fallible: bool) -> V {
        assert!(args.len() <= ARG_REGS.len(), "internal error: a shim takes at most five words");
        if !self.reachable {
            return self.skip(args);
        }
        let live = self.pass_args(args);
        self.emit_call(f);
        if fallible {
            self.cmp_ri8(RDX, FAIL as i8);
        } else {
            dynasm!(self.asm ; .arch x64 ; test rdx, rdx);
        }
        for r in CALLER_SAVED {
            if live & (1 << r) != 0 {
                self.ld_sp(r, save_disp(r));
            }
        }
        self.panic_used = true;
        let panic_exit = self.panic_exit;
        if fallible {
            let handler = self.handler();
            dynasm!(self.asm
                ; .arch x64
                ; je =>handler
                ; ja =>panic_exit
            );
        } else {
            dynasm!(self.asm ; .arch x64 ; jnz =>panic_exit);
        }
        for &a in args {
            self.consume(a);
        }
        let dst = self.alloc();
        self.move_loc(dst, Loc::Reg(RAX));
        self.new_val(dst)
    }

    /// Call the shim at address `f`, made by [`crate::shim_slice1`] and its kin, which
    /// gives a byte slice of the machine: its address and its length. The address is 0
    /// only when the Rust code panicked (a slice's address never is), which ends the
    /// entry with [`crate::PANIC`].
    ///
    /// The slice is valid until the machine changes: a generating extension derived from
    /// code in which the slice borrows the machine (the borrow checker then rules out any
    /// change while it is used) reads it only in that window.
    pub fn call_slice(&mut self, f: usize, args: &[V]) -> (V, V) {
        assert!(args.len() <= ARG_REGS.len(), "internal error: a shim takes at most five words");
        if !self.reachable {
            let p = self.skip(args);
            return (p, self.never());
        }
        let live = self.pass_args(args);
        self.emit_call(f);
        // The length goes to `r11` before the saved registers (`rdx` among them) come
        // back; moves leave the flags of the test alone.
        dynasm!(self.asm
            ; .arch x64
            ; test rax, rax
            ; mov r11, rdx
        );
        for r in CALLER_SAVED {
            if live & (1 << r) != 0 {
                self.ld_sp(r, save_disp(r));
            }
        }
        self.panic_used = true;
        let panic_exit = self.panic_exit;
        dynasm!(self.asm ; .arch x64 ; jz =>panic_exit);
        for &a in args {
            self.consume(a);
        }
        let p = self.alloc();
        self.move_loc(p, Loc::Reg(RAX));
        let l = self.alloc();
        self.move_loc(l, Loc::Reg(R11));
        (self.new_val(p), self.new_val(l))
    }

    /// The big-endian number in the `n` bytes (at most 8) at static offset `off` of the
    /// byte slice at address `ptr` of length `len`, or 0 if `off + n > len`: what
    /// [`crate::BeBytes::be`] gives. A bounds check (none when `len` is a constant) and a
    /// load with a byte swap.
    pub fn load_be(&mut self, ptr: V, len: V, off: u32, n: u8) -> V {
        assert!(n <= 8, "internal error: a big-endian load reads at most 8 bytes");
        if !self.emits(&[ptr, len]) {
            return self.skip(&[ptr, len]);
        }
        let end = off as u64 + n as u64;
        let (lp, ll) = (self.loc(ptr), self.loc(len));
        let check = match ll {
            Loc::Imm(l) if end > l || n == 0 => {
                self.consume(ptr);
                self.consume(len);
                return self.imm(0);
            }
            Loc::Imm(_) => false,
            _ => true,
        };
        let Ok(end32) = i32::try_from(end) else {
            // Beyond any slice the machine can hold: the bounds check fails.
            self.consume(ptr);
            self.consume(len);
            return self.imm(0);
        };
        let p = match lp {
            Loc::Reg(r) => r,
            l => {
                self.mov_r_loc(R11, l);
                R11
            }
        };
        let dst = self.alloc();
        let d = match dst {
            Loc::Reg(d) => d,
            _ => RAX,
        };
        let o = off as i32;
        let skip = self.asm.new_dynamic_label();
        if check {
            // Zero first: `xor` sets the flags the bounds check then sets again.
            dynasm!(self.asm ; .arch x64 ; xor Rd(d), Rd(d));
            let c = self.compare(Cond::LtU, ll, Loc::Imm(end32 as u64));
            self.jcc(c, skip);
        }
        match n {
            1 => dynasm!(self.asm ; .arch x64 ; movzx Rd(d), BYTE [Rq(p) + o]),
            2 => dynasm!(self.asm ; .arch x64 ; movzx Rd(d), WORD [Rq(p) + o] ; rol Rw(d), 8),
            4 => dynasm!(self.asm ; .arch x64 ; mov Rd(d), DWORD [Rq(p) + o] ; bswap Rd(d)),
            8 => dynasm!(self.asm ; .arch x64 ; mov Rq(d), QWORD [Rq(p) + o] ; bswap Rq(d)),
            _ => {
                // Byte by byte, into the low byte of the shifted result.
                if !check {
                    dynasm!(self.asm ; .arch x64 ; xor Rd(d), Rd(d));
                }
                for i in 0..n as i32 {
                    dynasm!(self.asm ; .arch x64 ; shl Rq(d), 8 ; mov Rb(d), BYTE [Rq(p) + o + i]);
                }
            }
        }
        if check {
            dynasm!(self.asm ; .arch x64 ; =>skip);
        }
        self.consume(ptr);
        self.consume(len);
        self.move_loc(dst, Loc::Reg(d));
        self.new_val(dst)
    }

    /// [`Gen::load_be`] at a dynamic offset: the big-endian number in the `n` bytes (at
    /// most 8) at `off` of the slice at `ptr` of length `len`, or 0 if they are not all
    /// there (`off + n` beyond `len`, or overflowing).
    pub fn load_be_at(&mut self, ptr: V, len: V, off: V, n: u8) -> V {
        assert!(n <= 8, "internal error: a big-endian load reads at most 8 bytes");
        if !self.emits(&[ptr, len, off]) {
            return self.skip(&[ptr, len, off]);
        }
        if let Some(o) = self.constant(off).and_then(|o| u32::try_from(o).ok()) {
            self.consume(off);
            return self.load_be(ptr, len, o, n);
        }
        if n == 0 {
            for v in [ptr, len, off] {
                self.consume(v);
            }
            return self.imm(0);
        }
        // The address, `ptr + off`, in a register of its own (a copy: `off` and `ptr`
        // stay as they are), and `off + n`, checked against `len`, in `r11`.
        let (lp, ll, lo) = (self.loc(ptr), self.loc(len), self.loc(off));
        let dst = self.alloc();
        let d = match dst {
            Loc::Reg(d) => d,
            _ => RAX,
        };
        let skip = self.asm.new_dynamic_label();
        let n32 = n as i32;
        self.mov_r_loc(R11, lo);
        dynasm!(self.asm ; .arch x64 ; add r11, n32 ; jc =>skip);
        // `cmp len, r11`, `len` wherever it is.
        match ll {
            Loc::Reg(r) => dynasm!(self.asm ; .arch x64 ; cmp Rq(r), r11),
            Loc::Slot(s) => {
                let m = slot_disp(s);
                dynasm!(self.asm ; .arch x64 ; cmp QWORD [rsp + m], r11);
            }
            l => {
                // A constant length (or anything else) goes through the result register,
                // which is zeroed below anyway.
                self.mov_r_loc(d, l);
                dynasm!(self.asm ; .arch x64 ; cmp Rq(d), r11);
            }
        }
        dynasm!(self.asm ; .arch x64 ; jb =>skip);
        // The address, `ptr + off`, into r11 (which holds `off + n`).
        dynasm!(self.asm ; .arch x64 ; sub r11, n32);
        match lp {
            Loc::Reg(r) => dynasm!(self.asm ; .arch x64 ; add r11, Rq(r)),
            Loc::Slot(s) => {
                let m = slot_disp(s);
                dynasm!(self.asm ; .arch x64 ; add r11, QWORD [rsp + m]);
            }
            l => {
                self.mov_r_loc(d, l);
                dynasm!(self.asm ; .arch x64 ; add r11, Rq(d));
            }
        }
        match n {
            1 => dynasm!(self.asm ; .arch x64 ; movzx Rd(d), BYTE [r11]),
            2 => dynasm!(self.asm ; .arch x64 ; movzx Rd(d), WORD [r11] ; rol Rw(d), 8),
            4 => dynasm!(self.asm ; .arch x64 ; mov Rd(d), DWORD [r11] ; bswap Rd(d)),
            8 => dynasm!(self.asm ; .arch x64 ; mov Rq(d), QWORD [r11] ; bswap Rq(d)),
            _ => {
                dynasm!(self.asm ; .arch x64 ; xor Rd(d), Rd(d));
                for i in 0..n as i32 {
                    dynasm!(self.asm ; .arch x64 ; shl Rq(d), 8 ; mov Rb(d), BYTE [r11 + i]);
                }
            }
        }
        let done = self.asm.new_dynamic_label();
        dynasm!(self.asm
            ; .arch x64
            ; jmp =>done
            ; =>skip
            ; xor Rd(d), Rd(d)
            ; =>done
        );
        for v in [ptr, len, off] {
            self.consume(v);
        }
        self.move_loc(dst, Loc::Reg(d));
        self.new_val(dst)
    }

    /// Generate code for a part `N` of the machine `M` (a field at a fixed offset) with
    /// `f`, which drives a generator for machines `N`: the shims it calls get the part's
    /// address. This is how a generating extension written for one machine (a
    /// primitive's, for the run-time context) is inlined into code for a larger one.
    pub fn part<N, R>(&mut self, f: impl FnOnce(&mut Gen<'p, N>) -> R) -> R
    where
        M: Part<N>,
    {
        let off = i32::try_from(M::OFFSET).expect("internal error: a machine part beyond 2 GiB");
        self.ctx_off += off;
        // SAFETY: `Gen` is `repr(C)` and `M` appears in it only in the zero-sized
        // `PhantomData` marker, so `Gen<'p, M>` and `Gen<'p, N>` have the same fields,
        // of the same types, in the same order: the same layout. The marker is what
        // keeps shims for `N` from being called with an `M`; `ctx_off` makes every call
        // emitted meanwhile pass the part's address (`Part`'s contract: it is at
        // `OFFSET` inside the machine), so the view is sound for what it generates.
        let g = unsafe { &mut *(self as *mut Gen<'p, M>).cast::<Gen<'p, N>>() };
        let r = f(g);
        self.ctx_off -= off;
        r
    }

    // ---- finishing ----------------------------------------------------------------

    /// Record notes or not (they are recorded unless this says otherwise). Notes never
    /// change the code, only what [`Code::disassemble`] shows beside it; a generating
    /// extension asks [`Gen::notes`] before it formats one.
    pub fn set_notes(&mut self, on: bool) {
        self.notes_on = on;
    }

    /// Are notes recorded?
    pub fn notes(&self) -> bool {
        self.notes_on
    }

    /// Attach `text` to the code emitted next (shown by [`Code::disassemble`]); an empty
    /// text adds nothing.
    pub fn note(&mut self, text: &str) {
        if !self.notes_on || text.is_empty() {
            return;
        }
        let start = self.note_text.len();
        self.note_text.push_str(text);
        self.notes.push(Note { offset: self.asm.offset().0, text: start..self.note_text.len() });
    }

    /// Finish: resolve labels, make the code executable.
    ///
    /// Code that runs off its end (reachable at `finish`) ends the entry with
    /// [`crate::PANIC`].
    pub fn finish(mut self) -> Result<Code<M>, JitError> {
        if self.reachable {
            self.goto_panic();
        }
        let words = if self.save_used || self.n_slots > 0 { CALLER_SAVED.len() + self.n_slots as usize } else { 0 };
        let reserve = (words * 8).next_multiple_of(16);
        let reserve32 = i32::try_from(reserve).expect("internal error: spill area beyond 2 GiB");
        let exit = self.exit;
        self.bind_dl(exit);
        if reserve > 0 {
            dynasm!(self.asm ; .arch x64 ; add rsp, DWORD reserve32);
        }
        dynasm!(self.asm
            ; .arch x64
            ; pop r15
            ; pop r14
            ; pop r13
            ; pop r12
            ; pop rbx
            ; ret
        );
        if self.panic_used {
            let l = self.panic_exit;
            dynasm!(self.asm
                ; .arch x64
                ; =>l
                ; mov edx, PANIC as i32
                ; xor eax, eax
                ; jmp =>exit
            );
        }
        if self.fail_used {
            let l = self.fail_exit;
            dynasm!(self.asm
                ; .arch x64
                ; =>l
                ; mov edx, FAIL as i32
                ; xor eax, eax
                ; jmp =>exit
            );
        }
        if reserve == 0 {
            // No spill area: the `sub` becomes a 7-byte nop.
            let mut m = self.asm.alter();
            m.goto(AssemblyOffset(self.reserve_at));
            m.extend([0x0F, 0x1F, 0x80, 0, 0, 0, 0]);
        } else if reserve <= PAGE {
            let mut m = self.asm.alter();
            m.goto(AssemblyOffset(self.reserve_at + 3));
            m.push_i32(reserve32);
        } else {
            // Reserve page by page, touching each, out of line.
            let stub = self.asm.offset().0;
            let pages = (reserve / PAGE) as i32;
            let rest = (reserve % PAGE) as i32;
            let back = self.after_prologue;
            dynasm!(self.asm
                ; .arch x64
                ; mov eax, DWORD pages
                ; page:
                ; sub rsp, DWORD PAGE as i32
                ; mov QWORD [rsp], DWORD 0
                ; dec eax
                ; jnz <page
                ; sub rsp, DWORD rest
                ; jmp =>back
            );
            let rel = stub as i64 - (self.reserve_at as i64 + 5);
            let rel = i32::try_from(rel).expect("internal error: code beyond 2 GiB");
            let mut m = self.asm.alter();
            m.goto(AssemblyOffset(self.reserve_at));
            m.push(0xE9); // jmp rel32
            m.push_i32(rel);
            m.push(0x66); // two-byte nop
            m.push(0x90);
        }
        let bytes = match self.asm.finalize() {
            Ok(bytes) => bytes,
            Err(DynasmError::UnknownLabel(l)) => panic!("internal error: a jump to a label never bound ({l})"),
            Err(e) => return Err(JitError::Memory(format!("assembling: {e}"))),
        };
        let frame_words = usize::try_from(self.frame_words).unwrap_or(usize::MAX);
        Code::new(&bytes, frame_words, self.notes, self.note_text)
    }

    // ---- private: values and locations ----------------------------------------------

    fn new_val(&mut self, loc: Loc) -> V {
        let id = u32::try_from(self.vals.len()).expect("internal error: too many values");
        self.vals.push(loc);
        V { id, owned: true }
    }

    /// Where `v` is, for reading it.
    fn loc(&self, v: V) -> Loc {
        match self.vals[v.id as usize] {
            Loc::Dead => panic!("internal error: value {} used after it was consumed or released", v.id),
            l => l,
        }
    }

    /// Where `x` is; a variable read before it was ever set gets a location now.
    fn var_loc(&mut self, x: Var) -> Loc {
        match self.vars[x.0 as usize] {
            Loc::Dead => panic!("internal error: variable {} used after it was released", x.0),
            Loc::Unset => {
                let loc = self.alloc();
                self.vars[x.0 as usize] = loc;
                self.undef_reads.push(x.0);
                loc
            }
            l => l,
        }
    }

    /// Is code emitted for an operation on `vs`? Not in unreachable code, nor on a
    /// placeholder.
    fn emits(&self, vs: &[V]) -> bool {
        self.reachable && vs.iter().all(|v| self.vals[v.id as usize] != Loc::Never)
    }

    /// Consume an operand: free it if owned.
    fn consume(&mut self, v: V) {
        if v.owned {
            self.release(v);
        }
    }

    /// The unreachable case of an operation: consume the operands, give a placeholder.
    fn skip(&mut self, vs: &[V]) -> V {
        for &v in vs {
            self.consume(v);
        }
        self.never()
    }

    /// A new location: a free register, else a spill slot.
    fn alloc(&mut self) -> Loc {
        if self.free != 0 {
            let i = self.free.trailing_zeros();
            self.free &= !(1 << i);
            return Loc::Reg(POOL[i as usize]);
        }
        let s = match self.free_slots.pop() {
            Some(s) => s,
            None => {
                self.n_slots += 1;
                self.n_slots - 1
            }
        };
        Loc::Slot(s)
    }

    fn free_loc(&mut self, loc: Loc) {
        match loc {
            Loc::Reg(r) => self.free |= 1 << POOL_INDEX[r as usize],
            Loc::Slot(s) => self.free_slots.push(s),
            _ => {}
        }
    }

    fn busy(&self, r: u8) -> bool {
        self.free & (1 << POOL_INDEX[r as usize]) == 0
    }

    /// The caller-saved registers holding something, as a mask of register numbers.
    fn busy_caller_saved(&self) -> u16 {
        CALLER_SAVED.iter().filter(|&&r| self.busy(r)).fold(0, |m, &r| m | (1 << r))
    }

    /// The result equals `a`: `a` itself if owned, else a copy.
    fn pass(&mut self, a: V, la: Loc) -> V {
        if a.owned {
            self.vals[a.id as usize] = Loc::Dead;
            return self.new_val(la);
        }
        let dst = self.alloc();
        self.move_loc(dst, la);
        self.new_val(dst)
    }

    /// A register holding `a` that the operation may change: `a`'s own if `a` is owned
    /// and in a register, else a fresh one (`a` copied in), else `rax`.
    fn work(&mut self, a: V, la: Loc) -> (u8, Work) {
        if let (true, Loc::Reg(r)) = (a.owned, la) {
            return (r, Work::InPlace);
        }
        if self.free != 0
            && let Loc::Reg(d) = self.alloc()
        {
            self.mov_r_loc(d, la);
            return (d, Work::Fresh);
        }
        self.mov_r_loc(RAX, la);
        (RAX, Work::Scratch)
    }

    /// The result of an operation computed by [`Gen::work`] in `r`; consumes the operands.
    fn finish_op(&mut self, w: Work, r: u8, a: V, b: Option<V>) -> V {
        match w {
            Work::InPlace => {
                // The register goes from `a` to the result.
                self.vals[a.id as usize] = Loc::Dead;
                if let Some(b) = b {
                    self.consume(b);
                }
                self.new_val(Loc::Reg(r))
            }
            Work::Fresh => {
                self.consume(a);
                if let Some(b) = b {
                    self.consume(b);
                }
                self.new_val(Loc::Reg(r))
            }
            Work::Scratch => {
                self.consume(a);
                if let Some(b) = b {
                    self.consume(b);
                }
                let dst = self.alloc();
                self.move_loc(dst, Loc::Reg(r));
                self.new_val(dst)
            }
        }
    }

    /// An operand for an instruction; a large constant goes through `r11`.
    fn src(&mut self, l: Loc) -> Src {
        match l {
            Loc::Reg(r) => Src::R(r),
            Loc::Slot(s) => Src::M(slot_disp(s)),
            Loc::Imm(x) => match imm32(x) {
                Some(i) => Src::I(i),
                None => {
                    self.mov_ri(R11, x);
                    Src::R(R11)
                }
            },
            Loc::Never | Loc::Dead | Loc::Unset => unreachable!("internal error: operand without a location"),
        }
    }

    /// Save the live caller-saved registers and put `args` in the argument registers;
    /// gives the registers saved that must be restored after the call (those that stay
    /// live: the owned arguments die with it).
    fn pass_args(&mut self, args: &[V]) -> u16 {
        let mut locs = [Loc::Dead; 5];
        // Registers that the call frees (owned arguments).
        let mut dying = 0u16;
        for (i, &a) in args.iter().enumerate() {
            locs[i] = self.loc(a);
            if let (true, Loc::Reg(r)) = (a.owned, locs[i]) {
                dying |= 1 << r;
            }
        }
        let live = self.busy_caller_saved() & !dying;
        // Arguments read from a register that an earlier argument overwrites come from
        // the register's save slot.
        let mut saves = live;
        let mut written = 0u16;
        for (i, loc) in locs[..args.len()].iter().enumerate() {
            if let Loc::Reg(r) = *loc
                && written & (1 << r) != 0
            {
                saves |= 1 << r;
            }
            written |= 1 << ARG_REGS[i];
        }
        for r in CALLER_SAVED {
            if saves & (1 << r) != 0 {
                self.st_sp(save_disp(r), r);
                self.save_used = true;
            }
        }
        written = 0;
        for (i, loc) in locs[..args.len()].iter().enumerate() {
            let d = ARG_REGS[i];
            match *loc {
                Loc::Reg(r) if r == d => {}
                Loc::Reg(r) if written & (1 << r) != 0 => self.ld_sp(d, save_disp(r)),
                l => self.mov_r_loc(d, l),
            }
            written |= 1 << d;
        }
        live
    }

    /// The call itself: the machine (or the part of it being generated for) in `rdi`,
    /// the shim's absolute address in `rax`.
    fn emit_call(&mut self, f: usize) {
        let fa = f as u64 as i64;
        let off = self.ctx_off;
        if off == 0 {
            dynasm!(self.asm ; .arch x64 ; mov rdi, r12);
        } else {
            dynasm!(self.asm ; .arch x64 ; lea rdi, [r12 + off]);
        }
        dynasm!(self.asm
            ; .arch x64
            ; mov rax, QWORD fa
            ; call rax
        );
    }

    // ---- private: operations ----------------------------------------------------------

    fn arith(&mut self, op: Op2, mut a: V, mut b: V, mut la: Loc, mut lb: Loc) -> V {
        let commutes = op != Op2::Sub;
        let owned_reg = |v: V, l: Loc| v.owned && matches!(l, Loc::Reg(_));
        if commutes && (matches!(la, Loc::Imm(_)) || (!owned_reg(a, la) && owned_reg(b, lb))) {
            std::mem::swap(&mut a, &mut b);
            std::mem::swap(&mut la, &mut lb);
        }
        if let Loc::Imm(y) = lb {
            match (op, y) {
                (Op2::Add | Op2::Sub | Op2::Or | Op2::Xor, 0) | (Op2::Mul, 1) | (Op2::And, u64::MAX) => {
                    self.consume(b);
                    return self.pass(a, la);
                }
                (Op2::Mul | Op2::And, 0) => {
                    self.consume(a);
                    self.consume(b);
                    return self.imm(0);
                }
                _ => {}
            }
        }
        let (r, w) = self.work(a, la);
        let alu = match op {
            Op2::Add => Alu::Add,
            Op2::Sub => Alu::Sub,
            Op2::Mul => Alu::Imul,
            Op2::And => Alu::And,
            Op2::Or => Alu::Or,
            _ => Alu::Xor,
        };
        let s = self.src(lb);
        self.alu(alu, r, s);
        self.finish_op(w, r, a, Some(b))
    }

    fn shift(&mut self, op: Op2, a: V, b: V, la: Loc, lb: Loc) -> V {
        if let Loc::Imm(c) = lb {
            let c = (c & 63) as i8;
            self.consume(b);
            if c == 0 {
                return self.pass(a, la);
            }
            let (r, w) = self.work(a, la);
            match op {
                Op2::Shl => dynasm!(self.asm ; .arch x64 ; shl Rq(r), BYTE c),
                Op2::ShrU => dynasm!(self.asm ; .arch x64 ; shr Rq(r), BYTE c),
                _ => dynasm!(self.asm ; .arch x64 ; sar Rq(r), BYTE c),
            }
            return self.finish_op(w, r, a, None);
        }
        let (r, w, saved) = if lb == Loc::Reg(RCX) && la != Loc::Reg(RCX) {
            // The count is in `cl` already; `a` is not in `rcx`, so neither is `r`.
            let (r, w) = self.work(a, la);
            (r, w, false)
        } else {
            self.mov_r_loc(RAX, la);
            let saved = lb != Loc::Reg(RCX) && self.busy(RCX);
            if saved {
                dynasm!(self.asm ; .arch x64 ; mov r11, rcx);
            }
            self.mov_r_loc(RCX, lb);
            (RAX, Work::Scratch, saved)
        };
        match op {
            Op2::Shl => dynasm!(self.asm ; .arch x64 ; shl Rq(r), cl),
            Op2::ShrU => dynasm!(self.asm ; .arch x64 ; shr Rq(r), cl),
            _ => dynasm!(self.asm ; .arch x64 ; sar Rq(r), cl),
        }
        if saved {
            dynasm!(self.asm ; .arch x64 ; mov rcx, r11);
        }
        self.finish_op(w, r, a, Some(b))
    }

    fn divide(&mut self, op: Op2, a: V, b: V, la: Loc, lb: Loc) -> V {
        let signed = matches!(op, Op2::DivS | Op2::RemS);
        let rem = matches!(op, Op2::RemS | Op2::RemU);
        let mut checked = true;
        let d = match lb {
            Loc::Imm(0) => {
                self.consume(a);
                self.consume(b);
                self.goto_panic();
                return self.never();
            }
            Loc::Imm(1) => {
                self.consume(b);
                if rem {
                    self.consume(a);
                    return self.imm(0);
                }
                return self.pass(a, la);
            }
            Loc::Imm(u64::MAX) if signed => {
                self.consume(b);
                if rem {
                    self.consume(a);
                    return self.imm(0);
                }
                return self.op1(Op1::Neg, a);
            }
            Loc::Imm(y) if !signed && y.is_power_of_two() => {
                self.consume(b);
                return if rem {
                    let m = self.imm(y - 1);
                    self.op2(Op2::And, a, m)
                } else {
                    let s = self.imm(y.trailing_zeros() as u64);
                    self.op2(Op2::ShrU, a, s)
                };
            }
            Loc::Imm(y) => {
                self.mov_ri(R11, y);
                checked = false;
                R11
            }
            Loc::Reg(r) if r != RDX => r,
            _ => {
                self.mov_r_loc(R11, lb);
                R11
            }
        };
        self.mov_r_loc(RAX, la);
        let holds_operand = |v: V, l: Loc| v.owned && l == Loc::Reg(RDX);
        let save_rdx = self.busy(RDX) && !holds_operand(a, la) && !holds_operand(b, lb);
        if save_rdx {
            self.st_sp(save_disp(RDX), RDX);
            self.save_used = true;
        }
        if checked {
            self.panic_used = true;
            let panic_exit = self.panic_exit;
            dynasm!(self.asm ; .arch x64 ; test Rq(d), Rq(d) ; jz =>panic_exit);
        }
        match (signed, checked, rem) {
            (true, true, false) => dynasm!(self.asm
                ; .arch x64
                ; cmp Rq(d), DWORD -1
                ; jne >divide
                ; neg rax
                ; jmp >done
                ; divide:
                ; cqo
                ; idiv Rq(d)
                ; done:
            ),
            (true, true, true) => dynasm!(self.asm
                ; .arch x64
                ; cmp Rq(d), DWORD -1
                ; jne >divide
                ; xor eax, eax
                ; jmp >done
                ; divide:
                ; cqo
                ; idiv Rq(d)
                ; mov rax, rdx
                ; done:
            ),
            (true, false, _) => dynasm!(self.asm ; .arch x64 ; cqo ; idiv Rq(d)),
            (false, _, _) => dynasm!(self.asm ; .arch x64 ; xor edx, edx ; div Rq(d)),
        }
        if rem && !(signed && checked) {
            dynasm!(self.asm ; .arch x64 ; mov rax, rdx);
        }
        if save_rdx {
            self.ld_sp(RDX, save_disp(RDX));
        }
        self.finish_op(Work::Scratch, RAX, a, Some(b))
    }

    /// Emit a comparison of `a` with `b` (not both constants); gives the condition to
    /// test on the flags (swapped if the operands were).
    fn compare(&mut self, c: Cond, la: Loc, lb: Loc) -> Cond {
        let (c, la, lb) = if matches!(la, Loc::Imm(_)) { (swapped(c), lb, la) } else { (c, la, lb) };
        match (la, lb) {
            (Loc::Reg(r), Loc::Imm(0)) => dynasm!(self.asm ; .arch x64 ; test Rq(r), Rq(r)),
            (Loc::Reg(r), _) => {
                let s = self.src(lb);
                self.alu(Alu::Cmp, r, s);
            }
            (Loc::Slot(s), Loc::Reg(r)) => {
                let m = slot_disp(s);
                dynasm!(self.asm ; .arch x64 ; cmp QWORD [rsp + m], Rq(r));
            }
            (Loc::Slot(s), Loc::Imm(y)) if imm32(y).is_some() => {
                let m = slot_disp(s);
                let i = imm32(y).unwrap_or_default();
                dynasm!(self.asm ; .arch x64 ; cmp QWORD [rsp + m], DWORD i);
            }
            _ => {
                self.mov_r_loc(RAX, la);
                let s = self.src(lb);
                self.alu(Alu::Cmp, RAX, s);
            }
        }
        c
    }

    fn branch_test(&mut self, v: V, l: Label, zero: bool) {
        if !self.emits(&[v]) {
            self.consume(v);
            return;
        }
        let lv = self.loc(v);
        self.consume(v);
        match lv {
            Loc::Imm(x) => {
                if (x == 0) == zero {
                    self.jump(l);
                }
                return;
            }
            Loc::Reg(r) => dynasm!(self.asm ; .arch x64 ; test Rq(r), Rq(r)),
            _ => {
                let m = match lv {
                    Loc::Slot(s) => slot_disp(s),
                    _ => unreachable!(),
                };
                dynasm!(self.asm ; .arch x64 ; cmp QWORD [rsp + m], DWORD 0);
            }
        }
        let dl = self.labels[l.0 as usize].0;
        self.targeted[l.0 as usize] = true;
        self.jcc(if zero { Cond::Eq } else { Cond::Ne }, dl);
    }

    // ---- private: frame ---------------------------------------------------------------

    fn touch(&mut self, index: u64) {
        self.frame_words = self.frame_words.max(index.saturating_add(1));
    }

    /// The address of `frame[index]`: `[r13 + disp]`, or `[r13 + rax*8]` with `rax` set
    /// to the index when the displacement does not fit.
    fn frame_addr(&mut self, index: u64) -> (Option<u8>, i32) {
        match index.checked_mul(8).and_then(|b| i32::try_from(b).ok()) {
            Some(d) => (None, d),
            None => {
                self.mov_ri(RAX, index);
                (Some(RAX), 0)
            }
        }
    }

    fn load_static(&mut self, index: u64) -> V {
        self.touch(index);
        let (ix, disp) = self.frame_addr(index);
        let dst = self.alloc();
        let d = match dst {
            Loc::Reg(d) => d,
            _ => RAX,
        };
        match ix {
            None if i8::try_from(disp).is_ok() => {
                let d8 = disp as i8;
                dynasm!(self.asm ; .arch x64 ; mov Rq(d), QWORD [BYTE r13 + d8]);
            }
            None => dynasm!(self.asm ; .arch x64 ; mov Rq(d), QWORD [r13 + disp]),
            Some(i) => dynasm!(self.asm ; .arch x64 ; mov Rq(d), QWORD [r13 + Rq(i) * 8]),
        }
        self.move_loc(dst, Loc::Reg(d));
        self.new_val(dst)
    }

    fn st_frame(&mut self, ix: Option<u8>, disp: i32, r: u8) {
        match ix {
            None if i8::try_from(disp).is_ok() => {
                let d8 = disp as i8;
                dynasm!(self.asm ; .arch x64 ; mov QWORD [BYTE r13 + d8], Rq(r));
            }
            None => dynasm!(self.asm ; .arch x64 ; mov QWORD [r13 + disp], Rq(r)),
            Some(i) => dynasm!(self.asm ; .arch x64 ; mov QWORD [r13 + Rq(i) * 8], Rq(r)),
        }
    }

    // ---- private: control ---------------------------------------------------------------

    fn handler(&mut self) -> DynamicLabel {
        match self.handlers.last() {
            Some(&h) => h,
            None => {
                self.fail_used = true;
                self.fail_exit
            }
        }
    }

    /// Jump to the exit that ends the entry with [`crate::PANIC`].
    fn goto_panic(&mut self) {
        self.panic_used = true;
        self.jump_dl(self.panic_exit);
    }

    /// An unconditional jump; it is emitted when the next label is bound, unless that
    /// label is its target.
    fn jump_dl(&mut self, l: DynamicLabel) {
        if !self.reachable {
            return;
        }
        self.pending = Some(l);
        self.pending_notes = self.notes.len();
        self.reachable = false;
    }

    fn bind_dl(&mut self, l: DynamicLabel) {
        match self.pending.take() {
            Some(p) if p == l => {}
            Some(p) => {
                dynasm!(self.asm ; .arch x64 ; jmp =>p);
                // Notes placed after the jump belong to what follows it.
                let here = self.asm.offset().0;
                for n in &mut self.notes[self.pending_notes..] {
                    n.offset = here;
                }
            }
            None => {}
        }
        dynasm!(self.asm ; .arch x64 ; =>l);
        self.reachable = true;
    }

    fn jcc(&mut self, c: Cond, l: DynamicLabel) {
        match c {
            Cond::Eq => dynasm!(self.asm ; .arch x64 ; je =>l),
            Cond::Ne => dynasm!(self.asm ; .arch x64 ; jne =>l),
            Cond::LtS => dynasm!(self.asm ; .arch x64 ; jl =>l),
            Cond::LeS => dynasm!(self.asm ; .arch x64 ; jle =>l),
            Cond::GtS => dynasm!(self.asm ; .arch x64 ; jg =>l),
            Cond::GeS => dynasm!(self.asm ; .arch x64 ; jge =>l),
            Cond::LtU => dynasm!(self.asm ; .arch x64 ; jb =>l),
            Cond::LeU => dynasm!(self.asm ; .arch x64 ; jbe =>l),
            Cond::GtU => dynasm!(self.asm ; .arch x64 ; ja =>l),
            Cond::GeU => dynasm!(self.asm ; .arch x64 ; jae =>l),
        }
    }

    fn setcc(&mut self, c: Cond) {
        match c {
            Cond::Eq => dynasm!(self.asm ; .arch x64 ; sete al),
            Cond::Ne => dynasm!(self.asm ; .arch x64 ; setne al),
            Cond::LtS => dynasm!(self.asm ; .arch x64 ; setl al),
            Cond::LeS => dynasm!(self.asm ; .arch x64 ; setle al),
            Cond::GtS => dynasm!(self.asm ; .arch x64 ; setg al),
            Cond::GeS => dynasm!(self.asm ; .arch x64 ; setge al),
            Cond::LtU => dynasm!(self.asm ; .arch x64 ; setb al),
            Cond::LeU => dynasm!(self.asm ; .arch x64 ; setbe al),
            Cond::GtU => dynasm!(self.asm ; .arch x64 ; seta al),
            Cond::GeU => dynasm!(self.asm ; .arch x64 ; setae al),
        }
    }

    // ---- private: moves and instructions ----------------------------------------------

    fn mov_rr(&mut self, d: u8, s: u8) {
        if d != s {
            dynasm!(self.asm ; .arch x64 ; mov Rq(d), Rq(s));
        }
    }

    /// `mov d, x` in its shortest form (`0` is `xor`, which changes the flags).
    fn mov_ri(&mut self, d: u8, x: u64) {
        if x == 0 {
            dynasm!(self.asm ; .arch x64 ; xor Rd(d), Rd(d));
        } else if let Ok(x) = u32::try_from(x) {
            dynasm!(self.asm ; .arch x64 ; mov Rd(d), DWORD x as i32);
        } else if let Some(i) = imm32(x) {
            dynasm!(self.asm ; .arch x64 ; mov Rq(d), DWORD i);
        } else {
            dynasm!(self.asm ; .arch x64 ; mov Rq(d), QWORD x as i64);
        }
    }

    fn ld_sp(&mut self, d: u8, disp: i32) {
        if let Ok(d8) = i8::try_from(disp) {
            dynasm!(self.asm ; .arch x64 ; mov Rq(d), QWORD [BYTE rsp + d8]);
        } else {
            dynasm!(self.asm ; .arch x64 ; mov Rq(d), QWORD [rsp + disp]);
        }
    }

    fn st_sp(&mut self, disp: i32, s: u8) {
        if let Ok(d8) = i8::try_from(disp) {
            dynasm!(self.asm ; .arch x64 ; mov QWORD [BYTE rsp + d8], Rq(s));
        } else {
            dynasm!(self.asm ; .arch x64 ; mov QWORD [rsp + disp], Rq(s));
        }
    }

    /// `mov d, l` for a readable location.
    fn mov_r_loc(&mut self, d: u8, l: Loc) {
        match l {
            Loc::Reg(r) => self.mov_rr(d, r),
            Loc::Slot(s) => self.ld_sp(d, slot_disp(s)),
            Loc::Imm(x) => self.mov_ri(d, x),
            Loc::Never => {}
            Loc::Dead | Loc::Unset => unreachable!("internal error: moving a freed value"),
        }
    }

    /// Move a value to a register or a spill slot.
    fn move_loc(&mut self, dst: Loc, src: Loc) {
        match (dst, src) {
            (Loc::Reg(d), _) => self.mov_r_loc(d, src),
            (Loc::Slot(s), Loc::Reg(r)) => self.st_sp(slot_disp(s), r),
            (Loc::Slot(s), Loc::Imm(x)) if imm32(x).is_some() => {
                let m = slot_disp(s);
                let i = imm32(x).unwrap_or_default();
                dynasm!(self.asm ; .arch x64 ; mov QWORD [rsp + m], DWORD i);
            }
            (Loc::Slot(_), _) if dst == src => {}
            (Loc::Slot(s), _) => {
                self.mov_r_loc(RAX, src);
                self.st_sp(slot_disp(s), RAX);
            }
            _ => unreachable!("internal error: moving into {dst:?}"),
        }
    }

    /// `cmp d, imm8` (sign-extended), encoded by hand: REX.W 83 /7 ib.
    fn cmp_ri8(&mut self, d: u8, i: i8) {
        self.asm.push(0x48 | (d >> 3));
        self.asm.push(0x83);
        self.asm.push(0xC0 | (7 << 3) | (d & 7));
        self.asm.push_i8(i);
    }

    /// `op d, s`.
    fn alu(&mut self, op: Alu, d: u8, s: Src) {
        macro_rules! forms {
            ($mn:ident) => {
                match s {
                    Src::R(s) => dynasm!(self.asm ; .arch x64 ; $mn Rq(d), Rq(s)),
                    Src::M(m) => dynasm!(self.asm ; .arch x64 ; $mn Rq(d), QWORD [rsp + m]),
                    Src::I(i) => match i8::try_from(i) {
                        Ok(b) => dynasm!(self.asm ; .arch x64 ; $mn Rq(d), BYTE b),
                        Err(_) => dynasm!(self.asm ; .arch x64 ; $mn Rq(d), DWORD i),
                    },
                }
            };
        }
        match op {
            Alu::Add => forms!(add),
            Alu::Sub => forms!(sub),
            Alu::And => forms!(and),
            Alu::Or => forms!(or),
            Alu::Xor => forms!(xor),
            Alu::Cmp => match s {
                // dynasm picks the imm32 form of `cmp` for a byte immediate.
                Src::I(i) => match i8::try_from(i) {
                    Ok(b) => self.cmp_ri8(d, b),
                    Err(_) => dynasm!(self.asm ; .arch x64 ; cmp Rq(d), DWORD i),
                },
                Src::R(s) => dynasm!(self.asm ; .arch x64 ; cmp Rq(d), Rq(s)),
                Src::M(m) => dynasm!(self.asm ; .arch x64 ; cmp Rq(d), QWORD [rsp + m]),
            },
            Alu::Imul => match s {
                Src::R(s) => dynasm!(self.asm ; .arch x64 ; imul Rq(d), Rq(s)),
                Src::M(m) => dynasm!(self.asm ; .arch x64 ; imul Rq(d), QWORD [rsp + m]),
                Src::I(i) => match i8::try_from(i) {
                    Ok(b) => dynasm!(self.asm ; .arch x64 ; imul Rq(d), Rq(d), BYTE b),
                    Err(_) => dynasm!(self.asm ; .arch x64 ; imul Rq(d), Rq(d), DWORD i),
                },
            },
        }
    }
}
