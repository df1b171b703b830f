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
        inline: None,
    },
    Prim {
        name: "println",
        signature: "'a -> unit",
        doc: "Like `print`, then a newline.",
        typing: any_to_unit,
        compute: println,
        raises: &[],
        effectful: true,
        inline: None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Effect;
    use crate::testing::*;

    #[test]
    fn print_and_println_write_values() {
        let mut rt = Rt::new();
        let s = arg_bytes(&mut rt, Type::String, b"caf\xe9");
        call(&mut rt, "print", &[s]).unwrap();
        call(&mut rt, "print", &[int(-5)]).unwrap();
        call(&mut rt, "println", &[(Type::Host, 0x0a00_0001)]).unwrap();
        let l = rt.heap.list_from(&[(-1i64) as Word, 2], false);
        call(&mut rt, "println", &[(Type::List(Box::new(Type::Int)), l)]).unwrap();
        assert_eq!(rt.take_effects(), vec![Effect::Print(b"caf\xe9-510.0.0.1\n[~1, 2]\n".to_vec())]);
        assert_eq!(type_of("print", &[Type::Var(0)]), Ok(Type::Unit), "any type");
        assert!(type_of("println", &[]).is_err());
    }
}
