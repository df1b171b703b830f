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
    mask(&String::from_utf8_lossy(&out.stdout))
}

/// What varies from run to run: packets per second, code-generation times, and the
/// addresses in generated code (0x-prefixed numbers of 12 hex digits or more).
fn mask(text: &str) -> String {
    text.lines().map(mask_line).collect::<Vec<_>>().join("\n") + "\n"
}

fn mask_line(l: &str) -> String {
    let mut l = l.to_string();
    for (before, after) in [(" packets/s", ""), (" ms", "generated in ")] {
        if let Some(i) = l.find(before)
            && let Some(start) = l[..i].rfind(' ')
            && l[..start + 1].ends_with(after)
        {
            l = format!("{}N{}", &l[..start + 1], &l[i..]);
        }
    }
    let mut out = String::new();
    let mut rest = l.as_str();
    while let Some(i) = rest.find("0x") {
        out.push_str(&rest[..i + 2]);
        rest = &rest[i + 2..];
        let n = rest.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(rest.len());
        if n >= 12 {
            out.push_str("ADDR");
            rest = &rest[n..];
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn masking() {
    assert_eq!(
        mask_line("  0x0025  mov rsi, 0x56341ff23078 ; 0x7fffffffffffffff, 0x1234"),
        "  0x0025  mov rsi, 0xADDR ; 0xADDR, 0x1234"
    );
    assert_eq!(mask_line("JIT code: 3 bytes, generated in 0.05 ms"), "JIT code: 3 bytes, generated in N ms");
    assert_eq!(mask_line("9 in, 9 out; 12345 packets/s; written"), "9 in, 9 out; N packets/s; written");
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

/// `:engine`: figure 2 over the same capture under both engines gives the same lines,
/// the same states and the same written capture; switching keeps the declarations typed
/// at the prompt and resets the states.
#[test]
fn engines_session() {
    session("engines");
    let a = std::fs::read(root().join("target/repl-engines-interp.pcap")).unwrap();
    let b = std::fs::read(root().join("target/repl-engines-jit.pcap")).unwrap();
    assert!(a.len() > 24 * 54);
    assert!(a == b, "the JIT wrote other bytes than the interpreter");
}

/// The same script under `planp repl --engine interp` and `--engine jit` prints the same.
#[test]
fn engines_agree_on_a_script() {
    let script = ":load examples/paper/figure2.planp\n:pcap testdata/pcaps/corpus/print-flags.pcap --all\n:state\n\
                  :pcap testdata/http-three-clients.pcap --all\n:state\n:reset\n:state\n\
                  :load --unverified planp-repl/tests/sessions/effects.planp\n:pcap testdata/http-three-clients.pcap --all\n:state\n";
    let interp = scripted_with(&["--engine", "interp"], script);
    let jit = scripted_with(&["--engine", "jit"], &format!(":engine\n{script}"));
    assert_eq!(format!("engine: jit\n{interp}"), jit);
    assert!(interp.contains("exception Subscript"), "{interp}");
}

/// `:asm`: the code of a channel under either engine (generated on demand under the
/// interpreter), headed by its name, packet type and size; errors name the channels.
#[test]
fn asm_session() {
    session("asm");
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
    // `:engine j` + Tab completes the engine; `:asm n` + Tab a channel of the program.
    p.send_line(":load examples/paper/figure2.planp").unwrap();
    p.exp_string("loaded examples/paper/figure2.planp").unwrap();
    p.send(":engine j\t").unwrap();
    p.flush().unwrap();
    p.exp_string("jit").unwrap();
    p.send_line("").unwrap();
    p.exp_string("engine: jit").unwrap();
    p.send(":asm n\t").unwrap();
    p.flush().unwrap();
    p.exp_string("network").unwrap();
    p.send_line("").unwrap();
    p.exp_string("== channel network#0 (packet ip*tcp*blob)").unwrap();
    p.send_line(":quit").unwrap();
    p.exp_eof().unwrap();
    let h = std::fs::read_to_string(&hist).unwrap();
    assert!(h.contains("6 * 7") && h.contains("sq(12)"), "{h}");
    let _ = std::fs::remove_file(&hist);
}

/// Through a pseudo-terminal: a long `:pcap` shows a progress count on the terminal, and
/// Ctrl-C stops it, reports how far it got, and leaves the REPL (and its states) usable.
///
/// The capture is a named pipe that a thread fills at a bounded pace (the first packet
/// of a real capture, over and over), so the REPL is still reading when Ctrl-C arrives
/// however fast the build is; the thread stops when the REPL closes the pipe.
#[test]
fn ctrl_c_stops_a_long_capture() {
    use planp_interp::capture::{Reader, Writer};
    use rexpect::session::spawn_command;
    const MAX: u64 = 50_000_000;
    let mut r = Reader::open(root().join("testdata/pcaps/corpus/print-flags.pcap")).unwrap();
    let first = r.next().unwrap().unwrap();
    let big = std::env::temp_dir().join(format!("planp-long-{}.pcap", std::process::id()));
    let _ = std::fs::remove_file(&big);
    let made = Command::new("mkfifo").arg(&big).status().expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", big.display());
    let pipe = big.clone();
    let writer = std::thread::spawn(move || {
        // Opening blocks until the REPL opens the pipe to read it.
        let Ok(mut w) = Writer::create(&pipe, first.link, false) else { return 0 };
        let mut sent = 0u64;
        while sent < MAX {
            for _ in 0..1000 {
                // The REPL closed the pipe (it was interrupted): done.
                if w.write(first.ts_ns + sent * 1000, &first.data, first.orig_len).is_err() {
                    return sent;
                }
                sent += 1;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        sent
    });

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
    assert!(n > 0 && n < MAX, "{line}");
    p.exp_string("planp> ").unwrap();
    // The states hold what the packets before the interruption did.
    p.send_line(":state").unwrap();
    p.exp_string("protocol state : int = 1").unwrap();
    p.send_line(":quit").unwrap();
    p.exp_eof().unwrap();
    let sent = writer.join().expect("the writer thread");
    assert!(sent >= n && sent < MAX, "the pipe was closed after {sent} packets were written");
    let _ = std::fs::remove_file(&big);
    let _ = std::fs::remove_file(&hist);
}
