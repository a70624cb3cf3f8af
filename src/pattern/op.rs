//! Typed operators and the activation: the vocabulary pattern rows are written in.
//!
//! A pattern's unfused chain is a list of [`Op`]s (`[Linear, Bias, ReLU]`), and its fused
//! kernel's epilogue is derived from the same list (see [`super::spec`]). The cost model maps
//! framework operator names onto these (`crate::cost_model::names`), and every backend walks
//! them to build its unfused chain. [`Activation`] is the one activation type of hwcal: the
//! f64 reference, the CPU kernels (`crate::backend::cpu::activation`) and the WGSL `ACT`
//! override constant ([`Activation::wgsl_code`]) all take it.

/// A canonical operator: one kernel of a pattern's unfused chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Matmul with a weight matrix (`x·W`).
    Linear,
    /// Bias addition (per output feature of a linear layer).
    Bias,
    /// ReLU.
    Relu,
    /// GELU (tanh approximation).
    Gelu,
    /// 2-D convolution (with its bias unless a batch-norm follows).
    Conv2d,
    /// Batch normalization (inference form, a per-channel affine map).
    BatchNorm,
    /// Matmul of two activations (attention `Q·Kᵀ`, `P·V`).
    MatMul,
    /// Multiplication by a constant (the attention `1/sqrt(D)`).
    Scale,
    /// Softmax over the last axis.
    Softmax,
    /// ReLU6, `min(max(x, 0), 6)` (MobileNet).
    Relu6,
    /// SiLU (swish), `x·sigmoid(x)`.
    Silu,
    /// Elementwise addition of a second tensor of the output's shape (a residual).
    Add,
    /// Elementwise multiplication by a second tensor (the SwiGLU gate times the up
    /// projection).
    Mul,
    /// Layer normalization over the last axis, with a learned scale and shift.
    LayerNorm,
    /// RMS normalization over the last axis, with a learned scale.
    RmsNorm,
    /// Depthwise 2-D convolution (groups = channels), with its bias unless a batch-norm
    /// follows.
    DepthwiseConv2d,
    /// The causal mask of attention scores: key `j` is hidden from query `i < j`.
    CausalMask,
}

impl Op {
    /// Every operator.
    pub const ALL: [Op; 17] = [
        Op::Linear,
        Op::Bias,
        Op::Relu,
        Op::Gelu,
        Op::Conv2d,
        Op::BatchNorm,
        Op::MatMul,
        Op::Scale,
        Op::Softmax,
        Op::Relu6,
        Op::Silu,
        Op::Add,
        Op::Mul,
        Op::LayerNorm,
        Op::RmsNorm,
        Op::DepthwiseConv2d,
        Op::CausalMask,
    ];

    /// The name written in profiles' `operators` lists (`Linear`, `BN`, `ReLU`).
    pub const fn name(self) -> &'static str {
        match self {
            Op::Linear => "Linear",
            Op::Bias => "Bias",
            Op::Relu => "ReLU",
            Op::Gelu => "GELU",
            Op::Conv2d => "Conv2d",
            Op::BatchNorm => "BN",
            Op::MatMul => "MatMul",
            Op::Scale => "Scale",
            Op::Softmax => "Softmax",
            Op::Relu6 => "ReLU6",
            Op::Silu => "SiLU",
            Op::Add => "Add",
            Op::Mul => "Mul",
            Op::LayerNorm => "LayerNorm",
            Op::RmsNorm => "RMSNorm",
            Op::DepthwiseConv2d => "DepthwiseConv2d",
            Op::CausalMask => "CausalMask",
        }
    }

    /// The activation this operator is, if it is one.
    pub const fn activation(self) -> Option<Activation> {
        match self {
            Op::Relu => Some(Activation::Relu),
            Op::Gelu => Some(Activation::Gelu),
            Op::Relu6 => Some(Activation::Relu6),
            Op::Silu => Some(Activation::Silu),
            _ => None,
        }
    }
}

impl std::fmt::Display for Op {
    /// The profile name ([`Op::name`]).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Elementwise activation: the end of a pattern, applied by a fused kernel's epilogue or by an
/// unfused activation pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    /// `f(x) = x`.
    Identity,
    /// `f(x) = max(x, 0)`.
    Relu,
    /// `f(x) = 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³)))` (tanh approximation of GELU).
    Gelu,
    /// `f(x) = min(max(x, 0), 6)`.
    Relu6,
    /// `f(x) = x / (1 + e^(−x))` (SiLU, swish).
    Silu,
}

impl Activation {
    /// The value of the WGSL override constant `ACT` selecting this activation in
    /// `shaders/common.wgsl` (0 identity, 1 ReLU, 2 GELU, 3 ReLU6, 4 SiLU).
    pub const fn wgsl_code(self) -> u32 {
        match self {
            Activation::Identity => 0,
            Activation::Relu => 1,
            Activation::Gelu => 2,
            Activation::Relu6 => 3,
            Activation::Silu => 4,
        }
    }

    /// Every activation.
    pub const ALL: [Activation; 5] = [
        Activation::Identity,
        Activation::Relu,
        Activation::Gelu,
        Activation::Relu6,
        Activation::Silu,
    ];

    /// The activation in f64: what every kernel is verified against. GELU is the tanh form.
    pub fn reference(self, x: f64) -> f64 {
        match self {
            Activation::Identity => x,
            Activation::Relu => x.max(0.0),
            Activation::Gelu => gelu_f64(x),
            Activation::Relu6 => x.clamp(0.0, 6.0),
            Activation::Silu => x / (1.0 + (-x).exp()),
        }
    }
}

/// GELU, tanh approximation, in f64 (the formula every kernel implements).
pub fn gelu_f64(x: f64) -> f64 {
    const C: f64 = 0.797_884_560_802_865_4; // sqrt(2/pi)
    0.5 * x * (1.0 + (C * (x + 0.044715 * x * x * x)).tanh())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_operators_name_their_activation() {
        assert_eq!(Op::Relu.activation(), Some(Activation::Relu));
        assert_eq!(Op::Gelu.activation(), Some(Activation::Gelu));
        assert_eq!(Op::Bias.activation(), None);
        assert_eq!(Op::Silu.activation(), Some(Activation::Silu));
        let codes: Vec<u32> = Activation::ALL.iter().map(|a| a.wgsl_code()).collect();
        assert_eq!(
            codes,
            [0, 1, 2, 3, 4],
            "shaders/common.wgsl reads these codes"
        );
        assert_eq!(Activation::Relu6.reference(7.5), 6.0);
        assert!((Activation::Silu.reference(1.0) - 0.731_058_578_630_004_9).abs() < 1e-15);
    }
}
