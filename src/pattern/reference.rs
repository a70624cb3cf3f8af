//! Deterministic inputs for each pattern and the f64 reference its kernels are checked against.
//!
//! Outputs are viewed as a row-major matrix (see [`Pattern::output_rows_cols`]). The reference
//! computes whole rows in f64; verification checks every row of small outputs and a sample of
//! rows (first, last and random ones) of large ones, so no f64 reference ever costs more than a
//! fraction of the measurement itself.

use super::{Family, Pattern, Shape};
use crate::dtype::DType;
use rand::{rngs::SmallRng, Rng, SeedableRng};

/// Batch-norm parameters (inference form) for the conv patterns.
#[derive(Clone, Debug)]
pub struct BatchNorm {
    /// Scale γ per output channel.
    pub gamma: Vec<f32>,
    /// Shift β per output channel.
    pub beta: Vec<f32>,
    /// Running mean per output channel.
    pub mean: Vec<f32>,
    /// Running variance per output channel.
    pub var: Vec<f32>,
    /// ε added to the variance.
    pub eps: f32,
}

impl BatchNorm {
    /// Per-channel `(scale, shift)` with `bn(x) = scale·x + shift`, computed in f64.
    pub fn scale_shift(&self) -> (Vec<f64>, Vec<f64>) {
        let scale: Vec<f64> = self
            .gamma
            .iter()
            .zip(&self.var)
            .map(|(&g, &v)| g as f64 / (v as f64 + self.eps as f64).sqrt())
            .collect();
        let shift = scale
            .iter()
            .zip(self.beta.iter().zip(&self.mean))
            .map(|(&s, (&b, &m))| b as f64 - m as f64 * s)
            .collect();
        (scale, shift)
    }
}

/// Host-side inputs of one pattern measurement, generated deterministically.
#[derive(Clone, Debug)]
pub enum Inputs {
    /// `x (m×k)`, `w (k×n)` row-major, `bias (n)`.
    Linear {
        /// Activations.
        x: Vec<f32>,
        /// Weights, k×n.
        w: Vec<f32>,
        /// Bias per output feature.
        bias: Vec<f32>,
    },
    /// NCHW input, `w (cout, cin, k, k)`, bias per output channel, batch-norm parameters.
    Conv {
        /// Input image batch.
        x: Vec<f32>,
        /// Filters.
        w: Vec<f32>,
        /// Conv bias (used by `Conv2d_ReLU`).
        bias: Vec<f32>,
        /// Batch-norm (used by the `_BN` patterns).
        bn: BatchNorm,
    },
    /// Q, K, V, each `(batch, seq, dim)`.
    Attention {
        /// Queries.
        q: Vec<f32>,
        /// Keys.
        k: Vec<f32>,
        /// Values.
        v: Vec<f32>,
    },
}

fn uniform(rng: &mut SmallRng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(lo..hi)).collect()
}

impl Inputs {
    /// Generates inputs for `shape` from `seed` (values uniform in [-1, 1); variances in
    /// [0.5, 1.5]).
    pub fn generate(shape: &Shape, seed: u64) -> Inputs {
        let mut rng = SmallRng::seed_from_u64(seed);
        match *shape {
            Shape::Linear { m, k, n } => Inputs::Linear {
                x: uniform(&mut rng, m * k, -1.0, 1.0),
                w: uniform(&mut rng, k * n, -1.0, 1.0),
                bias: uniform(&mut rng, n, -1.0, 1.0),
            },
            Shape::Conv {
                batch,
                cin,
                cout,
                hw,
                kernel,
                ..
            } => Inputs::Conv {
                x: uniform(&mut rng, batch * cin * hw * hw, -1.0, 1.0),
                w: uniform(&mut rng, cout * cin * kernel * kernel, -1.0, 1.0),
                bias: uniform(&mut rng, cout, -1.0, 1.0),
                bn: BatchNorm {
                    gamma: uniform(&mut rng, cout, 0.5, 1.5),
                    beta: uniform(&mut rng, cout, -1.0, 1.0),
                    mean: uniform(&mut rng, cout, -0.5, 0.5),
                    var: uniform(&mut rng, cout, 0.5, 1.5),
                    eps: 1e-5,
                },
            },
            Shape::Attention { batch, seq, dim } => Inputs::Attention {
                q: uniform(&mut rng, batch * seq * dim, -1.0, 1.0),
                k: uniform(&mut rng, batch * seq * dim, -1.0, 1.0),
                v: uniform(&mut rng, batch * seq * dim, -1.0, 1.0),
            },
        }
    }

    /// The element type of the inputs (and of the outputs kernels compute from them).
    pub fn dtype(&self) -> DType {
        DType::F32
    }

    /// The family these inputs are for.
    pub fn family(&self) -> Family {
        match self {
            Inputs::Linear { .. } => Family::Linear,
            Inputs::Conv { .. } => Family::Conv,
            Inputs::Attention { .. } => Family::Attention,
        }
    }
}

/// The f64 reference of one pattern at one shape.
pub struct Reference<'a> {
    pattern: Pattern,
    shape: Shape,
    inputs: &'a Inputs,
}

impl<'a> Reference<'a> {
    /// A reference for `pattern` at `shape` over `inputs`.
    pub fn new(pattern: Pattern, shape: Shape, inputs: &'a Inputs) -> crate::Result<Self> {
        pattern.check_shape(&shape)?;
        if inputs.family() != pattern.family() {
            return Err(crate::Error::usage(format!(
                "inputs of the {} family given to {}",
                inputs.family().name(),
                pattern.name()
            )));
        }
        Ok(Reference {
            pattern,
            shape,
            inputs,
        })
    }

    /// Output viewed as rows × columns.
    pub fn rows_cols(&self) -> (usize, usize) {
        self.pattern.output_rows_cols(&self.shape)
    }

    /// Multiply-adds needed for one reference row (used to size the row sample).
    pub fn macs_per_row(&self) -> usize {
        match self.shape {
            Shape::Linear { k, n, .. } => k * n,
            Shape::Conv { cin, kernel, .. } => {
                let (_, cols) = self.rows_cols();
                cols * cin * kernel * kernel
            }
            Shape::Attention { seq, dim, .. } => 2 * seq * dim,
        }
    }

    /// Row `r` of the output, in f64.
    pub fn row(&self, r: usize) -> Vec<f64> {
        let act = self.pattern.activation();
        match (self.shape, self.inputs) {
            (Shape::Linear { k, n, .. }, Inputs::Linear { x, w, bias }) => {
                let mut out = vec![0.0f64; n];
                for kk in 0..k {
                    let a = x[r * k + kk] as f64;
                    for (o, &b) in out.iter_mut().zip(&w[kk * n..(kk + 1) * n]) {
                        *o += a * b as f64;
                    }
                }
                out.iter_mut()
                    .zip(bias)
                    .for_each(|(o, &b)| *o = act.reference(*o + b as f64));
                out
            }
            (
                Shape::Conv {
                    cin,
                    cout,
                    hw,
                    kernel,
                    stride,
                    padding,
                    ..
                },
                Inputs::Conv { x, w, bias, bn },
            ) => {
                let (b, co) = (r / cout, r % cout);
                let oh = self.shape.conv_out_hw();
                let mut out = vec![0.0f64; oh * oh];
                for ci in 0..cin {
                    let img = &x[(b * cin + ci) * hw * hw..][..hw * hw];
                    for ky in 0..kernel {
                        for kx in 0..kernel {
                            let wv = w[((co * cin + ci) * kernel + ky) * kernel + kx] as f64;
                            for oy in 0..oh {
                                let iy = (oy * stride + ky) as isize - padding as isize;
                                if iy < 0 || iy >= hw as isize {
                                    continue;
                                }
                                for ox in 0..oh {
                                    let ix = (ox * stride + kx) as isize - padding as isize;
                                    if ix >= 0 && ix < hw as isize {
                                        out[oy * oh + ox] +=
                                            wv * img[iy as usize * hw + ix as usize] as f64;
                                    }
                                }
                            }
                        }
                    }
                }
                let (scale, shift) = if self.pattern.has_batch_norm() {
                    let (s, t) = bn.scale_shift();
                    (s[co], t[co])
                } else {
                    (1.0, bias[co] as f64)
                };
                out.iter_mut()
                    .for_each(|o| *o = act.reference(*o * scale + shift));
                out
            }
            (Shape::Attention { seq, dim, .. }, Inputs::Attention { q, k, v }) => {
                let (b, i) = (r / seq, r % seq);
                let base = b * seq * dim;
                let qi = &q[base + i * dim..][..dim];
                let scale = 1.0 / (dim as f64).sqrt();
                let mut s: Vec<f64> = (0..seq)
                    .map(|j| {
                        let kj = &k[base + j * dim..][..dim];
                        qi.iter()
                            .zip(kj)
                            .map(|(&a, &c)| a as f64 * c as f64)
                            .sum::<f64>()
                            * scale
                    })
                    .collect();
                let epilogue = self.pattern.epilogue();
                if !epilogue.softmax {
                    return s;
                }
                let max = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                s.iter_mut().for_each(|x| *x = (*x - max).exp());
                let sum: f64 = s.iter().sum();
                s.iter_mut().for_each(|x| *x /= sum);
                if !epilogue.value_matmul {
                    return s;
                }
                let mut out = vec![0.0f64; dim];
                for (j, &p) in s.iter().enumerate() {
                    let vj = &v[base + j * dim..][..dim];
                    out.iter_mut()
                        .zip(vj)
                        .for_each(|(o, &x)| *o += p * x as f64);
                }
                out
            }
            _ => unreachable!("Reference::new checked that inputs match the shape"),
        }
    }

    /// Relative and absolute tolerance for kernels of this pattern computing in `dtype`
    /// ([`DType::tolerance`] at the pattern's reduction length).
    pub fn tolerance(&self, dtype: DType) -> (f64, f64) {
        let reduction = match self.shape {
            Shape::Linear { k, .. } => k,
            Shape::Conv { cin, kernel, .. } => cin * kernel * kernel,
            Shape::Attention { seq, dim, .. } => seq.max(dim),
        };
        dtype.tolerance(reduction)
    }
}

/// Rows to verify: all of them when `rows × macs_per_row` is within `budget` multiply-adds,
/// otherwise the first, the last and evenly spread pseudo-random ones up to the budget
/// (at least 8).
pub fn verification_rows(rows: usize, macs_per_row: usize, budget: usize, seed: u64) -> Vec<usize> {
    let affordable = (budget / macs_per_row.max(1)).max(8);
    if rows <= affordable {
        return (0..rows).collect();
    }
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut picked = vec![0, rows - 1];
    // One random row per stripe, so every part of the output is covered.
    let stripes = affordable - 2;
    for s in 0..stripes {
        let lo = 1 + s * (rows - 2) / stripes;
        let hi = (1 + (s + 1) * (rows - 2) / stripes).max(lo + 1);
        picked.push(rng.gen_range(lo..hi).min(rows - 2));
    }
    picked.sort_unstable();
    picked.dedup();
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conv_reference_matches_a_hand_computed_pixel() {
        let shape = Shape::conv3x3(1, 1, 1, 3);
        let inputs = Inputs::Conv {
            x: (1..=9).map(|v| v as f32).collect(),
            w: vec![1.0; 9],
            bias: vec![0.5],
            bn: BatchNorm {
                gamma: vec![1.0],
                beta: vec![0.0],
                mean: vec![0.0],
                var: vec![1.0],
                eps: 0.0,
            },
        };
        let r = Reference::new(Pattern::Conv2dRelu, shape, &inputs).unwrap();
        let row = r.row(0);
        // Centre pixel sees the whole image; a corner sees a 2x2 block (1+2+4+5).
        assert_eq!(row[4], 45.5);
        assert_eq!(row[0], 12.5);
    }

    #[test]
    fn softmax_rows_sum_to_one_and_attention_is_a_convex_mix() {
        let shape = Shape::Attention {
            batch: 2,
            seq: 5,
            dim: 3,
        };
        let inputs = Inputs::generate(&shape, 7);
        let sm = Reference::new(Pattern::QkSoftmax, shape, &inputs).unwrap();
        for r in 0..10 {
            let s: f64 = sm.row(r).iter().sum();
            assert!((s - 1.0).abs() < 1e-12);
        }
        let full = Reference::new(Pattern::FullAttention, shape, &inputs).unwrap();
        assert_eq!(full.row(3).len(), 3);
        assert!(full.row(3).iter().all(|x| x.abs() <= 1.0));
    }

    #[test]
    fn mismatched_inputs_are_rejected() {
        let lin = Shape::Linear { m: 2, k: 2, n: 2 };
        let att = Inputs::generate(
            &Shape::Attention {
                batch: 1,
                seq: 2,
                dim: 2,
            },
            1,
        );
        assert!(Reference::new(Pattern::LinearBias, lin, &att).is_err());
        assert!(Pattern::Conv2dBn.check_shape(&lin).is_err());
    }

    #[test]
    fn row_sample_covers_ends_and_stays_in_range() {
        assert_eq!(verification_rows(5, 10, 1000, 1), vec![0, 1, 2, 3, 4]);
        let rows = verification_rows(10_000, 1_000_000, 32_000_000, 1);
        assert!(rows.len() >= 8 && rows.len() <= 32);
        assert_eq!(rows[0], 0);
        assert_eq!(*rows.last().unwrap(), 9_999);
        assert!(rows.windows(2).all(|w| w[0] < w[1]));
    }
}
