use planp_specialize_macro::specialize;

pub struct Machine {
    pub frame: Vec<u64>,
}

#[specialize]
mod engine {
    use super::Machine;
    // A note is formatted when the code is generated: it can only show static values,
    // whether passed as arguments or captured by the format string.
    pub fn f(#[stat] k: u64, #[dynamic] x: u64, #[dynamic] m: &mut Machine) -> u64 {
        note!("adding {k} to {}", x);
        x.wrapping_add(k)
    }
    pub fn g(#[stat] k: u64, #[dynamic] x: u64, #[dynamic] m: &mut Machine) -> u64 {
        note!("adding {k} to {x:?}");
        x.wrapping_add(k)
    }
}
fn main() {}
