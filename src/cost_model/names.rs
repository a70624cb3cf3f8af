//! Operator and pattern names as frameworks write them, mapped to hwcal's canonical patterns.
//!
//! The original partitioner asked for `Conv2d_BatchNorm2d_ReLU` while calibration wrote
//! `Conv2d_BN_ReLU`, so every lookup missed. Here every name goes through one path:
//!
//! 1. An operator name (`nn.Linear`, `aten::relu_`, `aten::_convolution`, `BatchNormalization`,
//!    `scaled_dot_product_attention`, `SimplifiedLayerNormalization`) becomes tokens: module
//!    paths and overload suffixes are dropped (the last `.`/`::` segment that is not an overload
//!    name such as `default` or `int` is kept), case and separators are ignored, and the rest is
//!    split into known aliases (fewest pieces wins, so `addmm` is one operator, `convbnrelu`
//!    three). Most tokens are canonical operators ([`Op`], the vocabulary of
//!    [`Pattern::operators`], defined in [`crate::pattern`]); some stand for several (`sdpa` is
//!    `MatMul, Scale, Softmax, MatMul`; `SkipLayerNormalization` and `FusedAddRMSNorm` are an
//!    add and a norm; `SwiGLU` is `Linear, SiLU, Linear, Mul`), and four depend on their
//!    neighbours (below).
//! 2. The tokens of a chain are resolved in context ([`canonical`] for operators already
//!    canonical):
//!    - a linear layer (`linear`, `Gemm`, `dense`) has a bias unless told otherwise, except
//!      when only its bias-free form makes a pattern (`Linear_SiLU_Linear_Mul`: SwiGLU's
//!      projections have none); `addmm` always has one;
//!    - a bias right after a linear that already has one, or after a convolution (plain or
//!      depthwise: the conv patterns include the conv bias), is absorbed;
//!    - `add` right after a bare `MatMul` is a bias, and the two are a linear layer (ONNX
//!      exports `Linear` as `MatMul` + `Add`); anywhere else it is a residual add (`Add`);
//!    - `mul` after a `MatMul` is attention's scale, after a linear layer it is the SwiGLU
//!      gate product (`Mul`), and after `Sigmoid` the two are SiLU (`x·sigmoid(x)`, as ONNX
//!      exports it); `div` is always a scale; `Sigmoid` without a following `mul` is no pattern
//!      operator;
//!    - a causal mask (`causal`, `CausalMask`) anywhere in an attention chain sits before its
//!      softmax (`sdpa_causal`, `FullAttention_Causal`);
//!    - the attention scale is implied between a `MatMul` and a `Softmax` (or its mask).
//! 3. The result is looked up among [`Pattern::operators`]; no match means no pattern ("no
//!    data" to the cost model, never a default speedup).
//!
//! A pattern name given as one string (`Conv2d_BatchNorm2d_ReLU`, `FullAttention_SDPA`,
//! `nn.Linear+nn.ReLU`) is split on chain separators (`+`, `,`, `->`, `→`, `|`, spaces) into
//! operator names first, and on `_` too when that makes a pattern (`Linear_Bias_Add`, which
//! squashed would read as a linear layer and TensorFlow's `BiasAdd`). A plain convolution is never a depthwise one by name: depthwise
//! needs its own name (`DepthwiseConv2d`, `dwconv`) or, in a graph, `groups` = channels; so
//! `Conv2d_BatchNorm2d_ReLU6` is `Conv2d_BN_ReLU6`, never the depthwise pattern.
//! `Clip(0, 6)` is ReLU6 only where its bounds are known: in a graph (`cost_model::graph`).

pub use crate::pattern::Op;
use crate::pattern::Pattern;

/// What one alias stands for before its neighbours are known (see the module notes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    /// A canonical operator.
    Op(Op),
    /// The bias a linear layer has unless told otherwise, or unless only its bias-free form
    /// makes a pattern.
    ImpliedBias,
    /// `add`: a bias right after a bare matmul, else a residual add.
    Add,
    /// `mul`: a scale after a matmul (or alone), the gate product after a linear layer, SiLU
    /// after a sigmoid.
    Mul,
    /// `sigmoid`: SiLU when a `mul` follows.
    Sigmoid,
}

use Tok::Op as T;

const LINEAR: &[Tok] = &[T(Op::Linear), Tok::ImpliedBias];
const LINEAR_BIAS: &[Tok] = &[T(Op::Linear), T(Op::Bias)];
const ATTENTION: &[Tok] = &[T(Op::MatMul), T(Op::Scale), T(Op::Softmax), T(Op::MatMul)];
const SWIGLU: &[Tok] = &[T(Op::Linear), T(Op::Silu), T(Op::Linear), T(Op::Mul)];
const ADD_LAYERNORM: &[Tok] = &[Tok::Add, T(Op::LayerNorm)];
const ADD_RMSNORM: &[Tok] = &[Tok::Add, T(Op::RmsNorm)];

/// Known operator spellings, lowercase with separators removed, and what they stand for.
const ALIASES: &[(&str, &[Tok])] = &[
    // Linear layers (with bias unless a graph says otherwise; addmm always adds one).
    ("linear", LINEAR),
    ("dense", LINEAR),
    ("fc", LINEAR),
    ("fullyconnected", LINEAR),
    ("innerproduct", LINEAR),
    ("gemm", LINEAR),
    ("addmm", LINEAR_BIAS),
    // Matmuls of two activations.
    ("matmul", &[T(Op::MatMul)]),
    ("mm", &[T(Op::MatMul)]),
    ("bmm", &[T(Op::MatMul)]),
    ("batchmatmul", &[T(Op::MatMul)]),
    ("batchmatmulv2", &[T(Op::MatMul)]),
    // Bias additions, and `add`: a bias after a bare matmul, else a residual.
    ("bias", &[T(Op::Bias)]),
    ("biasadd", &[T(Op::Bias)]),
    ("addbias", &[T(Op::Bias)]),
    ("add", &[Tok::Add]),
    // Convolutions.
    ("conv", &[T(Op::Conv2d)]),
    ("conv2d", &[T(Op::Conv2d)]),
    ("convolution", &[T(Op::Conv2d)]),
    ("cudnnconvolution", &[T(Op::Conv2d)]),
    ("mkldnnconvolution", &[T(Op::Conv2d)]),
    ("depthwiseconv", &[T(Op::DepthwiseConv2d)]),
    ("depthwiseconv2d", &[T(Op::DepthwiseConv2d)]),
    ("depthwiseconv2dnative", &[T(Op::DepthwiseConv2d)]),
    ("dwconv", &[T(Op::DepthwiseConv2d)]),
    ("dwconv2d", &[T(Op::DepthwiseConv2d)]),
    // Batch normalization.
    ("bn", &[T(Op::BatchNorm)]),
    ("batchnorm", &[T(Op::BatchNorm)]),
    ("batchnorm2d", &[T(Op::BatchNorm)]),
    ("batchnormalization", &[T(Op::BatchNorm)]),
    ("nativebatchnorm", &[T(Op::BatchNorm)]),
    ("nativebatchnormlegit", &[T(Op::BatchNorm)]),
    ("nativebatchnormlegitnotraining", &[T(Op::BatchNorm)]),
    ("cudnnbatchnorm", &[T(Op::BatchNorm)]),
    ("fusedbatchnorm", &[T(Op::BatchNorm)]),
    ("fusedbatchnormv3", &[T(Op::BatchNorm)]),
    // Row normalizations, and the add + norm kernels of ONNX Runtime and vLLM.
    ("ln", &[T(Op::LayerNorm)]),
    ("layernorm", &[T(Op::LayerNorm)]),
    ("layernormalization", &[T(Op::LayerNorm)]),
    ("nativelayernorm", &[T(Op::LayerNorm)]),
    ("rmsnorm", &[T(Op::RmsNorm)]),
    ("simplifiedlayernormalization", &[T(Op::RmsNorm)]),
    ("llamarmsnorm", &[T(Op::RmsNorm)]),
    ("t5layernorm", &[T(Op::RmsNorm)]),
    ("skiplayernormalization", ADD_LAYERNORM),
    ("skipsimplifiedlayernormalization", ADD_RMSNORM),
    ("fusedaddrmsnorm", ADD_RMSNORM),
    // Activations.
    ("relu", &[T(Op::Relu)]),
    ("relu6", &[T(Op::Relu6)]),
    ("gelu", &[T(Op::Gelu)]),
    ("silu", &[T(Op::Silu)]),
    ("swish", &[T(Op::Silu)]),
    ("sigmoid", &[Tok::Sigmoid]),
    ("softmax", &[T(Op::Softmax)]),
    ("safesoftmax", &[T(Op::Softmax)]),
    // Scaling by a constant, and `mul` (see Tok::Mul).
    ("scale", &[T(Op::Scale)]),
    ("mul", &[Tok::Mul]),
    ("div", &[T(Op::Scale)]),
    ("truediv", &[T(Op::Scale)]),
    ("realdiv", &[T(Op::Scale)]),
    // Attention as one operator, the attention pattern names, and the causal mask.
    ("sdpa", ATTENTION),
    ("attention", ATTENTION),
    ("fullattention", ATTENTION),
    ("fullattentionsdpa", ATTENTION),
    ("scaleddotproductattention", ATTENTION),
    ("scaleddotproductflashattention", ATTENTION),
    ("scaleddotproductefficientattention", ATTENTION),
    ("flashattention", ATTENTION),
    ("qkattentionscores", &[T(Op::MatMul), T(Op::Scale)]),
    ("attentionscores", &[T(Op::MatMul), T(Op::Scale)]),
    ("qksoftmax", &[T(Op::MatMul), T(Op::Scale), T(Op::Softmax)]),
    ("causal", &[T(Op::CausalMask)]),
    ("causalmask", &[T(Op::CausalMask)]),
    // The gated MLP of LLaMA-style models.
    ("swiglu", SWIGLU),
    ("linearswiglu", SWIGLU),
    ("llamamlp", SWIGLU),
];

/// Dotted or `::` segments that are overload names or namespaces, never the operator itself.
const NOISE_SEGMENTS: &[&str] = &[
    "default",
    "int",
    "tensor",
    "scalar",
    "out",
    "self",
    "dim",
    "using",
    "input",
    "aten",
    "torch",
    "nn",
    "functional",
    "f",
    "onnx",
    "ai",
    "prims",
    "ops",
    "modules",
];

/// Lowercase ASCII letters and digits of `s`, everything else dropped.
fn squash(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Splits `key` into known aliases with as few pieces as possible; `None` when it cannot be
/// covered entirely.
fn segment(key: &str) -> Option<Vec<Tok>> {
    let n = key.len();
    // best[i] = (pieces, previous cut, alias index) for the prefix key[..i].
    let mut best: Vec<Option<(usize, usize, usize)>> = vec![None; n + 1];
    best[0] = Some((0, 0, usize::MAX));
    for i in 0..n {
        let Some((pieces, _, _)) = best[i] else {
            continue;
        };
        for (a, (alias, _)) in ALIASES.iter().enumerate() {
            if key[i..].starts_with(alias) {
                let j = i + alias.len();
                if best[j].is_none_or(|(p, _, _)| pieces + 1 < p) {
                    best[j] = Some((pieces + 1, i, a));
                }
            }
        }
    }
    let mut pieces = Vec::new();
    let mut j = n;
    while j > 0 {
        let (_, i, a) = best[j]?;
        pieces.push(ALIASES[a].1);
        j = i;
    }
    if pieces.is_empty() {
        return None;
    }
    Some(pieces.into_iter().rev().flatten().copied().collect())
}

/// The tokens of one operator name (see the module notes), `None` for an unknown name.
fn tokens(name: &str) -> Option<Vec<Tok>> {
    let segment_name = name
        .split(['.', ':'])
        .map(squash)
        .filter(|s| !s.is_empty())
        .rev()
        .find(|s| !NOISE_SEGMENTS.contains(&s.as_str()))?;
    segment(&segment_name)
}

/// Resolves tokens in context (the module notes, step 2) into canonical operators; `None` when
/// a sigmoid is not followed by a `mul`. `implied_bias` keeps the bias a linear layer has
/// unless told otherwise.
fn resolve(toks: &[Tok], implied_bias: bool) -> Option<Vec<Op>> {
    let mut out: Vec<Op> = Vec::with_capacity(toks.len() + 1);
    let mut causal = false;
    let mut i = 0;
    while i < toks.len() {
        let prev = out.last().copied();
        match toks[i] {
            Tok::ImpliedBias if !implied_bias => {}
            Tok::ImpliedBias | T(Op::Bias) => match prev {
                Some(Op::Bias | Op::Conv2d | Op::DepthwiseConv2d) => {}
                Some(Op::MatMul) => {
                    out.pop();
                    out.extend([Op::Linear, Op::Bias]);
                }
                _ => out.push(Op::Bias),
            },
            Tok::Add if prev == Some(Op::MatMul) => {
                out.pop();
                out.extend([Op::Linear, Op::Bias]);
            }
            Tok::Add => out.push(Op::Add),
            Tok::Mul if matches!(prev, Some(Op::Linear | Op::Bias)) => out.push(Op::Mul),
            Tok::Mul => out.push(Op::Scale),
            Tok::Sigmoid if toks.get(i + 1) == Some(&Tok::Mul) => {
                out.push(Op::Silu);
                i += 1;
            }
            Tok::Sigmoid => return None,
            T(Op::CausalMask) => causal = true,
            T(op) => out.push(op),
        }
        i += 1;
    }
    if causal {
        // The mask belongs between the scaled scores and their softmax.
        match out.iter().position(|&o| o == Op::Softmax) {
            Some(s) => out.insert(s, Op::CausalMask),
            None => out.push(Op::CausalMask),
        }
    }
    if out.len() >= 2 && out[0] == Op::MatMul && matches!(out[1], Op::Softmax | Op::CausalMask) {
        out.insert(1, Op::Scale);
    }
    Some(out)
}

/// Canonical form of an operator chain (see the module notes): absorbed biases, `MatMul` +
/// bias as a linear layer, the causal mask before the softmax, the implied attention scale.
/// The operators are taken as they are: an [`Op::Add`] here is a residual, an [`Op::Mul`] a
/// product of two tensors.
pub fn canonical(ops: &[Op]) -> Vec<Op> {
    let toks: Vec<Tok> = ops.iter().map(|&o| T(o)).collect();
    resolve(&toks, true).expect("canonical operators hold no sigmoid")
}

/// The pattern whose operators are exactly `ops`.
fn pattern_exactly(ops: &[Op]) -> Option<Pattern> {
    Pattern::ALL.into_iter().find(|p| ops == p.operators())
}

/// The pattern whose operators are exactly the canonical form of `ops`.
pub fn pattern_of_ops(ops: &[Op]) -> Option<Pattern> {
    pattern_exactly(&canonical(ops))
}

/// The pattern a chain of tokens forms: with the implied biases of its linear layers, else
/// without them.
fn pattern_of_tokens(toks: &[Tok]) -> Option<Pattern> {
    let with_bias = resolve(toks, true).and_then(|ops| pattern_exactly(&ops));
    with_bias.or_else(|| {
        toks.contains(&Tok::ImpliedBias)
            .then(|| resolve(toks, false).and_then(|ops| pattern_exactly(&ops)))
            .flatten()
    })
}

/// The canonical operators one framework operator name stands for on its own (`aten::addmm`
/// → `[Linear, Bias]`, `nn.ReLU` → `[ReLU]`, `add` → `[Add]`, `mul` → `[Scale]`), or `None`
/// for a name hwcal has no pattern operator for (`sigmoid` alone is none: with a `mul` it is
/// SiLU). A graph decides from a node's inputs whether `add` is a bias or a residual and
/// whether `mul` scales or multiplies two tensors.
pub fn operator_ops(name: &str) -> Option<Vec<Op>> {
    resolve(&tokens(name)?, true)
}

/// The pattern a chain of operator names forms (`["nn.Linear", "nn.ReLU"]` →
/// `Linear_Bias_ReLU`, `["Conv", "BatchNormalization", "Sigmoid", "Mul"]` → `Conv2d_BN_SiLU`),
/// or `None` when an operator is unknown or the chain is no pattern.
pub fn pattern_of_chain<S: AsRef<str>>(ops: &[S]) -> Option<Pattern> {
    let mut all = Vec::new();
    for op in ops {
        all.extend(tokens(op.as_ref())?);
    }
    pattern_of_tokens(&all)
}

/// Resolves a pattern name as any framework, or hwcal, or the Python calibrator writes it
/// (`Conv2d_BatchNorm2d_ReLU`, `conv_bn_relu`, `FullAttention_SDPA`, `addmm_relu`,
/// `nn.Linear+nn.ReLU`, `FusedAddRMSNorm`, `SwiGLU`), case- and separator-insensitively.
/// `None` for anything else.
pub fn resolve_pattern(name: &str) -> Option<Pattern> {
    if let Some(p) = Pattern::from_name(name) {
        return Some(p);
    }
    let parts: Vec<&str> = name
        .split(|c: char| matches!(c, '+' | ',' | '>' | '→' | '|') || c.is_whitespace())
        .map(|s| s.trim_matches('-'))
        .filter(|s| !s.is_empty())
        .collect();
    if parts.is_empty() {
        return None;
    }
    // `Linear_Bias_Add` is three operators, though squashed it would read as `linear` and
    // TensorFlow's `BiasAdd`: try `_` as a separator first, then names that hold one
    // (`batch_norm`, `scaled_dot_product_attention`) squashed.
    let fine: Vec<&str> = parts
        .iter()
        .flat_map(|p| p.split('_'))
        .filter(|s| !s.is_empty())
        .collect();
    if fine.len() > parts.len() {
        if let Some(p) = pattern_of_chain(&fine) {
            return Some(p);
        }
    }
    pattern_of_chain(&parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Pattern::*;

    #[test]
    fn op_names_are_the_pattern_vocabulary() {
        let all = Op::ALL;
        for p in Pattern::ALL {
            for name in p.operators() {
                assert!(
                    all.iter().any(|o| o.name() == name.name()),
                    "{name:?} of {}",
                    p.name()
                );
            }
        }
    }

    #[test]
    fn every_pattern_resolves_from_its_own_operator_names() {
        for p in Pattern::ALL {
            let ops: Vec<&str> = p.operators().iter().map(|o| o.name()).collect();
            assert_eq!(pattern_of_chain(&ops), Some(p), "{ops:?}");
            assert_eq!(resolve_pattern(&ops.join("_")), Some(p), "{ops:?}");
            assert_eq!(resolve_pattern(&p.name().to_lowercase()), Some(p));
        }
    }

    #[test]
    fn pattern_names_as_frameworks_write_them() {
        let cases: &[(&str, Pattern)] = &[
            ("Conv2d_BatchNorm2d_ReLU", Conv2dBnRelu),
            ("conv_bn_relu", Conv2dBnRelu),
            ("Conv_BN_ReLU", Conv2dBnRelu),
            ("CONV-BN-RELU", Conv2dBnRelu),
            ("conv2dbnrelu", Conv2dBnRelu),
            ("Conv2d_BN", Conv2dBn),
            ("conv_relu", Conv2dRelu),
            ("Conv2d_Bias_ReLU", Conv2dRelu),
            ("Linear_ReLU", LinearBiasRelu),
            ("linear_relu", LinearBiasRelu),
            ("Linear_Bias_ReLU", LinearBiasRelu),
            ("addmm_relu", LinearBiasRelu),
            ("Gemm_Relu", LinearBiasRelu),
            ("linear_gelu", LinearBiasGelu),
            ("Linear_Bias", LinearBias),
            ("MatMul+Add+Gelu", LinearBiasGelu),
            ("FullAttention_SDPA", FullAttention),
            ("FullAttention", FullAttention),
            ("scaled_dot_product_attention", FullAttention),
            ("SDPA", FullAttention),
            ("aten::_scaled_dot_product_flash_attention", FullAttention),
            ("matmul_div_softmax_matmul", FullAttention),
            ("MatMul,Mul,Softmax,MatMul", FullAttention),
            ("matmul_softmax", QkSoftmax),
            ("QK_Softmax", QkSoftmax),
            ("qk_attention_scores", QkAttentionScores),
            ("matmul_scale", QkAttentionScores),
            ("nn.Linear+nn.ReLU", LinearBiasRelu),
            ("aten::addmm -> aten::relu", LinearBiasRelu),
            ("Conv → BatchNormalization → Relu", Conv2dBnRelu),
            // Issue 11's patterns.
            ("linear_add", LinearBiasAdd),
            ("Gemm+Add", LinearBiasAdd),
            ("MatMul+Add+Add", LinearBiasAdd),
            ("addmm_add", LinearBiasAdd),
            ("SwiGLU", LinearSwiglu),
            ("LlamaMLP", LinearSwiglu),
            ("linear_silu_linear_mul", LinearSwiglu),
            ("Conv2d_BatchNorm2d_SiLU", Conv2dBnSilu),
            ("conv_bn_swish", Conv2dBnSilu),
            ("Conv+BatchNormalization+Sigmoid+Mul", Conv2dBnSilu),
            ("Conv2d_BatchNorm2d_Add_ReLU", Conv2dBnAddRelu),
            ("conv_bn_add_relu", Conv2dBnAddRelu),
            ("scaled_dot_product_attention_causal", FullAttentionCausal),
            ("sdpa causal", FullAttentionCausal),
            ("causal_attention", FullAttentionCausal),
            ("matmul_div_causal_mask_softmax_matmul", FullAttentionCausal),
            ("add_layer_norm", AddLayerNorm),
            ("Add+LayerNormalization", AddLayerNorm),
            ("SkipLayerNormalization", AddLayerNorm),
            ("add_ln", AddLayerNorm),
            ("FusedAddRMSNorm", AddRmsNorm),
            ("add_rms_norm", AddRmsNorm),
            ("Add+SimplifiedLayerNormalization", AddRmsNorm),
            ("SkipSimplifiedLayerNormalization", AddRmsNorm),
            ("DepthwiseConv2d_BatchNorm2d_ReLU", DepthwiseConv2dBnRelu),
            ("dwconv_bn_relu6", DepthwiseConv2dBnRelu6),
            (
                "DepthwiseConv2dNative+FusedBatchNormV3+Relu6",
                DepthwiseConv2dBnRelu6,
            ),
        ];
        for (name, want) in cases {
            assert_eq!(resolve_pattern(name), Some(*want), "{name}");
        }
    }

    #[test]
    fn operator_chains_from_torch_and_onnx() {
        let cases: &[(&[&str], Pattern)] = &[
            (&["conv2d", "batchnorm2d", "relu"], Conv2dBnRelu),
            (
                &["aten::_convolution", "aten::batch_norm", "aten::relu_"],
                Conv2dBnRelu,
            ),
            (
                &[
                    "aten::convolution.default",
                    "aten::_native_batch_norm_legit_no_training.default",
                    "aten::relu.default",
                ],
                Conv2dBnRelu,
            ),
            (&["Conv", "BatchNormalization", "Relu"], Conv2dBnRelu),
            (&["Conv", "Relu"], Conv2dRelu),
            (&["nn.Linear", "nn.ReLU"], LinearBiasRelu),
            (
                &[
                    "torch.nn.modules.linear.Linear",
                    "torch.nn.modules.activation.GELU",
                ],
                LinearBiasGelu,
            ),
            (&["aten::addmm", "aten::relu"], LinearBiasRelu),
            (&["aten::linear", "aten::gelu"], LinearBiasGelu),
            (&["F.linear", "F.relu"], LinearBiasRelu),
            (&["Gemm", "Gelu"], LinearBiasGelu),
            (&["Gemm"], LinearBias),
            (&["MatMul", "Add", "Relu"], LinearBiasRelu),
            (&["MatMul", "Softmax"], QkSoftmax),
            (
                &["aten::bmm", "aten::div", "aten::_softmax", "aten::bmm"],
                FullAttention,
            ),
            (&["MatMul", "Div", "Softmax", "MatMul"], FullAttention),
            (&["aten::scaled_dot_product_attention"], FullAttention),
            // Issue 11's patterns.
            (&["nn.Linear", "aten::add"], LinearBiasAdd),
            (
                &["Conv", "BatchNormalization", "Sigmoid", "Mul"],
                Conv2dBnSilu,
            ),
            (&["nn.Conv2d", "nn.BatchNorm2d", "nn.SiLU"], Conv2dBnSilu),
            (
                &[
                    "aten::convolution",
                    "aten::batch_norm",
                    "aten::add",
                    "aten::relu",
                ],
                Conv2dBnAddRelu,
            ),
            (&["aten::add", "aten::layer_norm"], AddLayerNorm),
            (&["Add", "LayerNormalization"], AddLayerNorm),
            (&["Add", "SimplifiedLayerNormalization"], AddRmsNorm),
            (&["add", "LlamaRMSNorm"], AddRmsNorm),
            (
                &["aten::scaled_dot_product_attention", "causal"],
                FullAttentionCausal,
            ),
            (
                &["MatMul", "Mul", "CausalMask", "Softmax", "MatMul"],
                FullAttentionCausal,
            ),
            (
                &["nn.Linear", "nn.SiLU", "nn.Linear", "aten::mul"],
                LinearSwiglu,
            ),
            (&["Gemm", "Sigmoid", "Mul", "Gemm", "Mul"], LinearSwiglu),
            (
                &["DepthwiseConv2dNative", "BatchNormalization", "Relu"],
                DepthwiseConv2dBnRelu,
            ),
        ];
        for (chain, want) in cases {
            assert_eq!(pattern_of_chain(chain), Some(*want), "{chain:?}");
        }
    }

    #[test]
    fn unknown_names_and_chains_are_none() {
        for name in [
            "",
            "_",
            "Conv_BN_Sigmoid",
            "layernorm",
            "relu6",
            "Linear_Softmax",
            "conv_relu_relu",
            "attention_sdpa",
            "reshape",
            "add",
            "sigmoid",
            "rmsnorm",
            // No pattern has a depthwise conv and batch-norm without an activation.
            "DepthwiseConv2d_BN",
            "Linear_LayerNorm",
            "QK_Softmax_Causal_Mul",
        ] {
            assert_eq!(resolve_pattern(name), None, "{name}");
        }
        assert_eq!(pattern_of_chain(&["conv2d", "layer_norm"]), None);
        assert_eq!(pattern_of_chain(&["relu"]), None);
        assert_eq!(
            pattern_of_chain(&["Conv", "BatchNormalization", "Sigmoid"]),
            None
        );
        assert_eq!(operator_ops("aten::layer_norm"), Some(vec![Op::LayerNorm]));
        assert_eq!(operator_ops("aten::relu_"), Some(vec![Op::Relu]));
        assert_eq!(operator_ops("aten::softmax.int"), Some(vec![Op::Softmax]));
        assert_eq!(operator_ops("Sigmoid"), None);
        assert_eq!(operator_ops("aten::frobnicate"), None);
        assert_eq!(operator_ops("add"), Some(vec![Op::Add]));
        assert_eq!(operator_ops("mul"), Some(vec![Op::Scale]));
        assert_eq!(operator_ops("Clip"), None);
    }

    #[test]
    fn canonical_operators_keep_residuals_and_products() {
        use Op::*;
        // A graph's residual add after a matmul stays an add; a bias after it is a linear.
        assert_eq!(canonical(&[MatMul, Add]), [MatMul, Add]);
        assert_eq!(canonical(&[MatMul, Bias]), [Linear, Bias]);
        assert_eq!(canonical(&[Conv2d, Bias, Relu]), [Conv2d, Relu]);
        assert_eq!(canonical(&[DepthwiseConv2d, Bias]), [DepthwiseConv2d]);
        assert_eq!(
            canonical(&[MatMul, CausalMask, Softmax, MatMul]),
            [MatMul, Scale, CausalMask, Softmax, MatMul]
        );
        assert_eq!(
            pattern_of_ops(&[Linear, Silu, Linear, Mul]),
            Some(LinearSwiglu)
        );
        assert_eq!(pattern_of_ops(&[Linear, Bias, Add]), Some(LinearBiasAdd));
        assert_eq!(
            pattern_of_ops(&[Linear, Add]),
            None,
            "Linear_Bias_Add needs the bias"
        );
    }
}
