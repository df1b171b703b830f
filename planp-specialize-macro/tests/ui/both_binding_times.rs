use planp_specialize_macro::specialize;

#[specialize]
fn eval(#[stat] #[dynamic] e: &u32, #[dynamic] acc: &mut u64) -> u64 {
    *acc += u64::from(*e);
    *acc
}

fn main() {}
