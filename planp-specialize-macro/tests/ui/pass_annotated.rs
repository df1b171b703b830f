use planp_specialize_macro::specialize;

#[specialize]
fn eval(#[stat] e: &u32, #[dynamic] acc: &mut u64) -> u64 {
    *acc += u64::from(*e);
    *acc
}

fn main() {
    let mut acc = 1;
    assert_eq!(eval(&2, &mut acc), 3);
}
