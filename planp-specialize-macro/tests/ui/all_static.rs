use planp_specialize_macro::specialize;

#[specialize]
fn size(#[stat] e: &u32) -> u32 {
    *e * 2
}

fn main() {}
