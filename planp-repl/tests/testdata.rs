//! Captures kept under `testdata/` that are ours (not tcpdump's): each is made here, by
//! etherparse (an independent packet writer, so checksums are not ours), and the test
//! fails when the file in the tree is not what the generator makes. `UPDATE_EXPECT=1`
//! writes them.

use planp_interp::LinkType;
use planp_interp::capture::Writer;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Three HTTP/1.0 conversations with a virtual server 131.254.60.1, as a gateway in
/// front of the physical servers 131.254.60.81 and .109 sees them: clients address the
/// virtual server; replies come from the physical server the gateway chose (the first
/// connection goes to .109, the second to .81, the third to .109 again).
fn http_three_clients() -> Vec<(u64, Vec<u8>)> {
    use etherparse::PacketBuilder;
    let virt = [131, 254, 60, 1];
    let servers = [[131, 254, 60, 109], [131, 254, 60, 81], [131, 254, 60, 109]];
    let clients = [[10, 0, 0, 1], [10, 0, 0, 2], [10, 0, 0, 3]];
    let ports = [40001u16, 40002, 40003];
    let (gw_mac, host_mac) = ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
    let mut frames = Vec::new();
    let mut t = 1_700_000_000_000_000_000u64;
    // (from client?, flags, payload) of one conversation, in order.
    let get = |i: usize| format!("GET /page{i}.html HTTP/1.0\r\nHost: www.example.org\r\n\r\n").into_bytes();
    let reply = |i: usize| format!("HTTP/1.0 200 OK\r\nContent-Length: 7\r\n\r\npage {i}\n").into_bytes();
    for i in 0..3 {
        let (c, s, port) = (clients[i], servers[i], ports[i]);
        let (mut cseq, mut sseq) = (1000 * (i as u32 + 1), 5000 * (i as u32 + 1));
        let steps: Vec<(bool, &str, Vec<u8>)> = vec![
            (true, "S", vec![]),
            (false, "SA", vec![]),
            (true, "A", vec![]),
            (true, "PA", get(i)),
            (false, "PA", reply(i)),
            (false, "FA", vec![]),
            (true, "FA", vec![]),
            (false, "A", vec![]),
        ];
        for (from_client, flags, data) in steps {
            let (src, dst, sport, dport, seq, ack) =
                if from_client { (c, virt, port, 80, cseq, sseq) } else { (s, c, 80, port, sseq, cseq) };
            let (smac, dmac) = if from_client { (host_mac, gw_mac) } else { (gw_mac, host_mac) };
            let mut b = PacketBuilder::ethernet2(smac, dmac).ipv4(src, dst, 64).tcp(sport, dport, seq, 65535);
            if flags.contains('S') {
                b = b.syn();
            }
            if flags.contains('A') {
                b = b.ack(ack);
            }
            if flags.contains('P') {
                b = b.psh();
            }
            if flags.contains('F') {
                b = b.fin();
            }
            let mut f = Vec::with_capacity(b.size(data.len()));
            b.write(&mut f, &data).unwrap();
            let adv = data.len() as u32 + u32::from(flags.contains('S') || flags.contains('F'));
            if from_client {
                cseq = cseq.wrapping_add(adv);
            } else {
                sseq = sseq.wrapping_add(adv);
            }
            frames.push((t, f));
            t += 1_000_000; // 1 ms
        }
    }
    frames
}

fn check(name: &str, frames: Vec<(u64, Vec<u8>)>) {
    let made = std::env::temp_dir().join(format!("planp-testdata-{}-{name}", std::process::id()));
    let mut w = Writer::create(&made, LinkType::ETHERNET, false).unwrap();
    for (t, f) in &frames {
        w.write(*t, f, f.len() as u32).unwrap();
    }
    w.finish().unwrap();
    let made_bytes = std::fs::read(&made).unwrap();
    let _ = std::fs::remove_file(&made);
    let path = root().join("testdata").join(name);
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, &made_bytes).unwrap();
    }
    let kept = std::fs::read(&path).unwrap_or_default();
    assert!(kept == made_bytes, "{} is not what its generator makes; UPDATE_EXPECT=1 writes it", path.display());
}

#[test]
fn http_three_clients_pcap() {
    check("http-three-clients.pcap", http_three_clients());
}
