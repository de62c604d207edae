//! Spike-timing-dependent plasticity, computed at spike times only.
//!
//! Convention (NEST `stdp_synapse`): the whole synaptic delay is dendritic, so a pair is
//! judged at the postsynaptic neuron: `dt = t_post - t_arrival`, `t_arrival = t_pre + delay`.
//! `dt > 0` potentiates by `a_plus * F+(w) * exp(-dt / tau_plus)`, `dt < 0` depresses by
//! `a_minus * F-(w) * exp(dt / tau_minus)`, `dt = 0` does nothing.
//!
//! Work happens only when a spike does: when a presynaptic spike arrives, each of its synapses
//! is depressed with the target's postsynaptic trace; when a neuron fires, each of its incoming
//! plastic synapses (found through a reverse index) is potentiated with its source's
//! presynaptic trace. Traces are per source (per delay group) and per target, so a synapse
//! stores only its weight; weights are always current, nothing is pending.
use crate::error::{param_err, Result};
use crate::synapses::{Delays, Projection, Weights};
use serde::{Deserialize, Serialize};

/// Which spike pairs interact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pairing {
    /// Every pre/post pair (traces add up).
    All,
    /// Each spike with the nearest earlier spike of the other side (traces reset to 1).
    Nearest,
}

/// Pair-based STDP rule (Song et al. 2000; Gütig et al. 2003 weight dependence).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StdpRule {
    pub tau_plus: f64,
    pub tau_minus: f64,
    pub a_plus: f64,
    /// Magnitude of depression (>= 0).
    pub a_minus: f64,
    pub w_min: f64,
    pub w_max: f64,
    /// Weight-dependence exponent: 0 = additive with hard bounds; 1 = multiplicative.
    pub mu: f64,
    pub pairing: Pairing,
    /// Triplet terms (Pfister & Gerstner 2006): slow presynaptic trace `tau_x`, slow
    /// postsynaptic trace `tau_y`; `a3_plus`/`a3_minus` = 0 gives the pair rule.
    pub tau_x: f64,
    pub tau_y: f64,
    pub a3_plus: f64,
    pub a3_minus: f64,
    /// Reward modulation: pairings feed an eligibility trace instead of the weight.
    pub reward: Option<Reward>,
    /// Factor on every amplitude (1 = the rule as given; 0 = frozen): settable between runs
    /// to anneal learning, as BindsNET's `nu` or a Brian2 variable would be.
    #[serde(default = "one")]
    pub learning_rate: f64,
    /// Grid only: the pair traces' decay factors per whole number of steps (filled when the
    /// projection is added to a model with a grid; empty means compute each factor).
    #[serde(default)]
    pub tables: TraceTables,
}

fn one() -> f64 {
    1.0
}

/// Decay factors `exp(-k dt / tau)` of the pair traces for `k` steps: on a grid every time
/// difference is a whole number of steps, so a table replaces an `exp` per synapse and spike.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceTables {
    inv_dt: f64,
    plus: Vec<f64>,
    minus: Vec<f64>,
}

/// Longest tabulated gap (steps); older traces are decayed with `exp` (or are ~0 anyway).
const TABLE_STEPS: usize = 8192;

impl TraceTables {
    fn table(tau: f64, dt: f64) -> Vec<f64> {
        let n = ((20.0 * tau / dt).ceil() as usize + 1).min(TABLE_STEPS);
        (0..n).map(|k| (-(k as f64 * dt) / tau).exp()).collect()
    }

    #[inline(always)]
    fn factor(table: &[f64], inv_dt: f64, d: f64, tau: f64) -> f64 {
        // Round to the nearest step with a cast (`round` is a libm call on baseline x86-64).
        let x = d * inv_dt + 0.5;
        match table.get(x as usize) {
            Some(&f) if x >= 0.0 => f,
            _ => (-d / tau).exp(),
        }
    }
}

/// Reward-modulated STDP (Izhikevich 2007; NEST `stdp_dopamine_synapse`): each synapse keeps
/// an eligibility trace `c` (decay `tau_c`) that pairings change, and its weight follows
/// `dw/dt = c (n - baseline)`, `n` the dopamine concentration (decay `tau_d`), which rises by
/// `amount` at each spike of the chosen population or is set from Python.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reward {
    pub tau_c: f64,
    pub tau_d: f64,
    pub baseline: f64,
    pub amount: f64,
}

impl StdpRule {
    /// Tabulate the pair traces' decay for a grid of step `dt` (ms).
    pub fn tabulate(&mut self, dt: f64) {
        self.tables = TraceTables {
            inv_dt: 1.0 / dt,
            plus: TraceTables::table(self.tau_plus, dt),
            minus: TraceTables::table(self.tau_minus, dt),
        };
    }

    /// At a postsynaptic spike at `t`: the target's fast and slow traces just before it (from
    /// their values right after its last spike at `last`, NaN if none) and the potentiation
    /// amplitude (triplet: it grows with the slow trace from before this spike).
    pub(crate) fn at_post_spike(&self, fast: f64, slow: f64, last: f64, t: f64) -> (f64, f64, f64) {
        if !last.is_finite() {
            return (0.0, 0.0, self.learning_rate * self.a_plus);
        }
        let fast = fast * self.decay_minus(t - last);
        let slow = if self.a3_plus != 0.0 {
            slow * (-(t - last) / self.tau_y).exp()
        } else {
            0.0
        };
        (
            fast,
            slow,
            self.learning_rate * (self.a_plus + self.a3_plus * slow),
        )
    }

    /// The presynaptic trace a postsynaptic spike at `t` pairs with: from the source's last
    /// arrival at `last` (trace `after` it), or the trace from `before` an arrival at `t`.
    #[inline(always)]
    pub(crate) fn pre_trace_at(&self, last: f64, after: f64, before: f64, t: f64) -> f64 {
        if last == t {
            before
        } else if last.is_finite() {
            after * self.decay_plus(t - last)
        } else {
            0.0
        }
    }

    /// A presynaptic arrival of multiplicity `count` at `t` on a source with traces `last`
    /// (time of its last arrival), `after` (fast trace after it), `before` (fast trace before
    /// the first arrival at the current instant) and `slow` (triplet): update them and return
    /// the depression amplitude (triplet: it grows with the slow trace from before).
    pub(crate) fn at_pre_arrival(
        &self,
        last: &mut f64,
        after: &mut f64,
        before: &mut f64,
        slow: &mut f64,
        t: f64,
        count: u32,
    ) -> f64 {
        let fast = if last.is_finite() {
            *after * self.decay_plus(t - *last)
        } else {
            0.0
        };
        // Several arrivals at one instant: keep the trace from before the first of them,
        // which is what a postsynaptic spike at that instant must see.
        if *last != t {
            *before = fast;
        }
        let slow_now = if self.a3_minus != 0.0 && last.is_finite() {
            *slow * (-(t - *last) / self.tau_x).exp()
        } else {
            0.0
        };
        *slow = self.bump(slow_now, count);
        *after = self.bump(fast, count);
        *last = t;
        self.learning_rate * (self.a_minus + self.a3_minus * slow_now)
    }

    /// `exp(-d / tau_plus)` (the presynaptic trace's decay over `d` ms).
    #[inline(always)]
    pub fn decay_plus(&self, d: f64) -> f64 {
        TraceTables::factor(&self.tables.plus, self.tables.inv_dt, d, self.tau_plus)
    }

    /// `exp(-d / tau_minus)` (the postsynaptic trace's decay over `d` ms).
    #[inline(always)]
    pub fn decay_minus(&self, d: f64) -> f64 {
        TraceTables::factor(&self.tables.minus, self.tables.inv_dt, d, self.tau_minus)
    }

    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("tau_plus", self.tau_plus),
            ("tau_minus", self.tau_minus),
            ("tau_x", self.tau_x),
            ("tau_y", self.tau_y),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return param_err(format!(
                    "STDP {name} must be a finite time constant > 0 ms, got {v}"
                ));
            }
        }
        for (name, v) in [
            ("a_plus", self.a_plus),
            ("a_minus", self.a_minus),
            ("a3_plus", self.a3_plus),
            ("a3_minus", self.a3_minus),
            ("mu", self.mu),
            ("learning_rate", self.learning_rate),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return param_err(format!("STDP {name} must be finite and >= 0, got {v}"));
            }
        }
        if let Some(r) = &self.reward {
            for (name, v) in [("tau_c", r.tau_c), ("tau_d", r.tau_d)] {
                if !(v.is_finite() && v > 0.0) {
                    return param_err(format!(
                        "RewardSTDP {name} must be a finite time constant > 0 ms, got {v}"
                    ));
                }
            }
            for (name, v) in [("baseline", r.baseline), ("dopamine_amount", r.amount)] {
                if !v.is_finite() {
                    return param_err(format!("RewardSTDP {name} must be finite, got {v}"));
                }
            }
        }
        if !(self.w_min.is_finite() && self.w_max.is_finite()) || self.w_min > self.w_max {
            return param_err(format!(
                "STDP bounds need finite w_min <= w_max, got w_min={} and w_max={}",
                self.w_min, self.w_max
            ));
        }
        Ok(())
    }

    fn scale(&self, d: f64) -> f64 {
        if self.mu == 0.0 {
            1.0
        } else {
            let span = self.w_max - self.w_min;
            if span <= 0.0 {
                0.0
            } else {
                (d / span).max(0.0).powf(self.mu)
            }
        }
    }

    /// Weight after potentiation with presynaptic trace `x`.
    #[inline]
    pub fn facilitate(&self, w: f64, x: f64, amplitude: f64) -> f64 {
        (w + amplitude * self.scale(self.w_max - w) * x).clamp(self.w_min, self.w_max)
    }

    /// Weight after depression with postsynaptic trace `y`.
    #[inline]
    pub fn depress(&self, w: f64, y: f64, amplitude: f64) -> f64 {
        (w - amplitude * self.scale(w - self.w_min) * y).clamp(self.w_min, self.w_max)
    }

    /// Trace after a spike: add one (all pairs) or reset to one (nearest).
    #[inline]
    pub(crate) fn bump(&self, trace: f64, count: u32) -> f64 {
        match self.pairing {
            Pairing::All => trace + count as f64,
            Pairing::Nearest => 1.0,
        }
    }
}

/// The changing side of a plastic projection.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlasticState {
    pub weights: Vec<f64>,
    /// Delay group (source for one-delay projections) of each synapse.
    pub(crate) syn_group: Vec<u32>,
    /// Per group: time of the last arrival, the trace right after it and right before it.
    pre_last: Vec<f64>,
    pre_after: Vec<f64>,
    pre_before: Vec<f64>,
    /// Slow presynaptic trace (triplet, tau_x), right after the last arrival.
    pre_slow: Vec<f64>,
    /// Per target: time of the last spike and the traces right after it (fast, slow).
    post_last: Vec<f64>,
    post_trace: Vec<f64>,
    post_slow: Vec<f64>,
    /// Incoming synapses of each target: `in_syn[in_ptr[i]..in_ptr[i+1]]`.
    pub(crate) in_ptr: Vec<u32>,
    pub(crate) in_syn: Vec<u32>,
    /// Rewiring projections: live incoming synapses of each target (`in_syn` is then padded
    /// to a fixed capacity per target); empty otherwise.
    #[serde(default)]
    pub(crate) in_len: Vec<u32>,
    /// Reward modulation: eligibility and the time each synapse was last integrated to.
    elig: Vec<f64>,
    syn_time: Vec<f64>,
    /// Dopamine history: the concentration right after time `da_t[k]` (decays with tau_d).
    da_t: Vec<f64>,
    da_n: Vec<f64>,
}

impl PlasticState {
    pub fn new(proj: &Projection, n_post: usize) -> PlasticState {
        let n = proj.n_synapses();
        let weights = proj.weight_values();
        let mut syn_group = vec![0u32; n];
        let n_groups = match &proj.delays {
            Delays::Uniform { .. } => {
                for i in 0..proj.n_pre() {
                    syn_group[proj.row_ptr[i] as usize..proj.row_ptr[i + 1] as usize]
                        .fill(i as u32);
                }
                proj.n_pre()
            }
            Delays::Grouped { group_ptr, groups } => {
                for i in 0..proj.n_pre() {
                    let mut s = proj.row_ptr[i];
                    for g in group_ptr[i]..group_ptr[i + 1] {
                        let end = groups[g as usize].end;
                        syn_group[s as usize..end as usize].fill(g);
                        s = end;
                    }
                }
                groups.len()
            }
        };
        let mut in_ptr = vec![0u32; n_post + 1];
        for &t in &proj.targets {
            in_ptr[t as usize + 1] += 1;
        }
        for i in 0..n_post {
            in_ptr[i + 1] += in_ptr[i];
        }
        let mut fill = in_ptr[..n_post].to_vec();
        let mut in_syn = vec![0u32; n];
        for (s, &t) in proj.targets.iter().enumerate() {
            in_syn[fill[t as usize] as usize] = s as u32;
            fill[t as usize] += 1;
        }
        PlasticState {
            weights,
            syn_group,
            pre_last: vec![f64::NEG_INFINITY; n_groups],
            pre_after: vec![0.0; n_groups],
            pre_before: vec![0.0; n_groups],
            pre_slow: vec![0.0; n_groups],
            post_last: vec![f64::NEG_INFINITY; n_post],
            post_trace: vec![0.0; n_post],
            post_slow: vec![0.0; n_post],
            in_ptr,
            in_syn,
            in_len: Vec::new(),
            elig: if proj.plasticity.as_ref().is_some_and(|r| r.reward.is_some()) {
                vec![0.0; n]
            } else {
                Vec::new()
            },
            syn_time: if proj.plasticity.as_ref().is_some_and(|r| r.reward.is_some()) {
                vec![0.0; n]
            } else {
                Vec::new()
            },
            da_t: vec![f64::NEG_INFINITY],
            da_n: vec![0.0],
        }
    }

    /// Dopamine concentration at `t` from history entry `k`.
    #[inline]
    fn level(&self, r: &Reward, k: usize, t: f64) -> f64 {
        if self.da_n[k] == 0.0 {
            0.0
        } else {
            self.da_n[k] * (-(t - self.da_t[k]) / r.tau_d).exp()
        }
    }

    /// Integrate `dw/dt = c (n - baseline)` for synapse `s` up to `t`, exactly, segment by
    /// segment between dopamine changes; the weight is then clipped to the bounds.
    fn integrate(&mut self, rule: &StdpRule, r: &Reward, s: usize, t: f64) {
        let mut t0 = self.syn_time[s];
        if t <= t0 {
            return;
        }
        let (mut c, mut w) = (self.elig[s], self.weights[s]);
        let tau_s = 1.0 / (1.0 / r.tau_c + 1.0 / r.tau_d);
        let mut k = self.da_t.partition_point(|&x| x <= t0).saturating_sub(1);
        loop {
            let end = if k + 1 < self.da_t.len() && self.da_t[k + 1] < t {
                self.da_t[k + 1]
            } else {
                t
            };
            let (n0, d) = (self.level(r, k, t0), end - t0);
            if c != 0.0 {
                w += c
                    * (n0 * tau_s * -(-d / tau_s).exp_m1()
                        - r.baseline * r.tau_c * -(-d / r.tau_c).exp_m1());
                c *= (-d / r.tau_c).exp();
            }
            t0 = end;
            if end >= t {
                break;
            }
            k += 1;
        }
        self.weights[s] = w.clamp(rule.w_min, rule.w_max);
        self.elig[s] = c;
        self.syn_time[s] = t;
    }

    /// A spike of the dopamine population (`amount` each) at `t`.
    pub fn dopamine_spike(&mut self, r: &Reward, t: f64, count: u32) {
        let last = self.da_t.len() - 1;
        let n = self.level(r, last, t) + r.amount * count as f64;
        self.set_dopamine(t, n);
    }

    /// Set the dopamine concentration at `t` (it decays from there).
    pub fn set_dopamine(&mut self, t: f64, n: f64) {
        if *self.da_t.last().expect("history") == t {
            *self.da_n.last_mut().expect("history") = n;
        } else {
            self.da_t.push(t);
            self.da_n.push(n);
        }
    }

    /// Integrate every synapse up to `t` and forget the dopamine history before `t`.
    pub fn flush(&mut self, rule: &StdpRule, t: f64) {
        let Some(r) = rule.reward.clone() else { return };
        for s in 0..self.weights.len() {
            self.integrate(rule, &r, s, t);
        }
        let last = self.da_t.len() - 1;
        let (tk, nk) = (self.da_t[last], self.da_n[last]);
        self.da_t.clear();
        self.da_n.clear();
        self.da_t.push(tk);
        self.da_n.push(nk);
    }

    /// Bytes held per synapse beyond the static storage (weight, group, reverse index).
    pub fn bytes(&self) -> usize {
        self.weights.capacity() * 8
            + self.syn_group.capacity() * 4
            + self.in_syn.capacity() * 4
            + self.in_ptr.capacity() * 4
            + (self.pre_last.capacity() + self.pre_after.capacity() + self.pre_before.capacity())
                * 8
            + (self.post_last.capacity() + self.post_trace.capacity()) * 8
    }

    /// A presynaptic spike (`count` of them) arrives at time `t` through synapses
    /// `start..end` (targets `targets[start..end]`): each synapse is depressed with its target's
    /// trace and `add(target, weight * count)` is called with the new weight.
    #[inline]
    pub fn arrive(
        &mut self,
        rule: &StdpRule,
        targets: &[u32],
        t: f64,
        start: usize,
        end: usize,
        count: u32,
        mut add: impl FnMut(u32, f64),
    ) {
        let g = self.syn_group[start] as usize;
        let amplitude = rule.at_pre_arrival(
            &mut self.pre_last[g],
            &mut self.pre_after[g],
            &mut self.pre_before[g],
            &mut self.pre_slow[g],
            t,
            count,
        );
        for s in start..end {
            let i = targets[s] as usize;
            let y = if self.post_last[i].is_finite() {
                self.post_trace[i] * rule.decay_minus(t - self.post_last[i])
            } else {
                0.0
            };
            if let Some(r) = &rule.reward {
                // Reward-modulated: the pairing goes into the eligibility trace.
                self.integrate(rule, r, s, t);
                self.elig[s] -= amplitude * y * count as f64;
                add(targets[s], self.weights[s] * count as f64);
                continue;
            }
            let mut w = self.weights[s];
            for _ in 0..count {
                w = rule.depress(w, y, amplitude);
            }
            self.weights[s] = w;
            add(targets[s], w * count as f64);
        }
    }

    /// Target `i` fires at time `t`: potentiate its incoming synapses with their sources'
    /// traces (arrivals at exactly `t` excluded), then bump its own trace.
    pub fn post_spike(&mut self, rule: &StdpRule, i: usize, t: f64) {
        let (fast, slow, amplitude) =
            rule.at_post_spike(self.post_trace[i], self.post_slow[i], self.post_last[i], t);
        let end = match self.in_len.get(i) {
            Some(&n) => self.in_ptr[i] + n,
            None => self.in_ptr[i + 1],
        };
        for r in self.in_ptr[i] as usize..end as usize {
            let s = self.in_syn[r] as usize;
            let g = self.syn_group[s] as usize;
            let x = rule.pre_trace_at(self.pre_last[g], self.pre_after[g], self.pre_before[g], t);
            if let Some(r) = &rule.reward {
                self.integrate(rule, r, s, t);
                self.elig[s] += amplitude * x;
            } else if x > 0.0 {
                self.weights[s] = rule.facilitate(self.weights[s], x, amplitude);
            }
        }
        self.post_trace[i] = rule.bump(fast, 1);
        self.post_slow[i] = rule.bump(slow, 1);
        self.post_last[i] = t;
    }
}

/// Validate initial weights against a rule's bounds.
pub fn check_bounds(rule: &StdpRule, proj: &Projection) -> Result<()> {
    let check = |w: f64| w >= rule.w_min && w <= rule.w_max;
    let bad = match &proj.weights {
        Weights::Uniform(w) => (!check(*w)).then_some(*w),
        Weights::PerSynapse(ws) => ws.iter().map(|&w| w as f64).find(|&w| !check(w)),
    };
    match bad {
        Some(w) => param_err(format!(
            "initial weight {w} lies outside the STDP bounds [{}, {}]; give weights within them",
            rule.w_min, rule.w_max
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(mu: f64, pairing: Pairing) -> StdpRule {
        StdpRule {
            tau_plus: 20.0,
            tau_minus: 20.0,
            a_plus: 0.1,
            a_minus: 0.12,
            w_min: 0.0,
            w_max: 1.0,
            mu,
            pairing,
            tau_x: 100.0,
            tau_y: 100.0,
            a3_plus: 0.0,
            a3_minus: 0.0,
            reward: None,
            learning_rate: 1.0,
            tables: Default::default(),
        }
    }

    #[test]
    fn additive_updates_are_clipped_to_the_bounds() {
        let r = rule(0.0, Pairing::All);
        assert!((r.facilitate(0.5, 1.0, r.a_plus) - 0.6).abs() < 1e-15);
        assert_eq!(r.facilitate(0.95, 1.0, r.a_plus), 1.0);
        assert_eq!(r.depress(0.05, 1.0, r.a_minus), 0.0);
    }

    #[test]
    fn multiplicative_updates_scale_with_the_distance_to_the_bound() {
        let r = rule(1.0, Pairing::All);
        assert!((r.facilitate(0.5, 1.0, r.a_plus) - 0.55).abs() < 1e-15);
        assert!((r.depress(0.5, 1.0, r.a_minus) - 0.44).abs() < 1e-15);
        assert_eq!(r.facilitate(1.0, 5.0, r.a_plus), 1.0);
    }

    #[test]
    fn traces_add_up_or_reset_by_pairing() {
        assert_eq!(rule(0.0, Pairing::All).bump(0.5, 2), 2.5);
        assert_eq!(rule(0.0, Pairing::Nearest).bump(0.5, 2), 1.0);
    }

    #[test]
    fn invalid_rules_are_refused() {
        let mut r = rule(0.0, Pairing::All);
        r.w_min = 2.0;
        assert!(r
            .validate()
            .unwrap_err()
            .to_string()
            .contains("w_min <= w_max"));
        let mut r = rule(0.0, Pairing::All);
        r.tau_plus = 0.0;
        assert!(r.validate().is_err());
    }
}
