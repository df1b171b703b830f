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

/// Under the JIT too: a channel calling the test-only primitive runs as generated code
/// (the call goes through the one ABI to its compute function) and agrees with the
/// interpreter, exception included.
#[test]
fn a_test_only_primitive_runs_under_the_jit() {
    use planp_interp::{Engine, LinkType};
    let src = r#"
        channel network(ps : int, ss : string, p : ip*udp*blob) is
          let val n = udpDst(#2 p) - 1000
              val s = try testRepeat("ab", n) handle Subscript => "negative"
          in (println(s); OnRemote(network, (#1 p, #2 p, blobOfString(s))); (ps + 1, s)) end
    "#;
    let prog = planp_interp::load("ext.planp", src).unwrap_or_else(|d| panic!("{}", d.render_plain()));
    let udp = |dport: u16| {
        let mut p = vec![0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        p.extend([0x04, 0xd2]);
        p.extend(dport.to_be_bytes());
        p.extend([0, 8, 0, 0]);
        p
    };
    let run = |engine: Engine| {
        let mut node = Node::new(prog.clone(), NodeConfig { engine, ..NodeConfig::default() }).unwrap();
        if engine == Engine::Jit && planp_jit::available().is_ok() {
            assert!(node.compiled().is_some(), "the JIT runs the channel");
        }
        let outs: Vec<_> = [1003u16, 1000, 999].iter().map(|&d| node.process(LinkType::RAW, &udp(d), 1)).collect();
        (outs, node.describe_states(100))
    };
    let (i, j) = (run(Engine::Interp), run(Engine::Jit));
    assert_eq!(i, j);
    let printed: Vec<String> =
        i.0.iter()
            .flat_map(|o| o.effects.iter())
            .filter_map(|e| match e {
                planp_primitives::Effect::Print(b) => Some(String::from_utf8_lossy(b).into_owned()),
                _ => None,
            })
            .collect();
    assert_eq!(printed, ["ababab\n", "\n", "negative\n"]);
}

/// Primitives written in the two-level style in `primitives/` (`testPeek` reads a byte
/// slice at a static offset, `testMix` is word operations and a dynamic `if`), and named
/// nowhere else, are inlined by the JIT: the channel's code calls no primitive, yet it
/// agrees with the interpreter on payloads long enough and too short for the field.
#[test]
fn test_only_two_level_primitives_are_inlined() {
    use planp_interp::{Engine, LinkType};
    let src = r#"
        channel network(ps : int, ss : int, p : ip*udp*blob) is
          let val a = testPeek(#3 p)
              val b = testMix(a, udpSrc(#2 p))
              val c = testMix(b, 0)
          in (OnRemote(network, p); (ps + a, ss + c)) end
    "#;
    let prog = planp_interp::load("ext.planp", src).unwrap_or_else(|d| panic!("{}", d.render_plain()));
    let udp = |sport: u16, payload: &[u8]| {
        let len = 28 + payload.len() as u16;
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        p[2..4].copy_from_slice(&len.to_be_bytes());
        p.extend(sport.to_be_bytes());
        p.extend([0x1f, 0x90]);
        p.extend((len - 20).to_be_bytes());
        p.extend([0, 0]);
        p.extend(payload);
        p
    };
    let inputs: [(u16, &[u8]); 5] =
        [(1234, b""), (7, b"a"), (0xffff, b"ab"), (99, b"abc"), (4321, b"\x01\xfe\xdc\x07")];
    let run = |engine: Engine| {
        let mut node = Node::new(prog.clone(), NodeConfig { engine, ..NodeConfig::default() }).unwrap();
        let outs: Vec<_> = inputs.iter().map(|(s, b)| node.process(LinkType::RAW, &udp(*s, b), 1)).collect();
        let asm = node.compiled().map(|c| c.disassemble(0));
        (outs, node.describe_states(100), asm)
    };
    let (i, j) = (run(Engine::Interp), run(Engine::Jit));
    assert_eq!((&i.0, &i.1), (&j.0, &j.1), "the engines agree");
    // The expected states, computed here from the primitives' documented meaning.
    let peek = |b: &[u8]| if b.len() >= 3 { u16::from_be_bytes([b[1], b[2]]) as i64 } else { 0 };
    let mix = |a: i64, b: i64| if b == 0 { a } else { (a ^ (b << 3)) & 0xffff };
    let ps: i64 = inputs.iter().map(|(_, b)| peek(b)).sum();
    let ss: i64 = inputs.iter().map(|(s, b)| mix(mix(peek(b), *s as i64), 0)).sum();
    assert_eq!(i.1, format!("protocol state : int = {ps}\nchannel network (ip*udp*blob) state : int = {ss}\n"));
    if planp_jit::available().is_ok() {
        let asm = j.2.expect("the JIT runs the channel");
        assert!(asm.contains("Some(Inline::A1(f))") && asm.contains("Some(Inline::A2(f))"), "{asm}");
        assert!(!asm.contains("call_prim"), "no primitive is called:\n{asm}");
    }
}
