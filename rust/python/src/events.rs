//! Bindings of `spikeflow-events` (private `events_*` functions; the typed public API is
//! `spikeflow.data`). Decoding runs with the GIL released; decoded records move into numpy
//! without a copy as a `uint8` array that Python views with the event dtype. Format errors
//! become `spikeflow.data.errors.EventFormatError(path, offset, reason)`, I/O errors the
//! matching `OSError` subclass, and a Rust panic a `RuntimeError` (never a PanicException).
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::exceptions::{
    PyFileNotFoundError, PyIsADirectoryError, PyMemoryError, PyOSError, PyPermissionError,
    PyRuntimeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use spikeflow_events::filters::{self, FilterError};
use spikeflow_events::{self as ev, Format, ReadError, Recording};

use crate::pooled;

/// `(records as uint8, format name, sensor size or None)`.
type Decoded<'py> = (Bound<'py, PyArray1<u8>>, &'static str, Option<(u32, u32)>);

fn format_error(py: Python<'_>, path: &str, offset: Option<u64>, reason: &str) -> PyErr {
    let built = py
        .import("spikeflow.data.errors")
        .and_then(|m| m.getattr("EventFormatError"))
        .and_then(|cls| cls.call1((path, offset, reason)));
    match built {
        Ok(obj) => PyErr::from_value(obj),
        Err(_) => PyValueError::new_err(match offset {
            Some(o) => format!("{path}: byte {o}: {reason}"),
            None => format!("{path}: {reason}"),
        }),
    }
}

/// A decoder error for `path`: `MemoryError` when the output does not fit in memory, else
/// `EventFormatError`.
fn decode_error(py: Python<'_>, path: &str, e: &ev::FormatError) -> PyErr {
    if e.too_large {
        PyMemoryError::new_err(format!("{path}: {}", e.reason))
    } else {
        format_error(py, path, Some(e.offset), &e.reason)
    }
}

fn to_pyerr(py: Python<'_>, e: ReadError) -> PyErr {
    match e {
        ReadError::Io { path, source } => {
            let msg = format!("{}: {source}", path.display());
            match source.kind() {
                std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(msg),
                std::io::ErrorKind::PermissionDenied => PyPermissionError::new_err(msg),
                std::io::ErrorKind::IsADirectory => PyIsADirectoryError::new_err(msg),
                std::io::ErrorKind::OutOfMemory => PyMemoryError::new_err(msg),
                _ => PyOSError::new_err(msg),
            }
        }
        ReadError::Format { path, error } => decode_error(py, &path.display().to_string(), &error),
    }
}

fn parse_format(format: Option<&str>) -> PyResult<Option<Format>> {
    match format {
        None => Ok(None),
        Some(name) => Format::from_name(name).map(Some).ok_or_else(|| {
            let names: Vec<_> = Format::ALL.iter().map(|f| f.name()).collect();
            PyValueError::new_err(format!(
                "unknown format {name:?}; expected one of {}",
                names.join(", ")
            ))
        }),
    }
}

fn to_py(py: Python<'_>, r: Recording) -> Decoded<'_> {
    let name = r.format.name();
    let size = r.sensor_size;
    (r.events.into_bytes().into_pyarray(py), name, size)
}

fn panic_err() -> PyErr {
    PyRuntimeError::new_err(
        "internal error in a spikeflow event decoder (panic); please report the file",
    )
}

/// Reads and decodes one file.
#[pyfunction]
#[pyo3(signature = (path, format=None))]
fn events_read<'py>(
    py: Python<'py>,
    path: PathBuf,
    format: Option<&str>,
) -> PyResult<Decoded<'py>> {
    let fmt = parse_format(format)?;
    let r = py
        .detach(|| catch_unwind(AssertUnwindSafe(|| ev::read_file(&path, fmt))))
        .map_err(|_| panic_err())?;
    r.map(|rec| to_py(py, rec)).map_err(|e| to_pyerr(py, e))
}

/// `(one uint8 array of records per batch of files, (batch, start record) per file (start
/// -1: decoded into its own buffer), event count per file, {index: (records, format, size)}
/// for files decoded into their own buffer)`.
type Many<'py> = (
    Vec<Bound<'py, PyArray1<u8>>>,
    Vec<(usize, i64)>,
    Vec<usize>,
    std::collections::HashMap<usize, Decoded<'py>>,
);

/// Reads and decodes many files in parallel (`threads` rayon threads, default: all cores)
/// with the GIL released, `open_files` files at a time (each batch's files stay open
/// between sizing and reading them, so their paths are looked up once). N-MNIST and
/// AEDAT 2.0 files are decoded straight into one numpy buffer per batch sized from the
/// file sizes (no copy); other formats into their own buffers. Raises the error of the
/// first failing file in `paths` order.
#[pyfunction]
#[pyo3(signature = (paths, format=None, threads=None, open_files=256))]
fn events_read_many<'py>(
    py: Python<'py>,
    paths: Vec<PathBuf>,
    format: Option<&str>,
    threads: Option<usize>,
    open_files: usize,
) -> PyResult<Many<'py>> {
    let fmt = parse_format(format)?;
    if threads == Some(0) {
        return Err(PyValueError::new_err("threads must be at least 1"));
    }
    let mut bigs = Vec::new();
    let mut placed = Vec::with_capacity(paths.len());
    let mut counts = Vec::with_capacity(paths.len());
    let mut owned = std::collections::HashMap::new();
    for (b, batch) in paths.chunks(open_files.max(1)).enumerate() {
        let opened = py
            .detach(|| {
                catch_unwind(AssertUnwindSafe(|| {
                    ev::with_threads(threads, || ev::open_slotted(batch, fmt))
                }))
            })
            .map_err(|_| panic_err())?;
        let records: Vec<usize> = opened.iter().map(|o| o.records).collect();
        let too_big = |detail: String| {
            let (i, _) = records
                .iter()
                .enumerate()
                .max_by_key(|&(_, k)| *k)
                .unwrap_or((0, &0));
            PyMemoryError::new_err(format!(
                "read_many: no memory for the decoded events ({detail}); the largest file, {}, \
                 has room for {} events",
                batch[i].display(),
                records[i]
            ))
        };
        let total = records
            .iter()
            .try_fold(0usize, |a, &k| a.checked_add(k))
            .and_then(|n| n.checked_mul(ev::RECORD_SIZE))
            .ok_or_else(|| too_big("size overflows".into()))?;
        // A cached buffer when one fits: a fresh one would cost a page fault (and the
        // kernel zeroing a page) every 4 KiB, on every call. Bytes past a file's events
        // are never exposed, so stale contents are harmless.
        let mut buf = pooled::take::<u8>(total).map_err(|_| too_big(format!("{total} bytes")))?;
        let results = {
            let mut rest = &mut buf[..total];
            let mut slots = Vec::with_capacity(batch.len());
            for &k in &records {
                let (slot, tail) = std::mem::take(&mut rest).split_at_mut(k * ev::RECORD_SIZE);
                slots.push(slot);
                rest = tail;
            }
            py.detach(|| {
                catch_unwind(AssertUnwindSafe(|| {
                    ev::with_threads(threads, || ev::read_files_into(batch, opened, fmt, slots))
                }))
            })
            .map_err(|_| panic_err())?
        };
        bigs.push(pooled::lend(py, buf, total)?);
        let mut at = 0usize;
        for (r, &k) in results.into_iter().zip(&records) {
            match r.map_err(|e| to_pyerr(py, e))? {
                ev::Placed::Slot { count, .. } => {
                    placed.push((b, at as i64));
                    counts.push(count);
                }
                ev::Placed::Owned(rec) => {
                    counts.push(rec.events.len());
                    owned.insert(placed.len(), to_py(py, rec));
                    placed.push((b, -1));
                }
            }
            at += k;
        }
    }
    Ok((bigs, placed, counts, owned))
}

/// Drops the cached output buffers of `events_read_many`.
#[pyfunction]
fn events_cache_clear() {
    pooled::BYTES.clear();
}

/// Bytes held by the cache of `events_read_many` output buffers.
#[pyfunction]
fn events_cache_bytes() -> usize {
    pooled::BYTES.held_bytes()
}

/// Decodes a file held in memory; `name` is used for messages and (when `format` is None)
/// for the extension during detection.
#[pyfunction]
#[pyo3(signature = (data, name, format=None))]
fn events_decode<'py>(
    py: Python<'py>,
    data: PyBackedBytes,
    name: &str,
    format: Option<&str>,
) -> PyResult<Decoded<'py>> {
    let fmt = parse_format(format)?;
    let path = PathBuf::from(name);
    let r = py
        .detach(|| {
            catch_unwind(AssertUnwindSafe(|| match fmt {
                Some(f) => ev::decode(&data, f),
                None => ev::decode_auto(&path, &data),
            }))
        })
        .map_err(|_| panic_err())?;
    r.map(|rec| to_py(py, rec))
        .map_err(|e| decode_error(py, name, &e))
}

/// Detects the format of a file from its first bytes and extension.
#[pyfunction]
fn events_detect(py: Python<'_>, path: PathBuf) -> PyResult<&'static str> {
    use std::io::Read;
    let mut head = Vec::new();
    let io = |e: std::io::Error| {
        to_pyerr(
            py,
            ReadError::Io {
                path: path.clone(),
                source: e,
            },
        )
    };
    std::fs::File::open(&path)
        .and_then(|f| f.take(1 << 20).read_to_end(&mut head))
        .map_err(io)?;
    ev::detect(&path, &head)
        .map(Format::name)
        .map_err(|e| format_error(py, &path.display().to_string(), Some(e.offset), &e.reason))
}

/// The short names of the supported formats.
#[pyfunction]
fn events_formats() -> Vec<&'static str> {
    Format::ALL.iter().map(|f| f.name()).collect()
}

type Mask<'py> = Bound<'py, PyArray1<bool>>;
type Filter = fn(&[i16], &[i16], &[i64], usize, usize, i64) -> Result<Vec<bool>, FilterError>;

fn run_filter<'py>(
    py: Python<'py>,
    f: Filter,
    (x, y, t): (
        PyReadonlyArray1<'py, i16>,
        PyReadonlyArray1<'py, i16>,
        PyReadonlyArray1<'py, i64>,
    ),
    (width, height, param): (usize, usize, i64),
) -> PyResult<Mask<'py>> {
    let contiguous = |_| PyValueError::new_err("x, y (int16) and t (int64) must be contiguous");
    let (xs, ys, ts) = (
        x.as_slice().map_err(contiguous)?,
        y.as_slice().map_err(contiguous)?,
        t.as_slice().map_err(contiguous)?,
    );
    let r = py
        .detach(|| catch_unwind(AssertUnwindSafe(|| f(xs, ys, ts, width, height, param))))
        .map_err(|_| panic_err())?;
    r.map(|m| m.into_pyarray(py))
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Keep-mask of the per-pixel refractory filter (`period` µs since the last kept event).
#[pyfunction]
fn events_refractory_mask<'py>(
    py: Python<'py>,
    x: PyReadonlyArray1<'py, i16>,
    y: PyReadonlyArray1<'py, i16>,
    t: PyReadonlyArray1<'py, i64>,
    width: usize,
    height: usize,
    period: i64,
) -> PyResult<Mask<'py>> {
    run_filter(
        py,
        filters::refractory_mask,
        (x, y, t),
        (width, height, period),
    )
}

/// Keep-mask of the background-activity filter (a neighbour fired within `window` µs).
#[pyfunction]
fn events_denoise_mask<'py>(
    py: Python<'py>,
    x: PyReadonlyArray1<'py, i16>,
    y: PyReadonlyArray1<'py, i16>,
    t: PyReadonlyArray1<'py, i64>,
    width: usize,
    height: usize,
    window: i64,
) -> PyResult<Mask<'py>> {
    run_filter(
        py,
        filters::denoise_mask,
        (x, y, t),
        (width, height, window),
    )
}

/// Events of the contrast-threshold pixel model over a clip (see `camera::contrast_events`).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn events_contrast<'py>(
    py: Python<'py>,
    log: PyReadonlyArray1<'py, f64>,
    times: PyReadonlyArray1<'py, f64>,
    width: usize,
    height: usize,
    c_on: PyReadonlyArray1<'py, f64>,
    c_off: PyReadonlyArray1<'py, f64>,
    max_events: usize,
) -> PyResult<Bound<'py, PyArray1<u8>>> {
    let contiguous = |_| PyValueError::new_err("arrays must be contiguous float64");
    let (l, t, on, off) = (
        log.as_slice().map_err(contiguous)?,
        times.as_slice().map_err(contiguous)?,
        c_on.as_slice().map_err(contiguous)?,
        c_off.as_slice().map_err(contiguous)?,
    );
    let r = py
        .detach(|| {
            catch_unwind(AssertUnwindSafe(|| {
                ev::camera::contrast_events(l, t, width, height, on, off, max_events)
            }))
        })
        .map_err(|_| panic_err())?;
    r.map(|e| e.into_bytes().into_pyarray(py))
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(events_read, m)?)?;
    m.add_function(wrap_pyfunction!(events_read_many, m)?)?;
    m.add_function(wrap_pyfunction!(events_cache_clear, m)?)?;
    m.add_function(wrap_pyfunction!(events_cache_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(events_decode, m)?)?;
    m.add_function(wrap_pyfunction!(events_detect, m)?)?;
    m.add_function(wrap_pyfunction!(events_formats, m)?)?;
    m.add_function(wrap_pyfunction!(events_refractory_mask, m)?)?;
    m.add_function(wrap_pyfunction!(events_denoise_mask, m)?)?;
    m.add_function(wrap_pyfunction!(events_contrast, m)?)?;
    m.add("EVENT_RECORD_SIZE", ev::RECORD_SIZE)?;
    Ok(())
}
