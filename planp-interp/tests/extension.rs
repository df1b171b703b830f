//! A primitive added as two functions in `primitives/`, and nowhere else, is usable from
//! a program: `testRepeat` exists only in builds with the `test-primitive` feature
//! (`primitives/src/test_primitive.rs`), which this crate's tests enable. No file of
//! `planp-interp` names it; the checker and the interpreter find it in the registry.

use planp_interp::{Node, NodeConfig};

#[test]
fn a_test_only_primitive_type_checks_and_runs() {
    let src = r#"
        val three = testRepeat("ab", 3)
        val none = testRepeat("ab", 0)
        val caught = try testRepeat("x", ~1) handle Subscript => "raised"
    "#;
    let prog = planp_interp::load("ext.planp", src).unwrap_or_else(|d| panic!("{}", d.render_plain()));
    let node = Node::new(prog, NodeConfig::default()).unwrap();
    let s = |i: usize| String::from_utf8(node.heap().bytes(node.global(i)).to_vec()).unwrap();
    assert_eq!((s(0).as_str(), s(1).as_str(), s(2).as_str()), ("ababab", "", "raised"));
}

#[test]
fn its_typing_function_is_the_checker() {
    let d = planp_interp::load("ext.planp", "val x = testRepeat(3, \"ab\")").unwrap_err();
    let out = d.render_short();
    assert!(out.contains("wrong argument to `testRepeat`: expected `string`, found `int`"), "{out}");
}
