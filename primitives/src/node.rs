//! Facts about the node a program runs on and the packet it is processing: its address,
//! the packet's time, and the load of the outgoing link; and `deliver`, which hands a
//! value to the node itself.
//!
//! These read the run-time context ([`Rt::this_host`], [`Rt::now_ns`], [`Rt::load`]), not
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
    // A rate that does not fit a non-negative int is not a rate any link has; saturate.
    Ok(rt.load.bytes_per_second(rt.now_ns).min(i64::MAX as u64))
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
    }

    #[test]
    fn typing() {
        assert_eq!(type_of("thisHost", &[]), Ok(Type::Host));
        assert_eq!(type_of("now", &[]), Ok(Type::Int));
        assert!(type_of("linkLoad", &[Type::Unit]).is_err(), "called as linkLoad(), not with ()");
    }
}
