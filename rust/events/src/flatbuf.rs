//! A minimal, fully bounds-checked FlatBuffers reader for the two AEDAT 4 tables we need
//! (`IOHeader` and `EventPacket`). Every access is checked and returns an error instead
//! of reading out of bounds, so untrusted files can never cause undefined behaviour;
//! there is no `unsafe` here (the `flatbuffers` crate's accessors are `unsafe` without
//! generated verifiers, and the schemas are tiny).

/// Why a FlatBuffer could not be read.
pub type FbResult<T> = std::result::Result<T, String>;

fn read<const N: usize>(buf: &[u8], at: usize) -> FbResult<[u8; N]> {
    buf.get(at..at.checked_add(N).ok_or("offset overflow")?)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| {
            format!(
                "flatbuffer read of {N} bytes at {at} is out of bounds ({} bytes)",
                buf.len()
            )
        })
}

pub(crate) fn u32_at(buf: &[u8], at: usize) -> FbResult<u32> {
    read::<4>(buf, at).map(u32::from_le_bytes)
}

/// A table inside a buffer.
#[derive(Debug, Clone, Copy)]
pub struct Table<'a> {
    buf: &'a [u8],
    pos: usize,
    vtable: usize,
    vt_len: usize,
}

impl<'a> Table<'a> {
    /// The root table of a (non size-prefixed) buffer.
    pub fn root(buf: &'a [u8]) -> FbResult<Self> {
        let off = u32_at(buf, 0)? as usize;
        Self::at(buf, off)
    }

    /// The table at byte `pos`.
    pub fn at(buf: &'a [u8], pos: usize) -> FbResult<Self> {
        let soff = i32::from_le_bytes(read::<4>(buf, pos)?) as i64;
        let vtable = pos as i64 - soff;
        if vtable < 0 || vtable as usize >= buf.len() {
            return Err(format!("vtable offset {vtable} out of bounds"));
        }
        let vtable = vtable as usize;
        let vt_len = u16::from_le_bytes(read::<2>(buf, vtable)?) as usize;
        if vt_len < 4 || vtable + vt_len > buf.len() {
            return Err(format!(
                "vtable of length {vt_len} at {vtable} out of bounds"
            ));
        }
        Ok(Self {
            buf,
            pos,
            vtable,
            vt_len,
        })
    }

    fn field(&self, slot: usize) -> FbResult<Option<usize>> {
        let entry = 4 + 2 * slot;
        if entry + 2 > self.vt_len {
            return Ok(None);
        }
        let off = u16::from_le_bytes(read::<2>(self.buf, self.vtable + entry)?) as usize;
        Ok(if off == 0 { None } else { Some(self.pos + off) })
    }

    /// A scalar `i32` field, or `default` when absent.
    pub fn i32(&self, slot: usize, default: i32) -> FbResult<i32> {
        match self.field(slot)? {
            Some(at) => read::<4>(self.buf, at).map(i32::from_le_bytes),
            None => Ok(default),
        }
    }

    /// A scalar `i64` field, or `default` when absent.
    pub fn i64(&self, slot: usize, default: i64) -> FbResult<i64> {
        match self.field(slot)? {
            Some(at) => read::<8>(self.buf, at).map(i64::from_le_bytes),
            None => Ok(default),
        }
    }

    /// A vector field of `elem`-byte elements: its bytes, or `None` when absent.
    pub fn vector(&self, slot: usize, elem: usize) -> FbResult<Option<&'a [u8]>> {
        let Some(at) = self.field(slot)? else {
            return Ok(None);
        };
        let start = at
            .checked_add(u32_at(self.buf, at)? as usize)
            .ok_or("vector offset overflow")?;
        let n = u32_at(self.buf, start)? as usize;
        let bytes = n.checked_mul(elem).ok_or("vector length overflow")?;
        let data = start + 4;
        self.buf
            .get(data..data.checked_add(bytes).ok_or("vector length overflow")?)
            .map(Some)
            .ok_or_else(|| format!("vector of {n} elements at {start} runs past the buffer end"))
    }

    /// A string field (lossy UTF-8), or `None` when absent.
    pub fn string(&self, slot: usize) -> FbResult<Option<String>> {
        Ok(self
            .vector(slot, 1)?
            .map(|b| String::from_utf8_lossy(b).into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hand_built_table() {
        // root offset -> table at 12; vtable at 4: [len 8, tbl 12, slot0 @4, slot1 @8]
        let mut b = vec![12, 0, 0, 0, 8, 0, 12, 0, 4, 0, 8, 0];
        b.extend_from_slice(&8i32.to_le_bytes()); // soffset: 12 - 8 = 4
        b.extend_from_slice(&(-7i32).to_le_bytes());
        b.extend_from_slice(&4u32.to_le_bytes()); // vector at 20 + 4 = 24
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(b"hi");
        let t = Table::root(&b).unwrap();
        assert_eq!(t.i32(0, 0).unwrap(), -7);
        assert_eq!(t.string(1).unwrap().as_deref(), Some("hi"));
        assert_eq!(t.i64(2, 42).unwrap(), 42);
        let mut bad = b.clone();
        bad[24] = 200;
        assert!(Table::root(&bad).unwrap().string(1).is_err());
        assert!(Table::root(&[255, 255, 255, 255]).is_err());
    }
}
