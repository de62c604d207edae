//! File formats and their detection from the header bytes and the file extension.
use crate::error::FormatError;
use crate::header::{split_header, TextHeader};
use std::path::Path;

/// A supported file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// N-MNIST / N-Caltech101 `.bin` (40-bit events).
    Nmnist,
    /// AEDAT 2.0 (jAER).
    Aedat2,
    /// AEDAT 3.1 (cAER).
    Aedat3,
    /// AEDAT 4.0 (DV).
    Aedat4,
    /// Prophesee EVT 2.0 `.raw`.
    Evt2,
    /// Prophesee EVT 3.0 `.raw`.
    Evt3,
    /// Prophesee DAT.
    Dat,
}

impl Format {
    /// All formats.
    pub const ALL: [Format; 7] = [
        Format::Nmnist,
        Format::Aedat2,
        Format::Aedat3,
        Format::Aedat4,
        Format::Evt2,
        Format::Evt3,
        Format::Dat,
    ];

    /// The short lower-case name used in the Python API.
    pub fn name(self) -> &'static str {
        match self {
            Format::Nmnist => "nmnist",
            Format::Aedat2 => "aedat2",
            Format::Aedat3 => "aedat3",
            Format::Aedat4 => "aedat4",
            Format::Evt2 => "evt2",
            Format::Evt3 => "evt3",
            Format::Dat => "dat",
        }
    }

    /// The format with this short name.
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// Which EVT version a Prophesee header declares, if any.
pub(crate) fn evt_version(h: &TextHeader) -> Option<&'static str> {
    for l in &h.lines {
        let l = l.to_ascii_lowercase();
        let l = l.trim_start_matches('%').trim();
        if let Some(v) = l.strip_prefix("evt ") {
            return match v.trim() {
                "2.0" => Some("2.0"),
                "3.0" => Some("3.0"),
                "2.1" => Some("2.1"),
                _ => Some("?"),
            };
        }
        if let Some(v) = l.strip_prefix("format ") {
            let v = v.split(';').next().unwrap_or("").trim();
            return match v {
                "evt2" => Some("2.0"),
                "evt3" => Some("3.0"),
                "evt21" => Some("2.1"),
                _ => Some("?"),
            };
        }
    }
    None
}

/// Detects the format of a file from its first bytes and (for formats without a magic
/// number) its extension.
pub fn detect(path: &Path, buf: &[u8]) -> Result<Format, FormatError> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if buf.is_empty() {
        return Err(FormatError::new(0, "empty file"));
    }
    if buf.starts_with(b"#!AER-DAT") {
        let v = &buf[9..buf.len().min(12)];
        return match v {
            b"2.0" | b"2.1" => Ok(Format::Aedat2),
            b"3.0" | b"3.1" => Ok(Format::Aedat3),
            b"4.0" => Ok(Format::Aedat4),
            _ => Err(FormatError::new(
                9,
                format!(
                    "unsupported AEDAT version '{}' (supported: 2.0, 3.1, 4.0)",
                    String::from_utf8_lossy(v)
                ),
            )),
        };
    }
    if buf[0] == b'%' {
        if ext == "dat" {
            return Ok(Format::Dat);
        }
        let h = split_header(&buf[..buf.len().min(1 << 20)], b'%', Some("% end"));
        return match evt_version(&h) {
            Some("2.0") => Ok(Format::Evt2),
            Some("3.0") => Ok(Format::Evt3),
            Some(v) => Err(FormatError::new(0, format!("unsupported Prophesee EVT version '{v}' (supported: 2.0, 3.0)"))),
            None if h.lines.iter().any(|l| l.to_ascii_lowercase().contains("event2d")) => Ok(Format::Dat),
            None => Err(FormatError::new(
                0,
                "Prophesee header does not say which event format follows (no 'evt' or 'format' line)",
            )),
        };
    }
    match ext.as_str() {
        "bin" | "bs2" => Ok(Format::Nmnist),
        "aedat" | "aedat4" => Err(FormatError::new(0, "missing '#!AER-DAT' magic line")),
        "raw" | "dat" => Err(FormatError::new(0, "missing Prophesee '%' header")),
        _ => Err(FormatError::new(
            0,
            format!("unrecognised event file (extension '{ext}', no known magic)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects() {
        let p = Path::new("a.raw");
        assert_eq!(detect(p, b"% evt 3.0\n").unwrap(), Format::Evt3);
        assert_eq!(
            detect(p, b"% format EVT2;height=4\n% end\n").unwrap(),
            Format::Evt2
        );
        assert!(detect(p, b"% format EVT21\n").is_err());
        assert!(detect(p, b"% date\n").is_err());
        assert_eq!(detect(Path::new("x.dat"), b"% x\n").unwrap(), Format::Dat);
        assert_eq!(detect(Path::new("x.bin"), b"\0").unwrap(), Format::Nmnist);
        assert_eq!(
            detect(Path::new("x"), b"#!AER-DAT3.1\r\n").unwrap(),
            Format::Aedat3
        );
        assert!(detect(Path::new("x"), b"#!AER-DAT1.0\r\n").is_err());
        assert!(detect(Path::new("x.txt"), b"hello").is_err());
        for f in Format::ALL {
            assert_eq!(Format::from_name(f.name()), Some(f));
        }
    }
}
