//! AEDAT 2.0 (jAER): a `#` text header, then big-endian `(u32 address, u32 timestamp)`.
//!
//! Addresses are interpreted by the chip named on the header's `AEChip:` line, following
//! jAER's event extractors, then converted from jAER's bottom-left origin to the top-left
//! origin that every other format here uses (`y -> H-1 - y`):
//! * DVS128 (the default when no chip is named): `x = 127 - bits 1..7`,
//!   `y = 127 - bits 8..14`, polarity ON when bit 0 is **0**; events with bit 15 set are
//!   sync/special events and are dropped.
//! * DAVIS (chip name contains `Davis`): `x = W-1 - bits 12..21`, `y = H-1 - bits 22..30`,
//!   ON when bit 11 is set; APS/IMU samples (bit 31) and external-input events (bit 10) are
//!   dropped.
//!
//! Timestamps are unsigned 32-bit microseconds; a wrap-around (a backward jump of more
//! than 2^31) adds 2^32 to every later timestamp.
use crate::error::{FormatError, Result};
use crate::events::{Events, RECORD_SIZE};
use crate::header::{split_header, TextHeader};
use crate::simd::{self, Level};
use rayon::prelude::*;

/// Address interpretation of an AEDAT 2.0 file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chip {
    /// DVS128 (128x128).
    Dvs128,
    /// A DAVIS sensor of the given width and height.
    Davis(u16, u16),
}

impl Chip {
    /// Sensor size (width, height).
    pub fn size(self) -> (u32, u32) {
        match self {
            Chip::Dvs128 => (128, 128),
            Chip::Davis(w, h) => (w as u32, h as u32),
        }
    }
}

fn chip_of(header: &TextHeader) -> std::result::Result<Chip, String> {
    let Some(name) = header.value_after("AEChip:") else {
        return Ok(Chip::Dvs128);
    };
    let lower = name.to_ascii_lowercase();
    if lower.contains("dvs128") || lower.contains("tmpdiff128") {
        return Ok(Chip::Dvs128);
    }
    if lower.contains("davis") {
        let sizes: [(&str, u16, u16); 5] = [
            ("346", 346, 260),
            ("240", 240, 180),
            ("640", 640, 480),
            ("208", 208, 192),
            ("128", 128, 128),
        ];
        for (tag, w, h) in sizes {
            if lower.contains(tag) {
                return Ok(Chip::Davis(w, h));
            }
        }
    }
    Err(format!(
        "unsupported AEChip '{name}' (supported: DVS128, Davis240/346/640/208/128)"
    ))
}

/// Upper bound on the number of events decoded from an AEDAT 2.0 file of `len` bytes.
pub fn max_events(len: usize) -> usize {
    len / RECORD_BYTES
}

/// Bytes per AEDAT 2.0 record (address + timestamp).
pub const RECORD_BYTES: usize = 8;

/// Checks the magic line and the chip and finds the payload: returns the offset of the
/// first event record and the chip. The payload must be a whole number of records.
pub fn parse_header(buf: &[u8]) -> Result<(usize, Chip)> {
    if buf.is_empty() {
        return Err(FormatError::new(0, "empty file"));
    }
    if !buf.starts_with(b"#!AER-DAT2") {
        return Err(FormatError::new(0, "missing '#!AER-DAT2.x' magic line"));
    }
    let header = split_header(buf, b'#', None);
    let chip = chip_of(&header).map_err(|r| FormatError::new(0, r))?;
    let start = header.data_start;
    let data = &buf[start..];
    let tail = data.len() % RECORD_BYTES;
    if tail != 0 {
        return Err(FormatError::new(
            buf.len() - tail,
            format!(
                "truncated event: {} payload bytes is not a multiple of 8",
                data.len()
            ),
        ));
    }
    Ok((start, chip))
}

/// Decodes `data` the scalar way from timestamp `prev` and offset `wrap`; returns the
/// events written and the offset reached.
#[inline(always)]
fn records<F>(data: &[u8], mut prev: u32, mut wrap: i64, out: &mut [u8], addr: F) -> (usize, i64)
where
    F: Fn(u32) -> (bool, i16, i16, bool),
{
    let mut w = 0usize;
    for c in data.chunks_exact(RECORD_BYTES) {
        let c: &[u8; RECORD_BYTES] = c.try_into().expect("8-byte chunk");
        let a = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        let ts = u32::from_be_bytes([c[4], c[5], c[6], c[7]]);
        if ts < prev && prev - ts > 1 << 31 {
            wrap += 1 << 32;
        }
        prev = ts;
        let t = ts as i64 + wrap;
        let (keep, x, y, p) = addr(a);
        // the slot is written even for a dropped event and then reused (no branch)
        Events::put(out, w, x, y, t, p);
        w += keep as usize;
    }
    (w, wrap)
}

/// Decodes whole records `data` (a multiple of 8 bytes) into `out` (at least
/// `data.len() / 8 * RECORD_SIZE` bytes). `prev` is the timestamp of the record just before
/// `data` (0 at the start of the payload). Returns the number of events written and the
/// timestamp offset (a multiple of 2^32) reached at the end; timestamps are written as
/// if no wrap-around happened before `data`.
pub fn decode_records(data: &[u8], chip: Chip, prev: u32, out: &mut [u8]) -> (usize, i64) {
    decode_records_at(simd::best_level(), data, chip, prev, out)
}

fn dvs128(a: u32) -> (bool, i16, i16, bool) {
    (
        a & 0x8000 == 0,
        127 - ((a >> 1) & 0x7f) as i16,
        127 - ((a >> 8) & 0x7f) as i16,
        a & 1 == 0,
    )
}

/// [`decode_records`] with SIMD instructions up to `level` (tests compare the levels).
pub fn decode_records_at(
    level: Level,
    data: &[u8],
    chip: Chip,
    prev: u32,
    out: &mut [u8],
) -> (usize, i64) {
    assert!(
        out.len() >= data.len() / RECORD_BYTES * RECORD_SIZE,
        "output buffer too small"
    );
    let ts_at = |i: usize| {
        let c = &data[i * RECORD_BYTES + 4..i * RECORD_BYTES + 8];
        u32::from_be_bytes([c[0], c[1], c[2], c[3]])
    };
    match chip {
        // the vector loop only where the CPU has it: elsewhere the plain loop, unchunked
        Chip::Dvs128 if level.min(simd::best_level()) >= Level::Avx512Vbmi => {
            // SIMD blocks of 8 records while they hold neither a special event nor a
            // wrap-around; the block that does (and the tail) goes through the scalar loop
            let n = data.len() / RECORD_BYTES;
            let (mut i, mut w, mut wrap, mut prev) = (0usize, 0usize, 0i64, prev);
            while i < n {
                let k = simd::aedat2_dvs128_at(
                    level,
                    &data[i * RECORD_BYTES..],
                    prev,
                    wrap,
                    &mut out[w * RECORD_SIZE..],
                );
                if k > 0 {
                    i += k;
                    w += k;
                    prev = ts_at(i - 1);
                }
                let end = (i + 8).min(n);
                if end > i {
                    let (kept, reached) = records(
                        &data[i * RECORD_BYTES..end * RECORD_BYTES],
                        prev,
                        wrap,
                        &mut out[w * RECORD_SIZE..],
                        dvs128,
                    );
                    w += kept;
                    wrap = reached;
                    prev = ts_at(end - 1);
                    i = end;
                }
            }
            (w, wrap)
        }
        Chip::Dvs128 => records(data, prev, 0, out, dvs128),
        Chip::Davis(w, h) => records(data, prev, 0, out, |a| {
            (
                a & 0x8000_0000 == 0 && a & (1 << 10) == 0,
                (w as i32 - 1 - ((a >> 12) & 0x3ff) as i32) as i16,
                (h as i32 - 1 - ((a >> 22) & 0x1ff) as i32) as i16,
                a & (1 << 11) != 0,
            )
        }),
    }
}

/// Payloads shorter than this many records are decoded on one thread.
pub const PARALLEL_MIN_RECORDS: usize = 1 << 15;

/// Decodes a whole AEDAT 2.0 file into `out` (at least [`max_events`]`(buf.len()) *
/// RECORD_SIZE` bytes); returns the number of events (records `0..n` of `out`) and the
/// chip. Payloads of [`PARALLEL_MIN_RECORDS`] records or more are split into chunks that
/// are decoded in parallel (rayon's current pool); the result is identical.
pub fn decode_into(buf: &[u8], out: &mut [u8]) -> Result<(usize, Chip)> {
    let (start, chip) = parse_header(buf)?;
    let data = &buf[start..];
    let n = data.len() / RECORD_BYTES;
    assert!(out.len() >= n * RECORD_SIZE, "output buffer too small");
    let threads = rayon::current_num_threads();
    if n < PARALLEL_MIN_RECORDS || threads < 2 {
        return Ok((decode_records(data, chip, 0, out).0, chip));
    }
    let per = n.div_ceil(threads * 4).max(PARALLEL_MIN_RECORDS / 4);
    let parts: Vec<(usize, i64)> = data
        .par_chunks(per * RECORD_BYTES)
        .zip(out[..n * RECORD_SIZE].par_chunks_mut(per * RECORD_SIZE))
        .enumerate()
        .map(|(k, (d, o))| {
            let prev = if k == 0 {
                0
            } else {
                let i = k * per * RECORD_BYTES - 4;
                u32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]])
            };
            decode_records(d, chip, prev, o)
        })
        .collect();
    // stitch: timestamp offsets of earlier chunks, and close gaps left by dropped events
    let mut w = 0usize;
    let mut wrap = 0i64;
    for (k, &(count, chunk_wrap)) in parts.iter().enumerate() {
        let src = k * per * RECORD_SIZE;
        if wrap != 0 {
            for r in out[src..src + count * RECORD_SIZE].chunks_exact_mut(RECORD_SIZE) {
                let t = i64::from_le_bytes(r[4..12].try_into().expect("8 bytes")) + wrap;
                r[4..12].copy_from_slice(&t.to_le_bytes());
            }
        }
        if src != w * RECORD_SIZE {
            out.copy_within(src..src + count * RECORD_SIZE, w * RECORD_SIZE);
        }
        w += count;
        wrap += chunk_wrap;
    }
    Ok((w, chip))
}

/// Decodes a whole AEDAT 2.0 file. Returns the events and the chip.
pub fn decode(buf: &[u8]) -> Result<(Events, Chip)> {
    let (start, _) = parse_header(buf)?;
    let mut out = Events::zeroed_records(max_events(buf.len() - start), buf.len())?;
    let (n, chip) = decode_into(buf, &mut out)?;
    out.truncate(n * RECORD_SIZE);
    Ok((Events::from_bytes(out), chip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dvs128_layout() {
        let mut f = b"#!AER-DAT2.0\r\n# AEChip: ch.unizh.ini.jaer.chip.retina.DVS128\r\n".to_vec();
        let addr: u32 = (5 << 8) | (10 << 1); // y=5, raw x=10, bit0=0 -> ON
        f.extend_from_slice(&addr.to_be_bytes());
        f.extend_from_slice(&77u32.to_be_bytes());
        f.extend_from_slice(&0x8000u32.to_be_bytes()); // special: dropped
        f.extend_from_slice(&78u32.to_be_bytes());
        let (ev, chip) = decode(&f).unwrap();
        assert_eq!(chip, Chip::Dvs128);
        assert_eq!(ev.len(), 1);
        let e = ev.get(0).unwrap();
        assert_eq!((e.x, e.y, e.t, e.p), (117, 122, 77, true));
    }

    #[test]
    fn simd_blocks_match_the_scalar_loop() {
        // random DVS128 records with special events and wrap-arounds at chosen places,
        // every length up to 200 records, from several starting timestamps
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (mut wrapped, mut dropped) = (0, 0);
        for case in 0..400 {
            let n = case % 201;
            let mut data = Vec::with_capacity(8 * n);
            let mut ts = (next() as u32) >> (case % 3 * 8);
            for i in 0..n {
                let r = next();
                let mut addr = (r as u32) & 0x7fff_7fff; // bit 15 clear: a polarity event
                if case % 4 == 1 && r % 37 == 0 {
                    addr |= 0x8000; // special event
                }
                ts = if case % 5 == 2 && i % 53 == 17 {
                    ts.wrapping_add(0xa000_0000) // a jump over 2^32: wraps around
                } else {
                    ts.wrapping_add((r >> 40) as u32 & 0xfff)
                };
                data.extend_from_slice(&addr.to_be_bytes());
                data.extend_from_slice(&ts.to_be_bytes());
            }
            let prev = if case % 7 == 3 { u32::MAX - 5 } else { 0 };
            let mut a = vec![0xaau8; n * RECORD_SIZE];
            let mut b = vec![0x55u8; n * RECORD_SIZE];
            let ra = decode_records_at(Level::Scalar, &data, Chip::Dvs128, prev, &mut a);
            let rb = decode_records_at(simd::best_level(), &data, Chip::Dvs128, prev, &mut b);
            assert_eq!(ra, rb, "case {case}");
            assert_eq!(
                a[..ra.0 * RECORD_SIZE],
                b[..rb.0 * RECORD_SIZE],
                "case {case}"
            );
            wrapped += (ra.1 != 0) as usize;
            dropped += (ra.0 < n) as usize;
        }
        assert!(wrapped > 20 && dropped > 20, "{wrapped} {dropped}");
        // and the vector loop really runs where the CPU has it
        if simd::best_level() >= Level::Avx512Vbmi {
            let data: Vec<u8> = (0..64u32)
                .flat_map(|i| [0, 0, 0, i as u8, 0, 0, 0, i as u8])
                .collect();
            let mut out = vec![0u8; 8 * RECORD_SIZE * 8];
            assert_eq!(
                simd::aedat2_dvs128_at(simd::best_level(), &data, 0, 1 << 32, &mut out),
                64
            );
            let ev = Events::from_bytes(out);
            let e = ev.get(63).unwrap();
            assert_eq!((e.x, e.y, e.t, e.p), (127 - 31, 127, (1 << 32) + 63, false));
        }
    }

    #[test]
    fn parallel_chunks_match_sequential() {
        // enough records for the parallel path, with drops and two wrap-arounds
        let mut f = b"#!AER-DAT2.0\r\n".to_vec();
        let n = PARALLEL_MIN_RECORDS * 3 + 17;
        let mut ts = 0u32;
        for i in 0..n {
            let special = if i % 1001 == 5 { 0x8000 } else { 0 };
            let addr = (((i * 7) % 128) << 8 | ((i * 3) % 128) << 1 | (i % 2)) as u32 | special;
            ts = ts.wrapping_add(0x2_0000);
            f.extend_from_slice(&addr.to_be_bytes());
            f.extend_from_slice(&ts.to_be_bytes());
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let par = pool.install(|| decode(&f).unwrap().0);
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let seq = one.install(|| decode(&f).unwrap().0);
        assert_eq!(par, seq);
        assert_eq!(seq.len(), n - (0..n).filter(|i| i % 1001 == 5).count());
        let ts: Vec<i64> = seq.iter().map(|e| e.t).collect();
        assert!(ts.windows(2).all(|w| w[0] < w[1]));
        assert!(*ts.last().unwrap() > 1 << 33);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(decode(b"").is_err());
        assert!(decode(b"#!AER-DAT3.1\r\n").is_err());
        let e = decode(b"#!AER-DAT2.0\r\n\x00\x00\x00").unwrap_err();
        assert_eq!(e.offset, 14);
        assert!(decode(b"#!AER-DAT2.0\r\n# AEChip: foo.Bar\r\n").is_err());
    }
}
