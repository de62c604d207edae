//! The decoded event buffer: packed 13-byte records laid out exactly like Tonic's
//! `events_struct` numpy dtype (`x: <i2, y: <i2, t: <i8, p: bool`, no padding).

/// Size in bytes of one packed event record.
pub const RECORD_SIZE: usize = 13;

/// One decoded polarity event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Event {
    /// Column (pixel x).
    pub x: i16,
    /// Row (pixel y).
    pub y: i16,
    /// Timestamp in microseconds.
    pub t: i64,
    /// Polarity: `true` = ON (brightness increase).
    pub p: bool,
}

/// A growable buffer of events stored as packed little-endian records.
///
/// The byte layout is the numpy dtype
/// `[("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "?")]`, so the bytes can be
/// handed to numpy without any conversion.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Events {
    bytes: Vec<u8>,
}

impl Events {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty buffer with room for `n` events.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(n.saturating_mul(RECORD_SIZE)),
        }
    }

    /// [`Events::with_capacity`] for a decoder of an input of `len` bytes: an error, not
    /// an abort, when the room cannot be allocated.
    pub fn try_with_capacity(n: usize, len: usize) -> crate::error::Result<Self> {
        let mut bytes = Vec::new();
        n.checked_mul(RECORD_SIZE)
            .and_then(|b| bytes.try_reserve_exact(b).ok())
            .ok_or_else(|| crate::error::FormatError::too_large(len, "the events"))?;
        Ok(Self { bytes })
    }

    /// `n` zeroed records for a decoder of an input of `len` bytes, fallibly. Below 1 GiB
    /// the system's zeroed allocation is used (fresh pages are not touched until written).
    pub fn zeroed_records(n: usize, len: usize) -> crate::error::Result<Vec<u8>> {
        let too_large = || crate::error::FormatError::too_large(len, "the events");
        let bytes = n.checked_mul(RECORD_SIZE).ok_or_else(too_large)?;
        if bytes < 1 << 30 {
            return Ok(vec![0u8; bytes]);
        }
        let mut v = Vec::new();
        v.try_reserve_exact(bytes).map_err(|_| too_large())?;
        v.resize(bytes, 0);
        Ok(v)
    }

    /// Appends one event.
    #[inline(always)]
    pub fn push(&mut self, x: i16, y: i16, t: i64, p: bool) {
        let mut r = [0u8; RECORD_SIZE];
        r[0..2].copy_from_slice(&x.to_le_bytes());
        r[2..4].copy_from_slice(&y.to_le_bytes());
        r[4..12].copy_from_slice(&t.to_le_bytes());
        r[12] = p as u8;
        self.bytes.extend_from_slice(&r);
    }

    /// Appends `n` records produced by `fill`, which writes record `i` into its 13-byte
    /// slot and returns whether to keep it (dropped slots are reused). Faster than `push`
    /// for fixed-size input records: one allocation, no per-event capacity checks.
    #[inline]
    pub fn extend_with(
        &mut self,
        n: usize,
        mut fill: impl FnMut(usize, &mut [u8; RECORD_SIZE]) -> bool,
    ) {
        let start = self.bytes.len();
        self.bytes.resize(start + n * RECORD_SIZE, 0);
        let mut w = start;
        for i in 0..n {
            let slot: &mut [u8; RECORD_SIZE] = (&mut self.bytes[w..w + RECORD_SIZE])
                .try_into()
                .expect("slot of RECORD_SIZE bytes");
            if fill(i, slot) {
                w += RECORD_SIZE;
            }
        }
        self.bytes.truncate(w);
    }

    /// Writes one record into a slot (used with [`Events::extend_with`]).
    #[inline(always)]
    pub fn write(slot: &mut [u8; RECORD_SIZE], x: i16, y: i16, t: i64, p: bool) {
        slot[0..2].copy_from_slice(&x.to_le_bytes());
        slot[2..4].copy_from_slice(&y.to_le_bytes());
        slot[4..12].copy_from_slice(&t.to_le_bytes());
        slot[12] = p as u8;
    }

    /// Writes one event as record `w` of the packed buffer `out` (which must hold it).
    #[inline(always)]
    pub fn put(out: &mut [u8], w: usize, x: i16, y: i16, t: i64, p: bool) {
        let r: &mut [u8; RECORD_SIZE] = (&mut out[w * RECORD_SIZE..(w + 1) * RECORD_SIZE])
            .try_into()
            .expect("13-byte slot");
        Self::write_record(r, x, y, t, p);
    }

    /// Writes one event into a 13-byte record slot (for decoders that walk the output with
    /// `chunks_exact_mut`, which spares the per-event bounds check of [`Events::put`]).
    #[inline(always)]
    pub fn write_record(r: &mut [u8; RECORD_SIZE], x: i16, y: i16, t: i64, p: bool) {
        // two overlapping 8-byte stores: x, y, t[0..4] at byte 0; t[1..8], p at byte 5
        let lo = x as u16 as u64 | (y as u16 as u64) << 16 | (t as u64) << 32;
        let hi = (t as u64) >> 8 | (p as u64) << 56;
        r[0..8].copy_from_slice(&lo.to_le_bytes());
        r[5..13].copy_from_slice(&hi.to_le_bytes());
    }

    /// Wraps packed records (length must be a multiple of [`RECORD_SIZE`]).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        assert_eq!(bytes.len() % RECORD_SIZE, 0, "packed records must be whole");
        Self { bytes }
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.bytes.len() / RECORD_SIZE
    }

    /// Whether there are no events.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The `i`-th event, if any.
    pub fn get(&self, i: usize) -> Option<Event> {
        let r = self.bytes.get(i * RECORD_SIZE..(i + 1) * RECORD_SIZE)?;
        Some(Event {
            x: i16::from_le_bytes([r[0], r[1]]),
            y: i16::from_le_bytes([r[2], r[3]]),
            t: i64::from_le_bytes([r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11]]),
            p: r[12] != 0,
        })
    }

    /// Iterates over the events.
    pub fn iter(&self) -> impl Iterator<Item = Event> + '_ {
        (0..self.len()).map(move |i| self.get(i).expect("index in range"))
    }

    /// Moves all events of `other` to the end of `self`.
    pub fn append(&mut self, other: &mut Events) {
        self.bytes.append(&mut other.bytes);
    }

    /// The packed records.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Consumes the buffer, returning the packed records.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

impl FromIterator<Event> for Events {
    fn from_iter<I: IntoIterator<Item = Event>>(iter: I) -> Self {
        let mut ev = Events::new();
        for e in iter {
            ev.push(e.x, e.y, e.t, e.p);
        }
        ev
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_too_large_for_memory_is_an_error() {
        // 2^50 events (14.6 PB) cannot be allocated; usize::MAX events overflow the size
        for n in [1usize << 50, usize::MAX / 2] {
            let e = Events::try_with_capacity(n, 123).unwrap_err();
            assert!(e.too_large && e.reason.contains("123-byte input"), "{e:?}");
            assert!(Events::zeroed_records(n, 123).unwrap_err().too_large);
        }
        assert_eq!(
            Events::zeroed_records(3, 15).unwrap().len(),
            3 * RECORD_SIZE
        );
        assert!(Events::try_with_capacity(3, 15).unwrap().is_empty());
    }

    #[test]
    fn roundtrip_record() {
        let mut ev = Events::new();
        ev.push(-3, 700, 1 << 40, true);
        ev.push(5, 6, 7, false);
        assert_eq!(ev.len(), 2);
        assert_eq!(ev.as_bytes().len(), 26);
        assert_eq!(
            ev.get(0),
            Some(Event {
                x: -3,
                y: 700,
                t: 1 << 40,
                p: true
            })
        );
        assert_eq!(ev.iter().nth(1).unwrap().t, 7);
        assert_eq!(ev.get(2), None);
    }

    #[test]
    fn put_writes_exactly_one_record() {
        // neighbours must survive the overlapping stores; extreme values in every field
        let cases = [
            (i16::MIN, i16::MAX, i64::MIN, true),
            (-1, 0, -1, false),
            (33, 33, (1 << 23) - 1, true),
            (i16::MAX, -1, i64::MAX, false),
        ];
        for (x, y, t, p) in cases {
            let mut buf = vec![0xAAu8; 3 * RECORD_SIZE];
            Events::put(&mut buf, 1, x, y, t, p);
            assert!(buf[..RECORD_SIZE].iter().all(|&b| b == 0xAA));
            assert!(buf[2 * RECORD_SIZE..].iter().all(|&b| b == 0xAA));
            let mut want = Events::new();
            want.push(x, y, t, p);
            assert_eq!(&buf[RECORD_SIZE..2 * RECORD_SIZE], want.as_bytes());
            let ev = Events::from_bytes(buf[RECORD_SIZE..2 * RECORD_SIZE].to_vec());
            assert_eq!(ev.get(0), Some(Event { x, y, t, p }));
        }
    }
}
