//! Deterministic inputs for each pattern and the f64 reference its kernels are checked against.
//!
//! Inputs are `ndarray` arrays that carry their shapes (`x` is `m×k`, a conv input
//! `B×C×H×W`, Q/K/V `B×S×D`); [`Inputs::check`] compares them with the pattern's [`Shape`],
//! so a mismatch is an error, never a silent misread, and kernels take contiguous slices from
//! them ([`contiguous`]). Outputs are viewed as a row-major matrix (see
//! [`Pattern::output_rows_cols`]). The reference computes whole rows in f64; verification
//! checks every row of small outputs and a sample of rows (first, last and random ones) of
//! large ones, so no f64 reference ever costs more than a fraction of the measurement itself.
//! The matmul calibration's reference ([`matmul_row`]) and the STREAM arrays' expected values
//! ([`stream_init`], [`stream_expected`]) live here too: every f64 reference in one place.

use super::{Family, Norm, Pattern, Shape};
use crate::dtype::DType;
use crate::{Error, Result};
use ndarray::{
    s, Array, Array1, Array2, Array3, Array4, ArrayBase, ArrayView2, Data, Dimension, ShapeBuilder,
};
use rand::{rngs::SmallRng, Rng, SeedableRng};

/// Batch-norm parameters (inference form) for the conv patterns, one per output channel.
#[derive(Clone, Debug)]
pub struct BatchNorm {
    /// Scale γ per output channel.
    pub gamma: Array1<f32>,
    /// Shift β per output channel.
    pub beta: Array1<f32>,
    /// Running mean per output channel.
    pub mean: Array1<f32>,
    /// Running variance per output channel.
    pub var: Array1<f32>,
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

/// A convolution's per-channel parameters, prepared once for both variants: the batch-norm's
/// scale and shift for the unfused pass, and the filters and shift the fused kernel reads,
/// with the batch-norm folded into them (in f64, as inference compilers do) or, without one,
/// the filters and the conv bias as they are.
#[derive(Clone, Debug)]
pub struct FoldedFilters {
    /// Batch-norm scale per channel (the unfused pass).
    pub bn_scale: Vec<f32>,
    /// Batch-norm shift per channel (the unfused pass).
    pub bn_shift: Vec<f32>,
    /// The filters the fused kernel reads.
    pub filters: Vec<f32>,
    /// The shift per channel the fused kernel adds.
    pub shift: Vec<f32>,
}

impl FoldedFilters {
    /// Folds `bn` into `w` (one filter of `filter_len` values per output channel) when
    /// `fold`, else keeps `w` and `bias`.
    pub fn new(fold: bool, bn: &BatchNorm, w: &[f32], bias: &[f32], filter_len: usize) -> Self {
        let (scale, shift) = bn.scale_shift();
        let narrow = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
        let (filters, folded_shift) = if fold {
            let filters = w
                .chunks(filter_len.max(1))
                .zip(&scale)
                .flat_map(|(filter, &s)| filter.iter().map(move |&v| (v as f64 * s) as f32))
                .collect();
            (filters, narrow(&shift))
        } else {
            (w.to_vec(), bias.to_vec())
        };
        FoldedFilters {
            bn_scale: narrow(&scale),
            bn_shift: narrow(&shift),
            filters,
            shift: folded_shift,
        }
    }
}

/// Host-side inputs of one pattern measurement, generated deterministically.
#[derive(Clone, Debug)]
pub enum Inputs {
    /// `x (m×k)`, `w (k×n)`, `bias (n)`; a residual `m×n` and a second weight matrix `k×n`
    /// for the patterns that read them.
    Linear {
        /// Activations, `m×k`.
        x: Array2<f32>,
        /// Weights, `k×n` (SwiGLU's gate projection).
        w: Array2<f32>,
        /// Bias per output feature, `n`.
        bias: Array1<f32>,
        /// The residual added to the output (`Linear_Bias_Add`), `m×n`.
        residual: Option<Array2<f32>>,
        /// SwiGLU's up projection, `k×n`.
        w_up: Option<Array2<f32>>,
    },
    /// NCHW input, `w (cout, cin, k, k)`, bias per output channel, batch-norm parameters.
    Conv {
        /// Input image batch, `B×Cin×H×W`.
        x: Array4<f32>,
        /// Filters, `Cout×Cin×k×k`.
        w: Array4<f32>,
        /// Conv bias (used by `Conv2d_ReLU`), `Cout`.
        bias: Array1<f32>,
        /// Batch-norm (used by the `_BN` patterns).
        bn: BatchNorm,
        /// The residual added before the activation (`Conv2d_BN_Add_ReLU`), `B×Cout×OH×OW`.
        residual: Option<Array4<f32>>,
    },
    /// `x` and the residual `r` (`rows×hidden` each), the norm's scale γ and shift β
    /// (`hidden`).
    Norm {
        /// The input, `rows×hidden`.
        x: Array2<f32>,
        /// The residual added to it, `rows×hidden`.
        residual: Array2<f32>,
        /// Scale per element of a row.
        gamma: Array1<f32>,
        /// Shift per element of a row (LayerNorm).
        beta: Array1<f32>,
        /// ε added to the variance (mean square).
        eps: f32,
    },
    /// NCHW input, one `k×k` filter per channel, bias and batch-norm per channel.
    Depthwise {
        /// Input image batch, `B×C×H×W`.
        x: Array4<f32>,
        /// Filters, `C×k×k`.
        w: Array3<f32>,
        /// Bias per channel (when no batch-norm follows), `C`.
        bias: Array1<f32>,
        /// Batch-norm (used by the `_BN` patterns).
        bn: BatchNorm,
    },
    /// Q, K, V, each `B×S×D`.
    Attention {
        /// Queries.
        q: Array3<f32>,
        /// Keys.
        k: Array3<f32>,
        /// Values.
        v: Array3<f32>,
    },
}

/// An array of `shape` with elements uniform in `[lo, hi)`, drawn in row-major order.
fn uniform<Sh: ShapeBuilder>(
    rng: &mut SmallRng,
    shape: Sh,
    lo: f32,
    hi: f32,
) -> Array<f32, Sh::Dim> {
    Array::from_shape_simple_fn(shape, || rng.gen_range(lo..hi))
}

/// The elements of `a` as one row-major slice, or an error naming `what` when the array is
/// not in standard layout (kernels index it as row-major memory).
pub fn contiguous<'a, S, D>(a: &'a ArrayBase<S, D>, what: &str) -> Result<&'a [f32]>
where
    S: Data<Elem = f32>,
    D: Dimension,
{
    a.as_slice().ok_or_else(|| {
        Error::usage(format!(
            "{what} of shape {:?} is not a contiguous row-major array",
            a.shape()
        ))
    })
}

impl Inputs {
    /// Generates the inputs `pattern` reads at `shape` from `seed` (values uniform in
    /// [-1, 1); variances in [0.5, 1.5]; norm scales in [0.5, 1.5]). Tensors only some
    /// patterns of a family read (a residual, a second weight matrix) are generated for those.
    pub fn generate(pattern: Pattern, shape: &Shape, seed: u64) -> Inputs {
        let mut rng = SmallRng::seed_from_u64(seed);
        let e = pattern.epilogue();
        let bn = |rng: &mut SmallRng, c: usize| BatchNorm {
            gamma: uniform(rng, c, 0.5, 1.5),
            beta: uniform(rng, c, -1.0, 1.0),
            mean: uniform(rng, c, -0.5, 0.5),
            var: uniform(rng, c, 0.5, 1.5),
            eps: 1e-5,
        };
        match *shape {
            Shape::Linear { m, k, n } => Inputs::Linear {
                x: uniform(&mut rng, (m, k), -1.0, 1.0),
                w: uniform(&mut rng, (k, n), -1.0, 1.0),
                bias: uniform(&mut rng, n, -1.0, 1.0),
                residual: e.residual.then(|| uniform(&mut rng, (m, n), -1.0, 1.0)),
                w_up: e.gate.then(|| uniform(&mut rng, (k, n), -1.0, 1.0)),
            },
            Shape::Conv {
                batch,
                cin,
                cout,
                hw,
                kernel,
                ..
            } => {
                let o = shape.conv_out_hw();
                Inputs::Conv {
                    x: uniform(&mut rng, (batch, cin, hw, hw), -1.0, 1.0),
                    w: uniform(&mut rng, (cout, cin, kernel, kernel), -1.0, 1.0),
                    bias: uniform(&mut rng, cout, -1.0, 1.0),
                    bn: bn(&mut rng, cout),
                    residual: e
                        .residual
                        .then(|| uniform(&mut rng, (batch, cout, o, o), -1.0, 1.0)),
                }
            }
            Shape::Attention { batch, seq, dim } => Inputs::Attention {
                q: uniform(&mut rng, (batch, seq, dim), -1.0, 1.0),
                k: uniform(&mut rng, (batch, seq, dim), -1.0, 1.0),
                v: uniform(&mut rng, (batch, seq, dim), -1.0, 1.0),
            },
            Shape::Norm { rows, hidden } => Inputs::Norm {
                x: uniform(&mut rng, (rows, hidden), -1.0, 1.0),
                residual: uniform(&mut rng, (rows, hidden), -1.0, 1.0),
                gamma: uniform(&mut rng, hidden, 0.5, 1.5),
                beta: uniform(&mut rng, hidden, -1.0, 1.0),
                eps: 1e-5,
            },
            Shape::Depthwise {
                batch,
                channels,
                hw,
                kernel,
                ..
            } => Inputs::Depthwise {
                x: uniform(&mut rng, (batch, channels, hw, hw), -1.0, 1.0),
                w: uniform(&mut rng, (channels, kernel, kernel), -1.0, 1.0),
                bias: uniform(&mut rng, channels, -1.0, 1.0),
                bn: bn(&mut rng, channels),
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
            Inputs::Norm { .. } => Family::Norm,
            Inputs::Depthwise { .. } => Family::Depthwise,
        }
    }

    /// Fails unless every array `pattern` reads has the dimensions `shape` calls for (and the
    /// tensors kernels read are contiguous), so a kernel or the reference never reads a tensor
    /// with the wrong shape.
    pub fn check(&self, pattern: Pattern, shape: &Shape) -> Result<()> {
        self.slices(pattern, shape).map(|_| ())
    }

    /// The inputs `pattern` reads as the row-major slices kernels read, after
    /// [`Inputs::check`]'s checks.
    pub fn slices(&self, pattern: Pattern, shape: &Shape) -> Result<InputSlices<'_>> {
        pattern.check_shape(shape)?;
        let e = pattern.epilogue();
        Ok(match (self, *shape) {
            (
                Inputs::Linear {
                    x,
                    w,
                    bias,
                    residual,
                    w_up,
                },
                Shape::Linear { m, k, n },
            ) => InputSlices::Linear {
                x: tensor("input x", x, &[m, k], shape)?,
                w: tensor("weights W", w, &[k, n], shape)?,
                bias: tensor("bias", bias, &[n], shape)?,
                residual: optional(
                    "residual",
                    e.residual.then_some(residual.as_ref()),
                    &[m, n],
                    pattern,
                    shape,
                )?,
                w_up: optional(
                    "up projection W_up",
                    e.gate.then_some(w_up.as_ref()),
                    &[k, n],
                    pattern,
                    shape,
                )?,
            },
            (
                Inputs::Conv {
                    x,
                    w,
                    bias,
                    bn,
                    residual,
                },
                Shape::Conv {
                    batch,
                    cin,
                    cout,
                    hw,
                    kernel,
                    ..
                },
            ) => {
                check_bn(bn, cout, shape)?;
                let o = shape.conv_out_hw();
                InputSlices::Conv {
                    x: tensor("input image", x, &[batch, cin, hw, hw], shape)?,
                    w: tensor("filters", w, &[cout, cin, kernel, kernel], shape)?,
                    bias: tensor("conv bias", bias, &[cout], shape)?,
                    bn,
                    residual: optional(
                        "residual",
                        e.residual.then_some(residual.as_ref()),
                        &[batch, cout, o, o],
                        pattern,
                        shape,
                    )?,
                }
            }
            (Inputs::Attention { q, k, v }, Shape::Attention { batch, seq, dim }) => {
                let qkv = [batch, seq, dim];
                InputSlices::Attention {
                    q: tensor("queries Q", q, &qkv, shape)?,
                    k: tensor("keys K", k, &qkv, shape)?,
                    v: tensor("values V", v, &qkv, shape)?,
                }
            }
            (
                Inputs::Norm {
                    x,
                    residual,
                    gamma,
                    beta,
                    eps,
                },
                Shape::Norm { rows, hidden },
            ) => InputSlices::Norm {
                x: tensor("input x", x, &[rows, hidden], shape)?,
                residual: tensor("residual", residual, &[rows, hidden], shape)?,
                gamma: tensor("norm scale", gamma, &[hidden], shape)?,
                beta: tensor("norm shift", beta, &[hidden], shape)?,
                eps: *eps,
            },
            (
                Inputs::Depthwise { x, w, bias, bn },
                Shape::Depthwise {
                    batch,
                    channels,
                    hw,
                    kernel,
                    ..
                },
            ) => {
                check_bn(bn, channels, shape)?;
                InputSlices::Depthwise {
                    x: tensor("input image", x, &[batch, channels, hw, hw], shape)?,
                    w: tensor("filters", w, &[channels, kernel, kernel], shape)?,
                    bias: tensor("bias", bias, &[channels], shape)?,
                    bn,
                }
            }
            _ => {
                return Err(Error::usage(format!(
                    "inputs of the {} family given for the {} shape {}",
                    self.family().name(),
                    shape.family().name(),
                    shape.label()
                )))
            }
        })
    }
}

/// A tensor only some patterns read: `None` when `pattern` does not (`wanted` is `None`), its
/// slice when it does and the inputs have it, an error naming it when they do not.
fn optional<'a, S, D>(
    what: &str,
    wanted: Option<Option<&'a ArrayBase<S, D>>>,
    expected: &[usize],
    pattern: Pattern,
    shape: &Shape,
) -> Result<Option<&'a [f32]>>
where
    S: Data<Elem = f32>,
    D: Dimension,
{
    match wanted {
        None => Ok(None),
        Some(Some(a)) => tensor(what, a, expected, shape).map(Some),
        Some(None) => Err(Error::usage(format!(
            "{} reads a {what}, and its inputs have none",
            pattern.name()
        ))),
    }
}

/// Fails unless every batch-norm parameter has one value per channel.
fn check_bn(bn: &BatchNorm, channels: usize, shape: &Shape) -> Result<()> {
    for (what, p) in [
        ("batch-norm gamma", &bn.gamma),
        ("batch-norm beta", &bn.beta),
        ("batch-norm mean", &bn.mean),
        ("batch-norm variance", &bn.var),
    ] {
        dims(what, p.shape(), &[channels], shape)?;
    }
    Ok(())
}

/// A pattern's inputs as row-major slices ([`Inputs::slices`]).
#[derive(Clone, Copy, Debug)]
pub enum InputSlices<'a> {
    /// `x (m×k)`, `w (k×n)`, `bias (n)`, and the residual and up projection of the patterns
    /// that read them.
    Linear {
        /// Activations.
        x: &'a [f32],
        /// Weights (SwiGLU: the gate projection).
        w: &'a [f32],
        /// Bias per output feature.
        bias: &'a [f32],
        /// The residual (`m×n`), if the pattern adds one.
        residual: Option<&'a [f32]>,
        /// The up projection (`k×n`), if the pattern is gated.
        w_up: Option<&'a [f32]>,
    },
    /// NCHW input, filters, conv bias, batch-norm, and the residual of the patterns that add
    /// one.
    Conv {
        /// Input image batch.
        x: &'a [f32],
        /// Filters.
        w: &'a [f32],
        /// Conv bias.
        bias: &'a [f32],
        /// Batch-norm parameters.
        bn: &'a BatchNorm,
        /// The residual (the output's shape), if the pattern adds one.
        residual: Option<&'a [f32]>,
    },
    /// Q, K, V.
    Attention {
        /// Queries.
        q: &'a [f32],
        /// Keys.
        k: &'a [f32],
        /// Values.
        v: &'a [f32],
    },
    /// `x` and the residual (`rows×hidden`), γ and β (`hidden`), ε.
    Norm {
        /// The input.
        x: &'a [f32],
        /// The residual.
        residual: &'a [f32],
        /// Scale per element of a row.
        gamma: &'a [f32],
        /// Shift per element of a row (LayerNorm only).
        beta: &'a [f32],
        /// ε.
        eps: f32,
    },
    /// NCHW input, `C×k×k` filters, bias and batch-norm per channel.
    Depthwise {
        /// Input image batch.
        x: &'a [f32],
        /// Filters.
        w: &'a [f32],
        /// Bias per channel.
        bias: &'a [f32],
        /// Batch-norm parameters.
        bn: &'a BatchNorm,
    },
}

/// Fails unless `got` is `expected`, naming the tensor and the shape that needs it.
fn dims(what: &str, got: &[usize], expected: &[usize], shape: &Shape) -> Result<()> {
    if got == expected {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "{what} has shape {got:?}, {} needs {expected:?}",
            shape.label()
        )))
    }
}

/// `a` as a row-major slice, after checking it has the dimensions `expected`.
fn tensor<'a, S, D>(
    what: &str,
    a: &'a ArrayBase<S, D>,
    expected: &[usize],
    shape: &Shape,
) -> Result<&'a [f32]>
where
    S: Data<Elem = f32>,
    D: Dimension,
{
    dims(what, a.shape(), expected, shape)?;
    contiguous(a, what)
}

/// The f64 reference of one pattern at one shape.
#[derive(Debug)]
pub struct Reference<'a> {
    pattern: Pattern,
    shape: Shape,
    inputs: &'a Inputs,
    /// Conv: the per-channel `(scale, shift)` each output row ends with (batch-norm's, or
    /// 1 and the conv bias), computed once.
    channel_affine: (Vec<f64>, Vec<f64>),
}

impl<'a> Reference<'a> {
    /// A reference for `pattern` at `shape` over `inputs` (checked against the shape).
    pub fn new(pattern: Pattern, shape: Shape, inputs: &'a Inputs) -> Result<Self> {
        pattern.check_shape(&shape)?;
        if inputs.family() != pattern.family() {
            return Err(Error::usage(format!(
                "inputs of the {} family given to {}",
                inputs.family().name(),
                pattern.name()
            )));
        }
        inputs.check(pattern, &shape)?;
        let channel_affine = match inputs {
            Inputs::Conv { bn, .. } | Inputs::Depthwise { bn, .. } if pattern.has_batch_norm() => {
                bn.scale_shift()
            }
            Inputs::Conv { bias, .. } | Inputs::Depthwise { bias, .. } => (
                vec![1.0; bias.len()],
                bias.iter().map(|&b| b as f64).collect(),
            ),
            _ => (Vec::new(), Vec::new()),
        };
        Ok(Reference {
            pattern,
            shape,
            inputs,
            channel_affine,
        })
    }

    /// Output viewed as rows × columns.
    pub fn rows_cols(&self) -> (usize, usize) {
        self.pattern.output_rows_cols(&self.shape)
    }

    /// Multiply-adds needed for one reference row (used to size the row sample).
    pub fn macs_per_row(&self) -> usize {
        let (_, cols) = self.rows_cols();
        match self.shape {
            Shape::Linear { k, n, .. } if self.pattern.epilogue().gate => 2 * k * n,
            Shape::Linear { k, n, .. } => k * n,
            Shape::Conv { cin, kernel, .. } => cols * cin * kernel * kernel,
            Shape::Depthwise { kernel, .. } => cols * kernel * kernel,
            Shape::Attention { seq, dim, .. } => 2 * seq * dim,
            Shape::Norm { hidden, .. } => 4 * hidden,
        }
    }

    /// Row `r` of the output, in f64.
    pub fn row(&self, r: usize) -> Array1<f64> {
        let e = self.pattern.epilogue();
        let act = e.activation;
        match (self.shape, self.inputs) {
            (
                Shape::Linear { .. },
                Inputs::Linear {
                    x,
                    w,
                    bias,
                    residual,
                    w_up,
                },
            ) => {
                let xr = x.row(r);
                let product = |w: &Array2<f32>| {
                    let mut out = Array1::<f64>::zeros(w.ncols());
                    for (&a, w_row) in xr.iter().zip(w.rows()) {
                        let a = a as f64;
                        out.zip_mut_with(&w_row, |o, &b| *o += a * b as f64);
                    }
                    out
                };
                let mut out = product(w);
                if e.gate {
                    let up = product(w_up.as_ref().expect("checked by Reference::new"));
                    out.zip_mut_with(&up, |g, &u| *g = act.reference(*g) * u);
                    return out;
                }
                if e.bias {
                    out.zip_mut_with(bias, |o, &b| *o += b as f64);
                }
                if let Some(res) = residual.as_ref().filter(|_| e.residual) {
                    out.zip_mut_with(&res.row(r), |o, &b| *o += b as f64);
                }
                out.mapv_inplace(|o| act.reference(o));
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
                Inputs::Conv { x, w, residual, .. },
            ) => {
                let (b, co) = (r / cout, r % cout);
                let oh = self.shape.conv_out_hw();
                let mut out = Array1::<f64>::zeros(oh * oh);
                let window = Window {
                    hw,
                    kernel,
                    stride,
                    padding,
                    oh,
                };
                for ci in 0..cin {
                    let img = x.slice(s![b, ci, .., ..]);
                    window.accumulate(&mut out, &img, |ky, kx| w[[co, ci, ky, kx]] as f64);
                }
                let (scale, shift) = (self.channel_affine.0[co], self.channel_affine.1[co]);
                out.mapv_inplace(|o| o * scale + shift);
                if let Some(res) = residual.as_ref().filter(|_| e.residual) {
                    let res = res.slice(s![b, co, .., ..]);
                    out.zip_mut_with(&Array1::from_iter(res.iter().copied()), |o, &v| {
                        *o += v as f64
                    });
                }
                out.mapv_inplace(|o| act.reference(o));
                out
            }
            (
                Shape::Depthwise {
                    channels,
                    hw,
                    kernel,
                    stride,
                    padding,
                    ..
                },
                Inputs::Depthwise { x, w, .. },
            ) => {
                let (b, c) = (r / channels, r % channels);
                let oh = self.shape.conv_out_hw();
                let mut out = Array1::<f64>::zeros(oh * oh);
                let window = Window {
                    hw,
                    kernel,
                    stride,
                    padding,
                    oh,
                };
                let img = x.slice(s![b, c, .., ..]);
                window.accumulate(&mut out, &img, |ky, kx| w[[c, ky, kx]] as f64);
                let (scale, shift) = (self.channel_affine.0[c], self.channel_affine.1[c]);
                out.mapv_inplace(|o| act.reference(o * scale + shift));
                out
            }
            (Shape::Attention { seq, dim, .. }, Inputs::Attention { q, k, v }) => {
                let (b, i) = (r / seq, r % seq);
                let qi = q.slice(s![b, i, ..]);
                let scale = 1.0 / (dim as f64).sqrt();
                // Causal: query i sees keys 0..=i only (the others get probability 0).
                let keys = if e.causal { i + 1 } else { seq };
                let mut s: Array1<f64> = k
                    .slice(s![b, ..keys, ..])
                    .rows()
                    .into_iter()
                    .map(|kj| {
                        qi.iter()
                            .zip(kj)
                            .map(|(&a, &c)| a as f64 * c as f64)
                            .sum::<f64>()
                            * scale
                    })
                    .collect();
                if !e.softmax {
                    return s;
                }
                let max = s.fold(f64::NEG_INFINITY, |m, &x| m.max(x));
                s.mapv_inplace(|x| (x - max).exp());
                let sum = s.sum();
                s.mapv_inplace(|x| x / sum);
                if !e.value_matmul {
                    return s;
                }
                let mut out = Array1::<f64>::zeros(dim);
                for (&p, vj) in s.iter().zip(v.slice(s![b, ..keys, ..]).rows()) {
                    out.zip_mut_with(&vj, |o, &x| *o += p * x as f64);
                }
                out
            }
            (
                Shape::Norm { rows, .. },
                Inputs::Norm {
                    x,
                    residual,
                    gamma,
                    beta,
                    eps,
                },
            ) => {
                let row = r % rows;
                let mut sum: Array1<f64> = x.row(row).mapv(f64::from);
                sum.zip_mut_with(&residual.row(row), |s, &v| *s += v as f64);
                if r >= rows {
                    // The second half of a pattern that writes its sums.
                    return sum;
                }
                let n = sum.len() as f64;
                let eps = *eps as f64;
                let mut out = match e.norm {
                    Some(Norm::Layer) => {
                        let mean = sum.sum() / n;
                        let var = sum.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
                        let inv = 1.0 / (var + eps).sqrt();
                        let mut out = sum.mapv(|v| (v - mean) * inv);
                        out.zip_mut_with(gamma, |o, &g| *o *= g as f64);
                        out.zip_mut_with(beta, |o, &b| *o += b as f64);
                        out
                    }
                    Some(Norm::Rms) | None => {
                        let mean_square = sum.iter().map(|v| v * v).sum::<f64>() / n;
                        let inv = 1.0 / (mean_square + eps).sqrt();
                        let mut out = sum.mapv(|v| v * inv);
                        out.zip_mut_with(gamma, |o, &g| *o *= g as f64);
                        out
                    }
                };
                out.mapv_inplace(|o| act.reference(o));
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
            Shape::Depthwise { kernel, .. } => kernel * kernel,
            Shape::Attention { seq, dim, .. } => seq.max(dim),
            Shape::Norm { hidden, .. } => hidden,
        };
        dtype.tolerance(reduction)
    }
}

/// The sliding window of a convolution over one zero-padded `hw×hw` image.
struct Window {
    hw: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    /// Output height = width.
    oh: usize,
}

impl Window {
    /// `out[oy·oh + ox] += Σ weight(ky, kx) · img[oy·stride + ky − pad][ox·stride + kx − pad]`
    /// over the taps inside the image, in f64.
    fn accumulate<S: Data<Elem = f32>>(
        &self,
        out: &mut Array1<f64>,
        img: &ArrayBase<S, ndarray::Ix2>,
        weight: impl Fn(usize, usize) -> f64,
    ) {
        let inside = |i: usize, k: usize| {
            (i * self.stride + k)
                .checked_sub(self.padding)
                .filter(|&v| v < self.hw)
        };
        let oh = self.oh;
        for ky in 0..self.kernel {
            for kx in 0..self.kernel {
                let wv = weight(ky, kx);
                for oy in 0..oh {
                    let Some(iy) = inside(oy, ky) else {
                        continue;
                    };
                    for ox in 0..oh {
                        if let Some(ix) = inside(ox, kx) {
                            out[oy * oh + ox] += wv * img[[iy, ix]] as f64;
                        }
                    }
                }
            }
        }
    }
}

/// Row `r` of `a·b` in f64: the reference of the matmul calibration.
pub fn matmul_row(a: &ArrayView2<f32>, b: &ArrayView2<f32>, r: usize) -> Array1<f64> {
    let mut row = Array1::<f64>::zeros(b.ncols());
    for (&x, b_row) in a.row(r).iter().zip(b.rows()) {
        let x = x as f64;
        row.zip_mut_with(&b_row, |o, &y| *o += x * y as f64);
    }
    row
}

/// The STREAM scalar of the triad kernel (`a = b + TRIAD_SCALAR·c`).
pub const TRIAD_SCALAR: f32 = 3.0;

/// Initial value of element `i` of STREAM array `which` (0 = a, 1 = b, 2 = c). Backends fill
/// their arrays with it, so verification needs no host copy of gigabyte-sized inputs.
pub fn stream_init(which: usize, i: usize) -> f32 {
    // Small integers and halves: exact in f32, distinct per array, varying along the array.
    (which as f32 + 1.0) + (i % 1021) as f32 * 0.5
}

/// The expected element `i` after one STREAM copy (`c = a`, `triad == false`) or triad
/// (`a = b + TRIAD_SCALAR·c`), in f64.
pub fn stream_expected(triad: bool, i: usize) -> f64 {
    if triad {
        stream_init(1, i) as f64 + TRIAD_SCALAR as f64 * stream_init(2, i) as f64
    } else {
        stream_init(0, i) as f64
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
            x: Array::from_shape_fn((1, 1, 3, 3), |(_, _, y, x)| (3 * y + x + 1) as f32),
            w: Array::ones((1, 1, 3, 3)),
            bias: ndarray::arr1(&[0.5]),
            bn: BatchNorm {
                gamma: ndarray::arr1(&[1.0]),
                beta: ndarray::arr1(&[0.0]),
                mean: ndarray::arr1(&[0.0]),
                var: ndarray::arr1(&[1.0]),
                eps: 0.0,
            },
            residual: None,
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
        let inputs = Inputs::generate(Pattern::FullAttention, &shape, 7);
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
            Pattern::FullAttention,
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

    /// Issue 10: inputs whose arrays disagree with the shape are an error naming the tensor.
    #[test]
    fn inputs_of_the_wrong_size_are_an_error_not_a_misread() {
        let shape = Shape::Linear { m: 4, k: 3, n: 2 };
        let mut inputs = Inputs::generate(Pattern::LinearBias, &shape, 1);
        assert!(Reference::new(Pattern::LinearBias, shape, &inputs).is_ok());
        if let Inputs::Linear { w, .. } = &mut inputs {
            // Same element count, transposed dimensions: read as k×n it would be garbage.
            *w = Array::zeros((2, 3));
        }
        let e = Reference::new(Pattern::LinearBias, shape, &inputs).unwrap_err();
        assert!(e.to_string().contains("weights W has shape [2, 3]"), "{e}");
        let mut strided = Inputs::generate(Pattern::LinearBias, &shape, 1);
        if let Inputs::Linear { x, .. } = &mut strided {
            // Right dimensions, column-major memory.
            *x = Array::zeros((3, 4)).reversed_axes();
        }
        let e = strided.check(Pattern::LinearBias, &shape).unwrap_err();
        assert!(e.to_string().contains("not a contiguous"), "{e}");
    }

    fn identity_bn(c: usize) -> BatchNorm {
        BatchNorm {
            gamma: Array1::ones(c),
            beta: Array1::zeros(c),
            mean: Array1::zeros(c),
            var: Array1::ones(c),
            eps: 0.0,
        }
    }

    #[test]
    fn norms_match_hand_computed_rows() {
        let shape = Shape::Norm { rows: 1, hidden: 4 };
        let inputs = Inputs::Norm {
            x: ndarray::arr2(&[[1.0, 2.0, 3.0, 4.0]]),
            residual: ndarray::arr2(&[[1.0, 0.0, -1.0, 0.0]]),
            gamma: ndarray::arr1(&[1.0, 1.0, 1.0, 2.0]),
            beta: ndarray::arr1(&[0.0, 0.0, 0.0, 1.0]),
            eps: 0.0,
        };
        // s = [2, 2, 2, 4]: mean 2.5, biased variance 0.75, mean square 7.
        let ln = Reference::new(Pattern::AddLayerNorm, shape, &inputs).unwrap();
        let sd = 0.75f64.sqrt();
        let want = [-0.5 / sd, -0.5 / sd, -0.5 / sd, 2.0 * 1.5 / sd + 1.0];
        for (got, want) in ln.row(0).iter().zip(want) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        let rms = Reference::new(Pattern::AddRmsNorm, shape, &inputs).unwrap();
        assert_eq!(
            rms.rows_cols(),
            (2, 4),
            "the normalized rows, then the sums"
        );
        let r7 = 7f64.sqrt();
        let want = [2.0 / r7, 2.0 / r7, 2.0 / r7, 8.0 / r7];
        for (got, want) in rms.row(0).iter().zip(want) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        assert_eq!(rms.row(1).to_vec(), [2.0, 2.0, 2.0, 4.0]);
    }

    #[test]
    fn causal_attention_sees_only_earlier_keys() {
        let shape = Shape::Attention {
            batch: 2,
            seq: 6,
            dim: 3,
        };
        let inputs = Inputs::generate(Pattern::FullAttentionCausal, &shape, 3);
        let Inputs::Attention { v, .. } = &inputs else {
            unreachable!()
        };
        let causal = Reference::new(Pattern::FullAttentionCausal, shape, &inputs).unwrap();
        let full = Reference::new(Pattern::FullAttention, shape, &inputs).unwrap();
        // The first query sees only the first key: its output is that key's value.
        let first: Vec<f64> = v.slice(s![1, 0, ..]).iter().map(|&x| x as f64).collect();
        assert_eq!(causal.row(6).to_vec(), first);
        // The last query sees every key, as without the mask.
        assert_eq!(causal.row(11), full.row(11));
        assert_ne!(causal.row(8), full.row(8));
    }

    #[test]
    fn depthwise_filters_each_channel_alone() {
        let shape = Shape::depthwise3x3(1, 2, 3, 1);
        let inputs = Inputs::Depthwise {
            x: Array::from_shape_fn((1, 2, 3, 3), |(_, c, y, x)| (c * (3 * y + x + 1)) as f32),
            w: Array::ones((2, 3, 3)),
            bias: Array1::zeros(2),
            bn: identity_bn(2),
        };
        let r = Reference::new(Pattern::DepthwiseConv2dBnRelu, shape, &inputs).unwrap();
        assert!(r.row(0).iter().all(|&v| v == 0.0), "channel 0 is all zeros");
        let row = r.row(1);
        // Centre pixel sees the whole image; a corner sees a 2x2 block (1+2+4+5).
        assert_eq!((row[4], row[0]), (45.0, 12.0));
        let r6 = Reference::new(Pattern::DepthwiseConv2dBnRelu6, shape, &inputs).unwrap();
        assert_eq!((r6.row(1)[4], r6.row(1)[0]), (6.0, 6.0));
    }

    #[test]
    fn residual_and_gated_linear_rows() {
        let shape = Shape::Linear { m: 1, k: 1, n: 1 };
        let inputs = Inputs::Linear {
            x: ndarray::arr2(&[[2.0]]),
            w: ndarray::arr2(&[[3.0]]),
            bias: ndarray::arr1(&[1.0]),
            residual: Some(ndarray::arr2(&[[0.5]])),
            w_up: Some(ndarray::arr2(&[[-1.5]])),
        };
        let add = Reference::new(Pattern::LinearBiasAdd, shape, &inputs).unwrap();
        assert_eq!(add.row(0).to_vec(), [7.5]);
        let glu = Reference::new(Pattern::LinearSwiglu, shape, &inputs).unwrap();
        let silu6 = 6.0 / (1.0 + (-6.0f64).exp());
        assert!((glu.row(0)[0] - silu6 * -3.0).abs() < 1e-12);
        // Generated inputs carry what the pattern reads, and only that.
        let Inputs::Linear { residual, w_up, .. } =
            Inputs::generate(Pattern::LinearBiasAdd, &shape, 1)
        else {
            unreachable!()
        };
        assert!(residual.is_some() && w_up.is_none());
        let plain = Inputs::generate(Pattern::LinearBias, &shape, 1);
        let e = Reference::new(Pattern::LinearBiasAdd, shape, &plain).unwrap_err();
        assert!(e.to_string().contains("reads a residual"), "{e}");
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
