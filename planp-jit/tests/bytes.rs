//! Reading bytes from generated code: `call_slice` (a shim that gives a slice of the
//! machine), `load_be` (a bounds-checked big-endian load, checked against
//! `BeBytes::be`, the interpreter's meaning, for every width, offset and length, with
//! the slice in registers and spill slots and the length dynamic or constant), a panic
//! in a slice shim, and `part` (code for a part of the machine at an offset).
#![allow(unsafe_code)]
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use planp_jit::*;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// A machine with bytes in it, not at offset 0, and a part.
#[derive(Default)]
struct Host {
    tag: u64,
    data: Vec<u8>,
    inner: Inner,
}

#[derive(Default)]
struct Inner {
    seen: u64,
    bytes: Vec<u8>,
}

// SAFETY: `OFFSET` is `offset_of!` the field `part` returns.
unsafe impl Part<Inner> for Host {
    const OFFSET: usize = std::mem::offset_of!(Host, inner);
    fn part(&mut self) -> &mut Inner {
        &mut self.inner
    }
}

fn run_on(code: &Code<Host>, m: &mut Host, frame: &mut [u64]) -> Ret {
    // SAFETY: no static data is lifted into these codes; the frames are large enough.
    unsafe { code.run(m, frame) }
}

/// Code that reads `n` bytes at `off` of the machine's `data` (skipping `skip` bytes of
/// it: the slice is `data[skip..]`), with `busy` values kept alive meanwhile (so the
/// slice may sit in spill slots), the length constant if `const_len` says so.
fn reader(off: u32, n: u8, busy: u32, const_len: Option<u64>) -> Code<Host> {
    let mut g: Gen<'static, Host> = Gen::new();
    let keep: Vec<V> = (0..busy).map(|i| g.load_frame(1 + i)).collect();
    let skip = g.load_frame(0);
    let f = shim_slice1(|m: &mut Host, skip: u64| &m.data[skip as usize..], dynamic_arg());
    let (p, l) = g.call_slice(f, &[skip]);
    let l = match const_len {
        Some(k) => {
            g.release(l);
            g.imm(k)
        }
        None => l,
    };
    let v = g.load_be(p.shared(), l.shared(), off, n);
    // The slice is still usable after a read.
    let w = g.load_be(p, l, 0, 1);
    finish(g, v, w, keep)
}

/// Return `(v << 8) | w`, the `keep` values released first.
fn finish(mut g: Gen<'static, Host>, v: V, w: V, keep: Vec<V>) -> Code<Host> {
    let eight = g.imm(8);
    let s = g.op2(Op2::Shl, v, eight);
    let r = g.op2(Op2::Or, s, w);
    for k in keep {
        g.release(k);
    }
    g.ret(r);
    g.finish().unwrap()
}

#[test]
fn big_endian_loads_agree_with_the_interpreter_meaning() {
    let data: Vec<u8> = (0..24u8).map(|i| i.wrapping_mul(37).wrapping_add(0x81)).collect();
    for busy in [0, 12] {
        for skip in [0usize, 3] {
            let slice = &data[skip..];
            for n in 0..=8u8 {
                for off in [0u32, 1, 5, 13, 16, 20, 21, 40] {
                    for const_len in [None, Some(slice.len() as u64), Some(10)] {
                        let code = reader(off, n, busy, const_len);
                        let mut m = Host { tag: 7, data: data.clone(), inner: Inner::default() };
                        let mut frame = vec![0u64; 16];
                        frame[0] = skip as u64;
                        let r = run_on(&code, &mut m, &mut frame);
                        // A constant length says how many bytes the slice has.
                        let seen = match const_len {
                            Some(k) => &slice[..(k as usize).min(slice.len())],
                            None => slice,
                        };
                        let want = (seen.be(off as usize, n as usize) << 8) | seen.be(0, 1);
                        assert_eq!(
                            r,
                            Ret { value: want, status: OK },
                            "n {n} off {off} busy {busy} skip {skip} len {const_len:?}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn the_interpreter_meaning_of_be() {
    let b = [0x12u8, 0x34, 0x56, 0x78, 0x9a];
    assert_eq!(b.be(0, 2), 0x1234);
    assert_eq!(b.be(1, 3), 0x34_5678);
    assert_eq!(b.be(4, 1), 0x9a);
    assert_eq!(b.be(4, 2), 0, "not all there");
    assert_eq!(b.be(usize::MAX, 2), 0, "no overflow");
    assert_eq!(b.be(2, 0), 0);
}

#[test]
fn a_panic_in_a_slice_shim_ends_the_entry() {
    let mut g: Gen<'static, Host> = Gen::new();
    let i = g.load_frame(0);
    let f = shim_slice1(|m: &mut Host, i: u64| &m.data[i as usize..], dynamic_arg());
    let (p, l) = g.call_slice(f, &[i]);
    let v = g.load_be(p, l, 0, 1);
    g.ret(v);
    let code = g.finish().unwrap();
    let mut m = Host { tag: 0, data: vec![5, 6], inner: Inner::default() };
    assert_eq!(run_on(&code, &mut m, &mut [1]), Ret { value: 6, status: OK });
    assert_eq!(run_on(&code, &mut m, &mut [2]).status, OK, "an empty slice is a slice");
    let err = catch_unwind(AssertUnwindSafe(|| run_on(&code, &mut m, &mut [3]))).unwrap_err();
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("out of range"), "{msg}");
}

/// A two-level function over `Inner`, written by hand as the macro would derive it: the
/// length of the part's bytes plus its argument, counting calls.
fn inner_run(m: &mut Inner, a: u64) -> u64 {
    m.seen += 1;
    m.bytes.be(0, 2).wrapping_add(a)
}

fn inner_gen(a: V, g: &mut Gen<'_, Inner>) -> V {
    let bump = shim0(|m: &mut Inner| {
        m.seen += 1;
    });
    g.call(bump, &[], false);
    let f = shim_slice0(|m: &mut Inner| &m.bytes[..]);
    let (p, l) = g.call_slice(f, &[]);
    let v = g.load_be(p, l, 0, 2);
    g.op2(Op2::Add, v, a)
}

#[test]
fn code_for_a_part_of_the_machine() {
    let inl = Inline1::<Inner> { run: inner_run, r#gen: inner_gen };
    let mut g: Gen<'static, Host> = Gen::new();
    let a = g.load_frame(0);
    let v = g.part(|g| (inl.r#gen)(a, g));
    // Back on the whole machine: a slice of the host's own data.
    let f = shim_slice0(|m: &mut Host| &m.data[..]);
    let (p, l) = g.call_slice(f, &[]);
    let w = g.load_be(p, l, 0, 1);
    let r = g.op2(Op2::Add, v, w);
    g.ret(r);
    let code = g.finish().unwrap();
    let mut m = Host { tag: 9, data: vec![100], inner: Inner { seen: 0, bytes: vec![1, 2] } };
    assert_eq!(run_on(&code, &mut m, &mut [5]), Ret { value: 0x0102 + 5 + 100, status: OK });
    assert_eq!((m.tag, m.inner.seen), (9, 1), "the call reached the part, not the host");
    // The interpreter's side of the same function value.
    let mut m2 = Host { tag: 9, data: vec![100], inner: Inner { seen: 0, bytes: vec![1, 2] } };
    assert_eq!(inline1(&inl, &mut m2, 5), 0x0102 + 5);
    assert_eq!(m2.inner.seen, 1);
}

/// Code that reads `n` bytes at the dynamic offset in frame slot 1 of the machine's
/// `data`, with `busy` values alive (so the slice and the offset may be in spill
/// slots), the length constant if `const_len` says so.
fn reader_at(n: u8, busy: u32, const_len: Option<u64>) -> Code<Host> {
    let mut g: Gen<'static, Host> = Gen::new();
    let keep: Vec<V> = (0..busy).map(|i| g.load_frame(2 + i)).collect();
    let f = shim_slice0(|m: &mut Host| &m.data[..]);
    let (p, l) = g.call_slice(f, &[]);
    let l = match const_len {
        Some(k) => {
            g.release(l);
            g.imm(k)
        }
        None => l,
    };
    let off = g.load_frame(1);
    let v = g.load_be_at(p.shared(), l.shared(), off.shared(), n);
    // The operands are still usable after the read.
    let w = g.load_be_at(p, l, off, 1);
    finish(g, v, w, keep)
}

#[test]
fn big_endian_loads_at_dynamic_offsets_agree_with_the_interpreter_meaning() {
    let data: Vec<u8> = (0..24u8).map(|i| i.wrapping_mul(53).wrapping_add(0x11)).collect();
    for busy in [0, 12] {
        for n in 0..=8u8 {
            for const_len in [None, Some(data.len() as u64), Some(10)] {
                let code = reader_at(n, busy, const_len);
                for off in [0u64, 1, 5, 13, 16, 20, 23, 24, 40, u32::MAX as u64, u64::MAX - 3, u64::MAX] {
                    let mut m = Host { tag: 7, data: data.clone(), inner: Inner::default() };
                    let mut frame = vec![0u64; 16];
                    frame[1] = off;
                    let r = run_on(&code, &mut m, &mut frame);
                    let seen = match const_len {
                        Some(k) => &data[..(k as usize).min(data.len())],
                        None => &data[..],
                    };
                    let want = (seen.be(off, n as usize) << 8) | seen.be(off, 1);
                    assert_eq!(r, Ret { value: want, status: OK }, "n {n} off {off} busy {busy} len {const_len:?}");
                }
            }
        }
    }
}
