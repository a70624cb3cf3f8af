//! What a pattern row says: [`PatternSpec`] and the [`Epilogue`] derived from its operators.
//!
//! The rows themselves are in `table.rs`, one per pattern. Everything about a pattern that
//! the rest of hwcal needs is read from its row: the name profiles use, the family (inputs,
//! shapes, kernels), the operators the unfused chain runs, the epilogue the fused kernel
//! applies, the inputs it reads, and the FLOP and byte formulas (derived from the operators in
//! `formulas.rs`, where the Python original's formulas allow).

use super::op::{Activation, Op};
use super::Family;

/// One row of the pattern table.
#[derive(Clone, Copy, Debug)]
pub struct PatternSpec {
    /// Canonical name, as written in profiles (`Linear_Bias_ReLU`).
    pub name: &'static str,
    /// The family: inputs, shapes and kernels shared with its other patterns.
    pub family: Family,
    /// The operators the unfused variant runs as separate kernels, in order.
    pub operators: &'static [Op],
    /// What the pattern computes, as a formula (`relu(x·W + b)`).
    pub formula: &'static str,
    /// What the fused kernel applies after (or around) its main operator.
    pub epilogue: Epilogue,
    /// How the unfused chain's bytes are counted.
    pub unfused_bytes: UnfusedBytes,
}

impl PatternSpec {
    /// A row whose epilogue and byte counts are derived from `operators`.
    pub const fn new(
        name: &'static str,
        family: Family,
        operators: &'static [Op],
        formula: &'static str,
    ) -> PatternSpec {
        PatternSpec {
            name,
            family,
            operators,
            formula,
            epilogue: Epilogue::of(family, operators),
            unfused_bytes: UnfusedBytes::PerOperator,
        }
    }

    /// The same row whose kernels also write the sum their normalization reads (a pre-norm
    /// transformer carries `x + r` on as the residual stream): the output is the normalized
    /// rows followed by the sums.
    pub const fn returning_sum(self) -> Self {
        let mut epilogue = self.epilogue;
        epilogue.writes_sum = true;
        PatternSpec { epilogue, ..self }
    }

    /// The same row with the Python original's own count of unfused elements (times 4 bytes),
    /// where it does not follow from the operators.
    pub const fn with_original_unfused(self, elements: fn(&super::shape::Sizes) -> u64) -> Self {
        PatternSpec {
            unfused_bytes: UnfusedBytes::Original(elements),
            ..self
        }
    }

    /// Names of the tensors the pattern reads, in the order the family's inputs hold them
    /// (`x`, `W`, `bias`; `Q`, `K`, `V`): what both variants take from outside.
    pub fn inputs(&self) -> Vec<&'static str> {
        let e = &self.epilogue;
        const BN: [&str; 4] = ["bn.gamma", "bn.beta", "bn.mean", "bn.var"];
        let mut v = match self.family {
            Family::Linear if e.gate => vec!["x", "W_gate", "W_up"],
            Family::Linear | Family::Conv | Family::Depthwise => vec!["x", "W"],
            Family::Attention if e.value_matmul => vec!["Q", "K", "V"],
            Family::Attention => vec!["Q", "K"],
            Family::Norm => vec!["x", "residual", "gamma"],
        };
        match self.family {
            Family::Conv | Family::Depthwise if e.batch_norm => v.extend(BN),
            Family::Linear | Family::Conv | Family::Depthwise if e.bias => v.push("bias"),
            Family::Norm if e.norm == Some(Norm::Layer) => v.push("beta"),
            _ => {}
        }
        if e.residual && self.family != Family::Norm {
            v.push("residual");
        }
        v
    }
}

/// How a row's unfused bytes are counted.
#[derive(Clone, Copy, Debug)]
pub enum UnfusedBytes {
    /// Each operator reads its inputs and writes its output once (see `formulas.rs`).
    PerOperator,
    /// The Python original's count of f32 elements, kept where it differs (attention), so
    /// profiles stay comparable.
    Original(fn(&super::shape::Sizes) -> u64),
}

/// What a pattern's fused kernel does besides its main operator, derived from the operators
/// ([`Epilogue::of`]). Backends build the fused kernel from it; the unfused chain walks the
/// operators instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Epilogue {
    /// Multiply the product by `1/sqrt(D)` (the GEMM's alpha).
    pub scale: bool,
    /// Add a bias per output feature (linear) or per output channel (conv, whose operator
    /// owns its bias unless a batch-norm follows).
    pub bias: bool,
    /// Batch-norm folded into the filters and a per-channel shift when the work is prepared.
    pub batch_norm: bool,
    /// The activation applied last.
    pub activation: Activation,
    /// Softmax over each row of scores.
    pub softmax: bool,
    /// The probabilities multiplied by `V` (attention output): the scores never reach memory.
    pub value_matmul: bool,
    /// Add a second input of the output's shape (a residual) before the activation or the
    /// normalization.
    pub residual: bool,
    /// The activated first product times a second product of the same input (SwiGLU:
    /// `silu(x·W_gate) ⊙ (x·W_up)`): both GEMMs in one pass, the gate applied in the epilogue.
    pub gate: bool,
    /// Normalize each row over the last axis.
    pub norm: Option<Norm>,
    /// Also write the sum the normalization reads (see [`PatternSpec::returning_sum`]).
    pub writes_sum: bool,
    /// Mask the scores of keys after the query (causal attention); the fused kernel skips
    /// the blocks that are masked entirely.
    pub causal: bool,
}

/// The normalization of a norm pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Norm {
    /// `(s − mean) / sqrt(var + ε) · γ + β` (biased variance).
    Layer,
    /// `s / sqrt(mean(s²) + ε) · γ`.
    Rms,
}

impl Epilogue {
    /// Nothing besides the main operator.
    pub const NONE: Epilogue = Epilogue {
        scale: false,
        bias: false,
        batch_norm: false,
        activation: Activation::Identity,
        softmax: false,
        value_matmul: false,
        residual: false,
        gate: false,
        norm: None,
        writes_sum: false,
        causal: false,
    };

    /// The epilogue a chain of `operators` of `family` fuses: a bias, batch-norm, activation,
    /// scale, softmax, add (residual), mul (gate), norm or mask operator turns its part on; a
    /// `MatMul` after the first operator is the product with `V`; a convolution (plain or
    /// depthwise) without batch-norm has its own bias.
    pub const fn of(family: Family, operators: &[Op]) -> Epilogue {
        let mut e = Epilogue::NONE;
        let mut i = 0;
        while i < operators.len() {
            match operators[i] {
                Op::Bias => e.bias = true,
                Op::BatchNorm => e.batch_norm = true,
                Op::Relu => e.activation = Activation::Relu,
                Op::Gelu => e.activation = Activation::Gelu,
                Op::Relu6 => e.activation = Activation::Relu6,
                Op::Silu => e.activation = Activation::Silu,
                Op::Scale => e.scale = true,
                Op::Softmax => e.softmax = true,
                Op::MatMul if i > 0 => e.value_matmul = true,
                Op::Add => e.residual = true,
                Op::Mul => e.gate = true,
                Op::LayerNorm => e.norm = Some(Norm::Layer),
                Op::RmsNorm => e.norm = Some(Norm::Rms),
                Op::CausalMask => e.causal = true,
                Op::Linear | Op::Conv2d | Op::DepthwiseConv2d | Op::MatMul => {}
            }
            i += 1;
        }
        if matches!(family, Family::Conv | Family::Depthwise) && !e.batch_norm {
            e.bias = true;
        }
        e
    }
}
