//! The pattern table: one row per fusion pattern, and the [`Pattern`] names generated from it.
//!
//! Adding a pattern of an existing family is one row here plus its kernels: the name, family,
//! operators and formula are written once; the epilogue, inputs and FLOP/byte formulas follow
//! from the operators (`spec.rs`, `formulas.rs`); calibration, profiles, reports and the cost
//! model read the row.

use super::op::Op::{self, *};
use super::spec::PatternSpec;
use super::Family;

/// Defines [`Pattern`] (one variant per row, in calibration order), [`Pattern::ALL`] and the
/// rows, so a variant and its row cannot drift apart.
macro_rules! pattern_table {
    ($( $(#[$doc:meta])* $variant:ident => $row:expr, )*) => {
        /// One of the canonical fusion patterns: a row of the pattern table
        /// ([`Pattern::spec`]).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Pattern {
            $( $(#[$doc])* $variant, )*
        }

        impl Pattern {
            /// Every pattern, in calibration order (the table's order).
            pub const ALL: [Pattern; ROWS.len()] = [$( Pattern::$variant, )*];
        }

        /// The rows, indexed by `Pattern as usize`.
        const ROWS: &[PatternSpec] = &[$( $row, )*];
    };
}

const LINEAR_BIAS: &[Op] = &[Linear, Bias];
const LINEAR_BIAS_RELU: &[Op] = &[Linear, Bias, Relu];
const LINEAR_BIAS_GELU: &[Op] = &[Linear, Bias, Gelu];
const CONV_RELU: &[Op] = &[Conv2d, Relu];
const CONV_BN: &[Op] = &[Conv2d, BatchNorm];
const CONV_BN_RELU: &[Op] = &[Conv2d, BatchNorm, Relu];
const SCORES: &[Op] = &[MatMul, Scale];
const SCORES_SOFTMAX: &[Op] = &[MatMul, Scale, Softmax];
const ATTENTION: &[Op] = &[MatMul, Scale, Softmax, MatMul];
const LINEAR_BIAS_ADD: &[Op] = &[Linear, Bias, Add];
const LINEAR_SWIGLU: &[Op] = &[Linear, Silu, Linear, Mul];
const CONV_BN_SILU: &[Op] = &[Conv2d, BatchNorm, Silu];
const CONV_BN_RELU6: &[Op] = &[Conv2d, BatchNorm, Relu6];
const CONV_BN_ADD_RELU: &[Op] = &[Conv2d, BatchNorm, Add, Relu];
const CAUSAL_ATTENTION: &[Op] = &[MatMul, Scale, CausalMask, Softmax, MatMul];
const ADD_LAYERNORM: &[Op] = &[Add, LayerNorm];
const ADD_RMSNORM: &[Op] = &[Add, RmsNorm];
const DEPTHWISE_BN_RELU: &[Op] = &[DepthwiseConv2d, BatchNorm, Relu];
const DEPTHWISE_BN_RELU6: &[Op] = &[DepthwiseConv2d, BatchNorm, Relu6];

pattern_table! {
    /// `x·W + b`.
    LinearBias => PatternSpec::new("Linear_Bias", Family::Linear, LINEAR_BIAS, "x·W + b"),
    /// `relu(x·W + b)`.
    LinearBiasRelu => PatternSpec::new(
        "Linear_Bias_ReLU", Family::Linear, LINEAR_BIAS_RELU, "relu(x·W + b)"),
    /// `gelu(x·W + b)`.
    LinearBiasGelu => PatternSpec::new(
        "Linear_Bias_GELU", Family::Linear, LINEAR_BIAS_GELU, "gelu(x·W + b)"),
    /// `x·W + b + r` (attention output or FFN down projection plus the residual).
    LinearBiasAdd => PatternSpec::new(
        "Linear_Bias_Add", Family::Linear, LINEAR_BIAS_ADD, "x·W + b + r"),
    /// `silu(x·W_gate) ⊙ (x·W_up)` (LLaMA-style gated MLP).
    LinearSwiglu => PatternSpec::new(
        "Linear_SwiGLU", Family::Linear, LINEAR_SWIGLU, "silu(x·W_gate) ⊙ (x·W_up)"),
    /// `relu(conv(x, W) + b)`.
    Conv2dRelu => PatternSpec::new("Conv2d_ReLU", Family::Conv, CONV_RELU, "relu(conv(x, W) + b)"),
    /// `bn(conv(x, W))`.
    Conv2dBn => PatternSpec::new("Conv2d_BN", Family::Conv, CONV_BN, "bn(conv(x, W))"),
    /// `relu(bn(conv(x, W)))`.
    Conv2dBnRelu => PatternSpec::new(
        "Conv2d_BN_ReLU", Family::Conv, CONV_BN_RELU, "relu(bn(conv(x, W)))"),
    /// `silu(bn(conv(x, W)))` (YOLO, EfficientNet).
    Conv2dBnSilu => PatternSpec::new(
        "Conv2d_BN_SiLU", Family::Conv, CONV_BN_SILU, "silu(bn(conv(x, W)))"),
    /// `relu6(bn(conv(x, W)))` (MobileNetV2's 1×1 expansion).
    Conv2dBnRelu6 => PatternSpec::new(
        "Conv2d_BN_ReLU6", Family::Conv, CONV_BN_RELU6, "relu6(bn(conv(x, W)))"),
    /// `relu(bn(conv(x, W)) + r)` (the ResNet block's tail).
    Conv2dBnAddRelu => PatternSpec::new(
        "Conv2d_BN_Add_ReLU", Family::Conv, CONV_BN_ADD_RELU, "relu(bn(conv(x, W)) + r)"),
    /// `Q·Kᵀ / sqrt(D)`.
    QkAttentionScores => PatternSpec::new(
        "QK_AttentionScores", Family::Attention, SCORES, "Q·Kᵀ / sqrt(D)")
        .with_original_unfused(|s| 2 * s.bsd + 3 * s.bss),
    /// `softmax(Q·Kᵀ / sqrt(D))`.
    QkSoftmax => PatternSpec::new(
        "QK_Softmax", Family::Attention, SCORES_SOFTMAX, "softmax(Q·Kᵀ / sqrt(D))")
        .with_original_unfused(|s| 2 * s.bsd + 4 * s.bss),
    /// `softmax(Q·Kᵀ / sqrt(D))·V`.
    FullAttention => PatternSpec::new(
        "FullAttention", Family::Attention, ATTENTION, "softmax(Q·Kᵀ / sqrt(D))·V")
        .with_original_unfused(|s| 4 * s.bsd + 3 * s.bss),
    /// `softmax(mask(Q·Kᵀ / sqrt(D)))·V`, keys after the query masked (decoders).
    FullAttentionCausal => PatternSpec::new(
        "FullAttention_Causal", Family::Attention, CAUSAL_ATTENTION,
        "softmax(mask(Q·Kᵀ / sqrt(D)))·V"),
    /// `layernorm(x + r)` over the last axis (post-LN transformers).
    AddLayerNorm => PatternSpec::new(
        "Add_LayerNorm", Family::Norm, ADD_LAYERNORM, "layernorm(x + r)·γ + β"),
    /// `rmsnorm(x + r)` over the last axis, and the sum `x + r` (pre-norm LLMs carry it on).
    AddRmsNorm => PatternSpec::new(
        "Add_RMSNorm", Family::Norm, ADD_RMSNORM, "rmsnorm(x + r)·γ, and x + r")
        .returning_sum(),
    /// `relu(bn(depthwise_conv(x, W)))` (3×3, groups = channels: MobileNet).
    DepthwiseConv2dBnRelu => PatternSpec::new(
        "DepthwiseConv2d_BN_ReLU", Family::Depthwise, DEPTHWISE_BN_RELU,
        "relu(bn(dwconv(x, W)))"),
    /// `relu6(bn(depthwise_conv(x, W)))` (MobileNetV2).
    DepthwiseConv2dBnRelu6 => PatternSpec::new(
        "DepthwiseConv2d_BN_ReLU6", Family::Depthwise, DEPTHWISE_BN_RELU6,
        "relu6(bn(dwconv(x, W)))"),
}

impl Pattern {
    /// This pattern's row of the table.
    pub fn spec(self) -> &'static PatternSpec {
        &ROWS[self as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::super::op::Activation;
    use super::super::spec::Epilogue;
    use super::*;

    #[test]
    fn epilogues_follow_from_the_operators() {
        let e = Pattern::LinearBiasGelu.spec().epilogue;
        assert!(e.bias && !e.batch_norm && e.activation == Activation::Gelu);
        let conv = Pattern::Conv2dRelu.spec().epilogue;
        assert!(
            conv.bias && conv.activation == Activation::Relu,
            "conv owns its bias"
        );
        let bn = Pattern::Conv2dBn.spec().epilogue;
        assert!(bn.batch_norm && !bn.bias && bn.activation == Activation::Identity);
        let full = Pattern::FullAttention.spec().epilogue;
        assert!(full.scale && full.softmax && full.value_matmul && !full.bias);
        assert_eq!(
            Pattern::QkAttentionScores.spec().epilogue,
            Epilogue {
                scale: true,
                ..Epilogue::NONE
            }
        );
        assert_eq!(Pattern::FullAttention.spec().inputs(), ["Q", "K", "V"]);
        assert_eq!(Pattern::Conv2dRelu.spec().inputs(), ["x", "W", "bias"]);
    }

    #[test]
    fn new_rows_derive_their_epilogues_and_inputs() {
        let add = Pattern::LinearBiasAdd.spec();
        assert!(add.epilogue.bias && add.epilogue.residual);
        assert_eq!(add.inputs(), ["x", "W", "bias", "residual"]);
        let glu = Pattern::LinearSwiglu.spec();
        assert!(glu.epilogue.gate && !glu.epilogue.bias);
        assert_eq!(glu.epilogue.activation, Activation::Silu);
        assert_eq!(glu.inputs(), ["x", "W_gate", "W_up"]);
        let tail = Pattern::Conv2dBnAddRelu.spec().epilogue;
        assert!(tail.batch_norm && tail.residual && !tail.bias);
        assert_eq!(tail.activation, Activation::Relu);
        let causal = Pattern::FullAttentionCausal.spec().epilogue;
        assert!(causal.causal && causal.softmax && causal.value_matmul && causal.scale);
        let ln = Pattern::AddLayerNorm.spec();
        assert_eq!(ln.epilogue.norm, Some(super::super::Norm::Layer));
        assert!(ln.epilogue.residual && !ln.epilogue.writes_sum);
        assert_eq!(ln.inputs(), ["x", "residual", "gamma", "beta"]);
        let rms = Pattern::AddRmsNorm.spec();
        assert!(rms.epilogue.writes_sum);
        assert_eq!(rms.inputs(), ["x", "residual", "gamma"]);
        let dw = Pattern::DepthwiseConv2dBnRelu6.spec();
        assert_eq!(dw.epilogue.activation, Activation::Relu6);
        assert!(dw.epilogue.batch_norm && !dw.epilogue.bias);
        assert_eq!(dw.family, Family::Depthwise);
    }

    /// docs/patterns.md lists every row with its family, operators and formula.
    #[test]
    fn docs_list_every_row() {
        let docs = include_str!("../../docs/patterns.md");
        for p in Pattern::ALL {
            let s = p.spec();
            let ops: Vec<&str> = s.operators.iter().map(|o| o.name()).collect();
            let row = format!(
                "| `{}` | {} | {} | `{}` |",
                s.name,
                s.family.name(),
                ops.join(", "),
                s.formula
            );
            assert!(docs.contains(&row), "docs/patterns.md lacks the row {row}");
        }
    }

    #[test]
    fn rows_are_in_variant_order_with_distinct_names() {
        for (i, p) in Pattern::ALL.into_iter().enumerate() {
            assert_eq!(p as usize, i);
            assert!(Pattern::ALL[..i].iter().all(|q| q.name() != p.name()));
        }
    }
}
