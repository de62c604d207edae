//! SIMD byte-shuffle decoder for N-MNIST's plain 40-bit events (x86-64 SSSE3).
//!
//! An N-MNIST event `x, y, p|t[22:16], t[15:8], t[7:0]` becomes the 13-byte record
//! `x, 0, y, 0, t[7:0], t[15:8], t[22:16], 0, 0, 0, 0, 0, p`: every output byte is an input
//! byte, a zero, the high byte with its polarity bit cleared, or that bit alone. So 16
//! output bytes at a time are one `pshufb` of a 16-byte input window plus two masks; the
//! pattern repeats every 16 events (80 input bytes, 208 output bytes = 13 vectors). This is
//! the crate's only `unsafe` code: unaligned vector loads and stores, each within a slice
//! whose length is checked before the loop. The scalar decoder in `nmnist.rs` is the
//! reference, and tests compare the two on every input length and byte pattern.

/// Events per block: after 16 events input and output offsets line up again.
pub const BLOCK_EVENTS: usize = 16;
const IN_BLOCK: usize = BLOCK_EVENTS * 5;
const OUT_BLOCK: usize = BLOCK_EVENTS * 13;
const CHUNKS: usize = OUT_BLOCK / 16;
/// Input bytes past a block that its last 16-byte window reads (the window of the last
/// output chunk starts at event 14 and reads 16 bytes; only 10 of them belong to the block).
pub const IN_SLACK: usize = 5 * (((CHUNKS - 1) * 16) / 13) + 16 - IN_BLOCK;

/// Per output chunk: the shuffle indices (0x80 = zero), the bytes kept from the shuffle
/// (0x7f on the timestamp's high byte, 0 on the polarity byte), the polarity byte's place
/// (0x01) and the `y` bytes' places (0xff, to spot overflow markers, `y == 240`).
struct Tables {
    shuffle: [[u8; 16]; CHUNKS],
    keep: [[u8; 16]; CHUNKS],
    polarity: [[u8; 16]; CHUNKS],
    y: [[u8; 16]; CHUNKS],
}

const fn tables() -> Tables {
    let mut t = Tables {
        shuffle: [[0; 16]; CHUNKS],
        keep: [[0; 16]; CHUNKS],
        polarity: [[0; 16]; CHUNKS],
        y: [[0; 16]; CHUNKS],
    };
    let mut k = 0;
    while k < CHUNKS {
        let first_event = (k * 16) / 13;
        let mut j = 0;
        while j < 16 {
            let o = k * 16 + j;
            let rel = 5 * (o / 13 - first_event); // event's first byte within the window
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

static TABLES: Tables = tables();

/// Whether the SSSE3 decoder can run on this CPU (checked once, cached by std).
#[inline]
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("ssse3")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Decodes whole blocks of [`BLOCK_EVENTS`] plain events (no overflow handling) from `buf`
/// into `out`, as many as fit with [`IN_SLACK`] input bytes to spare. Returns the number
/// of events decoded (a multiple of [`BLOCK_EVENTS`]; 0 when SSSE3 is missing) and whether
/// any of them was an overflow marker (`y == 240`), in which case the caller redoes the
/// file with the general decoder.
pub fn nmnist_plain(buf: &[u8], out: &mut [u8]) -> (usize, bool) {
    let blocks = (buf.len().saturating_sub(IN_SLACK) / IN_BLOCK).min(out.len() / OUT_BLOCK);
    if blocks == 0 || !available() {
        return (0, false);
    }
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: SSSE3 is present (checked above); `blocks` blocks and their slack fit
        // `buf` and `out` (checked by the computation of `blocks`).
        let marker = unsafe { x86::nmnist_blocks(buf, out, blocks) };
        (blocks * BLOCK_EVENTS, marker)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        (0, false)
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{CHUNKS, IN_BLOCK, IN_SLACK, OUT_BLOCK, TABLES};
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU has SSSE3; `buf.len() >= blocks * IN_BLOCK + IN_SLACK` and
    /// `out.len() >= blocks * OUT_BLOCK`.
    #[target_feature(enable = "ssse3")]
    pub(super) unsafe fn nmnist_blocks(buf: &[u8], out: &mut [u8], blocks: usize) -> bool {
        assert!(buf.len() >= blocks * IN_BLOCK + IN_SLACK && out.len() >= blocks * OUT_BLOCK);
        let load = |t: &[u8; 16]| unsafe { _mm_loadu_si128(t.as_ptr().cast()) };
        let mut shuffle = [_mm_setzero_si128(); CHUNKS];
        let mut keep = shuffle;
        let mut polarity = shuffle;
        let mut y = shuffle;
        for k in 0..CHUNKS {
            shuffle[k] = load(&TABLES.shuffle[k]);
            keep[k] = load(&TABLES.keep[k]);
            polarity[k] = load(&TABLES.polarity[k]);
            y[k] = load(&TABLES.y[k]);
        }
        let zero = _mm_setzero_si128();
        let marker_y = _mm_set1_epi8(240u8 as i8);
        let mut markers = zero;
        let src = buf.as_ptr();
        let dst = out.as_mut_ptr();
        for b in 0..blocks {
            for k in 0..CHUNKS {
                let window = (k * 16) / 13 * 5;
                // SAFETY: b * IN_BLOCK + window + 16 <= blocks * IN_BLOCK + IN_SLACK and
                // b * OUT_BLOCK + k * 16 + 16 <= blocks * OUT_BLOCK (asserted above).
                let v = unsafe { _mm_loadu_si128(src.add(b * IN_BLOCK + window).cast()) };
                let v = _mm_shuffle_epi8(v, shuffle[k]);
                let p = _mm_and_si128(_mm_cmpgt_epi8(zero, v), polarity[k]);
                let r = _mm_or_si128(_mm_and_si128(v, keep[k]), p);
                let m = _mm_and_si128(_mm_cmpeq_epi8(v, marker_y), y[k]);
                markers = _mm_or_si128(markers, m);
                unsafe { _mm_storeu_si128(dst.add(b * OUT_BLOCK + k * 16).cast(), r) };
            }
        }
        _mm_movemask_epi8(markers) != 0
    }
}
