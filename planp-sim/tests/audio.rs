//! The audio experiment (`examples/audio/topology.toml`, the paper's figures 6 and 7),
//! run as shipped: the shape of the results is checked, not numbers copied from a run.
//!
//! - Figure 6: with no load the audio crosses the segment as 16-bit stereo (181 kB/s
//!   with its headers); the large load turns it to 8-bit mono (48.8 kB/s) within the
//!   second it starts, and it stays there; under the smaller load it varies between
//!   8-bit and 16-bit mono; under the small load it is mostly 16-bit mono (92.9 kB/s),
//!   with brief excursions when the load's bursts come and go.
//! - Figure 7: without the programs, the large load makes hundreds of gaps in the
//!   playback; with them, a handful at most.
//! - The client's player gets every datagram it plays in the original format.

use planp_interp::Engine;
use planp_sim::sim::{self, Options, Report};
use planp_sim::topology;
use std::path::Path;

/// Bytes per second of the audio on the segment at each level (100 datagrams a second
/// of 42 bytes of headers, the 4-byte sequence number, a format byte when degraded, and
/// the samples).
const STEREO: f64 = 100.0 * (42.0 + 4.0 + 1764.0);
const MONO16: f64 = 100.0 * (42.0 + 5.0 + 882.0);
const MONO8: f64 = 100.0 * (42.0 + 5.0 + 441.0);

fn runs() -> (Report, Report) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("examples/audio/topology.toml");
    let t = topology::read(&path).unwrap();
    let without = t.baseline_without.clone().expect("the example has a baseline");
    let adapted = sim::run(&t, &Options { engine: Engine::Jit, out: None, without: vec![] }, "adapted").unwrap();
    let baseline = sim::run(&t, &Options { engine: Engine::Jit, out: None, without }, "baseline").unwrap();
    (adapted, baseline)
}

fn series<'r>(r: &'r Report, name: &str) -> &'r [f64] {
    &r.series.iter().find(|s| s.name == name).unwrap().values
}

#[test]
fn figures_6_and_7() {
    let (adapted, baseline) = runs();
    let audio = series(&adapted, "audio");
    assert_eq!(audio.len(), 460, "one-second bins over 460 s");
    let phases = &adapted.phases;
    assert_eq!(phases, &[(0.0, 100.0), (100.0, 220.0), (220.0, 340.0), (340.0, 460.0)]);

    // No load: 16-bit stereo, every second.
    for (s, &v) in audio[..100].iter().enumerate() {
        assert_eq!(v, STEREO, "second {s}");
    }
    // A second's bin holds 100 datagrams, give or take one or two that waited in a
    // queue across the bin's edge: `near` allows for that.
    let near = |v: f64, level: f64| (v - level).abs() <= 2.0 * level / 100.0;
    // The large load: 8-bit mono from the first full second on, and nothing better.
    assert!(audio[100] < STEREO, "the switch happens within the second the load starts");
    for (s, &v) in audio[101..220].iter().enumerate() {
        assert!(near(v, MONO8), "second {}: {v}", s + 101);
    }
    // The smaller load: between 8-bit and 16-bit mono, both seen, never stereo.
    let mid = &audio[221..340];
    assert!(mid.iter().all(|&v| (MONO8 * 0.98..=MONO16 * 1.02).contains(&v)), "{mid:?}");
    let (n8, n16) = (mid.iter().filter(|&&v| near(v, MONO8)).count(), mid.iter().filter(|&&v| near(v, MONO16)).count());
    assert!(n8 >= 10 && n16 >= 10, "it varies: {n8} s at 8 bits, {n16} s at 16 bits");
    // The small load: mostly 16-bit mono (the load's bursts make brief excursions
    // either way).
    let small = &audio[341..460];
    let at16 = small.iter().filter(|&&v| near(v, MONO16)).count();
    assert!(at16 >= 90, "16-bit mono for {at16} of 119 s");
    let mean = small.iter().sum::<f64>() / small.len() as f64;
    assert!(mean > MONO16 * 0.95 && mean < MONO16 * 1.1, "{mean}");

    // Without adaptation the audio stays stereo and the segment overflows.
    let plain = series(&baseline, "audio");
    assert!(plain[..100].iter().all(|&v| v == STEREO));
    let (a, b) = (&adapted.players[0], &baseline.players[0]);
    assert_eq!((a.malformed, b.malformed), (0, 0), "the client application gets its own format");
    assert_eq!(a.sent, b.sent);
    assert!(b.gaps[1] >= 100, "the large load makes many gaps without adaptation: {:?}", b.gaps);
    assert!(a.gaps[1] * 10 <= b.gaps[1], "and ten times fewer with it: {:?} vs {:?}", a.gaps, b.gaps);
    let (ga, gb): (u64, u64) = (a.gaps.iter().sum(), b.gaps.iter().sum());
    assert!(ga * 10 <= gb, "fewer gaps with adaptation overall: {ga} vs {gb}");
    assert_eq!((a.gaps[0], b.gaps[0]), (0, 0), "no load, no gaps");
}
