//! Sparse and fused compute kernels used by spikeflow's torch layers (pure Rust).
//!
//! * [`lif`]: a LIF population over all `T` grid steps in one call, forward and backward
//!   (surrogate gradient), on flat `[T, N]` buffers;
//! * [`sparse`]: event-driven accumulation of sparse (mostly binary) inputs into a linear
//!   layer — the forward product and the weight gradient — from a CSR event list;
//! * [`conv`]: the same for 2-D convolutions (channels-last output);
//! * [`pool`]: a cache of large buffers reused from step to step.
//!
//! The kernels work on plain slices; the Python bindings hand them the tensors' memory.
//! Work is split over rayon's pool; inner loops are dispatched to AVX2/FMA when available.

#![allow(clippy::manual_is_multiple_of)] // is_multiple_of is newer than the MSRV (1.80)

pub mod conv;
pub mod dense;
pub mod lif;
mod par;
pub mod pool;
pub mod pool2d;
mod simd;
pub mod sparse;

/// Errors the kernels report instead of panicking: inconsistent shapes or arguments.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KernelError {
    /// A buffer's length does not match the shape it should hold.
    #[error("{what}: expected length {expected}, got {got}")]
    Length {
        /// Which buffer.
        what: &'static str,
        /// The length the shape implies.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// Any other invalid argument, with an explanation.
    #[error("{0}")]
    Invalid(String),
}

/// Result type of the kernels.
pub type Result<T> = std::result::Result<T, KernelError>;

pub(crate) fn check_len(what: &'static str, got: usize, expected: usize) -> Result<()> {
    if got == expected {
        Ok(())
    } else {
        Err(KernelError::Length {
            what,
            expected,
            got,
        })
    }
}
