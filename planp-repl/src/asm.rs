//! The JIT's code shown to people: `planp run --dump-asm` and the REPL's `:asm`.
//!
//! Each channel's code comes from [`Compiled::disassemble`], whose `; notes` name the
//! interpreter construct each block was generated from; this module only heads it with
//! the channel (name, overload, packet type) and its size, and heads the whole with the
//! total size and how long code generation took. The program's dispatch (channel
//! choice, matching and unmarshalling, [`Compiled::disassemble_dispatch`]) comes first
//! when every channel is shown, or alone with `:asm dispatch`.

use planp_interp::Program;
use planp_interp::jit::Compiled;
use std::fmt::Write as _;

/// What a `:asm` argument names: the channels (indices into `prog.channels`) and
/// whether the dispatch is shown.
pub type Selection = (Vec<usize>, bool);

/// What a `:asm` argument names: `""` (the dispatch and every channel), `dispatch` (the
/// dispatch, unless a channel has that name), `NAME` (every overload of NAME) or `NAME#K`
/// (one overload). `Err` is the message for a name that is not a channel.
pub fn select(prog: &Program, arg: &str) -> Result<Selection, String> {
    let arg = arg.trim();
    if prog.channels.is_empty() {
        return Err("the program has no channels: `:load FILE` loads one".into());
    }
    if arg.is_empty() {
        return Ok(((0..prog.channels.len()).collect(), true));
    }
    if arg == "dispatch" && !prog.channels.iter().any(|c| c.name == "dispatch") {
        return Ok((Vec::new(), true));
    }
    let (name, overload) = match arg.split_once('#') {
        Some((n, k)) => match k.parse::<u32>() {
            Ok(k) => (n, Some(k)),
            Err(_) => {
                return Err(format!("`{arg}` is not a channel: the overload after `#` is a number ({})", list(prog)));
            }
        },
        None => (arg, None),
    };
    let found: Vec<usize> = prog
        .channels
        .iter()
        .enumerate()
        .filter(|(_, c)| c.name == name && overload.is_none_or(|k| c.overload == k))
        .map(|(i, _)| i)
        .collect();
    if found.is_empty() { Err(format!("no channel `{arg}` ({})", list(prog))) } else { Ok((found, false)) }
}

/// "the channels are network#0, network#1".
fn list(prog: &Program) -> String {
    let names: Vec<String> = prog.channels.iter().map(|c| format!("{}#{}", c.name, c.overload)).collect();
    format!("the channel{} {}", if names.len() == 1 { " is" } else { "s are" }, names.join(", "))
}

/// How long code generation took, in milliseconds with two decimals.
pub fn millis(d: std::time::Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// The code of the selection: the dispatch if selected (and the program has `network`
/// channels), then the channels, each headed by its name, overload, packet type and
/// size; the whole headed by the total size and the code-generation time (of all the
/// code: it is generated together).
pub fn dump(prog: &Program, code: &Compiled, (which, dispatch): &Selection) -> String {
    let mut out = String::new();
    let n = prog.channels.len();
    let _ = writeln!(
        out,
        "JIT code of {n} channel{}: {} bytes, generated in {}",
        if n == 1 { "" } else { "s" },
        code.code_bytes(),
        millis(code.gen_time)
    );
    if *dispatch {
        match code.disassemble_dispatch() {
            Some(text) => {
                let _ = writeln!(
                    out,
                    "\n== dispatch (channel choice, matching, unmarshalling): {} bytes ==",
                    code.dispatch_bytes()
                );
                out.push_str(&text);
            }
            None if which.is_empty() => {
                let _ = writeln!(out, "\n(no dispatch: the program has no `network` channel)");
            }
            None => {}
        }
    }
    for &i in which {
        let c = &prog.channels[i];
        let _ = writeln!(
            out,
            "\n== channel {}#{} (packet {}): {} bytes ==",
            c.name,
            c.overload,
            c.pkt_type,
            code.channel_bytes(i)
        );
        out.push_str(&code.disassemble(i));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::select;

    #[test]
    fn select_names_overloads_and_mistakes() {
        let text = "channel network(ps : int, ss : unit, p : ip*blob) is (ps, ss)\n\
                    channel network(ps : int, ss : unit, p : ip6*blob) is (ps, ss)\n\
                    channel tally(ps : int, ss : unit, p : int) is (ps + p, ss)\n";
        let prog = planp_interp::load("t.planp", text).unwrap();
        assert_eq!(select(&prog, ""), Ok((vec![0, 1, 2], true)));
        assert_eq!(select(&prog, "dispatch"), Ok((vec![], true)));
        assert_eq!(select(&prog, "network"), Ok((vec![0, 1], false)));
        assert_eq!(select(&prog, " network#1 "), Ok((vec![1], false)));
        assert_eq!(select(&prog, "tally#0"), Ok((vec![2], false)));
        let all = "(the channels are network#0, network#1, tally#0)";
        assert_eq!(select(&prog, "tally#1"), Err(format!("no channel `tally#1` {all}")));
        assert_eq!(select(&prog, "net"), Err(format!("no channel `net` {all}")));
        assert!(select(&prog, "network#").unwrap_err().contains("the overload after `#` is a number"));
        assert!(select(&prog, "network#-1").is_err());
        assert!(select(&prog, "#0").is_err());
        // A channel called `dispatch` is a channel.
        let own =
            planp_interp::load("d.planp", "channel dispatch(ps : int, ss : unit, p : int) is (ps, ss)\n").unwrap();
        assert_eq!(select(&own, "dispatch"), Ok((vec![0], false)));
        let empty = planp_interp::load("e.planp", "val x = 1\n").unwrap();
        assert!(select(&empty, "").unwrap_err().contains("no channels"));
    }
}
