//! AEDAT 4 files written by an independent writer (uncompressed, LZ4, Zstd) decode back.
mod common;
use spikeflow_events::{decode, Format};

fn sample_events(n: usize) -> Vec<(i64, i16, i16, bool)> {
    (0..n)
        .map(|i| {
            (
                1_600_000_000_000_000 + 7 * i as i64,
                (i % 64) as i16,
                (i % 48) as i16,
                i % 3 == 0,
            )
        })
        .collect()
}

#[test]
fn roundtrip_all_compressions() {
    let want = sample_events(2500);
    for c in [0, 1, 3] {
        let f = common::aedat4_file(c, &want, 700);
        let rec = decode(&f, Format::Aedat4).unwrap();
        assert_eq!(rec.sensor_size, Some((64, 48)));
        let got: Vec<_> = rec.events.iter().map(|e| (e.t, e.x, e.y, e.p)).collect();
        assert_eq!(got, want, "compression {c}");
    }
}

#[test]
fn zstd_bomb_is_refused() {
    // 64 MiB of zeros compresses to a few KiB; the per-packet limit (300x + 1 MiB) stops it.
    let raw = vec![0u8; 64 << 20];
    let body = zstd::encode_all(&raw[..], 19).unwrap();
    let header = common::io_header(3, -1, common::XML);
    let mut f = b"#!AER-DAT4.0\r\n".to_vec();
    f.extend_from_slice(&(header.len() as u32).to_le_bytes());
    f.extend(header);
    f.extend_from_slice(&0i32.to_le_bytes());
    f.extend_from_slice(&(body.len() as i32).to_le_bytes());
    f.extend(body);
    let e = decode(&f, Format::Aedat4).unwrap_err();
    assert!(e.reason.contains("exceeds"), "{e}");
}
