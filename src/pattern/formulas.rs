//! FLOP and byte formulas of the Python original (fp32, 4 bytes per element).
//!
//! Kept identical so that our profiles and the original's are comparable; pinned by tests
//! against the figures in the original's own profiles.

use super::{Pattern, Shape};

const F32: u64 = 4;

/// Sizes the formulas are written in.
struct Dims {
    /// Linear: M·K, N·K, M·N and N.
    mk: u64,
    nk: u64,
    mn: u64,
    n: u64,
    /// Conv: input, weight, output elements, out channels and conv FLOPs.
    input: u64,
    weight: u64,
    output: u64,
    cout: u64,
    conv_flops: u64,
    /// Attention: B·S·D and B·S².
    bsd: u64,
    bss: u64,
    bssd: u64,
}

fn dims(shape: &Shape) -> Dims {
    let mut d = Dims {
        mk: 0,
        nk: 0,
        mn: 0,
        n: 0,
        input: 0,
        weight: 0,
        output: 0,
        cout: 0,
        conv_flops: 0,
        bsd: 0,
        bss: 0,
        bssd: 0,
    };
    match *shape {
        Shape::Linear { m, k, n } => {
            let (m, k, n) = (m as u64, k as u64, n as u64);
            d.mk = m * k;
            d.nk = n * k;
            d.mn = m * n;
            d.n = n;
        }
        Shape::Conv {
            batch,
            cin,
            cout,
            hw,
            kernel,
            ..
        } => {
            let o = shape.conv_out_hw() as u64;
            let (b, ci, co, hw, kk) = (
                batch as u64,
                cin as u64,
                cout as u64,
                hw as u64,
                kernel as u64,
            );
            d.input = b * ci * hw * hw;
            d.weight = co * ci * kk * kk;
            d.output = b * co * o * o;
            d.cout = co;
            d.conv_flops = 2 * d.output * ci * kk * kk;
        }
        Shape::Attention { batch, seq, dim } => {
            let (b, s, dd) = (batch as u64, seq as u64, dim as u64);
            d.bsd = b * s * dd;
            d.bss = b * s * s;
            d.bssd = b * s * s * dd;
        }
    }
    d
}

pub(super) fn flops(p: Pattern, shape: &Shape) -> u64 {
    let d = dims(shape);
    let linear = 2 * d.mk * d.n + d.mn;
    match p {
        Pattern::LinearBias | Pattern::LinearBiasRelu => linear,
        Pattern::LinearBiasGelu => linear + 8 * d.mn,
        Pattern::Conv2dRelu => d.conv_flops,
        Pattern::Conv2dBn | Pattern::Conv2dBnRelu => d.conv_flops + 2 * d.output,
        Pattern::QkAttentionScores => 2 * d.bssd + d.bss,
        Pattern::QkSoftmax => 2 * d.bssd + 6 * d.bss,
        Pattern::FullAttention => 4 * d.bssd + 6 * d.bss,
    }
}

pub(super) fn unfused_bytes(p: Pattern, shape: &Shape) -> u64 {
    let d = dims(shape);
    F32 * match p {
        Pattern::LinearBias => d.mk + d.nk + 3 * d.mn + d.n,
        Pattern::LinearBiasRelu | Pattern::LinearBiasGelu => d.mk + d.nk + 5 * d.mn + d.n,
        Pattern::Conv2dRelu => d.input + d.weight + d.cout + 3 * d.output,
        Pattern::Conv2dBn => d.input + d.weight + 3 * d.output,
        Pattern::Conv2dBnRelu => d.input + d.weight + 5 * d.output,
        Pattern::QkAttentionScores => 2 * d.bsd + 3 * d.bss,
        Pattern::QkSoftmax => 2 * d.bsd + 4 * d.bss,
        Pattern::FullAttention => 4 * d.bsd + 3 * d.bss,
    }
}

pub(super) fn fused_bytes(p: Pattern, shape: &Shape) -> u64 {
    let d = dims(shape);
    F32 * match p {
        Pattern::LinearBias | Pattern::LinearBiasRelu | Pattern::LinearBiasGelu => {
            d.mk + d.nk + d.n + d.mn
        }
        Pattern::Conv2dRelu | Pattern::Conv2dBn | Pattern::Conv2dBnRelu => {
            d.input + d.weight + d.cout + d.output
        }
        Pattern::QkAttentionScores | Pattern::QkSoftmax => 2 * d.bsd + d.bss,
        Pattern::FullAttention => 4 * d.bsd,
    }
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
