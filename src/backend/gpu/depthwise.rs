//! The Depthwise family (`shaders/depthwise.wgsl`): depthwise 2-D convolution (NCHW, one
//! `k×k` filter per channel) with batch-norm and an activation, as in MobileNet's blocks.
//!
//! Unfused: one dispatch per operator: the depthwise convolution (with its bias unless a
//! batch-norm follows), then a batch-norm pass, then an activation pass, each over the whole
//! output. Fused: batch-norm folded into the filters and a per-channel shift on the host when
//! the workload is prepared (in f64, as the conv family does), then the same convolution with
//! the shift and the activation in its epilogue, so the output is written once.

use super::buffers::{storage, uniform, upload};
use super::context::GpuContext;
use super::elementwise;
use super::pipelines::{Kernel, Shader, PARAMS_3IN_1OUT};
use super::timer::Dispatch;
use super::work::{GpuWork, VariantWork};
use crate::backend::{check_operators, Activations};
use crate::pattern::{Activation, BatchNorm, ConvDims, FoldedFilters, Op, Pattern, Shape};
use crate::{Error, Result};

const DEPTHWISE: Kernel = Kernel {
    shader: Shader::Depthwise,
    entry: "depthwise",
    slots: PARAMS_3IN_1OUT,
};

/// Output tile side of one workgroup at most (its 16×16 threads, one output each).
const OT_MAX: usize = 16;
/// Largest staged input tile side (and kernel size): the shader's tile arrays hold
/// `TS_MAX²` values each.
const TS_MAX: usize = 40;
/// Workgroup memory of the kernel: the input tile and the filter.
const SHARED_BYTES: u32 = 2 * (TS_MAX * TS_MAX) as u32 * 4;

/// The output tile side for `kernel` and `stride`: as many outputs as the staged input tile
/// of at most `TS_MAX` allows, up to one per thread. `None` when not even one output fits
/// (a kernel larger than `TS_MAX`).
fn output_tile(kernel: usize, stride: usize) -> Option<usize> {
    let room = TS_MAX.checked_sub(kernel)?;
    Some((room / stride.max(1) + 1).min(OT_MAX))
}

#[allow(clippy::too_many_arguments)]
fn depthwise(
    ctx: &GpuContext,
    d: &ConvDims,
    x: &wgpu::Buffer,
    w: &wgpu::Buffer,
    shift: Option<&wgpu::Buffer>,
    act: Activation,
    out: &wgpu::Buffer,
    label: &str,
) -> Result<Dispatch> {
    let Some(ot) = output_tile(d.kernel, d.stride) else {
        return Err(Error::DeviceLimit(format!(
            "{label}: the depthwise kernel stages filters of up to {TS_MAX}×{TS_MAX}, got {k}×{k}",
            k = d.kernel
        )));
    };
    let ts = (ot - 1) * d.stride + d.kernel;
    ctx.check_workgroup(256, SHARED_BYTES, "the depthwise kernel")?;
    let tiles = (d.out_hw as u64).div_ceil(ot as u64);
    let groups = ctx.check_groups(
        [tiles, tiles, (d.batch as u64) * (d.cout as u64)],
        "the depthwise grid",
        label,
    )?;
    let params = uniform(
        ctx,
        &[
            d.cout as u32,
            d.hw as u32,
            d.kernel as u32,
            d.stride as u32,
            d.padding as u32,
            d.out_hw as u32,
            ot as u32,
            ts as u32,
        ],
        label,
    )?;
    let constants = [
        ("SHIFT", if shift.is_some() { 1.0 } else { 0.0 }),
        ("ACT", f64::from(act.wgsl_code())),
    ];
    ctx.dispatch(
        &DEPTHWISE,
        &constants,
        &[
            params.as_entire_binding(),
            x.as_entire_binding(),
            w.as_entire_binding(),
            shift.unwrap_or(&ctx.dummy).as_entire_binding(),
            out.as_entire_binding(),
        ],
        groups,
        label,
    )
}

/// One Depthwise pattern at one shape, from its input image, `C×k×k` filters, bias and
/// batch-norm.
pub(crate) fn prepare<'a>(
    ctx: &'a GpuContext,
    pattern: Pattern,
    shape: Shape,
    (x_in, w_in, bias_in, bn): (&[f32], &[f32], &[f32], &BatchNorm),
    label: String,
) -> Result<GpuWork<'a>> {
    let (Shape::Depthwise { .. }, Some(d)) = (shape, shape.conv_dims()) else {
        return Err(Error::usage(format!("{label}: not a depthwise shape")));
    };
    check_operators(
        pattern,
        "the GPU depthwise kernels",
        &[Op::DepthwiseConv2d, Op::BatchNorm],
        Activations::Any,
    )?;
    let pix = d.out_pixels();
    let len = d.batch * d.cout * pix;
    let taps = d.kernel * d.kernel;

    // Batch-norm folded into the filters and a per-channel shift, in f64, as on the CPU.
    let FoldedFilters {
        bn_scale,
        bn_shift,
        filters: folded_w,
        shift: folded_shift,
    } = FoldedFilters::new(pattern.has_batch_norm(), bn, w_in, bias_in, taps);

    let x = upload(ctx, x_in, "input image", &label)?;
    let w = upload(ctx, w_in, "filters", &label)?;
    let bias = upload(ctx, bias_in, "bias", &label)?;
    let fw = upload(ctx, &folded_w, "folded filters", &label)?;
    let fshift = upload(ctx, &folded_shift, "folded shift", &label)?;
    let bn_scale = upload(ctx, &bn_scale, "batch-norm scale", &label)?;
    let bn_shift = upload(ctx, &bn_shift, "batch-norm shift", &label)?;
    let unfused_out = storage(ctx, len as u64, "unfused output", &label)?;
    let fused_out = storage(ctx, len as u64, "fused output", &label)?;

    let mut unfused = Vec::new();
    for op in pattern.operators() {
        unfused.push(match (op, op.activation()) {
            (_, Some(act)) => elementwise::activation(ctx, &unfused_out, len, act, &label)?,
            (Op::BatchNorm, _) => elementwise::channel_affine(
                ctx,
                &unfused_out,
                len,
                &bn_scale,
                &bn_shift,
                pix,
                d.cout,
                &label,
            )?,
            // Op::DepthwiseConv2d, with its own bias unless a batch-norm follows (checked
            // above that there is nothing else).
            _ => depthwise(
                ctx,
                &d,
                &x,
                &w,
                (!pattern.has_batch_norm()).then_some(&bias),
                Activation::Identity,
                &unfused_out,
                &label,
            )?,
        });
    }
    let fused = vec![depthwise(
        ctx,
        &d,
        &x,
        &fw,
        Some(&fshift),
        pattern.activation(),
        &fused_out,
        &label,
    )?];
    let works = VariantWork::pattern_pair(unfused, &unfused_out, fused, &fused_out, len);
    let buffers = vec![
        x,
        w,
        bias,
        fw,
        fshift,
        bn_scale,
        bn_shift,
        unfused_out,
        fused_out,
    ];
    GpuWork::new(ctx, label, works, buffers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_tiles_fit_the_staged_tile() {
        assert_eq!(output_tile(3, 1), Some(16));
        assert_eq!(output_tile(3, 2), Some(16));
        assert_eq!(output_tile(5, 3), Some(12));
        assert_eq!(output_tile(40, 7), Some(1));
        assert_eq!(output_tile(41, 1), None);
        for k in 1..=TS_MAX {
            for s in 1..=8 {
                let ot = output_tile(k, s).unwrap();
                assert!((ot - 1) * s + k <= TS_MAX, "k {k} s {s}");
            }
        }
    }
}
