//! Output: `print` and `println`.

use crate::types::check;
use crate::{Exn, Prim, PrimTypeError, Rt, Site, Type, TypeCx, Word, value};

/// The primitives of this file.
pub const PRIMS: &[Prim] = &[
    Prim {
        name: "print",
        signature: "'a -> unit",
        doc: "Write a value: strings and chars as they are, other values as the REPL shows them.",
        typing: any_to_unit,
        compute: print,
        raises: &[],
        effectful: true,
    },
    Prim {
        name: "println",
        signature: "'a -> unit",
        doc: "Like `print`, then a newline.",
        typing: any_to_unit,
        compute: println,
        raises: &[],
        effectful: true,
    },
];

fn any_to_unit(_: &mut dyn TypeCx, args: &[Type]) -> Result<Type, PrimTypeError> {
    check::arity(args, 1)?;
    Ok(Type::Unit)
}

fn print(rt: &mut Rt, a: &[Word], site: &Site) -> Result<Word, Exn> {
    let mut s = Vec::new();
    value::display(&rt.heap, &site.args[0], a[0], &mut s);
    rt.print(&s);
    Ok(0)
}

fn println(rt: &mut Rt, a: &[Word], site: &Site) -> Result<Word, Exn> {
    let mut s = Vec::new();
    value::display(&rt.heap, &site.args[0], a[0], &mut s);
    s.push(b'\n');
    rt.print(&s);
    Ok(0)
}
