//! Size sweeps: where along a size axis fusion starts to pay.
//!
//! `hwcal calibrate --sweep` stores points under `fusion_sweeps` (one fusion profile per size,
//! `extra_params.sweep_axis` naming the size that varied). [`crossover`] finds the size from
//! which fused beats unfused for good; the compare report and the `--sweep` printout both use
//! it.

use crate::profile::FusionCalibration;

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

/// A size for people: three significant digits, no trailing zeros (`215`, `10.3`, `8`);
/// exponent form from `1e15` (`1.00e308`), never hundreds of digits.
pub fn size_text(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".to_string();
    }
    if x.abs() >= 1e15 {
        return format!("{x:.2e}");
    }
    if x.abs() >= 1000.0 {
        return format!("{}", x.round());
    }
    let s = crate::report::rows::significant(x, 3);
    if s.contains('.') && !s.contains('e') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Where fused beats unfused by `threshold` along `axis`, in words: `from S≈215`,
/// `at every size measured` (the crossover is the smallest size), or `never for good`.
pub fn crossover_text(axis: &str, points: &[(f64, f64)], threshold: f64) -> String {
    let smallest = points
        .iter()
        .map(|p| p.0)
        .filter(|x| x.is_finite() && *x > 0.0)
        .fold(f64::INFINITY, f64::min);
    match crossover(points, threshold) {
        None => "never for good".to_string(),
        Some(x) if x <= smallest => "at every size measured".to_string(),
        Some(x) => format!("from {axis}≈{}", size_text(x)),
    }
}

/// The size axis of a sweep point and its value along it: `extra_params.sweep_axis` and
/// `extra_params.sweep_value`; without the value, it is read from `input_shape` (`M`: rows,
/// `KN` and `C`: the second dimension, `HW`: the third, `S`: the sequence length). `None` for
/// a profile entry that is not a sweep point.
pub fn sweep_position(f: &FusionCalibration) -> Option<(String, f64)> {
    let extras = f.hwcal_extras();
    let axis = extras.sweep_axis.clone()?;
    let value = extras.sweep_size().or_else(|| {
        let dim = match axis.as_str() {
            "M" => 0,
            "KN" | "C" | "S" => 1,
            "HW" => 2,
            _ => return None,
        };
        f.input_shape.get(dim).map(|&d| d as f64)
    })?;
    Some((axis, value))
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

    #[test]
    fn crossovers_in_words() {
        let pts = [(64.0, 0.8), (128.0, 0.9), (256.0, 1.05), (512.0, 1.3)];
        assert_eq!(crossover_text("S", &pts, 1.0), "from S≈203");
        assert_eq!(crossover_text("S", &pts, 0.5), "at every size measured");
        assert_eq!(crossover_text("S", &pts, 2.0), "never for good");
        assert_eq!(size_text(8.0), "8");
        assert_eq!(size_text(10.26), "10.3");
        assert_eq!(size_text(4096.4), "4096");
        assert_eq!(size_text(1e308), "1.00e308");
        assert_eq!(size_text(5e-324), "4.94e-324");
        assert_eq!(size_text(1e-10), "1.00e-10");
    }

    #[test]
    fn sweep_position_reads_axis_and_value() {
        use crate::profile::JsonMap;
        use serde_json::json;
        let mut f = FusionCalibration {
            fusion_pattern: "FullAttention".into(),
            operators: vec![],
            num_operators: 0,
            unfused_latency_ms: 1.0,
            unfused_gflops: 1.0,
            unfused_memory_bytes: 1,
            fused_latency_ms: 1.0,
            fused_gflops: 1.0,
            fused_memory_bytes: 1,
            speedup_factor: 1.0,
            memory_reduction: 0.0,
            gflops_improvement: 0.0,
            input_shape: vec![1, 512, 64],
            extra_params: JsonMap::new(),
            num_trials: 1,
            extra: JsonMap::new(),
        };
        assert_eq!(sweep_position(&f), None);
        f.extra_params.insert("sweep_axis".into(), json!("S"));
        assert_eq!(sweep_position(&f), Some(("S".into(), 512.0)));
        f.extra_params.insert("sweep_value".into(), json!(500));
        assert_eq!(sweep_position(&f), Some(("S".into(), 500.0)));
    }
}
