//! Audio broadcasting with bandwidth adaptation (the paper's section 3.1): the router
//! (`examples/audio/router.planp`) and the client (`examples/audio/client.planp`), each
//! on a single node, under both engines (which must agree on everything observable).
//!
//! What is checked, with every expected value computed here, independently of the
//! programs and of the `audio*` primitives:
//! - the router's protocol state (level in use, previous level, time of the last
//!   change), read back after every audio packet, against a model of the rule written
//!   here as a small state machine in exact arithmetic ([`next`]);
//! - the level picked for loads (given with `Node::set_link_load`) around every boundary
//!   of the rule, from each level in use, just inside the window after a change and once
//!   it has passed; that going down is immediate, that going up waits for the window
//!   and needs the margin, that within the window the larger of the two levels' rates
//!   counts; a seeded random sequence of loads and time steps, packet by packet;
//! - the bytes of a degraded packet (sequence number, format byte, samples: each frame's
//!   average rounded toward zero, and for 8 bits its high byte), its ports and
//!   addresses, its IP and UDP checksums;
//! - that the router's output, fed to the client's node, comes back as a packet to port
//!   5004 of the original length whose samples are the lossy round trip;
//! - that other packets, and audio at a low load, pass both nodes byte for byte;
//! - that both programs pass the safety verifier.

mod examples;

use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TransportSlice};
use planp_interp::{Engine, LinkType, Node, NodeConfig, Outcome};
use std::sync::Arc;

const SOURCE: [u8; 4] = [131, 254, 60, 7];
const CLIENT: [u8; 4] = [10, 0, 2, 7];
const ROUTER: [u8; 4] = [10, 0, 2, 254];
const AUDIO_PORT: u16 = 5004;
const DEGRADED_PORT: u16 = 5006;
const SOURCE_PORT: u16 = 40000;
/// 10 ms of 44.1 kHz audio.
const FRAMES: usize = 441;
/// The router's budget: 90% of a 10 Mb/s segment, in bytes per second.
const BUDGET: u64 = 1_250_000 * 90 / 100;
/// The room to spare before going up: 5% of the segment, in bytes per second.
const MARGIN: u64 = 1_250_000 / 20;
/// The load's measurement window, in microseconds (the unit of `now()`).
const WINDOW_US: u64 = 1_000_000;
/// The same in nanoseconds (the unit of `Node::process`'s clock).
const WINDOW_NS: u64 = WINDOW_US * 1000;
/// The audio's packet rate.
const PACKETS_PER_SECOND: u64 = 100;

fn udp_builder(
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
) -> etherparse::PacketBuilderStep<etherparse::UdpHeader> {
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]).ipv4(src, dst, 64).udp(sport, dport)
}

fn udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    udp_builder(src, dst, sport, dport).write(&mut f, data).unwrap();
    f
}

/// The length of an Ethernet frame carrying a UDP payload of `n` bytes over IPv4.
fn frame_len(n: usize) -> usize {
    udp_builder(SOURCE, CLIENT, SOURCE_PORT, AUDIO_PORT).size(n)
}

fn tcp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let b =
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]).ipv4(src, dst, 64).tcp(sport, dport, 1, 8192);
    let mut f = Vec::new();
    b.psh().ack(1).write(&mut f, data).unwrap();
    f
}

/// 441 stereo frames (left, right), starting with the awkward ones: extremes, odd sums
/// of both signs, samples whose average crosses a multiple of 256; then a pseudo-random
/// tail.
fn stereo(seed: u32) -> Vec<(i16, i16)> {
    let mut v = vec![
        (i16::MAX, i16::MAX),
        (i16::MIN, i16::MIN),
        (i16::MAX, i16::MIN),
        (i16::MIN, i16::MAX),
        (-1, 0),
        (1, 0),
        (-3, 0),
        (3, 0),
        (100, 300),
        (-100, -301),
        (255, 0),
        (256, 0),
        (-256, 0),
        (-257, 0),
        (512, 1),
        (-512, -1),
        (0, 0),
    ];
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(12345);
    while v.len() < FRAMES {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let l = (x >> 8) as i16;
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let r = (x >> 8) as i16;
        v.push((l, r));
    }
    v
}

/// PCM bytes of stereo frames: 16-bit little-endian, left then right.
fn pcm(frames: &[(i16, i16)]) -> Vec<u8> {
    frames.iter().flat_map(|&(l, r)| [l.to_le_bytes(), r.to_le_bytes()].concat()).collect()
}

/// The audio application's payload: the sequence number, big-endian, then the samples.
fn audio_payload(seq: u32, frames: &[(i16, i16)]) -> Vec<u8> {
    let mut p = seq.to_be_bytes().to_vec();
    p.extend(pcm(frames));
    p
}

/// The mono sample of a frame: the average of left and right, rounded toward zero.
fn average(l: i16, r: i16) -> i16 {
    let s = l as i32 + r as i32;
    let half = if s >= 0 { s / 2 } else { -((-s) / 2) };
    i16::try_from(half).unwrap()
}

/// The 8-bit sample of a 16-bit one: its top 8 bits (the floor of s / 256).
fn high(s: i16) -> i8 {
    i8::try_from((s as i32).div_euclid(256)).unwrap()
}

/// The samples of a degraded packet at `level` (1: 16-bit mono, 2: 8-bit mono).
fn degraded_samples(frames: &[(i16, i16)], level: usize) -> Vec<u8> {
    let mono: Vec<i16> = frames.iter().map(|&(l, r)| average(l, r)).collect();
    match level {
        1 => mono.iter().flat_map(|m| m.to_le_bytes()).collect(),
        2 => mono.iter().map(|&m| high(m) as u8).collect(),
        _ => unreachable!(),
    }
}

/// What the client gives back: every frame's two samples equal, the mono sample (level
/// 1) or the 8-bit sample times 256 (level 2).
fn round_trip(frames: &[(i16, i16)], level: usize) -> Vec<(i16, i16)> {
    frames
        .iter()
        .map(|&(l, r)| {
            let m = average(l, r);
            let s = if level == 1 { m } else { high(m) as i16 * 256 };
            (s, s)
        })
        .collect()
}

/// The format byte of a degraded packet.
fn format(level: usize) -> u8 {
    [0, b'm', b'b'][level]
}

/// The payload of a degraded packet.
fn degraded_payload(seq: u32, frames: &[(i16, i16)], level: usize) -> Vec<u8> {
    let mut p = seq.to_be_bytes().to_vec();
    p.push(format(level));
    p.extend(degraded_samples(frames, level));
    p
}

/// The bytes per second the audio takes on the link at each level: 100 frames a second
/// of the lengths the packets have.
fn rates() -> [u64; 3] {
    let f = stereo(0);
    let lens =
        [audio_payload(0, &f).len(), degraded_payload(0, &f, 1).len(), degraded_payload(0, &f, 2).len()].map(frame_len);
    lens.map(|l| l as u64 * PACKETS_PER_SECOND)
}

/// The router's protocol state: the level in use, the level before it, and the time of
/// the last change (µs, as `now()` gives it). It starts as (0, 0, 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct State {
    level: usize,
    prev: usize,
    changed: u64,
}

const START: State = State { level: 0, prev: 0, changed: 0 };

/// The first level whose rate fits the budget together with `other` bytes/s of other
/// traffic and `spare` bytes/s to spare; the lowest quality, 2, when none does. Exact
/// arithmetic: no load overflows.
fn best(other: i128, spare: i128) -> usize {
    let r = rates();
    (0..2).find(|&l| other + spare + r[l] as i128 <= BUDGET as i128).unwrap_or(2)
}

/// The rule: the state after an audio packet at time `t` (µs) when the link's load is
/// `load`. The load counts the audio itself, so the other traffic is the load less the
/// audio's rate; within a window of the last change that rate is the larger of the two
/// levels' (the window still holds audio of the previous level). Going down (a higher
/// level number) is immediate; going up needs the window to have passed since the last
/// change, and the margin to spare.
fn next(s: State, load: u64, t: u64) -> State {
    let r = rates().map(|x| x as i128);
    // linkLoad() saturates at the largest int.
    let load = load.min(i64::MAX as u64) as i128;
    let settled = t - s.changed >= WINDOW_US;
    let audio = if settled { r[s.level] } else { r[s.level].max(r[s.prev]) };
    let down = best(load - audio, 0);
    let up = best(load - r[s.level], MARGIN as i128);
    if down > s.level {
        State { level: down, prev: s.level, changed: t }
    } else if settled && up < s.level {
        State { level: up, prev: s.level, changed: t }
    } else {
        s
    }
}

/// The level the rule picks from a state (level, prev) changed at time 0: just inside
/// the window, or just once it has passed.
fn level_after(level: usize, prev: usize, settled: bool, load: u64) -> usize {
    let t = if settled { WINDOW_US } else { WINDOW_US - 1 };
    next(State { level, prev, changed: 0 }, load, t).level
}

#[test]
fn the_rule_as_documented() {
    // The numbers the program's comments and the README give, worked out by hand.
    assert_eq!(rates(), [181_000, 92_900, 48_800]);
    assert_eq!((BUDGET, MARGIN, WINDOW_US), (1_125_000, 62_500, 1_000_000));
    // Other traffic (load less the audio's rate) up to 944000: level 0; up to 1032100:
    // level 1; beyond: level 2.
    assert_eq!((best(944_000, 0), best(944_001, 0), best(1_032_100, 0), best(1_032_101, 0)), (0, 1, 1, 2));
    assert_eq!((best(-1_000_000, 0), best(i64::MAX as i128, 0)), (0, 2));
    // Going up needs 62500 to spare: other traffic up to 881500 for level 0, 969600 for 1.
    assert_eq!((best(881_500, MARGIN as i128), best(881_501, MARGIN as i128)), (0, 1));
    assert_eq!((best(969_600, MARGIN as i128), best(969_601, MARGIN as i128)), (1, 2));
    // In terms of the load, from each state: (level, prev, settled, [(load, level)]).
    type Case = (usize, usize, bool, &'static [(u64, usize)]);
    let cases: &[Case] = &[
        // At level 0 (the audio's rate is level 0's, the largest, whatever the previous
        // level): down at 1125001 and 1213101; never up.
        (0, 0, false, &[(0, 0), (1_125_000, 0), (1_125_001, 1), (1_213_100, 1), (1_213_101, 2), (u64::MAX, 2)]),
        (0, 1, false, &[(0, 0), (1_125_000, 0), (1_125_001, 1), (1_213_100, 1), (1_213_101, 2), (u64::MAX, 2)]),
        (0, 2, true, &[(0, 0), (1_125_000, 0), (1_125_001, 1), (1_213_100, 1), (1_213_101, 2), (u64::MAX, 2)]),
        // At level 1, settled: up to 0 at 974400 (= 944000 - 62500 + 92900) and below,
        // down to 2 beyond 1125000 (= 1032100 + 92900).
        (1, 0, true, &[(0, 0), (974_400, 0), (974_401, 1), (1_125_000, 1), (1_125_001, 2), (u64::MAX, 2)]),
        (1, 2, true, &[(0, 0), (974_400, 0), (974_401, 1), (1_125_000, 1), (1_125_001, 2), (u64::MAX, 2)]),
        // Within the window: never up; coming from 0, down only beyond 1213100 (level
        // 0's rate counts); coming from 2, beyond 1125000.
        (1, 0, false, &[(0, 1), (1_125_001, 1), (1_213_100, 1), (1_213_101, 2), (u64::MAX, 2)]),
        (1, 2, false, &[(0, 1), (974_400, 1), (1_125_000, 1), (1_125_001, 2), (u64::MAX, 2)]),
        // At level 2, settled: up to 0 at 930300 (= 944000 - 62500 + 48800) and below,
        // to 1 at 1018400 (= 1032100 - 62500 + 48800) and below.
        (2, 0, true, &[(0, 0), (930_300, 0), (930_301, 1), (1_018_400, 1), (1_018_401, 2), (u64::MAX, 2)]),
        (2, 1, true, &[(0, 0), (930_300, 0), (930_301, 1), (1_018_400, 1), (1_018_401, 2), (u64::MAX, 2)]),
        // Within the window: level 2 whatever the load.
        (2, 0, false, &[(0, 2), (930_300, 2), (1_018_400, 2), (u64::MAX, 2)]),
        (2, 1, false, &[(0, 2), (930_300, 2), (1_018_400, 2), (u64::MAX, 2)]),
    ];
    for &(level, prev, settled, loads) in cases {
        for &(load, want) in loads {
            assert_eq!(
                level_after(level, prev, settled, load),
                want,
                "({level}, {prev}), settled {settled}, load {load}"
            );
        }
    }
    // Without a change, the time of the last change stays: the window is counted from
    // the last change, not from the last packet.
    let s = State { level: 2, prev: 0, changed: 5_000_000 };
    assert_eq!(next(s, 1_050_000, 5_500_000), s);
    assert_eq!(next(s, 1_050_000, 6_000_000), s);
    assert_eq!(next(s, 1_000_000, 6_000_001), State { level: 1, prev: 2, changed: 6_000_001 });
}

/// A UDP/IPv4 frame read back: addresses, ports, payload, the lengths in its headers,
/// and whether its checksums verify.
#[derive(Debug)]
struct Udp {
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    payload: Vec<u8>,
    ip_len: usize,
    udp_len: usize,
    checksums_ok: bool,
}

fn read(f: &[u8]) -> Udp {
    let p = SlicedPacket::from_ethernet(f).expect("an Ethernet frame");
    let Some(NetSlice::Ipv4(ip)) = &p.net else { panic!("IPv4") };
    let Some(TransportSlice::Udp(u)) = &p.transport else { panic!("UDP") };
    let h = ip.header().to_header();
    let ip_ok = h.calc_header_checksum() == h.header_checksum;
    let udp_ok = u.to_header().calc_checksum_ipv4(&h, u.payload()).ok() == Some(u.checksum());
    Udp {
        src: h.source,
        dst: h.destination,
        sport: u.source_port(),
        dport: u.destination_port(),
        payload: u.payload().to_vec(),
        ip_len: h.total_len as usize,
        udp_len: u.length() as usize,
        checksums_ok: ip_ok && udp_ok && u.checksum() != 0,
    }
}

fn node(prog: &Arc<planp_interp::Program>, engine: Engine, host: [u8; 4]) -> Node {
    let n =
        Node::new(prog.clone(), NodeConfig { engine, this_host: u32::from_be_bytes(host), ..NodeConfig::default() })
            .unwrap();
    if engine == Engine::Jit {
        // On a host that runs x86-64 code, the JIT is what runs.
        assert_eq!(n.compiled().is_some(), planp_jit::available().is_ok(), "{:?}", n.jit_unavailable());
    }
    n
}

/// The two nodes, a clock (ns), and what they did (for comparing the engines).
struct Run {
    router: Node,
    client: Node,
    t: u64,
    log: Vec<Outcome>,
}

impl Run {
    fn new(engine: Engine) -> Run {
        let (r, c) =
            (examples::verified("examples/audio/router.planp"), examples::verified("examples/audio/client.planp"));
        Run { router: node(&r, engine, ROUTER), client: node(&c, engine, CLIENT), t: 0, log: Vec::new() }
    }

    /// A packet to the router, 10 ms after the last one.
    fn router_gets(&mut self, f: &[u8]) -> Outcome {
        self.router_gets_after(f, 10_000_000)
    }

    /// A packet to the router, `dt` ns after the last one.
    fn router_gets_after(&mut self, f: &[u8], dt: u64) -> Outcome {
        self.t += dt;
        let o = self.router.process(LinkType::ETHERNET, f, self.t);
        self.log.push(o.clone());
        o
    }

    /// A packet to the client, at the time of the last one.
    fn client_gets(&mut self, f: &[u8]) -> Outcome {
        let o = self.client.process(LinkType::ETHERNET, f, self.t);
        self.log.push(o.clone());
        o
    }

    /// The router's protocol state.
    fn state(&self) -> State {
        state_of(&self.router)
    }
}

/// A router node's protocol state, read back from its heap.
fn state_of(router: &Node) -> State {
    let (ps, heap) = (router.protocol_state(), router.heap());
    let field = |i| heap.tuple_get(ps, i);
    State { level: field(0) as usize, prev: field(1) as usize, changed: field(2) }
}

/// The one frame a node sent for a packet its channel took.
fn sent(o: &Outcome) -> &[u8] {
    assert!(o.exception.is_none(), "{:?}", o.exception);
    assert_eq!(o.channel, Some(0), "the channel took the packet");
    assert!(!o.pass_through);
    assert_eq!(o.frames.len(), 1, "one packet sent");
    &o.frames[0]
}

/// One audio packet through the router `dt` ns after the last packet, at `load`, then
/// its output through the client; the router's new state checked against the model, and
/// every byte. Returns the level the router used.
fn audio_packet(run: &mut Run, seq: u32, load: u64, dt: u64) -> usize {
    let before = run.state();
    let want = next(before, load, (run.t + dt) / 1000);
    let level = want.level;
    let frames = stereo(seq);
    let input = udp(SOURCE, CLIENT, SOURCE_PORT, AUDIO_PORT, &audio_payload(seq, &frames));
    run.router.set_link_load(Some(load));
    let o = run.router_gets_after(&input, dt);
    let out = sent(&o).to_vec();
    assert_eq!(run.state(), want, "the state after load {load} at {} ns, from {before:?}", run.t);
    if level == 0 {
        assert_eq!(out, input, "level 0 at load {load}: the packet goes on unchanged");
    } else {
        assert_eq!(out[..14], input[..14], "the Ethernet header is the input's");
        let u = read(&out);
        assert_eq!((u.src, u.dst, u.sport, u.dport), (SOURCE, CLIENT, SOURCE_PORT, DEGRADED_PORT));
        assert_eq!(u.payload, degraded_payload(seq, &frames, level), "degraded payload at load {load}, level {level}");
        assert!(u.checksums_ok, "checksums of the degraded packet");
        assert_eq!((u.udp_len, u.ip_len, out.len()), (8 + u.payload.len(), 28 + u.payload.len(), 42 + u.payload.len()));
        assert_eq!(out.len() as u64 * PACKETS_PER_SECOND, rates()[level], "the nominal rate is the real one");
    }
    // The client's node gets the router's frame as it is.
    let back = run.client_gets(&out);
    let restored = sent(&back).to_vec();
    if level == 0 {
        assert_eq!(restored, input, "level 0: the client passes it on unchanged");
    } else {
        assert_eq!(restored.len(), input.len(), "the restored packet has the original length");
        assert_eq!(restored[..14], input[..14]);
        let u = read(&restored);
        assert_eq!((u.src, u.dst, u.sport, u.dport), (SOURCE, CLIENT, SOURCE_PORT, AUDIO_PORT));
        assert_eq!(u.payload, audio_payload(seq, &round_trip(&frames, level)), "restored samples, level {level}");
        assert!(u.checksums_ok, "checksums of the restored packet");
        // Only the payload and the checksums differ from the input: headers and lengths
        // are the original's.
        let orig = read(&input);
        assert_eq!((u.ip_len, u.udp_len), (orig.ip_len, orig.udp_len));
        assert_eq!(restored[14..24], input[14..24], "IP header up to the checksum");
        assert_eq!(restored[26..40], input[26..40], "addresses, ports, UDP length");
    }
    level
}

/// Make `level` the level in use with one audio packet a window after the last one
/// (nothing when it already is).
fn go(run: &mut Run, seq: &mut u32, level: usize) {
    let load = match (run.state().level, level) {
        (a, b) if a == b => return,
        (_, 0) => 0,
        (_, 2) => 1_000_000_000,
        // From 0, other traffic of 969000 bytes/s: level 1.
        (0, _) => 1_150_000,
        // From 2, other traffic of 951200 bytes/s, 1013700 with the margin: level 1.
        _ => 1_000_000,
    };
    *seq = seq.wrapping_add(1);
    audio_packet(run, *seq, load, WINDOW_NS);
    assert_eq!(run.state().level, level);
}

/// Bring the router to the state (level, prev, now) with audio packets.
fn reach(run: &mut Run, seq: &mut u32, level: usize, prev: usize) {
    go(run, seq, prev);
    go(run, seq, level);
    assert_eq!(run.state(), State { level, prev, changed: run.t / 1000 });
}

/// The states (level, prev) the router can be in after a change.
const CHANGES: [(usize, usize); 6] = [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)];

/// The largest loads: the largest for which the program's `other + spare` stays within
/// a 64-bit int (at level 2, the load less 48800 plus the margin, 62500), the next one,
/// the largest int, and beyond it (where `linkLoad()` saturates).
const HUGE: [u64; 4] = [i64::MAX as u64 - 13_700, i64::MAX as u64 - 13_699, i64::MAX as u64, u64::MAX];

/// The loads tried from each state: every boundary of the rule and one byte on either
/// side (for going down with each rate the audio may be counted at, for going up with
/// the margin from each level), the rate of each level and around it (where the
/// estimate of the other traffic crosses 0), a sweep, and extremes (the larger ones in
/// `the_largest_loads_give_level_2_from_every_state`).
fn loads() -> Vec<u64> {
    let r = rates();
    let mut v = vec![0, 1, 500_000, 1_250_000, 2_000_000, 1_000_000_000, HUGE[0]];
    for audio in r {
        for l in r {
            v.extend([BUDGET - l + audio, BUDGET - l + audio - MARGIN]);
        }
        v.push(audio);
    }
    let mut around = Vec::new();
    for &x in &v {
        around.extend([x.saturating_sub(1), x.saturating_add(1)]);
    }
    v.extend(around);
    v.extend((850_000..1_300_000).step_by(9_973));
    v.retain(|&l| l <= HUGE[0]);
    v.sort();
    v.dedup();
    v
}

/// The protocol state as `describe_states` writes it.
fn describe(s: State) -> String {
    format!("protocol state : int*int*int = ({}, {}, {})", s.level, s.prev, s.changed)
}

/// The router's channel state (packets sent at each level) and the client's (packets
/// restored from each format) must count what the log shows.
fn check_counts(log: &[Outcome], router_state: &str, client_state: &str) {
    // The log holds the router's outcome, then the client's, for each audio packet.
    let mut sent_at = [0; 3];
    for pair in log.chunks(2) {
        sent_at[level_sent(&pair[0].frames[0])] += 1;
    }
    let router_counts = format!("state : int*int*int = ({}, {}, {})", sent_at[0], sent_at[1], sent_at[2]);
    assert!(
        router_state.lines().any(|l| l.starts_with("channel network") && l.ends_with(&router_counts)),
        "{router_state} {sent_at:?}"
    );
    assert!(client_state.contains(&format!("= ({}, {})", sent_at[1], sent_at[2])), "{client_state} {sent_at:?}");
}

/// The level of an audio packet the router sent: 0 to port 5004, else its format's.
fn level_sent(f: &[u8]) -> usize {
    let u = read(f);
    match u.dport {
        AUDIO_PORT => 0,
        _ => [b'm', b'b'].iter().position(|&b| b == u.payload[4]).unwrap() + 1,
    }
}

/// Two engines' logs: the first packet where they differ.
fn same_logs(a: &[Outcome], b: &[Outcome]) {
    if let Some(i) = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)) {
        panic!("the engines differ at outcome {i}: {:?} / {:?}", a.get(i), b.get(i));
    }
}

/// Everything observable of one engine's run: from each state (level, prev), just
/// inside the window after the change and once it has passed, an audio packet at each
/// load of `loads()`.
fn scenario(engine: Engine) -> (Vec<Outcome>, String, String, [[usize; 3]; 3]) {
    let mut run = Run::new(engine);
    let mut seq = 0x7fff_fff0; // crosses 2^31: the sequence number is 32 bits as it is
    // The levels chosen from each level in use.
    let mut chosen = [[0; 3]; 3];
    assert_eq!(run.state(), START);
    // The start, (0, 0, 0): level 0 in use, within the window, then once it has passed.
    for (dt, load, want) in [(500_000_000, 1_125_000, 0), (500_000_000, 1_125_000, 0), (1, 1_125_001, 1)] {
        seq += 1;
        assert_eq!(audio_packet(&mut run, seq, load, dt), want);
    }
    assert_eq!(run.state(), State { level: 1, prev: 0, changed: 1_000_000 });
    for (level, prev) in CHANGES {
        for settled in [false, true] {
            for load in loads() {
                reach(&mut run, &mut seq, level, prev);
                seq = seq.wrapping_add(1);
                let dt = if settled { WINDOW_NS } else { WINDOW_NS - 1000 };
                let got = audio_packet(&mut run, seq, load, dt);
                assert_eq!(got, level_after(level, prev, settled, load));
                chosen[level][got] += 1;
            }
        }
    }
    assert_eq!(run.router.describe_states(200).lines().next(), Some(&describe(run.state())[..]));
    (run.log, run.router.describe_states(200), run.client.describe_states(200), chosen)
}

#[test]
fn the_router_follows_the_rule_from_every_state_and_the_client_restores_it() {
    let (log, router_state, client_state, chosen) = scenario(Engine::Interp);
    let jit = scenario(Engine::Jit);
    same_logs(&log, &jit.0);
    assert_eq!((&router_state, &client_state, chosen), (&jit.1, &jit.2, jit.3), "the engines differ");
    // Every level was chosen from every level in use.
    assert!(chosen.iter().flatten().all(|&c| c > 10), "{chosen:?}");
    check_counts(&log, &router_state, &client_state);
}

/// The largest loads, from every state (with the window passed or not): level 2, as the
/// rule has it in exact arithmetic; the program's sums must not overflow.
#[test]
fn the_largest_loads_give_level_2_from_every_state() {
    let mut logs = Vec::new();
    for engine in [Engine::Interp, Engine::Jit] {
        let mut run = Run::new(engine);
        let mut seq = 0;
        let mut wrong = Vec::new();
        for (level, prev) in CHANGES {
            for settled in [false, true] {
                for load in HUGE {
                    reach(&mut run, &mut seq, level, prev);
                    let before = run.state();
                    let dt = if settled { WINDOW_NS } else { WINDOW_NS - 1000 };
                    let want = next(before, load, (run.t + dt) / 1000);
                    assert_eq!(want.level, 2);
                    seq += 1;
                    let input = udp(SOURCE, CLIENT, SOURCE_PORT, AUDIO_PORT, &audio_payload(seq, &stereo(seq)));
                    run.router.set_link_load(Some(load));
                    let o = run.router_gets_after(&input, dt);
                    let got = (run.state(), level_sent(sent(&o)));
                    if got != (want, want.level) {
                        wrong.push(format!("load {load} from {before:?}: {got:?}, not {want:?}"));
                    }
                }
            }
        }
        assert!(wrong.is_empty(), "{engine:?}:\n{}", wrong.join("\n"));
        logs.push((run.log, run.router.describe_states(200)));
    }
    same_logs(&logs[0].0, &logs[1].0);
    assert_eq!(logs[0].1, logs[1].1, "the engines differ");
}

/// Going down is immediate, even right after a change; going up waits for the window
/// since the last change (not since the last packet) and needs the margin to spare.
#[test]
fn going_down_is_immediate_going_up_waits_for_the_window_and_needs_the_margin() {
    let mut logs = Vec::new();
    for engine in [Engine::Interp, Engine::Jit] {
        let mut run = Run::new(engine);
        let mut seq = 0;
        let mut at = |run: &mut Run, load: u64, dt: u64| {
            seq += 1;
            audio_packet(run, seq, load, dt);
            let s = run.state();
            (s.level, s.prev, s.changed)
        };
        // Down from 0 to 1, then 1 µs later to 2.
        assert_eq!(at(&mut run, 1_200_000, 2_000_000_000), (1, 0, 2_000_000));
        assert_eq!(at(&mut run, 1_300_000, 1000), (2, 1, 2_000_001));
        // Up: nothing within the window, however low the load; at its end, level 0.
        assert_eq!(at(&mut run, 0, 10_000_000), (2, 1, 2_000_001));
        assert_eq!(at(&mut run, 0, WINDOW_NS - 10_000_000 - 1000), (2, 1, 2_000_001));
        assert_eq!(at(&mut run, 0, 1000), (0, 2, 3_000_001));
        // The window counts from the change: packets in between do not restart it.
        assert_eq!(at(&mut run, 1_300_000, 1000), (2, 0, 3_000_002));
        for _ in 0..99 {
            assert_eq!(at(&mut run, 900_000, 10_000_000), (2, 0, 3_000_002));
        }
        assert_eq!(at(&mut run, 900_000, 10_000_000 - 1000), (2, 0, 3_000_002));
        assert_eq!(at(&mut run, 900_000, 1000), (0, 2, 4_000_002));
        // The margin. At level 2, settled, the load 1018401 leaves other traffic of
        // 969601 bytes/s, which level 1's rate would fit (up to 1032100) but not with
        // 62500 to spare: the level stays; 1018400 is enough.
        assert_eq!(at(&mut run, 2_000_000, WINDOW_NS), (2, 0, 5_000_002));
        assert_eq!(at(&mut run, 1_018_401, WINDOW_NS), (2, 0, 5_000_002));
        assert_eq!(at(&mut run, 1_018_400, 1000), (1, 2, 6_000_003));
        // At level 1, settled: 974401 leaves 881501, which level 0's rate would fit (up
        // to 944000) but not with the margin; 974400 is enough.
        assert_eq!(at(&mut run, 974_401, WINDOW_NS), (1, 2, 6_000_003));
        assert_eq!(at(&mut run, 974_400, 1000), (0, 1, 7_000_004));
        // The same from level 2 to 0: 930301 gives level 1, 930300 level 0.
        assert_eq!(at(&mut run, 2_000_000, WINDOW_NS), (2, 0, 8_000_004));
        assert_eq!(at(&mut run, 930_301, WINDOW_NS), (1, 2, 9_000_004));
        assert_eq!(at(&mut run, 2_000_000, WINDOW_NS), (2, 1, 10_000_004));
        assert_eq!(at(&mut run, 930_300, WINDOW_NS), (0, 2, 11_000_004));
        // The clock is read in whole µs (now() is the time in ns divided by 1000): a
        // change at 11000004999 ns is at 11000004 µs, and 999999001 ns later the window
        // has passed.
        assert_eq!(at(&mut run, 2_000_000, 999), (2, 0, 11_000_004));
        assert_eq!(at(&mut run, 0, WINDOW_NS - 1000), (2, 0, 11_000_004));
        assert_eq!(at(&mut run, 0, 1), (0, 2, 12_000_004));
        logs.push((run.log, run.router.describe_states(200)));
    }
    same_logs(&logs[0].0, &logs[1].0);
    assert_eq!(logs[0].1, logs[1].1, "the engines differ");
}

/// Within the window after going down from 0 to 1 the load still holds audio at level
/// 0's rate, so that rate counts: a load of 1150000 to 1213100 leaves level 1 in use,
/// where counting level 1's rate (other traffic over 1032100) would go down to 2. Once
/// the window has passed, level 1's rate counts, and the same load goes down.
#[test]
fn within_the_window_the_larger_rate_counts() {
    let r = rates();
    for load in [1_150_000, 1_200_000, 1_213_100] {
        assert_eq!(best(load as i128 - r[1] as i128, 0), 2, "with level 1's rate, load {load} would go down");
    }
    let mut logs = Vec::new();
    for engine in [Engine::Interp, Engine::Jit] {
        let mut run = Run::new(engine);
        let mut seq = 0;
        reach(&mut run, &mut seq, 1, 0);
        let changed = run.state().changed;
        for (load, dt) in [(1_150_000, 1000), (1_200_000, 500_000_000), (1_213_100, WINDOW_NS - 500_002_000)] {
            seq += 1;
            assert_eq!(audio_packet(&mut run, seq, load, dt), 1, "load {load} within the window");
        }
        assert_eq!(run.state(), State { level: 1, prev: 0, changed });
        // One byte more: level 0's rate does not fit either.
        seq += 1;
        assert_eq!(audio_packet(&mut run, seq, 1_213_101, 0), 2);
        // Again, and the window passes.
        reach(&mut run, &mut seq, 1, 0);
        seq += 1;
        assert_eq!(audio_packet(&mut run, seq, 1_150_000, WINDOW_NS - 1000), 1);
        seq += 1;
        assert_eq!(audio_packet(&mut run, seq, 1_150_000, 1000), 2, "settled: level 1's rate counts");
        // Coming up from 2 to 1, level 1's rate is the larger: it counts at once.
        reach(&mut run, &mut seq, 1, 2);
        seq += 1;
        assert_eq!(audio_packet(&mut run, seq, 1_125_000, 1000), 1);
        seq += 1;
        assert_eq!(audio_packet(&mut run, seq, 1_125_001, 1000), 2);
        logs.push((run.log, run.router.describe_states(200)));
    }
    same_logs(&logs[0].0, &logs[1].0);
    assert_eq!(logs[0].1, logs[1].1, "the engines differ");
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A seeded random sequence of audio packets, with loads mostly near the boundaries and
/// time steps from 1 ns to 1.5 s, compared packet by packet with the model: the state,
/// and so the level and the bytes sent.
#[test]
fn a_random_sequence_follows_the_model() {
    let boundaries: Vec<u64> = loads().into_iter().filter(|&l| (900_000..=1_250_000).contains(&l)).collect();
    let mut runs = Vec::new();
    for engine in [Engine::Interp, Engine::Jit] {
        let mut run = Run::new(engine);
        let mut rng = Rng(0x5eed_a0d1_0000_0001);
        // What the sequence went through: changes (from, to), ups the window held back,
        // downs that the larger rate held back.
        let mut changes = [[0; 3]; 3];
        let (mut held_by_window, mut held_by_max) = (0, 0);
        for seq in 0..400 {
            let load = match rng.below(10) {
                0..=4 => boundaries[rng.below(boundaries.len() as u64) as usize] + rng.below(3) - 1,
                5..=7 => 850_000 + rng.below(450_000),
                8 => rng.below(850_000),
                _ => 1_300_000 + rng.below(1_000_000_000),
            };
            let dt = match rng.below(8) {
                0 => 1 + rng.below(1_000_000),
                1..=3 => 10_000_000,
                4..=5 => rng.below(400_000_000),
                6 => WINDOW_NS - 50_000_000 + rng.below(100_000_000),
                _ => rng.below(1_500_000_000),
            };
            let s = run.state();
            let t = (run.t + dt) / 1000;
            let settled = t - s.changed >= WINDOW_US;
            let r = rates().map(|x| x as i128);
            if !settled && best(load as i128 - r[s.level], MARGIN as i128) < s.level {
                held_by_window += 1;
            }
            if !settled && best(load as i128 - r[s.level], 0) > s.level && next(s, load, t).level == s.level {
                held_by_max += 1;
            }
            audio_packet(&mut run, seq, load, dt);
            let n = run.state();
            if n != s {
                changes[s.level][n.level] += 1;
            }
        }
        // The sequence went every way there is, and through the cases of the rule.
        for (from, to) in [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)] {
            assert!(changes[from][to] > 0, "no change from {from} to {to}: {changes:?}");
        }
        assert!(held_by_window > 0 && held_by_max > 0, "{held_by_window} {held_by_max}");
        let (router_state, client_state) = (run.router.describe_states(200), run.client.describe_states(200));
        assert_eq!(router_state.lines().next(), Some(&describe(run.state())[..]));
        check_counts(&run.log, &router_state, &client_state);
        runs.push((run.log, router_state, client_state, changes));
    }
    same_logs(&runs[0].0, &runs[1].0);
    assert_eq!((&runs[0].1, &runs[0].2, runs[0].3), (&runs[1].1, &runs[1].2, runs[1].3), "the engines differ");
}

/// Packets that are not degraded audio, through both nodes, under both engines: each
/// comes out byte for byte as it came in, whatever the load; and they leave the level
/// in use as it was.
#[test]
fn other_packets_pass_unchanged() {
    let mut logs = Vec::new();
    for engine in [Engine::Interp, Engine::Jit] {
        let mut run = Run::new(engine);
        let mut seq = 0;
        let frames = stereo(9);
        let mut v6 = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv6(
                [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
                64,
            )
            .udp(SOURCE_PORT, AUDIO_PORT)
            .write(&mut v6, &audio_payload(1, &frames))
            .unwrap();
        let mut not_5006 = degraded_payload(3, &frames, 1);
        let others: Vec<(Vec<u8>, bool)> = vec![
            // (frame, does a channel take it?)
            (udp(SOURCE, CLIENT, 5353, 53, b"a DNS question"), true),
            (udp(SOURCE, CLIENT, SOURCE_PORT, 5005, &audio_payload(2, &frames)), true),
            (udp(SOURCE, CLIENT, SOURCE_PORT, 5007, &not_5006), true),
            (udp(SOURCE, CLIENT, SOURCE_PORT, AUDIO_PORT, b"abc"), false), // too short for a sequence number
            (udp(SOURCE, CLIENT, SOURCE_PORT, AUDIO_PORT, b""), false),
            (tcp(SOURCE, CLIENT, 3000, AUDIO_PORT, &audio_payload(4, &frames)), false),
            (v6, false),
        ];
        for level in 0..3 {
            go(&mut run, &mut seq, level);
            let before = run.state();
            for (f, taken) in &others {
                for load in [0, 1_200_000, 1_000_000_000] {
                    run.router.set_link_load(Some(load));
                    for (o, at) in [(run.router_gets(f), "router"), (run.client_gets(f), "client")] {
                        assert_eq!(o.frames, std::slice::from_ref(f), "{at}: unchanged");
                        assert!(o.exception.is_none());
                        // The router's channel takes every UDP packet with a payload of
                        // 4 bytes or more; the client's those of 5 or more.
                        let client_takes = *taken && f.len() >= 42 + 5;
                        assert_eq!(o.pass_through, !(*taken && (at == "router" || client_takes)), "{at}");
                    }
                    assert_eq!(run.state(), before, "other packets do not change the state");
                }
            }
        }
        // At the client: degraded audio of an unknown format, and audio as the source
        // sends it, go on unchanged.
        not_5006[4] = b'x';
        for f in [
            udp(SOURCE, CLIENT, SOURCE_PORT, DEGRADED_PORT, &not_5006),
            udp(SOURCE, CLIENT, SOURCE_PORT, AUDIO_PORT, &audio_payload(5, &frames)),
        ] {
            assert_eq!(sent(&run.client_gets(&f)), &f[..]);
        }
        logs.push((run.log, run.router.describe_states(200), run.client.describe_states(200)));
    }
    assert_eq!(logs[0], logs[1], "the engines differ");
    // The client restored nothing but the audio of `go`: one packet at level 1, one at 2.
    assert!(logs[0].2.contains("= (1, 1)"), "{}", logs[0].2);
}

/// With the node's own meter (no load given), a stream of audio alone stays at level 0,
/// every packet unchanged; heavy other traffic makes the router degrade to 8 bits at
/// once, and it stays there while that traffic lasts; once it has left the window, level
/// 0 again.
#[test]
fn the_nodes_own_meter() {
    let mut logs = Vec::new();
    for engine in [Engine::Interp, Engine::Jit] {
        let prog = examples::verified("examples/audio/router.planp");
        let mut r = node(&prog, engine, ROUTER);
        let mut log = Vec::new();
        let mut t = 0u64;
        let frames = stereo(11);
        let audio = |seq: u32| udp(SOURCE, CLIENT, SOURCE_PORT, AUDIO_PORT, &audio_payload(seq, &frames));
        // 2 seconds of audio alone: 181000 bytes/s.
        for seq in 0..200 {
            t += 10_000_000;
            let f = audio(seq);
            let o = r.process(LinkType::ETHERNET, &f, t);
            assert_eq!(o.frames, [f], "audio alone, packet {seq}");
            log.push(o);
        }
        // Other traffic at 1.4 MB/s for two seconds (a frame of 1400 bytes every
        // millisecond); in the second one, when the window is full of it, the audio.
        let bulk = udp(SOURCE, [10, 0, 2, 8], 9, 9, &[0x55; 1400 - 42]);
        assert_eq!(bulk.len(), 1400);
        let mut seq = 200;
        for k in 0..2000 {
            t += 1_000_000;
            log.push(r.process(LinkType::ETHERNET, &bulk, t));
            if k % 10 == 9 && k >= 1000 {
                let o = r.process(LinkType::ETHERNET, &audio(seq), t);
                assert_eq!(read(sent(&o)).payload[4], b'b', "8-bit mono under the bulk, packet {seq}");
                // Down from 0 to 2 with the first packet.
                assert_eq!(state_of(&r), State { level: 2, prev: 0, changed: 3_010_000 });
                log.push(o);
                seq += 1;
            }
        }
        // The bulk stops, and the audio with it; one and a half seconds later the window
        // holds neither, and the router goes back to 16-bit stereo.
        t += 1_500_000_000;
        let f = audio(seq);
        let o = r.process(LinkType::ETHERNET, &f, t);
        assert_eq!(o.frames, [f]);
        assert_eq!(state_of(&r), State { level: 0, prev: 2, changed: t / 1000 });
        log.push(o);
        logs.push(log);
    }
    assert_eq!(logs[0], logs[1], "the engines differ");
}

/// What forwarding a packet through the router's channel changes, as the README says:
/// the channel takes every UDP packet with 4 bytes of payload or more and sends it
/// again, marshalled, so Ethernet padding after the IP packet is dropped and a wrong UDP
/// checksum corrected. The same packet not taken by any channel (too short) keeps both.
#[test]
fn what_forwarding_through_the_channel_changes() {
    for engine in [Engine::Interp, Engine::Jit] {
        let mut run = Run::new(engine);
        // Padded to the 60 bytes of a minimal Ethernet frame.
        let short = udp(SOURCE, CLIENT, 5353, 53, b"four");
        let mut padded = short.clone();
        padded.resize(60, 0);
        assert_eq!(sent(&run.router_gets(&padded)), &short[..], "padding dropped");
        let tiny = udp(SOURCE, CLIENT, 5353, 53, b"abc");
        let mut tiny_padded = tiny.clone();
        tiny_padded.resize(60, 0);
        let o = run.router_gets(&tiny_padded);
        assert!(o.pass_through);
        assert_eq!(o.frames, [tiny_padded], "no channel takes it: byte for byte");
        // A wrong UDP checksum.
        let good = udp(SOURCE, CLIENT, 5353, 53, b"a DNS question");
        let mut bad = good.clone();
        bad[41] ^= 0x5a;
        assert!(!read(&bad).checksums_ok);
        assert_eq!(sent(&run.router_gets(&bad)), &good[..], "checksum corrected");
    }
}
