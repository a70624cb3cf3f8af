//! The register-blocked microkernels: the [`MicroKernel`] trait the driver is generic over, the
//! store-phase description each call gets ([`TileEpi`]), and one file per instruction set:
//! `portable` (plain Rust, 4 x 8), `avx2` (AVX2+FMA, 6 x 16) and `avx512` (AVX-512F, 12 x 32,
//! with masked edge instances). Each kernel brings its packing routines and cache blocking.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod portable;

#[cfg(target_arch = "x86_64")]
pub(super) use avx2::Avx2;
#[cfg(target_arch = "x86_64")]
pub(super) use avx512::Avx512;
pub(super) use portable::Portable;

use super::Problem;
use crate::backend::cpu::activation::Activation;

/// What the store phase of one microkernel call does, plus a prefetch hint.
#[derive(Clone, Copy)]
pub(super) struct TileEpi {
    /// Add the partial sum already in C (every K block but the first).
    pub(super) load_c: bool,
    /// Apply the epilogue `mul ⊙ act(alpha*acc + bias + residual)` (last K block only).
    pub(super) apply: bool,
    pub(super) alpha: f32,
    /// `MR` per-row bias values for this tile, or null.
    pub(super) bias_row: *const f32,
    /// `NR` per-column bias values for this tile, or null.
    pub(super) bias_col: *const f32,
    /// The residual's tile (C's extent, rows `ldr` apart), added before the activation, or null.
    pub(super) residual: *const f32,
    pub(super) ldr: usize,
    /// The tile C is multiplied by after the activation (the activated gate of a gated call;
    /// C's extent, rows `ldm` apart), or null.
    pub(super) mul: *const f32,
    pub(super) ldm: usize,
    pub(super) act: Activation,
    /// Memory the kernel may prefetch while it computes (the part of the next B sliver this
    /// tile is responsible for). Only used as a prefetch address, never dereferenced.
    pub(super) prefetch: *const f32,
}

impl TileEpi {
    /// The store phase of a plain product's tile on K block (`first`, `last`): accumulate
    /// after the first, apply (alpha 1, identity unless overridden) on the last; no bias,
    /// residual, multiply or prefetch.
    pub(super) fn plain(first: bool, last: bool) -> TileEpi {
        TileEpi {
            load_c: !first,
            apply: last,
            alpha: 1.0,
            bias_row: std::ptr::null(),
            bias_col: std::ptr::null(),
            residual: std::ptr::null(),
            ldr: 0,
            mul: std::ptr::null(),
            ldm: 0,
            act: Activation::Identity,
            prefetch: std::ptr::null(),
        }
    }
}

/// A register-blocked microkernel, its packing routines and its preferred cache blocking.
pub(super) trait MicroKernel {
    /// Rows of the C tile.
    const MR: usize;
    /// Columns of the C tile.
    const NR: usize;
    /// Default K block.
    const KC: usize;
    /// Default M block (a multiple of `MR`).
    const MC: usize;

    /// Computes one full `MR x NR` tile: `acc = sum_kk a[kk*MR + r] * b[kk*NR + j]`, then the
    /// store phase described by `epi` into `c[r*ldc + j]`.
    ///
    /// # Safety
    /// The CPU supports the kernel's instruction set; `a` is valid for `kc*MR` reads and `b`
    /// for `kc*NR` reads and 64-byte aligned; `c` is valid for reads and writes of `MR` rows of
    /// `NR` elements with stride `ldc`; non-null bias pointers are valid for `MR` resp. `NR`
    /// reads; non-null residual and mul pointers for `MR` rows of `NR` reads at strides `ldr`
    /// resp. `ldm`.
    unsafe fn tile(kc: usize, a: *const f32, b: *const f32, c: *mut f32, ldc: usize, epi: &TileEpi);

    /// Computes a partial tile (`nrows <= MR`, `ncols <= NR`, not both full) directly into C,
    /// if the kernel can; returns `false` (having done nothing) if the caller must stage it.
    ///
    /// # Safety
    /// As [`MicroKernel::tile`], except that `c`, the residual and mul need only be valid for
    /// `nrows` rows of `ncols` elements and non-null biases for `nrows` / `ncols` reads.
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile_partial(
        _kc: usize,
        _a: *const f32,
        _b: *const f32,
        _c: *mut f32,
        _ldc: usize,
        _nrows: usize,
        _ncols: usize,
        _epi: &TileEpi,
    ) -> bool {
        false
    }

    /// Packs rows `r0..r0+rows` (`rows <= MR`) of A, columns `p0..p0+kc`, into an `MR`-wide
    /// panel: `dst[kk*MR + r] = a[(r0+r)*lda + p0 + kk]`, zero-padded to `MR` rows.
    fn pack_a(a: &[f32], lda: usize, r0: usize, rows: usize, p0: usize, kc: usize, dst: &mut [f32]);

    /// Packs slivers `sa..sb` (columns `sa*NR..min(sb*NR, n)`) of B for K block `p0..p0+kc`:
    /// sliver `s` goes to `dst[(s-sa)*kc*NR..]` as `kc` rows of `NR` (zero-padded) values.
    fn pack_b(p: &Problem, sa: usize, sb: usize, p0: usize, kc: usize, dst: &mut [f32]);
}
