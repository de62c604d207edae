//! Batch inference: one network, many independent input samples, all cores.
//!
//! Each sample starts from the reset state with its own random streams (keyed by the sample's
//! index), so results depend on the seed and the sample, never on the thread count.
use crate::error::{Error, Result};
use crate::model::{Model, PopKind, SpikeTrain};
use crate::state::State;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// Input spikes of one sample for the batch's spike-source population.
#[derive(Clone, Debug, Default)]
pub struct SampleInput {
    pub times: Vec<f64>,
    pub ids: Vec<u32>,
}

/// What one sample produced.
#[derive(Clone, Debug, Default)]
pub struct SampleOutput {
    /// Per tracked population: spike count per neuron.
    pub counts: Vec<Vec<u32>>,
    /// Per tracked population: first spike time per neuron (NaN if none).
    pub first: Vec<Vec<f64>>,
    /// Spikes of every population and synaptic events of every projection.
    pub spikes: Vec<u64>,
    pub synaptic_events: Vec<u64>,
}

/// Run `inputs` through `model` for `duration` ms each. `first_sample` offsets the samples'
/// random-stream keys (so a batch split in chunks equals one big batch). Stops early, with
/// an error, when `cancel` is set.
pub fn run_batch(
    model: &Model,
    source: usize,
    inputs: &[SampleInput],
    duration: f64,
    track: &[usize],
    threads: usize,
    first_sample: u64,
    cancel: &AtomicBool,
) -> Result<Vec<SampleOutput>> {
    let src = model.pop(source)?;
    if !matches!(src.kind, PopKind::SpikeSource { .. }) {
        return Err(Error::InvalidParameter(format!(
            "run_batch: population '{}' is not a spike source; pass the source created with add_spike_source",
            src.name
        )));
    }
    for &p in track {
        model.pop(p)?;
    }
    if !(duration.is_finite() && duration >= 0.0) {
        return Err(Error::InvalidParameter(format!(
            "duration must be finite and >= 0 ms, got {duration}"
        )));
    }
    let trains: Vec<SpikeTrain> = inputs
        .iter()
        .enumerate()
        .map(|(k, s)| {
            SpikeTrain::new(&s.times, &s.ids, src.n, model.dt)
                .map_err(|e| Error::InvalidParameter(format!("sample {k}: {e}")))
        })
        .collect::<Result<_>>()?;
    let stop_step = model.dt.map(|dt| (duration / dt).round() as i64);
    let one = |(k, train): (usize, SpikeTrain)| -> Result<SampleOutput> {
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::InvalidState("batch cancelled".into()));
        }
        let mut st = State::new(model, first_sample + k as u64 + 1);
        st.overrides[source] = Some(train);
        for &p in track {
            st.track(p, model.pops[p].n);
        }
        match stop_step {
            Some(stop) => st.run_grid(model, stop, None),
            None => st.run_continuous(model, duration, None),
        };
        let counts = track
            .iter()
            .map(|&p| std::mem::take(&mut st.pops[p].count))
            .collect();
        let first = track
            .iter()
            .map(|&p| std::mem::take(&mut st.pops[p].first))
            .collect();
        Ok(SampleOutput {
            counts,
            first,
            spikes: st.counts.spikes,
            synaptic_events: st.counts.synaptic_events,
        })
    };
    let work: Vec<(usize, SpikeTrain)> = trains.into_iter().enumerate().collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::InvalidState(format!("could not start {threads} threads: {e}")))?;
    pool.install(|| work.into_par_iter().map(one).collect())
}
