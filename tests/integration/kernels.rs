//! Every kernel on every backend: the same tests run on the CPU and on the first GPU adapter
//! (lavapipe in CI) through [`on_every_backend`], each variant, unfused and fused, through the
//! shared calibration loop, which verifies its output against the f64 reference before timing
//! it. Without a GPU adapter (or without the `gpu` feature) the GPU part prints why it is
//! skipped; the CPU part always runs.

use hwcal::backend::cpu::CpuBackend;
use hwcal::backend::gpu::{list_adapters, GpuBackend};
use hwcal::backend::{Backend, Workload};
use hwcal::calibrate::measure::{measure_matmul, measure_stream, Measured};
use hwcal::calibrate::sampling::SamplingPolicy;
use hwcal::calibrate::{measure_pattern, Config};
use hwcal::pattern::{Family, Pattern, Preset, Shape};

/// Six pairs of single runs: the tests check correctness, not speed.
pub const POLICY: SamplingPolicy = SamplingPolicy {
    warmup: 1,
    min_samples: 6,
    max_samples: 6,
    sample_floor: std::time::Duration::ZERO,
    precision: 0.5,
    time_cap: std::time::Duration::from_secs(60),
    visit: std::time::Duration::from_millis(10),
    min_visits: 1,
};

/// Runs `test` on the CPU backend, then on the first GPU adapter if there is one (printing
/// why not otherwise), each time with the backend's name for messages.
/// `HWCAL_TEST_BACKENDS=cpu` (or `gpu`) runs one of the two only, for work on one backend.
pub fn on_every_backend(test: impl Fn(&str, &dyn Backend)) {
    let only = std::env::var("HWCAL_TEST_BACKENDS").unwrap_or_default();
    if only != "gpu" {
        test("cpu", &CpuBackend::new());
    }
    if only == "cpu" {
        eprintln!("gpu skipped: HWCAL_TEST_BACKENDS=cpu");
        return;
    }
    if list_adapters().is_empty() {
        eprintln!("gpu skipped: no adapter (install mesa-vulkan-drivers for lavapipe)");
        return;
    }
    let gpu = GpuBackend::open("0").expect("the first adapter opens");
    test("gpu", &gpu);
}

/// Every variant verified and timed with positive samples.
pub fn assert_measured(m: &Measured, what: &str) {
    assert!(!m.verification.is_empty(), "{what}: nothing verified");
    assert!(
        m.verification.iter().all(|c| c.passed),
        "{what}: {:?}",
        m.verification
    );
    for v in &m.sampled.variants {
        let samples = &v.ms_per_iteration;
        assert!(
            !samples.is_empty() && samples.iter().all(|&s| s > 0.0),
            "{what} {}: samples {samples:?}",
            v.variant.name()
        );
    }
}

/// Measures `pattern` at `shape` on `backend` and asserts that both variants verified.
pub fn check_pattern(backend: &dyn Backend, pattern: Pattern, shape: Shape) {
    let config = Config::new(Preset::Tiny);
    let what = format!(
        "{} {} ({})",
        backend.device().backend,
        pattern.name(),
        shape.label()
    );
    match measure_pattern(backend, pattern, shape, &POLICY, &config) {
        Ok(m) => assert_measured(&m, &what),
        Err(e) => panic!("{what}: {e}"),
    }
}

/// Shapes whose sizes are not multiples of any tile (64) or vector width (4, 16).
fn ragged(pattern: Pattern) -> Shape {
    match pattern.family() {
        Family::Linear => Shape::Linear {
            m: 70,
            k: 37,
            n: 67,
        },
        Family::Conv => Shape::conv3x3(2, 3, 67, 9),
        Family::Attention => Shape::Attention {
            batch: 2,
            seq: 67,
            dim: 20,
        },
        Family::Norm => Shape::Norm {
            rows: 7,
            hidden: 259,
        },
        Family::Depthwise => Shape::depthwise3x3(2, 67, 9, 1),
    }
}

/// Every pattern of `family` at the tiny preset's shapes, a ragged shape and `extra`.
fn check_family(backend: &dyn Backend, family: Family, extra: &[Shape]) {
    for pattern in family.patterns() {
        for shape in pattern
            .shapes(Preset::Tiny)
            .into_iter()
            .chain([ragged(pattern)])
            .chain(extra.iter().copied())
        {
            check_pattern(backend, pattern, shape);
        }
    }
}

#[test]
fn stream_copy_and_triad_verify() {
    on_every_backend(|name, backend| {
        for elements in [1, 4096, 100_003] {
            for workload in [Workload::Copy { elements }, Workload::Triad { elements }] {
                let what = format!("{name} {}", workload.label());
                let m = measure_stream(backend, &workload, &POLICY)
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_measured(&m, &what);
            }
        }
    });
}

#[test]
fn matmul_verifies_at_odd_and_tile_sizes() {
    on_every_backend(|name, backend| {
        for n in [1, 67, 128] {
            let m = measure_matmul(backend, n, &POLICY, 7)
                .unwrap_or_else(|e| panic!("{name} matmul {n}: {e}"));
            assert_measured(&m, &format!("{name} matmul {n}"));
        }
    });
}

#[test]
fn linear_patterns_verify() {
    on_every_backend(|_, backend| check_family(backend, Family::Linear, &[]));
}

#[test]
fn conv_patterns_verify() {
    // The kernels read kernel size, stride and padding from their parameters: check a 5×5,
    // stride-2 convolution too.
    let strided = Shape::Conv {
        batch: 1,
        cin: 3,
        cout: 5,
        hw: 11,
        kernel: 5,
        stride: 2,
        padding: 2,
    };
    on_every_backend(|_, backend| check_family(backend, Family::Conv, &[strided]));
}

#[test]
fn attention_patterns_verify() {
    on_every_backend(|_, backend| check_family(backend, Family::Attention, &[]));
}

#[test]
fn norm_patterns_verify() {
    // One row longer than any workgroup or vector loop.
    let wide = Shape::Norm {
        rows: 3,
        hidden: 1031,
    };
    on_every_backend(|_, backend| check_family(backend, Family::Norm, &[wide]));
}

#[test]
fn depthwise_patterns_verify() {
    // A 5×5 kernel with stride 2 and padding 2 (MobileNet's and EfficientNet's variants).
    let strided = Shape::Depthwise {
        batch: 1,
        channels: 3,
        hw: 11,
        kernel: 5,
        stride: 2,
        padding: 2,
    };
    on_every_backend(|_, backend| check_family(backend, Family::Depthwise, &[strided]));
}
