//! A raw pointer that rayon tasks may share to write disjoint parts of one buffer.

#[derive(Clone, Copy)]
pub(crate) struct SyncPtr(*mut f32);

// SAFETY: users only write through it to index ranges no other task touches.
unsafe impl Send for SyncPtr {}
// SAFETY: as above.
unsafe impl Sync for SyncPtr {}

impl SyncPtr {
    pub(crate) fn new(buf: &mut [f32]) -> Self {
        SyncPtr(buf.as_mut_ptr())
    }

    /// The mutable sub-slice `[start, start + len)`.
    ///
    /// # Safety
    /// The range must lie in the buffer and no other live slice may overlap it.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slice(&self, start: usize, len: usize) -> &mut [f32] {
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(start), len) }
    }
}
