//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) through the same entry
//! points the fuzz targets call, so every seed and every crash kept as a regression runs
//! on stable under `cargo test`.

use std::path::Path;

fn replay(target: &str, f: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_file() {
            f(&std::fs::read(&path).unwrap());
            n += 1;
        }
    }
    assert!(n > 0, "corpus {target} is empty");
}

#[test]
fn frame_stream_corpus() {
    replay("frame_stream", zmtp_codec::fuzzing::frame_stream);
}

#[test]
fn greeting_corpus() {
    replay("greeting", zmtp_codec::fuzzing::greeting);
}

#[test]
fn command_corpus() {
    replay("command", zmtp_codec::fuzzing::command);
}

#[test]
fn handshake_corpus() {
    replay("handshake", zmtp_codec::fuzzing::handshake);
}

#[test]
fn roundtrip_corpus() {
    replay("roundtrip", zmtp_codec::fuzzing::roundtrip);
}

#[test]
fn plain_corpus() {
    replay("plain", zmtp_codec::fuzzing::plain);
}

#[test]
fn zap_reply_corpus() {
    replay("zap_reply", zmtp_codec::fuzzing::zap_reply);
}

#[test]
fn curve_corpus() {
    replay("curve", zmtp_codec::fuzzing::curve);
}
