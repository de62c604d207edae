//! Convolutional and pooling projections: a kernel and a geometry, no per-synapse storage.
//!
//! A projection from a `(C, H, W)` population to a `(C', H', W')` population is defined by a
//! kernel of shape `(C', C / groups, kh, kw)`, a stride, a zero padding and a dilation, with
//! torch's `conv2d` semantics (cross-correlation): output `(c', oy, ox)` sums
//! `kernel[c', c, ky, kx] * input[c, oy*sy - py + ky*dy, ox*sx - px + kx*dx]` over the taps
//! inside the input. Neuron `(c, y, x)` of a population has index `c*H*W + y*W + x`
//! (channel-major, torch's `flatten` order).
//!
//! When a source spikes, its targets and kernel elements are computed on the fly from the
//! geometry (at most `C'/groups * kh * kw` of them), so the projection stores only the kernel
//! (4 bytes per element), the geometry and one `u32` per source (the row pointer the queue
//! uses). Counters count every equivalent synapse the spike reaches, as for the explicit
//! (dense) projection with the same connectivity.
//!
//! Pooling: average pooling is a grouped convolution (one channel per group) with a constant
//! kernel; max pooling ([`ConvMode::Max`]) gives each target, per instant (grid step or exact
//! time), the largest weight among the window's sources that spiked then, once, instead of the
//! sum: with one weight, `weight * OR(window)`, which is `weight * max(window)` on binary spikes
//! (torch's `MaxPool2d` on a spike tensor). Several spikes of one source at one instant count
//! once (the output is binary too).
//!
//! Plasticity: a shared kernel element is one weight used by many positions. Each pairing
//! event (a presynaptic arrival or a postsynaptic spike) updates the kernel elements it
//! touches exactly as the dense rule updates a synapse (one element at most once per event,
//! since a source reaches each target through one tap), so over a run the kernel change is
//! the sum of the updates of all positions, as backpropagation sums gradients over shared
//! weights (Kheradpisheh et al. 2018).
use crate::connect::{self, ConnectSpec, Rule, Values};
use crate::error::{param_err, Error, Result};
use crate::model::Model;
use crate::plasticity::StdpRule;
use crate::queue::Entry;
use crate::state::State;
use crate::synapses::{Projection, Weights};
use serde::{Deserialize, Serialize};

/// How a target combines the inputs of its window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConvMode {
    /// Weighted sum (convolution, average pooling).
    Sum,
    /// Largest weight among the window's spikes of one instant, once (max pooling).
    Max,
}

/// What the caller asks for: input shape, output channels and the kernel's geometry.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvSpec {
    /// `(C, H, W)` of the presynaptic population.
    pub in_shape: [usize; 3],
    pub out_channels: usize,
    /// `(kh, kw)`.
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
    pub mode: ConvMode,
}

/// The geometry of a convolutional projection (its kernel lives in the projection's weights).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conv {
    /// `(C, H, W)` in, `(C', H', W')` out.
    pub in_shape: [u32; 3],
    pub out_shape: [u32; 3],
    pub kernel: [u32; 2],
    pub stride: [u32; 2],
    pub padding: [u32; 2],
    pub dilation: [u32; 2],
    pub groups: u32,
    pub mode: ConvMode,
}

/// The taps of one axis: kernel offsets `k` and output positions `o` with
/// `o * stride - pad + k * dil = pos`.
#[inline(always)]
fn taps_out(
    pos: u32,
    pad: u32,
    dil: u32,
    stride: u32,
    k: u32,
    out: u32,
) -> impl Iterator<Item = (u32, u32)> {
    let base = pos as i64 + pad as i64;
    (0..k).filter_map(move |kk| {
        let num = base - (kk * dil) as i64;
        if num < 0 || num % stride as i64 != 0 {
            return None;
        }
        let o = num / stride as i64;
        (o < out as i64).then_some((kk, o as u32))
    })
}

/// The taps of one axis seen from an output position: kernel offsets `k` and input positions.
#[inline(always)]
fn taps_in(
    o: u32,
    pad: u32,
    dil: u32,
    stride: u32,
    k: u32,
    size: u32,
) -> impl Iterator<Item = (u32, u32)> {
    let base = o as i64 * stride as i64 - pad as i64;
    (0..k).filter_map(move |kk| {
        let p = base + (kk * dil) as i64;
        (p >= 0 && p < size as i64).then_some((kk, p as u32))
    })
}

fn positive(v: usize, what: &str) -> Result<u32> {
    if v == 0 || v > u32::MAX as usize / 2 {
        return param_err(format!("{what} must be an integer >= 1, got {v}"));
    }
    Ok(v as u32)
}

impl Conv {
    /// Validate `spec` and compute the output shape.
    pub fn new(spec: &ConvSpec) -> Result<Conv> {
        let [c, h, w] = spec.in_shape;
        let c = positive(c, "conv: input channels")?;
        let h = positive(h, "conv: input height")?;
        let w = positive(w, "conv: input width")?;
        let co = positive(spec.out_channels, "conv: out_channels")?;
        let kh = positive(spec.kernel[0], "conv: kernel height")?;
        let kw = positive(spec.kernel[1], "conv: kernel width")?;
        let sy = positive(spec.stride[0], "conv: stride")?;
        let sx = positive(spec.stride[1], "conv: stride")?;
        let dy = positive(spec.dilation[0], "conv: dilation")?;
        let dx = positive(spec.dilation[1], "conv: dilation")?;
        let g = positive(spec.groups, "conv: groups")?;
        let [py, px] = spec.padding;
        if py > u32::MAX as usize / 4 || px > u32::MAX as usize / 4 {
            return param_err(format!("conv: padding {:?} is too large", spec.padding));
        }
        if c % g != 0 || co % g != 0 {
            return param_err(format!(
                "conv: groups = {g} must divide both the input channels ({c}) and out_channels ({co})"
            ));
        }
        if spec.mode == ConvMode::Max && (co != c || g != c) {
            return param_err(
                "max pooling keeps the channels: out_channels = groups = input channels",
            );
        }
        let (ey, ex) = (
            dy as u64 * (kh as u64 - 1) + 1,
            dx as u64 * (kw as u64 - 1) + 1,
        );
        let (hp, wp) = (h as u64 + 2 * py as u64, w as u64 + 2 * px as u64);
        if ey > hp || ex > wp {
            return param_err(format!(
                "conv: the kernel ({ey} x {ex} with dilation) is larger than the padded input \
                 ({hp} x {wp}); use a smaller kernel or more padding"
            ));
        }
        let oh = ((hp - ey) / sy as u64 + 1) as u32;
        let ow = ((wp - ex) / sx as u64 + 1) as u32;
        for (n, what) in [
            (c as u64 * h as u64 * w as u64, "input"),
            (co as u64 * oh as u64 * ow as u64, "output"),
        ] {
            if n > crate::model::MAX_POPULATION as u64 {
                return Err(Error::OutOfMemory(format!(
                    "conv: the {what} has {n} neurons, more than a population can hold"
                )));
            }
        }
        Ok(Conv {
            in_shape: [c, h, w],
            out_shape: [co, oh, ow],
            kernel: [kh, kw],
            stride: [sy, sx],
            padding: [py as u32, px as u32],
            dilation: [dy, dx],
            groups: g,
            mode: spec.mode,
        })
    }

    pub fn n_in(&self) -> usize {
        self.in_shape.iter().map(|&x| x as usize).product()
    }

    pub fn n_out(&self) -> usize {
        self.out_shape.iter().map(|&x| x as usize).product()
    }

    /// Input channels per group.
    #[inline]
    fn cin_g(&self) -> u32 {
        self.in_shape[0] / self.groups
    }

    /// Output channels per group.
    #[inline]
    fn cout_g(&self) -> u32 {
        self.out_shape[0] / self.groups
    }

    /// Number of kernel elements: `C' * C/groups * kh * kw`.
    pub fn n_kernel(&self) -> usize {
        self.out_shape[0] as usize
            * self.cin_g() as usize
            * self.kernel[0] as usize
            * self.kernel[1] as usize
    }

    fn rows_out(&self, y: u32) -> impl Iterator<Item = (u32, u32)> {
        taps_out(
            y,
            self.padding[0],
            self.dilation[0],
            self.stride[0],
            self.kernel[0],
            self.out_shape[1],
        )
    }

    fn cols_out(&self, x: u32) -> impl Iterator<Item = (u32, u32)> {
        taps_out(
            x,
            self.padding[1],
            self.dilation[1],
            self.stride[1],
            self.kernel[1],
            self.out_shape[2],
        )
    }

    /// Equivalent synapses leaving source `i`.
    pub fn fan_out(&self, i: usize) -> usize {
        let hw = (self.in_shape[1] * self.in_shape[2]) as usize;
        let (y, x) = (
            (i % hw) as u32 / self.in_shape[2],
            (i % hw) as u32 % self.in_shape[2],
        );
        self.rows_out(y).count() * self.cols_out(x).count() * self.cout_g() as usize
    }

    /// Equivalent number of synapses (those of the explicit projection).
    pub fn n_synapses(&self) -> usize {
        let rows: usize = (0..self.in_shape[1])
            .map(|y| self.rows_out(y).count())
            .sum();
        let cols: usize = (0..self.in_shape[2])
            .map(|x| self.cols_out(x).count())
            .sum();
        self.in_shape[0] as usize * self.cout_g() as usize * rows * cols
    }

    /// Bytes of the geometry itself.
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Conv>()
    }

    /// Call `f(target, kernel_index)` for every equivalent synapse of source `i`, in storage
    /// order (kernel row, kernel column, output channel).
    #[inline]
    pub fn for_each_target(&self, i: usize, mut f: impl FnMut(u32, usize)) {
        let [_, h, w] = self.in_shape;
        let [_, oh, ow] = self.out_shape;
        let [kh, kw] = self.kernel;
        let hw = (h * w) as usize;
        let c = (i / hw) as u32;
        let (y, x) = ((i % hw) as u32 / w, (i % hw) as u32 % w);
        let (cin_g, cout_g) = (self.cin_g(), self.cout_g());
        let (g, cl) = (c / cin_g, c % cin_g);
        let (co0, co1) = (g * cout_g, (g + 1) * cout_g);
        let plane = (oh * ow) as usize;
        let k_co = (cin_g * kh * kw) as usize;
        for (ky, oy) in self.rows_out(y) {
            for (kx, ox) in self.cols_out(x) {
                let t0 = (oy * ow + ox) as usize;
                let k0 = ((cl * kh + ky) * kw + kx) as usize;
                for co in co0..co1 {
                    f((co as usize * plane + t0) as u32, co as usize * k_co + k0);
                }
            }
        }
    }

    /// Call `f(source, kernel_index)` for every equivalent synapse into target `j`.
    #[inline]
    pub fn for_each_source(&self, j: usize, mut f: impl FnMut(usize, usize)) {
        let [_, h, w] = self.in_shape;
        let [_, oh, ow] = self.out_shape;
        let [kh, kw] = self.kernel;
        let plane = (oh * ow) as usize;
        let co = (j / plane) as u32;
        let (oy, ox) = ((j % plane) as u32 / ow, (j % plane) as u32 % ow);
        let (cin_g, cout_g) = (self.cin_g(), self.cout_g());
        let g = co / cout_g;
        let hw = (h * w) as usize;
        for cl in 0..cin_g {
            let c = (g * cin_g + cl) as usize;
            for (ky, iy) in taps_in(oy, self.padding[0], self.dilation[0], self.stride[0], kh, h) {
                for (kx, ix) in
                    taps_in(ox, self.padding[1], self.dilation[1], self.stride[1], kw, w)
                {
                    f(
                        c * hw + (iy * w + ix) as usize,
                        (((co * cin_g + cl) * kh + ky) * kw + kx) as usize,
                    );
                }
            }
        }
    }

    /// Row pointer for the queue: `row_ptr[i]` counts the sources before `i` that reach any
    /// target, so a spike of a source without targets queues nothing (as the explicit
    /// projection) and a queued entry's `start` identifies its source.
    pub fn row_ptr(&self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.n_in() + 1);
        out.push(0u32);
        let mut n = 0u32;
        for i in 0..self.n_in() {
            n += u32::from(self.fan_out(i) > 0);
            out.push(n);
        }
        out
    }

    /// The explicit equivalent: `(pre, post, kernel_index)` of every synapse, storage order.
    pub fn expand(&self) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
        let n = self.n_synapses();
        let (mut pre, mut post, mut kern) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for i in 0..self.n_in() {
            self.for_each_target(i, |t, k| {
                pre.push(i as u32);
                post.push(t);
                kern.push(k as u32);
            });
        }
        (pre, post, kern)
    }
}

/// Source of a queued entry of a convolutional projection (see [`Conv::row_ptr`]).
#[inline]
fn entry_source(pr: &Projection, e: &Entry) -> usize {
    pr.row_ptr.partition_point(|&x| x <= e.start) - 1
}

/// The changing side of a plastic convolutional projection: the kernel and the spike traces
/// (per source and per target, as for a dense projection with one delay).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConvPlastic {
    /// The kernel (exact), shape `(C', C/groups, kh, kw)` flattened.
    pub weights: Vec<f64>,
    pre_last: Vec<f64>,
    pre_after: Vec<f64>,
    pre_before: Vec<f64>,
    pre_slow: Vec<f64>,
    post_last: Vec<f64>,
    post_trace: Vec<f64>,
    post_slow: Vec<f64>,
}

impl ConvPlastic {
    fn new(proj: &Projection, conv: &Conv) -> ConvPlastic {
        let (n_pre, n_post) = (conv.n_in(), conv.n_out());
        ConvPlastic {
            weights: proj.weight_values(),
            pre_last: vec![f64::NEG_INFINITY; n_pre],
            pre_after: vec![0.0; n_pre],
            pre_before: vec![0.0; n_pre],
            pre_slow: vec![0.0; n_pre],
            post_last: vec![f64::NEG_INFINITY; n_post],
            post_trace: vec![0.0; n_post],
            post_slow: vec![0.0; n_post],
        }
    }

    /// A spike (`count` of them) of source `i` arrives at `t`: depress the kernel element of
    /// each of its synapses with the target's trace, then `add(target, weight * count)`
    /// (as [`crate::plasticity::PlasticState::arrive`] does per synapse).
    #[allow(clippy::too_many_arguments)]
    fn arrive(
        &mut self,
        rule: &StdpRule,
        conv: &Conv,
        i: usize,
        t: f64,
        count: u32,
        mut add: impl FnMut(u32, f64),
    ) {
        let amplitude = rule.at_pre_arrival(
            &mut self.pre_last[i],
            &mut self.pre_after[i],
            &mut self.pre_before[i],
            &mut self.pre_slow[i],
            t,
            count,
        );
        let (post_last, post_trace, weights) =
            (&self.post_last, &self.post_trace, &mut self.weights);
        conv.for_each_target(i, |j, k| {
            let ju = j as usize;
            let y = if post_last[ju].is_finite() {
                post_trace[ju] * rule.decay_minus(t - post_last[ju])
            } else {
                0.0
            };
            let mut w = weights[k];
            for _ in 0..count {
                w = rule.depress(w, y, amplitude);
            }
            weights[k] = w;
            add(j, w * count as f64);
        });
    }

    /// Target `j` fires at `t`: potentiate the kernel element of each incoming synapse with
    /// its source's trace (arrivals at exactly `t` excluded), then bump the target's traces.
    fn post_spike(&mut self, rule: &StdpRule, conv: &Conv, j: usize, t: f64) {
        let (fast, slow, amplitude) =
            rule.at_post_spike(self.post_trace[j], self.post_slow[j], self.post_last[j], t);
        let (pre_last, pre_after, pre_before, weights) = (
            &self.pre_last,
            &self.pre_after,
            &self.pre_before,
            &mut self.weights,
        );
        conv.for_each_source(j, |i, k| {
            let x = rule.pre_trace_at(pre_last[i], pre_after[i], pre_before[i], t);
            if x > 0.0 {
                weights[k] = rule.facilitate(weights[k], x, amplitude);
            }
        });
        self.post_trace[j] = rule.bump(fast, 1);
        self.post_slow[j] = rule.bump(slow, 1);
        self.post_last[j] = t;
    }

    fn bytes(&self) -> usize {
        (self.weights.capacity() + self.pre_last.capacity() * 4 + self.post_last.capacity() * 3) * 8
    }
}

/// The running side of a convolutional projection.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConvState {
    /// Plastic projections: the learning kernel and the traces.
    pub plastic: Option<ConvPlastic>,
    /// Max pooling: per target, the epoch (instant) of its last input and the largest
    /// weight delivered in it.
    max_epoch: Vec<u64>,
    max_value: Vec<f64>,
}

impl ConvState {
    pub fn new(proj: &Projection, conv: &Conv) -> ConvState {
        let n_post = conv.n_out();
        let max = conv.mode == ConvMode::Max;
        ConvState {
            plastic: proj
                .plasticity
                .as_ref()
                .map(|_| ConvPlastic::new(proj, conv)),
            max_epoch: if max {
                vec![u64::MAX; n_post]
            } else {
                Vec::new()
            },
            max_value: if max { vec![0.0; n_post] } else { Vec::new() },
        }
    }

    /// Bytes of running state.
    pub fn bytes(&self) -> usize {
        self.plastic.as_ref().map_or(0, |p| p.bytes())
            + self.max_epoch.capacity() * 8
            + self.max_value.capacity() * 8
    }
}

/// Per projection: the running state of the convolutional ones.
pub(crate) fn states(model: &Model) -> Vec<Option<ConvState>> {
    model
        .projs
        .iter()
        .map(|pr| pr.conv.as_deref().map(|c| ConvState::new(pr, c)))
        .collect()
}

impl State {
    /// Deliver one queued spike of a convolutional projection: compute its targets from the
    /// geometry and add the kernel weights to their inboxes.
    pub(crate) fn deliver_conv(&mut self, model: &Model, e: Entry, t_ms: f64) {
        let k = e.proj as usize;
        let pr = &model.projs[k];
        let conv = pr.conv.as_deref().expect("a convolutional projection");
        let i = entry_source(pr, &e);
        let State {
            pops,
            counts,
            convs,
            epoch,
            ..
        } = self;
        counts.synaptic_events[k] += conv.fan_out(i) as u64 * e.mult as u64;
        counts.deliveries += 1;
        let epoch = *epoch;
        let mut inputs = pops[pr.post].inputs(epoch);
        let mut add = |t: u32, w: f64| inputs.add(t, w);
        let cs = convs[k].as_mut().expect("conv state");
        let kernel: &[f32] = match &pr.weights {
            Weights::PerSynapse(w) => w,
            Weights::Uniform(_) => &[],
        };
        match (conv.mode, pr.plasticity.as_ref(), cs.plastic.as_mut()) {
            (ConvMode::Max, ..) => {
                let (me, mv) = (&mut cs.max_epoch, &mut cs.max_value);
                conv.for_each_target(i, |t, kk| {
                    let v = kernel[kk] as f64;
                    let tu = t as usize;
                    if me[tu] != epoch {
                        me[tu] = epoch;
                        mv[tu] = v;
                        add(t, v);
                    } else if v > mv[tu] {
                        add(t, v - mv[tu]);
                        mv[tu] = v;
                    }
                });
            }
            (_, Some(rule), Some(pl)) => pl.arrive(rule, conv, i, t_ms, e.mult, add),
            _ => {
                let m = e.mult as f64;
                conv.for_each_target(i, |t, kk| add(t, kernel[kk] as f64 * m));
            }
        }
    }
}

/// Target `j` of plastic convolutional projection `k` fired at `t`.
pub(crate) fn post_spike(
    convs: &mut [Option<ConvState>],
    model: &Model,
    k: usize,
    j: usize,
    t: f64,
) {
    let pr = &model.projs[k];
    if let (Some(conv), Some(rule), Some(Some(cs))) =
        (pr.conv.as_deref(), pr.plasticity.as_ref(), convs.get_mut(k))
    {
        if let Some(pl) = cs.plastic.as_mut() {
            pl.post_spike(rule, conv, j, t);
        }
    }
}

/// Write the learned kernels back into the model (so resets and batches start from them).
pub(crate) fn keep_learned(state: &State, model: &mut Model) {
    for (k, cs) in state.convs.iter().enumerate() {
        if let Some(pl) = cs.as_ref().and_then(|c| c.plastic.as_ref()) {
            model.projs[k].learned = Some(pl.weights.clone());
        }
    }
}

/// The running kernel of a plastic convolutional projection follows a write of the weights.
pub(crate) fn set_weights(state: &mut State, k: usize, w: &[f64]) {
    if let Some(Some(cs)) = state.convs.get_mut(k) {
        if let Some(pl) = cs.plastic.as_mut() {
            pl.weights.copy_from_slice(w);
        }
    }
}

impl Model {
    /// Connect `pre` to `post` with a convolution or pooling of geometry `spec`; `weight` is
    /// the kernel (`Values::Array` of `n_kernel` values in `(C', C/groups, kh, kw)` order, a
    /// scalar or a distribution drawn from the seed), `delay` one value (ms).
    pub fn connect_conv(
        &mut self,
        pre: usize,
        post: usize,
        spec: &ConvSpec,
        weight: &Values,
        delay: &Values,
        rule: Option<StdpRule>,
    ) -> Result<usize> {
        let conv = Conv::new(spec)?;
        if let Some(r) = &rule {
            r.validate()?;
            if r.reward.is_some() {
                return param_err(
                    "reward-modulated STDP is not available on convolutional projections \
                     (use sf.STDP or sf.TripletSTDP)",
                );
            }
            if conv.mode == ConvMode::Max {
                return param_err(
                    "max pooling has no weights to learn; plasticity is for convolutions",
                );
            }
        }
        let e = self.endpoints(pre, post)?;
        let (n_pre, n_post) = (e.n_pre, e.n_post);
        let what = match (spec.mode, conv.groups == conv.in_shape[0]) {
            (ConvMode::Max, _) => "max pooling",
            (ConvMode::Sum, true) if conv.in_shape[0] == conv.out_shape[0] => {
                "pooling or depthwise convolution"
            }
            _ => "convolution",
        };
        let [c, h, w] = conv.in_shape;
        let [co, oh, ow] = conv.out_shape;
        if n_pre != conv.n_in() {
            return Err(Error::InvalidConnection(format!(
                "{what}: the input shape (C, H, W) = ({c}, {h}, {w}) has {} neurons but '{}' has {n_pre}",
                conv.n_in(),
                self.pops[pre].name
            )));
        }
        if n_post != conv.n_out() {
            return Err(Error::InvalidConnection(format!(
                "{what}: the output shape (C', H', W') = ({co}, {oh}, {ow}) has {} neurons but '{}' has {n_post}",
                conv.n_out(),
                self.pops[post].name
            )));
        }
        if !matches!(delay, Values::Scalar(_)) {
            return param_err(format!(
                "{what}: give one delay (a number of ms); a convolutional projection has no per-synapse delays"
            ));
        }
        let nk = conv.n_kernel();
        if let Values::Array(a) = weight {
            if a.len() != nk {
                return Err(Error::InvalidParameter(format!(
                    "{what}: the kernel has {} values; expected C' * C/groups * kh * kw = \
                     {co} * {} * {} * {} = {nk}",
                    a.len(),
                    conv.cin_g(),
                    conv.kernel[0],
                    conv.kernel[1]
                )));
            }
            if let Some(k) = a.iter().position(|x| !x.is_finite()) {
                return param_err(format!("{what}: kernel[{k}] = {} must be finite", a[k]));
            }
        }
        // Weights (drawn from the seed when a distribution) and the delay, validated and
        // converted as for any projection: build an explicit one with one synapse per kernel
        // element, then keep its values only.
        let index = e.index;
        let base = ConnectSpec {
            rule: Rule::Explicit {
                pre: vec![0; nk],
                post: vec![0; nk],
            },
            weight: weight.clone(),
            delay: delay.clone(),
        };
        let mut proj = connect::build(&base, &e)?;
        let kernel: Vec<f32> = proj.weight_values().iter().map(|&x| x as f32).collect();
        proj.row_ptr = conv.row_ptr();
        proj.targets = Vec::new();
        proj.weights = Weights::PerSynapse(kernel);
        proj.conv = Some(Box::new(conv));
        if let Some(mut r) = rule {
            crate::plasticity::check_bounds(&r, &proj)?;
            if let Some(dt) = self.dt {
                r.tabulate(dt);
            }
            proj.plasticity = Some(r);
        }
        self.projs.push(proj);
        self.pops[pre].outgoing.push(index);
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spec(
        in_shape: [usize; 3],
        co: usize,
        k: [usize; 2],
        s: [usize; 2],
        p: [usize; 2],
        d: [usize; 2],
        g: usize,
    ) -> ConvSpec {
        ConvSpec {
            in_shape,
            out_channels: co,
            kernel: k,
            stride: s,
            padding: p,
            dilation: d,
            groups: g,
            mode: ConvMode::Sum,
        }
    }

    /// Obviously correct: loop over outputs and kernel taps as torch's definition does.
    fn reference(c: &Conv) -> Vec<(u32, u32, u32)> {
        let [ci, h, w] = c.in_shape.map(|x| x as i64);
        let [co, oh, ow] = c.out_shape.map(|x| x as i64);
        let [kh, kw] = c.kernel.map(|x| x as i64);
        let g = c.groups as i64;
        let (cin_g, cout_g) = (ci / g, co / g);
        let mut out = Vec::new();
        for o in 0..co {
            for oy in 0..oh {
                for ox in 0..ow {
                    for cl in 0..cin_g {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = oy * c.stride[0] as i64 - c.padding[0] as i64
                                    + ky * c.dilation[0] as i64;
                                let ix = ox * c.stride[1] as i64 - c.padding[1] as i64
                                    + kx * c.dilation[1] as i64;
                                if iy < 0 || iy >= h || ix < 0 || ix >= w {
                                    continue;
                                }
                                let cin = (o / cout_g) * cin_g + cl;
                                out.push((
                                    (cin * h * w + iy * w + ix) as u32,
                                    (o * oh * ow + oy * ow + ox) as u32,
                                    (((o * cin_g + cl) * kh + ky) * kw + kx) as u32,
                                ));
                            }
                        }
                    }
                }
            }
        }
        out.sort();
        out
    }

    proptest! {
        #[test]
        fn fan_out_matches_the_definition(
            g in 1usize..3, cpg in 1usize..3, opg in 1usize..3, h in 1usize..7, w in 1usize..7,
            kh in 1usize..4, kw in 1usize..4, sy in 1usize..3, sx in 1usize..3,
            py in 0usize..3, px in 0usize..3, dy in 1usize..3, dx in 1usize..3,
        ) {
            let s = spec([g * cpg, h, w], g * opg, [kh, kw], [sy, sx], [py, px], [dy, dx], g);
            let Ok(c) = Conv::new(&s) else { return Ok(()) };
            let (pre, post, kern) = c.expand();
            let mut got: Vec<_> = (0..pre.len()).map(|s| (pre[s], post[s], kern[s])).collect();
            got.sort();
            prop_assert_eq!(&got, &reference(&c));
            prop_assert_eq!(c.n_synapses(), got.len());
            for i in 0..c.n_in() {
                prop_assert_eq!(c.fan_out(i), pre.iter().filter(|&&p| p as usize == i).count());
            }
            // The backward walk lists the same synapses.
            let mut back = Vec::new();
            for j in 0..c.n_out() {
                c.for_each_source(j, |i, k| back.push((i as u32, j as u32, k as u32)));
            }
            back.sort();
            prop_assert_eq!(back, got);
        }
    }

    #[test]
    fn bad_geometry_is_refused() {
        let s = spec([1, 4, 4], 1, [5, 5], [1, 1], [0, 0], [1, 1], 1);
        assert!(Conv::new(&s)
            .unwrap_err()
            .to_string()
            .contains("larger than the padded input"));
        let s = spec([1, 4, 4], 1, [3, 3], [0, 1], [0, 0], [1, 1], 1);
        assert!(Conv::new(&s).unwrap_err().to_string().contains("stride"));
        let s = spec([3, 4, 4], 2, [3, 3], [1, 1], [0, 0], [1, 1], 2);
        assert!(Conv::new(&s).unwrap_err().to_string().contains("groups"));
        // With padding the kernel may be larger than the input.
        let s = spec([1, 2, 2], 1, [3, 3], [1, 1], [1, 1], [1, 1], 1);
        assert_eq!(Conv::new(&s).unwrap().out_shape, [1, 2, 2]);
    }
}
