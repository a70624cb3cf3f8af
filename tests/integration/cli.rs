//! End-to-end tests of the `hwcal` binary: errors, `show` on every fixture, and a tiny
//! calibration whose profile is checked field by field against the original's schema.

use hwcal::pattern::{Family, Pattern};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn hwcal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hwcal"))
        .args(args)
        .output()
        .expect("the hwcal binary runs")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/graphs-profiles");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures directory beside the repo")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        5,
        "expected the five fixtures in {}",
        dir.display()
    );
    files
}

/// A one-line error on stderr, exit code 2, nothing on stdout.
fn assert_usage_error(out: &Output, needle: &str) {
    let (stdout, stderr) = text(out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        stderr.contains(needle),
        "stderr should name `{needle}`: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn unknown_pattern_is_a_clear_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("p.json");
    let out = hwcal(&[
        "calibrate",
        "--preset",
        "tiny",
        "--fusion-patterns",
        "linear,Conv_BN_Sigmoid",
        "--output",
        out_file.to_str().unwrap(),
    ]);
    assert_usage_error(&out, "Conv_BN_Sigmoid");
    assert_eq!(text(&out).1.trim().lines().count(), 1);
    assert!(!out_file.exists());
}

#[test]
fn bad_numbers_and_missing_files_exit_2() {
    assert_usage_error(
        &hwcal(&["calibrate", "--min-samples", "many"]),
        "--min-samples",
    );
    // `--trials` is the old name, kept as an alias.
    assert_usage_error(
        &hwcal(&["calibrate", "--trials", "1", "--preset", "tiny"]),
        "--min-samples",
    );
    for bad in ["nan", "0", "60%", "1e308", "x"] {
        assert_usage_error(
            &hwcal(&["calibrate", "--precision", bad, "--preset", "tiny"]),
            "--precision",
        );
    }
    for bad in [
        "--time-cap=nan",
        "--time-cap=-1",
        "--time-cap=1e308",
        "--time-cap=0",
    ] {
        assert_usage_error(
            &hwcal(&["calibrate", bad, "--preset", "tiny"]),
            "--time-cap",
        );
    }
    assert_usage_error(
        &hwcal(&["calibrate", "--peak-gflops=-3", "--preset", "tiny"]),
        "--peak-gflops",
    );
    assert_usage_error(
        &hwcal(&["calibrate", "--threads", "0", "--preset", "tiny"]),
        "--threads",
    );
    assert_usage_error(
        &hwcal(&["show", "/nonexistent/profile.json"]),
        "/nonexistent/profile.json",
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"metadata\": ").unwrap();
    assert_usage_error(&hwcal(&["show", bad.to_str().unwrap()]), "bad.json");
}

#[test]
fn show_summarises_every_fixture() {
    for f in fixtures() {
        let out = hwcal(&["show", f.to_str().unwrap()]);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{}: {stderr}", f.display());
        assert!(stdout.contains("Calibration Summary"), "{stdout}");
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        if let Some(fp) = v.get("fusion_profiles").and_then(Value::as_object) {
            for name in fp.keys() {
                assert!(
                    stdout.contains(name.as_str()),
                    "{} missing {name}",
                    f.display()
                );
            }
        }
    }
}

const METADATA_KEYS: [&str; 11] = [
    "hardware_name",
    "calibration_date",
    "calibration_tool_version",
    "cpu_model",
    "cpu_count",
    "total_memory_gb",
    "python_version",
    "pytorch_version",
    "numpy_version",
    "num_warmup_runs",
    "num_measurement_runs",
];
const OPERATION_KEYS: [&str; 16] = [
    "operation_type",
    "measured_gflops",
    "efficiency",
    "achieved_bandwidth_gbps",
    "memory_bound",
    "compute_bound",
    "arithmetic_intensity",
    "batch_size",
    "input_shape",
    "output_shape",
    "mean_latency_ms",
    "std_latency_ms",
    "min_latency_ms",
    "max_latency_ms",
    "num_trials",
    "extra_params",
];
const FUSION_KEYS: [&str; 15] = [
    "fusion_pattern",
    "operators",
    "num_operators",
    "unfused_latency_ms",
    "unfused_gflops",
    "unfused_memory_bytes",
    "fused_latency_ms",
    "fused_gflops",
    "fused_memory_bytes",
    "speedup_factor",
    "memory_reduction",
    "gflops_improvement",
    "input_shape",
    "extra_params",
    "num_trials",
];

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort();
    k
}

fn sorted<const N: usize>(k: [&'static str; N]) -> Vec<&'static str> {
    let mut k = k.to_vec();
    k.sort();
    k
}

/// The one end-to-end calibration: tiny sizes, every operation and pattern, then the profile
/// is checked against the Python loader's rules, then re-calibrating a subset keeps the rest.
#[test]
fn tiny_calibration_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cpu.json");
    let p = path.to_str().unwrap();
    let out = hwcal(&[
        "calibrate",
        "--preset",
        "tiny",
        "--fusion-patterns",
        "all",
        "--threads",
        "2",
        "--hardware",
        "Test CPU",
        "--output",
        p,
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("Fusion Pattern Performance"), "{stdout}");

    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v["metadata"]["hardware_name"], "Test CPU");
    assert_eq!(keys(&v["metadata"]), sorted(METADATA_KEYS));
    let ops = v["operation_profiles"].as_object().unwrap();
    assert_eq!(
        ops.len(),
        6,
        "2 copy + 2 triad + 2 matmul: {:?}",
        ops.keys()
    );
    for (key, op) in ops {
        assert_eq!(keys(op), sorted(OPERATION_KEYS), "{key}");
        assert!(op["mean_latency_ms"].as_f64().unwrap() > 0.0, "{key}");
    }
    assert!(
        ops.contains_key("matmul_implementation=hwcal_cpu_gemm_matrix_size=96_small"),
        "{:?}",
        ops.keys()
    );
    assert!(
        ops.contains_key("add_operation=memory_triad_size_mb=4"),
        "{:?}",
        ops.keys()
    );
    let fusion = v["fusion_profiles"].as_object().unwrap();
    assert_eq!(fusion.len(), Pattern::ALL.len());
    for (name, f) in fusion {
        assert_eq!(keys(f), sorted(FUSION_KEYS), "{name}");
        assert!(f["speedup_factor"].as_f64().unwrap() > 0.0);
        let ci = f["extra_params"]["speedup_ci95"].as_array().unwrap();
        assert!(ci[0].as_f64().unwrap() <= ci[1].as_f64().unwrap());
        // fusion_profiles holds the largest shape; every shape is in fusion_measurements.
        let all = v["fusion_measurements"][name].as_array().unwrap();
        assert_eq!(all.len(), 2, "{name}");
        assert_eq!(&all[1], f, "{name}: the largest shape is the headline");
    }
    assert_eq!(fusion["Conv2d_BN"]["extra_params"]["out_channels"], 7);
    assert_eq!(fusion["Conv2d_BN"]["extra_params"]["kernel_size"], 3);
    assert_eq!(v["hwcal"]["backend"], "cpu");
    assert!(v["hwcal"]["failures"].as_array().unwrap().is_empty());
    // How precise each figure is, how it was sampled, and every sample.
    for (name, f) in fusion {
        let p = &f["extra_params"]["precision"];
        assert_eq!(p["target_half_width"], 0.1, "{name}");
        // At least the minimum, unless the (tiny) time cap cut it short and said so.
        assert!(
            p["samples"].as_u64().unwrap() >= 6
                || p["imprecise"] == true
                || p["stopped_by"] == "time_cap",
            "{name}: {p}"
        );
        assert!(f["extra_params"]["imprecise"].is_boolean(), "{name}");
        assert!(
            f["extra_params"]["fused_stats"]["iterations_per_sample"]
                .as_u64()
                .unwrap()
                >= 1
        );
    }
    let h = &v["hwcal"];
    // The fp32 peaks this CPU runs (scalar and vector FMA on x86_64; the matrix width is
    // recorded as unsupported, with its reason).
    let peaks = h["precisions"]["peaks"].as_array().map_or(0, Vec::len);
    #[cfg(target_arch = "x86_64")]
    assert!(peaks >= 1, "{}", h["precisions"]);
    assert!(h["precisions"]["unsupported"]["fp32 matrix peak"].is_string());
    assert_eq!(
        v["precision_matrix"]["supported_precisions"],
        serde_json::json!(["fp32"])
    );
    // Two memory sizes × copy and triad, two matmul sizes, the peaks, two shapes per pattern.
    assert_eq!(
        h["samples"].as_object().unwrap().len(),
        6 + peaks + 2 * Pattern::ALL.len()
    );
    for st in h["operation_statistics"].as_object().unwrap().values() {
        assert!(st["precision"]["half_width"].as_f64().is_some(), "{st}");
    }
    // The machine's state before (preflight, the Python tool's shape) and during (drift).
    let checks = h["preflight"]["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 7);
    for c in checks {
        assert!(["passed", "warning", "failed", "skipped"].contains(&c["status"].as_str().unwrap()));
    }
    let readings = h["drift"]["readings"].as_array().unwrap();
    assert!(
        readings.len() > 6 + 18,
        "one canary reading before the first measurement and after every visit to one: {}",
        readings.len()
    );
    assert_eq!(readings[0]["after"], "start");
    assert!(h["drift"]["drifted"].is_boolean());
    assert!(stdout.contains("Preflight ("), "{stdout}");
    assert!(stdout.contains("Drift:"), "{stdout}");

    // Re-calibrating only the linear patterns keeps everything else the file had.
    let out = hwcal(&[
        "calibrate",
        "--preset",
        "tiny",
        "--operations",
        "none",
        "--fusion-patterns",
        "linear",
        "--hardware",
        "Test CPU",
        "--output",
        p,
        "--no-summary",
    ]);
    assert!(out.status.success(), "{}", text(&out).1);
    let w: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        w["fusion_profiles"].as_object().unwrap().len(),
        Pattern::ALL.len()
    );
    assert_eq!(w["operation_profiles"].as_object().unwrap().len(), 6);
    assert_ne!(
        w["fusion_profiles"]["Linear_Bias"],
        v["fusion_profiles"]["Linear_Bias"]
    );
    assert_eq!(
        w["fusion_profiles"]["Conv2d_BN"],
        v["fusion_profiles"]["Conv2d_BN"]
    );

    // A different device's profile, or a file that is not a profile, is never overwritten.
    let out = hwcal(&[
        "calibrate",
        "--preset",
        "tiny",
        "--operations",
        "matmul",
        "--hardware",
        "Other CPU",
        "--output",
        p,
    ]);
    assert_usage_error(&out, "Test CPU");
    let junk = dir.path().join("notes.json");
    std::fs::write(&junk, "my notes").unwrap();
    let out = hwcal(&[
        "calibrate",
        "--preset",
        "tiny",
        "--operations",
        "matmul",
        "--output",
        junk.to_str().unwrap(),
    ]);
    assert_usage_error(&out, "notes.json");
    assert_eq!(std::fs::read_to_string(&junk).unwrap(), "my notes");
}

#[test]
fn sweep_stores_every_point_and_a_budget_cuts_it_short() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sweep.json");
    let p = path.to_str().unwrap();
    let out = hwcal(&[
        "calibrate",
        "--preset",
        "tiny",
        "--operations",
        "none",
        "--fusion-patterns",
        "linear,FullAttention",
        "--sweep",
        "--output",
        p,
        "--no-summary",
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("Crossovers"), "{stdout}");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let sweeps = v["fusion_sweeps"].as_object().unwrap();
    assert_eq!(sweeps.len(), Family::Linear.patterns().count() + 1);
    // Linear sweeps two axes (M and KN, 3 tiny sizes each); attention one (S).
    assert_eq!(sweeps["Linear_Bias"].as_array().unwrap().len(), 6);
    assert_eq!(sweeps["FullAttention"].as_array().unwrap().len(), 3);
    for point in sweeps["Linear_Bias_GELU"].as_array().unwrap() {
        assert_eq!(keys(point), sorted(FUSION_KEYS));
        assert!(["M", "KN"].contains(&point["extra_params"]["sweep_axis"].as_str().unwrap()));
    }
    assert!(v["hwcal"]["sweep_crossovers"]["sizes"]["FullAttention"]
        .as_object()
        .unwrap()
        .contains_key("S"));

    // A budget that is over before the second point: some points, a note, the file saved.
    let cut = dir.path().join("cut.json");
    let out = hwcal(&[
        "calibrate",
        "--preset",
        "tiny",
        "--operations",
        "none",
        "--fusion-patterns",
        "all",
        "--sweep",
        "--time-budget",
        "0.000001",
        "--output",
        cut.to_str().unwrap(),
        "--no-summary",
    ]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("cut short by --time-budget"), "{stdout}");
    let w: Value = serde_json::from_str(&std::fs::read_to_string(&cut).unwrap()).unwrap();
    let measured: usize = w["fusion_sweeps"]
        .as_object()
        .map_or(0, |m| m.values().map(|l| l.as_array().unwrap().len()).sum());
    assert!(
        (1..Pattern::ALL.len() * 6).contains(&measured),
        "{measured}"
    );
    assert_usage_error(
        &hwcal(&["calibrate", "--time-budget", "5", "--preset", "tiny"]),
        "--sweep",
    );
}
