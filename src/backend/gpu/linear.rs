//! Matmul and the Linear family (`shaders/matmul.wgsl`), mirroring
//! `src/backend/cpu/linear.rs`.
//!
//! Unfused: one dispatch per operator of the pattern (GEMM, then a bias pass, then an
//! activation pass), each over the whole output. Fused: the same GEMM with the pattern's
//! epilogue (bias, activation) applied in registers before the output tile is stored. [`gemm`] is also the attention family's matmul.

use super::buffers::{storage, uniform, upload};
use super::context::GpuContext;
use super::elementwise;
use super::pipelines::{Kernel, Shader, PARAMS_3IN_1OUT};
use super::timer::{Chain, Dispatch};
use super::work::{GpuWork, VariantWork};
use crate::backend::check_operators;
use crate::backend::Variant;
use crate::pattern::{Activation, Op, Pattern, Shape};
use crate::Result;

const MATMUL: Kernel = Kernel {
    shader: Shader::Matmul,
    entry: "matmul",
    slots: PARAMS_3IN_1OUT,
};

/// Block tile of `matmul.wgsl` (rows and columns per workgroup).
const TILE: u64 = 64;

/// Where the GEMM epilogue's bias comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bias {
    None,
    PerColumn,
}

/// One (batched) GEMM `C = act(scale·A·op(B) + bias)`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Gemm {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub batch: usize,
    /// B is stored N×K.
    pub trans_b: bool,
    pub bias: Bias,
    pub act: Activation,
    pub scale: f32,
}

impl Gemm {
    pub fn plain(m: usize, n: usize, k: usize) -> Self {
        Gemm {
            m,
            n,
            k,
            batch: 1,
            trans_b: false,
            bias: Bias::None,
            act: Activation::Identity,
            scale: 1.0,
        }
    }
}

/// The dispatch of `g` reading `a`, `b` (and `bias`) and writing `c`.
pub(crate) fn gemm(
    ctx: &GpuContext,
    g: &Gemm,
    a: &wgpu::Buffer,
    b: &wgpu::Buffer,
    bias: Option<&wgpu::Buffer>,
    c: &wgpu::Buffer,
    label: &str,
) -> Result<Dispatch> {
    ctx.check_workgroup(256, 2 * 1040 * 4, "the matmul kernel")?;
    let groups = ctx.check_groups(
        [
            (g.n as u64).div_ceil(TILE),
            (g.m as u64).div_ceil(TILE),
            g.batch as u64,
        ],
        "the matmul grid",
        label,
    )?;
    let params = uniform(
        ctx,
        &[
            g.m as u32,
            g.n as u32,
            g.k as u32,
            (g.m * g.k) as u32,
            (g.k * g.n) as u32,
            (g.m * g.n) as u32,
        ],
        label,
    )?;
    let bias_code = match g.bias {
        Bias::None => 0.0,
        Bias::PerColumn => 1.0,
    };
    let constants = [
        ("TRANS_B", if g.trans_b { 1.0 } else { 0.0 }),
        ("BIAS", bias_code),
        ("SCALE", g.scale as f64),
        ("ACT", f64::from(g.act.wgsl_code())),
    ];
    ctx.dispatch(
        &MATMUL,
        &constants,
        &[
            params.as_entire_binding(),
            a.as_entire_binding(),
            b.as_entire_binding(),
            bias.unwrap_or(&ctx.dummy).as_entire_binding(),
            c.as_entire_binding(),
        ],
        groups,
        label,
    )
}

/// `C = A·B` for square `n×n` matrices: the matmul calibration.
pub(crate) fn prepare_matmul<'a>(
    ctx: &'a GpuContext,
    n: usize,
    a: &[f32],
    b: &[f32],
    label: String,
) -> Result<GpuWork<'a>> {
    let a = upload(ctx, a, "matrix A", &label)?;
    let b = upload(ctx, b, "matrix B", &label)?;
    let c = storage(ctx, (n * n) as u64, "matrix C", &label)?;
    let d = gemm(ctx, &Gemm::plain(n, n, n), &a, &b, None, &c, &label)?;
    let work = VariantWork {
        variant: Variant::Single,
        chain: Chain::new(vec![d]),
        output: c.clone(),
        len: n * n,
    };
    GpuWork::new(ctx, label, vec![work], vec![a, b, c])
}

/// One Linear pattern at one shape.
pub(crate) fn prepare_linear<'a>(
    ctx: &'a GpuContext,
    pattern: Pattern,
    shape: Shape,
    (x, w, bias): (&[f32], &[f32], &[f32]),
    label: String,
) -> Result<GpuWork<'a>> {
    let Shape::Linear { m, k, n } = shape else {
        return Err(crate::Error::usage(format!("{label}: not a linear shape")));
    };
    let len = m * n;
    let x = upload(ctx, x, "input x", &label)?;
    let w = upload(ctx, w, "weights W", &label)?;
    let bias = upload(ctx, bias, "bias", &label)?;
    let unfused_out = storage(ctx, len as u64, "unfused output", &label)?;
    let fused_out = storage(ctx, len as u64, "fused output", &label)?;
    check_operators(
        pattern,
        "the GPU linear kernels",
        &[
            Op::Linear,
            Op::Bias,
            Op::Relu,
            Op::Gelu,
            Op::Relu6,
            Op::Silu,
        ],
    )?;
    let mut unfused = Vec::new();
    for op in pattern.operators() {
        unfused.push(match (op, op.activation()) {
            (_, Some(act)) => elementwise::activation(ctx, &unfused_out, len, act, &label)?,
            (Op::Bias, _) => elementwise::bias_cols(ctx, &unfused_out, len, &bias, n, &label)?,
            // Op::Linear: checked above that there is nothing else.
            _ => gemm(
                ctx,
                &Gemm::plain(m, n, k),
                &x,
                &w,
                None,
                &unfused_out,
                &label,
            )?,
        });
    }
    let e = pattern.epilogue();
    let fused_gemm = Gemm {
        bias: if e.bias { Bias::PerColumn } else { Bias::None },
        act: e.activation,
        ..Gemm::plain(m, n, k)
    };
    let fused = vec![gemm(
        ctx,
        &fused_gemm,
        &x,
        &w,
        Some(&bias),
        &fused_out,
        &label,
    )?];
    let works = VariantWork::pattern_pair(unfused, &unfused_out, fused, &fused_out, len);
    GpuWork::new(ctx, label, works, vec![x, w, bias, unfused_out, fused_out])
}
