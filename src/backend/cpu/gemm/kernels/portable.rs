//! The portable microkernel: plain Rust that LLVM vectorises with the target's baseline SIMD;
//! the fallback on CPUs (and architectures) without AVX2+FMA.

use super::super::pack::{pack_b_generic, pack_rows};
use super::super::Problem;
use super::{MicroKernel, TileEpi};

/// Portable kernel: plain Rust over fixed-size arrays, which LLVM vectorises with the baseline
/// SIMD of the target (SSE2 on x86_64, NEON on aarch64).
pub(crate) struct Portable;

impl MicroKernel for Portable {
    const MR: usize = 4;
    const NR: usize = 8;
    const KC: usize = 256;
    const MC: usize = 64;

    fn pack_a(
        a: &[f32],
        lda: usize,
        r0: usize,
        rows: usize,
        p0: usize,
        kc: usize,
        dst: &mut [f32],
    ) {
        pack_rows::<4>(a, lda, r0, rows, p0, kc, dst);
    }

    fn pack_b(p: &Problem, sa: usize, sb: usize, p0: usize, kc: usize, dst: &mut [f32]) {
        pack_b_generic::<8>(p, sa, sb, p0, kc, dst);
    }

    unsafe fn tile(
        kc: usize,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        epi: &TileEpi,
    ) {
        const MR: usize = Portable::MR;
        const NR: usize = Portable::NR;
        // SAFETY: the caller guarantees `kc*MR` and `kc*NR` readable elements.
        let (a, b) = unsafe {
            (
                std::slice::from_raw_parts(a, kc * MR),
                std::slice::from_raw_parts(b, kc * NR),
            )
        };
        let mut acc = [[0.0f32; NR]; MR];
        for (ak, bk) in a.chunks_exact(MR).zip(b.chunks_exact(NR)) {
            for r in 0..MR {
                for j in 0..NR {
                    acc[r][j] += ak[r] * bk[j];
                }
            }
        }
        // A row of the residual / mul operand, or `None` (read per row, not per element).
        let row_of = |p: *const f32, ld: usize, r: usize| {
            // SAFETY: a non-null residual / mul pointer has MR rows of NR values at stride `ld`.
            (!p.is_null()).then(|| unsafe { std::slice::from_raw_parts(p.add(r * ld), NR) })
        };
        for (r, acc_row) in acc.iter().enumerate() {
            // SAFETY: the caller guarantees MR rows of NR elements at stride `ldc`.
            let crow = unsafe { std::slice::from_raw_parts_mut(c.add(r * ldc), NR) };
            let (res, mul) = if epi.apply {
                (
                    row_of(epi.residual, epi.ldr, r),
                    row_of(epi.mul, epi.ldm, r),
                )
            } else {
                (None, None)
            };
            for j in 0..NR {
                let mut v = acc_row[j];
                if epi.load_c {
                    v += crow[j];
                }
                if epi.apply {
                    v *= epi.alpha;
                    if !epi.bias_row.is_null() {
                        // SAFETY: a non-null row bias has MR readable values.
                        v += unsafe { *epi.bias_row.add(r) };
                    }
                    if !epi.bias_col.is_null() {
                        // SAFETY: a non-null column bias has NR readable values.
                        v += unsafe { *epi.bias_col.add(j) };
                    }
                    if let Some(res) = res {
                        v += res[j];
                    }
                    v = epi.act.apply_scalar(v);
                    if let Some(mul) = mul {
                        v *= mul[j];
                    }
                }
                crow[j] = v;
            }
        }
    }
}
