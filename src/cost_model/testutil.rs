//! Profiles built in code for the cost model's unit tests.

use crate::pattern::Shape;
use crate::profile::{CalibrationMetadata, FusionCalibration, HardwareCalibration, JsonMap};
use serde_json::json;

/// A hwcal-style fusion entry with noise data (a 95% interval, CV 2% over 15 trials).
pub fn entry(
    name: &str,
    shape: &Shape,
    unfused_ms: f64,
    fused_ms: f64,
    ci: (f64, f64),
) -> FusionCalibration {
    let mut extra = shape.extra_params();
    extra.insert("speedup_ci95".into(), json!([ci.0, ci.1]));
    extra.insert("unfused_stats".into(), json!({"cv": 0.02, "n": 15}));
    extra.insert("fused_stats".into(), json!({"cv": 0.02, "n": 15}));
    FusionCalibration {
        fusion_pattern: name.into(),
        operators: vec![],
        num_operators: 0,
        unfused_latency_ms: unfused_ms,
        unfused_gflops: 0.0,
        unfused_memory_bytes: 0,
        fused_latency_ms: fused_ms,
        fused_gflops: 0.0,
        fused_memory_bytes: 0,
        speedup_factor: unfused_ms / fused_ms,
        memory_reduction: 0.0,
        gflops_improvement: 0.0,
        input_shape: shape.input_shape(),
        extra_params: extra,
        num_trials: 15,
        extra: JsonMap::new(),
    }
}

/// An empty profile with the given measured GFLOPS and bandwidth.
pub fn empty_profile(gflops: f64, bandwidth_gbps: f64) -> HardwareCalibration {
    let mut p = HardwareCalibration::new(CalibrationMetadata::new("test"), 0.0, 0.0);
    p.best_measured_gflops = gflops;
    p.measured_bandwidth_gbps = bandwidth_gbps;
    p
}
