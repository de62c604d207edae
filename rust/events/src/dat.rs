//! Prophesee DAT (`.dat`): a `%` text header, one byte event type, one byte event size
//! (must be 8), then 8-byte little-endian events `u32 t (µs), u32 address` with
//! x = bits 13..0, y = bits 27..14, polarity = bits 31..28 (non-zero = ON).
use crate::error::{FormatError, Result};
use crate::events::Events;

/// Decodes the part of a DAT file after its text header (`data` starts at byte `start`).
pub fn decode_payload(data: &[u8], start: usize) -> Result<Events> {
    if data.len() < 2 {
        return Err(FormatError::new(
            start,
            "missing the event type and event size bytes after the header",
        ));
    }
    let (ty, size) = (data[0], data[1]);
    if size != 8 {
        return Err(FormatError::new(
            start + 1,
            format!("unsupported event size {size} (event type {ty}); only 8-byte CD events are supported"),
        ));
    }
    let body = &data[2..];
    let tail = body.len() % 8;
    if tail != 0 {
        return Err(FormatError::new(
            start + data.len() - tail,
            format!(
                "truncated event: {} event bytes is not a multiple of 8",
                body.len()
            ),
        ));
    }
    let mut ev = Events::try_with_capacity(body.len() / 8, body.len())?;
    for c in body.chunks_exact(8) {
        let t = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        let a = u32::from_le_bytes([c[4], c[5], c[6], c[7]]);
        ev.push(
            (a & 0x3fff) as i16,
            ((a >> 14) & 0x3fff) as i16,
            t as i64,
            a >> 28 != 0,
        );
    }
    Ok(ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_events() {
        let mut d = vec![0u8, 8];
        d.extend_from_slice(&99u32.to_le_bytes());
        d.extend_from_slice(&((1u32 << 28) | (20 << 14) | 30).to_le_bytes());
        let ev = decode_payload(&d, 0).unwrap();
        let e = ev.get(0).unwrap();
        assert_eq!((e.x, e.y, e.t, e.p), (30, 20, 99, true));
        assert!(decode_payload(&[0, 4], 0).is_err());
        assert_eq!(decode_payload(&d[..7], 3).unwrap_err().offset, 5);
    }
}
