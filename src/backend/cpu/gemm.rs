//! Single-precision GEMM with a fused epilogue: `C = act(alpha * A*B + bias)`.
//!
//! Every CPU kernel of the calibrator (matmul, linear, conv via im2col, attention) funnels into
//! [`sgemm`], so this module is written for speed: a BLIS-style blocked algorithm with packed
//! operands and hand-written register-blocked microkernels.
//!
//! # Loop nest
//! ```text
//! for each task (a rectangle of C: rows R x columns J, see "Parallelism")
//!   for pc in K step KC                           K block (kc <= KC)
//!     B~ = pack(B[pc.., J])                       kc x |J|, NR-wide slivers (shared or per task)
//!     for ic in R step MC                         M block (mc <= MC)
//!       A~ = pack(A[ic.., pc..])                  mc x kc, MR-tall panels, thread-local
//!       for jr in J step NR                       B sliver (kc x NR) stays in L1 ...
//!         for ir in mc step MR                    ... while A panels (MR x kc) stream from L2
//!           microkernel: MR x NR tile of C in registers, kc rank-1 updates,
//!                        then the store phase (epilogue on the last K block)
//! ```
//! Packing makes both micro-panels contiguous and 64-byte aligned, so the microkernel's inner
//! loop is two aligned vector loads of B and MR broadcasts of A (folded into the FMAs as
//! embedded-broadcast memory operands) per k. Partial panels are zero-padded, so the microkernel
//! always computes a full tile; partial tiles of C are staged through a small stack buffer.
//!
//! # Block sizes (AVX-512 path, tuned on Zen 5: L1d 48 KiB, L2 1 MiB per core, L3 32 MiB)
//! - `MR x NR = 12 x 32`: 24 zmm accumulators, 2 zmm for the B row, the rest for broadcasts;
//!   24 independent FMA chains hide the 4-cycle FMA latency of two FMA pipes with room to spare,
//!   and 12 broadcast + 2 vector loads per 24 FMAs stay well inside the load bandwidth.
//! - `KC = 256`: the B sliver is `256*32*4 = 32 KiB`, resident in L1 while one A block's panels
//!   stream past it; large enough that the C tile's load/store per K block is negligible.
//! - `MC = 192`: the packed A block (`192*256*4 = 192 KiB`) stays in L2 across all B slivers.
//! - No N blocking: the packed B panel of one K block is streamed from L3 (or memory) once per A
//!   block, i.e. `2/MC` bytes per flop, far below what one core can fetch.
//!
//! # Epilogue
//! The microkernel's store phase handles all K blocks: the first stores the raw sum, middle ones
//! add to C, and the *last* one computes `act(alpha * (C_partial + acc) + bias)` on the registers
//! and stores once, so the epilogue is fused (no extra pass over C). With a single K block (the
//! common case for `k <= KC`) C is written exactly once. The activation code is shared with
//! [`Activation::apply_slice`] (see [`super::activation`]).
//!
//! # Parallelism
//! With [`Parallelism::Rayon`] C is cut into a grid of `tm x tn` rectangles (aligned to MR/NR),
//! chosen by a small cost model (FMA time plus packing time, makespan over the pool's threads)
//! so that skinny shapes split along N, tall ones along M, and large ones into a few tasks per
//! thread for load balance on a noisy machine. Splitting M costs nothing extra when B is packed
//! once and shared: then all of B is packed first (in parallel, one sliver group per job) and
//! the tasks only pack their own A blocks. When the grid has a single row of tasks each task
//! packs just its own columns of B. [`Parallelism::Serial`] runs one task on the calling thread.
//!
//! # Dispatch
//! [`Isa::detect`] picks AVX-512F (12x32), AVX2+FMA (6x16), or a portable plain-Rust kernel
//! (4x8, auto-vectorised) at run time. All three share the driver and packing code.
//!
//! # Buffers
//! Packing buffers are thread-local and reused across calls (taken out of the thread-local slot
//! while in use, so a nested call on the same thread just allocates its own).

use std::cell::Cell;
use std::thread::LocalKey;

use rayon::prelude::*;

use super::activation::{Activation, Isa};

/// Bias added in the epilogue.
#[derive(Clone, Copy, Debug)]
pub enum Bias<'a> {
    /// No bias.
    None,
    /// One value per row of C (length at least `m`; the first `m` are used).
    PerRow(&'a [f32]),
    /// One value per column of C (length at least `n`; the first `n` are used).
    PerCol(&'a [f32]),
}

/// What happens to each output element before it is stored: `c = act(alpha * sum + bias)`.
#[derive(Clone, Copy, Debug)]
pub struct Epilogue<'a> {
    /// Scale applied to the dot product.
    pub alpha: f32,
    /// Bias added after scaling.
    pub bias: Bias<'a>,
    /// Activation applied last.
    pub activation: Activation,
}

impl Epilogue<'static> {
    /// alpha 1, no bias, identity.
    pub const NONE: Epilogue<'static> = Epilogue {
        alpha: 1.0,
        bias: Bias::None,
        activation: Activation::Identity,
    };
}

/// Layout of the B operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BLayout {
    /// `b[kk*ldb + j]` is `B[kk][j]` (K x N row-major).
    RowMajor,
    /// `b[j*ldb + kk]` is `B[kk][j]`, i.e. the caller passes B^T (N x K row-major), as in Q*K^T.
    Transposed,
}

/// Whether the call may use the rayon pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parallelism {
    /// Run on the calling thread only (for callers that already parallelise around the call).
    Serial,
    /// Split the work over the current rayon pool (`rayon::current_num_threads()` threads).
    Rayon,
}

/// C (m x n, row-major, leading dim ldc) = epilogue(A (m x k row-major, lda) * B).
///
/// `B` is K x N, laid out as described by `b_layout` with leading dimension `ldb`. C is
/// overwritten (never read), and every element gets `act(alpha * sum_k A[i][k]*B[k][j] + bias)`;
/// with `k == 0` that is `act(bias)`.
///
/// # Panics
/// Only on contract violations of the slice arguments: a leading dimension smaller than the
/// logical row width (`lda < k`, `ldb < n` resp. `ldb < k` for [`BLayout::Transposed`],
/// `ldc < n`), a slice too short for its matrix (`a.len() < (m-1)*lda + k` etc.), or a bias
/// shorter than `m` ([`Bias::PerRow`]) or `n` ([`Bias::PerCol`]). Operands whose matrix is empty
/// (a zero dimension) are not checked.
#[allow(clippy::too_many_arguments)]
pub fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    b_layout: BLayout,
    c: &mut [f32],
    ldc: usize,
    epilogue: &Epilogue,
    par: Parallelism,
) {
    let p = Problem {
        m,
        n,
        k,
        a,
        lda,
        b,
        ldb,
        b_layout,
        ldc,
        epi: epilogue,
    };
    sgemm_with(Isa::detect(), None, &p, c, par);
}

/// The operands of one call (C is passed separately, as it is the only mutable one).
#[derive(Clone, Copy)]
struct Problem<'a> {
    m: usize,
    n: usize,
    k: usize,
    a: &'a [f32],
    lda: usize,
    b: &'a [f32],
    ldb: usize,
    b_layout: BLayout,
    ldc: usize,
    epi: &'a Epilogue<'a>,
}

/// Cache blocking of one call: K block and M block lengths.
#[derive(Clone, Copy, Debug)]
struct Blocking {
    kc: usize,
    mc: usize,
}

/// [`sgemm`] with an explicit kernel and optional block sizes (tests use small ones to exercise
/// multiple K and M blocks on small matrices).
fn sgemm_with(isa: Isa, blocking: Option<Blocking>, p: &Problem, c: &mut [f32], par: Parallelism) {
    check_contract(p, c);
    assert!(
        isa.is_available(),
        "instruction set {isa:?} not available on this CPU"
    );
    if p.m == 0 || p.n == 0 {
        return;
    }
    if p.k == 0 {
        fill_bias_only(p, c);
        return;
    }
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => driver::<x86::Avx512>(p, c, par, blocking),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => driver::<x86::Avx2>(p, c, par, blocking),
        _ => driver::<Portable>(p, c, par, blocking),
    }
}

/// Asserts the slice-length contract documented on [`sgemm`].
fn check_contract(p: &Problem, c: &[f32]) {
    let (m, n, k) = (p.m, p.n, p.k);
    if m > 0 && k > 0 {
        assert!(p.lda >= k, "sgemm: lda ({}) < k ({k})", p.lda);
        let need = (m - 1) * p.lda + k;
        assert!(
            p.a.len() >= need,
            "sgemm: a.len() = {} < (m-1)*lda + k = {need}",
            p.a.len()
        );
    }
    if n > 0 && k > 0 {
        let (rows, width) = match p.b_layout {
            BLayout::RowMajor => (k, n),
            BLayout::Transposed => (n, k),
        };
        assert!(
            p.ldb >= width,
            "sgemm: ldb ({}) < row width ({width}) of B ({:?})",
            p.ldb,
            p.b_layout
        );
        let need = (rows - 1) * p.ldb + width;
        assert!(
            p.b.len() >= need,
            "sgemm: b.len() = {} < {need} needed for B ({:?}, {k} x {n}, ldb {})",
            p.b.len(),
            p.b_layout,
            p.ldb
        );
    }
    if m > 0 && n > 0 {
        assert!(p.ldc >= n, "sgemm: ldc ({}) < n ({n})", p.ldc);
        let need = (m - 1) * p.ldc + n;
        assert!(
            c.len() >= need,
            "sgemm: c.len() = {} < (m-1)*ldc + n = {need}",
            c.len()
        );
    }
    match p.epi.bias {
        Bias::None => {}
        Bias::PerRow(bias) => {
            assert!(
                bias.len() >= m,
                "sgemm: per-row bias has {} < m = {m} values",
                bias.len()
            )
        }
        Bias::PerCol(bias) => {
            assert!(
                bias.len() >= n,
                "sgemm: per-column bias has {} < n = {n} values",
                bias.len()
            )
        }
    }
}

/// `k == 0`: the sum is empty, so `C = act(alpha*0 + bias)`.
fn fill_bias_only(p: &Problem, c: &mut [f32]) {
    let act = p.epi.activation;
    for i in 0..p.m {
        let row = &mut c[i * p.ldc..i * p.ldc + p.n];
        for (j, x) in row.iter_mut().enumerate() {
            let bias = match p.epi.bias {
                Bias::None => 0.0,
                Bias::PerRow(b) => b[i],
                Bias::PerCol(b) => b[j],
            };
            *x = act.apply_scalar(bias);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Microkernels
// ---------------------------------------------------------------------------------------------

/// What the store phase of one microkernel call does.
#[derive(Clone, Copy)]
struct TileEpi {
    /// Add the partial sum already in C (every K block but the first).
    load_c: bool,
    /// Apply `alpha`, bias and activation (last K block only).
    apply: bool,
    alpha: f32,
    /// `MR` per-row bias values for this tile, or null.
    bias_row: *const f32,
    /// `NR` per-column bias values for this tile, or null.
    bias_col: *const f32,
    act: Activation,
}

/// A register-blocked microkernel and its preferred cache blocking.
trait MicroKernel {
    /// Rows of the C tile.
    const MR: usize;
    /// Columns of the C tile.
    const NR: usize;
    /// Default K block.
    const KC: usize;
    /// Default M block (a multiple of `MR`).
    const MC: usize;

    /// Computes one full `MR x NR` tile: `acc = sum_k a[k*MR + r] * b[k*NR + j]`, then the store
    /// phase described by `epi` into `c[r*ldc + j]`.
    ///
    /// # Safety
    /// The CPU supports the kernel's instruction set; `a` is valid for `kc*MR` reads and `b` for
    /// `kc*NR` reads, `b` 64-byte aligned; `c` is valid for reads and writes of `MR` rows of `NR`
    /// elements with stride `ldc`; non-null bias pointers are valid for `MR` resp. `NR` reads.
    unsafe fn tile(kc: usize, a: *const f32, b: *const f32, c: *mut f32, ldc: usize, epi: &TileEpi);
}

/// Portable kernel: plain Rust over fixed-size arrays, which LLVM vectorises with the baseline
/// SIMD of the target (SSE2 on x86_64, NEON on aarch64).
struct Portable;

impl MicroKernel for Portable {
    const MR: usize = 4;
    const NR: usize = 8;
    const KC: usize = 256;
    const MC: usize = 64;

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
        for (r, acc_row) in acc.iter().enumerate() {
            // SAFETY: the caller guarantees MR rows of NR elements at stride `ldc`.
            let crow = unsafe { std::slice::from_raw_parts_mut(c.add(r * ldc), NR) };
            for j in 0..NR {
                let mut v = acc_row[j];
                if epi.load_c {
                    v += crow[j];
                }
                if epi.apply {
                    v *= epi.alpha;
                    if !epi.bias_row.is_null() {
                        // SAFETY: non-null row bias has MR readable values.
                        v += unsafe { *epi.bias_row.add(r) };
                    }
                    if !epi.bias_col.is_null() {
                        // SAFETY: non-null column bias has NR readable values.
                        v += unsafe { *epi.bias_col.add(j) };
                    }
                    v = epi.act.apply_scalar(v);
                }
                crow[j] = v;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::super::activation::x86::{act_avx2, act_avx512};
    use super::{MicroKernel, TileEpi};

    /// AVX-512F kernel, 12 x 32 tile (24 zmm accumulators).
    pub(super) struct Avx512;

    impl MicroKernel for Avx512 {
        const MR: usize = 12;
        const NR: usize = 32;
        const KC: usize = 256;
        const MC: usize = 192;

        unsafe fn tile(
            kc: usize,
            a: *const f32,
            b: *const f32,
            c: *mut f32,
            ldc: usize,
            epi: &TileEpi,
        ) {
            // SAFETY: forwarded contract; the caller guarantees AVX-512F.
            static V: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
            let v = *V.get_or_init(|| {
                std::env::var("PFV")
                    .ok()
                    .and_then(|x| x.parse().ok())
                    .unwrap_or(0)
            });
            unsafe {
                match v {
                    1 => tile_avx512::<8, 0>(kc, a, b, c, ldc, epi),
                    2 => tile_avx512::<16, 0>(kc, a, b, c, ldc, epi),
                    3 => tile_avx512::<8, 16>(kc, a, b, c, ldc, epi),
                    4 => tile_avx512::<0, 16>(kc, a, b, c, ldc, epi),
                    5 => tile_avx512::<4, 8>(kc, a, b, c, ldc, epi),
                    _ => tile_avx512::<0, 0>(kc, a, b, c, ldc, epi),
                }
            }
        }
    }

    /// See [`MicroKernel::tile`] for the contract.
    #[target_feature(enable = "avx512f")]
    unsafe fn tile_avx512<const PFB: usize, const PFA: usize>(
        kc: usize,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        epi: &TileEpi,
    ) {
        const MR: usize = Avx512::MR;
        let mut c0 = [_mm512_setzero_ps(); MR];
        let mut c1 = [_mm512_setzero_ps(); MR];
        // SAFETY (whole block): reads stay within `kc*MR` elements of `a` and `kc*NR` of `b`,
        // accesses to C within MR rows of NR elements at stride `ldc` (caller's contract); B
        // reads are 64-byte aligned as required by `_mm512_load_ps` (packed buffers).
        unsafe {
            for r in 0..MR {
                _mm_prefetch::<_MM_HINT_T0>(c.add(r * ldc) as *const i8);
                _mm_prefetch::<_MM_HINT_T0>(c.add(r * ldc + 16) as *const i8);
            }
            let mut a = a;
            let mut b = b;
            for _ in 0..kc {
                if PFB > 0 {
                    _mm_prefetch::<_MM_HINT_T0>(b.add(PFB * 32) as *const i8);
                    _mm_prefetch::<_MM_HINT_T0>(b.add(PFB * 32 + 16) as *const i8);
                }
                if PFA > 0 {
                    _mm_prefetch::<_MM_HINT_T0>(a.add(PFA * 12) as *const i8);
                }
                let b0 = _mm512_load_ps(b);
                let b1 = _mm512_load_ps(b.add(16));
                for r in 0..MR {
                    let av = _mm512_set1_ps(*a.add(r));
                    c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);
                    c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);
                }
                a = a.add(MR);
                b = b.add(32);
            }

            let alpha = _mm512_set1_ps(epi.alpha);
            let (bc0, bc1) = if epi.bias_col.is_null() {
                (_mm512_setzero_ps(), _mm512_setzero_ps())
            } else {
                (
                    _mm512_loadu_ps(epi.bias_col),
                    _mm512_loadu_ps(epi.bias_col.add(16)),
                )
            };
            for r in 0..MR {
                let cp = c.add(r * ldc);
                let mut v0 = c0[r];
                let mut v1 = c1[r];
                if epi.load_c {
                    v0 = _mm512_add_ps(v0, _mm512_loadu_ps(cp));
                    v1 = _mm512_add_ps(v1, _mm512_loadu_ps(cp.add(16)));
                }
                if epi.apply {
                    let br = if epi.bias_row.is_null() {
                        0.0
                    } else {
                        *epi.bias_row.add(r)
                    };
                    let br = _mm512_set1_ps(br);
                    v0 = _mm512_fmadd_ps(v0, alpha, _mm512_add_ps(bc0, br));
                    v1 = _mm512_fmadd_ps(v1, alpha, _mm512_add_ps(bc1, br));
                    v0 = act_avx512(epi.act, v0);
                    v1 = act_avx512(epi.act, v1);
                }
                _mm512_storeu_ps(cp, v0);
                _mm512_storeu_ps(cp.add(16), v1);
            }
        }
    }

    /// AVX2+FMA kernel, 6 x 16 tile (12 ymm accumulators).
    pub(super) struct Avx2;

    impl MicroKernel for Avx2 {
        const MR: usize = 6;
        const NR: usize = 16;
        const KC: usize = 256;
        const MC: usize = 120;

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
                    v0 = act_avx2(epi.act, v0);
                    v1 = act_avx2(epi.act, v1);
                }
                _mm256_storeu_ps(cp, v0);
                _mm256_storeu_ps(cp.add(8), v1);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Packing
// ---------------------------------------------------------------------------------------------

/// Calls `$f::<W>` for the panel widths used by the kernels (const generics need a literal).
macro_rules! dispatch_width {
    ($w:expr, $f:ident, $($arg:expr),*) => {
        match $w {
            4 => $f::<4>($($arg),*),
            6 => $f::<6>($($arg),*),
            8 => $f::<8>($($arg),*),
            12 => $f::<12>($($arg),*),
            16 => $f::<16>($($arg),*),
            32 => $f::<32>($($arg),*),
            w => unreachable!("no packing routine for panel width {w}"),
        }
    };
}

/// Packs `rows (<= W)` rows of a row-major matrix, columns `p0..p0+kc`, into a panel of width
/// `W`: `dst[kk*W + r] = src[(r0+r)*ld + p0 + kk]`, zero for `r >= rows`.
/// Used for A and for B^T ([`BLayout::Transposed`]).
#[inline(never)]
fn pack_rows<const W: usize>(
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

/// Packs `cols (<= W)` columns `j0..` of rows `p0..p0+kc` of a row-major matrix into a sliver of
/// width `W`: `dst[kk*W + j] = src[(p0+kk)*ld + j0 + j]`, zero for `j >= cols`.
/// Used for B ([`BLayout::RowMajor`]).
#[inline(never)]
fn pack_cols<const W: usize>(
    src: &[f32],
    ld: usize,
    j0: usize,
    cols: usize,
    p0: usize,
    kc: usize,
    dst: &mut [f32],
) {
    let dst = &mut dst[..kc * W];
    if cols == W {
        for (kk, out) in dst.chunks_exact_mut(W).enumerate() {
            out.copy_from_slice(&src[(p0 + kk) * ld + j0..][..W]);
        }
    } else {
        for (kk, out) in dst.chunks_exact_mut(W).enumerate() {
            out[..cols].copy_from_slice(&src[(p0 + kk) * ld + j0..][..cols]);
            out[cols..].fill(0.0);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Thread-local packing buffers
// ---------------------------------------------------------------------------------------------

thread_local! {
    /// Packed A block of the task running on this thread.
    static A_BUF: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// Packed B panel of a task that packs its own B.
    static B_BUF: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// Shared packed B of a call issued from this thread.
    static B_SHARED: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// Buffers larger than this (in f32) are freed after use instead of being kept.
const MAX_RETAINED: usize = 1 << 24;

/// Runs `f` on a 64-byte aligned slice of `len` floats from the thread-local buffer `key`.
/// The buffer is taken out of its slot for the duration, so re-entrant use is safe (the inner
/// call simply allocates).
fn with_buffer<R>(
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

// ---------------------------------------------------------------------------------------------
// Driver
// ---------------------------------------------------------------------------------------------

/// Raw pointer to C shared by tasks that write disjoint rectangles.
#[derive(Clone, Copy)]
struct CPtr(*mut f32);
// SAFETY: tasks only write their own disjoint rectangles of C (see `driver`), and the pointer is
// not used after the parallel region ends (C's `&mut` borrow outlives it).
unsafe impl Send for CPtr {}
// SAFETY: as above.
unsafe impl Sync for CPtr {}

/// Division rounding up.
#[inline]
fn div_up(a: usize, b: usize) -> usize {
    a.div_ceil(b)
}

/// The K blocks: `nkb` blocks of `kcb` (the last one shorter).
#[derive(Clone, Copy, Debug)]
struct KSplit {
    kcb: usize,
    nkb: usize,
}

impl KSplit {
    fn new(k: usize, kc_max: usize) -> KSplit {
        let nkb = div_up(k, kc_max);
        let kcb = div_up(k, nkb);
        KSplit {
            kcb,
            nkb: div_up(k, kcb),
        }
    }
    /// Start and length of block `i`.
    fn block(&self, i: usize, k: usize) -> (usize, usize) {
        let p0 = i * self.kcb;
        (p0, self.kcb.min(k - p0))
    }
}

/// How C is cut into tasks and how B is packed.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Plan {
    /// Tasks along M and N.
    tm: usize,
    tn: usize,
    /// B is packed once up front and shared by all tasks.
    shared_b: bool,
}

/// Below this many flops a Rayon call runs serially (fork/join costs more than it saves).
const PAR_MIN_FLOPS: f64 = 2.0e6;

/// Picks the task grid. `threads` is the pool size; all estimates are in cycles of one core.
fn plan(m: usize, n: usize, k: usize, mr: usize, nr: usize, threads: usize) -> Plan {
    let serial = Plan {
        tm: 1,
        tn: 1,
        shared_b: false,
    };
    let flops = 2.0 * m as f64 * n as f64 * k as f64;
    if threads <= 1 || flops < PAR_MIN_FLOPS {
        return serial;
    }
    let (rt, ct) = (div_up(m, mr), div_up(n, nr));
    // Cost model (cycles on one core): FMA work at ~64 flop/cycle (counting padded tiles),
    // packing ~0.5 cycle per A element and ~0.25 per B element, a fork/join ~ 20k cycles.
    const FLOP_PER_CYCLE: f64 = 64.0;
    const A_PACK: f64 = 0.5;
    const B_PACK: f64 = 0.25;
    const FORK: f64 = 20_000.0;
    let kf = k as f64;
    let mut best = (f64::INFINITY, serial);
    for per_thread in 1..=8 {
        let tasks = threads * per_thread;
        for tm in 1..=tasks.min(rt) {
            if tasks % tm != 0 {
                continue;
            }
            let tn = tasks / tm;
            if tn > ct {
                continue;
            }
            let rows = (div_up(rt, tm) * mr) as f64;
            let cols = (div_up(ct, tn) * nr) as f64;
            let task = rows * cols * kf * 2.0 / FLOP_PER_CYCLE + rows * kf * A_PACK;
            // Rounds of tasks per thread (equal tasks assumed).
            let rounds = div_up(tm * tn, threads) as f64;
            for shared_b in [false, true] {
                if !shared_b && tm > 1 && k * n > 4096 {
                    // Each row of tasks would pack the same B again: only allowed when tiny.
                    continue;
                }
                let (b_task, b_shared) = if shared_b {
                    (0.0, kf * n as f64 * B_PACK / threads as f64 + FORK)
                } else {
                    (cols * kf * B_PACK, 0.0)
                };
                // Small preference for more tasks (dynamic balance on a noisy machine).
                let cost = (rounds * (task + b_task) + b_shared + FORK)
                    * (1.0 - 0.002 * per_thread as f64);
                if cost < best.0 {
                    best = (cost, Plan { tm, tn, shared_b });
                }
            }
        }
    }
    best.1
}

/// Runs the blocked algorithm with microkernel `K`.
fn driver<K: MicroKernel>(
    p: &Problem,
    c: &mut [f32],
    par: Parallelism,
    blocking: Option<Blocking>,
) {
    let Blocking { kc, mc } = blocking.unwrap_or(Blocking {
        kc: K::KC,
        mc: K::MC,
    });
    let kc: usize = std::env::var("GEMM_KC")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(kc); // SCRATCH
    let mc: usize = std::env::var("GEMM_MC")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(mc); // SCRATCH
    let mc = div_up(mc, K::MR) * K::MR;
    let ks = KSplit::new(p.k, kc);
    let threads = match par {
        Parallelism::Serial => 1,
        Parallelism::Rayon => rayon::current_num_threads(),
    };
    let pl = plan(p.m, p.n, p.k, K::MR, K::NR, threads);
    if std::env::var("GEMM_DBG").is_ok() {
        eprintln!("{}x{}x{} {:?} threads {}", p.m, p.n, p.k, pl, threads);
    } // SCRATCH
    let (rt, ct) = (div_up(p.m, K::MR), div_up(p.n, K::NR));
    // Task t covers row tiles [rows_of(t)) and column slivers [cols_of(t)).
    let split = |count: usize, parts: usize, i: usize| (i * count / parts, (i + 1) * count / parts);
    let cptr = CPtr(c.as_mut_ptr());
    let ntasks = pl.tm * pl.tn;

    let run_tasks = |bshared: Option<&[f32]>| {
        let task = |t: usize| {
            let (r0, r1) = split(rt, pl.tm, t / pl.tn);
            let (s0, s1) = split(ct, pl.tn, t % pl.tn);
            let rows = (r0 * K::MR, (r1 * K::MR).min(p.m));
            let cols = (s0 * K::NR, (s1 * K::NR).min(p.n));
            // SAFETY: task rectangles are disjoint and inside C (checked by `check_contract`).
            unsafe { run_task::<K>(p, cptr, rows, cols, ks, mc, bshared) };
        };
        if ntasks == 1 {
            task(0);
        } else {
            (0..ntasks).into_par_iter().with_max_len(1).for_each(task);
        }
    };

    if pl.shared_b {
        let np = ct * K::NR;
        with_buffer(&B_SHARED, p.k * np, |bbuf| {
            pack_b_shared::<K>(p, ks, bbuf, threads);
            run_tasks(Some(bbuf));
        });
    } else {
        run_tasks(None);
    }
}

/// Packs all of B: K block `i` starts at `p0*np`, its sliver `s` at `p0*np + s*kcb_i*NR`.
fn pack_b_shared<K: MicroKernel>(p: &Problem, ks: KSplit, bbuf: &mut [f32], threads: usize) {
    let ct = div_up(p.n, K::NR);
    // Jobs of `group` slivers within one K block: enough jobs for balance, each a few 100 KiB.
    let jobs_per_block = div_up(threads * 4, ks.nkb).min(ct);
    let group = div_up(ct, jobs_per_block);
    let mut jobs: Vec<(usize, usize, usize, &mut [f32])> = Vec::new();
    let mut rest = bbuf;
    for i in 0..ks.nkb {
        let (p0, kcb) = ks.block(i, p.k);
        let (blk, tail) = rest.split_at_mut(kcb * ct * K::NR);
        rest = tail;
        for (g, chunk) in blk.chunks_mut(group * kcb * K::NR).enumerate() {
            jobs.push((p0, kcb, g * group, chunk));
        }
    }
    let pack = |(p0, kcb, s0, chunk): (usize, usize, usize, &mut [f32])| {
        for (ds, sl) in chunk.chunks_exact_mut(kcb * K::NR).enumerate() {
            pack_b_sliver::<K>(p, s0 + ds, p0, kcb, sl);
        }
    };
    if threads > 1 && jobs.len() > 1 && p.k * p.n > 1 << 15 {
        jobs.into_par_iter().with_max_len(1).for_each(pack);
    } else {
        jobs.into_iter().for_each(pack);
    }
}

/// Packs sliver `s` (columns `s*NR..`) of K block `p0..p0+kcb` of B into `dst`.
fn pack_b_sliver<K: MicroKernel>(p: &Problem, s: usize, p0: usize, kcb: usize, dst: &mut [f32]) {
    let j0 = s * K::NR;
    let cols = K::NR.min(p.n - j0);
    match p.b_layout {
        BLayout::RowMajor => dispatch_width!(K::NR, pack_cols, p.b, p.ldb, j0, cols, p0, kcb, dst),
        BLayout::Transposed => {
            dispatch_width!(K::NR, pack_rows, p.b, p.ldb, j0, cols, p0, kcb, dst)
        }
    }
}

/// Computes the rectangle `rows x cols` of C over all K blocks.
///
/// # Safety
/// The rectangle lies inside C (`cptr` with `p.ldc`) and no other thread accesses it meanwhile;
/// the CPU supports `K`'s instruction set. `bshared`, if given, is B packed by `pack_b_shared`.
unsafe fn run_task<K: MicroKernel>(
    p: &Problem,
    cptr: CPtr,
    rows: (usize, usize),
    cols: (usize, usize),
    ks: KSplit,
    mc: usize,
    bshared: Option<&[f32]>,
) {
    let (mr, nr) = (K::MR, K::NR);
    let np = div_up(p.n, nr) * nr;
    let (s0, s1) = (cols.0 / nr, div_up(cols.1, nr));
    let own_b_len = if bshared.is_some() {
        0
    } else {
        ks.kcb * (s1 - s0) * nr
    };
    let mc = mc.min(div_up(rows.1 - rows.0, mr) * mr);
    let (alpha, act) = (p.epi.alpha, p.epi.activation);
    with_buffer(&A_BUF, mc * ks.kcb, |abuf| {
        with_buffer(&B_BUF, own_b_len, |bown| {
            for kb in 0..ks.nkb {
                let (p0, kcb) = ks.block(kb, p.k);
                let bpanel: &[f32] = match bshared {
                    Some(bs) => &bs[p0 * np..p0 * np + kcb * np],
                    None => {
                        for (i, sl) in bown.chunks_exact_mut(kcb * nr).take(s1 - s0).enumerate() {
                            pack_b_sliver::<K>(p, s0 + i, p0, kcb, sl);
                        }
                        bown
                    }
                };
                let s_base = if bshared.is_some() { 0 } else { s0 };
                let first = kb == 0;
                let last = kb + 1 == ks.nkb;
                let mut ic = rows.0;
                while ic < rows.1 {
                    let mcb = mc.min(rows.1 - ic);
                    let panels = div_up(mcb, mr);
                    for (i, pa) in abuf.chunks_exact_mut(kcb * mr).take(panels).enumerate() {
                        let r0 = ic + i * mr;
                        let nrows = mr.min(rows.1 - r0);
                        dispatch_width!(mr, pack_rows, p.a, p.lda, r0, nrows, p0, kcb, pa);
                    }
                    for s in s0..s1 {
                        let bsl = &bpanel[(s - s_base) * kcb * nr..][..kcb * nr];
                        let j0 = s * nr;
                        let ncols = nr.min(p.n - j0);
                        for i in 0..panels {
                            let i0 = ic + i * mr;
                            let nrows = mr.min(rows.1 - i0);
                            let pa = &abuf[i * kcb * mr..][..kcb * mr];
                            let bias_row = match p.epi.bias {
                                Bias::PerRow(b) if last => b[i0..].as_ptr(),
                                _ => std::ptr::null(),
                            };
                            let bias_col = match p.epi.bias {
                                Bias::PerCol(b) if last => b[j0..].as_ptr(),
                                _ => std::ptr::null(),
                            };
                            let epi = TileEpi {
                                load_c: !first,
                                apply: last,
                                alpha,
                                bias_row,
                                bias_col,
                                act,
                            };
                            // SAFETY: `i0 < m`, `j0 < n`, so the offset is inside C; the tile
                            // helper restricts accesses to the `nrows x ncols` part inside C.
                            let ct = unsafe { cptr.0.add(i0 * p.ldc + j0) };
                            // SAFETY: forwarded from this function's contract; the panels are
                            // `kcb*MR` / `kcb*NR` long, and B slivers are 64-byte aligned (the
                            // buffers are, and every sliver offset is a multiple of 16 floats
                            // because NR is a multiple of 8 and the offsets multiples of 2*NR
                            // or of `kcb*np`/`kcb*NR` with NR*4 bytes a multiple of 32... see
                            // `aligned_b_offsets` test).
                            unsafe { tile_at::<K>(kcb, pa, bsl, ct, p.ldc, nrows, ncols, &epi) };
                        }
                    }
                    ic += mcb;
                }
            }
        })
    });
}

/// Runs the microkernel on a possibly partial tile (`nrows <= MR`, `ncols <= NR`).
///
/// # Safety
/// `c` is valid for reads and writes of `nrows` rows of `ncols` elements at stride `ldc`; non-null
/// bias pointers are valid for `nrows` resp. `ncols` reads; `a`, `b` as in [`MicroKernel::tile`].
#[allow(clippy::too_many_arguments)]
#[inline]
unsafe fn tile_at<K: MicroKernel>(
    kc: usize,
    a: &[f32],
    b: &[f32],
    c: *mut f32,
    ldc: usize,
    nrows: usize,
    ncols: usize,
    epi: &TileEpi,
) {
    debug_assert!(a.len() >= kc * K::MR && b.len() >= kc * K::NR);
    if nrows == K::MR && ncols == K::NR {
        // SAFETY: full tile, forwarded contract.
        unsafe { K::tile(kc, a.as_ptr(), b.as_ptr(), c, ldc, epi) };
        return;
    }
    // Partial tile: stage C and the biases through padded stack buffers.
    const MAX_TILE: usize = 16 * 64;
    assert!(K::MR * K::NR <= MAX_TILE && K::MR <= 16 && K::NR <= 64);
    let mut tmp = [0.0f32; MAX_TILE];
    let mut brow = [0.0f32; 16];
    let mut bcol = [0.0f32; 64];
    if epi.load_c {
        for r in 0..nrows {
            // SAFETY: row `r < nrows` of the partial tile.
            let src = unsafe { std::slice::from_raw_parts(c.add(r * ldc), ncols) };
            tmp[r * K::NR..r * K::NR + ncols].copy_from_slice(src);
        }
    }
    let mut e = *epi;
    if !epi.bias_row.is_null() {
        // SAFETY: non-null row bias is valid for `nrows` reads.
        brow[..nrows].copy_from_slice(unsafe { std::slice::from_raw_parts(epi.bias_row, nrows) });
        e.bias_row = brow.as_ptr();
    }
    if !epi.bias_col.is_null() {
        // SAFETY: non-null column bias is valid for `ncols` reads.
        bcol[..ncols].copy_from_slice(unsafe { std::slice::from_raw_parts(epi.bias_col, ncols) });
        e.bias_col = bcol.as_ptr();
    }
    // SAFETY: `tmp` holds MR rows of NR at stride NR; biases are padded to MR / NR values.
    unsafe { K::tile(kc, a.as_ptr(), b.as_ptr(), tmp.as_mut_ptr(), K::NR, &e) };
    for r in 0..nrows {
        // SAFETY: row `r < nrows` of the partial tile.
        let dst = unsafe { std::slice::from_raw_parts_mut(c.add(r * ldc), ncols) };
        dst.copy_from_slice(&tmp[r * K::NR..r * K::NR + ncols]);
    }
}
/// SCRATCH
#[allow(missing_docs)]
pub fn scratch_kernel_bench(kc: usize, panels: usize, iters: usize) -> f64 {
    let mr = x86::Avx512::MR;
    let nr = 32;
    let mut ab = vec![0.0f32; kc * mr * panels + 16];
    let off = ab.as_ptr().align_offset(64);
    for (i, x) in ab.iter_mut().enumerate() {
        *x = (i % 7) as f32 * 0.01;
    }
    let mut bb = vec![0.0f32; kc * nr + 16];
    let boff = bb.as_ptr().align_offset(64);
    for (i, x) in bb.iter_mut().enumerate() {
        *x = (i % 5) as f32 * 0.01;
    }
    let mut c = vec![0.0f32; 12 * 64 * panels];
    let epi = TileEpi {
        load_c: false,
        apply: true,
        alpha: 1.0,
        bias_row: std::ptr::null(),
        bias_col: std::ptr::null(),
        act: Activation::Identity,
    };
    let t = std::time::Instant::now();
    for _ in 0..iters {
        for p in 0..panels {
            unsafe {
                <x86::Avx512 as MicroKernel>::tile(
                    kc,
                    ab[off + p * kc * mr..].as_ptr(),
                    bb[boff..].as_ptr(),
                    c[p * 12 * 64..].as_mut_ptr(),
                    64,
                    &epi,
                );
            }
        }
    }
    let dt = t.elapsed().as_secs_f64();
    (iters * panels * kc * mr * nr * 2) as f64 / dt / 1e9
}
