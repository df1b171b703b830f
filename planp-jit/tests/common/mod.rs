//! Shared helpers of the tests: a test machine, shims, running code.
#![allow(dead_code, unsafe_code)]

use planp_jit::{Code, Gen, Op2, Ret, catch_panic};

/// The machine the test code runs on.
#[derive(Default, Debug)]
pub struct TestMachine {
    /// What shims recorded.
    pub log: Vec<u64>,
    /// A counter shims bump.
    pub calls: u64,
}

pub type G = Gen<'static, TestMachine>;

/// Run `code` on a fresh machine with `frame`; gives the result and the machine.
pub fn run(code: &Code<TestMachine>, frame: &mut [u64]) -> (Ret, TestMachine) {
    let mut m = TestMachine::default();
    // SAFETY: the tests lift no addresses; the frames are as large as `frame_words`.
    let r = unsafe { code.run(&mut m, frame) };
    (r, m)
}

/// The address of a shim, as `Gen::call` takes it.
pub fn addr<F: Copy>(f: F) -> usize {
    assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<usize>());
    // SAFETY: `F` is a function pointer type (same size as usize, checked above).
    unsafe { std::mem::transmute_copy::<F, usize>(&f) }
}

/// Access the machine in a shim.
pub fn machine<'a>(m: *mut TestMachine) -> &'a mut TestMachine {
    // SAFETY: generated code passes the `&mut TestMachine` that `Code::run` got.
    unsafe { &mut *m }
}

/// Overwrite every caller-saved register with garbage (what a shim doing real work may
/// do), then return.
#[inline(never)]
pub fn clobber_caller_saved() {
    // SAFETY: only caller-saved registers are written, and each is declared clobbered.
    unsafe {
        std::arch::asm!(
            "mov rax, -1", "mov rcx, -2", "mov rdx, -3", "mov rsi, -4", "mov rdi, -5",
            "mov r8, -6", "mov r9, -7", "mov r10, -8", "mov r11, -9",
            out("rax") _, out("rcx") _, out("rdx") _, out("rsi") _, out("rdi") _,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
        );
    }
}

/// A shim: records its five arguments, clobbers the caller-saved registers, returns a
/// combination of them.
pub extern "sysv64" fn record5(m: *mut TestMachine, a: u64, b: u64, c: u64, d: u64, e: u64) -> Ret {
    catch_panic(|| {
        let m = machine(m);
        m.calls += 1;
        m.log.extend([a, b, c, d, e]);
        // Some real work too.
        let mut v: Vec<u64> = (0..64).map(|i| i * 7919 % 61).collect();
        v.sort();
        clobber_caller_saved();
        std::hint::black_box(&v);
        combine(&[a, b, c, d, e])
    })
}

/// What `record5` returns for its arguments.
pub fn combine(args: &[u64]) -> u64 {
    args.iter()
        .enumerate()
        .fold(0x9e37_79b9_7f4a_7c15u64, |h, (i, &a)| (h ^ a).wrapping_mul(0x100_0000_01b3).rotate_left(i as u32 + 1))
}

/// A shim: `a + b`, clobbering.
pub extern "sysv64" fn add(m: *mut TestMachine, a: u64, b: u64) -> Ret {
    catch_panic(|| {
        machine(m).calls += 1;
        clobber_caller_saved();
        a.wrapping_add(b)
    })
}

/// A shim that fails (status FAIL) when `a` is 0, else gives `a`.
pub extern "sysv64" fn nonzero(m: *mut TestMachine, a: u64) -> Ret {
    catch_panic(|| {
        machine(m).calls += 1;
        clobber_caller_saved();
        if a == 0 { None } else { Some(a) }
    })
}

/// A shim that panics when `a` is 7.
pub extern "sysv64" fn panics_on_7(m: *mut TestMachine, a: u64) -> Ret {
    catch_panic(|| {
        machine(m).calls += 1;
        assert_ne!(a, 7, "shim got seven");
        a * 2
    })
}

/// The message of a panic payload.
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
}

/// Every two-operand operation.
pub const ALL_OP2: [Op2; 13] = [
    Op2::Add,
    Op2::Sub,
    Op2::Mul,
    Op2::And,
    Op2::Or,
    Op2::Xor,
    Op2::Shl,
    Op2::ShrU,
    Op2::ShrS,
    Op2::DivS,
    Op2::RemS,
    Op2::DivU,
    Op2::RemU,
];
