//! A toy two-level interpreter: the macro accepts it and emits its generating
//! extension (`eval_gen`, `sum_gen`) next to the interpreter.
use planp_specialize_macro::specialize;

pub enum Expr {
    Num(u64),
    Slot(u32),
    Add(Box<Expr>, Box<Expr>),
    Less(Box<Expr>, Box<Expr>),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    Div(Box<Expr>, Box<Expr>),
    Twice(Box<Expr>),
}

pub struct Machine {
    pub frame: Vec<u64>,
    pub calls: u64,
}

impl Machine {
    pub fn frame_load(&self, s: u32) -> u64 {
        self.frame[s as usize]
    }
    pub fn frame_store(&mut self, s: u32, w: u64) {
        self.frame[s as usize] = w;
    }
    pub fn count(&mut self, x: u64) -> u64 {
        self.calls += 1;
        x
    }
    pub fn check(&mut self, x: u64) -> Option<u64> {
        if x == 0 { None } else { Some(x) }
    }
}

#[specialize]
pub mod engine {
    use super::{Expr, Machine};

    pub fn eval(#[stat] e: &Expr, #[dynamic] m: &mut Machine) -> Option<u64> {
        // A note from static values: dropped from the interpreter, recorded by the
        // generating extension when the generator keeps notes.
        note!("toy node of {} bytes", std::mem::size_of_val(e));
        match e {
            Expr::Num(n) => Some(*n),
            Expr::Slot(s) => Some(m.frame_load(*s)),
            Expr::Add(a, b) => {
                let x = eval(a, m)?;
                let y = eval(b, m)?;
                Some(x.wrapping_add(y))
            }
            Expr::Less(a, b) => Some(((eval(a, m)? as i64) < (eval(b, m)? as i64)) as u64),
            Expr::If(c, t, f) => {
                if eval(c, m)? != 0 { eval(t, m) } else { eval(f, m) }
            }
            Expr::Div(a, b) => {
                let x = eval(a, m)?;
                let z = eval(b, m)?;
                let y = m.check(z)?;
                Some(x.wrapping_div(y))
            }
            Expr::Twice(a) => {
                let x = eval(a, m)?;
                Some(sum(x, m).wrapping_add(m.count(x)))
            }
        }
    }

    pub fn sum(#[dynamic] n: u64, #[dynamic] _m: &mut Machine) -> u64 {
        #[dynamic]
        let mut acc = 0u64;
        let mut i = n;
        while i != 0 {
            acc = acc.wrapping_add(i);
            i = i.wrapping_sub(1);
        }
        acc
    }
}

fn main() {
    let e = Expr::Twice(Box::new(Expr::Add(Box::new(Expr::Slot(0)), Box::new(Expr::Num(2)))));
    let mut m = Machine { frame: vec![1], calls: 0 };
    assert_eq!(engine::eval(&e, &mut m), Some(6 + 3));
    let _gen: for<'p> fn(&'p Expr, &mut planp_jit::Gen<'p, Machine>) -> planp_jit::V = engine::eval_gen;
}
