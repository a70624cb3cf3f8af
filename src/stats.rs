//! Pure statistics over samples of measurements: robust summaries, percentiles, a
//! distribution-free confidence interval for a median, the paired estimator of a speedup, a
//! bootstrap interval for a ratio of medians, and the elementwise comparison used to verify a
//! kernel's f32 output against its f64 reference.
//!
//! Nothing here does I/O, reads a clock or prints; every function is deterministic (the
//! bootstrap takes an explicit seed).
//!
//! Conventions: percentiles use linear interpolation between closest ranks, the same as numpy's
//! default (`numpy.percentile(x, q)` with `method="linear"`); the standard deviation is the
//! sample one (`ddof = 1`). Functions over possibly empty input return `NaN` for it rather than
//! panic, except [`Summary::from_samples`], which returns `None`.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Coefficient of variation above which a sample is reported as noisy (5%).
pub const NOISY_CV: f64 = 0.05;

/// Summary statistics of a sample of measurements (e.g. latencies in ms).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Median (the 50th percentile, mean of the two middle values for even `n`).
    pub median: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (`ddof = 1`); 0 when `n < 2`.
    pub std: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
    /// 5th percentile (linear interpolation, as numpy's default).
    pub p5: f64,
    /// 95th percentile (linear interpolation, as numpy's default).
    pub p95: f64,
    /// Coefficient of variation `std / |mean|`; 0 when the mean is 0.
    pub cv: f64,
    /// Median absolute deviation from the median (unscaled); robust to outliers.
    #[serde(default)]
    pub mad: f64,
    /// Interquartile range, 75th minus 25th percentile.
    #[serde(default)]
    pub iqr: f64,
}

impl Summary {
    /// Summarises `xs`. Returns `None` if `xs` is empty or holds a non-finite value (NaN or
    /// ±infinity), since no statistic of such a sample is meaningful.
    pub fn from_samples(xs: &[f64]) -> Option<Summary> {
        if xs.is_empty() || xs.iter().any(|x| !x.is_finite()) {
            return None;
        }
        let mut sorted = xs.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = xs.len();
        let mean = mean(xs);
        let std = sample_std(xs, mean);
        let cv = if mean == 0.0 { 0.0 } else { std / mean.abs() };
        let med = percentile(&sorted, 50.0);
        let deviations: Vec<f64> = xs.iter().map(|x| (x - med).abs()).collect();
        Some(Summary {
            n,
            median: med,
            mad: median(&deviations),
            iqr: percentile(&sorted, 75.0) - percentile(&sorted, 25.0),
            mean,
            std,
            min: sorted[0],
            max: sorted[n - 1],
            p5: percentile(&sorted, 5.0),
            p95: percentile(&sorted, 95.0),
            cv,
        })
    }

    /// Whether the sample is noisy: its coefficient of variation exceeds [`NOISY_CV`].
    pub fn is_noisy(&self) -> bool {
        self.cv > NOISY_CV
    }
}

/// Sample standard deviation (`ddof = 1`) of `xs` around `mean`; 0 for fewer than 2 samples.
fn sample_std(xs: &[f64], mean: f64) -> f64 {
    if xs.len() < 2 {
        return 0.0;
    }
    let ss: f64 = xs.iter().map(|x| (x - mean) * (x - mean)).sum();
    (ss / (xs.len() - 1) as f64).sqrt()
}

/// Median of `xs` (any order; the input is not modified). `NaN` for an empty slice.
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    median_in_place(&mut v)
}

/// Median of `v`, reordering it. `NaN` for an empty slice.
fn median_in_place(v: &mut [f64]) -> f64 {
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    let mid = n / 2;
    let (lower, hi, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    let hi = *hi;
    if n % 2 == 1 {
        hi
    } else {
        // The lower middle value is the largest element of the lower partition.
        let lo = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        lo + (hi - lo) * 0.5
    }
}

/// Arithmetic mean of `xs`. `NaN` for an empty slice.
pub fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// The `q`-th percentile (`q` in `[0, 100]`, clamped to it) of an ascending-sorted slice, with
/// linear interpolation between the closest ranks like numpy's default: the value at fractional
/// rank `(n - 1) * q / 100`. `NaN` for an empty slice or a `NaN` `q`.
///
/// The slice must already be sorted ascending; this is not checked.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 || q.is_nan() {
        return f64::NAN;
    }
    let h = (n - 1) as f64 * (q.clamp(0.0, 100.0) / 100.0);
    let lo = h.floor() as usize;
    if lo + 1 >= n {
        return sorted[n - 1];
    }
    let frac = h - lo as f64;
    let (a, b) = (sorted[lo], sorted[lo + 1]);
    if frac == 0.0 {
        a
    } else {
        a + (b - a) * frac
    }
}

/// A point estimate with its confidence interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The estimate (a median, or a median of ratios).
    pub value: f64,
    /// Lower end of the interval.
    pub lo: f64,
    /// Upper end of the interval.
    pub hi: f64,
    /// Samples it rests on.
    pub n: usize,
}

impl Estimate {
    /// Half the interval's width relative to the estimate, `(hi - lo) / (2·value)`: `0.02` means
    /// ±2%. Infinite when the estimate is not a positive finite number.
    pub fn relative_half_width(&self) -> f64 {
        if self.value > 0.0 && self.value.is_finite() && self.lo.is_finite() && self.hi.is_finite()
        {
            (self.hi - self.lo) / (2.0 * self.value)
        } else {
            f64::INFINITY
        }
    }
}

/// 1-based ranks `(j, k)` of the order statistics that bound a `confidence` interval for the
/// median of `n` samples: the largest `j` with `P(Binomial(n, ½) < j) ≤ (1 - confidence)/2`,
/// and `k = n + 1 - j`. Exact (binomial) up to 1000 samples, normal approximation above.
/// With too few samples for the requested confidence (fewer than 6 at 95%) it is `(1, n)`,
/// whose coverage is then only `1 - 2^(1-n)`.
pub fn median_ci_ranks(n: usize, confidence: f64) -> (usize, usize) {
    if n == 0 {
        return (0, 0);
    }
    let alpha = (1.0 - confidence.clamp(0.0, 1.0)) / 2.0;
    let j = if n <= 1000 {
        // Cumulative binomial(n, 1/2) probabilities, P(X <= i), in f64 (2^-1000 is normal).
        let mut pmf = 0.5f64.powi(n as i32);
        let mut cdf = 0.0;
        let mut j = 0;
        for i in 0..=n {
            cdf += pmf;
            // P(X < i + 1) = cdf; rank i + 1 is allowed when it is at most alpha.
            if cdf <= alpha {
                j = i + 1;
            } else {
                break;
            }
            pmf *= (n - i) as f64 / (i + 1) as f64;
        }
        j
    } else {
        let z = normal_quantile(1.0 - alpha);
        ((n as f64 / 2.0 - z * (n as f64).sqrt() / 2.0).floor() as usize).max(1)
    };
    let j = j.clamp(1, n.div_ceil(2));
    (j, n + 1 - j)
}

/// Quantile of the standard normal distribution (Acklam's rational approximation, relative
/// error below 1.2e-9), for `p` in `(0, 1)`. The coefficients are quoted as published.
#[allow(clippy::excessive_precision)]
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383577518672690e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The median of `xs` with its distribution-free `confidence` interval (order statistics, see
/// [`median_ci_ranks`]). `None` for an empty sample or one holding a non-finite value.
pub fn median_estimate(xs: &[f64], confidence: f64) -> Option<Estimate> {
    if xs.is_empty() || xs.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (j, k) = median_ci_ranks(sorted.len(), confidence);
    Some(Estimate {
        value: percentile(&sorted, 50.0),
        lo: sorted[j - 1],
        hi: sorted[k - 1],
        n: sorted.len(),
    })
}

/// The paired estimator of a ratio such as a speedup: `a[i]` and `b[i]` were measured next to
/// each other (pair `i`), so a drift of the machine that slows both cancels in `a[i] / b[i]`.
/// Returns the median of the per-pair ratios with its distribution-free `confidence` interval.
/// `None` when the slices differ in length, are empty, or hold a non-finite or non-positive
/// value.
pub fn paired_ratio(a: &[f64], b: &[f64], confidence: f64) -> Option<Estimate> {
    if a.len() != b.len() || a.iter().chain(b).any(|x| !(x.is_finite() && *x > 0.0)) {
        return None;
    }
    let ratios: Vec<f64> = a.iter().zip(b).map(|(x, y)| x / y).collect();
    median_estimate(&ratios, confidence)
}

/// Bootstrap confidence interval for `median(a) / median(b)` (e.g. speedup = unfused/fused
/// latency).
///
/// `a` and `b` are resampled independently, with replacement and at their own sizes,
/// `resamples` times; the ratio of the resampled medians is taken each time, and the
/// percentile interval `((1 - confidence) / 2, (1 + confidence) / 2)` of those ratios is
/// returned as `(lo, hi)` (e.g. the 2.5th and 97.5th percentiles for `confidence = 0.95`).
///
/// The random stream is a [`SmallRng`] seeded with `seed`, so the result is deterministic for a
/// given seed and inputs (on a given platform: `SmallRng`'s algorithm may differ between
/// pointer widths and `rand` versions).
///
/// Edge cases: `(NaN, NaN)` if either sample is empty; with `resamples == 0` both ends are the
/// point estimate `median(a) / median(b)`. `confidence` is clamped to `[0, 1]`.
pub fn bootstrap_ratio_ci(
    a: &[f64],
    b: &[f64],
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> (f64, f64) {
    if a.is_empty() || b.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    if resamples == 0 {
        let r = median(a) / median(b);
        return (r, r);
    }
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut ra = vec![0.0; a.len()];
    let mut rb = vec![0.0; b.len()];
    let mut ratios = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        for x in ra.iter_mut() {
            *x = a[rng.gen_range(0..a.len())];
        }
        for x in rb.iter_mut() {
            *x = b[rng.gen_range(0..b.len())];
        }
        ratios.push(median_in_place(&mut ra) / median_in_place(&mut rb));
    }
    ratios.sort_by(f64::total_cmp);
    let c = if confidence.is_nan() {
        0.0
    } else {
        confidence.clamp(0.0, 1.0)
    };
    let tail = (1.0 - c) / 2.0 * 100.0;
    (percentile(&ratios, tail), percentile(&ratios, 100.0 - tail))
}

/// Result of checking a computed output against an f64 reference with the mixed
/// criterion `|x - r| <= atol + rtol * |r|`, elementwise (see [`check_tolerance`]).
///
/// The "worst" element is the one with the largest *error ratio*
/// `|x - r| / (atol + rtol * |r|)`: the criterion holds for an element exactly when its ratio
/// is at most 1, so the worst element is the one that fails by the most (or, when everything
/// passes, comes closest to failing). A non-finite element has ratio `+inf`, and the first
/// such element is the worst.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToleranceCheck {
    /// Length of the output slice.
    pub output_len: usize,
    /// Length of the reference slice. If it differs from `output_len`, only the common prefix
    /// was compared and `passed` is false.
    pub reference_len: usize,
    /// Relative tolerance used.
    pub rtol: f64,
    /// Absolute tolerance used.
    pub atol: f64,
    /// Largest `|x - r|` over the finite compared elements (0 if none).
    pub max_abs_err: f64,
    /// Largest `|x - r| / |r|` over the finite compared elements with `r != 0` (0 if none).
    pub max_rel_err: f64,
    /// Index of the worst element (largest error ratio); 0 if nothing was compared.
    pub worst_index: usize,
    /// Output value at `worst_index` (widened to f64); `NaN` if nothing was compared.
    pub worst_value: f64,
    /// Reference value at `worst_index`; `NaN` if nothing was compared.
    pub worst_reference: f64,
    /// Error ratio `|x - r| / (atol + rtol * |r|)` of the worst element: at most 1 (up to
    /// rounding) when every element met the criterion, `+inf` for a non-finite element or a
    /// nonzero error under a zero bound (0 / 0 counts as 0).
    pub worst_ratio: f64,
    /// Number of compared elements whose output or reference is NaN or ±infinity.
    pub non_finite: usize,
    /// Number of compared elements that violated the criterion (non-finite ones included).
    pub failed: usize,
    /// Whether the lengths match, no element is non-finite and every element met the
    /// criterion.
    pub passed: bool,
}

impl ToleranceCheck {
    /// Whether the two slices had the same length.
    pub fn lengths_match(&self) -> bool {
        self.output_len == self.reference_len
    }

    /// A one-line, lowercase description of the outcome, suitable as the `detail` of a
    /// verification error, e.g. `"3 of 4096 elements outside |x - r| <= 1e-5 + 1e-4*|r|;
    /// worst at index 17: got 1.5, expected 1.25 (max abs err 0.25, max rel err 0.2)"`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.lengths_match() {
            parts.push(format!(
                "length mismatch: output has {} elements, reference {}",
                self.output_len, self.reference_len
            ));
        }
        let compared = self.output_len.min(self.reference_len);
        if self.non_finite > 0 {
            parts.push(format!(
                "{} of {} elements are nan or infinite",
                self.non_finite, compared
            ));
        }
        if self.failed > self.non_finite {
            parts.push(format!(
                "{} of {} elements outside |x - r| <= {:e} + {:e}*|r|",
                self.failed - self.non_finite,
                compared,
                self.atol,
                self.rtol
            ));
        }
        if parts.is_empty() {
            parts.push(format!(
                "all {} elements within |x - r| <= {:e} + {:e}*|r|",
                compared, self.atol, self.rtol
            ));
        }
        let mut s = parts.join("; ");
        if compared > 0 {
            s.push_str(&format!(
                "; worst at index {}: got {}, expected {} (max abs err {:e}, max rel err {:e})",
                self.worst_index,
                self.worst_value,
                self.worst_reference,
                self.max_abs_err,
                self.max_rel_err
            ));
        }
        s
    }
}

/// Compares a kernel's f32 `output` with an f64 `reference` elementwise under the mixed
/// criterion `|x - r| <= atol + rtol * |r|` (numpy's `allclose` form), the difference taken in
/// f64.
///
/// Never panics: on a length mismatch the common prefix is compared (so the report still
/// locates the worst element) and [`ToleranceCheck::passed`] is false. Any NaN or infinity in
/// either slice fails the comparison, even where both sides agree. With `rtol = atol = 0` the
/// criterion is exact equality.
pub fn check_tolerance<T: Copy + Into<f64>>(
    output: &[T],
    reference: &[f64],
    rtol: f64,
    atol: f64,
) -> ToleranceCheck {
    let mut c = ToleranceCheck {
        output_len: output.len(),
        reference_len: reference.len(),
        rtol,
        atol,
        max_abs_err: 0.0,
        max_rel_err: 0.0,
        worst_index: 0,
        worst_value: f64::NAN,
        worst_reference: f64::NAN,
        worst_ratio: 0.0,
        non_finite: 0,
        failed: 0,
        passed: false,
    };
    let mut have_worst = false;
    for (i, (&x, &r)) in output.iter().zip(reference).enumerate() {
        let x: f64 = x.into();
        let (ok, ratio) = if !x.is_finite() || !r.is_finite() {
            c.non_finite += 1;
            (false, f64::INFINITY)
        } else {
            let diff = (x - r).abs();
            c.max_abs_err = c.max_abs_err.max(diff);
            if r != 0.0 {
                c.max_rel_err = c.max_rel_err.max(diff / r.abs());
            }
            let bound = atol + rtol * r.abs();
            // Pass/fail is decided on the criterion itself, not on the rounded ratio.
            let ratio = if bound > 0.0 {
                diff / bound
            } else if diff == 0.0 {
                0.0
            } else {
                f64::INFINITY
            };
            (diff <= bound, ratio)
        };
        if !ok {
            c.failed += 1;
        }
        if !have_worst || ratio > c.worst_ratio {
            have_worst = true;
            c.worst_ratio = ratio;
            c.worst_index = i;
            c.worst_value = x;
            c.worst_reference = r;
        }
    }
    c.passed = c.lengths_match() && c.failed == 0;
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[7.0]), 7.0);
        assert!(median(&[]).is_nan());
        // numpy.median([5, 1, 9, 3, 7, 2]) == 4.0
        assert_eq!(median(&[5.0, 1.0, 9.0, 3.0, 7.0, 2.0]), 4.0);
        let xs = [2.0, 2.0, 2.0, 1.0];
        assert_eq!(median(&xs), 2.0);
    }

    #[test]
    fn percentiles_match_numpy_linear() {
        // Values from numpy 2.4: np.percentile([1,2,3,4,5,6,7,8,9,10], q)
        let s: Vec<f64> = (1..=10).map(f64::from).collect();
        assert!(close(percentile(&s, 5.0), 1.45));
        assert!(close(percentile(&s, 25.0), 3.25));
        assert!(close(percentile(&s, 50.0), 5.5));
        assert!(close(percentile(&s, 95.0), 9.55));
        assert_eq!(percentile(&s, 0.0), 1.0);
        assert_eq!(percentile(&s, 100.0), 10.0);
        // np.percentile([0.5, 1.5, 4.0, 10.0], [5, 33.3, 95]) == [0.65, 1.499, 9.1]
        let t = [0.5, 1.5, 4.0, 10.0];
        assert!(close(percentile(&t, 5.0), 0.65));
        assert!(close(percentile(&t, 33.3), 1.499));
        assert!(close(percentile(&t, 95.0), 9.1));
        // Clamped q, single element, empty.
        assert_eq!(percentile(&t, -5.0), 0.5);
        assert_eq!(percentile(&t, 150.0), 10.0);
        assert_eq!(percentile(&[3.0], 37.0), 3.0);
        assert!(percentile(&[], 50.0).is_nan());
        assert!(percentile(&t, f64::NAN).is_nan());
    }

    #[test]
    fn summary_std_cv() {
        // np.std([2,4,4,4,5,5,7,9], ddof=1) == 2.138089935299395
        let xs = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let s = Summary::from_samples(&xs).unwrap();
        assert_eq!(s.n, 8);
        assert_eq!(s.mean, 5.0);
        assert_eq!(s.median, 4.5);
        assert!(close(s.std, 2.138089935299395));
        assert!(close(s.cv, 2.138089935299395 / 5.0));
        assert_eq!(s.min, 2.0);
        assert_eq!(s.max, 9.0);
        // np.percentile(xs, [5, 95]) == [2.7, 8.3]
        assert!(close(s.p5, 2.7));
        assert!(close(s.p95, 8.3));
        assert!(s.is_noisy());

        let one = Summary::from_samples(&[1.5]).unwrap();
        assert_eq!(
            (one.std, one.cv, one.median, one.p5, one.p95),
            (0.0, 0.0, 1.5, 1.5, 1.5)
        );
        assert!(!one.is_noisy());

        let zero = Summary::from_samples(&[0.0, 0.0, 0.0]).unwrap();
        assert_eq!(zero.cv, 0.0);

        let quiet = Summary::from_samples(&[10.0, 10.1, 9.9, 10.05]).unwrap();
        assert!(!quiet.is_noisy());

        assert!(Summary::from_samples(&[]).is_none());
        assert!(Summary::from_samples(&[1.0, f64::NAN]).is_none());
        assert!(Summary::from_samples(&[1.0, f64::INFINITY]).is_none());
    }

    #[test]
    fn summary_serde_roundtrip() {
        let s = Summary::from_samples(&[1.0, 2.0, 3.5]).unwrap();
        let j = serde_json::to_string(&s).unwrap();
        let back: Summary = serde_json::from_str(&j).unwrap();
        assert_eq!(s, back);
    }

    #[test]
    fn mean_basic() {
        assert_eq!(mean(&[1.0, 2.0, 3.0, 4.0]), 2.5);
        assert!(mean(&[]).is_nan());
    }

    /// `n` samples around `center` with deterministic multiplicative noise of relative size
    /// `noise`.
    fn noisy(center: f64, noise: f64, n: usize, seed: u64) -> Vec<f64> {
        let mut rng = SmallRng::seed_from_u64(seed);
        (0..n)
            .map(|_| center * (1.0 + noise * (rng.gen::<f64>() * 2.0 - 1.0)))
            .collect()
    }

    #[test]
    fn bootstrap_contains_true_ratio_and_is_deterministic() {
        let a = noisy(3.0, 0.05, 40, 1);
        let b = noisy(2.0, 0.05, 40, 2);
        let (lo, hi) = bootstrap_ratio_ci(&a, &b, 2000, 0.95, 42);
        assert!(lo <= 1.5 && 1.5 <= hi, "({lo}, {hi}) must contain 1.5");
        assert!(lo <= hi);
        let point = median(&a) / median(&b);
        assert!(lo <= point && point <= hi);
        assert_eq!(bootstrap_ratio_ci(&a, &b, 2000, 0.95, 42), (lo, hi));
        assert_ne!(bootstrap_ratio_ci(&a, &b, 2000, 0.95, 43), (lo, hi));
        // A higher confidence gives a wider interval.
        let (lo99, hi99) = bootstrap_ratio_ci(&a, &b, 2000, 0.99, 42);
        assert!(lo99 <= lo && hi <= hi99);
    }

    #[test]
    fn bootstrap_narrows_with_less_noise() {
        let width = |noise: f64| {
            let a = noisy(3.0, noise, 30, 7);
            let b = noisy(2.0, noise, 30, 8);
            let (lo, hi) = bootstrap_ratio_ci(&a, &b, 1000, 0.95, 5);
            assert!(lo <= 1.5 && 1.5 <= hi, "noise {noise}: ({lo}, {hi})");
            hi - lo
        };
        let wide = width(0.2);
        let narrow = width(0.01);
        assert!(narrow < wide / 5.0, "narrow {narrow} vs wide {wide}");
    }

    #[test]
    fn bootstrap_edge_cases() {
        let (lo, hi) = bootstrap_ratio_ci(&[], &[1.0], 100, 0.95, 0);
        assert!(lo.is_nan() && hi.is_nan());
        assert_eq!(
            bootstrap_ratio_ci(&[4.0, 6.0], &[2.0], 0, 0.95, 0),
            (2.5, 2.5)
        );
        // Constant samples: the interval collapses onto the ratio.
        assert_eq!(
            bootstrap_ratio_ci(&[3.0; 5], &[2.0; 7], 200, 0.95, 9),
            (1.5, 1.5)
        );
    }

    #[test]
    fn compare_passes_close_output() {
        let r: Vec<f64> = (0..100).map(|i| (i as f64) * 0.1 - 3.0).collect();
        let x: Vec<f32> = r.iter().map(|&v| v as f32).collect();
        let c = check_tolerance(&x, &r, 1e-6, 1e-6);
        assert!(c.passed, "{}", c.describe());
        assert_eq!((c.failed, c.non_finite), (0, 0));
        assert!(c.worst_ratio <= 1.0);
        assert!(c.max_abs_err < 1e-6);
        assert!(c.describe().starts_with("all 100 elements within"));
    }

    #[test]
    fn compare_catches_single_wrong_element() {
        let r: Vec<f64> = (0..64).map(|i| 1.0 + i as f64).collect();
        let mut x: Vec<f32> = r.iter().map(|&v| v as f32).collect();
        x[17] += 0.01;
        let c = check_tolerance(&x, &r, 1e-4, 1e-5);
        assert!(!c.passed);
        assert_eq!(c.failed, 1);
        assert_eq!(c.worst_index, 17);
        assert_eq!(c.worst_reference, 18.0);
        assert!(close(c.worst_value, f64::from(18.01f32)));
        assert!((c.max_abs_err - 0.01).abs() < 1e-5);
        assert!((c.max_rel_err - 0.01 / 18.0).abs() < 1e-6);
        assert!(c.worst_ratio > 1.0);
        let d = c.describe();
        assert!(d.contains("1 of 64 elements outside"), "{d}");
        assert!(d.contains("worst at index 17"), "{d}");
        // The same error is within a looser tolerance.
        assert!(check_tolerance(&x, &r, 1e-3, 0.0).passed);
    }

    #[test]
    fn compare_worst_is_by_ratio_not_absolute_error() {
        // Element 0 has the larger absolute error but a large reference; element 1 is
        // relatively worse.
        let r = [1000.0, 0.001];
        let x = [1000.05f32, 0.0011];
        let c = check_tolerance(&x, &r, 1e-4, 1e-6);
        assert_eq!(c.worst_index, 1);
        assert!(!c.passed);
    }

    #[test]
    fn compare_nan_and_inf() {
        let r = [1.0, 2.0, 3.0, 4.0];
        let x = [1.0f32, f32::NAN, 3.0, f32::INFINITY];
        let c = check_tolerance(&x, &r, 1e-3, 1e-3);
        assert!(!c.passed);
        assert_eq!(c.non_finite, 2);
        assert_eq!(c.failed, 2);
        assert_eq!(c.worst_index, 1);
        assert!(c.worst_value.is_nan());
        assert_eq!(c.worst_ratio, f64::INFINITY);
        assert!(c.describe().contains("2 of 4 elements are nan or infinite"));
        // A non-finite reference also fails, even if the output agrees.
        let c = check_tolerance(&[f32::INFINITY], &[f64::INFINITY], 1.0, 1.0);
        assert!(!c.passed);
    }

    #[test]
    fn compare_length_mismatch() {
        let c = check_tolerance(&[1.0, 2.0], &[1.0, 2.0, 3.0], 1e-3, 1e-3);
        assert!(!c.passed);
        assert!(!c.lengths_match());
        assert_eq!((c.output_len, c.reference_len, c.failed), (2, 3, 0));
        assert!(c
            .describe()
            .contains("length mismatch: output has 2 elements, reference 3"));
        let e = check_tolerance::<f32>(&[], &[], 0.0, 0.0);
        assert!(e.passed);
        assert!(check_tolerance::<f32>(&[], &[1.0], 0.0, 0.0)
            .describe()
            .contains("length mismatch"));
    }

    #[test]
    fn compare_exact_with_zero_tolerance() {
        assert!(check_tolerance(&[0.0, 1.5], &[0.0, 1.5], 0.0, 0.0).passed);
        let c = check_tolerance(&[0.0, 1.5], &[0.0, 1.25], 0.0, 0.0);
        assert!(!c.passed);
        assert_eq!(c.worst_index, 1);
        assert_eq!(c.worst_ratio, f64::INFINITY);
    }

    #[test]
    fn robust_spread() {
        // np.median(abs(x - median(x))) for [1, 2, 3, 4, 100] is 1; IQR (linear) is 4 - 2.
        let s = Summary::from_samples(&[1.0, 2.0, 3.0, 4.0, 100.0]).unwrap();
        assert_eq!(s.mad, 1.0);
        assert_eq!(s.iqr, 2.0);
    }

    #[test]
    fn median_ci_ranks_match_the_binomial_tables() {
        // Classic tables for the 95% distribution-free interval of a median.
        assert_eq!(median_ci_ranks(6, 0.95), (1, 6));
        assert_eq!(median_ci_ranks(10, 0.95), (2, 9));
        assert_eq!(median_ci_ranks(20, 0.95), (6, 15));
        assert_eq!(median_ci_ranks(100, 0.95), (40, 61));
        // Too few samples: the widest interval, never out of range.
        assert_eq!(median_ci_ranks(3, 0.95), (1, 3));
        assert_eq!(median_ci_ranks(1, 0.95), (1, 1));
        assert_eq!(median_ci_ranks(0, 0.95), (0, 0));
        // The normal approximation joins the exact ranks smoothly.
        let (j, k) = median_ci_ranks(1000, 0.95);
        let (j2, k2) = median_ci_ranks(1001, 0.95);
        assert!(j.abs_diff(j2) <= 1 && k.abs_diff(k2) <= 2, "{j} {j2}");
        assert!((normal_quantile(0.975) - 1.959963985).abs() < 1e-8);
        assert!((normal_quantile(0.01) + 2.326347874).abs() < 1e-8);
    }

    #[test]
    fn median_interval_covers_and_narrows() {
        let wide = median_estimate(&noisy(2.0, 0.2, 200, 3), 0.95).unwrap();
        let narrow = median_estimate(&noisy(2.0, 0.01, 200, 3), 0.95).unwrap();
        for e in [wide, narrow] {
            assert!(e.lo <= 2.0 && 2.0 <= e.hi, "{e:?}");
            assert!(e.lo <= e.value && e.value <= e.hi);
        }
        assert!(narrow.relative_half_width() < wide.relative_half_width() / 10.0);
        assert!(median_estimate(&[], 0.95).is_none());
        assert!(median_estimate(&[1.0, f64::NAN], 0.95).is_none());
        let zero = Estimate {
            value: 0.0,
            lo: 0.0,
            hi: 0.0,
            n: 1,
        };
        assert_eq!(zero.relative_half_width(), f64::INFINITY);
    }

    #[test]
    fn paired_ratio_cancels_drift_that_hits_both() {
        // The machine slows down 2x halfway through: unpaired medians are thrown off, pairs
        // are not.
        let n = 40;
        let slow = |i: usize| if i < n / 2 { 1.0 } else { 2.0 };
        let a: Vec<f64> = (0..n).map(|i| 1.5 * slow(i)).collect();
        let b: Vec<f64> = (0..n)
            .map(|i| 1.0 * slow(i) * if i % 3 == 0 { 1.01 } else { 1.0 })
            .collect();
        let e = paired_ratio(&a, &b, 0.95).unwrap();
        assert!((e.value - 1.5).abs() < 1e-12, "{e:?}");
        assert!(e.lo <= 1.5 && 1.5 <= e.hi);
        assert!(e.relative_half_width() < 0.01);
        assert!(paired_ratio(&a, &b[1..], 0.95).is_none());
        assert!(paired_ratio(&[1.0], &[0.0], 0.95).is_none());
        assert!(paired_ratio(&[1.0], &[f64::NAN], 0.95).is_none());
    }
}
