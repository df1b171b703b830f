//! Binding-time mistakes in a two-level interpreter are compile errors with spans that
//! say what is wrong: one UI test per mistake. `pass_toy.rs` is a small interpreter the
//! macro accepts.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass_*.rs");
    for case in [
        "static_match_on_dynamic",
        "dynamic_into_static_param",
        "for_over_dynamic",
        "plain_arithmetic",
        "outside_vocabulary",
        "ignored_result",
        "static_assigned_under_dynamic_control",
        "machine_reference_bound",
        "too_many_arguments",
        "dynamic_field",
        "untyped_ordering",
        "not_a_module",
        "missing_binding_time",
        "both_binding_times",
        "all_static",
        "arguments_to_attribute",
        "dynamic_shift",
        "static_while",
        "dynamic_in_closure",
        "dynamic_note",
        "slice_dynamic_width",
        "slice_escapes",
        "inline_without_machine",
    ] {
        t.compile_fail(format!("tests/ui/{case}.rs"));
    }
}
