//! Finished code: executable memory, the entry point, the disassembly.
//!
//! The bytes [`crate::Gen`] assembled are copied into a fresh anonymous mapping that is
//! readable and writable, which is then made readable and executable (dynasmrt's
//! `MutableBuffer::make_exec`, an `mprotect`): no page is ever writable and executable
//! at once, and the code never changes after that.

use crate::{PANIC, Ret, take_panic};
use dynasmrt::ExecutableBuffer;
use dynasmrt::mmap::MutableBuffer;
use std::fmt::Write as _;
use std::marker::PhantomData;
use std::ops::Range;

/// Why code could not be made.
#[derive(Debug, thiserror::Error)]
pub enum JitError {
    /// This host cannot run x86-64 code.
    #[error("the JIT generates x86-64 code and this host is {0}; use the interpreter")]
    Unsupported(&'static str),
    /// The executable memory could not be set up.
    #[error("executable memory: {0}")]
    Memory(String),
    /// The code asked for is larger than the generator's budget (its user measures).
    #[error("{0}")]
    TooLarge(String),
}

/// Can generated code run on this host? `Err` says why not.
///
/// Generated code is x86-64 and is entered through the System V calling convention; it
/// runs on x86-64 Linux. Elsewhere the error names the architecture (or, on x86-64, the
/// operating system).
pub fn available() -> Result<(), JitError> {
    if !cfg!(target_arch = "x86_64") {
        Err(JitError::Unsupported(std::env::consts::ARCH))
    } else if !cfg!(target_os = "linux") {
        Err(JitError::Unsupported(std::env::consts::OS))
    } else {
        Ok(())
    }
}

/// A note of the generating extension: where it was placed and its text.
#[derive(Clone, Debug)]
pub(crate) struct Note {
    /// The code offset of the instruction it precedes.
    pub(crate) offset: usize,
    /// Its text, in [`Code`]'s note text.
    pub(crate) text: Range<usize>,
}

/// A machine that owns the word frame generated code addresses (`r13`), so that the Rust
/// functions generated code calls can read the same words through the machine.
///
/// # Safety
/// [`FrameOwner::frame`] returns a pointer valid for reads and writes of `len` words for
/// as long as the machine stays mutably borrowed, and that memory is not moved or freed
/// by the functions generated code calls.
pub unsafe trait FrameOwner {
    /// The frame's first word and its length in words.
    fn frame(&mut self) -> (*mut u64, usize);
}

/// Generated code for one entry point, for machines of type `M`.
///
/// `Code` is `Send` and `Sync`: the memory is immutable once made, and running it needs a
/// `&mut M` of the caller's own.
pub struct Code<M> {
    buf: ExecutableBuffer,
    frame_words: usize,
    notes: Vec<Note>,
    note_text: String,
    _m: PhantomData<fn(&mut M)>,
}

impl<M> std::fmt::Debug for Code<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Code").field("len", &self.len()).field("frame_words", &self.frame_words).finish_non_exhaustive()
    }
}

impl<M> Code<M> {
    /// Copy `bytes` into fresh memory and make it executable.
    pub(crate) fn new(
        bytes: &[u8],
        frame_words: usize,
        notes: Vec<Note>,
        note_text: String,
    ) -> Result<Code<M>, crate::JitError> {
        let memory = |e: std::io::Error| JitError::Memory(e.to_string());
        let mut buf = MutableBuffer::new(bytes.len()).map_err(memory)?;
        buf.set_len(bytes.len());
        buf.copy_from_slice(bytes);
        let buf = buf.make_exec().map_err(memory)?;
        Ok(Code { buf, frame_words, notes, note_text, _m: PhantomData })
    }

    /// Run the entry point on `machine` with the word frame `frame`.
    ///
    /// Returns the entry's [`Ret`] (status [`crate::OK`] or [`crate::FAIL`]); a panic in
    /// a shim is resumed here, after the generated frames are gone.
    ///
    /// Panics if `frame` is shorter than [`Code::frame_words`], if the host cannot run
    /// the code ([`available`]), and, with a message saying so, if the code ended with
    /// [`crate::PANIC`] without a panic to resume (a division by zero in generated code,
    /// a shim that returned `PANIC` itself, or code that ran off its end).
    ///
    /// # Safety
    /// The static data the code was generated from (everything the generating extension
    /// lifted as an address) is alive and unchanged; `frame` has at least
    /// [`Code::frame_words`] words.
    ///
    /// (`frame_words` counts the accesses at static offsets only: an access at a dynamic
    /// frame index, [`crate::Gen::load_frame_at`], is the generating extension's to bound,
    /// so the frame must be as large as the interpreter's would be.)
    pub unsafe fn run(&self, machine: &mut M, frame: &mut [u64]) -> Ret {
        assert!(
            frame.len() >= self.frame_words,
            "planp-jit: a frame of {} words for code that uses {}",
            frame.len(),
            self.frame_words
        );
        // SAFETY: our caller keeps the static data alive and the frame large enough; the
        // frame check above covers the accesses at static offsets.
        let ret = unsafe { self.enter(machine, frame.as_mut_ptr()) };
        if ret.status == PANIC {
            match take_panic() {
                Some(payload) => std::panic::resume_unwind(payload),
                None => panic!(
                    "planp-jit: generated code ended with PANIC and no panic to resume \
                     (a division by zero, a shim that returned PANIC, or code that ran off its end)"
                ),
            }
        }
        ret
    }

    /// [`Code::run`] for a machine that owns its word frame (the frame is the machine's
    /// own, which the functions it calls may read too).
    ///
    /// # Safety
    /// As for [`Code::run`]: the static data is alive and unchanged, and the machine's
    /// frame is as large as the interpreter would need.
    pub unsafe fn run_machine(&self, machine: &mut M) -> Ret
    where
        M: FrameOwner,
    {
        let (frame, len) = machine.frame();
        assert!(len >= self.frame_words, "planp-jit: a frame of {len} words for code that uses {}", self.frame_words);
        // SAFETY: our caller keeps the static data alive; `frame` is valid for `len` words
        // while the machine is borrowed (`FrameOwner`'s contract), and `len` covers the
        // accesses at static offsets.
        let ret = unsafe { self.enter(machine, frame) };
        if ret.status == PANIC {
            match take_panic() {
                Some(payload) => std::panic::resume_unwind(payload),
                None => panic!(
                    "planp-jit: generated code ended with PANIC and no panic to resume \
                     (a division by zero, a shim that returned PANIC, or code that ran off its end)"
                ),
            }
        }
        ret
    }

    #[cfg(target_arch = "x86_64")]
    unsafe fn enter(&self, machine: &mut M, frame: *mut u64) -> Ret {
        if let Err(e) = available() {
            panic!("planp-jit: cannot run generated code: {e}");
        }
        type Entry<M> = extern "sysv64" fn(*mut M, *mut u64) -> Ret;
        // SAFETY: offset 0 of `buf` is the entry point `Gen` emitted, a function of this
        // exact ABI and signature (it saves the callee-saved registers it uses, keeps the
        // stack aligned, and returns `Ret` in rax:rdx); `buf` is executable and outlives
        // the call, which borrows `self`.
        let entry: Entry<M> = unsafe { std::mem::transmute::<*const u8, Entry<M>>(self.buf.as_ptr()) };
        entry(machine, frame)
    }

    #[cfg(not(target_arch = "x86_64"))]
    unsafe fn enter(&self, _machine: &mut M, _frame: *mut u64) -> Ret {
        match available() {
            Err(e) => panic!("planp-jit: cannot run generated code: {e}"),
            Ok(()) => unreachable!(),
        }
    }

    /// How many frame words the code may touch.
    ///
    /// The largest `fp + slot + 1` over the frame accesses at static offsets; accesses
    /// at a dynamic index ([`crate::Gen::load_frame_at`]) are not bounded here.
    pub fn frame_words(&self) -> usize {
        self.frame_words
    }

    /// The size of the machine code in bytes.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Is there no code?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The machine code.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The code disassembled (Intel syntax), one instruction per line with its offset,
    /// notes placed before the instructions they precede.
    ///
    /// ```text
    /// ; call: m.add(x, y)
    ///   0x0023  mov rdi, r12
    /// ```
    pub fn disassemble(&self) -> String {
        use iced_x86::{Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter};
        let mut decoder = Decoder::with_ip(64, &self.buf, 0, DecoderOptions::NONE);
        let mut fmt = IntelFormatter::new();
        let o = fmt.options_mut();
        o.set_hex_prefix("0x");
        o.set_hex_suffix("");
        o.set_uppercase_hex(false);
        o.set_space_after_operand_separator(true);
        o.set_branch_leading_zeros(false);
        o.set_signed_immediate_operands(true);
        let mut out = String::new();
        let mut text = String::new();
        let mut ins = Instruction::default();
        let mut notes = self.notes.iter().peekable();
        while decoder.can_decode() {
            decoder.decode_out(&mut ins);
            let at = ins.ip() as usize;
            while let Some(n) = notes.next_if(|n| n.offset <= at) {
                let _ = writeln!(out, "; {}", &self.note_text[n.text.clone()]);
            }
            text.clear();
            fmt.format(&ins, &mut text);
            let _ = writeln!(out, "  {at:#06x}  {text}");
        }
        for n in notes {
            let _ = writeln!(out, "; {}", &self.note_text[n.text.clone()]);
        }
        out
    }
}
