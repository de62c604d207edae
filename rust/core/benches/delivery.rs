//! Criterion benches of the hot paths: spike delivery (fan-out into the targets' inboxes and
//! lazy updates), and a Brunel network slice. Throughput is reported per synaptic event.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use spikeflow_core::{ConnectSpec, Network, NeuronSpec, Param, Rule, Values};

fn brunel(scale: usize, seed: u64) -> Network {
    let (ne, ni, ce, ci) = (4000 * scale, 1000 * scale, 400 * scale, 100 * scale);
    let (j, g) = (0.1, 5.0);
    let rate = 2.0 * 20.0 / (j * ce as f64 * 20.0) * ce as f64 * 1000.0;
    let mut net = Network::new(Some(0.1), seed).unwrap();
    let spec = NeuronSpec::lif(20.0, 0.0, 20.0, 0.0, 2.0);
    let e = net.add_population(ne, spec.clone(), None).unwrap();
    let i = net.add_population(ni, spec, None).unwrap();
    let conn = |k, w| ConnectSpec {
        rule: Rule::FixedInDegree {
            k,
            autapses: true,
            multapses: true,
        },
        weight: Values::Scalar(w),
        delay: Values::Scalar(1.5),
    };
    for post in [e, i] {
        net.connect(e, post, &conn(ce, j)).unwrap();
        net.connect(i, post, &conn(ci, -g * j)).unwrap();
        let n = if post == e { ne } else { ni };
        let noise = net.add_poisson(n, Param::Scalar(rate), None).unwrap();
        let one = ConnectSpec {
            rule: Rule::OneToOne,
            weight: Values::Scalar(j),
            delay: Values::Scalar(1.5),
        };
        net.connect(noise, post, &one).unwrap();
    }
    net
}

/// Recurrent synaptic events of a Brunel run of `ms` after a warm-up.
fn recurrent_events(net: &Network) -> u64 {
    let s = net.summary();
    // Projections 0,1 and 3,4 are recurrent; 2 and 5 the Poisson drive.
    [0, 1, 3, 4]
        .iter()
        .map(|&k| s.counts.synaptic_events[k])
        .sum()
}

fn bench_brunel(c: &mut Criterion) {
    let mut group = c.benchmark_group("brunel_delta");
    group.sample_size(10);
    // scales of the Brunel network to time (1: 10 000 neurons)
    let scales = [1usize];
    #[allow(clippy::single_element_loop)]
    for scale in scales {
        // Measure the events of one 100 ms slice to set the throughput.
        let mut probe = brunel(scale, 1);
        probe.run(100.0).unwrap();
        let before = recurrent_events(&probe);
        probe.run(100.0).unwrap();
        let events = recurrent_events(&probe) - before;
        group.throughput(Throughput::Elements(events));
        group.bench_with_input(
            BenchmarkId::new("100ms_slice", scale),
            &scale,
            |b, &scale| {
                b.iter_batched(
                    || {
                        let mut net = brunel(scale, 1);
                        net.run(100.0).unwrap();
                        net
                    },
                    |mut net| net.run(100.0).unwrap(),
                    criterion::BatchSize::LargeInput,
                )
            },
        );
    }
    group.finish();
}

fn bench_fanout(c: &mut Criterion) {
    // 1000 sources firing in lock-step onto 10000 targets (out-degree 1000): pure delivery.
    let mut group = c.benchmark_group("fanout");
    group.sample_size(10);
    let (n_src, n_tgt, k) = (1000usize, 10_000usize, 1000usize);
    let times: Vec<f64> = (0..n_src).map(|s| 0.1 * (1 + s % 100) as f64).collect();
    let ids: Vec<u32> = (0..n_src as u32).collect();
    group.throughput(Throughput::Elements((n_src * k) as u64));
    group.bench_function("delta_1M_events", |b| {
        b.iter_batched(
            || {
                let mut net = Network::new(Some(0.1), 3).unwrap();
                let src = net.add_spike_source(n_src, &times, &ids, None).unwrap();
                let tgt = net
                    .add_population(n_tgt, NeuronSpec::lif(20.0, 0.0, 1e9, 0.0, 0.0), None)
                    .unwrap();
                let spec = ConnectSpec {
                    rule: Rule::FixedOutDegree {
                        k,
                        autapses: true,
                        multapses: true,
                    },
                    weight: Values::Uniform {
                        low: 0.0,
                        high: 0.1,
                    },
                    delay: Values::Scalar(0.1),
                };
                net.connect(src, tgt, &spec).unwrap();
                net
            },
            |mut net| net.run(12.0).unwrap(),
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn bench_queues(c: &mut Criterion) {
    // The grid's pattern: each step pops everything due now and pushes entries 1..=15 steps
    // ahead (Brunel: 15). Calendar queue (what the engine uses) against a binary heap.
    use spikeflow_core::queue::{Calendar, Entry, EventHeap, Kind};
    use std::hint::black_box;
    let steps = 10_000i64;
    let per_step = 100u32;
    let mut group = c.benchmark_group("queue");
    group.throughput(Throughput::Elements(steps as u64 * per_step as u64));
    let delay = |k: u32| 1 + (k.wrapping_mul(2_654_435_761) >> 28) as i64; // 1..=16, fixed
    group.bench_function("calendar", |b| {
        b.iter(|| {
            let mut q = Calendar::new(17);
            let mut sum = 0u64;
            for s in 0..steps {
                let due = q.take(s);
                for e in &due {
                    sum += e.start as u64;
                }
                q.restore(s, due);
                for k in 0..per_step {
                    q.push(
                        s + delay(k),
                        Entry {
                            proj: 0,
                            start: k,
                            end: k + 1,
                            mult: 1,
                        },
                    );
                }
            }
            black_box(sum)
        })
    });
    group.bench_function("binary_heap", |b| {
        b.iter(|| {
            let mut q = EventHeap::default();
            let mut sum = 0u64;
            let mut seq = 0u64;
            for s in 0..steps {
                while q.peek_time().is_some_and(|t| t <= s as f64) {
                    if let Some(ev) = q.pop() {
                        if let Kind::Deliver(e) = ev.kind {
                            sum += e.start as u64;
                        }
                    }
                }
                for k in 0..per_step {
                    seq += 1;
                    q.push(
                        (s + delay(k)) as f64,
                        seq,
                        Kind::Deliver(Entry {
                            proj: 0,
                            start: k,
                            end: k + 1,
                            mult: 1,
                        }),
                    );
                }
            }
            black_box(sum)
        })
    });
    group.finish();
}

criterion_group!(benches, bench_queues, bench_fanout, bench_brunel);
criterion_main!(benches);
