//! Every input saved in `tests/fixtures/fuzz/<target>/` (crashes `cargo xtask fuzz` found,
//! and seeds) runs through its harness: a fixed crash stays fixed, on stable.

use std::path::PathBuf;

#[test]
fn saved_fuzz_inputs_run_through_their_harnesses() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/fuzz");
    let mut ran = 0;
    for (name, harness) in switchyard_fuzzing::TARGETS {
        let dir = root.join(name);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let data = std::fs::read(entry.path()).unwrap();
            let path = entry.path().display().to_string();
            if std::panic::catch_unwind(|| harness(&data)).is_err() {
                panic!("{name}: {path} fails its harness again");
            }
            ran += 1;
        }
    }
    assert!(ran > 0, "no saved inputs under {}", root.display());
}
