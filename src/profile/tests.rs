//! Unit tests of the profile as a whole: aggregates, merging, saving and the overwrite policy.

use super::*;
use crate::Error;
use serde_json::json;
use std::fs;
use std::path::Path;

fn metadata(name: &str) -> CalibrationMetadata {
    let mut m = CalibrationMetadata::new(name);
    m.calibration_date = "2025-11-05T19:09:09.875460".into();
    m.python_version = "n/a".into();
    m
}

fn matmul(n: usize, gflops: f64, peak: f64) -> OperationCalibration {
    let mut op = OperationCalibration::new("matmul", vec![n, n]);
    op.measured_gflops = gflops;
    op.efficiency = gflops / peak;
    op.compute_bound = true;
    op.mean_latency_ms = 1.0;
    op.extra_params.insert("matrix_size".into(), json!(n));
    op
}

fn copy(mb: u64, gbps: f64, peak: f64) -> OperationCalibration {
    let mut op = OperationCalibration::new("add", vec![mb as usize * 262144]);
    op.achieved_bandwidth_gbps = gbps;
    op.efficiency = gbps / peak;
    op.memory_bound = true;
    op.extra_params.insert("size_mb".into(), json!(mb));
    op.extra_params
        .insert("operation".into(), json!("memory_copy"));
    op
}

pub(super) fn fusion(pattern: &str, shape: Vec<usize>, speedup: f64) -> FusionCalibration {
    FusionCalibration {
        fusion_pattern: pattern.into(),
        operators: pattern.split('_').map(str::to_string).collect(),
        num_operators: pattern.split('_').count(),
        unfused_latency_ms: speedup,
        unfused_gflops: 10.0,
        unfused_memory_bytes: 400,
        fused_latency_ms: 1.0,
        fused_gflops: 10.0 * speedup,
        fused_memory_bytes: 300,
        speedup_factor: speedup,
        memory_reduction: 0.25,
        gflops_improvement: speedup - 1.0,
        input_shape: shape,
        extra_params: JsonMap::new(),
        num_trials: 100,
        extra: JsonMap::new(),
    }
}

fn profile(name: &str) -> HardwareCalibration {
    let mut cal = HardwareCalibration::new(metadata(name), 1000.0, 50.0);
    cal.add_operation(copy(128, 40.0, 50.0));
    cal.add_operation(copy(256, 45.0, 50.0));
    cal.add_operation(matmul(1024, 600.0, 1000.0));
    cal.add_operation(matmul(2048, 700.0, 1000.0));
    cal
}

#[test]
fn add_operation_returns_key_and_updates_aggregates() {
    let mut cal = HardwareCalibration::new(metadata("d"), 1000.0, 50.0);
    let key = cal.add_operation(matmul(4096, 800.0, 1000.0));
    assert_eq!(key, "matmul_matrix_size=4096_large");
    let cal2 = profile("d");
    assert_eq!(cal2.best_measured_gflops, 700.0);
    assert_eq!(cal2.avg_measured_gflops, 650.0);
    assert_eq!(cal2.worst_measured_gflops, 600.0);
    assert_eq!(cal2.best_efficiency, 0.7);
    assert_eq!(cal2.worst_efficiency, 0.6);
    assert_eq!(cal2.measured_bandwidth_gbps, 45.0);
    assert_eq!(cal2.bandwidth_efficiency, 0.9);
    assert_eq!(
        cal2.operation_profiles.keys().collect::<Vec<_>>(),
        [
            "add_operation=memory_copy_size_mb=128",
            "add_operation=memory_copy_size_mb=256",
            "matmul_matrix_size=1024_medium",
            "matmul_matrix_size=2048_medium"
        ]
    );
}

#[test]
fn aggregates_with_unknown_theoreticals_are_zero_efficiency() {
    let mut cal = HardwareCalibration::new(metadata("d"), 0.0, 0.0);
    let mut op = matmul(64, 5.0, 1.0);
    op.efficiency = 0.0;
    cal.add_operation(op);
    cal.add_operation(copy(1, 7.0, 1.0));
    assert_eq!(cal.best_measured_gflops, 5.0);
    assert_eq!(
        (
            cal.best_efficiency,
            cal.avg_efficiency,
            cal.worst_efficiency
        ),
        (0.0, 0.0, 0.0)
    );
    assert_eq!(cal.measured_bandwidth_gbps, 7.0);
    assert_eq!(cal.bandwidth_efficiency, 0.0);
    // No compute operation: the GFLOPS aggregates fall back to zero, as in Python.
    let mut mem_only = HardwareCalibration::new(metadata("d"), 100.0, 10.0);
    mem_only.best_measured_gflops = 3.0;
    mem_only.add_operation(copy(1, 5.0, 10.0));
    assert_eq!(mem_only.best_measured_gflops, 0.0);
    assert_eq!(mem_only.bandwidth_efficiency, 0.5);
    // A STREAM triad does FLOPs but is memory bound: it counts for bandwidth, not GFLOPS.
    let mut triad = copy(2, 9.0, 10.0);
    triad.measured_gflops = 0.75;
    triad
        .extra_params
        .insert("operation".into(), json!("memory_triad"));
    mem_only.add_operation(triad);
    assert_eq!(mem_only.best_measured_gflops, 0.0);
    assert_eq!(mem_only.measured_bandwidth_gbps, 9.0);
}

#[test]
fn fusion_accessors() {
    let mut cal = HardwareCalibration::new(metadata("d"), 0.0, 0.0);
    cal.add_fusion_pattern(fusion("Linear_Bias", vec![1, 2, 3], 2.0));
    assert_eq!(cal.get_fusion_speedup("Linear_Bias", 1.0), 2.0);
    assert_eq!(cal.get_fusion_speedup("Conv2d_BN", 1.0), 1.0);
    assert!(cal.get_fusion_pattern("Conv2d_BN").is_none());
    cal.add_fusion_measurement(fusion("QK_Softmax", vec![4, 512, 64], 1.2));
    cal.add_fusion_measurement(fusion("QK_Softmax", vec![4, 128, 64], 1.5));
    cal.add_fusion_measurement(fusion("QK_Softmax", vec![4, 512, 64], 1.3));
    assert_eq!(cal.fusion_measurements["QK_Softmax"].len(), 2);
    assert_eq!(cal.get_fusion_speedup("QK_Softmax", 0.0), 1.3);
}

#[test]
fn merge_keeps_what_was_not_remeasured() {
    let mut older = profile("d");
    older.add_fusion_measurement(fusion("Linear_Bias", vec![8, 8, 8], 1.1));
    older.add_fusion_measurement(fusion("Linear_Bias", vec![16, 16, 16], 1.2));
    older.add_fusion_measurement(fusion("Conv2d_BN", vec![1, 8, 8, 8], 1.4));
    older
        .extra
        .insert("precision_matrix".into(), json!({"a": 1}));
    older
        .metadata
        .extra
        .insert("device_type".into(), json!("cpu"));
    older.hwcal = Some(json!({"run": "old", "threads": 4,
                              "operation_statistics": {"a": 1, "b": 2}}));

    let mut newer = HardwareCalibration::new(metadata("d"), 1000.0, 0.0);
    newer.add_operation(matmul(2048, 900.0, 1000.0));
    newer.add_operation(matmul(256, 100.0, 1000.0));
    newer.add_fusion_measurement(fusion("Linear_Bias", vec![32, 32, 32], 1.9));
    newer.hwcal = Some(json!({"threads": 8, "operation_statistics": {"b": 3}}));
    newer.merge_older(&older);

    assert_eq!(
        newer.operation_profiles.keys().collect::<Vec<_>>(),
        [
            "add_operation=memory_copy_size_mb=128",
            "add_operation=memory_copy_size_mb=256",
            "matmul_matrix_size=1024_medium",
            "matmul_matrix_size=2048_medium",
            "matmul_matrix_size=256_small"
        ]
    );
    assert_eq!(
        newer.operation_profiles["matmul_matrix_size=2048_medium"].measured_gflops,
        900.0
    );
    assert_eq!(newer.best_measured_gflops, 900.0);
    assert_eq!(newer.worst_measured_gflops, 100.0);
    assert_eq!(newer.measured_bandwidth_gbps, 45.0);
    // The unknown theoretical bandwidth was taken from the older profile.
    assert_eq!(newer.theoretical_bandwidth_gbps, 50.0);
    assert_eq!(newer.bandwidth_efficiency, 0.9);
    // Linear_Bias was re-measured at a new shape: the older shapes stay beside it, and the
    // representative is the largest.
    assert_eq!(newer.fusion_measurements["Linear_Bias"].len(), 3);
    assert_eq!(newer.get_fusion_speedup("Linear_Bias", 0.0), 1.9);
    assert_eq!(newer.get_fusion_speedup("Conv2d_BN", 0.0), 1.4);
    assert_eq!(
        newer.fusion_profiles.keys().collect::<Vec<_>>(),
        ["Linear_Bias", "Conv2d_BN"]
    );
    assert_eq!(newer.extra["precision_matrix"], json!({"a": 1}));
    assert_eq!(newer.metadata.extra["device_type"], json!("cpu"));
    assert_eq!(
        newer.hwcal,
        Some(json!({"threads": 8, "operation_statistics": {"b": 3, "a": 1}, "run": "old"}))
    );
    let mut bare = HardwareCalibration::new(metadata("d"), 0.0, 0.0);
    bare.merge_older(&older);
    assert_eq!(bare.hwcal, older.hwcal);
}

#[test]
fn to_json_is_python_layout_and_round_trips() {
    let mut cal = profile("dev");
    cal.add_fusion_measurement(fusion("Linear_Bias", vec![2, 3, 4], 1.25));
    cal.hwcal = Some(json!({"backend": "cpu", "threads": 4}));
    cal.extra.insert("zzz".into(), json!([1.0, null]));
    let text = cal.to_json_string();
    assert!(text.starts_with("{\n  \"metadata\": {\n    \"hardware_name\": \"dev\","));
    assert!(!text.ends_with('\n'));
    let top: Vec<String> = serde_json::from_str::<serde_json::Value>(&text)
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        &top[11..],
        [
            "operation_profiles",
            "fusion_profiles",
            "zzz",
            "fusion_measurements",
            "hwcal"
        ]
    );
    let back = HardwareCalibration::from_json_str(&text, Path::new("mem")).unwrap();
    assert_eq!(back, cal);
    assert_eq!(back.to_json_string(), text);
}

#[test]
fn non_finite_values_are_written_as_null_and_read_back_as_nan() {
    let mut cal = profile("dev");
    cal.add_fusion_pattern(fusion("Linear_Bias", vec![2], f64::NAN));
    let text = cal.to_json_string();
    assert!(text.contains("\"speedup_factor\": null"));
    let back = HardwareCalibration::from_json_str(&text, Path::new("mem")).unwrap();
    assert!(back.fusion_profiles["Linear_Bias"].speedup_factor.is_nan());
    // Python's own tokens are accepted too.
    let python = text.replace("\"speedup_factor\": null", "\"speedup_factor\": NaN");
    let back = HardwareCalibration::from_json_str(&python, Path::new("mem")).unwrap();
    assert!(back.fusion_profiles["Linear_Bias"].speedup_factor.is_nan());
    assert!(back.summary().contains("? Not measured"));
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn save_is_atomic_creates_parents_and_leaves_no_temp_file() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a/b/dev.json");
    let cal = profile("dev");
    cal.save(&path).unwrap();
    assert_eq!(dir_entries(path.parent().unwrap()), ["dev.json"]);
    assert_eq!(fs::read_to_string(&path).unwrap(), cal.to_json_string());
    // Saving again replaces the file, still without leftovers.
    cal.save(&path).unwrap();
    assert_eq!(dir_entries(path.parent().unwrap()), ["dev.json"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_ne!(mode & 0o044, 0, "new profiles are not private: {mode:o}");
    }
}

#[test]
fn save_merging_merges_same_hardware() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("dev.json");
    profile("dev").save(&path).unwrap();
    let mut run = HardwareCalibration::new(metadata("dev"), 1000.0, 50.0);
    run.add_fusion_pattern(fusion("Linear_Bias", vec![2, 2, 2], 1.7));
    run.save_merging(&path).unwrap();
    let back = HardwareCalibration::load(&path).unwrap();
    assert_eq!(back.operation_profiles.len(), 4);
    assert_eq!(back.get_fusion_speedup("Linear_Bias", 0.0), 1.7);
    assert_eq!(back.best_measured_gflops, 700.0);
    assert_eq!(dir_entries(tmp.path()), ["dev.json"]);
}

#[test]
fn save_merging_refuses_non_profiles_and_other_hardware_leaving_them_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let cal = profile("dev");
    let cases: [(&str, &[u8], &str); 4] = [
        (
            "notes.json",
            b"my precious notes\n",
            "exists and is not a profile",
        ),
        ("list.json", b"[1, 2, 3]", "exists and is not a profile"),
        ("bin.json", b"\xff\xfe\x00", "exists and is not a profile"),
        (
            "other.json",
            b"",
            "exists and is the profile of `other`, not `dev`",
        ),
    ];
    for (name, content, why) in cases {
        let path = tmp.path().join(name);
        let content = if name == "other.json" {
            profile("other").to_json_string().into_bytes()
        } else {
            content.to_vec()
        };
        fs::write(&path, &content).unwrap();
        let err = cal.save_merging(&path).unwrap_err();
        match &err {
            Error::Profile { path: p, message } => {
                assert_eq!(p, &path);
                assert!(message.contains(why), "{message}");
                assert!(message.contains("refusing to overwrite it"), "{message}");
            }
            other => panic!("unexpected error {other:?}"),
        }
        assert_eq!(fs::read(&path).unwrap(), content, "{name} was modified");
    }
    assert_eq!(
        dir_entries(tmp.path()),
        ["bin.json", "list.json", "notes.json", "other.json"]
    );
}

#[test]
fn malformed_inputs_name_the_file_and_the_key() {
    let origin = Path::new("/x/dev.json");
    let good = profile("dev").to_json_string();
    let check = |text: &str, want: &str| match HardwareCalibration::from_json_str(text, origin) {
        Err(Error::Profile { path, message }) => {
            assert_eq!(path, origin);
            assert!(message.contains(want), "{message:?} lacks {want:?}");
        }
        other => panic!("expected a profile error, got {other:?}"),
    };
    check(&good[..good.len() / 2], "truncated file?");
    check("", "not valid JSON");
    check("{}", "not a hwcal/graphs profile: missing key `metadata`");
    check("[]", "not a hwcal/graphs profile: expected a JSON object");
    let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
    v["operation_profiles"]["matmul_matrix_size=1024_medium"]["measured_gflops"] = json!("x");
    check(
        &v.to_string(),
        "operation_profiles.matmul_matrix_size=1024_medium.measured_gflops: expected a number, found a string",
    );
    let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
    v["metadata"].as_object_mut().unwrap().remove("cpu_count");
    check(&v.to_string(), "metadata: missing key `cpu_count`");
    let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
    v["fusion_profiles"] = json!([]);
    check(
        &v.to_string(),
        "fusion_profiles: expected an object, found an array",
    );
    let e = HardwareCalibration::load(Path::new("/nonexistent/dir/p.json")).unwrap_err();
    assert!(matches!(e, Error::Io { .. }));
}

#[cfg(unix)]
#[test]
fn save_through_a_symlink_replaces_the_target_and_keeps_the_link() {
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("real.json");
    let link = tmp.path().join("link.json");
    profile("dev").save(&real).unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let mut cal = profile("dev");
    cal.theoretical_peak_gflops = 2000.0;
    cal.save(&link).unwrap();
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        HardwareCalibration::load(&real)
            .unwrap()
            .theoretical_peak_gflops,
        2000.0
    );
    assert_eq!(dir_entries(tmp.path()), ["link.json", "real.json"]);
}

/// Issue 9, defect 9: a dangling symlink given as the output stays a link; its target is
/// created (also through a relative link and a chain of links).
#[test]
fn save_through_a_dangling_symlink_creates_the_target_and_keeps_the_link() {
    let tmp = tempfile::tempdir().unwrap();
    let link = tmp.path().join("link.json");
    let hop = tmp.path().join("hop.json");
    std::os::unix::fs::symlink("sub/real.json", &hop).unwrap();
    std::os::unix::fs::symlink(&hop, &link).unwrap();
    profile("dev").save_merging(&link).unwrap();
    for l in [&link, &hop] {
        assert!(fs::symlink_metadata(l).unwrap().file_type().is_symlink());
    }
    let real = tmp.path().join("sub/real.json");
    assert!(fs::symlink_metadata(&real).unwrap().is_file());
    assert_eq!(HardwareCalibration::load(&link).unwrap(), profile("dev"));
}

/// Issue 9, defect 6: a bad output location is found before anything is measured.
#[test]
fn output_locations_are_checked_before_work() {
    let tmp = tempfile::tempdir().unwrap();
    // A directory.
    let e = check_output_location(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("is a directory"), "{e}");
    // A parent that is a file.
    let file = tmp.path().join("file");
    fs::write(&file, "x").unwrap();
    let e = check_output_location(&file.join("p.json"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a directory"), "{e}");
    // A directory nobody can write in, even root (procfs).
    assert!(check_output_location(Path::new("/proc/hwcal-test/p.json")).is_err());
    assert!(check_output_location(Path::new("/proc/p.json")).is_err());
    // A missing parent is created, and nothing is left behind by the check.
    let deep = tmp.path().join("a/b/p.json");
    check_output_location(&deep).unwrap();
    assert!(tmp.path().join("a/b").is_dir());
    assert!(dir_entries(&tmp.path().join("a/b")).is_empty());
    assert!(!deep.exists());
    // Writing over a directory is refused by the write itself too.
    let e = profile("dev").save(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("is a directory"), "{e}");
}

/// Issue 9, defect 4: concurrent writers of one output lose nothing: each merges under the
/// lock into what the other wrote.
#[test]
fn concurrent_merging_writers_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("dev.json");
    for round in 0..20 {
        let _ = fs::remove_file(&path);
        let writers: Vec<_> = ["Linear_Bias", "Conv2d_BN", "FullAttention"]
            .into_iter()
            .map(|pattern| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let mut p = profile("dev");
                    p.add_fusion_measurement(fusion(pattern, vec![8, 8, 8], 1.5));
                    p.save_merging(&path).unwrap();
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let merged = HardwareCalibration::load(&path).unwrap();
        assert_eq!(merged.fusion_profiles.len(), 3, "round {round}");
    }
    assert_eq!(dir_entries(tmp.path()), ["dev.json"]);
}

/// Every fusion entry of `p`: the representative, every shape, every sweep point.
fn every_fusion_entry(p: &HardwareCalibration) -> Vec<&FusionCalibration> {
    let mut all: Vec<&FusionCalibration> = p.fusion_profiles.values().collect();
    for lists in [&p.fusion_measurements, &p.fusion_sweeps] {
        all.extend(lists.values().flatten());
    }
    all
}

/// The typed views read hwcal's committed profiles and write them back as they were: the same
/// keys, in the same order, with the same values (compared as text, so order counts).
#[test]
fn committed_hwcal_profiles_round_trip_through_the_typed_views() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
    let mut checked = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let p = HardwareCalibration::load(&path).unwrap();
        let raw = p.hwcal.as_ref().expect("a hwcal profile");
        let info = p.run_info().unwrap();
        assert_eq!(
            serde_json::to_string(&info.to_value()).unwrap(),
            serde_json::to_string(raw).unwrap(),
            "{}: hwcal",
            path.display()
        );
        assert!(
            info.other.is_empty(),
            "{}: {:?}",
            path.display(),
            info.other
        );
        assert!(info.operation_statistics.as_ref().unwrap().len() >= 4);
        assert!(info.device.as_ref().unwrap().name.is_some());
        for f in every_fusion_entry(&p) {
            let extras = f.hwcal_extras();
            assert_eq!(
                serde_json::to_string(&extras.to_map()).unwrap(),
                serde_json::to_string(&f.extra_params).unwrap(),
                "{}: {} {:?}",
                path.display(),
                f.fusion_pattern,
                f.input_shape
            );
            assert!(extras.other.is_empty(), "{:?}", extras.other);
            assert!(extras.ci95().is_some() && extras.known_flops().is_some());
            assert!(extras.unfused_stats.unwrap().cv_and_n().is_some());
            checked += 1;
        }
    }
    assert!(checked > 20, "{checked} fusion entries");
}

#[test]
fn the_fusion_view_reads_what_it_can_and_keeps_the_rest() {
    let mut f = fusion("Conv2d_BN", vec![1, 8, 16, 16], 1.2);
    f.extra_params = json!({
        "out_channels": 16, "kernel_size": 3.0, "backend": 7, "note": "user's",
        "speedup_ci95": [null, 1.3], "noisy": "yes", "imprecise": true,
        "precision": {"half_width": null, "samples": 12, "future": 1},
        "unfused_stats": [1.0, 2.0], "fused_stats": {"cv": 0.1, "n": 5, "later": true},
        "flops": null, "sweep_axis": "HW", "sweep_value": 16,
    })
    .as_object()
    .unwrap()
    .clone();
    let x = f.hwcal_extras();
    // Integers only where a count belongs; a wrong type reads as absent.
    assert_eq!(
        (x.out_channels, x.kernel_size, x.backend.as_deref()),
        (Some(16), None, None)
    );
    assert!(!x.is_noisy() && x.is_imprecise());
    // null is NaN ("not measured"): the interval and the FLOPs are not known.
    assert!(x.speedup_ci95.unwrap()[0].is_nan() && x.ci95().is_none());
    assert!(x.flops.unwrap().is_nan() && x.known_flops().is_none());
    let p = x.precision.as_ref().unwrap();
    assert!(p.half_width.unwrap().is_nan());
    assert_eq!((p.samples, p.other["future"].clone()), (Some(12), json!(1)));
    // An array is no statistics object (never read positionally).
    assert!(x.unfused_stats.is_none());
    let fs = x.fused_stats.as_ref().unwrap();
    assert_eq!(fs.cv_and_n(), Some((0.1, 5)));
    assert_eq!(fs.other["later"], json!(true));
    assert_eq!(
        (x.sweep_axis.as_deref(), x.sweep_size()),
        (Some("HW"), Some(16.0))
    );
    assert_eq!(x.other["note"], json!("user's"));
    // Written back: what it read, in hwcal's order, NaN as null, unknown keys last, the
    // integer size still an integer; the values it could not read are not in the view.
    let back = serde_json::to_string(&x.to_map()).unwrap();
    assert_eq!(
        back,
        r#"{"out_channels":16,"speedup_ci95":[null,1.3],"precision":{"half_width":null,"samples":12,"future":1},"imprecise":true,"fused_stats":{"cv":0.1,"n":5,"later":true},"flops":null,"sweep_axis":"HW","sweep_value":16,"note":"user's"}"#
    );
    // A Python profile's entry has no extras at all.
    assert_eq!(
        fusion("Linear_Bias", vec![1, 2, 3], 1.0).hwcal_extras(),
        FusionExtras::default()
    );
}

#[test]
fn the_run_view_reads_what_it_can_and_names_the_rest() {
    let raw = json!({
        "backend": "gpu", "threads": "many", "preflight": {"checks": "none"},
        "device": {"name": "X", "peak_gflops": null, "details": {"a": 1}},
        "sweep_crossovers": {"threshold": 1.1, "sizes": {"Linear_Bias": {"M": null, "KN": 512.0}}},
        "mine": [1],
    });
    let info = RunInfo::from_value(&raw).unwrap();
    assert_eq!(info.backend.as_deref(), Some("gpu"));
    assert_eq!((info.threads, info.preflight.as_ref()), (None, None));
    assert_eq!(
        info.unread_keys(raw.as_object().unwrap()),
        ["threads", "preflight"]
    );
    let device = info.device.as_ref().unwrap();
    assert_eq!(device.peak_gflops, Some(None), "null is kept as null");
    assert_eq!(device.peak_bandwidth_gbps, None, "absent stays absent");
    let sizes = info
        .sweep_crossovers
        .as_ref()
        .unwrap()
        .sizes
        .as_ref()
        .unwrap();
    assert_eq!(sizes["Linear_Bias"]["M"], None);
    assert_eq!(sizes["Linear_Bias"]["KN"], Some(512.0));
    assert_eq!(info.other["mine"], json!([1]));
    assert_eq!(
        serde_json::to_string(&info.to_value()).unwrap(),
        r#"{"backend":"gpu","device":{"name":"X","peak_gflops":null,"details":{"a":1}},"sweep_crossovers":{"threshold":1.1,"sizes":{"Linear_Bias":{"M":null,"KN":512.0}}},"mine":[1]}"#
    );
    assert!(RunInfo::from_value(&json!("text")).is_none());
    let mut p = profile("d");
    assert!(p.run_info().is_none());
    p.hwcal = Some(raw);
    assert_eq!(p.run_info(), Some(info));
}

#[test]
fn sweep_position_reads_axis_and_value() {
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
    assert_eq!(f.sweep_position(), None);
    f.extra_params.insert("sweep_axis".into(), json!("S"));
    assert_eq!(f.sweep_position(), Some(("S".into(), 512.0)));
    f.extra_params.insert("sweep_value".into(), json!(500));
    assert_eq!(f.sweep_position(), Some(("S".into(), 500.0)));
}
