//! hwcal's run record, typed: [`RunInfo`], the top-level `hwcal` key of a profile (the Python
//! loader ignores unknown top-level keys), and its parts: the device, the peaks and how they
//! were derived, the sampling policy, per-operation statistics, the preflight, the drift
//! canary, an interruption and the sweep crossovers.
//!
//! The one parser of the key: [`super::HardwareCalibration::run_info`]. As for
//! [`super::extras`], the file's JSON stays the profile's ([`super::HardwareCalibration::hwcal`]
//! keeps it as loaded, and merging works on it), the view is parsed from it, and a value of the
//! wrong type reads as absent. Fields are in the order hwcal writes the keys; unknown keys are
//! kept in each record's `other` map and written after the known ones.

use super::extras::{LatencyStats, Precision};
use super::lenient;
use super::ordered::OrderedMap;
use super::schema::JsonMap;
use crate::preflight::Preflight;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// How a theoretical peak was found: given on the command line, estimated (and how), or
/// unknown (`hwcal.peaks.gflops`, `hwcal.device.peak_gflops`, and the bandwidth likewise).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Peak {
    /// The figure (GFLOPS or GB/s); 0 means unknown.
    #[serde(deserialize_with = "lenient::number")]
    pub value: Option<f64>,
    /// `estimated`, `unknown` or `given with --peak-gflops` (absent in the device's record).
    #[serde(deserialize_with = "lenient::value")]
    pub source: Option<String>,
    /// How it was derived, or what to do when it could not be.
    #[serde(deserialize_with = "lenient::value")]
    pub how: Option<String>,
    /// Keys this view does not know, kept in order.
    #[serde(flatten)]
    pub other: JsonMap,
}

/// The theoretical peaks the profile's efficiencies are relative to (`hwcal.peaks`).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Peaks {
    /// Peak f32 GFLOPS.
    #[serde(deserialize_with = "lenient::value")]
    pub gflops: Option<Peak>,
    /// Peak memory bandwidth, GB/s.
    #[serde(deserialize_with = "lenient::value")]
    pub bandwidth_gbps: Option<Peak>,
    /// Keys this view does not know, kept in order.
    #[serde(flatten)]
    pub other: JsonMap,
}

/// The device as its backend described it (`hwcal.device`).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeviceRecord {
    /// Backend name (`cpu`, `gpu`).
    #[serde(deserialize_with = "lenient::value")]
    pub backend: Option<String>,
    /// The device's name (the GPU adapter's, or the CPU model).
    #[serde(deserialize_with = "lenient::value")]
    pub name: Option<String>,
    /// The host's CPU model.
    #[serde(deserialize_with = "lenient::value")]
    pub cpu_model: Option<String>,
    /// The host's logical CPUs.
    #[serde(deserialize_with = "lenient::value")]
    pub cpu_count: Option<u64>,
    /// The host's memory, GB.
    #[serde(deserialize_with = "lenient::number")]
    pub total_memory_gb: Option<f64>,
    /// Worker threads the backend used.
    #[serde(deserialize_with = "lenient::value")]
    pub threads: Option<u64>,
    /// How kernel times were taken.
    #[serde(deserialize_with = "lenient::value")]
    pub timing_method: Option<String>,
    /// The backend's own peak GFLOPS estimate: `Some(None)` when it had none (`null`).
    #[serde(deserialize_with = "lenient::nullable")]
    pub peak_gflops: Option<Option<Peak>>,
    /// The backend's own peak bandwidth estimate: `Some(None)` when it had none (`null`).
    #[serde(deserialize_with = "lenient::nullable")]
    pub peak_bandwidth_gbps: Option<Option<Peak>>,
    /// Everything else the backend reports (ISA features, driver, limits), free-form.
    #[serde(deserialize_with = "lenient::value")]
    pub details: Option<Value>,
    /// Keys this view does not know, kept in order.
    #[serde(flatten)]
    pub other: JsonMap,
}

/// The sampling policy of the run (`hwcal.sampling`).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplingRecord {
    /// Warm-up runs per point.
    #[serde(deserialize_with = "lenient::value")]
    pub warmup: Option<u64>,
    /// Fewest samples per point.
    #[serde(deserialize_with = "lenient::value")]
    pub min_samples: Option<u64>,
    /// Most samples per point.
    #[serde(deserialize_with = "lenient::value")]
    pub max_samples: Option<u64>,
    /// Shortest sample, ms (a sample repeats the kernel until it lasts this long).
    #[serde(deserialize_with = "lenient::number")]
    pub sample_floor_ms: Option<f64>,
    /// Relative half-width of the 95% interval sampling aims for.
    #[serde(deserialize_with = "lenient::number")]
    pub target_half_width: Option<f64>,
    /// Most seconds of sampling per point.
    #[serde(deserialize_with = "lenient::number")]
    pub time_cap_s: Option<f64>,
    /// Confidence level of the intervals (0.95).
    #[serde(deserialize_with = "lenient::number")]
    pub confidence: Option<f64>,
    /// Keys this view does not know, kept in order.
    #[serde(flatten)]
    pub other: JsonMap,
}

/// Every sample of one variant of one measurement (`hwcal.samples[label][variant]`).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SampleSeries {
    /// Kernel runs per sample.
    #[serde(deserialize_with = "lenient::value")]
    pub iterations_per_sample: Option<u64>,
    /// The samples, ms per iteration, in the order taken.
    #[serde(deserialize_with = "lenient::value")]
    pub ms_per_iteration: Option<Vec<f64>>,
    /// Keys this view does not know, kept in order.
    #[serde(flatten)]
    pub other: JsonMap,
}

/// The statistics of one operation profile (`hwcal.operation_statistics[key]`, the key being
/// the operation's key in `operation_profiles`): latency, then the STREAM or matmul figures.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OperationStats {
    /// Latency statistics, ms per iteration.
    #[serde(flatten)]
    pub latency: LatencyStats,
    /// STREAM: bytes moved per run.
    #[serde(deserialize_with = "lenient::number")]
    pub bytes_per_run: Option<f64>,
    /// STREAM: bandwidth at the median latency, GB/s.
    #[serde(deserialize_with = "lenient::number")]
    pub median_bandwidth_gbps: Option<f64>,
    /// STREAM: the 95% interval of that bandwidth.
    #[serde(deserialize_with = "lenient::number_pair")]
    pub median_bandwidth_gbps_ci95: Option<[f64; 2]>,
    /// Matmul: GFLOPS of the fastest sample.
    #[serde(deserialize_with = "lenient::number")]
    pub best_gflops: Option<f64>,
    /// Matmul: the 95% interval of the median GFLOPS.
    #[serde(deserialize_with = "lenient::number_pair")]
    pub gflops_ci95: Option<[f64; 2]>,
    /// How precise the median is.
    #[serde(deserialize_with = "lenient::value")]
    pub precision: Option<Precision>,
    /// Matmul: largest absolute difference from the f64 reference.
    #[serde(deserialize_with = "lenient::number")]
    pub verification_max_abs_err: Option<f64>,
    /// Matmul in another precision than f32: the type its products were summed in (`f64`,
    /// `f32`, `f16x32+f32`, `i32`).
    #[serde(deserialize_with = "lenient::value")]
    pub accumulate: Option<String>,
    /// The preset of the run that measured it.
    #[serde(deserialize_with = "lenient::value")]
    pub preset: Option<String>,
    /// Keys this view does not know, kept in order.
    #[serde(flatten)]
    pub other: JsonMap,
}

/// One reading of the drift canary (`hwcal.drift.readings[]`).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DriftReading {
    /// The measurement it followed (`start` for the first).
    #[serde(deserialize_with = "lenient::value")]
    pub after: Option<String>,
    /// The canary's median time per iteration, ms.
    #[serde(deserialize_with = "lenient::number")]
    pub ms: Option<f64>,
    /// Relative half-width of its 95% interval.
    #[serde(deserialize_with = "lenient::number")]
    pub half_width: Option<f64>,
    /// Relative deviation from the reference.
    #[serde(deserialize_with = "lenient::number")]
    pub deviation: Option<f64>,
    /// Whether it moved beyond the tolerance.
    #[serde(deserialize_with = "lenient::value")]
    pub moved: Option<bool>,
    /// Keys this view does not know, kept in order.
    #[serde(flatten)]
    pub other: JsonMap,
}

/// Whether the machine's speed drifted during the run, as a small matmul re-timed between
/// measurements saw it (`hwcal.drift`).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DriftRecord {
    /// The canary, e.g. `matmul 256×256`.
    #[serde(deserialize_with = "lenient::value")]
    pub canary: Option<String>,
    /// Relative move tolerated.
    #[serde(deserialize_with = "lenient::number")]
    pub tolerance: Option<f64>,
    /// The reference time, ms (the median of the readings).
    #[serde(deserialize_with = "lenient::number")]
    pub reference_ms: Option<f64>,
    /// Whether the canary moved.
    #[serde(deserialize_with = "lenient::value")]
    pub drifted: Option<bool>,
    /// Readings that moved.
    #[serde(deserialize_with = "lenient::value")]
    pub readings_moved: Option<u64>,
    /// Readings too unsteady to time precisely.
    #[serde(deserialize_with = "lenient::value")]
    pub readings_unsteady: Option<u64>,
    /// Largest relative move.
    #[serde(deserialize_with = "lenient::number")]
    pub max_deviation: Option<f64>,
    /// Measurements next to a moved reading.
    #[serde(deserialize_with = "lenient::value")]
    pub affected: Option<Vec<String>>,
    /// Every reading, in order.
    #[serde(deserialize_with = "lenient::value")]
    pub readings: Option<Vec<DriftReading>>,
    /// Keys this view does not know, kept in order.
    #[serde(flatten)]
    pub other: JsonMap,
}

/// What an interruption (Ctrl-C, SIGTERM, SIGHUP) left out of the run (`hwcal.interrupted`).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Interrupted {
    /// When, ISO 8601 local time.
    #[serde(deserialize_with = "lenient::value")]
    pub at: Option<String>,
    /// By what.
    #[serde(deserialize_with = "lenient::value")]
    pub by: Option<String>,
    /// Measurements not made.
    #[serde(deserialize_with = "lenient::value")]
    pub not_measured: Option<Vec<String>>,
    /// Measurements cut short that kept the precision they reached.
    #[serde(deserialize_with = "lenient::value")]
    pub cut_short: Option<Vec<String>>,
    /// Keys this view does not know, kept in order.
    #[serde(flatten)]
    pub other: JsonMap,
}

/// Where fusion starts to pay along each swept size (`hwcal.sweep_crossovers`).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SweepCrossovers {
    /// The speedup that counts as paying.
    #[serde(deserialize_with = "lenient::number")]
    pub threshold: Option<f64>,
    /// Per pattern and axis, the size from which fusion pays; `None` (`null`) where it never
    /// does within the sizes measured.
    #[serde(deserialize_with = "lenient::value")]
    pub sizes: Option<OrderedMap<OrderedMap<Option<f64>>>>,
    /// Keys this view does not know, kept in order.
    #[serde(flatten)]
    pub other: JsonMap,
}

/// The preflight as [`Preflight::from_json`] reads it (tolerant of the Python calibrator's
/// form), or `None` when it cannot.
fn preflight<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Preflight>, D::Error> {
    Ok(Preflight::from_json(&Value::deserialize(d)?))
}

/// hwcal's run record (the `hwcal` key), in the order hwcal writes its keys.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunInfo {
    /// Version of this record's layout (1).
    #[serde(deserialize_with = "lenient::value")]
    pub schema_version: Option<u64>,
    /// hwcal's version.
    #[serde(deserialize_with = "lenient::value")]
    pub tool_version: Option<String>,
    /// Backend (`cpu`, `gpu`).
    #[serde(deserialize_with = "lenient::value")]
    pub backend: Option<String>,
    /// Preset of the run, or [`super::MIXED_PRESETS`] for a file merged from several.
    #[serde(deserialize_with = "lenient::value")]
    pub preset: Option<String>,
    /// Worker threads.
    #[serde(deserialize_with = "lenient::value")]
    pub threads: Option<u64>,
    /// How kernel times were taken.
    #[serde(deserialize_with = "lenient::value")]
    pub timing_method: Option<String>,
    /// How samples were taken and figures derived, in words.
    #[serde(deserialize_with = "lenient::value")]
    pub timing_policy: Option<String>,
    /// The sampling policy.
    #[serde(deserialize_with = "lenient::value")]
    pub sampling: Option<SamplingRecord>,
    /// Labels of the measurements that missed their precision target.
    #[serde(deserialize_with = "lenient::value")]
    pub imprecise: Option<Vec<String>>,
    /// Every sample, per measurement label and variant.
    #[serde(deserialize_with = "lenient::value")]
    pub samples: Option<OrderedMap<OrderedMap<SampleSeries>>>,
    /// The device.
    #[serde(deserialize_with = "lenient::value")]
    pub device: Option<DeviceRecord>,
    /// The theoretical peaks and how they were found.
    #[serde(deserialize_with = "lenient::value")]
    pub peaks: Option<Peaks>,
    /// Statistics per operation profile key.
    #[serde(deserialize_with = "lenient::value")]
    pub operation_statistics: Option<OrderedMap<OperationStats>>,
    /// The run's failures, one message each.
    #[serde(deserialize_with = "lenient::value")]
    pub failures: Option<Vec<String>>,
    /// The machine's state before the run.
    #[serde(deserialize_with = "preflight")]
    pub preflight: Option<Preflight>,
    /// Whether the worker threads were pinned to cores.
    #[serde(deserialize_with = "lenient::value")]
    pub threads_pinned: Option<bool>,
    /// The machine's state during the run.
    #[serde(deserialize_with = "lenient::value")]
    pub drift: Option<DriftRecord>,
    /// What an interruption left out.
    #[serde(deserialize_with = "lenient::value")]
    pub interrupted: Option<Interrupted>,
    /// Where fusion starts to pay along each swept size (runs with `--sweep`).
    #[serde(deserialize_with = "lenient::value")]
    pub sweep_crossovers: Option<SweepCrossovers>,
    /// Measured peaks per precision, the theoretical table, and why precisions are
    /// unsupported.
    #[serde(deserialize_with = "lenient::value")]
    pub precisions: Option<super::precisions::PrecisionsRecord>,
    /// Keys this view does not know, kept in order.
    #[serde(flatten)]
    pub other: JsonMap,
}

impl RunInfo {
    /// The view of a `hwcal` object; `None` for anything else. Never fails on an object: what
    /// it cannot read is absent (see [`Self::unread_keys`]).
    pub fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Object(_) => Some(RunInfo::deserialize(v).unwrap_or_default()),
            _ => None,
        }
    }

    /// The record as the `hwcal` object: known keys in hwcal's order (NaN as `null`), then
    /// [`Self::other`].
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("a struct with string keys serialises")
    }

    /// The keys of `raw` (the object this view was read from) whose values the view could not
    /// read (a known key holding the wrong type), in file order.
    pub fn unread_keys(&self, raw: &JsonMap) -> Vec<String> {
        lenient::unread_keys(raw, self)
    }
}

impl super::HardwareCalibration {
    /// hwcal's run record ([`Self::hwcal`]) typed, the one parser of the key; `None` when the
    /// profile has none (the Python calibrator's) or it is not an object.
    pub fn run_info(&self) -> Option<RunInfo> {
        self.hwcal.as_ref().and_then(RunInfo::from_value)
    }
}
