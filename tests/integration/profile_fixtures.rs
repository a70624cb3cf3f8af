//! The profile loader against real files written by the Python `graphs` calibrator
//! (`../shared/fixtures/graphs-profiles/`): every one loads, saves back byte for byte, keeps its
//! keys, and summarises.

use hwcal::profile::{operation_key, HardwareCalibration};
use hwcal::Error;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/fixtures/graphs-profiles"
);

fn fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(FIXTURES)
        .unwrap_or_else(|e| panic!("{FIXTURES}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "expected the five fixtures, found {files:?}"
    );
    files
}

fn fixture(name: &str) -> PathBuf {
    Path::new(FIXTURES).join(name)
}

#[test]
fn every_fixture_loads_and_saves_back_byte_for_byte() {
    for path in fixtures() {
        let original = fs::read_to_string(&path).unwrap();
        let cal =
            HardwareCalibration::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let written = cal.to_json_string();
        // Semantic equality first (floats compared exactly), for a readable failure.
        let a: Value = serde_json::from_str(&original).unwrap();
        let b: Value = serde_json::from_str(&written).unwrap();
        assert_eq!(a, b, "{}: content changed on round trip", path.display());
        assert_eq!(
            written,
            original,
            "{}: text changed on round trip",
            path.display()
        );
    }
}

#[test]
fn every_fixture_survives_save_and_load_through_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    for path in fixtures() {
        let cal = HardwareCalibration::load(&path).unwrap();
        let out = tmp.path().join(path.file_name().unwrap());
        cal.save(&out).unwrap();
        assert_eq!(fs::read(&out).unwrap(), fs::read(&path).unwrap());
        let again = HardwareCalibration::load(&out).unwrap();
        assert_eq!(again, cal, "{}", path.display());
    }
}

#[test]
fn stored_operation_keys_follow_the_key_rule() {
    for path in fixtures() {
        let cal = HardwareCalibration::load(&path).unwrap();
        assert!(!cal.operation_profiles.is_empty(), "{}", path.display());
        for (key, op) in &cal.operation_profiles {
            assert_eq!(&operation_key(op), key, "{}", path.display());
        }
    }
}

#[test]
fn aggregates_recompute_to_the_stored_values() {
    for path in fixtures() {
        let cal = HardwareCalibration::load(&path).unwrap();
        let mut again = cal.clone();
        again.recompute_aggregates();
        assert_eq!(again, cal, "{}", path.display());
    }
}

#[test]
fn summary_of_every_fixture_names_every_fusion_pattern() {
    for path in fixtures() {
        let cal = HardwareCalibration::load(&path).unwrap();
        let summary = cal.summary();
        assert!(summary.contains(&cal.metadata.hardware_name));
        assert!(summary.contains("Fusion Pattern Performance:"));
        for pattern in cal.fusion_profiles.keys() {
            assert!(
                summary.contains(&format!("\n{pattern}:\n  Speedup:  ")),
                "{}: {pattern} missing from\n{summary}",
                path.display()
            );
        }
    }
}

#[test]
fn fixture_specifics() {
    // Written before fusion existed: no key, and none invented on save.
    let old = HardwareCalibration::load(&fixture("intel_i7_12700k.json")).unwrap();
    assert!(old.fusion_profiles.is_empty());
    assert!(!old.write_empty_fusion_profiles);
    assert!(!old.to_json_string().contains("fusion_profiles"));

    let fused = HardwareCalibration::load(&fixture("i7_12700k_with_fusion.json")).unwrap();
    assert_eq!(fused.fusion_profiles.len(), 9);
    let lb = fused.get_fusion_pattern("Linear_Bias").unwrap();
    assert_eq!(lb.operators, ["Linear", "Bias"]);
    assert_eq!(
        fused.get_fusion_speedup("Nope", 1.0),
        1.0,
        "missing pattern falls back"
    );

    // Newer Python keys are kept where they were.
    let jetson =
        HardwareCalibration::load(&fixture("nvidia_jetson_orin_nano_gpu_pytorch.json")).unwrap();
    assert!(jetson.write_empty_fusion_profiles);
    assert_eq!(
        jetson.metadata.extra.keys().collect::<Vec<_>>(),
        ["device_type", "platform_architecture", "framework"]
    );
    assert!(jetson.extra.contains_key("precision_matrix"));
    assert!(jetson
        .operation_profiles
        .values()
        .all(|op| op.extra.contains_key("precision_results")));
}

#[test]
fn merging_a_fixture_into_a_new_run_keeps_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("profile.json");
    fs::copy(fixture("i7_12700k_with_fusion.json"), &path).unwrap();
    let old = HardwareCalibration::load(&path).unwrap();

    let mut run = HardwareCalibration::new(old.metadata.clone(), 1000.0, 50.0);
    let mut lb = old.get_fusion_pattern("Linear_Bias").unwrap().clone();
    lb.speedup_factor = 3.0;
    lb.extra_params
        .insert("speedup_ci95".into(), serde_json::json!([2.9, 3.1]));
    run.add_fusion_measurement(lb);
    run.hwcal = Some(serde_json::json!({"backend": "cpu"}));
    run.save_merging(&path).unwrap();

    let merged = HardwareCalibration::load(&path).unwrap();
    assert_eq!(merged.operation_profiles, old.operation_profiles);
    assert_eq!(
        merged.fusion_profiles.keys().collect::<Vec<_>>(),
        old.fusion_profiles.keys().collect::<Vec<_>>()
    );
    assert_eq!(merged.get_fusion_speedup("Linear_Bias", 0.0), 3.0);
    assert_eq!(merged.best_measured_gflops, old.best_measured_gflops);
    assert!(merged.summary().contains("  95% CI:   [2.90, 3.10]"));
}

#[test]
fn malformed_fixtures_give_profile_errors_naming_file_and_key() {
    let text = fs::read_to_string(fixture("test_fusion_integration.json")).unwrap();
    let origin = Path::new("broken.json");
    let cases: Vec<(String, &str)> = vec![
        (text[..text.len() - 40].to_string(), "not valid JSON"),
        (text.replacen("\"metadata\"", "\"meta\"", 1), "missing key `metadata`"),
        (
            text.replacen("\"cpu_count\": 12", "\"cpu_count\": \"12\"", 1),
            "metadata.cpu_count: expected a non-negative integer, found a string",
        ),
        (
            text.replacen("\"memory_bound\": true", "\"memory_bound\": 1", 1),
            "operation_profiles.add_operation=memory_copy_size_mb=128.memory_bound: expected true or false",
        ),
        (
            text.replacen("\"speedup_factor\": 0.9944532998206457", "\"speedup_factor\": {}", 1),
            "fusion_profiles.Linear_Bias.speedup_factor: expected a number, found an object",
        ),
        (
            text.replacen("\"fusion_pattern\": \"Linear_Bias\",", "", 1),
            "fusion_profiles.Linear_Bias: missing key `fusion_pattern`",
        ),
    ];
    for (bad, want) in cases {
        assert_ne!(bad, text, "case {want:?} did not change the input");
        match HardwareCalibration::from_json_str(&bad, origin) {
            Err(Error::Profile { path, message }) => {
                assert_eq!(path, origin);
                assert!(message.contains(want), "{message:?} lacks {want:?}");
                let shown = Error::Profile { path, message }.to_string();
                assert!(shown.starts_with("broken.json: "), "{shown}");
            }
            other => panic!("{want}: expected a profile error, got {other:?}"),
        }
    }
}
