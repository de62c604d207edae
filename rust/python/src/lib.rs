//! The `spikeflow._core` extension module: a thin layer over the pure-Rust crates.
//! Each submodule converts arrays and errors for one crate and registers its names.
use pyo3::prelude::*;

mod engine;
mod events;
mod kernels;
mod pooled;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // The importing thread (normally Python's main thread) becomes one of the threads of
    // rayon's global pool. A kernel called from it then works on its own share of the job
    // instead of handing all of it to the pool and sleeping until a pool thread wakes it:
    // one thread wake-up fewer per kernel call (tens of µs on a VM; a training step makes
    // ~15 calls). It also keeps the kernels usable in a forked child (a DataLoader worker),
    // where the pool's own threads are gone and a thread outside the pool would wait for
    // them forever. Calls from other threads are served by the pool's other threads, so
    // this needs at least two: with one, such a call would wait for the importing thread.
    // If the pool was already built (by an embedding program), this changes nothing.
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if threads >= 2 {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .use_current_thread()
            .build_global();
    }
    engine::register(m)?;
    events::register(m)?;
    kernels::register(m)?;
    Ok(())
}
