//! The REPL, driven through standard input (scripted sessions with recorded output) and
//! through a pseudo-terminal (prompts, completion, history, Ctrl-C).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Run `planp repl` from the repository root with `input` on standard input.
fn scripted(input: &str) -> String {
    scripted_with(&[], input)
}

/// Run `planp repl ARGS...` with `input` on standard input.
fn scripted_with(args: &[&str], input: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_planp"))
        .arg("repl")
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Packets per second vary from run to run.
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .map(|l| match l.find(" packets/s") {
            Some(i) => format!("{}N{}", &l[..l[..i].rfind(' ').unwrap() + 1], &l[i..]),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn session(name: &str) {
    let input = std::fs::read_to_string(root().join("planp-repl/tests/sessions").join(format!("{name}.txt"))).unwrap();
    let got = scripted(&input);
    expect_test::expect_file![format!("sessions/{name}.out")].assert_eq(&got);
}

/// Load figure 2's load balancer, feed an HTTP capture, look at the connection table,
/// evaluate against the program, reload (nothing stale), reset.
#[test]
fn figure2_session() {
    session("figure2");
    // The capture written by `:pcap --out` is a real one.
    let mut r = planp_interp::capture::Reader::open(root().join("target/repl-figure2.pcap")).unwrap();
    let mut n = 0;
    while let Some(p) = r.next() {
        p.unwrap();
        n += 1;
    }
    assert_eq!(n, 10);
}

/// The README's main command: the REPL started on figure 2 with the demo script (the
/// session `docs/repl.md` shows).
#[test]
fn readme_demo() {
    let input = std::fs::read_to_string(root().join("examples/paper/figure2.repl")).unwrap();
    let got = scripted_with(&["examples/paper/figure2.planp"], &input);
    expect_test::expect_file!["sessions/demo.out"].assert_eq(&got);
}

#[test]
fn expressions_session() {
    session("expressions");
}

/// `:pcap` lines for prints, sends with changed fields, drops, exceptions and pass-through;
/// `--quiet`, `--limit`, and the cut-off after 100 lines.
#[test]
fn effects_session() {
    session("effects");
}

/// Mistakes of every kind are reported and the REPL carries on.
#[test]
fn errors_session() {
    let whole = std::fs::read(root().join("testdata/pcaps/corpus/print-flags.pcap")).unwrap();
    std::fs::write(root().join("target/repl-cut.pcap"), &whole[..whole.len() - 30]).unwrap();
    session("errors");
}

/// Through a pseudo-terminal: the banner and prompt, evaluation, multi-line input, tab
/// completion of commands and names, Ctrl-C at the prompt, and the history file.
#[test]
fn terminal_session() {
    use rexpect::session::spawn_command;
    let hist = std::env::temp_dir().join(format!("planp-history-{}", std::process::id()));
    let _ = std::fs::remove_file(&hist);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_planp"));
    cmd.arg("repl").current_dir(root()).env("PLANP_HISTORY", &hist).env("NO_COLOR", "1");
    let mut p = spawn_command(cmd, Some(10_000)).unwrap();
    p.exp_string("PLAN-P REPL").unwrap();
    p.exp_string("planp> ").unwrap();
    p.send_line("6 * 7").unwrap();
    p.exp_string("val it : int = 42").unwrap();
    // A declaration over two lines: the first is unfinished, so the editor waits.
    p.send_line("fun sq(x : int) : int =").unwrap();
    p.send_line("  x * x").unwrap();
    p.exp_string("fun sq(int) : int").unwrap();
    // Completion: `:lo` + Tab completes to `:load `; `ipDs` + Tab to `ipDst`.
    p.send(":lo\t").unwrap();
    p.flush().unwrap();
    p.exp_string(":load ").unwrap();
    p.send_control('u').unwrap();
    p.send("sq(ipDs\t").unwrap();
    p.flush().unwrap();
    p.exp_string("ipDst").unwrap();
    p.send_control('u').unwrap();
    // Ctrl-C at the prompt does not leave.
    p.send_control('c').unwrap();
    p.flush().unwrap();
    p.exp_string("^C").unwrap();
    p.send_line("sq(12)").unwrap();
    p.exp_string("val it : int = 144").unwrap();
    p.send_line(":quit").unwrap();
    p.exp_eof().unwrap();
    let h = std::fs::read_to_string(&hist).unwrap();
    assert!(h.contains("6 * 7") && h.contains("sq(12)"), "{h}");
    let _ = std::fs::remove_file(&hist);
}

/// Through a pseudo-terminal: a long `:pcap` shows a progress count on the terminal, and
/// Ctrl-C stops it, reports how far it got, and leaves the REPL (and its states) usable.
#[test]
fn ctrl_c_stops_a_long_capture() {
    use planp_interp::capture::{Reader, Writer};
    use rexpect::session::spawn_command;
    // A long capture: the first packet of a real one, many times over.
    let mut r = Reader::open(root().join("testdata/pcaps/corpus/print-flags.pcap")).unwrap();
    let first = r.next().unwrap().unwrap();
    let big = std::env::temp_dir().join(format!("planp-long-{}.pcap", std::process::id()));
    let mut w = Writer::create(&big, first.link, false).unwrap();
    for i in 0..400_000u64 {
        w.write(first.ts_ns + i * 1000, &first.data, first.orig_len).unwrap();
    }
    w.finish().unwrap();

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_planp"));
    let hist = std::env::temp_dir().join(format!("planp-history-long-{}", std::process::id()));
    cmd.arg("repl")
        .arg("examples/paper/figure2.planp")
        .current_dir(root())
        .env("PLANP_HISTORY", &hist)
        .env("NO_COLOR", "1");
    let mut p = spawn_command(cmd, Some(60_000)).unwrap();
    p.exp_string("loaded examples/paper/figure2.planp").unwrap();
    p.exp_string("planp> ").unwrap();
    p.send_line(&format!(":pcap {} --quiet", big.display())).unwrap();
    p.exp_string(" packets...").unwrap();
    p.send_control('c').unwrap();
    p.flush().unwrap();
    let (_, line) = p.exp_regex(r"interrupted after \d+ packets").unwrap();
    let n: u64 = line.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!(n > 0 && n < 400_000, "{line}");
    p.exp_string("planp> ").unwrap();
    // The states hold what the packets before the interruption did.
    p.send_line(":state").unwrap();
    p.exp_string("protocol state : int = 1").unwrap();
    p.send_line(":quit").unwrap();
    p.exp_eof().unwrap();
    let _ = std::fs::remove_file(&big);
    let _ = std::fs::remove_file(&hist);
}
