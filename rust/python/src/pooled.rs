//! numpy arrays over buffers taken from a [`BufferCache`]: the array's base object gives
//! the buffer back to its cache when numpy frees the array, so the next array of a similar
//! size reuses pages that are already mapped.
use std::sync::Mutex;

use numpy::{Element, PyArray1};
use pyo3::exceptions::PyMemoryError;
use pyo3::prelude::*;
use spikeflow_kernels::pool::{BufferCache, Zeroable, FLOATS};

/// Bytes of decoded event records: buffers of 256 KiB or more, 1 GiB in all.
pub static BYTES: BufferCache<u8> = BufferCache::new(1 << 18, 1 << 30);

/// A buffer lent to numpy, tagged with the cache it returns to.
pub enum Lent {
    F32(Vec<f32>),
    U8(Vec<u8>),
}

/// Element types with a cache ([`FLOATS`], [`BYTES`]).
pub trait Cached: Element + Zeroable + 'static {
    fn cache() -> &'static BufferCache<Self>;
    fn tag(buf: Vec<Self>) -> Lent;
}

impl Cached for f32 {
    fn cache() -> &'static BufferCache<f32> {
        &FLOATS
    }
    fn tag(buf: Vec<f32>) -> Lent {
        Lent::F32(buf)
    }
}

impl Cached for u8 {
    fn cache() -> &'static BufferCache<u8> {
        &BYTES
    }
    fn tag(buf: Vec<u8>) -> Lent {
        Lent::U8(buf)
    }
}

/// Owner (the numpy base object) of a lent buffer.
#[pyclass(frozen)]
struct PooledBuffer {
    data: Mutex<Option<Lent>>,
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        match self
            .data
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            Some(Lent::F32(v)) => FLOATS.give(v),
            Some(Lent::U8(v)) => BYTES.give(v),
            None => {}
        }
    }
}

/// A buffer of at least `len` elements from `T`'s cache ([`BufferCache::take`]); an
/// allocation that cannot be made raises `MemoryError` instead of aborting the process.
pub fn take<T: Cached>(len: usize) -> PyResult<Vec<T>> {
    T::cache().take(len).ok_or_else(|| {
        let bytes = (len as u128) * std::mem::size_of::<T>() as u128;
        PyMemoryError::new_err(format!("cannot allocate {bytes} bytes"))
    })
}

/// A 1-D numpy array over the first `len` elements of `buf` (at least `len` long); the
/// buffer goes back to `T`'s cache when the array (and every view of it) is freed.
pub fn lend<T: Cached>(
    py: Python<'_>,
    mut buf: Vec<T>,
    len: usize,
) -> PyResult<Bound<'_, PyArray1<T>>> {
    assert!(buf.len() >= len, "lent buffer shorter than the array");
    let ptr = buf.as_mut_ptr();
    let owner = Bound::new(
        py,
        PooledBuffer {
            data: Mutex::new(Some(T::tag(buf))),
        },
    )?;
    // SAFETY: `ptr` points to at least `len` initialised elements of a Vec owned by
    // `owner`, which the array keeps alive as its base and which never reallocates it.
    let view = unsafe { numpy::ndarray::ArrayView1::from_shape_ptr(len, ptr as *const T) };
    // SAFETY: as above; the view only describes the data.
    Ok(unsafe { PyArray1::borrow_from_array(&view, owner.into_any()) })
}
