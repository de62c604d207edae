//! Neuron parameter sets as the user gives them (scalar or per-neuron), and their validation.
use crate::error::{param_err, Result};
use serde::{Deserialize, Serialize};

/// A parameter: one value for the population or one per neuron.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Param {
    Scalar(f64),
    PerNeuron(Vec<f64>),
}

impl Param {
    #[inline]
    pub fn get(&self, i: usize) -> f64 {
        match self {
            Param::Scalar(v) => *v,
            Param::PerNeuron(v) => v[i],
        }
    }

    fn values(&self) -> &[f64] {
        match self {
            Param::Scalar(v) => std::slice::from_ref(v),
            Param::PerNeuron(v) => v,
        }
    }

    fn check(&self, name: &str, n: usize, rule: Rule) -> Result<()> {
        if let Param::PerNeuron(v) = self {
            if v.len() != n {
                return param_err(format!(
                    "{name} has {} values but the population has {n} neurons; give a scalar or one value per neuron",
                    v.len()
                ));
            }
        }
        for (i, &x) in self.values().iter().enumerate() {
            let at = if matches!(self, Param::PerNeuron(_)) {
                format!(" (neuron {i})")
            } else {
                String::new()
            };
            if !x.is_finite() {
                return param_err(format!("{name} must be finite, got {x}{at}"));
            }
            match rule {
                Rule::Positive if x <= 0.0 => {
                    return param_err(format!("{name} must be > 0, got {x}{at}"))
                }
                Rule::NonNegative if x < 0.0 => {
                    return param_err(format!("{name} must be >= 0, got {x}{at}"))
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Rule {
    Any,
    Positive,
    NonNegative,
}

/// Which membrane equation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NeuronKind {
    /// Leaky integrate-and-fire.
    Lif,
    /// Non-leaky integrate-and-fire.
    If,
}

/// How an input spike acts on the membrane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SynapseKind {
    /// The membrane jumps by the weight (mV).
    Delta,
    /// The weight (pA) jumps an exponentially decaying current; sign picks excitatory/inhibitory.
    Exp,
    /// The weight (in units of the leak conductance, dimensionless) jumps an exponentially
    /// decaying conductance with reversal potential `e_rev_ex` (weight >= 0) or `e_rev_in`
    /// (weight < 0, magnitude used); NEST `iaf_cond_exp` normalised by g_L, Brian2's `ge`.
    CondExp,
}

/// What happens to the membrane after a spike.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResetMode {
    /// `v = v_reset`.
    Value,
    /// `v -= v_th - v_reset` (keeps the residue above threshold).
    Subtract,
}

/// Initial membrane potential.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum InitV {
    Rest,
    Value(Param),
    Uniform(f64, f64),
}

/// A neuron model with its parameters (units: ms, mV, pA, pF).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NeuronSpec {
    pub kind: NeuronKind,
    pub synapse: SynapseKind,
    pub reset: ResetMode,
    pub tau_m: Param,
    pub v_rest: Param,
    pub v_th: Param,
    pub v_reset: Param,
    pub t_ref: Param,
    pub c_m: Param,
    pub i_e: Param,
    pub tau_syn_ex: Param,
    pub tau_syn_in: Param,
    pub e_rev_ex: Param,
    pub e_rev_in: Param,
    pub v_init: InitV,
    /// Adaptive threshold (Diehl & Cook 2015): the threshold is `v_th + theta`, `theta` grows
    /// by `theta_plus` (mV) at each spike and decays with `tau_theta` (ms; infinite: never).
    pub theta_plus: Param,
    pub tau_theta: f64,
}

impl NeuronSpec {
    /// LIF with delta synapses and the given threshold/reset; other parameters at their defaults.
    pub fn lif(tau_m: f64, v_rest: f64, v_th: f64, v_reset: f64, t_ref: f64) -> Self {
        Self {
            kind: NeuronKind::Lif,
            synapse: SynapseKind::Delta,
            reset: ResetMode::Value,
            tau_m: Param::Scalar(tau_m),
            v_rest: Param::Scalar(v_rest),
            v_th: Param::Scalar(v_th),
            v_reset: Param::Scalar(v_reset),
            t_ref: Param::Scalar(t_ref),
            c_m: Param::Scalar(250.0),
            i_e: Param::Scalar(0.0),
            tau_syn_ex: Param::Scalar(2.0),
            tau_syn_in: Param::Scalar(2.0),
            e_rev_ex: Param::Scalar(0.0),
            e_rev_in: Param::Scalar(-80.0),
            v_init: InitV::Rest,
            theta_plus: Param::Scalar(0.0),
            tau_theta: f64::INFINITY,
        }
    }

    /// Non-leaky IF with delta synapses, reset by subtraction.
    pub fn integrate_and_fire(v_th: f64, v_reset: f64) -> Self {
        Self {
            kind: NeuronKind::If,
            reset: ResetMode::Subtract,
            c_m: Param::Scalar(1.0),
            ..Self::lif(1.0, 0.0, v_th, v_reset, 0.0)
        }
    }

    /// Check every parameter against the population size; messages say what to fix.
    pub fn validate(&self, n: usize) -> Result<()> {
        self.tau_m.check("tau_m", n, Rule::Positive)?;
        self.v_rest.check("v_rest", n, Rule::Any)?;
        self.v_th.check("v_th", n, Rule::Any)?;
        self.v_reset.check("v_reset", n, Rule::Any)?;
        self.t_ref.check("t_ref", n, Rule::NonNegative)?;
        self.c_m.check("c_m", n, Rule::Positive)?;
        self.i_e.check("i_e", n, Rule::Any)?;
        self.tau_syn_ex.check("tau_syn_ex", n, Rule::Positive)?;
        self.tau_syn_in.check("tau_syn_in", n, Rule::Positive)?;
        self.e_rev_ex.check("e_rev_ex", n, Rule::Any)?;
        self.e_rev_in.check("e_rev_in", n, Rule::Any)?;
        self.theta_plus.check("theta_plus", n, Rule::NonNegative)?;
        if self.tau_theta.is_nan() || self.tau_theta <= 0.0 {
            return param_err(format!(
                "tau_theta must be > 0 ms (or inf for a threshold that never decays), got {}",
                self.tau_theta
            ));
        }
        if self.adaptive() && self.kind == NeuronKind::If {
            return param_err(
                "the adaptive threshold (theta_plus > 0) is available for LIF neurons only",
            );
        }
        for i in 0..n.min(if self.all_scalar() { 1 } else { n }) {
            if self.v_reset.get(i) >= self.v_th.get(i) {
                return param_err(format!(
                    "v_reset ({}) must be below v_th ({}){}",
                    self.v_reset.get(i),
                    self.v_th.get(i),
                    if self.all_scalar() {
                        String::new()
                    } else {
                        format!(" (neuron {i})")
                    }
                ));
            }
        }
        if self.kind == NeuronKind::If && self.synapse != SynapseKind::Delta {
            return param_err("IF neurons support delta synapses only");
        }
        match &self.v_init {
            InitV::Rest => {}
            InitV::Value(p) => p.check("v_init", n, Rule::Any)?,
            InitV::Uniform(lo, hi) => {
                if !(lo.is_finite() && hi.is_finite()) || lo > hi {
                    return param_err(format!(
                        "v_init range ({lo}, {hi}) must be finite with low <= high"
                    ));
                }
            }
        }
        Ok(())
    }

    /// True when the threshold adapts (some `theta_plus` > 0).
    pub fn adaptive(&self) -> bool {
        match &self.theta_plus {
            Param::Scalar(v) => *v > 0.0,
            Param::PerNeuron(v) => v.iter().any(|&x| x > 0.0),
        }
    }

    fn all_scalar(&self) -> bool {
        [&self.v_th, &self.v_reset]
            .iter()
            .all(|p| matches!(p, Param::Scalar(_)))
    }
}
