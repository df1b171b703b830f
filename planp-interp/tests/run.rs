//! Data-driven evaluation tests: `tests/data/run/*.planp`.
//!
//! Each file is a program whose comment lines starting with `--!` describe packets to
//! feed it, in order. The harness loads the program on a node, feeds the packets, and
//! writes a transcript: the values of the top-level `val`s and what initialisation
//! printed, then for each packet the channel that ran, what it printed, the packets it
//! sent (decoded, with their checksums verified), the exception that ended it, and
//! finally the states. `NAME.out` holds the expected transcript (`UPDATE_EXPECT=1`
//! re-blesses). A file whose initialisation fails has the load error as its transcript.
//!
//! One file, every engine: each case runs under the interpreter and under the JIT, and
//! both transcripts must be the expected one.
//!
//! Packet directives:
//! ```text
//! --! tcp 10.0.0.1:1234 > 10.0.0.2:80 [flags SA] [payload...]
//! --! udp 10.0.0.1:53 > 10.0.0.2:5353 [payload...]
//! --! ip 10.0.0.1 > 10.0.0.2 proto 1 [payload...]
//! --! deliver CHANNEL OVERLOAD [payload...]      (a user-channel packet, encoded)
//! --! loopback                                   (from here on, packets sent on user
//!                                                 channels are delivered back)
//! payload items: "text" | hex 0a0b.. | int N (4 bytes) | long N (8 bytes)
//!                | byte N | host A.B.C.D | bool true|false
//! ```

use expect_test::expect_file;
use planp_interp::{Engine, LinkType, Node, NodeConfig, Outcome, span::line_col};
use planp_primitives::bytes::internet_checksum;
use planp_primitives::{Effect, SendKind, value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn parse_host(s: &str) -> [u8; 4] {
    let v: Vec<u8> = s.split('.').map(|x| x.parse().unwrap_or_else(|_| panic!("bad host {s}"))).collect();
    v.try_into().unwrap_or_else(|_| panic!("bad host {s}"))
}

fn parse_endpoint(s: &str) -> ([u8; 4], u16) {
    let (h, p) = s.split_once(':').unwrap_or_else(|| panic!("expected HOST:PORT, got {s}"));
    (parse_host(h), p.parse().unwrap())
}

/// Split a directive into words, keeping "quoted strings" (with \n, \xHH escapes) whole.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut s = String::from("\"");
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => match chars.next() {
                        Some('n') => s.push('\n'),
                        Some('r') => s.push('\r'),
                        Some('t') => s.push('\t'),
                        Some('0') => s.push('\0'),
                        Some('x') => {
                            let h: String = chars.by_ref().take(2).collect();
                            s.push(u8::from_str_radix(&h, 16).unwrap() as char);
                        }
                        Some(c) => s.push(c),
                        None => {}
                    },
                    c => s.push(c),
                }
            }
            out.push(s);
        } else {
            let mut w = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                w.push(c);
                chars.next();
            }
            out.push(w);
        }
    }
    out
}

fn payload(ws: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < ws.len() {
        let w = &ws[i];
        if let Some(s) = w.strip_prefix('"') {
            out.extend(s.chars().map(|c| c as u32 as u8));
            i += 1;
            continue;
        }
        let arg = ws.get(i + 1).unwrap_or_else(|| panic!("`{w}` needs a value"));
        match w.as_str() {
            "hex" => {
                let h: String = arg.chars().filter(|c| c.is_ascii_hexdigit()).collect();
                for k in (0..h.len()).step_by(2) {
                    out.push(u8::from_str_radix(&h[k..k + 2], 16).unwrap());
                }
            }
            "int" => out.extend((arg.parse::<i64>().unwrap() as i32).to_be_bytes()),
            "long" => out.extend(arg.parse::<i64>().unwrap().to_be_bytes()),
            "byte" => out.push(arg.parse::<u8>().unwrap()),
            "host" => out.extend(parse_host(arg)),
            "bool" => out.push((arg == "true") as u8),
            other => panic!("unknown payload item `{other}`"),
        }
        i += 2;
    }
    out
}

fn ip_packet(src: [u8; 4], dst: [u8; 4], proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut p = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, proto, 0, 0];
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(l4);
    let n = p.len() as u16;
    p[2..4].copy_from_slice(&n.to_be_bytes());
    let c = internet_checksum(&p[..20], 0);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p
}

fn flags(s: &str) -> u8 {
    s.chars().fold(0, |f, c| {
        f | match c {
            'F' => 1,
            'S' => 2,
            'R' => 4,
            'P' => 8,
            'A' => 16,
            'U' => 32,
            _ => panic!("unknown TCP flag {c}"),
        }
    })
}

enum Input {
    Packet(Vec<u8>, String),
    Deliver(String, u32, Vec<u8>),
    Loopback,
}

fn inputs(text: &str) -> Vec<Input> {
    let mut v = Vec::new();
    for line in text.lines() {
        let Some(d) = line.trim_start().strip_prefix("--!") else { continue };
        let ws = words(d);
        let desc = d.trim().to_string();
        match ws[0].as_str() {
            "tcp" | "udp" => {
                let (src, sp) = parse_endpoint(&ws[1]);
                assert_eq!(ws[2], ">");
                let (dst, dp) = parse_endpoint(&ws[3]);
                let mut rest = &ws[4..];
                let mut fl = flags("PA");
                if rest.first().is_some_and(|w| w == "flags") {
                    fl = flags(&rest[1]);
                    rest = &rest[2..];
                }
                let data = payload(rest);
                let mut l4 = Vec::new();
                l4.extend(sp.to_be_bytes());
                l4.extend(dp.to_be_bytes());
                let proto = if ws[0] == "tcp" {
                    l4.extend([0, 0, 0, 1, 0, 0, 0, 0, 0x50, fl, 0xff, 0xff, 0, 0, 0, 0]);
                    6
                } else {
                    l4.extend(((8 + data.len()) as u16).to_be_bytes());
                    l4.extend([0, 0]);
                    17
                };
                l4.extend(&data);
                v.push(Input::Packet(ip_packet(src, dst, proto, &l4), desc));
            }
            "ip" => {
                let src = parse_host(&ws[1]);
                let dst = parse_host(&ws[3]);
                assert_eq!(ws[4], "proto");
                let proto: u8 = ws[5].parse().unwrap();
                v.push(Input::Packet(ip_packet(src, dst, proto, &payload(&ws[6..])), desc));
            }
            "deliver" => v.push(Input::Deliver(ws[1].clone(), ws[2].parse().unwrap(), payload(&ws[3..]))),
            "loopback" => v.push(Input::Loopback),
            other => panic!("unknown directive `{other}`"),
        }
    }
    v
}

fn escape(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b {
        match c {
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    s
}

/// One line describing an IPv4 packet, with its checksums verified.
fn describe_ip(p: &[u8]) -> String {
    if p.len() < 20 {
        return format!("short packet {}", escape(p));
    }
    let hl = ((p[0] & 15) as usize) * 4;
    let host = |o: usize| format!("{}.{}.{}.{}", p[o], p[o + 1], p[o + 2], p[o + 3]);
    let mut s = format!("ip {} > {} ttl {} len {}", host(12), host(16), p[8], u16::from_be_bytes([p[2], p[3]]));
    let mut ok = internet_checksum(&p[..hl], 0) == 0;
    let l4 = &p[hl..];
    let mut pseudo = 0u32;
    for k in [12, 14, 16, 18] {
        pseudo += u16::from_be_bytes([p[k], p[k + 1]]) as u32;
    }
    pseudo += p[9] as u32 + l4.len() as u32;
    let data = match p[9] {
        6 if l4.len() >= 20 => {
            let _ = write!(
                s,
                " | tcp {} > {} flags {:#x}",
                u16::from_be_bytes([l4[0], l4[1]]),
                u16::from_be_bytes([l4[2], l4[3]]),
                l4[13]
            );
            ok &= internet_checksum(l4, pseudo) == 0;
            &l4[((l4[12] >> 4) as usize * 4).min(l4.len())..]
        }
        17 if l4.len() >= 8 => {
            let _ = write!(
                s,
                " | udp {} > {} len {}",
                u16::from_be_bytes([l4[0], l4[1]]),
                u16::from_be_bytes([l4[2], l4[3]]),
                u16::from_be_bytes([l4[4], l4[5]])
            );
            ok &= l4[6..8] == [0, 0] || internet_checksum(l4, pseudo) == 0;
            &l4[8..]
        }
        proto => {
            let _ = write!(s, " proto {proto}");
            l4
        }
    };
    let _ = write!(s, " | \"{}\" | checksums {}", escape(data), if ok { "ok" } else { "BAD" });
    s
}

fn transcript(name: &str, text: &str, engine: Engine) -> String {
    let mut out = String::new();
    let prog = match planp_interp::load(name, text) {
        Ok(p) => p,
        Err(d) => panic!("{name} does not load:\n{}", d.render_plain()),
    };
    let mut node = match Node::new(prog.clone(), NodeConfig { this_host: 0x0a00_00fe, engine, ..NodeConfig::default() })
    {
        Ok(n) => n,
        Err(e) => {
            let (l, c) = line_col(text, e.diag.span().start as usize);
            if !e.output.is_empty() {
                let _ = writeln!(out, "init printed \"{}\"", escape(&e.output));
            }
            let _ = writeln!(out, "load error at {l}:{c}: {}", e.diag.message);
            return out;
        }
    };
    if engine == Engine::Jit && !prog.channels.is_empty() {
        // On a host that runs x86-64 code, the JIT is what runs.
        assert_eq!(node.compiled().is_some(), planp_jit::available().is_ok(), "{name}: {:?}", node.jit_unavailable());
    }
    for e in node.init_effects() {
        if let Effect::Print(s) = e {
            let _ = writeln!(out, "init printed \"{}\"", escape(s));
        }
    }
    for (i, g) in prog.globals.iter().enumerate() {
        let mut s = String::new();
        value::repr(node.heap(), &g.ty, node.global(i), &mut s, &mut 100);
        let _ = writeln!(out, "val {} : {} = {}", g.name, g.ty, s);
    }
    let mut loopback = false;
    let mut queue: Vec<(String, u32, Vec<u8>)> = Vec::new();
    let mut n = 0;
    let report = |out: &mut String, o: &Outcome, queue: &mut Vec<(String, u32, Vec<u8>)>, loopback: bool| {
        match o.channel {
            Some(i) => {
                let c = &prog.channels[i];
                let _ = writeln!(out, "  channel {}#{} ({})", c.name, c.overload, c.pkt_type);
            }
            None => {
                let _ = writeln!(out, "  no channel takes it");
            }
        }
        for e in &o.effects {
            match e {
                Effect::Print(s) => {
                    let _ = writeln!(out, "  printed \"{}\"", escape(s));
                }
                Effect::Deliver(b) => {
                    let _ = writeln!(out, "  delivered \"{}\"", escape(b));
                }
                Effect::Send(s) => {
                    let how = if s.kind == SendKind::Remote { "OnRemote" } else { "OnNeighbor" };
                    let to = s.neighbor.map(|h| format!(" to {}", value::format_host(h))).unwrap_or_default();
                    if &*s.channel == "network" {
                        let _ = writeln!(out, "  sent {how}{to} network: {}", describe_ip(&s.bytes));
                    } else {
                        let _ = writeln!(out, "  sent {how}{to} {}#{}: {}", s.channel, s.overload, escape(&s.bytes));
                        if loopback {
                            queue.push((s.channel.to_string(), s.overload, s.bytes.clone()));
                        }
                    }
                }
            }
        }
        if let Some(x) = &o.exception {
            let (l, c) = line_col(text, x.span.start as usize);
            let _ = writeln!(out, "  exception {} raised at {l}:{c} escaped {}", x.exn, x.from);
        }
        if o.pass_through {
            let _ = writeln!(out, "  passes through unchanged");
        }
    };
    for input in inputs(text) {
        match input {
            Input::Loopback => loopback = true,
            Input::Packet(bytes, desc) => {
                n += 1;
                let _ = writeln!(out, "packet {n}: {desc}");
                let o = node.process(LinkType::RAW, &bytes, n * 1_000_000);
                report(&mut out, &o, &mut queue, loopback);
            }
            Input::Deliver(ch, ov, bytes) => {
                queue.push((ch, ov, bytes));
            }
        }
        let mut rounds = 0;
        while let Some((ch, ov, bytes)) = (!queue.is_empty()).then(|| queue.remove(0)) {
            rounds += 1;
            assert!(rounds < 100, "{name}: more than 100 user-channel packets in a row");
            n += 1;
            let _ = writeln!(out, "packet {n}: {ch}#{ov} \"{}\"", escape(&bytes));
            let o = node.deliver(&ch, ov, &bytes, n * 1_000_000);
            report(&mut out, &o, &mut queue, loopback);
        }
    }
    out.push_str(&node.describe_states(100));
    out
}

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/run");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "planp"))
        .collect();
    v.sort();
    assert!(!v.is_empty());
    v
}

#[test]
fn run_programs() {
    for p in cases() {
        let text = std::fs::read_to_string(&p).unwrap();
        let name = format!("run/{}", p.file_name().unwrap().to_string_lossy());
        let t = transcript(&name, &text, Engine::Interp);
        expect_file![p.with_extension("out")].assert_eq(&t);
        let j = transcript(&name, &text, Engine::Jit);
        assert_eq!(j, t, "{name}: the JIT's transcript differs from the interpreter's");
    }
}

/// The harness itself can tell programs apart: a program changed in one constant gives a
/// different transcript (so a transcript comparison is not vacuous).
#[test]
fn transcripts_depend_on_the_program() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/paper/figure2.planp");
    let text = std::fs::read_to_string(root).unwrap();
    let packets =
        "\n--! tcp 10.0.0.1:1234 > 131.254.60.1:80 \"GET /\"\n--! tcp 10.0.0.2:999 > 131.254.60.1:80 \"GET /x\"\n";
    let a = transcript("a", &format!("{text}{packets}"), Engine::Jit);
    let b = transcript("b", &format!("{}{packets}", text.replace("131.254.60.109", "131.254.60.110")), Engine::Jit);
    assert_ne!(a, b);
    assert!(a.contains("131.254.60.109") && b.contains("131.254.60.110"));
}
