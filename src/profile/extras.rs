//! What hwcal adds to a fusion profile entry, typed: [`FusionExtras`], read from and written to
//! the entry's `extra_params` (the Python loader rejects new keys elsewhere in an entry), with
//! the statistics ([`LatencyStats`]) and precision ([`Precision`]) records it shares with the
//! `hwcal` key's operation statistics ([`super::run_info`]).
//!
//! The one parser of these keys: [`FusionCalibration::hwcal_extras`]. Every reader (the
//! summary, the compare report, the cost model, `hwcal bench`) goes through it. The JSON stays
//! what the file holds: [`FusionCalibration::extra_params`] keeps the map as loaded, so
//! load -> save loses nothing, and the view is parsed from it. A value of the wrong type reads
//! as absent, as it always did; the loader has already refused numbers out of their range
//! (`flops`, `sweep_value`, `speedup_ci95`, see [`super::limits::FIELDS`]).
//!
//! Field order is the order hwcal writes the keys in, so a view written back (see
//! [`FusionExtras::to_map`]) lays its keys out as the file did; keys the view does not know
//! (a user's note) are kept in [`FusionExtras::other`] and written after them.

use super::lenient;
use super::schema::{FusionCalibration, JsonMap};
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

/// Latency statistics of one series of samples, in ms per iteration (the `stats` object of
/// `unfused_stats`, `fused_stats` and `hwcal.operation_statistics`). Always embedded
/// (flattened) in a record that has a catch-all for the keys it does not know.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LatencyStats {
    /// Median.
    #[serde(deserialize_with = "lenient::number")]
    pub median_ms: Option<f64>,
    /// Mean.
    #[serde(deserialize_with = "lenient::number")]
    pub mean_ms: Option<f64>,
    /// Standard deviation.
    #[serde(deserialize_with = "lenient::number")]
    pub std_ms: Option<f64>,
    /// Fastest sample.
    #[serde(deserialize_with = "lenient::number")]
    pub min_ms: Option<f64>,
    /// Slowest sample.
    #[serde(deserialize_with = "lenient::number")]
    pub max_ms: Option<f64>,
    /// 5th percentile.
    #[serde(deserialize_with = "lenient::number")]
    pub p5_ms: Option<f64>,
    /// 95th percentile.
    #[serde(deserialize_with = "lenient::number")]
    pub p95_ms: Option<f64>,
    /// Median absolute deviation.
    #[serde(deserialize_with = "lenient::number")]
    pub mad_ms: Option<f64>,
    /// Interquartile range.
    #[serde(deserialize_with = "lenient::number")]
    pub iqr_ms: Option<f64>,
    /// Coefficient of variation (std / mean).
    #[serde(deserialize_with = "lenient::number")]
    pub cv: Option<f64>,
    /// Number of samples.
    #[serde(deserialize_with = "lenient::value")]
    pub n: Option<u64>,
    /// Kernel runs per sample (each sample repeats the kernel to last the sample floor).
    #[serde(deserialize_with = "lenient::value")]
    pub iterations_per_sample: Option<u64>,
    /// Whether the series is noisy (CV > 5%).
    #[serde(deserialize_with = "lenient::value")]
    pub noisy: Option<bool>,
}

/// The statistics of one variant of a fusion measurement (`unfused_stats`, `fused_stats`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VariantStats {
    /// The latency statistics.
    #[serde(flatten)]
    pub latency: LatencyStats,
    /// Keys this view does not know, kept in order.
    #[serde(flatten)]
    pub other: JsonMap,
}

impl VariantStats {
    /// `(cv, n)` when both are usable: a finite, non-negative CV from at least one sample.
    pub fn cv_and_n(&self) -> Option<(f64, usize)> {
        let cv = self.latency.cv?;
        let n = usize::try_from(self.latency.n?).ok()?;
        (cv.is_finite() && cv >= 0.0 && n > 0).then_some((cv, n))
    }
}

/// How precise a figure is, as recorded with it (`precision`): the target and achieved relative
/// half-width of its 95% interval, why sampling stopped, and what it cost.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Precision {
    /// The relative half-width sampling aimed for (0.02 is ±2%).
    #[serde(deserialize_with = "lenient::number")]
    pub target_half_width: Option<f64>,
    /// The relative half-width reached; NaN (`null`) when nothing was measured.
    #[serde(deserialize_with = "lenient::number")]
    pub half_width: Option<f64>,
    /// Whether the target was missed.
    #[serde(deserialize_with = "lenient::value")]
    pub imprecise: Option<bool>,
    /// What stopped sampling (`target`, `time_cap`, `max_samples`, `interrupted`).
    #[serde(deserialize_with = "lenient::value")]
    pub stopped_by: Option<String>,
    /// Samples (pairs, for a fusion measurement) the figure is from.
    #[serde(deserialize_with = "lenient::value")]
    pub samples: Option<u64>,
    /// Visits to the point (points take turns).
    #[serde(deserialize_with = "lenient::value")]
    pub visits: Option<u64>,
    /// Visits whose samples were discarded.
    #[serde(deserialize_with = "lenient::value")]
    pub visits_discarded: Option<u64>,
    /// Seconds spent sampling.
    #[serde(deserialize_with = "lenient::number")]
    pub sampling_s: Option<f64>,
    /// Keys this view does not know, kept in order.
    #[serde(flatten)]
    pub other: JsonMap,
}

/// Everything hwcal records in a fusion profile entry's `extra_params`, in the order it writes
/// it: the (plain or depthwise) conv shape's parameters, where and how it was measured, the speedup's interval and
/// precision, each variant's statistics, and for a sweep point its axis and size.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FusionExtras {
    /// Conv patterns: output channels (the Python calibrator's conv has as many as input).
    #[serde(deserialize_with = "lenient::value")]
    pub out_channels: Option<u64>,
    /// Conv patterns: kernel size (3 in the Python calibrator's).
    #[serde(deserialize_with = "lenient::value")]
    pub kernel_size: Option<u64>,
    /// Conv patterns: stride (1 in the Python calibrator's).
    #[serde(deserialize_with = "lenient::value")]
    pub stride: Option<u64>,
    /// Conv patterns: padding (1 in the Python calibrator's).
    #[serde(deserialize_with = "lenient::value")]
    pub padding: Option<u64>,
    /// Conv patterns: channel groups (1 for a plain convolution, the channel count for a
    /// depthwise one; absent in the Python calibrator's, whose convolutions are plain).
    #[serde(deserialize_with = "lenient::value")]
    pub groups: Option<u64>,
    /// The backend that measured it (`cpu`, `gpu`).
    #[serde(deserialize_with = "lenient::value")]
    pub backend: Option<String>,
    /// The preset of the run that measured it (entries of several runs can share a file).
    #[serde(deserialize_with = "lenient::value")]
    pub preset: Option<String>,
    /// The 95% interval of the speedup, `[lo, hi]` (NaN ends are `null`); see
    /// [`Self::ci95`].
    #[serde(deserialize_with = "lenient::number_pair")]
    pub speedup_ci95: Option<[f64; 2]>,
    /// How the speedup was estimated, in words.
    #[serde(deserialize_with = "lenient::value")]
    pub speedup_estimator: Option<String>,
    /// How precise the speedup is.
    #[serde(deserialize_with = "lenient::value")]
    pub precision: Option<Precision>,
    /// Whether the speedup missed its precision target.
    #[serde(deserialize_with = "lenient::value")]
    pub imprecise: Option<bool>,
    /// Whether either variant's samples were noisy (CV > 5%).
    #[serde(deserialize_with = "lenient::value")]
    pub noisy: Option<bool>,
    /// The unfused chain's statistics.
    #[serde(deserialize_with = "lenient::value")]
    pub unfused_stats: Option<VariantStats>,
    /// The fused kernel's statistics.
    #[serde(deserialize_with = "lenient::value")]
    pub fused_stats: Option<VariantStats>,
    /// FLOPs of one execution of the pattern at this shape.
    #[serde(deserialize_with = "lenient::number")]
    pub flops: Option<f64>,
    /// Largest absolute difference of either variant from the f64 reference.
    #[serde(deserialize_with = "lenient::number")]
    pub max_abs_error: Option<f64>,
    /// Sweep points: the size that varied (`M`, `KN`, `HW`, `C`, `S`).
    #[serde(deserialize_with = "lenient::value")]
    pub sweep_axis: Option<String>,
    /// Sweep points: its value along the axis, as written (an integer in hwcal's sweeps).
    #[serde(deserialize_with = "lenient::value")]
    pub sweep_value: Option<Number>,
    /// Keys this view does not know (a user's note), kept in order.
    #[serde(flatten)]
    pub other: JsonMap,
}

impl FusionExtras {
    /// The view of an `extra_params` map. Never fails: what it cannot read is absent.
    pub fn from_map(map: &JsonMap) -> Self {
        FusionExtras::deserialize(map).unwrap_or_default()
    }

    /// The view as an `extra_params` map: the known keys in hwcal's order (NaN as `null`),
    /// then [`Self::other`].
    pub fn to_map(&self) -> JsonMap {
        match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            _ => unreachable!("a struct with string keys serialises to an object"),
        }
    }

    /// The speedup's 95% interval `(lo, hi)` when both ends are known (finite).
    pub fn ci95(&self) -> Option<(f64, f64)> {
        let [lo, hi] = self.speedup_ci95?;
        (lo.is_finite() && hi.is_finite()).then_some((lo, hi))
    }

    /// FLOPs of one execution, when known (finite).
    pub fn known_flops(&self) -> Option<f64> {
        self.flops.filter(|x| x.is_finite())
    }

    /// The sweep size as a number, when recorded.
    pub fn sweep_size(&self) -> Option<f64> {
        self.sweep_value.as_ref().and_then(Number::as_f64)
    }

    /// Whether the measurement is flagged noisy.
    pub fn is_noisy(&self) -> bool {
        self.noisy == Some(true)
    }

    /// Whether the measurement is flagged imprecise (it missed its precision target).
    pub fn is_imprecise(&self) -> bool {
        self.imprecise == Some(true)
    }
}

impl FusionCalibration {
    /// hwcal's additions in [`Self::extra_params`], typed (the one parser of these keys).
    /// A profile of the Python calibrator has none: every field is `None`.
    pub fn hwcal_extras(&self) -> FusionExtras {
        FusionExtras::from_map(&self.extra_params)
    }

    /// The size axis of a sweep point and its value along it: `extra_params.sweep_axis` and
    /// `extra_params.sweep_value`; without the value, it is read from `input_shape` (`M`: rows,
    /// `KN`, `C` and `N` (a norm's hidden size): the second dimension, `HW`: the third, `S`:
    /// the sequence length). `None` for
    /// a profile entry that is not a sweep point.
    pub fn sweep_position(&self) -> Option<(String, f64)> {
        let extras = self.hwcal_extras();
        let axis = extras.sweep_axis.clone()?;
        let value = extras.sweep_size().or_else(|| {
            let dim = match axis.as_str() {
                "M" => 0,
                "KN" | "C" | "S" | "N" => 1,
                "HW" => 2,
                _ => return None,
            };
            self.input_shape.get(dim).map(|&d| d as f64)
        })?;
        Some((axis, value))
    }
}
