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
use crate::ir::{Expr, ExprKind, Program};
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
    /// The program's dispatch (`engine::dispatch`: channel choice, matching and
    /// unmarshalling), if it has `network` channels.
    dispatch: Option<Code<Machine>>,
    /// How long code generation took, all channels and the dispatch together.
    pub gen_time: Duration,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled").field("channels", &self.channels.len()).field("gen_time", &self.gen_time).finish()
    }
}

impl Compiled {
    /// Generate the code of every channel of `prog` (without notes: the code that runs).
    /// A program whose channels would unfold into more than [`MAX_UNFOLDED`] expression
    /// nodes is refused (`JitError::TooLarge`) before any code is generated: calls are
    /// unfolded, so a chain of functions that each call the next twice doubles the code
    /// at every step, and the interpreter (which runs the same calls without copying
    /// them) is the engine for such a program.
    pub fn new(prog: Arc<Program>) -> Result<Compiled, JitError> {
        planp_jit::available()?;
        let mut sizes = vec![None; prog.funs.len()];
        let total = prog.channels.iter().fold(0u64, |t, ch| t.saturating_add(unfolded(&prog, &ch.body, &mut sizes)));
        if total > MAX_UNFOLDED {
            return Err(JitError::TooLarge(format!(
                "the JIT unfolds every call, and this program's channels would become {} expression nodes (the limit is {MAX_UNFOLDED})",
                if total == u64::MAX { "more than 2^64".to_string() } else { total.to_string() }
            )));
        }
        let start = Instant::now();
        let mut channels = Vec::with_capacity(prog.channels.len());
        for i in 0..prog.channels.len() {
            channels.push(generate(&prog, i, false)?);
        }
        let dispatch = match prog.channels.iter().any(|c| c.layout.is_some()) {
            true => Some(generate_dispatch(&prog, false)?),
            false => None,
        };
        let gen_time = start.elapsed();
        Ok(Compiled { prog, channels, dispatch, gen_time })
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

    /// Run the program's dispatch on `m` (its input set by [`Machine::set_input`]): the
    /// packet value of the first `network` channel whose type the frame matches (its
    /// number is then in slot 0), or `None`. What `engine::dispatch` does, as code.
    pub fn dispatch(&self, m: &mut Machine) -> Option<Word> {
        let code = self.dispatch.as_ref()?;
        // SAFETY: as for `run`: generated from `self.prog`, kept alive and unchanged; the
        // frame is the machine's own, with room for the dispatch (`dispatch_words`).
        let ret = unsafe { code.run_machine(m) };
        (ret.status == planp_jit::OK).then_some(ret.value)
    }

    /// The dispatch's code, disassembled with notes (generated again with them on, like
    /// [`Compiled::disassemble`]), if the program has `network` channels.
    pub fn disassemble_dispatch(&self) -> Option<String> {
        self.dispatch.as_ref()?;
        generate_dispatch(&self.prog, true).ok().map(|c| c.disassemble())
    }

    /// The size of the dispatch's code, in bytes (0 without `network` channels).
    pub fn dispatch_bytes(&self) -> usize {
        self.dispatch.as_ref().map_or(0, Code::len)
    }

    /// Channel `i`'s code, disassembled, with notes: the interpreter construct each
    /// block came from and, above it, the PLAN-P source (line:column and text). The
    /// notes are recorded by generating the channel again with them on; generation is
    /// deterministic and notes never change the code, so the bytes shown are the bytes
    /// that run (`tests/jit_notes.rs` checks it).
    pub fn disassemble(&self, i: usize) -> String {
        match generate(&self.prog, i, true) {
            Ok(code) => code.disassemble(),
            Err(_) => self.channels[i].disassemble(),
        }
    }

    /// Channel `i`'s code bytes as they run.
    pub fn channel_code(&self, i: usize) -> &[u8] {
        self.channels[i].bytes()
    }

    /// Channel `i`'s code bytes generated again with notes on (for the check that notes
    /// do not change the code).
    pub fn channel_code_with_notes(&self, i: usize) -> Result<Vec<u8>, JitError> {
        Ok(generate(&self.prog, i, true)?.bytes().to_vec())
    }

    /// The size of all the code, in bytes.
    pub fn code_bytes(&self) -> usize {
        self.channels.iter().map(Code::len).sum::<usize>() + self.dispatch_bytes()
    }

    /// The size of channel `i`'s code, in bytes.
    pub fn channel_bytes(&self, i: usize) -> usize {
        self.channels[i].len()
    }
}

/// Generate channel `i`'s code, with notes or without.
fn generate(prog: &Program, i: usize, notes: bool) -> Result<Code<Machine>, JitError> {
    let ch = &prog.channels[i];
    let mut cg: Gen<'_, Machine> = Gen::new();
    cg.set_notes(notes);
    if notes {
        cg.note(&format!("channel {}#{}", ch.name, ch.overload));
    }
    let v = engine::eval_gen(prog, &ch.body, &mut cg);
    cg.ret(v);
    cg.finish()
}

/// Generate the program's dispatch, with notes or without.
fn generate_dispatch(prog: &Program, notes: bool) -> Result<Code<Machine>, JitError> {
    let mut cg: Gen<'_, Machine> = Gen::new();
    cg.set_notes(notes);
    if notes {
        cg.note("dispatch: channel choice, matching, unmarshalling");
    }
    let v = engine::dispatch_gen(prog, &mut cg);
    cg.ret(v);
    cg.finish()
}

/// The most expression nodes the channels of a program may unfold into (with every call
/// of a function replaced by its body) for the JIT to take it. At about 10 ns and 10 to
/// 20 bytes of code per node, the limit is a few milliseconds and a few megabytes.
pub const MAX_UNFOLDED: u64 = 200_000;

/// How many expression nodes `e` unfolds into, a function's body counted at each call
/// (memoized per function in `sizes`; there is no recursion, so this terminates);
/// saturating.
fn unfolded(prog: &Program, e: &Expr, sizes: &mut Vec<Option<u64>>) -> u64 {
    let own = match &e.kind {
        ExprKind::Call { fun, .. } | ExprKind::Fold { fun, .. } => {
            let f = fun.0 as usize;
            match sizes[f] {
                Some(n) => n,
                None => {
                    let n = unfolded(prog, &prog.funs[f].body, sizes);
                    sizes[f] = Some(n);
                    n
                }
            }
        }
        _ => 0,
    };
    e.children().into_iter().fold(own.saturating_add(1), |t, k| t.saturating_add(unfolded(prog, k, sizes)))
}
