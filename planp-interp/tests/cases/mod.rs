//! The data-driven tests' files: the programs of a directory under `tests/data`, and
//! their names as the expected outputs show them.

use std::path::{Path, PathBuf};

/// The `.planp` files of `tests/data/DIR`, sorted (at least one).
pub fn cases(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "planp"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no cases in {}", root.display());
    v
}

/// `DIR/NAME.planp`, the name a case goes by.
pub fn name_of(p: &Path) -> String {
    format!(
        "{}/{}",
        p.parent().unwrap().file_name().unwrap().to_string_lossy(),
        p.file_name().unwrap().to_string_lossy()
    )
}
