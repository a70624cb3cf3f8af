//! Size sweeps: where along a size axis fusion starts to pay.
//!
//! `hwcal calibrate --sweep` stores points under `fusion_sweeps` (one fusion profile per size,
//! its axis and size read by [`crate::profile::FusionCalibration::sweep_position`]).
//! [`crossover`] finds the size from which fused beats unfused for good; the calibration's
//! record, the compare report and the `--sweep` printout all use it.

/// The smallest size from which fused beats unfused by `threshold` (speedup `>= threshold`)
/// at every larger measured size, or `None` when the largest measured size does not.
///
/// `points` are `(size, speedup)` in any order. When the smallest measured size already
/// qualifies, that size is returned. Otherwise the answer lies between the last point below
/// the threshold and the first point from which every speedup qualifies, and is found by
/// linear interpolation of the speedup in log-size, so a crossover between S = 256 (0.9×) and
/// S = 1024 (1.1×) at threshold 1.0 is S = 512.
///
/// Points with a non-positive or non-finite size, or a NaN speedup, are ignored; so is
/// everything when no point is left.
pub fn crossover(points: &[(f64, f64)], threshold: f64) -> Option<f64> {
    let mut pts: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|&(size, speedup)| size.is_finite() && size > 0.0 && !speedup.is_nan())
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    // First index from which every point qualifies.
    let mut first = pts.len();
    for (i, &(_, speedup)) in pts.iter().enumerate().rev() {
        if speedup >= threshold {
            first = i;
        } else {
            break;
        }
    }
    if first == pts.len() {
        return None;
    }
    if first == 0 {
        return Some(pts[0].0);
    }
    let (x0, s0) = pts[first - 1];
    let (x1, s1) = pts[first];
    if x0 == x1 {
        return Some(x1);
    }
    // s0 < threshold <= s1, so the denominator is positive.
    let t = ((threshold - s0) / (s1 - s0)).clamp(0.0, 1.0);
    let (l0, l1) = (x0.ln(), x1.ln());
    Some((l0 + t * (l1 - l0)).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9 * b.abs().max(1.0))
    }

    #[test]
    fn interpolates_in_log_size() {
        let pts = [(256.0, 0.9), (1024.0, 1.1)];
        assert!(
            close(crossover(&pts, 1.0), 512.0),
            "{:?}",
            crossover(&pts, 1.0)
        );
        // A quarter of the way up in speedup is a quarter of the way in log-size.
        let pts = [(64.0, 0.8), (4096.0, 1.6)];
        assert!(close(crossover(&pts, 1.0), 64.0 * 2f64.powf(1.5)));
    }

    #[test]
    fn never_or_from_the_start() {
        assert_eq!(crossover(&[], 1.0), None);
        assert_eq!(crossover(&[(8.0, 0.5), (16.0, 0.9)], 1.0), None);
        // The largest size falls back below: fused does not win "for all larger sizes".
        assert_eq!(
            crossover(&[(8.0, 1.5), (16.0, 1.2), (32.0, 0.99)], 1.0),
            None
        );
        assert_eq!(crossover(&[(8.0, 1.2), (16.0, 1.3)], 1.0), Some(8.0));
        assert_eq!(
            crossover(&[(8.0, 1.0)], 1.0),
            Some(8.0),
            "equal counts as beating"
        );
    }

    #[test]
    fn uses_the_last_dip_and_any_order() {
        // Wins at 16, loses at 32, wins from 64 on: the crossover is between 32 and 64.
        let pts = [
            (128.0, 1.4),
            (16.0, 1.3),
            (64.0, 1.2),
            (32.0, 0.8),
            (8.0, 0.7),
        ];
        let x = crossover(&pts, 1.0).unwrap();
        assert!(x > 32.0 && x < 64.0, "{x}");
        assert!(close(Some(x), 32.0 * 2f64.powf(0.5)), "{x}");
        // A higher threshold moves it right.
        let y = crossover(&pts, 1.1).unwrap();
        assert!(y > x && y < 64.0, "{y}");
    }

    #[test]
    fn ignores_unusable_points() {
        let pts = [
            (0.0, 0.1),
            (f64::NAN, 0.1),
            (16.0, f64::NAN),
            (32.0, 0.5),
            (64.0, 1.5),
        ];
        assert!(close(crossover(&pts, 1.0), 32.0 * 2f64.powf(0.5)));
        assert_eq!(crossover(&[(4.0, f64::NAN)], 1.0), None);
    }
}
