//! Structural plasticity: pruning of weak synapses and creation of new ones, with bounded
//! memory and event-driven work.
//!
//! Storage. A rewiring projection reserves, when it is connected, `cap_out` synapse slots per
//! presynaptic neuron (row `j` owns slots `j*cap_out..(j+1)*cap_out`, the live ones first)
//! and `cap_in` reverse-index slots per postsynaptic neuron. Creation fills a free slot,
//! pruning frees one (the row's last live synapse moves into it); nothing is reallocated,
//! so the bytes held never change. A spike is queued once per source (the projection has one
//! delay) and transmitted, when it arrives, by the synapses that exist then (the whole delay is
//! dendritic, as for STDP).
//!
//! Pruning. A synapse whose weight is below `prune_below` has a "below since" time, set by
//! the update that took it there (STDP depression at an arrival, normalisation, a weight
//! written from Python, creation with a low weight) and cleared by one that lifts it to the
//! bound or above. If it is still below at `since + prune_after`, it is removed at that time,
//! before any event at that time (a spike arriving then is not transmitted). Deadlines sit in
//! a heap; weight updates only compare against the bound, so nothing runs per step or per
//! synapse between events. On the grid, times are steps and `prune_after` is rounded up to
//! whole steps.
//!
//! Creation. Each postsynaptic neuron gains synapses as a Poisson process of rate
//! `create_rate` (Hz) while it has fewer than `cap_in` incoming synapses: the projection
//! draws event times at rate `create_rate * n_post` from its own random stream
//! (`Purpose::Rewire`, keyed by seed, projection and batch sample), picks a postsynaptic
//! neuron uniformly, and connects it from a presynaptic neuron drawn uniformly among those
//! not yet connected to it (no multapses, no autapses within a population) whose row has a
//! free slot. The new synapse has weight `new_weight` and the projection's delay; it shares
//! its neurons' STDP traces as they are (pairings with spikes from before its creation count,
//! as for a NEST synapse created by structural plasticity). On the grid a creation at time
//! `t` happens at the step `t` falls on (or the next one).
use crate::homeostasis::{key_of, Rewiring};
use crate::model::{time_to_step, Model};
use crate::plasticity::PlasticState;
use crate::rng::{self, Purpose, Stream};
use crate::synapses::{Delays, Projection, Weights};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A pruning deadline: synapse in `slot` (generation `gen`) goes at time key `key`.
/// Ordered so that the max-heap pops the earliest (then lowest slot) first.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Deadline {
    key: f64,
    slot: u32,
    gen: u32,
}

impl PartialEq for Deadline {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Deadline {}
impl PartialOrd for Deadline {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Deadline {
    fn cmp(&self, o: &Self) -> Ordering {
        o.key
            .total_cmp(&self.key)
            .then(o.slot.cmp(&self.slot))
            .then(o.gen.cmp(&self.gen))
    }
}

/// The changing structure of one rewiring projection.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RewireState {
    cap_out: u32,
    cap_in: u32,
    n_pre: u32,
    n_post: u32,
    /// Within one population: no autapses are created.
    same_pop: bool,
    /// Live synapses of each row.
    len: Vec<u32>,
    /// Target of each slot.
    pub(crate) targets: Vec<u32>,
    /// Position of each slot's synapse in its target's incoming list.
    in_pos: Vec<u32>,
    /// Time key since which the slot's weight is below the bound (infinite: it is not).
    below: Vec<f64>,
    /// Generation of each slot (bumped when its synapse changes or stops being below).
    gen: Vec<u32>,
    deadlines: BinaryHeap<Deadline>,
    /// `prune_after` in time keys (grid: whole steps).
    prune_keys: f64,
    rng: Stream,
    /// Time (ms) of the next creation event.
    next_create: f64,
    /// Creation events per ms (all postsynaptic neurons together).
    rate_ms: f64,
}

/// The one delay of a rewiring projection: (steps, ms).
#[inline]
pub(crate) fn delay_of(pr: &Projection) -> (u32, f64) {
    match pr.delays {
        Delays::Uniform { steps, ms } => (steps, ms),
        Delays::Grouped { .. } => unreachable!("rewiring projections have one delay"),
    }
}

impl RewireState {
    /// Lay out `st` (built on the projection's compact storage) in the reserved slots.
    pub(crate) fn new(
        model: &Model,
        k: usize,
        pr: &Projection,
        cfg: &Rewiring,
        st: &mut PlasticState,
        sample: u64,
    ) -> RewireState {
        let (n_pre, n_post) = (model.pops[pr.pre].n, model.pops[pr.post].n);
        let (cap_out, cap_in) = (cfg.cap_out, cfg.cap_in);
        let n_slots = n_pre * cap_out;
        let mut targets = vec![0u32; n_slots];
        let mut weights = vec![0.0; n_slots];
        let mut len = vec![0u32; n_pre];
        for j in 0..n_pre {
            let (a, b) = (pr.row_ptr[j] as usize, pr.row_ptr[j + 1] as usize);
            for (m, s) in (a..b).enumerate() {
                targets[j * cap_out + m] = pr.targets[s];
                weights[j * cap_out + m] = st.weights[s];
            }
            len[j] = (b - a) as u32;
        }
        let mut in_syn = vec![0u32; n_post * cap_in];
        let mut in_len = vec![0u32; n_post];
        let mut in_pos = vec![0u32; n_slots];
        for j in 0..n_pre {
            for slot in j * cap_out..j * cap_out + len[j] as usize {
                let i = targets[slot] as usize;
                in_syn[i * cap_in + in_len[i] as usize] = slot as u32;
                in_pos[slot] = in_len[i];
                in_len[i] += 1;
            }
        }
        st.weights = weights;
        st.syn_group = (0..n_slots).map(|s| (s / cap_out) as u32).collect();
        st.in_ptr = (0..=n_post).map(|i| (i * cap_in) as u32).collect();
        st.in_syn = in_syn;
        st.in_len = in_len;
        let prune_keys = match model.dt {
            Some(dt) => time_to_step(cfg.prune_after, dt).max(1) as f64,
            None => cfg.prune_after,
        };
        let mut rng = rng::stream(model.seed, Purpose::Rewire, k as u64, sample);
        let rate_ms = cfg.create_rate * n_post as f64 / 1000.0;
        let next_create = if rate_ms > 0.0 && cap_in > 0 {
            rng::exponential(&mut rng, rate_ms)
        } else {
            f64::INFINITY
        };
        let mut rw = RewireState {
            cap_out: cap_out as u32,
            cap_in: cap_in as u32,
            n_pre: n_pre as u32,
            n_post: n_post as u32,
            same_pop: pr.pre == pr.post,
            len,
            targets,
            in_pos,
            below: vec![f64::INFINITY; n_slots],
            gen: vec![0; n_slots],
            deadlines: BinaryHeap::new(),
            prune_keys,
            rng,
            next_create,
            rate_ms,
        };
        rw.refresh_all(st, cfg, 0.0);
        rw
    }

    /// Live slots of the row of source `j`.
    #[inline]
    pub(crate) fn row(&self, j: u32) -> (u32, u32) {
        let a = j * self.cap_out;
        (a, a + self.len[j as usize])
    }

    /// Number of live synapses.
    pub fn n_synapses(&self) -> usize {
        self.len.iter().map(|&l| l as usize).sum()
    }

    /// Re-examine slot `s` after its weight may have changed at time key `key`.
    #[inline]
    fn refresh(&mut self, w: f64, bound: f64, s: usize, key: f64) {
        if w < bound {
            if self.below[s] == f64::INFINITY {
                self.below[s] = key;
                self.deadlines.push(Deadline {
                    key: key + self.prune_keys,
                    slot: s as u32,
                    gen: self.gen[s],
                });
            }
        } else if self.below[s] != f64::INFINITY {
            self.below[s] = f64::INFINITY;
            self.gen[s] = self.gen[s].wrapping_add(1);
        }
    }

    /// Re-examine slots `start..end` (one row) at time key `key`.
    #[inline]
    pub(crate) fn refresh_row(
        &mut self,
        st: &PlasticState,
        cfg: &Rewiring,
        start: u32,
        end: u32,
        key: f64,
    ) {
        for s in start as usize..end as usize {
            self.refresh(st.weights[s], cfg.prune_below, s, key);
        }
    }

    /// Re-examine the incoming synapses of target `i` at time key `key`.
    #[inline]
    pub(crate) fn refresh_target(&mut self, st: &PlasticState, cfg: &Rewiring, i: usize, key: f64) {
        let a = i * self.cap_in as usize;
        for r in a..a + st.in_len[i] as usize {
            let s = st.in_syn[r] as usize;
            self.refresh(st.weights[s], cfg.prune_below, s, key);
        }
    }

    /// Re-examine every live synapse at time key `key`.
    pub(crate) fn refresh_all(&mut self, st: &PlasticState, cfg: &Rewiring, key: f64) {
        for j in 0..self.n_pre {
            let (a, b) = self.row(j);
            self.refresh_row(st, cfg, a, b, key);
        }
    }

    /// Time key of the next structural event (a deadline, possibly stale, or a creation).
    pub(crate) fn next_key(&self, model: &Model) -> f64 {
        let d = self.deadlines.peek().map_or(f64::INFINITY, |d| d.key);
        d.min(self.create_key(model))
    }

    fn create_key(&self, model: &Model) -> f64 {
        if self.next_create == f64::INFINITY {
            return f64::INFINITY;
        }
        match model.dt {
            Some(dt) => time_to_step(self.next_create, dt) as f64,
            None => self.next_create,
        }
    }

    /// Handle the next structural event, due at time key `key`; returns (pruned, created).
    pub(crate) fn step(
        &mut self,
        model: &Model,
        cfg: &Rewiring,
        st: &mut PlasticState,
        key: f64,
    ) -> (u64, u64) {
        let d = self.deadlines.peek().map_or(f64::INFINITY, |d| d.key);
        if d <= self.create_key(model) {
            let dl = self.deadlines.pop().expect("peeked");
            let s = dl.slot as usize;
            if self.gen[s] == dl.gen && self.below[s] != f64::INFINITY {
                self.prune(st, s);
                return (1, 0);
            }
            return (0, 0);
        }
        let made = self.create(cfg, st, key);
        self.next_create += rng::exponential(&mut self.rng, self.rate_ms);
        (0, u64::from(made))
    }

    /// Remove the synapse in slot `s`.
    fn prune(&mut self, st: &mut PlasticState, s: usize) {
        let (cap_in, cap_out) = (self.cap_in as usize, self.cap_out as usize);
        let i = self.targets[s] as usize;
        let j = s / cap_out;
        // Out of the target's incoming list: its last entry takes the freed place.
        let p = self.in_pos[s] as usize;
        let last = st.in_len[i] as usize - 1;
        let moved = st.in_syn[i * cap_in + last];
        st.in_syn[i * cap_in + p] = moved;
        self.in_pos[moved as usize] = p as u32;
        st.in_len[i] -= 1;
        // Out of the row: the row's last live synapse moves into slot `s`.
        let l = j * cap_out + self.len[j] as usize - 1;
        if l != s {
            self.targets[s] = self.targets[l];
            st.weights[s] = st.weights[l];
            self.below[s] = self.below[l];
            self.in_pos[s] = self.in_pos[l];
            let t = self.targets[s] as usize;
            st.in_syn[t * cap_in + self.in_pos[s] as usize] = s as u32;
            self.gen[s] = self.gen[s].wrapping_add(1);
            if self.below[s] != f64::INFINITY {
                self.deadlines.push(Deadline {
                    key: self.below[s] + self.prune_keys,
                    slot: s as u32,
                    gen: self.gen[s],
                });
            }
        }
        self.gen[l] = self.gen[l].wrapping_add(1);
        self.below[l] = f64::INFINITY;
        st.weights[l] = 0.0;
        self.len[j] -= 1;
    }

    /// Is source `j` connected to target `i`?
    fn connected(&self, st: &PlasticState, j: usize, i: usize) -> bool {
        let a = i * self.cap_in as usize;
        st.in_syn[a..a + st.in_len[i] as usize]
            .iter()
            .any(|&s| s as usize / self.cap_out as usize == j)
    }

    fn eligible(&self, st: &PlasticState, j: usize, i: usize) -> bool {
        !(self.same_pop && j == i) && self.len[j] < self.cap_out && !self.connected(st, j, i)
    }

    /// One creation event at time key `key`: returns whether a synapse was made.
    fn create(&mut self, cfg: &Rewiring, st: &mut PlasticState, key: f64) -> bool {
        let i = rng::below(&mut self.rng, self.n_post) as usize;
        if st.in_len[i] >= self.cap_in {
            return false;
        }
        // A uniform choice among the eligible sources: rejection first, then a full scan.
        let mut pick = None;
        for _ in 0..32 {
            let j = rng::below(&mut self.rng, self.n_pre) as usize;
            if self.eligible(st, j, i) {
                pick = Some(j);
                break;
            }
        }
        if pick.is_none() {
            let cands: Vec<usize> = (0..self.n_pre as usize)
                .filter(|&j| self.eligible(st, j, i))
                .collect();
            if cands.is_empty() {
                return false;
            }
            pick = Some(cands[rng::below(&mut self.rng, cands.len() as u32) as usize]);
        }
        let j = pick.expect("picked");
        let (cap_in, cap_out) = (self.cap_in as usize, self.cap_out as usize);
        let s = j * cap_out + self.len[j] as usize;
        self.len[j] += 1;
        self.targets[s] = i as u32;
        st.weights[s] = cfg.new_weight;
        self.in_pos[s] = st.in_len[i];
        st.in_syn[i * cap_in + st.in_len[i] as usize] = s as u32;
        st.in_len[i] += 1;
        self.gen[s] = self.gen[s].wrapping_add(1);
        self.below[s] = f64::INFINITY;
        self.refresh(cfg.new_weight, cfg.prune_below, s, key);
        true
    }

    /// Live weights in storage order (rows by source, then slot).
    pub(crate) fn compact_weights(&self, st: &PlasticState) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.n_synapses());
        for j in 0..self.n_pre {
            let (a, b) = self.row(j);
            out.extend_from_slice(&st.weights[a as usize..b as usize]);
        }
        out
    }

    /// Write live weights given in storage order; then re-examine them at time key `key`.
    pub(crate) fn scatter_weights(
        &mut self,
        st: &mut PlasticState,
        cfg: &Rewiring,
        w: &[f64],
        key: f64,
    ) {
        let mut m = 0;
        for j in 0..self.n_pre {
            let (a, b) = self.row(j);
            let n = (b - a) as usize;
            st.weights[a as usize..b as usize].copy_from_slice(&w[m..m + n]);
            m += n;
        }
        self.refresh_all(st, cfg, key);
    }

    /// Write the current structure and weights into the model's projection.
    pub(crate) fn sync(&self, pr: &mut Projection, st: &PlasticState) {
        let mut row_ptr = Vec::with_capacity(self.n_pre as usize + 1);
        let mut targets = Vec::with_capacity(self.n_synapses());
        row_ptr.push(0u32);
        for j in 0..self.n_pre {
            let (a, b) = self.row(j);
            targets.extend_from_slice(&self.targets[a as usize..b as usize]);
            row_ptr.push(targets.len() as u32);
        }
        let w = self.compact_weights(st);
        pr.weights = Weights::PerSynapse(w.iter().map(|&x| x as f32).collect());
        pr.learned = Some(w);
        pr.row_ptr = row_ptr;
        pr.targets = targets;
    }
}

fn config(model: &Model, k: usize) -> &Rewiring {
    model
        .homeostasis(k)
        .and_then(|h| h.rewiring.as_ref())
        .expect("rewiring projection")
}

/// Delivery hook: the synapses `start..end` of projection `k` were updated at `t_ms`.
#[inline]
pub(crate) fn after_arrive(
    rw: &mut RewireState,
    st: &PlasticState,
    model: &Model,
    k: usize,
    start: u32,
    end: u32,
    t_ms: f64,
) {
    rw.refresh_row(st, config(model, k), start, end, key_of(model, t_ms));
}

/// Spike hook: target `i` of projection `k` fired at `t_ms` (its synapses were potentiated).
#[inline]
pub(crate) fn after_post_spike(
    rw: &mut RewireState,
    st: &PlasticState,
    model: &Model,
    k: usize,
    i: usize,
    t_ms: f64,
) {
    rw.refresh_target(st, config(model, k), i, key_of(model, t_ms));
}

impl RewireState {
    /// Do the sizes, rows, reverse index and positions agree with each other and with the
    /// configuration (a loaded checkpoint)?
    pub(crate) fn consistent(
        &self,
        st: &PlasticState,
        cfg: &Rewiring,
        n_pre: usize,
        n_post: usize,
    ) -> bool {
        let (cap_in, cap_out) = (cfg.cap_in, cfg.cap_out);
        let n_slots = n_pre * cap_out;
        if self.cap_in as usize != cap_in
            || self.cap_out as usize != cap_out
            || self.n_pre as usize != n_pre
            || self.n_post as usize != n_post
            || self.len.len() != n_pre
            || [
                self.targets.len(),
                self.in_pos.len(),
                self.below.len(),
                self.gen.len(),
            ] != [n_slots; 4]
            || st.weights.len() != n_slots
            || st.syn_group.len() != n_slots
            || st.in_syn.len() != n_post * cap_in
            || st.in_len.len() != n_post
            || st.in_ptr.len() != n_post + 1
            || self.deadlines.iter().any(|d| d.slot as usize >= n_slots)
        {
            return false;
        }
        if (0..=n_post).any(|i| st.in_ptr[i] as usize != i * cap_in)
            || (0..n_slots).any(|s| st.syn_group[s] as usize != s / cap_out)
            || st.in_len.iter().any(|&l| l as usize > cap_in)
            || self.len.iter().any(|&l| l as usize > cap_out)
        {
            return false;
        }
        let mut in_count = vec![0u32; n_post];
        for j in 0..n_pre {
            let a = j * cap_out;
            for s in a..a + self.len[j] as usize {
                let i = self.targets[s] as usize;
                if i >= n_post || self.in_pos[s] as usize >= cap_in {
                    return false;
                }
                in_count[i] += 1;
                if st.in_syn[i * cap_in + self.in_pos[s] as usize] as usize != s {
                    return false;
                }
            }
        }
        in_count == st.in_len
    }
}

#[cfg(test)]
impl RewireState {
    /// Check that rows, reverse index and positions agree (tests).
    fn check(&self, st: &PlasticState) {
        let (cap_in, cap_out) = (self.cap_in as usize, self.cap_out as usize);
        let mut in_count = vec![0u32; self.n_post as usize];
        for j in 0..self.n_pre {
            let (a, b) = self.row(j);
            assert!((b - a) as usize <= cap_out);
            for s in a as usize..b as usize {
                let i = self.targets[s] as usize;
                in_count[i] += 1;
                assert_eq!(st.syn_group[s] as usize, j as usize);
                assert_eq!(st.in_syn[i * cap_in + self.in_pos[s] as usize] as usize, s);
                assert!(self.in_pos[s] < st.in_len[i]);
            }
        }
        assert_eq!(in_count, st.in_len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::{ConnectSpec, Rule, Values};
    use crate::homeostasis::Normalize;
    use crate::params::{NeuronSpec, Param};
    use crate::plasticity::{Pairing, StdpRule};
    use crate::state::State;

    fn rule(a_plus: f64, a_minus: f64) -> StdpRule {
        StdpRule {
            tau_plus: 20.0,
            tau_minus: 20.0,
            a_plus,
            a_minus,
            w_min: 0.0,
            w_max: 1.0,
            mu: 0.0,
            pairing: Pairing::All,
            tau_x: 100.0,
            tau_y: 100.0,
            a3_plus: 0.0,
            a3_minus: 0.0,
            reward: None,
            learning_rate: 1.0,
            tables: Default::default(),
        }
    }

    fn rewiring(prune_below: f64, create_rate: f64, max_in: Option<usize>) -> Rewiring {
        Rewiring {
            prune_below,
            prune_after: 20.0,
            create_rate,
            new_weight: 0.3,
            max_in,
            cap_in: 0,
            cap_out: 0,
        }
    }

    /// Poisson(80) -> LIF(12), fixed in-degree 10, STDP, normalisation, rewiring.
    fn learning_model(dt: Option<f64>) -> (Model, usize) {
        let mut m = Model::new(dt, 7).unwrap();
        let src = m.add_poisson(80, Param::Scalar(40.0), None).unwrap();
        let post = m
            .add_neurons(12, NeuronSpec::lif(20.0, 0.0, 3.0, 0.0, 2.0), None)
            .unwrap();
        let spec = ConnectSpec {
            rule: Rule::FixedInDegree {
                k: 10,
                autapses: true,
                multapses: false,
            },
            weight: Values::Uniform {
                low: 0.1,
                high: 0.6,
            },
            delay: Values::Scalar(1.0),
        };
        let k = m
            .connect_homeostatic(
                src,
                post,
                &spec,
                Some(rule(0.03, 0.036)),
                None,
                Some(Normalize {
                    target: 4.0,
                    interval: Some(50.0),
                }),
                Some(rewiring(0.15, 5.0, Some(20))),
            )
            .unwrap();
        (m, k)
    }

    #[test]
    fn rows_and_reverse_index_stay_consistent_while_rewiring() {
        for dt in [Some(0.1), None] {
            let (model, k) = learning_model(dt);
            let mut st = State::new(&model, 0);
            for stop in 1..=8 {
                match dt {
                    Some(dt) => st.run_grid(&model, (stop as f64 * 250.0 / dt) as i64, None),
                    None => st.run_continuous(&model, stop as f64 * 250.0, None),
                };
                let rw = st.homeo.rewire(k).unwrap();
                rw.check(st.plastic[k].as_ref().unwrap());
            }
            assert!(st.counts.pruned[k] > 0 && st.counts.created[k] > 0);
            let rw = st.homeo.rewire(k).unwrap();
            let live = 120 - st.counts.pruned[k] as usize + st.counts.created[k] as usize;
            assert_eq!(rw.n_synapses(), live);
        }
    }

    #[test]
    fn a_weak_synapse_goes_at_its_deadline() {
        let mut m = Model::new(Some(0.1), 1).unwrap();
        let src = m.add_spike_source(2, &[], &[], None).unwrap();
        let post = m
            .add_neurons(3, NeuronSpec::lif(20.0, 0.0, 20.0, 0.0, 2.0), None)
            .unwrap();
        let spec = ConnectSpec {
            rule: Rule::AllToAll { autapses: true },
            weight: Values::Array(vec![0.5, 0.1, 0.5, 0.5, 0.0, 0.5]),
            delay: Values::Scalar(1.0),
        };
        let k = m
            .connect_homeostatic(
                src,
                post,
                &spec,
                Some(rule(0.0, 0.0)),
                None,
                None,
                Some(rewiring(0.2, 0.0, None)),
            )
            .unwrap();
        let mut st = State::new(&m, 0);
        st.run_grid(&m, 199, None);
        assert_eq!(st.homeo.rewire(k).unwrap().n_synapses(), 6);
        st.run_grid(&m, 200, None);
        let rw = st.homeo.rewire(k).unwrap();
        let ps = st.plastic[k].as_ref().unwrap();
        rw.check(ps);
        assert_eq!(rw.n_synapses(), 4);
        assert_eq!(st.counts.pruned[k], 2);
        assert_eq!(rw.compact_weights(ps), vec![0.5, 0.5, 0.5, 0.5]);
    }

    #[test]
    fn deadlines_pop_earliest_first() {
        let mut h = BinaryHeap::new();
        for (key, slot) in [(5.0, 1), (2.0, 7), (2.0, 3), (9.0, 0)] {
            h.push(Deadline { key, slot, gen: 0 });
        }
        let order: Vec<(f64, u32)> = std::iter::from_fn(|| h.pop())
            .map(|d| (d.key, d.slot))
            .collect();
        assert_eq!(order, vec![(2.0, 3), (2.0, 7), (5.0, 1), (9.0, 0)]);
    }
}
