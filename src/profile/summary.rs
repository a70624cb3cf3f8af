//! The human-readable profile summary (`hwcal show`, and the end of a calibration run).

use super::calibration::HardwareCalibration;
use super::run_summary;
use super::schema::FusionCalibration;
use crate::analysis::fusion_verdict;
use serde_json::Value;
use std::fmt::Write as _;

const RULE_WIDTH: usize = 80;

/// `x` with one decimal, without a negative zero.
fn one_decimal(x: f64) -> String {
    let s = format!("{x:.1}");
    if s == "-0.0" {
        "0.0".to_string()
    } else {
        s
    }
}

fn shape_text(shape: &[usize]) -> String {
    if shape.is_empty() {
        return "scalar".to_string();
    }
    shape
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("×")
}

/// A metadata value in words: strings, numbers and booleans as they are, a list or an object
/// by its size (never raw JSON).
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => crate::text::truncated(s),
        Value::Array(a) => format!("(a list of {})", a.len()),
        Value::Object(o) => format!("(an object of {} keys)", o.len()),
        Value::Null => "null".to_string(),
        scalar => scalar.to_string(),
    }
}

/// The seed's block for one fusion pattern, plus hwcal's confidence and noise lines.
fn fusion_block(out: &mut String, f: &FusionCalibration) {
    // The word follows the number shown: 0.999 prints as "1.00× faster", not "1.00× slower".
    let speedup = format!("{:.2}", f.speedup_factor);
    let speed_word = if speedup.parse::<f64>().is_ok_and(|s| s < 1.0) {
        "slower"
    } else {
        "faster"
    };
    let gflops = one_decimal(f.gflops_improvement * 100.0);
    let gflops_word = if gflops.starts_with('-') {
        "degradation"
    } else {
        "improvement"
    };
    let _ = writeln!(out, "\n{}:", f.fusion_pattern);
    let _ = writeln!(out, "  Speedup:  {speedup}× {speed_word}");
    let _ = writeln!(
        out,
        "  Memory:   {}% reduction",
        one_decimal(f.memory_reduction * 100.0)
    );
    let _ = writeln!(out, "  GFLOPS:   {gflops}% {gflops_word}");
    let _ = writeln!(out, "  Verdict:  {}", fusion_verdict(f.speedup_factor));
    let extras = f.hwcal_extras();
    if let Some((lo, hi)) = extras.ci95() {
        let _ = writeln!(out, "  95% CI:   [{lo:.2}, {hi:.2}]");
    }
    if let Some(p) = &extras.precision {
        let n = p.samples.unwrap_or(0);
        if let Some(hw) = p.half_width.filter(|hw| !hw.is_nan()) {
            let _ = writeln!(out, "  Precision: ±{:.1}% from {n} pairs", hw * 100.0);
        }
    }
    if extras.is_imprecise() {
        let _ = writeln!(
            out,
            "  Note:     imprecise (the time cap came before the target)"
        );
    }
    if extras.is_noisy() {
        let _ = writeln!(out, "  Note:     noisy (CV > 5%)");
    }
}

fn efficiency_text(measured: f64, theoretical: f64, unit: &str, what: &str) -> String {
    if theoretical > 0.0 {
        format!(
            "of {theoretical:.1}{unit} {what} ({:.1}% efficiency)",
            measured / theoretical * 100.0
        )
    } else {
        format!("({what} unknown)")
    }
}

impl HardwareCalibration {
    /// A human-readable summary: run information, measured vs theoretical bandwidth and
    /// GFLOPS, a table of the operation profiles, and the fusion patterns (sorted by name) in
    /// the Python calibrator's layout. Works for any loaded profile. Control characters in the
    /// profile's names are shown as `?` ([`crate::text::printable_lines`]).
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let rule = "=".repeat(RULE_WIDTH);
        let md = &self.metadata;
        let _ = writeln!(out, "{rule}");
        let _ = writeln!(
            out,
            "Calibration Summary: {}",
            crate::text::printable(&md.hardware_name)
        );
        let _ = writeln!(out, "{rule}");
        let _ = writeln!(out, "Date:      {}", md.calibration_date);
        let _ = writeln!(out, "Tool:      version {}", md.calibration_tool_version);
        let _ = writeln!(
            out,
            "System:    {}, {} CPUs, {:.1} GB memory",
            md.cpu_model, md.cpu_count, md.total_memory_gb
        );
        let mut software = Vec::new();
        if !md.python_version.is_empty() {
            software.push(format!("Python {}", md.python_version));
        }
        if let Some(v) = &md.pytorch_version {
            software.push(format!("PyTorch {v}"));
        }
        if let Some(v) = &md.numpy_version {
            software.push(format!("NumPy {v}"));
        }
        if !software.is_empty() {
            let _ = writeln!(out, "Software:  {}", software.join(", "));
        }
        let _ = writeln!(
            out,
            "Runs:      {} warm-up, {} measured{}",
            md.num_warmup_runs,
            md.num_measurement_runs,
            if self.hwcal.is_some() {
                " at least (samples adapt to the precision target)"
            } else {
                ""
            }
        );
        if !md.extra.is_empty() {
            let other: Vec<String> = md
                .extra
                .iter()
                .map(|(k, v)| format!("{k}={}", value_text(v)))
                .collect();
            let _ = writeln!(out, "Other:     {}", other.join(", "));
        }
        // run_info is Some exactly when the hwcal key holds an object.
        let run_info = self.run_info();
        match (&self.hwcal, &run_info) {
            (Some(Value::Object(raw)), Some(info)) if !raw.is_empty() => {
                run_summary::run_block(&mut out, info, raw)
            }
            (Some(other), None) => run_summary::unreadable_run_block(&mut out, other),
            _ => {}
        }

        let _ = writeln!(out, "\nHardware:");
        let bw = if self.measured_bandwidth_gbps > 0.0 {
            format!(
                "{:.1} GB/s {}",
                self.measured_bandwidth_gbps,
                efficiency_text(
                    self.measured_bandwidth_gbps,
                    self.theoretical_bandwidth_gbps,
                    " GB/s",
                    "theoretical"
                )
            )
        } else if self.theoretical_bandwidth_gbps > 0.0 {
            format!(
                "not measured (theoretical {:.1} GB/s)",
                self.theoretical_bandwidth_gbps
            )
        } else {
            "not measured (theoretical unknown)".to_string()
        };
        let _ = writeln!(out, "  Memory bandwidth: {bw}");
        for (label, gflops) in [
            ("Best GFLOPS:     ", self.best_measured_gflops),
            ("Avg GFLOPS:      ", self.avg_measured_gflops),
            ("Worst GFLOPS:    ", self.worst_measured_gflops),
        ] {
            let _ = writeln!(
                out,
                "  {label} {gflops:.1} {}",
                efficiency_text(gflops, self.theoretical_peak_gflops, "", "theoretical peak")
            );
        }

        let _ = writeln!(out, "\nOperations ({}):", self.operation_profiles.len());
        if self.operation_profiles.is_empty() {
            let _ = writeln!(out, "  none in this profile");
        } else {
            let mut table = run_summary::new_table(vec![
                "Operation",
                "Latency ms",
                "GFLOPS",
                "GB/s",
                "FLOP/B",
                "Bound",
            ]);
            for (key, op) in &self.operation_profiles {
                let bound = match (op.memory_bound, op.compute_bound) {
                    (true, _) => "memory",
                    (false, true) => "compute",
                    _ => "-",
                };
                table.add_row(vec![
                    key.clone(),
                    format!("{:.3} ± {:.3}", op.mean_latency_ms, op.std_latency_ms),
                    format!("{:.1}", op.measured_gflops),
                    format!("{:.1}", op.achieved_bandwidth_gbps),
                    format!("{:.2}", op.arithmetic_intensity),
                    bound.to_string(),
                ]);
            }
            run_summary::write_indented(&mut out, &mut table, 1..5);
        }
        if let Some(info) = &run_info {
            run_summary::operation_statistics_table(&mut out, info);
        }

        self.precision_grid(&mut out);

        let _ = writeln!(out, "\nFusion Pattern Performance:");
        let _ = writeln!(out, "{}", "-".repeat(RULE_WIDTH));
        if self.fusion_profiles.is_empty() {
            let _ = writeln!(out, "  none in this profile");
        }
        let mut patterns: Vec<(&String, &FusionCalibration)> =
            self.fusion_profiles.iter().collect();
        patterns.sort_by(|a, b| a.0.cmp(b.0));
        for (pattern, f) in patterns {
            fusion_block(&mut out, f);
            if let Some(list) = self.fusion_measurements.get(pattern) {
                if list.len() > 1 {
                    let _ = writeln!(out, "  By shape:");
                    let width = list
                        .iter()
                        .map(|m| shape_text(&m.input_shape).chars().count())
                        .max()
                        .unwrap_or(0);
                    for m in list {
                        let shape = shape_text(&m.input_shape);
                        let pad = width - shape.chars().count();
                        let mut line =
                            format!("    {shape}{}  {:.2}×", " ".repeat(pad), m.speedup_factor);
                        let extras = m.hwcal_extras();
                        if let Some((lo, hi)) = extras.ci95() {
                            let _ = write!(line, "  [{lo:.2}, {hi:.2}]");
                        }
                        if extras.is_imprecise() {
                            line.push_str("  imprecise");
                        }
                        if extras.is_noisy() {
                            line.push_str("  noisy");
                        }
                        let _ = writeln!(out, "{line}");
                    }
                }
            }
        }

        // The precision matrix is shown above, as a grid.
        let keys: Vec<&str> = self
            .extra
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "precision_matrix")
            .collect();
        if !keys.is_empty() {
            let _ = writeln!(
                out,
                "\nOther keys in this profile (kept): {}",
                keys.join(", ")
            );
        }
        // Names come from the file: no control character of theirs reaches the terminal.
        crate::text::printable_lines(&out).into_owned()
    }

    /// Prints [`Self::summary`] to standard output.
    pub fn print_summary(&self) {
        print!("{}", self.summary());
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::{CalibrationMetadata, JsonMap};
    use super::*;
    use serde_json::json;

    fn fusion(pattern: &str, speedup: f64, mem: f64, gflops: f64) -> FusionCalibration {
        FusionCalibration {
            fusion_pattern: pattern.to_string(),
            operators: pattern.split('_').map(str::to_string).collect(),
            num_operators: pattern.split('_').count(),
            unfused_latency_ms: speedup,
            unfused_gflops: 100.0,
            unfused_memory_bytes: 1000,
            fused_latency_ms: 1.0,
            fused_gflops: 100.0 * (1.0 + gflops),
            fused_memory_bytes: 750,
            speedup_factor: speedup,
            memory_reduction: mem,
            gflops_improvement: gflops,
            input_shape: vec![128, 512, 512],
            extra_params: JsonMap::new(),
            num_trials: 100,
            extra: JsonMap::new(),
        }
    }

    #[test]
    fn verdict_thresholds() {
        assert_eq!(fusion_verdict(1.5), "✓ Strong fusion benefit");
        assert_eq!(fusion_verdict(1.4999), "✓ Moderate fusion benefit");
        assert_eq!(fusion_verdict(1.1), "✓ Moderate fusion benefit");
        assert_eq!(fusion_verdict(1.0999), "⚠ Minimal benefit");
        assert_eq!(fusion_verdict(0.95), "⚠ Minimal benefit");
        assert_eq!(fusion_verdict(0.9499), "✗ Fusion is slower!");
        assert_eq!(fusion_verdict(f64::INFINITY), "✓ Strong fusion benefit");
        assert_eq!(fusion_verdict(f64::NAN), "? Not measured");
    }

    #[test]
    fn fusion_blocks_match_the_seed_layout() {
        let mut cal = HardwareCalibration::new(CalibrationMetadata::new("i7-12700K"), 0.0, 0.0);
        cal.add_fusion_pattern(fusion("Linear_Bias", 2.16, 0.25, 1.66));
        cal.add_fusion_pattern(fusion("FullAttention", 0.89, 0.75, -0.11));
        let s = cal.summary();
        let seed = "\nFusion Pattern Performance:\n".to_string()
            + &"-".repeat(80)
            + "\n\nFullAttention:\n  Speedup:  0.89× slower\n  Memory:   75.0% reduction\n  \
               GFLOPS:   -11.0% degradation\n  Verdict:  ✗ Fusion is slower!\n\n\
               Linear_Bias:\n  Speedup:  2.16× faster\n  Memory:   25.0% reduction\n  \
               GFLOPS:   166.0% improvement\n  Verdict:  ✓ Strong fusion benefit\n";
        assert!(s.contains(&seed), "{s}");
        assert!(s.contains("(theoretical peak unknown)"), "{s}");
        let mut flat = HardwareCalibration::new(CalibrationMetadata::new("d"), 0.0, 0.0);
        flat.add_fusion_pattern(fusion("Linear_Bias_GELU", 0.9996, 0.5, -0.0004));
        let s = flat.summary();
        assert!(
            s.contains("  Speedup:  1.00× faster\n  Memory:   50.0% reduction\n  GFLOPS:   0.0% improvement\n"),
            "{s}"
        );
        assert!(s.contains("not measured (theoretical unknown)"), "{s}");
    }

    #[test]
    fn ci_noise_and_shapes_are_listed() {
        let mut cal = HardwareCalibration::new(CalibrationMetadata::new("d"), 100.0, 10.0);
        let mut small = fusion("Linear_Bias_ReLU", 1.3, 0.4, 0.3);
        small.input_shape = vec![32, 64, 64];
        let mut big = fusion("Linear_Bias_ReLU", 1.02, 0.4, 0.02);
        big.extra_params
            .insert("speedup_ci95".into(), json!([0.98, 1.061]));
        big.extra_params.insert("noisy".into(), json!(true));
        cal.add_fusion_measurement(small);
        cal.add_fusion_measurement(big);
        cal.hwcal = Some(json!({"backend": "cpu", "threads": 8}));
        let s = cal.summary();
        assert!(s.contains("  Verdict:  ⚠ Minimal benefit\n  95% CI:   [0.98, 1.06]\n  Note:     noisy (CV > 5%)\n  By shape:\n    32×64×64     1.30×\n    128×512×512  1.02×  [0.98, 1.06]  noisy\n"), "{s}");
        assert!(
            s.contains("  backend cpu · preset ? · 8 threads · timing ?"),
            "{s}"
        );
    }

    #[test]
    fn the_run_record_reads_as_words_never_raw_json() {
        let mut cal = HardwareCalibration::new(CalibrationMetadata::new("d"), 100.0, 10.0);
        let mut f = fusion("QK_Softmax", 1.2, 0.6, 0.2);
        f.extra_params.insert("imprecise".into(), json!(true));
        f.extra_params.insert(
            "precision".into(),
            json!({"half_width": 0.031, "samples": 412}),
        );
        cal.add_fusion_measurement(f);
        cal.hwcal = Some(json!({
            "backend": "cpu", "preset": "quick", "threads": 2, "threads_pinned": true,
            "timing_method": "host_monotonic_clock", "tool_version": "0.1.0",
            "sampling": {"sample_floor_ms": 1.0, "target_half_width": 0.02, "min_samples": 10,
                         "max_samples": 20000, "time_cap_s": 2.0},
            "imprecise": ["QK_Softmax 1×128×64"],
            "drift": {"canary": "matmul 256×256", "tolerance": 0.02, "drifted": true,
                      "max_deviation": 0.4, "affected": ["copy 128 MB", "triad 128 MB"],
                      "readings": [{}, {}, {}]},
            "preflight": {"timestamp": "2026-12-03T10:00:00", "passed": false, "forced": true,
                          "checks": [{"name": "Steal Time", "status": "failed",
                                      "message": "7.0% stolen", "current_value": "7.0%",
                                      "expected_value": "< 1%"}]},
            "samples": {"copy 128 MB": {"single": {"ms_per_iteration": [1.0, 2.0]}}},
            "failures": [],
        }));
        let s = cal.summary();
        for want in [
            "2 threads (pinned)",
            "Sampling:  samples of ≥ 1 ms, until the 95% interval is within ±2%",
            "Precision: 1 figure(s) stopped short of the target (time cap or interruption): QK_Softmax 1×128×64",
            "Drift:     the canary (matmul 256×256) moved up to 40.0%",
            "copy 128 MB, triad 128 MB",
            "Also kept: samples",
            "Preflight (2026-12-03T10:00:00):",
            "[X] Steal Time: 7.0% stolen",
            "Precision: ±3.1% from 412 pairs",
            "Note:     imprecise",
        ] {
            assert!(s.contains(want), "{want}\n{s}");
        }
        assert!(!s.contains("ms_per_iteration") && !s.contains('{'), "{s}");
    }

    #[test]
    fn the_run_record_shows_device_peaks_statistics_and_crossovers_in_words_and_tables() {
        let mut cal = HardwareCalibration::new(CalibrationMetadata::new("d"), 100.0, 10.0);
        cal.hwcal = Some(json!({
            "backend": "gpu", "threads": 1, "timing_method": "gpu_timestamp_query",
            "timing_policy": "warm-up first; then pairs",
            "device": {"backend": "gpu", "name": "Some GPU", "cpu_model": "Host CPU",
                       "cpu_count": 8, "total_memory_gb": 31.2, "peak_gflops": null,
                       "details": {"adapter": {"driver": "drv", "timestamps": true},
                                   "subgroup_size": [8, 32], "pci_bus_id": ""}},
            "peaks": {"gflops": {"value": 100.0, "source": "given with --peak-gflops"},
                      "bandwidth_gbps": {"value": 0.0, "source": "unknown",
                                         "how": "not derivable on this device"}},
            "operation_statistics": {
                "add_operation=memory_copy_size_mb=2": {
                    "median_ms": 0.1314, "cv": 0.245, "n": 15, "noisy": true,
                    "median_bandwidth_gbps_ci95": [29.04, 32.71],
                    "precision": {"target_half_width": 0.02, "half_width": 0.062,
                                  "imprecise": true}},
                "matmul_matrix_size=64_small": {
                    "median_ms": 0.0102, "cv": 0.01, "n": 9, "gflops_ci95": [49.8, 55.6]},
                "old": {"median_ms": 6.2, "cv": 0.08, "n": 15}},
            "interrupted": {"at": "2026-12-03T10:00:00", "not_measured": ["FullAttention x"],
                            "cut_short": []},
            "sweep_crossovers": {"threshold": 1.1,
                                 "sizes": {"Linear_Bias": {"M": 86.2, "KN": null}}},
            "samples": "not an object", "mine": {"a": 1},
        }));
        let s = cal.summary();
        for want in [
            "  backend gpu · preset ? · 1 threads · timing gpu_timestamp_query · hwcal ?\n",
            "  Device:    Some GPU, host Host CPU, 8 CPUs, 31.2 GB memory\n",
            "  Details:   adapter.driver=drv · adapter.timestamps=yes · subgroup_size=8, 32\n",
            "  Timing:    warm-up first; then pairs\n",
            "  Peaks:     100.0 GFLOPS, given with --peak-gflops\n             bandwidth unknown: not derivable on this device\n",
            "  Interrupted: at 2026-12-03T10:00:00; 0 measurement(s) cut short and kept with the precision they reached, 1 not measured: FullAttention x\n",
            "    Linear_Bias  M ≈86, KN –\n",
            "  Also kept: mine\n",
            "  Not read (kept as they are, in a form hwcal cannot read): samples (a string)\n",
            "Operation statistics (hwcal, 3):",
            "Median ms",
            "95% CI of the figure",
            "29.0–32.7 GB/s",
            "24.5% noisy",
            "±6.2% (target ±2%)",
            "49.8–55.6 GFLOPS",
        ] {
            assert!(s.contains(want), "{want}\n{s}");
        }
        let row = s.lines().find(|l| l.contains("│ old ")).unwrap();
        assert!(
            row.contains("6.200") && row.contains("8.0%") && row.contains("15"),
            "{row}"
        );
        assert!(!s.contains('{') && !s.contains("\"a\""), "{s}");
    }

    #[test]
    fn a_run_record_that_is_no_object_is_named_not_printed() {
        let mut cal = HardwareCalibration::new(CalibrationMetadata::new("d"), 100.0, 10.0);
        cal.hwcal = Some(json!([{"x": 1}]));
        let s = cal.summary();
        assert!(
            s.contains("Run (hwcal): recorded in a form hwcal cannot read (an array)"),
            "{s}"
        );
        assert!(!s.contains('{'), "{s}");
    }
}
