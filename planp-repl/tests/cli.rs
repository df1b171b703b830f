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

/// Figure 2 type-checks and verifies; figure 4 type-checks but never passes its packets
/// on, so the verifier rejects it for delivery, with exit code 1.
#[test]
fn check_verifies_the_paper_figures() {
    let r = root();
    let f2 = r.join("examples/paper/figure2.planp");
    let f4 = r.join("examples/paper/figure4.planp");
    let out = planp(&["check", f2.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("figure2.planp: ok (1 channel, 1 function; verified)"));
    let out = planp(&["check", "--format", "short", f2.to_str().unwrap(), f4.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let e = text(&out.stderr);
    assert!(e.contains("figure4.planp:5:1: planp::verify::delivery: channel network#0 may drop its packet"), "{e}");
    assert!(e.contains("figure4.planp: 2 verification errors (2 channels, 0 functions)"), "{e}");
    // --explain: the verdict on each property, and the time it took.
    let out = planp(&["check", "--explain", f4.to_str().unwrap()]);
    let o = text(&out.stdout);
    assert!(o.contains("  delivery            FAILS") && o.contains("      network#1: a path sends nothing"), "{o}");
    assert!(o.contains("  linear duplication  holds") && o.contains("verification in "), "{o}");
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

fn capture(name: &str) -> String {
    root().join("testdata/pcaps/corpus").join(name).to_str().unwrap().to_string()
}

/// The trace of figure 2 over an HTTP capture is stable: it matches the recorded one.
#[test]
fn run_trace_is_stable() {
    let f2 = root().join("examples/paper/figure2.planp");
    let out = planp(&["run", f2.to_str().unwrap(), "--pcap", &capture("print-flags.pcap"), "--trace"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    expect_test::expect_file!["data/figure2-print-flags.trace"].assert_eq(&text(&out.stdout));
    assert!(
        text(&out.stderr).starts_with(
            "planp run: 10 packets in, 10 out, 0 passed through, 0 dropped, 0 exceptions, 10 channel runs; "
        )
    );
}

/// Without `--trace`, stdout is exactly what the program prints.
#[test]
fn run_prints_the_program_output() {
    let p = std::env::temp_dir().join(format!("planp-cli-run-{}.planp", std::process::id()));
    std::fs::write(
        &p,
        "channel network(ps : int, ss : unit, p : ip*tcp*blob) is (print(ps); print(\" \"); (ps + 1, ss))",
    )
    .unwrap();
    // The channel drops every packet: the verifier rejects it, and it runs only when
    // asked to (the policy, docs/safety.md).
    let refused = planp(&["run", p.to_str().unwrap(), "--pcap", &capture("print-flags.pcap"), "--limit", "4"]);
    let out =
        planp(&["run", p.to_str().unwrap(), "--pcap", &capture("print-flags.pcap"), "--limit", "4", "--unverified"]);
    let _ = std::fs::remove_file(&p);
    assert_eq!(refused.status.code(), Some(1));
    assert!(refused.stdout.is_empty(), "nothing runs");
    let e = text(&refused.stderr);
    assert!(
        e.contains("planp::verify::delivery") && e.contains("fails verification (delivery), so it is not run"),
        "{e}"
    );
    assert!(e.contains("`--unverified` runs it anyway"), "{e}");
    assert!(out.status.success());
    assert!(text(&out.stderr).contains("fails verification (delivery); running it unverified, as --unverified asks"));
    assert_eq!(text(&out.stdout), "0 1 2 3 ");
    assert!(text(&out.stderr).contains("4 packets in, 0 out, 0 passed through, 4 dropped"), "{}", text(&out.stderr));
}

#[test]
fn run_exit_codes() {
    let f2 = root().join("examples/paper/figure2.planp");
    let f2 = f2.to_str().unwrap();
    // 3: not a capture.
    let out = planp(&["run", f2, "--pcap", f2]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("is not a capture file"));
    // 3: missing input.
    assert_eq!(planp(&["run", f2, "--pcap", "/nonexistent.pcap"]).status.code(), Some(3));
    // 4: a capture cut short in the middle of a record; what came before is processed.
    let whole = std::fs::read(capture("print-flags.pcap")).unwrap();
    let cut = std::env::temp_dir().join(format!("planp-cut-{}.pcap", std::process::id()));
    std::fs::write(&cut, &whole[..whole.len() - 30]).unwrap();
    let out = planp(&["run", f2, "--pcap", cut.to_str().unwrap()]);
    let _ = std::fs::remove_file(&cut);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("9 packets in"), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cut short"), "{}", text(&out.stderr));
    // 1: a program that does not load.
    let bad = root().join("planp-interp/tests/data/err/undefined_name.planp");
    assert_eq!(planp(&["run", bad.to_str().unwrap(), "--pcap", &capture("print-flags.pcap")]).status.code(), Some(1));
    // 2: usage.
    assert_eq!(planp(&["run", f2]).status.code(), Some(2));
}

/// An exception escaping a channel is reported in the trace, and the packet passes on.
#[test]
fn run_traces_exceptions_and_pass_through() {
    let p = std::env::temp_dir().join(format!("planp-cli-exn-{}.planp", std::process::id()));
    std::fs::write(
        &p,
        "exception Odd\nchannel network(ps : int, ss : unit, p : ip*tcp*blob) is\n  if ps mod 2 = 1 then raise Odd else (ps + 1, ss)\n",
    )
    .unwrap();
    let out = planp(&[
        "run",
        p.to_str().unwrap(),
        "--pcap",
        &capture("print-flags.pcap"),
        "--trace",
        "--limit",
        "3",
        "--unverified",
    ]);
    let _ = std::fs::remove_file(&p);
    let t = text(&out.stdout);
    assert!(t.contains("#2 exception Odd at "), "{t}");
    assert!(t.contains(":3:24 escaped channel network"), "{t}");
    assert!(t.contains("#2 pass len=74"), "{t}");
    assert!(t.contains("#1 drop"), "{t}");
}

/// Every primitive is listed with its type and its doc line.
#[test]
fn prims_lists_every_primitive() {
    let out = planp(&["prims"]);
    assert!(out.status.success());
    let t = text(&out.stdout);
    for p in planp_primitives::all() {
        assert!(t.contains(&format!("{} : {}\n    {}", p.name, p.signature, p.doc)), "{} is missing", p.name);
    }
    let one = text(&planp(&["prims", "ipDstSet"]).stdout);
    assert_eq!(one.lines().count(), 2, "{one}");
    assert!(text(&planp(&["prims", "tableGet"]).stdout).contains("[raises NotFound]"));
}

/// `planp run --engine jit` writes the same bytes as `--engine interp`: the trace on
/// stdout, the program's output without `--trace`, and the output capture; and its
/// summary counts the same. Over the README's demo (figure 2 on the three HTTP clients),
/// the paper's figures, a session program that raises, and a program with rewrites of
/// several kinds over corpus captures of many link and packet types.
#[test]
fn run_engines_write_the_same_bytes() {
    let r = root();
    let http = r.join("testdata/http-three-clients.pcap").to_str().unwrap().to_string();
    let corpus = [
        "print-flags.pcap",
        "dns_udp.pcap",
        "LINKTYPE_IPV6.pcap",
        "802.1ad_QinQ.pcap",
        "OSPFv2_Capture_FINAL.pcapng",
        "ipv6-routing-header.pcap",
        "bigtcp-ipv4.pcap",
        "nflog.pcap",
        "mpls-traceroute.pcap",
        "tcp_rst_data.pcap",
        "vxlan.pcap",
        "tcp-handshake-nano.pcap",
    ];
    let mut cases: Vec<(PathBuf, String)> = vec![
        (r.join("examples/paper/figure2.planp"), http.clone()),
        (r.join("planp-repl/tests/sessions/effects.planp"), http.clone()),
        (r.join("planp-repl/tests/data/engines.planp"), http.clone()),
        (r.join("examples/paper/figure4.planp"), capture("print-flags.pcap")),
    ];
    for c in corpus {
        cases.push((r.join("planp-repl/tests/data/engines.planp"), capture(c)));
        cases.push((r.join("examples/paper/figure2.planp"), capture(c)));
    }
    let dir = std::env::temp_dir();
    let pid = std::process::id();
    let (mut sent, mut changed, mut raised) = (0, 0, 0);
    for (i, (prog, pcap)) in cases.iter().enumerate() {
        let prog = prog.to_str().unwrap();
        for trace in [true, false] {
            let mut runs = Vec::new();
            for engine in ["interp", "jit"] {
                let out = dir.join(format!("planp-engines-{pid}-{i}-{engine}.pcap"));
                let mut args = vec![
                    "run",
                    prog,
                    "--pcap",
                    pcap,
                    "--engine",
                    engine,
                    "--out",
                    out.to_str().unwrap(),
                    "--unverified",
                ];
                if trace {
                    args.push("--trace");
                }
                let o = planp(&args);
                assert!(o.status.success(), "{prog} {pcap} {engine}: {}", text(&o.stderr));
                let bytes = std::fs::read(&out).unwrap();
                let _ = std::fs::remove_file(&out);
                let stderr = text(&o.stderr);
                assert!(stderr.contains(&format!("; engine {engine}")), "{stderr}");
                // The counts, without the engine and the rate.
                let counts = stderr.lines().last().unwrap().split("; engine").next().unwrap().to_string();
                runs.push((o.stdout, bytes, counts));
            }
            let (a, b) = (&runs[0], &runs[1]);
            assert!(a.0 == b.0, "{prog} {pcap}: stdout differs:\n{}\n---\n{}", text(&a.0), text(&b.0));
            assert!(a.1 == b.1, "{prog} {pcap}: the output captures differ");
            assert_eq!(a.2, b.2, "{prog} {pcap}");
            sent += a.1.len();
            changed += text(&a.0).matches("(changed ").count();
            raised += text(&a.0).matches(" exception ").count();
        }
    }
    // What was compared includes rewritten packets and exceptions.
    assert!(sent > 10_000 && changed > 50 && raised > 5, "{sent} bytes, {changed} rewrites, {raised} exceptions");
}

/// `--dump-asm` prints the code of the dispatch (channel choice, matching,
/// unmarshalling) and of every channel, each headed by its name and size, before the
/// run's output; it implies the JIT, and `--engine interp` with it is a usage error.
#[test]
fn run_dump_asm() {
    let f4 = root().join("examples/paper/figure4.planp");
    let f4 = f4.to_str().unwrap();
    let out = planp(&[
        "run",
        f4,
        "--pcap",
        &capture("print-flags.pcap"),
        "--dump-asm",
        "--trace",
        "--limit",
        "2",
        "--unverified",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let o = text(&out.stdout);
    assert!(o.starts_with("JIT code of 2 channels: "), "{o}");
    let head = o.lines().next().unwrap();
    assert!(head.contains(" bytes, generated in ") && head.ends_with(" ms"), "{head}");
    let d = o.find("\n== dispatch (channel choice, matching, unmarshalling): ").unwrap();
    let c0 = o.find("\n== channel network#0 (packet ip*tcp*char*int): ").unwrap();
    let c1 = o.find("\n== channel network#1 (packet ip*tcp*char*bool): ").unwrap();
    let trace = o.find("\n#1 in ").unwrap();
    assert!(d < c0 && c0 < c1 && c1 < trace, "{o}");
    // The dispatch tries both channels' types, in order, component by component.
    let dispatch = &o[d..c0];
    let t0 = dispatch.find("; channel network#0: does the frame match?").unwrap();
    let t1 = dispatch.find("; channel network#1: does the frame match?").unwrap();
    assert!(t0 < t1 && dispatch.contains("; component 3: Bool"), "{dispatch}");
    // The code is annotated with where each block comes from in the interpreter.
    assert!(o[c0..c1].contains("; channel network#0\n") && o[c0..c1].contains("; eval: ExprKind::If"), "{o}");
    assert!(o[c0..c1].contains("  ret\n"), "{o}");
    // The sizes add up.
    let size = |s: &str| -> usize { s.rsplit(": ").next().unwrap().split(' ').next().unwrap().parse().unwrap() };
    let per: usize =
        o.lines().filter(|l| l.starts_with("== channel ") || l.starts_with("== dispatch ")).map(size).sum();
    assert_eq!(per, head.split(": ").nth(1).unwrap().split(' ').next().unwrap().parse::<usize>().unwrap());
    assert!(text(&out.stderr).contains("; engine jit (code generated in "), "{}", text(&out.stderr));
    // With the JIT asked for explicitly, the same.
    let out =
        planp(&["run", f4, "--pcap", &capture("print-flags.pcap"), "--dump-asm", "--engine", "jit", "--unverified"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).starts_with("JIT code of 2 channels: "));
    // Contradictions and unknown engines are usage errors, before anything is read.
    let out = planp(&["run", f4, "--pcap", "/nonexistent.pcap", "--dump-asm", "--engine", "interp"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("`--dump-asm` shows the code the JIT generates"), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    let out = planp(&["run", f4, "--pcap", &capture("print-flags.pcap"), "--engine", "fast"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("possible values: interp, jit"), "{}", text(&out.stderr));
}

/// The default engine is the interpreter, and the summary says so.
#[test]
fn run_default_engine_is_the_interpreter() {
    let f2 = root().join("examples/paper/figure2.planp");
    let out = planp(&["run", f2.to_str().unwrap(), "--pcap", &capture("print-flags.pcap")]);
    assert!(out.status.success());
    let e = text(&out.stderr);
    assert!(e.contains(", 10 channel runs; engine interp; "), "{e}");
    assert!(!e.contains("JIT"), "{e}");
}

/// `deliver` hands packets to this host: the trace shows each delivery, nothing goes on
/// the wire for it, the summary counts the packets delivered (not dropped), and the
/// verifier accepts the program (every path delivers).
#[test]
fn run_shows_deliveries() {
    let p = std::env::temp_dir().join(format!("planp-cli-deliver-{}.planp", std::process::id()));
    std::fs::write(&p, "channel network(ps : int, ss : unit, p : ip*tcp*blob) is (deliver(#3 p); (ps + 1, ss))\n")
        .unwrap();
    let out = planp(&["run", p.to_str().unwrap(), "--pcap", &capture("print-flags.pcap"), "--trace", "--limit", "2"]);
    let _ = std::fs::remove_file(&p);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    assert!(t.contains("#1 deliver len=") && t.contains("#2 deliver len="), "{t}");
    assert!(!t.contains(" out "), "nothing is sent: {t}");
    let e = text(&out.stderr);
    assert!(e.contains("2 packets in, 0 out, 0 passed through, 0 dropped, 2 delivered, 0 exceptions"), "{e}");
}

/// `planp sim`: the audio experiment's files (summary, series, players, capture, both
/// runs, the plots), `--check`, and the exit codes of a wrong topology (1), a program
/// that fails verification (1) and an output that cannot be written (3).
#[test]
fn sim_writes_results_and_reports_mistakes() {
    // Removed when the test ends, passed or failed.
    let dir_tmp = tempfile::Builder::new().prefix("planp-cli-sim-").tempdir().unwrap();
    let dir = dir_tmp.path().to_path_buf();
    let topo = root().join("examples/bridge/topology.toml");
    let (out, plots) = (dir.join("out"), dir.join("plots"));
    let o = planp(&["sim", topo.to_str().unwrap(), "--out", out.to_str().unwrap(), "--plot", plots.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let s = text(&o.stdout);
    assert!(s.starts_with("run `adapted` (engine jit): "), "{s}");
    assert!(s.contains("  br1-br2 br1>br2 "), "{s}");
    assert_eq!(
        s,
        std::fs::read_to_string(out.join("summary.txt")).unwrap()
            + &format!("plot: {}\n", plots.join("bandwidth.svg").display()),
        "the summary is also in summary.txt"
    );
    for f in ["series.csv", "players.csv", "br1-br2.pcap", "h1-br1.pcap"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let svg = std::fs::read_to_string(plots.join("bandwidth.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("polyline"), "a line plot");
    let csv = std::fs::read_to_string(out.join("series.csv")).unwrap();
    assert!(csv.starts_with("time_s,br1-br2 br1>br2,br1-br2 br2>br1,"), "{csv}");
    assert_eq!(csv.lines().count(), 1 + 6, "a row per second of the 6 s run");

    let o = planp(&["sim", "--check", topo.to_str().unwrap()]);
    assert!(o.status.success());
    assert!(text(&o.stdout).ends_with("topology.toml: ok (6 nodes, 5 links, 4 sources)\n"), "{}", text(&o.stdout));

    // A mistake in the topology: exit 1, the file, line and column, and help.
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[sim]\nduration = \"1s\"\n[[node]]\nname = \"a\"\naddress = \"10.0.0.1\"\n[[link]]\nbetween = [\"a\", \"b\"]\nbandwidth = \"1Mb/s\"\n").unwrap();
    let o = planp(&["sim", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let e = text(&o.stderr);
    assert!(
        e.contains("no node is named `b`") && e.contains("bad.toml:7:") && e.contains("help: the nodes are: a"),
        "{e}"
    );

    // The bridge's program fails verification: refused unless the node says otherwise.
    let strict = dir.join("strict.toml");
    let t = std::fs::read_to_string(&topo).unwrap().replace("unverified = true\n", "");
    std::fs::write(
        &strict,
        t.replace(
            "program = \"bridge.planp\"",
            &format!("program = \"{}\"", root().join("examples/bridge/bridge.planp").display()),
        ),
    )
    .unwrap();
    let o = planp(&["sim", strict.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let e = text(&o.stderr);
    assert!(
        e.contains("the program of node `br1` fails verification (global termination, delivery, linear duplication)"),
        "{e}"
    );
    assert!(e.contains("planp::verify::duplication"), "{e}");

    // An output that cannot be written: exit 3.
    let file = dir.join("a-file");
    std::fs::write(&file, "").unwrap();
    let o = planp(&["sim", topo.to_str().unwrap(), "--out", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
}

/// `planp sim` warns before running a program that fails verification, and names a
/// loop of forwarding nodes through it when there is one.
#[test]
fn sim_warns_of_unverified_programs_on_loops() {
    // Removed when the test ends, passed or failed.
    let dir_tmp = tempfile::Builder::new().prefix("planp-cli-sim-loop-").tempdir().unwrap();
    let dir = dir_tmp.path().to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    let bridge = root().join("examples/bridge/bridge.planp");
    let tree = std::fs::read_to_string(root().join("examples/bridge/topology.toml"))
        .unwrap()
        .replace("program = \"bridge.planp\"", &format!("program = \"{}\"", bridge.display()));
    let t = dir.join("tree.toml");
    std::fs::write(&t, &tree).unwrap();
    let o = planp(&["sim", "--check", t.to_str().unwrap()]);
    assert!(o.status.success());
    let e = text(&o.stderr);
    assert!(e.contains("planp sim: warning: node `br1` runs a program that fails verification"), "{e}");
    assert!(!e.contains("loop"), "a tree has no loop: {e}");
    // A router between the two bridges' hosts closes a loop of forwarding nodes.
    let looped = tree
        + "[[node]]\nname = \"r\"\naddress = \"10.1.9.9\"\nkind = \"router\"\n[[link]]\nbetween = [\"br1\", \"r\"]\nbandwidth = \"1Mb/s\"\n[[link]]\nbetween = [\"r\", \"br2\"]\nbandwidth = \"1Mb/s\"\n";
    std::fs::write(&t, looped).unwrap();
    let o = planp(&["sim", "--check", t.to_str().unwrap()]);
    let e = text(&o.stderr);
    assert!(e.contains("and the topology has a loop through it (br1 - br2 - r - br1)"), "{e}");
}
