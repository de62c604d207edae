//! AEDAT 3.1 (cAER): a `#` text header ending with `#!END-HEADER`, then packets.
//!
//! Each packet has a 28-byte little-endian header (`type: i16, source: i16, size: i32,
//! ts_offset: i32, ts_overflow: i32, capacity: i32, number: i32, valid: i32`) followed by
//! `capacity * size` bytes. Only polarity packets (type 1, 8-byte events) are decoded;
//! every other packet type is skipped. A polarity event is `u32 data, i32 timestamp`:
//! bit 0 = valid, bit 1 = polarity, bits 2..16 = y, bits 17..31 = x. Invalid events are
//! dropped, and the packet's `ts_overflow` supplies timestamp bits 31 and up:
//! `t = ts_overflow << 31 | timestamp`.
use crate::error::{FormatError, Result};
use crate::events::Events;
use crate::header::split_header;

/// Bytes in a packet header.
pub const PACKET_HEADER: usize = 28;
/// cAER's event type number of polarity events.
pub const POLARITY_EVENT: i16 = 1;

fn le_i32(b: &[u8], at: usize) -> i32 {
    i32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Decodes a whole AEDAT 3.1 file.
pub fn decode(buf: &[u8]) -> Result<Events> {
    if buf.is_empty() {
        return Err(FormatError::new(0, "empty file"));
    }
    if !buf.starts_with(b"#!AER-DAT3") {
        return Err(FormatError::new(0, "missing '#!AER-DAT3.x' magic line"));
    }
    let header = split_header(buf, b'#', Some("#!END-HEADER"));
    if header.lines.last().map(|l| l.trim()) != Some("#!END-HEADER") {
        return Err(FormatError::new(
            header.data_start,
            "header has no '#!END-HEADER' line",
        ));
    }
    let mut pos = header.data_start;
    let mut ev = Events::try_with_capacity((buf.len() - pos) / 8, buf.len())?;
    while pos < buf.len() {
        if buf.len() - pos < PACKET_HEADER {
            return Err(FormatError::new(
                pos,
                format!(
                    "truncated packet header: {} of {PACKET_HEADER} bytes",
                    buf.len() - pos
                ),
            ));
        }
        let h = &buf[pos..pos + PACKET_HEADER];
        let ty = i16::from_le_bytes([h[0], h[1]]);
        let size = le_i32(h, 4);
        let ts_offset = le_i32(h, 8);
        let overflow = le_i32(h, 12);
        let capacity = le_i32(h, 16);
        let number = le_i32(h, 20);
        if size <= 0 || capacity < 0 || number < 0 || overflow < 0 {
            return Err(FormatError::new(
                pos,
                format!(
                    "invalid packet header (event size {size}, capacity {capacity}, number {number}, overflow {overflow})"
                ),
            ));
        }
        let body = (size as u64) * (capacity as u64);
        let remaining = (buf.len() - pos - PACKET_HEADER) as u64;
        if body > remaining {
            return Err(FormatError::new(
                pos,
                format!("packet declares {body} bytes of events but only {remaining} remain"),
            ));
        }
        let start = pos + PACKET_HEADER;
        let end = start + body as usize;
        if ty == POLARITY_EVENT {
            if size != 8 || ts_offset != 4 {
                return Err(FormatError::new(
                    pos,
                    format!("polarity packet with event size {size} and timestamp offset {ts_offset} (expected 8 and 4)"),
                ));
            }
            let n = (number.min(capacity)) as usize;
            let base = (overflow as i64) << 31;
            for c in buf[start..start + 8 * n].chunks_exact(8) {
                let d = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                if d & 1 == 0 {
                    continue;
                }
                let ts = u32::from_le_bytes([c[4], c[5], c[6], c[7]]) & 0x7fff_ffff;
                ev.push(
                    ((d >> 17) & 0x7fff) as i16,
                    ((d >> 2) & 0x7fff) as i16,
                    base | ts as i64,
                    d & 2 != 0,
                );
            }
        }
        pos = end;
    }
    Ok(ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(ty: i16, size: i32, overflow: i32, events: &[(u32, i32)]) -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(&ty.to_le_bytes());
        p.extend_from_slice(&1i16.to_le_bytes());
        p.extend_from_slice(&size.to_le_bytes());
        p.extend_from_slice(&4i32.to_le_bytes());
        p.extend_from_slice(&overflow.to_le_bytes());
        let n = events.len() as i32;
        for v in [n, n, n] {
            p.extend_from_slice(&v.to_le_bytes());
        }
        for &(d, t) in events {
            p.extend_from_slice(&d.to_le_bytes());
            p.extend_from_slice(&t.to_le_bytes());
            p.resize(p.len() + (size as usize - 8), 0);
        }
        p
    }

    #[test]
    fn decodes_polarity_and_skips_others() {
        let mut f = b"#!AER-DAT3.1\r\n#Format: RAW\r\n#!END-HEADER\r\n".to_vec();
        f.extend(packet(2, 12, 0, &[(0xffff_ffff, 5)]));
        let d = (7u32 << 17) | (9 << 2) | 2 | 1;
        f.extend(packet(1, 8, 1, &[(d, 10), (d & !1, 11)]));
        let ev = decode(&f).unwrap();
        assert_eq!(ev.len(), 1);
        let e = ev.get(0).unwrap();
        assert_eq!((e.x, e.y, e.t, e.p), (7, 9, (1 << 31) | 10, true));
    }

    #[test]
    fn rejects_absurd_capacity() {
        let mut f = b"#!AER-DAT3.1\r\n#!END-HEADER\r\n".to_vec();
        let mut p = packet(1, 8, 0, &[]);
        p[16..20].copy_from_slice(&i32::MAX.to_le_bytes());
        f.extend(p);
        let e = decode(&f).unwrap_err();
        assert_eq!(e.offset, 28);
        assert!(e.reason.contains("remain"));
    }
}
