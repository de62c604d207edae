//! Fast decoders for event-camera and spike file formats (pure Rust).
//!
//! Every decoder takes the whole file as a byte slice and returns [`Events`]: packed
//! 13-byte records with Tonic's numpy layout (`x: i16, y: i16, t: i64 µs, p: bool`).
//! Malformed input gives a [`FormatError`] with the byte offset; decoders never panic on
//! bad data, never loop without consuming input and never allocate more than a small
//! multiple of the input size. [`read_files`] decodes many files in parallel (rayon).
// `unsafe` only in `simd` (vector loads and stores of checked lengths)
#![deny(unsafe_code)]

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
#[allow(unsafe_code)]
pub mod simd;

pub use detect::{detect, Format};
pub use error::{FormatError, ReadError};
pub use events::{Event, Events, RECORD_SIZE};

use rayon::prelude::*;
use std::fs::File;
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

thread_local! {
    /// Per-thread input buffer, reused from file to file (kept fully initialised, so a
    /// read needs no zeroing).
    static INPUT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Input buffers above this size are released after use instead of kept for the next file.
const KEEP_INPUT_BYTES: usize = 64 << 20;

/// Reads the whole file into `buf` (grown as needed, never shrunk or re-zeroed) and returns
/// its length: open (unless `file` is already open), read until end of file, close.
fn read_whole(path: &Path, file: Option<File>, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    use std::io::Read;
    let mut f = match file {
        Some(f) => f,
        None => File::open(path)?,
    };
    if buf.len() < 64 << 10 {
        buf.resize(64 << 10, 0);
    }
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            // Grow to the file's size in one step (at least doubling), fallibly: a file too
            // large for memory (say a sparse file of terabytes) is an error, not an abort.
            let size = f
                .metadata()
                .map_or(0, |m| usize::try_from(m.len()).unwrap_or(usize::MAX));
            let want = size.saturating_add(1).max(filled.saturating_mul(2));
            buf.try_reserve_exact(want - buf.len()).map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::OutOfMemory,
                    format!("file too large to read into memory ({size} bytes)"),
                )
            })?;
            buf.resize(want, 0);
        }
        match f.read(&mut buf[filled..]) {
            Ok(0) => return Ok(filled),
            Ok(k) => filled += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Runs `f` on the whole content of `path` (already open as `file`, if given), read into
/// this thread's reusable buffer.
fn with_file<R>(
    path: &Path,
    file: Option<File>,
    f: impl FnOnce(&[u8]) -> R,
) -> Result<R, ReadError> {
    INPUT.with(|cell| {
        // a re-entrant call (not expected) falls back to a fresh buffer
        let mut fresh = Vec::new();
        let mut guard = cell.try_borrow_mut().ok();
        let buf = match guard.as_deref_mut() {
            Some(b) => b,
            None => &mut fresh,
        };
        let n = read_whole(path, file, buf).map_err(|source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let r = f(&buf[..n]);
        if buf.len() > KEEP_INPUT_BYTES {
            *buf = Vec::new();
        }
        Ok(r)
    })
}

fn catch(
    path: &Path,
    run: impl FnOnce() -> Result<Placed, FormatError>,
) -> Result<Placed, ReadError> {
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

/// Reads and decodes one file. `format = None` detects it. A decoder panic (a bug) is
/// caught and reported as a [`ReadError::Format`] instead of unwinding.
pub fn read_file(path: &Path, format: Option<Format>) -> Result<Recording, ReadError> {
    let placed = with_file(path, None, |buf| {
        catch(path, || {
            let r = match format {
                Some(f) => decode(buf, f),
                None => decode_auto(path, buf),
            };
            r.map(Placed::Owned)
        })
    })??;
    match placed {
        Placed::Owned(r) => Ok(r),
        Placed::Slot { .. } => unreachable!("read_file decodes into owned buffers"),
    }
}

/// Reads and decodes many files in parallel; results are in the order of `paths`.
pub fn read_files(paths: &[PathBuf], format: Option<Format>) -> Vec<Result<Recording, ReadError>> {
    paths.par_iter().map(|p| read_file(p, format)).collect()
}

/// Where [`read_files_into`] put the events of one file.
#[derive(Debug)]
pub enum Placed {
    /// Decoded into the file's slot: records `0..count` of the slot.
    Slot {
        /// Number of events.
        count: usize,
        /// The format it was decoded as.
        format: Format,
        /// Sensor `(width, height)` when known.
        sensor_size: Option<(u32, u32)>,
    },
    /// The slot was missing or too small (another format, or the file grew after
    /// [`open_slotted`] looked at it): decoded into its own buffer.
    Owned(Recording),
}

/// The format a file will be decoded as when it has a fixed record size and so a known
/// event bound: the given format, else the extension's (`.bin`/`.bs2` N-MNIST, `.aedat`
/// AEDAT 2.0, confirmed from the header when the file is read).
fn fixed_format(path: &Path, format: Option<Format>) -> Option<Format> {
    let f = match format {
        Some(f) => f,
        None => match path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .as_deref()
        {
            Some("bin") | Some("bs2") => Format::Nmnist,
            Some("aedat") => Format::Aedat2,
            _ => return None,
        },
    };
    matches!(f, Format::Nmnist | Format::Aedat2).then_some(f)
}

fn bound(format: Format, len: usize) -> usize {
    match format {
        Format::Nmnist => nmnist::max_events(len),
        Format::Aedat2 => aedat2::max_events(len),
        _ => 0,
    }
}

/// A file as the sizing pass of [`read_files_into`] left it: open when it has a
/// fixed-record format (so that reading it does not look its path up again), with the
/// number of event records to reserve for it.
#[derive(Debug)]
pub struct Slotted {
    file: Option<File>,
    /// Records to reserve: an upper bound on the file's events, 0 when unknown.
    pub records: usize,
}

/// For each path (in parallel): opens N-MNIST / AEDAT 2.0 files (by `format`, else by
/// extension) and sizes their slot from the open file's length. Files of other formats,
/// and files that cannot be opened, get no slot (0 records): they are handled, and their
/// errors reported, when [`read_files_into`] reads them. Each returned file stays open
/// until it is read, so callers bound how many paths they pass at a time.
pub fn open_slotted(paths: &[PathBuf], format: Option<Format>) -> Vec<Slotted> {
    paths
        .par_iter()
        .map(|p| {
            let none = Slotted {
                file: None,
                records: 0,
            };
            let Some(f) = fixed_format(p, format) else {
                return none;
            };
            let Ok(file) = File::open(p) else {
                return none;
            };
            match file.metadata() {
                Ok(m) => Slotted {
                    records: bound(f, usize::try_from(m.len()).unwrap_or(usize::MAX)),
                    file: Some(file),
                },
                Err(_) => none,
            }
        })
        .collect()
}

/// Reads and decodes many files in parallel (rayon's current pool), decoding each
/// N-MNIST / AEDAT 2.0 file straight into `slots[i]` (records of [`RECORD_SIZE`] bytes)
/// when it fits, any other file into its own buffer. `opened` comes from
/// [`open_slotted`] on the same paths. Results are in the order of `paths`; each file's
/// error names it. Files are read into one reusable buffer per thread.
pub fn read_files_into(
    paths: &[PathBuf],
    opened: Vec<Slotted>,
    format: Option<Format>,
    slots: Vec<&mut [u8]>,
) -> Vec<Result<Placed, ReadError>> {
    assert_eq!(paths.len(), slots.len(), "one slot per path");
    assert_eq!(paths.len(), opened.len(), "one sizing result per path");
    paths
        .par_iter()
        .zip(opened.into_par_iter())
        .zip(slots.into_par_iter())
        .map(|((path, opened), slot)| {
            with_file(path, opened.file, |buf| {
                catch(path, || {
                    let f = match format {
                        Some(f) => f,
                        None => detect(path, buf)?,
                    };
                    let need = bound(f, buf.len()) * RECORD_SIZE;
                    if need > 0 && need <= slot.len() {
                        let (count, sensor_size) = match f {
                            Format::Nmnist => (nmnist::decode_into(buf, slot)?, Some((34, 34))),
                            _ => {
                                let (n, chip) = aedat2::decode_into(buf, slot)?;
                                (n, Some(chip.size()))
                            }
                        };
                        return Ok(Placed::Slot {
                            count,
                            format: f,
                            sensor_size,
                        });
                    }
                    decode(buf, f).map(Placed::Owned)
                })
            })?
        })
        .collect()
}

/// Runs `f` in a rayon pool of `threads` threads (pools are built once per size and
/// kept); `None` uses rayon's global pool.
pub fn with_threads<R: Send>(threads: Option<usize>, f: impl FnOnce() -> R + Send) -> R {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    let Some(n) = threads else { return f() };
    let pool = {
        let mut pools = POOLS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        pools
            .entry(n.max(1))
            .or_insert_with(|| {
                Arc::new(
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(n.max(1))
                        .thread_name(|i| format!("spikeflow-read-{i}"))
                        .build()
                        .expect("rayon thread pool"),
                )
            })
            .clone()
    };
    pool.install(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slotted_files_are_read_through_their_open_handle() {
        let dir = std::env::temp_dir().join(format!("spikeflow-slotted-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // two plain N-MNIST events, a file of unknown format, a missing file
        let nm = dir.join("a.bin");
        std::fs::write(&nm, [3, 4, 0x80, 0x01, 0x02, 1, 2, 0x00, 0x00, 0x07]).unwrap();
        let other = dir.join("b.txt");
        std::fs::write(&other, b"not events").unwrap();
        let missing = dir.join("missing.bin");
        let paths = vec![nm.clone(), other, missing.clone()];
        let opened = open_slotted(&paths, None);
        let records: Vec<usize> = opened.iter().map(|o| o.records).collect();
        assert_eq!(records, [2, 0, 0]);
        // the handle is what gets read: the name may go away in between
        std::fs::remove_file(&nm).unwrap();
        let mut buf = vec![0u8; 2 * RECORD_SIZE];
        let slots = vec![&mut buf[..], &mut [][..], &mut [][..]];
        let res = read_files_into(&paths, opened, None, slots);
        assert!(matches!(
            res[0],
            Ok(Placed::Slot {
                count: 2,
                format: Format::Nmnist,
                ..
            })
        ));
        assert!(matches!(&res[1], Err(ReadError::Format { .. })));
        match &res[2] {
            Err(ReadError::Io { path, .. }) => assert_eq!(path, &missing),
            other => panic!("expected an I/O error naming the file, got {other:?}"),
        }
        let ev = Events::from_bytes(buf);
        assert_eq!(ev.get(1).unwrap().t, 7);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
