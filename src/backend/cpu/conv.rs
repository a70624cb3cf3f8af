//! The Conv family: 2-D convolution (NCHW, im2col + GEMM) with bias/batch-norm, a residual add
//! and an activation.
//!
//! Unfused: one kernel per operator of the pattern: convolution (with its bias unless a
//! batch-norm follows), then a batch-norm pass, a residual add, an activation pass, each over
//! the whole output. Fused: batch-norm folded into the filters and a per-channel shift when the
//! workload is prepared (as inference compilers do), then the same im2col + GEMM with the
//! shift, the residual (read tile by tile, each image's slice laid out as its GEMM's C) and the
//! activation applied in the GEMM epilogue.

use super::activation::Activation;
use super::elementwise;
use super::gemm::{sgemm, BLayout, Bias, Epilogue, Parallelism, Residual};
use super::Outputs;
use crate::backend::{check_operators, Activations, Prepared, Variant};
use crate::dtype::HostBuffer;
use crate::pattern::{BatchNorm, ConvDims, FoldedFilters, Op, Pattern, Shape};
use crate::{Error, Result};
use rayon::prelude::*;
use std::time::{Duration, Instant};

/// One Conv pattern at one shape.
pub struct ConvWork {
    pattern: Pattern,
    shape: Shape,
    x: Vec<f32>,
    w: Vec<f32>,
    bias: Vec<f32>,
    bn_scale: Vec<f32>,
    bn_shift: Vec<f32>,
    /// The residual (the output's shape) of the patterns that add one, else empty.
    residual: Vec<f32>,
    folded_w: Vec<f32>,
    folded_shift: Vec<f32>,
    col: Vec<f32>,
    outputs: Outputs,
}

fn dims(shape: &Shape) -> ConvDims {
    shape.conv_dims().expect("prepare checked the family")
}

impl ConvWork {
    /// Copies the inputs and folds batch-norm into a second set of filters. `residual` is
    /// required by the patterns that add one, and ignored otherwise.
    pub fn new(
        pattern: Pattern,
        shape: Shape,
        x: &[f32],
        w: &[f32],
        bias: &[f32],
        bn: &BatchNorm,
        residual: Option<&[f32]>,
    ) -> Result<Self> {
        check_operators(
            pattern,
            "the CPU conv kernels",
            &[Op::Conv2d, Op::BatchNorm, Op::Add],
            Activations::Any,
        )?;
        let residual = match residual {
            Some(r) if pattern.epilogue().residual => r.to_vec(),
            None if pattern.epilogue().residual => {
                return Err(Error::usage(format!(
                    "{}: the CPU conv kernels need the residual input",
                    pattern.name()
                )))
            }
            _ => Vec::new(),
        };
        let g = dims(&shape);
        let red = g.reduction();
        let FoldedFilters {
            bn_scale,
            bn_shift,
            filters: folded_w,
            shift: folded_shift,
        } = FoldedFilters::new(pattern.has_batch_norm(), bn, w, bias, red);
        let out_len = g.batch * g.cout * g.out_pixels();
        Ok(ConvWork {
            pattern,
            shape,
            x: x.to_vec(),
            w: w.to_vec(),
            bias: bias.to_vec(),
            bn_scale,
            bn_shift,
            residual,
            folded_w,
            folded_shift,
            col: vec![0.0; red * g.out_pixels()],
            outputs: Outputs::new(out_len),
        })
    }

    /// Convolution of every image: im2col, then `out = W·col` with `epilogue`.
    fn convolve(&mut self, fused: bool, out: &mut [f32]) {
        let g = dims(&self.shape);
        let (red, pix) = (g.reduction(), g.out_pixels());
        let out_len = g.cout * pix;
        for b in 0..g.batch {
            im2col(
                &g,
                &self.x[b * g.image_len()..][..g.image_len()],
                &mut self.col,
            );
            let (w, epilogue) = if fused {
                (
                    &self.folded_w,
                    Epilogue {
                        alpha: 1.0,
                        bias: Bias::PerRow(&self.folded_shift),
                        // This image's residual is `cout × pixels`, like its GEMM's C.
                        residual: self.pattern.epilogue().residual.then(|| Residual {
                            values: &self.residual[b * out_len..][..out_len],
                            ld: pix,
                        }),
                        activation: self.pattern.activation(),
                    },
                )
            } else if self.pattern.has_batch_norm() {
                (&self.w, Epilogue::NONE)
            } else {
                // The conv operator owns its bias; only the activation is a separate kernel.
                (
                    &self.w,
                    Epilogue {
                        alpha: 1.0,
                        bias: Bias::PerRow(&self.bias),
                        residual: None,
                        activation: Activation::Identity,
                    },
                )
            };
            sgemm(
                g.cout,
                pix,
                red,
                w,
                red,
                &self.col,
                pix,
                BLayout::RowMajor,
                &mut out[b * out_len..][..out_len],
                pix,
                &epilogue,
                Parallelism::Rayon,
            );
        }
    }
}

/// Unfolds one NCHW image into a `(cin·k·k) × (oh·ow)` matrix, zero-padded.
fn im2col(g: &ConvDims, img: &[f32], col: &mut [f32]) {
    let (k, hw, oh, pix) = (g.kernel, g.hw, g.out_hw, g.out_pixels());
    col.par_chunks_mut(pix).enumerate().for_each(|(r, dst)| {
        let (ci, ky, kx) = (r / (k * k), (r / k) % k, r % k);
        let src = &img[ci * hw * hw..][..hw * hw];
        for oy in 0..oh {
            let iy = (oy * g.stride + ky) as isize - g.padding as isize;
            let row = &mut dst[oy * oh..(oy + 1) * oh];
            if iy < 0 || iy >= hw as isize {
                row.fill(0.0);
                continue;
            }
            let srow = &src[iy as usize * hw..][..hw];
            for (ox, d) in row.iter_mut().enumerate() {
                let ix = (ox * g.stride + kx) as isize - g.padding as isize;
                *d = if ix >= 0 && ix < hw as isize {
                    srow[ix as usize]
                } else {
                    0.0
                };
            }
        }
    });
}

impl Prepared for ConvWork {
    fn run(&mut self, variant: Variant) -> Result<Duration> {
        let fused = variant == Variant::Fused;
        let mut out = self.outputs.take(variant);
        let pix = dims(&self.shape).out_pixels();
        let t = Instant::now();
        if fused {
            self.convolve(true, &mut out);
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
                    (Op::Add, _) => elementwise::add_residual(&mut out, &self.residual),
                    // Op::Conv2d: `new` checked that there is nothing else.
                    _ => self.convolve(false, &mut out),
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
    use crate::dtype::DType;
    use crate::pattern::{InputSlices, Inputs, Reference};
    use crate::stats::check_tolerance;

    /// Both variants of `Conv2d_BN_Add_ReLU` against the f64 reference with a reduction
    /// (`cin·3·3 = 1080`) past every kernel's K block, so the residual is added on the last of
    /// several; two images, each with its own slice of the residual.
    #[test]
    fn residual_pattern_verifies_past_one_k_block() {
        let pattern = Pattern::Conv2dBnAddRelu;
        let shape = Shape::conv3x3(2, 120, 5, 6);
        let inputs = Inputs::generate(pattern, &shape, 5);
        let InputSlices::Conv {
            x,
            w,
            bias,
            bn,
            residual,
        } = inputs.slices(pattern, &shape).unwrap()
        else {
            unreachable!("a conv shape has conv inputs")
        };
        let mut work = ConvWork::new(pattern, shape, x, w, bias, bn, residual).unwrap();
        let reference = Reference::new(pattern, shape, &inputs).unwrap();
        let want: Vec<f64> = (0..2 * 5).flat_map(|r| reference.row(r).to_vec()).collect();
        let (rtol, atol) = reference.tolerance(DType::F32);
        for variant in [Variant::Unfused, Variant::Fused] {
            work.run(variant).unwrap();
            let got = work.output(variant).unwrap().into_f32("test").unwrap();
            let c = check_tolerance(&got, &want, rtol, atol);
            assert!(c.passed, "{variant:?}: {}", c.describe());
        }
    }
}
