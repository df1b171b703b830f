use planp_specialize_macro::specialize;

#[specialize(fast)]
fn eval(#[stat] e: &u32, #[dynamic] acc: &mut u64) -> u64 {
    *acc += u64::from(*e);
    *acc
}

fn main() {}
