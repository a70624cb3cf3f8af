//! The Depthwise family: depthwise 2-D convolution (NCHW, one `k×k` filter per channel) with
//! batch-norm and an activation.
//!
//! A depthwise convolution has `k²` multiply-adds per output, too few for a GEMM (im2col would
//! write and re-read `k²` copies of the input): it is a direct convolution, parallel over
//! (image, channel) planes, its inner loop vectorised along the output columns.
//!
//! Unfused: one kernel per operator of the pattern: the convolution (with its bias unless a
//! batch-norm follows), then a batch-norm pass, then an activation pass, each over the whole
//! output. Fused: batch-norm folded into the filters and a per-channel shift when the workload
//! is prepared (as inference compilers do), the activation applied to each band of output rows
//! while it is in L1: the output is written once.

use super::activation::Activation;
use super::elementwise;
use super::simd::Isa;
use super::simd_dispatch;
use super::Outputs;
use crate::backend::{check_operators, Activations, Prepared, Variant};
use crate::dtype::HostBuffer;
use crate::pattern::{BatchNorm, ConvDims, FoldedFilters, Op, Pattern, Shape};
use crate::Result;
use rayon::prelude::*;
use std::time::{Duration, Instant};

/// Output columns per register block: four AVX2 vectors of accumulators, four independent
/// FMA chains per tap.
const WIDE: usize = 32;
/// The register block at stride 2: two vectors (at four, the compiler leaves the last one's
/// deinterleaved loads scalar).
const WIDE_STRIDED: usize = 16;
/// The register block for what is left of the interior columns after the wide blocks.
const NARROW: usize = 8;
/// Output elements per band the fused activation runs over (16 KiB: in L1 with the input
/// rows the band was computed from).
const BAND_ELEMENTS: usize = 4096;
/// Output elements per rayon task: small planes are grouped so that scheduling overhead stays
/// negligible.
const TASK_ELEMENTS: usize = 16 * 1024;

/// One Depthwise pattern at one shape.
pub struct DepthwiseWork {
    pattern: Pattern,
    g: ConvDims,
    x: Vec<f32>,
    w: Vec<f32>,
    bias: Vec<f32>,
    bn_scale: Vec<f32>,
    bn_shift: Vec<f32>,
    folded_w: Vec<f32>,
    folded_shift: Vec<f32>,
    outputs: Outputs,
}

impl DepthwiseWork {
    /// Copies the inputs and folds batch-norm into a second set of filters (in f64).
    pub fn new(
        pattern: Pattern,
        shape: Shape,
        x: &[f32],
        w: &[f32],
        bias: &[f32],
        bn: &BatchNorm,
    ) -> Result<Self> {
        check_operators(
            pattern,
            "the CPU depthwise kernels",
            &[Op::DepthwiseConv2d, Op::BatchNorm],
            Activations::Any,
        )?;
        let g = shape.conv_dims().expect("prepare checked the family");
        let taps = g.kernel * g.kernel;
        let FoldedFilters {
            bn_scale,
            bn_shift,
            filters: folded_w,
            shift: folded_shift,
        } = FoldedFilters::new(pattern.has_batch_norm(), bn, w, bias, taps);
        let out_len = g.batch * g.cout * g.out_pixels();
        Ok(DepthwiseWork {
            pattern,
            g,
            x: x.to_vec(),
            w: w.to_vec(),
            bias: bias.to_vec(),
            bn_scale,
            bn_shift,
            folded_w,
            folded_shift,
            outputs: Outputs::new(out_len),
        })
    }

    /// Every output plane `out[b][c] = act(conv(x[b][c], w[c]) + shift[c])`.
    fn convolve(&self, w: &[f32], shift: Option<&[f32]>, act: Activation, out: &mut [f32]) {
        let g = &self.g;
        let (pix, img, taps) = (g.out_pixels(), g.hw * g.hw, g.kernel * g.kernel);
        out.par_chunks_mut(pix)
            .enumerate()
            .with_min_len((TASK_ELEMENTS / pix.max(1)).max(1))
            .for_each(|(plane, o)| {
                let c = plane % g.cout;
                convolve_plane(
                    &self.x[plane * img..][..img],
                    &w[c * taps..][..taps],
                    shift.map_or(0.0, |s| s[c]),
                    act,
                    g,
                    o,
                );
            });
    }
}

/// Output columns whose every tap lies inside the image: `ox·stride ≥ padding` and
/// `ox·stride + kernel − 1 − padding ≤ hw − 1`. The others are the borders.
fn interior_columns(g: &ConvDims) -> std::ops::Range<usize> {
    let lo = g.padding.div_ceil(g.stride).min(g.out_hw);
    let hi = match (g.hw + g.padding).checked_sub(g.kernel) {
        Some(last) => (last / g.stride + 1).clamp(lo, g.out_hw),
        None => lo,
    };
    lo..hi
}

/// One output row: the filter rows `ky` it sees (`ky_lo..ky_hi`, the others fall in the
/// padding) and the input row `iy0 + ky − padding` each reads.
#[derive(Clone, Copy)]
struct Row {
    iy0: usize,
    ky_lo: usize,
    ky_hi: usize,
}

impl Row {
    fn new(g: &ConvDims, oy: usize) -> Row {
        let iy0 = oy * g.stride;
        Row {
            iy0,
            ky_lo: g.padding.saturating_sub(iy0),
            ky_hi: (g.hw + g.padding).saturating_sub(iy0).min(g.kernel),
        }
    }
}

/// The stride: `STRIDE`, or the shape's when `STRIDE` is 0. A constant stride lets the
/// compiler drop the bounds checks of the taps' loads and vectorise them (at stride 1, one
/// vector load per tap and vector); other strides run the same code with the stride read at
/// run time.
#[inline(always)]
fn stride<const STRIDE: usize>(g: &ConvDims) -> usize {
    if STRIDE == 0 {
        g.stride
    } else {
        STRIDE
    }
}

/// Inputs one tap of an `L`-column block reads: `L·stride` from its first (a whole number of
/// vectors, so that a constant stride deinterleaves with shuffles instead of element by
/// element), one for a single column.
#[inline(always)]
fn block_span<const L: usize>(stride: usize) -> usize {
    if L == 1 {
        1
    } else {
        L * stride
    }
}

/// `L` interior outputs `ox..ox + L` of one row, accumulated in registers over every tap. The
/// caller checks that every tap's [`block_span`] lies inside the input row.
#[inline(always)]
fn interior_block<const L: usize, const STRIDE: usize>(
    img: &[f32],
    w: &[f32],
    shift: f32,
    g: &ConvDims,
    row: Row,
    ox: usize,
    out: &mut [f32],
) {
    let (hw, k) = (g.hw, g.kernel);
    let stride = stride::<STRIDE>(g);
    let mut acc = [shift; L];
    for ky in row.ky_lo..row.ky_hi {
        let input = &img[(row.iy0 + ky - g.padding) * hw..][..hw];
        for (kx, &wv) in w[ky * k..][..k].iter().enumerate() {
            // Interior: `ox·stride + kx ≥ padding` for every kx.
            let src = &input[ox * stride + kx - g.padding..][..block_span::<L>(stride)];
            for (l, a) in acc.iter_mut().enumerate() {
                *a += wv * src[l * stride];
            }
        }
    }
    out[ox..ox + L].copy_from_slice(&acc);
}

/// One border output: the taps that fall in the padding are skipped.
#[inline(always)]
fn border_pixel(img: &[f32], w: &[f32], shift: f32, g: &ConvDims, row: Row, ox: usize) -> f32 {
    let (hw, k) = (g.hw, g.kernel);
    let mut acc = shift;
    for ky in row.ky_lo..row.ky_hi {
        let input = &img[(row.iy0 + ky - g.padding) * hw..][..hw];
        for (kx, &wv) in w[ky * k..][..k].iter().enumerate() {
            if let Some(ix) = (ox * g.stride + kx)
                .checked_sub(g.padding)
                .filter(|&ix| ix < hw)
            {
                acc += wv * input[ix];
            }
        }
    }
    acc
}

/// One output plane, band of rows by band of rows: the borders pixel by pixel, the interior in
/// register blocks, then the activation over the band while it is in L1.
#[inline(always)]
fn plane<const STRIDE: usize>(
    img: &[f32],
    w: &[f32],
    shift: f32,
    act: Activation,
    g: &ConvDims,
    out: &mut [f32],
) {
    let ow = g.out_hw;
    let inner = interior_columns(g);
    let stride = stride::<STRIDE>(g);
    // Whether the `L`-column block at `ox` has its last tap's span inside the input row (at
    // stride 1, any block of interior columns does).
    let fits = |ox: usize, l: usize| (ox + l) * stride + g.kernel - 1 <= g.hw + g.padding;
    let band_rows = (BAND_ELEMENTS / ow).max(1);
    for (band, rows) in out.chunks_mut(band_rows * ow).enumerate() {
        for (r, o) in rows.chunks_exact_mut(ow).enumerate() {
            let row = Row::new(g, band * band_rows + r);
            for ox in (0..inner.start).chain(inner.end..ow) {
                o[ox] = border_pixel(img, w, shift, g, row, ox);
            }
            let mut ox = inner.start;
            if STRIDE == 1 {
                while ox + WIDE <= inner.end && fits(ox, WIDE) {
                    interior_block::<WIDE, STRIDE>(img, w, shift, g, row, ox, o);
                    ox += WIDE;
                }
            } else {
                while ox + WIDE_STRIDED <= inner.end && fits(ox, WIDE_STRIDED) {
                    interior_block::<WIDE_STRIDED, STRIDE>(img, w, shift, g, row, ox, o);
                    ox += WIDE_STRIDED;
                }
            }
            while ox + NARROW <= inner.end && fits(ox, NARROW) {
                interior_block::<NARROW, STRIDE>(img, w, shift, g, row, ox, o);
                ox += NARROW;
            }
            for ox in ox..inner.end {
                interior_block::<1, STRIDE>(img, w, shift, g, row, ox, o);
            }
        }
        // The activation in the convolution's own instruction set: AVX-512 code between the
        // AVX2 loops measured 7–12% slower on the whole plane on an Intel Xeon (the core
        // drops to its AVX-512 clock for the convolution too), which made the fused kernel
        // slower than the unfused chain.
        act.apply_slice_isa(Isa::avx2_or_portable(), rows);
    }
}

simd_dispatch! {
    /// `out = act(conv(img, w) + shift)` for one `hw×hw` plane and one `k×k` filter, the
    /// output `out_hw×out_hw`, zero padding.
    fn convolve_plane(
        img: &[f32],
        w: &[f32],
        shift: f32,
        act: Activation,
        g: &ConvDims,
        out: &mut [f32],
    ) {
        match g.stride {
            1 => plane::<1>(img, w, shift, act, g, out),
            2 => plane::<2>(img, w, shift, act, g, out),
            _ => plane::<0>(img, w, shift, act, g, out),
        }
    }
}

impl Prepared for DepthwiseWork {
    fn run(&mut self, variant: Variant) -> Result<Duration> {
        let fused = variant == Variant::Fused;
        let mut out = self.outputs.take(variant);
        let pix = self.g.out_pixels();
        let t = Instant::now();
        if fused {
            let act = self.pattern.activation();
            self.convolve(&self.folded_w, Some(&self.folded_shift), act, &mut out);
        } else {
            for op in self.pattern.operators() {
                match (op, op.activation()) {
                    (_, Some(act)) => elementwise::activate(&mut out, act),
                    (Op::BatchNorm, _) => elementwise::affine_rows(
                        &mut out,
                        pix,
                        Some(&self.bn_scale),
                        &self.bn_shift,
                    ),
                    // Op::DepthwiseConv2d (`new` checked that there is nothing else): it owns
                    // its bias only when no batch-norm follows.
                    _ => {
                        let bias = (!self.pattern.has_batch_norm()).then_some(&self.bias[..]);
                        self.convolve(&self.w, bias, Activation::Identity, &mut out);
                    }
                }
            }
        }
        let elapsed = t.elapsed();
        self.outputs.put(variant, out);
        Ok(elapsed)
    }

    fn output(&mut self, variant: Variant) -> Result<HostBuffer> {
        Ok(self.outputs.host(variant))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dims(hw: usize, kernel: usize, stride: usize, padding: usize) -> ConvDims {
        Shape::Depthwise {
            batch: 1,
            channels: 1,
            hw,
            kernel,
            stride,
            padding,
        }
        .conv_dims()
        .unwrap()
    }

    /// The plain definition: every tap checked against the image bounds.
    fn naive(img: &[f32], w: &[f32], shift: f32, g: &ConvDims) -> Vec<f32> {
        let (hw, k, o) = (g.hw, g.kernel, g.out_hw);
        let mut out = vec![shift; o * o];
        for oy in 0..o {
            for ox in 0..o {
                for ky in 0..k {
                    for kx in 0..k {
                        let iy = (oy * g.stride + ky).checked_sub(g.padding);
                        let ix = (ox * g.stride + kx).checked_sub(g.padding);
                        if let (Some(iy), Some(ix)) = (iy, ix) {
                            if iy < hw && ix < hw {
                                out[oy * o + ox] += w[ky * k + kx] * img[iy * hw + ix];
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// 3×3 ones over the image 1..9 with padding 1: a corner sees its 2×2 block, an edge
    /// pixel 2×3, the centre everything.
    #[test]
    fn border_pixels_match_hand_computed_values() {
        let g = dims(3, 3, 1, 1);
        let img: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        let mut out = vec![0.0; 9];
        convolve_plane(&img, &[1.0; 9], 0.5, Activation::Identity, &g, &mut out);
        assert_eq!(out[0], 12.5); // 1 + 2 + 4 + 5
        assert_eq!(out[1], 21.5); // 1 + 2 + 3 + 4 + 5 + 6
        assert_eq!(out[4], 45.5);
        assert_eq!(out[8], 28.5); // 5 + 6 + 8 + 9
    }

    /// Every path (borders, wide and narrow blocks, single columns; unit and larger strides;
    /// padding wider than the kernel; a kernel as large as the padded image) against the plain
    /// definition.
    #[test]
    fn planes_match_the_plain_definition() {
        for (hw, k, s, p) in [
            (45, 3, 1, 1),
            (70, 3, 1, 0),
            (11, 5, 2, 2),
            (57, 3, 2, 1),
            // Stride 2 whose last blocks' loads would pass the row's end: narrower blocks.
            (33, 3, 2, 0),
            (9, 3, 3, 4),
            (4, 6, 1, 1),
            (1, 1, 1, 0),
            (40, 7, 1, 3),
        ] {
            let g = dims(hw, k, s, p);
            let img: Vec<f32> = (0..hw * hw)
                .map(|i| ((i * 7) % 19) as f32 * 0.1 - 0.9)
                .collect();
            let w: Vec<f32> = (0..k * k)
                .map(|i| ((i * 5) % 7) as f32 * 0.25 - 0.75)
                .collect();
            let want = naive(&img, &w, 0.25, &g);
            let mut out = vec![f32::NAN; g.out_pixels()];
            convolve_plane(&img, &w, 0.25, Activation::Relu6, &g, &mut out);
            for (i, (&got, &want)) in out.iter().zip(&want).enumerate() {
                let want = want.clamp(0.0, 6.0);
                assert!(
                    (got - want).abs() < 1e-5,
                    "{hw} {k} {s} {p} at {i}: {got} vs {want}"
                );
            }
        }
    }
}
