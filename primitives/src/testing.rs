//! Helpers for the unit tests of the primitives: a small [`TypeCx`] (unification over a
//! substitution), and calls of a primitive by name that run its typing function on the
//! argument types, build the [`Site`] from the result, and run its compute function.

use crate::types::Mismatch;
use crate::{Exn, PrimTypeError, Rt, Site, Type, TypeCx, Word, lookup};

/// A substitution: variable `i` is solved when `sol[i]` is `Some`.
#[derive(Default)]
pub struct Cx {
    sol: Vec<Option<Type>>,
}

impl Cx {
    fn occurs(&self, v: u32, t: &Type) -> bool {
        match self.resolve(t) {
            Type::Var(w) => v == w,
            Type::Tuple(ts) => ts.iter().any(|t| self.occurs(v, t)),
            Type::List(t) => self.occurs(v, &t),
            Type::Table(k, x) => self.occurs(v, &k) || self.occurs(v, &x),
            _ => false,
        }
    }

    fn unify_in(&mut self, a: &Type, b: &Type) -> Result<(), Mismatch> {
        let (a, b) = (self.resolve(a), self.resolve(b));
        match (&a, &b) {
            (Type::Var(x), Type::Var(y)) if x == y => Ok(()),
            (Type::Var(x), t) | (t, Type::Var(x)) => {
                if self.occurs(*x, t) {
                    return Err(Mismatch);
                }
                self.sol[*x as usize] = Some(t.clone());
                Ok(())
            }
            (Type::Error, _) | (_, Type::Error) => Ok(()),
            (Type::Tuple(xs), Type::Tuple(ys)) if xs.len() == ys.len() => {
                xs.iter().zip(ys).try_for_each(|(x, y)| self.unify_in(x, y))
            }
            (Type::List(x), Type::List(y)) => self.unify_in(x, y),
            (Type::Table(k1, v1), Type::Table(k2, v2)) => {
                self.unify_in(k1, k2)?;
                self.unify_in(v1, v2)
            }
            (x, y) if x == y => Ok(()),
            _ => Err(Mismatch),
        }
    }
}

impl TypeCx for Cx {
    fn fresh(&mut self) -> Type {
        self.sol.push(None);
        Type::Var(self.sol.len() as u32 - 1)
    }

    fn resolve(&self, t: &Type) -> Type {
        match t {
            Type::Var(v) => match self.sol.get(*v as usize) {
                Some(Some(t)) => self.resolve(t),
                _ => t.clone(),
            },
            Type::Tuple(ts) => Type::Tuple(ts.iter().map(|t| self.resolve(t)).collect()),
            Type::List(t) => Type::List(Box::new(self.resolve(t))),
            Type::Table(k, v) => Type::Table(Box::new(self.resolve(k)), Box::new(self.resolve(v))),
            t => t.clone(),
        }
    }

    fn unify(&mut self, a: &Type, b: &Type) -> Result<(), Mismatch> {
        let saved = self.sol.clone();
        let r = self.unify_in(a, b);
        if r.is_err() {
            self.sol = saved;
        }
        r
    }
}

/// The result type the primitive `name` gives to arguments of types `args` (resolved).
pub fn type_of(name: &str, args: &[Type]) -> Result<Type, PrimTypeError> {
    let (_, p) = lookup(name).unwrap_or_else(|| panic!("no primitive {name}"));
    let mut cx = Cx::default();
    // Variables in the arguments (numbered from 0) exist, unsolved.
    while args.iter().any(|t| mentions(t, cx.sol.len() as u32)) {
        cx.fresh();
    }
    let ret = (p.typing)(&mut cx, args)?;
    Ok(cx.resolve(&ret))
}

/// Does `t` mention a variable numbered `n` or above?
fn mentions(t: &Type, n: u32) -> bool {
    match t {
        Type::Var(v) => *v >= n,
        Type::Tuple(ts) => ts.iter().any(|t| mentions(t, n)),
        Type::List(t) => mentions(t, n),
        Type::Table(k, v) => mentions(k, n) || mentions(v, n),
        _ => false,
    }
}

/// Call the primitive `name` on words of the given types: its typing function must
/// accept them, and its compute function runs with the site that typing gives.
pub fn call(rt: &mut Rt, name: &str, args: &[(Type, Word)]) -> Result<Word, Exn> {
    let tys: Vec<Type> = args.iter().map(|(t, _)| t.clone()).collect();
    let ret = type_of(name, &tys).unwrap_or_else(|e| panic!("{name} rejects {tys:?}: {}", e.message));
    let words: Vec<Word> = args.iter().map(|&(_, w)| w).collect();
    call_at(rt, name, &words, &Site { args: tys, ret })
}

/// Call the compute function of `name` with a site built by hand.
pub fn call_at(rt: &mut Rt, name: &str, args: &[Word], site: &Site) -> Result<Word, Exn> {
    let (_, p) = lookup(name).unwrap_or_else(|| panic!("no primitive {name}"));
    (p.compute)(rt, args, site)
}

/// New bytes in the scratch space, as an argument of type `ty`.
pub fn arg_bytes(rt: &mut Rt, ty: Type, b: &[u8]) -> (Type, Word) {
    (ty, rt.heap.alloc_bytes(b))
}

/// An `int` argument.
pub fn int(v: i64) -> (Type, Word) {
    (Type::Int, v as Word)
}

/// The bytes of a result.
pub fn bytes_of(rt: &Rt, w: Word) -> Vec<u8> {
    rt.heap.bytes(w).to_vec()
}

/// Call a primitive whose result is bytes and return them.
pub fn call_bytes(rt: &mut Rt, name: &str, args: &[(Type, Word)]) -> Result<Vec<u8>, Exn> {
    call(rt, name, args).map(|w| bytes_of(rt, w))
}

/// Call a primitive on one header (of type `ty`, holding `hdr`) and an int: the setters.
pub fn set_field(ty: Type, name: &str, hdr: &[u8], v: i64) -> Vec<u8> {
    let mut rt = Rt::new();
    let h = arg_bytes(&mut rt, ty, hdr);
    call_bytes(&mut rt, name, &[h, int(v)]).unwrap()
}

/// Call a getter on one header and return the result as a signed int.
pub fn get_field(ty: Type, name: &str, hdr: &[u8]) -> i64 {
    let mut rt = Rt::new();
    let h = arg_bytes(&mut rt, ty, hdr);
    call(&mut rt, name, &[h]).unwrap() as i64
}

/// Call a primitive on one argument.
pub fn call1(rt: &mut Rt, name: &str, arg: &(Type, Word)) -> Result<Word, Exn> {
    call(rt, name, std::slice::from_ref(arg))
}
