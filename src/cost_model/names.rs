//! Operator and pattern names as frameworks write them, mapped to hwcal's canonical patterns.
//!
//! The original partitioner asked for `Conv2d_BatchNorm2d_ReLU` while calibration wrote
//! `Conv2d_BN_ReLU`, so every lookup missed. Here every name goes through one path:
//!
//! 1. An operator name (`nn.Linear`, `aten::relu_`, `aten::_convolution`, `BatchNormalization`,
//!    `scaled_dot_product_attention`) becomes canonical operators ([`Op`], the vocabulary of
//!    [`Pattern::operators`], defined in [`crate::pattern`]): module paths and overload suffixes are dropped (the last
//!    `.`/`::` segment that is not an overload name such as `default` or `int` is kept), case
//!    and separators are ignored, and the rest is split into known aliases (fewest pieces
//!    wins, so `addmm` is one operator, `convbnrelu` three). Some operators stand for several:
//!    `linear`, `addmm` and `Gemm` are `Linear, Bias` (a linear layer has a bias unless told
//!    otherwise); `sdpa` is `MatMul, Scale, Softmax, MatMul`.
//! 2. A chain of operators is canonicalised ([`canonical`]): a bias right after a linear that
//!    already has one, or after a convolution (the conv patterns include the conv bias), is
//!    absorbed; `MatMul` followed by a bias is a linear layer (ONNX exports `Linear` as
//!    `MatMul` + `Add`); the attention scale is implied between a `MatMul` and a `Softmax`.
//! 3. The canonical chain is looked up among [`Pattern::operators`]; no match means no pattern
//!    ("no data" to the cost model, never a default speedup).
//!
//! A pattern name given as one string (`Conv2d_BatchNorm2d_ReLU`, `FullAttention_SDPA`,
//! `nn.Linear+nn.ReLU`) is split on chain separators (`+`, `,`, `->`, `→`, `|`, spaces) into
//! operator names first.

pub use crate::pattern::Op;
use crate::pattern::Pattern;

const LINEAR_BIAS: &[Op] = &[Op::Linear, Op::Bias];
const ATTENTION: &[Op] = &[Op::MatMul, Op::Scale, Op::Softmax, Op::MatMul];

/// Known operator spellings, lowercase with separators removed, and what they stand for.
const ALIASES: &[(&str, &[Op])] = &[
    // Linear layers (with bias unless a graph says otherwise).
    ("linear", LINEAR_BIAS),
    ("dense", LINEAR_BIAS),
    ("fc", LINEAR_BIAS),
    ("fullyconnected", LINEAR_BIAS),
    ("innerproduct", LINEAR_BIAS),
    ("addmm", LINEAR_BIAS),
    ("gemm", LINEAR_BIAS),
    // Matmuls of two activations.
    ("matmul", &[Op::MatMul]),
    ("mm", &[Op::MatMul]),
    ("bmm", &[Op::MatMul]),
    ("batchmatmul", &[Op::MatMul]),
    ("batchmatmulv2", &[Op::MatMul]),
    // Bias additions (in a chain name, `add` right after a linear or conv is its bias).
    ("bias", &[Op::Bias]),
    ("biasadd", &[Op::Bias]),
    ("addbias", &[Op::Bias]),
    ("add", &[Op::Bias]),
    // Convolutions.
    ("conv", &[Op::Conv2d]),
    ("conv2d", &[Op::Conv2d]),
    ("convolution", &[Op::Conv2d]),
    ("cudnnconvolution", &[Op::Conv2d]),
    ("mkldnnconvolution", &[Op::Conv2d]),
    // Batch normalization.
    ("bn", &[Op::BatchNorm]),
    ("batchnorm", &[Op::BatchNorm]),
    ("batchnorm2d", &[Op::BatchNorm]),
    ("batchnormalization", &[Op::BatchNorm]),
    ("nativebatchnorm", &[Op::BatchNorm]),
    ("nativebatchnormlegit", &[Op::BatchNorm]),
    ("nativebatchnormlegitnotraining", &[Op::BatchNorm]),
    ("cudnnbatchnorm", &[Op::BatchNorm]),
    ("fusedbatchnorm", &[Op::BatchNorm]),
    ("fusedbatchnormv3", &[Op::BatchNorm]),
    // Activations.
    ("relu", &[Op::Relu]),
    ("gelu", &[Op::Gelu]),
    ("softmax", &[Op::Softmax]),
    ("safesoftmax", &[Op::Softmax]),
    // Scaling by a constant.
    ("scale", &[Op::Scale]),
    ("mul", &[Op::Scale]),
    ("div", &[Op::Scale]),
    ("truediv", &[Op::Scale]),
    ("realdiv", &[Op::Scale]),
    // Attention as one operator, and the attention pattern names.
    ("sdpa", ATTENTION),
    ("attention", ATTENTION),
    ("fullattention", ATTENTION),
    ("fullattentionsdpa", ATTENTION),
    ("scaleddotproductattention", ATTENTION),
    ("scaleddotproductflashattention", ATTENTION),
    ("scaleddotproductefficientattention", ATTENTION),
    ("flashattention", ATTENTION),
    ("qkattentionscores", &[Op::MatMul, Op::Scale]),
    ("attentionscores", &[Op::MatMul, Op::Scale]),
    ("qksoftmax", &[Op::MatMul, Op::Scale, Op::Softmax]),
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
fn segment(key: &str) -> Option<Vec<Op>> {
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

/// The canonical operators one framework operator name stands for (`aten::addmm` →
/// `[Linear, Bias]`, `nn.ReLU` → `[ReLU]`), or `None` for a name hwcal has no pattern
/// operator for (`add` of two tensors is read as a bias here: the graph planner decides from
/// the inputs).
pub fn operator_ops(name: &str) -> Option<Vec<Op>> {
    let segment_name = name
        .split(['.', ':'])
        .map(squash)
        .filter(|s| !s.is_empty())
        .rev()
        .find(|s| !NOISE_SEGMENTS.contains(&s.as_str()))?;
    segment(&segment_name)
}

/// Canonical form of an operator chain (see the module notes): absorbed biases, `MatMul` +
/// bias as a linear layer, the implied attention scale.
pub fn canonical(ops: &[Op]) -> Vec<Op> {
    let mut out: Vec<Op> = Vec::with_capacity(ops.len() + 1);
    for &op in ops {
        match (out.last().copied(), op) {
            (Some(Op::Bias), Op::Bias) | (Some(Op::Conv2d), Op::Bias) => {}
            (Some(Op::MatMul), Op::Bias) => {
                *out.last_mut().expect("just matched") = Op::Linear;
                out.push(Op::Bias);
            }
            _ => out.push(op),
        }
    }
    if out.len() >= 2 && out[0] == Op::MatMul && out[1] == Op::Softmax {
        out.insert(1, Op::Scale);
    }
    out
}

/// The pattern whose operators are exactly the canonical form of `ops`.
pub fn pattern_of_ops(ops: &[Op]) -> Option<Pattern> {
    let c = canonical(ops);
    Pattern::ALL.into_iter().find(|p| c == p.operators())
}

/// Whether the canonical form of `ops` begins some pattern (so a longer chain may match).
pub fn is_pattern_prefix(ops: &[Op]) -> bool {
    let c = canonical(ops);
    !c.is_empty()
        && Pattern::ALL
            .into_iter()
            .any(|p| p.operators().starts_with(&c))
}

/// The pattern a chain of operator names forms (`["nn.Linear", "nn.ReLU"]` →
/// `Linear_Bias_ReLU`), or `None` when an operator is unknown or the chain is no pattern.
pub fn pattern_of_chain<S: AsRef<str>>(ops: &[S]) -> Option<Pattern> {
    let mut all = Vec::new();
    for op in ops {
        all.extend(operator_ops(op.as_ref())?);
    }
    pattern_of_ops(&all)
}

/// Resolves a pattern name as any framework, or hwcal, or the Python calibrator writes it
/// (`Conv2d_BatchNorm2d_ReLU`, `conv_bn_relu`, `FullAttention_SDPA`, `addmm_relu`,
/// `nn.Linear+nn.ReLU`), case- and separator-insensitively. `None` for anything else.
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
        ] {
            assert_eq!(resolve_pattern(name), None, "{name}");
        }
        assert_eq!(pattern_of_chain(&["conv2d", "layer_norm"]), None);
        assert_eq!(pattern_of_chain(&["relu"]), None);
        assert_eq!(operator_ops("aten::layer_norm"), None);
        assert_eq!(operator_ops("aten::relu_"), Some(vec![Op::Relu]));
        assert_eq!(operator_ops("aten::softmax.int"), Some(vec![Op::Softmax]));
    }

    #[test]
    fn prefixes_allow_growing_chains() {
        assert!(is_pattern_prefix(&[Op::Conv2d]));
        assert!(is_pattern_prefix(&[Op::Conv2d, Op::BatchNorm]));
        assert!(is_pattern_prefix(&[Op::MatMul, Op::Softmax]));
        assert!(is_pattern_prefix(&[Op::Linear]));
        assert!(!is_pattern_prefix(&[Op::Relu]));
        assert!(!is_pattern_prefix(&[Op::Conv2d, Op::Relu, Op::Relu]));
        assert!(!is_pattern_prefix(&[]));
    }
}
