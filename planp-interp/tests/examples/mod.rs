//! The shipped examples, for the tests of the paper's protocols.

use std::path::Path;
use std::sync::Arc;

/// The example at `rel` (from the workspace's root), loaded and verified: a shipped
/// example that no longer verifies fails the test that loads it.
pub fn verified(rel: &str) -> Arc<planp_interp::Program> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let text = std::fs::read_to_string(root.join(rel)).unwrap();
    let prog = planp_interp::load(rel, &text).unwrap_or_else(|d| panic!("{}", d.render_plain()));
    let v = planp_interp::verify::verify(&prog);
    assert!(v.ok(), "{rel} fails verification: {:?}", v.diags);
    prog
}
