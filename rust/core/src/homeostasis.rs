//! Homeostasis of plastic projections: normalisation of each neuron's incoming weights to a
//! target sum (Diehl & Cook 2015), and the clock that applies it and structural plasticity
//! ([`crate::structural`]) at their times.
//!
//! Normalisation of projection `k` to `target`: every postsynaptic neuron `i` whose incoming
//! weights (in this projection) sum to `S_i > 0` has each of them multiplied by `target / S_i`
//! (neurons with `S_i <= 0` are left alone). Weights are not clipped: they may leave
//! `[w_min, w_max]`, and the next STDP update of such a synapse brings it back within the
//! bounds (the clipping every update does), as in Diehl & Cook's code. Pending lazy updates
//! (reward-modulated weights) are integrated to the normalisation time first.
//!
//! Timing: with `interval = T`, normalisation happens at `t = k T`, `k = 1, 2, ...`, after
//! every event at that time (spikes emitted at `k T` have potentiated their synapses first).
//! Structural events (pruning, creation) at time `t` happen before every event at `t`. Nothing
//! here runs per step: the run loops ask for the next due time (one comparison) and work is
//! done only when something is due.
use crate::error::{param_err, Error, Result};
use crate::model::Model;
use crate::plasticity::PlasticState;
use crate::state::State;
use crate::structural::RewireState;
use crate::synapses::{Delays, Projection};
use serde::{Deserialize, Serialize};

/// Normalise each postsynaptic neuron's incoming weights to sum `target`, every `interval` ms
/// (or only when asked, `interval = None`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalize {
    pub target: f64,
    pub interval: Option<f64>,
}

/// Structural plasticity of a plastic projection (see [`crate::structural`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rewiring {
    /// A synapse whose weight stays below `prune_below` for `prune_after` ms is removed.
    pub prune_below: f64,
    pub prune_after: f64,
    /// New synapses per postsynaptic neuron per second (while it has room).
    pub create_rate: f64,
    /// Weight of a new synapse (within the STDP bounds).
    pub new_weight: f64,
    /// Largest number of incoming synapses of one postsynaptic neuron (None: the largest
    /// initial in-degree).
    pub max_in: Option<usize>,
    /// Capacities reserved when the projection was connected: incoming synapses per
    /// postsynaptic neuron and outgoing synapses per presynaptic neuron.
    pub cap_in: usize,
    pub cap_out: usize,
}

/// Homeostatic options of one projection.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Homeostasis {
    pub normalize: Option<Normalize>,
    pub rewiring: Option<Rewiring>,
}

impl Rewiring {
    /// Slots of synapse storage reserved per presynaptic neuron times the number of them.
    pub fn slots(&self, n_pre: usize) -> usize {
        n_pre * self.cap_out
    }

    /// Bytes reserved by a rewiring projection's synapse storage (target + weight per slot,
    /// plus the reverse index): fixed when connected, whatever the rewiring does.
    pub fn bytes(&self, n_pre: usize, n_post: usize) -> usize {
        self.slots(n_pre) * 8 + n_post * self.cap_in * 4 + (n_pre + 1) * 4
    }
}

fn finite_positive(what: &str, v: f64) -> Result<()> {
    if !(v.is_finite() && v > 0.0) {
        return param_err(format!("{what} must be a finite number > 0, got {v}"));
    }
    Ok(())
}

/// Validate `normalize` and `rewiring` for the projection `proj` (built, not yet added) and
/// fill in the capacities. `n_pre`/`n_post` are the population sizes.
pub(crate) fn check(
    proj: &Projection,
    n_pre: usize,
    n_post: usize,
    dt: Option<f64>,
    normalize: Option<&Normalize>,
    rewiring: Option<&mut Rewiring>,
) -> Result<()> {
    if let Some(nm) = normalize {
        if proj.conv.is_some() {
            return param_err("Normalize is not supported on convolutional projections");
        }
        finite_positive("Normalize target_sum", nm.target)?;
        if let Some(iv) = nm.interval {
            finite_positive("Normalize interval (ms)", iv)?;
            if proj.plasticity.is_none() {
                return param_err(
                    "Normalize with an interval needs a plastic projection (plasticity=...): a \
                     static projection's weights do not change, call proj.normalize() once instead",
                );
            }
            if let Some(dt) = dt {
                let steps = iv / dt;
                if (steps - steps.round()).abs() > 1e-6 * steps.max(1.0) || steps.round() < 1.0 {
                    return param_err(format!(
                        "Normalize interval {iv} ms is not a multiple of dt = {dt} ms"
                    ));
                }
            }
        }
    }
    let Some(rw) = rewiring else { return Ok(()) };
    let Some(rule) = proj.plasticity.as_ref() else {
        return param_err(
            "Rewiring needs a plastic projection: pass plasticity=sf.STDP(...) (or TripletSTDP)",
        );
    };
    if rule.reward.is_some() {
        return param_err(
            "Rewiring is not supported with RewardSTDP (weights drift between events)",
        );
    }
    if !matches!(proj.delays, Delays::Uniform { .. }) {
        return Err(Error::InvalidConnection(
            "Rewiring needs one delay for the whole projection: give a scalar delay".into(),
        ));
    }
    if !rw.prune_below.is_finite() {
        return param_err(format!(
            "Rewiring prune_below must be finite, got {}",
            rw.prune_below
        ));
    }
    finite_positive("Rewiring prune_after (ms)", rw.prune_after)?;
    if !(rw.create_rate.is_finite() && rw.create_rate >= 0.0) {
        return param_err(format!(
            "Rewiring create_rate must be finite and >= 0 Hz, got {}",
            rw.create_rate
        ));
    }
    if !(rw.new_weight.is_finite() && rw.new_weight >= rule.w_min && rw.new_weight <= rule.w_max) {
        return param_err(format!(
            "Rewiring new_weight {} must lie within the STDP bounds [{}, {}]",
            rw.new_weight, rule.w_min, rule.w_max
        ));
    }
    let mut in_deg = vec![0usize; n_post];
    for &t in &proj.targets {
        in_deg[t as usize] += 1;
    }
    let max_in_deg = in_deg.iter().copied().max().unwrap_or(0);
    let max_out_deg = proj.out_degrees().iter().copied().max().unwrap_or(0) as usize;
    let cap_in = match rw.max_in {
        Some(0) => {
            return param_err("Rewiring max_synapses_per_neuron must be >= 1");
        }
        Some(m) if m < max_in_deg => {
            return param_err(format!(
                "Rewiring max_synapses_per_neuron = {m} is below the largest initial in-degree \
                 {max_in_deg}; give at least that"
            ));
        }
        Some(m) => m.min(n_pre),
        None => max_in_deg,
    };
    if cap_in == 0 && rw.create_rate > 0.0 {
        return param_err(
            "Rewiring: the projection starts without synapses; give max_synapses_per_neuron",
        );
    }
    let fair = (cap_in * n_post).div_ceil(n_pre.max(1));
    let cap_out = max_out_deg.max(2 * fair).min(n_post).max(1);
    if (n_pre as u64) * (cap_out as u64) >= u32::MAX as u64
        || (n_post as u64) * (cap_in as u64) >= u32::MAX as u64
    {
        return Err(Error::OutOfMemory(format!(
            "Rewiring would reserve {n_pre} x {cap_out} synapse slots, more than 2^32"
        )));
    }
    crate::connect::check_memory(
        "the synapse storage reserved for rewiring",
        (n_pre * cap_out) as f64 * 40.0 + (n_post * cap_in) as f64 * 4.0,
    )?;
    rw.cap_in = cap_in;
    rw.cap_out = cap_out;
    Ok(())
}

/// Incoming synapses of target `i` of a plastic state (rewiring-padded or not).
#[inline]
pub(crate) fn incoming(st: &PlasticState, i: usize) -> &[u32] {
    let a = st.in_ptr[i] as usize;
    let b = match st.in_len.get(i) {
        Some(&n) => a + n as usize,
        None => st.in_ptr[i + 1] as usize,
    };
    &st.in_syn[a..b]
}

/// Scale every target's incoming weights of `st` to sum `target` (targets summing to <= 0 are
/// left alone).
pub(crate) fn normalize_state(st: &mut PlasticState, n_post: usize, target: f64) {
    for i in 0..n_post {
        let a = st.in_ptr[i] as usize;
        let b = a + incoming(st, i).len();
        let sum: f64 = st.in_syn[a..b]
            .iter()
            .map(|&s| st.weights[s as usize])
            .sum();
        if sum > 0.0 {
            let f = target / sum;
            for r in a..b {
                let s = st.in_syn[r] as usize;
                st.weights[s] *= f;
            }
        }
    }
}

/// Scale the weights `w` of a (static) projection with targets `targets` per target.
pub(crate) fn normalize_values(w: &mut [f64], targets: &[u32], n_post: usize, target: f64) {
    let mut sums = vec![0.0; n_post];
    for (&t, &x) in targets.iter().zip(w.iter()) {
        sums[t as usize] += x;
    }
    for (&t, x) in targets.iter().zip(w.iter_mut()) {
        let s = sums[t as usize];
        if s > 0.0 {
            *x *= target / s;
        }
    }
}

/// A periodic normalisation: projection `proj` at keys `next * every`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Clock {
    proj: usize,
    /// Period in keys (grid: steps; continuous: ms).
    every: f64,
    next: u64,
}

impl Clock {
    fn key(&self) -> f64 {
        self.next as f64 * self.every
    }
}

/// The running side of homeostasis (part of a [`State`]).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Runtime {
    /// Per projection (or empty): rewiring state.
    pub(crate) rewire: Vec<Option<RewireState>>,
    /// Projections that rewire.
    rewiring: Vec<usize>,
    clocks: Vec<Clock>,
    /// Anything to do at all (one branch in the run loops otherwise).
    pub(crate) active: bool,
}

/// Time key of `t_ms`: the grid step (as f64), or the time itself in continuous time.
#[inline]
pub(crate) fn key_of(model: &Model, t_ms: f64) -> f64 {
    match model.dt {
        Some(dt) => (t_ms / dt).round(),
        None => t_ms,
    }
}

#[inline]
fn ms_of(model: &Model, key: f64) -> f64 {
    match model.dt {
        Some(dt) => key * dt,
        None => key,
    }
}

impl Runtime {
    /// Runtime for `model`; rewiring projections' plastic states are re-laid out with their
    /// reserved capacity.
    pub(crate) fn new(model: &Model, plastic: &mut [Option<PlasticState>], sample: u64) -> Runtime {
        let mut rt = Runtime::default();
        for (k, pr) in model.projs.iter().enumerate() {
            let Some(h) = model.homeostasis(k) else {
                continue;
            };
            if let (Some(rw), Some(Some(st))) = (&h.rewiring, plastic.get_mut(k)) {
                if rt.rewire.is_empty() {
                    rt.rewire = vec![None; model.projs.len()];
                }
                rt.rewire[k] = Some(RewireState::new(model, k, pr, rw, st, sample));
                rt.rewiring.push(k);
            }
            if let Some(Normalize {
                interval: Some(iv), ..
            }) = &h.normalize
            {
                let every = match model.dt {
                    Some(dt) => (iv / dt).round(),
                    None => *iv,
                };
                rt.clocks.push(Clock {
                    proj: k,
                    every,
                    next: 1,
                });
            }
        }
        rt.active = !rt.rewiring.is_empty() || !rt.clocks.is_empty();
        rt
    }

    /// Rewiring state of projection `k`, if it rewires.
    #[inline]
    pub(crate) fn rewire(&self, k: usize) -> Option<&RewireState> {
        self.rewire.get(k).and_then(Option::as_ref)
    }
}

impl State {
    /// Apply what is due up to time key `key`: structural events at or before `key`, and
    /// normalisations before `key` (at `key` too when `after`, i.e. once the events of `key`
    /// are done), in time order (structural first at equal times).
    pub(crate) fn homeostasis_until(&mut self, model: &Model, key: f64, after: bool) {
        loop {
            // (key, phase, index): phase 0 = structural of projection, 2 = clock.
            let mut best: Option<(f64, u8, usize)> = None;
            for &k in &self.homeo.rewiring {
                let kk = self.homeo.rewire[k]
                    .as_ref()
                    .expect("rewiring")
                    .next_key(model);
                if best.is_none_or(|b| (kk, 0) < (b.0, b.1)) {
                    best = Some((kk, 0, k));
                }
            }
            for (c, clock) in self.homeo.clocks.iter().enumerate() {
                let kk = clock.key();
                if best.is_none_or(|b| (kk, 2) < (b.0, b.1)) {
                    best = Some((kk, 2, c));
                }
            }
            let Some((kk, phase, idx)) = best else { return };
            let due = if phase == 0 || after {
                kk <= key
            } else {
                kk < key
            };
            if !due {
                return;
            }
            if phase == 0 {
                let cfg = model
                    .homeostasis(idx)
                    .and_then(|h| h.rewiring.as_ref())
                    .expect("rewiring");
                let st = self.plastic[idx].as_mut().expect("plastic state");
                let rw = self.homeo.rewire[idx].as_mut().expect("rewiring");
                let (p, c) = rw.step(model, cfg, st, kk);
                if !self.counts.pruned.is_empty() {
                    self.counts.pruned[idx] += p;
                    self.counts.created[idx] += c;
                }
            } else {
                let k = self.homeo.clocks[idx].proj;
                self.homeo.clocks[idx].next += 1;
                let target = model
                    .homeostasis(k)
                    .and_then(|h| h.normalize.as_ref())
                    .expect("normalize")
                    .target;
                self.normalize_now(model, k, target, kk);
            }
        }
    }

    /// Normalise plastic projection `k` to `target` at time key `key` (after the events then).
    pub(crate) fn normalize_now(&mut self, model: &Model, k: usize, target: f64, key: f64) {
        let pr = &model.projs[k];
        let Some(st) = self.plastic.get_mut(k).and_then(Option::as_mut) else {
            return;
        };
        let rule = pr.plasticity.as_ref().expect("plastic");
        st.flush(rule, ms_of(model, key));
        normalize_state(st, model.pops[pr.post].n, target);
        if let Some(Some(rw)) = self.homeo.rewire.get_mut(k) {
            let cfg = model
                .homeostasis(k)
                .and_then(|h| h.rewiring.as_ref())
                .expect("rewiring");
            rw.refresh_all(st, cfg, key);
        }
    }

    /// Time key of the state now.
    pub(crate) fn key_now(&self, model: &Model) -> f64 {
        match model.dt {
            Some(_) => self.step as f64,
            None => self.time,
        }
    }
}

/// Does the homeostasis side of `state` fit `model` (a loaded checkpoint)?
pub fn check_runtime(model: &Model, state: &State) -> std::result::Result<(), String> {
    let rt = &state.homeo;
    let n = model.projs.len();
    if !(rt.rewire.is_empty() || rt.rewire.len() == n)
        || rt
            .clocks
            .iter()
            .any(|c| c.proj >= n || c.every.is_nan() || c.every <= 0.0)
        || rt.rewiring.iter().any(|&k| k >= n)
    {
        return Err("normalisation or rewiring state out of range".into());
    }
    for (k, pr) in model.projs.iter().enumerate() {
        let cfg = model.homeostasis(k).and_then(|h| h.rewiring.as_ref());
        let ok = match (
            cfg,
            rt.rewire(k),
            state.plastic.get(k).and_then(Option::as_ref),
        ) {
            (None, None, _) => true,
            (Some(cfg), Some(rw), Some(st)) => {
                rt.rewiring.contains(&k)
                    && rw.consistent(st, cfg, model.pops[pr.pre].n, model.pops[pr.post].n)
            }
            _ => false,
        };
        if !ok {
            return Err(format!("projection {k}: rewiring state does not fit"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_values_are_scaled_per_target() {
        let mut w = vec![1.0, 3.0, 2.0, 0.0, -1.0];
        let targets = [0, 0, 1, 2, 3];
        normalize_values(&mut w, &targets, 4, 8.0);
        assert_eq!(w, vec![2.0, 6.0, 8.0, 0.0, -1.0]);
    }
}
