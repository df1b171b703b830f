//! Every capture of the corpus (`testdata/pcaps/corpus`, tcpdump's test captures) goes
//! through nodes without a panic, and what passes through comes out byte for byte.

use planp_interp::capture::{Reader, Writer};
use planp_interp::{Node, NodeConfig};
use std::path::{Path, PathBuf};

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/pcaps/corpus");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    assert_eq!(v.len(), 100, "the corpus has 100 captures");
    v
}

/// The number of packets the manifest says each capture holds.
fn manifest() -> std::collections::HashMap<String, u64> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/pcaps/MANIFEST.tsv");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c[0].to_string(), c[3].parse().unwrap())
        })
        .collect()
}

fn node(src: &str) -> Node {
    let prog = planp_interp::load("test.planp", src).unwrap_or_else(|d| panic!("{}", d.render_plain()));
    Node::new(prog, NodeConfig::default()).unwrap()
}

/// A program with no channel passes every packet on unchanged, and a capture written
/// from the frames it sends reads back as the input: same bytes, lengths, timestamps.
#[test]
fn pass_through_is_byte_identical() {
    let counts = manifest();
    // Removed when the test ends, passed or failed.
    let dir_tmp = tempfile::Builder::new().prefix("planp-pass-").tempdir().unwrap();
    let dir = dir_tmp.path().to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    for path in corpus() {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let mut n = node("val nothing = ()");
        let mut reader = Reader::open(&path).unwrap();
        let mut input = Vec::new();
        let out = dir.join(&name);
        let mut writer: Option<Writer> = None;
        while let Some(p) = reader.next() {
            let p = p.unwrap_or_else(|e| panic!("{name}: {e}"));
            let o = n.process_captured(p.link, &p.data, p.orig_len as usize, p.ts_ns);
            assert!(o.pass_through && o.channel.is_none());
            assert_eq!(o.frames, vec![p.data.clone()], "{name}: a passed packet changed");
            let w = writer.get_or_insert_with(|| Writer::create(&out, p.link, true).unwrap());
            for f in &o.frames {
                w.write(p.ts_ns, f, p.orig_len).unwrap();
            }
            input.push(p);
        }
        assert_eq!(input.len() as u64, counts[&name], "{name}: packet count");
        if let Some(w) = writer {
            w.finish().unwrap();
            let mut back = Reader::open(&out).unwrap();
            for p in &input {
                let q = back.next().unwrap().unwrap();
                assert_eq!((&q.data, q.ts_ns, q.orig_len, q.link), (&p.data, p.ts_ns, p.orig_len, p.link), "{name}");
            }
            assert!(back.next().is_none());
        }
    }
}

/// Programs that take every IP packet (and re-marshal it) or only some packets never
/// panic on any capture, however malformed its packets.
#[test]
fn every_capture_runs_through_programs() {
    let programs = [
        "channel network(ps : int, ss : unit, p : ip*blob) is (OnRemote(network, p); (ps + 1, ss))
         channel network(ps : int, ss : unit, p : ip6*blob) is (OnRemote(network, p); (ps + 1, ss))",
        "channel network(ps : unit, ss : int, p : eth*ip*tcp*blob) is
           (OnRemote(network, (#1 p, ipTtlSet(#2 p, ipTtl(#2 p) - 1), tcpDstSet(#3 p, 8080), #4 p)); (ps, ss + size(#4 p)))
         channel network(ps : unit, ss : int, p : ip*udp*blob) is
           (OnRemote(network, (#1 p, udpSrcSet(#2 p, 53), #3 p)); (ps, ss + 1))
         channel network(ps : unit, ss : unit, p : ip6*tcp*blob) is (ps, ss)",
        "exception Boom
         channel network(ps : unit, ss : unit, p : ip*tcp*char*int) is raise Boom
         channel network(ps : unit, ss : unit, p : ip*blob) is
           (OnRemote(network, p); OnRemote(network, p); (ps, ss))",
    ];
    for src in programs {
        for path in corpus() {
            let mut n = node(src);
            let mut reader = Reader::open(&path).unwrap();
            while let Some(Ok(p)) = reader.next() {
                let o = n.process_captured(p.link, &p.data, p.orig_len as usize, p.ts_ns);
                if o.pass_through {
                    assert_eq!(o.frames, vec![p.data.clone()]);
                }
            }
        }
    }
}

mod broken_files {
    use super::*;
    use proptest::prelude::*;

    /// Read a whole capture from bytes through a node that takes every IP packet; the
    /// reader stops at the first damage with an error, and nothing panics.
    fn exercise(bytes: Vec<u8>) {
        let mut n = node(
            "channel network(ps : int, ss : unit, p : ip*tcp*blob) is
               (OnRemote(network, (ipTtlSet(#1 p, 3), tcpDstSet(#2 p, 9), #3 p)); (ps + 1, ss))
             channel network(ps : int, ss : unit, p : ip6*udp*blob) is (OnRemote(network, p); (ps, ss))
             channel network(ps : int, ss : unit, p : eth*blob) is (OnRemote(network, p); (ps, ss))",
        );
        let Ok(mut r) = Reader::from_read("fuzz", std::io::Cursor::new(bytes)) else { return };
        let mut count = 0;
        while let Some(p) = r.next() {
            let Ok(p) = p else { break };
            let _ = n.process_captured(p.link, &p.data, p.orig_len as usize, p.ts_ns);
            count += 1;
            assert!(count < 100_000);
        }
    }

    fn corpus_bytes() -> Vec<Vec<u8>> {
        corpus().iter().map(|p| std::fs::read(p).unwrap()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn random_bytes_are_not_a_crash(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            exercise(bytes);
        }

        /// A real capture with bytes overwritten here and there, or cut anywhere.
        #[test]
        fn damaged_captures_are_not_a_crash(which in any::<usize>(), edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..12), cut in any::<usize>()) {
            let all = corpus_bytes();
            let mut b = all[which % all.len()].clone();
            for (at, v) in edits {
                if !b.is_empty() {
                    let i = at % b.len();
                    b[i] = v;
                }
            }
            let keep = if b.is_empty() { 0 } else { cut % (b.len() + 1) };
            b.truncate(keep.max(b.len() / 2));
            exercise(b);
        }
    }
}
