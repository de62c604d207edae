//! Checkpoints: the whole [`Network`] (structure, weights, plastic and neuron state, queues,
//! random streams, recordings, counters) in one self-checking binary file, so that a run
//! continues bit-identically after a restart. No pickle, no code execution on load.
//!
//! Layout (all integers little endian; specified in `docs/checkpoint.md`):
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 10 | magic `SPIKEFLOW\0` |
//! | 10 | 4 | format version (u32), [`FORMAT_VERSION`] |
//! | 14 | 4 | flags (u32), 0 (no flag is defined; a reader refuses unknown ones) |
//! | 18 | 8 | `E`: length of the engine tag (u64) |
//! | 26 | 8 | `M`: length of the metadata (u64) |
//! | 34 | 8 | `P`: length of the engine payload (u64) |
//! | 42 | `E` | engine tag, UTF-8: `spikeflow-core <version>` (the payload's layout) |
//! | 42+E | `M` | metadata, UTF-8 (the Python side writes JSON there) |
//! | 42+E+M | `P` | engine payload: the `Network`, bincode 1.x (fixed-width ints, LE) |
//! | 42+E+M+P | 4 | CRC-32 (IEEE, as `zlib.crc32`) of every byte before it |
//!
//! Reading checks everything (magic, version, flags, lengths against the file's size, the
//! checksum, UTF-8, a payload decoded to its last byte with a size limit, the structure's
//! indices and lengths) before anything is returned, so a bad file is refused whole with a
//! [`CheckpointError`] naming the problem; nothing is half loaded and a corrupt length can
//! never allocate more than the file's size.
use crate::network::Network;
use bincode::Options;
use std::fmt;
use std::io::{self, Write};
use std::path::Path;

/// The first bytes of every checkpoint.
pub const MAGIC: &[u8; 10] = b"SPIKEFLOW\0";
/// Version of the container layout; bumped when the layout above changes.
pub const FORMAT_VERSION: u32 = 1;
/// Size of the fixed header (magic, version, flags, three lengths).
pub const HEADER_LEN: usize = 42;
/// Engine tag written by this build: payloads decode only with the same engine layout.
pub const ENGINE_TAG: &str = concat!("spikeflow-core ", env!("CARGO_PKG_VERSION"));

/// Why a checkpoint could not be written or read.
#[derive(Debug)]
pub enum CheckpointError {
    /// The file system refused (not found, permission, disk full, a directory, ...).
    Io(io::Error, String),
    /// The bytes are not a checkpoint this engine can load (the message says why).
    Format(String),
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointError::Io(e, what) => write!(f, "{what}: {e}"),
            CheckpointError::Format(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CheckpointError {}

fn bad<T>(msg: impl Into<String>) -> Result<T, CheckpointError> {
    Err(CheckpointError::Format(msg.into()))
}

/// The bincode configuration of the payload: fixed-width integers, little endian, and
/// (when reading) a byte limit.
fn codec() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
}

/// A writer that keeps a running CRC-32 and byte count of what passes through.
struct Crc<W> {
    inner: W,
    hasher: crc32fast::Hasher,
    written: u64,
}

impl<W: Write> Write for Crc<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Write the checkpoint of `net` with `meta` to `w`, streaming (no copy of the payload is
/// held in memory). Returns the number of bytes written.
pub fn write_to<W: Write>(net: &Network, meta: &str, w: W) -> Result<u64, CheckpointError> {
    let io_err = |e: io::Error| CheckpointError::Io(e, "writing the checkpoint".into());
    let payload_len = codec()
        .serialized_size(net)
        .map_err(|e| CheckpointError::Format(format!("cannot encode the network: {e}")))?;
    let mut w = Crc {
        inner: w,
        hasher: crc32fast::Hasher::new(),
        written: 0,
    };
    let mut header = Vec::with_capacity(HEADER_LEN + ENGINE_TAG.len());
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes());
    header.extend_from_slice(&(ENGINE_TAG.len() as u64).to_le_bytes());
    header.extend_from_slice(&(meta.len() as u64).to_le_bytes());
    header.extend_from_slice(&payload_len.to_le_bytes());
    header.extend_from_slice(ENGINE_TAG.as_bytes());
    w.write_all(&header).map_err(io_err)?;
    w.write_all(meta.as_bytes()).map_err(io_err)?;
    {
        let mut buffered = io::BufWriter::with_capacity(1 << 16, &mut w);
        codec()
            .serialize_into(&mut buffered, net)
            .map_err(|e| match *e {
                bincode::ErrorKind::Io(e) => io_err(e),
                other => CheckpointError::Format(format!("cannot encode the network: {other}")),
            })?;
        buffered.flush().map_err(io_err)?;
    }
    let crc = w.hasher.clone().finalize();
    w.inner.write_all(&crc.to_le_bytes()).map_err(io_err)?;
    w.inner.flush().map_err(io_err)?;
    Ok(w.written + 4)
}

/// The checkpoint of `net` with `meta`, in memory.
pub fn encode(net: &Network, meta: &str) -> Result<Vec<u8>, CheckpointError> {
    let mut out = Vec::new();
    write_to(net, meta, &mut out)?;
    Ok(out)
}

/// Write the checkpoint of `net` to `path` atomically: into a temporary file beside it,
/// synced, then renamed over `path` (an existing checkpoint survives a failed save).
pub fn save(net: &Network, meta: &str, path: &Path) -> Result<u64, CheckpointError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "checkpoint".into());
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let what = |verb: &str, p: &Path| format!("{verb} {}", p.display());
    let result = (|| {
        let file = std::fs::File::create(&tmp)
            .map_err(|e| CheckpointError::Io(e, what("cannot create", &tmp)))?;
        let n = write_to(net, meta, io::BufWriter::with_capacity(1 << 20, &file))?;
        file.sync_all()
            .map_err(|e| CheckpointError::Io(e, what("cannot write", &tmp)))?;
        std::fs::rename(&tmp, path)
            .map_err(|e| CheckpointError::Io(e, what("cannot write", path)))?;
        Ok(n)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Read and decode the checkpoint at `path`: the network and the metadata.
pub fn load(path: &Path) -> Result<(Network, String), CheckpointError> {
    let data = std::fs::read(path)
        .map_err(|e| CheckpointError::Io(e, format!("cannot read {}", path.display())))?;
    decode(&data)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// The parts of a checked container.
struct Parts<'a> {
    tag: &'a str,
    meta: &'a str,
    payload: &'a [u8],
}

/// Check the container (magic, version, flags, lengths, checksum, UTF-8) without decoding
/// the payload.
fn parts(data: &[u8]) -> Result<Parts<'_>, CheckpointError> {
    let len = data.len();
    if len == 0 {
        return bad("empty file: not a spikeflow checkpoint");
    }
    let m = len.min(MAGIC.len());
    if data[..m] != MAGIC[..m] {
        return bad("not a spikeflow checkpoint (bad magic)");
    }
    if len < HEADER_LEN {
        return bad(format!(
            "truncated at byte {len} of the {HEADER_LEN}-byte header"
        ));
    }
    let version = u32_at(data, 10);
    if version > FORMAT_VERSION {
        return bad(format!(
            "format version {version} is newer than this spikeflow ({FORMAT_VERSION}); upgrade spikeflow to read it"
        ));
    }
    if version == 0 {
        return bad("format version 0 does not exist (corrupt header)");
    }
    let flags = u32_at(data, 14);
    if flags != 0 {
        return bad(format!("unknown header flags {flags:#x} (corrupt header)"));
    }
    let (e, mm, p) = (u64_at(data, 18), u64_at(data, 26), u64_at(data, 34));
    let total = [e, mm, p, HEADER_LEN as u64 + 4]
        .iter()
        .try_fold(0u64, |a, &x| a.checked_add(x));
    let Some(total) = total else {
        return bad("section lengths overflow (corrupt header)");
    };
    if (len as u64) < total {
        return bad(format!("truncated at byte {len} of {total}"));
    }
    if (len as u64) > total {
        return bad(format!(
            "{} bytes after the end of the checkpoint ({total} bytes): corrupt or not a checkpoint",
            len as u64 - total
        ));
    }
    let body = len - 4;
    let stored = u32_at(data, body);
    let actual = crc32fast::hash(&data[..body]);
    if stored != actual {
        return bad(format!(
            "checksum mismatch (stored {stored:08x}, computed {actual:08x}): the file is corrupt"
        ));
    }
    let (e, mm) = (e as usize, mm as usize);
    let tag = std::str::from_utf8(&data[HEADER_LEN..HEADER_LEN + e])
        .map_err(|_| CheckpointError::Format("engine tag is not UTF-8 (corrupt)".into()))?;
    let meta = std::str::from_utf8(&data[HEADER_LEN + e..HEADER_LEN + e + mm])
        .map_err(|_| CheckpointError::Format("metadata is not UTF-8 (corrupt)".into()))?;
    Ok(Parts {
        tag,
        meta,
        payload: &data[HEADER_LEN + e + mm..body],
    })
}

/// Decode a checkpoint held in memory: the network and the metadata. Every check runs
/// before the network is returned.
pub fn decode(data: &[u8]) -> Result<(Network, String), CheckpointError> {
    let parts = parts(data)?;
    if parts.tag != ENGINE_TAG {
        return bad(format!(
            "written by {}, this is {ENGINE_TAG}: the engine state layouts differ; load it with that version",
            parts.tag
        ));
    }
    let net: Network = codec()
        .with_limit(parts.payload.len() as u64)
        .reject_trailing_bytes()
        .deserialize(parts.payload)
        .map_err(|e| CheckpointError::Format(format!("engine payload does not decode: {e}")))?;
    check(&net).map_err(|m| CheckpointError::Format(format!("inconsistent engine state: {m}")))?;
    Ok((net, parts.meta.to_string()))
}

/// Number of weights a projection stores (per synapse, or a convolution's kernel).
fn n_weights(pr: &crate::synapses::Projection) -> usize {
    match &pr.weights {
        crate::synapses::Weights::PerSynapse(w) => w.len(),
        crate::synapses::Weights::Uniform(_) => pr.n_synapses(),
    }
}

/// Structural checks of a decoded network (indices in range, lengths that agree), so that a
/// payload forged with a valid checksum is refused rather than crashing a later run.
fn check(net: &Network) -> Result<(), String> {
    use crate::model::PopKind;
    use crate::synapses::{Delays, Weights};
    let m = &net.model;
    let n_pops = m.pops.len();
    if let Some(dt) = m.dt {
        if !(dt.is_finite() && dt > 0.0) {
            return Err(format!("dt = {dt}"));
        }
    }
    let pop_n = |p: usize, what: &str| -> Result<usize, String> {
        m.pops
            .get(p)
            .map(|x| x.n)
            .ok_or_else(|| format!("{what} refers to population {p} of {n_pops}"))
    };
    for (i, p) in m.pops.iter().enumerate() {
        if p.outgoing.iter().any(|&k| k >= m.projs.len()) {
            return Err(format!("population {i} lists a missing projection"));
        }
        match &p.kind {
            PopKind::Neurons { dynamics, .. } if dynamics.n != p.n => {
                return Err(format!("population {i}: size {} vs {}", dynamics.n, p.n))
            }
            PopKind::SpikeSource { train }
                if train.ids.len() != train.times.len()
                    || train.ids.iter().any(|&x| x as usize >= p.n) =>
            {
                return Err(format!("spike source {i}: bad spike list"));
            }
            _ => {}
        }
    }
    for (k, pr) in m.projs.iter().enumerate() {
        let (n_pre, n_post) = (
            pop_n(pr.pre, "a projection")?,
            pop_n(pr.post, "a projection")?,
        );
        // Synapse lists (a convolution stores a kernel instead: its own geometry says how
        // many synapses it has, and its rows are checked by its code).
        let n_syn = pr.targets.len();
        if pr.n_synapses() == n_syn {
            let rows_ok = pr.row_ptr.len() == n_pre + 1
                && pr.row_ptr.first() == Some(&0)
                && pr.row_ptr.last().map(|&x| x as usize) == Some(n_syn)
                && pr.row_ptr.windows(2).all(|w| w[0] <= w[1]);
            if !rows_ok || pr.targets.iter().any(|&t| t as usize >= n_post) {
                return Err(format!("projection {k}: synapse indices out of range"));
            }
            if let Weights::PerSynapse(w) = &pr.weights {
                if w.len() != n_syn {
                    return Err(format!(
                        "projection {k}: {} weights for {n_syn} synapses",
                        w.len()
                    ));
                }
            }
        }
        if let Delays::Grouped { group_ptr, groups } = &pr.delays {
            let ok = group_ptr.len() == n_pre + 1
                && group_ptr.last().map(|&x| x as usize) == Some(groups.len())
                && group_ptr.windows(2).all(|w| w[0] <= w[1])
                && groups.iter().all(|g| g.end as usize <= n_syn);
            if !ok {
                return Err(format!("projection {k}: delay groups out of range"));
            }
        }
        if pr
            .learned
            .as_ref()
            .is_some_and(|l| l.len() != n_weights(pr))
        {
            return Err(format!(
                "projection {k}: learned weights of the wrong length"
            ));
        }
        if let Some(d) = pr.dopamine {
            pop_n(d, "a dopamine projection")?;
        }
    }
    for c in &m.currents {
        let n = pop_n(c.pop, "a current")?;
        if c.ids.iter().any(|&x| x as usize >= n) || c.times.len() != c.amplitudes.len() {
            return Err("a current source is out of range".into());
        }
    }
    for &p in &m.spike_probes {
        pop_n(p, "a spike recorder")?;
    }
    for v in &m.voltage_probes {
        let n = pop_n(v.pop, "a voltage recorder")?;
        if v.ids.iter().any(|&x| x as usize >= n) {
            return Err("a voltage recorder is out of range".into());
        }
    }
    if net.is_stale() {
        return Ok(()); // the state is rebuilt from the model before it is used
    }
    let s = net.state();
    if s.pops.len() != n_pops
        || s.plastic.len() != m.projs.len()
        || s.spike_records.len() != m.spike_probes.len()
        || s.voltages.len() != m.voltage_probes.len()
        || s.current_cursor.len() != m.currents.len()
    {
        return Err("state and structure disagree in size".into());
    }
    for (i, (ps, p)) in s.pops.iter().zip(&m.pops).enumerate() {
        if p.dynamics().is_some() && (ps.u.len() != p.n || ps.inbox.len() != p.n) {
            return Err(format!("population {i}: state of the wrong size"));
        }
    }
    crate::homeostasis::check_runtime(m, s)
}

/// Only the metadata of a checkpoint (container checked, payload not decoded).
pub fn read_meta(data: &[u8]) -> Result<String, CheckpointError> {
    parts(data).map(|p| p.meta.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::{ConnectSpec, Rule, Values};
    use crate::params::{NeuronSpec, Param};
    use crate::plasticity::{Pairing, StdpRule};

    fn stdp() -> StdpRule {
        StdpRule {
            tau_plus: 16.8,
            tau_minus: 33.7,
            a_plus: 0.01,
            a_minus: 0.012,
            w_min: 0.0,
            w_max: 5.0,
            mu: 0.0,
            pairing: Pairing::All,
            tau_x: 100.0,
            tau_y: 100.0,
            a3_plus: 0.0,
            a3_minus: 0.0,
            reward: None,
            learning_rate: 1.0,
            tables: Default::default(),
        }
    }

    fn build(dt: Option<f64>) -> Network {
        let mut net = Network::new(dt, 7).unwrap();
        let src = net.add_poisson(40, Param::Scalar(80.0), None).unwrap();
        let mut spec = NeuronSpec::lif(20.0, 0.0, 20.0, 10.0, 2.0);
        spec.i_e = Param::Scalar(300.0);
        let exc = net.add_population(30, spec, Some("exc".into())).unwrap();
        let c = ConnectSpec {
            rule: Rule::FixedProbability {
                p: 0.3,
                autapses: false,
            },
            weight: Values::Uniform {
                low: 0.5,
                high: 2.0,
            },
            delay: Values::Uniform {
                low: 0.5,
                high: 3.0,
            },
        };
        net.connect_plastic(src, exc, &c, Some(stdp()), None)
            .unwrap();
        net.connect(exc, exc, &c).unwrap();
        net.record_spikes(exc).unwrap();
        net.record_voltage(exc, Some(vec![0, 3]), &[1.0, 50.0, 150.0])
            .unwrap();
        net
    }

    fn fingerprint(net: &Network) -> Vec<u8> {
        // The encoding is a complete, deterministic picture of the network.
        encode(net, "").unwrap()
    }

    #[test]
    fn round_trip_continues_bit_identically() {
        for dt in [Some(0.1), None] {
            let mut a = build(dt);
            a.run(100.0).unwrap();
            let bytes = encode(&a, "{\"x\": 1}").unwrap();
            let (mut b, meta) = decode(&bytes).unwrap();
            assert_eq!(meta, "{\"x\": 1}");
            assert_eq!(fingerprint(&a), fingerprint(&b));
            a.run(100.0).unwrap();
            b.run(100.0).unwrap();
            assert_eq!(fingerprint(&a), fingerprint(&b));
            assert_eq!(a.spikes(0).unwrap().times, b.spikes(0).unwrap().times);
            assert!(!a.spikes(0).unwrap().times.is_empty());
            assert_eq!(a.weights(0).unwrap(), b.weights(0).unwrap());
        }
    }

    #[test]
    fn every_truncation_and_flip_is_refused() {
        let mut net = build(Some(0.1));
        net.run(20.0).unwrap();
        let bytes = encode(&net, "{}").unwrap();
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let step = (bytes.len() / 500).max(1);
        for at in (0..bytes.len()).step_by(step) {
            let mut b = bytes.clone();
            b[at] ^= 0x10;
            assert!(decode(&b).is_err(), "flip at {at}");
        }
    }

    #[test]
    fn messages_name_the_problem() {
        let net = build(None);
        let bytes = encode(&net, "").unwrap();
        let msg = |b: &[u8]| decode(b).err().unwrap().to_string();
        assert!(msg(&[]).contains("empty"));
        assert!(msg(b"hello world, this is not it").contains("bad magic"));
        let cut = bytes.len() - 10;
        assert_eq!(
            msg(&bytes[..cut]),
            format!("truncated at byte {cut} of {}", bytes.len())
        );
        let mut newer = bytes.clone();
        newer[10..14].copy_from_slice(&(FORMAT_VERSION + 2).to_le_bytes());
        assert!(msg(&newer).contains(&format!(
            "format version {} is newer than this spikeflow ({FORMAT_VERSION})",
            FORMAT_VERSION + 2
        )));
        let mut huge = bytes.clone();
        huge[34..42].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(msg(&huge).contains("overflow"));
        let mut flipped = bytes.clone();
        let mid = bytes.len() / 2;
        flipped[mid] ^= 1;
        assert!(msg(&flipped).contains("checksum"));
    }

    #[test]
    fn forged_payload_with_a_valid_checksum_is_refused_without_allocating() {
        // A huge length inside the payload, checksum recomputed: the size limit stops it.
        let net = build(Some(0.1));
        let mut bytes = encode(&net, "").unwrap();
        let start = HEADER_LEN + ENGINE_TAG.len();
        // Payload: dt (Option tag + f64), seed (u64), then the population count and the first
        // population's name length: make each of those lengths huge.
        for at in [start + 17, start + 25] {
            let mut b = bytes.clone();
            b[at..at + 8].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
            let body = b.len() - 4;
            let crc = crc32fast::hash(&b[..body]);
            b[body..].copy_from_slice(&crc.to_le_bytes());
            assert!(decode(&b).is_err());
        }
        bytes.truncate(bytes.len() - 1);
        assert!(decode(&bytes).is_err());
    }
}
