//! The JIT engine: machine code for a program's channels, made by running the
//! generating extensions that `#[specialize]` derived from the evaluator
//! ([`crate::eval::engine`]).
//!
//! Nothing here knows a language construct: compiling a channel is calling
//! `engine::eval_gen` on its body and returning the value it gives; running it is
//! entering the code with the machine. Everything the code does, it does because the
//! evaluator says so (`docs/specialization.md`).

#![allow(unsafe_code)] // Entering generated code; see `Compiled::run`.

use crate::eval::{Machine, Raised, engine};
use crate::ir::Program;
use planp_jit::{Code, Gen, JitError};
use planp_primitives::Word;
use std::sync::Arc;
use std::time::{Duration, Instant};

// SAFETY: generated code addresses the machine's word stack through this pointer; it is
// the stack the interpreter uses (shims read it too), valid for `len` words while the
// machine is borrowed.
unsafe impl planp_jit::FrameOwner for Machine {
    fn frame(&mut self) -> (*mut u64, usize) {
        let s = self.stack_mut();
        (s.as_mut_ptr(), s.len())
    }
}

/// A program's channels as machine code.
pub struct Compiled {
    /// The program the code was generated from. Holding it keeps every address the code
    /// carries valid, and it cannot change while shared (`Arc::make_mut` would copy).
    prog: Arc<Program>,
    channels: Vec<Code<Machine>>,
    /// How long code generation took, all channels together.
    pub gen_time: Duration,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled").field("channels", &self.channels.len()).field("gen_time", &self.gen_time).finish()
    }
}

impl Compiled {
    /// Generate the code of every channel of `prog`.
    pub fn new(prog: Arc<Program>) -> Result<Compiled, JitError> {
        planp_jit::available()?;
        let start = Instant::now();
        let mut channels = Vec::with_capacity(prog.channels.len());
        for ch in &prog.channels {
            let mut cg: Gen<'_, Machine> = Gen::new();
            cg.note(&format!("channel {}#{}", ch.name, ch.overload));
            let v = engine::eval_gen(&prog, &ch.body, &mut cg);
            cg.ret(v);
            channels.push(cg.finish()?);
        }
        let gen_time = start.elapsed();
        Ok(Compiled { prog, channels, gen_time })
    }

    /// The program the code was made for.
    pub fn program(&self) -> &Arc<Program> {
        &self.prog
    }

    /// Run channel `i`'s body on `m` (its frame set up as for the interpreter): the
    /// value it gives, or the failure (the machine keeps which exception, and where).
    pub fn run(&self, i: usize, m: &mut Machine) -> Result<Word, Raised> {
        // SAFETY: the code was generated from `self.prog`, which `self` keeps alive and
        // which cannot change while this `Arc` exists; the machine's frame is the
        // interpreter's, as large as the program needs (`Machine::new`/`grow`).
        let ret = unsafe { self.channels[i].run_machine(m) };
        if ret.status == planp_jit::OK { Ok(ret.value) } else { Err(Raised) }
    }

    /// Channel `i`'s code, disassembled.
    pub fn disassemble(&self, i: usize) -> String {
        self.channels[i].disassemble()
    }

    /// The size of all the code, in bytes.
    pub fn code_bytes(&self) -> usize {
        self.channels.iter().map(Code::len).sum()
    }

    /// The size of channel `i`'s code, in bytes.
    pub fn channel_bytes(&self, i: usize) -> usize {
        self.channels[i].len()
    }
}
