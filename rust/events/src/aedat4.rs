//! AEDAT 4.0 (iniVation DV): `#!AER-DAT4.0\r\n`, a `u32` length and an `IOHeader`
//! FlatBuffer (compression, data-table position, XML description of the streams), then
//! packets `i32 stream id, i32 size, size bytes` whose bodies are FlatBuffers, compressed
//! with LZ4 (frame format) or Zstd as the header says. Event packets (identifier `EVTS`)
//! hold a vector of 16-byte structs `i64 t, i16 x, i16 y, bool on, 3 padding bytes`.
//!
//! Only the packets of event streams are decompressed (the XML names each stream's type);
//! they are decompressed and decoded in parallel and concatenated in file order.
use crate::error::{FormatError, Result};
use crate::events::Events;
use crate::flatbuf::{u32_at, Table};
use rayon::prelude::*;
use std::io::Read;

/// The file magic (without the line ending).
pub const MAGIC: &[u8] = b"#!AER-DAT4.0";
/// Largest decompressed packet accepted, in bytes.
pub const MAX_PACKET: u64 = 1 << 30;

/// Packet compression named by the IOHeader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Stored as is.
    None,
    /// LZ4 frame.
    Lz4,
    /// Zstandard frame.
    Zstd,
}

/// `(stream id, type identifier, sensor size)` of one declared stream.
pub type StreamInfo = (i32, String, Option<(u32, u32)>);

/// What the file header and the stream description say.
#[derive(Debug, Clone)]
pub struct Aedat4Header {
    /// Packet compression.
    pub compression: Compression,
    /// Where the packets end (the data table starts), if known.
    pub data_table: Option<usize>,
    /// Offset of the first packet.
    pub first_packet: usize,
    /// `(stream id, type identifier, sensor size)` per declared stream.
    pub streams: Vec<StreamInfo>,
}

fn attr_after<'a>(seg: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("key=\"{key}\"");
    let i = seg.find(&pat)?;
    let rest = &seg[i + pat.len()..];
    let open = rest.find('>')? + 1;
    let close = rest[open..].find('<')?;
    Some(rest[open..open + close].trim())
}

/// Parses the stream list from the DV XML description.
fn parse_streams(xml: &str) -> Vec<StreamInfo> {
    let mut starts: Vec<(usize, i32)> = Vec::new();
    let pat = "outInfo/";
    let mut from = 0;
    while let Some(i) = xml[from..].find(pat) {
        let at = from + i + pat.len();
        let digits: String = xml[at..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        if !digits.is_empty() && xml[at + digits.len()..].starts_with("/\"") {
            if let Ok(id) = digits.parse() {
                starts.push((at, id));
            }
        }
        from = at;
    }
    let mut out = Vec::new();
    for (k, &(at, id)) in starts.iter().enumerate() {
        let end = starts.get(k + 1).map_or(xml.len(), |s| s.0);
        let seg = &xml[at..end];
        let ty = attr_after(seg, "typeIdentifier").unwrap_or("").to_string();
        let size = match (attr_after(seg, "sizeX"), attr_after(seg, "sizeY")) {
            (Some(w), Some(h)) => w.parse().ok().zip(h.parse().ok()),
            _ => None,
        };
        out.push((id, ty, size));
    }
    out
}

/// Parses the magic and the IOHeader.
pub fn parse_header(buf: &[u8]) -> Result<Aedat4Header> {
    if buf.is_empty() {
        return Err(FormatError::new(0, "empty file"));
    }
    if !buf.starts_with(MAGIC) {
        return Err(FormatError::new(0, "missing '#!AER-DAT4.0' magic line"));
    }
    let mut pos = MAGIC.len();
    if buf[pos..].starts_with(b"\r\n") {
        pos += 2;
    } else if buf[pos..].starts_with(b"\n") {
        pos += 1;
    } else {
        return Err(FormatError::new(
            pos,
            "magic line is not followed by a line ending",
        ));
    }
    let size =
        u32_at(buf, pos).map_err(|_| FormatError::new(pos, "truncated header length"))? as usize;
    let hstart = pos + 4;
    if size > buf.len() - hstart {
        return Err(FormatError::new(
            pos,
            format!(
                "header length {size} exceeds the {} bytes that follow",
                buf.len() - hstart
            ),
        ));
    }
    let hb = &buf[hstart..hstart + size];
    let bad = |e: String| FormatError::new(hstart, format!("corrupt IOHeader: {e}"));
    if hb.get(4..8) != Some(b"IOHE") {
        return Err(FormatError::new(
            hstart,
            "IOHeader lacks its 'IOHE' identifier",
        ));
    }
    let t = Table::root(hb).map_err(bad)?;
    let compression = match t.i32(0, 0).map_err(bad)? {
        0 => Compression::None,
        1 | 2 => Compression::Lz4,
        3 | 4 => Compression::Zstd,
        c => {
            return Err(FormatError::new(
                hstart,
                format!("unknown compression type {c}"),
            ))
        }
    };
    let table = t.i64(1, -1).map_err(bad)?;
    let xml = t.string(2).map_err(bad)?.unwrap_or_default();
    let first_packet = hstart + size;
    let data_table =
        (table >= first_packet as i64 && table <= buf.len() as i64).then_some(table as usize);
    Ok(Aedat4Header {
        compression,
        data_table,
        first_packet,
        streams: parse_streams(&xml),
    })
}

fn decompress(body: &[u8], c: Compression, at: usize) -> Result<std::borrow::Cow<'_, [u8]>> {
    let limit = MAX_PACKET.min(body.len() as u64 * 300 + (1 << 20));
    let mut out = Vec::with_capacity(body.len() * 3);
    let res = match c {
        Compression::None => return Ok(std::borrow::Cow::Borrowed(body)),
        Compression::Lz4 => lz4_flex::frame::FrameDecoder::new(body)
            .take(limit + 1)
            .read_to_end(&mut out),
        Compression::Zstd => zstd::stream::read::Decoder::with_buffer(body)
            .and_then(|d| d.take(limit + 1).read_to_end(&mut out)),
    };
    res.map_err(|e| FormatError::new(at, format!("cannot decompress packet ({c:?}): {e}")))?;
    if out.len() as u64 > limit {
        return Err(FormatError::new(
            at,
            format!("decompressed packet exceeds {limit} bytes"),
        ));
    }
    Ok(std::borrow::Cow::Owned(out))
}

/// Decodes one packet body; `Ok(None)` when it is not an event packet.
fn decode_packet(body: &[u8], c: Compression, at: usize) -> Result<Option<Events>> {
    let raw = decompress(body, c, at)?;
    let fb: &[u8] = if raw.get(4..8) == Some(b"EVTS") {
        &raw
    } else if raw.get(8..12) == Some(b"EVTS") {
        &raw[4..]
    } else {
        return Ok(None);
    };
    let bad = |e: String| FormatError::new(at, format!("corrupt event packet: {e}"));
    let t = Table::root(fb).map_err(bad)?;
    let Some(el) = t.vector(0, 16).map_err(bad)? else {
        return Ok(Some(Events::new()));
    };
    let mut ev = Events::try_with_capacity(el.len() / 16, el.len())?;
    for c in el.chunks_exact(16) {
        let ts = i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        ev.push(
            i16::from_le_bytes([c[8], c[9]]),
            i16::from_le_bytes([c[10], c[11]]),
            ts,
            c[12] != 0,
        );
    }
    Ok(Some(ev))
}

/// Decodes the polarity events of a whole AEDAT 4 file; also returns the sensor size
/// of the event stream when the description gives it.
pub fn decode(buf: &[u8]) -> Result<(Events, Option<(u32, u32)>)> {
    let h = parse_header(buf)?;
    let end = h.data_table.unwrap_or(buf.len());
    let event_streams: Vec<i32> = h
        .streams
        .iter()
        .filter(|s| s.1 == "EVTS")
        .map(|s| s.0)
        .collect();
    let wanted = event_streams.first().copied();
    let size = h
        .streams
        .iter()
        .find(|s| Some(s.0) == wanted)
        .and_then(|s| s.2);
    let mut packets = Vec::new();
    let mut pos = h.first_packet;
    while pos < end {
        if end - pos < 8 {
            return Err(FormatError::new(
                pos,
                format!("truncated packet header: {} of 8 bytes", end - pos),
            ));
        }
        let id = i32::from_le_bytes([buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3]]);
        let len = i32::from_le_bytes([buf[pos + 4], buf[pos + 5], buf[pos + 6], buf[pos + 7]]);
        if len < 0 || len as usize > end - pos - 8 {
            return Err(FormatError::new(
                pos,
                format!(
                    "packet of stream {id} declares {len} bytes but {} remain",
                    end - pos - 8
                ),
            ));
        }
        let body = &buf[pos + 8..pos + 8 + len as usize];
        if wanted.is_none() || Some(id) == wanted {
            packets.push((pos, body));
        }
        pos += 8 + len as usize;
    }
    let decoded: Vec<Result<Option<Events>>> = packets
        .par_iter()
        .map(|&(at, body)| decode_packet(body, h.compression, at))
        .collect();
    let mut parts = Vec::with_capacity(decoded.len());
    for d in decoded {
        if let Some(e) = d? {
            parts.push(e);
        }
    }
    let total: usize = parts.iter().map(Events::len).sum();
    let mut ev = Events::try_with_capacity(total, total)?;
    for mut p in parts {
        ev.append(&mut p);
    }
    Ok((ev, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stream_xml() {
        let xml = r#"<dv><node name="outInfo" path="/mainloop/Recorder/outInfo/">
 <node name="0" path="/mainloop/Recorder/outInfo/0/"><attr key="typeIdentifier" type="string">EVTS</attr>
  <node name="info" path="/mainloop/Recorder/outInfo/0/info/"><attr key="sizeX" type="int">346</attr><attr key="sizeY" type="int">260</attr></node></node>
 <node name="1" path="/mainloop/Recorder/outInfo/1/"><attr key="typeIdentifier" type="string">FRME</attr></node></node></dv>"#;
        let s = parse_streams(xml);
        assert_eq!(
            s,
            vec![
                (0, "EVTS".to_string(), Some((346, 260))),
                (1, "FRME".to_string(), None)
            ]
        );
    }

    #[test]
    fn rejects_bad_headers() {
        assert!(parse_header(b"").is_err());
        assert!(parse_header(b"#!AER-DAT4.0\r\n").is_err());
        let mut f = b"#!AER-DAT4.0\r\n".to_vec();
        f.extend_from_slice(&u32::MAX.to_le_bytes());
        let e = parse_header(&f).unwrap_err();
        assert!(e.reason.contains("exceeds"));
    }
}
