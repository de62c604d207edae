//! Continuous time (`dt = None`): exact event-driven integration.
//!
//! Events live in a binary heap ordered by (time, insertion sequence). All events at the same
//! instant are applied together (inputs summed), then the touched neurons are advanced
//! analytically from their last event and checked, as on the grid. After every update a
//! neuron's next threshold crossing of its input-free trajectory (bias current, decaying
//! synaptic currents) is predicted and queued; any later update bumps the neuron's version,
//! which invalidates the prediction.
use crate::model::{Model, PopKind};
use crate::neuron::Dynamics;
use crate::params::{Param, SynapseKind};
use crate::queue::{EventHeap, Kind};
use crate::rng;
use crate::state::{PopState, State};
use std::time::Instant;

fn predict(
    d: &Dynamics,
    ps: &mut PopState,
    i: usize,
    t: f64,
    heap: &mut EventHeap,
    seq: &mut u64,
    pop: u32,
    n_wakes: &mut u64,
) {
    ps.version[i] = ps.version[i].wrapping_add(1);
    let itot = ps.bias(d, i);
    let from = t.max(ps.ref_t[i]);
    let held = from - t;
    let st = match d.synapse {
        SynapseKind::Delta => [ps.u[i], 0.0, 0.0],
        SynapseKind::Exp | SynapseKind::CondExp => [
            ps.u[i],
            ps.ie[i] * (-held / d.tau_e.at(i)).exp(),
            ps.ii[i] * (-held / d.tau_i.at(i)).exp(),
        ],
    };
    let theta = if d.adaptive {
        ps.theta[i] * (-held / d.tau_theta).exp()
    } else {
        0.0
    };
    if let Some(tc) = d.next_crossing(i, st, itot, from, theta) {
        *seq += 1;
        heap.push(
            tc,
            *seq,
            Kind::Wake {
                pop,
                idx: i as u32,
                version: ps.version[i],
            },
        );
        *n_wakes += 1;
    }
}

/// Membrane potential (absolute mV) of neuron `i` at time `t` without changing anything.
pub(crate) fn peek(d: &Dynamics, ps: &PopState, i: usize, t: f64) -> f64 {
    let (last, rt) = (ps.last_t[i], ps.ref_t[i]);
    let itot = ps.bias(d, i);
    let u = if t <= last {
        ps.u[i]
    } else {
        let a = last.max(rt).min(t);
        match d.synapse {
            SynapseKind::Delta => {
                if t > a {
                    d.free_delta(i, ps.u[i], t - a, itot)
                } else {
                    ps.u[i]
                }
            }
            SynapseKind::Exp | SynapseKind::CondExp => {
                let held = a - last;
                let st = [
                    ps.u[i],
                    ps.ie[i] * (-held / d.tau_e.at(i)).exp(),
                    ps.ii[i] * (-held / d.tau_i.at(i)).exp(),
                ];
                if t > a {
                    d.free_exp(i, st, t - a, itot)[0]
                } else {
                    st[0]
                }
            }
        }
    };
    u + d.v_rest.at(i)
}

fn rate_of(rates: &Param, j: usize) -> f64 {
    rates.get(j) / 1000.0
}

impl State {
    /// Process all events up to and including `t_stop`. Returns false if `deadline` passed
    /// first (the state is consistent between two instants and the run can be resumed).
    pub fn run_continuous(
        &mut self,
        model: &Model,
        t_stop: f64,
        deadline: Option<Instant>,
    ) -> bool {
        if !self.started {
            self.start_continuous(model);
        }
        let mut batches = 0u64;
        let mut due = Vec::new();
        while let Some(t) = self.heap.peek_time() {
            if t > t_stop {
                break;
            }
            batches += 1;
            if let Some(d) = deadline {
                if batches.is_multiple_of(1024) && Instant::now() >= d {
                    return false;
                }
            }
            if self.homeo.active {
                self.homeostasis_until(model, t, false); // before the events at t
            }
            self.samples(model, t, false);
            self.epoch += 1;
            while self.heap.peek_time() == Some(t) {
                let ev = self.heap.pop().expect("peeked");
                match ev.kind {
                    Kind::Deliver(e) => self.deliver(model, e, t),
                    Kind::Wake { pop, idx, version } => {
                        let (p, i) = (pop as usize, idx as usize);
                        if self.pops[p].version[i] == version {
                            self.touch(p, i);
                            self.pops[p].forced[i] = true;
                        }
                    }
                    Kind::Source { pop } => self.source_spikes(model, pop as usize, t),
                    Kind::Poisson { pop, idx } => {
                        self.spikes_now.push((pop, idx, 1));
                        if let PopKind::Poisson { rates } = &model.pops[pop as usize].kind {
                            let r = rate_of(rates, idx as usize);
                            let ps = self.pops[pop as usize]
                                .poisson
                                .as_mut()
                                .expect("poisson state");
                            let next = t + rng::exponential(&mut ps.rng, r);
                            self.seq += 1;
                            self.heap.push(next, self.seq, Kind::Poisson { pop, idx });
                        }
                    }
                    Kind::Current { src } => {
                        let cs = &model.currents[src as usize];
                        for &i in &cs.ids {
                            self.touch(cs.pop, i as usize);
                        }
                        due.push(src as usize);
                    }
                }
            }
            for (p, pop) in model.pops.iter().enumerate() {
                if let Some(d) = pop.dynamics() {
                    if self.pops[p].n_touched > 0 {
                        self.update_continuous(d, p, t);
                    }
                }
            }
            for src in due.drain(..) {
                self.apply_current(model, src, t);
            }
            self.emit(model, t, 0);
            self.time = t;
        }
        if self.homeo.active {
            self.homeostasis_until(model, t_stop, true);
        }
        self.samples(model, t_stop, true);
        self.time = t_stop;
        true
    }

    fn start_continuous(&mut self, model: &Model) {
        self.started = true;
        for (p, pop) in model.pops.iter().enumerate() {
            match &pop.kind {
                PopKind::Neurons { dynamics, .. } => {
                    let ps = &mut self.pops[p];
                    for i in 0..pop.n {
                        predict(
                            dynamics,
                            ps,
                            i,
                            0.0,
                            &mut self.heap,
                            &mut self.seq,
                            p as u32,
                            &mut self.counts.wakes,
                        );
                    }
                }
                PopKind::SpikeSource { train } => {
                    let train = self.overrides[p].as_ref().unwrap_or(train);
                    if let Some(&t0) = train.times.first() {
                        self.seq += 1;
                        self.heap.push(t0, self.seq, Kind::Source { pop: p as u32 });
                    }
                }
                PopKind::Poisson { rates } => {
                    let ps = self.pops[p].poisson.as_mut().expect("poisson state");
                    for j in 0..pop.n {
                        let r = rate_of(rates, j);
                        if r > 0.0 {
                            let t0 = rng::exponential(&mut ps.rng, r);
                            self.seq += 1;
                            self.heap.push(
                                t0,
                                self.seq,
                                Kind::Poisson {
                                    pop: p as u32,
                                    idx: j as u32,
                                },
                            );
                        }
                    }
                }
            }
        }
        for (c, cs) in model.currents.iter().enumerate() {
            self.seq += 1;
            self.heap
                .push(cs.times[0], self.seq, Kind::Current { src: c as u32 });
        }
    }

    fn source_spikes(&mut self, model: &Model, p: usize, t: f64) {
        let PopKind::SpikeSource { train } = &model.pops[p].kind else {
            return;
        };
        let train = self.overrides[p].as_ref().unwrap_or(train);
        let ps = &mut self.pops[p];
        while ps.cursor < train.times.len() && train.times[ps.cursor] <= t {
            self.spikes_now.push((p as u32, train.ids[ps.cursor], 1));
            ps.cursor += 1;
        }
        if let Some(&next) = train.times.get(ps.cursor) {
            self.seq += 1;
            self.heap
                .push(next, self.seq, Kind::Source { pop: p as u32 });
        }
    }

    fn apply_current(&mut self, model: &Model, src: usize, t: f64) {
        let cs = &model.currents[src];
        let k = self.current_cursor[src];
        let delta = cs.amplitudes[k] - self.current_level[src];
        self.current_level[src] = cs.amplitudes[k];
        self.current_cursor[src] += 1;
        if let Some(&next) = cs.times.get(k + 1) {
            self.seq += 1;
            self.heap
                .push(next, self.seq, Kind::Current { src: src as u32 });
        }
        let d = model.pops[cs.pop]
            .dynamics()
            .expect("currents go into neurons");
        let ps = &mut self.pops[cs.pop];
        for &i in &cs.ids {
            ps.i_ext[i as usize] += delta;
            predict(
                d,
                ps,
                i as usize,
                t,
                &mut self.heap,
                &mut self.seq,
                cs.pop as u32,
                &mut self.counts.wakes,
            );
        }
    }

    fn update_continuous(&mut self, d: &Dynamics, p: usize, t: f64) {
        let State {
            pops,
            heap,
            spikes_now,
            counts,
            seq,
            ..
        } = self;
        let ps = &mut pops[p];
        let touched = std::mem::take(&mut ps.touched);
        let nt = std::mem::replace(&mut ps.n_touched, 0);
        counts.updates += nt as u64;
        let p32 = p as u32;
        for &i in &touched[..nt] {
            let i = i as usize;
            let forced = std::mem::replace(&mut ps.forced[i], false);
            let xe = ps.inbox[i].ex;
            ps.inbox[i].ex = 0.0;
            let xi = if ps.split {
                std::mem::replace(&mut ps.inh[i], 0.0)
            } else {
                0.0
            };
            let (last, rt) = (ps.last_t[i], ps.ref_t[i]);
            let mut th = d.th.at(i);
            if d.adaptive {
                // The adaptive part, brought from the last update to now.
                ps.theta[i] *= (-(t - last) / d.tau_theta).exp();
                th += ps.theta[i];
            }
            let refractory = t <= rt;
            if refractory && !forced && d.synapse == SynapseKind::Delta {
                ps.last_t[i] = t; // input discarded, voltage held
                continue;
            }
            let itot = ps.bias(d, i);
            let a = last.max(rt).min(t);
            let mut st = [ps.u[i], 0.0, 0.0];
            match d.synapse {
                SynapseKind::Delta => {
                    if t > a {
                        st[0] = d.free_delta(i, st[0], t - a, itot);
                    }
                    if !refractory {
                        st[0] += xe;
                    }
                }
                SynapseKind::Exp | SynapseKind::CondExp => {
                    let held = a - last;
                    st[1] = ps.ie[i] * (-held / d.tau_e.at(i)).exp();
                    st[2] = ps.ii[i] * (-held / d.tau_i.at(i)).exp();
                    if t > a {
                        st = d.free_exp(i, st, t - a, itot);
                    }
                    st[1] += xe;
                    st[2] += xi;
                }
            }
            ps.last_t[i] = t;
            if forced || (!refractory && st[0] >= th) {
                spikes_now.push((p32, i as u32, 1));
                if d.adaptive {
                    ps.theta[i] += d.theta_plus.at(i);
                }
                st[0] = d.after_spike(i, st[0]);
                ps.ref_t[i] = t + d.t_ref.at(i);
            }
            ps.u[i] = st[0];
            if d.synapse != SynapseKind::Delta {
                ps.ie[i] = st[1];
                ps.ii[i] = st[2];
            }
            predict(d, ps, i, t, heap, seq, p32, &mut counts.wakes);
        }
        ps.touched = touched;
    }

    /// Record voltage samples due before `t` (or at `t` too when `inclusive`).
    pub(crate) fn samples(&mut self, model: &Model, t: f64, inclusive: bool) {
        for (k, probe) in model.voltage_probes.iter().enumerate() {
            let d = model.pops[probe.pop]
                .dynamics()
                .expect("voltage of neurons");
            loop {
                let c = self.probe_cursor[k];
                let Some(&ts) = probe.times.get(c) else { break };
                if ts > t || (ts == t && !inclusive) {
                    break;
                }
                let ps = &self.pops[probe.pop];
                let out = &mut self.voltages[k];
                out.extend(probe.ids.iter().map(|&i| peek(d, ps, i as usize, ts)));
                self.probe_cursor[k] += 1;
            }
        }
    }
}
