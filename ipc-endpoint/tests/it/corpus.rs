//! Replays the committed fuzz corpus of `endpoint_parse` (fuzz/corpus/endpoint_parse).

use std::fs;
use std::path::Path;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/endpoint_parse");

#[test]
fn endpoint_parse_corpus_replays_without_failure() {
    let mut replayed = 0;
    for entry in fs::read_dir(Path::new(CORPUS)).expect("the corpus directory exists") {
        let path = entry.expect("a readable directory entry").path();
        if !path.is_file() {
            continue;
        }
        let data = fs::read(&path).expect("a readable corpus file");
        // Shown with the failure if this input trips an assertion.
        eprintln!("replaying {}", path.display());
        ipc_endpoint::fuzzing::endpoint_parse(&data);
        replayed += 1;
    }
    assert!(replayed > 0, "no corpus files in {CORPUS}");
}
