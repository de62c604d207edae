//! Prophesee EVT 3.0 (`.raw`): a `%` text header, then little-endian 16-bit words.
//!
//! The word type is bits 15..12:
//! * `0x0` EVT_ADDR_Y: y = bits 10..0;
//! * `0x2` EVT_ADDR_X: one event at x = bits 10..0, polarity bit 11;
//! * `0x3` VECT_BASE_X: base x = bits 10..0 and polarity bit 11 for the vectors that follow;
//! * `0x4` VECT_12 / `0x5` VECT_8: a bit mask (12 or 8 bits); bit i set = an event at
//!   base x + i; base x then advances by 12 or 8;
//! * `0x6` EVT_TIME_LOW: timestamp bits 11..0; `0x8` EVT_TIME_HIGH: timestamp bits 23..12
//!   (sensors repeat it as a keep-alive: a repeated value keeps the low part, a new value
//!   restarts the low part at 0). The 24-bit time wraps every 16.7 s: a time-high that
//!   falls back by more than half its range adds 2^24 µs to all later timestamps;
//! * everything else (triggers, vendor words and their continuations) is skipped.
use crate::error::{FormatError, Result};
use crate::events::Events;

/// Decodes the payload (`data`, starting at byte `start` of the file) of an EVT 3.0 file.
pub fn decode_payload(data: &[u8], start: usize) -> Result<Events> {
    if !data.len().is_multiple_of(2) {
        return Err(FormatError::new(
            start + data.len() - 1,
            format!(
                "truncated word: {} payload bytes is not a multiple of 2",
                data.len()
            ),
        ));
    }
    let mut ev = Events::try_with_capacity(data.len() / 2, data.len())?;
    let (mut y, mut base_x, mut pol) = (0i16, 0i16, false);
    let (mut high, mut low, mut wrap) = (0i64, 0i64, 0i64);
    let mut t = 0i64;
    for c in data.chunks_exact(2) {
        let w = u16::from_le_bytes([c[0], c[1]]);
        match w >> 12 {
            0x0 => y = (w & 0x7ff) as i16,
            0x2 => ev.push((w & 0x7ff) as i16, y, t, w & 0x800 != 0),
            0x3 => {
                base_x = (w & 0x7ff) as i16;
                pol = w & 0x800 != 0;
            }
            0x4 | 0x5 => {
                let (mut mask, n) = if w >> 12 == 0x4 {
                    (w & 0xfff, 12)
                } else {
                    (w & 0xff, 8)
                };
                while mask != 0 {
                    let i = mask.trailing_zeros() as i16;
                    ev.push(base_x + i, y, t, pol);
                    mask &= mask - 1;
                }
                base_x += n;
            }
            0x6 => {
                low = (w & 0xfff) as i64;
                t = wrap + (high << 12) + low;
            }
            0x8 => {
                let h = (w & 0xfff) as i64;
                if high - h > 1 << 11 {
                    wrap += 1 << 24;
                }
                if h != high {
                    low = 0;
                }
                high = h;
                t = wrap + (high << 12) + low;
            }
            _ => {}
        }
    }
    Ok(ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(words: &[u16]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    #[test]
    fn decodes_vectors_and_wrap() {
        let d = data(&[
            0x8000 | 0xfff,     // time high 4095
            0x6000 | 5,         // time low 5
            10,                 // y = 10
            0x2000 | 0x800 | 3, // x = 3, ON
            0x3000 | 100,       // base x 100, OFF
            0x4000 | 0b101,     // x = 100, 102
            0x5000 | 0x80,      // x = 112 + 7
            0x8000 | 1,         // wrap
            0x2000 | 1,
        ]);
        let ev = decode_payload(&d, 0).unwrap();
        let got: Vec<_> = ev.iter().map(|e| (e.x, e.y, e.t, e.p)).collect();
        let t0 = (4095 << 12) + 5;
        assert_eq!(
            got,
            vec![
                (3, 10, t0, true),
                (100, 10, t0, false),
                (102, 10, t0, false),
                (119, 10, t0, false),
                (1, 10, (1 << 24) + (1 << 12), false)
            ]
        );
    }
}
