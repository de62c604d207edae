//! Compact synapse storage: CSR by presynaptic neuron, delays grouped per source.
//!
//! A static synapse costs 4 bytes (target index) plus 4 bytes (f32 weight) when weights differ;
//! a projection with one weight stores none per synapse. Delays are not stored per synapse:
//! each source's row is sorted by delay and split into groups, so a spike is queued once per
//! (spike, distinct delay) and the delay of a synapse is that of its group.
use serde::{Deserialize, Serialize};

/// Weights of a projection.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Weights {
    Uniform(f64),
    PerSynapse(Vec<f32>),
}

/// Synapses `[.., end)` of a row that share one delay.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Group {
    pub end: u32,
    pub steps: u32,
    pub delay: f64,
}

/// Delays of a projection.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Delays {
    /// Every synapse has this delay.
    Uniform { steps: u32, ms: f64 },
    /// `group_ptr[i]..group_ptr[i+1]` index `groups` for source `i`.
    Grouped {
        group_ptr: Vec<u32>,
        groups: Vec<Group>,
    },
}

/// One projection from population `pre` to population `post`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Projection {
    pub pre: usize,
    pub post: usize,
    pub row_ptr: Vec<u32>,
    pub targets: Vec<u32>,
    pub weights: Weights,
    pub delays: Delays,
    /// STDP rule, if the projection is plastic.
    pub plasticity: Option<crate::plasticity::StdpRule>,
    /// Learned weights of a plastic projection (exact), written back from the running state.
    pub learned: Option<Vec<f64>>,
    /// Reward-modulated projections: the population whose spikes release dopamine.
    pub dopamine: Option<usize>,
    /// Convolutional projections: the geometry (the kernel is `weights`, `targets` is empty
    /// and `row_ptr` numbers the sources that have targets; see [`crate::conv`]).
    #[serde(default)]
    pub conv: Option<Box<crate::conv::Conv>>,
}

impl Projection {
    pub fn n_synapses(&self) -> usize {
        match &self.conv {
            Some(c) => c.n_synapses(),
            None => self.targets.len(),
        }
    }

    /// Number of weights stored: one per synapse, or the kernel of a convolution.
    pub fn n_weights(&self) -> usize {
        match &self.conv {
            Some(c) => c.n_kernel(),
            None => self.targets.len(),
        }
    }

    pub fn n_pre(&self) -> usize {
        self.row_ptr.len() - 1
    }

    /// Bytes of synapse storage held by this projection (capacity, not length).
    pub fn bytes(&self) -> usize {
        let mut b = self.row_ptr.capacity() * 4 + self.targets.capacity() * 4;
        if let Weights::PerSynapse(w) = &self.weights {
            b += w.capacity() * 4;
        }
        if let Delays::Grouped { group_ptr, groups } = &self.delays {
            b += group_ptr.capacity() * 4 + groups.capacity() * std::mem::size_of::<Group>();
        }
        b + self.conv.as_ref().map_or(0, |c| c.bytes())
    }

    /// Largest delay in steps (grid mode).
    pub fn max_steps(&self) -> u32 {
        match &self.delays {
            Delays::Uniform { steps, .. } => *steps,
            Delays::Grouped { groups, .. } => groups.iter().map(|g| g.steps).max().unwrap_or(0),
        }
    }

    /// Call `f(start, end, steps, delay_ms)` for each delay group of source `i`.
    #[inline]
    pub fn for_each_group(&self, i: usize, mut f: impl FnMut(u32, u32, u32, f64)) {
        let (start, end) = (self.row_ptr[i], self.row_ptr[i + 1]);
        if start == end {
            return;
        }
        match &self.delays {
            Delays::Uniform { steps, ms } => f(start, end, *steps, *ms),
            Delays::Grouped { group_ptr, groups } => {
                let mut s = start;
                for g in &groups[group_ptr[i] as usize..group_ptr[i + 1] as usize] {
                    f(s, g.end, g.steps, g.delay);
                    s = g.end;
                }
            }
        }
    }

    /// Presynaptic index of every synapse, in storage order.
    pub fn pre_indices(&self) -> Vec<u32> {
        if let Some(c) = &self.conv {
            return c.expand().0;
        }
        let mut out = Vec::with_capacity(self.n_synapses());
        for i in 0..self.n_pre() {
            let len = self.row_ptr[i + 1] - self.row_ptr[i];
            out.extend(std::iter::repeat_n(i as u32, len as usize));
        }
        out
    }

    /// Weight of every synapse, in storage order.
    pub fn weight_values(&self) -> Vec<f64> {
        if let Some(w) = &self.learned {
            return w.clone();
        }
        match &self.weights {
            Weights::Uniform(w) => vec![*w; self.n_synapses()],
            Weights::PerSynapse(w) => w.iter().map(|&x| x as f64).collect(),
        }
    }

    /// Delay (ms) of every synapse, in storage order.
    pub fn delay_values(&self) -> Vec<f64> {
        if let (Some(_), Delays::Uniform { ms, .. }) = (&self.conv, &self.delays) {
            return vec![*ms; self.n_synapses()];
        }
        let mut out = vec![0.0; self.n_synapses()];
        for i in 0..self.n_pre() {
            self.for_each_group(i, |s, e, _, d| out[s as usize..e as usize].fill(d));
        }
        out
    }

    /// Replace all weights (storage order); validated by the caller.
    pub fn set_weights(&mut self, w: &[f64]) {
        if self.plasticity.is_some() {
            self.learned = Some(w.to_vec());
        }
        self.weights = Weights::PerSynapse(w.iter().map(|&x| x as f32).collect());
    }

    /// Postsynaptic index of every synapse, in storage order.
    pub fn post_indices(&self) -> Vec<u32> {
        match &self.conv {
            Some(c) => c.expand().1,
            None => self.targets.clone(),
        }
    }

    /// Out-degree of every source.
    pub fn out_degrees(&self) -> Vec<u32> {
        if let Some(c) = &self.conv {
            return (0..c.n_in()).map(|i| c.fan_out(i) as u32).collect();
        }
        self.row_ptr.windows(2).map(|w| w[1] - w[0]).collect()
    }
}
