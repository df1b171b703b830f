//! Reading and writing capture files.
//!
//! Reading uses pcap-parser (pcap in both byte orders, with microsecond or nanosecond
//! timestamps, and pcapng with any timestamp resolution). Writing produces a classic pcap
//! file with the input's link type (and its FCS bits), in nanosecond resolution when the
//! input had sub-microsecond timestamps, serialised with pcap-parser's `serialize`
//! feature. Captures are read as a stream: memory does not depend on the file's size.
//!
//! Nothing here panics on a broken file: a file that is not a capture, a record cut
//! short, or a malformed block is an error that says where, and the packets read before
//! it remain usable.

use crate::packet::link::LinkType;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{Block, LegacyPcapBlock, Linktype, PcapBlockOwned, PcapError, PcapHeader, ToVec};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

/// A problem with a capture file.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a pcap or pcapng capture.
    #[error("{path} is not a capture file (neither pcap nor pcapng: {why})")]
    NotACapture {
        /// The file.
        path: String,
        /// What is wrong with its start.
        why: String,
    },
    /// The file is a capture, but is cut short or malformed after some packets.
    #[error("{path}: {what} after {packets} packet{}", if *packets == 1 { "" } else { "s" })]
    Broken {
        /// The file.
        path: String,
        /// What was found.
        what: String,
        /// How many packets were read before.
        packets: u64,
    },
}

/// The format of a capture file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Classic pcap.
    Pcap {
        /// Nanosecond timestamps (magic 0xa1b23c4d)?
        nanos: bool,
        /// Big-endian file?
        big_endian: bool,
    },
    /// pcapng.
    PcapNg,
}

/// One captured packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// The link type of the interface it was captured on.
    pub link: LinkType,
    /// The captured bytes.
    pub data: Vec<u8>,
    /// The packet's length on the wire (more than `data.len()` if the capture truncated it).
    pub orig_len: u32,
}

#[derive(Clone, Copy, Debug)]
struct Interface {
    link: LinkType,
    /// Timestamp units per second.
    resolution: u64,
    offset_s: i64,
}

/// A capture being read, packet by packet.
pub struct Reader {
    path: String,
    inner: Box<dyn PcapReaderIterator + Send>,
    format: Option<Format>,
    /// The link type of a pcap file.
    link: Option<LinkType>,
    interfaces: Vec<Interface>,
    packets: u64,
    done: bool,
}

/// The largest block the reader will grow its buffer for.
const MAX_BLOCK: usize = 64 << 20;

impl Reader {
    /// Open a capture file (pcap or pcapng, detected from its content).
    pub fn open(path: impl AsRef<Path>) -> Result<Reader, CaptureError> {
        let p = path.as_ref();
        let name = p.display().to_string();
        let file = File::open(p).map_err(|source| CaptureError::Io { path: name.clone(), source })?;
        Self::from_read(&name, file)
    }

    /// Read a capture from any source (`name` is used in messages).
    pub fn from_read(name: &str, r: impl Read + Send + 'static) -> Result<Reader, CaptureError> {
        let inner = pcap_parser::create_reader(1 << 16, r).map_err(|e| CaptureError::NotACapture {
            path: name.to_owned(),
            why: match e {
                PcapError::Eof | PcapError::UnexpectedEof | PcapError::Incomplete(_) => {
                    "it is empty or too short".into()
                }
                PcapError::ReadError => "it cannot be read".into(),
                _ => "its first bytes are not a pcap header or a pcapng section header".into(),
            },
        })?;
        Ok(Reader {
            path: name.to_owned(),
            inner,
            format: None,
            link: None,
            interfaces: Vec::new(),
            packets: 0,
            done: false,
        })
    }

    /// The file's format (known once the first block has been read).
    pub fn format(&self) -> Option<Format> {
        self.format
    }

    /// The link type of a pcap file, or of the first interface of a pcapng file.
    pub fn link(&self) -> Option<LinkType> {
        self.link.or_else(|| self.interfaces.first().map(|i| i.link))
    }

    fn broken(&mut self, what: impl Into<String>) -> Option<Result<Packet, CaptureError>> {
        self.done = true;
        Some(Err(CaptureError::Broken { path: self.path.clone(), what: what.into(), packets: self.packets }))
    }

    /// The next packet, `None` at the end of the file, or an error (after which the
    /// reader stops).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Result<Packet, CaptureError>> {
        loop {
            if self.done {
                return None;
            }
            let (offset, packet) = match self.inner.next() {
                Ok((offset, block)) => {
                    let p = match block {
                        PcapBlockOwned::LegacyHeader(h) => {
                            self.format =
                                Some(Format::Pcap { nanos: h.is_nanosecond_precision(), big_endian: h.is_bigendian() });
                            self.link = Some(LinkType(h.network.0 as u32));
                            None
                        }
                        PcapBlockOwned::Legacy(b) => {
                            let sub =
                                if matches!(self.format, Some(Format::Pcap { nanos: true, .. })) { 1 } else { 1000 };
                            let ts_ns = b.ts_sec as u64 * 1_000_000_000 + b.ts_usec as u64 * sub;
                            let data = b.data.get(..b.caplen as usize).unwrap_or(b.data).to_vec();
                            Some(Packet { ts_ns, link: self.link.unwrap_or(LinkType(0)), data, orig_len: b.origlen })
                        }
                        PcapBlockOwned::NG(b) => {
                            self.format = Some(Format::PcapNg);
                            ng_block(&mut self.interfaces, b)
                        }
                    };
                    (offset, p)
                }
                Err(PcapError::Eof) => {
                    self.done = true;
                    return None;
                }
                Err(PcapError::Incomplete(_)) => {
                    if self.inner.reader_exhausted() {
                        let left = self.inner.data().len();
                        if left == 0 {
                            self.done = true;
                            return None;
                        }
                        return self.broken(format!(
                            "the capture is cut short: its last {left} bytes are an incomplete record"
                        ));
                    }
                    if self.inner.refill().is_err() {
                        return self.broken("the file could not be read further");
                    }
                    continue;
                }
                Err(PcapError::BufferTooSmall) => {
                    let size = self.inner.data().len().max(1 << 16) * 2;
                    if size > MAX_BLOCK || !self.inner.grow(size) {
                        return self.broken(format!("a record is larger than {} MiB", MAX_BLOCK >> 20));
                    }
                    if self.inner.refill().is_err() {
                        return self.broken("the file could not be read further");
                    }
                    continue;
                }
                Err(PcapError::UnexpectedEof) => return self.broken("the capture is cut short"),
                Err(PcapError::ReadError) => return self.broken("the file could not be read further"),
                Err(e) => {
                    let detail = format!("{e:?}");
                    let at = self.inner.consumed();
                    return self.broken(format!("a malformed record at byte {at} ({detail})"));
                }
            };
            self.inner.consume(offset);
            if let Some(p) = packet {
                self.packets += 1;
                return Some(Ok(p));
            }
        }
    }
}

/// The packet in a pcapng block, if it is a packet block; interface blocks are recorded.
fn ng_block(interfaces: &mut Vec<Interface>, b: Block<'_>) -> Option<Packet> {
    match b {
        Block::SectionHeader(_) => {
            // A new section starts its own list of interfaces.
            interfaces.clear();
            None
        }
        Block::InterfaceDescription(idb) => {
            let resolution = idb.ts_resolution().unwrap_or(1_000_000).max(1);
            interfaces.push(Interface { link: LinkType(idb.linktype.0 as u32), resolution, offset_s: idb.ts_offset() });
            None
        }
        Block::EnhancedPacket(epb) => {
            let iface = interfaces.get(epb.if_id as usize).copied().unwrap_or(Interface {
                link: LinkType(0),
                resolution: 1_000_000,
                offset_s: 0,
            });
            let units = (epb.ts_high as u64) << 32 | epb.ts_low as u64;
            let ns = (units as u128 * 1_000_000_000 / iface.resolution as u128) as i128
                + iface.offset_s as i128 * 1_000_000_000;
            let data = epb.data.get(..epb.caplen as usize).unwrap_or(epb.data).to_vec();
            Some(Packet { ts_ns: ns.clamp(0, u64::MAX as i128) as u64, link: iface.link, data, orig_len: epb.origlen })
        }
        Block::SimplePacket(spb) => {
            let link = interfaces.first().map_or(LinkType(0), |i| i.link);
            let n = (spb.origlen as usize).min(spb.data.len());
            Some(Packet { ts_ns: 0, link, data: spb.data[..n].to_vec(), orig_len: spb.origlen })
        }
        _ => None,
    }
}

/// A pcap file being written.
pub struct Writer {
    path: String,
    out: BufWriter<File>,
    link: LinkType,
    nanos: bool,
    written: u64,
}

impl Writer {
    /// Create `path` as a pcap file of link type `link`, with nanosecond timestamps if
    /// `nanos`.
    pub fn create(path: impl AsRef<Path>, link: LinkType, nanos: bool) -> Result<Writer, CaptureError> {
        let p = path.as_ref();
        let name = p.display().to_string();
        let file = File::create(p).map_err(|source| CaptureError::Io { path: name.clone(), source })?;
        let mut w = Writer { path: name, out: BufWriter::new(file), link, nanos, written: 0 };
        let mut h = PcapHeader::new();
        h.magic_number = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        h.snaplen = 262_144;
        h.network = Linktype(link.0 as i32);
        let bytes = h.to_vec_raw().expect("a pcap header always serialises");
        w.write_all(&bytes)?;
        Ok(w)
    }

    /// The link type the file was created with.
    pub fn link(&self) -> LinkType {
        self.link
    }

    fn write_all(&mut self, b: &[u8]) -> Result<(), CaptureError> {
        self.out.write_all(b).map_err(|source| CaptureError::Io { path: self.path.clone(), source })
    }

    /// Append a packet captured at `ts_ns`, `orig_len` bytes long on the wire.
    pub fn write(&mut self, ts_ns: u64, data: &[u8], orig_len: u32) -> Result<(), CaptureError> {
        let sub = if self.nanos { ts_ns % 1_000_000_000 } else { ts_ns % 1_000_000_000 / 1000 };
        let block = LegacyPcapBlock {
            ts_sec: (ts_ns / 1_000_000_000) as u32,
            ts_usec: sub as u32,
            caplen: data.len() as u32,
            origlen: orig_len.max(data.len() as u32),
            data,
        };
        let bytes = block.to_vec_raw().expect("a pcap record always serialises");
        self.write_all(&bytes)?;
        self.written += 1;
        Ok(())
    }

    /// How many packets have been written.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Flush everything to the file.
    pub fn finish(mut self) -> Result<(), CaptureError> {
        let path = self.path.clone();
        self.out.flush().map_err(|source| CaptureError::Io { path, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read_back() {
        let dir = std::env::temp_dir().join(format!("planp-capture-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for nanos in [false, true] {
            let path = dir.join(format!("t{nanos}.pcap"));
            let mut w = Writer::create(&path, LinkType::RAW, nanos).unwrap();
            w.write(1_700_000_000_123_456_789, &[0x45, 1, 2, 3], 4).unwrap();
            w.write(1_700_000_001_000_000_000, &[0x60; 100], 1500).unwrap();
            w.finish().unwrap();
            let mut r = Reader::open(&path).unwrap();
            let a = r.next().unwrap().unwrap();
            let b = r.next().unwrap().unwrap();
            assert!(r.next().is_none());
            assert_eq!(r.format(), Some(Format::Pcap { nanos, big_endian: false }));
            assert_eq!(a.ts_ns, if nanos { 1_700_000_000_123_456_789 } else { 1_700_000_000_123_456_000 });
            assert_eq!((a.data, a.link), (vec![0x45, 1, 2, 3], LinkType::RAW));
            assert_eq!((b.data.len(), b.orig_len), (100, 1500));
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn broken_files_are_errors() {
        let not = Reader::from_read("text", std::io::Cursor::new(b"hello, this is not a capture at all".to_vec()));
        assert!(matches!(not, Err(CaptureError::NotACapture { .. })));
        let empty = Reader::from_read("empty", std::io::Cursor::new(Vec::new()));
        assert!(matches!(empty, Err(CaptureError::NotACapture { .. })));
    }
}
