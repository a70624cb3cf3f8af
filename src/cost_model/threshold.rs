//! The fusion threshold a profile's own measurement noise supports.
//!
//! A predicted speedup inside the noise of the measurements it comes from is no reason to fuse.
//! hwcal records, for every measured point, the bootstrap 95% interval of the speedup
//! (`extra_params.speedup_ci95`) and each variant's coefficient of variation and sample size
//! (`unfused_stats` / `fused_stats`: `cv`, `n`). The rule:
//!
//! - per point, the relative half-width of the 95% interval of its speedup:
//!   `h = (hi − lo) / 2 / speedup` from `speedup_ci95`; for a point with only CVs,
//!   `h = 1.96 · 1.2533 · sqrt(cv_u²/n_u + cv_f²/n_f)` (the standard error of a median is about
//!   1.2533 σ/√n; the two variants are independent);
//! - `noise` = the median of `h` over all points (the typical point; a few noisy points do not
//!   dominate);
//! - recommended threshold = `max(1 + noise, 1.02)`: a speedup below `1 + noise` cannot be told
//!   from 1.0 on this device. The floor of 2% covers what one run's intervals cannot see:
//!   run-to-run drift (clock boost, thermal state, other load), typically a few percent on CPUs.
//!
//! Without any noise data (profiles of the Python calibrator) the seed's 1.1 is kept.

use super::predict::Point;
use serde::Serialize;

/// The seed's threshold: fuse at a speedup of at least 10%; the profile's
/// [`crate::analysis::PAYS_THRESHOLD`], under the name the cost model has always given it.
pub use crate::analysis::PAYS_THRESHOLD as DEFAULT_THRESHOLD;

/// Lowest threshold the noise rule recommends (see the module notes).
pub const NOISE_FLOOR: f64 = 1.02;

/// A recommended threshold and how it was derived.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ThresholdAdvice {
    /// The threshold.
    pub value: f64,
    /// Median relative 95% half-width of the measured speedups; `None` without noise data.
    pub noise: Option<f64>,
    /// Points the noise was taken from.
    pub points: usize,
    /// One line saying how `value` was derived.
    pub rule: String,
}

/// Relative 95% half-width of one point's speedup, `None` without noise data.
pub fn relative_half_width(p: &Point) -> Option<f64> {
    let s = p.speedup();
    if let Some((lo, hi)) = p.speedup_ci95 {
        if s.is_finite() && s > 0.0 {
            return Some((hi - lo) / 2.0 / s);
        }
    }
    let ((cu, nu), (cf, nf)) = p.cvs?;
    Some(1.96 * 1.2533 * (cu * cu / nu as f64 + cf * cf / nf as f64).sqrt())
}

/// The threshold recommended for `points` (all patterns' points of one profile).
pub fn recommend<'a>(points: impl IntoIterator<Item = &'a Point>) -> ThresholdAdvice {
    let h: Vec<f64> = points
        .into_iter()
        .filter_map(relative_half_width)
        .filter(|h| h.is_finite() && *h >= 0.0)
        .collect();
    if h.is_empty() {
        return ThresholdAdvice {
            value: DEFAULT_THRESHOLD,
            noise: None,
            points: 0,
            rule: format!(
                "{DEFAULT_THRESHOLD:.2}: the seed's default (the profile records no measurement noise)"
            ),
        };
    }
    let noise = crate::stats::median(&h);
    let value = (1.0 + noise).max(NOISE_FLOOR);
    let floor_note = if 1.0 + noise < NOISE_FLOOR {
        format!(" (floor {NOISE_FLOOR:.2})")
    } else {
        String::new()
    };
    ThresholdAdvice {
        value,
        noise: Some(noise),
        points: h.len(),
        rule: format!(
            "{value:.2}: 1 + median 95% half-width of {} measured speedups ({:.1}%){floor_note}",
            h.len(),
            noise * 100.0
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::Shape;

    fn point(ci: Option<(f64, f64)>, cvs: Option<((f64, usize), (f64, usize))>) -> Point {
        Point {
            shape: Shape::Linear { m: 1, k: 1, n: 1 },
            unfused_ms: 1.2,
            fused_ms: 1.0,
            speedup_ci95: ci,
            cvs,
        }
    }

    #[test]
    fn no_noise_data_keeps_the_seed_default() {
        let a = recommend(&[point(None, None)]);
        assert_eq!(a.value, DEFAULT_THRESHOLD);
        assert_eq!((a.noise, a.points), (None, 0));
        assert_eq!(recommend(&[]).value, 1.1);
    }

    #[test]
    fn median_relative_half_width_of_the_intervals() {
        // Half-widths relative to speedup 1.2: 0.06/1.2 = 5%, 0.12/1.2 = 10%, 0.6/1.2 = 50%.
        let pts = [
            point(Some((1.14, 1.26)), None),
            point(Some((1.08, 1.32)), None),
            point(Some((0.6, 1.8)), None),
        ];
        let a = recommend(&pts);
        assert!((a.value - 1.10).abs() < 1e-12, "{a:?}");
        assert_eq!(a.points, 3);
        assert!(a.rule.contains("3 measured speedups"), "{}", a.rule);
    }

    #[test]
    fn cvs_stand_in_for_a_missing_interval_and_the_floor_holds() {
        // cv 1% on 100 samples each: h = 1.96 · 1.2533 · sqrt(2e-6) ≈ 0.35%: below the floor.
        let quiet = recommend(&[point(None, Some(((0.01, 100), (0.01, 100))))]);
        assert_eq!(quiet.value, NOISE_FLOOR);
        assert!(quiet.noise.unwrap() < 0.004);
        assert!(quiet.rule.contains("floor"));
        // cv 10% on 4 samples each: h = 1.96 · 1.2533 · sqrt(0.005) ≈ 17.4%.
        let noisy = recommend(&[point(None, Some(((0.1, 4), (0.1, 4))))]);
        assert!((noisy.value - 1.1737).abs() < 1e-3, "{noisy:?}");
    }
}
