//! Matmul and the Linear family (`shaders/matmul.wgsl`), mirroring
//! `src/backend/cpu/linear.rs`.
//!
//! Unfused: one dispatch per operator of the pattern (GEMM, then a bias pass, a residual add
//! pass, an activation pass; SwiGLU: the gate GEMM, a SiLU pass, the up GEMM into a scratch
//! tensor and a multiply pass), each over the whole output. Fused: the same GEMM with the
//! pattern's epilogue (bias, residual, activation) applied in registers before the output
//! tile is stored, so the product is written once and never read back; SwiGLU's fused
//! kernel computes both products from one staged tile of x and stores only
//! `silu(gate)·up`. [`gemm`] is also the attention family's matmul.

use super::buffers::{needed_buffer, storage, uniform, upload, upload_if};
use super::context::GpuContext;
use super::elementwise;
use super::pipelines::{Kernel, Shader, PARAMS_4IN_1OUT};
use super::timer::{Chain, Dispatch};
use super::work::{GpuWork, VariantWork};
use crate::backend::Variant;
use crate::backend::{check_operators, Activations};
use crate::pattern::{Activation, Op, Pattern, Shape};
use crate::Result;

const MATMUL: Kernel = Kernel {
    shader: Shader::Matmul,
    entry: "matmul",
    slots: PARAMS_4IN_1OUT,
};

const SWIGLU: Kernel = Kernel {
    shader: Shader::Matmul,
    entry: "swiglu",
    slots: PARAMS_4IN_1OUT,
};

/// Block tile of `matmul.wgsl` (rows and columns per workgroup).
const TILE: u64 = 64;

/// Workgroup memory of `matmul` (the A and B tiles, 16×65 each) and of `swiglu` (A and two
/// B tiles).
const MATMUL_SHARED_BYTES: u32 = 2 * 1040 * 4;
const SWIGLU_SHARED_BYTES: u32 = 3 * 1040 * 4;

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

/// The `matmul.wgsl` grid of `g`: one workgroup per 64×64 block of each batch entry.
fn grid(ctx: &GpuContext, g: &Gemm, label: &str) -> Result<[u32; 3]> {
    ctx.check_groups(
        [
            (g.n as u64).div_ceil(TILE),
            (g.m as u64).div_ceil(TILE),
            g.batch as u64,
        ],
        "the matmul grid",
        label,
    )
}

/// The parameters of `matmul.wgsl` for `g`.
fn params(ctx: &GpuContext, g: &Gemm, label: &str) -> Result<wgpu::Buffer> {
    uniform(
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
    )
}

/// The dispatch of `g` reading `a`, `b` (and `bias`, and a `residual` of C's shape added
/// before the activation) and writing `c`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm(
    ctx: &GpuContext,
    g: &Gemm,
    a: &wgpu::Buffer,
    b: &wgpu::Buffer,
    bias: Option<&wgpu::Buffer>,
    residual: Option<&wgpu::Buffer>,
    c: &wgpu::Buffer,
    label: &str,
) -> Result<Dispatch> {
    ctx.check_workgroup(256, MATMUL_SHARED_BYTES, "the matmul kernel")?;
    let groups = grid(ctx, g, label)?;
    let params = params(ctx, g, label)?;
    let bias_code = match g.bias {
        Bias::None => 0.0,
        Bias::PerColumn => 1.0,
    };
    let constants = [
        ("TRANS_B", if g.trans_b { 1.0 } else { 0.0 }),
        ("BIAS", bias_code),
        ("SCALE", g.scale as f64),
        ("ACT", f64::from(g.act.wgsl_code())),
        ("RESIDUAL", if residual.is_some() { 1.0 } else { 0.0 }),
    ];
    ctx.dispatch(
        &MATMUL,
        &constants,
        &[
            params.as_entire_binding(),
            a.as_entire_binding(),
            b.as_entire_binding(),
            bias.unwrap_or(&ctx.dummy).as_entire_binding(),
            residual.unwrap_or(&ctx.dummy).as_entire_binding(),
            c.as_entire_binding(),
        ],
        groups,
        label,
    )
}

/// The fused SwiGLU dispatch: `c = act(x·w_gate) ⊙ (x·w_up)` for `m×k` x and `k×n`
/// weights.
#[allow(clippy::too_many_arguments)]
fn swiglu(
    ctx: &GpuContext,
    (m, k, n): (usize, usize, usize),
    act: Activation,
    x: &wgpu::Buffer,
    w_gate: &wgpu::Buffer,
    w_up: &wgpu::Buffer,
    c: &wgpu::Buffer,
    label: &str,
) -> Result<Dispatch> {
    ctx.check_workgroup(256, SWIGLU_SHARED_BYTES, "the fused SwiGLU kernel")?;
    let g = Gemm::plain(m, n, k);
    let groups = grid(ctx, &g, label)?;
    let params = params(ctx, &g, label)?;
    ctx.dispatch(
        &SWIGLU,
        &[("ACT", f64::from(act.wgsl_code()))],
        &[
            params.as_entire_binding(),
            x.as_entire_binding(),
            w_gate.as_entire_binding(),
            ctx.dummy.as_entire_binding(),
            w_up.as_entire_binding(),
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
    let d = gemm(ctx, &Gemm::plain(n, n, n), &a, &b, None, None, &c, &label)?;
    let work = VariantWork {
        variant: Variant::Single,
        chain: Chain::new(vec![d]),
        output: c.clone(),
        len: n * n,
    };
    GpuWork::new(ctx, label, vec![work], vec![a, b, c])
}

/// The inputs of a Linear pattern: x, W (SwiGLU's gate projection), bias, and the residual
/// and up projection of the patterns that read them.
pub(crate) struct LinearInputs<'a> {
    /// Activations, `m×k`.
    pub x: &'a [f32],
    /// Weights, `k×n` (SwiGLU: the gate projection).
    pub w: &'a [f32],
    /// Bias per output feature, `n`.
    pub bias: &'a [f32],
    /// The residual, `m×n` (`Linear_Bias_Add`).
    pub residual: Option<&'a [f32]>,
    /// The up projection, `k×n` (SwiGLU).
    pub w_up: Option<&'a [f32]>,
}

/// One Linear pattern at one shape.
pub(crate) fn prepare_linear<'a>(
    ctx: &'a GpuContext,
    pattern: Pattern,
    shape: Shape,
    inputs: LinearInputs<'_>,
    label: String,
) -> Result<GpuWork<'a>> {
    let Shape::Linear { m, k, n } = shape else {
        return Err(crate::Error::usage(format!("{label}: not a linear shape")));
    };
    check_operators(
        pattern,
        "the GPU linear kernels",
        &[Op::Linear, Op::Bias, Op::Add, Op::Mul],
        Activations::Any,
    )?;
    let e = pattern.epilogue();
    let len = m * n;
    let x = upload(ctx, inputs.x, "input x", &label)?;
    let w = upload(ctx, inputs.w, "weights W", &label)?;
    let bias = upload(ctx, inputs.bias, "bias", &label)?;
    let residual = upload_if(
        ctx,
        e.residual,
        inputs.residual,
        "residual",
        pattern,
        &label,
    )?;
    let w_up = upload_if(
        ctx,
        e.gate,
        inputs.w_up,
        "up projection W_up",
        pattern,
        &label,
    )?;
    let unfused_out = storage(ctx, len as u64, "unfused output", &label)?;
    let fused_out = storage(ctx, len as u64, "fused output", &label)?;
    // The unfused up product (SwiGLU's second Linear) lands here before the multiply.
    let scratch = if e.gate {
        Some(storage(ctx, len as u64, "up product", &label)?)
    } else {
        None
    };

    let plain = Gemm::plain(m, n, k);
    let mut unfused = Vec::new();
    let mut linears = 0;
    for op in pattern.operators() {
        unfused.push(match (op, op.activation()) {
            (_, Some(act)) => elementwise::activation(ctx, &unfused_out, len, act, &label)?,
            (Op::Bias, _) => elementwise::bias_cols(ctx, &unfused_out, len, &bias, n, &label)?,
            (Op::Add, _) => {
                let r = needed_buffer(&residual, pattern, "residual")?;
                elementwise::add(ctx, &unfused_out, len, r, &label)?
            }
            (Op::Mul, _) => {
                let up = needed_buffer(&scratch, pattern, "up product")?;
                elementwise::mul(ctx, &unfused_out, len, up, &label)?
            }
            // Op::Linear (checked above that there is nothing else): the first one is x·W
            // into the output, a second one (SwiGLU's) is x·W_up into the scratch tensor.
            _ => {
                linears += 1;
                if linears == 1 {
                    gemm(ctx, &plain, &x, &w, None, None, &unfused_out, &label)?
                } else {
                    let up = needed_buffer(&w_up, pattern, "up projection")?;
                    let out = needed_buffer(&scratch, pattern, "up product")?;
                    gemm(ctx, &plain, &x, up, None, None, out, &label)?
                }
            }
        });
    }
    let fused = if e.gate {
        let up = needed_buffer(&w_up, pattern, "up projection")?;
        swiglu(ctx, (m, k, n), e.activation, &x, &w, up, &fused_out, &label)?
    } else {
        let fused_gemm = Gemm {
            bias: if e.bias { Bias::PerColumn } else { Bias::None },
            act: e.activation,
            ..plain
        };
        gemm(
            ctx,
            &fused_gemm,
            &x,
            &w,
            Some(&bias),
            residual.as_ref(),
            &fused_out,
            &label,
        )?
    };
    let works = VariantWork::pattern_pair(unfused, &unfused_out, vec![fused], &fused_out, len);
    let mut buffers = vec![x, w, bias, unfused_out, fused_out];
    buffers.extend(residual.into_iter().chain(w_up).chain(scratch));
    GpuWork::new(ctx, label, works, buffers)
}
