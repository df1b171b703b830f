//! The front end never panics or hangs: any text loads or yields diagnostics, and the
//! diagnostics render. Run with `cargo fuzz run frontend` (see fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match planp_interp::load("fuzz.planp", &text) {
        Ok(p) => {
            let _ = p.summary();
        }
        Err(d) => {
            let _ = d.render_plain();
        }
    }
});
