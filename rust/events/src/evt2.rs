//! Prophesee EVT 2.0 (`.raw`): a `%` text header, then little-endian 32-bit words.
//!
//! The word type is bits 31..28: `0` CD_OFF and `1` CD_ON (bits 27..22 = timestamp low
//! 6 bits, bits 21..11 = x, bits 10..0 = y), `8` EV_TIME_HIGH (bits 27..0 = timestamp
//! bits 33..6); other types (triggers, vendor words) are skipped. CD events that precede
//! the first EV_TIME_HIGH use a time-high of 0.
use crate::error::{FormatError, Result};
use crate::events::Events;

/// Decodes the payload (`data`, starting at byte `start` of the file) of an EVT 2.0 file.
pub fn decode_payload(data: &[u8], start: usize) -> Result<Events> {
    let tail = data.len() % 4;
    if tail != 0 {
        return Err(FormatError::new(
            start + data.len() - tail,
            format!(
                "truncated word: {} payload bytes is not a multiple of 4",
                data.len()
            ),
        ));
    }
    let mut ev = Events::try_with_capacity(data.len() / 4, data.len())?;
    let mut time_high = 0i64;
    for c in data.chunks_exact(4) {
        let w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        match w >> 28 {
            0 | 1 => {
                let t = time_high | ((w >> 22) & 0x3f) as i64;
                ev.push(
                    ((w >> 11) & 0x7ff) as i16,
                    (w & 0x7ff) as i16,
                    t,
                    w >> 28 == 1,
                );
            }
            8 => time_high = ((w & 0x0fff_ffff) as i64) << 6,
            _ => {}
        }
    }
    Ok(ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_words() {
        let words: [u32; 3] = [
            (8 << 28) | 3,
            (1 << 28) | (5 << 22) | (100 << 11) | 7,
            (2 << 28) | 1,
        ];
        let data: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let ev = decode_payload(&data, 0).unwrap();
        assert_eq!(ev.len(), 1);
        let e = ev.get(0).unwrap();
        assert_eq!((e.x, e.y, e.t, e.p), (100, 7, (3 << 6) | 5, true));
        assert_eq!(decode_payload(&data[..5], 10).unwrap_err().offset, 14);
    }
}
