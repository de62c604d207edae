//! Grid time (`dt` given): the step loop and the lazy neuron updates.
//!
//! Per step `s` (the state at time `s·dt`), in this order:
//! 1. queue entries due at `s` add their weights to the targets' inboxes (in the order the
//!    spikes were emitted: by population, then neuron index);
//! 2. neurons whose predicted threshold crossing is due at `s` are woken;
//! 3. every neuron touched by 1–2 is brought from its last update to `s` in one jump (the
//!    leak of the silent steps applied at once) and integrates its input — nobody else is
//!    visited: NEST `iaf_psc_delta`/`iaf_psc_exp` order, spike stamped `s·dt`;
//! 4. spike sources and Poisson sources emit the spikes of step `s`;
//! 5. current changes at `s` take effect (for steps after `s`);
//! 6. the spikes of step `s`, sorted by (population, index), are recorded and queued once per
//!    distinct delay at `s + delay_steps`; voltages sampled at `s` are read.
use crate::model::{Model, PopKind};
use crate::neuron::{Dynamics, ITERATE_MAX};
use crate::params::{NeuronKind, SynapseKind};
use crate::queue::Entry;
use crate::queue::WakeHeap;
use crate::state::{geometric, positive_poisson, FusedDrive, PoissonState, PopState, State};
use crate::synapses::Weights;
use rand::Rng;
use std::time::Instant;

#[inline(always)]
pub(crate) fn pow_steps(x: f64, k: u64) -> f64 {
    if x == 1.0 {
        1.0
    } else if k <= ITERATE_MAX {
        let mut r = 1.0;
        for _ in 0..k {
            r *= x;
        }
        r
    } else {
        x.powf(k as f64)
    }
}

/// The threshold of one neuron along a prediction walk: `base + theta g^(off + k)` at `k`
/// steps after the walk's start, `off` steps after the neuron's last update (where `theta`
/// was stored). The update computes the same product, so walk and update agree to the bit.
#[derive(Clone, Copy)]
struct Thresh {
    base: f64,
    theta: f64,
    g: f64,
    off: u64,
}

impl Thresh {
    fn of(d: &Dynamics, ps: &PopState, i: usize, off: u64) -> Thresh {
        Thresh {
            base: d.th.at(i),
            theta: if d.adaptive { ps.theta[i] } else { 0.0 },
            g: d.theta_g,
            off,
        }
    }

    #[inline]
    fn at(&self, k: u64) -> f64 {
        if self.theta == 0.0 {
            self.base
        } else {
            self.base + self.theta * pow_steps(self.g, self.off + k)
        }
    }

    /// The lowest the threshold gets (it only decays).
    fn floor(&self) -> f64 {
        if self.decays() {
            self.base
        } else {
            self.at(0)
        }
    }

    fn decays(&self) -> bool {
        self.theta != 0.0 && self.g != 1.0
    }
}

/// Bring neuron `i`'s adaptive threshold to step `s` (before `last` moves) and return the
/// threshold there.
#[inline]
fn threshold_now(d: &Dynamics, ps: &mut PopState, i: usize, s: i64) -> f64 {
    if !d.adaptive {
        return d.th.at(i);
    }
    let theta = ps.theta[i] * pow_steps(d.theta_g, (s - ps.last[i]) as u64);
    ps.theta[i] = theta;
    if theta == 0.0 {
        d.th.at(i)
    } else {
        d.th.at(i) + theta
    }
}

/// First k >= 1 at which the input-free delta trajectory from `u` reaches threshold.
fn crossing_delta(d: &Dynamics, i: usize, u: f64, itot: f64, thr: Thresh) -> Option<u64> {
    if thr.decays() {
        // A decaying threshold: walk a while with the update's arithmetic, then re-check.
        for k in 1..=DELTA_WALK_STEPS {
            if d.grid_free_delta(i, u, k, itot) >= thr.at(k) {
                return Some(k);
            }
        }
        let upper = u.max(d.v_inf(i, itot));
        return (upper >= thr.floor()).then_some(DELTA_WALK_STEPS);
    }
    let th = thr.at(0);
    if d.grid_free_delta(i, u, 1, itot) >= th {
        return Some(1);
    }
    let est = if d.kind == NeuronKind::If {
        let cb = d.p20.at(i) * itot;
        if cb <= 0.0 {
            return None;
        }
        (th - u) / cb
    } else {
        let vinf = d.v_inf(i, itot);
        if vinf <= th {
            // Asymptote at threshold (to rounding): only a step-by-step walk can tell whether
            // the rounded recurrence reaches it.
            if itot != 0.0 && vinf >= th - 1e-9 * th.abs().max(1.0) {
                return walk_to_threshold(d, i, u, itot, th);
            }
            return None;
        }
        ((th - vinf) / (u - vinf)).ln() / d.beta.at(i).ln()
    };
    if !est.is_finite() || est > 1e15 {
        return None;
    }
    let mut k = (est.ceil() as u64).max(2);
    while k > 2 && d.grid_free_delta(i, u, k - 1, itot) >= th {
        k -= 1;
    }
    for _ in 0..64 {
        if d.grid_free_delta(i, u, k, itot) >= th {
            return Some(k);
        }
        k += 1;
    }
    None
}

/// Iterate the one-step recurrence until it reaches threshold or stops changing.
fn walk_to_threshold(d: &Dynamics, i: usize, u: f64, itot: f64, th: f64) -> Option<u64> {
    let (beta, cb) = (d.beta.at(i), d.p20.at(i) * itot);
    let mut u = u;
    for k in 1..=crate::neuron::ITERATE_BIASED_MAX {
        let next = beta * u + cb;
        if next >= th {
            return Some(k);
        }
        if next == u {
            return None;
        }
        u = next;
    }
    None
}

/// First k >= 1 at which the input-free conductance trajectory reaches threshold: bound, then
/// a walk with the update's own step (as for current synapses).
/// Also returns the state one step ahead when it was computed (the update reuses it).
fn crossing_cond(
    d: &Dynamics,
    i: usize,
    st: [f64; 3],
    itot: f64,
    thr: Thresh,
) -> (Option<u64>, Option<[f64; 3]>) {
    let th = thr.floor();
    let drive = d.v_inf(i, itot);
    let ee = d.e_ex.at(i);
    // The conductances only decay, so the membrane stays below the larger of where it is and
    // the equilibria it relaxes towards (excitation alone, or no conductance at all).
    let upper = |s: [f64; 3]| s[0].max((s[1] * ee + drive) / (1.0 + s[1])).max(drive);
    if upper(st) < th {
        return (None, None);
    }
    let mut walk = st;
    let mut first = None;
    for k in 1..=COND_WALK_STEPS {
        walk = d.grid_free_cond(i, walk, 1, itot);
        first = first.or(Some(walk));
        if walk[0] >= thr.at(k) {
            return (Some(k), first);
        }
    }
    ((upper(walk) >= th).then_some(COND_WALK_STEPS), first)
}

/// Steps walked ahead by the conductance crossing search (each costs an `exp`, and a
/// conductance neuron near threshold is usually fed every few steps) before a re-check.
const COND_WALK_STEPS: u64 = 1;

/// Steps walked ahead for a delta neuron whose threshold decays, before a re-check.
const DELTA_WALK_STEPS: u64 = 64;

/// Steps walked ahead by the exp-synapse crossing search before it schedules a re-check.
const WALK_STEPS: u64 = 16;

/// First k >= 1 at which the input-free exp-synapse trajectory from `st` reaches threshold.
fn crossing_exp(d: &Dynamics, i: usize, st: [f64; 3], itot: f64, thr: Thresh) -> Option<u64> {
    let th = thr.floor();
    if d.grid_free_exp(i, st, 1, itot)[0] >= thr.at(1) {
        return Some(1);
    }
    let vinf = d.v_inf(i, itot);
    if !thr.decays() && itot != 0.0 && vinf <= th && vinf >= th - 1e-9 * th.abs().max(1.0) {
        // Asymptote at threshold (to rounding): walk the rounded recurrence.
        let mut s = st;
        for k in 1..=crate::neuron::ITERATE_BIASED_MAX {
            let next = d.grid_free_exp(i, s, 1, itot);
            if next[0] >= th {
                return Some(k);
            }
            if next == s {
                return None;
            }
            s = next;
        }
        return None;
    }
    // Cannot reach threshold at all (bound of the free trajectory): nothing to schedule.
    let upper = |s: [f64; 3]| {
        s[0].max(vinf) + s[1].max(0.0) * d.qmax_e.at(i) + s[2].max(0.0) * d.qmax_i.at(i)
    };
    if upper(st) < th {
        return None;
    }
    // Walk the next steps with the one-step propagator (the update's own arithmetic); a busy
    // neuron's next input usually comes first. If nothing crosses and the bound still allows a
    // crossing later, come back then (a wake only re-examines the neuron; it never forces a spike).
    let mut walk = st;
    for k in 1..=WALK_STEPS {
        walk = d.grid_free_exp(i, walk, 1, itot);
        if walk[0] >= thr.at(k) {
            return Some(k);
        }
    }
    (upper(walk) >= th).then_some(WALK_STEPS)
}

/// Schedule the next predicted crossing of neuron `i` (updated at step `s`), invalidating any
/// earlier prediction.
fn predict(
    d: &Dynamics,
    ps: &mut PopState,
    i: usize,
    s: i64,
    wakes: &mut WakeHeap,
    pop: u32,
    n_wakes: &mut u64,
) {
    ps.version[i] = ps.version[i].wrapping_add(1);
    let itot = ps.bias(d, i);
    let from = s.max(ps.ref_end[i]);
    let thr = Thresh::of(d, ps, i, (from - s) as u64);
    let k = match d.synapse {
        SynapseKind::Delta => crossing_delta(d, i, ps.u[i], itot, thr),
        SynapseKind::Exp | SynapseKind::CondExp => {
            let held = (from - s) as u64;
            let st = [
                ps.u[i],
                ps.ie[i] * pow_steps(d.p11e.at(i), held),
                ps.ii[i] * pow_steps(d.p11i.at(i), held),
            ];
            if d.synapse == SynapseKind::Exp {
                crossing_exp(d, i, st, itot, thr)
            } else {
                ps.next_step[i] = -1; // whatever was cached is stale now
                let (k, first) = crossing_cond(d, i, st, itot, thr);
                // Not refractory: the walk's first step is the next step's input-free state.
                if let (Some(next), true) = (first, from == s) {
                    ps.next_free[i] = next;
                    ps.next_step[i] = s + 1;
                }
                k
            }
        }
    };
    if let Some(k) = k {
        wakes.push(from + k as i64, pop, i as u32, ps.version[i]);
        *n_wakes += 1;
    }
}

/// The common case, specialised: LIF with delta synapses, one parameter set for the whole
/// population, no bias (so no predictions). Same arithmetic as the general path.
fn quiescent_delta(
    d: &Dynamics,
    ps: &mut PopState,
    touched: &[u32],
    s: i64,
    p32: u32,
    spikes: &mut Vec<(u32, u32, u32)>,
) {
    let step = PlainStep::new(d);
    let n = ps.u.len();
    let (u, last, ref_end, inbox) = (
        &mut ps.u[..n],
        &mut ps.last[..n],
        &mut ps.ref_end[..n],
        &mut ps.inbox[..n],
    );
    for &i in touched {
        let i = i as usize;
        let x = std::mem::replace(&mut inbox[i].ex, 0.0);
        if step.advance(d, &mut u[i], &mut last[i], &mut ref_end[i], i, s, x) {
            spikes.push((p32, i as u32, 1));
        }
    }
}

/// One update of a plain LIF (delta synapses, one parameter set, no bias): the neuron is
/// brought from its last update to step `s` and integrates `x`. Shared by the touched-list
/// update and the fused-drive update so both stay bit-identical.
struct PlainStep {
    beta: f64,
    th: f64,
    reset_u: f64,
    ref_steps: i64,
}

impl PlainStep {
    fn new(d: &Dynamics) -> PlainStep {
        PlainStep {
            beta: d.beta.at(0),
            th: d.th.at(0),
            reset_u: d.reset_u.at(0),
            ref_steps: d.ref_steps(0) as i64,
        }
    }

    /// Returns true when the neuron fires at `s`.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn advance(
        &self,
        d: &Dynamics,
        u: &mut f64,
        last: &mut i64,
        ref_end: &mut i64,
        i: usize,
        s: i64,
        x: f64,
    ) -> bool {
        let rend = *ref_end;
        let start = (*last).max(rend);
        *last = s;
        if s <= rend {
            return false; // refractory: input discarded, voltage held
        }
        let k = (s - start) as u64;
        let mut v = if k == 1 {
            self.beta * *u + 0.0
        } else {
            d.grid_free_delta(i, *u, k, 0.0)
        } + x;
        let fired = v >= self.th;
        if fired {
            v = self.reset_u;
            *ref_end = s + self.ref_steps;
        }
        *u = v;
        fired
    }
}

/// Membrane potential (absolute mV) of neuron `i` at step `s` without changing anything.
pub(crate) fn peek(d: &Dynamics, ps: &PopState, i: usize, s: i64) -> f64 {
    let (last, rend) = (ps.last[i], ps.ref_end[i]);
    let itot = ps.bias(d, i);
    let u = if s <= last {
        ps.u[i]
    } else {
        match d.synapse {
            SynapseKind::Delta => {
                if s <= rend {
                    ps.u[i]
                } else {
                    d.grid_free_delta(i, ps.u[i], (s - last.max(rend)) as u64, itot)
                }
            }
            SynapseKind::Exp | SynapseKind::CondExp => {
                let a = s.min(last.max(rend));
                let held = (a - last) as u64;
                let st = [
                    ps.u[i],
                    ps.ie[i] * pow_steps(d.p11e.at(i), held),
                    ps.ii[i] * pow_steps(d.p11i.at(i), held),
                ];
                if s > a {
                    d.grid_free_syn(i, st, (s - a) as u64, itot)[0]
                } else {
                    st[0]
                }
            }
        }
    };
    u + d.v_rest.at(i)
}

impl State {
    /// Advance to step `stop` (inclusive). Returns false if `deadline` passed first (the state
    /// is then consistent at a step boundary and the run can be resumed).
    pub fn run_grid(&mut self, model: &Model, stop: i64, deadline: Option<Instant>) -> bool {
        let dt = model.dt.expect("grid run needs dt");
        if !self.started {
            self.start_grid(model);
        }
        while self.step < stop {
            if let Some(d) = deadline {
                if self.step % 128 == 0 && Instant::now() >= d {
                    return false;
                }
            }
            let s = self.step + 1;
            self.grid_step(model, s, dt);
            self.step = s;
        }
        true
    }

    fn start_grid(&mut self, model: &Model) {
        self.started = true;
        self.epoch += 1;
        for (p, pop) in model.pops.iter().enumerate() {
            if let Some(d) = pop.dynamics() {
                let ps = &mut self.pops[p];
                for i in 0..pop.n {
                    predict(
                        d,
                        ps,
                        i,
                        0,
                        &mut self.wakes,
                        p as u32,
                        &mut self.counts.wakes,
                    );
                }
            }
        }
        self.grid_sources(model, 0);
        self.grid_currents(model, 0);
        self.emit(model, 0.0, 0);
        self.grid_samples(model, 0);
    }

    fn grid_step(&mut self, model: &Model, s: i64, dt: f64) {
        self.epoch += 1;
        if self.homeo.active {
            self.homeostasis_until(model, s as f64, false); // pruning, creation at s
        }
        let bucket = self.calendar.take(s);
        for &e in &bucket {
            self.deliver(model, e, s as f64 * dt);
        }
        self.calendar.restore(s, bucket);
        self.direct_poisson(model, s, dt);
        while let Some((p, i, v)) = self.wakes.pop_due(s) {
            if self.pops[p as usize].version[i as usize] == v {
                self.touch(p as usize, i as usize);
            }
        }
        for (c, cs) in model.currents.iter().enumerate() {
            if cs.steps.get(self.current_cursor[c]) == Some(&s) {
                for &i in &cs.ids {
                    self.touch(cs.pop, i as usize);
                }
            }
        }
        for (p, pop) in model.pops.iter().enumerate() {
            if let Some(d) = pop.dynamics() {
                if let Some(f) = self.fused[p].filter(|f| s - f.delay >= 1) {
                    self.update_fused(d, p, s, f);
                } else if self.pops[p].n_touched > 0 {
                    self.update_population(d, p, s);
                }
            }
        }
        self.grid_sources(model, s);
        self.grid_currents(model, s);
        self.emit(model, s as f64 * dt, s);
        if self.homeo.active {
            self.homeostasis_until(model, s as f64, true); // normalisation at s
        }
        self.grid_samples(model, s);
    }

    /// Dense update of a population with a fused Poisson drive: every neuron is visited, its
    /// count drawn in index order and added after the queued input (the same draws and sums
    /// as the unfused path, so the same spikes).
    fn update_fused(&mut self, d: &Dynamics, p: usize, s: i64, f: FusedDrive) {
        let mut drive = self.pops[f.poisson].poisson.take().expect("poisson state");
        let sampler = drive
            .sampler
            .as_ref()
            .expect("fused drives have a table sampler");
        let rng = &mut drive.rng;
        let step = PlainStep::new(d);
        let p32 = p as u32;
        let ps = &mut self.pops[p];
        ps.n_touched = 0;
        let n = ps.u.len();
        let (u, last, ref_end, inbox) = (
            &mut ps.u[..n],
            &mut ps.last[..n],
            &mut ps.ref_end[..n],
            &mut ps.inbox[..n],
        );
        let mut total = 0u64;
        for i in 0..n {
            let c = sampler.sample(rng);
            total += c as u64;
            let x = std::mem::replace(&mut inbox[i].ex, 0.0) + c as f64 * f.weight;
            if step.advance(d, &mut u[i], &mut last[i], &mut ref_end[i], i, s, x) {
                self.spikes_now.push((p32, i as u32, 1));
            }
        }
        self.counts.updates += n as u64;
        self.counts.spikes[f.poisson] += total;
        self.counts.synaptic_events[f.proj] += total;
        self.pops[f.poisson].poisson = Some(drive);
    }

    fn update_population(&mut self, d: &Dynamics, p: usize, s: i64) {
        let State {
            pops,
            wakes,
            spikes_now,
            counts,
            epoch,
            ..
        } = self;
        let ps = &mut pops[p];
        let mut touched = std::mem::take(&mut ps.touched);
        let mut nt = std::mem::replace(&mut ps.n_touched, 0);
        counts.updates += nt as u64;
        // Many touched: visit in index order (cache friendly); few: only those.
        if nt * 4 > d.n {
            nt = 0;
            for i in 0..d.n {
                touched[nt] = i as u32;
                nt += usize::from(ps.inbox[i].stamp == *epoch);
            }
        }
        let p32 = p as u32;
        let needs_prediction = !d.quiescent || !ps.i_ext.is_empty();
        if !needs_prediction && d.synapse == SynapseKind::Delta && d.uniform() {
            quiescent_delta(d, ps, &touched[..nt], s, p32, spikes_now);
            ps.touched = touched;
            return;
        }
        match d.synapse {
            SynapseKind::Delta => {
                for &i in &touched[..nt] {
                    let i = i as usize;
                    let x = ps.inbox[i].ex;
                    ps.inbox[i].ex = 0.0;
                    let rend = ps.ref_end[i];
                    let th = threshold_now(d, ps, i, s);
                    if s <= rend {
                        ps.last[i] = s; // refractory: input discarded, voltage held
                        continue;
                    }
                    let itot = ps.bias(d, i);
                    let mut u =
                        d.grid_free_delta(i, ps.u[i], (s - ps.last[i].max(rend)) as u64, itot) + x;
                    ps.last[i] = s;
                    if u >= th {
                        spikes_now.push((p32, i as u32, 1));
                        if d.adaptive {
                            ps.theta[i] += d.theta_plus.at(i);
                        }
                        u = d.after_spike(i, u);
                        ps.ref_end[i] = s + d.ref_steps(i) as i64;
                    }
                    ps.u[i] = u;
                    if needs_prediction {
                        predict(d, ps, i, s, wakes, p32, &mut counts.wakes);
                    }
                }
            }
            SynapseKind::Exp | SynapseKind::CondExp => {
                let cond = d.synapse == SynapseKind::CondExp;
                for &i in &touched[..nt] {
                    let i = i as usize;
                    let (xe, xi) = (ps.inbox[i].ex, ps.inh[i]);
                    ps.inbox[i].ex = 0.0;
                    ps.inh[i] = 0.0;
                    let th = threshold_now(d, ps, i, s);
                    let (last, rend) = (ps.last[i], ps.ref_end[i]);
                    let itot = ps.bias(d, i);
                    let mut st = [ps.u[i], ps.ie[i], ps.ii[i]];
                    let a = s.min(last.max(rend));
                    if a > last {
                        st[1] *= pow_steps(d.p11e.at(i), (a - last) as u64);
                        st[2] *= pow_steps(d.p11i.at(i), (a - last) as u64);
                    }
                    if s > a {
                        st = if cond && a == last && s == last + 1 && ps.next_step[i] == s {
                            ps.next_free[i] // computed by the last prediction, same arithmetic
                        } else {
                            d.grid_free_syn(i, st, (s - a) as u64, itot)
                        };
                    }
                    st[1] += xe;
                    st[2] += if cond { -xi } else { xi }; // inhibitory conductances are positive
                    ps.last[i] = s;
                    if s > rend && st[0] >= th {
                        spikes_now.push((p32, i as u32, 1));
                        if d.adaptive {
                            ps.theta[i] += d.theta_plus.at(i);
                        }
                        st[0] = d.after_spike(i, st[0]);
                        ps.ref_end[i] = s + d.ref_steps(i) as i64;
                    }
                    [ps.u[i], ps.ie[i], ps.ii[i]] = st;
                    predict(d, ps, i, s, wakes, p32, &mut counts.wakes);
                }
            }
        }
        ps.touched = touched;
    }

    fn grid_sources(&mut self, model: &Model, s: i64) {
        for (p, pop) in model.pops.iter().enumerate() {
            let p32 = p as u32;
            match &pop.kind {
                PopKind::SpikeSource { train } => {
                    let train = self.overrides[p].as_ref().unwrap_or(train);
                    let ps = &mut self.pops[p];
                    while ps.cursor < train.steps.len() && train.steps[ps.cursor] <= s {
                        self.spikes_now.push((p32, train.ids[ps.cursor], 1));
                        ps.cursor += 1;
                    }
                }
                PopKind::Poisson { .. } if s >= 1 => {
                    let out = &mut self.spikes_now;
                    let ps = self.pops[p].poisson.as_mut().expect("poisson state");
                    if ps.direct.is_none() {
                        draw_counts(ps, pop.n, p32, out);
                    }
                }
                _ => {}
            }
        }
    }

    /// Poisson populations whose projections share one delay `d`: the counts of emission
    /// step `s - d` are drawn now and added to the targets directly (no queue traffic).
    fn direct_poisson(&mut self, model: &Model, s: i64, dt: f64) {
        for (p, pop) in model.pops.iter().enumerate() {
            let Some(ps) = self.pops[p].poisson.as_mut() else {
                continue;
            };
            let Some(d) = ps.direct else { continue };
            let emitted = s - d;
            if emitted < 1 {
                continue;
            }
            if self.fused.iter().flatten().any(|f| f.poisson == p) {
                continue; // drawn in its target's update loop
            }
            if ps.one_to_one && ps.skip.is_none() {
                self.direct_one_to_one(model, p, s);
                continue;
            }
            let mut drawn = std::mem::take(&mut self.spikes_now);
            draw_counts(ps, pop.n, p as u32, &mut drawn);
            for &(_, j, c) in &drawn {
                self.note_spike(model, p, j, c, emitted as f64 * dt);
                for &proj in &pop.outgoing {
                    let pr = &model.projs[proj];
                    let (start, end) = (pr.row_ptr[j as usize], pr.row_ptr[j as usize + 1]);
                    if start < end {
                        self.deliver(
                            model,
                            Entry {
                                proj: proj as u32,
                                start,
                                end,
                                mult: c,
                            },
                            s as f64 * dt,
                        );
                    }
                }
            }
            drawn.clear();
            self.spikes_now = drawn;
        }
    }
}

impl State {
    /// Fused Poisson drive through one-synapse-per-source projections: draw, add, touch,
    /// without branches on the (random) count.
    fn direct_one_to_one(&mut self, model: &Model, p: usize, _s: i64) {
        let pop = &model.pops[p];
        let n = pop.n;
        let State {
            pops,
            counts,
            epoch,
            ..
        } = self;
        let ps = pops[p].poisson.as_mut().expect("poisson state");
        let mut drawn = std::mem::take(&mut ps.buffer);
        drawn.clear();
        let PoissonState {
            rng,
            sampler,
            means,
            ..
        } = ps;
        match sampler {
            Some(smp) => drawn.extend((0..n).map(|_| smp.sample(rng))),
            None => drawn.extend(means.iter().map(|&m| crate::rng::poisson(rng, m))),
        }
        let total: u64 = drawn.iter().map(|&c| c as u64).sum();
        counts.spikes[p] += total;
        for &k in &pop.outgoing {
            let pr = &model.projs[k];
            let w = match pr.weights {
                Weights::Uniform(w) => w,
                Weights::PerSynapse(_) => unreachable!("checked at state creation"),
            };
            counts.synaptic_events[k] += total;
            let post = &mut pops[pr.post];
            let split = post.split && w < 0.0;
            let PopState {
                inbox,
                inh,
                touched,
                n_touched,
                ..
            } = post;
            let (inbox, touched) = (&mut inbox[..], &mut touched[..]);
            let mut nt = *n_touched;
            for (j, &c) in drawn.iter().enumerate() {
                let t = pr.targets[j];
                let x = c as f64 * w;
                if split {
                    inh[t as usize] += x;
                }
                let b = &mut inbox[t as usize];
                if !split {
                    b.ex += x;
                }
                let fresh = c > 0 && b.stamp != *epoch;
                touched[nt] = t;
                nt += usize::from(fresh);
                if fresh {
                    b.stamp = *epoch;
                }
            }
            *n_touched = nt;
        }
        pops[p].poisson.as_mut().expect("poisson state").buffer = drawn;
    }
}

/// Draw one step of Poisson counts for all sources of a population.
fn draw_counts(ps: &mut PoissonState, n: usize, p32: u32, out: &mut Vec<(u32, u32, u32)>) {
    let n = n as u64;
    {
        {
            {
                if let Some(skip) = ps.skip {
                    let mean = match ps.thin {
                        Some(top) => top,
                        None => ps.sampler.as_ref().map_or(0.0, |s| s.mean()),
                    };
                    if ps.positive.0 != mean {
                        ps.positive = (mean, mean * (-mean).exp(), -(-mean).exp_m1());
                    }
                    let (_, first, norm) = ps.positive;
                    let mut j = skip;
                    while j < n {
                        let mut c = positive_poisson(&mut ps.rng, mean, first, norm);
                        if ps.thin.is_some() {
                            // Keep each event with probability means[j] / top: Poisson(means[j]).
                            let keep = ps.means[j as usize] / mean;
                            let drawn = c;
                            c = 0;
                            for _ in 0..drawn {
                                c += u32::from(ps.rng.gen::<f64>() < keep);
                            }
                        }
                        if c > 0 {
                            out.push((p32, j as u32, c));
                        }
                        j = j
                            .saturating_add(1)
                            .saturating_add(geometric(&mut ps.rng, mean));
                    }
                    ps.skip = Some(j - n);
                } else if let Some(sampler) = &ps.sampler {
                    for j in 0..n as u32 {
                        let c = sampler.sample(&mut ps.rng);
                        if c > 0 {
                            out.push((p32, j, c));
                        }
                    }
                } else {
                    for (j, &m) in ps.means.iter().enumerate() {
                        let c = crate::rng::poisson(&mut ps.rng, m);
                        if c > 0 {
                            out.push((p32, j as u32, c));
                        }
                    }
                }
            }
        }
    }
}

impl State {
    fn grid_currents(&mut self, model: &Model, s: i64) {
        for (c, cs) in model.currents.iter().enumerate() {
            while self.current_cursor[c] < cs.steps.len() && cs.steps[self.current_cursor[c]] <= s {
                let k = self.current_cursor[c];
                let delta = cs.amplitudes[k] - self.current_level[c];
                self.current_level[c] = cs.amplitudes[k];
                self.current_cursor[c] += 1;
                let d = model.pops[cs.pop]
                    .dynamics()
                    .expect("currents go into neurons");
                let ps = &mut self.pops[cs.pop];
                for &i in &cs.ids {
                    ps.i_ext[i as usize] += delta;
                }
                for &i in &cs.ids {
                    predict(
                        d,
                        ps,
                        i as usize,
                        s,
                        &mut self.wakes,
                        cs.pop as u32,
                        &mut self.counts.wakes,
                    );
                }
            }
        }
    }

    fn grid_samples(&mut self, model: &Model, s: i64) {
        for k in 0..model.voltage_probes.len() {
            self.grid_samples_of(model, k, s);
        }
    }

    /// Take the samples of voltage probe `k` due at or before step `s`.
    pub(crate) fn grid_samples_of(&mut self, model: &Model, k: usize, s: i64) {
        let probe = &model.voltage_probes[k];
        let d = model.pops[probe.pop]
            .dynamics()
            .expect("voltage of neurons");
        while self.probe_cursor[k] < probe.steps.len() && probe.steps[self.probe_cursor[k]] <= s {
            let ps = &self.pops[probe.pop];
            let out = &mut self.voltages[k];
            out.extend(probe.ids.iter().map(|&i| peek(d, ps, i as usize, s)));
            self.probe_cursor[k] += 1;
        }
    }
}
