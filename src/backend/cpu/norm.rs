//! The Norm family: a residual add followed by a row normalization (LayerNorm, RMSNorm).
//!
//! Unfused: one kernel per operator of the pattern: an add pass writes the whole sum
//! `s = x + r` to memory (for a pattern that returns its sums, into the second half of the
//! output, where they belong), then a norm pass reads `s` back and writes `y`. Fused: one pass
//! over the rows; each row's sum is formed, reduced and normalized while it is in L1, so `s`
//! never makes the round trip through memory: the kernel reads `x` and `r` and writes `y` (and
//! the sums, for a pattern that returns them) once.
//!
//! Both variants run the same per-row code ([`norm_rows`] after the add pass, [`fused_rows`]
//! with the add folded into its first sweep), so they differ only in memory traffic.

use super::simd_dispatch;
use super::Outputs;
use crate::backend::{check_operators, Activations, Prepared, Variant};
use crate::dtype::HostBuffer;
use crate::pattern::{Norm, Op, Pattern, Shape};
use crate::Result;
use rayon::prelude::*;
use std::cell::RefCell;
use std::time::{Duration, Instant};

/// Independent accumulators per reduction: a single running sum is a serial dependency chain
/// that does not vectorise (float additions are not reassociated), 8 lanes fill one AVX2
/// register.
const LANES: usize = 8;

/// Elements per rayon task: enough work that scheduling overhead stays negligible (the same
/// grain as the elementwise passes).
const TASK_ELEMENTS: usize = 16 * 1024;

/// Rows per rayon task for rows of `hidden` elements (each task normalizes whole rows).
fn rows_per_task(hidden: usize) -> usize {
    (TASK_ELEMENTS / hidden.max(1)).max(1)
}

thread_local! {
    /// The fused kernel's sum row when the pattern does not return its sums: one row per
    /// worker, reused for every row it normalizes, so it stays in L1.
    static SUM_ROW: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// One Norm pattern at one shape.
pub struct NormWork {
    pattern: Pattern,
    norm: Norm,
    writes_sum: bool,
    rows: usize,
    hidden: usize,
    x: Vec<f32>,
    residual: Vec<f32>,
    gamma: Vec<f32>,
    beta: Vec<f32>,
    eps: f32,
    /// The unfused add pass's output when the pattern does not return its sums (otherwise the
    /// sums go to the output's second half).
    sum: Vec<f32>,
    outputs: Outputs,
}

impl NormWork {
    /// Copies the inputs into backend-owned buffers.
    pub fn new(
        pattern: Pattern,
        shape: Shape,
        x: &[f32],
        residual: &[f32],
        gamma: &[f32],
        beta: &[f32],
        eps: f32,
    ) -> Result<Self> {
        let Shape::Norm { rows, hidden } = shape else {
            unreachable!("prepare checked the family")
        };
        check_operators(
            pattern,
            "the CPU norm kernels",
            &[Op::Add, Op::LayerNorm, Op::RmsNorm],
            Activations::None,
        )?;
        let e = pattern.epilogue();
        let (Some(norm), true) = (e.norm, e.residual) else {
            return Err(crate::Error::usage(format!(
                "{}: the CPU norm kernels need an add followed by a normalization",
                pattern.name()
            )));
        };
        let (out_rows, cols) = pattern.output_rows_cols(&shape);
        Ok(NormWork {
            pattern,
            norm,
            writes_sum: e.writes_sum,
            rows,
            hidden,
            x: x.to_vec(),
            residual: residual.to_vec(),
            gamma: gamma.to_vec(),
            beta: beta.to_vec(),
            eps,
            sum: if e.writes_sum {
                Vec::new()
            } else {
                vec![0.0; rows * hidden]
            },
            outputs: Outputs::new(out_rows * cols),
        })
    }

    /// The pattern's normalization with its parameters.
    fn row_norm(&self) -> RowNorm<'_> {
        RowNorm {
            norm: self.norm,
            gamma: &self.gamma,
            beta: &self.beta,
            eps: self.eps,
        }
    }

    /// The unfused chain: the add pass writes `s` to memory (the output's second half, or
    /// `sum`), the norm pass reads it back.
    fn unfused(&self, out: &mut [f32], sum: &mut [f32]) {
        let h = self.hidden;
        let (y, sums) = out.split_at_mut(self.rows * h);
        let s = if self.writes_sum { sums } else { sum };
        for op in self.pattern.operators() {
            let norm = match op {
                Op::LayerNorm => Norm::Layer,
                Op::RmsNorm => Norm::Rms,
                // Op::Add: `new` checked that there is nothing else.
                _ => {
                    s.par_chunks_mut(TASK_ELEMENTS)
                        .zip(self.x.par_chunks(TASK_ELEMENTS))
                        .zip(self.residual.par_chunks(TASK_ELEMENTS))
                        .for_each(|((s, x), r)| add(x, r, s));
                    continue;
                }
            };
            let p = RowNorm {
                norm,
                ..self.row_norm()
            };
            let task = rows_per_task(h) * h;
            y.par_chunks_mut(task)
                .zip(s.par_chunks(task))
                .for_each(|(y, s)| norm_rows(s, y, &p));
        }
    }

    /// The fused kernel: one pass over the rows, each row's sum kept in L1.
    fn fused(&self, out: &mut [f32]) {
        let h = self.hidden;
        let task = rows_per_task(h) * h;
        let (y, sums) = out.split_at_mut(self.rows * h);
        let rows = y
            .par_chunks_mut(task)
            .zip(self.x.par_chunks(task))
            .zip(self.residual.par_chunks(task));
        let p = self.row_norm();
        if self.writes_sum {
            // The sum rows are an output too: each is written once, where it belongs.
            rows.zip(sums.par_chunks_mut(task))
                .for_each(|(((y, x), r), s)| fused_rows(x, r, s, y, &p));
        } else {
            rows.for_each(|((y, x), r)| {
                SUM_ROW.with(|buf| {
                    let mut buf = buf.borrow_mut();
                    buf.resize(h, 0.0);
                    fused_rows(x, r, &mut buf[..], y, &p);
                })
            });
        }
    }
}

/// What each row is normalized with: the normalization, γ, β (LayerNorm only) and ε.
#[derive(Clone, Copy)]
pub struct RowNorm<'a> {
    norm: Norm,
    gamma: &'a [f32],
    beta: &'a [f32],
    eps: f32,
}

/// One normalization's row math, monomorphised per normalization so that every sweep is a
/// plain loop with a single reduction (with two reductions in one loop, the compiler
/// interleaves them into scalar shuffles instead of vectorising).
trait Normalization {
    /// The term the first sweep sums over the row: `s` for LayerNorm (its mean), `s²` for
    /// RMSNorm (its mean square).
    fn term(v: f32) -> f32;
    /// `y = norm(s)·γ (+ β)` given the first sweep's total, as
    /// [`crate::pattern::Reference`] defines it.
    fn finish(s: &[f32], total: f32, y: &mut [f32], p: &RowNorm);
}

/// `(s − mean) / sqrt(var + ε) · γ + β`, the biased variance from a second sweep over the row
/// (in cache), which unlike `Σs²/n − mean²` loses no precision when the mean is large against
/// the spread.
struct Layer;

impl Normalization for Layer {
    #[inline(always)]
    fn term(v: f32) -> f32 {
        v
    }

    #[inline(always)]
    fn finish(s: &[f32], total: f32, y: &mut [f32], p: &RowNorm) {
        let n = s.len() as f32;
        let mean = total / n;
        let var = sum_of(s, |v| (v - mean) * (v - mean)) / n;
        let inv = 1.0 / (var + p.eps).sqrt();
        for (((y, &s), &g), &b) in y.iter_mut().zip(s).zip(p.gamma).zip(p.beta) {
            *y = (s - mean) * inv * g + b;
        }
    }
}

/// `s / sqrt(mean(s²) + ε) · γ`.
struct Rms;

impl Normalization for Rms {
    #[inline(always)]
    fn term(v: f32) -> f32 {
        v * v
    }

    #[inline(always)]
    fn finish(s: &[f32], total: f32, y: &mut [f32], p: &RowNorm) {
        let inv = 1.0 / (total / s.len() as f32 + p.eps).sqrt();
        for ((y, &s), &g) in y.iter_mut().zip(s).zip(p.gamma) {
            *y = s * inv * g;
        }
    }
}

/// `Σ term(v)` over a row, in [`LANES`] independent accumulators.
#[inline(always)]
fn sum_of(s: &[f32], term: impl Fn(f32) -> f32) -> f32 {
    let full = s.len() - s.len() % LANES;
    let mut lanes = [0.0f32; LANES];
    for c in s[..full].chunks_exact(LANES) {
        for l in 0..LANES {
            lanes[l] += term(c[l]);
        }
    }
    s[full..]
        .iter()
        .fold(lanes.iter().sum(), |t, &v| t + term(v))
}

/// `s = x + r` and `Σ N::term(s)`, in one sweep. The chunk iterators are zipped by value (a
/// zip of `&mut` iterators has no random access, and its loop does not vectorise).
#[inline(always)]
fn add_sum<N: Normalization>(x: &[f32], r: &[f32], s: &mut [f32]) -> f32 {
    let n = s.len();
    let (x, r) = (&x[..n], &r[..n]);
    let full = n - n % LANES;
    let (head, tail) = s.split_at_mut(full);
    let mut lanes = [0.0f32; LANES];
    for ((s, x), r) in head
        .chunks_exact_mut(LANES)
        .zip(x[..full].chunks_exact(LANES))
        .zip(r[..full].chunks_exact(LANES))
    {
        for l in 0..LANES {
            let v = x[l] + r[l];
            s[l] = v;
            lanes[l] += N::term(v);
        }
    }
    let mut total = lanes.iter().sum::<f32>();
    for ((s, &x), &r) in tail.iter_mut().zip(&x[full..]).zip(&r[full..]) {
        *s = x + r;
        total += N::term(*s);
    }
    total
}

/// [`norm_rows`] for one normalization.
#[inline(always)]
fn norm_rows_of<N: Normalization>(s: &[f32], y: &mut [f32], p: &RowNorm) {
    let h = p.gamma.len();
    for (s, y) in s.chunks_exact(h).zip(y.chunks_exact_mut(h)) {
        let total = sum_of(s, N::term);
        N::finish(s, total, y, p);
    }
}

/// [`fused_rows`] for one normalization.
#[inline(always)]
fn fused_rows_of<N: Normalization>(
    x: &[f32],
    r: &[f32],
    s: &mut [f32],
    y: &mut [f32],
    p: &RowNorm,
) {
    let h = p.gamma.len();
    let step = if s.len() == y.len() { h } else { 0 };
    for (i, ((x, r), y)) in x
        .chunks_exact(h)
        .zip(r.chunks_exact(h))
        .zip(y.chunks_exact_mut(h))
        .enumerate()
    {
        let s = &mut s[i * step..][..h];
        let total = add_sum::<N>(x, r, s);
        N::finish(s, total, y, p);
    }
}

simd_dispatch! {
    /// `s = x + r` elementwise: the unfused add pass over one chunk of the tensor.
    fn add(x: &[f32], r: &[f32], s: &mut [f32]) {
        for ((s, &x), &r) in s.iter_mut().zip(x).zip(r) {
            *s = x + r;
        }
    }
}

simd_dispatch! {
    /// Rows of the unfused norm pass: `y = norm(s)` row by row, each row of `s` read from
    /// memory once (the second sweep, for LayerNorm's variance, and the last find it in
    /// cache).
    fn norm_rows(s: &[f32], y: &mut [f32], p: &RowNorm) {
        match p.norm {
            Norm::Layer => norm_rows_of::<Layer>(s, y, p),
            Norm::Rms => norm_rows_of::<Rms>(s, y, p),
        }
    }
}

simd_dispatch! {
    /// Rows of the fused kernel: per row, `s = x + r` (its statistic in the same sweep), then
    /// `y = norm(s)` while `s` is in L1. `s` holds one row per row of `y` (the sums the
    /// pattern returns) or is a single scratch row reused for every row.
    fn fused_rows(x: &[f32], r: &[f32], s: &mut [f32], y: &mut [f32], p: &RowNorm) {
        match p.norm {
            Norm::Layer => fused_rows_of::<Layer>(x, r, s, y, p),
            Norm::Rms => fused_rows_of::<Rms>(x, r, s, y, p),
        }
    }
}

impl Prepared for NormWork {
    fn run(&mut self, variant: Variant) -> Result<Duration> {
        let fused = variant == Variant::Fused;
        let mut out = self.outputs.take(variant);
        let mut sum = std::mem::take(&mut self.sum);
        let t = Instant::now();
        if fused {
            self.fused(&mut out);
        } else {
            self.unfused(&mut out, &mut sum);
        }
        let elapsed = t.elapsed();
        self.sum = sum;
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

    fn run_both(
        pattern: Pattern,
        rows: usize,
        x: &[f32],
        r: &[f32],
        g: &[f32],
        b: &[f32],
    ) -> [Vec<f32>; 2] {
        let hidden = g.len();
        let shape = Shape::Norm { rows, hidden };
        let mut w = NormWork::new(pattern, shape, x, r, g, b, 1e-5).unwrap();
        [Variant::Unfused, Variant::Fused].map(|v| {
            w.run(v).unwrap();
            w.output(v).unwrap().into_f32("test").unwrap()
        })
    }

    /// A LayerNorm row worked by hand: s = [1, 2, 3, 6], mean 3, biased variance 3.5.
    #[test]
    fn layer_norm_row_matches_a_hand_computed_one() {
        let x = [0.5, 1.0, 2.0, 5.0];
        let r = [0.5, 1.0, 1.0, 1.0];
        let g = [1.0, 2.0, 1.0, 0.5];
        let b = [0.0, 0.0, 1.0, -1.0];
        let inv = 1.0 / (3.5f64 + 1e-5).sqrt();
        let want = [-2.0 * inv, -2.0 * inv, 1.0, 3.0 * inv * 0.5 - 1.0];
        for out in run_both(Pattern::AddLayerNorm, 1, &x, &r, &g, &b) {
            assert_eq!(out.len(), 4);
            for (got, want) in out.iter().zip(want) {
                assert!((*got as f64 - want).abs() < 1e-6, "{out:?} vs {want:?}");
            }
        }
    }

    /// RMSNorm over rows longer than the lane count (tails included), the sums after the
    /// normalized rows.
    #[test]
    fn rms_norm_writes_the_normalized_rows_then_the_sums() {
        let (rows, hidden) = (3, 21);
        let x: Vec<f32> = (0..rows * hidden)
            .map(|i| ((i * 7) % 13) as f32 * 0.1 - 0.6)
            .collect();
        let r: Vec<f32> = (0..rows * hidden)
            .map(|i| ((i * 5) % 11) as f32 * 0.05)
            .collect();
        let g: Vec<f32> = (0..hidden).map(|i| 0.5 + i as f32 * 0.05).collect();
        for out in run_both(Pattern::AddRmsNorm, rows, &x, &r, &g, &g) {
            assert_eq!(out.len(), 2 * rows * hidden);
            for row in 0..rows {
                let s: Vec<f64> = (0..hidden)
                    .map(|c| x[row * hidden + c] as f64 + r[row * hidden + c] as f64)
                    .collect();
                let inv =
                    1.0 / (s.iter().map(|v| v * v).sum::<f64>() / hidden as f64 + 1e-5).sqrt();
                for c in 0..hidden {
                    let y = out[row * hidden + c] as f64;
                    assert!(
                        (y - s[c] * inv * g[c] as f64).abs() < 1e-5,
                        "row {row} col {c}"
                    );
                    let sum = out[(rows + row) * hidden + c] as f64;
                    assert!((sum - s[c]).abs() < 1e-6);
                }
            }
        }
    }

    /// A large common offset does not cost LayerNorm its precision (centered variance).
    #[test]
    fn layer_norm_keeps_precision_under_a_large_mean() {
        let hidden = 67;
        let x: Vec<f32> = (0..hidden).map(|i| 100.0 + (i % 5) as f32 * 0.1).collect();
        let r = vec![0.0; hidden];
        let g = vec![1.0; hidden];
        let b = vec![0.0; hidden];
        let mean = x.iter().map(|&v| v as f64).sum::<f64>() / hidden as f64;
        let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / hidden as f64;
        for out in run_both(Pattern::AddLayerNorm, 1, &x, &r, &g, &b) {
            for (y, &v) in out.iter().zip(&x) {
                let want = (v as f64 - mean) / (var + 1e-5).sqrt();
                assert!((*y as f64 - want).abs() < 1e-3, "{y} vs {want}");
            }
        }
    }
}
