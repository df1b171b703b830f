use planp_specialize_macro::specialize;

pub struct Machine {
    pub bytes: Vec<u8>,
}

impl Machine {
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

pub fn sum(b: &[u8]) -> u64 {
    b.iter().map(|&x| x as u64).sum()
}

#[specialize]
mod engine {
    use super::{Machine, sum};
    // A byte slice of the machine is only read where it is bound: it is an address and
    // a length in generated code, not a value that can be passed on.
    pub fn f(#[dynamic] m: &mut Machine) -> u64 {
        let b: &[u8] = m.bytes();
        sum(b)
    }
}
fn main() {}
