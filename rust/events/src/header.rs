//! Text headers: lines that start with a marker byte (`#` for AEDAT, `%` for Prophesee).

/// A parsed text header.
#[derive(Debug, Clone, Default)]
pub struct TextHeader {
    /// The header lines without their line endings.
    pub lines: Vec<String>,
    /// Offset of the first byte after the header.
    pub data_start: usize,
}

impl TextHeader {
    /// The value after `key` on the first line that contains it (trimmed), if any.
    pub fn value_after(&self, key: &str) -> Option<&str> {
        self.lines.iter().find_map(|l| {
            let i = l.find(key)?;
            Some(l[i + key.len()..].trim())
        })
    }
}

/// Reads header lines while the next byte is `marker`. Stops after a line equal to
/// `end_line` (compared after trimming) when one is given.
pub fn split_header(buf: &[u8], marker: u8, end_line: Option<&str>) -> TextHeader {
    let mut pos = 0;
    let mut lines = Vec::new();
    while pos < buf.len() && buf[pos] == marker {
        let end = match buf[pos..].iter().position(|&b| b == b'\n') {
            Some(i) => pos + i + 1,
            None => buf.len(),
        };
        let line = String::from_utf8_lossy(&buf[pos..end])
            .trim_end_matches(['\r', '\n'])
            .to_string();
        pos = end;
        let stop = end_line.is_some_and(|e| line.trim() == e);
        lines.push(line);
        if stop {
            break;
        }
    }
    TextHeader {
        lines,
        data_start: pos,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines() {
        let h = split_header(b"% a 1\r\n% evt 3.0\n\x01\x02", b'%', None);
        assert_eq!(h.lines, vec!["% a 1", "% evt 3.0"]);
        assert_eq!(h.data_start, 17);
        assert_eq!(h.value_after("evt"), Some("3.0"));
        let h = split_header(b"% x\n% end\n%%", b'%', Some("% end"));
        assert_eq!(h.data_start, 10);
        let h = split_header(b"#abc", b'#', None);
        assert_eq!(h.data_start, 4);
    }
}
