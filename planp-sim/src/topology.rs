//! The topology file (TOML, `docs/sim.md`): what it says, read and checked into a
//! [`Topology`] whose names are resolved to indices. Every mistake is a [`TopologyError`]
//! that points into the file.

use crate::units::{self, Quantity};
use miette::{Diagnostic, NamedSource, SourceSpan};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// A mistake in a topology file, with where it is (boxed: a `Result` with it stays
/// small).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct TopologyError(Box<Mistake>);

impl Diagnostic for TopologyError {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.0.code()
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.0.help()
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.0.source_code()
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.0.labels()
    }
}

/// What [`TopologyError`] holds.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{message}")]
#[diagnostic(code(planp::sim::topology))]
pub struct Mistake {
    message: String,
    #[source_code]
    src: NamedSource<String>,
    #[label("{label}")]
    at: Option<SourceSpan>,
    label: String,
    #[help]
    help: Option<String>,
}

impl TopologyError {
    /// The message, without the excerpt.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The text the error points at, if it points somewhere.
    pub fn pointed(&self) -> Option<&str> {
        let at = self.0.at?;
        self.0.src.inner().get(at.offset()..at.offset() + at.len())
    }

    fn with_help(mut self, help: impl Into<String>) -> Self {
        self.0.help = Some(help.into());
        self
    }
}

/// The most bins a time series may have.
pub const MAX_BINS: u64 = 1_000_000;

/// What a node is, which decides what it does with a frame no channel took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An end host: it keeps what is addressed to it, sends what its sources and its
    /// program send, and drops what passes through it addressed to another host.
    Host,
    /// A router: it forwards what is not addressed to it along its routes, rewriting
    /// the Ethernet addresses for the next hop.
    Router,
    /// A bridge: as a router, but it never rewrites a frame (its program decides where
    /// frames go, with `OnNeighbor`).
    Bridge,
    /// A hub: a shared segment. It repeats every frame on all its other links, as it is,
    /// and runs no program; the nodes on it are each other's neighbours.
    Hub,
}

impl Kind {
    /// Is the node invisible to Ethernet addressing (a bridge, a hub)?
    pub fn transparent(self) -> bool {
        matches!(self, Kind::Bridge | Kind::Hub)
    }
}

/// A node of the topology.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    /// Its name.
    pub name: String,
    /// Its address (`thisHost()`).
    pub address: u32,
    /// What it is.
    pub kind: Kind,
    /// The program it runs, if any: its path and text.
    pub program: Option<(PathBuf, String)>,
    /// Run the program even if it fails verification.
    pub unverified: bool,
    /// Where the program's name is in the topology file (for diagnostics).
    pub program_span: Range<usize>,
}

/// A full-duplex point-to-point link; each direction has its own queue and capacity.
#[derive(Clone, Debug)]
pub struct LinkSpec {
    /// Its name (`a-b` unless named).
    pub name: String,
    /// Its two ends (node indices). Direction 0 is `ends[0]` to `ends[1]`.
    pub ends: [usize; 2],
    /// Bits per second, each way.
    pub bandwidth_bps: u64,
    /// Propagation delay, nanoseconds.
    pub delay_ns: u64,
    /// Frames that may wait in each direction's queue (besides the one on the wire).
    pub queue: usize,
}

/// A static route: at `at`, packets for `prefix/len` go to neighbour `via`.
#[derive(Clone, Debug)]
pub struct RouteSpec {
    /// The node the route is on.
    pub at: usize,
    /// The destination prefix.
    pub prefix: u32,
    /// Its length in bits.
    pub len: u8,
    /// The neighbour (node index).
    pub via: usize,
}

/// A load phase: from `at_ns` on, `rate` bytes per second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Phase {
    /// When the phase starts.
    pub at_ns: u64,
    /// Bytes per second (of whole frames).
    pub rate: f64,
}

/// A traffic source.
#[derive(Clone, Debug)]
pub enum SourceSpec {
    /// CD audio (16-bit stereo, 44.1 kHz) in UDP datagrams: a 4-byte sequence number,
    /// then 10 ms of samples (1764 bytes), 100 datagrams a second.
    Audio {
        /// Sending node.
        from: usize,
        /// Receiving node.
        to: usize,
        /// UDP destination (and source) port.
        port: u16,
        /// First datagram.
        start_ns: u64,
        /// No datagram at or after this time.
        stop_ns: u64,
    },
    /// Background load: UDP datagrams of `size`-byte frames with exponentially
    /// distributed gaps (a Poisson process) at the rate of the current phase.
    Load {
        /// Sending node.
        from: usize,
        /// Receiving node.
        to: usize,
        /// UDP destination port.
        port: u16,
        /// Frame size in bytes (Ethernet header included).
        size: usize,
        /// The phases, in time order.
        phases: Vec<Phase>,
    },
    /// The frames of a capture, sent from a node at the capture's pace.
    Capture {
        /// Sending node.
        from: usize,
        /// The capture file.
        file: PathBuf,
        /// When the capture's first frame is sent.
        start_ns: u64,
    },
}

/// An audio player on a node: it plays the datagrams of the audio sources sent to it on
/// `port`, each due `playout_ns` after it was sent; a datagram lost or late is a gap.
#[derive(Clone, Debug)]
pub struct PlayerSpec {
    /// The node.
    pub node: usize,
    /// The UDP port it listens on.
    pub port: u16,
    /// The playout delay.
    pub playout_ns: u64,
}

/// A recorded time series: bytes per second on one direction of a link, of the frames
/// that match (UDP destination ports; none: every frame).
#[derive(Clone, Debug)]
pub struct SeriesSpec {
    /// Its name (a CSV column and a plot's legend).
    pub name: String,
    /// The link.
    pub link: usize,
    /// The direction (0: from `ends[0]`).
    pub dir: usize,
    /// UDP destination ports to count (empty: all frames).
    pub udp_ports: Vec<u16>,
}

/// A checked topology.
#[derive(Clone, Debug)]
pub struct Topology {
    /// The file it came from.
    pub path: PathBuf,
    /// The seed of every random choice.
    pub seed: u64,
    /// How long the simulation runs.
    pub duration_ns: u64,
    /// The window over which `linkLoad()` measures a link.
    pub load_window_ns: u64,
    /// The width of a time series' bins.
    pub bin_ns: u64,
    /// The most events a run may take (a guard against a topology that would run for
    /// ever, such as a load of a terabyte a second).
    pub max_events: u64,
    /// Nodes.
    pub nodes: Vec<NodeSpec>,
    /// Links.
    pub links: Vec<LinkSpec>,
    /// Static routes (they win over the shortest paths).
    pub routes: Vec<RouteSpec>,
    /// Traffic sources.
    pub sources: Vec<SourceSpec>,
    /// Audio players.
    pub players: Vec<PlayerSpec>,
    /// Recorded time series.
    pub series: Vec<SeriesSpec>,
    /// Links whose frames are written to a capture.
    pub captures: Vec<usize>,
    /// Write a trace of every event.
    pub trace: bool,
    /// Nodes that run no program in the baseline run (none: no baseline).
    pub baseline_without: Option<Vec<usize>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    sim: Spanned<SimDef>,
    #[serde(default)]
    node: Vec<NodeDef>,
    #[serde(default)]
    link: Vec<LinkDef>,
    #[serde(default)]
    route: Vec<RouteDef>,
    #[serde(default)]
    source: Vec<SourceDef>,
    #[serde(default)]
    player: Vec<PlayerDef>,
    #[serde(default)]
    series: Vec<SeriesDef>,
    record: Option<RecordDef>,
    baseline: Option<BaselineDef>,
}

type Name = Spanned<String>;
type Val = Spanned<toml::Value>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SimDef {
    #[serde(default = "one")]
    seed: u64,
    duration: Val,
    load_window: Option<Val>,
    bin: Option<Val>,
    max_events: Option<Spanned<i64>>,
}

fn one() -> u64 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeDef {
    name: Name,
    address: Name,
    kind: Option<Name>,
    program: Option<Name>,
    #[serde(default)]
    unverified: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkDef {
    between: Spanned<Vec<Name>>,
    name: Option<Name>,
    bandwidth: Val,
    delay: Option<Val>,
    queue: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteDef {
    at: Name,
    to: Name,
    via: Name,
}

/// A source: which fields apply depends on its kind (checked after reading, since
/// spans do not survive serde's internally tagged enums).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceDef {
    kind: Name,
    from: Name,
    to: Option<Name>,
    port: Option<u16>,
    start: Option<Val>,
    stop: Option<Val>,
    size: Option<Spanned<i64>>,
    phases: Option<Vec<PhaseDef>>,
    file: Option<Name>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PhaseDef {
    at: Val,
    rate: Val,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlayerDef {
    node: Name,
    port: u16,
    playout: Option<Val>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeriesDef {
    name: Name,
    link: Name,
    from: Name,
    #[serde(default)]
    udp_ports: Vec<u16>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordDef {
    #[serde(default)]
    captures: Vec<Name>,
    #[serde(default)]
    trace: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BaselineDef {
    without: Vec<Name>,
}

struct Cx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Cx<'_> {
    fn err(&self, span: Option<Range<usize>>, message: impl Into<String>, label: impl Into<String>) -> TopologyError {
        TopologyError(Box::new(Mistake {
            message: message.into(),
            src: NamedSource::new(self.path.display().to_string(), self.text.to_string()),
            at: span.map(|r| SourceSpan::from(r.start..r.end)),
            label: label.into(),
            help: None,
        }))
    }

    fn quantity(&self, v: &Val, kind: Quantity) -> Result<f64, TopologyError> {
        units::parse(v.get_ref(), kind)
            .map_err(|help| self.err(Some(v.span()), format!("not a {}", kind.what()), "here").with_help(help))
    }

    fn time_ns(&self, v: &Val) -> Result<u64, TopologyError> {
        Ok((self.quantity(v, Quantity::Time)? * 1e9).round() as u64)
    }
}

fn node_index(cx: &Cx<'_>, names: &BTreeMap<&str, usize>, n: &Name) -> Result<usize, TopologyError> {
    names.get(n.get_ref().as_str()).copied().ok_or_else(|| {
        let e = cx.err(Some(n.span()), format!("no node is named `{}`", n.get_ref()), "unknown node");
        let known: Vec<&str> = names.keys().copied().collect();
        e.with_help(match planp_interp::diag::suggest(n.get_ref(), known.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("the nodes are: {}", known.join(", ")),
        })
    })
}

fn address(cx: &Cx<'_>, n: &Name) -> Result<u32, TopologyError> {
    n.get_ref().parse::<Ipv4Addr>().map(u32::from).map_err(|_| {
        cx.err(Some(n.span()), format!("`{}` is not an IPv4 address", n.get_ref()), "here")
            .with_help("write it dotted, as in \"10.0.0.1\"")
    })
}

/// Read and check the topology in `path`.
pub fn read(path: &Path) -> Result<Topology, TopologyError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Cx { path, text: "" }.err(None, format!("cannot read {}: {e}", path.display()), ""))?;
    parse(path, &text)
}

/// Check the topology `text`, read from `path` (programs and captures are found
/// relative to its directory).
pub fn parse(path: &Path, text: &str) -> Result<Topology, TopologyError> {
    let cx = Cx { path, text };
    let f: File = toml::from_str(text).map_err(|e| {
        cx.err(e.span(), e.message().to_string(), "here").with_help("the topology format is described in docs/sim.md")
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let sim = f.sim.get_ref();
    let duration_ns = cx.time_ns(&sim.duration)?;
    if duration_ns == 0 {
        return Err(cx.err(Some(sim.duration.span()), "the simulation must last some time", "zero"));
    }
    let load_window_ns = match &sim.load_window {
        Some(v) => cx.time_ns(v)?.max(1),
        None => 1_000_000_000,
    };
    let bin_ns = match &sim.bin {
        Some(v) => cx.time_ns(v)?.max(1_000),
        None => 1_000_000_000,
    };
    if duration_ns / bin_ns > MAX_BINS {
        return Err(cx
            .err(
                Some(sim.duration.span()),
                format!("the time series would have more than {MAX_BINS} bins"),
                "this long",
            )
            .with_help("make `bin` larger, or the run shorter"));
    }
    let max_events = match &sim.max_events {
        Some(n) if *n.get_ref() < 1 => return Err(cx.err(Some(n.span()), "at least one event", "here")),
        Some(n) => *n.get_ref() as u64,
        None => 100_000_000,
    };

    // Nodes.
    let mut names = BTreeMap::new();
    let mut addrs = BTreeMap::new();
    let mut nodes = Vec::new();
    for n in &f.node {
        let name = n.name.get_ref();
        if names.insert(name.as_str(), nodes.len()).is_some() {
            return Err(cx.err(Some(n.name.span()), format!("two nodes are named `{name}`"), "again"));
        }
        let a = address(&cx, &n.address)?;
        if let Some(other) = addrs.insert(a, name.clone()) {
            return Err(cx.err(Some(n.address.span()), format!("`{name}` has the address of `{other}`"), "used twice"));
        }
        let kind = match n.kind.as_ref().map(|k| k.get_ref().as_str()) {
            None | Some("host") => Kind::Host,
            Some("router") => Kind::Router,
            Some("bridge") => Kind::Bridge,
            Some("hub") => Kind::Hub,
            Some(k) => {
                return Err(cx
                    .err(n.kind.as_ref().map(|k| k.span()), format!("no node kind `{k}`"), "here")
                    .with_help("a node is a \"host\", a \"router\", a \"bridge\" or a \"hub\""));
            }
        };
        if let (Kind::Hub, Some(p)) = (kind, &n.program) {
            return Err(cx.err(Some(p.span()), "a hub runs no program", "here").with_help(
                "a hub only repeats frames; put the program on a host on the segment (it sees every frame)",
            ));
        }
        let program = match &n.program {
            Some(p) => {
                let file = dir.join(p.get_ref());
                let text = std::fs::read_to_string(&file).map_err(|e| {
                    cx.err(Some(p.span()), format!("cannot read {}: {e}", file.display()), "this program")
                })?;
                Some((file, text))
            }
            None => None,
        };
        let program_span = n.program.as_ref().map_or(n.name.span(), |p| p.span());
        nodes.push(NodeSpec { name: name.clone(), address: a, kind, program, unverified: n.unverified, program_span });
    }
    if nodes.is_empty() {
        return Err(cx.err(None, "the topology has no nodes", ""));
    }

    // Links.
    let mut links: Vec<LinkSpec> = Vec::new();
    let mut link_names = BTreeMap::new();
    for l in &f.link {
        let between = l.between.get_ref();
        if between.len() != 2 {
            return Err(cx.err(Some(l.between.span()), "a link is between two nodes", "not two"));
        }
        let a = node_index(&cx, &names, &between[0])?;
        let b = node_index(&cx, &names, &between[1])?;
        if a == b {
            return Err(cx.err(Some(l.between.span()), "a link joins two different nodes", "a loop"));
        }
        if links.iter().any(|x| x.ends == [a, b] || x.ends == [b, a]) {
            return Err(cx.err(Some(l.between.span()), "these nodes are already linked", "second link"));
        }
        let name = match &l.name {
            Some(n) => n.get_ref().clone(),
            None => format!("{}-{}", nodes[a].name, nodes[b].name),
        };
        let bw = cx.quantity(&l.bandwidth, Quantity::Bandwidth)?;
        if bw < 1.0 {
            return Err(cx.err(Some(l.bandwidth.span()), "a link carries at least 1 bit per second", "too slow"));
        }
        let delay_ns = match &l.delay {
            Some(v) => cx.time_ns(v)?,
            None => 0,
        };
        let queue = match &l.queue {
            Some(q) if *q.get_ref() < 0 || *q.get_ref() > 1_000_000 => {
                return Err(cx.err(Some(q.span()), "a queue holds 0 to 1000000 frames", "out of range"));
            }
            Some(q) => *q.get_ref() as usize,
            None => 64,
        };
        if link_names.insert(name.clone(), links.len()).is_some() {
            return Err(cx.err(Some(l.between.span()), format!("two links are named `{name}`"), "again"));
        }
        links.push(LinkSpec { name, ends: [a, b], bandwidth_bps: bw as u64, delay_ns, queue });
    }

    // Routes.
    let mut routes = Vec::new();
    for r in &f.route {
        let at = node_index(&cx, &names, &r.at)?;
        let via = node_index(&cx, &names, &r.via)?;
        if !links.iter().any(|l| l.ends == [at, via] || l.ends == [via, at]) {
            return Err(cx.err(
                Some(r.via.span()),
                format!("`{}` is not a neighbour of `{}`", r.via.get_ref(), r.at.get_ref()),
                "no link to it",
            ));
        }
        let (p, len) = match r.to.get_ref().split_once('/') {
            Some((a, l)) => (a, l.parse::<u8>().ok().filter(|&l| l <= 32)),
            None => (r.to.get_ref().as_str(), Some(32)),
        };
        let (Ok(prefix), Some(len)) = (p.parse::<Ipv4Addr>(), len) else {
            return Err(cx
                .err(Some(r.to.span()), format!("`{}` is not a destination", r.to.get_ref()), "here")
                .with_help("an address (\"10.0.2.1\") or a prefix (\"10.0.2.0/24\")"));
        };
        routes.push(RouteSpec { at, prefix: u32::from(prefix), len, via });
    }

    // Sources.
    let mut sources = Vec::new();
    for s in &f.source {
        let kind = s.kind.get_ref().as_str();
        // The fields a kind takes; any other one given is a mistake.
        let allowed: &[&str] = match kind {
            "audio" => &["to", "port", "start", "stop"],
            "load" => &["to", "port", "size", "phases"],
            "capture" => &["file", "start"],
            _ => {
                return Err(cx
                    .err(Some(s.kind.span()), format!("no source kind `{kind}`"), "here")
                    .with_help("a source is \"audio\", \"load\" or \"capture\""));
            }
        };
        let given = [
            ("to", s.to.is_some()),
            ("port", s.port.is_some()),
            ("start", s.start.is_some()),
            ("stop", s.stop.is_some()),
            ("size", s.size.is_some()),
            ("phases", s.phases.is_some()),
            ("file", s.file.is_some()),
        ];
        if let Some((field, _)) = given.iter().find(|(f, g)| *g && !allowed.contains(f)) {
            return Err(cx
                .err(Some(s.kind.span()), format!("a source of kind `{kind}` has no `{field}`"), "this kind")
                .with_help(format!("its fields are: from, {}", allowed.join(", "))));
        }
        fn need<'n>(cx: &Cx<'_>, s: &SourceDef, f: &'n Option<Name>, field: &str) -> Result<&'n Name, TopologyError> {
            let kind = s.kind.get_ref();
            f.as_ref().ok_or_else(|| {
                cx.err(Some(s.kind.span()), format!("a source of kind `{kind}` needs `{field}`"), "this kind")
            })
        }
        let from = node_index(&cx, &names, &s.from)?;
        let time = |v: &Option<Val>| v.as_ref().map(|v| cx.time_ns(v)).transpose();
        let src = match kind {
            "audio" => {
                let (start_ns, stop_ns) = (time(&s.start)?.unwrap_or(0), time(&s.stop)?.unwrap_or(duration_ns));
                if stop_ns <= start_ns {
                    let at = s.stop.as_ref().or(s.start.as_ref()).map(|v| v.span());
                    return Err(cx.err(at, "an audio source stops after it starts", "not after the start"));
                }
                SourceSpec::Audio {
                    from,
                    to: node_index(&cx, &names, need(&cx, s, &s.to, "to")?)?,
                    port: s.port.unwrap_or(5004),
                    start_ns,
                    stop_ns,
                }
            }
            "load" => {
                let size = match &s.size {
                    Some(n) if !(60..=9000).contains(n.get_ref()) => {
                        return Err(cx.err(Some(n.span()), "a load frame is 60 to 9000 bytes", "out of range"));
                    }
                    Some(n) => *n.get_ref() as usize,
                    None => 1000,
                };
                let Some(phases) = &s.phases else {
                    return Err(cx.err(Some(s.kind.span()), "a source of kind `load` needs `phases`", "this kind"));
                };
                let mut ps = Vec::new();
                for p in phases {
                    let at_ns = cx.time_ns(&p.at)?;
                    if ps.last().is_some_and(|l: &Phase| l.at_ns >= at_ns) {
                        return Err(cx.err(Some(p.at.span()), "phases must be in time order", "not after the last"));
                    }
                    ps.push(Phase { at_ns, rate: cx.quantity(&p.rate, Quantity::Rate)? });
                }
                SourceSpec::Load {
                    from,
                    to: node_index(&cx, &names, need(&cx, s, &s.to, "to")?)?,
                    port: s.port.unwrap_or(9),
                    size,
                    phases: ps,
                }
            }
            _ => {
                let file = need(&cx, s, &s.file, "file")?;
                let path = dir.join(file.get_ref());
                if !path.is_file() {
                    return Err(cx.err(Some(file.span()), format!("no capture at {}", path.display()), "here"));
                }
                SourceSpec::Capture { from, file: path, start_ns: time(&s.start)?.unwrap_or(0) }
            }
        };
        if let SourceSpec::Audio { from, to, .. } | SourceSpec::Load { from, to, .. } = src
            && from == to
        {
            return Err(cx.err(Some(s.from.span()), "a source sends to another node", "to itself"));
        }
        sources.push(src);
    }

    let mut players = Vec::new();
    for p in &f.player {
        let playout_ns = p.playout.as_ref().map(|v| cx.time_ns(v)).transpose()?.unwrap_or(100_000_000);
        players.push(PlayerSpec { node: node_index(&cx, &names, &p.node)?, port: p.port, playout_ns });
    }

    let link_index = |n: &Name| {
        link_names.get(n.get_ref()).copied().ok_or_else(|| {
            let e = cx.err(Some(n.span()), format!("no link is named `{}`", n.get_ref()), "unknown link");
            let known: Vec<&str> = link_names.keys().map(|s| s.as_str()).collect();
            e.with_help(format!("the links are: {}", known.join(", ")))
        })
    };
    let mut series = Vec::new();
    for s in &f.series {
        let link = link_index(&s.link)?;
        let from = node_index(&cx, &names, &s.from)?;
        let dir = match links[link].ends.iter().position(|&e| e == from) {
            Some(d) => d,
            None => {
                return Err(cx.err(
                    Some(s.from.span()),
                    format!("`{}` is not an end of link `{}`", s.from.get_ref(), s.link.get_ref()),
                    "here",
                ));
            }
        };
        series.push(SeriesSpec { name: s.name.get_ref().clone(), link, dir, udp_ports: s.udp_ports.clone() });
    }
    let (captures, trace) = match &f.record {
        Some(r) => (r.captures.iter().map(link_index).collect::<Result<Vec<_>, _>>()?, r.trace),
        None => (Vec::new(), false),
    };
    let baseline_without = match &f.baseline {
        Some(b) => Some(b.without.iter().map(|n| node_index(&cx, &names, n)).collect::<Result<Vec<_>, _>>()?),
        None => None,
    };
    Ok(Topology {
        path: path.to_path_buf(),
        seed: sim.seed,
        duration_ns,
        load_window_ns,
        bin_ns,
        max_events,
        nodes,
        links,
        routes,
        sources,
        players,
        series,
        captures,
        trace,
        baseline_without,
    })
}
