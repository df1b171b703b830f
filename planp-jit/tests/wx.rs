//! No mapping of the process is ever writable and executable at once: not while code
//! is being generated, not after it is finished, not while it runs (a thread polls
//! `/proc/self/maps` all along).
#![allow(unsafe_code)]
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

mod common;

use common::*;
use planp_jit::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The mappings that are both writable and executable.
fn wx_mappings() -> Vec<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines()
        .filter(|l| {
            let perms = l.split_whitespace().nth(1).unwrap_or("");
            perms.contains('w') && perms.contains('x')
        })
        .map(str::to_string)
        .collect()
}

/// The permissions of the mapping holding `addr`.
fn perms_at(addr: usize) -> String {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    for l in maps.lines() {
        let mut it = l.split_whitespace();
        let range = it.next().unwrap();
        let perms = it.next().unwrap();
        let (lo, hi) = range.split_once('-').unwrap();
        let (lo, hi) = (usize::from_str_radix(lo, 16).unwrap(), usize::from_str_radix(hi, 16).unwrap());
        if (lo..hi).contains(&addr) {
            return perms.to_string();
        }
    }
    panic!("no mapping holds {addr:#x}");
}

fn some_code(n: u32) -> Gen<'static, TestMachine> {
    let mut g = G::new();
    let mut acc = g.load_frame(0);
    for i in 0..n {
        let v = g.load_frame(i % 8);
        let k = g.imm(i as u64);
        let t = g.op2(Op2::Xor, v, k);
        acc = g.op2(Op2::Add, acc, t);
        if i % 50 == 0 {
            let one = g.imm(1);
            acc = g.call(addr(add as extern "sysv64" fn(*mut TestMachine, u64, u64) -> Ret), &[acc, one], false);
        }
    }
    g.ret(acc);
    g
}

#[test]
fn never_writable_and_executable() {
    assert_eq!(wx_mappings(), Vec::<String>::new(), "before anything");

    // A poller watches the whole time (it has polled before the work starts, and polls
    // again after it ends).
    let stop = Arc::new(AtomicBool::new(false));
    let polls = Arc::new(AtomicU64::new(0));
    let poller = {
        let (stop, polls) = (stop.clone(), polls.clone());
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                seen.extend(wx_mappings());
                polls.fetch_add(1, Ordering::SeqCst);
            }
            seen
        })
    };
    let wait_for_a_poll = || {
        let before = polls.load(Ordering::SeqCst);
        while polls.load(Ordering::SeqCst) < before + 2 {
            std::thread::yield_now();
        }
    };
    wait_for_a_poll();

    let g = some_code(2000);
    assert_eq!(wx_mappings(), Vec::<String>::new(), "code emitted, not finished");
    let code = g.finish().unwrap();
    assert_eq!(wx_mappings(), Vec::<String>::new(), "after finish");
    assert_eq!(perms_at(code.bytes().as_ptr() as usize), "r-xp");
    let mut f = [1u64; 8];
    assert_eq!(run(&code, &mut f).0.status, OK);
    assert_eq!(wx_mappings(), Vec::<String>::new(), "after running");

    // Many more, kept alive and dropped.
    let mut codes = Vec::new();
    for n in 0..200 {
        codes.push(some_code(n).finish().unwrap());
        if n % 3 == 0 {
            codes.remove(0);
        }
    }
    for c in &codes {
        assert_eq!(run(c, &mut f).0.status, OK);
    }
    drop(codes);

    wait_for_a_poll();
    stop.store(true, Ordering::SeqCst);
    let seen = poller.join().unwrap();
    assert_eq!(seen, Vec::<String>::new(), "seen by the poller");

    // The check itself works: a page mapped writable and executable is seen.
    let page = rwx_page();
    assert_eq!(perms_at(page), "rwxp");
    assert_eq!(wx_mappings().len(), 1);
    unmap(page);
    assert_eq!(wx_mappings(), Vec::<String>::new());
}

/// mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
fn rwx_page() -> usize {
    let ret: isize;
    // SAFETY: the mmap system call (9) with these arguments only creates a new mapping.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") 9isize => ret,
            in("rdi") 0usize, in("rsi") 4096usize, in("rdx") 7usize,
            in("r10") 0x22usize, in("r8") -1isize, in("r9") 0usize,
            lateout("rcx") _, lateout("r11") _,
        );
    }
    assert!(ret > 0, "mmap: {ret}");
    ret as usize
}

/// munmap(page, 4096)
fn unmap(page: usize) {
    let ret: isize;
    // SAFETY: the page was mapped by `rwx_page` and nothing refers to it.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") 11isize => ret,
            in("rdi") page, in("rsi") 4096usize,
            lateout("rcx") _, lateout("r11") _,
        );
    }
    assert_eq!(ret, 0);
}
