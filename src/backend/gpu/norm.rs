//! The Norm family (`shaders/norm.wgsl`): a residual add followed by LayerNorm or RMSNorm
//! over each row, as in every transformer block.
//!
//! Unfused: one dispatch per operator: the add writes the sums `s = x + r` (into the output
//! buffer: in place of the normalized rows, or into its second half for the patterns that
//! return the sums), then the norm kernel reads them back and writes the normalized rows.
//! Fused: one kernel per row reads `x` and `r` once, adds them in registers, reduces the
//! statistics in workgroup memory and writes the normalized row (and the sums where the
//! pattern returns them), so the sums are never read back from memory.

use super::buffers::{storage, uniform, upload};
use super::context::GpuContext;
use super::pipelines::{Kernel, Shader, PARAMS_4IN_1OUT};
use super::timer::Dispatch;
use super::work::{grid_1d, GpuWork, VariantWork};
use crate::backend::{check_operators, Activations};
use crate::pattern::{Norm, Op, Pattern, Shape};
use crate::{Error, Result};

const fn kernel(entry: &'static str) -> Kernel {
    Kernel {
        shader: Shader::Norm,
        entry,
        slots: PARAMS_4IN_1OUT,
    }
}

const ADD_ROWS: Kernel = kernel("add_rows");
const ADD_NORM: Kernel = kernel("add_norm");

/// Threads per workgroup of `add_norm` and its workgroup memory (the reduction buffer).
const WG: u32 = 256;
const SHARED_BYTES: u32 = WG * 4;

/// The inputs of a Norm pattern: `x` and the residual (`rows×hidden`), γ and β (`hidden`),
/// ε.
pub(crate) struct NormInputs<'a> {
    /// The input, `rows×hidden`.
    pub x: &'a [f32],
    /// The residual added to it, `rows×hidden`.
    pub residual: &'a [f32],
    /// Scale per element of a row.
    pub gamma: &'a [f32],
    /// Shift per element of a row (LayerNorm only).
    pub beta: &'a [f32],
    /// ε added to the variance (mean square).
    pub eps: f32,
}

/// The buffers every dispatch of one workload binds.
struct Bound<'b> {
    params: wgpu::Buffer,
    x: &'b wgpu::Buffer,
    r: &'b wgpu::Buffer,
    gamma: &'b wgpu::Buffer,
    beta: &'b wgpu::Buffer,
}

fn dispatch(
    ctx: &GpuContext,
    kernel: &Kernel,
    constants: &[(&'static str, f64)],
    b: &Bound<'_>,
    out: &wgpu::Buffer,
    groups: u32,
    label: &str,
) -> Result<Dispatch> {
    ctx.dispatch(
        kernel,
        constants,
        &[
            b.params.as_entire_binding(),
            b.x.as_entire_binding(),
            b.r.as_entire_binding(),
            b.gamma.as_entire_binding(),
            b.beta.as_entire_binding(),
            out.as_entire_binding(),
        ],
        [groups, 1, 1],
        label,
    )
}

/// One Norm pattern at one shape.
pub(crate) fn prepare<'a>(
    ctx: &'a GpuContext,
    pattern: Pattern,
    shape: Shape,
    inputs: NormInputs<'_>,
    label: String,
) -> Result<GpuWork<'a>> {
    let Shape::Norm { rows, hidden } = shape else {
        return Err(Error::usage(format!("{label}: not a norm shape")));
    };
    check_operators(
        pattern,
        "the GPU norm kernels",
        &[Op::Add, Op::LayerNorm, Op::RmsNorm],
        Activations::None,
    )?;
    let e = pattern.epilogue();
    let (Some(norm), true) = (e.norm, e.residual) else {
        // The kernels add the residual before normalizing; a chain without both has no
        // kernel here.
        return Err(Error::usage(format!(
            "{}: the GPU norm kernels run a residual add followed by a norm",
            pattern.name()
        )));
    };
    let len = rows * hidden;
    let out_len = if e.writes_sum { 2 * len } else { len };
    // Where the sums go: after the normalized rows when the pattern returns them, otherwise
    // in place of the rows the unfused norm then overwrites.
    let sum_off = if e.writes_sum { len } else { 0 };

    let x = upload(ctx, inputs.x, "input x", &label)?;
    let r = upload(ctx, inputs.residual, "residual", &label)?;
    let gamma = upload(ctx, inputs.gamma, "norm scale", &label)?;
    let beta = upload(ctx, inputs.beta, "norm shift", &label)?;
    let unfused_out = storage(ctx, out_len as u64, "unfused output", &label)?;
    let fused_out = storage(ctx, out_len as u64, "fused output", &label)?;

    ctx.check_workgroup(WG, SHARED_BYTES, "the norm kernel")?;
    let (add_groups, stride) = grid_1d(ctx, len as u64);
    // One workgroup per row, grid-striding when there are more rows than one dimension
    // allows.
    let row_groups = (rows as u64).clamp(
        1,
        ctx.limits
            .max_compute_workgroups_per_dimension
            .clamp(1, 65_535) as u64,
    ) as u32;
    let bound = Bound {
        params: uniform(
            ctx,
            &[
                rows as u32,
                hidden as u32,
                sum_off as u32,
                stride,
                len as u32,
                inputs.eps.to_bits(),
            ],
            &label,
        )?,
        x: &x,
        r: &r,
        gamma: &gamma,
        beta: &beta,
    };
    let norm_code = match norm {
        Norm::Layer => 0.0,
        Norm::Rms => 1.0,
    };
    let norm_kernel = |fused: bool, out: &wgpu::Buffer| {
        let constants = [
            ("NORM", norm_code),
            ("FUSED", if fused { 1.0 } else { 0.0 }),
            ("WRITE_SUM", if fused && e.writes_sum { 1.0 } else { 0.0 }),
        ];
        dispatch(ctx, &ADD_NORM, &constants, &bound, out, row_groups, &label)
    };

    let mut unfused = Vec::new();
    for op in pattern.operators() {
        unfused.push(match op {
            Op::Add => dispatch(
                ctx,
                &ADD_ROWS,
                &[],
                &bound,
                &unfused_out,
                add_groups,
                &label,
            )?,
            // LayerNorm or RMSNorm (checked above that there is nothing else).
            _ => norm_kernel(false, &unfused_out)?,
        });
    }
    let fused = vec![norm_kernel(true, &fused_out)?];
    let works = VariantWork::pattern_pair(unfused, &unfused_out, fused, &fused_out, out_len);
    let buffers = vec![bound.params, x, r, gamma, beta, unfused_out, fused_out];
    GpuWork::new(ctx, label, works, buffers)
}
