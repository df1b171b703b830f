use planp_specialize_macro::specialize;

pub struct Machine {
    pub frame: Vec<u64>,
    pub data: Vec<u64>,
}

impl Machine {
    pub fn get(&self, i: u64) -> u64 {
        self.data[i as usize]
    }
    pub fn fallible(&mut self) -> Result<u64, ()> {
        Ok(1)
    }
}

pub fn six(_m: &Machine, a: u64, b: u64, c: u64, d: u64, e: u64, f: u64) -> u64 {
    a ^ b ^ c ^ d ^ e ^ f
}

#[specialize]
mod engine {
    use super::{Machine, six};
    pub fn f(#[dynamic] x: u64, #[dynamic] m: &mut Machine) -> u64 {
        six(m, x, x, x, x, x, x)
    }
}
fn main() {}
