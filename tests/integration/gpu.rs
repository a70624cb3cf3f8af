//! What is particular to the GPU backend on the first adapter (lavapipe in CI): adapter
//! listing, the host-timing fallback, device-limit errors, the WGSL kernels' size-dependent
//! paths and a whole tiny calibration. The kernels themselves are checked on every backend
//! by `kernels.rs`. Without any adapter each test prints why it is skipped and passes.
#![cfg(feature = "gpu")]

use hwcal::backend::gpu::{list_adapters, GpuBackend, GpuOptions};
use hwcal::backend::{Backend, Workload};
use hwcal::calibrate::measure::{measure_matmul, measure_stream, Measured};
use hwcal::calibrate::{calibrate, measure_pattern, Config, Operation, Silent};
use hwcal::pattern::{Pattern, Preset, Shape};
use hwcal::Error;

use super::kernels::{assert_measured, check_pattern, POLICY};

/// The first adapter with `options`, or `None` (and a printed reason) when there is none.
fn open(options: GpuOptions) -> Option<GpuBackend> {
    if list_adapters().is_empty() {
        eprintln!("skipped: no adapter (install mesa-vulkan-drivers for lavapipe)");
        return None;
    }
    Some(GpuBackend::open_with("0", &options).expect("the first adapter opens"))
}

fn gpu() -> Option<GpuBackend> {
    open(GpuOptions::default())
}

#[test]
fn lists_adapters_and_selects_by_name() {
    let adapters = list_adapters();
    for a in &adapters {
        eprintln!(
            "adapter {}: {} ({}, {}, driver {} {}; timestamps {}, f16 {}, subgroups {})",
            a.index,
            a.name,
            a.backend,
            a.device_type,
            a.driver,
            a.driver_info,
            a.timestamps,
            a.shader_f16,
            a.subgroups
        );
    }
    let lavapipe_installed = std::fs::read_dir("/usr/share/vulkan/icd.d")
        .map(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("lvp_icd"))
        })
        .unwrap_or(false);
    if lavapipe_installed {
        assert!(
            adapters.iter().any(|a| a.name.contains("llvmpipe")),
            "lavapipe is installed but not listed: {adapters:?}"
        );
    }
    let Some(first) = adapters.first() else {
        eprintln!("skipped: no adapter");
        return;
    };
    assert!(adapters.iter().enumerate().all(|(i, a)| a.index == i));
    assert!(!first.name.is_empty());
    // A case-insensitive substring of the name selects it; the profile is keyed by the name.
    let needle = first.name.to_uppercase();
    let backend = GpuBackend::open(&needle).expect("selecting by name");
    assert_eq!(backend.device().name, first.name);
    assert_eq!(backend.device().backend, "gpu");
    assert!(backend.device().details["limits"]["max_buffer_size"].is_u64());
    let err = GpuBackend::open("no such adapter at all")
        .err()
        .expect("unknown name");
    assert!(matches!(err, Error::Usage(_)), "{err}");
    assert!(GpuBackend::open("999").is_err());
    assert_eq!(
        GpuBackend::open_all().expect("open all").len(),
        adapters.len()
    );
}

#[test]
fn timing_method_follows_the_adapter_and_host_fallback_works() {
    let Some(backend) = gpu() else { return };
    let summary = backend.context().summary();
    let expected = if summary.timestamps {
        "gpu_timestamp_query"
    } else {
        "host_submit_wait"
    };
    assert_eq!(backend.device().timing_method, expected);
    drop(backend);

    let host = open(GpuOptions {
        host_timing: true,
        ..GpuOptions::default()
    })
    .expect("adapter present");
    assert_eq!(host.device().timing_method, "host_submit_wait");
    assert_eq!(host.device().details["timing_method"], "host_submit_wait");
    check_pattern(
        &host,
        Pattern::LinearBiasGelu,
        Shape::Linear { m: 9, k: 20, n: 11 },
    );
    check_pattern(
        &host,
        Pattern::FullAttention,
        Shape::Attention {
            batch: 1,
            seq: 16,
            dim: 8,
        },
    );
    let m = measure_matmul(&host, 33, &POLICY, 1).expect("host-timed matmul");
    assert_measured(&m, "host-timed matmul");
}

#[test]
fn oversized_workloads_are_device_limit_errors() {
    let Some(backend) = open(GpuOptions {
        max_storage_buffer_binding_size: Some(64 << 10),
        max_buffer_size: Some(1 << 20),
        ..GpuOptions::default()
    }) else {
        return;
    };
    let limit_error = |r: hwcal::Result<Measured>, limit: &str, label: &str| match r {
        Err(Error::DeviceLimit(msg)) => {
            assert!(msg.contains(limit) && msg.contains(label), "{msg}");
        }
        Err(e) => panic!("expected a device-limit error naming {limit}, got: {e}"),
        Ok(_) => panic!("expected a device-limit error naming {limit}"),
    };
    // 200×200 f32 = 160 KB per matrix > a 64 KiB binding.
    limit_error(
        measure_matmul(&backend, 200, &POLICY, 1),
        "max_storage_buffer_binding_size",
        "matmul (200×200)",
    );
    let config = Config::new(Preset::Tiny);
    let shape = Shape::Attention {
        batch: 1,
        seq: 200,
        dim: 8,
    };
    limit_error(
        measure_pattern(&backend, Pattern::QkSoftmax, shape, &POLICY, &config),
        "max_storage_buffer_binding_size",
        "QK_Softmax",
    );
    // Stream arrays bigger than one binding are bound in pieces and still verify ...
    let split = Workload::Triad { elements: 50_001 };
    assert_measured(
        &measure_stream(&backend, &split, &POLICY).expect("split stream"),
        "split",
    );
    // ... but not beyond max_buffer_size.
    limit_error(
        measure_stream(&backend, &Workload::Copy { elements: 1 << 20 }, &POLICY),
        "max_buffer_size",
        "copy",
    );
}

#[test]
fn a_tiny_calibration_produces_a_verified_profile_keyed_by_the_adapter() {
    let Some(backend) = gpu() else { return };
    let mut config = Config::new(Preset::Tiny);
    config.operations = vec![Operation::Memory, Operation::Matmul];
    config.patterns = Pattern::ALL.to_vec();
    config.sampling = POLICY;
    let outcome = calibrate(&backend, &config, &mut Silent).expect("calibration runs");
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    assert_eq!(
        outcome.profile.metadata.hardware_name,
        backend.device().name
    );
}

/// The GPU kernels' size-dependent paths that the shared kernel tests' shapes do not reach:
/// norm rows longer than the 4096 elements a workgroup holds in registers (the rest is
/// re-read), depthwise kernels and strides whose staged input tile forces a smaller output
/// tile, causal attention over several query blocks (blocks skipped and masked), and a
/// depthwise filter too large to stage, which is a device-limit error.
#[test]
fn gpu_kernels_take_their_size_dependent_paths() {
    let Some(backend) = gpu() else { return };
    let long_rows = Shape::Norm {
        rows: 3,
        hidden: 4096 + 300,
    };
    for pattern in [Pattern::AddLayerNorm, Pattern::AddRmsNorm] {
        check_pattern(&backend, pattern, long_rows);
    }
    let depthwise = |kernel, stride, padding| Shape::Depthwise {
        batch: 1,
        channels: 2,
        hw: 45,
        kernel,
        stride,
        padding,
    };
    for shape in [depthwise(11, 4, 3), depthwise(7, 3, 0), depthwise(1, 1, 0)] {
        check_pattern(&backend, Pattern::DepthwiseConv2dBnRelu6, shape);
    }
    let causal = Shape::Attention {
        batch: 1,
        seq: 200,
        dim: 24,
    };
    check_pattern(&backend, Pattern::FullAttentionCausal, causal);
    let config = Config::new(Preset::Tiny);
    let huge = depthwise(41, 1, 20);
    match measure_pattern(
        &backend,
        Pattern::DepthwiseConv2dBnRelu,
        huge,
        &POLICY,
        &config,
    ) {
        Err(Error::DeviceLimit(msg)) => assert!(msg.contains("41×41"), "{msg}"),
        Err(e) => panic!("expected a device-limit error, got: {e}"),
        Ok(_) => panic!("expected a device-limit error for a 41×41 depthwise filter"),
    }
}
