//! Times `read_file` over every file given on the command line (a quick profiling aid):
//! `cargo run --release -p spikeflow-events --example read_dir -- FILES...`
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let paths: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    if std::env::var_os("DECODE_ONLY").is_some() {
        paths.iter().for_each(|p| decode_only(p));
        return;
    }
    for round in 0..5 {
        let t = Instant::now();
        let mut n = 0;
        for p in &paths {
            n += spikeflow_events::read_file(p, None)
                .map(|r| r.events.len())
                .unwrap_or(0);
        }
        let seq = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let m: usize = spikeflow_events::read_files(&paths, None)
            .into_iter()
            .map(|r| r.map(|r| r.events.len()).unwrap_or(0))
            .sum();
        let par = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let kept: Vec<_> = paths
            .iter()
            .map(|p| spikeflow_events::read_file(p, None))
            .collect();
        let keep = t.elapsed().as_secs_f64();
        drop(kept);
        println!(
            "  sequential, all kept: {:.2} us/file",
            keep * 1e6 / paths.len() as f64
        );
        let t = Instant::now();
        for p in &paths {
            let _ = std::fs::read(p).unwrap();
        }
        let io = t.elapsed().as_secs_f64();
        let k = paths.len() as f64;
        println!(
            "round {round}: sequential {:.2} us/file ({n} ev), parallel {:.2} us/file ({m} ev), fs::read only {:.2} us/file",
            seq * 1e6 / k,
            par * 1e6 / k,
            io * 1e6 / k
        );
    }
}

/// Decode-only throughput of one file held in memory (called from `main` when the
/// environment variable `DECODE_ONLY` is set).
#[allow(dead_code)]
fn decode_only(p: &std::path::Path) {
    let buf = std::fs::read(p).unwrap();
    let f = spikeflow_events::detect(p, &buf).unwrap();
    let mut best = f64::MAX;
    let mut n = 0;
    for _ in 0..20 {
        let t = Instant::now();
        n = spikeflow_events::decode(&buf, f).unwrap().events.len();
        best = best.min(t.elapsed().as_secs_f64());
    }
    let mut out = vec![0u8; buf.len() / 5 * 13 + 64];
    let mut best_into = f64::MAX;
    for _ in 0..20 {
        let t = Instant::now();
        let k = match f {
            spikeflow_events::Format::Nmnist => {
                spikeflow_events::nmnist::decode_into(&buf, &mut out).unwrap()
            }
            spikeflow_events::Format::Aedat2 => {
                spikeflow_events::aedat2::decode_into(&buf, &mut out)
                    .unwrap()
                    .0
            }
            _ => n,
        };
        assert_eq!(k, n);
        best_into = best_into.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{}: {n} events, {:.0} Mev/s; into a reused buffer {:.0} Mev/s",
        p.display(),
        n as f64 / best / 1e6,
        n as f64 / best_into / 1e6
    );
}
