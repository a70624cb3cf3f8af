//! The separate passes of the unfused chains (`shaders/elementwise.wgsl`): bias, batch-norm,
//! activation, scale, residual add, multiply and causal mask, each over a whole tensor in
//! place. Mirrors `src/backend/cpu/elementwise.rs`.

use super::buffers::uniform;
use super::context::GpuContext;
use super::pipelines::{Kernel, Shader, PARAMS_2IN_1OUT};
use super::timer::Dispatch;
use super::work::grid_1d;
use crate::pattern::Activation;
use crate::Result;

const fn kernel(entry: &'static str) -> Kernel {
    Kernel {
        shader: Shader::Elementwise,
        entry,
        slots: PARAMS_2IN_1OUT,
    }
}

#[allow(clippy::too_many_arguments)]
fn pass(
    ctx: &GpuContext,
    entry: &'static str,
    constants: &[(&'static str, f64)],
    x: &wgpu::Buffer,
    len: usize,
    cols: usize,
    channels: usize,
    p0: Option<&wgpu::Buffer>,
    p1: Option<&wgpu::Buffer>,
    label: &str,
) -> Result<Dispatch> {
    let (groups, stride) = grid_1d(ctx, len as u64);
    let params = uniform(
        ctx,
        &[
            len as u32,
            stride,
            cols.max(1) as u32,
            channels.max(1) as u32,
        ],
        label,
    )?;
    let p0 = p0.unwrap_or(&ctx.dummy);
    let p1 = p1.unwrap_or(&ctx.dummy);
    ctx.dispatch(
        &kernel(entry),
        constants,
        &[
            params.as_entire_binding(),
            p0.as_entire_binding(),
            p1.as_entire_binding(),
            x.as_entire_binding(),
        ],
        [groups, 1, 1],
        label,
    )
}

/// `x[r][c] += bias[c]` over a row-major `len / cols × cols` matrix.
pub(crate) fn bias_cols(
    ctx: &GpuContext,
    x: &wgpu::Buffer,
    len: usize,
    bias: &wgpu::Buffer,
    cols: usize,
    label: &str,
) -> Result<Dispatch> {
    pass(
        ctx,
        "bias_cols",
        &[],
        x,
        len,
        cols,
        1,
        Some(bias),
        None,
        label,
    )
}

/// `x = x·scale[ch] + shift[ch]` over an NCHW tensor with `pixels` per channel (batch-norm).
#[allow(clippy::too_many_arguments)]
pub(crate) fn channel_affine(
    ctx: &GpuContext,
    x: &wgpu::Buffer,
    len: usize,
    scale: &wgpu::Buffer,
    shift: &wgpu::Buffer,
    pixels: usize,
    channels: usize,
    label: &str,
) -> Result<Dispatch> {
    pass(
        ctx,
        "channel_affine",
        &[],
        x,
        len,
        pixels,
        channels,
        Some(scale),
        Some(shift),
        label,
    )
}

/// `x = act(x)`.
pub(crate) fn activation(
    ctx: &GpuContext,
    x: &wgpu::Buffer,
    len: usize,
    act: Activation,
    label: &str,
) -> Result<Dispatch> {
    pass(
        ctx,
        "activation",
        &[("ACT", f64::from(act.wgsl_code()))],
        x,
        len,
        1,
        1,
        None,
        None,
        label,
    )
}

/// `x *= alpha`.
pub(crate) fn scale(
    ctx: &GpuContext,
    x: &wgpu::Buffer,
    len: usize,
    alpha: f32,
    label: &str,
) -> Result<Dispatch> {
    pass(
        ctx,
        "scale",
        &[("SCALE", alpha as f64)],
        x,
        len,
        1,
        1,
        None,
        None,
        label,
    )
}

/// `x += r`, elementwise (the residual add of the unfused chains).
pub(crate) fn add(
    ctx: &GpuContext,
    x: &wgpu::Buffer,
    len: usize,
    r: &wgpu::Buffer,
    label: &str,
) -> Result<Dispatch> {
    pass(ctx, "add", &[], x, len, 1, 1, Some(r), None, label)
}

/// `x *= y`, elementwise (SwiGLU's product of the gate and the up projection).
pub(crate) fn mul(
    ctx: &GpuContext,
    x: &wgpu::Buffer,
    len: usize,
    y: &wgpu::Buffer,
    label: &str,
) -> Result<Dispatch> {
    pass(ctx, "mul", &[], x, len, 1, 1, Some(y), None, label)
}

/// Masks the scores of keys after their query in `len / seq²` row-major `seq×seq` score
/// matrices (a large negative value, probability 0 after softmax).
pub(crate) fn causal_mask(
    ctx: &GpuContext,
    x: &wgpu::Buffer,
    len: usize,
    seq: usize,
    label: &str,
) -> Result<Dispatch> {
    pass(ctx, "causal_mask", &[], x, len, seq, seq, None, None, label)
}
