//! Data-driven front-end tests.
//!
//! - `tests/data/ok/*.planp` must load; `NAME.out` holds the program's interface (every
//!   declaration with its inferred type).
//! - `tests/data/err/*.planp` must be rejected; `NAME.out` holds the diagnostics as
//!   `planp check` prints them (source excerpts with labels), after a first line with
//!   the `file:line:col: code` of each.
//!
//! Run with `UPDATE_EXPECT=1` to re-bless the `.out` files after an intended change, and
//! review the diff.

mod cases;

use cases::{cases, name_of};
use expect_test::expect_file;
use std::path::Path;

#[test]
fn ok_programs_load() {
    let mut failures = Vec::new();
    for p in cases("ok") {
        let text = std::fs::read_to_string(&p).unwrap();
        let name = name_of(&p);
        match planp_interp::load(&name, &text) {
            Ok(prog) => {
                let warnings = planp_interp::Diagnostics {
                    name: name.clone(),
                    text: text.as_str().into(),
                    diags: prog.warnings.clone(),
                };
                expect_file![p.with_extension("out")].assert_eq(&format!(
                    "{}{}",
                    prog.summary(),
                    warnings.render_short()
                ));
            }
            Err(d) => failures.push(format!("{name} was rejected:\n{}", d.render_plain())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn err_programs_are_rejected_with_diagnostics() {
    let mut failures = Vec::new();
    for p in cases("err") {
        let text = std::fs::read_to_string(&p).unwrap();
        let name = name_of(&p);
        match planp_interp::load(&name, &text) {
            Ok(_) => failures.push(format!("{name} was accepted")),
            Err(d) => {
                for diag in &d.diags {
                    assert!(!diag.labels.is_empty(), "{name}: a diagnostic without a label: {diag:?}");
                    assert!(diag.span().end as usize <= text.len(), "{name}: span out of range");
                }
                let out = format!("{}\n{}", d.render_short(), d.render_plain());
                expect_file![p.with_extension("out")].assert_eq(&out);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The paper's figures parse and type-check as printed (figure 2 completed where it
/// says ". . .", with its typo `(con.ss)` read as `(con,ss)`).
#[test]
fn paper_figures_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/paper");
    for f in ["figure2.planp", "figure4.planp"] {
        let text = std::fs::read_to_string(root.join(f)).unwrap();
        let prog = planp_interp::load(f, &text).unwrap_or_else(|d| panic!("{}", d.render_plain()));
        assert!(prog.channels.iter().all(|c| c.name == "network"));
    }
}

/// The paper prints figure 2 with `(con.ss)`; as printed, that is a syntax error, and
/// the diagnostic says what was meant.
#[test]
fn figure2_typo_is_diagnosed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/paper");
    let text = std::fs::read_to_string(root.join("figure2.planp")).unwrap();
    let typo = text.replacen("(con,ss)", "(con.ss)", 1);
    assert_ne!(typo, text);
    let d = planp_interp::load("figure2-as-printed.planp", &typo).unwrap_err();
    assert_eq!(d.diags.len(), 1, "{}", d.render_plain());
    assert!(d.diags[0].help.as_deref().unwrap_or("").contains("separated by `,`"));
}
