//! Bindings of the engine: `spikeflow._core.Network`. Arrays in and out, errors mapped to
//! `spikeflow.errors`, the GIL released while simulating, Ctrl-C checked between slices.
use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple, PyType};
use spikeflow_core::checkpoint::{self, CheckpointError};
use spikeflow_core::plasticity::Reward;
use spikeflow_core::{
    ConnectSpec, Error, InitV, Network, NeuronKind, NeuronSpec, Pairing, Param, ResetMode, Rule,
    SampleInput, StdpRule, SynapseKind, Values,
};
use spikeflow_core::{Normalize, Rewiring};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// (in_shape, out_shape, kernel, stride, padding, dilation, groups, mode) of a convolution.
type ConvGeometry = (
    [usize; 3],
    [usize; 3],
    [usize; 2],
    [usize; 2],
    [usize; 2],
    [usize; 2],
    usize,
    String,
);

/// Wall-clock slice between two checks for Ctrl-C.
const SLICE: Duration = Duration::from_millis(100);

fn py_error(py: Python<'_>, class: &str, msg: String) -> PyErr {
    let ty = py
        .import("spikeflow.errors")
        .and_then(|m| m.getattr(class))
        .and_then(|t| t.cast_into::<PyType>().map_err(PyErr::from));
    match ty {
        Ok(ty) => PyErr::from_type(ty, msg),
        Err(e) => e,
    }
}

pub(crate) fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let class = match &e {
        Error::InvalidParameter(_) => "ParameterError",
        Error::InvalidConnection(_) => "ConnectivityError",
        Error::IndexOutOfRange(_) => "OutOfRangeError",
        Error::OutOfMemory(_) => "MemoryLimitError",
        Error::InvalidState(_) => "StateError",
    };
    py_error(py, class, e.to_string())
}

/// Checkpoint errors: file-system ones as the matching `OSError` subclass, format ones as
/// `spikeflow.errors.CheckpointError`, panics as `SpikeflowError`.
fn checkpoint_result<T>(
    py: Python<'_>,
    r: std::thread::Result<Result<T, CheckpointError>>,
) -> PyResult<T> {
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(CheckpointError::Format(m))) => Err(py_error(py, "CheckpointError", m)),
        Ok(Err(CheckpointError::Io(e, what))) => {
            let msg = format!("{what}: {e}");
            let ty = PyErr::from(e).get_type(py);
            Err(PyErr::from_type(ty, msg))
        }
        Err(p) => Err(py_error(
            py,
            "SpikeflowError",
            format!(
                "internal error in a checkpoint (please report): {}",
                panic_message(p)
            ),
        )),
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Run `f`, turning engine errors and Rust panics into Python exceptions.
fn guard<T>(py: Python<'_>, f: impl FnOnce() -> Result<T, Error>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(to_py(py, e)),
        Err(p) => Err(py_error(
            py,
            "SpikeflowError",
            format!(
                "internal error in the engine (please report): {}",
                panic_message(p)
            ),
        )),
    }
}

fn param(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Param> {
    if let Ok(v) = obj.extract::<f64>() {
        return Ok(Param::Scalar(v));
    }
    let arr: PyReadonlyArray1<f64> = obj.extract().map_err(|_| {
        PyTypeError::new_err(format!("{name} must be a number or a 1-D float64 array"))
    })?;
    Ok(Param::PerNeuron(arr.as_array().to_vec()))
}

fn values(obj: &Bound<'_, PyTuple>, what: &str) -> PyResult<Values> {
    let kind: String = obj.get_item(0)?.extract()?;
    let f = |k: usize| -> PyResult<f64> { obj.get_item(k)?.extract() };
    Ok(match kind.as_str() {
        "scalar" => Values::Scalar(f(1)?),
        "array" => {
            let a: PyReadonlyArray1<f64> = obj.get_item(1)?.extract()?;
            Values::Array(a.as_array().to_vec())
        }
        "uniform" => Values::Uniform {
            low: f(1)?,
            high: f(2)?,
        },
        "normal" => Values::Normal {
            mean: f(1)?,
            std: f(2)?,
            low: f(3)?,
            high: f(4)?,
        },
        _ => {
            return Err(PyTypeError::new_err(format!(
                "unknown {what} specification '{kind}'"
            )))
        }
    })
}

/// ("stdp", tau_plus, tau_minus, a_plus, a_minus, w_min, w_max, mu, pairing, tau_x, tau_y,
/// a3_plus, a3_minus[, tau_c, tau_d, baseline, amount])
fn stdp_rule(t: &Bound<'_, PyTuple>) -> PyResult<StdpRule> {
    let f = |k: usize| -> PyResult<f64> { t.get_item(k)?.extract() };
    let pairing: String = t.get_item(8)?.extract()?;
    Ok(StdpRule {
        tau_plus: f(1)?,
        tau_minus: f(2)?,
        a_plus: f(3)?,
        a_minus: f(4)?,
        w_min: f(5)?,
        w_max: f(6)?,
        mu: f(7)?,
        pairing: match pairing.as_str() {
            "all" => Pairing::All,
            _ => Pairing::Nearest,
        },
        tau_x: f(9)?,
        tau_y: f(10)?,
        a3_plus: f(11)?,
        a3_minus: f(12)?,
        reward: if t.len() > 13 {
            Some(Reward {
                tau_c: f(13)?,
                tau_d: f(14)?,
                baseline: f(15)?,
                amount: f(16)?,
            })
        } else {
            None
        },
        learning_rate: 1.0,
        tables: Default::default(),
    })
}

fn u32_vec(a: Option<PyReadonlyArray1<u32>>) -> Option<Vec<u32>> {
    a.map(|a| a.as_array().to_vec())
}

/// Recorded spikes: (times in ms, ids).
type SpikeArrays<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<i64>>);

fn spike_arrays(py: Python<'_>, rec: spikeflow_core::state::SpikeRecord) -> SpikeArrays<'_> {
    let ids: Vec<i64> = rec.ids.iter().map(|&i| i as i64).collect();
    (rec.times.into_pyarray(py), ids.into_pyarray(py))
}

/// (counts, first-spike times) per tracked population, then spikes and synaptic events per sample.
type BatchArrays<'py> = (
    Vec<Bound<'py, PyArray2<u32>>>,
    Vec<Bound<'py, PyArray2<f64>>>,
    Bound<'py, PyArray2<u64>>,
    Bound<'py, PyArray2<u64>>,
);

/// The event-driven network (use `spikeflow.Network`, which wraps this class).
#[pyclass(name = "Network", module = "spikeflow._core")]
pub struct PyNetwork {
    inner: Network,
}

#[pymethods]
impl PyNetwork {
    #[new]
    #[pyo3(signature = (dt, seed))]
    fn new(py: Python<'_>, dt: Option<f64>, seed: u64) -> PyResult<Self> {
        guard(py, || Network::new(dt, seed)).map(|inner| PyNetwork { inner })
    }

    #[getter]
    fn time(&self) -> f64 {
        self.inner.time()
    }

    #[getter]
    fn dt(&self) -> Option<f64> {
        self.inner.model.dt
    }

    #[getter]
    fn seed(&self) -> u64 {
        self.inner.model.seed
    }

    #[pyo3(signature = (n, kind, synapse, reset, params, v_init, name=None))]
    #[allow(clippy::too_many_arguments)]
    fn add_population(
        &mut self,
        py: Python<'_>,
        n: usize,
        kind: &str,
        synapse: &str,
        reset: &str,
        params: &Bound<'_, PyDict>,
        v_init: &Bound<'_, PyAny>,
        name: Option<String>,
    ) -> PyResult<usize> {
        let get = |k: &str, default: f64| -> PyResult<Param> {
            match params.get_item(k)? {
                Some(v) => param(&v, k),
                None => Ok(Param::Scalar(default)),
            }
        };
        let kind = match kind {
            "lif" => NeuronKind::Lif,
            "if" => NeuronKind::If,
            _ => {
                return Err(PyTypeError::new_err(format!(
                    "unknown neuron kind '{kind}'"
                )))
            }
        };
        let synapse = match synapse {
            "delta" => SynapseKind::Delta,
            "exp" => SynapseKind::Exp,
            "cond_exp" => SynapseKind::CondExp,
            other => {
                return Err(py_error(
                    py,
                    "ParameterError",
                    format!("synapse must be 'delta', 'exp' or 'cond_exp', got '{other}'"),
                ))
            }
        };
        let reset = match reset {
            "value" => ResetMode::Value,
            "subtract" => ResetMode::Subtract,
            other => {
                return Err(py_error(
                    py,
                    "ParameterError",
                    format!("reset must be 'value' or 'subtract', got '{other}'"),
                ))
            }
        };
        let v_init = if v_init.is_none() {
            InitV::Rest
        } else if let Ok((lo, hi)) = v_init.extract::<(f64, f64)>() {
            if v_init.is_instance_of::<PyTuple>() {
                InitV::Uniform(lo, hi)
            } else {
                InitV::Value(param(v_init, "v_init")?)
            }
        } else {
            InitV::Value(param(v_init, "v_init")?)
        };
        let spec = NeuronSpec {
            kind,
            synapse,
            reset,
            tau_m: get("tau_m", 20.0)?,
            v_rest: get("v_rest", 0.0)?,
            v_th: get("v_th", 20.0)?,
            v_reset: get("v_reset", 0.0)?,
            t_ref: get("t_ref", 2.0)?,
            c_m: get("c_m", 250.0)?,
            i_e: get("i_e", 0.0)?,
            tau_syn_ex: get("tau_syn_ex", 2.0)?,
            tau_syn_in: get("tau_syn_in", 2.0)?,
            e_rev_ex: get("e_rev_ex", 0.0)?,
            e_rev_in: get("e_rev_in", -80.0)?,
            v_init,
            theta_plus: get("theta_plus", 0.0)?,
            tau_theta: match params.get_item("tau_theta")? {
                Some(v) => v.extract::<f64>().map_err(|_| {
                    py_error(
                        py,
                        "ParameterError",
                        "tau_theta must be a number of ms (or inf)".to_string(),
                    )
                })?,
                None => f64::INFINITY,
            },
        };
        guard(py, || self.inner.add_population(n, spec, name))
    }

    #[pyo3(signature = (n, times, ids, name=None))]
    fn add_spike_source(
        &mut self,
        py: Python<'_>,
        n: usize,
        times: PyReadonlyArray1<f64>,
        ids: PyReadonlyArray1<u32>,
        name: Option<String>,
    ) -> PyResult<usize> {
        let (t, i) = (times.as_array().to_vec(), ids.as_array().to_vec());
        guard(py, || self.inner.add_spike_source(n, &t, &i, name))
    }

    #[pyo3(signature = (n, rate, name=None))]
    fn add_poisson(
        &mut self,
        py: Python<'_>,
        n: usize,
        rate: &Bound<'_, PyAny>,
        name: Option<String>,
    ) -> PyResult<usize> {
        let rates = param(rate, "rate")?;
        guard(py, || self.inner.add_poisson(n, rates, name))
    }

    #[pyo3(signature = (pre, post, rule, k, p, autapses, multapses, pre_ids, post_ids, weight, delay, plasticity=None, dopamine=None, normalize=None, rewiring=None))]
    #[allow(clippy::too_many_arguments)]
    fn connect(
        &mut self,
        py: Python<'_>,
        pre: usize,
        post: usize,
        rule: &str,
        k: usize,
        p: f64,
        autapses: bool,
        multapses: bool,
        pre_ids: Option<PyReadonlyArray1<u32>>,
        post_ids: Option<PyReadonlyArray1<u32>>,
        weight: &Bound<'_, PyTuple>,
        delay: &Bound<'_, PyTuple>,
        plasticity: Option<&Bound<'_, PyTuple>>,
        dopamine: Option<usize>,
        normalize: Option<(f64, Option<f64>)>,
        rewiring: Option<(f64, f64, f64, f64, Option<usize>)>,
    ) -> PyResult<usize> {
        let plasticity = plasticity.map(stdp_rule).transpose()?;
        let normalize = normalize.map(|(target, interval)| Normalize { target, interval });
        let rewiring = rewiring.map(
            |(prune_below, prune_after, create_rate, new_weight, max_in)| Rewiring {
                prune_below,
                prune_after,
                create_rate,
                new_weight,
                max_in,
                cap_in: 0,
                cap_out: 0,
            },
        );
        let rule = match rule {
            "all_to_all" => Rule::AllToAll { autapses },
            "one_to_one" => Rule::OneToOne,
            "fixed_probability" => Rule::FixedProbability { p, autapses },
            "fixed_in_degree" => Rule::FixedInDegree {
                k,
                autapses,
                multapses,
            },
            "fixed_out_degree" => Rule::FixedOutDegree {
                k,
                autapses,
                multapses,
            },
            "explicit" => Rule::Explicit {
                pre: u32_vec(pre_ids).unwrap_or_default(),
                post: u32_vec(post_ids).unwrap_or_default(),
            },
            other => {
                return Err(PyTypeError::new_err(format!(
                    "unknown connection rule '{other}'"
                )))
            }
        };
        let spec = ConnectSpec {
            rule,
            weight: values(weight, "weight")?,
            delay: values(delay, "delay")?,
        };
        let net = &mut self.inner;
        let out = py.detach(|| {
            catch_unwind(AssertUnwindSafe(|| {
                net.connect_homeostatic(pre, post, &spec, plasticity, dopamine, normalize, rewiring)
            }))
        });
        match out {
            Ok(r) => r.map_err(|e| to_py(py, e)),
            Err(p) => Err(py_error(
                py,
                "SpikeflowError",
                format!("internal error while connecting: {}", panic_message(p)),
            )),
        }
    }

    /// Convolution or pooling: `geometry` = (C, H, W, out_channels, kh, kw, sy, sx, py, px,
    /// dy, dx, groups), `mode` "sum" or "max"; `weight` the kernel (or a scalar/distribution).
    #[pyo3(signature = (pre, post, geometry, mode, weight, delay, plasticity=None))]
    #[allow(clippy::too_many_arguments)]
    fn connect_conv(
        &mut self,
        py: Python<'_>,
        pre: usize,
        post: usize,
        geometry: [usize; 13],
        mode: &str,
        weight: &Bound<'_, PyTuple>,
        delay: &Bound<'_, PyTuple>,
        plasticity: Option<&Bound<'_, PyTuple>>,
    ) -> PyResult<usize> {
        let plasticity = plasticity.map(stdp_rule).transpose()?;
        let g = geometry;
        let spec = spikeflow_core::conv::ConvSpec {
            in_shape: [g[0], g[1], g[2]],
            out_channels: g[3],
            kernel: [g[4], g[5]],
            stride: [g[6], g[7]],
            padding: [g[8], g[9]],
            dilation: [g[10], g[11]],
            groups: g[12],
            mode: match mode {
                "sum" => spikeflow_core::conv::ConvMode::Sum,
                "max" => spikeflow_core::conv::ConvMode::Max,
                other => {
                    return Err(PyTypeError::new_err(format!(
                        "unknown pooling mode '{other}'"
                    )))
                }
            },
        };
        let (weight, delay) = (values(weight, "weight")?, values(delay, "delay")?);
        guard(py, || {
            self.inner
                .connect_conv(pre, post, &spec, &weight, &delay, plasticity)
        })
    }

    /// Geometry of convolutional projection `k` as (in_shape, out_shape, kernel, stride,
    /// padding, dilation, groups, mode), or None for other projections.
    fn projection_conv(&self, py: Python<'_>, k: usize) -> PyResult<Option<ConvGeometry>> {
        Ok(self.projection(py, k)?.conv.as_deref().map(|c| {
            (
                c.in_shape.map(|x| x as usize),
                c.out_shape.map(|x| x as usize),
                c.kernel.map(|x| x as usize),
                c.stride.map(|x| x as usize),
                c.padding.map(|x| x as usize),
                c.dilation.map(|x| x as usize),
                c.groups as usize,
                match c.mode {
                    spikeflow_core::conv::ConvMode::Sum => "sum",
                    spikeflow_core::conv::ConvMode::Max => "max",
                }
                .to_string(),
            )
        }))
    }

    #[pyo3(signature = (pop, ids, times, amplitudes))]
    fn add_current(
        &mut self,
        py: Python<'_>,
        pop: usize,
        ids: Option<PyReadonlyArray1<u32>>,
        times: PyReadonlyArray1<f64>,
        amplitudes: PyReadonlyArray1<f64>,
    ) -> PyResult<usize> {
        let (t, a) = (times.as_array().to_vec(), amplitudes.as_array().to_vec());
        let ids = u32_vec(ids);
        guard(py, || self.inner.add_current(pop, ids, &t, &a))
    }

    fn record_spikes(&mut self, py: Python<'_>, pop: usize) -> PyResult<usize> {
        guard(py, || self.inner.record_spikes(pop))
    }

    #[pyo3(signature = (pop, ids, times))]
    fn record_voltage(
        &mut self,
        py: Python<'_>,
        pop: usize,
        ids: Option<PyReadonlyArray1<u32>>,
        times: PyReadonlyArray1<f64>,
    ) -> PyResult<usize> {
        let t = times.as_array().to_vec();
        let ids = u32_vec(ids);
        guard(py, || self.inner.record_voltage(pop, ids, &t))
    }

    /// (times_ms, ids) recorded so far by spike recorder `probe`.
    fn spikes<'py>(&self, py: Python<'py>, probe: usize) -> PyResult<SpikeArrays<'py>> {
        let rec = guard(py, || self.inner.spikes(probe).cloned())?;
        Ok(spike_arrays(py, rec))
    }

    /// (times_ms, ids) recorded since the last take by spike recorder `probe`; clears it.
    fn take_spikes<'py>(&mut self, py: Python<'py>, probe: usize) -> PyResult<SpikeArrays<'py>> {
        let rec = guard(py, || self.inner.take_spikes(probe))?;
        Ok(spike_arrays(py, rec))
    }

    /// Samples so far of voltage recorder `probe`, shape (samples, neurons).
    fn voltages<'py>(
        &self,
        py: Python<'py>,
        probe: usize,
        n_ids: usize,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let v = guard(py, || self.inner.voltages(probe).map(|v| v.to_vec()))?;
        let rows = v.len().checked_div(n_ids).unwrap_or(0);
        v.into_pyarray(py).reshape([rows, n_ids])
    }

    /// Run for `duration` ms with the GIL released; Ctrl-C is honoured within ~0.1 s and
    /// leaves the network consistent (at the time reached) and usable.
    fn run(&mut self, py: Python<'_>, duration: f64) -> PyResult<()> {
        let target = guard(py, || self.inner.target_for(duration))?;
        loop {
            let net = &mut self.inner;
            let done = py.detach(|| {
                catch_unwind(AssertUnwindSafe(|| {
                    net.run_to(target, Some(Instant::now() + SLICE))
                }))
            });
            let done = done.map_err(|p| {
                py_error(
                    py,
                    "SpikeflowError",
                    format!("internal error while running: {}", panic_message(p)),
                )
            })?;
            py.check_signals()?;
            if done {
                return Ok(());
            }
        }
    }

    /// Change the rates (Hz) of Poisson population `pop` from now on.
    fn set_rates(&mut self, py: Python<'_>, pop: usize, rate: &Bound<'_, PyAny>) -> PyResult<()> {
        let rates = param(rate, "rate")?;
        guard(py, || self.inner.set_rates(pop, rates))
    }

    /// Rates (Hz) of Poisson population `pop`, one per source.
    fn rates<'py>(&self, py: Python<'py>, pop: usize) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let p = guard(py, || self.inner.model.pop(pop).cloned())?;
        match &p.kind {
            spikeflow_core::model::PopKind::Poisson { rates } => Ok((0..p.n)
                .map(|j| rates.get(j))
                .collect::<Vec<f64>>()
                .into_pyarray(py)),
            _ => Err(py_error(
                py,
                "ParameterError",
                format!("population '{}' is not a Poisson source", p.name),
            )),
        }
    }

    /// Adaptive part of the threshold (mV) of every neuron of `pop` now.
    fn theta<'py>(&self, py: Python<'py>, pop: usize) -> PyResult<Bound<'py, PyArray1<f64>>> {
        Ok(guard(py, || self.inner.theta(pop))?.into_pyarray(py))
    }

    /// Scale each postsynaptic neuron's incoming weights in projection `k` to sum `target`
    /// (None: the target given when connecting) now.
    #[pyo3(signature = (k, target=None))]
    fn normalize(&mut self, py: Python<'_>, k: usize, target: Option<f64>) -> PyResult<()> {
        guard(py, || self.inner.normalize(k, target))
    }

    /// Learning-rate factor of plastic projection `k`.
    fn learning_rate(&self, py: Python<'_>, k: usize) -> PyResult<f64> {
        self.inner.learning_rate(k).map_err(|e| to_py(py, e))
    }

    /// Scale plastic projection `k`'s amplitudes by `eta` from now on.
    fn set_learning_rate(&mut self, py: Python<'_>, k: usize, eta: f64) -> PyResult<()> {
        guard(py, || self.inner.set_learning_rate(k, eta))
    }

    /// Set the dopamine concentration of reward-modulated projection `k` now.
    fn set_dopamine(&mut self, py: Python<'_>, k: usize, level: f64) -> PyResult<()> {
        guard(py, || self.inner.set_dopamine(k, level))
    }

    fn reset(&mut self) {
        self.inner.reset();
    }

    /// Write a checkpoint of the whole engine, with the Python side's `meta` (JSON), to
    /// `path` atomically (GIL released); returns the number of bytes written.
    fn save_checkpoint(&self, py: Python<'_>, path: PathBuf, meta: &str) -> PyResult<u64> {
        let net = &self.inner;
        let r = py.detach(|| catch_unwind(AssertUnwindSafe(|| checkpoint::save(net, meta, &path))));
        checkpoint_result(py, r)
    }

    /// The checkpoint of the whole engine with `meta`, as bytes.
    fn encode_checkpoint<'py>(&self, py: Python<'py>, meta: &str) -> PyResult<Bound<'py, PyBytes>> {
        let net = &self.inner;
        let r = py.detach(|| catch_unwind(AssertUnwindSafe(|| checkpoint::encode(net, meta))));
        Ok(PyBytes::new(py, &checkpoint_result(py, r)?))
    }

    /// Read a checkpoint file: (engine, metadata). Every check runs before anything is built.
    #[staticmethod]
    fn load_checkpoint(py: Python<'_>, path: PathBuf) -> PyResult<(PyNetwork, String)> {
        let r = py.detach(|| catch_unwind(AssertUnwindSafe(|| checkpoint::load(&path))));
        checkpoint_result(py, r).map(|(inner, meta)| (PyNetwork { inner }, meta))
    }

    /// Decode checkpoint bytes: (engine, metadata).
    #[staticmethod]
    fn decode_checkpoint(py: Python<'_>, data: &[u8]) -> PyResult<(PyNetwork, String)> {
        let r = py.detach(|| catch_unwind(AssertUnwindSafe(|| checkpoint::decode(data))));
        checkpoint_result(py, r).map(|(inner, meta)| (PyNetwork { inner }, meta))
    }

    /// The metadata of checkpoint bytes (container checked, engine payload not decoded).
    #[staticmethod]
    fn checkpoint_meta(py: Python<'_>, data: &[u8]) -> PyResult<String> {
        checkpoint_result(py, Ok(checkpoint::read_meta(data)))
    }

    fn membrane<'py>(&self, py: Python<'py>, pop: usize) -> PyResult<Bound<'py, PyArray1<f64>>> {
        Ok(guard(py, || self.inner.membrane(pop))?.into_pyarray(py))
    }

    fn n_populations(&self) -> usize {
        self.inner.model.pops.len()
    }

    fn n_projections(&self) -> usize {
        self.inner.model.projs.len()
    }

    /// (spike recorders, voltage recorders) of the engine.
    fn n_recorders(&self) -> (usize, usize) {
        (
            self.inner.model.spike_probes.len(),
            self.inner.model.voltage_probes.len(),
        )
    }

    /// (name, size, kind) of population `pop`.
    fn population_info(&self, py: Python<'_>, pop: usize) -> PyResult<(String, usize, String)> {
        let p = guard(py, || self.inner.model.pop(pop).cloned())?;
        let kind = match &p.kind {
            spikeflow_core::model::PopKind::Neurons { .. } => "neurons",
            spikeflow_core::model::PopKind::SpikeSource { .. } => "spike_source",
            spikeflow_core::model::PopKind::Poisson { .. } => "poisson",
        };
        Ok((p.name, p.n, kind.to_string()))
    }

    /// (pre_pop, post_pop, n_synapses, bytes) of projection `k`.
    fn projection_info(&self, py: Python<'_>, k: usize) -> PyResult<(usize, usize, usize, usize)> {
        let p = self.projection(py, k)?;
        Ok((
            p.pre,
            p.post,
            p.n_synapses(),
            self.inner.model.projection_bytes(k),
        ))
    }

    fn projection_weights<'py>(
        &self,
        py: Python<'py>,
        k: usize,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        Ok(guard(py, || self.inner.weights(k))?.into_pyarray(py))
    }

    fn projection_delays<'py>(
        &self,
        py: Python<'py>,
        k: usize,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        Ok(self.projection(py, k)?.delay_values().into_pyarray(py))
    }

    fn projection_pre<'py>(
        &self,
        py: Python<'py>,
        k: usize,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let v: Vec<i64> = self
            .projection(py, k)?
            .pre_indices()
            .iter()
            .map(|&x| x as i64)
            .collect();
        Ok(v.into_pyarray(py))
    }

    fn projection_post<'py>(
        &self,
        py: Python<'py>,
        k: usize,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let v: Vec<i64> = self
            .projection(py, k)?
            .post_indices()
            .iter()
            .map(|&x| x as i64)
            .collect();
        Ok(v.into_pyarray(py))
    }

    fn set_projection_weights(
        &mut self,
        py: Python<'_>,
        k: usize,
        w: PyReadonlyArray1<f64>,
    ) -> PyResult<()> {
        let w = w.as_array().to_vec();
        guard(py, || self.inner.set_weights(k, &w))
    }

    /// Work counters and sizes as a dict.
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.summary();
        let d = PyDict::new(py);
        d.set_item("time_ms", s.time_ms)?;
        d.set_item("spikes_per_population", s.counts.spikes.clone())?;
        d.set_item(
            "synaptic_events_per_projection",
            s.counts.synaptic_events.clone(),
        )?;
        d.set_item("spikes", s.counts.spikes.iter().sum::<u64>())?;
        d.set_item(
            "synaptic_events",
            s.counts.synaptic_events.iter().sum::<u64>(),
        )?;
        d.set_item("deliveries", s.counts.deliveries)?;
        d.set_item("neuron_updates", s.counts.updates)?;
        d.set_item("predicted_crossings", s.counts.wakes)?;
        d.set_item("neurons", s.n_neurons)?;
        d.set_item("synapses", s.n_synapses)?;
        d.set_item("synapse_bytes", s.synapse_bytes)?;
        d.set_item("neuron_bytes", s.neuron_bytes)?;
        d.set_item("pending_events", s.pending_events)?;
        d.set_item("pruned_per_projection", s.counts.pruned.clone())?;
        d.set_item("created_per_projection", s.counts.created.clone())?;
        Ok(d)
    }

    /// Batch inference: returns (counts, first, spikes, events) where counts/first are lists
    /// (one per tracked population) of (samples, n) arrays.
    #[pyo3(signature = (source, inputs, duration, track, threads))]
    fn run_batch<'py>(
        &self,
        py: Python<'py>,
        source: usize,
        inputs: Vec<(PyReadonlyArray1<'py, f64>, PyReadonlyArray1<'py, u32>)>,
        duration: f64,
        track: Vec<usize>,
        threads: usize,
    ) -> PyResult<BatchArrays<'py>> {
        let samples: Vec<SampleInput> = inputs
            .iter()
            .map(|(t, i)| SampleInput {
                times: t.as_array().to_vec(),
                ids: i.as_array().to_vec(),
            })
            .collect();
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            threads
        };
        let chunk = (threads * 8).max(1);
        let cancel = AtomicBool::new(false);
        let mut outs = Vec::with_capacity(samples.len());
        for (c, part) in samples.chunks(chunk).enumerate() {
            let net = &self.inner;
            let first = (c * chunk) as u64;
            let track_ref = &track;
            let cancel_ref = &cancel;
            let r = py.detach(|| {
                catch_unwind(AssertUnwindSafe(|| {
                    net.run_batch(
                        source, part, duration, track_ref, threads, first, cancel_ref,
                    )
                }))
            });
            let r = r.map_err(|p| {
                py_error(
                    py,
                    "SpikeflowError",
                    format!("internal error in batch: {}", panic_message(p)),
                )
            })?;
            outs.extend(r.map_err(|e| to_py(py, e))?);
            py.check_signals()?;
        }
        let ns = outs.len();
        let mut counts = Vec::new();
        let mut firsts = Vec::new();
        for (j, &p) in track.iter().enumerate() {
            let n = self.inner.model.pops[p].n;
            let c: Vec<u32> = outs
                .iter()
                .flat_map(|o| o.counts[j].iter().copied())
                .collect();
            let f: Vec<f64> = outs
                .iter()
                .flat_map(|o| o.first[j].iter().copied())
                .collect();
            counts.push(c.into_pyarray(py).reshape([ns, n])?);
            firsts.push(f.into_pyarray(py).reshape([ns, n])?);
        }
        let np = self.inner.model.pops.len();
        let nj = self.inner.model.projs.len();
        let spikes: Vec<u64> = outs.iter().flat_map(|o| o.spikes.iter().copied()).collect();
        let events: Vec<u64> = outs
            .iter()
            .flat_map(|o| o.synaptic_events.iter().copied())
            .collect();
        Ok((
            counts,
            firsts,
            spikes.into_pyarray(py).reshape([ns, np])?,
            events.into_pyarray(py).reshape([ns, nj])?,
        ))
    }
}

impl PyNetwork {
    fn projection(
        &self,
        py: Python<'_>,
        k: usize,
    ) -> PyResult<&spikeflow_core::synapses::Projection> {
        self.inner.model.projs.get(k).ok_or_else(|| {
            to_py(
                py,
                Error::IndexOutOfRange(format!("projection {k} does not exist")),
            )
        })
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyNetwork>()?;
    Ok(())
}
