//! A small cache of large `f32` buffers, so that per-step tensors of the same sizes reuse
//! memory whose pages are already mapped instead of faulting fresh pages in every step.
//!
//! Only buffers of at least [`MIN_LEN`] floats are cached, at most [`MAX_BYTES`] in all.

use std::sync::Mutex;

/// Smallest buffer (in floats) worth caching: 256 KiB.
pub const MIN_LEN: usize = 1 << 16;
/// Most memory the cache holds.
pub const MAX_BYTES: usize = 1 << 30;

static CACHE: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());

/// A buffer of exactly `len` floats; its contents are unspecified (but initialised).
pub fn take(len: usize) -> Vec<f32> {
    if len >= MIN_LEN {
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = cache.iter().position(|v| v.len() == len) {
            return cache.swap_remove(i);
        }
    }
    vec![0.0; len]
}

/// Return a buffer for reuse (dropped if small or if the cache is full).
pub fn give(buf: Vec<f32>) {
    if buf.len() < MIN_LEN {
        return;
    }
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let held: usize = cache.iter().map(|v| v.len() * 4).sum();
    if held + buf.len() * 4 <= MAX_BYTES {
        cache.push(buf);
    } else if let Some(i) = (0..cache.len()).min_by_key(|&i| cache[i].len()) {
        // make room by dropping the smallest, if that is enough
        if cache[i].len() < buf.len() && held - cache[i].len() * 4 + buf.len() * 4 <= MAX_BYTES {
            cache[i] = buf;
        }
    }
}

/// Drop every cached buffer.
pub fn clear() {
    CACHE.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

/// Bytes held by the cache now.
pub fn held_bytes() -> usize {
    CACHE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|v| v.len() * 4)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_same_sized_buffers() {
        let a = take(MIN_LEN * 3 + 1);
        let ptr = a.as_ptr();
        give(a);
        let b = take(MIN_LEN * 3 + 1);
        assert_eq!(b.as_ptr(), ptr);
        assert_eq!(b.len(), MIN_LEN * 3 + 1);
        give(vec![0.0; 10]);
        give(b);
        assert!(held_bytes() >= (MIN_LEN * 3 + 1) * 4);
        clear();
        assert_eq!(held_bytes(), 0);
    }
}
