//! A network of PLAN-P nodes in one process (`planp sim`, `docs/sim.md`).
//!
//! A topology file ([`topology`]) names hosts, routers and bridges, the links between
//! them (bandwidth, delay, queue), routes, the program each node runs, traffic sources
//! (CD audio, background load in phases, captures replayed) and what to record. The
//! simulation ([`sim`]) is a deterministic discrete-event loop: each node runs its
//! program (`planp_interp::Node`, either engine) on every frame that reaches it, and
//! links queue, delay and drop. The results ([`output`]) are a capture per recorded
//! link (pcap), a trace, per-link time series (CSV), what audio players heard, and plots
//! (SVG, with plotters).

pub mod output;
pub mod sim;
pub mod topology;
pub mod units;

pub use sim::{Options, Report, SimError, run};
pub use topology::{Topology, TopologyError};
