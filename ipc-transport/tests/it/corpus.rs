//! Replays the committed corpus of the `connection` fuzz target (`fuzz/corpus/connection/`)
//! through the same entry point, so every seed and every crash kept as a regression runs
//! on stable under `cargo test`.

use std::path::Path;

#[test]
fn connection_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/connection");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_file() {
            ipc_transport::fuzzing::connection(&std::fs::read(&path).unwrap());
            n += 1;
        }
    }
    assert!(n > 0, "corpus connection is empty");
}
