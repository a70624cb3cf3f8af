//! Elementwise and row-wise passes: the separate kernels of the unfused chains (bias, residual
//! add, gate multiply, scale, batch-norm, activation, softmax), each reading and writing a whole
//! tensor, parallel over rows.
//!
//! The fused kernels reuse the per-row functions here (softmax) or the same math in the GEMM
//! epilogue (bias, scale, activation), so unfused and fused differ only in memory traffic.

use super::activation::Activation;
use rayon::prelude::*;

/// Rows per rayon task: enough work per task that scheduling overhead stays negligible.
fn rows_per_task(cols: usize) -> usize {
    (16 * 1024 / cols.max(1)).max(1)
}

/// `x[r][c] += bias[c]` over a row-major `rows × bias.len()` matrix.
pub fn add_bias_cols(x: &mut [f32], bias: &[f32]) {
    let cols = bias.len();
    x.par_chunks_mut(cols)
        .with_min_len(rows_per_task(cols))
        .for_each(|row| row.iter_mut().zip(bias).for_each(|(v, b)| *v += b));
}

/// `x += r` elementwise (the unfused residual add; `r` as long as `x`).
pub fn add_residual(x: &mut [f32], r: &[f32]) {
    assert_eq!(x.len(), r.len(), "residual length");
    x.par_chunks_mut(16 * 1024)
        .zip(r.par_chunks(16 * 1024))
        .for_each(|(x, r)| x.iter_mut().zip(r).for_each(|(v, r)| *v += r));
}

/// `x *= y` elementwise (the unfused gate multiply; `y` as long as `x`).
pub fn multiply(x: &mut [f32], y: &[f32]) {
    assert_eq!(x.len(), y.len(), "multiplier length");
    x.par_chunks_mut(16 * 1024)
        .zip(y.par_chunks(16 * 1024))
        .for_each(|(x, y)| x.iter_mut().zip(y).for_each(|(v, y)| *v *= y));
}

/// `x[r][c] = x[r][c]·scale[r % scale.len()] + shift[r % shift.len()]`: per-channel affine
/// transform of an NCHW tensor viewed as `(batch·channels) × (h·w)` (batch-norm, conv bias).
pub fn affine_rows(x: &mut [f32], cols: usize, scale: Option<&[f32]>, shift: &[f32]) {
    let channels = shift.len();
    x.par_chunks_mut(cols)
        .with_min_len(rows_per_task(cols))
        .enumerate()
        .for_each(|(r, row)| {
            let c = r % channels;
            let t = shift[c];
            match scale {
                Some(s) => {
                    let s = s[c];
                    row.iter_mut().for_each(|v| *v = *v * s + t);
                }
                None => row.iter_mut().for_each(|v| *v += t),
            }
        });
}

/// `x *= alpha` elementwise.
pub fn scale(x: &mut [f32], alpha: f32) {
    x.par_chunks_mut(16 * 1024)
        .for_each(|c| c.iter_mut().for_each(|v| *v *= alpha));
}

/// Applies `act` elementwise (the unfused activation kernel).
pub fn activate(x: &mut [f32], act: Activation) {
    x.par_chunks_mut(16 * 1024).for_each(|c| act.apply_slice(c));
}

/// Row-wise softmax of a row-major matrix with `cols` columns (the unfused softmax kernel).
pub fn softmax_rows(x: &mut [f32], cols: usize) {
    x.par_chunks_mut(cols)
        .with_min_len(rows_per_task(cols))
        .for_each(softmax_row);
}

/// Softmax of one row in place: `exp(x - max) / sum`. Vectorised with AVX2+FMA where the CPU
/// has it.
pub fn softmax_row(row: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if super::simd::Isa::has_avx2_fma() {
            // SAFETY: the CPU supports AVX2 and FMA, checked just above.
            unsafe { softmax_row_avx2(row) };
            return;
        }
    }
    softmax_row_generic(row);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn softmax_row_avx2(row: &mut [f32]) {
    softmax_row_generic(row)
}

#[inline(always)]
fn softmax_row_generic(row: &mut [f32]) {
    // Reductions in 8 independent lanes: a single running max/sum is a serial dependency
    // chain that does not vectorise (float reductions are not reassociated).
    let mut maxes = [f32::NEG_INFINITY; 8];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for (m, &v) in maxes.iter_mut().zip(c) {
            *m = if v > *m { v } else { *m };
        }
    }
    let max = chunks
        .remainder()
        .iter()
        .chain(&maxes)
        .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
    let mut sum = 0.0f32;
    let mut lanes = [0.0f32; 8];
    let mut chunks = row.chunks_exact_mut(8);
    for c in &mut chunks {
        for (l, v) in lanes.iter_mut().zip(c.iter_mut()) {
            *v = exp_approx(*v - max);
            *l += *v;
        }
    }
    for v in chunks.into_remainder() {
        *v = exp_approx(*v - max);
        sum += *v;
    }
    sum += lanes.iter().sum::<f32>();
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|v| *v *= inv);
}

/// `e^x` in f32 for x ≤ 0 (softmax arguments), branch-free so loops over it vectorise:
/// `2^n · p(r)` with `n = round(x·log2 e)` and a degree-6 polynomial on the remainder.
/// Relative error below 5e-7 on [-80, 0]; arguments below [`EXP_FLUSH`] give exactly 0.
#[inline(always)]
pub fn exp_approx(x: f32) -> f32 {
    let tiny = x < EXP_FLUSH;
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const ROUND: f32 = 12_582_912.0; // 1.5 · 2^23: adding it rounds to an integer
                                     // ln 2 split in two (Cody–Waite) so that x − n·ln2 is exact enough for large |x|.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = if x > -87.0 { x } else { -87.0 };
    // Adding ROUND leaves round(x·log2 e) in the low mantissa bits: read it from there rather
    // than through a float→int conversion, which keeps the loop in plain vector integer ops.
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let ni = shifted.to_bits() as i32 - ROUND.to_bits() as i32;
    let r = (x - n * LN2_HI) - n * LN2_LO; // r in about [-ln2/2, ln2/2]
                                           // Taylor polynomial of e^r, degree 6 (truncation error < 1e-7 on that range).
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (0.166_666_67
                    + r * (0.041_666_668 + r * (0.008_333_334 + r * 0.001_388_889)))));
    let bits = ((ni + 127) << 23) as u32;
    let e = p * f32::from_bits(bits);
    if tiny {
        0.0
    } else {
        e
    }
}

/// Softmax arguments below this have an exponential of exactly 0. `e^-80` is 1.8e-35; a
/// probability that small divided by a row sum of up to 4096 would be a subnormal, and
/// subnormal operands cost a microcode assist per operation on Intel cores: a causal mask's
/// hidden half of the scores (−∞, clamped) made the unfused chain's `P·V` 15× slower than
/// `FullAttention`'s before they were flushed.
pub const EXP_FLUSH: f32 = -80.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_approx_is_accurate_on_the_softmax_range() {
        let mut x = -80.0f32;
        while x <= 0.0 {
            let want = (x as f64).exp();
            let got = exp_approx(x) as f64;
            assert!(
                ((got - want) / want).abs() < 5e-7,
                "x={x} got={got} want={want}"
            );
            x += 0.0137;
        }
        assert_eq!(exp_approx(0.0), 1.0);
        assert_eq!(exp_approx(-80.5), 0.0, "flushed, never a subnormal");
        assert_eq!(exp_approx(f32::NEG_INFINITY), 0.0);
        assert!(exp_approx(EXP_FLUSH) > 1e-35);
    }

    #[test]
    fn softmax_rows_match_f64() {
        let cols = 37;
        let mut x: Vec<f32> = (0..3 * cols).map(|i| ((i * 7) % 11) as f32 - 5.0).collect();
        let orig = x.clone();
        softmax_rows(&mut x, cols);
        for r in 0..3 {
            let row = &orig[r * cols..(r + 1) * cols];
            let m = row.iter().cloned().fold(f32::MIN, f32::max) as f64;
            let s: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
            for c in 0..cols {
                let want = (row[c] as f64 - m).exp() / s;
                assert!((x[r * cols + c] as f64 - want).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn bias_and_affine_passes() {
        let mut x = vec![1.0f32; 6];
        add_bias_cols(&mut x, &[1.0, 2.0, 3.0]);
        assert_eq!(x, [2.0, 3.0, 4.0, 2.0, 3.0, 4.0]);
        affine_rows(&mut x, 3, Some(&[2.0, 0.5]), &[1.0, 0.0]);
        assert_eq!(x, [5.0, 7.0, 9.0, 1.0, 1.5, 2.0]);
        scale(&mut x, 2.0);
        assert_eq!(x[0], 10.0);
    }

    #[test]
    fn residual_and_multiply_passes() {
        let n = 40_000; // several parallel chunks
        let mut x: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let r: Vec<f32> = (0..n).map(|i| 0.5 * i as f32).collect();
        add_residual(&mut x, &r);
        assert!(x.iter().enumerate().all(|(i, &v)| v == 1.5 * i as f32));
        let y = vec![2.0f32; n];
        multiply(&mut x, &y);
        assert!(x.iter().enumerate().all(|(i, &v)| v == 3.0 * i as f32));
    }
}
