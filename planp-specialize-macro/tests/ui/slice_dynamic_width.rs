use planp_specialize_macro::specialize;

pub struct Machine {
    pub bytes: Vec<u8>,
}

impl Machine {
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

#[specialize]
mod engine {
    use super::Machine;
    use planp_jit::BeBytes;
    // A byte slice is read with a static width (the offset may be dynamic).
    pub fn f(#[dynamic] n: usize, #[dynamic] m: &mut Machine) -> u64 {
        let b: &[u8] = m.bytes();
        b.be(1, n)
    }
}
fn main() {}
