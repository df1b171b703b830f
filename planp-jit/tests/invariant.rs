//! `planp-jit` knows no PLAN-P construct and no primitive: no file under `src/` names
//! one, and the crate depends on neither the interpreter nor the primitive library.

use std::path::Path;

/// Names of the language's constructs and primitives, and of the crates that define
/// them. Matched as whole words, case-sensitively.
const FORBIDDEN: &[&str] = &[
    "ExprKind",
    "Expr",
    "Program",
    "channel",
    "OnRemote",
    "OnNeighbor",
    "network",
    "foldl",
    "foldr",
    "hash_table",
    "tableGet",
    "tablePut",
    "mkTable",
    "ipDst",
    "ipSrc",
    "tcpDst",
    "tcpSrc",
    "udpDst",
    "udpSrc",
    "planp_interp",
    "planp_primitives",
    "Prim",
    "Raise",
    "Exn",
    "Packet",
    "Channel",
    "Blob",
];

/// The forbidden words in `text`, with their line numbers.
fn offenders(text: &str) -> Vec<(usize, &'static str)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        for word in line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if let Some(f) = FORBIDDEN.iter().find(|&&f| f == word) {
                out.push((n + 1, *f));
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn the_crate_names_no_language_construct() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    assert!(files.len() >= 4, "{files:?}");
    let mut bad = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (line, word) in offenders(&text) {
            bad.push(format!("{}:{line}: {word}", f.display()));
        }
    }
    assert!(bad.is_empty(), "planp-jit must not name a PLAN-P construct or primitive:\n{}", bad.join("\n"));
}

#[test]
fn the_crate_depends_on_no_language_crate() {
    let manifest = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    for dep in ["planp-interp", "planp-primitives", "planp-specialize-macro"] {
        assert!(!manifest.contains(dep), "planp-jit depends on {dep}");
    }
}

#[test]
fn the_check_sees_whole_words_only() {
    assert_eq!(offenders("fn f() { foldl(g) }"), vec![(1, "foldl")]);
    assert_eq!(offenders("x\n// an Expr here\n"), vec![(2, "Expr")]);
    assert_eq!(offenders("use planp_interp::eval;"), vec![(1, "planp_interp")]);
    assert!(offenders("expression, Expression, unfoldl, foldl_x, networks, Primitive").is_empty());
}
