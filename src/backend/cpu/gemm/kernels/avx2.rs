//! The AVX2+FMA microkernel (6 x 16, 12 ymm accumulators) and the generic packing compiled
//! for AVX2.

use std::arch::x86_64::*;

use super::super::pack::{pack_b_generic, pack_rows};
use super::super::Problem;
use super::{MicroKernel, TileEpi};
use crate::backend::cpu::activation::x86::act_avx2;

/// AVX2+FMA kernel, 6 x 16 tile (12 ymm accumulators).
pub(crate) struct Avx2;

impl MicroKernel for Avx2 {
    const MR: usize = 6;
    const NR: usize = 16;
    const KC: usize = 256;
    const MC: usize = 120;

    fn pack_a(
        a: &[f32],
        lda: usize,
        r0: usize,
        rows: usize,
        p0: usize,
        kc: usize,
        dst: &mut [f32],
    ) {
        // SAFETY: `Avx2` is only used after `sgemm_with` checked AVX2 and FMA.
        unsafe { pack_a_avx2(a, lda, r0, rows, p0, kc, dst) }
    }

    fn pack_b(p: &Problem, sa: usize, sb: usize, p0: usize, kc: usize, dst: &mut [f32]) {
        // SAFETY: as above.
        unsafe { pack_b_avx2(p, sa, sb, p0, kc, dst) }
    }

    unsafe fn tile(
        kc: usize,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        epi: &TileEpi,
    ) {
        // SAFETY: forwarded contract; the caller guarantees AVX2 and FMA.
        unsafe { tile_avx2(kc, a, b, c, ldc, epi) }
    }
}

/// The generic A packing compiled for AVX2.
#[target_feature(enable = "avx2,fma")]
fn pack_a_avx2(
    a: &[f32],
    lda: usize,
    r0: usize,
    rows: usize,
    p0: usize,
    kc: usize,
    dst: &mut [f32],
) {
    pack_rows::<6>(a, lda, r0, rows, p0, kc, dst);
}

/// The generic B packing compiled for AVX2 (wider copies).
#[target_feature(enable = "avx2,fma")]
fn pack_b_avx2(p: &Problem, sa: usize, sb: usize, p0: usize, kc: usize, dst: &mut [f32]) {
    pack_b_generic::<16>(p, sa, sb, p0, kc, dst);
}

/// See [`MicroKernel::tile`] for the contract.
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_avx2(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    epi: &TileEpi,
) {
    const MR: usize = Avx2::MR;
    let mut c0 = [_mm256_setzero_ps(); MR];
    let mut c1 = [_mm256_setzero_ps(); MR];
    // SAFETY (whole block): as in `tile_avx512`, with 32-byte aligned B reads.
    unsafe {
        let mut a = a;
        let mut b = b;
        for _ in 0..kc {
            let b0 = _mm256_load_ps(b);
            let b1 = _mm256_load_ps(b.add(8));
            for r in 0..MR {
                let av = _mm256_broadcast_ss(&*a.add(r));
                c0[r] = _mm256_fmadd_ps(av, b0, c0[r]);
                c1[r] = _mm256_fmadd_ps(av, b1, c1[r]);
            }
            a = a.add(MR);
            b = b.add(16);
        }

        let alpha = _mm256_set1_ps(epi.alpha);
        let (bc0, bc1) = if epi.bias_col.is_null() {
            (_mm256_setzero_ps(), _mm256_setzero_ps())
        } else {
            (
                _mm256_loadu_ps(epi.bias_col),
                _mm256_loadu_ps(epi.bias_col.add(8)),
            )
        };
        for r in 0..MR {
            let cp = c.add(r * ldc);
            let mut v0 = c0[r];
            let mut v1 = c1[r];
            if epi.load_c {
                v0 = _mm256_add_ps(v0, _mm256_loadu_ps(cp));
                v1 = _mm256_add_ps(v1, _mm256_loadu_ps(cp.add(8)));
            }
            if epi.apply {
                let br = if epi.bias_row.is_null() {
                    0.0
                } else {
                    *epi.bias_row.add(r)
                };
                let br = _mm256_set1_ps(br);
                v0 = _mm256_fmadd_ps(v0, alpha, _mm256_add_ps(bc0, br));
                v1 = _mm256_fmadd_ps(v1, alpha, _mm256_add_ps(bc1, br));
                if !epi.residual.is_null() {
                    let rp = epi.residual.add(r * epi.ldr);
                    v0 = _mm256_add_ps(v0, _mm256_loadu_ps(rp));
                    v1 = _mm256_add_ps(v1, _mm256_loadu_ps(rp.add(8)));
                }
                v0 = act_avx2(epi.act, v0);
                v1 = act_avx2(epi.act, v1);
                if !epi.mul.is_null() {
                    let mp = epi.mul.add(r * epi.ldm);
                    v0 = _mm256_mul_ps(v0, _mm256_loadu_ps(mp));
                    v1 = _mm256_mul_ps(v1, _mm256_loadu_ps(mp.add(8)));
                }
            }
            _mm256_storeu_ps(cp, v0);
            _mm256_storeu_ps(cp.add(8), v1);
        }
    }
}
