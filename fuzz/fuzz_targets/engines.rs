//! The interpreter and the JIT agree on every generated program: libFuzzer's bytes drive
//! the same generator as the proptest of `planp-interp/tests/generated.rs` (random,
//! well-typed programs and synthetic UDP/TCP packets), and every observable (loading,
//! initialisation output, each packet's outcome, final states) must be the same under
//! both engines. A program that does not load is a bug of the generator. Run with
//! `cargo fuzz run engines` (see fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../planp-interp/tests/generated/generator.rs"]
mod generator;

fuzz_target!(|data: &[u8]| {
    let (src, packets) = generator::fuzz_input(data);
    if let Err(f) = generator::compare(&src, &src, &packets) {
        panic!("{f}");
    }
});
