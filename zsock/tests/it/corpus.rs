//! Replays the committed `socket_options` fuzz corpus through the fuzz target's body.

use std::path::Path;

#[test]
fn socket_options_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/socket_options");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            zsock::fuzzing::socket_options(&std::fs::read(&path).unwrap());
            n += 1;
        }
    }
    assert!(n > 0, "corpus is empty");
}
