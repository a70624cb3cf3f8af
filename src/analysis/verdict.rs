//! The fusion verdict: what a measured speedup means, and the thresholds every part of hwcal
//! judges speedups by. The one place they are defined: the summary's verdict lines, the compare
//! report's decisions and charts, the calibrator's sweep crossovers and the cost model's default
//! threshold all read them from here.
//!
//! The values are the Python calibrator's (its summary's verdicts and its partitioner's
//! threshold).

/// Speedup from which fusion pays off: the calibrator's "moderate benefit", the sweep
/// crossover's and the cost model's default threshold.
pub const PAYS_THRESHOLD: f64 = 1.1;

/// Speedup below which fusion counts as slower ("fusion is slower"); from it up to
/// [`PAYS_THRESHOLD`] the benefit is minimal.
pub const SLOWER_THRESHOLD: f64 = 0.95;

/// Speedup from which the benefit counts as strong.
pub const STRONG_THRESHOLD: f64 = 1.5;

/// The verdict line of a fusion speedup, with the Python calibrator's thresholds: `>= 1.5`
/// strong, `>= 1.1` moderate, `>= 0.95` minimal, below that slower. A NaN speedup (nothing
/// valid was measured) reads `? Not measured`.
pub fn fusion_verdict(speedup: f64) -> &'static str {
    if speedup.is_nan() {
        "? Not measured"
    } else if speedup >= STRONG_THRESHOLD {
        "✓ Strong fusion benefit"
    } else if speedup >= PAYS_THRESHOLD {
        "✓ Moderate fusion benefit"
    } else if speedup >= SLOWER_THRESHOLD {
        "⚠ Minimal benefit"
    } else {
        "✗ Fusion is slower!"
    }
}
