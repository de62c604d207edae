//! `Network`: a [`Model`] (structure) and its [`State`] (dynamics), with the public
//! operations: build, run (resumable, interruptible by deadline), read results, reset.
use crate::batch::{self, SampleInput, SampleOutput};
use crate::connect::ConnectSpec;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::params::{NeuronSpec, Param};
use crate::plasticity::StdpRule;
use crate::state::{Counts, SpikeRecord, State};
use crate::synapses::Projection;
use serde::{Deserialize, Serialize};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

#[derive(Serialize, Deserialize)]
pub struct Network {
    pub model: Model,
    state: State,
    /// The state no longer matches the model (structure changed since it was built).
    stale: bool,
}

/// Summary of the network's size and work done so far.
#[derive(Clone, Debug)]
pub struct Summary {
    pub time_ms: f64,
    pub counts: Counts,
    pub n_neurons: usize,
    pub n_synapses: usize,
    pub synapse_bytes: usize,
    pub neuron_bytes: usize,
    pub pending_events: usize,
}

impl Network {
    pub fn new(dt: Option<f64>, seed: u64) -> Result<Network> {
        let model = Model::new(dt, seed)?;
        let state = State::new(&model, 0);
        Ok(Network {
            model,
            state,
            stale: false,
        })
    }

    fn mutate(&mut self, what: &str) -> Result<()> {
        if self.state.started {
            return Err(Error::InvalidState(format!(
                "cannot {what} after the network has run (t = {} ms); call reset() first, or build the whole network before running",
                self.time()
            )));
        }
        self.stale = true;
        Ok(())
    }

    /// The running state (checkpoints).
    pub(crate) fn state(&self) -> &State {
        &self.state
    }

    /// True when the state will be rebuilt from the model before the next use (checkpoints).
    pub(crate) fn is_stale(&self) -> bool {
        self.stale
    }

    fn fresh_state(&mut self) {
        if self.stale {
            self.state = State::new(&self.model, 0);
            self.stale = false;
        }
    }

    pub fn add_population(
        &mut self,
        n: usize,
        spec: NeuronSpec,
        name: Option<String>,
    ) -> Result<usize> {
        self.mutate("add a population")?;
        self.model.add_neurons(n, spec, name)
    }

    pub fn add_spike_source(
        &mut self,
        n: usize,
        times: &[f64],
        ids: &[u32],
        name: Option<String>,
    ) -> Result<usize> {
        self.mutate("add a spike source")?;
        self.model.add_spike_source(n, times, ids, name)
    }

    pub fn add_poisson(&mut self, n: usize, rates: Param, name: Option<String>) -> Result<usize> {
        self.mutate("add a Poisson source")?;
        self.model.add_poisson(n, rates, name)
    }

    pub fn connect(&mut self, pre: usize, post: usize, spec: &ConnectSpec) -> Result<usize> {
        self.connect_plastic(pre, post, spec, None, None)
    }

    /// Connect with an optional STDP rule.
    pub fn connect_plastic(
        &mut self,
        pre: usize,
        post: usize,
        spec: &ConnectSpec,
        rule: Option<StdpRule>,
        dopamine: Option<usize>,
    ) -> Result<usize> {
        self.mutate("connect populations")?;
        self.model.connect_plastic(pre, post, spec, rule, dopamine)
    }

    /// Connect with an optional STDP rule, normalisation and rewiring (see
    /// [`crate::homeostasis`] and [`crate::structural`]).
    #[allow(clippy::too_many_arguments)]
    pub fn connect_homeostatic(
        &mut self,
        pre: usize,
        post: usize,
        spec: &ConnectSpec,
        rule: Option<StdpRule>,
        dopamine: Option<usize>,
        normalize: Option<crate::homeostasis::Normalize>,
        rewiring: Option<crate::homeostasis::Rewiring>,
    ) -> Result<usize> {
        self.mutate("connect populations")?;
        self.model
            .connect_homeostatic(pre, post, spec, rule, dopamine, normalize, rewiring)
    }

    /// Scale each postsynaptic neuron's incoming weights in projection `k` so they sum to
    /// `target` (default: the `Normalize` target given when connecting), now. Neurons whose
    /// weights sum to <= 0 are left alone; nothing is clipped (see [`crate::homeostasis`]).
    /// Static projections store weights as f32, so their sums are exact to f32 precision.
    pub fn normalize(&mut self, k: usize, target: Option<f64>) -> Result<()> {
        let p = self.projection(k)?;
        let given = self
            .model
            .homeostasis(k)
            .and_then(|h| h.normalize.as_ref())
            .map(|n| n.target);
        let Some(target) = target.or(given) else {
            return Err(Error::InvalidParameter(format!(
                "normalize: give target_sum (projection {k} was connected without normalize=)"
            )));
        };
        if !(target.is_finite() && target > 0.0) {
            return Err(Error::InvalidParameter(format!(
                "normalize: target_sum must be a finite number > 0, got {target}"
            )));
        }
        if p.conv.is_some() {
            return Err(Error::InvalidParameter(
                "normalize is not supported on convolutional projections".into(),
            ));
        }
        self.fresh_state();
        if self.state.plastic.get(k).is_some_and(|s| s.is_some()) {
            let key = self.state.key_now(&self.model);
            self.state.normalize_now(&self.model, k, target, key);
            self.keep_learned();
        } else {
            let p = &mut self.model.projs[k];
            let mut w = p.weight_values();
            let n_post = self.model.pops[p.post].n;
            crate::homeostasis::normalize_values(&mut w, &p.targets, n_post, target);
            p.set_weights(&w);
        }
        Ok(())
    }

    /// Connect with a convolution or pooling (see [`crate::conv`]).
    pub fn connect_conv(
        &mut self,
        pre: usize,
        post: usize,
        spec: &crate::conv::ConvSpec,
        weight: &crate::connect::Values,
        delay: &crate::connect::Values,
        rule: Option<StdpRule>,
    ) -> Result<usize> {
        self.mutate("connect populations")?;
        self.model
            .connect_conv(pre, post, spec, weight, delay, rule)
    }

    /// Change the rates (Hz) of Poisson population `pop` from now on (between runs).
    pub fn set_rates(&mut self, pop: usize, rates: Param) -> Result<()> {
        let p = self.model.pop(pop)?;
        if !matches!(p.kind, crate::model::PopKind::Poisson { .. }) {
            return Err(Error::InvalidParameter(format!(
                "population '{}' is not a Poisson source; rates can be set only on populations made by add_poisson",
                p.name
            )));
        }
        crate::model::validate_rates(&rates, p.n)?;
        self.fresh_state();
        if let crate::model::PopKind::Poisson { rates: r } = &mut self.model.pops[pop].kind {
            *r = rates;
        }
        self.state.rates_changed(&self.model, pop);
        Ok(())
    }

    /// Adaptive part of the threshold (mV) of every neuron of `pop` now (zeros if fixed).
    pub fn theta(&self, pop: usize) -> Result<Vec<f64>> {
        let p = self.model.pop(pop)?;
        let d = p.dynamics().ok_or_else(|| {
            Error::InvalidParameter(format!("population '{}' has no threshold", p.name))
        })?;
        if !d.adaptive || self.stale || pop >= self.state.pops.len() {
            return Ok(vec![0.0; p.n]);
        }
        let ps = &self.state.pops[pop];
        Ok((0..p.n)
            .map(|i| match self.model.dt {
                Some(_) => {
                    ps.theta[i]
                        * crate::grid::pow_steps(d.theta_g, (self.state.step - ps.last[i]) as u64)
                }
                None => ps.theta[i] * (-(self.state.time - ps.last_t[i]) / d.tau_theta).exp(),
            })
            .collect())
    }

    /// Set the dopamine concentration of reward-modulated projection `k` now.
    pub fn set_dopamine(&mut self, k: usize, level: f64) -> Result<()> {
        let p = self.projection(k)?;
        if p.plasticity.as_ref().is_none_or(|r| r.reward.is_none()) {
            return Err(Error::InvalidParameter(format!(
                "projection {k} is not reward-modulated (sf.RewardSTDP)"
            )));
        }
        if !level.is_finite() {
            return Err(Error::InvalidParameter(format!(
                "dopamine level must be finite, got {level}"
            )));
        }
        self.fresh_state();
        let now = self.time();
        if let Some(Some(st)) = self.state.plastic.get_mut(k) {
            st.set_dopamine(now, level);
        }
        Ok(())
    }

    /// Learning-rate factor of plastic projection `k` (1 unless set).
    pub fn learning_rate(&self, k: usize) -> Result<f64> {
        Ok(self.plastic_rule(k)?.learning_rate)
    }

    /// Scale every amplitude of plastic projection `k`'s rule by `eta` from now on (0 freezes
    /// its weights; traces keep running, so raising it again later is seamless).
    pub fn set_learning_rate(&mut self, k: usize, eta: f64) -> Result<()> {
        if !(eta.is_finite() && eta >= 0.0) {
            return Err(Error::InvalidParameter(format!(
                "learning_rate must be finite and >= 0, got {eta}"
            )));
        }
        self.plastic_rule(k)?;
        if let Some(rule) = self.model.projs[k].plasticity.as_mut() {
            rule.learning_rate = eta;
        }
        Ok(())
    }

    fn plastic_rule(&self, k: usize) -> Result<&StdpRule> {
        self.projection(k)?.plasticity.as_ref().ok_or_else(|| {
            Error::InvalidParameter(format!("projection {k} has no plasticity rule"))
        })
    }

    fn projection(&self, k: usize) -> Result<&Projection> {
        self.model
            .projs
            .get(k)
            .ok_or_else(|| Error::IndexOutOfRange(format!("projection {k} does not exist")))
    }

    /// Current weights of projection `k` (plastic ones as learned so far), storage order.
    pub fn weights(&self, k: usize) -> Result<Vec<f64>> {
        let p = self.projection(k)?;
        match self.state.plastic.get(k).and_then(|s| s.as_ref()) {
            Some(st) if !self.stale => Ok(match self.state.homeo.rewire(k) {
                Some(rw) => rw.compact_weights(st),
                None => st.weights.clone(),
            }),
            _ => Ok(p.weight_values()),
        }
    }

    /// Write learned weights back into the model (so resets and batches start from them).
    fn keep_learned(&mut self) {
        let now = self.time();
        for (k, st) in self.state.plastic.iter_mut().enumerate() {
            if let Some(st) = st {
                if let Some(rule) = &self.model.projs[k].plasticity {
                    st.flush(rule, now);
                }
                match self.state.homeo.rewire(k) {
                    Some(rw) => rw.sync(&mut self.model.projs[k], st),
                    None => self.model.projs[k].learned = Some(st.weights.clone()),
                }
            }
        }
        crate::conv::keep_learned(&self.state, &mut self.model);
    }

    pub fn add_current(
        &mut self,
        pop: usize,
        ids: Option<Vec<u32>>,
        times: &[f64],
        amplitudes: &[f64],
    ) -> Result<usize> {
        self.mutate("add a current source")?;
        self.model.add_current(pop, ids, times, amplitudes)
    }

    /// Record spikes of `pop` from now on.
    pub fn record_spikes(&mut self, pop: usize) -> Result<usize> {
        let k = self.model.record_spikes(pop)?;
        self.state.sync_probes(&self.model);
        Ok(k)
    }

    /// Sample membrane potentials; samples already in the past are NaN.
    pub fn record_voltage(
        &mut self,
        pop: usize,
        ids: Option<Vec<u32>>,
        times: &[f64],
    ) -> Result<usize> {
        let k = self.model.record_voltage(pop, ids, times)?;
        self.state.sync_probes(&self.model);
        Ok(k)
    }

    /// Current simulation time (ms).
    pub fn time(&self) -> f64 {
        self.state.now(&self.model)
    }

    /// The absolute time a run of `duration` ms from now ends at, validated.
    pub fn target_for(&self, duration: f64) -> Result<f64> {
        if !(duration.is_finite() && duration >= 0.0) {
            return Err(Error::InvalidParameter(format!(
                "duration must be finite and >= 0 ms, got {duration}"
            )));
        }
        if let Some(dt) = self.model.dt {
            let steps = duration / dt;
            if (steps - steps.round()).abs() > 1e-6 * steps.max(1.0) {
                return Err(Error::InvalidParameter(format!(
                    "duration {duration} ms is not a multiple of dt = {dt} ms"
                )));
            }
            if steps.round() > 1e15 {
                return Err(Error::InvalidParameter(format!(
                    "duration {duration} ms is too many steps"
                )));
            }
            Ok((self.state.step + steps.round() as i64) as f64 * dt)
        } else {
            Ok(self.state.time + duration)
        }
    }

    /// Advance to absolute time `t_ms`; returns false when `deadline` passed first (call
    /// again with the same target to go on).
    pub fn run_to(&mut self, t_ms: f64, deadline: Option<Instant>) -> bool {
        self.fresh_state();
        let done = match self.model.dt {
            Some(dt) => self
                .state
                .run_grid(&self.model, (t_ms / dt).round() as i64, deadline),
            None => self.state.run_continuous(&self.model, t_ms, deadline),
        };
        self.keep_learned();
        done
    }

    /// Run for `duration` ms without interruption.
    pub fn run(&mut self, duration: f64) -> Result<()> {
        let t = self.target_for(duration)?;
        self.run_to(t, None);
        Ok(())
    }

    /// Back to time 0: initial membrane values, empty queues and recordings, same structure.
    pub fn reset(&mut self) {
        self.state = State::new(&self.model, 0);
        self.stale = false;
    }

    pub fn spikes(&self, probe: usize) -> Result<&SpikeRecord> {
        self.state
            .spike_records
            .get(probe)
            .ok_or_else(|| Error::IndexOutOfRange(format!("spike recorder {probe} does not exist")))
    }

    /// The spikes recorded so far by `probe`, handed over; the recorder starts empty again.
    pub fn take_spikes(&mut self, probe: usize) -> Result<SpikeRecord> {
        self.state
            .spike_records
            .get_mut(probe)
            .map(std::mem::take)
            .ok_or_else(|| Error::IndexOutOfRange(format!("spike recorder {probe} does not exist")))
    }

    pub fn voltages(&self, probe: usize) -> Result<&[f64]> {
        self.state
            .voltages
            .get(probe)
            .map(|v| v.as_slice())
            .ok_or_else(|| {
                Error::IndexOutOfRange(format!("voltage recorder {probe} does not exist"))
            })
    }

    pub fn summary(&self) -> Summary {
        let mut counts = self.state.counts.clone();
        counts.spikes.resize(self.model.pops.len(), 0);
        counts.synaptic_events.resize(self.model.projs.len(), 0);
        counts.pruned.resize(self.model.projs.len(), 0);
        counts.created.resize(self.model.projs.len(), 0);
        Summary {
            time_ms: self.time(),
            counts,
            n_neurons: self.model.pops.iter().map(|p| p.n).sum(),
            n_synapses: self.model.n_synapses(),
            synapse_bytes: self.model.synapse_bytes(),
            neuron_bytes: self
                .model
                .pops
                .iter()
                .filter_map(|p| p.dynamics())
                .map(|d| d.bytes() + d.n * 48)
                .sum(),
            pending_events: self.state.calendar.pending()
                + self.state.heap.len()
                + self.state.wakes.len(),
        }
    }

    /// Membrane potentials (absolute mV) of a neuron population now.
    pub fn membrane(&self, pop: usize) -> Result<Vec<f64>> {
        let p = self.model.pop(pop)?;
        let d = p.dynamics().ok_or_else(|| {
            Error::InvalidParameter(format!("population '{}' has no membrane", p.name))
        })?;
        if self.stale || pop >= self.state.pops.len() {
            let u = d.initial_u(&p_spec_init(p), self.model.seed, pop);
            return Ok(u
                .iter()
                .enumerate()
                .map(|(i, u)| u + d.v_rest.at(i))
                .collect());
        }
        let ps = &self.state.pops[pop];
        Ok((0..p.n)
            .map(|i| match self.model.dt {
                Some(_) => crate::grid::peek(d, ps, i, self.state.step),
                None => crate::continuous::peek(d, ps, i, self.state.time),
            })
            .collect())
    }

    pub fn set_weights(&mut self, proj: usize, w: &[f64]) -> Result<()> {
        let p =
            self.model.projs.get_mut(proj).ok_or_else(|| {
                Error::IndexOutOfRange(format!("projection {proj} does not exist"))
            })?;
        if w.len() != p.n_weights() {
            return Err(Error::InvalidParameter(match &p.conv {
                Some(c) => format!(
                    "weights: {} values for a kernel of {} (shape ({}, {}, {}, {}))",
                    w.len(),
                    c.n_kernel(),
                    c.out_shape[0],
                    c.in_shape[0] / c.groups,
                    c.kernel[0],
                    c.kernel[1]
                ),
                None => format!(
                    "weights: {} values for a projection of {} synapses",
                    w.len(),
                    p.n_synapses()
                ),
            }));
        }
        if let Some(i) = w
            .iter()
            .position(|x| !x.is_finite() || x.abs() > f32::MAX as f64)
        {
            return Err(Error::InvalidParameter(format!(
                "weights[{i}] = {} must be finite",
                w[i]
            )));
        }
        p.set_weights(w);
        let key = self.state.key_now(&self.model);
        if let Some(Some(st)) = self.state.plastic.get_mut(proj) {
            match self
                .state
                .homeo
                .rewire
                .get_mut(proj)
                .and_then(Option::as_mut)
            {
                Some(rw) => {
                    let cfg = self
                        .model
                        .homeostasis(proj)
                        .and_then(|h| h.rewiring.as_ref());
                    rw.scatter_weights(st, cfg.expect("rewiring"), w, key);
                }
                None => st.weights.copy_from_slice(w),
            }
        }
        crate::conv::set_weights(&mut self.state, proj, w);
        Ok(())
    }

    /// Batch inference over independent samples (see [`batch::run_batch`]).
    #[allow(clippy::too_many_arguments)]
    pub fn run_batch(
        &self,
        source: usize,
        inputs: &[SampleInput],
        duration: f64,
        track: &[usize],
        threads: usize,
        first_sample: u64,
        cancel: &AtomicBool,
    ) -> Result<Vec<SampleOutput>> {
        batch::run_batch(
            &self.model,
            source,
            inputs,
            duration,
            track,
            threads,
            first_sample,
            cancel,
        )
    }
}

fn p_spec_init(p: &crate::model::Population) -> crate::params::InitV {
    match &p.kind {
        crate::model::PopKind::Neurons { spec, .. } => spec.v_init.clone(),
        _ => crate::params::InitV::Rest,
    }
}
