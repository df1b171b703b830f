//! Memory does not grow from packet to packet when the states do not: temporaries die
//! with their packet, and replaced state values are collected.

use planp_interp::{LinkType, Node, NodeConfig};

fn udp(n: u32) -> Vec<u8> {
    let payload = format!("packet {n}");
    let mut p = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
    p.extend(5000u16.to_be_bytes());
    p.extend(6000u16.to_be_bytes());
    p.extend(((8 + payload.len()) as u16).to_be_bytes());
    p.extend([0, 0]);
    p.extend(payload.as_bytes());
    let len = p.len() as u16;
    p[2..4].copy_from_slice(&len.to_be_bytes());
    p
}

fn node(src: &str) -> Node {
    let prog = planp_interp::load("mem.planp", src).unwrap_or_else(|d| panic!("{}", d.render_plain()));
    Node::new(prog, NodeConfig::default()).unwrap()
}

/// Run `n` packets; return the live persistent objects after each of `checkpoints`.
fn live_after(node: &mut Node, n: u32, checkpoints: &[u32]) -> Vec<usize> {
    let mut out = Vec::new();
    for i in 1..=n {
        let o = node.process(LinkType::RAW, &udp(i), u64::from(i));
        assert!(o.channel.is_some());
        assert_eq!(node.heap_stats().scratch_objects, 0, "temporaries outlived their packet");
        if checkpoints.contains(&i) {
            out.push(node.heap_stats().persistent_objects);
        }
    }
    out
}

const CONSTANT_STATE: &str = r#"
exception Every7
channel network(ps : int*string*int list, ss : string hash_table, p : ip*udp*blob)
  initstate mkTable(16) is
  let
    val n = #1 ps
    val label = "seen " ^ intToString(n mod 10)
    val junk = [n, n + 1, n + 2]          -- temporary: dies with the packet
  in
    tablePut(ss, n mod 5, label ^ stringOfBlob(#3 p));  -- five keys, overwritten
    if search(stringOfBlob(#3 p), "7") >= 0 then raise Every7 else ();  -- some packets fail
    ((n + 1, label, [length(junk)]), ss)
  end
"#;

#[test]
fn constant_state_keeps_memory_constant() {
    let mut n = node(CONSTANT_STATE);
    let live = live_after(&mut n, 60_000, &[10_000, 30_000, 60_000]);
    assert!(n.heap_stats().collections > 0, "the collector never ran");
    // Roughly: ps (tuple, string, list cell), the table and its five values.
    for &l in &live {
        assert!(l < 9_000, "live objects {live:?}");
    }
    assert!(live[2] <= live[0] + 4_096, "memory grows with constant state: {live:?}");
}

#[test]
fn growing_state_is_kept() {
    // The measurement can tell growth: a state that accumulates grows with the packets.
    let mut n = node("channel network(ps : int list, ss : unit, p : ip*udp*blob) is ((size(#3 p)) :: ps, ss)");
    let live = live_after(&mut n, 20_000, &[5_000, 20_000]);
    assert!(live[1] >= live[0] + 14_000, "{live:?}");
}
