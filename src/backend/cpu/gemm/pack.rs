//! Packing of the operands into the micro-panels the kernels read: A (and B^T) as `W`-tall
//! row panels, row-major B as `W`-wide slivers, with the hand-written prefetches that keep the
//! packing reads streaming, and the thread-local buffers the packed panels (and a gated call's
//! gate partial sums) live in (retained across calls).
//!
//! These are the generic (auto-vectorised) routines; a kernel may compile them for its
//! instruction set or replace them (`kernels::avx512` transposes B^T in registers).

use std::cell::Cell;
use std::thread::LocalKey;

use super::{BLayout, Problem};

/// Packs `rows (<= W)` rows of a row-major matrix, columns `p0..p0+kc`, into a panel of width
/// `W`: `dst[kk*W + r] = src[(r0+r)*ld + p0 + kk]`, zero for `r >= rows`.
/// Used for A and for B^T ([`BLayout::Transposed`]).
#[inline(always)]
pub(super) fn pack_rows<const W: usize>(
    src: &[f32],
    ld: usize,
    r0: usize,
    rows: usize,
    p0: usize,
    kc: usize,
    dst: &mut [f32],
) {
    let dst = &mut dst[..kc * W];
    if rows == W {
        let lines: [&[f32]; W] = std::array::from_fn(|r| &src[(r0 + r) * ld + p0..][..kc]);
        for (kk, out) in dst.chunks_exact_mut(W).enumerate() {
            for r in 0..W {
                out[r] = lines[r][kk];
            }
        }
    } else {
        for (kk, out) in dst.chunks_exact_mut(W).enumerate() {
            for (r, o) in out.iter_mut().enumerate() {
                *o = if r < rows {
                    src[(r0 + r) * ld + p0 + kk]
                } else {
                    0.0
                };
            }
        }
    }
}

/// Packs slivers `sa..sb` (columns `sa*W..min(sb*W, n)`) of rows `p0..p0+kc` of a row-major
/// matrix: `dst[(s-sa)*kc*W + kk*W + j] = src[(p0+kk)*ld + s*W + j]`, zero past column `n`.
/// Used for B ([`BLayout::RowMajor`]). Each source row is read in one sequential pass
/// (reading one sliver at a time would stride through memory and defeat the prefetchers).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn pack_cols<const W: usize>(
    src: &[f32],
    ld: usize,
    n: usize,
    sa: usize,
    sb: usize,
    p0: usize,
    kc: usize,
    dst: &mut [f32],
) {
    let (j0, j1) = (sa * W, (sb * W).min(n));
    let dst = &mut dst[..(sb - sa) * kc * W];
    for kk in 0..kc {
        let row = &src[(p0 + kk) * ld + j0..(p0 + kk) * ld + j1];
        // Rows are `ld` apart, which the hardware prefetchers do not follow: fetch a few rows
        // ahead by hand.
        if kk + PACK_PREFETCH_ROWS < kc {
            let ahead = row.as_ptr().wrapping_add(PACK_PREFETCH_ROWS * ld);
            for off in (0..row.len()).step_by(16) {
                prefetch_read(ahead.wrapping_add(off));
            }
        }
        for (i, chunk) in row.chunks(W).enumerate() {
            let out = &mut dst[i * kc * W + kk * W..][..W];
            match <&[f32; W]>::try_from(chunk) {
                Ok(full) => out.copy_from_slice(full),
                Err(_) => {
                    out[..chunk.len()].copy_from_slice(chunk);
                    out[chunk.len()..].fill(0.0);
                }
            }
        }
    }
}

/// Rows of B that `pack_cols` prefetches ahead.
const PACK_PREFETCH_ROWS: usize = 8;

/// Hints the CPU to fetch the cache line at `p` into L1 (no-op off x86_64). Never faults.
#[inline(always)]
pub(super) fn prefetch_read(p: *const f32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// [`MicroKernel::pack_b`](super::kernels::MicroKernel::pack_b) for any sliver width, for either
/// layout.
#[inline(always)]
pub(super) fn pack_b_generic<const W: usize>(
    p: &Problem,
    sa: usize,
    sb: usize,
    p0: usize,
    kc: usize,
    dst: &mut [f32],
) {
    match p.b_layout {
        BLayout::RowMajor => pack_cols::<W>(p.b, p.ldb, p.n, sa, sb, p0, kc, dst),
        BLayout::Transposed => {
            for (i, sl) in dst.chunks_exact_mut(kc * W).take(sb - sa).enumerate() {
                let j0 = (sa + i) * W;
                pack_rows::<W>(p.b, p.ldb, j0, W.min(p.n - j0), p0, kc, sl);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Thread-local packing buffers
// ---------------------------------------------------------------------------------------------

thread_local! {
    /// Packed A block of the task running on this thread.
    pub(super) static A_BUF: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// Packed B of a task that packs its own B.
    pub(super) static B_BUF: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// Shared packed B of a call issued from this thread.
    pub(super) static B_SHARED: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// The gate's partial sums of a gated call with several K blocks, issued from this thread.
    pub(super) static GATE_ACC: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// Buffers larger than this (in f32) are freed after use instead of being kept.
const MAX_RETAINED: usize = 1 << 24;

/// Runs `f` on a 64-byte aligned slice of `len` floats from the thread-local buffer `key`.
/// The buffer is taken out of its slot for the duration, so re-entrant use is safe (the inner
/// user simply allocates).
pub(super) fn with_buffer<R>(
    key: &'static LocalKey<Cell<Vec<f32>>>,
    len: usize,
    f: impl FnOnce(&mut [f32]) -> R,
) -> R {
    let mut v = key.take();
    if v.len() < len + 16 {
        v = vec![0.0; len + 16];
    }
    let off = v.as_ptr().align_offset(64);
    let r = f(&mut v[off..off + len]);
    if v.len() <= MAX_RETAINED {
        key.set(v);
    }
    r
}
