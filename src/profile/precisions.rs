//! Precisions in a profile: hwcal's record of them (`hwcal.precisions`: measured peaks, the
//! theoretical table, why a precision is unsupported) and the Python tool's
//! `precision_matrix`, derived from the profile's entries.
//!
//! The matrix is derived on every write ([`HardwareCalibration::refresh_precision_matrix`]),
//! never from one run's memory, so a merged file stays consistent: a precision is supported
//! when the profile holds a verified matmul entry of it (every entry in a profile passed
//! verification), its `peak_gflops_by_precision` is the best of those entries, its
//! `speedup_vs_fp32` that over fp32's best, and `theoretical_peaks` comes from the record's
//! table. The matrix has exactly the Python tool's six fields (its newest loader builds the
//! object from them and rejects others); the reasons for the unsupported ones are under the
//! `hwcal` key.

use super::lenient;
use super::ordered::OrderedMap;
use super::schema::{JsonMap, OperationCalibration};
use super::HardwareCalibration;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// One measured peak (`hwcal.precisions.peaks[]`).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PeakRecord {
    /// `fp64`, `fp32`, `fp16`, `bf16`, `int8`.
    #[serde(deserialize_with = "lenient::value")]
    pub precision: Option<String>,
    /// `scalar`, `vector`, `matrix`.
    #[serde(deserialize_with = "lenient::value")]
    pub width: Option<String>,
    /// The instruction the chains issued.
    #[serde(deserialize_with = "lenient::value")]
    pub instruction: Option<String>,
    /// G(FL)OPS of the median run.
    #[serde(deserialize_with = "lenient::number")]
    pub median_gops: Option<f64>,
    /// 95% interval of that median, G(FL)OPS `[low, high]`.
    #[serde(deserialize_with = "lenient::value")]
    pub gops_ci95: Option<[f64; 2]>,
    /// G(FL)OPS of the fastest run.
    #[serde(deserialize_with = "lenient::number")]
    pub best_gops: Option<f64>,
    /// Core clock under the same load, MHz (CPU only).
    #[serde(deserialize_with = "lenient::number")]
    pub clock_mhz: Option<f64>,
    /// The table's peak for the same units at the table's clock.
    #[serde(deserialize_with = "lenient::number")]
    pub theoretical_gops: Option<f64>,
    /// The table's peak at the measured clock.
    #[serde(deserialize_with = "lenient::number")]
    pub theoretical_gops_at_clock: Option<f64>,
    /// `median_gops / theoretical_gops_at_clock` (or at the table's clock when no clock was
    /// measured).
    #[serde(deserialize_with = "lenient::number")]
    pub efficiency: Option<f64>,
    /// Samples behind the median.
    #[serde(deserialize_with = "lenient::value")]
    pub samples: Option<u64>,
    /// Keys this view does not know, kept in order.
    #[serde(flatten)]
    pub other: JsonMap,
}

/// One row of the theoretical table (`hwcal.precisions.theoretical[]`).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TheoreticalRecord {
    /// Precision name.
    #[serde(deserialize_with = "lenient::value")]
    pub precision: Option<String>,
    /// `scalar`, `vector`, `matrix`.
    #[serde(deserialize_with = "lenient::value")]
    pub width: Option<String>,
    /// G(FL)OPS at the table's clock.
    #[serde(deserialize_with = "lenient::number")]
    pub gops: Option<f64>,
    /// Operations per cycle per core.
    #[serde(deserialize_with = "lenient::number")]
    pub ops_per_cycle_per_core: Option<f64>,
    /// Cores counted.
    #[serde(deserialize_with = "lenient::value")]
    pub cores: Option<u64>,
    /// The table's clock, MHz.
    #[serde(deserialize_with = "lenient::number")]
    pub clock_mhz: Option<f64>,
    /// How the row was derived.
    #[serde(deserialize_with = "lenient::value")]
    pub how: Option<String>,
    /// Keys this view does not know, kept in order.
    #[serde(flatten)]
    pub other: JsonMap,
}

/// hwcal's record of the precisions (`hwcal.precisions`).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PrecisionsRecord {
    /// The precisions the run was asked for (`--precisions`).
    #[serde(deserialize_with = "lenient::value")]
    pub requested: Option<Vec<String>>,
    /// Measured peaks, per precision and width.
    #[serde(deserialize_with = "lenient::value")]
    pub peaks: Option<Vec<PeakRecord>>,
    /// What the device could not run natively, by what (`bf16 matmul`, `fp16 scalar peak`),
    /// with the reason.
    #[serde(deserialize_with = "lenient::value")]
    pub unsupported: Option<OrderedMap<String>>,
    /// The theoretical table of the device.
    #[serde(deserialize_with = "lenient::value")]
    pub theoretical: Option<Vec<TheoreticalRecord>>,
    /// Measured figures the table cannot explain (an efficiency above 100%).
    #[serde(deserialize_with = "lenient::value")]
    pub warnings: Option<Vec<String>>,
    /// Keys this view does not know, kept in order.
    #[serde(flatten)]
    pub other: JsonMap,
}

/// The precision of an operation entry that has one: a matmul's `extra_params.precision`,
/// fp32 when absent (every matmul before precisions existed was f32); `None` for other
/// operations.
pub fn precision_of(op: &OperationCalibration) -> Option<String> {
    if op.operation_type != "matmul" {
        return None;
    }
    Some(
        op.extra_params
            .get("precision")
            .and_then(Value::as_str)
            .unwrap_or("fp32")
            .to_string(),
    )
}

/// The order tables list precisions in (the Python tool's), then any other name.
fn rank(name: &str) -> usize {
    [
        "fp64", "fp32", "tf32", "fp16", "bf16", "int32", "int16", "int8",
    ]
    .iter()
    .position(|&p| p == name)
    .unwrap_or(usize::MAX)
}

impl HardwareCalibration {
    /// The `hwcal.precisions` record, when the profile has one.
    pub fn precisions_record(&self) -> Option<PrecisionsRecord> {
        self.run_info().and_then(|r| r.precisions)
    }

    /// Recomputes `precision_matrix` from the operation entries and `hwcal.precisions`, when
    /// hwcal measured precisions for this profile (a precision-qualified entry or the record
    /// exists); a matrix written by another tool with nothing of hwcal's to derive from is
    /// left as it is.
    pub fn refresh_precision_matrix(&mut self) {
        let record = self.precisions_record();
        let qualified = self
            .operation_profiles
            .values()
            .any(|op| op.extra_params.contains_key("precision"));
        if record.is_none() && !qualified {
            return;
        }
        let record = record.unwrap_or_default();
        let mut best: OrderedMap<f64> = OrderedMap::new();
        for op in self.operation_profiles.values() {
            let Some(p) = precision_of(op) else { continue };
            let g = op.measured_gflops;
            if !(g.is_finite() && g > 0.0) {
                continue;
            }
            let b = best.get_or_insert_with(&p, || 0.0);
            *b = b.max(g);
        }
        let mut supported: Vec<String> = best.keys().cloned().collect();
        supported.sort_by_key(|p| rank(p));
        let mut unsupported: Vec<String> = Vec::new();
        for what in record.unsupported.iter().flat_map(|u| u.keys()) {
            if let Some(p) = what.strip_suffix(" matmul") {
                if !best.contains_key(p) && !unsupported.iter().any(|u| u == p) {
                    unsupported.push(p.to_string());
                }
            }
        }
        unsupported.sort_by_key(|p| rank(p));
        let fp32 = best.get("fp32").copied();
        let mut peak = serde_json::Map::new();
        let mut speedup = serde_json::Map::new();
        for p in &supported {
            let g = best[p.as_str()];
            peak.insert(p.clone(), json!(g));
            if let Some(f) = fp32 {
                speedup.insert(p.clone(), json!(g / f));
            }
        }
        // The table's best unit per precision (AMX over vector over scalar).
        let mut theoretical: Vec<(String, f64)> = Vec::new();
        for t in record.theoretical.iter().flatten() {
            let (Some(p), Some(g)) = (t.precision.clone(), t.gops) else {
                continue;
            };
            match theoretical.iter_mut().find(|(q, _)| *q == p) {
                Some((_, v)) => *v = v.max(g),
                None => theoretical.push((p, g)),
            }
        }
        theoretical.sort_by_key(|(p, _)| rank(p));
        let matrix = json!({
            "hardware_name": self.metadata.hardware_name,
            "supported_precisions": supported,
            "unsupported_precisions": unsupported,
            "peak_gflops_by_precision": peak,
            "speedup_vs_fp32": speedup,
            "theoretical_peaks": theoretical
                .into_iter()
                .map(|(k, v)| (k, json!(v)))
                .collect::<serde_json::Map<_, _>>(),
        });
        self.extra.insert("precision_matrix".into(), matrix);
    }
}

/// A figure for a table: one decimal, or `-` when absent or not finite.
fn figure(x: Option<f64>) -> String {
    x.filter(|v| v.is_finite())
        .map_or_else(|| "-".to_string(), |v| format!("{v:.1}"))
}

impl HardwareCalibration {
    /// The precision grid of `hwcal show`: per precision whether it is supported, its best
    /// matmul, its speedup over fp32, the peaks measured per width and their efficiency
    /// against the table; then why the unsupported ones are, and any warning. Read from the
    /// `precision_matrix` (so a Python tool's profile shows its own) and `hwcal.precisions`.
    pub(super) fn precision_grid(&self, out: &mut String) {
        use std::fmt::Write as _;
        let matrix = self
            .extra
            .get("precision_matrix")
            .and_then(Value::as_object);
        let record = self.precisions_record();
        if matrix.is_none() && record.is_none() {
            return;
        }
        let names = |key: &str| -> Vec<String> {
            matrix
                .and_then(|m| m.get(key))
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let number = |key: &str, p: &str| {
            matrix
                .and_then(|m| m.get(key))
                .and_then(|v| v.get(p))
                .and_then(Value::as_f64)
        };
        let supported = names("supported_precisions");
        let unsupported = names("unsupported_precisions");
        let peaks = record
            .as_ref()
            .and_then(|r| r.peaks.clone())
            .unwrap_or_default();
        let mut all: Vec<String> = supported.iter().chain(&unsupported).cloned().collect();
        for p in peaks.iter().filter_map(|p| p.precision.clone()) {
            if !all.contains(&p) {
                all.push(p);
            }
        }
        all.sort_by_key(|p| rank(p));
        all.dedup();
        let _ = writeln!(out, "\nPrecisions:");
        let mut table = super::run_summary::new_table(vec![
            "Precision",
            "Matmul",
            "Best matmul G(FL)OPS",
            "× fp32",
            "Peaks measured, G(FL)OPS",
            "Theoretical",
            "Peak efficiency",
        ]);
        for p in &all {
            let state = if supported.contains(p) {
                // hwcal lists a precision only once its matmul verified; another tool's
                // profile says what it says.
                if record.is_some() {
                    "verified"
                } else {
                    "supported"
                }
            } else if unsupported.contains(p) {
                "unsupported"
            } else {
                "not measured"
            };
            let mine: Vec<&PeakRecord> = peaks
                .iter()
                .filter(|r| r.precision.as_deref() == Some(p.as_str()))
                .collect();
            let peak_text = mine
                .iter()
                .map(|r| {
                    format!(
                        "{} {}",
                        r.width.as_deref().unwrap_or("?"),
                        figure(r.median_gops)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            let best = mine
                .iter()
                .filter(|r| r.median_gops.is_some_and(f64::is_finite))
                .max_by(|a, b| {
                    a.median_gops
                        .unwrap_or(0.0)
                        .total_cmp(&b.median_gops.unwrap_or(0.0))
                });
            let efficiency = best
                .and_then(|r| r.efficiency)
                .filter(|e| e.is_finite())
                .map_or_else(
                    || "-".to_string(),
                    |e| {
                        format!(
                            "{:.0}% ({})",
                            e * 100.0,
                            best.and_then(|r| r.width.as_deref()).unwrap_or("?")
                        )
                    },
                );
            table.add_row(vec![
                p.clone(),
                state.to_string(),
                figure(number("peak_gflops_by_precision", p)),
                number("speedup_vs_fp32", p)
                    .filter(|v| v.is_finite())
                    .map_or_else(|| "-".to_string(), |v| format!("{v:.2}×")),
                if peak_text.is_empty() {
                    "-".to_string()
                } else {
                    peak_text
                },
                figure(number("theoretical_peaks", p)),
                efficiency,
            ]);
        }
        super::run_summary::write_indented(out, &mut table, 2..7);
        if let Some(r) = &record {
            for (what, why) in r.unsupported.iter().flat_map(|u| u.iter()) {
                let _ = writeln!(out, "  unsupported: {what}: {why}");
            }
            for p in &peaks {
                if let (Some(p0), Some(w), Some(i)) = (&p.precision, &p.width, &p.instruction) {
                    let clock = p
                        .clock_mhz
                        .filter(|c| c.is_finite())
                        .map_or(String::new(), |c| format!(" at {:.2} GHz", c / 1000.0));
                    let _ = writeln!(out, "  peak: {p0} {w}: {i}{clock}");
                }
            }
            for w in r.warnings.iter().flatten() {
                let _ = writeln!(out, "  warning: {w}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::CalibrationMetadata;

    fn matmul(n: usize, gflops: f64, precision: Option<&str>) -> OperationCalibration {
        let mut op = OperationCalibration::new("matmul", vec![n, n]);
        op.measured_gflops = gflops;
        op.compute_bound = true;
        op.extra_params.insert("matrix_size".into(), json!(n));
        if let Some(p) = precision {
            op.extra_params.insert("precision".into(), json!(p));
        }
        op
    }

    #[test]
    fn the_matrix_lists_only_verified_matmuls_as_supported_with_python_fields() {
        let mut p = HardwareCalibration::new(CalibrationMetadata::new("dev"), 100.0, 0.0);
        p.add_operation(matmul(64, 50.0, None));
        p.add_operation(matmul(128, 80.0, None));
        p.add_operation(matmul(64, 400.0, Some("int8")));
        p.hwcal = Some(json!({"precisions": {
            "unsupported": {"fp16 matmul": "no kernel", "int8 matmul": "stale", "bf16 vector peak": "x"},
            "theoretical": [{"precision": "fp32", "gops": 100.0}, {"precision": "int8", "gops": 300.0},
                            {"precision": "int8", "width": "matrix", "gops": 900.0}]}}));
        p.refresh_precision_matrix();
        let m = &p.extra["precision_matrix"];
        let keys: Vec<_> = m.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "hardware_name",
                "supported_precisions",
                "unsupported_precisions",
                "peak_gflops_by_precision",
                "speedup_vs_fp32",
                "theoretical_peaks"
            ]
        );
        assert_eq!(m["supported_precisions"], json!(["fp32", "int8"]));
        // int8 verified, so its stale reason does not make it unsupported.
        assert_eq!(m["unsupported_precisions"], json!(["fp16"]));
        assert_eq!(m["peak_gflops_by_precision"]["fp32"], json!(80.0));
        assert_eq!(m["speedup_vs_fp32"]["int8"], json!(5.0));
        assert_eq!(m["theoretical_peaks"]["int8"], json!(900.0));
        // The GFLOPS aggregates stay fp32's.
        assert_eq!(p.best_measured_gflops, 80.0);
        let shown = p.summary();
        assert!(shown.contains("Precisions:"), "{shown}");
        assert!(
            shown.contains("unsupported: fp16 matmul: no kernel"),
            "{shown}"
        );
        let int8 = shown.lines().find(|l| l.contains("│ int8")).unwrap();
        assert!(
            int8.contains("verified") && int8.contains("5.00×"),
            "{int8}"
        );
    }

    #[test]
    fn a_python_matrix_is_left_alone_without_hwcal_precisions() {
        let mut p = HardwareCalibration::new(CalibrationMetadata::new("dev"), 0.0, 0.0);
        p.add_operation(matmul(64, 50.0, None));
        p.extra.insert(
            "precision_matrix".into(),
            json!({"supported_precisions": ["fp64"]}),
        );
        p.refresh_precision_matrix();
        assert_eq!(
            p.extra["precision_matrix"],
            json!({"supported_precisions": ["fp64"]})
        );
    }
}
