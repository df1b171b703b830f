//! No input makes the front end or the safety verifier panic or hang: random bytes,
//! mutated valid programs, and pathological nesting all end in a program (verified or
//! rejected with diagnostics in the source) or in diagnostics.
//!
//! The same property is fuzzed, coverage-guided, by `fuzz/fuzz_targets/frontend.rs`.

use proptest::prelude::*;
use std::path::Path;

/// Every program we have: examples and test corpora.
fn corpus() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in [
        "tests/data/ok",
        "tests/data/run",
        "tests/data/err",
        "tests/data/safe",
        "tests/data/unsafe",
        "../examples/paper",
        "../examples/loadbalancer",
        "../examples/mpeg",
        "../examples/bridge",
        "../examples/audio",
    ] {
        let Ok(rd) = std::fs::read_dir(root.join(dir)) else { continue };
        let mut paths: Vec<_> =
            rd.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "planp")).collect();
        paths.sort();
        for p in paths {
            out.push(std::fs::read_to_string(p).unwrap());
        }
    }
    assert!(out.len() >= 3);
    out
}

/// Load, and when the program is valid, also render its interface and verify it (its
/// diagnostics rendered); when not, render the diagnostics (rendering touches every
/// span).
fn exercise(src: &str) {
    match planp_interp::load("fuzz.planp", src) {
        Ok(p) => {
            let _ = p.summary();
            let v = planp_interp::verify::verify(&p);
            for diag in &v.diags {
                assert!(diag.span().end as usize <= src.len(), "verifier span beyond the input: {diag:?}");
            }
            let _ = v.explain();
            let d = planp_interp::Diagnostics { name: "fuzz.planp".into(), text: src.into(), diags: v.diags };
            let _ = d.render_plain();
        }
        Err(d) => {
            assert!(!d.diags.is_empty());
            for diag in &d.diags {
                assert!(diag.span().end as usize <= src.len(), "span beyond the input: {diag:?}");
                assert!(
                    src.is_char_boundary(diag.span().start as usize) && src.is_char_boundary(diag.span().end as usize)
                );
            }
            let _ = d.render_plain();
            let _ = d.render_short();
        }
    }
}

/// Tokens that mutations insert: keywords, operators, and fragments that open
/// constructs without closing them.
const FRAGMENTS: &[&str] = &[
    "let",
    "in",
    "end",
    "if",
    "then",
    "else",
    "val",
    "fun",
    "channel",
    "is",
    "initstate",
    "try",
    "handle",
    "raise",
    "(",
    ")",
    "[",
    "]",
    ",",
    ";",
    ":",
    "::",
    "=",
    "=>",
    "|",
    "#1",
    "#9",
    "~",
    "-",
    "^",
    "*",
    "(*",
    "*)",
    "--",
    "\"",
    "'",
    "'a",
    "0x",
    "1.2.3",
    "99999999999999999999",
    "hash_table",
    "list",
    "ip*tcp*blob",
    "foldl(f,",
    "OnRemote(",
    "hd",
    "not",
    "andalso",
    "_",
    "\u{e9}",
    "\0",
];

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, usize),
    Duplicate(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (any::<usize>(), 0..FRAGMENTS.len()).prop_map(|(a, f)| Mutation::Insert(a, f)),
        (any::<usize>(), 1usize..60).prop_map(|(a, n)| Mutation::Duplicate(a, n)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn floor(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(src: &str, m: &Mutation) -> String {
    if src.is_empty() {
        return String::new();
    }
    let at = |a: usize| floor(src, a % (src.len() + 1));
    match *m {
        Mutation::Delete(a, n) => {
            let s = at(a);
            let e = floor(src, s + n);
            format!("{}{}", &src[..s], &src[e..])
        }
        Mutation::Insert(a, f) => {
            let s = at(a);
            format!("{} {} {}", &src[..s], FRAGMENTS[f], &src[s..])
        }
        Mutation::Duplicate(a, n) => {
            let s = at(a);
            let e = floor(src, s + n);
            format!("{}{}{}", &src[..e], &src[s..e], &src[e..])
        }
        Mutation::Truncate(a) => src[..at(a)].to_string(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn random_token_soup_never_panics(parts in proptest::collection::vec(0..FRAGMENTS.len(), 0..80)) {
        let src: Vec<&str> = parts.iter().map(|&i| FRAGMENTS[i]).collect();
        exercise(&src.join(" "));
    }

    #[test]
    fn mutated_programs_never_panic(which in any::<usize>(), ms in proptest::collection::vec(mutation(), 1..6)) {
        let corpus = corpus();
        let mut src = corpus[which % corpus.len()].clone();
        for m in &ms {
            src = apply(&src, m);
        }
        exercise(&src);
    }
}

/// Inputs built to be deep or long end quickly with a diagnostic.
#[test]
fn pathological_inputs_end_in_diagnostics() {
    let cases = [
        format!("val x = {}1{}", "(".repeat(100_000), ")".repeat(100_000)),
        format!("val x = {}1", "~".repeat(100_000)),
        format!("val x = {}1", "#1 ".repeat(100_000)),
        format!("val x = {}[]", "[".repeat(100_000)),
        format!("val x = {}", "if true then 1 else ".repeat(50_000)),
        format!("val x : {} = 1", "int list ".repeat(50_000)),
        format!("val x : {}int{} = 1", "(".repeat(100_000), ")".repeat(100_000)),
        format!("val x = 1{}", " :: 1".repeat(100_000)),
        format!("val x = {}1", "not ".repeat(100_000)),
        format!("val x = let {} in 1 end", "val y = let ".repeat(30_000)),
        // Regression: postfix type constructors were not counted as nesting, and the
        // checker overflowed its stack on `int list list ... list`.
        format!("val x : int {}= []", "list ".repeat(100_000)),
        "(*".repeat(100_000),
        "\"".repeat(100_001),
    ];
    for src in &cases {
        let d = planp_interp::load("deep.planp", src).err();
        assert!(d.is_some(), "accepted a pathological input starting {:?}", &src[..40.min(src.len())]);
    }
}

/// Long but shallow programs are fine: many declarations, long lists and sequences.
#[test]
fn long_flat_programs_load() {
    let many: String = (0..5_000).map(|i| format!("val v{i} = {i}\n")).collect();
    planp_interp::load("many.planp", &many).unwrap();
    let list = format!("val l = [{}]", (0..20_000).map(|i| i.to_string()).collect::<Vec<_>>().join(", "));
    // A long list literal nests `::` cells, but its elements are siblings for the parser.
    let _ = planp_interp::load("list.planp", &list);
    let seq = format!("val s = ({})", (0..20_000).map(|i| i.to_string()).collect::<Vec<_>>().join("; "));
    planp_interp::load("seq.planp", &seq).unwrap();
}

/// A long chain of calls, each shallow, is bounded statically: evaluating it would nest
/// deeper than the evaluator allows, so it is rejected when loaded, not when run.
#[test]
fn call_chains_are_bounded_statically() {
    let chain = |n: usize| {
        let mut s = String::from("fun f0(x : int) : int = x + 1\n");
        for i in 1..n {
            s.push_str(&format!("fun f{i}(x : int) : int = f{}(x) + 1\n", i - 1));
        }
        s.push_str(&format!("val r = f{}(0)\n", n - 1));
        s
    };
    let ok = planp_interp::load("ok.planp", &chain(300)).unwrap();
    let node = planp_interp::Node::new(ok, planp_interp::NodeConfig::default()).unwrap();
    assert_eq!(node.global(0), 300);
    let d = planp_interp::load("deep.planp", &chain(1000)).unwrap_err();
    assert!(d.diags.iter().any(|d| d.name == "too-deep"), "{}", d.render_short());
    // Regression: the passes over the call graph (initialisation order, stack size,
    // evaluation depth) recursed along the chain and overflowed the native stack.
    let d = planp_interp::load("deeper.planp", &chain(30_000)).unwrap_err();
    assert!(d.diags.iter().any(|d| d.name == "too-deep"), "{}", d.render_short());
}
