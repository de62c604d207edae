//! N-MNIST / N-Caltech101 binary format (also SLAYER's `.bs2`).
//!
//! Every event is 40 bits, big-endian bit order: byte 0 = x, byte 1 = y, then bit 23 =
//! polarity and bits 22..0 = timestamp in microseconds. An event with `y == 240` is a
//! timestamp-overflow marker (as in the dataset's original MATLAB reader): it adds
//! 2^13 µs to every later timestamp and is itself dropped.
use crate::error::{FormatError, Result};
use crate::events::{Events, RECORD_SIZE};

/// Bytes per N-MNIST event.
pub const EVENT_BYTES: usize = 5;
/// `y` value of a timestamp-overflow marker.
pub const OVERFLOW_Y: u8 = 240;
/// Timestamp increment of one overflow marker.
pub const OVERFLOW_STEP: i64 = 1 << 13;

/// Decodes a whole N-MNIST file.
pub fn decode(buf: &[u8]) -> Result<Events> {
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
    let n = buf.len() / EVENT_BYTES;
    if !buf.chunks_exact(EVENT_BYTES).any(|c| c[1] == OVERFLOW_Y) {
        // common case: no overflow markers, a branch-free loop the compiler can unroll
        let mut out = vec![0u8; n * RECORD_SIZE];
        for (c, r) in buf
            .chunks_exact(EVENT_BYTES)
            .zip(out.chunks_exact_mut(RECORD_SIZE))
        {
            let t = (((c[2] & 0x7f) as i64) << 16) | ((c[3] as i64) << 8) | c[4] as i64;
            r[0] = c[0];
            r[2] = c[1];
            r[4..12].copy_from_slice(&t.to_le_bytes());
            r[12] = c[2] >> 7;
        }
        return Ok(Events::from_bytes(out));
    }
    let mut ev = Events::with_capacity(n);
    let mut offset = 0i64;
    ev.extend_with(n, |i, slot| {
        let c = &buf[i * EVENT_BYTES..i * EVENT_BYTES + EVENT_BYTES];
        if c[1] == OVERFLOW_Y {
            offset += OVERFLOW_STEP;
            return false;
        }
        let t = (((c[2] & 0x7f) as i64) << 16) | ((c[3] as i64) << 8) | c[4] as i64;
        Events::write(slot, c[0] as i16, c[1] as i16, t + offset, c[2] & 0x80 != 0);
        true
    });
    Ok(ev)
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

    #[test]
    fn rejects_truncated_and_empty() {
        assert_eq!(decode(&[1, 2, 3, 4, 5, 6]).unwrap_err().offset, 5);
        assert!(decode(&[]).is_err());
    }
}
