//! The AVX-512F microkernel (12 x 32, 24 zmm accumulators, smaller masked instances for edge
//! tiles) and its packing: B^T and A are transposed 16 x 16 at a time in registers.

use std::arch::x86_64::*;

use super::super::pack::{pack_b_generic, prefetch_read};
use super::super::{BLayout, Problem};
use super::{MicroKernel, TileEpi};
use crate::backend::cpu::activation::x86::act_avx512;

/// AVX-512F kernel, 12 x 32 tile (24 zmm accumulators).
pub(crate) struct Avx512;

impl MicroKernel for Avx512 {
    const MR: usize = 12;
    const NR: usize = 32;
    const KC: usize = 1024;
    const MC: usize = 96;

    fn pack_a(
        a: &[f32],
        lda: usize,
        r0: usize,
        rows: usize,
        p0: usize,
        kc: usize,
        dst: &mut [f32],
    ) {
        // SAFETY: `Avx512` is only used after `sgemm_with` checked AVX-512F.
        unsafe { pack_rows_avx512::<12>(a, lda, r0, rows, p0, kc, dst) }
    }

    fn pack_b(p: &Problem, sa: usize, sb: usize, p0: usize, kc: usize, dst: &mut [f32]) {
        // SAFETY: as above.
        unsafe { pack_b_avx512(p, sa, sb, p0, kc, dst) }
    }

    unsafe fn tile(
        kc: usize,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        epi: &TileEpi,
    ) {
        // SAFETY: forwarded contract (a full tile); the caller guarantees AVX-512F.
        unsafe { tile_avx512::<12, 2>(kc, a, b, c, ldc, 12, 32, epi) }
    }

    #[allow(clippy::too_many_arguments)]
    unsafe fn tile_partial(
        kc: usize,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        nrows: usize,
        ncols: usize,
        epi: &TileEpi,
    ) -> bool {
        // SAFETY (all arms): forwarded contract; each instance covers `nrows x ncols`.
        unsafe {
            match (nrows, ncols > 16) {
                (9.., true) => tile_avx512::<12, 2>(kc, a, b, c, ldc, nrows, ncols, epi),
                (9.., false) => tile_avx512::<12, 1>(kc, a, b, c, ldc, nrows, ncols, epi),
                (5..=8, true) => tile_avx512::<8, 2>(kc, a, b, c, ldc, nrows, ncols, epi),
                (5..=8, false) => tile_avx512::<8, 1>(kc, a, b, c, ldc, nrows, ncols, epi),
                (_, true) => tile_avx512::<4, 2>(kc, a, b, c, ldc, nrows, ncols, epi),
                (_, false) => tile_avx512::<4, 1>(kc, a, b, c, ldc, nrows, ncols, epi),
            }
        }
        true
    }
}

/// The AVX-512 microkernel for a tile of up to `ROWS` rows and `16*NV` columns (the full
/// kernel is `<12, 2>`; the smaller instances keep edge tiles from computing padding).
/// `nrows <= ROWS` and `ncols <= 16*NV` rows/columns are stored (masked); the A panel
/// stride is always `MR` and the B sliver stride `NR`.
///
/// # Safety
/// As [`MicroKernel::tile`], with C, the residual and mul valid for `nrows` rows of `ncols`
/// elements and non-null biases valid for `nrows` / `ncols` reads.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
unsafe fn tile_avx512<const ROWS: usize, const NV: usize>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    nrows: usize,
    ncols: usize,
    epi: &TileEpi,
) {
    const MR: usize = Avx512::MR;
    const NR: usize = Avx512::NR;
    debug_assert!(ROWS <= MR && NV <= 2 && nrows <= ROWS && ncols <= 16 * NV);
    let mut c0 = [_mm512_setzero_ps(); ROWS];
    let mut c1 = [_mm512_setzero_ps(); ROWS];
    // SAFETY (whole block): reads stay within `kc*MR` elements of `a` and `kc*NR` of `b`;
    // C, the residual and mul are only accessed in their first `nrows` rows and, through the
    // masks, their first `ncols` columns (caller's contract); B reads are 64-byte aligned as
    // `_mm512_load_ps` requires. Prefetches never fault (and use wrapping addresses).
    unsafe {
        // Start fetching the C tile (read on later K blocks, written at the end): its
        // lines are scattered over the rows, so no hardware prefetcher would.
        for r in 0..ROWS {
            let row = c.wrapping_add(r * ldc);
            _mm_prefetch::<_MM_HINT_T0>(row as *const i8);
            if NV == 2 {
                _mm_prefetch::<_MM_HINT_T0>(row.wrapping_add(16) as *const i8);
            }
        }
        let mut a = a;
        let mut b = b;
        // One k step: NV B vectors, ROWS broadcasts of A, NV*ROWS FMAs.
        macro_rules! step {
            () => {{
                let b0 = _mm512_load_ps(b);
                let b1 = if NV == 2 {
                    _mm512_load_ps(b.add(16))
                } else {
                    b0
                };
                for r in 0..ROWS {
                    let av = _mm512_set1_ps(*a.add(r));
                    c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);
                    if NV == 2 {
                        c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);
                    }
                }
                a = a.add(MR);
                b = b.add(NR);
            }};
        }
        // Unrolled by 8; each round prefetches two lines (into L2) of the next B sliver.
        let mut pf = epi.prefetch;
        for _ in 0..kc / 8 {
            _mm_prefetch::<_MM_HINT_T1>(pf as *const i8);
            _mm_prefetch::<_MM_HINT_T1>(pf.wrapping_add(16) as *const i8);
            pf = pf.wrapping_add(32);
            step!();
            step!();
            step!();
            step!();
            step!();
            step!();
            step!();
            step!();
        }
        for _ in 0..kc % 8 {
            step!();
        }

        let lanes = |n: usize| ((1u32 << n.min(16)) - 1) as __mmask16;
        let (m0, m1) = (lanes(ncols), lanes(ncols.saturating_sub(16)));
        let alpha = _mm512_set1_ps(epi.alpha);
        let (bc0, bc1) = if epi.bias_col.is_null() {
            (_mm512_setzero_ps(), _mm512_setzero_ps())
        } else {
            (
                _mm512_maskz_loadu_ps(m0, epi.bias_col),
                _mm512_maskz_loadu_ps(m1, epi.bias_col.wrapping_add(16)),
            )
        };
        for r in 0..ROWS {
            if r >= nrows {
                break;
            }
            let cp = c.add(r * ldc);
            let mut v0 = c0[r];
            let mut v1 = c1[r];
            if epi.load_c {
                v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, cp));
                if NV == 2 {
                    v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, cp.wrapping_add(16)));
                }
            }
            if epi.apply {
                let br = if epi.bias_row.is_null() {
                    0.0
                } else {
                    *epi.bias_row.add(r)
                };
                let br = _mm512_set1_ps(br);
                v0 = _mm512_fmadd_ps(v0, alpha, _mm512_add_ps(bc0, br));
                if NV == 2 {
                    v1 = _mm512_fmadd_ps(v1, alpha, _mm512_add_ps(bc1, br));
                }
                if !epi.residual.is_null() {
                    let rp = epi.residual.add(r * epi.ldr);
                    v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, rp));
                    if NV == 2 {
                        v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, rp.wrapping_add(16)));
                    }
                }
                v0 = act_avx512(epi.act, v0);
                if NV == 2 {
                    v1 = act_avx512(epi.act, v1);
                }
                if !epi.mul.is_null() {
                    let mp = epi.mul.add(r * epi.ldm);
                    v0 = _mm512_mul_ps(v0, _mm512_maskz_loadu_ps(m0, mp));
                    if NV == 2 {
                        v1 = _mm512_mul_ps(v1, _mm512_maskz_loadu_ps(m1, mp.wrapping_add(16)));
                    }
                }
            }
            _mm512_mask_storeu_ps(cp, m0, v0);
            if NV == 2 {
                _mm512_mask_storeu_ps(cp.wrapping_add(16), m1, v1);
            }
        }
    }
}

/// B packing for the AVX-512 kernel: row-major B is a (vectorised) copy; B^T is
/// transposed 16x16 at a time.
#[target_feature(enable = "avx512f")]
fn pack_b_avx512(p: &Problem, sa: usize, sb: usize, p0: usize, kc: usize, dst: &mut [f32]) {
    match p.b_layout {
        BLayout::RowMajor => pack_b_generic::<32>(p, sa, sb, p0, kc, dst),
        BLayout::Transposed => {
            for (i, sl) in dst.chunks_exact_mut(kc * 32).take(sb - sa).enumerate() {
                let j0 = (sa + i) * 32;
                pack_rows_avx512::<32>(p.b, p.ldb, j0, 32.min(p.n - j0), p0, kc, sl);
            }
        }
    }
}

/// Transposes a 16x16 block held as 16 rows (4-stage shuffle network).
#[inline]
#[target_feature(enable = "avx512f")]
fn transpose16(r: [__m512; 16]) -> [__m512; 16] {
    // Stage 1: interleave row pairs.
    let mut t = [_mm512_setzero_ps(); 16];
    for i in 0..8 {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    // Stage 2: u[4g + j] holds, for rows 4g..4g+4, columns j, j+4, j+8, j+12 (one per
    // 128-bit lane).
    let mut u = [_mm512_setzero_ps(); 16];
    for g in 0..4 {
        let (a, b, c, d) = (t[4 * g], t[4 * g + 1], t[4 * g + 2], t[4 * g + 3]);
        u[4 * g] = _mm512_shuffle_ps::<0x44>(a, c);
        u[4 * g + 1] = _mm512_shuffle_ps::<0xEE>(a, c);
        u[4 * g + 2] = _mm512_shuffle_ps::<0x44>(b, d);
        u[4 * g + 3] = _mm512_shuffle_ps::<0xEE>(b, d);
    }
    // Stage 3: combine row groups 0-1 and 2-3 lane-wise.
    let mut v = [_mm512_setzero_ps(); 16];
    for j in 0..4 {
        v[j] = _mm512_shuffle_f32x4::<0x88>(u[j], u[4 + j]);
        v[4 + j] = _mm512_shuffle_f32x4::<0xDD>(u[j], u[4 + j]);
        v[8 + j] = _mm512_shuffle_f32x4::<0x88>(u[8 + j], u[12 + j]);
        v[12 + j] = _mm512_shuffle_f32x4::<0xDD>(u[8 + j], u[12 + j]);
    }
    // Stage 4: out[c] is column c.
    let mut out = [_mm512_setzero_ps(); 16];
    for j in 0..4 {
        out[j] = _mm512_shuffle_f32x4::<0x88>(v[j], v[8 + j]);
        out[8 + j] = _mm512_shuffle_f32x4::<0xDD>(v[j], v[8 + j]);
        out[4 + j] = _mm512_shuffle_f32x4::<0x88>(v[4 + j], v[12 + j]);
        out[12 + j] = _mm512_shuffle_f32x4::<0xDD>(v[4 + j], v[12 + j]);
    }
    out
}

/// [`pack_rows`](super::super::pack::pack_rows) for widths up to 32 with AVX-512: blocks of 16
/// rows x 16 columns are loaded, transposed in registers and stored as 16 rows of the panel.
#[target_feature(enable = "avx512f")]
pub(super) fn pack_rows_avx512<const W: usize>(
    src: &[f32],
    ld: usize,
    r0: usize,
    rows: usize,
    p0: usize,
    kc: usize,
    dst: &mut [f32],
) {
    assert!(W <= 32 && rows <= W);
    let dst = &mut dst[..kc * W];
    // Bounds-checked row slices; the raw loads below stay inside them.
    let lines: [&[f32]; W] = std::array::from_fn(|r| {
        if r < rows {
            &src[(r0 + r) * ld + p0..][..kc]
        } else {
            &[]
        }
    });
    for g in 0..W.div_ceil(16) {
        let lanes = (W - 16 * g).min(16);
        let store_mask = ((1u32 << lanes) - 1) as __mmask16;
        let mut kk = 0;
        while kk < kc {
            let kn = (kc - kk).min(16);
            let load_mask = ((1u32 << kn) - 1) as __mmask16;
            let mut r = [_mm512_setzero_ps(); 16];
            for (i, v) in r.iter_mut().enumerate().take(lanes) {
                let line = lines[16 * g + i];
                if !line.is_empty() {
                    // Up to 32 rows are read side by side: help the prefetchers along.
                    prefetch_read(line.as_ptr().wrapping_add(kk + 64));
                    // SAFETY: `line` has `kc` elements and the mask limits the load to
                    // elements `kk..kk+kn` of it.
                    *v = unsafe { _mm512_maskz_loadu_ps(load_mask, line.as_ptr().add(kk)) };
                }
            }
            let t = transpose16(r);
            for (j, col) in t.iter().enumerate().take(kn) {
                let off = (kk + j) * W + 16 * g;
                // SAFETY: `off + lanes <= kc*W = dst.len()` because `kk + j < kc` and
                // `16*g + lanes <= W`; the mask limits the store to `lanes` elements.
                unsafe { _mm512_mask_storeu_ps(dst.as_mut_ptr().add(off), store_mask, *col) };
            }
            kk += kn;
        }
    }
}
