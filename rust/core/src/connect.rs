//! Connection rules, weight/delay specifications, and the builder that turns them into a
//! [`Projection`] from the network's seed.
use crate::error::{Error, Result};
use crate::rng::{self, Purpose, Stream};
use crate::synapses::{Delays, Group, Projection, Weights};
use rand::Rng;

/// Which pairs of neurons are connected.
#[derive(Clone, Debug, PartialEq)]
pub enum Rule {
    AllToAll {
        autapses: bool,
    },
    OneToOne,
    FixedProbability {
        p: f64,
        autapses: bool,
    },
    FixedInDegree {
        k: usize,
        autapses: bool,
        multapses: bool,
    },
    FixedOutDegree {
        k: usize,
        autapses: bool,
        multapses: bool,
    },
    Explicit {
        pre: Vec<u32>,
        post: Vec<u32>,
    },
}

/// A weight or delay: one value, one per synapse, or a random distribution.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    Scalar(f64),
    Array(Vec<f64>),
    Uniform {
        low: f64,
        high: f64,
    },
    Normal {
        mean: f64,
        std: f64,
        low: f64,
        high: f64,
    },
}

/// Everything needed to build one projection.
#[derive(Clone, Debug)]
pub struct ConnectSpec {
    pub rule: Rule,
    pub weight: Values,
    pub delay: Values,
}

/// Where the projection goes and in which time mode.
pub struct Endpoints {
    pub pre: usize,
    pub post: usize,
    pub n_pre: usize,
    pub n_post: usize,
    pub same_population: bool,
    /// Grid step in ms, or None in continuous time.
    pub dt: Option<f64>,
    pub seed: u64,
    pub index: usize,
}

/// Longest delay allowed, in grid steps (bounds the calendar queue).
pub const MAX_DELAY_STEPS: u32 = 1 << 20;

/// Memory the machine can still give (bytes), from /proc/meminfo; None where unknown.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuse work that needs more than the machine has; the message carries the estimate.
pub fn check_memory(what: &str, bytes: f64) -> Result<()> {
    if let Some(avail) = available_memory() {
        if bytes > avail as f64 * 0.9 {
            return Err(Error::OutOfMemory(format!(
                "{what} would need about {:.2} GiB but only {:.2} GiB of memory are available",
                bytes / 1073741824.0,
                avail as f64 / 1073741824.0
            )));
        }
    }
    Ok(())
}

fn conn_err<T>(msg: String) -> Result<T> {
    Err(Error::InvalidConnection(msg))
}

impl Values {
    fn validate(&self, what: &str) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidParameter(m));
        match self {
            Values::Scalar(v) if !v.is_finite() => bad(format!("{what} must be finite, got {v}")),
            Values::Array(a) => match a.iter().position(|x| !x.is_finite()) {
                Some(i) => bad(format!("{what}[{i}] must be finite, got {}", a[i])),
                None => Ok(()),
            },
            Values::Uniform { low, high } if !(low.is_finite() && high.is_finite() && low <= high) => {
                bad(format!("{what}: Uniform(low={low}, high={high}) needs finite bounds with low <= high"))
            }
            Values::Normal { mean, std, low, high }
                if !(mean.is_finite() && std.is_finite() && *std >= 0.0 && !low.is_nan() && !high.is_nan() && low <= high) =>
            {
                bad(format!("{what}: Normal(mean={mean}, std={std}) needs finite mean, std >= 0 and low <= high"))
            }
            _ => Ok(()),
        }
    }

    fn is_random(&self) -> bool {
        matches!(self, Values::Uniform { .. } | Values::Normal { .. })
    }

    /// Draw `n` values (arrays are checked for length by the caller).
    fn draw(&self, n: usize, rng: &mut Stream) -> Vec<f64> {
        match self {
            Values::Scalar(v) => vec![*v; n],
            Values::Array(a) => a.clone(),
            Values::Uniform { low, high } => (0..n)
                .map(|_| low + (high - low) * rng.gen::<f64>())
                .collect(),
            Values::Normal {
                mean,
                std,
                low,
                high,
            } => (0..n)
                .map(|_| (mean + std * rng::normal(rng)).clamp(*low, *high))
                .collect(),
        }
    }
}

fn expected_count(rule: &Rule, e: &Endpoints) -> Result<f64> {
    let (np, nq) = (e.n_pre as f64, e.n_post as f64);
    let self_pairs = if e.same_population { np } else { 0.0 };
    Ok(match rule {
        Rule::AllToAll { autapses } => np * nq - if *autapses { 0.0 } else { self_pairs },
        Rule::OneToOne => {
            if e.n_pre != e.n_post {
                return conn_err(format!(
                    "OneToOne needs populations of equal size, got {} and {}",
                    e.n_pre, e.n_post
                ));
            }
            np
        }
        Rule::FixedProbability { p, autapses } => {
            if !(0.0..=1.0).contains(p) {
                return Err(Error::InvalidParameter(format!(
                    "FixedProbability p must be in [0, 1], got {p}"
                )));
            }
            p * (np * nq - if *autapses { 0.0 } else { self_pairs })
        }
        Rule::FixedInDegree {
            k,
            autapses,
            multapses,
        } => {
            let avail = e.n_pre - usize::from(e.same_population && !autapses);
            if *k > 0 && avail == 0 || (!multapses && *k > avail) {
                return conn_err(format!(
                    "FixedInDegree({k}) without multapses needs at least {k} possible sources per target, \
                     but there are {avail}; lower k or allow multapses"
                ));
            }
            *k as f64 * nq
        }
        Rule::FixedOutDegree {
            k,
            autapses,
            multapses,
        } => {
            let avail = e.n_post - usize::from(e.same_population && !autapses);
            if *k > 0 && avail == 0 || (!multapses && *k > avail) {
                return conn_err(format!(
                    "FixedOutDegree({k}) without multapses needs at least {k} possible targets per source, \
                     but there are {avail}; lower k or allow multapses"
                ));
            }
            *k as f64 * np
        }
        Rule::Explicit { pre, post } => {
            if pre.len() != post.len() {
                return conn_err(format!(
                    "FromArrays: pre has {} entries but post has {}; they must match",
                    pre.len(),
                    post.len()
                ));
            }
            if let Some(i) = pre.iter().position(|&x| x as usize >= e.n_pre) {
                return Err(Error::IndexOutOfRange(format!(
                    "FromArrays: pre[{i}] = {} is out of range for a presynaptic population of {} neurons",
                    pre[i], e.n_pre
                )));
            }
            if let Some(i) = post.iter().position(|&x| x as usize >= e.n_post) {
                return Err(Error::IndexOutOfRange(format!(
                    "FromArrays: post[{i}] = {} is out of range for a postsynaptic population of {} neurons",
                    post[i], e.n_post
                )));
            }
            pre.len() as f64
        }
    })
}

/// Draws `k` sources/targets out of `n` for one neuron `me` (excluded if `skip_me`).
struct Picker {
    marks: Vec<u64>,
    picked: Vec<u32>,
}

impl Picker {
    fn new(n: usize) -> Picker {
        Picker {
            marks: vec![0; n.div_ceil(64)],
            picked: Vec::new(),
        }
    }

    fn pick(
        &mut self,
        rng: &mut Stream,
        n: usize,
        k: usize,
        me: Option<u32>,
        multapses: bool,
    ) -> &[u32] {
        self.picked.clear();
        let avail = (n - usize::from(me.is_some())) as u32;
        let draw = |rng: &mut Stream| {
            let x = rng::below(rng, avail);
            match me {
                Some(m) if x >= m => x + 1,
                _ => x,
            }
        };
        if multapses {
            for _ in 0..k {
                let x = draw(rng);
                self.picked.push(x);
            }
        } else if 2 * k > avail as usize {
            // Dense: partial Fisher-Yates over the candidates.
            let mut cand: Vec<u32> = (0..n as u32).filter(|&x| Some(x) != me).collect();
            for j in 0..k {
                let r = j + rng.gen_range(0..cand.len() - j);
                cand.swap(j, r);
            }
            self.picked.extend_from_slice(&cand[..k]);
        } else {
            while self.picked.len() < k {
                let x = draw(rng);
                let (w, b) = (x as usize / 64, 1u64 << (x % 64));
                if self.marks[w] & b == 0 {
                    self.marks[w] |= b;
                    self.picked.push(x);
                }
            }
            for &x in &self.picked {
                self.marks[x as usize / 64] = 0;
            }
        }
        &self.picked
    }
}

/// Generate the (pre, post) pairs of a rule, in generation order.
fn pairs(rule: &Rule, e: &Endpoints, rng: &mut Stream, expect: usize) -> (Vec<u32>, Vec<u32>) {
    let mut pre = Vec::with_capacity(expect);
    let mut post = Vec::with_capacity(expect);
    let same = e.same_population;
    match rule {
        Rule::AllToAll { autapses } => {
            for i in 0..e.n_pre as u32 {
                for j in 0..e.n_post as u32 {
                    if *autapses || !same || i != j {
                        pre.push(i);
                        post.push(j);
                    }
                }
            }
        }
        Rule::OneToOne => {
            pre.extend(0..e.n_pre as u32);
            post.extend(0..e.n_post as u32);
        }
        Rule::FixedProbability { p, autapses } => {
            if *p > 0.0 {
                let log_q = (1.0 - p).ln();
                for i in 0..e.n_pre as u32 {
                    let mut j: i64 = -1;
                    loop {
                        let skip = if *p >= 1.0 {
                            0.0
                        } else {
                            (rng::open01(rng).ln() / log_q).floor()
                        };
                        j += 1 + skip.min(e.n_post as f64) as i64;
                        if j >= e.n_post as i64 {
                            break;
                        }
                        if *autapses || !same || i as i64 != j {
                            pre.push(i);
                            post.push(j as u32);
                        }
                    }
                }
            }
        }
        Rule::FixedInDegree {
            k,
            autapses,
            multapses,
        } => {
            let mut picker = Picker::new(e.n_pre);
            for j in 0..e.n_post as u32 {
                let me = (same && !autapses).then_some(j);
                for &i in picker.pick(rng, e.n_pre, *k, me, *multapses) {
                    pre.push(i);
                    post.push(j);
                }
            }
        }
        Rule::FixedOutDegree {
            k,
            autapses,
            multapses,
        } => {
            let mut picker = Picker::new(e.n_post);
            for i in 0..e.n_pre as u32 {
                let me = (same && !autapses).then_some(i);
                for &j in picker.pick(rng, e.n_post, *k, me, *multapses) {
                    pre.push(i);
                    post.push(j);
                }
            }
        }
        Rule::Explicit { pre: a, post: b } => {
            pre.extend_from_slice(a);
            post.extend_from_slice(b);
        }
    }
    (pre, post)
}

/// Convert delays (ms) to grid steps; user-given delays must lie on the grid, drawn ones are
/// rounded to the nearest step. Every delay must be at least one step.
fn delay_steps(d: &[f64], dt: f64, drawn: bool) -> Result<Vec<u32>> {
    let mut out = Vec::with_capacity(d.len());
    for (i, &x) in d.iter().enumerate() {
        let at = if d.len() > 1 {
            format!(" (synapse {i})")
        } else {
            String::new()
        };
        let steps = (x / dt).round();
        if !drawn && (steps * dt - x).abs() > 1e-6 * dt {
            return Err(Error::InvalidParameter(format!(
                "delay {x} ms{at} is not a multiple of dt = {dt} ms; use delays on the grid"
            )));
        }
        if steps < 1.0 {
            return Err(Error::InvalidParameter(format!(
                "delay {x} ms{at} is shorter than one step (dt = {dt} ms); delays must be >= dt{}",
                if drawn {
                    " (clip the distribution with low=dt)"
                } else {
                    ""
                }
            )));
        }
        if steps > MAX_DELAY_STEPS as f64 {
            return Err(Error::InvalidParameter(format!(
                "delay {x} ms{at} is longer than the maximum of {MAX_DELAY_STEPS} steps"
            )));
        }
        out.push(steps as u32);
    }
    Ok(out)
}

/// Build a projection.
pub fn build(spec: &ConnectSpec, e: &Endpoints) -> Result<Projection> {
    spec.weight.validate("weight")?;
    spec.delay.validate("delay")?;
    let expect = expected_count(&spec.rule, e)?;
    let weights_stored = !matches!(spec.weight, Values::Scalar(_));
    let bytes = expect
        * (12.0
            + if weights_stored { 8.0 } else { 0.0 }
            + if matches!(spec.delay, Values::Scalar(_)) {
                0.0
            } else {
                12.0
            });
    check_memory(&format!("connecting about {expect:.0} synapses"), bytes)?;
    if expect > (u32::MAX - 1) as f64 {
        return Err(Error::OutOfMemory(format!(
            "a projection holds at most {} synapses, this one would have about {expect:.0}; split it",
            u32::MAX - 1
        )));
    }
    let mut rng = rng::stream(e.seed, Purpose::Connect, e.index as u64, 0);
    let (pre, post) = pairs(&spec.rule, e, &mut rng, expect as usize);
    let n = pre.len();

    // Per-synapse arrays are allowed where the synapse order is known in advance.
    for (vals, what) in [(&spec.weight, "weight"), (&spec.delay, "delay")] {
        if let Values::Array(a) = vals {
            let order_known = matches!(
                spec.rule,
                Rule::AllToAll { .. } | Rule::OneToOne | Rule::Explicit { .. }
            );
            if !order_known {
                return conn_err(format!(
                    "a per-synapse {what} array needs AllToAll, OneToOne or FromArrays (whose synapse order is \
                     known); use a scalar or a distribution (sf.Uniform, sf.Normal) with random connectors"
                ));
            }
            if a.len() != n {
                return conn_err(format!(
                    "{what} array has {} values but the connector makes {n} synapses",
                    a.len()
                ));
            }
        }
    }
    let w_vals = weights_stored.then(|| {
        spec.weight.draw(
            n,
            &mut rng::stream(e.seed, Purpose::Weights, e.index as u64, 0),
        )
    });
    if let Some(w) = &w_vals {
        if let Some(i) = w.iter().position(|x| x.abs() > f32::MAX as f64) {
            return Err(Error::InvalidParameter(format!(
                "weight[{i}] = {} does not fit in 32-bit float",
                w[i]
            )));
        }
    }
    let uniform_delay = matches!(spec.delay, Values::Scalar(_)) || n == 0;
    let d_ms: Vec<f64> = if uniform_delay {
        Vec::new()
    } else {
        spec.delay.draw(
            n,
            &mut rng::stream(e.seed, Purpose::Delays, e.index as u64, 0),
        )
    };
    let scalar_delay = match spec.delay {
        Values::Scalar(d) => d,
        _ => d_ms.first().copied().unwrap_or(1.0),
    };
    let check_ms = |x: f64| -> Result<()> {
        if x <= 0.0 {
            return Err(Error::InvalidParameter(format!(
                "delay must be > 0 ms, got {x}"
            )));
        }
        Ok(())
    };
    let (d_steps, uni_steps) = match e.dt {
        Some(dt) => {
            let uni = if uniform_delay {
                delay_steps(&[scalar_delay], dt, false)?[0]
            } else {
                0
            };
            let steps = if uniform_delay {
                Vec::new()
            } else {
                delay_steps(&d_ms, dt, spec.delay.is_random())?
            };
            (steps, uni)
        }
        None => {
            check_ms(scalar_delay)?;
            for &x in &d_ms {
                check_ms(x)?;
            }
            (Vec::new(), 0)
        }
    };

    // Counting sort by source (stable: generation order kept within a row).
    let n_pre = e.n_pre;
    let mut row_ptr = vec![0u32; n_pre + 1];
    for &i in &pre {
        row_ptr[i as usize + 1] += 1;
    }
    for i in 0..n_pre {
        row_ptr[i + 1] += row_ptr[i];
    }
    let mut fill: Vec<u32> = row_ptr[..n_pre].to_vec();
    let mut targets = vec![0u32; n];
    let mut weights = w_vals.as_ref().map(|_| vec![0f32; n]);
    let mut dms = if uniform_delay {
        Vec::new()
    } else {
        vec![0f64; n]
    };
    let mut dst = if d_steps.is_empty() {
        Vec::new()
    } else {
        vec![0u32; n]
    };
    for s in 0..n {
        let i = pre[s] as usize;
        let at = fill[i] as usize;
        fill[i] += 1;
        targets[at] = post[s];
        if let (Some(w), Some(src)) = (weights.as_mut(), w_vals.as_ref()) {
            w[at] = src[s] as f32;
        }
        if !uniform_delay {
            dms[at] = d_ms[s];
            if !dst.is_empty() {
                dst[at] = d_steps[s];
            }
        }
    }
    drop((pre, post, fill, w_vals));

    let delays = if uniform_delay {
        Delays::Uniform {
            steps: uni_steps,
            ms: scalar_delay,
        }
    } else {
        // Sort each row by delay (stable) and cut it into groups of equal delay. The scratch
        // buffers are reused across rows.
        let on_grid = !dst.is_empty();
        let mut group_ptr = Vec::with_capacity(n_pre + 1);
        let mut groups = Vec::new();
        group_ptr.push(0u32);
        let (mut perm, mut t, mut ws, mut ds, mut ss) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in 0..n_pre {
            let (a, b) = (row_ptr[i] as usize, row_ptr[i + 1] as usize);
            perm.clear();
            perm.extend(a..b);
            if on_grid {
                perm.sort_by_key(|&p| dst[p]);
            } else {
                perm.sort_by(|&x, &y| dms[x].total_cmp(&dms[y]));
            }
            t.clear();
            t.extend(perm.iter().map(|&p| targets[p]));
            targets[a..b].copy_from_slice(&t);
            if let Some(w) = weights.as_mut() {
                ws.clear();
                ws.extend(perm.iter().map(|&p| w[p]));
                w[a..b].copy_from_slice(&ws);
            }
            ds.clear();
            ds.extend(perm.iter().map(|&p| dms[p]));
            ss.clear();
            ss.extend(perm.iter().map(|&p| if on_grid { dst[p] } else { 0 }));
            for j in 0..ds.len() {
                let last = j + 1 == ds.len() || ends_run(&ds, &ss, j, !on_grid);
                if last {
                    let delay = match e.dt {
                        Some(dt) => ss[j] as f64 * dt,
                        None => ds[j],
                    };
                    groups.push(Group {
                        end: (a + j + 1) as u32,
                        steps: ss[j],
                        delay,
                    });
                }
            }
            group_ptr.push(groups.len() as u32);
        }
        groups.shrink_to_fit();
        Delays::Grouped { group_ptr, groups }
    };
    let weights = match weights {
        Some(w) => Weights::PerSynapse(w),
        None => match spec.weight {
            Values::Scalar(w) => Weights::Uniform(w),
            _ => unreachable!("non-scalar weights are stored per synapse"),
        },
    };
    Ok(Projection {
        pre: e.pre,
        post: e.post,
        row_ptr,
        targets,
        weights,
        delays,
        plasticity: None,
        learned: None,
        dopamine: None,
        conv: None,
    })
}

/// True when element `j` ends a run of equal delays (the next element differs).
fn ends_run(ds: &[f64], ss: &[u32], j: usize, continuous: bool) -> bool {
    if continuous {
        ds[j] != ds[j + 1]
    } else {
        ss[j] != ss[j + 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ends(n_pre: usize, n_post: usize, same: bool) -> Endpoints {
        Endpoints {
            pre: 0,
            post: 1,
            n_pre,
            n_post,
            same_population: same,
            dt: Some(0.1),
            seed: 5,
            index: 0,
        }
    }

    fn spec(rule: Rule) -> ConnectSpec {
        ConnectSpec {
            rule,
            weight: Values::Scalar(0.5),
            delay: Values::Scalar(1.0),
        }
    }

    #[test]
    fn fixed_in_degree_gives_each_target_k_sources() {
        let p = build(
            &spec(Rule::FixedInDegree {
                k: 7,
                autapses: false,
                multapses: false,
            }),
            &ends(50, 50, true),
        )
        .unwrap();
        let mut indeg = [0usize; 50];
        let pre = p.pre_indices();
        for (s, &t) in p.targets.iter().enumerate() {
            indeg[t as usize] += 1;
            assert_ne!(pre[s], t, "autapse");
        }
        assert!(indeg.iter().all(|&d| d == 7));
        assert!(p.bytes() as f64 / (p.n_synapses() as f64) < 5.0);
    }

    #[test]
    fn heterogeneous_delays_are_grouped_per_source() {
        let s = ConnectSpec {
            rule: Rule::Explicit {
                pre: vec![0, 0, 0, 1],
                post: vec![1, 2, 3, 0],
            },
            weight: Values::Array(vec![1.0, 2.0, 3.0, 4.0]),
            delay: Values::Array(vec![0.3, 0.1, 0.3, 0.2]),
        };
        let p = build(&s, &ends(2, 4, false)).unwrap();
        assert_eq!(p.targets, vec![2, 1, 3, 0]);
        assert_eq!(p.weight_values(), vec![2.0, 1.0, 3.0, 4.0]);
        let d = p.delay_values();
        assert!(
            (d[0] - 0.1).abs() < 1e-12 && (d[1] - 0.3).abs() < 1e-12 && (d[3] - 0.2).abs() < 1e-12
        );
        let mut groups = 0;
        p.for_each_group(0, |_, _, _, _| groups += 1);
        assert_eq!(groups, 2);
    }

    #[test]
    fn off_grid_and_short_delays_are_refused() {
        let mut s = spec(Rule::OneToOne);
        s.delay = Values::Scalar(0.15);
        let e = build(&s, &ends(3, 3, false)).unwrap_err();
        assert!(e.to_string().contains("not a multiple of dt"), "{e}");
        s.delay = Values::Scalar(0.0);
        assert!(build(&s, &ends(3, 3, false))
            .unwrap_err()
            .to_string()
            .contains("shorter than one step"));
    }

    #[test]
    fn fixed_probability_count_is_binomial() {
        let p = build(
            &spec(Rule::FixedProbability {
                p: 0.1,
                autapses: true,
            }),
            &ends(300, 300, true),
        )
        .unwrap();
        let n = p.n_synapses() as f64;
        assert!((n - 9000.0).abs() < 5.0 * 9000f64.sqrt(), "{n}");
    }
}
