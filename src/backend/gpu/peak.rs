//! Peak compute per precision on the GPU (`shaders/peak.wgsl`, `shaders/peak_f16.wgsl`),
//! mirroring `src/backend/cpu/peak/`.
//!
//! Every invocation of a one-dimensional grid runs [`CHAINS`] independent chains for
//! `8·trips` steps and stores their final values, so the loop can check every lane against
//! [`crate::precision::chain_value`] before the time counts
//! ([`crate::calibrate::measure::prepare_peak`]):
//! - fp32: `x = fma(x, 1, 1)`, +1 per step, 2 FLOPs;
//! - fp16: the same in `f16` (`enable f16;`, only on devices opened with `SHADER_F16`);
//!   +1 per step until 2048, where it saturates;
//! - int8: `acc = dot4I8Packed(0x01010101, 0x01010101) + acc`, +4 per step in wrapping i32,
//!   8 operations (4 multiplies, 4 adds); each step also adds 0 (unknown to the compiler) to
//!   the packed operand so the dot product is not hoisted out of the loop. Refused where naga
//!   would lower `dot4I8Packed` to byte-by-byte products ([`Int8Dot::Polyfill`]: Vulkan
//!   without the integer dot product, Metal).
//!
//! The grid fills the device: [`GRID_GPU`] workgroups of 256 invocations (several waves on
//! any current GPU), or [`GRID_CPU`] on a CPU device (lavapipe), where more only costs time.
//! A probe run sizes `trips` so one run takes about [`TARGET_RUN`]. WGSL has no f64 and no
//! bf16 type, a GPU has no scalar mode distinct from its invocations, and WGSL exposes no
//! matrix units: those are [`Error::Unsupported`].

use super::buffers::{storage, uniform};
use super::context::{GpuContext, Int8Dot};
use super::pipelines::{Kernel, Shader, Slot};
use super::timer::Chain;
use super::work::{GpuWork, VariantWork, WG_1D};
use crate::backend::{Prepared, Variant};
use crate::dtype::{DType, HostBuffer};
use crate::precision::{max_exact_units, PeakRun, PeakWidth};
use crate::{Error, Result};
use std::time::Duration;

/// Independent chains per invocation (two 4-wide accumulators, or eight scalars).
pub const CHAINS: u64 = 8;

/// Steps of every chain per loop trip (the shaders' unrolled body).
const STEPS_PER_TRIP: u64 = 8;

/// Workgroups of the grid on a GPU: 4096 × 256 invocations, about a million, several waves
/// even on the largest devices.
pub const GRID_GPU: u32 = 4096;

/// Workgroups of the grid on a CPU device (lavapipe): a few per core is all it runs at once.
pub const GRID_CPU: u32 = 16;

/// How long one run should take.
pub const TARGET_RUN: Duration = Duration::from_millis(1);

/// Loop trips of the probe run that sizes the real one.
const PROBE_TRIPS: u32 = 4;

/// The value every lane starts from (not zero, so a kernel that stored without loading fails).
const START: f64 = 1.0;

/// The packed int8 operand: four bytes of 1.
const PACKED_ONES: u32 = 0x0101_0101;

const SLOTS: &[Slot] = &[Slot::Uniform, Slot::ReadWrite];

const PEAK_F32: Kernel = Kernel {
    shader: Shader::Peak,
    entry: "peak_f32",
    slots: SLOTS,
};

const PEAK_INT8: Kernel = Kernel {
    shader: Shader::Peak,
    entry: "peak_int8",
    slots: SLOTS,
};

const PEAK_F16: Kernel = Kernel {
    shader: Shader::PeakF16,
    entry: "peak_f16",
    slots: SLOTS,
};

/// What a precision's chains are on this device.
#[derive(Clone, Debug)]
struct PeakKernel {
    kernel: Kernel,
    /// Exact units a lane adds per step.
    units_per_step: u64,
    /// Operations a lane performs per step (FMA = 2, dot4 = 8).
    ops_per_step: f64,
    instruction: String,
    /// Whether the lanes are i32 (else f32 bits).
    integer: bool,
}

/// The kernel for `precision` at `width`, or why this device cannot run it natively.
fn select(ctx: &GpuContext, precision: DType, width: PeakWidth) -> Result<PeakKernel> {
    match width {
        PeakWidth::Vector => {}
        PeakWidth::Scalar => {
            return Err(Error::Unsupported(format!(
                "{precision} scalar peak: a GPU has no scalar mode distinct from its \
                 invocations; see the vector peak"
            )))
        }
        PeakWidth::Matrix => {
            return Err(Error::Unsupported(format!(
                "{precision} matrix peak: WGSL exposes no matrix units"
            )))
        }
    }
    let fma = |kernel, instruction: &str| PeakKernel {
        kernel,
        units_per_step: 1,
        ops_per_step: 2.0,
        instruction: instruction.into(),
        integer: false,
    };
    match precision {
        DType::F32 => Ok(fma(PEAK_F32, "WGSL fma f32")),
        DType::F16 if ctx.shader_f16 => Ok(fma(PEAK_F16, "WGSL fma f16 (enable f16)")),
        DType::F16 => Err(Error::Unsupported(format!(
            "fp16: this adapter ({}) lacks the SHADER_F16 feature (WGSL `enable f16;`), so it \
             has no f16 arithmetic wgpu can use",
            ctx.info.name
        ))),
        DType::I8 => match ctx.int8_dot {
            Int8Dot::Polyfill => Err(Error::Unsupported(format!(
                "int8: this device ({}) has no packed integer dot product wgpu can reach (a \
                 Vulkan device without VK_KHR_shader_integer_dot_product, or Metal), so naga \
                 lowers dot4I8Packed to byte-by-byte multiplies and adds: an emulated figure, \
                 not a peak",
                ctx.info.name
            ))),
            lowering => Ok(PeakKernel {
                kernel: PEAK_INT8,
                units_per_step: 4,
                ops_per_step: 8.0,
                instruction: match lowering {
                    Int8Dot::Native => {
                        "WGSL dot4I8Packed (SPIR-V OpSDot) + i32 add, plus one 32-bit add per \
                         step keeping the operand live"
                    }
                    _ => {
                        "WGSL dot4I8Packed (HLSL dot4add_i8packed where shader model 6.4 has it) \
                         + i32 add, plus one 32-bit add per step keeping the operand live"
                    }
                }
                .into(),
                integer: true,
            }),
        },
        DType::F64 => Err(Error::Unsupported("fp64: WGSL has no f64 type".into())),
        DType::BF16 => Err(Error::Unsupported("bf16: WGSL has no bf16 type".into())),
    }
}

/// A peak resident on the device: the chain kernel over the whole grid, sized to about
/// [`TARGET_RUN`].
pub(crate) struct PeakWork<'a> {
    work: GpuWork<'a>,
    run: PeakRun,
    integer: bool,
}

/// Workgroups of the grid on this device.
fn grid(ctx: &GpuContext) -> u32 {
    let wanted = if ctx.info.device_type == wgpu::DeviceType::Cpu {
        GRID_CPU
    } else {
        GRID_GPU
    };
    wanted.min(ctx.limits.max_compute_workgroups_per_dimension.max(1))
}

/// Most loop trips one run may make: f32 lanes stay exact below 2^24; the others (f16
/// saturates, i32 wraps) only keep the trip count in a u32 and a run bounded.
fn max_trips(precision: DType, k: &PeakKernel) -> u32 {
    let exact = max_exact_units(precision) / (STEPS_PER_TRIP * k.units_per_step);
    exact.min(1 << 24) as u32
}

/// The chain kernel over `groups` workgroups making `trips` loop trips.
fn build<'a>(
    ctx: &'a GpuContext,
    k: &PeakKernel,
    groups: u32,
    trips: u32,
    label: &str,
) -> Result<(GpuWork<'a>, u64)> {
    let lanes = u64::from(groups)
        .checked_mul(u64::from(WG_1D) * CHAINS)
        .ok_or_else(|| Error::DeviceLimit(format!("{label}: the lane count overflows")))?;
    let len = usize::try_from(lanes)
        .map_err(|_| Error::DeviceLimit(format!("{label}: {lanes} lanes do not fit memory")))?;
    let out = storage(ctx, lanes, "peak lanes", label)?;
    let params = uniform(
        ctx,
        &[
            trips,
            1.0f32.to_bits(),
            (START as f32).to_bits(),
            PACKED_ONES,
            PACKED_ONES,
            0,
            START as i32 as u32,
            0,
        ],
        label,
    )?;
    let dispatch = ctx.dispatch(
        &k.kernel,
        &[],
        &[params.as_entire_binding(), out.as_entire_binding()],
        [groups, 1, 1],
        label,
    )?;
    let variant = VariantWork {
        variant: Variant::Single,
        chain: Chain::new(vec![dispatch]),
        output: out.clone(),
        len,
    };
    let work = GpuWork::new(ctx, label.to_string(), vec![variant], vec![out, params])?;
    Ok((work, lanes))
}

/// Prepares the peak of `precision` at `width`: probes the kernel's speed with a short run
/// and sizes the real one to about [`TARGET_RUN`].
pub(crate) fn prepare<'a>(
    ctx: &'a GpuContext,
    precision: DType,
    width: PeakWidth,
    label: String,
) -> Result<PeakWork<'a>> {
    let k = select(ctx, precision, width)?;
    ctx.check_workgroup(WG_1D, 0, "the peak kernel")?;
    let groups = grid(ctx);
    let (mut probe, _) = build(ctx, &k, groups, PROBE_TRIPS, &label)?;
    // The faster of two probes (the first may pay for the pipeline's first use).
    let mut took = probe.run(Variant::Single)?;
    took = took.min(probe.run(Variant::Single)?);
    let scale = if took.is_zero() {
        1.0
    } else {
        TARGET_RUN.as_secs_f64() / took.as_secs_f64()
    };
    let trips = (f64::from(PROBE_TRIPS) * scale)
        .round()
        .clamp(f64::from(PROBE_TRIPS), f64::from(max_trips(precision, &k))) as u32;
    finish(ctx, k, groups, trips, label)
}

/// The sized peak: its kernel over `groups` workgroups making `trips` loop trips, and what a
/// run does.
fn finish<'a>(
    ctx: &'a GpuContext,
    k: PeakKernel,
    groups: u32,
    trips: u32,
    label: String,
) -> Result<PeakWork<'a>> {
    let (work, lanes) = build(ctx, &k, groups, trips, &label)?;
    let steps = u64::from(trips) * STEPS_PER_TRIP;
    let run = PeakRun {
        ops_per_run: lanes as f64 * steps as f64 * k.ops_per_step,
        start: START,
        units_per_run: steps * k.units_per_step,
        instruction: k.instruction,
        clock_mhz: None,
    };
    Ok(PeakWork {
        work,
        run,
        integer: k.integer,
    })
}

/// The peak of `precision` at `width` on `backend`'s device, like
/// [`Backend::prepare`](crate::backend::Backend::prepare) of a
/// [`Workload::Peak`](crate::backend::Workload::Peak) but with exactly `trips` loop trips
/// (8 steps of every chain each) instead of a run sized to [`TARGET_RUN`]: for callers that
/// size runs themselves, and for tests that need a chain to pass f16's saturation at 2048.
/// A usage error when `trips` is 0 or more than the precision's exact range allows.
pub fn prepare_peak_with_trips<'a>(
    backend: &'a super::GpuBackend,
    precision: DType,
    width: PeakWidth,
    trips: u32,
) -> Result<Box<dyn Prepared + 'a>> {
    let ctx = backend.context();
    let k = select(ctx, precision, width)?;
    let max = max_trips(precision, &k);
    if trips == 0 || trips > max {
        return Err(Error::usage(format!(
            "{precision} peak: {trips} loop trips; choose from 1 to {max}"
        )));
    }
    ctx.check_workgroup(WG_1D, 0, "the peak kernel")?;
    let label = format!("{precision} {} peak ({trips} trips)", width.name());
    Ok(Box::new(finish(ctx, k, grid(ctx), trips, label)?))
}

impl Prepared for PeakWork<'_> {
    fn run(&mut self, variant: Variant) -> Result<Duration> {
        self.work.run(variant)
    }

    fn run_batch(&mut self, variant: Variant, iterations: u32) -> Result<Duration> {
        self.work.run_batch(variant, iterations)
    }

    fn output(&mut self, variant: Variant) -> Result<HostBuffer> {
        let lanes = self.work.output(variant)?.into_f32("the peak lanes")?;
        Ok(if self.integer {
            // The buffer holds i32 bits; read_f32 moved them unchanged.
            HostBuffer::I32(lanes.iter().map(|x| x.to_bits() as i32).collect())
        } else {
            HostBuffer::F32(lanes)
        })
    }

    fn peak_run(&self) -> Option<PeakRun> {
        Some(self.run.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_run_keeps_f32_lanes_exact() {
        let f32_chain = PeakKernel {
            kernel: PEAK_F32,
            units_per_step: 1,
            ops_per_step: 2.0,
            instruction: String::new(),
            integer: false,
        };
        let trips = u64::from(max_trips(DType::F32, &f32_chain));
        assert_eq!(trips * STEPS_PER_TRIP, max_exact_units(DType::F32));
        let dot = PeakKernel {
            kernel: PEAK_INT8,
            units_per_step: 4,
            ops_per_step: 8.0,
            ..f32_chain
        };
        // i32 wraps, so only the u32 trip count and the run's length bound it.
        assert_eq!(max_trips(DType::I8, &dot), 1 << 24);
        assert!(max_trips(DType::F16, &dot) >= PROBE_TRIPS);
    }
}
