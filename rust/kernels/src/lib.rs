//! Sparse and fused compute kernels used by spikeflow's torch layers (pure Rust)
