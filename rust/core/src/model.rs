//! The network's structure (what to simulate): populations, projections, inputs, recorders.
//! Immutable while running; one `Model` can drive many independent [`crate::state::State`]s
//! (batch inference).
use crate::connect::{self, ConnectSpec, Endpoints};
use crate::error::{param_err, Error, Result};
use crate::neuron::Dynamics;
use crate::params::{NeuronSpec, Param};
use crate::synapses::Projection;
use serde::{Deserialize, Serialize};

/// Spike times of a spike-source population, sorted by (time, id).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SpikeTrain {
    pub times: Vec<f64>,
    pub ids: Vec<u32>,
    /// Grid step of each spike (grid mode only).
    pub steps: Vec<i64>,
}

/// Grid step of a time: the step it falls on (within 1e-6 of a step), else the next one.
pub fn time_to_step(t: f64, dt: f64) -> i64 {
    let x = t / dt;
    let r = x.round();
    if (x - r).abs() < 1e-6 {
        r as i64
    } else {
        x.ceil() as i64
    }
}

impl SpikeTrain {
    /// Validate and sort `(times, ids)` for a population of `n` sources.
    pub fn new(times: &[f64], ids: &[u32], n: usize, dt: Option<f64>) -> Result<SpikeTrain> {
        if times.len() != ids.len() {
            return param_err(format!(
                "spike source: {} times but {} ids; give one id per spike time",
                times.len(),
                ids.len()
            ));
        }
        if let Some(i) = times.iter().position(|t| !t.is_finite() || *t < 0.0) {
            return param_err(format!(
                "spike source: times[{i}] = {} must be finite and >= 0 ms",
                times[i]
            ));
        }
        if let Some(i) = ids.iter().position(|&x| x as usize >= n) {
            return Err(Error::IndexOutOfRange(format!(
                "spike source: ids[{i}] = {} is out of range for {n} sources",
                ids[i]
            )));
        }
        let mut order: Vec<usize> = (0..times.len()).collect();
        order.sort_by(|&a, &b| times[a].total_cmp(&times[b]).then(ids[a].cmp(&ids[b])));
        let times: Vec<f64> = order.iter().map(|&k| times[k]).collect();
        let ids: Vec<u32> = order.iter().map(|&k| ids[k]).collect();
        let steps = match dt {
            Some(dt) => times.iter().map(|&t| time_to_step(t, dt)).collect(),
            None => Vec::new(),
        };
        Ok(SpikeTrain { times, ids, steps })
    }
}

/// What a population is.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum PopKind {
    Neurons {
        spec: Box<NeuronSpec>,
        dynamics: Box<Dynamics>,
    },
    SpikeSource {
        train: SpikeTrain,
    },
    /// Independent Poisson trains (rates in Hz), each shared by all targets of its source.
    Poisson {
        rates: Param,
    },
}

/// A population of neurons or sources.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Population {
    pub name: String,
    pub n: usize,
    pub kind: PopKind,
    /// Projections leaving this population.
    pub outgoing: Vec<usize>,
}

impl Population {
    pub fn dynamics(&self) -> Option<&Dynamics> {
        match &self.kind {
            PopKind::Neurons { dynamics, .. } => Some(dynamics),
            _ => None,
        }
    }
}

/// A piecewise-constant current (pA) into some neurons of a population:
/// `amplitudes[k]` from `times[k]` on (0 before the first time).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CurrentSource {
    pub pop: usize,
    pub ids: Vec<u32>,
    pub times: Vec<f64>,
    pub amplitudes: Vec<f64>,
    pub steps: Vec<i64>,
}

/// Sample membrane potentials of `ids` of `pop` at `times`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VoltageProbe {
    pub pop: usize,
    pub ids: Vec<u32>,
    pub times: Vec<f64>,
    pub steps: Vec<i64>,
}

/// The structure of a network.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Model {
    pub dt: Option<f64>,
    pub seed: u64,
    pub pops: Vec<Population>,
    pub projs: Vec<Projection>,
    pub currents: Vec<CurrentSource>,
    pub spike_probes: Vec<usize>,
    pub voltage_probes: Vec<VoltageProbe>,
    /// Homeostatic options (normalisation, rewiring) by projection; missing entries: none.
    #[serde(default)]
    pub homeostasis: Vec<crate::homeostasis::Homeostasis>,
}

/// Largest population the engine accepts (indices are 32-bit).
pub const MAX_POPULATION: usize = u32::MAX as usize - 1;

impl Model {
    pub fn new(dt: Option<f64>, seed: u64) -> Result<Model> {
        if let Some(dt) = dt {
            if !(dt.is_finite() && dt > 0.0) {
                return param_err(format!(
                    "dt must be a finite number of ms > 0 (or None for continuous time), got {dt}"
                ));
            }
        }
        Ok(Model {
            dt,
            seed,
            pops: Vec::new(),
            projs: Vec::new(),
            currents: Vec::new(),
            spike_probes: Vec::new(),
            voltage_probes: Vec::new(),
            homeostasis: Vec::new(),
        })
    }

    fn check_size(&self, n: usize, per_neuron_bytes: f64) -> Result<()> {
        if n == 0 {
            return param_err("a population needs at least one neuron");
        }
        if n > MAX_POPULATION {
            return Err(Error::OutOfMemory(format!(
                "a population holds at most {MAX_POPULATION} neurons, {n} were asked for"
            )));
        }
        connect::check_memory(
            &format!("a population of {n} neurons"),
            n as f64 * per_neuron_bytes,
        )
    }

    fn push(&mut self, name: Option<String>, n: usize, kind: PopKind) -> usize {
        let id = self.pops.len();
        let name = name.unwrap_or_else(|| format!("pop{id}"));
        self.pops.push(Population {
            name,
            n,
            kind,
            outgoing: Vec::new(),
        });
        id
    }

    pub fn add_neurons(
        &mut self,
        n: usize,
        spec: NeuronSpec,
        name: Option<String>,
    ) -> Result<usize> {
        self.check_size(n, 120.0)?;
        spec.validate(n)?;
        if let Some(dt) = self.dt {
            for i in 0..n {
                let r = spec.t_ref.get(i) / dt;
                if (r - r.round()).abs() > 1e-6 {
                    return param_err(format!(
                        "t_ref = {} ms is not a multiple of dt = {dt} ms; use a refractory period on the grid",
                        spec.t_ref.get(i)
                    ));
                }
                if matches!(spec.t_ref, Param::Scalar(_)) {
                    break;
                }
            }
        }
        if self.dt.is_none() && spec.synapse == crate::params::SynapseKind::CondExp {
            return param_err(
                "synapse='cond_exp' is integrated on a grid: give the network a dt (continuous time \
                 supports 'delta' and 'exp')",
            );
        }
        if spec.synapse == crate::params::SynapseKind::CondExp
            && spec.kind != crate::params::NeuronKind::Lif
        {
            return param_err("synapse='cond_exp' is for LIF neurons");
        }
        let dynamics = Box::new(Dynamics::new(&spec, n, self.dt));
        Ok(self.push(
            name,
            n,
            PopKind::Neurons {
                spec: Box::new(spec),
                dynamics,
            },
        ))
    }

    pub fn add_spike_source(
        &mut self,
        n: usize,
        times: &[f64],
        ids: &[u32],
        name: Option<String>,
    ) -> Result<usize> {
        self.check_size(n, 16.0)?;
        let train = SpikeTrain::new(times, ids, n, self.dt)?;
        Ok(self.push(name, n, PopKind::SpikeSource { train }))
    }

    pub fn add_poisson(&mut self, n: usize, rates: Param, name: Option<String>) -> Result<usize> {
        self.check_size(n, 16.0)?;
        validate_rates(&rates, n)?;
        Ok(self.push(name, n, PopKind::Poisson { rates }))
    }

    pub fn pop(&self, id: usize) -> Result<&Population> {
        self.pops.get(id).ok_or_else(|| {
            Error::IndexOutOfRange(format!(
                "population {id} does not exist ({} populations)",
                self.pops.len()
            ))
        })
    }

    /// The two ends of the next projection (sizes, seed, index); the target must be able to
    /// receive synapses.
    pub(crate) fn endpoints(&self, pre: usize, post: usize) -> Result<Endpoints> {
        let (n_pre, n_post) = (self.pop(pre)?.n, self.pop(post)?.n);
        if self.pops[post].dynamics().is_none() {
            return Err(Error::InvalidConnection(format!(
                "population '{}' is a source and cannot receive synapses; connect into a neuron population",
                self.pops[post].name
            )));
        }
        Ok(Endpoints {
            pre,
            post,
            n_pre,
            n_post,
            same_population: pre == post,
            dt: self.dt,
            seed: self.seed,
            index: self.projs.len(),
        })
    }

    /// `ids` (all neurons when None) of neuron population `pop`, checked against its size;
    /// `source_msg` says why a source population cannot be used, `what` names the caller.
    fn neuron_ids(
        &self,
        pop: usize,
        ids: Option<Vec<u32>>,
        what: &str,
        source_msg: &str,
    ) -> Result<Vec<u32>> {
        let p = self.pop(pop)?;
        if p.dynamics().is_none() {
            return param_err(format!("population '{}' {source_msg}", p.name));
        }
        match ids {
            Some(ids) => {
                if let Some(&bad) = ids.iter().find(|&&x| x as usize >= p.n) {
                    return Err(Error::IndexOutOfRange(format!(
                        "{what}: neuron {bad} is out of range for '{}' ({} neurons)",
                        p.name, p.n
                    )));
                }
                Ok(ids)
            }
            None => Ok((0..p.n as u32).collect()),
        }
    }

    pub fn connect(&mut self, pre: usize, post: usize, spec: &ConnectSpec) -> Result<usize> {
        self.connect_plastic(pre, post, spec, None, None)
    }

    /// Connect with an optional STDP rule (validated, initial weights within its bounds).
    pub fn connect_plastic(
        &mut self,
        pre: usize,
        post: usize,
        spec: &ConnectSpec,
        rule: Option<crate::plasticity::StdpRule>,
        dopamine: Option<usize>,
    ) -> Result<usize> {
        if let Some(r) = &rule {
            r.validate()?;
        }
        if let Some(d) = dopamine {
            if d >= self.pops.len() {
                return Err(Error::IndexOutOfRange(format!(
                    "the dopamine population {d} does not exist ({} populations)",
                    self.pops.len()
                )));
            }
            if rule.as_ref().is_none_or(|r| r.reward.is_none()) {
                return param_err(
                    "a dopamine population needs a reward-modulated rule (sf.RewardSTDP)",
                );
            }
        }
        let e = self.endpoints(pre, post)?;
        let index = e.index;
        let mut proj = connect::build(spec, &e)?;
        if let Some(mut r) = rule {
            crate::plasticity::check_bounds(&r, &proj)?;
            if let Some(dt) = self.dt {
                r.tabulate(dt);
            }
            proj.plasticity = Some(r);
            proj.dopamine = dopamine;
        }
        self.projs.push(proj);
        self.pops[pre].outgoing.push(index);
        Ok(index)
    }

    /// Connect like [`Model::connect_plastic`], with normalisation and/or rewiring
    /// (validated against the built projection; nothing is added on error).
    #[allow(clippy::too_many_arguments)]
    pub fn connect_homeostatic(
        &mut self,
        pre: usize,
        post: usize,
        spec: &ConnectSpec,
        rule: Option<crate::plasticity::StdpRule>,
        dopamine: Option<usize>,
        normalize: Option<crate::homeostasis::Normalize>,
        mut rewiring: Option<crate::homeostasis::Rewiring>,
    ) -> Result<usize> {
        let k = self.connect_plastic(pre, post, spec, rule, dopamine)?;
        if normalize.is_none() && rewiring.is_none() {
            return Ok(k);
        }
        let (n_pre, n_post) = (self.pops[pre].n, self.pops[post].n);
        if let Err(e) = crate::homeostasis::check(
            &self.projs[k],
            n_pre,
            n_post,
            self.dt,
            normalize.as_ref(),
            rewiring.as_mut(),
        ) {
            // Undo the connection (it is the last one added).
            self.projs.pop();
            self.pops[pre].outgoing.pop();
            return Err(e);
        }
        if self.homeostasis.len() <= k {
            self.homeostasis.resize(k + 1, Default::default());
        }
        self.homeostasis[k] = crate::homeostasis::Homeostasis {
            normalize,
            rewiring,
        };
        Ok(k)
    }

    /// Homeostatic options of projection `k`, if any were given.
    #[inline]
    pub fn homeostasis(&self, k: usize) -> Option<&crate::homeostasis::Homeostasis> {
        self.homeostasis
            .get(k)
            .filter(|h| h.normalize.is_some() || h.rewiring.is_some())
    }

    /// Bytes of synapse storage of projection `k` (reserved capacity for rewiring ones).
    pub fn projection_bytes(&self, k: usize) -> usize {
        let p = &self.projs[k];
        match self.homeostasis(k).and_then(|h| h.rewiring.as_ref()) {
            Some(rw) => rw.bytes(self.pops[p.pre].n, self.pops[p.post].n),
            None => p.bytes(),
        }
    }

    pub fn add_current(
        &mut self,
        pop: usize,
        ids: Option<Vec<u32>>,
        times: &[f64],
        amplitudes: &[f64],
    ) -> Result<usize> {
        let ids = self.neuron_ids(
            pop,
            ids,
            "current",
            "is a source; currents go into neuron populations",
        )?;
        if times.len() != amplitudes.len() || times.is_empty() {
            return param_err(format!(
                "current: times ({}) and amplitudes ({}) must be non-empty and of equal length",
                times.len(),
                amplitudes.len()
            ));
        }
        for (k, (&t, &a)) in times.iter().zip(amplitudes).enumerate() {
            if !t.is_finite() || t < 0.0 || !a.is_finite() {
                return param_err(format!(
                    "current: times[{k}] = {t} must be >= 0 and amplitudes[{k}] = {a} finite"
                ));
            }
            if k > 0 && t <= times[k - 1] {
                return param_err("current: times must be strictly increasing");
            }
        }
        let steps = match self.dt {
            Some(dt) => times.iter().map(|&t| time_to_step(t, dt)).collect(),
            None => Vec::new(),
        };
        self.currents.push(CurrentSource {
            pop,
            ids,
            times: times.to_vec(),
            amplitudes: amplitudes.to_vec(),
            steps,
        });
        Ok(self.currents.len() - 1)
    }

    pub fn record_spikes(&mut self, pop: usize) -> Result<usize> {
        self.pop(pop)?;
        self.spike_probes.push(pop);
        Ok(self.spike_probes.len() - 1)
    }

    pub fn record_voltage(
        &mut self,
        pop: usize,
        ids: Option<Vec<u32>>,
        times: &[f64],
    ) -> Result<usize> {
        let ids = self.neuron_ids(
            pop,
            ids,
            "record_voltage",
            "is a source and has no membrane potential",
        )?;
        if let Some(k) = times.iter().position(|t| !t.is_finite() || *t < 0.0) {
            return param_err(format!(
                "record_voltage: times[{k}] = {} must be finite and >= 0",
                times[k]
            ));
        }
        if times.windows(2).any(|w| w[1] < w[0]) {
            return param_err("record_voltage: times must be sorted in increasing order");
        }
        connect::check_memory(
            "recording these voltages",
            times.len() as f64 * ids.len() as f64 * 8.0,
        )?;
        let steps = match self.dt {
            Some(dt) => times.iter().map(|&t| (t / dt).round() as i64).collect(),
            None => Vec::new(),
        };
        self.voltage_probes.push(VoltageProbe {
            pop,
            ids,
            times: times.to_vec(),
            steps,
        });
        Ok(self.voltage_probes.len() - 1)
    }

    /// True when a spike recorder watches population `pop` (its spikes must be listed).
    pub fn is_recorded(&self, pop: usize) -> bool {
        self.spike_probes.contains(&pop)
    }

    /// Largest delay of any projection, in steps (grid).
    pub fn max_delay_steps(&self) -> u32 {
        self.projs
            .iter()
            .map(|p| p.max_steps())
            .max()
            .unwrap_or(1)
            .max(1)
    }

    pub fn n_synapses(&self) -> usize {
        self.projs.iter().map(|p| p.n_synapses()).sum()
    }

    pub fn synapse_bytes(&self) -> usize {
        (0..self.projs.len())
            .map(|k| self.projection_bytes(k))
            .sum()
    }
}

pub fn validate_rates(rates: &Param, n: usize) -> Result<()> {
    let vals: &[f64] = match rates {
        Param::Scalar(r) => std::slice::from_ref(r),
        Param::PerNeuron(v) => {
            if v.len() != n {
                return param_err(format!(
                    "Poisson: {} rates for {n} sources; give a scalar or one per source",
                    v.len()
                ));
            }
            v
        }
    };
    if let Some(r) = vals.iter().find(|r| !r.is_finite() || **r < 0.0) {
        return param_err(format!("Poisson rate must be finite and >= 0 Hz, got {r}"));
    }
    Ok(())
}
