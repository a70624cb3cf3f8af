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

pattern_table! {
    /// `x·W + b`.
    LinearBias => PatternSpec::new("Linear_Bias", Family::Linear, LINEAR_BIAS, "x·W + b"),
    /// `relu(x·W + b)`.
    LinearBiasRelu => PatternSpec::new(
        "Linear_Bias_ReLU", Family::Linear, LINEAR_BIAS_RELU, "relu(x·W + b)"),
    /// `gelu(x·W + b)`.
    LinearBiasGelu => PatternSpec::new(
        "Linear_Bias_GELU", Family::Linear, LINEAR_BIAS_GELU, "gelu(x·W + b)"),
    /// `relu(conv(x, W) + b)`.
    Conv2dRelu => PatternSpec::new("Conv2d_ReLU", Family::Conv, CONV_RELU, "relu(conv(x, W) + b)"),
    /// `bn(conv(x, W))`.
    Conv2dBn => PatternSpec::new("Conv2d_BN", Family::Conv, CONV_BN, "bn(conv(x, W))"),
    /// `relu(bn(conv(x, W)))`.
    Conv2dBnRelu => PatternSpec::new(
        "Conv2d_BN_ReLU", Family::Conv, CONV_BN_RELU, "relu(bn(conv(x, W)))"),
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
