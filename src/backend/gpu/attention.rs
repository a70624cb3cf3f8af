//! The Attention family (`shaders/attention.wgsl`, with `matmul.wgsl` for the unfused
//! matmuls). Mirrors `src/backend/cpu/attention.rs`.
//!
//! Unfused: one dispatch per operator of the pattern: `Q·Kᵀ` into a full `S×S` score matrix,
//! a scale pass, a softmax pass and `P·V`, each over whole tensors. Fused, from the pattern's
//! epilogue: without softmax the scale is the GEMM epilogue (`QK_AttentionScores`); with
//! softmax, scores and softmax run in one kernel per block of query rows (`QK_Softmax`); with
//! the product by `V`, a FlashAttention-style kernel whose `S×S` scores never leave
//! workgroup memory (`FullAttention`).

use super::buffers::{storage, uniform, upload};
use super::context::GpuContext;
use super::elementwise;
use super::linear::{gemm, Gemm};
use super::pipelines::{Kernel, Shader, PARAMS_3IN_1OUT};
use super::timer::Dispatch;
use super::work::{GpuWork, VariantWork};
use crate::backend::{check_operators, Activations};
use crate::pattern::{Op, Pattern, Shape};
use crate::{Error, Result};

const fn kernel(entry: &'static str) -> Kernel {
    Kernel {
        shader: Shader::Attention,
        entry,
        slots: PARAMS_3IN_1OUT,
    }
}

const SOFTMAX_ROWS: Kernel = kernel("softmax_rows");
const QK_SOFTMAX: Kernel = kernel("qk_softmax");
const FLASH: Kernel = kernel("flash");

/// Query rows per workgroup of the fused kernels.
const BR: u64 = 64;
/// Largest head dimension the flash kernel holds per thread.
const MAX_D: usize = 128;
/// Workgroup memory of the fused kernels (stage, score tile, reductions, row statistics).
const FUSED_SHARED_BYTES: u32 = (2080 + 4160 + 256 + 3 * 64) * 4;

/// A dispatch of an `attention.wgsl` entry point.
#[allow(clippy::too_many_arguments)]
fn attention_kernel(
    ctx: &GpuContext,
    kernel: &Kernel,
    (seq, dim, rows): (usize, usize, usize),
    (scale, causal): (f32, bool),
    [q, k, v]: [&wgpu::Buffer; 3],
    out: &wgpu::Buffer,
    groups: [u32; 3],
    label: &str,
) -> Result<Dispatch> {
    let params = uniform(ctx, &[seq as u32, dim as u32, rows as u32], label)?;
    ctx.dispatch(
        kernel,
        &[
            ("SCALE", scale as f64),
            ("CAUSAL", if causal { 1.0 } else { 0.0 }),
        ],
        &[
            params.as_entire_binding(),
            q.as_entire_binding(),
            k.as_entire_binding(),
            v.as_entire_binding(),
            out.as_entire_binding(),
        ],
        groups,
        label,
    )
}

/// One Attention pattern at one shape.
pub(crate) fn prepare<'a>(
    ctx: &'a GpuContext,
    pattern: Pattern,
    shape: Shape,
    (q, k, v): (&[f32], &[f32], &[f32]),
    label: String,
) -> Result<GpuWork<'a>> {
    let Shape::Attention { batch, seq, dim } = shape else {
        return Err(Error::usage(format!("{label}: not an attention shape")));
    };
    check_operators(
        pattern,
        "the GPU attention kernels",
        &[Op::MatMul, Op::Scale, Op::CausalMask, Op::Softmax],
        Activations::None,
    )?;
    let e = pattern.epilogue();
    if e.causal && !e.softmax {
        // The fused scores kernel is the plain GEMM, which has no mask.
        return Err(Error::usage(format!(
            "{}: the GPU attention kernels mask scores only before a softmax",
            pattern.name()
        )));
    }
    let full = e.value_matmul;
    let alpha = 1.0 / (dim as f32).sqrt();
    let scores_len = batch * seq * seq;
    let out_len = if full { batch * seq * dim } else { scores_len };

    let q = upload(ctx, q, "queries Q", &label)?;
    let k = upload(ctx, k, "keys K", &label)?;
    let v = upload(ctx, v, "values V", &label)?;
    let scores = storage(ctx, scores_len as u64, "score matrix", &label)?;
    let unfused_out = if full {
        storage(ctx, out_len as u64, "unfused output", &label)?
    } else {
        scores.clone()
    };
    let fused_out = storage(ctx, out_len as u64, "fused output", &label)?;

    // Unfused: one dispatch per operator (Q·Kᵀ, scale, softmax, P·V).
    let qk = Gemm {
        batch,
        trans_b: true,
        ..Gemm::plain(seq, seq, dim)
    };
    let mut unfused = Vec::new();
    for (i, op) in pattern.operators().iter().enumerate() {
        unfused.push(match op {
            Op::MatMul if i == 0 => gemm(ctx, &qk, &q, &k, None, None, &scores, &label)?,
            Op::Scale => elementwise::scale(ctx, &scores, scores_len, alpha, &label)?,
            Op::CausalMask => elementwise::causal_mask(ctx, &scores, scores_len, seq, &label)?,
            Op::Softmax => {
                let rows = batch * seq;
                let groups = (rows as u64).min(
                    ctx.limits
                        .max_compute_workgroups_per_dimension
                        .clamp(1, 65_535) as u64,
                );
                let d = &ctx.dummy;
                attention_kernel(
                    ctx,
                    &SOFTMAX_ROWS,
                    (seq, dim, rows),
                    (1.0, false),
                    [d, d, d],
                    &scores,
                    [groups as u32, 1, 1],
                    &label,
                )?
            }
            // The product with V (checked above that there is nothing else).
            _ => {
                let pv = Gemm {
                    batch,
                    ..Gemm::plain(seq, dim, seq)
                };
                gemm(ctx, &pv, &scores, &v, None, None, &unfused_out, &label)?
            }
        });
    }

    // Fused.
    let fused = if !e.softmax {
        let g = Gemm {
            scale: if e.scale { alpha } else { 1.0 },
            ..qk
        };
        gemm(ctx, &g, &q, &k, None, None, &fused_out, &label)?
    } else {
        ctx.check_workgroup(256, FUSED_SHARED_BYTES, "the fused attention kernel")?;
        if full && dim > MAX_D {
            return Err(Error::DeviceLimit(format!(
                "{label}: the flash-attention kernel holds head dimensions up to {MAX_D}, \
                 got D = {dim}"
            )));
        }
        let groups = ctx.check_groups(
            [(seq as u64).div_ceil(BR), batch as u64, 1],
            "the fused attention grid",
            &label,
        )?;
        let kernel = if full { &FLASH } else { &QK_SOFTMAX };
        attention_kernel(
            ctx,
            kernel,
            (seq, dim, batch * seq),
            (alpha, e.causal),
            [&q, &k, &v],
            &fused_out,
            groups,
            &label,
        )?
    };

    let works = VariantWork::pattern_pair(unfused, &unfused_out, vec![fused], &fused_out, out_len);
    GpuWork::new(
        ctx,
        label,
        works,
        vec![q, k, v, scores, unfused_out, fused_out],
    )
}
