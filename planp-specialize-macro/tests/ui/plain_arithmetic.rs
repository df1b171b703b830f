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

#[specialize]
mod engine {
    use super::Machine;
    pub fn f(#[dynamic] x: u64, #[dynamic] m: &mut Machine) -> u64 {
        let y = m.get(x);
        x + y
    }
}
fn main() {}
