//! Bindings of `spikeflow-kernels` for the torch layers (private `kernels_*` functions).
//!
//! Python passes the tensors' memory as 1-D contiguous numpy arrays (`tensor.numpy()` views),
//! outputs preallocated. Compute runs with the GIL released; errors and panics become
//! `ValueError` / `RuntimeError`.
use std::panic::{catch_unwind, AssertUnwindSafe};

use numpy::{PyArray1, PyReadonlyArray1, PyReadwriteArray1};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use spikeflow_kernels::conv::{self, ConvShape};
use spikeflow_kernels::lif::{self, LifParams, Surrogate};
use spikeflow_kernels::pool::FLOATS;
use spikeflow_kernels::pool2d::{self, PoolShape};
use spikeflow_kernels::sparse::{Csr, CsrRef};
use spikeflow_kernels::{dense, KernelError};

use crate::pooled;

type Ro<'py> = PyReadonlyArray1<'py, f32>;
type Rw<'py> = PyReadwriteArray1<'py, f32>;

/// Run `f` without the GIL, turning kernel errors and panics into Python exceptions.
fn run<T: Send>(py: Python<'_>, f: impl FnOnce() -> Result<T, KernelError> + Send) -> PyResult<T> {
    py.detach(|| catch_unwind(AssertUnwindSafe(f)))
        .map_err(|_| PyRuntimeError::new_err("internal error in a spikeflow kernel (panic)"))?
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

fn ro<'a>(a: &'a Ro<'_>, name: &str) -> PyResult<&'a [f32]> {
    a.as_slice()
        .map_err(|_| PyValueError::new_err(format!("{name} must be a contiguous float32 array")))
}

fn rw<'a>(a: &'a mut Rw<'_>, name: &str) -> PyResult<&'a mut [f32]> {
    a.as_slice_mut()
        .map_err(|_| PyValueError::new_err(format!("{name} must be a contiguous float32 array")))
}

fn csr<'a>(
    rows: usize,
    cols: usize,
    indptr: &'a PyReadonlyArray1<'_, i64>,
    indices: &'a PyReadonlyArray1<'_, i32>,
    values: &'a Ro<'_>,
) -> PyResult<CsrRef<'a>> {
    let m = CsrRef {
        rows,
        cols,
        indptr: indptr
            .as_slice()
            .map_err(|_| PyValueError::new_err("indptr must be contiguous int64"))?,
        indices: indices
            .as_slice()
            .map_err(|_| PyValueError::new_err("indices must be contiguous int32"))?,
        values: ro(values, "values")?,
    };
    m.validate()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(m)
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn kernels_lif_forward(
    py: Python<'_>,
    x: Ro<'_>,
    t_steps: usize,
    beta: Ro<'_>,
    v_th: Ro<'_>,
    v_reset: Ro<'_>,
    bias: Ro<'_>,
    subtract: bool,
    mut v: Rw<'_>,
    mut z: Rw<'_>,
    mut h: Rw<'_>,
) -> PyResult<()> {
    let p = LifParams {
        beta: ro(&beta, "beta")?,
        v_th: ro(&v_th, "v_th")?,
        v_reset: ro(&v_reset, "v_reset")?,
        bias: ro(&bias, "bias")?,
        subtract,
    };
    let x = ro(&x, "x")?;
    let (v, z, h) = (rw(&mut v, "v")?, rw(&mut z, "z")?, rw(&mut h, "h")?);
    run(py, || lif::forward(x, t_steps, &p, v, z, h))
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn kernels_lif_backward(
    py: Python<'_>,
    gz: Ro<'_>,
    h: Ro<'_>,
    t_steps: usize,
    beta: Ro<'_>,
    v_th: Ro<'_>,
    v_reset: Ro<'_>,
    subtract: bool,
    surrogate: u32,
    alpha: f32,
    detach_reset: bool,
    mut gv: Rw<'_>,
    mut gx: Rw<'_>,
) -> PyResult<()> {
    let zero = [0.0f32];
    let p = LifParams {
        beta: ro(&beta, "beta")?,
        v_th: ro(&v_th, "v_th")?,
        v_reset: ro(&v_reset, "v_reset")?,
        bias: &zero,
        subtract,
    };
    let sg =
        Surrogate::from_code(surrogate, alpha).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let (gz, h) = (ro(&gz, "gz")?, ro(&h, "h")?);
    let (gv, gx) = (rw(&mut gv, "gv")?, rw(&mut gx, "gx")?);
    run(py, || {
        lif::backward(gz, h, t_steps, &p, sg, detach_reset, gv, gx)
    })
}

type CsrArrays<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i32>>,
    Bound<'py, PyArray1<f32>>,
);

#[pyfunction]
fn kernels_csr_from_dense<'py>(
    py: Python<'py>,
    x: Ro<'py>,
    rows: usize,
    cols: usize,
    max_nnz: usize,
) -> PyResult<Option<CsrArrays<'py>>> {
    let xs = ro(&x, "x")?;
    let m: Option<Csr> = run(py, || Csr::from_dense(xs, rows, cols, max_nnz))?;
    Ok(m.map(|m| {
        (
            PyArray1::from_vec(py, m.indptr),
            PyArray1::from_vec(py, m.indices),
            PyArray1::from_vec(py, m.values),
        )
    }))
}

#[pyfunction]
#[pyo3(signature = (rows, cols, indptr, indices, values, wt, n, bias, out))]
#[allow(clippy::too_many_arguments)]
fn kernels_csr_matmul(
    py: Python<'_>,
    rows: usize,
    cols: usize,
    indptr: PyReadonlyArray1<'_, i64>,
    indices: PyReadonlyArray1<'_, i32>,
    values: Ro<'_>,
    wt: Ro<'_>,
    n: usize,
    bias: Option<Ro<'_>>,
    mut out: Rw<'_>,
) -> PyResult<()> {
    let m = csr(rows, cols, &indptr, &indices, &values)?;
    let wt = ro(&wt, "weight")?;
    let bias = match &bias {
        Some(b) => Some(ro(b, "bias")?),
        None => None,
    };
    let out = rw(&mut out, "out")?;
    run(py, || m.matmul(wt, n, bias, out))
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn kernels_csr_t_matmul(
    py: Python<'_>,
    rows: usize,
    cols: usize,
    indptr: PyReadonlyArray1<'_, i64>,
    indices: PyReadonlyArray1<'_, i32>,
    values: Ro<'_>,
    g: Ro<'_>,
    n: usize,
    mut gwt: Rw<'_>,
) -> PyResult<()> {
    let m = csr(rows, cols, &indptr, &indices, &values)?;
    let g = ro(&g, "grad")?;
    let gwt = rw(&mut gwt, "grad_weight")?;
    run(py, || m.t_matmul(g, n, gwt))
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn kernels_csr_grad_weight(
    py: Python<'_>,
    rows: usize,
    cols: usize,
    indptr: PyReadonlyArray1<'_, i64>,
    indices: PyReadonlyArray1<'_, i32>,
    values: Ro<'_>,
    g: Ro<'_>,
    n: usize,
    mut gw: Rw<'_>,
) -> PyResult<()> {
    let m = csr(rows, cols, &indptr, &indices, &values)?;
    let g = ro(&g, "grad")?;
    let gw = rw(&mut gw, "grad_weight")?;
    run(py, || m.grad_weight(g, n, gw))
}

/// `(c, h, w, o, kh, kw, stride, pad, channels_last)` from Python.
type Geometry = (usize, usize, usize, usize, usize, usize, usize, usize, bool);

fn shape(g: Geometry) -> ConvShape {
    let (c, h, w, o, kh, kw, stride, pad, channels_last) = g;
    ConvShape {
        c,
        h,
        w,
        o,
        kh,
        kw,
        stride,
        pad,
        channels_last,
    }
}

#[pyfunction]
#[pyo3(signature = (rows, indptr, indices, values, geometry, w, bias, out))]
#[allow(clippy::too_many_arguments)]
fn kernels_conv_forward(
    py: Python<'_>,
    rows: usize,
    indptr: PyReadonlyArray1<'_, i64>,
    indices: PyReadonlyArray1<'_, i32>,
    values: Ro<'_>,
    geometry: Geometry,
    w: Ro<'_>,
    bias: Option<Ro<'_>>,
    mut out: Rw<'_>,
) -> PyResult<()> {
    let s = shape(geometry);
    let m = csr(rows, s.c * s.h * s.w, &indptr, &indices, &values)?;
    let w = ro(&w, "weight")?;
    let bias = match &bias {
        Some(b) => Some(ro(b, "bias")?),
        None => None,
    };
    let out = rw(&mut out, "out")?;
    run(py, || conv::forward(&m, &s, w, bias, out))
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn kernels_conv_weight_grad(
    py: Python<'_>,
    rows: usize,
    indptr: PyReadonlyArray1<'_, i64>,
    indices: PyReadonlyArray1<'_, i32>,
    values: Ro<'_>,
    geometry: Geometry,
    g: Ro<'_>,
    mut gw: Rw<'_>,
) -> PyResult<()> {
    let s = shape(geometry);
    let m = csr(rows, s.c * s.h * s.w, &indptr, &indices, &values)?;
    let g = ro(&g, "grad")?;
    let gw = rw(&mut gw, "grad_weight")?;
    run(py, || conv::weight_grad(&m, &s, g, gw))
}

/// `(r, c, h, w, k, channels_last)` of a pooling.
type PoolGeometry = (usize, usize, usize, usize, usize, bool);

fn pool_shape(g: PoolGeometry) -> PoolShape {
    let (r, c, h, w, k, channels_last) = g;
    PoolShape {
        r,
        c,
        h,
        w,
        k,
        channels_last,
    }
}

#[pyfunction]
fn kernels_avgpool_forward(
    py: Python<'_>,
    geometry: PoolGeometry,
    x: Ro<'_>,
    mut out: Rw<'_>,
) -> PyResult<()> {
    let s = pool_shape(geometry);
    let x = ro(&x, "x")?;
    let out = rw(&mut out, "out")?;
    run(py, || pool2d::forward(&s, x, out))
}

#[pyfunction]
fn kernels_avgpool_backward(
    py: Python<'_>,
    geometry: PoolGeometry,
    g: Ro<'_>,
    mut gx: Rw<'_>,
) -> PyResult<()> {
    let s = pool_shape(geometry);
    let g = ro(&g, "grad")?;
    let gx = rw(&mut gx, "grad_input")?;
    run(py, || pool2d::backward(&s, g, gx))
}

#[pyfunction]
fn kernels_transpose(
    py: Python<'_>,
    x: Ro<'_>,
    rows: usize,
    cols: usize,
    mut out: Rw<'_>,
) -> PyResult<()> {
    let x = ro(&x, "x")?;
    let out = rw(&mut out, "out")?;
    run(py, || dense::transpose(x, rows, cols, out))
}

#[pyfunction]
fn kernels_narrow_matmul(
    py: Python<'_>,
    g: Ro<'_>,
    rows: usize,
    n: usize,
    w: Ro<'_>,
    k: usize,
    mut out: Rw<'_>,
) -> PyResult<()> {
    let g = ro(&g, "g")?;
    let w = ro(&w, "w")?;
    let out = rw(&mut out, "out")?;
    run(py, || dense::narrow_matmul(g, rows, n, w, k, out))
}

#[pyfunction]
fn kernels_column_sums(
    py: Python<'_>,
    x: Ro<'_>,
    rows: usize,
    cols: usize,
    mut out: Rw<'_>,
) -> PyResult<()> {
    let x = ro(&x, "x")?;
    let out = rw(&mut out, "out")?;
    run(py, || dense::column_sums(x, rows, cols, out))
}

#[pyfunction]
fn kernels_empty(py: Python<'_>, len: usize) -> PyResult<Bound<'_, PyArray1<f32>>> {
    pooled::lend(py, pooled::take::<f32>(len)?, len)
}

#[pyfunction]
fn kernels_pool_clear() {
    FLOATS.clear();
}

#[pyfunction]
fn kernels_pool_bytes() -> usize {
    FLOATS.held_bytes()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(kernels_empty, m)?)?;
    m.add_function(wrap_pyfunction!(kernels_transpose, m)?)?;
    m.add_function(wrap_pyfunction!(kernels_narrow_matmul, m)?)?;
    m.add_function(wrap_pyfunction!(kernels_column_sums, m)?)?;
    m.add_function(wrap_pyfunction!(kernels_avgpool_forward, m)?)?;
    m.add_function(wrap_pyfunction!(kernels_avgpool_backward, m)?)?;
    m.add_function(wrap_pyfunction!(kernels_pool_clear, m)?)?;
    m.add_function(wrap_pyfunction!(kernels_pool_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(kernels_lif_forward, m)?)?;
    m.add_function(wrap_pyfunction!(kernels_lif_backward, m)?)?;
    m.add_function(wrap_pyfunction!(kernels_csr_from_dense, m)?)?;
    m.add_function(wrap_pyfunction!(kernels_csr_matmul, m)?)?;
    m.add_function(wrap_pyfunction!(kernels_csr_t_matmul, m)?)?;
    m.add_function(wrap_pyfunction!(kernels_csr_grad_weight, m)?)?;
    m.add_function(wrap_pyfunction!(kernels_conv_forward, m)?)?;
    m.add_function(wrap_pyfunction!(kernels_conv_weight_grad, m)?)?;
    Ok(())
}
