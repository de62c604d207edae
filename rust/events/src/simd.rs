//! SIMD byte-shuffle decoders (x86-64) for N-MNIST's plain 40-bit events and, at the end,
//! DVS128 AEDAT 2.0 records ([`aedat2_dvs128_at`]).
//!
//! An N-MNIST event `x, y, p|t[22:16], t[15:8], t[7:0]` becomes the 13-byte record
//! `x, 0, y, 0, t[7:0], t[15:8], t[22:16], 0, 0, 0, 0, 0, p`: every output byte is an input
//! byte, a zero, the high time byte with its polarity bit cleared, or that bit alone. So a
//! vector of output bytes is one byte permutation of an input window plus two masks. The
//! pattern repeats every `W` events for a vector of `W` bytes (13 vectors of output per `W`
//! events, since 13·W output bytes = W records): 16 events for SSSE3 (`pshufb`), 64 for
//! AVX-512 VBMI (`vpermb`, ~2x the SSSE3 loop). This module is the crate's only `unsafe` code:
//! unaligned vector loads and stores, each within a slice whose length is checked before
//! the loop. The scalar decoder in `nmnist.rs` is the reference, and tests compare every
//! level with it on every input length and byte pattern.
// the tables and their helpers serve only the x86-64 loops (and the tests)
#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]

/// Output vectors per block (13·W output bytes = W records of 13 bytes).
const CHUNKS: usize = 13;

/// Per output vector `k` of a block of `W` events: where each output byte comes from in
/// the input window (0x80 = a zero byte), the bits kept of it (0x7f on the timestamp's high
/// byte, 0 on the polarity byte), the polarity byte's places (0x01) and the `y` bytes'
/// places (0xff, to spot overflow markers, `y == 240`). The window of vector `k` starts at
/// the first event it touches, [`window`]`(W, k)`.
struct Tables<const W: usize> {
    shuffle: [[u8; W]; CHUNKS],
    keep: [[u8; W]; CHUNKS],
    polarity: [[u8; W]; CHUNKS],
    y: [[u8; W]; CHUNKS],
}

/// Input offset of the window of output vector `k` in a block of `w` events.
const fn window(w: usize, k: usize) -> usize {
    (k * w) / 13 * 5
}

/// Input bytes of a block of `w` events that the last window reads past the block, for a
/// window of `read` bytes.
const fn slack(w: usize, read: usize) -> usize {
    (window(w, CHUNKS - 1) + read).saturating_sub(5 * w)
}

const fn tables<const W: usize>() -> Tables<W> {
    let mut t = Tables {
        shuffle: [[0; W]; CHUNKS],
        keep: [[0; W]; CHUNKS],
        polarity: [[0; W]; CHUNKS],
        y: [[0; W]; CHUNKS],
    };
    let mut k = 0;
    while k < CHUNKS {
        let mut j = 0;
        while j < W {
            let o = k * W + j;
            let rel = 5 * (o / 13) - window(W, k); // the event's first byte in the window
            let (src, keep, pol, y) = match o % 13 {
                0 => (rel, 0xff, 0, 0),        // x
                2 => (rel + 1, 0xff, 0, 0xff), // y
                4 => (rel + 4, 0xff, 0, 0),    // t[7:0]
                5 => (rel + 3, 0xff, 0, 0),    // t[15:8]
                6 => (rel + 2, 0x7f, 0, 0),    // t[22:16], polarity bit cleared
                12 => (rel + 2, 0, 1, 0),      // p = top bit of that byte
                _ => (0x80, 0xff, 0, 0),       // zero
            };
            t.shuffle[k][j] = src as u8;
            t.keep[k][j] = keep;
            t.polarity[k][j] = pol;
            t.y[k][j] = y;
            j += 1;
        }
        k += 1;
    }
    t
}

/// Bit `j` set where byte `j` of `v` is nonzero (`nonzero`) or has its top bit clear
/// (`high_clear`, i.e. a shuffle index that takes an input byte).
const fn bits(v: &[u8; 64], nonzero: bool, high_clear: bool) -> u64 {
    let mut m = 0u64;
    let mut j = 0;
    while j < 64 {
        let hit = (nonzero && v[j] != 0) || (high_clear && v[j] & 0x80 == 0);
        if hit {
            m |= 1 << j;
        }
        j += 1;
    }
    m
}

/// The masks of the AVX-512 loop: bytes taken from the window, polarity bytes, `y` bytes.
struct Masks {
    take: [u64; CHUNKS],
    polarity: [u64; CHUNKS],
    y: [u64; CHUNKS],
}

const fn masks(t: &Tables<64>) -> Masks {
    let mut m = Masks {
        take: [0; CHUNKS],
        polarity: [0; CHUNKS],
        y: [0; CHUNKS],
    };
    let mut k = 0;
    while k < CHUNKS {
        m.take[k] = bits(&t.shuffle[k], false, true);
        m.polarity[k] = bits(&t.polarity[k], true, false);
        m.y[k] = bits(&t.y[k], true, false);
        k += 1;
    }
    m
}

static TABLES_16: Tables<16> = tables();
static TABLES_64: Tables<64> = tables();
static MASKS_64: Masks = masks(&TABLES_64);

/// Instruction-set levels of the decoder, slowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// No SIMD: the caller's scalar loop does everything.
    Scalar,
    /// SSSE3 `pshufb`, blocks of 16 events.
    Ssse3,
    /// AVX-512 VBMI `vpermb`, blocks of 64 events (then SSSE3 for the rest).
    Avx512Vbmi,
}

/// The best level this CPU runs (checked once, cached by std).
pub fn best_level() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512vbmi") && std::is_x86_feature_detected!("avx512bw")
        {
            return Level::Avx512Vbmi;
        }
        if std::is_x86_feature_detected!("ssse3") {
            return Level::Ssse3;
        }
    }
    Level::Scalar
}

/// Decodes whole blocks of plain events from `buf` into `out` with instructions up to
/// `level` (clamped to what the CPU has), as many blocks as fit with the last window's
/// slack to spare. Returns the number of events decoded (the rest is the caller's) and
/// whether any of them was an overflow marker (`y == 240`), in which case the caller redoes
/// the file with the general decoder.
pub fn nmnist_plain_at(level: Level, buf: &[u8], out: &mut [u8]) -> (usize, bool) {
    #[cfg(target_arch = "x86_64")]
    {
        x86::nmnist_plain(level.min(best_level()), buf, out)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (level, buf, out);
        (0, false)
    }
}

/// Whole blocks of `w` events that fit `buf` (with the slack of `read`-byte windows) and
/// `out`.
fn blocks(w: usize, read: usize, buf: &[u8], out: &[u8]) -> usize {
    (buf.len().saturating_sub(slack(w, read)) / (5 * w)).min(out.len() / (13 * w))
}

/// Output byte sources of a block of 8 DVS128 AEDAT 2.0 records (104 output bytes, as
/// two `vpermi2b` index vectors of 64): indices 0..63 pick a byte of the 8 input records
/// (big-endian address, then timestamp), 64..127 a byte of the derived vector, whose
/// record `r` holds `x, y, p, wraps[7:0], wraps[15:8], 0, 0, 0` at bytes `8r..8r+8`.
const AEDAT2_INDEX: [[u8; 64]; 2] = aedat2_index();

const fn aedat2_index() -> [[u8; 64]; 2] {
    let mut t = [[0u8; 64]; 2];
    let mut j = 0;
    while j < 104 {
        let (r, f) = (j / 13, j % 13);
        let (input, derived) = (8 * r, 64 + 8 * r);
        t[j / 64][j % 64] = (match f {
            0 => derived,     // x (low byte; the high byte is 0)
            2 => derived + 1, // y
            4 => input + 7,   // t[7:0] ... t[31:24]: the big-endian timestamp reversed
            5 => input + 6,
            6 => input + 5,
            7 => input + 4,
            8 => derived + 3, // t[39:32], t[47:40]: the wrap-around count
            9 => derived + 4,
            12 => derived + 2, // p
            _ => derived + 5,  // a zero byte
        }) as u8;
        j += 1;
    }
    t
}

/// Decodes whole blocks of 8 DVS128 AEDAT 2.0 records (`data`: 8-byte records, address
/// then timestamp, big-endian) into `out` with AVX-512 VBMI when `level` allows and the CPU
/// has it, stopping before the first block that holds a special event (address bit 15) or
/// a timestamp wrap-around, which the caller's scalar loop handles. `prev` is the timestamp
/// before `data` and `wrap` the offset added to timestamps (a multiple of 2^32, below
/// 2^48). Every decoded record is kept, so the count returned is both the records read and
/// the events written (records `0..n` of `out`).
pub fn aedat2_dvs128_at(level: Level, data: &[u8], prev: u32, wrap: i64, out: &mut [u8]) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        if level.min(best_level()) >= Level::Avx512Vbmi && (0..1 << 48).contains(&wrap) {
            let blocks = (data.len() / 64).min(out.len() / 104);
            // SAFETY: the CPU has AVX-512 VBMI/BW (checked above); `blocks` blocks of 64 input
            // and 104 output bytes fit `data` and `out`.
            return unsafe { x86::aedat2_dvs128_avx512(data, prev, wrap, out, blocks) };
        }
    }
    let _ = (level, data, prev, wrap, out);
    0
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{
        blocks, slack, window, Level, AEDAT2_INDEX, CHUNKS, MASKS_64, TABLES_16, TABLES_64,
    };
    use std::arch::x86_64::*;

    /// [`super::aedat2_dvs128_at`]: `blocks` whole blocks at most.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F/BW/VBMI; `data` must hold `64 * blocks` bytes and `out`
    /// `104 * blocks`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    pub(super) unsafe fn aedat2_dvs128_avx512(
        data: &[u8],
        mut prev: u32,
        wrap: i64,
        out: &mut [u8],
        blocks: usize,
    ) -> usize {
        debug_assert!(data.len() >= 64 * blocks && out.len() >= 104 * blocks);
        // SAFETY: each index row is 64 bytes.
        let index_lo = unsafe { _mm512_loadu_si512(AEDAT2_INDEX[0].as_ptr().cast()) };
        let index_hi = unsafe { _mm512_loadu_si512(AEDAT2_INDEX[1].as_ptr().cast()) };
        let wraps = _mm512_set1_epi64((wrap >> 32) << 24);
        let low7 = _mm512_set1_epi64(0x7f);
        let one = _mm512_set1_epi64(1);
        let special = _mm512_set1_epi64(1 << 23); // address bit 15
        let half = _mm512_set1_epi64(1 << 31);
        // per 8-byte record: the big-endian timestamp (bytes 4..8) as a little-endian u32
        let ts_bytes = _mm512_set4_epi32(-1, 0x0c0d_0e0f, -1, 0x0405_0607);
        let tail_mask: __mmask64 = (1 << 40) - 1;
        for b in 0..blocks {
            // SAFETY: block `b < blocks` lies within `data` (caller's contract).
            let v = unsafe { _mm512_loadu_si512(data.as_ptr().add(64 * b).cast()) };
            if _mm512_test_epi64_mask(v, special) != 0 {
                return 8 * b;
            }
            let ts = _mm512_shuffle_epi8(v, ts_bytes);
            // each record's predecessor: the record before it, `prev` for the first
            let before = _mm512_alignr_epi64::<7>(ts, _mm512_set1_epi64(prev as i64));
            let back = _mm512_cmpgt_epu64_mask(before, ts)
                & _mm512_cmpgt_epu64_mask(_mm512_sub_epi64(before, ts), half);
            if back != 0 {
                return 8 * b;
            }
            let inv = _mm512_ternarylogic_epi64::<0x55>(v, v, v); // !v
            let x = _mm512_and_si512(_mm512_srli_epi64::<25>(inv), low7);
            let y = _mm512_slli_epi64::<8>(_mm512_and_si512(_mm512_srli_epi64::<16>(inv), low7));
            let p = _mm512_slli_epi64::<16>(_mm512_and_si512(_mm512_srli_epi64::<24>(inv), one));
            let derived = _mm512_or_si512(_mm512_or_si512(x, y), _mm512_or_si512(p, wraps));
            let lo = _mm512_permutex2var_epi8(v, index_lo, derived);
            let hi = _mm512_permutex2var_epi8(v, index_hi, derived);
            // SAFETY: output bytes `104 b .. 104 b + 104` lie within `out` (caller's contract);
            // the second store writes only its first 40 bytes.
            unsafe {
                let dst = out.as_mut_ptr().add(104 * b);
                _mm512_storeu_si512(dst.cast(), lo);
                _mm512_mask_storeu_epi8(dst.add(64).cast(), tail_mask, hi);
            }
            let last = 64 * b + 60;
            prev = u32::from_be_bytes([data[last], data[last + 1], data[last + 2], data[last + 3]]);
        }
        8 * blocks
    }

    /// Bytes the AVX-512 loop loads per window (a window spans at most 6 events, 30 bytes).
    pub(super) const AVX512_READ: usize = 32;

    /// [`super::nmnist_plain_at`] for a `level` the CPU has.
    pub(super) fn nmnist_plain(level: Level, buf: &[u8], out: &mut [u8]) -> (usize, bool) {
        let mut done = 0;
        let mut marker = false;
        if level >= Level::Avx512Vbmi {
            let blocks = blocks(64, AVX512_READ, buf, out);
            // SAFETY: the caller checked that the CPU has AVX-512 VBMI/BW; `blocks` blocks
            // and their slack fit `buf` and `out`.
            marker |= unsafe { nmnist_avx512(buf, out, blocks) };
            done = blocks * 64;
        }
        if level >= Level::Ssse3 {
            let (buf, out) = (&buf[done * 5..], &mut out[done * 13..]);
            let blocks = blocks(16, 16, buf, out);
            // SAFETY: the caller checked that the CPU has SSSE3; `blocks` blocks and their
            // slack fit.
            marker |= unsafe { nmnist_ssse3(buf, out, blocks) };
            done += blocks * 16;
        }
        (done, marker)
    }

    /// # Safety
    /// The CPU has SSSE3; `buf` and `out` hold `blocks` blocks of 16 events plus the slack.
    #[target_feature(enable = "ssse3")]
    pub(super) unsafe fn nmnist_ssse3(buf: &[u8], out: &mut [u8], blocks: usize) -> bool {
        if blocks == 0 {
            return false;
        }
        assert!(buf.len() >= blocks * 80 + slack(16, 16) && out.len() >= blocks * 208);
        let load = |t: &[u8; 16]| unsafe { _mm_loadu_si128(t.as_ptr().cast()) };
        let zero = _mm_setzero_si128();
        let marker_y = _mm_set1_epi8(240u8 as i8);
        let mut markers = zero;
        let (src, dst) = (buf.as_ptr(), out.as_mut_ptr());
        for b in 0..blocks {
            for k in 0..CHUNKS {
                // SAFETY: b * 80 + window + 16 <= blocks * 80 + slack and
                // b * 208 + k * 16 + 16 <= blocks * 208 (asserted above).
                let v = unsafe { _mm_loadu_si128(src.add(b * 80 + window(16, k)).cast()) };
                let v = _mm_shuffle_epi8(v, load(&TABLES_16.shuffle[k]));
                let p = _mm_and_si128(_mm_cmpgt_epi8(zero, v), load(&TABLES_16.polarity[k]));
                let r = _mm_or_si128(_mm_and_si128(v, load(&TABLES_16.keep[k])), p);
                let m = _mm_and_si128(_mm_cmpeq_epi8(v, marker_y), load(&TABLES_16.y[k]));
                markers = _mm_or_si128(markers, m);
                unsafe { _mm_storeu_si128(dst.add(b * 208 + k * 16).cast(), r) };
            }
        }
        _mm_movemask_epi8(markers) != 0
    }

    /// # Safety
    /// The CPU has AVX-512 VBMI and BW; `buf` and `out` hold `blocks` blocks of 64 events
    /// plus the slack.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    pub(super) unsafe fn nmnist_avx512(buf: &[u8], out: &mut [u8], blocks: usize) -> bool {
        if blocks == 0 {
            return false;
        }
        assert!(buf.len() >= blocks * 320 + slack(64, AVX512_READ) && out.len() >= blocks * 832);
        let load = |t: &[u8; 64]| unsafe { _mm512_loadu_si512(t.as_ptr().cast()) };
        let ones = _mm512_set1_epi8(1);
        let marker_y = _mm512_set1_epi8(240u8 as i8);
        let mut markers = 0u64;
        let (src, dst) = (buf.as_ptr(), out.as_mut_ptr());
        for b in 0..blocks {
            for k in 0..CHUNKS {
                // SAFETY: b * 320 + window + 32 <= blocks * 320 + slack and
                // b * 832 + k * 64 + 64 <= blocks * 832 (asserted above). Only the low 32
                // bytes of the register are indexed (every table index is below 30).
                let v = unsafe { _mm256_loadu_si256(src.add(b * 320 + window(64, k)).cast()) };
                let v = _mm512_castsi256_si512(v);
                let idx = load(&TABLES_64.shuffle[k]);
                let v = _mm512_maskz_permutexvar_epi8(MASKS_64.take[k], idx, v);
                let r = _mm512_and_si512(v, load(&TABLES_64.keep[k]));
                let p = _mm512_movepi8_mask(v) & MASKS_64.polarity[k];
                let r = _mm512_mask_mov_epi8(r, p, ones);
                markers |= _mm512_mask_cmpeq_epi8_mask(MASKS_64.y[k], v, marker_y);
                unsafe { _mm512_storeu_si512(dst.add(b * 832 + k * 64).cast(), r) };
            }
        }
        markers != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_their_events() {
        // every index a window uses lies inside the bytes it loads
        for k in 0..CHUNKS {
            assert!(TABLES_16.shuffle[k]
                .iter()
                .all(|&i| i == 0x80 || (i as usize) < 16));
            #[cfg(target_arch = "x86_64")]
            assert!(TABLES_64.shuffle[k]
                .iter()
                .all(|&i| i == 0x80 || (i as usize) < x86::AVX512_READ));
        }
        assert_eq!(slack(16, 16), 6);
    }
}
