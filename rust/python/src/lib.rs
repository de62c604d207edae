//! The `spikeflow._core` extension module: a thin layer over the pure-Rust crates.
//! Each submodule converts arrays and errors for one crate and registers its names.
use pyo3::prelude::*;

mod engine;
mod events;
mod kernels;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    engine::register(m)?;
    events::register(m)?;
    kernels::register(m)?;
    Ok(())
}
