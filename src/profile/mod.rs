//! Calibration profiles: the JSON schema of the Python `graphs` calibrator, loading and saving
//! it without loss, and printing a summary.
//!
//! A profile ([`HardwareCalibration`]) holds the run's [`CalibrationMetadata`], theoretical and
//! measured aggregates, [`OperationCalibration`]s keyed by [`operation_key`], and
//! [`FusionCalibration`]s keyed by pattern name. hwcal adds two top-level keys the Python loader
//! ignores: `fusion_measurements` (every shape measured per pattern) and `hwcal` (run
//! information). It never adds keys inside `metadata`, an operation or a fusion profile, where
//! the Python loader would reject them: hwcal's additions there go into `extra_params`.
//!
//! hwcal's additions are typed by views parsed from the JSON the profile keeps:
//! [`FusionExtras`] ([`FusionCalibration::hwcal_extras`], a fusion entry's `extra_params`) and
//! [`RunInfo`] ([`HardwareCalibration::run_info`], the `hwcal` key); [`crate::analysis`] holds the
//! thresholds every part of hwcal judges a speedup by.
//!
//! Compatibility, as tested against real files the Python calibrator wrote:
//! - load -> save is byte-identical for every Python-written profile (same key order, same
//!   float text, same escaping, no trailing newline); unknown keys at any level are kept;
//! - a profile from before fusion existed (no `fusion_profiles`) loads with none and is saved
//!   without the key, see [`HardwareCalibration::write_empty_fusion_profiles`];
//! - non-finite floats are written as `null` (strict JSON; Python's writer would emit `NaN`),
//!   and Python's `NaN`/`Infinity`/`-Infinity` tokens are accepted on load: measurement fields
//!   read them (and `null`) as NaN, "not measured", except `theoretical_peak_gflops`,
//!   `theoretical_bandwidth_gbps` and `total_memory_gb`, where 0 means unknown and they are
//!   refused; in unknown keys they become `null`. No fixture has any. Every other number is
//!   checked against the range its meaning allows ([`limits`]);
//! - saving over an existing file merges into it or refuses, see
//!   [Overwrite policy](self#overwrite-policy);
//! - every number is checked on load against its range in [`limits`] (what each numeric field
//!   means and may hold); an absurd one (`5e-324` GFLOPS, a speedup of `1e308`) is refused.
//!
//! # Overwrite policy
//! [`HardwareCalibration::save_merging`] writes when there is no file; merges into the file when
//! it is a profile of the same `metadata.hardware_name` (what this run did not re-measure is
//! kept, see [`HardwareCalibration::merge_older`]); and refuses with [`crate::Error::Profile`],
//! leaving the file untouched, when it is anything else. All writes are atomic (temporary file
//! in the same directory, then rename).

mod calibration;
pub mod extras;
mod io;
pub mod json;
mod key;
mod lenient;
pub mod limits;
mod merge;
mod ordered;
pub mod precisions;
pub mod run_info;
mod run_summary;
mod schema;
mod summary;

pub use calibration::HardwareCalibration;
pub use extras::FusionExtras;
pub use io::{check_output_location, write_atomically, OutputLock};
pub use key::{operation_key, python_repr, python_str, size_tag, MEDIUM_LIMIT, SMALL_LIMIT};
pub use merge::MIXED_PRESETS;
pub use ordered::OrderedMap;
pub use run_info::RunInfo;
pub use schema::{CalibrationMetadata, FusionCalibration, JsonMap, OperationCalibration};

#[cfg(test)]
mod tests;
