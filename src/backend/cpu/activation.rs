//! Elementwise activations (identity, ReLU, GELU, ReLU6, SiLU) shared by the GEMM epilogue and the unfused pass.
//!
//! There is exactly one implementation of each activation per instruction set, and both users
//! call it: the GEMM microkernels ([`super::gemm`]) apply it to accumulator registers in their
//! epilogue, and [`Activation::apply_slice`] (the *unfused* pass) runs the very same per-vector
//! function over a slice. Timing a fused kernel against its unfused counterpart therefore compares
//! memory traffic, not two different approximations.
//!
//! # GELU
//! GELU is the tanh approximation `0.5*x*(1 + tanh(sqrt(2/pi)*(x + 0.044715*x^3)))`. Using
//! `1 + tanh(u) = 2 / (1 + exp(-2u))` it is evaluated as
//!
//! ```text
//! gelu(x) = x / (1 + exp(z)),   z = -2*sqrt(2/pi)*(x + 0.044715*x^3) = x*(K1 + K2*x^2)
//! ```
//!
//! which is algebraically identical but has no cancellation for negative `x` (where
//! `1 + tanh(u)` would subtract two nearly equal numbers), so the *relative* error stays at a few
//! f32 ulps over the whole range. `exp` is the Cephes single-precision algorithm: range reduction
//! `z = n*ln2 + r` with a two-constant `ln2`, a degree-6 polynomial on `|r| <= ln2/2`, and scaling
//! by `2^n` (`vscalefps` on AVX-512, exponent-field arithmetic elsewhere). `z` is clamped to
//! `[-87, 87]` and `x` is floored at `-10` (where `|gelu| < 2e-37`), so the result saturates to `x`
//! for large positive `x` and to a tiny negative value for large negative `x`, never to NaN or
//! infinity for finite input (an overflowing `x^3` becomes `-inf`, which the clamp turns back into
//! a finite `z`).
//! The relative error against an accurate f64 evaluation is below `1e-6 + 2.5e-7*|z|` (the f32
//! rounding of `z` is amplified by `exp`'s condition number `|z|`), i.e. at most a few `1e-6`
//! where the result is not negligibly small, well inside the verification tolerance (`1e-5`
//! relative + `1e-6` absolute). Note that [`Activation::reference`] evaluates the tanh form,
//! which itself loses all precision to cancellation for `x < -5` even in f64; there the
//! absolute tolerance covers both.
//!
//! # SiLU and ReLU6
//! SiLU is `x / (1 + exp(-x))`: the same division and `exp` as GELU with `z = -x`, so it has
//! the same error bound; `x` is floored at `-88` (where `|silu| < 1e-36`). ReLU6 is
//! `min(max(x, 0), 6)`.
//!
//! # Dispatch
//! `simd::Isa` selects AVX-512F, AVX2+FMA, or portable scalar code at run time; the scalar path
//! ([`Activation::apply_scalar`]) evaluates the same formula with the same constants.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::simd::Isa;

/// The activation type is the pattern table's ([`crate::pattern::Activation`]); this module
/// adds its f32 kernels.
pub use crate::pattern::Activation;

/// `sqrt(2/pi)` (the f32 constants below are derived from it; the tests check them).
#[cfg(test)]
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
/// Cubic coefficient of the GELU tanh approximation.
#[cfg(test)]
const GELU_CUBIC: f64 = 0.044_715;
/// `z = x*(K1 + K2*x^2)` with `K1 = -2*sqrt(2/pi)`.
const GELU_K1: f32 = -1.595_769;
/// `K2 = -2*sqrt(2/pi)*0.044715`.
const GELU_K2: f32 = -0.071_354_82;
/// Clamp for the exponent argument: `exp(±87)` is finite and normal in f32.
const EXP_CLAMP: f32 = 87.0;
/// GELU inputs below this are raised to it: `|gelu(x)| < 2e-37` there, and without the floor
/// `x / (1 + exp(87))` would not be small for `|x| > 1e31`.
const GELU_X_FLOOR: f32 = -10.0;
/// SiLU inputs below this are raised to it: `|silu(x)| < 1e-36` there.
const SILU_X_FLOOR: f32 = -88.0;
/// The upper bound of ReLU6.
const RELU6_MAX: f32 = 6.0;
const LOG2E: f32 = std::f32::consts::LOG2_E;
/// `ln2 = LN2_HI + LN2_LO` (Cephes split; `LN2_HI` has few mantissa bits so `n*LN2_HI` is exact).
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
const EXP_P0: f32 = 1.987_569_2e-4;
const EXP_P1: f32 = 1.398_199_9e-3;
const EXP_P2: f32 = 8.333_452e-3;
const EXP_P3: f32 = 4.166_579_6e-2;
const EXP_P4: f32 = 1.666_666_5e-1;
const EXP_P5: f32 = 5e-1;

impl Activation {
    /// f32 value of one element (same formula and constants as the SIMD path, scalar).
    #[inline]
    pub fn apply_scalar(self, x: f32) -> f32 {
        match self {
            Activation::Identity => x,
            Activation::Relu => x.max(0.0),
            Activation::Gelu => gelu_scalar(x),
            // Comparisons, not `clamp`, so that NaN propagates as in the SIMD `max`/`min`.
            Activation::Relu6 => {
                let y = if x < 0.0 { 0.0 } else { x };
                if y > RELU6_MAX {
                    RELU6_MAX
                } else {
                    y
                }
            }
            Activation::Silu => silu_scalar(x),
        }
    }

    /// Apply in place to a slice, vectorised with the best instruction set of this CPU. This is
    /// the unfused activation pass; it runs the same per-vector code as the GEMM epilogue.
    pub fn apply_slice(self, xs: &mut [f32]) {
        self.apply_slice_isa(Isa::detect(), xs);
    }

    /// [`Activation::apply_slice`] with an explicit instruction set (tests exercise every path).
    ///
    /// # Panics
    /// If `isa` is not supported by this CPU (see [`Isa::is_available`]).
    pub(crate) fn apply_slice_isa(self, isa: Isa, xs: &mut [f32]) {
        assert!(
            isa.is_available(),
            "instruction set {isa:?} not available on this CPU"
        );
        if self == Activation::Identity {
            return;
        }
        match isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: availability of AVX-512F was asserted above.
            Isa::Avx512 => unsafe { x86::apply_slice_avx512(self, xs) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: availability of AVX2 and FMA was asserted above.
            Isa::Avx2Fma => unsafe { x86::apply_slice_avx2(self, xs) },
            _ => xs.iter_mut().for_each(|x| *x = self.apply_scalar(*x)),
        }
    }
}

/// Scalar Cephes `exp` on an already clamped argument (see the module docs).
#[inline]
fn exp_scalar(z: f32) -> f32 {
    let n = (z * LOG2E).round_ties_even();
    let r = z - n * LN2_HI - n * LN2_LO;
    let mut p = EXP_P0;
    p = p * r + EXP_P1;
    p = p * r + EXP_P2;
    p = p * r + EXP_P3;
    p = p * r + EXP_P4;
    p = p * r + EXP_P5;
    let y = p * (r * r) + r + 1.0;
    // |n| <= 126 because |z| <= 87, so the biased exponent stays in 1..=253.
    y * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// Scalar GELU, `x / (1 + exp(x*(K1 + K2*x^2)))`.
#[inline]
fn gelu_scalar(x: f32) -> f32 {
    // Written as a comparison (not `f32::max`) so that NaN propagates, as in the SIMD `max`.
    let x = if x < GELU_X_FLOOR { GELU_X_FLOOR } else { x };
    let z = x * (GELU_K1 + GELU_K2 * (x * x));
    // `max`/`min` map NaN to the bound; a NaN `x` still propagates through the final division.
    let z = z.clamp(-EXP_CLAMP, EXP_CLAMP);
    x / (1.0 + exp_scalar(z))
}

/// Scalar SiLU, `x / (1 + exp(-x))`.
#[inline]
fn silu_scalar(x: f32) -> f32 {
    let x = if x < SILU_X_FLOOR { SILU_X_FLOOR } else { x };
    let z = (-x).clamp(-EXP_CLAMP, EXP_CLAMP);
    x / (1.0 + exp_scalar(z))
}

/// x86_64 SIMD activations, used by the GEMM epilogue and by [`Activation::apply_slice`].
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use super::*;

    /// GELU of 16 lanes (see the module docs for the formula).
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) fn gelu_avx512(x: __m512) -> __m512 {
        // `max(floor, x)` returns `x` when `x` is NaN, so NaN propagates.
        let x = _mm512_max_ps(_mm512_set1_ps(GELU_X_FLOOR), x);
        let x2 = _mm512_mul_ps(x, x);
        let z = _mm512_mul_ps(
            x,
            _mm512_fmadd_ps(_mm512_set1_ps(GELU_K2), x2, _mm512_set1_ps(GELU_K1)),
        );
        over_one_plus_exp_avx512(x, z)
    }

    /// SiLU of 16 lanes, `x / (1 + exp(-x))`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) fn silu_avx512(x: __m512) -> __m512 {
        let x = _mm512_max_ps(_mm512_set1_ps(SILU_X_FLOOR), x);
        over_one_plus_exp_avx512(x, _mm512_sub_ps(_mm512_setzero_ps(), x))
    }

    /// `x / (1 + exp(z))` of 16 lanes, `z` clamped to `[-87, 87]` first.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn over_one_plus_exp_avx512(x: __m512, z: __m512) -> __m512 {
        let z = _mm512_min_ps(
            _mm512_max_ps(z, _mm512_set1_ps(-EXP_CLAMP)),
            _mm512_set1_ps(EXP_CLAMP),
        );
        // exp(z) = 2^n * exp(r), z = n*ln2 + r.
        let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm512_mul_ps(z, _mm512_set1_ps(LOG2E)),
        );
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), z);
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
        let mut p = _mm512_set1_ps(EXP_P0);
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_P1));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_P2));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_P3));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_P4));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_P5));
        let y = _mm512_fmadd_ps(
            p,
            _mm512_mul_ps(r, r),
            _mm512_add_ps(r, _mm512_set1_ps(1.0)),
        );
        let e = _mm512_scalef_ps(y, n);
        _mm512_div_ps(x, _mm512_add_ps(e, _mm512_set1_ps(1.0)))
    }

    /// Activation of 16 lanes.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) fn act_avx512(act: Activation, x: __m512) -> __m512 {
        match act {
            Activation::Identity => x,
            Activation::Relu => _mm512_max_ps(x, _mm512_setzero_ps()),
            Activation::Gelu => gelu_avx512(x),
            Activation::Relu6 => _mm512_min_ps(
                _mm512_max_ps(x, _mm512_setzero_ps()),
                _mm512_set1_ps(RELU6_MAX),
            ),
            Activation::Silu => silu_avx512(x),
        }
    }

    /// GELU of 8 lanes (see the module docs for the formula).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(crate) fn gelu_avx2(x: __m256) -> __m256 {
        let x = _mm256_max_ps(_mm256_set1_ps(GELU_X_FLOOR), x);
        let x2 = _mm256_mul_ps(x, x);
        let z = _mm256_mul_ps(
            x,
            _mm256_fmadd_ps(_mm256_set1_ps(GELU_K2), x2, _mm256_set1_ps(GELU_K1)),
        );
        over_one_plus_exp_avx2(x, z)
    }

    /// SiLU of 8 lanes, `x / (1 + exp(-x))`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(crate) fn silu_avx2(x: __m256) -> __m256 {
        let x = _mm256_max_ps(_mm256_set1_ps(SILU_X_FLOOR), x);
        over_one_plus_exp_avx2(x, _mm256_sub_ps(_mm256_setzero_ps(), x))
    }

    /// `x / (1 + exp(z))` of 8 lanes, `z` clamped to `[-87, 87]` first.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn over_one_plus_exp_avx2(x: __m256, z: __m256) -> __m256 {
        let z = _mm256_min_ps(
            _mm256_max_ps(z, _mm256_set1_ps(-EXP_CLAMP)),
            _mm256_set1_ps(EXP_CLAMP),
        );
        let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm256_mul_ps(z, _mm256_set1_ps(LOG2E)),
        );
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), z);
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
        let mut p = _mm256_set1_ps(EXP_P0);
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P1));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P2));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P3));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P4));
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_P5));
        let y = _mm256_fmadd_ps(
            p,
            _mm256_mul_ps(r, r),
            _mm256_add_ps(r, _mm256_set1_ps(1.0)),
        );
        // 2^n through the exponent field; |n| <= 126 so the biased exponent is in 1..=253.
        let pow2n = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(
            _mm256_cvtps_epi32(n),
            _mm256_set1_epi32(127),
        )));
        let e = _mm256_mul_ps(y, pow2n);
        _mm256_div_ps(x, _mm256_add_ps(e, _mm256_set1_ps(1.0)))
    }

    /// Activation of 8 lanes.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(crate) fn act_avx2(act: Activation, x: __m256) -> __m256 {
        match act {
            Activation::Identity => x,
            Activation::Relu => _mm256_max_ps(x, _mm256_setzero_ps()),
            Activation::Gelu => gelu_avx2(x),
            Activation::Relu6 => _mm256_min_ps(
                _mm256_max_ps(x, _mm256_setzero_ps()),
                _mm256_set1_ps(RELU6_MAX),
            ),
            Activation::Silu => silu_avx2(x),
        }
    }

    /// In-place activation pass over a slice with AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(crate) fn apply_slice_avx512(act: Activation, xs: &mut [f32]) {
        let mut chunks = xs.chunks_exact_mut(16);
        for ch in &mut chunks {
            // SAFETY: `ch` has exactly 16 elements; unaligned load/store.
            unsafe {
                let v = _mm512_loadu_ps(ch.as_ptr());
                _mm512_storeu_ps(ch.as_mut_ptr(), act_avx512(act, v));
            }
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let mask: __mmask16 = ((1u32 << rest.len()) - 1) as __mmask16;
            // SAFETY: masked load/store touch only the first `rest.len()` (< 16) elements.
            unsafe {
                let v = _mm512_maskz_loadu_ps(mask, rest.as_ptr());
                _mm512_mask_storeu_ps(rest.as_mut_ptr(), mask, act_avx512(act, v));
            }
        }
    }

    /// In-place activation pass over a slice with AVX2+FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(crate) fn apply_slice_avx2(act: Activation, xs: &mut [f32]) {
        let mut chunks = xs.chunks_exact_mut(8);
        for ch in &mut chunks {
            // SAFETY: `ch` has exactly 8 elements; unaligned load/store.
            unsafe {
                let v = _mm256_loadu_ps(ch.as_ptr());
                _mm256_storeu_ps(ch.as_mut_ptr(), act_avx2(act, v));
            }
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let mut buf = [0.0f32; 8];
            buf[..rest.len()].copy_from_slice(rest);
            // SAFETY: `buf` has 8 elements.
            unsafe {
                let v = _mm256_loadu_ps(buf.as_ptr());
                _mm256_storeu_ps(buf.as_mut_ptr(), act_avx2(act, v));
            }
            rest.copy_from_slice(&buf[..rest.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACTS: [Activation; 5] = Activation::ALL;

    fn isas() -> Vec<Isa> {
        [Isa::Avx512, Isa::Avx2Fma, Isa::Portable]
            .into_iter()
            .filter(|i| i.is_available())
            .collect()
    }

    /// Deterministic inputs covering small, moderate, huge and special magnitudes.
    fn inputs() -> Vec<f32> {
        let mut v = vec![
            0.0f32, -0.0, 1e-30, -1e-30, 1e-7, -1e-7, 88.0, -88.0, 1e20, -1e20,
        ];
        v.extend([
            f32::MAX,
            f32::MIN,
            f32::MIN_POSITIVE,
            3.4e12,
            -3.4e12,
            1e13,
            -1e13,
        ]);
        let mut x = -12.0f32;
        while x <= 12.0 {
            v.push(x);
            x += 0.001_7;
        }
        let mut s = 1e-6f32;
        while s < 1e6 {
            v.push(s);
            v.push(-s);
            s *= 1.37;
        }
        v
    }

    fn check(act: Activation, x: f32, y: f32) {
        let r = act.reference(x as f64);
        assert!(y.is_finite(), "{act:?}({x}) = {y} not finite");
        let err = (y as f64 - r).abs();
        assert!(
            err <= 1e-5 * r.abs() + 1e-6,
            "{act:?}({x}) = {y}, reference {r}, error {err}"
        );
    }

    #[test]
    fn scalar_matches_reference() {
        for act in ACTS {
            for &x in &inputs() {
                check(act, x, act.apply_scalar(x));
            }
        }
    }

    /// Accurate f64 GELU (`reference` itself loses precision to cancellation for `x < -5`).
    fn gelu_f64_accurate(x: f64) -> f64 {
        let u = SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x);
        x / (1.0 + (-2.0 * u).exp())
    }

    #[test]
    fn gelu_relative_error_is_tiny() {
        // Much tighter than the verification tolerance. For x < 0 the f32 rounding of the exponent
        // argument z is amplified by |z| (exp's condition number), hence the |z| term.
        let xs = inputs();
        let mut worst = 0.0f64;
        for isa in isas() {
            let mut ys = xs.clone();
            Activation::Gelu.apply_slice_isa(isa, &mut ys);
            for (&x, &y) in xs.iter().zip(&ys) {
                let r = gelu_f64_accurate(x as f64);
                if r.abs() > 1e-30 {
                    let x = x as f64;
                    let z = (2.0 * SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x))
                        .abs()
                        .min(87.0);
                    let rel = ((y as f64 - r) / r).abs();
                    let tol = 1e-6 + 2.5e-7 * z;
                    worst = worst.max(rel / tol);
                    assert!(
                        rel < tol,
                        "{isa:?} gelu({x}) = {y}, accurate {r}, rel {rel}"
                    );
                }
            }
        }
        eprintln!("worst gelu error / tolerance: {worst}");
    }

    #[test]
    fn slice_paths_match_reference_and_scalar() {
        let xs = inputs();
        for isa in isas() {
            for act in ACTS {
                // Odd lengths exercise the vector remainders.
                for len in [0usize, 1, 7, 15, 16, 17, 33, xs.len()] {
                    let mut ys = xs[..len].to_vec();
                    act.apply_slice_isa(isa, &mut ys);
                    for (&x, &y) in xs[..len].iter().zip(&ys) {
                        check(act, x, y);
                        let s = act.apply_scalar(x);
                        // Only FMA-vs-separate rounding differs (amplified by |z| for x < 0).
                        assert!(
                            (y - s).abs() <= 1e-5 * s.abs() + 1e-30,
                            "{isa:?} {act:?}({x}): simd {y} vs scalar {s}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn saturation_and_no_nan() {
        for isa in isas() {
            let mut ys = vec![1e30f32, -1e30, 50.0, -50.0, 1e38, -1e38, 20.0, -20.0];
            Activation::Gelu.apply_slice_isa(isa, &mut ys);
            assert!(ys.iter().all(|y| y.is_finite()), "{isa:?}: {ys:?}");
            assert_eq!(ys[0], 1e30);
            assert_eq!(ys[2], 50.0);
            assert_eq!(ys[4], 1e38);
            assert_eq!(ys[6], 20.0);
            for &y in &[ys[1], ys[3], ys[5], ys[7]] {
                assert!(
                    y <= 0.0 && y > -1e-36,
                    "{isa:?}: gelu of a large negative is {y}"
                );
            }
            let mut r = vec![-3.0f32, 0.0, 2.5, -0.0, f32::MIN];
            Activation::Relu.apply_slice_isa(isa, &mut r);
            assert_eq!(r, vec![0.0, 0.0, 2.5, 0.0, 0.0]);
        }
    }

    #[test]
    fn identity_is_noop() {
        let xs = inputs();
        for isa in isas() {
            let mut ys = xs.clone();
            Activation::Identity.apply_slice_isa(isa, &mut ys);
            assert_eq!(xs, ys);
        }
    }
}
