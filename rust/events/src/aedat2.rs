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
use crate::events::Events;
use crate::header::{split_header, TextHeader};

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

/// Decodes a whole AEDAT 2.0 file. Returns the events and the chip.
pub fn decode(buf: &[u8]) -> Result<(Events, Chip)> {
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
    let tail = data.len() % 8;
    if tail != 0 {
        return Err(FormatError::new(
            buf.len() - tail,
            format!(
                "truncated event: {} payload bytes is not a multiple of 8",
                data.len()
            ),
        ));
    }
    let mut ev = Events::with_capacity(data.len() / 8);
    let mut wrap = 0i64;
    let mut prev = 0u32;
    for c in data.chunks_exact(8) {
        let a = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        let ts = u32::from_be_bytes([c[4], c[5], c[6], c[7]]);
        if ts < prev && prev - ts > 1 << 31 {
            wrap += 1 << 32;
        }
        prev = ts;
        let t = ts as i64 + wrap;
        match chip {
            Chip::Dvs128 => {
                if a & 0x8000 != 0 {
                    continue;
                }
                let x = 127 - ((a >> 1) & 0x7f) as i16;
                let y = 127 - ((a >> 8) & 0x7f) as i16;
                ev.push(x, y, t, a & 1 == 0);
            }
            Chip::Davis(w, h) => {
                if a & 0x8000_0000 != 0 || a & (1 << 10) != 0 {
                    continue;
                }
                let x = (w as i32 - 1 - ((a >> 12) & 0x3ff) as i32) as i16;
                let y = (h as i32 - 1 - ((a >> 22) & 0x1ff) as i32) as i16;
                ev.push(x, y, t, a & (1 << 11) != 0);
            }
        }
    }
    Ok((ev, chip))
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
    fn rejects_bad_input() {
        assert!(decode(b"").is_err());
        assert!(decode(b"#!AER-DAT3.1\r\n").is_err());
        let e = decode(b"#!AER-DAT2.0\r\n\x00\x00\x00").unwrap_err();
        assert_eq!(e.offset, 14);
        assert!(decode(b"#!AER-DAT2.0\r\n# AEChip: foo.Bar\r\n").is_err());
    }
}
