//! Membrane dynamics: per-population constants, exact free evolution between events (on the
//! grid and in continuous time), and the search for the next threshold crossing.
//!
//! Voltages are stored relative to rest (`u = v - v_rest`), as NEST does, so that the leak
//! term is a single multiplication.
use crate::params::{InitV, NeuronKind, NeuronSpec, Param, ResetMode, SynapseKind};
use crate::rng::{self, Purpose};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Free steps up to this count are iterated with the one-step propagator (bit-identical to a
/// step-by-step simulation); longer silences use the closed form.
pub const ITERATE_MAX: u64 = 32;

/// Neurons with a bias current iterate silences up to this many steps, so that the rounding
/// of a step-by-step simulation (which decides spikes when the bias holds `v` within an ulp
/// of threshold) is reproduced exactly. Such a neuron is woken at its crossing anyway, so the
/// silences it integrates are short unless its bias is below threshold.
pub const ITERATE_BIASED_MAX: u64 = 4096;

/// A column of per-neuron constants; length 1 means "same for all".
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Col(pub Vec<f64>);

impl Col {
    #[inline(always)]
    pub fn at(&self, i: usize) -> f64 {
        if self.0.len() == 1 {
            self.0[0]
        } else {
            self.0[i]
        }
    }
    fn map(p: &Param, f: impl Fn(f64, usize) -> f64, n: usize) -> Col {
        match p {
            Param::Scalar(v) => Col(vec![f(*v, 0)]),
            Param::PerNeuron(v) => Col((0..n).map(|i| f(v[i], i)).collect()),
        }
    }
    fn from_fn(per_neuron: bool, n: usize, f: impl Fn(usize) -> f64) -> Col {
        if per_neuron {
            Col((0..n).map(f).collect())
        } else {
            Col(vec![f(0)])
        }
    }
    fn bytes(&self) -> usize {
        self.0.len() * 8
    }
}

/// The unit-current response of the membrane to an exponential current, `Q(T)` in mV per pA:
/// `Q(T) = (exp(-T/tau_m) - exp(-T/tau_s)) / (c_m (1/tau_s - 1/tau_m))`, computed with `expm1`
/// so it stays exact when `tau_s` approaches `tau_m` (the propagator's removable singularity).
#[inline]
pub fn psc_response(t: f64, tau_m: f64, tau_s: f64, c_m: f64) -> f64 {
    let delta = 1.0 / tau_s - 1.0 / tau_m;
    let em = (-t / tau_m).exp();
    if delta.abs() * t < 1e-300 {
        return t / c_m * em;
    }
    -em * (-t * delta).exp_m1() / (c_m * delta)
}

/// `expm1` as NEST computes it when built without the C library's (its PyPI build): a
/// Taylor series below ln 2.
fn nest_expm1(x: f64) -> f64 {
    if x == 0.0 {
        return 0.0;
    }
    if x.abs() > std::f64::consts::LN_2 {
        return x.exp() - 1.0;
    }
    let (mut sum, mut term, mut n) = (x, x * x / 2.0, 2.0);
    while term.abs() > sum.abs() * f64::EPSILON {
        sum += term;
        n += 1.0;
        term *= x / n;
    }
    sum
}

/// One-step current-to-voltage propagator of NEST's `iaf_psc_exp` (IAFPropagatorExp),
/// with its fallback at the `tau_syn == tau_m` singularity.
fn nest_propagator_exp(tau_syn: f64, tau_m: f64, c_m: f64, h: f64) -> f64 {
    let beta = if tau_m != tau_syn {
        tau_syn * tau_m / (tau_m - tau_syn)
    } else {
        f64::INFINITY
    };
    let gamma = beta / c_m;
    let inv_beta = (tau_m - tau_syn) / (tau_syn * tau_m);
    let p32 = gamma * (-h * (1.0 / tau_syn)).exp() * nest_expm1(h * inv_beta);
    if p32.is_normal() && p32 > 0.0 {
        p32
    } else {
        h * (1.0 / c_m) * (-h * (1.0 / tau_m)).exp()
    }
}

fn psc_peak(tau_m: f64, tau_s: f64, c_m: f64) -> f64 {
    let delta = 1.0 / tau_s - 1.0 / tau_m;
    let t_peak = if (tau_m - tau_s).abs() < 1e-12 * tau_m {
        tau_m
    } else {
        (tau_m / tau_s).ln() / delta
    };
    psc_response(t_peak, tau_m, tau_s, c_m) * (1.0 + 1e-12)
}

/// Constants of one population, derived once from its [`NeuronSpec`] (and `dt` on the grid).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Dynamics {
    pub kind: NeuronKind,
    pub synapse: SynapseKind,
    pub reset: ResetMode,
    pub n: usize,
    pub v_rest: Col,
    /// Threshold relative to rest.
    pub th: Col,
    /// Reset value relative to rest.
    pub reset_u: Col,
    /// Amount subtracted at a spike in subtract mode (`v_th - v_reset`).
    pub sub: Col,
    pub tau_m: Col,
    pub c_m: Col,
    pub i_e: Col,
    pub tau_e: Col,
    pub tau_i: Col,
    pub t_ref: Col,
    // Grid propagators (empty in continuous mode).
    pub dt: f64,
    pub beta: Col,
    /// `(1 - beta) tau_m / c_m` (LIF) or `dt / c_m` (IF): membrane change per step per pA.
    pub p20: Col,
    pub ref_steps: Vec<u64>,
    pub p11e: Col,
    pub p11i: Col,
    pub p21e: Col,
    pub p21i: Col,
    /// Peak of `Q(T)` for the quick "cannot reach threshold" test.
    pub qmax_e: Col,
    pub qmax_i: Col,
    /// Reversal potentials relative to rest (conductance synapses).
    pub e_ex: Col,
    pub e_in: Col,
    /// No neuron can reach threshold without input (LIF, no bias, reset to a value below
    /// threshold above rest): predictions can be skipped unless currents are injected.
    pub quiescent: bool,
    /// Adaptive threshold: per-spike increment `theta_plus` (mV), decay time `tau_theta` (ms,
    /// infinite: none) and its grid factor per step `theta_g` (1 without decay).
    pub adaptive: bool,
    pub theta_plus: Col,
    pub tau_theta: f64,
    pub theta_g: f64,
}

impl Dynamics {
    pub fn new(spec: &NeuronSpec, n: usize, dt: Option<f64>) -> Dynamics {
        let per = |p: &Param| matches!(p, Param::PerNeuron(_));
        let any_per = [
            &spec.tau_m,
            &spec.c_m,
            &spec.tau_syn_ex,
            &spec.tau_syn_in,
            &spec.v_rest,
            &spec.v_th,
            &spec.v_reset,
            &spec.i_e,
            &spec.t_ref,
        ]
        .iter()
        .any(|p| per(p));
        let rel = |p: &Param| Col::map(p, |x, i| x - spec.v_rest.get(i), n);
        let copy = |p: &Param| Col::map(p, |x, _| x, n);
        let tau_m = copy(&spec.tau_m);
        let c_m = copy(&spec.c_m);
        let tau_e = copy(&spec.tau_syn_ex);
        let tau_i = copy(&spec.tau_syn_in);
        let is_if = spec.kind == NeuronKind::If;
        let h = dt.unwrap_or(0.0);
        let f = |g: &dyn Fn(usize) -> f64| Col::from_fn(any_per, n, g);
        let beta = f(&|i| if is_if { 1.0 } else { (-h / tau_m.at(i)).exp() });
        // NEST 3.10's expressions, evaluation order included, so the grid reproduces its
        // membrane potentials bit for bit: iaf_psc_delta P30 = 1/C (1 - P33) tau,
        // iaf_psc_exp P20 = tau/C (1 - P22).
        let exp_syn = spec.synapse != SynapseKind::Delta;
        let p20 = f(&|i| {
            let (tau, c) = (tau_m.at(i), c_m.at(i));
            let p33 = (-h / tau).exp();
            if is_if {
                h / c
            } else if exp_syn {
                tau / c * (1.0 - p33)
            } else {
                1.0 / c * (1.0 - p33) * tau
            }
        });
        let ref_steps = if dt.is_some() {
            (0..if any_per { n } else { 1 })
                .map(|i| (spec.t_ref.get(i) / h).round() as u64)
                .collect()
        } else {
            vec![0]
        };
        let vals = |p: &Param| -> Vec<f64> {
            match p {
                Param::Scalar(v) => vec![*v],
                Param::PerNeuron(v) => v.clone(),
            }
        };
        let quiescent = spec.kind == NeuronKind::Lif
            && spec.reset == ResetMode::Value
            && vals(&spec.i_e).iter().all(|&x| x == 0.0)
            && (0..if any_per { n } else { 1 }).all(|i| spec.v_th.get(i) > spec.v_rest.get(i))
            // a decaying threshold can come down onto a membrane that is not rising
            && !(spec.adaptive() && spec.tau_theta.is_finite());
        let theta_g = if spec.tau_theta.is_finite() && dt.is_some() {
            (-h / spec.tau_theta).exp()
        } else {
            1.0
        };
        Dynamics {
            adaptive: spec.adaptive(),
            theta_plus: copy(&spec.theta_plus),
            tau_theta: spec.tau_theta,
            theta_g,
            e_ex: rel(&spec.e_rev_ex),
            e_in: rel(&spec.e_rev_in),
            quiescent,
            kind: spec.kind,
            synapse: spec.synapse,
            reset: spec.reset,
            n,
            v_rest: copy(&spec.v_rest),
            th: rel(&spec.v_th),
            reset_u: rel(&spec.v_reset),
            sub: f(&|i| spec.v_th.get(i) - spec.v_reset.get(i)),
            i_e: copy(&spec.i_e),
            t_ref: copy(&spec.t_ref),
            dt: h,
            beta,
            p20,
            ref_steps,
            p11e: f(&|i| (-h / tau_e.at(i)).exp()),
            p11i: f(&|i| (-h / tau_i.at(i)).exp()),
            p21e: f(&|i| nest_propagator_exp(tau_e.at(i), tau_m.at(i), c_m.at(i), h)),
            p21i: f(&|i| nest_propagator_exp(tau_i.at(i), tau_m.at(i), c_m.at(i), h)),
            qmax_e: f(&|i| psc_peak(tau_m.at(i), tau_e.at(i), c_m.at(i))),
            qmax_i: f(&|i| psc_peak(tau_m.at(i), tau_i.at(i), c_m.at(i))),
            tau_m,
            c_m,
            tau_e,
            tau_i,
        }
    }

    /// True when every neuron shares one parameter set (all columns are scalars).
    pub fn uniform(&self) -> bool {
        !self.adaptive
            && self.beta.0.len() == 1
            && self.th.0.len() == 1
            && self.reset_u.0.len() == 1
            && self.ref_steps.len() == 1
    }

    #[inline(always)]
    pub fn ref_steps(&self, i: usize) -> u64 {
        if self.ref_steps.len() == 1 {
            self.ref_steps[0]
        } else {
            self.ref_steps[i]
        }
    }

    /// Membrane value relative to rest right after a spike from `u`.
    #[inline(always)]
    pub fn after_spike(&self, i: usize, u: f64) -> f64 {
        match self.reset {
            ResetMode::Value => self.reset_u.at(i),
            ResetMode::Subtract => u - self.sub.at(i),
        }
    }

    /// Asymptotic membrane value (relative to rest) under a constant current `i_tot` (pA).
    #[inline]
    pub fn v_inf(&self, i: usize, i_tot: f64) -> f64 {
        i_tot * self.tau_m.at(i) / self.c_m.at(i)
    }

    /// Initial relative membrane values for the population (random ranges from `seed`).
    pub fn initial_u(&self, init: &InitV, seed: u64, pop: usize) -> Vec<f64> {
        let n = self.n;
        match init {
            InitV::Rest => vec![0.0; n],
            InitV::Value(p) => (0..n).map(|i| p.get(i) - self.v_rest.at(i)).collect(),
            InitV::Uniform(lo, hi) => {
                let mut r = rng::stream(seed, Purpose::InitialV, pop as u64, 0);
                (0..n)
                    .map(|i| lo + (hi - lo) * r.gen::<f64>() - self.v_rest.at(i))
                    .collect()
            }
        }
    }

    pub fn bytes(&self) -> usize {
        [
            &self.v_rest,
            &self.th,
            &self.reset_u,
            &self.sub,
            &self.tau_m,
            &self.c_m,
            &self.i_e,
            &self.tau_e,
            &self.tau_i,
            &self.t_ref,
            &self.beta,
            &self.p20,
            &self.p11e,
            &self.p11i,
            &self.p21e,
            &self.p21i,
            &self.qmax_e,
            &self.qmax_i,
        ]
        .iter()
        .map(|c| c.bytes())
        .sum::<usize>()
            + self.ref_steps.len() * 8
    }

    // ----- grid: free evolution over k steps ------------------------------------------------

    /// Delta-synapse (or IF) membrane after `k` input-free steps with bias current `i_tot`.
    #[inline(always)]
    pub fn grid_free_delta(&self, i: usize, u: f64, k: u64, i_tot: f64) -> f64 {
        let beta = self.beta.at(i);
        let cb = self.p20.at(i) * i_tot;
        if k <= ITERATE_MAX || (cb != 0.0 && k <= ITERATE_BIASED_MAX) {
            let mut u = u;
            for _ in 0..k {
                u = beta * u + cb;
            }
            u
        } else if self.kind == NeuronKind::If {
            u + k as f64 * cb
        } else {
            let vinf = self.v_inf(i, i_tot);
            vinf + (u - vinf) * (-(k as f64) * self.dt / self.tau_m.at(i)).exp()
        }
    }

    /// Conductance-synapse state `[u, g_ex, g_in]` after `k` input-free steps: exponential
    /// Euler with the conductances frozen over each step (exact in `u` for that step, as
    /// Brian2 integrates this model), then exact conductance decay. Once both conductances
    /// are negligible the rest of the silence is the exact leak.
    pub fn grid_free_cond(&self, i: usize, s: [f64; 3], k: u64, i_tot: f64) -> [f64; 3] {
        let [mut u, mut ge, mut gi] = s;
        let (tau, h) = (self.tau_m.at(i), self.dt);
        let (ee, ei, p11e, p11i) = (
            self.e_ex.at(i),
            self.e_in.at(i),
            self.p11e.at(i),
            self.p11i.at(i),
        );
        let drive = i_tot * tau / self.c_m.at(i);
        let mut left = k;
        while left > 0 && (ge > 1e-12 || gi > 1e-12) {
            let g = 1.0 + ge + gi;
            let u_inf = (ge * ee + gi * ei + drive) / g;
            u = u_inf + (u - u_inf) * (-g * h / tau).exp();
            ge *= p11e;
            gi *= p11i;
            left -= 1;
        }
        if left > 0 {
            u = drive + (u - drive) * (-(left as f64) * h / tau).exp();
            ge *= p11e.powf(left as f64);
            gi *= p11i.powf(left as f64);
        }
        [u, ge, gi]
    }

    /// Synaptic-state propagation for exp (current) or cond_exp (conductance) synapses.
    #[inline]
    pub fn grid_free_syn(&self, i: usize, s: [f64; 3], k: u64, i_tot: f64) -> [f64; 3] {
        if self.synapse == SynapseKind::CondExp {
            self.grid_free_cond(i, s, k, i_tot)
        } else {
            self.grid_free_exp(i, s, k, i_tot)
        }
    }

    /// Exp-synapse state after `k` input-free steps (NEST `iaf_psc_exp` propagators).
    #[inline(always)]
    pub fn grid_free_exp(&self, i: usize, s: [f64; 3], k: u64, i_tot: f64) -> [f64; 3] {
        let [mut u, mut ie, mut ii] = s;
        if k <= ITERATE_MAX || (i_tot != 0.0 && k <= ITERATE_BIASED_MAX) {
            let (p22, p11e, p11i) = (self.beta.at(i), self.p11e.at(i), self.p11i.at(i));
            let (p21e, p21i, cb) = (self.p21e.at(i), self.p21i.at(i), self.p20.at(i) * i_tot);
            for _ in 0..k {
                u = p22 * u + p21e * ie + p21i * ii + cb;
                ie *= p11e;
                ii *= p11i;
            }
            [u, ie, ii]
        } else {
            self.free_exp(i, s, k as f64 * self.dt, i_tot)
        }
    }

    // ----- continuous time ------------------------------------------------------------------

    /// Delta-synapse (or IF) membrane after `t` ms without input.
    #[inline]
    pub fn free_delta(&self, i: usize, u: f64, t: f64, i_tot: f64) -> f64 {
        if self.kind == NeuronKind::If {
            u + t * i_tot / self.c_m.at(i)
        } else {
            let vinf = self.v_inf(i, i_tot);
            vinf + (u - vinf) * (-t / self.tau_m.at(i)).exp()
        }
    }

    /// Exp-synapse state `[u, i_ex, i_in]` after `t` ms without input (exact solution).
    #[inline]
    pub fn free_exp(&self, i: usize, s: [f64; 3], t: f64, i_tot: f64) -> [f64; 3] {
        let [u, ie, ii] = s;
        let (tm, te, ti, c) = (
            self.tau_m.at(i),
            self.tau_e.at(i),
            self.tau_i.at(i),
            self.c_m.at(i),
        );
        let vinf = self.v_inf(i, i_tot);
        let u_t = vinf
            + (u - vinf) * (-t / tm).exp()
            + ie * psc_response(t, tm, te, c)
            + ii * psc_response(t, tm, ti, c);
        [u_t, ie * (-t / te).exp(), ii * (-t / ti).exp()]
    }

    /// Time (ms, > 0) of the first threshold crossing of the input-free trajectory that starts
    /// from relative membrane `u` (and currents `ie`, `ii` for exp synapses), if there is one.
    /// Located to better than 1e-9 ms.
    ///
    /// `theta` is the adaptive part of the threshold at `from`; it decays with `tau_theta`.
    pub fn next_crossing(
        &self,
        i: usize,
        s: [f64; 3],
        i_tot: f64,
        from: f64,
        theta: f64,
    ) -> Option<f64> {
        let decaying = theta != 0.0 && self.tau_theta.is_finite();
        let th = if decaying {
            self.th.at(i)
        } else {
            self.th.at(i) + theta
        };
        let [u, ie, ii] = s;
        if decaying && self.kind == NeuronKind::Lif && self.synapse != SynapseKind::CondExp {
            // Membrane minus the decaying threshold is still a sum of exponentials.
            if u >= th + theta {
                return Some(from);
            }
            let vinf = self.v_inf(i, i_tot);
            let (tm, te, ti, c) = (
                self.tau_m.at(i),
                self.tau_e.at(i),
                self.tau_i.at(i),
                self.c_m.at(i),
            );
            let (ie, ii) = if self.synapse == SynapseKind::Delta {
                (0.0, 0.0)
            } else {
                (ie, ii)
            };
            let mut f = ExpSum::new(u - vinf, vinf - th, ie, ii, tm, te, ti, c);
            f.push(-theta, 1.0 / self.tau_theta, false);
            return f.first_root(from);
        }
        match (self.kind, self.synapse) {
            (NeuronKind::If, _) => {
                let rate = i_tot / self.c_m.at(i);
                if u >= th {
                    Some(from)
                } else if rate > 0.0 {
                    Some(from + (th - u) / rate)
                } else {
                    None
                }
            }
            (NeuronKind::Lif, SynapseKind::Delta) => {
                let vinf = self.v_inf(i, i_tot);
                if u >= th {
                    Some(from)
                } else if vinf > th {
                    let t = self.tau_m.at(i) * ((u - vinf) / (th - vinf)).ln();
                    Some(from + t.max(0.0))
                } else {
                    None
                }
            }
            (NeuronKind::Lif, SynapseKind::CondExp) => None,
            (NeuronKind::Lif, SynapseKind::Exp) => {
                let vinf = self.v_inf(i, i_tot);
                let bound =
                    u.max(vinf) + ie.max(0.0) * self.qmax_e.at(i) + ii.max(0.0) * self.qmax_i.at(i);
                if bound < th {
                    return None;
                }
                let (tm, te, ti, c) = (
                    self.tau_m.at(i),
                    self.tau_e.at(i),
                    self.tau_i.at(i),
                    self.c_m.at(i),
                );
                ExpSum::new(u - vinf, vinf - th, ie, ii, tm, te, ti, c).first_root(from)
            }
        }
    }
}

/// `f(T) = k0 + Σ c_j T^{l_j} exp(-r_j T)`: the membrane minus threshold along an input-free
/// exp-synapse trajectory, with interval upper bounds for a leftmost-first bisection.
struct ExpSum {
    k0: f64,
    terms: [(f64, f64, bool); 5],
    n: usize,
}

impl ExpSum {
    #[allow(clippy::too_many_arguments)]
    fn new(a: f64, k0: f64, ie: f64, ii: f64, tm: f64, te: f64, ti: f64, c: f64) -> ExpSum {
        let mut s = ExpSum {
            k0,
            terms: [(0.0, 0.0, false); 5],
            n: 0,
        };
        let mut a = a;
        for (cur, ts) in [(ie, te), (ii, ti)] {
            if cur == 0.0 {
                continue;
            }
            let delta = 1.0 / ts - 1.0 / tm;
            if (delta * tm).abs() < 1e-7 {
                s.push(cur / c, 1.0 / tm, true);
            } else {
                let k = cur / (c * delta);
                a += k;
                s.push(-k, 1.0 / ts, false);
            }
        }
        s.push(a, 1.0 / tm, false);
        s
    }

    fn push(&mut self, c: f64, r: f64, lin: bool) {
        self.terms[self.n] = (c, r, lin);
        self.n += 1;
    }

    #[inline]
    fn term(c: f64, r: f64, lin: bool, t: f64) -> f64 {
        let e = c * (-r * t).exp();
        if lin {
            e * t
        } else {
            e
        }
    }

    fn eval(&self, t: f64) -> f64 {
        self.k0
            + self.terms[..self.n]
                .iter()
                .map(|&(c, r, l)| Self::term(c, r, l, t))
                .sum::<f64>()
    }

    /// Upper bound of f on [a, b] (b may be infinite).
    fn upper(&self, a: f64, b: f64) -> f64 {
        let mut ub = self.k0;
        for &(c, r, lin) in &self.terms[..self.n] {
            let at_a = Self::term(c, r, lin, a);
            let at_b = if b.is_finite() {
                Self::term(c, r, lin, b)
            } else {
                0.0
            };
            let mut m = at_a.max(at_b);
            if lin && c > 0.0 {
                let peak = (1.0 / r).clamp(a, b);
                m = m.max(Self::term(c, r, lin, peak));
            }
            ub += m;
        }
        ub
    }

    fn first_root(&self, from: f64) -> Option<f64> {
        const TOL: f64 = 1e-10;
        if self.eval(0.0) >= 0.0 {
            return Some(from);
        }
        if self.upper(0.0, f64::INFINITY) < 0.0 {
            return None;
        }
        let slowest = self.terms[..self.n]
            .iter()
            .map(|t| 1.0 / t.1)
            .fold(0.0, f64::max);
        let mut h = 4.0 * slowest;
        let mut found = false;
        for _ in 0..64 {
            if self.eval(h) >= 0.0 || self.upper(h, f64::INFINITY) < 0.0 {
                found = true;
                break;
            }
            h *= 2.0;
        }
        if !found {
            return None;
        }
        let mut stack = [(0.0f64, 0.0f64); 160];
        let mut top = 1;
        stack[0] = (0.0, h);
        while top > 0 {
            top -= 1;
            let (a, b) = stack[top];
            if self.upper(a, b) < 0.0 {
                continue;
            }
            if b - a <= TOL {
                if self.eval(b) >= 0.0 {
                    return Some(from + b);
                }
                continue;
            }
            if top + 2 > stack.len() {
                break;
            }
            let m = 0.5 * (a + b);
            stack[top] = (m, b);
            stack[top + 1] = (a, m);
            top += 2;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp_spec(tau_e: f64) -> NeuronSpec {
        let mut s = NeuronSpec::lif(10.0, -70.0, -55.0, -70.0, 2.0);
        s.synapse = SynapseKind::Exp;
        s.tau_syn_ex = Param::Scalar(tau_e);
        s.tau_syn_in = Param::Scalar(tau_e);
        s
    }

    #[test]
    fn exp_propagator_is_continuous_through_the_singularity() {
        let near = psc_response(1.0, 10.0, 10.0 * (1.0 + 1e-9), 250.0);
        let at = psc_response(1.0, 10.0, 10.0, 250.0);
        // A naive difference of exponentials would lose ~7 digits here.
        assert!((near - at).abs() < 1e-8 * at.abs(), "{near} vs {at}");
    }

    #[test]
    fn grid_iteration_matches_closed_form() {
        for tau_e in [2.0, 10.0] {
            let d = Dynamics::new(&exp_spec(tau_e), 1, Some(0.1));
            let s0 = [3.0, 400.0, -150.0];
            let it = d.grid_free_exp(0, s0, 20, 100.0);
            let cf = d.free_exp(0, s0, 2.0, 100.0);
            for j in 0..3 {
                assert!(
                    (it[j] - cf[j]).abs() < 1e-9 * (1.0 + cf[j].abs()),
                    "{j}: {} vs {}",
                    it[j],
                    cf[j]
                );
            }
        }
    }

    #[test]
    fn exp_crossing_found_precisely() {
        for tau_e in [2.0, 10.0] {
            let d = Dynamics::new(&exp_spec(tau_e), 1, None);
            let s0 = [0.0, 4000.0, 0.0]; // peak depolarisation > 15 mV for both tau_syn
            let t = d.next_crossing(0, s0, 0.0, 0.0, 0.0).expect("a crossing");
            let th = d.th.at(0);
            assert!(d.free_exp(0, s0, t, 0.0)[0] >= th - 1e-9);
            assert!(d.free_exp(0, s0, t - 1e-9, 0.0)[0] < th);
            // A weak input does not cross.
            assert!(d
                .next_crossing(0, [0.0, 100.0, 0.0], 0.0, 0.0, 0.0)
                .is_none());
        }
    }

    #[test]
    fn delta_crossing_with_bias_is_analytic() {
        let mut s = NeuronSpec::lif(20.0, 0.0, 20.0, 0.0, 0.0);
        s.c_m = Param::Scalar(1.0);
        let d = Dynamics::new(&s, 1, None);
        // v_inf = 30 mV: crossing at tau ln(3).
        let t = d.next_crossing(0, [0.0; 3], 1.5, 0.0, 0.0).unwrap();
        assert!((t - 20.0 * 3f64.ln()).abs() < 1e-12);
    }
}
