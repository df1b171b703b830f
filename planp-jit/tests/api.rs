//! The rest of the contract: the frame (static offsets, `enter`/`leave`, dynamic
//! indices, `frame_words`), stores of every kind of value, ownership (`shared`,
//! `release`, `discard`), placeholders, notes and the disassembly, lifting values across
//! the ABI, and the misuses that are reported.
#![allow(unsafe_code)]
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

mod common;

use common::*;
use planp_jit::*;
use std::panic::{AssertUnwindSafe, catch_unwind};

#[test]
fn the_host_is_supported_and_code_is_send_and_sync() {
    assert!(available().is_ok());
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Code<TestMachine>>();
    send_sync::<Code<std::cell::Cell<u8>>>();
}

#[test]
fn frames_static_dynamic_and_entered() {
    let mut g = G::new();
    // frame[2] + frame[3 + 4] (entered at 3) + frame[idx + 1] (idx = frame[0])
    let a = g.load_frame(2);
    g.enter(3);
    let fi = g.frame_index(4);
    assert_eq!(g.constant(fi), Some(7));
    let b = g.load_frame(4);
    g.leave(3);
    let idx = g.load_frame(0);
    let c = g.load_frame_at(idx, 1);
    // A constant index is a static access (counted in frame_words).
    let k = g.imm(9);
    let d = g.load_frame_at(k, 2);
    let s = g.op2(Op2::Add, a, b);
    let s = g.op2(Op2::Add, s, c);
    let s = g.op2(Op2::Add, s, d);
    g.enter(5);
    g.store_frame(1, s.shared()); // frame[6]
    g.leave(5);
    g.ret(s);
    let code = g.finish().unwrap();
    assert_eq!(code.frame_words(), 12);
    let mut f: Vec<u64> = (0..40).map(|i| i * 100).collect();
    f[0] = 20;
    let want = 200 + 700 + 2100 + 1100;
    assert_eq!(run(&code, &mut f).0, Ret { value: want, status: OK });
    assert_eq!(f[6], want);
}

#[test]
fn a_frame_shorter_than_frame_words_is_refused() {
    let mut g = G::new();
    let a = g.load_frame(9);
    g.ret(a);
    let code = g.finish().unwrap();
    assert_eq!(code.frame_words(), 10);
    let err = catch_unwind(AssertUnwindSafe(|| run(&code, &mut [0; 9]))).unwrap_err();
    assert!(panic_message(&*err).contains("frame of 9 words"));
}

#[test]
fn dynamic_indices_in_registers_and_spill_slots() {
    for busy in [0, 9, 10, 14] {
        let mut g = G::new();
        let keep: Vec<V> = (0..busy).map(|i| g.load_frame(10 + i)).collect();
        let i0 = g.load_frame(0);
        let a = g.load_frame_at(i0.shared(), 1); // frame[f0 + 1]
        let b = g.load_frame_at(i0, 3); // frame[f0 + 3]
        let r = g.op2(Op2::Sub, a, b);
        for v in keep {
            g.release(v);
        }
        g.ret(r);
        let code = g.finish().unwrap();
        let mut f: Vec<u64> = (0..64).map(|i| i * i).collect();
        f[0] = 40;
        assert_eq!(run(&code, &mut f).0.value, (41 * 41 - 43 * 43i64) as u64);
    }
}

#[test]
fn stores_of_constants_registers_and_spilled_values() {
    let consts = [0u64, 1, u64::MAX, 0x7fff_ffff, 0x8000_0000, 0x1234_5678_9abc_def0, -5i64 as u64];
    for busy in [0u32, 12] {
        let mut g = G::new();
        let keep: Vec<V> = (0..busy).map(|i| g.load_frame(40 + i)).collect();
        for (i, &c) in consts.iter().enumerate() {
            let v = g.imm(c);
            g.store_frame(i as u32, v);
        }
        // A loaded value (register or spill slot) stored elsewhere.
        let v = g.load_frame(30);
        g.store_frame(20, v);
        for (i, v) in keep.into_iter().enumerate() {
            g.store_frame(60 + i as u32, v);
        }
        let z = g.imm(0);
        g.ret(z);
        let code = g.finish().unwrap();
        let mut f = vec![0u64; 80];
        f[30] = 0xabcdef;
        for i in 0..busy as usize {
            f[40 + i] = i as u64 * 3 + 1;
        }
        run(&code, &mut f);
        assert_eq!(&f[..consts.len()], &consts);
        assert_eq!(f[20], 0xabcdef);
        for i in 0..busy as usize {
            assert_eq!(f[60 + i], i as u64 * 3 + 1);
        }
    }
}

#[test]
fn shared_values_survive_owned_ones_are_consumed() {
    let mut g = G::new();
    let a = g.load_frame(0);
    let one = g.imm(1);
    let b = g.op2(Op2::Add, a.shared(), one); // a survives
    g.discard(a.shared()); // a shared: nothing
    let c = g.op2(Op2::Add, a, b); // a consumed
    g.discard(a); // already consumed: nothing
    g.release(a); // likewise
    g.ret(c);
    let code = g.finish().unwrap();
    assert_eq!(run(&code, &mut [20]).0.value, 41);
}

#[test]
fn using_a_consumed_value_is_an_internal_error() {
    let err = catch_unwind(|| {
        let mut g = G::new();
        let a = g.load_frame(0);
        let one = g.imm(1);
        let _b = g.op2(Op2::Add, a, one);
        g.op2(Op2::Add, a, one) // a again
    })
    .unwrap_err();
    assert!(panic_message(&*err).contains("internal error"));
}

#[test]
fn a_jump_to_a_label_never_bound_is_an_internal_error() {
    let err = catch_unwind(|| {
        let mut g = G::new();
        let l = g.label();
        let a = g.load_frame(0);
        g.branch_zero(a, l);
        let z = g.imm(0);
        g.ret(z);
        g.finish()
    })
    .unwrap_err();
    assert!(panic_message(&*err).contains("never bound"));
}

#[test]
fn running_off_the_end_ends_with_panic() {
    let mut g = G::new();
    let a = g.load_frame(0);
    g.store_frame(1, a);
    let code = g.finish().unwrap();
    let err = catch_unwind(AssertUnwindSafe(|| run(&code, &mut [1, 2]))).unwrap_err();
    assert!(panic_message(&*err).contains("ended with PANIC"));
}

#[test]
fn placeholders_emit_nothing() {
    let build = |with: bool| {
        let mut g = G::new();
        let x = g.var();
        let a = g.load_frame(0);
        g.set(x, a);
        if with {
            let n = g.never();
            assert_eq!(g.constant(n), None);
            let m = g.op2(Op2::Add, n.shared(), n.shared());
            let m = g.op1(Op1::Not, m);
            let c = g.cmp(Cond::Eq, m, n.shared());
            g.store_frame(3, c);
            g.set(x, n.shared());
            g.release(n);
        }
        let v = g.get(x);
        g.release_var(x);
        g.ret(v);
        g.finish().unwrap()
    };
    assert_eq!(build(true).disassemble(), build(false).disassemble());
    assert_eq!(run(&build(true), &mut [5]).0.value, 5);
}

#[test]
fn notes_and_disassembly() {
    let mut g = G::new();
    g.note("first");
    let a = g.load_frame(0);
    let l = g.label();
    let end = g.label();
    g.branch_zero(a.shared(), l);
    g.note("then");
    let one = g.imm(1);
    g.ret(one);
    // Placed after the jump, before the code at `l`: shown with that code.
    g.note("else");
    g.bind(l);
    g.note("the load");
    let b = g.load_frame(1);
    g.jump(end);
    g.note("end");
    g.bind(end);
    g.release(a);
    g.ret(b);
    let code = g.finish().unwrap();
    let d = code.disassemble();
    let lines: Vec<&str> = d.lines().collect();
    // Every instruction line: two spaces, a 0x offset, two spaces, the instruction.
    for l in lines.iter().filter(|l| !l.starts_with(';')) {
        assert!(l.starts_with("  0x") && l[8..].starts_with("  ") && !l[10..].is_empty(), "{l:?}");
    }
    let pos = |s: &str| lines.iter().position(|l| *l == s).unwrap_or_else(|| panic!("{s} missing\n{d}"));
    assert_eq!(lines[pos("; first") + 1], "  0x0016  mov rbx, [r13]");
    assert!(lines[pos("; then") - 1].contains("je"));
    assert!(lines[pos("; then") + 1].contains("mov eax, 1"), "{d}");
    assert_eq!(pos("; else") + 1, pos("; the load"));
    assert!(lines[pos("; the load") + 1].contains("mov r14, [r13+8]"), "{d}");
    assert!(lines[pos("; end") + 1].contains("mov rax, r14"), "{d}");
    // The jump to `end` right before it is not emitted.
    assert!(!lines[pos("; end") - 1].contains("jmp"), "{d}");
    assert_eq!(code.len(), code.bytes().len());
    assert!(!code.is_empty());
    assert_eq!(run(&code, &mut [0, 33]).0.value, 33);
    assert_eq!(run(&code, &mut [1, 33]).0.value, 1);
}

#[test]
fn call_targets_show_in_hex() {
    let mut g = G::new();
    let a = g.imm(1);
    let b = g.imm(2);
    let f = addr(add as extern "sysv64" fn(*mut TestMachine, u64, u64) -> Ret);
    let r = g.call(f, &[a, b], false);
    g.ret(r);
    let code = g.finish().unwrap();
    let d = code.disassemble();
    assert!(d.contains(&format!("mov rax, {f:#x}")), "{d}");
    assert!(d.contains("call rax"));
    assert_eq!(run(&code, &mut []).0.value, 3);
}

#[test]
fn lifting_round_trips() {
    fn rt<T: ToWord + FromWord + Copy + PartialEq + std::fmt::Debug>(x: T, w: u64) {
        assert_eq!(x.to_word(), w, "{x:?}");
        // SAFETY: `w` is the word of a `T`.
        assert_eq!(unsafe { T::from_word(w) }, x);
    }
    rt(200u8, 200);
    rt(60000u16, 60000);
    rt(u32::MAX, 0xffff_ffff);
    rt(u64::MAX, u64::MAX);
    rt(usize::MAX, u64::MAX);
    rt(-1i8, u64::MAX);
    rt(-2i16, (-2i64) as u64);
    rt(i32::MIN, i32::MIN as i64 as u64);
    rt(i64::MIN, 1 << 63);
    rt(-3isize, (-3i64) as u64);
    rt(true, 1);
    rt(false, 0);
    rt('é', 0xe9);
    rt((), 0);
    assert_eq!(StaticArg::lift(-1i8), u64::MAX);
    assert_eq!(StaticArg::lift('a'), 97);
    assert_eq!(StaticArg::lift(()), 0);
    let data = vec![1u32, 2, 3];
    let w = StaticArg::lift(&data);
    assert_eq!(w, &data as *const Vec<u32> as u64);
    // SAFETY: `w` is the address of `data`, alive and unchanged.
    let back: &Vec<u32> = unsafe { FromWord::from_word(w) };
    assert_eq!(back, &data);
    assert_eq!((&data).into_ret(), Ret { value: w, status: OK });
}

#[test]
fn a_static_reference_passed_to_a_shim() {
    extern "sysv64" fn sum(m: *mut TestMachine, v: u64) -> Ret {
        catch_panic(|| {
            machine(m).calls += 1;
            // SAFETY: the word is the address of the Vec the test lifted, still alive.
            let v: &Vec<u64> = unsafe { FromWord::from_word(v) };
            v.iter().sum::<u64>()
        })
    }
    let data: Vec<u64> = (1..=10).collect();
    let mut g: Gen<'_, TestMachine> = Gen::new();
    let p = g.imm(StaticArg::lift(&data));
    let r = g.call(addr(sum as extern "sysv64" fn(*mut TestMachine, u64) -> Ret), &[p], false);
    g.ret(r);
    let code = g.finish().unwrap();
    let mut m = TestMachine::default();
    // SAFETY: `data` outlives the run.
    let r = unsafe { code.run(&mut m, &mut []) };
    assert_eq!(r, Ret { value: 55, status: OK });
    assert_eq!(m.calls, 1);
}
