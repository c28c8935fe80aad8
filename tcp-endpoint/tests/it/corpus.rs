//! Replays the committed corpus of the `tcp_endpoint_parse` fuzz target
//! (`fuzz/corpus/tcp_endpoint_parse/`) through the same entry point.

use std::path::Path;

#[test]
fn tcp_endpoint_parse_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/tcp_endpoint_parse");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_file() {
            tcp_endpoint::fuzzing::tcp_endpoint_parse(&std::fs::read(&path).unwrap());
            n += 1;
        }
    }
    assert!(n > 0, "corpus tcp_endpoint_parse is empty");
}
