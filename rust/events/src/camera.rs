//! The contrast-threshold pixel of the event-camera simulator, run over a whole clip.
//!
//! Input: log intensities of `T` frames of `n` pixels (frame-major), the frame times and
//! per-pixel ON / OFF thresholds. Each pixel starts with its reference at frame 0; between
//! frames its log intensity is linear in time, and every crossing of `ref + c_on`
//! (`ref - c_off`) emits an ON (OFF) event at the interpolated crossing time and moves the
//! reference by one threshold. Output events are sorted by `(t, pixel)`.
use crate::events::Events;

/// Why the simulation could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CameraError {
    /// Inconsistent array sizes.
    #[error("{0}")]
    Shape(String),
    /// A threshold that is not positive and finite.
    #[error("thresholds must be positive and finite (pixel {0})")]
    Threshold(usize),
    /// Frame times that do not increase.
    #[error("frame times must increase (frame {0})")]
    Times(usize),
    /// More events than the caller allowed.
    #[error("more than {0} events; raise the thresholds or max_events")]
    TooMany(usize),
}

/// Runs the pixel model; see the module docs. `width * height` pixels per frame.
pub fn contrast_events(
    log: &[f64],
    times: &[f64],
    width: usize,
    height: usize,
    c_on: &[f64],
    c_off: &[f64],
    max_events: usize,
) -> Result<Events, CameraError> {
    let n = width
        .checked_mul(height)
        .ok_or_else(|| CameraError::Shape("sensor too large".into()))?;
    let frames = times.len();
    if n == 0 || frames == 0 || log.len() != n * frames {
        return Err(CameraError::Shape(format!(
            "log has {} values, expected {frames} frames x {n} pixels",
            log.len()
        )));
    }
    if c_on.len() != n || c_off.len() != n {
        return Err(CameraError::Shape(
            "thresholds must have one value per pixel".into(),
        ));
    }
    for k in 0..n {
        if !(c_on[k] > 0.0 && c_off[k] > 0.0 && c_on[k].is_finite() && c_off[k].is_finite()) {
            return Err(CameraError::Threshold(k));
        }
    }
    for f in 1..frames {
        if times[f].partial_cmp(&times[f - 1]) != Some(std::cmp::Ordering::Greater) {
            return Err(CameraError::Times(f));
        }
    }
    let mut out: Vec<(i64, u32, bool)> = Vec::new();
    for k in 0..n {
        let mut r = log[k];
        for f in 1..frames {
            let (l0, l1) = (log[(f - 1) * n + k], log[f * n + k]);
            let (t0, t1) = (times[f - 1], times[f]);
            let span = l1 - l0;
            let emit = |level: f64, on: bool, out: &mut Vec<(i64, u32, bool)>| {
                let frac = if span != 0.0 {
                    ((level - l0) / span).clamp(0.0, 1.0)
                } else {
                    1.0
                };
                out.push(((t0 + frac * (t1 - t0)).floor() as i64, k as u32, on));
            };
            while l1 - r >= c_on[k] {
                r += c_on[k];
                emit(r, true, &mut out);
                if out.len() > max_events {
                    return Err(CameraError::TooMany(max_events));
                }
            }
            while r - l1 >= c_off[k] {
                r -= c_off[k];
                emit(r, false, &mut out);
                if out.len() > max_events {
                    return Err(CameraError::TooMany(max_events));
                }
            }
        }
    }
    out.sort_unstable_by_key(|e| (e.0, e.1));
    let mut ev = Events::with_capacity(out.len());
    for (t, k, on) in out {
        let k = k as usize;
        ev.push((k % width) as i16, (k / width) as i16, t, on);
    }
    Ok(ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_gives_interpolated_events() {
        // one pixel, log goes 0 -> 1 over 100 us, threshold 0.25: events at 25, 50, 75, 100
        let ev = contrast_events(&[0.0, 1.0], &[0.0, 100.0], 1, 1, &[0.25], &[0.25], 100).unwrap();
        let ts: Vec<i64> = ev.iter().map(|e| e.t).collect();
        assert_eq!(ts, vec![25, 50, 75, 100]);
        assert!(ev.iter().all(|e| e.p));
        let ev = contrast_events(
            &[1.0, 0.0, 0.0],
            &[0.0, 10.0, 20.0],
            1,
            1,
            &[0.3],
            &[0.5],
            100,
        )
        .unwrap();
        assert_eq!(ev.len(), 2);
        assert!(ev.iter().all(|e| !e.p));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(contrast_events(&[0.0], &[0.0, 1.0], 1, 1, &[0.1], &[0.1], 10).is_err());
        assert!(contrast_events(&[0.0, 1.0], &[0.0, 0.0], 1, 1, &[0.1], &[0.1], 10).is_err());
        assert!(contrast_events(&[0.0, 1.0], &[0.0, 1.0], 1, 1, &[0.0], &[0.1], 10).is_err());
        assert!(contrast_events(&[0.0, 100.0], &[0.0, 1.0], 1, 1, &[0.1], &[0.1], 10).is_err());
    }
}
