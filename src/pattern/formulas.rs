//! FLOP and byte formulas, derived from a pattern's operators in the Python original's
//! convention (fp32, 4 bytes per element; other element types scale the bytes by their size).
//!
//! FLOPs are summed over the operators: a linear or matmul `2·m·k·n`, a convolution two per
//! multiply-add (`2·out·cin·k²`, a depthwise one `2·out·k²`), a bias, scale, add, mul or mask
//! one per element, batch-norm two, GELU eight, SiLU four, softmax five, LayerNorm five and
//! RMSNorm four (fvcore's norm convention), ReLU and ReLU6 none. Unfused bytes: each operator
//! reads its inputs and writes its output once (batch-norm's parameters not counted; a norm's
//! γ and β are), unless the row keeps the original's own count
//! ([`super::spec::UnfusedBytes::Original`], the first three attention patterns). Fused bytes:
//! every outside input read once (a folded batch-norm as one shift per channel; SwiGLU's `x`
//! once for both products) plus the output written once (twice for a norm that also writes
//! its sum). Pinned by tests against the figures in the original's own profiles, so ours and
//! its stay comparable; the new rows' figures are pinned by hand-computed counts.

use super::op::Op;
use super::shape::Sizes;
use super::spec::{PatternSpec, UnfusedBytes};
use super::Shape;
use crate::dtype::DType;

/// What one operator of a chain costs, in elements.
struct OpCost {
    flops: u64,
    /// Outside inputs the unfused operator reads (weights, bias, the chain's input).
    reads_outside: u64,
    /// Outside inputs the fused kernel reads for this operator.
    reads_outside_fused: u64,
    /// The previous operator's output it reads (0 for the first).
    reads_previous: u64,
    /// Its output.
    writes: u64,
}

/// The cost of operator `i` of `spec` at sizes `d`.
fn op_cost(spec: &PatternSpec, i: usize, d: &Sizes) -> OpCost {
    let op = spec.operators[i];
    // The tensor flowing through the chain after the main operator.
    let out = match spec.family {
        super::Family::Linear => d.mn,
        super::Family::Conv | super::Family::Depthwise => d.output,
        super::Family::Attention => d.bss,
        super::Family::Norm => d.rows_hidden,
    };
    let pass = |flops_per_element: u64, outside: u64| OpCost {
        flops: flops_per_element * out,
        reads_outside: outside,
        reads_outside_fused: outside,
        reads_previous: out,
        writes: out,
    };
    match op {
        Op::Linear => OpCost {
            flops: 2 * d.mk * d.n,
            reads_outside: d.mk + d.nk,
            // A second product of the same input (SwiGLU's up projection): the fused kernel
            // reads `x` once for both.
            reads_outside_fused: if i == 0 { d.mk + d.nk } else { d.nk },
            reads_previous: 0,
            writes: out,
        },
        Op::Conv2d | Op::DepthwiseConv2d => {
            let bias = if spec.epilogue.batch_norm { 0 } else { d.cout };
            OpCost {
                flops: d.conv_flops,
                reads_outside: d.input + d.weight + bias,
                reads_outside_fused: d.input + d.weight + bias,
                reads_previous: 0,
                writes: out,
            }
        }
        Op::MatMul if i == 0 => OpCost {
            flops: 2 * d.bssd,
            reads_outside: 2 * d.bsd,
            reads_outside_fused: 2 * d.bsd,
            reads_previous: 0,
            writes: d.bss,
        },
        Op::MatMul => OpCost {
            flops: 2 * d.bssd,
            reads_outside: d.bsd,
            reads_outside_fused: d.bsd,
            reads_previous: d.bss,
            writes: d.bsd,
        },
        Op::Bias => pass(1, d.n),
        // The original counts no parameter traffic for an unfused batch-norm; the fused kernel
        // reads its folded shift.
        Op::BatchNorm => OpCost {
            reads_outside_fused: d.cout,
            ..pass(2, 0)
        },
        Op::Relu | Op::Relu6 => pass(0, 0),
        Op::Gelu => pass(8, 0),
        Op::Silu => pass(4, 0),
        Op::Scale | Op::CausalMask => pass(1, 0),
        Op::Softmax => pass(5, 0),
        // The residual is read from outside by both variants.
        Op::Add => pass(1, out),
        // The other factor is an earlier output of the unfused chain (the up projection);
        // the fused kernel never writes it.
        Op::Mul => OpCost {
            reads_outside_fused: 0,
            ..pass(1, out)
        },
        Op::LayerNorm => pass(5, 2 * d.hidden),
        Op::RmsNorm => pass(4, d.hidden),
    }
}

fn costs<'a>(spec: &'a PatternSpec, shape: &Shape) -> impl Iterator<Item = OpCost> + 'a {
    let d = Sizes::of(shape);
    (0..spec.operators.len()).map(move |i| {
        let mut c = op_cost(spec, i, &d);
        if i == 0 {
            // A chain that starts with a pass (a norm's add) reads the chain's input from
            // outside, in both variants.
            c.reads_outside += c.reads_previous;
            c.reads_outside_fused += c.reads_previous;
            c.reads_previous = 0;
        }
        c
    })
}

pub(super) fn flops(spec: &PatternSpec, shape: &Shape) -> u64 {
    costs(spec, shape).map(|c| c.flops).sum()
}

pub(super) fn unfused_bytes(spec: &PatternSpec, shape: &Shape, dtype: DType) -> u64 {
    dtype.size()
        * match spec.unfused_bytes {
            UnfusedBytes::Original(elements) => elements(&Sizes::of(shape)),
            UnfusedBytes::PerOperator => costs(spec, shape)
                .map(|c| c.reads_outside + c.reads_previous + c.writes)
                .sum(),
        }
}

pub(super) fn fused_bytes(spec: &PatternSpec, shape: &Shape, dtype: DType) -> u64 {
    let (read, written) = costs(spec, shape).fold((0, 0), |(read, _), c| {
        (read + c.reads_outside_fused, c.writes)
    });
    let outputs = if spec.epilogue.writes_sum { 2 } else { 1 };
    dtype.size() * (read + outputs * written)
}

#[cfg(test)]
mod tests {
    use super::super::{Pattern, Shape};

    /// Figures from the original's `i7_12700k_with_fusion.json` (GFLOPS × latency gives the
    /// FLOP count; bytes are stored directly).
    #[test]
    fn formulas_match_the_original_profiles() {
        let lin = Shape::Linear {
            m: 512,
            k: 1024,
            n: 1024,
        };
        assert_eq!(Pattern::LinearBias.unfused_bytes(&lin), 12_587_008);
        assert_eq!(Pattern::LinearBias.fused_bytes(&lin), 8_392_704);
        assert_eq!(Pattern::LinearBiasRelu.unfused_bytes(&lin), 16_781_312);
        assert_eq!(Pattern::LinearBiasGelu.fused_bytes(&lin), 8_392_704);
        assert_eq!(Pattern::LinearBias.flops(&lin), 1_074_266_112);
        assert_eq!(Pattern::LinearBiasRelu.flops(&lin), 1_074_266_112);
        assert_eq!(Pattern::LinearBiasGelu.flops(&lin), 1_078_460_416);

        let conv = Shape::conv3x3(4, 128, 128, 28);
        assert_eq!(Pattern::Conv2dRelu.unfused_bytes(&conv), 7_012_864);
        assert_eq!(Pattern::Conv2dRelu.fused_bytes(&conv), 3_801_600);
        assert_eq!(Pattern::Conv2dBn.unfused_bytes(&conv), 7_012_352);
        assert_eq!(Pattern::Conv2dBnRelu.unfused_bytes(&conv), 10_223_616);
        assert_eq!(Pattern::Conv2dBnRelu.fused_bytes(&conv), 3_801_600);
        assert_eq!(Pattern::Conv2dRelu.flops(&conv), 924_844_032);
        assert_eq!(Pattern::Conv2dBn.flops(&conv), 925_646_848);
        assert_eq!(Pattern::Conv2dBnRelu.flops(&conv), 925_646_848);

        let att = Shape::Attention {
            batch: 4,
            seq: 256,
            dim: 64,
        };
        assert_eq!(Pattern::QkAttentionScores.unfused_bytes(&att), 3_670_016);
        assert_eq!(Pattern::QkAttentionScores.fused_bytes(&att), 1_572_864);
        assert_eq!(Pattern::QkSoftmax.unfused_bytes(&att), 4_718_592);
        assert_eq!(Pattern::FullAttention.unfused_bytes(&att), 4_194_304);
        assert_eq!(Pattern::FullAttention.fused_bytes(&att), 1_048_576);
        assert_eq!(Pattern::QkAttentionScores.flops(&att), 33_816_576);
        assert_eq!(Pattern::QkSoftmax.flops(&att), 35_127_296);
        assert_eq!(Pattern::FullAttention.flops(&att), 68_681_728);
    }

    /// The new rows' counts, computed by hand from the per-operator convention (see the module
    /// docs and docs/patterns.md), at the quick preset's sizes.
    #[test]
    fn new_rows_follow_the_per_operator_convention() {
        let lin = Shape::Linear {
            m: 512,
            k: 1024,
            n: 1024,
        };
        // 2mkn + bias mn + add mn; unfused (mk+nk+mn) + (n+2mn) + 3mn; fused mk+nk+n+2mn.
        assert_eq!(Pattern::LinearBiasAdd.flops(&lin), 1_074_790_400);
        assert_eq!(Pattern::LinearBiasAdd.unfused_bytes(&lin), 18_878_464);
        assert_eq!(Pattern::LinearBiasAdd.fused_bytes(&lin), 10_489_856);
        // 4mkn + silu 4mn + mul mn; unfused 2(mk+nk+mn) + 2mn + 3mn; fused mk+2nk+mn.
        assert_eq!(Pattern::LinearSwiglu.flops(&lin), 2_150_105_088);
        assert_eq!(Pattern::LinearSwiglu.unfused_bytes(&lin), 27_262_976);
        assert_eq!(Pattern::LinearSwiglu.fused_bytes(&lin), 12_582_912);

        let conv = Shape::conv3x3(4, 128, 128, 28);
        assert_eq!(Pattern::Conv2dBnAddRelu.flops(&conv), 926_048_256);
        assert_eq!(Pattern::Conv2dBnAddRelu.unfused_bytes(&conv), 15_040_512);
        assert_eq!(Pattern::Conv2dBnAddRelu.fused_bytes(&conv), 5_407_232);
        assert_eq!(Pattern::Conv2dBnSilu.flops(&conv), 927_252_480);
        assert_eq!(
            Pattern::Conv2dBnSilu.unfused_bytes(&conv),
            Pattern::Conv2dBnRelu.unfused_bytes(&conv)
        );

        let att = Shape::Attention {
            batch: 4,
            seq: 256,
            dim: 64,
        };
        // Dense FLOPs (the mask hides half the scores; the count does not depend on it).
        assert_eq!(Pattern::FullAttentionCausal.flops(&att), 68_943_872);
        assert_eq!(Pattern::FullAttentionCausal.unfused_bytes(&att), 9_437_184);
        assert_eq!(Pattern::FullAttentionCausal.fused_bytes(&att), 1_048_576);

        let bert = Shape::Norm {
            rows: 512,
            hidden: 768,
        };
        assert_eq!(Pattern::AddLayerNorm.flops(&bert), 2_359_296);
        assert_eq!(Pattern::AddLayerNorm.unfused_bytes(&bert), 7_870_464);
        assert_eq!(Pattern::AddLayerNorm.fused_bytes(&bert), 4_724_736);
        let llama = Shape::Norm {
            rows: 512,
            hidden: 4096,
        };
        // The fused kernel writes the sum too: 4 tensors of 512×4096 plus γ.
        assert_eq!(Pattern::AddRmsNorm.flops(&llama), 10_485_760);
        assert_eq!(Pattern::AddRmsNorm.unfused_bytes(&llama), 41_959_424);
        assert_eq!(Pattern::AddRmsNorm.fused_bytes(&llama), 33_570_816);

        let dw = Shape::depthwise3x3(1, 144, 56, 1);
        assert_eq!(Pattern::DepthwiseConv2dBnRelu6.flops(&dw), 9_031_680);
        assert_eq!(
            Pattern::DepthwiseConv2dBnRelu6.unfused_bytes(&dw),
            10_843_200
        );
        assert_eq!(Pattern::DepthwiseConv2dBnRelu6.fused_bytes(&dw), 3_618_432);
        assert_eq!(
            Pattern::DepthwiseConv2dBnRelu.fused_bytes(&dw),
            Pattern::DepthwiseConv2dBnRelu6.fused_bytes(&dw)
        );
    }

    #[test]
    fn fusion_never_moves_more_bytes() {
        for p in Pattern::ALL {
            for preset in [super::super::Preset::Tiny, super::super::Preset::Full] {
                for s in p.shapes(preset) {
                    assert!(
                        p.fused_bytes(&s) < p.unfused_bytes(&s),
                        "{} {}",
                        p.name(),
                        s.label()
                    );
                }
            }
        }
    }
}
