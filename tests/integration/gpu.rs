//! What is particular to the GPU backend on the first adapter (lavapipe in CI): adapter
//! listing, the host-timing fallback, device-limit errors, the WGSL kernels' size-dependent
//! paths and a whole tiny calibration. The kernels themselves are checked on every backend
//! by `kernels.rs`. Without any adapter each test prints why it is skipped and passes.
#![cfg(feature = "gpu")]

use hwcal::backend::gpu::peak::prepare_peak_with_trips;
use hwcal::backend::gpu::{list_adapters, GpuBackend, GpuOptions, Int8Dot};
use hwcal::backend::{Backend, Prepared, Variant, Workload};
use hwcal::calibrate::measure::{
    measure_matmul, measure_stream, prepare_peak, prepare_precision_matmul, Measured,
};
use hwcal::calibrate::{calibrate, measure_pattern, Config, Operation, Silent};
use hwcal::dtype::{Accumulate, DType, HostBuffer};
use hwcal::pattern::{Pattern, Preset, Shape};
use hwcal::precision::{chain_value, PeakWidth, PrecisionInputs};
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

/// Runs a precision workload once and returns its output, or the reason it is unsupported.
fn run_once<'a>(
    backend: &'a GpuBackend,
    workload: &Workload<'a>,
) -> hwcal::Result<(
    HostBuffer,
    Option<hwcal::precision::PeakRun>,
    Option<hwcal::dtype::Accumulate>,
)> {
    let mut work = backend.prepare(workload)?;
    work.run(Variant::Single)?;
    Ok((
        work.output(Variant::Single)?,
        work.peak_run(),
        work.accumulate(),
    ))
}

/// The f32, f16 and int8 peaks end every lane exactly at the closed form; f16 without
/// SHADER_F16 (and int8 where naga would emulate the dot product) say why instead.
#[test]
fn gpu_peaks_end_every_lane_at_the_closed_form() {
    let Some(backend) = gpu() else { return };
    let ctx = backend.context();
    eprintln!(
        "shader_f16 {}, packed int8 dot: {}",
        ctx.shader_f16,
        ctx.int8_dot.describe()
    );
    assert_eq!(backend.device().details["shader_f16"], ctx.shader_f16);
    assert!(backend.device().details["packed_int8_dot"].is_string());
    for precision in [DType::F32, DType::F16, DType::I8] {
        let workload = Workload::Peak {
            precision,
            width: PeakWidth::Vector,
        };
        let (output, run, accumulate) = match run_once(&backend, &workload) {
            Ok(r) => r,
            Err(Error::Unsupported(why)) => {
                match precision {
                    DType::F16 => {
                        assert!(!ctx.shader_f16 && why.contains("SHADER_F16"), "{why}")
                    }
                    DType::I8 => assert!(
                        ctx.int8_dot == Int8Dot::Polyfill && why.contains("emulated"),
                        "{why}"
                    ),
                    _ => panic!("{precision}: {why}"),
                }
                eprintln!("{precision} peak unsupported: {why}");
                continue;
            }
            Err(e) => panic!("{precision} peak: {e}"),
        };
        let run = run.expect("a peak reports its run");
        assert!(accumulate.is_none());
        assert!(run.ops_per_run > 0.0 && run.units_per_run > 0 && run.clock_mhz.is_none());
        let want = chain_value(precision, run.start, run.units_per_run);
        let lanes = output.to_f64(0..output.len());
        assert!(!lanes.is_empty());
        assert!(
            lanes.iter().all(|&x| x == want),
            "{precision}: want {want}, got {:?}",
            &lanes[..4.min(lanes.len())]
        );
        // The calibration loop's own check passes too.
        prepare_peak(&backend, precision, PeakWidth::Vector).expect("the loop's check");
        match precision {
            DType::I8 => assert!(matches!(output, HostBuffer::I32(_))),
            _ => assert!(matches!(output, HostBuffer::F32(_))),
        }
        eprintln!(
            "{precision} peak: {} lanes × {} units ({})",
            lanes.len(),
            run.units_per_run,
            run.instruction
        );
    }
}

/// What WGSL cannot express is refused with the reason, never an emulated figure.
#[test]
fn gpu_peaks_and_matmuls_refuse_what_wgsl_lacks() {
    let Some(backend) = gpu() else { return };
    fn refused<'a>(backend: &'a GpuBackend, workload: Workload<'a>, reason: &str) {
        match backend.prepare(&workload) {
            Err(Error::Unsupported(why)) => assert!(why.contains(reason), "{why}"),
            Err(e) => panic!("{}: expected unsupported, got {e}", workload.label()),
            Ok(_) => panic!("{}: expected unsupported", workload.label()),
        }
    }
    let unsupported = |workload, reason| refused(&backend, workload, reason);
    let peak = |precision, width| Workload::Peak { precision, width };
    unsupported(peak(DType::F64, PeakWidth::Vector), "WGSL has no f64 type");
    unsupported(
        peak(DType::BF16, PeakWidth::Vector),
        "WGSL has no bf16 type",
    );
    unsupported(peak(DType::F32, PeakWidth::Scalar), "no scalar mode");
    unsupported(peak(DType::F32, PeakWidth::Matrix), "no matrix units");
    let f64s = PrecisionInputs::new(DType::F64, 4, 1).unwrap();
    unsupported(
        Workload::PrecisionMatmul { inputs: &f64s },
        "WGSL has no f64 type",
    );
    let bf16s = PrecisionInputs::new(DType::BF16, 4, 1).unwrap();
    unsupported(
        Workload::PrecisionMatmul { inputs: &bf16s },
        "WGSL has no bf16 type",
    );
}

/// The f16 matmul is within its accumulate type's tolerance of the f64 reference, and the
/// int8 matmul is exact, at sizes that are and are not multiples of the tile and the quads.
#[test]
fn gpu_f16_and_int8_matmuls_match_the_f64_reference() {
    let Some(backend) = gpu() else { return };
    let cases = [(DType::F16, [1, 33, 64, 100]), (DType::I8, [1, 7, 33, 64])];
    for (precision, sizes) in cases {
        for n in sizes {
            let inputs = PrecisionInputs::new(precision, n, n as u64).unwrap();
            let workload = Workload::PrecisionMatmul { inputs: &inputs };
            let (output, run, accumulate) = match run_once(&backend, &workload) {
                Ok(r) => r,
                Err(Error::Unsupported(why)) if precision == DType::F16 => {
                    assert!(
                        !backend.context().shader_f16 && why.contains("SHADER_F16"),
                        "{why}"
                    );
                    eprintln!("fp16 matmul unsupported: {why}");
                    break;
                }
                Err(e) => panic!("{precision} matmul {n}: {e}"),
            };
            assert!(run.is_none());
            let accumulate = accumulate.expect("a precision matmul reports its accumulate type");
            let (rtol, atol) = accumulate.tolerance(n);
            match precision {
                DType::F16 => {
                    assert_eq!(accumulate, Accumulate::F16Chunks { chunk: 32 });
                    assert!(matches!(output, HostBuffer::F32(_)));
                }
                _ => {
                    assert_eq!(accumulate, Accumulate::I32);
                    assert!(matches!(output, HostBuffer::I32(_)));
                    assert_eq!((rtol, atol), (0.0, 0.0));
                }
            }
            assert_eq!(output.len(), n * n);
            for r in 0..n {
                let want = inputs.reference_row(r);
                let got = output.to_f64(r * n..(r + 1) * n);
                for (c, (&x, &w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (x - w).abs() <= atol + rtol * w.abs(),
                        "{precision} n={n} C[{r}][{c}] = {x}, reference {w}"
                    );
                }
            }
            // The calibration loop's own check passes too.
            prepare_precision_matmul(&backend, &inputs, 7).expect("the loop's check");
        }
    }
}

/// Runs long enough for f16 to saturate at 2048 still end every lane at the closed form
/// (f32 and int8 keep counting); a run of no trips is a usage error.
#[test]
fn gpu_peaks_of_a_given_length_pass_f16_saturation() {
    let Some(backend) = gpu() else { return };
    for precision in [DType::F32, DType::F16, DType::I8] {
        // 300 trips of 8 steps: 2400 units, past f16's 2048.
        let mut work = match prepare_peak_with_trips(&backend, precision, PeakWidth::Vector, 300) {
            Ok(w) => w,
            Err(Error::Unsupported(why)) => {
                eprintln!("{precision} peak unsupported: {why}");
                continue;
            }
            Err(e) => panic!("{precision}: {e}"),
        };
        work.run(Variant::Single).expect("runs");
        let run = work.peak_run().expect("a peak run");
        let per_step = if precision == DType::I8 { 4 } else { 1 };
        assert_eq!(run.units_per_run, 2400 * per_step);
        let output = work.output(Variant::Single).expect("read back");
        let want = chain_value(precision, run.start, run.units_per_run);
        let lanes = output.to_f64(0..output.len());
        assert!(
            !lanes.is_empty() && lanes.iter().all(|&x| x == want),
            "{precision}"
        );
        match precision {
            DType::F16 => assert_eq!(want, 2048.0),
            DType::F32 => assert_eq!(want, 2401.0),
            _ => assert_eq!(want, 9601.0),
        }
    }
    let err = prepare_peak_with_trips(&backend, DType::F32, PeakWidth::Vector, 0)
        .err()
        .expect("zero trips");
    assert!(matches!(err, Error::Usage(_)), "{err}");
}

/// A precision matmul that does not fit the device's bindings is a device-limit error naming
/// the limit, not a wgpu panic.
#[test]
fn gpu_precision_matmuls_beyond_the_bindings_are_device_limit_errors() {
    let Some(backend) = open(GpuOptions {
        max_storage_buffer_binding_size: Some(64 << 10),
        ..GpuOptions::default()
    }) else {
        return;
    };
    // 200×200: f16 operands of 80 KB, an i32 output of 160 KB, both over a 64 KiB binding.
    for precision in [DType::F16, DType::I8] {
        let inputs = PrecisionInputs::new(precision, 200, 1).unwrap();
        let result = backend
            .prepare(&Workload::PrecisionMatmul { inputs: &inputs })
            .map(drop);
        match result {
            Err(Error::DeviceLimit(msg)) => {
                assert!(msg.contains("max_storage_buffer_binding_size"), "{msg}")
            }
            Err(Error::Unsupported(why)) if precision == DType::F16 => {
                assert!(why.contains("SHADER_F16"), "{why}")
            }
            Err(e) => panic!("{precision}: expected a device-limit error, got {e}"),
            Ok(_) => panic!("{precision}: expected a device-limit error"),
        }
    }
}

/// A tiny calibration of every precision's matmul and peak on the GPU: what runs is verified
/// and recorded with its instruction, what WGSL lacks is recorded with its reason, and
/// nothing fails.
#[test]
fn gpu_precisions_reach_the_profile() {
    let Some(backend) = gpu() else { return };
    let mut config = Config::new(Preset::Tiny);
    config.operations = vec![Operation::Matmul, Operation::Peak];
    config.precisions = DType::ALL.to_vec();
    config.sampling = POLICY;
    let outcome = calibrate(&backend, &config, &mut Silent).expect("calibration runs");
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    let text = outcome.profile.to_json_string();
    for expected in [
        "WGSL fma f32",
        "WGSL has no f64 type",
        "WGSL has no bf16 type",
        "no matrix units",
    ] {
        assert!(text.contains(expected), "{expected} missing from {text}");
    }
    if backend.context().shader_f16 {
        assert!(text.contains("WGSL fma f16"), "{text}");
    }
}

/// A GPU backend whose outputs have one element changed: the loop's checks must refuse every
/// precision kernel's output then (so the tests above could fail).
struct Corrupting(GpuBackend);

struct CorruptOutput<'a>(Box<dyn Prepared + 'a>);

impl Prepared for CorruptOutput<'_> {
    fn run(&mut self, variant: Variant) -> hwcal::Result<std::time::Duration> {
        self.0.run(variant)
    }

    fn output(&mut self, variant: Variant) -> hwcal::Result<HostBuffer> {
        Ok(match self.0.output(variant)? {
            HostBuffer::F32(mut v) => {
                v[0] += 1.0;
                HostBuffer::F32(v)
            }
            HostBuffer::I32(mut v) => {
                v[0] = v[0].wrapping_add(1);
                HostBuffer::I32(v)
            }
            HostBuffer::F64(mut v) => {
                v[0] += 1.0;
                HostBuffer::F64(v)
            }
        })
    }

    fn peak_run(&self) -> Option<hwcal::precision::PeakRun> {
        self.0.peak_run()
    }

    fn accumulate(&self) -> Option<Accumulate> {
        self.0.accumulate()
    }
}

impl Backend for Corrupting {
    fn device(&self) -> &hwcal::backend::DeviceInfo {
        self.0.device()
    }

    fn prepare<'a>(&'a self, workload: &Workload<'a>) -> hwcal::Result<Box<dyn Prepared + 'a>> {
        Ok(Box::new(CorruptOutput(self.0.prepare(workload)?)))
    }
}

#[test]
fn gpu_precision_outputs_with_one_wrong_element_fail_verification() {
    let Some(backend) = gpu() else { return };
    let f16 = backend.context().shader_f16;
    let corrupting = Corrupting(backend);
    let failed = |r: hwcal::Result<()>, what: &str| match r {
        Err(Error::Verification { .. }) => {}
        Err(e) => panic!("{what}: expected a verification failure, got {e}"),
        Ok(()) => panic!("{what}: a corrupted output passed"),
    };
    let mut precisions = vec![DType::F32, DType::I8];
    if f16 {
        precisions.push(DType::F16);
    }
    for precision in precisions {
        failed(
            prepare_peak(&corrupting, precision, PeakWidth::Vector).map(drop),
            &format!("{precision} peak"),
        );
        if precision == DType::F32 {
            continue;
        }
        let inputs = PrecisionInputs::new(precision, 33, 5).unwrap();
        failed(
            prepare_precision_matmul(&corrupting, &inputs, 1).map(drop),
            &format!("{precision} matmul"),
        );
    }
}
