use planp_specialize_macro::specialize;

#[specialize]
fn eval(#[stat] e: &u32, acc: &mut u64) -> u64 {
    *acc += u64::from(*e);
    *acc
}

fn main() {}
