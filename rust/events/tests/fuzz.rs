//! Mutation fuzzing of every decoder: real files (and synthetic AEDAT 3.1 / AEDAT 4
//! files) with random bit flips, byte overwrites with boundary values, truncations,
//! insertions and deletions. Every case must return `Ok` or a `FormatError` whose offset
//! lies within the input — never panic, hang or allocate wildly.
//!
//! CI runs a small sample (default 3000 cases). The documented large run:
//! `SPIKEFLOW_FUZZ_CASES=100000 cargo test -p spikeflow-events --release --test fuzz -- --nocapture`
mod common;
use spikeflow_events::{decode, decode_auto, Format};
use std::path::Path;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seeds() -> Vec<(String, Vec<u8>, Format)> {
    let mut out = Vec::new();
    // synthetic AEDAT 3.1
    let mut a3 = b"#!AER-DAT3.1\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n".to_vec();
    for k in 0..6i32 {
        let n = 40i32;
        let (ty, size) = if k % 3 == 2 {
            (2i16, 12i32)
        } else {
            (1i16, 8i32)
        };
        for v in [ty as i32 & 0xffff | (1 << 16), size, 4, k, n, n, n] {
            a3.extend_from_slice(&v.to_le_bytes());
        }
        for i in 0..n {
            let d: u32 = ((i as u32 % 128) << 17) | ((i as u32 % 100) << 2) | 3;
            a3.extend_from_slice(&d.to_le_bytes());
            a3.extend_from_slice(&(i * 10).to_le_bytes());
            a3.extend(std::iter::repeat_n(0u8, size as usize - 8));
        }
    }
    out.push(("synthetic.aedat".into(), a3, Format::Aedat3));
    let ev: Vec<_> = (0..600)
        .map(|i| (i as i64 * 3, (i % 64) as i16, (i % 48) as i16, i % 2 == 0))
        .collect();
    out.push((
        "lz4.aedat4".into(),
        common::aedat4_file(1, &ev, 150),
        Format::Aedat4,
    ));
    out.push((
        "zstd.aedat4".into(),
        common::aedat4_file(3, &ev, 150),
        Format::Aedat4,
    ));
    out.push((
        "plain.aedat4".into(),
        common::aedat4_file(0, &ev, 150),
        Format::Aedat4,
    ));
    let Some(root) = common::data_root() else {
        return out;
    };
    let real: [(&str, Format, usize); 7] = [
        ("nmnist/unlabeled/sample_nmnist.bin", Format::Nmnist, 30_000),
        (
            "events/aedat2/alex_walking_again.aedat",
            Format::Aedat2,
            24_000,
        ),
        (
            "events/aedat2/sample_aedat_header.aedat",
            Format::Aedat2,
            24_000,
        ),
        ("events/aedat4/sample.aedat4", Format::Aedat4, 40_000),
        ("events/prophesee/evt2_sample.raw", Format::Evt2, 24_000),
        ("events/prophesee/evt3_sample.raw", Format::Evt3, 24_000),
        ("events/prophesee/sample_ncars.dat", Format::Dat, 24_000),
    ];
    for (rel, f, keep) in real {
        let p = root.join(rel);
        let b = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let n = b.len().min(keep);
        out.push((rel.to_string(), b[..n].to_vec(), f));
    }
    out
}

const INTERESTING: [u32; 10] = [
    0,
    1,
    0x7f,
    0x80,
    0xff,
    0x7fff,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
];

fn mutate(rng: &mut Rng, src: &[u8]) -> Vec<u8> {
    let mut b = src.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(7) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            1 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] = rng.next() as u8;
            }
            2 if b.len() >= 4 => {
                let i = rng.below(b.len() - 3);
                let v = INTERESTING[rng.below(INTERESTING.len())];
                b[i..i + 4].copy_from_slice(&v.to_le_bytes());
            }
            3 => {
                let n = rng.below(b.len() + 1);
                b.truncate(n);
            }
            4 => {
                let i = rng.below(b.len() + 1);
                let n = 1 + rng.below(16);
                let ins: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                b.splice(i..i, ins);
            }
            5 if !b.is_empty() => {
                let i = rng.below(b.len());
                let n = (1 + rng.below(64)).min(b.len() - i);
                b.drain(i..i + n);
            }
            _ if b.len() > 8 => {
                // header region hits more checks
                let i = rng.below(b.len().min(2048));
                b[i] = rng.next() as u8;
            }
            _ => {}
        }
    }
    b
}

#[test]
fn fuzz_decoders() {
    let cases: usize = std::env::var("SPIKEFLOW_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let seeds = seeds();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut ok, mut err) = (0usize, 0usize);
    let start = std::time::Instant::now();
    for case in 0..cases {
        let (name, src, fmt) = &seeds[case % seeds.len()];
        let m = mutate(&mut rng, src);
        for r in [decode(&m, *fmt), decode_auto(Path::new(name), &m)] {
            match r {
                Ok(rec) => {
                    ok += 1;
                    assert!(
                        rec.events.len() <= m.len() * 12 + 1,
                        "{name}: too many events"
                    );
                }
                Err(e) => {
                    err += 1;
                    assert!(
                        e.offset as usize <= m.len(),
                        "{name}: offset {} past end {}",
                        e.offset,
                        m.len()
                    );
                    assert!(!e.reason.is_empty());
                }
            }
        }
    }
    println!(
        "fuzz: {cases} mutated inputs ({} decodes: {ok} ok, {err} FormatError) over {} seeds in {:.1} s",
        ok + err,
        seeds.len(),
        start.elapsed().as_secs_f64()
    );
}
