use planp_specialize_macro::specialize;

pub struct Machine {
    pub x: u64,
}

fn double(_m: &mut Machine, a: u64) -> u64 {
    a.wrapping_mul(2)
}

fn double_gen(a: planp_jit::V, g: &mut planp_jit::Gen<'_, Machine>) -> planp_jit::V {
    let two = g.imm(2);
    g.op2(planp_jit::Op2::Mul, a, two)
}

static DOUBLE: planp_jit::Inline1<Machine> = planp_jit::Inline1 { run: double, r#gen: double_gen };

#[specialize]
mod engine {
    use super::{DOUBLE, Machine};
    // An inlined function runs on the machine: its second argument must be it.
    pub fn f(#[dynamic] a: u64, #[dynamic] m: &mut Machine) -> u64 {
        planp_jit::inline1(&DOUBLE, a, a)
    }
}
fn main() {}
