//! Per-pixel event filters that are inherently sequential (state per pixel), so they run
//! here rather than in numpy: a refractory filter and a background-activity (denoise)
//! filter. Both take the events' coordinates and times (time-sorted) and return a keep
//! mask. Coordinates outside the sensor are an error, never an out-of-bounds access.

/// Why a filter could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// Input slices of different lengths.
    #[error("x, y and t must have the same length (got {0}, {1}, {2})")]
    Lengths(usize, usize, usize),
    /// An event outside the sensor.
    #[error("event {index} at ({x}, {y}) is outside the {width}x{height} sensor")]
    OutOfBounds {
        /// Event index.
        index: usize,
        /// Column.
        x: i64,
        /// Row.
        y: i64,
        /// Sensor width.
        width: usize,
        /// Sensor height.
        height: usize,
    },
    /// Timestamps that go back in time.
    #[error(
        "timestamps must be non-decreasing (event {0} goes back in time); sort the events first"
    )]
    Unsorted(usize),
    /// A sensor too large to hold per-pixel state for.
    #[error("sensor {0}x{1} is too large")]
    TooLarge(usize, usize),
}

fn check(x: &[i16], y: &[i16], t: &[i64], w: usize, h: usize) -> Result<(), FilterError> {
    if x.len() != y.len() || x.len() != t.len() {
        return Err(FilterError::Lengths(x.len(), y.len(), t.len()));
    }
    if !matches!(w.checked_mul(h), Some(n) if n <= 1 << 28) {
        return Err(FilterError::TooLarge(w, h));
    }
    for i in 0..x.len() {
        if x[i] < 0 || y[i] < 0 || x[i] as usize >= w || y[i] as usize >= h {
            return Err(FilterError::OutOfBounds {
                index: i,
                x: x[i] as i64,
                y: y[i] as i64,
                width: w,
                height: h,
            });
        }
        if i > 0 && t[i] < t[i - 1] {
            return Err(FilterError::Unsorted(i));
        }
    }
    Ok(())
}

/// Keeps an event only if more than `period` µs have passed since the last *kept* event
/// of the same pixel (polarities share the refractory state, as in a real pixel).
pub fn refractory_mask(
    x: &[i16],
    y: &[i16],
    t: &[i64],
    width: usize,
    height: usize,
    period: i64,
) -> Result<Vec<bool>, FilterError> {
    check(x, y, t, width, height)?;
    let mut last = vec![i64::MIN; width * height];
    let mut keep = vec![false; x.len()];
    for i in 0..x.len() {
        let k = y[i] as usize * width + x[i] as usize;
        if last[k] == i64::MIN || t[i] - last[k] > period {
            keep[i] = true;
            last[k] = t[i];
        }
    }
    Ok(keep)
}

/// Background-activity filter: keeps an event if one of its 8 neighbours (not the pixel
/// itself) had an event within the last `window` µs; every event updates its pixel's time.
pub fn denoise_mask(
    x: &[i16],
    y: &[i16],
    t: &[i64],
    width: usize,
    height: usize,
    window: i64,
) -> Result<Vec<bool>, FilterError> {
    check(x, y, t, width, height)?;
    let mut last = vec![i64::MIN; width * height];
    let mut keep = vec![false; x.len()];
    for i in 0..x.len() {
        let (xi, yi) = (x[i] as usize, y[i] as usize);
        let mut support = false;
        'n: for yy in yi.saturating_sub(1)..=(yi + 1).min(height - 1) {
            for xx in xi.saturating_sub(1)..=(xi + 1).min(width - 1) {
                if (xx, yy) == (xi, yi) {
                    continue;
                }
                let l = last[yy * width + xx];
                if l != i64::MIN && t[i] - l <= window {
                    support = true;
                    break 'n;
                }
            }
        }
        keep[i] = support;
        last[yi * width + xi] = t[i];
    }
    Ok(keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refractory() {
        let k = refractory_mask(&[0, 0, 0, 1], &[0, 0, 0, 0], &[0, 5, 11, 12], 2, 1, 10).unwrap();
        assert_eq!(k, vec![true, false, true, true]);
        assert!(refractory_mask(&[2], &[0], &[0], 2, 1, 1).is_err());
        assert!(refractory_mask(&[0, 0], &[0, 0], &[5, 4], 2, 1, 1).is_err());
    }

    #[test]
    fn denoise() {
        let k = denoise_mask(&[5, 6, 0, 5], &[5, 5, 0, 5], &[0, 10, 20, 1000], 8, 8, 100).unwrap();
        assert_eq!(k, vec![false, true, false, false]);
    }
}
