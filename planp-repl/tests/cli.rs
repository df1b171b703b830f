//! The `planp` command line: exit codes and what it prints.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn planp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_planp")).args(args).output().expect("run planp")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_accepts_the_paper_figures() {
    let r = root();
    let f2 = r.join("examples/paper/figure2.planp");
    let f4 = r.join("examples/paper/figure4.planp");
    let out = planp(&["check", f2.to_str().unwrap(), f4.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("figure2.planp: ok (1 channel, 1 function)"));
    assert!(text(&out.stdout).contains("figure4.planp: ok (2 channels, 0 functions)"));
}

/// Every error case of the front-end corpus is rejected with exit code 1, and the
/// diagnostics point where the corpus's expected output says (`line:col: code` lines).
#[test]
fn check_rejects_every_error_case_at_the_right_place() {
    let dir = root().join("planp-interp/tests/data/err");
    let mut n = 0;
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    for p in paths.iter().filter(|p| p.extension().is_some_and(|x| x == "planp")) {
        let out = planp(&["check", "--format", "short", p.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{}: {}", p.display(), text(&out.stdout));
        let stderr = text(&out.stderr);
        let expected = std::fs::read_to_string(p.with_extension("out")).unwrap();
        for line in expected.lines().take_while(|l| !l.is_empty()) {
            // "err/NAME.planp:L:C: code: message" -> ":L:C: code: message"
            let tail = &line[line.find(".planp:").unwrap() + ".planp".len()..];
            assert!(stderr.contains(tail), "{}: expected `{tail}` in:\n{stderr}", p.display());
        }
        n += 1;
    }
    assert!(n > 0);
}

#[test]
fn check_renders_source_excerpts_by_default() {
    let p = root().join("planp-interp/tests/data/err/undefined_name.planp");
    let out = planp(&["check", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let e = text(&out.stderr);
    assert!(e.contains("planp::scope::undefined-name"), "{e}");
    assert!(e.contains("undefined_name.planp:2:13"), "{e}");
    assert!(e.contains("help:"), "{e}");
    assert!(!e.contains('\u{1b}'), "no colours when stderr is not a terminal");
}

#[test]
fn missing_and_binary_files_are_reported() {
    let out = planp(&["check", "/nonexistent/x.planp"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read /nonexistent/x.planp"));
    let bin = std::env::temp_dir().join(format!("planp-cli-binary-{}.planp", std::process::id()));
    std::fs::write(&bin, [0xff, 0xfe, 0x00, 0x80]).unwrap();
    let out = planp(&["check", bin.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("is not UTF-8"));
    let _ = std::fs::remove_file(bin);
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(planp(&["check"]).status.code(), Some(2));
    assert_eq!(planp(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn eval_shows_values_and_states() {
    let p = std::env::temp_dir().join(format!("planp-cli-eval-{}.planp", std::process::id()));
    std::fs::write(
        &p,
        "val xs = [1, 2, 3]\nfun add(a : int, b : int) : int = a + b\nval total = foldl(add, 0, xs)\n\
         val shout = (print(\"loading\\n\"); \"hi\" ^ \"!\")\n\
         channel network(ps : int, ss : string list, p : ip*blob) initstate [\"x\"] is (ps, ss)\n",
    )
    .unwrap();
    let out = planp(&["eval", p.to_str().unwrap()]);
    let _ = std::fs::remove_file(&p);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let o = text(&out.stdout);
    assert_eq!(
        o,
        "loading\nval xs : int list = [1, 2, 3]\nval total : int = 6\nval shout : string = \"hi!\"\n\
         protocol state : int = 0\nchannel network (ip*blob) state : string list = [\"x\"]\n"
    );
}

#[test]
fn eval_reports_an_exception_in_an_initialiser() {
    let p = std::env::temp_dir().join(format!("planp-cli-evalx-{}.planp", std::process::id()));
    std::fs::write(&p, "val t : int hash_table = mkTable(4)\nval x = tableGet(t, 3)\n").unwrap();
    let out = planp(&["eval", p.to_str().unwrap()]);
    let _ = std::fs::remove_file(&p);
    assert_eq!(out.status.code(), Some(1));
    let e = text(&out.stderr);
    assert!(e.contains("uncaught exception `NotFound` while initialising `x`"), "{e}");
    assert!(e.contains(":2:9]"), "{e}");
}
