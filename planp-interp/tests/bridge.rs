//! The Ethernet learning bridge (`examples/bridge/bridge.planp`) on one node with four
//! links, under both engines: flooding, learning, filtering, group addresses, ageing,
//! stations that move, links that go away, and frames sent exactly as they came. A
//! randomized test compares the bridge's decisions on random traffic with a learning
//! bridge written here (a `HashMap`), and the interpreter with the JIT.
//!
//! The verifier rejects the bridge (`examples/bridge/README.md` says why);
//! `the_verifier_rejects_the_bridge_for_the_expected_reasons` pins the verdict, so that a
//! change in it is noticed.

use etherparse::PacketBuilder;
use planp_interp::verify::{Property, Status, verify};
use planp_interp::{Engine, LinkType, Node, NodeConfig, Outcome, Program};
use planp_primitives::{Effect, SendKind};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

type Mac = [u8; 6];

/// The bridge's neighbours, one per link (its ports).
const P1: u32 = 0x0a00_0001;
const P2: u32 = 0x0a00_0002;
const P3: u32 = 0x0a00_0003;
const P4: u32 = 0x0a00_0004;
const PORTS: [u32; 4] = [P1, P2, P3, P4];

const A: Mac = [0x02, 0, 0, 0, 0, 0x0a];
const B: Mac = [0x02, 0, 0, 0, 0, 0x0b];
const C: Mac = [0x02, 0, 0, 0, 0, 0x0c];
const BROADCAST: Mac = [0xff; 6];
/// An IPv4 multicast group's MAC address (the group bit is the first byte's lowest bit).
const MULTICAST: Mac = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01];

/// The ageing time the program declares, 300 s, in microseconds (the unit of `now()`).
const AGEING_US: u64 = 300_000_000;
/// The time of the first frame: 14 November 2023, in microseconds since the epoch.
const T0_US: u64 = 1_700_000_000_000_000;

fn program() -> Arc<Program> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let rel = "examples/bridge/bridge.planp";
    let text = std::fs::read_to_string(root.join(rel)).unwrap();
    planp_interp::load(rel, &text).unwrap_or_else(|d| panic!("{}", d.render_plain()))
}

// ---------------------------------------------------------------------------------------
// Frames

/// The kinds of frames the tests send through the bridge: a bridge must forward any
/// Ethernet frame, IP or not, without changing a byte.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// IPv4 and UDP (etherparse).
    Udp,
    /// IPv6 and UDP (etherparse).
    Udp6,
    /// IPv4 and UDP whose IP header checksum is wrong: a bridge does not fix it.
    BadChecksum,
    /// An ARP request padded to the 60-byte minimum (the padding is a trailer).
    Arp,
    /// IPv4 and UDP behind an 802.1Q tag (VLAN 10).
    Vlan,
    /// An 802.3 frame: a length instead of an EtherType, then LLC.
    Llc,
}

const KINDS: [Kind; 6] = [Kind::Udp, Kind::Udp6, Kind::BadChecksum, Kind::Arp, Kind::Vlan, Kind::Llc];

/// A frame from `src` to `dst`; `n` varies the payload.
fn frame(kind: Kind, dst: Mac, src: Mac, n: u8) -> Vec<u8> {
    let payload: Vec<u8> = (0..(n % 40)).map(|i| i ^ n).collect();
    let udp = |payload: &[u8]| {
        let mut f = Vec::new();
        PacketBuilder::ethernet2(src, dst)
            .ipv4([192, 168, 1, n], [192, 168, 1, 200], 64)
            .udp(5000, 6000 + n as u16)
            .write(&mut f, payload)
            .unwrap();
        f
    };
    match kind {
        Kind::Udp => udp(&payload),
        Kind::Udp6 => {
            let mut f = Vec::new();
            let mut a = [0u8; 16];
            a[0] = 0xfe;
            a[1] = 0x80;
            a[15] = n;
            let mut b = a;
            b[15] = 200;
            PacketBuilder::ethernet2(src, dst).ipv6(a, b, 64).udp(5000, 6000).write(&mut f, &payload).unwrap();
            f
        }
        Kind::BadChecksum => {
            let mut f = udp(&payload);
            f[14 + 10] ^= 0x5a; // the IPv4 header checksum
            f
        }
        Kind::Arp => {
            let mut f = Vec::new();
            f.extend(dst);
            f.extend(src);
            f.extend([0x08, 0x06]);
            f.extend([0, 1, 0x08, 0, 6, 4, 0, 1]); // Ethernet, IPv4, request
            f.extend(src);
            f.extend([192, 168, 1, n]);
            f.extend([0; 6]);
            f.extend([192, 168, 1, 200]);
            f.resize(60, 0);
            f
        }
        Kind::Vlan => {
            let mut f = udp(&payload);
            f.splice(12..12, [0x81, 0x00, 0x00, 0x0a]);
            f
        }
        Kind::Llc => {
            let mut f = Vec::new();
            f.extend(dst);
            f.extend(src);
            let llc = [0xaa, 0xaa, 0x03, 0, 0, 0, 0x88, 0xb5, n, n, n];
            f.extend((llc.len() as u16).to_be_bytes());
            f.extend(llc);
            f.resize(60, 0);
            f
        }
    }
}

// ---------------------------------------------------------------------------------------
// Running the bridge

/// A frame arriving at the bridge: the node's links at that moment, the neighbour it
/// came from (0: not known), the frame and its time.
#[derive(Clone, Debug)]
struct Arrival {
    links: Vec<u32>,
    from: u32,
    frame: Vec<u8>,
    t_us: u64,
}

fn arrival(from: u32, frame: Vec<u8>, t_us: u64) -> Arrival {
    Arrival { links: PORTS.to_vec(), from, frame, t_us }
}

/// Run the arrivals through a fresh bridge: the outcome of each, and the final states.
fn run(engine: Engine, arrivals: &[Arrival]) -> (Vec<Outcome>, String) {
    let mut node = Node::new(program(), NodeConfig { engine, ..NodeConfig::default() }).unwrap();
    if engine == Engine::Jit && planp_jit::available().is_ok() {
        assert!(node.compiled().is_some(), "the JIT is available but the interpreter runs");
    }
    let outcomes = arrivals
        .iter()
        .map(|a| {
            node.set_links(&a.links, a.from);
            node.process(LinkType::ETHERNET, &a.frame, a.t_us * 1000)
        })
        .collect();
    (outcomes, node.describe_states(1 << 20))
}

/// Run under both engines, which must agree on everything observable; the interpreter's
/// outcomes and states.
fn both(arrivals: &[Arrival]) -> (Vec<Outcome>, String) {
    let i = run(Engine::Interp, arrivals);
    let j = run(Engine::Jit, arrivals);
    assert_eq!(i.0, j.0, "the engines differ on the outcomes");
    assert_eq!(i.1, j.1, "the engines differ on the final states");
    i
}

/// The ports a frame went out of, in order; checking that the bridge took it, ran
/// without an exception, sent nothing but copies of it (byte for byte, trailer
/// included), each over one link.
fn out_ports(o: &Outcome, input: &[u8]) -> Vec<u32> {
    check_out(o, input).unwrap_or_else(|e| panic!("{e}"))
}

/// [`out_ports`], or what is wrong.
fn check_out(o: &Outcome, input: &[u8]) -> Result<Vec<u32>, String> {
    if o.channel != Some(0) || o.exception.is_some() || o.pass_through {
        return Err(format!("the bridge did not take the frame, or failed: {o:?}"));
    }
    if o.frames.len() != o.next_hops.len() || o.frames.iter().any(|f| f != input) {
        return Err(format!("a bridge sends the frame as it came: {input:02x?}, sent {o:?}"));
    }
    for e in &o.effects {
        match e {
            Effect::Send(s) if &*s.channel == "network" && s.kind == SendKind::Neighbor => {}
            e => return Err(format!("the bridge only sends to neighbours on network: {e:?}")),
        }
    }
    o.next_hops.iter().map(|h| h.ok_or_else(|| format!("a copy goes to no neighbour: {o:?}"))).collect()
}

/// The decisions of a sequence of arrivals (both engines).
fn decisions(arrivals: &[Arrival]) -> Vec<Vec<u32>> {
    let (outs, _) = both(arrivals);
    outs.iter().zip(arrivals).map(|(o, a)| out_ports(o, &a.frame)).collect()
}

fn secs(s: u64) -> u64 {
    T0_US + s * 1_000_000
}

// ---------------------------------------------------------------------------------------
// Scenarios

#[test]
fn an_unknown_destination_is_flooded_to_every_port_but_the_arrival_one() {
    let d =
        decisions(&[arrival(P1, frame(Kind::Udp, B, A, 1), secs(0)), arrival(P3, frame(Kind::Udp, C, B, 2), secs(1))]);
    assert_eq!(d, [vec![P2, P3, P4], vec![P1, P2, P4]]);
}

#[test]
fn a_learnt_station_gets_its_frames_on_its_port_only() {
    let d = decisions(&[
        // A speaks from port 1: B is not known yet, flood.
        arrival(P1, frame(Kind::Udp, B, A, 1), secs(0)),
        // B answers from port 2: A is known, port 1 only.
        arrival(P2, frame(Kind::Udp, A, B, 2), secs(1)),
        // And now B is known too.
        arrival(P1, frame(Kind::Udp, B, A, 3), secs(2)),
        // C, on port 4, writes to A: port 1 only, whatever the frame.
        arrival(P4, frame(Kind::Arp, A, C, 4), secs(3)),
        arrival(P4, frame(Kind::Llc, A, C, 5), secs(4)),
    ]);
    assert_eq!(d, [vec![P2, P3, P4], vec![P1], vec![P2], vec![P1], vec![P1]]);
}

#[test]
fn a_frame_for_a_station_on_its_own_port_is_filtered() {
    let arrivals = [
        arrival(P1, frame(Kind::Udp, B, A, 1), secs(0)),
        // B is on port 1 as well (a hub behind it): its answer to A reaches A on that
        // segment already, so the bridge sends it nowhere.
        arrival(P1, frame(Kind::Udp, A, B, 2), secs(1)),
        arrival(P1, frame(Kind::Vlan, B, A, 3), secs(2)),
    ];
    let (outs, _) = both(&arrivals);
    let d: Vec<Vec<u32>> = outs.iter().zip(&arrivals).map(|(o, a)| out_ports(o, &a.frame)).collect();
    assert_eq!(d, [vec![P2, P3, P4], vec![], vec![]]);
    assert!(outs[1].frames.is_empty() && outs[1].effects.is_empty(), "filtered: not even passed through");
}

#[test]
fn group_addresses_are_always_flooded_and_never_learnt() {
    let arrivals = [
        arrival(P1, frame(Kind::Arp, BROADCAST, A, 1), secs(0)),
        arrival(P2, frame(Kind::Udp, BROADCAST, B, 2), secs(1)),
        arrival(P3, frame(Kind::Udp, MULTICAST, C, 3), secs(2)),
        // A frame whose source is a group address (not a valid frame) teaches nothing:
        // frames to that address are still flooded, from any port.
        arrival(P4, frame(Kind::Udp, A, MULTICAST, 4), secs(3)),
        arrival(P1, frame(Kind::Udp, MULTICAST, A, 5), secs(4)),
        arrival(P4, frame(Kind::Udp, MULTICAST, B, 6), secs(5)),
        // ... while the stations that sent to group addresses are learnt.
        arrival(P4, frame(Kind::Udp, A, C, 7), secs(6)),
    ];
    let (outs, states) = both(&arrivals);
    let d: Vec<Vec<u32>> = outs.iter().zip(&arrivals).map(|(o, a)| out_ports(o, &a.frame)).collect();
    assert_eq!(
        d,
        [vec![P2, P3, P4], vec![P1, P3, P4], vec![P1, P2, P4], vec![P1], vec![P2, P3, P4], vec![P1, P2, P3], vec![P1]]
    );
    // B and C moved to port 4 with their last frames; the group address is not there.
    assert_eq!(entries(&states), [(A, P1, secs(4)), (B, P4, secs(5)), (C, P4, secs(6))]);
}

#[test]
fn an_entry_older_than_the_ageing_time_is_forgotten() {
    let seen = secs(0);
    let d = decisions(&[
        arrival(P1, frame(Kind::Udp, BROADCAST, A, 1), seen),
        // Frames to A do not refresh A's entry: the last one just before it ages still
        // goes to port 1; at the ageing time it is flooded.
        arrival(P2, frame(Kind::Udp, A, B, 2), seen + AGEING_US / 2),
        arrival(P2, frame(Kind::Udp, A, B, 3), seen + AGEING_US - 1),
        arrival(P2, frame(Kind::Udp, A, B, 4), seen + AGEING_US),
        // Once flooded, A is still unknown (its entry is gone) until it speaks again.
        arrival(P3, frame(Kind::Udp, A, C, 5), seen + AGEING_US + 1),
        arrival(P1, frame(Kind::Udp, C, A, 6), seen + AGEING_US + 2),
        arrival(P3, frame(Kind::Udp, A, C, 7), seen + AGEING_US + 3),
    ]);
    assert_eq!(d, [vec![P2, P3, P4], vec![P1], vec![P1], vec![P1, P3, P4], vec![P1, P2, P4], vec![P3], vec![P1]]);
}

#[test]
fn each_frame_from_a_station_refreshes_its_entry() {
    let d = decisions(&[
        arrival(P1, frame(Kind::Udp, BROADCAST, A, 1), secs(0)),
        arrival(P1, frame(Kind::Udp, B, A, 2), secs(200)),
        // 450 s after A was first seen, but 250 s after it was last seen.
        arrival(P2, frame(Kind::Udp, A, B, 3), secs(450)),
        // 300 s after A was last seen: aged.
        arrival(P2, frame(Kind::Udp, A, B, 4), secs(500)),
    ]);
    assert_eq!(d, [vec![P2, P3, P4], vec![P2, P3, P4], vec![P1], vec![P1, P3, P4]]);
}

/// The table is swept once per ageing time: aged stations leave the state even when no
/// frame is addressed to them.
#[test]
fn aged_entries_are_swept_out_of_the_table() {
    let (_, states) = both(&[
        arrival(P1, frame(Kind::Udp, BROADCAST, A, 1), secs(0)),
        arrival(P2, frame(Kind::Udp, BROADCAST, B, 2), secs(100)),
        arrival(P3, frame(Kind::Udp, BROADCAST, C, 3), secs(299)),
    ]);
    assert_eq!(entries(&states), [(A, P1, secs(0)), (B, P2, secs(100)), (C, P3, secs(299))]);
    // 300 s after the first frame (the first sweep): A has aged, and goes.
    let (_, states) = both(&[
        arrival(P1, frame(Kind::Udp, BROADCAST, A, 1), secs(0)),
        arrival(P2, frame(Kind::Udp, BROADCAST, B, 2), secs(100)),
        arrival(P3, frame(Kind::Udp, BROADCAST, C, 3), secs(299)),
        arrival(P3, frame(Kind::Udp, BROADCAST, C, 4), secs(300)),
    ]);
    assert_eq!(entries(&states), [(B, P2, secs(100)), (C, P3, secs(300))]);
}

#[test]
fn a_station_that_moves_is_learnt_on_its_new_port() {
    let d = decisions(&[
        arrival(P1, frame(Kind::Udp, BROADCAST, A, 1), secs(0)),
        arrival(P2, frame(Kind::Udp, A, B, 2), secs(1)),
        // A is now behind port 3.
        arrival(P3, frame(Kind::Udp, B, A, 3), secs(2)),
        arrival(P2, frame(Kind::Udp, A, B, 4), secs(3)),
        arrival(P4, frame(Kind::Udp, A, C, 5), secs(4)),
        // And a frame for A from port 3 is now filtered.
        arrival(P3, frame(Kind::Udp, A, C, 6), secs(5)),
    ]);
    assert_eq!(d, [vec![P2, P3, P4], vec![P1], vec![P2], vec![P3], vec![P3], vec![]]);
}

#[test]
fn a_station_behind_a_link_that_went_away_is_flooded_for() {
    let mut gone = arrival(P2, frame(Kind::Udp, A, B, 2), secs(1));
    gone.links = vec![P2, P3, P4];
    let d = decisions(&[arrival(P1, frame(Kind::Udp, BROADCAST, A, 1), secs(0)), gone.clone()]);
    assert_eq!(d, [vec![P2, P3, P4], vec![P3, P4]]);
}

#[test]
fn every_kind_of_frame_is_forwarded_unchanged() {
    for kind in KINDS {
        for n in [0u8, 7, 39] {
            let arrivals = [
                arrival(P4, frame(kind, BROADCAST, C, n), secs(0)),
                arrival(P2, frame(kind, A, B, n), secs(1)),
                arrival(P1, frame(kind, C, A, n), secs(2)),
            ];
            // `decisions` checks that each copy is the input frame, byte for byte.
            assert_eq!(decisions(&arrivals), [vec![P1, P2, P3], vec![P1, P3, P4], vec![P4]], "{kind:?} {n}");
        }
    }
    // The frames really are of those kinds (and the trailers are there).
    assert_eq!(frame(Kind::Arp, A, B, 1).len(), 60);
    assert_eq!(&frame(Kind::Vlan, A, B, 1)[12..14], &[0x81, 0x00]);
    assert_eq!(&frame(Kind::Udp6, A, B, 1)[12..14], &[0x86, 0xdd]);
    assert!(u16::from_be_bytes(frame(Kind::Llc, A, B, 1)[12..14].try_into().unwrap()) < 1536);
}

/// With no links, as over a capture, the bridge has nowhere to send a frame, and a frame
/// whose arrival link is not known teaches nothing.
#[test]
fn without_links_nothing_goes_out_and_nothing_is_learnt() {
    let mut a = arrival(0, frame(Kind::Udp, B, A, 1), secs(0));
    a.links = vec![];
    let (outs, states) = both(&[a.clone()]);
    assert_eq!(out_ports(&outs[0], &a.frame), Vec::<u32>::new());
    assert_eq!(entries(&states), []);
    // Links, but an unknown arrival link: flooded everywhere, still nothing learnt.
    let d =
        decisions(&[arrival(0, frame(Kind::Udp, B, A, 1), secs(0)), arrival(P2, frame(Kind::Udp, A, B, 2), secs(1))]);
    assert_eq!(d, [PORTS.to_vec(), vec![P1, P3, P4]]);
}

/// The entries of the filtering database, read from the described states: (MAC, port,
/// time last seen in µs), in the order the table prints them (its keys, 6-byte blobs
/// of the same length, in byte order).
fn entries(states: &str) -> Vec<(Mac, u32, u64)> {
    let line = states.lines().find(|l| l.starts_with("channel network")).expect("the channel's state");
    let table = line.split_once(" = {").expect("a table").1.trim_end_matches('}');
    if table.is_empty() {
        return Vec::new();
    }
    table
        .split("), ")
        .map(|e| {
            let (k, v) = e.split_once(" => (").unwrap_or_else(|| panic!("entry {e:?} in {line}"));
            let hex = k.trim_start_matches("<blob 6 bytes: ").trim_end_matches('>');
            let mac: Vec<u8> = hex.split(' ').map(|b| u8::from_str_radix(b, 16).unwrap()).collect();
            let (port, seen) = v.trim_end_matches(')').split_once(", ").unwrap();
            let port: std::net::Ipv4Addr = port.parse().unwrap();
            (mac.try_into().unwrap(), u32::from(port), seen.parse().unwrap())
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// The model

/// A learning bridge written from the rules of the README, independently of the
/// program: a map from MAC address to (port, time last seen), and the time of the last
/// sweep of aged entries.
#[derive(Default)]
struct Model {
    table: HashMap<Mac, (u32, u64)>,
    last_sweep: u64,
}

fn group(mac: &Mac) -> bool {
    mac[0] & 1 == 1
}

impl Model {
    fn fresh(seen: u64, t: u64) -> bool {
        (t as i64 - seen as i64) < AGEING_US as i64
    }

    /// The ports a frame goes out of.
    fn frame(&mut self, a: &Arrival) -> Vec<u32> {
        let dst: Mac = a.frame[0..6].try_into().unwrap();
        let src: Mac = a.frame[6..12].try_into().unwrap();
        let t = a.t_us;
        if a.from != 0 && !group(&src) {
            self.table.insert(src, (a.from, t));
        }
        let flood = || a.links.iter().copied().filter(|&p| p != a.from).collect::<Vec<u32>>();
        let out = if group(&dst) {
            flood()
        } else {
            match self.table.get(&dst).copied() {
                Some((port, seen)) if Model::fresh(seen, t) && a.links.contains(&port) => {
                    if port == a.from {
                        vec![]
                    } else {
                        vec![port]
                    }
                }
                Some(_) => {
                    self.table.remove(&dst);
                    flood()
                }
                None => flood(),
            }
        };
        if !Model::fresh(self.last_sweep, t) {
            self.table.retain(|_, &mut (_, seen)| Model::fresh(seen, t));
            self.last_sweep = t;
        }
        out
    }

    fn entries(&self) -> Vec<(Mac, u32, u64)> {
        let mut v: Vec<(Mac, u32, u64)> = self.table.iter().map(|(m, &(p, s))| (*m, p, s)).collect();
        v.sort();
        v
    }
}

/// Random traffic: frames between a few stations (and to the broadcast and a multicast
/// address), over the four ports, at times that often cross the ageing time; now and
/// then a link is down or the arrival link is not known.
fn traffic() -> impl Strategy<Value = Vec<Arrival>> {
    let stations = [A, B, C, [0x02, 0, 0, 0, 0, 0x0d]];
    // Source (4: a group address, not a valid source), destination (a station, the
    // broadcast address, a multicast one), arrival link (4: not known), time since the
    // last frame, kind of frame, payload, link down (0..4: that one; else none).
    let step = (
        0..5usize,
        0..6usize,
        0..5usize,
        prop_oneof![6 => 0..3_000_000u64, 2 => 100_000_000..320_000_000u64, 1 => Just(AGEING_US)],
        0..KINDS.len(),
        any::<u8>(),
        0..12usize,
    );
    proptest::collection::vec(step, 1..40).prop_map(move |steps| {
        let mut t = T0_US;
        steps
            .into_iter()
            .map(|(s, d, p, dt, k, n, down)| {
                t += dt;
                let dst = match d {
                    4 => BROADCAST,
                    5 => MULTICAST,
                    d => stations[d],
                };
                let links: Vec<u32> = PORTS.iter().enumerate().filter(|&(i, _)| i != down).map(|(_, &p)| p).collect();
                let from = if p == 4 { 0 } else { links[p % links.len()] };
                let src = if s == 4 { MULTICAST } else { stations[s] };
                Arrival { links, from, frame: frame(KINDS[k], dst, src, n), t_us: t }
            })
            .collect()
    })
}

#[test]
fn the_bridge_decides_as_a_model_learning_bridge() {
    let config = Config {
        cases: 96,
        rng_seed: RngSeed::Fixed(0x6272_6964_6765),
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    // How often each decision was made (the closure is a `Fn`).
    let counts = std::cell::Cell::new([0usize; 4]);
    let result = runner.run(&traffic(), |arrivals| {
        let i = run(Engine::Interp, &arrivals);
        let j = run(Engine::Jit, &arrivals);
        prop_assert_eq!(&i, &j, "the engines differ");
        let mut model = Model::default();
        for (k, (o, a)) in i.0.iter().zip(&arrivals).enumerate() {
            let before = model.table.len();
            let want = model.frame(a);
            let got = check_out(o, &a.frame).map_err(|e| TestCaseError::fail(format!("frame {k}: {e}")))?;
            prop_assert_eq!(&got, &want, "frame {} of {:?}", k, arrivals);
            let mut c = counts.get();
            c[want.len().min(2)] += 1;
            c[3] += usize::from(model.table.len() < before);
            counts.set(c);
        }
        prop_assert_eq!(entries(&i.1), model.entries(), "the tables differ");
        Ok(())
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, arrivals)) => panic!("{why}\n{arrivals:?}"),
        Err(e) => panic!("{e}"),
    }
    // The traffic exercises every decision, and entries leave the table.
    let [filtered, forwarded, flooded, aged] = counts.get();
    assert!(flooded > 100 && forwarded > 100 && filtered > 20 && aged > 20, "{flooded} {forwarded} {filtered} {aged}");
}

// ---------------------------------------------------------------------------------------
// The verifier

/// The bridge fails three properties, each for a reason the README gives: it drops the
/// frames it filters (and a flood over no other port sends nothing), it copies frames
/// when flooding, and it sends them to neighbours it computes. Local termination holds.
#[test]
fn the_verifier_rejects_the_bridge_for_the_expected_reasons() {
    let v = verify(&program());
    let status: Vec<(&str, bool)> =
        v.properties.iter().map(|(p, s, _)| (p.name(), matches!(s, Status::Holds(_)))).collect();
    assert_eq!(
        status,
        [
            ("local termination", true),
            ("global termination", false),
            ("delivery", false),
            ("linear duplication", false)
        ]
    );
    assert_eq!(v.failed(), ["global termination", "delivery", "linear duplication"]);
    let codes: Vec<String> = v.diags.iter().map(|d| d.code()).collect();
    assert_eq!(codes, ["planp::verify::delivery", "planp::verify::global-termination", "planp::verify::duplication"]);
    let prop = |p: Property| v.properties.iter().find(|(q, ..)| *q == p).unwrap();
    assert_eq!(prop(Property::Delivery).2, ["network#0: a path sends nothing"]);
    assert_eq!(prop(Property::Duplication).2, ["network#0: a path makes two sends that may each be copied"]);
    assert_eq!(prop(Property::GlobalTermination).2, ["network#0: a destination cannot be followed"]);
    assert!(v.diags[1].message.contains("may keep packets travelling forever"), "{:?}", v.diags[1]);
    assert!(v.diags[2].message.contains("may duplicate packets exponentially"), "{:?}", v.diags[2]);
    // What it proves of the channel: no exception escapes it.
    assert_eq!(v.channels.len(), 1);
    assert!(v.channels[0].may_raise.is_empty() && v.channels[0].copies && !v.channels[0].sends_on_every_path);
}
