//! Decode and encode throughput for 1, 64, 1024 and 65536-byte frames.

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use zmtp_codec::{encode_frame, Decoder, FrameHeader, Item, Limits};

const SIZES: [usize; 4] = [1, 64, 1024, 65536];

/// Frames per iteration, so that per-call overhead is amortised like in a real read batch.
fn batch(size: usize) -> usize {
    (256 * 1024 / (size + 9)).clamp(4, 4096)
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    for size in SIZES {
        let n = batch(size);
        let body = vec![0xA5u8; size];
        let mut wire = BytesMut::new();
        for _ in 0..n {
            encode_frame(&mut wire, &body, false);
        }
        let wire = wire.freeze();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(size), &wire, |b, wire| {
            b.iter(|| {
                let mut src = BytesMut::from(&wire[..]);
                let mut dec = Decoder::frames_only(Limits::default());
                let mut bytes = 0;
                while let Ok(Some(Item::Frame(f))) = dec.decode(&mut src) {
                    bytes += f.body.len();
                }
                assert_eq!(bytes, n * size);
            })
        });
    }
    g.finish();
}

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    for size in SIZES {
        let n = batch(size);
        let body = vec![0x5Au8; size];
        let mut out = BytesMut::with_capacity(n * (size + 9));
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("copy", size), &body, |b, body| {
            b.iter(|| {
                out.clear();
                for _ in 0..n {
                    encode_frame(&mut out, body, false);
                }
                assert_eq!(
                    out.len(),
                    n * (size + FrameHeader::data(size as u64, false).header_len())
                );
            })
        });
        g.bench_with_input(BenchmarkId::new("header_only", size), &body, |b, body| {
            b.iter(|| {
                let mut total = 0;
                for _ in 0..n {
                    total += FrameHeader::data(body.len() as u64, false)
                        .to_bytes()
                        .as_slice()
                        .len();
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
