//! Generated programs as an oracle for the two engines: random, well-typed PLAN-P
//! programs (`generated/generator.rs`, shared with `fuzz/fuzz_targets/engines.rs`) run
//! under the interpreter and under the JIT on synthetic UDP and TCP packets, and
//! everything observable must agree (the same comparison as `tests/engines.rs`, over
//! programs nobody wrote).
//!
//! - `engines_agree_on_generated_programs`: the seeded proptest. `PROPTEST_CASES=n`
//!   changes the number of programs, `PLANP_GEN_SEED=n` the seed. A failure shows the
//!   program (shrunk by proptest), the packet on which the engines first differ and the
//!   bytes to rerun it with.
//! - `a_planted_difference_is_caught`: the comparison finds a difference when one is
//!   planted (the JIT runs a copy with one integer literal changed).
//! - `generated_programs_do_things`: the programs are not vacuous (channels run, raise,
//!   print, send).

#[path = "generated/generator.rs"]
mod generator;

use generator::{Choices, Failure, compare, packets, program};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestError, TestRunner};

/// How many programs the proptest checks, unless `PROPTEST_CASES` says otherwise.
const DEFAULT_CASES: u32 = 96;

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|s| s.trim().parse().ok())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// Deterministic bytes (xorshift), for the tests that are not proptests.
fn bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

#[test]
fn engines_agree_on_generated_programs() {
    let cases = env_number("PROPTEST_CASES").map_or(DEFAULT_CASES, |n| n as u32);
    let seed = env_number("PLANP_GEN_SEED").unwrap_or(0x0070_6c61_6e70);
    let config = Config { cases, rng_seed: RngSeed::Fixed(seed), failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let strategy = (proptest::collection::vec(any::<u8>(), 0..4096), proptest::collection::vec(any::<u8>(), 0..512));
    let result = runner.run(&strategy, |(prog, pk)| {
        let src = program(&prog);
        let packets = packets(&mut Choices::new(&pk));
        compare(&src, &src, &packets).map_err(|f| TestCaseError::fail(f.to_string()))
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, (prog, pk))) => {
            panic!("{why}\n--- rerun with program bytes {} and packet bytes {}", hex(&prog), hex(&pk))
        }
        Err(e) => panic!("{e}"),
    }
}

/// Decimal integer literals of a program (not in strings, characters, hosts, names,
/// projections or hexadecimal numbers): byte ranges.
fn int_literals(src: &str) -> Vec<(usize, usize)> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'"' | b'\'') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            c if c.is_ascii_digit() => {
                let start = i;
                while i < b.len() && b[i].is_ascii_alphanumeric() {
                    i += 1;
                }
                let prev = if start == 0 { b' ' } else { b[start - 1] };
                let next = b.get(i).copied().unwrap_or(b' ');
                let plain = b[start..i].iter().all(u8::is_ascii_digit) && i - start < 6;
                if plain && !(prev.is_ascii_alphanumeric() || matches!(prev, b'_' | b'.' | b'#')) && next != b'.' {
                    out.push((start, i));
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'\'') {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// The comparison reports a difference when there is one: the JIT runs a copy of a
/// generated program with one integer literal changed, and some such change is seen
/// (with the program and the packet in the message); the unchanged program agrees.
#[test]
fn a_planted_difference_is_caught() {
    for seed in 0..40 {
        let src = program(&bytes(seed, 3000));
        let pk = packets(&mut Choices::new(&bytes(seed + 1000, 300)));
        compare(&src, &src, &pk).unwrap_or_else(|f| panic!("{f}"));
        for (s, e) in int_literals(&src) {
            let n: u64 = src[s..e].parse().unwrap();
            let changed = format!("{}{}{}", &src[..s], n + 1, &src[e..]);
            if planp_interp::load("changed", &changed).is_err() {
                continue;
            }
            match compare(&src, &changed, &pk) {
                Err(Failure::Differ(msg)) => {
                    assert!(msg.contains(&src), "the message shows the program: {msg}");
                    assert!(msg.contains("packet") || msg.contains("differ"), "{msg}");
                    return;
                }
                Err(f) => panic!("{f}"),
                Ok(()) => {}
            }
        }
    }
    panic!("no changed literal of 40 generated programs was seen");
}

/// Generated programs are not vacuous: over a fixed sample, channels take packets, raise,
/// print and send, and most programs load.
#[test]
fn generated_programs_do_things() {
    let mut totals = generator::Stats::default();
    let n = 60;
    for seed in 0..n as u64 {
        let src = program(&bytes(seed + 7, 3000));
        let pk = packets(&mut Choices::new(&bytes(seed + 5000, 300)));
        let s = generator::stats(&src, &pk).unwrap_or_else(|f| panic!("{f}"));
        totals.add(&s);
    }
    eprintln!("{totals:?}");
    assert!(totals.loaded >= n * 7 / 10, "{totals:?}");
    assert!(totals.channel_runs >= 100, "{totals:?}");
    assert!(totals.exceptions >= 10, "{totals:?}");
    assert!(totals.completed >= 40, "{totals:?}");
    assert!(totals.sends >= 20, "{totals:?}");
    assert!(totals.prints >= 20, "{totals:?}");
    assert!(totals.user_channel_runs >= 3, "{totals:?}");
}

/// Regression (found by `cargo fuzz run engines`): a `let` declaration at depth 0 asked
/// for depth 1 (`d.max(1)`), so a run of choices that kept picking `let` nested lets in
/// declarations without bound, past the parser's `MAX_NESTING`. Depth now only falls:
/// at depth 0 a declaration is a value of a leaf or an exception.
#[test]
fn let_chains_stay_within_the_parsers_nesting() {
    // 0x17 picks `let` at every level; the fuzzer's input was mostly this byte.
    for n in [300, 1200, 4000] {
        let src = program(&vec![0x17; n]);
        if let Err(d) = planp_interp::load("generated.planp", &src) {
            panic!("{n} bytes of 0x17: the program does not load:\n{}", d.render_plain());
        }
    }
    // Any byte repeated, and two alternating, as well.
    for b in 0..=255u8 {
        for src in [program(&vec![b; 2000]), program(&[b, b.wrapping_mul(7)].repeat(1000))] {
            assert!(planp_interp::load("generated.planp", &src).is_ok(), "byte {b:#04x}:\n{src}");
        }
    }
}

/// Regression (found by `cargo fuzz run engines`): the generator made programs whose
/// functions call the previous ones several times each, so that unfolding every call
/// (as the JIT does) would have made nearly a million expression nodes; the JIT refuses
/// such a program (`MAX_UNFOLDED`, tested in `tests/engines.rs`), and the comparison
/// then has nothing to compare. The generator now keeps within a budget of unfolded
/// calls, so the JIT takes every program it makes.
#[test]
fn the_jit_takes_every_generated_program() {
    if planp_jit::available().is_err() {
        return;
    }
    // The fuzzer's program, then random ones.
    let (found, _) = generator::fuzz_input(include_bytes!("data/fuzz/engines-unfolding.bin"));
    let mut sources = vec![found];
    sources.extend((0..300).map(|seed| program(&bytes(seed, 4000))));
    for src in sources {
        let prog = planp_interp::load("generated.planp", &src).unwrap_or_else(|d| panic!("{}", d.render_plain()));
        if let Err(e) = planp_interp::jit::Compiled::new(prog) {
            panic!("the JIT refuses a generated program: {e}\n{src}");
        }
    }
}

/// Regressions (found by `cargo fuzz run engines`, reported as timeouts): a user
/// channel that sends itself its string sixteen times over (`engines-resource-limit`),
/// or its list eight times over with `@` (`engines-list-limit`), made it that many
/// times longer at each packet fed back, gigabytes within a few packets; the node ran
/// out of memory, or panicked when a 32-bit offset of the scratch space overflowed. Now
/// the concatenation meets the node's resource limit (64 MiB of scratch space per
/// packet), which ends that channel run under both engines alike.
#[test]
fn programs_that_outgrow_memory_meet_the_resource_limit() {
    let inputs: [&[u8]; 2] =
        [include_bytes!("data/fuzz/engines-resource-limit.bin"), include_bytes!("data/fuzz/engines-list-limit.bin")];
    for data in inputs {
        // Both engines run it and must agree (`stats` compares them), and the limit ended
        // a run.
        let (src, packets) = generator::fuzz_input(data);
        let s = generator::stats(&src, &packets).unwrap_or_else(|f| panic!("{f}"));
        assert!(s.exceptions >= 1 && s.user_channel_runs >= 5, "{s:?}");
    }
}

#[test]
fn generator_bytes_are_deterministic() {
    let a = program(&bytes(3, 2000));
    let b = program(&bytes(3, 2000));
    assert_eq!(a, b);
    assert!(planp_interp::load("empty", &program(&[])).is_ok(), "{}", program(&[]));
}

#[test]
#[ignore]
fn show_samples() {
    for seed in 0..3u64 {
        let src = program(&bytes(seed + 7, 3000));
        println!("=== {seed} ({} bytes)\n{src}", src.len());
        let pk = packets(&mut Choices::new(&bytes(seed + 5000, 300)));
        println!("{:?}", generator::stats(&src, &pk).map_err(|f| f.to_string()));
    }
}
