//! Facts about the node a program runs on and the packet it is processing: its address,
//! the packet's time, the load of the outgoing link, the node's neighbours and the one
//! the packet came from; and `deliver`, which hands a value to the node itself.
//!
//! These read the run-time context ([`Rt::this_host`], [`Rt::now_ns`], [`Rt::load`],
//! [`Rt::load_reading`], [`Rt::neighbors`], [`Rt::prev_hop`]), not
//! their arguments, so they are effectful: they must not be evaluated before the packet
//! they are about. Times are the packets' timestamps, not the wall clock, so replaying a
//! capture sees the times it was taken at.

use crate::types::{PrimTypeError, TypeCx, check};
use crate::{Exn, Prim, Rt, Site, Type, Word, mono, value};

/// The primitives of this file.
pub const PRIMS: &[Prim] = &[
    Prim {
        name: "thisHost",
        signature: "() -> host",
        doc: "thisHost(): the address of the node the program runs on.",
        typing: mono!([] -> Type::Host),
        compute: this_host,
        raises: &[],
        effectful: true,
        inline: None,
    },
    Prim {
        name: "now",
        signature: "() -> int",
        doc: "now(): the time of the current packet, in microseconds since the Unix epoch.",
        typing: mono!([] -> Type::Int),
        compute: now,
        raises: &[],
        effectful: true,
        inline: None,
    },
    Prim {
        name: "deliver",
        signature: "'a -> unit",
        doc: "deliver(v): hand v to the local host's applications (an end host's way of consuming a packet; it is not sent on).",
        typing: ty_deliver,
        compute: deliver,
        raises: &[],
        effectful: true,
        inline: None,
    },
    Prim {
        name: "linkLoad",
        signature: "() -> int",
        doc: "linkLoad(): the bytes per second sent on the outgoing link over the last second (a sliding window ending at the current packet's time).",
        typing: mono!([] -> Type::Int),
        compute: link_load,
        raises: &[],
        effectful: true,
        inline: None,
    },
    Prim {
        name: "neighbors",
        signature: "() -> host list",
        doc: "neighbors(): the node's neighbours, one per link, in the order of its links ([] when the node runs alone over a capture).",
        typing: mono!([] -> Type::List(Box::new(Type::Host))),
        compute: neighbors,
        raises: &[],
        effectful: true,
        inline: None,
    },
    Prim {
        name: "prevHop",
        signature: "() -> host",
        doc: "prevHop(): the neighbour the current packet came from (0.0.0.0 when not known, as over a capture).",
        typing: mono!([] -> Type::Host),
        compute: prev_hop,
        raises: &[],
        effectful: true,
        inline: None,
    },
];

/// `deliver` takes any value with an encoding: no hash table, and a type known here.
fn ty_deliver(cx: &mut dyn TypeCx, a: &[Type]) -> Result<Type, PrimTypeError> {
    check::arity(a, 1)?;
    fn has(t: &Type, p: &dyn Fn(&Type) -> bool) -> bool {
        p(t) || match t {
            Type::Tuple(ts) => ts.iter().any(|t| has(t, p)),
            Type::List(t) => has(t, p),
            Type::Table(k, v) => has(k, p) || has(v, p),
            _ => false,
        }
    }
    let t = cx.resolve(&a[0]);
    if has(&t, &|t| matches!(t, Type::Table(..))) {
        return Err(PrimTypeError::at(0, format!("a value of type `{t}` cannot be delivered: it holds a hash table"))
            .with_help("deliver the packet or the values taken from the table"));
    }
    if has(&t, &|t| matches!(t, Type::Var(_))) {
        return Err(PrimTypeError::at(0, format!("the type of what is delivered is not known here (`{t}`)"))
            .with_help("give the value a type, e.g. with a typed `val`"));
    }
    Ok(Type::Unit)
}

fn deliver(rt: &mut Rt, a: &[Word], site: &Site) -> Result<Word, Exn> {
    let mut b = Vec::new();
    value::encode(&rt.heap, &site.args[0], a[0], &mut b);
    rt.deliver(b);
    Ok(0)
}

fn this_host(rt: &mut Rt, _: &[Word], _: &Site) -> Result<Word, Exn> {
    Ok(rt.this_host as Word)
}

fn now(rt: &mut Rt, _: &[Word], _: &Site) -> Result<Word, Exn> {
    Ok(rt.now_ns / 1000)
}

fn link_load(rt: &mut Rt, _: &[Word], _: &Site) -> Result<Word, Exn> {
    let bps = match rt.load_reading {
        Some(r) => r,
        None => rt.load.bytes_per_second(rt.now_ns),
    };
    // A rate that does not fit a non-negative int is not a rate any link has; saturate.
    Ok(bps.min(i64::MAX as u64))
}

fn neighbors(rt: &mut Rt, _: &[Word], _: &Site) -> Result<Word, Exn> {
    let ws: Vec<Word> = rt.neighbors.iter().map(|&h| h as Word).collect();
    Ok(rt.heap.list_from(&ws, false))
}

fn prev_hop(rt: &mut Rt, _: &[Word], _: &Site) -> Result<Word, Exn> {
    Ok(rt.prev_hop as Word)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rt::LinkLoad;
    use crate::testing::*;

    #[test]
    fn this_host_and_now() {
        let mut rt = Rt::new();
        rt.this_host = 0x0a00_00fe;
        rt.now_ns = 1_700_000_000_123_456_789;
        assert_eq!(call(&mut rt, "thisHost", &[]), Ok(0x0a00_00fe));
        assert_eq!(call(&mut rt, "now", &[]), Ok(1_700_000_000_123_456), "microseconds, truncated");
        rt.now_ns = 999;
        assert_eq!(call(&mut rt, "now", &[]), Ok(0));
        rt.now_ns = u64::MAX;
        assert!((call(&mut rt, "now", &[]).unwrap() as i64) > 0, "never negative");
    }

    #[test]
    fn link_load_reads_the_window_at_the_packet_time() {
        let mut rt = Rt::new();
        assert_eq!(call(&mut rt, "linkLoad", &[]), Ok(0));
        rt.load = LinkLoad::new(1_000_000_000);
        rt.load.record(0, 1000);
        rt.load.record(500_000_000, 500);
        rt.now_ns = 900_000_000;
        assert_eq!(call(&mut rt, "linkLoad", &[]), Ok(1500));
        rt.now_ns = 1_200_000_000;
        assert_eq!(call(&mut rt, "linkLoad", &[]), Ok(500), "the first sample left the window");
        rt.now_ns = 3_000_000_000;
        assert_eq!(call(&mut rt, "linkLoad", &[]), Ok(0));
        rt.load_reading = Some(125_000);
        assert_eq!(call(&mut rt, "linkLoad", &[]), Ok(125_000), "a reading given by the simulator wins");
    }

    #[test]
    fn neighbours_and_previous_hop() {
        let mut rt = Rt::new();
        let l = call(&mut rt, "neighbors", &[]).unwrap();
        assert!(rt.heap.list_to_vec(l).is_empty());
        assert_eq!(call(&mut rt, "prevHop", &[]), Ok(0));
        rt.neighbors = vec![0x0a00_0001, 0x0a00_0102];
        rt.prev_hop = 0x0a00_0102;
        let l = call(&mut rt, "neighbors", &[]).unwrap();
        assert_eq!(rt.heap.list_to_vec(l), vec![0x0a00_0001, 0x0a00_0102]);
        assert_eq!(call(&mut rt, "prevHop", &[]), Ok(0x0a00_0102));
    }

    #[test]
    fn typing() {
        assert_eq!(type_of("thisHost", &[]), Ok(Type::Host));
        assert_eq!(type_of("now", &[]), Ok(Type::Int));
        assert!(type_of("linkLoad", &[Type::Unit]).is_err(), "called as linkLoad(), not with ()");
        assert_eq!(type_of("neighbors", &[]), Ok(Type::List(Box::new(Type::Host))));
        assert_eq!(type_of("prevHop", &[]), Ok(Type::Host));
    }
}
