//! A raw pointer that rayon tasks may share to write disjoint parts of one buffer.

pub(crate) struct SyncPtr<T>(*mut T);

// derived Clone/Copy would require T: Copy; the pointer is copyable whatever T is
impl<T> Clone for SyncPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for SyncPtr<T> {}

// SAFETY: users only write through it to index ranges no other task touches.
unsafe impl<T: Send> Send for SyncPtr<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for SyncPtr<T> {}

impl<T> SyncPtr<T> {
    pub(crate) fn new(buf: &mut [T]) -> Self {
        SyncPtr(buf.as_mut_ptr())
    }

    /// The raw pointer to element `offset` (computing it is safe; using it is not).
    pub(crate) fn at(&self, offset: usize) -> *mut T {
        self.0.wrapping_add(offset)
    }

    /// The mutable sub-slice `[start, start + len)`.
    ///
    /// # Safety
    /// The range must lie in the buffer and no other live slice may overlap it.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slice(&self, start: usize, len: usize) -> &mut [T] {
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(start), len) }
    }
}
