//! Caches of large buffers, so that arrays of recurring sizes (per-step tensors, the output
//! of a reader called once per epoch) reuse memory whose pages are already mapped instead
//! of faulting fresh, kernel-zeroed pages in on every call.
//!
//! A [`BufferCache`] holds buffers of at least `min_len` elements, at most `max_bytes` in
//! all. [`FLOATS`] serves the torch kernels.

use std::sync::Mutex;

/// A bounded cache of `Vec<T>` buffers.
pub struct BufferCache<T> {
    bufs: Mutex<Vec<Vec<T>>>,
    min_len: usize,
    max_bytes: usize,
}

/// The cache of `f32` buffers used by the torch kernels: buffers of 256 KiB or more, 1 GiB
/// in all.
pub static FLOATS: BufferCache<f32> = BufferCache::new(1 << 16, 1 << 30);

/// Element types whose all-zero bytes are a valid value, so that a new buffer can come
/// zeroed from the allocator (`calloc`: fresh pages stay untouched until written).
///
/// # Safety
/// The all-zero bit pattern must be a valid value of the type.
pub unsafe trait Zeroable: Copy {}
// SAFETY: 0u8 and 0.0f32 are all-zero bytes.
unsafe impl Zeroable for u8 {}
// SAFETY: as above.
unsafe impl Zeroable for f32 {}

impl<T: Zeroable> BufferCache<T> {
    /// An empty cache of buffers of at least `min_len` elements, `max_bytes` in all.
    pub const fn new(min_len: usize, max_bytes: usize) -> Self {
        Self {
            bufs: Mutex::new(Vec::new()),
            min_len,
            max_bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Vec<T>>> {
        // a panic while holding the lock leaves the list valid: keep using it
        self.bufs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A buffer of at least `len` (and, when cached, at most `2 * len`) elements: the
    /// smallest cached one that fits (contents unspecified but initialised), else a new
    /// zeroed one. `None` when a new buffer cannot be allocated, so that callers can report
    /// it instead of aborting.
    pub fn take(&self, len: usize) -> Option<Vec<T>> {
        if len >= self.min_len {
            let mut bufs = self.lock();
            let fit = (0..bufs.len())
                .filter(|&i| bufs[i].len() >= len && bufs[i].len() / 2 <= len)
                .min_by_key(|&i| bufs[i].len());
            if let Some(i) = fit {
                return Some(bufs.swap_remove(i));
            }
        }
        zeroed(len)
    }

    /// Returns a buffer for reuse (dropped if small, or if the cache is full and it is not
    /// larger than the smallest cached buffer, which it then replaces).
    pub fn give(&self, buf: Vec<T>) {
        if buf.len() < self.min_len {
            return;
        }
        let size = std::mem::size_of::<T>();
        let mut bufs = self.lock();
        let held: usize = bufs.iter().map(|v| v.len() * size).sum();
        if held + buf.len() * size <= self.max_bytes {
            bufs.push(buf);
        } else if let Some(i) = (0..bufs.len()).min_by_key(|&i| bufs[i].len()) {
            // make room by dropping the smallest, if that is enough
            if bufs[i].len() < buf.len()
                && held - bufs[i].len() * size + buf.len() * size <= self.max_bytes
            {
                bufs[i] = buf;
            }
        }
    }

    /// Drops every cached buffer.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Bytes held by the cache now.
    pub fn held_bytes(&self) -> usize {
        self.lock()
            .iter()
            .map(|v| v.len() * std::mem::size_of::<T>())
            .sum()
    }
}

/// `len` zeroed elements straight from the allocator, or `None` if it has no room.
fn zeroed<T: Zeroable>(len: usize) -> Option<Vec<T>> {
    let layout = std::alloc::Layout::array::<T>(len).ok()?;
    if layout.size() == 0 {
        return Some(Vec::new());
    }
    // SAFETY: the layout has a non-zero size. A non-null block holds `len` zeroed, hence
    // valid (`Zeroable`), elements, allocated by the global allocator with exactly the
    // layout a `Vec<T>` of capacity `len` frees it with.
    unsafe {
        let ptr = std::alloc::alloc_zeroed(layout).cast::<T>();
        (!ptr.is_null()).then(|| Vec::from_raw_parts(ptr, len, len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_buffers_that_fit() {
        let cache: BufferCache<f32> = BufferCache::new(1000, 1 << 20);
        let a = cache.take(3001).unwrap();
        let ptr = a.as_ptr();
        cache.give(a);
        // same size, and a smaller request it still fits (at most twice as large)
        let b = cache.take(3001).unwrap();
        assert_eq!(b.as_ptr(), ptr);
        assert_eq!(b.len(), 3001);
        cache.give(b);
        let c = cache.take(2000).unwrap();
        assert_eq!(c.as_ptr(), ptr);
        assert!(c.len() >= 2000);
        cache.give(c);
        // more than twice the request: a new buffer, the cached one stays
        let d = cache.take(1200).unwrap();
        assert_ne!(d.as_ptr(), ptr);
        assert_eq!(d.len(), 1200);
        cache.give(vec![0.0; 10]); // too small to keep
        assert_eq!(cache.held_bytes(), 3001 * 4);
        cache.clear();
        assert_eq!(cache.held_bytes(), 0);
    }

    #[test]
    fn holds_at_most_max_bytes() {
        let cache: BufferCache<u8> = BufferCache::new(10, 100);
        cache.give(vec![0; 60]);
        cache.give(vec![0; 30]);
        assert_eq!(cache.held_bytes(), 90);
        cache.give(vec![0; 20]); // full: would replace the 30-byte buffer only if larger
        assert_eq!(cache.held_bytes(), 90);
        cache.give(vec![0; 40]); // replaces the 30-byte buffer
        assert_eq!(cache.held_bytes(), 100);
        cache.give(vec![0; 200]); // can never fit
        assert_eq!(cache.held_bytes(), 100);
    }
}
