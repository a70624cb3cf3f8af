//! Fusion patterns: the one identity every part of hwcal keys on.
//!
//! A [`Pattern`] (`Linear_Bias_ReLU`, `Conv2d_BN`, `FullAttention`, …) knows its operators, the
//! shapes each preset measures, its FLOP and byte formulas (those of the Python original, so
//! profiles stay comparable), its f64 reference and its tolerance. The CPU kernels, the GPU
//! shaders, the calibration loop, the reports and the cost model all use these definitions.

mod formulas;
mod reference;
mod shape;
mod sweep;

pub use reference::{gelu_f64, verification_rows, BatchNorm, Inputs, Reference};
pub use shape::{conv_out, ConvDims, Preset, Shape};
pub use sweep::{interleaved, sweep_points, SweepPoint};

use crate::{Error, Result};

/// Operator family: patterns of one family share inputs and the underlying kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// Matmul with bias and activation epilogues.
    Linear,
    /// 3x3 convolution with batch-norm and ReLU.
    Conv,
    /// Scaled dot-product attention pieces.
    Attention,
}

impl Family {
    /// All families in calibration order.
    pub const ALL: [Family; 3] = [Family::Linear, Family::Conv, Family::Attention];

    /// Name used by `--fusion-patterns` (`linear`, `conv`, `attention`).
    pub fn name(self) -> &'static str {
        match self {
            Family::Linear => "linear",
            Family::Conv => "conv",
            Family::Attention => "attention",
        }
    }

    /// The patterns of this family, in calibration order.
    pub fn patterns(self) -> impl Iterator<Item = Pattern> {
        Pattern::ALL.into_iter().filter(move |p| p.family() == self)
    }
}

/// Activation applied at the end of a pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    /// None.
    Identity,
    /// max(x, 0).
    Relu,
    /// GELU, tanh approximation.
    Gelu,
}

/// One of the nine canonical fusion patterns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pattern {
    /// `x·W + b`.
    LinearBias,
    /// `relu(x·W + b)`.
    LinearBiasRelu,
    /// `gelu(x·W + b)`.
    LinearBiasGelu,
    /// `relu(conv(x, W) + b)`.
    Conv2dRelu,
    /// `bn(conv(x, W))`.
    Conv2dBn,
    /// `relu(bn(conv(x, W)))`.
    Conv2dBnRelu,
    /// `Q·Kᵀ / sqrt(D)`.
    QkAttentionScores,
    /// `softmax(Q·Kᵀ / sqrt(D))`.
    QkSoftmax,
    /// `softmax(Q·Kᵀ / sqrt(D))·V`.
    FullAttention,
}

impl Pattern {
    /// Every pattern, in calibration order.
    pub const ALL: [Pattern; 9] = [
        Pattern::LinearBias,
        Pattern::LinearBiasRelu,
        Pattern::LinearBiasGelu,
        Pattern::Conv2dRelu,
        Pattern::Conv2dBn,
        Pattern::Conv2dBnRelu,
        Pattern::QkAttentionScores,
        Pattern::QkSoftmax,
        Pattern::FullAttention,
    ];

    /// Canonical name, as written in profiles (`Linear_Bias_ReLU`).
    pub fn name(self) -> &'static str {
        match self {
            Pattern::LinearBias => "Linear_Bias",
            Pattern::LinearBiasRelu => "Linear_Bias_ReLU",
            Pattern::LinearBiasGelu => "Linear_Bias_GELU",
            Pattern::Conv2dRelu => "Conv2d_ReLU",
            Pattern::Conv2dBn => "Conv2d_BN",
            Pattern::Conv2dBnRelu => "Conv2d_BN_ReLU",
            Pattern::QkAttentionScores => "QK_AttentionScores",
            Pattern::QkSoftmax => "QK_Softmax",
            Pattern::FullAttention => "FullAttention",
        }
    }

    /// Looks a pattern up by its canonical name (exact match).
    pub fn from_name(name: &str) -> Option<Pattern> {
        Pattern::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The family this pattern belongs to.
    pub fn family(self) -> Family {
        match self {
            Pattern::LinearBias | Pattern::LinearBiasRelu | Pattern::LinearBiasGelu => {
                Family::Linear
            }
            Pattern::Conv2dRelu | Pattern::Conv2dBn | Pattern::Conv2dBnRelu => Family::Conv,
            Pattern::QkAttentionScores | Pattern::QkSoftmax | Pattern::FullAttention => {
                Family::Attention
            }
        }
    }

    /// The operators the unfused variant runs as separate kernels, in order.
    pub fn operators(self) -> &'static [&'static str] {
        match self {
            Pattern::LinearBias => &["Linear", "Bias"],
            Pattern::LinearBiasRelu => &["Linear", "Bias", "ReLU"],
            Pattern::LinearBiasGelu => &["Linear", "Bias", "GELU"],
            Pattern::Conv2dRelu => &["Conv2d", "ReLU"],
            Pattern::Conv2dBn => &["Conv2d", "BN"],
            Pattern::Conv2dBnRelu => &["Conv2d", "BN", "ReLU"],
            Pattern::QkAttentionScores => &["MatMul", "Scale"],
            Pattern::QkSoftmax => &["MatMul", "Scale", "Softmax"],
            Pattern::FullAttention => &["MatMul", "Scale", "Softmax", "MatMul"],
        }
    }

    /// The activation at the end of the pattern (linear and conv families).
    pub fn activation(self) -> Act {
        match self {
            Pattern::LinearBiasRelu | Pattern::Conv2dRelu | Pattern::Conv2dBnRelu => Act::Relu,
            Pattern::LinearBiasGelu => Act::Gelu,
            _ => Act::Identity,
        }
    }

    /// Whether the conv pattern has a batch-norm (folded into the weights when fused).
    pub fn has_batch_norm(self) -> bool {
        matches!(self, Pattern::Conv2dBn | Pattern::Conv2dBnRelu)
    }

    /// Shapes measured by `preset`, smallest first.
    pub fn shapes(self, preset: Preset) -> Vec<Shape> {
        shape::preset_shapes(self.family(), preset)
    }

    /// Floating-point operations of one execution (the original's formula).
    pub fn flops(self, shape: &Shape) -> u64 {
        formulas::flops(self, shape)
    }

    /// Bytes moved by the unfused chain (the original's formula, fp32).
    pub fn unfused_bytes(self, shape: &Shape) -> u64 {
        formulas::unfused_bytes(self, shape)
    }

    /// Bytes moved by the fused kernel (the original's formula, fp32).
    pub fn fused_bytes(self, shape: &Shape) -> u64 {
        formulas::fused_bytes(self, shape)
    }

    /// Checks that `shape` belongs to this pattern's family.
    pub fn check_shape(self, shape: &Shape) -> Result<()> {
        if shape.family() == self.family() {
            Ok(())
        } else {
            Err(Error::usage(format!(
                "pattern {} takes a {} shape, got {}",
                self.name(),
                self.family().name(),
                shape.label()
            )))
        }
    }
}

/// Parses `--fusion-patterns`: comma-separated families (`linear`, `conv`, `attention`, `all`)
/// and/or canonical pattern names. Returns patterns in calibration order, without duplicates.
pub fn parse_pattern_list(spec: &str) -> Result<Vec<Pattern>> {
    let mut chosen = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let lower = item.to_ascii_lowercase();
        if lower == "all" {
            chosen.extend(Pattern::ALL);
        } else if let Some(f) = Family::ALL.into_iter().find(|f| f.name() == lower) {
            chosen.extend(f.patterns());
        } else if let Some(p) = Pattern::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(item))
        {
            chosen.push(p);
        } else {
            let names: Vec<&str> = Pattern::ALL.iter().map(|p| p.name()).collect();
            return Err(Error::usage(format!(
                "unknown fusion pattern `{item}`: use linear, conv, attention, all or one of {}",
                names.join(", ")
            )));
        }
    }
    if chosen.is_empty() {
        return Err(Error::usage(
            "--fusion-patterns is empty: use linear, conv, attention or all",
        ));
    }
    chosen.sort();
    chosen.dedup();
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Pattern::ALL {
            assert_eq!(Pattern::from_name(p.name()), Some(p));
        }
    }

    #[test]
    fn pattern_lists_expand_families_and_reject_unknown_names() {
        assert_eq!(parse_pattern_list("all").unwrap().len(), 9);
        assert_eq!(
            parse_pattern_list("conv, linear").unwrap()[0],
            Pattern::LinearBias
        );
        assert_eq!(
            parse_pattern_list("FullAttention,attention").unwrap().len(),
            3
        );
        let err = parse_pattern_list("linear,Conv_BN_Sigmoid").unwrap_err();
        assert!(err.to_string().contains("Conv_BN_Sigmoid"), "{err}");
        assert!(parse_pattern_list(" , ").is_err());
    }
}
