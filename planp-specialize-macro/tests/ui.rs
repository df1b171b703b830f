//! Binding-time mistakes in the annotated interpreter are compile errors with spans:
//! one UI test per mistake.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass_*.rs");
    t.compile_fail("tests/ui/missing_binding_time.rs");
    t.compile_fail("tests/ui/both_binding_times.rs");
    t.compile_fail("tests/ui/all_static.rs");
    t.compile_fail("tests/ui/arguments_to_attribute.rs");
}
