//! The safety verifier (`docs/safety.md`), data-driven.
//!
//! - `tests/data/unsafe/*.planp` break a property, each in its own way; the verifier
//!   must reject them, and `NAME.out` holds its diagnostics as `planp check` prints them.
//! - `tests/data/safe/*.planp` are near misses that are safe; the verifier must accept
//!   them, and `NAME.out` holds its verdict (`planp check --explain`).
//! - The shipped examples: figure 2, the tour and the heavy example verify; figure 4,
//!   which never passes its packets on, is rejected for delivery.
//! - Generated programs: the verifier never panics, and what it proves holds when the
//!   program runs: on a program it accepts, every packet a `network` channel takes is
//!   sent on at least once, and no exception escapes.
//!
//! `UPDATE_EXPECT=1` re-blesses the `.out` files.

#[path = "generated/generator.rs"]
mod generator;

mod cases;

use cases::{cases, name_of};
use expect_test::expect_file;
use planp_interp::verify::{Status, verify};
use std::path::Path;

fn load(name: &str, text: &str) -> std::sync::Arc<planp_interp::Program> {
    planp_interp::load(name, text).unwrap_or_else(|d| panic!("{name} does not load:\n{}", d.render_plain()))
}

#[test]
fn unsafe_programs_are_rejected_with_the_right_diagnostic() {
    for p in cases("unsafe") {
        let text = std::fs::read_to_string(&p).unwrap();
        let name = name_of(&p);
        let v = verify(&load(&name, &text));
        assert!(!v.ok(), "{name} was accepted:\n{}", v.explain());
        for d in &v.diags {
            assert!(d.span().end as usize <= text.len() && !d.labels.is_empty(), "{name}: {d:?}");
            assert!(d.help.is_some(), "{name}: a diagnostic without help: {d:?}");
        }
        // The first line of the file names the property the case breaks.
        let first = text.lines().next().unwrap_or("");
        let want = match first.split(':').next().unwrap_or("") {
            "-- Delivery" => "planp::verify::delivery",
            "-- Exceptions" => "planp::verify::escaping-exception",
            "-- Duplication" | "-- Duplication through user channels" => "planp::verify::duplication",
            "-- Global termination" => "planp::verify::global-termination",
            other => panic!("{name}: the first line names no property: {other:?}"),
        };
        assert!(v.diags.iter().any(|d| d.code() == want), "{name}: no {want}:\n{:?}", v.diags);
        let d = planp_interp::Diagnostics { name: name.clone(), text: text.as_str().into(), diags: v.diags.clone() };
        expect_file![p.with_extension("out")].assert_eq(&format!("{}\n{}", d.render_short(), d.render_plain()));
    }
}

#[test]
fn safe_near_misses_are_accepted() {
    for p in cases("safe") {
        let text = std::fs::read_to_string(&p).unwrap();
        let name = name_of(&p);
        let v = verify(&load(&name, &text));
        let d = planp_interp::Diagnostics { name: name.clone(), text: text.as_str().into(), diags: v.diags.clone() };
        assert!(v.ok(), "{name} was rejected:\n{}", d.render_plain());
        expect_file![p.with_extension("out")].assert_eq(&v.explain());
    }
}

#[test]
fn the_examples() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    for ex in [
        "examples/paper/figure2.planp",
        "examples/loadbalancer/weighted.planp",
        "examples/mpeg/monitor.planp",
        "examples/mpeg/client.planp",
        "examples/audio/router.planp",
        "examples/audio/client.planp",
        "examples/tour.planp",
        "examples/heavy.planp",
    ] {
        let text = std::fs::read_to_string(root.join(ex)).unwrap();
        let v = verify(&load(ex, &text));
        assert!(v.ok(), "{ex}: {:?}", v.diags);
    }
    let ex = "examples/paper/figure4.planp";
    let text = std::fs::read_to_string(root.join(ex)).unwrap();
    let v = verify(&load(ex, &text));
    let codes: Vec<String> = v.diags.iter().map(|d| d.code()).collect();
    assert_eq!(codes, ["planp::verify::delivery", "planp::verify::delivery"], "{ex}");
    assert!(v.diags[0].message.contains("may drop its packet"));
    let delivery = v.properties.iter().find(|(p, ..)| p.name() == "delivery").unwrap();
    assert_eq!(delivery.1, Status::Fails);
}

/// The verifier on generated programs: no panic, labels in range; and what it proves of
/// a channel holds when the program runs: a channel from which no exception may escape
/// never ends in one, and a `network` channel that sends on every path sends at least
/// once each time it runs to the end.
#[test]
fn generated_programs_never_break_the_verifier_and_its_proofs_hold() {
    use planp_interp::{Node, NodeConfig};
    let (mut no_raise_runs, mut delivering_runs, mut programs) = (0, 0, 0);
    for seed in 0..400u64 {
        let bytes: Vec<u8> = (0..3000u64)
            .scan(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1, |x, _| {
                *x ^= *x << 13;
                *x ^= *x >> 7;
                *x ^= *x << 17;
                Some(*x as u8)
            })
            .collect();
        let src = generator::program(&bytes);
        let Ok(prog) = planp_interp::load("gen.planp", &src) else { continue };
        programs += 1;
        let v = verify(&prog);
        for d in &v.diags {
            assert!(d.span().end as usize <= src.len() && !d.labels.is_empty(), "{src}\n{d:?}");
        }
        assert_eq!(v.channels.len(), prog.channels.len());
        let Ok(mut node) = Node::new(prog.clone(), NodeConfig::default()) else { continue };
        let pk = generator::packets(&mut generator::Choices::new(&bytes[1000..]));
        for p in &pk {
            let o = node.process(p.link, &p.frame, p.ts_ns);
            let Some(i) = o.channel else { continue };
            let facts = &v.channels[i];
            if facts.may_raise.is_empty() {
                no_raise_runs += 1;
                assert!(o.exception.is_none(), "no exception may escape, yet one did:\n{src}\n{o:?}");
            }
            if prog.channels[i].is_network() && facts.sends_on_every_path && o.exception.is_none() {
                delivering_runs += 1;
                let sends = o.effects.iter().filter(|e| matches!(e, planp_primitives::Effect::Send(_))).count();
                assert!(sends >= 1, "every path sends, yet the packet was not sent on:\n{src}");
            }
        }
    }
    assert!(
        programs > 100 && no_raise_runs > 20 && delivering_runs > 20,
        "{programs} programs, {no_raise_runs} runs without exceptions, {delivering_runs} delivering runs checked"
    );
}

/// The checker rejects recursion before the verifier runs, so a cycle of calls can only
/// reach the verifier from a program changed after checking: the verifier finds it
/// itself (a program that is changed after it was checked must be verified again).
#[test]
fn a_cycle_of_calls_fails_local_termination() {
    let src = "fun g(x : int) : int = x + 1\nfun f(x : int) : int = g(x) + 1\n\
               channel network(ps : int, ss : unit, p : ip*udp*blob) is (OnRemote(network, p); (f(ps), ss))\n";
    let prog = load("cycle.planp", src);
    assert!(verify(&prog).ok());
    // g's body becomes f's: g calls g.
    let mut changed = (*prog).clone();
    let (g, f) = (
        changed.funs.iter().position(|x| x.name == "g").unwrap(),
        changed.funs.iter().position(|x| x.name == "f").unwrap(),
    );
    changed.funs[g].body = changed.funs[f].body.clone();
    let v = verify(&changed);
    let codes: Vec<String> = v.diags.iter().map(|d| d.code()).collect();
    assert_eq!(codes, ["planp::verify::local-termination"], "{:?}", v.diags);
    assert!(v.diags[0].message.contains("`g` can call itself"), "{}", v.diags[0].message);
    assert_eq!(v.failed(), ["local termination"]);
}

/// Functions that each call the next twice make 2^60 calls when unfolded; the verifier
/// looks at each function once, so it ends (it would not if it unfolded calls).
#[test]
fn call_trees_are_not_unfolded() {
    let mut src = String::from("fun f0(x : host) : host = if x = 10.0.0.1 then 10.0.0.2 else 10.0.0.3\n");
    for i in 1..=60 {
        src += &format!("fun f{i}(x : host) : host = if x = f{}(x) then f{}(x) else x\n", i - 1, i - 1);
    }
    src += "channel network(ps : int, ss : unit, p : ip*udp*blob) is\n  \
            (OnRemote(network, (ipDstSet(#1 p, f60(ipDst(#1 p))), #2 p, #3 p)); (ps, ss))\n";
    let v = verify(&load("tree.planp", &src));
    // The destination is a named host or the packet's own: which one is not followed
    // through the comparison, so it is unknown and global termination is not proved.
    assert_eq!(v.failed(), ["global termination"], "{:?}", v.diags);
}
