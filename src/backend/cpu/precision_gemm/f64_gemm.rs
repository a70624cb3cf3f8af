//! Double-precision GEMM, `C = A·B` with `n×n` row-major operands: the packed f32 GEMM's
//! BLIS structure ([`crate::backend::cpu::gemm`]) at f64 width, with f64 sums.
//!
//! Loop nest (each worker owns a slab of C's rows, so writes never overlap):
//! ```text
//! for pc in K step KC              B~ = pack(B[pc.., all columns]) as kc × NR slivers
//!   for ic in slab step MC         A~ = pack(A[ic.., pc..]) as MR-tall panels
//!     for jr in N step NR          one B sliver (kc·NR·8 = 32 KiB, L1) ...
//!       for ir in mc step MR       ... meets every A panel of the block (L2)
//!         microkernel: MR × NR of C in registers, kc rank-1 updates, one store
//! ```
//! `MR × NR = 12 × 16`: 24 zmm accumulators of 8 doubles, two for the B row, one broadcast.
//! Without AVX-512 a portable microkernel over the same packed panels runs, which the compiler
//! vectorises for the target.

use crate::{Error, Result};
use rayon::prelude::*;

const MR: usize = 12;
const NR: usize = 16;
const KC: usize = 256;
const MC: usize = 288;

/// A packed B sliver row or an A panel column, 64-byte aligned for the vector loads.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Line([f64; 8]);

/// Buffers of an `n×n` f64 GEMM.
pub struct F64Gemm {
    n: usize,
    /// Per worker: packed B of one K block (all columns) and one A block.
    workers: Vec<(Vec<Line>, Vec<Line>)>,
    rows_per_worker: usize,
}

impl F64Gemm {
    /// Buffers for `n×n` over the pool's workers; an error when they would not fit.
    pub fn new(n: usize) -> Result<Self> {
        let too_big =
            || Error::DeviceLimit(format!("f64 GEMM {n}×{n}: the packed operands overflow"));
        let workers = rayon::current_num_threads().max(1);
        let rows_per_worker = n.div_ceil(workers).div_ceil(MR) * MR;
        let slivers = n.div_ceil(NR);
        let b_lines = slivers.checked_mul(KC * NR / 8).ok_or_else(too_big)?;
        let a_lines = MC * KC / 8;
        b_lines.checked_mul(64).ok_or_else(too_big)?;
        let tasks = n.div_ceil(rows_per_worker.max(1));
        Ok(F64Gemm {
            n,
            workers: (0..tasks)
                .map(|_| (vec![Line([0.0; 8]); b_lines], vec![Line([0.0; 8]); a_lines]))
                .collect(),
            rows_per_worker,
        })
    }

    /// `C = A·B`.
    pub fn multiply(&mut self, a: &[f64], b: &[f64], c: &mut [f64]) {
        let n = self.n;
        debug_assert!(a.len() == n * n && b.len() == n * n && c.len() == n * n);
        let rows = self.rows_per_worker;
        let avx512 = has_avx512();
        c.par_chunks_mut(rows * n)
            .zip(self.workers.par_iter_mut())
            .enumerate()
            .for_each(|(w, (c_slab, (bp, ap)))| {
                let r0 = w * rows;
                let slab_rows = c_slab.len() / n;
                let bp = as_f64_mut(bp);
                let ap = as_f64_mut(ap);
                for pc in (0..n).step_by(KC) {
                    let kc = KC.min(n - pc);
                    pack_b(b, n, pc, kc, bp);
                    for ic in (0..slab_rows).step_by(MC) {
                        let mc = MC.min(slab_rows - ic);
                        pack_a(a, n, r0 + ic, mc, pc, kc, ap);
                        for (s, jr) in (0..n).step_by(NR).enumerate() {
                            let ncols = NR.min(n - jr);
                            let sliver = &bp[s * KC * NR..s * KC * NR + kc * NR];
                            for (p, ir) in (0..mc).step_by(MR).enumerate() {
                                let nrows = MR.min(mc - ir);
                                let panel = &ap[p * KC * MR..p * KC * MR + kc * MR];
                                let tile = Tile {
                                    c: &mut c_slab[(ic + ir) * n + jr..],
                                    ldc: n,
                                    nrows,
                                    ncols,
                                    accumulate: pc > 0,
                                };
                                microkernel(avx512, kc, panel, sliver, tile);
                            }
                        }
                    }
                }
            });
    }
}

fn as_f64_mut(lines: &mut [Line]) -> &mut [f64] {
    // SAFETY: `Line` is `repr(C)` of eight f64 with no padding.
    unsafe { std::slice::from_raw_parts_mut(lines.as_mut_ptr().cast(), lines.len() * 8) }
}

fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// B[pc..pc+kc, all columns] as slivers of `kc × NR` (row k of a sliver is NR columns),
/// zero-padded past the last column.
fn pack_b(b: &[f64], n: usize, pc: usize, kc: usize, out: &mut [f64]) {
    for (s, jr) in (0..n).step_by(NR).enumerate() {
        let cols = NR.min(n - jr);
        let sliver = &mut out[s * KC * NR..];
        for k in 0..kc {
            let src = &b[(pc + k) * n + jr..(pc + k) * n + jr + cols];
            let dst = &mut sliver[k * NR..(k + 1) * NR];
            dst[..cols].copy_from_slice(src);
            dst[cols..].fill(0.0);
        }
    }
}

/// A[r0..r0+mc, pc..pc+kc] as MR-tall panels (column k of a panel is MR rows), zero-padded
/// past the last row.
fn pack_a(a: &[f64], n: usize, r0: usize, mc: usize, pc: usize, kc: usize, out: &mut [f64]) {
    for (p, ir) in (0..mc).step_by(MR).enumerate() {
        let rows = MR.min(mc - ir);
        let panel = &mut out[p * KC * MR..];
        for r in 0..MR {
            if r < rows {
                let src = &a[(r0 + ir + r) * n + pc..(r0 + ir + r) * n + pc + kc];
                for (k, &x) in src.iter().enumerate() {
                    panel[k * MR + r] = x;
                }
            } else {
                for k in 0..kc {
                    panel[k * MR + r] = 0.0;
                }
            }
        }
    }
}

/// Where a microkernel's tile of C goes.
struct Tile<'c> {
    /// C from the tile's first element on.
    c: &'c mut [f64],
    ldc: usize,
    nrows: usize,
    ncols: usize,
    /// Add to C (later K blocks) instead of storing.
    accumulate: bool,
}

fn microkernel(avx512: bool, kc: usize, panel: &[f64], sliver: &[f64], tile: Tile<'_>) {
    debug_assert!(panel.len() >= kc * MR && sliver.len() >= kc * NR);
    debug_assert!(tile.nrows <= MR && tile.ncols <= NR);
    debug_assert!(tile.nrows == 0 || tile.c.len() >= (tile.nrows - 1) * tile.ldc + tile.ncols);
    #[cfg(target_arch = "x86_64")]
    if avx512 {
        // SAFETY: AVX-512F detected; slice lengths checked above (and by the callers).
        return unsafe { microkernel_avx512(kc, panel, sliver, tile) };
    }
    let _ = avx512;
    microkernel_portable(kc, panel, sliver, tile)
}

fn microkernel_portable(kc: usize, panel: &[f64], sliver: &[f64], tile: Tile<'_>) {
    let mut acc = [[0.0f64; NR]; MR];
    for k in 0..kc {
        let b: &[f64; NR] = sliver[k * NR..(k + 1) * NR]
            .try_into()
            .unwrap_or(&[0.0; NR]);
        for (r, row) in acc.iter_mut().enumerate() {
            let a = panel[k * MR + r];
            for (x, &bv) in row.iter_mut().zip(b) {
                *x = a.mul_add(bv, *x);
            }
        }
    }
    for (r, row) in acc.iter().enumerate().take(tile.nrows) {
        let dst = &mut tile.c[r * tile.ldc..r * tile.ldc + tile.ncols];
        for (d, &v) in dst.iter_mut().zip(row) {
            *d = if tile.accumulate { *d + v } else { v };
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn microkernel_avx512(kc: usize, panel: &[f64], sliver: &[f64], tile: Tile<'_>) {
    use std::arch::x86_64::*;
    let mut c0 = [_mm512_setzero_pd(); MR];
    let mut c1 = [_mm512_setzero_pd(); MR];
    // SAFETY: the caller checked `panel` (kc·MR) and `sliver` (kc·NR, 64-byte aligned: the
    // packed buffers are `Line`s and slivers start at multiples of KC·NR) and that C holds
    // `nrows` rows of `ncols` values at `ldc` apart; masks keep the stores inside them.
    unsafe {
        let mut a = panel.as_ptr();
        let mut b = sliver.as_ptr();
        macro_rules! step {
            () => {{
                let b0 = _mm512_load_pd(b);
                let b1 = _mm512_load_pd(b.add(8));
                for r in 0..MR {
                    let av = _mm512_set1_pd(*a.add(r));
                    c0[r] = _mm512_fmadd_pd(av, b0, c0[r]);
                    c1[r] = _mm512_fmadd_pd(av, b1, c1[r]);
                }
                a = a.add(MR);
                b = b.add(NR);
            }};
        }
        for _ in 0..kc / 4 {
            step!();
            step!();
            step!();
            step!();
        }
        for _ in 0..kc % 4 {
            step!();
        }
        let lanes = |n: usize| ((1u32 << n.min(8)) - 1) as __mmask8;
        let (m0, m1) = (lanes(tile.ncols), lanes(tile.ncols.saturating_sub(8)));
        let c = tile.c.as_mut_ptr();
        for r in 0..tile.nrows {
            let row = c.add(r * tile.ldc);
            let (mut v0, mut v1) = (c0[r], c1[r]);
            if tile.accumulate {
                v0 = _mm512_add_pd(v0, _mm512_maskz_loadu_pd(m0, row));
                v1 = _mm512_add_pd(v1, _mm512_maskz_loadu_pd(m1, row.add(8)));
            }
            _mm512_mask_storeu_pd(row, m0, v0);
            _mm512_mask_storeu_pd(row.add(8), m1, v1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
        let mut c = vec![0.0; n * n];
        for i in 0..n {
            for k in 0..n {
                for j in 0..n {
                    c[i * n + j] += a[i * n + k] * b[k * n + j];
                }
            }
        }
        c
    }

    #[test]
    fn both_microkernels_match_the_reference_at_edge_sizes() {
        for n in [1, 5, 13, 17, 40, 300] {
            let a: Vec<f64> = (0..n * n)
                .map(|i| ((i * 7 % 13) as f64 - 6.0) / 8.0)
                .collect();
            let b: Vec<f64> = (0..n * n)
                .map(|i| ((i * 5 % 11) as f64 - 5.0) / 4.0)
                .collect();
            let want = reference(&a, &b, n);
            let mut g = F64Gemm::new(n).unwrap();
            let mut c = vec![f64::NAN; n * n];
            g.multiply(&a, &b, &mut c);
            let worst = c
                .iter()
                .zip(&want)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f64::max);
            assert!(worst < 1e-9, "n = {n}: off by {worst}");
            // The portable kernel on the same panels.
            let mut ap = vec![0.0; KC * MC];
            let mut bp = vec![0.0; n.div_ceil(NR) * KC * NR];
            let kc = n.min(KC);
            pack_a(&a, n, 0, n.min(MR), 0, kc, &mut ap);
            pack_b(&b, n, 0, kc, &mut bp);
            let mut c2 = vec![0.0; n * n];
            let (nrows, ncols) = (n.min(MR), n.min(NR));
            let tile = Tile {
                c: &mut c2,
                ldc: n,
                nrows,
                ncols,
                accumulate: false,
            };
            microkernel_portable(kc, &ap, &bp, tile);
            if n <= KC {
                for r in 0..nrows {
                    for j in 0..ncols {
                        assert!(
                            (c2[r * n + j] - want[r * n + j]).abs() < 1e-9,
                            "portable n = {n}"
                        );
                    }
                }
            }
        }
    }
}
