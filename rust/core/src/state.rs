//! The mutable side of a simulation: neuron state, pending events, RNG streams, recordings.
//! A `State` is built from a [`Model`] and can be thrown away and rebuilt (`reset`, batch).
use crate::model::{Model, PopKind, SpikeTrain};
use crate::params::{Param, SynapseKind};
use crate::plasticity::PlasticState;
use crate::queue::{Calendar, Entry, EventHeap, Kind, WakeHeap};
use crate::rng::{self, PoissonSampler, Purpose, Stream};
use crate::synapses::Weights;
use serde::{Deserialize, Serialize};

/// Poisson drive of one source population.
#[derive(Serialize, Deserialize)]
pub(crate) struct PoissonState {
    pub rng: Stream,
    /// Scalar rate: table sampler of the per-step mean (grid).
    pub sampler: Option<PoissonSampler>,
    /// Per-step means per source (grid, per-source rates).
    pub means: Vec<f64>,
    /// Sparse drive: sources to skip before the next non-zero count (grid, small means).
    pub skip: Option<u64>,
    /// Sparse drive with per-source means: candidates are drawn at the largest mean and each
    /// of their events kept with probability `means[j] / thin` (exact Poisson thinning).
    pub thin: Option<f64>,
    /// Constants of the positive-count draw for the mean they were computed for:
    /// (mean, P(X = 1), P(X >= 1)) (recomputed when the mean changes; not saved).
    #[serde(skip)]
    pub positive: (f64, f64, f64),
    /// Grid: every outgoing projection has this one delay (steps), so counts are drawn at
    /// arrival and added to the targets directly, without queueing (same distribution).
    pub direct: Option<i64>,
    /// Direct drive where every outgoing projection has exactly one synapse per source and
    /// one weight, and nobody records the source: a fused draw-and-add loop.
    pub one_to_one: bool,
    /// Reused per-step buffer of drawn counts.
    pub buffer: Vec<u32>,
}

impl PoissonState {
    /// Grid samplers for `rates` (Hz) on a step of `dt` ms: a table sampler for one rate, a
    /// per-source loop for many, and skipping (with thinning for many rates) when sparse.
    pub(crate) fn configure(&mut self, rates: &Param, dt: f64) {
        self.sampler = None;
        self.means.clear();
        self.skip = None;
        self.thin = None;
        match rates {
            Param::Scalar(rate) => {
                let mean = rate * dt / 1000.0;
                if mean < 0.05 {
                    self.skip = Some(geometric(&mut self.rng, mean));
                }
                self.sampler = Some(PoissonSampler::new(mean));
            }
            Param::PerNeuron(v) => {
                self.means = v.iter().map(|r| r * dt / 1000.0).collect();
                let top = self.means.iter().copied().fold(0.0, f64::max);
                if top < 0.05 {
                    self.skip = Some(geometric(&mut self.rng, top));
                    self.thin = Some(top);
                }
            }
        }
    }
}

/// Input gathered for one neuron in the current step/instant; `stamp` says which step.
#[derive(Clone, Copy, Default, Serialize, Deserialize)]
#[repr(C)]
pub(crate) struct Inbox {
    /// Summed input (delta synapses: all of it; exp synapses: the excitatory part).
    pub ex: f64,
    pub stamp: u64,
}

/// State of one population.
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct PopState {
    /// Membrane potential relative to rest.
    pub u: Vec<f64>,
    pub ie: Vec<f64>,
    pub ii: Vec<f64>,
    /// Grid: last updated step and last refractory step.
    pub last: Vec<i64>,
    pub ref_end: Vec<i64>,
    /// Continuous: last update time and end of refractoriness.
    pub last_t: Vec<f64>,
    pub ref_t: Vec<f64>,
    /// Prediction version; a wake carrying an older version is stale.
    pub version: Vec<u32>,
    /// Conductance synapses: the input-free state of step `next_step[i]`, computed by the
    /// last crossing walk and reused by the update of that step.
    pub next_free: Vec<[f64; 3]>,
    pub next_step: Vec<i64>,
    /// External current (pA) from current sources.
    pub i_ext: Vec<f64>,
    /// Adaptive part of the threshold (mV), as of the neuron's last update (empty if fixed).
    pub theta: Vec<f64>,
    /// Inbox for the step/instant being processed (one cache line per synaptic event).
    pub inbox: Vec<Inbox>,
    /// Exp synapses: inputs split by sign; the inhibitory part is gathered here.
    pub split: bool,
    pub inh: Vec<f64>,
    pub forced: Vec<bool>,
    /// `touched[..n_touched]`: neurons with input (or a wake) this step, each once. The buffer
    /// has one slot per neuron so appending needs no branch.
    pub touched: Vec<u32>,
    pub n_touched: usize,
    // Sources.
    pub cursor: usize,
    pub poisson: Option<PoissonState>,
    // Batch tracking.
    pub count: Vec<u32>,
    pub first: Vec<f64>,
}

/// A population's inboxes seen by one delivery: where synaptic input lands.
pub(crate) struct Inputs<'a> {
    inbox: &'a mut [Inbox],
    inh: &'a mut [f64],
    touched: &'a mut [u32],
    n_touched: &'a mut usize,
    split: bool,
    epoch: u64,
}

impl Inputs<'_> {
    /// Add weight `w` to target `t` (inhibitory part apart for split synapses) and list `t`
    /// once among this step's touched neurons (branch-free append).
    #[inline(always)]
    pub(crate) fn add(&mut self, t: u32, w: f64) {
        let b = &mut self.inbox[t as usize];
        if self.split && w < 0.0 {
            self.inh[t as usize] += w;
        } else {
            b.ex += w;
        }
        self.touched[*self.n_touched] = t;
        *self.n_touched += usize::from(b.stamp != self.epoch);
        b.stamp = self.epoch;
    }
}

impl PopState {
    pub(crate) fn inputs(&mut self, epoch: u64) -> Inputs<'_> {
        Inputs {
            inbox: &mut self.inbox,
            inh: &mut self.inh,
            touched: &mut self.touched,
            n_touched: &mut self.n_touched,
            split: self.split,
            epoch,
        }
    }

    /// Total constant current (pA) into neuron `i`: its bias plus injected currents.
    #[inline(always)]
    pub(crate) fn bias(&self, d: &crate::neuron::Dynamics, i: usize) -> f64 {
        d.i_e.at(i)
            + if self.i_ext.is_empty() {
                0.0
            } else {
                self.i_ext[i]
            }
    }
}

/// A recorded spike train.
#[derive(Default, Clone, Serialize, Deserialize)]
pub struct SpikeRecord {
    pub times: Vec<f64>,
    pub ids: Vec<u32>,
}

/// Counters of work done (the raw material of energy accounting).
#[derive(Default, Clone, Debug, Serialize, Deserialize)]
pub struct Counts {
    pub spikes: Vec<u64>,
    pub synaptic_events: Vec<u64>,
    /// Queue entries delivered (one per spike and distinct delay).
    pub deliveries: u64,
    /// Neuron updates performed.
    pub updates: u64,
    /// Predicted threshold crossings scheduled.
    pub wakes: u64,
    /// Per projection: synapses removed and created by structural plasticity.
    #[serde(default)]
    pub pruned: Vec<u64>,
    #[serde(default)]
    pub created: Vec<u64>,
}

/// A Poisson population driving a neuron population one-to-one (source j -> neuron j, one
/// weight, one delay): its counts are drawn inside the neuron update loop.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(crate) struct FusedDrive {
    pub poisson: usize,
    pub proj: usize,
    pub delay: i64,
    pub weight: f64,
}

#[derive(Serialize, Deserialize)]
pub struct State {
    pub(crate) pops: Vec<PopState>,
    /// Per neuron population: the Poisson drive fused into its update loop, if any.
    pub(crate) fused: Vec<Option<FusedDrive>>,
    /// Per projection: the changing side of a plastic projection.
    pub plastic: Vec<Option<PlasticState>>,
    /// Per population: plastic projections that end in it (their synapses learn when it fires).
    pub(crate) plastic_into: Vec<Vec<usize>>,
    /// Per population: reward-modulated projections whose dopamine it releases.
    pub(crate) dopamine_from: Vec<Vec<usize>>,
    pub(crate) calendar: Calendar,
    pub(crate) heap: EventHeap,
    pub(crate) wakes: WakeHeap,
    /// Grid: last processed step. Continuous: time reached (ms).
    pub step: i64,
    pub time: f64,
    pub started: bool,
    pub(crate) epoch: u64,
    pub(crate) spikes_now: Vec<(u32, u32, u32)>,
    pub(crate) current_cursor: Vec<usize>,
    pub(crate) current_level: Vec<f64>,
    pub(crate) probe_cursor: Vec<usize>,
    pub spike_records: Vec<SpikeRecord>,
    pub voltages: Vec<Vec<f64>>,
    pub counts: Counts,
    /// Batch: replacement spike trains for source populations.
    pub(crate) overrides: Vec<Option<SpikeTrain>>,
    pub(crate) track: Vec<bool>,
    pub(crate) seq: u64,
    /// Per projection: the running side of a convolutional projection ([`crate::conv`]).
    #[serde(default)]
    pub(crate) convs: Vec<Option<crate::conv::ConvState>>,
    /// Normalisation clocks and rewiring state ([`crate::homeostasis`]).
    #[serde(default)]
    pub(crate) homeo: crate::homeostasis::Runtime,
}

impl State {
    /// Fresh state at time 0 for `model`; `sample` keys the random streams of batch samples.
    pub fn new(model: &Model, sample: u64) -> State {
        let grid = model.dt.is_some();
        let pops: Vec<PopState> = model
            .pops
            .iter()
            .enumerate()
            .map(|(p, pop)| {
                let n = pop.n;
                let mut s = PopState::default();
                match &pop.kind {
                    PopKind::Neurons { spec, dynamics } => {
                        s.u = dynamics.initial_u(&spec.v_init, model.seed, p);
                        if spec.synapse != SynapseKind::Delta {
                            s.ie = vec![0.0; n];
                            s.ii = vec![0.0; n];
                            s.split = true;
                            if spec.synapse == SynapseKind::CondExp {
                                s.next_free = vec![[0.0; 3]; n];
                                s.next_step = vec![-1; n];
                            }
                            s.inh = vec![0.0; n];
                        }
                        if grid {
                            s.last = vec![0; n];
                            s.ref_end = vec![-1; n];
                        } else {
                            s.last_t = vec![0.0; n];
                            s.ref_t = vec![-1.0; n];
                        }
                        s.version = vec![0; n];
                        if dynamics.adaptive {
                            s.theta = vec![0.0; n];
                        }
                        s.inbox = vec![Inbox::default(); n];
                        s.touched = vec![0; n + 1]; // +1: the branchless append writes one past the end
                        s.forced = vec![false; n];
                        if model.currents.iter().any(|c| c.pop == p) {
                            s.i_ext = vec![0.0; n];
                        }
                    }
                    PopKind::Poisson { rates } => {
                        let r = rng::stream(model.seed, Purpose::Poisson, p as u64, sample);
                        // Dopamine sources must go through `emit` (their spikes release dopamine).
                        let releases_dopamine = model.projs.iter().any(|pr| pr.dopamine == Some(p));
                        // Rewiring projections resolve their synapses at arrival (in `deliver`).
                        let rewires = model.pops[p]
                            .outgoing
                            .iter()
                            .any(|&k| model.homeostasis(k).is_some_and(|h| h.rewiring.is_some()));
                        let direct = uniform_delay(model, p)
                            .filter(|_| grid && !releases_dopamine && !rewires);
                        let one_to_one = direct.is_some()
                            && !model.spike_probes.contains(&p)
                            && model.pops[p].outgoing.iter().all(|&k| {
                                let pr = &model.projs[k];
                                matches!(pr.weights, Weights::Uniform(_))
                                    && pr.plasticity.is_none()
                                    && pr.row_ptr.windows(2).all(|w| w[1] - w[0] == 1)
                            });
                        let mut ps = PoissonState {
                            rng: r,
                            sampler: None,
                            means: Vec::new(),
                            skip: None,
                            thin: None,
                            positive: (0.0, 0.0, 0.0),
                            direct,
                            one_to_one,
                            buffer: Vec::new(),
                        };
                        if let Some(dt) = model.dt {
                            ps.configure(rates, dt);
                        }
                        s.poisson = Some(ps);
                    }
                    PopKind::SpikeSource { .. } => {}
                }
                s
            })
            .collect();
        let max_steps = model.max_delay_steps();
        let fused = fused_drives(model, &pops);
        let mut plastic: Vec<Option<PlasticState>> = model
            .projs
            .iter()
            .map(|pr| {
                pr.plasticity
                    .as_ref()
                    .filter(|_| pr.conv.is_none())
                    .map(|_| PlasticState::new(pr, model.pops[pr.post].n))
            })
            .collect();
        let homeo = crate::homeostasis::Runtime::new(model, &mut plastic, sample);
        let mut plastic_into = vec![Vec::new(); model.pops.len()];
        for (k, pr) in model.projs.iter().enumerate() {
            if pr.plasticity.is_some() {
                plastic_into[pr.post].push(k);
            }
        }
        let mut dopamine_from = vec![Vec::new(); model.pops.len()];
        for (k, pr) in model.projs.iter().enumerate() {
            if let Some(d) = pr.dopamine {
                dopamine_from[d].push(k);
            }
        }
        State {
            fused,
            plastic,
            plastic_into,
            dopamine_from,
            pops,
            calendar: Calendar::new(if grid { max_steps as usize + 1 } else { 1 }),
            heap: EventHeap::default(),
            wakes: WakeHeap::default(),
            step: 0,
            time: 0.0,
            started: false,
            epoch: 0,
            spikes_now: Vec::new(),
            current_cursor: vec![0; model.currents.len()],
            current_level: vec![0.0; model.currents.len()],
            probe_cursor: vec![0; model.voltage_probes.len()],
            spike_records: vec![SpikeRecord::default(); model.spike_probes.len()],
            voltages: model
                .voltage_probes
                .iter()
                .map(|v| Vec::with_capacity(v.times.len() * v.ids.len()))
                .collect(),
            counts: Counts {
                spikes: vec![0; model.pops.len()],
                synaptic_events: vec![0; model.projs.len()],
                pruned: vec![0; model.projs.len()],
                created: vec![0; model.projs.len()],
                ..Counts::default()
            },
            overrides: vec![None; model.pops.len()],
            track: vec![false; model.pops.len()],
            seq: 0,
            convs: crate::conv::states(model),
            homeo,
        }
    }

    /// Take up the rates now in `model` for Poisson population `pop`: new samplers on the
    /// grid; in continuous time the pending next spikes are redrawn from `now` (the trains
    /// are memoryless, so this is the Poisson process with the new rates from now on).
    pub(crate) fn rates_changed(&mut self, model: &Model, pop: usize) {
        let PopKind::Poisson { rates } = &model.pops[pop].kind else {
            return;
        };
        match model.dt {
            Some(dt) => {
                if let Some(ps) = self.pops[pop].poisson.as_mut() {
                    ps.configure(rates, dt);
                }
                self.fused = fused_drives(model, &self.pops);
            }
            None if self.started => {
                let p32 = pop as u32;
                self.heap
                    .retain(|e| !matches!(e.kind, Kind::Poisson { pop, .. } if pop == p32));
                let now = self.time;
                let ps = self.pops[pop].poisson.as_mut().expect("poisson state");
                for j in 0..model.pops[pop].n {
                    let r = rates.get(j) / 1000.0;
                    if r > 0.0 {
                        let t = now + rng::exponential(&mut ps.rng, r);
                        self.seq += 1;
                        self.heap.push(
                            t,
                            self.seq,
                            Kind::Poisson {
                                pop: p32,
                                idx: j as u32,
                            },
                        );
                    }
                }
            }
            None => {}
        }
    }

    /// Count spikes and first-spike times of `pop` (batch mode).
    pub fn track(&mut self, pop: usize, n: usize) {
        self.track[pop] = true;
        self.pops[pop].count = vec![0; n];
        self.pops[pop].first = vec![f64::NAN; n];
    }

    /// Make room for recorders added after the state was built.
    pub fn sync_probes(&mut self, model: &Model) {
        self.spike_records
            .resize(model.spike_probes.len(), SpikeRecord::default());
        while self.voltages.len() < model.voltage_probes.len() {
            let k = self.voltages.len();
            let probe = &model.voltage_probes[k];
            self.probe_cursor.push(0);
            self.voltages.push(Vec::new());
            if !self.started {
                continue;
            }
            // Added after running: samples before now cannot be taken (NaN); a sample at
            // exactly now is taken at once; later ones as usual.
            let past = match model.dt {
                Some(_) => probe.steps.iter().take_while(|&&st| st < self.step).count(),
                None => probe.times.iter().take_while(|&&t| t < self.time).count(),
            };
            self.voltages[k] = vec![f64::NAN; past * probe.ids.len()];
            self.probe_cursor[k] = past;
            match model.dt {
                Some(_) => self.grid_samples_of(model, k, self.step),
                None => self.samples(model, self.time, true),
            }
        }
    }

    pub fn now(&self, model: &Model) -> f64 {
        match model.dt {
            Some(dt) => self.step as f64 * dt,
            None => self.time,
        }
    }

    /// Record, count and fan out the spikes emitted at this step/instant (sorted first, so
    /// the order of everything downstream is fixed by (population, index)).
    pub(crate) fn emit(&mut self, model: &Model, t_ms: f64, step: i64) {
        if self.spikes_now.is_empty() {
            return;
        }
        let mut spikes = std::mem::take(&mut self.spikes_now);
        spikes.sort_unstable();
        for &(p, i, mult) in &spikes {
            let (p, iu) = (p as usize, i as usize);
            self.note_spike(model, p, i, mult, t_ms);
            for &k in &self.dopamine_from[p] {
                if let (Some(Some(st)), Some(r)) = (
                    self.plastic.get_mut(k),
                    model.projs[k]
                        .plasticity
                        .as_ref()
                        .and_then(|r| r.reward.as_ref()),
                ) {
                    st.dopamine_spike(r, t_ms, mult);
                }
            }
            for &k in &self.plastic_into[p] {
                let rule = model.projs[k]
                    .plasticity
                    .as_ref()
                    .expect("plastic projection");
                if let Some(st) = self.plastic[k].as_mut() {
                    st.post_spike(rule, iu, t_ms);
                    if let Some(Some(rw)) = self.homeo.rewire.get_mut(k) {
                        crate::structural::after_post_spike(rw, st, model, k, iu, t_ms);
                    }
                } else if model.projs[k].conv.is_some() {
                    crate::conv::post_spike(&mut self.convs, model, k, iu, t_ms);
                }
            }
            for &proj in &model.pops[p].outgoing {
                let pr = &model.projs[proj];
                let proj32 = proj as u32;
                if self.homeo.rewire(proj).is_some() {
                    // Rewiring: one entry per spike naming the source; the synapses are
                    // those that exist when it arrives.
                    let (steps, delay) = crate::structural::delay_of(pr);
                    let e = Entry {
                        proj: proj32,
                        start: i,
                        end: i + 1,
                        mult,
                    };
                    if model.dt.is_some() {
                        self.calendar.push(step + steps as i64, e);
                    } else {
                        self.seq += 1;
                        self.heap.push_delivery(t_ms + delay, self.seq, e);
                    }
                    continue;
                }
                if model.dt.is_some() {
                    let cal = &mut self.calendar;
                    pr.for_each_group(iu, |start, end, steps, _| {
                        cal.push(
                            step + steps as i64,
                            Entry {
                                proj: proj32,
                                start,
                                end,
                                mult,
                            },
                        );
                    });
                } else {
                    let heap = &mut self.heap;
                    let seq = &mut self.seq;
                    pr.for_each_group(iu, |start, end, _, delay| {
                        *seq += 1;
                        heap.push_delivery(
                            t_ms + delay,
                            *seq,
                            Entry {
                                proj: proj32,
                                start,
                                end,
                                mult,
                            },
                        );
                    });
                }
            }
        }
        spikes.clear();
        self.spikes_now = spikes;
    }

    /// Count, track and record one spike (of multiplicity `mult`) of neuron `i` of `p`.
    #[inline]
    pub(crate) fn note_spike(&mut self, model: &Model, p: usize, i: u32, mult: u32, t_ms: f64) {
        self.counts.spikes[p] += mult as u64;
        if self.track[p] {
            let ps = &mut self.pops[p];
            ps.count[i as usize] += mult;
            if ps.first[i as usize].is_nan() {
                ps.first[i as usize] = t_ms;
            }
        }
        for (k, &probe_pop) in model.spike_probes.iter().enumerate() {
            if probe_pop == p {
                let rec = &mut self.spike_records[k];
                for _ in 0..mult {
                    rec.times.push(t_ms);
                    rec.ids.push(i);
                }
            }
        }
    }

    /// Add the synapses of one queue entry to their targets' inboxes.
    #[inline]
    pub(crate) fn deliver(&mut self, model: &Model, e: Entry, t_ms: f64) {
        let pr = &model.projs[e.proj as usize];
        if pr.conv.is_some() {
            return self.deliver_conv(model, e, t_ms);
        }
        if let (Some(rule), Some(st)) = (
            pr.plasticity.as_ref(),
            self.plastic[e.proj as usize].as_mut(),
        ) {
            let ps = &mut self.pops[pr.post];
            let epoch = self.epoch;
            let rw = self
                .homeo
                .rewire
                .get_mut(e.proj as usize)
                .and_then(Option::as_mut);
            let (start, end, targets) = match rw.as_deref() {
                Some(r) => {
                    let (a, b) = r.row(e.start);
                    (a, b, &r.targets[..])
                }
                None => (e.start, e.end, &pr.targets[..]),
            };
            self.counts.synaptic_events[e.proj as usize] += (end - start) as u64 * e.mult as u64;
            self.counts.deliveries += 1;
            let mut inputs = ps.inputs(epoch);
            st.arrive(
                rule,
                targets,
                t_ms,
                start as usize,
                end as usize,
                e.mult,
                |t, w| inputs.add(t, w),
            );
            if let Some(r) = rw {
                crate::structural::after_arrive(r, st, model, e.proj as usize, start, end, t_ms);
            }
            return;
        }
        let ps = &mut self.pops[pr.post];
        let epoch = self.epoch;
        let targets = &pr.targets[e.start as usize..e.end as usize];
        let mult = e.mult as f64;
        self.counts.synaptic_events[e.proj as usize] += targets.len() as u64 * e.mult as u64;
        self.counts.deliveries += 1;
        let split = ps.split;
        let PopState {
            inbox,
            inh,
            touched,
            n_touched,
            ..
        } = ps;
        let (inbox, inh, touched) = (&mut inbox[..], &mut inh[..], &mut touched[..]);
        let mut nt = *n_touched;
        match &pr.weights {
            Weights::Uniform(w) => {
                let w = w * mult;
                if split && w < 0.0 {
                    for &t in targets {
                        inh[t as usize] += w;
                        let b = &mut inbox[t as usize];
                        touched[nt] = t;
                        nt += usize::from(b.stamp != epoch);
                        b.stamp = epoch;
                    }
                } else {
                    for &t in targets {
                        let b = &mut inbox[t as usize];
                        b.ex += w;
                        touched[nt] = t;
                        nt += usize::from(b.stamp != epoch);
                        b.stamp = epoch;
                    }
                }
            }
            Weights::PerSynapse(ws) => {
                let ws = &ws[e.start as usize..e.end as usize];
                for (&t, &w) in targets.iter().zip(ws) {
                    let w = w as f64 * mult;
                    if split && w < 0.0 {
                        inh[t as usize] += w;
                    }
                    let b = &mut inbox[t as usize];
                    if !(split && w < 0.0) {
                        b.ex += w;
                    }
                    touched[nt] = t;
                    nt += usize::from(b.stamp != epoch);
                    b.stamp = epoch;
                }
            }
        }
        *n_touched = nt;
    }

    /// Mark a neuron for update at this step/instant without input.
    #[inline]
    pub(crate) fn touch(&mut self, pop: usize, i: usize) {
        let ps = &mut self.pops[pop];
        if ps.inbox[i].stamp != self.epoch {
            ps.inbox[i].stamp = self.epoch;
            ps.touched[ps.n_touched] = i as u32;
            ps.n_touched += 1;
        }
    }
}

/// Find Poisson drives that can be fused into their target's update loop: identity
/// one-to-one, scalar rate, dense sampler, unrecorded, onto a quiescent delta population with
/// one parameter set and no current sources.
fn fused_drives(model: &Model, pops: &[PopState]) -> Vec<Option<FusedDrive>> {
    let mut fused = vec![None; model.pops.len()];
    for (q, pop) in model.pops.iter().enumerate() {
        let Some(ps) = pops[q].poisson.as_ref() else {
            continue;
        };
        let (Some(delay), true, true) = (
            ps.direct,
            ps.one_to_one,
            ps.skip.is_none() && ps.sampler.is_some(),
        ) else {
            continue;
        };
        if pop.outgoing.len() != 1 || model.is_recorded(q) {
            continue;
        }
        let k = pop.outgoing[0];
        let pr = &model.projs[k];
        let Some(d) = model.pops[pr.post].dynamics() else {
            continue;
        };
        let identity = model.pops[pr.post].n == pop.n
            && pr.targets.iter().enumerate().all(|(j, &t)| t as usize == j);
        let weight = match pr.weights {
            Weights::Uniform(w) if pr.plasticity.is_none() => w,
            _ => continue,
        };
        let plain = d.quiescent
            && d.synapse == SynapseKind::Delta
            && d.uniform()
            && !model.currents.iter().any(|c| c.pop == pr.post);
        if identity && plain && fused[pr.post].is_none() {
            fused[pr.post] = Some(FusedDrive {
                poisson: q,
                proj: k,
                delay,
                weight,
            });
        }
    }
    fused
}

/// The one delay (steps) shared by every projection leaving `pop`, if there is one.
fn uniform_delay(model: &Model, pop: usize) -> Option<i64> {
    let mut delay = None;
    for &k in &model.pops[pop].outgoing {
        match model.projs[k].delays {
            crate::synapses::Delays::Uniform { steps, .. }
                if delay.is_none() || delay == Some(steps as i64) =>
            {
                delay = Some(steps as i64)
            }
            _ => return None,
        }
    }
    delay
}

/// Number of sources to skip before the next non-zero Poisson count (mean per source-step `mean`).
pub(crate) fn geometric(rng: &mut Stream, mean: f64) -> u64 {
    if mean <= 0.0 {
        return u64::MAX;
    }
    // x >= 0: truncation is the floor (a cast, not a libm call on baseline x86-64).
    let x = rng::open01(rng).ln() / -mean;
    if x >= 1e18 {
        u64::MAX
    } else {
        x as u64
    }
}

/// A Poisson count conditioned on being at least one.
/// `first` = P(X = 1) = mean e^-mean and `norm` = P(X >= 1) = 1 - e^-mean, precomputed by the
/// caller (they are constants of the population).
pub(crate) fn positive_poisson(rng: &mut Stream, mean: f64, first: f64, norm: f64) -> u32 {
    use rand::Rng;
    let u = rng.gen::<f64>() * norm;
    let mut k = 1u32;
    let mut p = first;
    let mut cdf = p;
    while u > cdf && k < 400 {
        k += 1;
        p *= mean / k as f64;
        cdf += p;
    }
    k
}
