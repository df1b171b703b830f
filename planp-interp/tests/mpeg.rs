//! Multipoint MPEG from a point-to-point server (the paper's section 3.3): the monitor
//! (`examples/mpeg/monitor.planp`) and the client (`examples/mpeg/client.planp`) over
//! synthetic captures of the control and data streams, under both engines, the
//! monitor's answer carried to the client in its wire format (the frame the monitor's
//! node sends is the frame the client's node receives).

mod examples;

use etherparse::PacketBuilder;
use planp_interp::packet::encap;
use planp_interp::{Engine, LinkType, Node, NodeConfig, Outcome};
use planp_primitives::{Effect, SendKind};
use std::sync::Arc;

const SERVER: [u8; 4] = [10, 0, 0, 100];
const A: [u8; 4] = [10, 0, 0, 1];
const B: [u8; 4] = [10, 0, 0, 2];
const MONITOR: [u8; 4] = [10, 0, 0, 50];

fn tcp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let b =
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]).ipv4(src, dst, 64).tcp(sport, dport, 1, 8192);
    let mut f = Vec::new();
    b.psh().ack(1).write(&mut f, data).unwrap();
    f
}

fn udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]).ipv4(src, dst, 64).udp(sport, dport);
    let mut f = Vec::new();
    b.write(&mut f, data).unwrap();
    f
}

/// The canonical encoding of a string (its length on 4 bytes, then its bytes).
fn string(s: &str) -> Vec<u8> {
    let mut v = (s.len() as u32).to_be_bytes().to_vec();
    v.extend(s.as_bytes());
    v
}

fn node(prog: &Arc<planp_interp::Program>, engine: Engine, host: [u8; 4]) -> Node {
    Node::new(prog.clone(), NodeConfig { engine, this_host: u32::from_be_bytes(host), ..NodeConfig::default() })
        .unwrap()
}

/// What happened, for comparing the engines and reading the results.
struct Scenario {
    monitor: Vec<Outcome>,
    client: Vec<Outcome>,
    answer_for_b: Vec<u8>,
    client_state: String,
}

fn scenario(engine: Engine, file_b_wants: &str) -> Scenario {
    let (mon, cli) =
        (examples::verified("examples/mpeg/monitor.planp"), examples::verified("examples/mpeg/client.planp"));
    let mut m = node(&mon, engine, MONITOR);
    let t = std::cell::Cell::new(0u64);
    let feed_as = |n: &mut Node, lt: LinkType, f: &[u8]| {
        t.set(t.get() + 1_000_000);
        n.process(lt, f, t.get())
    };
    let feed = |n: &mut Node, f: &[u8]| feed_as(n, LinkType::ETHERNET, f);
    // Client A asks the server for a movie; the server answers with the data port and
    // the setup; then an unrelated control exchange that is not a request.
    let mut monitor = vec![
        feed(&mut m, &tcp(A, SERVER, 3000, 7000, b"GET movie.mpg\n")),
        feed(&mut m, &tcp(SERVER, A, 7000, 3000, b"OK 5004 352x240 30fps\n")),
        feed(&mut m, &tcp(B, SERVER, 3001, 7000, b"HELLO\n")),
        feed(&mut m, &tcp(SERVER, B, 7000, 3001, b"ERR no\n")),
    ];
    // Client B asks the monitor whether the file is served already.
    let mut q = B.to_vec();
    q.extend(string(file_b_wants));
    // (An IP packet in the channel encapsulation, on a raw-IP link.)
    let query = encap::packet(u32::from_be_bytes(B), u32::from_be_bytes(MONITOR), "query", 0, &q);
    monitor.push(feed_as(&mut m, LinkType::RAW, &query));
    let answer = monitor.last().unwrap().frames[0].clone();
    // Client B's node gets the answer (the frame the monitor sent, as it is), then the
    // segment's traffic: the stream to A, other streams.
    let mut c = node(&cli, engine, B);
    let mut client = vec![feed_as(&mut c, LinkType::RAW, &answer)];
    for k in 0..3 {
        client.push(feed(&mut c, &udp(SERVER, A, 6000, 5004, format!("mpeg frame {k}").as_bytes())));
    }
    client.push(feed(&mut c, &udp(SERVER, A, 6000, 5005, b"another stream")));
    client.push(feed(&mut c, &udp(SERVER, [10, 0, 0, 3], 6000, 5004, b"another client")));
    let client_state = c.describe_states(200);
    Scenario { monitor, client, answer_for_b: answer, client_state }
}

#[test]
fn a_second_client_gets_an_existing_stream() {
    let s = scenario(Engine::Interp, "movie.mpg");
    let j = scenario(Engine::Jit, "movie.mpg");
    assert_eq!(
        (&s.monitor, &s.client, &s.answer_for_b),
        (&j.monitor, &j.client, &j.answer_for_b),
        "the engines differ"
    );
    assert_eq!(s.client_state, j.client_state);
    // The monitor only watches: every packet of the segment goes on unchanged.
    for o in &s.monitor[..4] {
        assert_eq!(o.frames.len(), 1);
        assert!(o.exception.is_none());
    }
    // Its answer to B, over the segment: the stream's address, port and setup.
    let query = &s.monitor[4];
    let Some(Effect::Send(send)) = query.effects.iter().find(|e| matches!(e, Effect::Send(_))) else {
        panic!("no answer: {query:?}")
    };
    assert_eq!((&*send.channel, send.kind, send.neighbor), ("answer", SendKind::Neighbor, Some(u32::from_be_bytes(B))));
    let mut want = string("movie.mpg");
    want.extend(A);
    want.extend(5004i64.to_be_bytes());
    want.extend(string("352x240 30fps"));
    assert_eq!(send.bytes, want);
    // On the wire: a UDP datagram from the monitor to B, in the channel encapsulation.
    let ip = &s.answer_for_b[..];
    assert_eq!((&ip[12..16], &ip[16..20]), (&MONITOR[..], &B[..]));
    let parsed = encap::parse(&ip[28..]).expect("a channel packet");
    assert_eq!((parsed.channel, parsed.value), ("answer", &want[..]));
    // The client took the answer, then delivers exactly the stream's packets to its
    // player, and sends every packet on.
    assert_eq!(s.client[0].channel.map(|i| i == 0), Some(true), "the answer channel ran");
    assert!(s.client_state.contains("10.0.0.1, 5004"), "{}", s.client_state);
    let delivered: Vec<Vec<u8>> = s.client[1..]
        .iter()
        .flat_map(|o| o.effects.iter())
        .filter_map(|e| if let Effect::Deliver(b) = e { Some(b.clone()) } else { None })
        .collect();
    let frames: Vec<Vec<u8>> = (0..3).map(|k| string(&format!("mpeg frame {k}"))).collect();
    assert_eq!(delivered, frames);
    for o in &s.client[1..] {
        assert_eq!(o.frames.len(), 1, "every packet goes on to its own client");
    }
}

#[test]
fn without_a_stream_the_client_captures_nothing() {
    let s = scenario(Engine::Interp, "other.mpg");
    assert_eq!(s.monitor, scenario(Engine::Jit, "other.mpg").monitor);
    let Some(Effect::Send(send)) = s.monitor[4].effects.iter().find(|e| matches!(e, Effect::Send(_))) else {
        panic!("no answer")
    };
    let mut want = string("other.mpg");
    want.extend([0, 0, 0, 0]);
    want.extend(0i64.to_be_bytes());
    want.extend(string(""));
    assert_eq!(send.bytes, want, "no stream: address 0.0.0.0");
    assert!(!s.client.iter().flat_map(|o| o.effects.iter()).any(|e| matches!(e, Effect::Deliver(_))));
}
