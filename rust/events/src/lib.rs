//! Fast decoders for event-camera and spike file formats (pure Rust).
//!
//! Every decoder takes the whole file as a byte slice and returns [`Events`]: packed
//! 13-byte records with Tonic's numpy layout (`x: i16, y: i16, t: i64 µs, p: bool`).
//! Malformed input gives a [`FormatError`] with the byte offset; decoders never panic on
//! bad data, never loop without consuming input and never allocate more than a small
//! multiple of the input size. [`read_files`] decodes many files in parallel (rayon).
#![forbid(unsafe_code)]

pub mod aedat2;
pub mod aedat3;
pub mod aedat4;
pub mod camera;
pub mod dat;
pub mod detect;
pub mod error;
pub mod events;
pub mod evt2;
pub mod evt3;
pub mod filters;
pub mod flatbuf;
pub mod header;
pub mod nmnist;

pub use detect::{detect, Format};
pub use error::{FormatError, ReadError};
pub use events::{Event, Events, RECORD_SIZE};

use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// A decoded file: its events, its format and its sensor size when known.
#[derive(Debug, Clone)]
pub struct Recording {
    /// The format it was decoded as.
    pub format: Format,
    /// The polarity events in file order.
    pub events: Events,
    /// Sensor `(width, height)` when the format or the header fixes it.
    pub sensor_size: Option<(u32, u32)>,
}

fn prophesee_size(h: &header::TextHeader) -> Option<(u32, u32)> {
    for l in &h.lines {
        let low = l.to_ascii_lowercase();
        if let Some(i) = low.find("geometry") {
            let v = low[i + 8..].trim();
            if let Some((w, hh)) = v.split_once('x') {
                if let (Ok(w), Ok(hh)) = (w.trim().parse(), hh.trim().parse()) {
                    return Some((w, hh));
                }
            }
        }
        if low.contains("format ") && low.contains("width=") {
            let get = |k: &str| -> Option<u32> {
                let i = low.find(k)? + k.len();
                low[i..]
                    .split(|c: char| !c.is_ascii_digit())
                    .next()?
                    .parse()
                    .ok()
            };
            if let (Some(w), Some(hh)) = (get("width="), get("height=")) {
                return Some((w, hh));
            }
        }
    }
    let w = h
        .value_after("% Width")
        .or_else(|| h.value_after("% width"))
        .and_then(|v| v.parse().ok());
    let hh = h
        .value_after("% Height")
        .or_else(|| h.value_after("% height"))
        .and_then(|v| v.parse().ok());
    if let (Some(w), Some(hh)) = (w, hh) {
        return Some((w, hh));
    }
    let plugin = h.value_after("plugin_name")?.to_ascii_lowercase();
    if plugin.contains("gen41") || plugin.contains("imx636") {
        Some((1280, 720))
    } else if plugin.contains("gen3") {
        Some((640, 480))
    } else {
        None
    }
}

/// Decodes a whole file held in memory as `format`.
pub fn decode(buf: &[u8], format: Format) -> Result<Recording, FormatError> {
    let (events, sensor_size) = match format {
        Format::Nmnist => (nmnist::decode(buf)?, Some((34, 34))),
        Format::Aedat2 => {
            let (ev, chip) = aedat2::decode(buf)?;
            (ev, Some(chip.size()))
        }
        Format::Aedat3 => (aedat3::decode(buf)?, None),
        Format::Aedat4 => aedat4::decode(buf)?,
        Format::Evt2 | Format::Evt3 | Format::Dat => {
            if buf.is_empty() {
                return Err(FormatError::new(0, "empty file"));
            }
            if buf[0] != b'%' {
                return Err(FormatError::new(0, "missing Prophesee '%' header"));
            }
            let end = if format == Format::Dat {
                None
            } else {
                Some("% end")
            };
            let h = header::split_header(buf, b'%', end);
            let data = &buf[h.data_start..];
            let ev = match format {
                Format::Evt2 => evt2::decode_payload(data, h.data_start)?,
                Format::Evt3 => evt3::decode_payload(data, h.data_start)?,
                _ => dat::decode_payload(data, h.data_start)?,
            };
            (ev, prophesee_size(&h))
        }
    };
    Ok(Recording {
        format,
        events,
        sensor_size,
    })
}

/// Decodes a whole file held in memory; the format is detected (see [`detect()`]) using
/// `path` only for its extension.
pub fn decode_auto(path: &Path, buf: &[u8]) -> Result<Recording, FormatError> {
    let f = detect(path, buf)?;
    decode(buf, f)
}

/// Reads and decodes one file. `format = None` detects it. A decoder panic (a bug) is
/// caught and reported as a [`ReadError::Format`] instead of unwinding.
pub fn read_file(path: &Path, format: Option<Format>) -> Result<Recording, ReadError> {
    let buf = std::fs::read(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let run = || match format {
        Some(f) => decode(&buf, f),
        None => decode_auto(path, &buf),
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(r) => r.map_err(|error| ReadError::Format {
            path: path.to_path_buf(),
            error,
        }),
        Err(_) => Err(ReadError::Format {
            path: path.to_path_buf(),
            error: FormatError::new(0, "internal decoder error (please report this file)"),
        }),
    }
}

/// Reads and decodes many files in parallel; results are in the order of `paths`.
pub fn read_files(paths: &[PathBuf], format: Option<Format>) -> Vec<Result<Recording, ReadError>> {
    paths.par_iter().map(|p| read_file(p, format)).collect()
}
