//! The Conv family (`shaders/conv.wgsl`): 2-D convolution (NCHW) as an implicit GEMM, with
//! batch-norm and ReLU. Mirrors `src/backend/cpu/conv.rs`.
//!
//! Unfused: one dispatch per operator of the pattern: convolution (with its bias unless a
//! batch-norm follows), then a batch-norm pass, a residual add pass, an activation pass, each
//! over the whole output. Fused: batch-norm folded into the filters and a per-channel shift
//! on the host when the workload is prepared (as inference compilers do), then the same
//! convolution with the shift, the residual and the activation in its epilogue, so the
//! output is written once and the residual read once.

use super::buffers::{needed_buffer, storage, uniform, upload, upload_if};
use super::context::GpuContext;
use super::elementwise;
use super::pipelines::{Kernel, Shader, PARAMS_4IN_1OUT};
use super::timer::Dispatch;
use super::work::{GpuWork, VariantWork};
use crate::backend::{check_operators, Activations};
use crate::pattern::{Activation, BatchNorm, ConvDims, FoldedFilters, Op, Pattern, Shape};
use crate::{Error, Result};

const CONV: Kernel = Kernel {
    shader: Shader::Conv,
    entry: "conv",
    slots: PARAMS_4IN_1OUT,
};

/// Block tile of `conv.wgsl` (channels and pixels per workgroup).
const TILE: u64 = 64;

#[allow(clippy::too_many_arguments)]
fn conv(
    ctx: &GpuContext,
    shape: &Shape,
    x: &wgpu::Buffer,
    w: &wgpu::Buffer,
    shift: Option<&wgpu::Buffer>,
    residual: Option<&wgpu::Buffer>,
    act: Activation,
    out: &wgpu::Buffer,
    label: &str,
) -> Result<Dispatch> {
    let Some(ConvDims {
        batch,
        cin,
        cout,
        hw,
        kernel,
        stride,
        padding,
        out_hw,
        ..
    }) = shape.conv_dims()
    else {
        return Err(Error::usage(format!("{label}: not a conv shape")));
    };
    let pix = out_hw * out_hw;
    ctx.check_workgroup(256, 2 * 1040 * 4, "the conv kernel")?;
    let groups = ctx.check_groups(
        [
            (pix as u64).div_ceil(TILE),
            (cout as u64).div_ceil(TILE),
            batch as u64,
        ],
        "the conv grid",
        label,
    )?;
    let params = uniform(
        ctx,
        &[
            cin as u32,
            cout as u32,
            hw as u32,
            kernel as u32,
            stride as u32,
            padding as u32,
            out_hw as u32,
            (cin * kernel * kernel) as u32,
            pix as u32,
        ],
        label,
    )?;
    let constants = [
        ("SHIFT", if shift.is_some() { 1.0 } else { 0.0 }),
        ("RESIDUAL", if residual.is_some() { 1.0 } else { 0.0 }),
        ("ACT", f64::from(act.wgsl_code())),
    ];
    ctx.dispatch(
        &CONV,
        &constants,
        &[
            params.as_entire_binding(),
            x.as_entire_binding(),
            w.as_entire_binding(),
            shift.unwrap_or(&ctx.dummy).as_entire_binding(),
            residual.unwrap_or(&ctx.dummy).as_entire_binding(),
            out.as_entire_binding(),
        ],
        groups,
        label,
    )
}

/// One Conv pattern at one shape, from its input image, filters, bias, batch-norm and (for
/// the patterns that add one) residual.
pub(crate) fn prepare<'a>(
    ctx: &'a GpuContext,
    pattern: Pattern,
    shape: Shape,
    (x_in, w_in, bias_in, bn): (&[f32], &[f32], &[f32], &BatchNorm),
    residual_in: Option<&[f32]>,
    label: String,
) -> Result<GpuWork<'a>> {
    let Shape::Conv {
        batch,
        cin,
        cout,
        kernel,
        ..
    } = shape
    else {
        return Err(Error::usage(format!("{label}: not a conv shape")));
    };
    let pix = shape.conv_out_hw() * shape.conv_out_hw();
    let len = batch * cout * pix;
    let red = cin * kernel * kernel;
    let act = pattern.activation();

    // Batch-norm folded into the filters and a per-channel shift, in f64, as on the CPU.
    let FoldedFilters {
        bn_scale,
        bn_shift,
        filters: folded_w,
        shift: folded_shift,
    } = FoldedFilters::new(pattern.has_batch_norm(), bn, w_in, bias_in, red);

    let x = upload(ctx, x_in, "input image", &label)?;
    let w = upload(ctx, w_in, "filters", &label)?;
    let bias = upload(ctx, bias_in, "conv bias", &label)?;
    let fw = upload(ctx, &folded_w, "folded filters", &label)?;
    let fshift = upload(ctx, &folded_shift, "folded shift", &label)?;
    let bn_scale = upload(ctx, &bn_scale, "batch-norm scale", &label)?;
    let bn_shift = upload(ctx, &bn_shift, "batch-norm shift", &label)?;
    let wants_residual = pattern.epilogue().residual;
    let residual = upload_if(
        ctx,
        wants_residual,
        residual_in,
        "residual",
        pattern,
        &label,
    )?;
    let unfused_out = storage(ctx, len as u64, "unfused output", &label)?;
    let fused_out = storage(ctx, len as u64, "fused output", &label)?;

    check_operators(
        pattern,
        "the GPU conv kernels",
        &[Op::Conv2d, Op::BatchNorm, Op::Add],
        Activations::Any,
    )?;
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
                cout,
                &label,
            )?,
            (Op::Add, _) => {
                let r = needed_buffer(&residual, pattern, "residual")?;
                elementwise::add(ctx, &unfused_out, len, r, &label)?
            }
            // Op::Conv2d, with its own bias unless a batch-norm follows (checked above that
            // there is nothing else).
            _ => conv(
                ctx,
                &shape,
                &x,
                &w,
                (!pattern.has_batch_norm()).then_some(&bias),
                None,
                Activation::Identity,
                &unfused_out,
                &label,
            )?,
        });
    }
    let fused = vec![conv(
        ctx,
        &shape,
        &x,
        &fw,
        Some(&fshift),
        residual.as_ref(),
        act,
        &fused_out,
        &label,
    )?];
    let works = VariantWork::pattern_pair(unfused, &unfused_out, fused, &fused_out, len);
    let mut buffers = vec![
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
    buffers.extend(residual);
    GpuWork::new(ctx, label, works, buffers)
}
