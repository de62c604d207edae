//! N-MNIST / N-Caltech101 binary format (also SLAYER's `.bs2`).
//!
//! Every event is 40 bits, big-endian bit order: byte 0 = x, byte 1 = y, then bit 23 =
//! polarity and bits 22..0 = timestamp in microseconds. An event with `y == 240` is a
//! timestamp-overflow marker (as in the dataset's original MATLAB reader): it adds
//! 2^13 µs to every later timestamp and is itself dropped.
use crate::error::{FormatError, Result};
use crate::events::{Events, RECORD_SIZE};
use crate::simd;

/// Bytes per N-MNIST event.
pub const EVENT_BYTES: usize = 5;
/// `y` value of a timestamp-overflow marker.
pub const OVERFLOW_Y: u8 = 240;
/// Timestamp increment of one overflow marker.
pub const OVERFLOW_STEP: i64 = 1 << 13;

/// Upper bound on the number of events decoded from a file of `len` bytes (exact when
/// the file holds no overflow markers).
pub fn max_events(len: usize) -> usize {
    len / EVENT_BYTES
}

fn check(buf: &[u8]) -> Result<()> {
    if buf.is_empty() {
        return Err(FormatError::new(
            0,
            "empty file (an N-MNIST file holds at least one 5-byte event)",
        ));
    }
    let tail = buf.len() % EVENT_BYTES;
    if tail != 0 {
        return Err(FormatError::new(
            buf.len() - tail,
            format!(
                "truncated event: file length {} is not a multiple of {EVENT_BYTES} bytes",
                buf.len()
            ),
        ));
    }
    Ok(())
}

#[inline(always)]
fn put(out: &mut [u8], w: usize, c: &[u8; EVENT_BYTES], offset: i64) {
    let t = ((((c[2] & 0x7f) as i64) << 16) | ((c[3] as i64) << 8) | c[4] as i64) + offset;
    Events::put(out, w, c[0] as i16, c[1] as i16, t, c[2] & 0x80 != 0);
}

/// One record per 5-byte event, no offsets; returns whether an overflow marker was seen
/// (the caller then redoes the file with [`put`]). Whole blocks of events go through
/// the SIMD shuffle decoder where the CPU has one ([`crate::simd`]: 2x the scalar loop
/// with SSSE3, 3.8x with AVX-512 VBMI), the rest through the scalar loop.
fn fill_plain(buf: &[u8], out: &mut [u8]) -> bool {
    fill_plain_at(simd::best_level(), buf, out)
}

/// [`fill_plain`] with SIMD instructions up to `level` (tests compare the levels).
fn fill_plain_at(level: simd::Level, buf: &[u8], out: &mut [u8]) -> bool {
    let (done, marker) = simd::nmnist_plain_at(level, buf, out);
    marker | fill_plain_scalar(&buf[done * EVENT_BYTES..], &mut out[done * RECORD_SIZE..])
}

/// The scalar reference of [`fill_plain`]. Walking the output in 13-byte chunks spares
/// the per-event bounds check of [`put`]: ~15 % faster.
fn fill_plain_scalar(buf: &[u8], out: &mut [u8]) -> bool {
    let mut marker = false;
    for (r, c) in out
        .chunks_exact_mut(RECORD_SIZE)
        .zip(buf.chunks_exact(EVENT_BYTES))
    {
        let w = u32::from_be_bytes([c[1], c[2], c[3], c[4]]);
        marker |= c[1] == OVERFLOW_Y;
        let r: &mut [u8; RECORD_SIZE] = r.try_into().expect("13-byte chunk");
        let t = (w & 0x7f_ffff) as i64;
        Events::write_record(r, c[0] as i16, c[1] as i16, t, w & 0x80_0000 != 0);
    }
    marker
}

/// Decodes a whole N-MNIST file into `out`, which must hold at least
/// [`max_events`]`(buf.len()) * RECORD_SIZE` bytes; returns the number of events written
/// (records `0..n` of `out`). Nothing is allocated.
pub fn decode_into(buf: &[u8], out: &mut [u8]) -> Result<usize> {
    check(buf)?;
    let n = max_events(buf.len());
    assert!(out.len() >= n * RECORD_SIZE, "output buffer too small");
    let out = &mut out[..n * RECORD_SIZE];
    // common case: no overflow markers, one record per input event; a marker seen on
    // the way sends the whole file through the general loop below
    if !fill_plain(buf, out) {
        return Ok(n);
    }
    let mut offset = 0i64;
    let mut w = 0usize;
    for c in buf.chunks_exact(EVENT_BYTES) {
        let c: &[u8; EVENT_BYTES] = c.try_into().expect("5-byte chunk");
        if c[1] == OVERFLOW_Y {
            offset += OVERFLOW_STEP;
            continue;
        }
        put(out, w, c, offset);
        w += 1;
    }
    Ok(w)
}

/// Decodes a whole N-MNIST file.
pub fn decode(buf: &[u8]) -> Result<Events> {
    check(buf)?;
    let mut out = Events::zeroed_records(max_events(buf.len()), buf.len())?;
    let n = decode_into(buf, &mut out)?;
    out.truncate(n * RECORD_SIZE);
    Ok(Events::from_bytes(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_applies_overflow() {
        let buf = [
            3, 4, 0x80, 0x01, 0x02, 0, 240, 0, 0, 0, 1, 2, 0x7f, 0xff, 0xff,
        ];
        let ev = decode(&buf).unwrap();
        assert_eq!(ev.len(), 2);
        let e0 = ev.get(0).unwrap();
        assert_eq!((e0.x, e0.y, e0.t, e0.p), (3, 4, 0x0102, true));
        let e1 = ev.get(1).unwrap();
        assert_eq!((e1.x, e1.y, e1.t, e1.p), (1, 2, 0x7fffff + 8192, false));
    }

    /// Every length around the SIMD blocks and slacks, byte patterns that put extreme
    /// values in every field, with and without an overflow marker: each SIMD level this
    /// CPU has equals the scalar reference byte for byte, and writes nothing past the
    /// records.
    #[test]
    fn simd_levels_equal_scalar_reference() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let levels: Vec<simd::Level> = [simd::Level::Ssse3, simd::Level::Avx512Vbmi]
            .into_iter()
            .filter(|&l| l <= simd::best_level())
            .collect();
        let lengths = (0..200).chain([255, 256, 257, 330, 1000, 4097]);
        for n in lengths {
            for trial in 0..4 {
                let mut buf: Vec<u8> = (0..n * EVENT_BYTES).map(|_| next() as u8).collect();
                for (i, c) in buf.chunks_exact_mut(EVENT_BYTES).enumerate() {
                    match trial {
                        // no markers; extreme bytes in every field
                        0 => c[1] = if c[1] == OVERFLOW_Y { 0 } else { c[1] },
                        1 => c.fill(if i % 2 == 0 { 0xff } else { 0x00 }),
                        2 => c.copy_from_slice(&[0x80, 0x7f, 0x80, 0x7f, 0xff]),
                        // one marker, late in the file (inside a SIMD block when there is one)
                        _ => {
                            if c[1] == OVERFLOW_Y {
                                c[1] = 1;
                            }
                            if i == n.saturating_sub(1).min(70) {
                                c[1] = OVERFLOW_Y;
                            }
                        }
                    }
                }
                let mut slow = vec![0xAAu8; n * RECORD_SIZE + 7];
                let m_slow = fill_plain_scalar(&buf, &mut slow[..n * RECORD_SIZE]);
                assert_eq!(
                    m_slow,
                    buf.chunks_exact(EVENT_BYTES).any(|c| c[1] == OVERFLOW_Y)
                );
                for &level in &levels {
                    let mut fast = vec![0xAAu8; n * RECORD_SIZE + 7];
                    let m_fast = fill_plain_at(level, &buf, &mut fast[..n * RECORD_SIZE]);
                    assert_eq!(fast, slow, "{level:?}, {n} events, trial {trial}");
                    assert_eq!(m_fast, m_slow, "{level:?}, {n} events, trial {trial}");
                }
            }
        }
        // the comparisons are only worth something if the SIMD levels ran
        let buf = vec![1u8; 1000 * EVENT_BYTES];
        let mut out = vec![0u8; 1000 * RECORD_SIZE];
        for &level in &levels {
            assert!(
                simd::nmnist_plain_at(level, &buf, &mut out).0 > 0,
                "{level:?}"
            );
        }
        #[cfg(target_arch = "x86_64")]
        assert!(
            simd::best_level() >= simd::Level::Ssse3,
            "every x86-64 CPU since 2006 has SSSE3"
        );
    }

    #[test]
    fn rejects_truncated_and_empty() {
        assert_eq!(decode(&[1, 2, 3, 4, 5, 6]).unwrap_err().offset, 5);
        assert!(decode(&[]).is_err());
    }
}
