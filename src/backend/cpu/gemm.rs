//! Single-precision GEMM with a fused epilogue: `C = act(alpha * A*B + bias)`.
//!
//! Every CPU kernel of the calibrator (matmul, linear, conv via im2col, attention) funnels into
//! [`sgemm`], so this module is written for speed: a BLIS-style blocked algorithm with packed
//! operands and hand-written register-blocked microkernels.
//!
//! # Loop nest
//! ```text
//! for each task (a rectangle of C: rows R x columns J; see "Parallelism")
//!   for pc in K step KC                          K block (kc <= KC)
//!     for ic in R step MC                        M block (mc <= MC)
//!       A~ = pack(A[ic.., pc..])                 mc x kc as MR-tall panels (thread-local, L2)
//!       B~ = packed B[pc.., J]                   kc x NR slivers (see below)
//!       for jr in J step NR                      one B sliver ...
//!         for ir in mc step MR                   ... meets every A panel of the block:
//!           microkernel: MR x NR tile of C in registers, kc rank-1 updates, then the store
//!           phase (plain store / accumulate / fused epilogue, see below)
//! ```
//! Packing makes both micro-panels contiguous (and the B sliver 64-byte aligned), so the
//! microkernel's inner loop is two aligned vector loads of B and MR broadcasts of A per k.
//! Partial panels are zero-padded. For edge tiles the AVX-512 kernel has smaller instances
//! (4 or 8 rows, 16 columns) that skip most of the padding and store through lane masks (on
//! a `64 x 256 x 64` product that alone is worth ~10%); the other kernels compute the full tile
//! into a stack buffer and copy the valid part out.
//!
//! Packing reads are prefetched by hand: row-major B is read row by row (`ldb` apart, which
//! the hardware prefetchers do not follow) and A / B^T as up to 32 parallel row streams. On the
//! conv-like `64 x 576 x 3136` product this lifted 2 threads from ~315 to ~395 GFLOPS.
//!
//! B is packed in one of three ways, all with the layout above:
//! - *just in time*: when a task has a single M block, `JIT_SLIVERS` slivers at a time into a
//!   small buffer that stays in L2 (B is used once per K block, so a full packed copy would
//!   only add a write and a re-read through L3 or memory; this matters for skinny shapes such
//!   as conv's `64 x 576 x 3136`);
//! - *per task*: otherwise, the task packs its columns of the K block once for all its M
//!   blocks;
//! - *shared*: when several tasks share columns (`tm > 1`), the K block's panel is packed once,
//!   on demand, by whichever tasks get there first (`SharedB`).
//!
//! # Block sizes (AVX-512 path, tuned on Zen 5: L1d 48 KiB, L2 1 MiB per core, L3 32 MiB)
//! - `MR x NR = 12 x 32`: 24 zmm accumulators, 2 zmm for the B row, the rest for broadcasts;
//!   24 independent FMA chains cover the FMA latency of two 512-bit FMA pipes, and 14 loads per
//!   24 FMAs stay well inside the load bandwidth. Measured ~97% of peak with hot caches.
//! - `KC = 1024`: the C tile is loaded and stored once per K block; with `KC = 256` that C
//!   traffic (a scattered walk over C, 8 passes at N = 2048) cost more than anything else. Most
//!   of the calibrator's shapes have `k <= 1024`, i.e. a single K block in which C is written
//!   exactly once, epilogue included.
//! - `MC = 96`: the packed A block (`96*1024*4 = 384 KiB`) stays in L2 next to the current B
//!   sliver (`1024*32*4 = 128 KiB`, streamed from L2, not L1) and the next sliver, which the
//!   microkernel prefetches into L2 while the A panels stream past the current one. Larger MC
//!   (less B traffic from L3) measured slower: the A block starts to get evicted.
//! - No N blocking: the B panel of a K block is streamed once per A block, `2/MC` bytes per
//!   flop, which L3 sustains.
//!
//! # Epilogue
//! The microkernel's store phase handles all K blocks: the first stores the raw sum, middle ones
//! add to C, and the *last* one computes `act(alpha * (C_partial + acc) + bias)` on the
//! registers and stores once, so the epilogue is fused (no extra pass over C). The activation
//! code is shared with [`Activation::apply_slice`] (see [`super::activation`]).
//!
//! # Parallelism
//! With [`Parallelism::Rayon`] C is cut into a grid of `tm x tn` rectangles (aligned to MR/NR),
//! chosen by a small cost model (FMA time, packing time, synchronisation; makespan over the
//! threads). Splitting N costs each column part a re-pack of A; splitting M shares B between
//! rows of tasks, which measured the more expensive of the two (cross-core traffic, a
//! call-sized buffer). So square, wide and conv-like shapes split N (at N = 2048: two tasks of
//! 2048 x 1024), and tall-narrow ones (N of a few slivers, e.g. `P*V` in attention) split M.
//! The tasks are run by `fork::run_parallel` (the CPU backend's fork helper): the calling thread
//! works on them right away and `threads - 1` helper jobs are spawned on the current rayon pool,
//! all claiming tasks from an atomic counter. The caller never sleeps (from outside the pool,
//! `par_iter` costs 20-80 us per call on this VM, mostly waking the caller up again), and if a
//! helper wakes up late the caller just does more tasks.
//! [`Parallelism::Serial`] runs one task on the calling thread.
//!
//! # Dispatch
//! `Isa::detect` picks AVX-512F (12x32), AVX2+FMA (6x16), or a portable plain-Rust kernel
//! (4x8, auto-vectorised) at run time. All three share the driver; packing is specialised per
//! instruction set (AVX-512 transposes 16x16 blocks in registers).
//!
//! # Buffers
//! Packing buffers are thread-local and reused across calls (taken out of the thread-local slot
//! while in use, so a nested call on the same thread just allocates its own). The shared packed
//! B of a call is as large as B itself.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::LocalKey;

use super::activation::Activation;
use super::fork::run_parallel;
use super::simd::Isa;

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
    /// Use `rayon::current_num_threads()` threads of the current rayon pool: the calling thread
    /// works on the call itself and spawns the other `n - 1` helpers onto the pool.
    Rayon,
}

/// C (m x n, row-major, leading dim ldc) = epilogue(A (m x k row-major, lda) * B).
///
/// `B` is K x N, laid out as described by `b_layout` with leading dimension `ldb`. C is
/// overwritten (never read), and every element becomes
/// `act(alpha * sum_kk A[i][kk]*B[kk][j] + bias)`; with `k == 0` that is `act(bias)`.
///
/// # Panics
/// Only on contract violations of the slice arguments: a leading dimension smaller than the
/// logical row width (`lda < k`, `ldb < n` resp. `ldb < k` for [`BLayout::Transposed`],
/// `ldc < n`), a slice too short for its matrix (`a.len() < (m-1)*lda + k`, likewise for B and
/// C), or a bias shorter than `m` ([`Bias::PerRow`]) or `n` ([`Bias::PerCol`]). Operands of
/// an empty product (a zero dimension) are not checked.
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
    sgemm_with(Isa::detect(), Overrides::default(), &p, c, par);
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

/// Internal overrides of the tuned choices (tests use them to reach every code path with small
/// matrices: several K and M blocks, each way of packing B).
#[derive(Clone, Copy, Debug, Default)]
struct Overrides {
    /// K block and M block lengths instead of the kernel's `KC`, `MC`.
    blocking: Option<(usize, usize)>,
    /// Task grid instead of [`plan`]'s choice.
    plan: Option<Plan>,
}

/// [`sgemm`] with an explicit kernel and overrides.
fn sgemm_with(isa: Isa, ov: Overrides, p: &Problem, c: &mut [f32], par: Parallelism) {
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
        Isa::Avx512 => driver::<x86::Avx512>(p, c, par, ov),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => driver::<x86::Avx2>(p, c, par, ov),
        _ => driver::<Portable>(p, c, par, ov),
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
            "sgemm: b.len() = {} < {need} needed for B ({:?}, k = {k}, n = {n}, ldb = {})",
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

/// What the store phase of one microkernel call does, plus a prefetch hint.
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
    /// Memory the kernel may prefetch while it computes (the part of the next B sliver this
    /// tile is responsible for). Only used as a prefetch address, never dereferenced.
    prefetch: *const f32,
}

/// A register-blocked microkernel, its packing routines and its preferred cache blocking.
trait MicroKernel {
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
    /// reads.
    unsafe fn tile(kc: usize, a: *const f32, b: *const f32, c: *mut f32, ldc: usize, epi: &TileEpi);

    /// Computes a partial tile (`nrows <= MR`, `ncols <= NR`, not both full) directly into C,
    /// if the kernel can; returns `false` (having done nothing) if the caller must stage it.
    ///
    /// # Safety
    /// As [`MicroKernel::tile`], except that `c` need only be valid for `nrows` rows of `ncols`
    /// elements and non-null biases for `nrows` / `ncols` reads.
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

/// Portable kernel: plain Rust over fixed-size arrays, which LLVM vectorises with the baseline
/// SIMD of the target (SSE2 on x86_64, NEON on aarch64).
struct Portable;

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
                        // SAFETY: a non-null row bias has MR readable values.
                        v += unsafe { *epi.bias_row.add(r) };
                    }
                    if !epi.bias_col.is_null() {
                        // SAFETY: a non-null column bias has NR readable values.
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
    use super::{pack_b_generic, pack_rows, BLayout, MicroKernel, Problem, TileEpi};

    /// AVX-512F kernel, 12 x 32 tile (24 zmm accumulators).
    pub(super) struct Avx512;

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
    /// As [`MicroKernel::tile`], with C valid for `nrows` rows of `ncols` elements and non-null
    /// biases valid for `nrows` / `ncols` reads.
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
        // C is only accessed in its first `nrows` rows and, through the masks, its first
        // `ncols` columns (caller's contract); B reads are 64-byte aligned as
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
                    v0 = act_avx512(epi.act, _mm512_fmadd_ps(v0, alpha, _mm512_add_ps(bc0, br)));
                    if NV == 2 {
                        v1 =
                            act_avx512(epi.act, _mm512_fmadd_ps(v1, alpha, _mm512_add_ps(bc1, br)));
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

    /// [`pack_rows`] for widths up to 32 with AVX-512: blocks of 16 rows x 16 columns are
    /// loaded, transposed in registers and stored as 16 rows of the panel.
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
                        super::prefetch_read(line.as_ptr().wrapping_add(kk + 64));
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

    /// AVX2+FMA kernel, 6 x 16 tile (12 ymm accumulators).
    pub(super) struct Avx2;

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
// Generic packing
// ---------------------------------------------------------------------------------------------

/// Packs `rows (<= W)` rows of a row-major matrix, columns `p0..p0+kc`, into a panel of width
/// `W`: `dst[kk*W + r] = src[(r0+r)*ld + p0 + kk]`, zero for `r >= rows`.
/// Used for A and for B^T ([`BLayout::Transposed`]).
#[inline(always)]
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
fn prefetch_read(p: *const f32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// [`MicroKernel::pack_b`] for any sliver width, for either layout.
#[inline(always)]
fn pack_b_generic<const W: usize>(
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
    static A_BUF: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// Packed B of a task that packs its own B.
    static B_BUF: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// Shared packed B of a call issued from this thread.
    static B_SHARED: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// Buffers larger than this (in f32) are freed after use instead of being kept.
const MAX_RETAINED: usize = 1 << 24;

/// Runs `f` on a 64-byte aligned slice of `len` floats from the thread-local buffer `key`.
/// The buffer is taken out of its slot for the duration, so re-entrant use is safe (the inner
/// user simply allocates).
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
// SAFETY: tasks only write their own disjoint rectangles of C (see `driver`), and the pointer
// is not used after the parallel region ends (C's `&mut` borrow outlives it).
unsafe impl Send for CPtr {}
// SAFETY: as above.
unsafe impl Sync for CPtr {}

/// Division rounding up.
#[inline]
fn div_up(a: usize, b: usize) -> usize {
    a.div_ceil(b)
}

/// Start and end of part `i` when `count` items are split into `parts` nearly equal parts.
#[inline]
fn split_range(count: usize, parts: usize, i: usize) -> (usize, usize) {
    (i * count / parts, (i + 1) * count / parts)
}

/// The K blocks: `nkb` blocks of `kcb` (the last one possibly shorter).
#[derive(Clone, Copy, Debug)]
struct KSplit {
    kcb: usize,
    nkb: usize,
}

impl KSplit {
    /// Splits `k` into the fewest blocks of at most `kc_max`, of nearly equal length.
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

/// How C is cut into tasks: `tm` parts along M times `tn` parts along N.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Plan {
    tm: usize,
    tn: usize,
}

/// Below this many flops a Rayon call runs serially.
const PAR_MIN_FLOPS: f64 = 1.0e6;

/// Picks the task grid for `threads` threads, minimising an estimated makespan in cycles of
/// one core: FMA work (padded tiles count in full), packing, and a per-task start cost.
///
/// A task packs the A rows of its rectangle (so splitting N re-packs A once per column part);
/// B is packed just in time by the task itself when there is one row of tasks (`tm == 1`), and
/// otherwise shared: packed once per column part and K block by whoever gets there first,
/// which costs a synchronisation per K block and a round trip through L3.
#[allow(clippy::too_many_arguments)]
fn plan(
    m: usize,
    n: usize,
    k: usize,
    kc: usize,
    mc: usize,
    mr: usize,
    nr: usize,
    threads: usize,
) -> Plan {
    let serial = Plan { tm: 1, tn: 1 };
    let flops = 2.0 * m as f64 * n as f64 * k as f64;
    if threads <= 1 || flops < PAR_MIN_FLOPS {
        return serial;
    }
    // Calibrated on Zen 5 (AVX-512): cycles per flop / per packed element / per event.
    // Shared B is expensive per element: it is written to a call-sized buffer and read by the
    // other cores out of this core's cache; splitting N and re-packing A measured faster for
    // square shapes (1-3% at N = 1024..2048), while M splits win when N is a few slivers.
    const FLOP_PER_CYCLE: f64 = 60.0;
    const A_PACK: f64 = 1.0;
    const B_PACK_OWN: f64 = 0.3;
    const B_PACK_SHARED: f64 = 2.0;
    const SYNC: f64 = 2_000.0;
    const TASK: f64 = 3_000.0;
    // Streaming the K block's B panel past one M block (L3 to L2), per element.
    const B_STREAM: f64 = 0.05;
    let (rt, ct) = (div_up(m, mr), div_up(n, nr));
    let nkb = div_up(k, kc) as f64;
    let kf = k as f64;
    let task_cost = |rows: f64, cols: f64, tm: usize| {
        let b = if tm == 1 {
            cols * kf * B_PACK_OWN
        } else {
            cols * kf * B_PACK_SHARED / tm as f64 + nkb * SYNC
        };
        let m_blocks = (rows / mc as f64).ceil();
        rows * cols * kf * 2.0 / FLOP_PER_CYCLE
            + rows * kf * A_PACK
            + b
            + m_blocks * cols * kf * B_STREAM
            + TASK
    };
    let mut best = (f64::INFINITY, serial);
    for per_thread in 1..=8 {
        let tasks = threads * per_thread;
        for tm in 1..=tasks.min(rt) {
            let tn = tasks / tm;
            if !tasks.is_multiple_of(tm) || tn > ct {
                continue;
            }
            let avg = task_cost(
                (rt * mr) as f64 / tm as f64,
                (ct * nr) as f64 / tn as f64,
                tm,
            );
            let max = task_cost(
                (div_up(rt, tm) * mr) as f64,
                (div_up(ct, tn) * nr) as f64,
                tm,
            );
            // Tasks are handed out dynamically: per-thread work plus the largest task's excess.
            let makespan = per_thread as f64 * avg + (max - avg);
            // Slight preference for more tasks: better balance when a core is disturbed.
            let cost = makespan * (1.0 - 0.001 * per_thread as f64);
            if cost < best.0 {
                best = (cost, Plan { tm, tn });
            }
        }
    }
    best.1
}

/// Runs the blocked algorithm with microkernel `K` (whose instruction set the caller checked).
fn driver<K: MicroKernel>(p: &Problem, c: &mut [f32], par: Parallelism, ov: Overrides) {
    let (kc, mc) = ov.blocking.unwrap_or((K::KC, K::MC));
    let mc = div_up(mc.max(1), K::MR) * K::MR;
    let ks = KSplit::new(p.k, kc.max(1));
    let threads = match par {
        Parallelism::Serial => 1,
        Parallelism::Rayon => rayon::current_num_threads(),
    };
    let (rt, ct) = (div_up(p.m, K::MR), div_up(p.n, K::NR));
    let pl = match ov.plan {
        Some(Plan { tm, tn }) => Plan {
            tm: tm.clamp(1, rt),
            tn: tn.clamp(1, ct),
        },
        None => plan(p.m, p.n, p.k, kc, mc, K::MR, K::NR, threads),
    };
    let cptr = CPtr(c.as_mut_ptr());
    let ntasks = pl.tm * pl.tn;

    let run_tasks = |shared: Option<&SharedB>| {
        let task = |t: usize| {
            let (i, j) = (t / pl.tn, t % pl.tn);
            let (r0, r1) = split_range(rt, pl.tm, i);
            let (s0, s1) = split_range(ct, pl.tn, j);
            let rows = (r0 * K::MR, (r1 * K::MR).min(p.m));
            let cols = (s0 * K::NR, (s1 * K::NR).min(p.n));
            let bsrc = match shared {
                Some(sh) => BSource::Shared(sh, j),
                None => BSource::Own,
            };
            // SAFETY: the task rectangles partition C's m x n area (which `check_contract`
            // verified to lie inside `c`), so each task has its rectangle to itself; the
            // instruction set of `K` was checked by `sgemm_with`.
            unsafe { run_task::<K>(p, cptr, rows, cols, ks, mc, bsrc) };
        };
        if ntasks == 1 {
            task(0);
        } else {
            run_parallel(ntasks, threads, &task);
        }
    };

    if pl.tm > 1 {
        // Several rows of tasks use the same columns of B: pack it once, shared.
        with_buffer(&B_SHARED, p.k * ct * K::NR, |bbuf| {
            let shared = SharedB::new::<K>(bbuf, p, ks, pl);
            run_tasks(Some(&shared));
        });
    } else {
        run_tasks(None);
    }
}

/// B packed once per call and shared by all tasks, on demand: the first tasks to need K block
/// `kb` of column part `j` claim chunks of it with an atomic counter and pack them; every task
/// then waits until all chunks are done. Packing thus overlaps with other tasks' compute, the
/// panel is still in cache when it is used, and tasks that arrive together share the work.
///
/// Layout: K block `kb` (start `p0`, length `kcb`) starts at `p0*np`; within it sliver `s`
/// (columns `s*NR..`) starts at `s*kcb*NR`.
struct SharedB {
    ptr: *mut f32,
    len: usize,
    np: usize,
    tn: usize,
    /// Sliver range of each column part.
    parts: Vec<(usize, usize)>,
    /// Slivers per claimable chunk, per column part.
    chunk: Vec<usize>,
    /// Next chunk to claim, per (K block, column part).
    claim: Vec<AtomicUsize>,
    /// Chunks finished, per (K block, column part).
    done: Vec<AtomicUsize>,
}

// SAFETY: the buffer behind `ptr` is only written through disjoint chunks, each claimed by
// exactly one thread via `claim` (fetch_add hands out every index once), and only read after
// `done` (Release on completion, Acquire on the reader side) shows all chunks of that block and
// part complete; finished chunks are never written again. The buffer outlives the `SharedB`
// (it is borrowed mutably for the whole parallel region in `driver`).
unsafe impl Sync for SharedB {}

impl SharedB {
    fn new<K: MicroKernel>(buf: &mut [f32], p: &Problem, ks: KSplit, pl: Plan) -> SharedB {
        let ct = div_up(p.n, K::NR);
        let parts: Vec<(usize, usize)> = (0..pl.tn).map(|j| split_range(ct, pl.tn, j)).collect();
        // A few chunks per sharing task, at least one sliver each.
        let chunk = parts
            .iter()
            .map(|&(s0, s1)| div_up(s1 - s0, 2 * pl.tm).max(1))
            .collect();
        let counters = || (0..ks.nkb * pl.tn).map(|_| AtomicUsize::new(0)).collect();
        SharedB {
            ptr: buf.as_mut_ptr(),
            len: buf.len(),
            np: ct * K::NR,
            tn: pl.tn,
            parts,
            chunk,
            claim: counters(),
            done: counters(),
        }
    }

    /// The packed panel of K block `kb` for column part `j` (its slivers only), packing what
    /// nobody else has claimed yet and waiting for the rest.
    fn panel<K: MicroKernel>(&self, p: &Problem, ks: KSplit, kb: usize, j: usize) -> &[f32] {
        let (p0, kcb) = ks.block(kb, p.k);
        let (s0, s1) = self.parts[j];
        let g = self.chunk[j];
        let nchunks = div_up(s1 - s0, g);
        let idx = kb * self.tn + j;
        let sliver = kcb * K::NR;
        let base = p0 * self.np;
        loop {
            let ch = self.claim[idx].fetch_add(1, Ordering::Relaxed);
            if ch >= nchunks {
                break;
            }
            let (sa, sb) = (s0 + ch * g, (s0 + (ch + 1) * g).min(s1));
            let (off, len) = (base + sa * sliver, (sb - sa) * sliver);
            assert!(off + len <= self.len, "shared B chunk out of bounds");
            // SAFETY: in bounds (asserted); chunk `ch` of (kb, j) was handed to this thread
            // alone by `fetch_add`, and nobody reads it before it is counted in `done`.
            let dst = unsafe { std::slice::from_raw_parts_mut(self.ptr.add(off), len) };
            // Counted as done even if packing panics, so no task waits for it forever (the
            // panic then resurfaces from `run_parallel`).
            let _done = CountOnDrop(&self.done[idx]);
            K::pack_b(p, sa, sb, p0, kcb, dst);
        }
        let mut spins = 0u32;
        while self.done[idx].load(Ordering::Acquire) < nchunks {
            // Only chunks that other threads are busy packing remain (packing never blocks),
            // so the wait is short; yield in case such a thread was descheduled.
            if spins < 2000 {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
        let (off, len) = (base + s0 * sliver, (s1 - s0) * sliver);
        assert!(off + len <= self.len, "shared B panel out of bounds");
        // SAFETY: in bounds (asserted); all chunks of (kb, j) are complete (the Acquire load
        // synchronises with their Release increments) and are never written again.
        unsafe { std::slice::from_raw_parts(self.ptr.add(off), len) }
    }
}

/// Increments a counter when dropped (Release), also while unwinding.
struct CountOnDrop<'a>(&'a AtomicUsize);

impl Drop for CountOnDrop<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

/// Where a task gets its packed B from.
#[derive(Clone, Copy)]
enum BSource<'a> {
    /// Packed by this task into its thread-local buffer.
    Own,
    /// Shared, for column part `.1`.
    Shared(&'a SharedB, usize),
}

/// Slivers of B packed at a time when a task has a single M block (B is then used once per
/// K block, so it is packed just in time into a small, cache-resident buffer).
const JIT_SLIVERS: usize = 4;

/// One K block of a task.
struct Block {
    kcb: usize,
    first: bool,
    last: bool,
}

/// Computes the rectangle `rows x cols` of C over all K blocks.
///
/// # Safety
/// The rectangle lies inside C (`cptr` with `p.ldc`) and no other thread accesses it meanwhile;
/// the CPU supports `K`'s instruction set. `cols.0` is a multiple of `NR`, `rows.0` of `MR`.
unsafe fn run_task<K: MicroKernel>(
    p: &Problem,
    cptr: CPtr,
    rows: (usize, usize),
    cols: (usize, usize),
    ks: KSplit,
    mc: usize,
    bsrc: BSource,
) {
    let (mr, nr) = (K::MR, K::NR);
    let (s0, s1) = (cols.0 / nr, div_up(cols.1, nr));
    // Balanced M blocks of whole MR panels: `nmb` blocks, the first `extra` one panel taller.
    let tiles = div_up(rows.1 - rows.0, mr);
    let nmb = div_up(tiles, mc / mr);
    let (base_tiles, extra) = (tiles / nmb, tiles % nmb);
    let mc = div_up(tiles, nmb) * mr;
    let single_m_block = nmb == 1;
    let own_slivers = if single_m_block {
        JIT_SLIVERS.min(s1 - s0)
    } else {
        s1 - s0
    };
    let own_b_len = match bsrc {
        BSource::Own => ks.kcb * own_slivers * nr,
        BSource::Shared(..) => 0,
    };
    with_buffer(&A_BUF, mc * ks.kcb, |abuf| {
        with_buffer(&B_BUF, own_b_len, |bown| {
            for kb in 0..ks.nkb {
                let (p0, kcb) = ks.block(kb, p.k);
                let blk = Block {
                    kcb,
                    first: kb == 0,
                    last: kb + 1 == ks.nkb,
                };
                let mut ic = rows.0;
                for mb in 0..nmb {
                    let mcb = ((base_tiles + usize::from(mb < extra)) * mr).min(rows.1 - ic);
                    let m_rows = (ic, ic + mcb);
                    let panels = div_up(mcb, mr);
                    for (i, pa) in abuf.chunks_exact_mut(kcb * mr).take(panels).enumerate() {
                        let r0 = ic + i * mr;
                        K::pack_a(p.a, p.lda, r0, mr.min(rows.1 - r0), p0, kcb, pa);
                    }
                    // SAFETY (all `macro_kernel` calls): forwarded from this function's
                    // contract; `m_rows` x the slivers' columns lie inside this task's
                    // rectangle.
                    match bsrc {
                        BSource::Shared(sh, j) => {
                            let bpanel = sh.panel::<K>(p, ks, kb, j);
                            unsafe {
                                macro_kernel::<K>(p, cptr, &blk, abuf, m_rows, bpanel, s0, s1)
                            };
                        }
                        BSource::Own if !single_m_block => {
                            // Pack this K block's panel once, for all M blocks.
                            if ic == rows.0 {
                                K::pack_b(p, s0, s1, p0, kcb, bown);
                            }
                            unsafe { macro_kernel::<K>(p, cptr, &blk, abuf, m_rows, bown, s0, s1) };
                        }
                        BSource::Own => {
                            let mut g0 = s0;
                            while g0 < s1 {
                                let g1 = (g0 + own_slivers).min(s1);
                                K::pack_b(p, g0, g1, p0, kcb, bown);
                                unsafe {
                                    macro_kernel::<K>(p, cptr, &blk, abuf, m_rows, bown, g0, g1)
                                };
                                g0 = g1;
                            }
                        }
                    }
                    ic += mcb;
                }
            }
        })
    });
}

/// Multiplies the packed A block (rows `m_rows`) by the packed B slivers `g0..g1` (sliver `s`
/// at `bpanel[(s-g0)*kcb*NR..]`), B sliver outer, A panel inner.
///
/// # Safety
/// As for [`run_task`]; `m_rows` x the columns of slivers `g0..g1` lie in the task's rectangle.
#[allow(clippy::too_many_arguments)]
unsafe fn macro_kernel<K: MicroKernel>(
    p: &Problem,
    cptr: CPtr,
    blk: &Block,
    abuf: &[f32],
    m_rows: (usize, usize),
    bpanel: &[f32],
    g0: usize,
    g1: usize,
) {
    let (mr, nr, kcb) = (K::MR, K::NR, blk.kcb);
    let panels = div_up(m_rows.1 - m_rows.0, mr);
    for s in g0..g1 {
        let bsl = &bpanel[(s - g0) * kcb * nr..][..kcb * nr];
        let j0 = s * nr;
        let ncols = nr.min(p.n - j0);
        let bias_col = match p.epi.bias {
            Bias::PerCol(b) if blk.last => b[j0..].as_ptr(),
            _ => std::ptr::null(),
        };
        for i in 0..panels {
            let i0 = m_rows.0 + i * mr;
            let nrows = mr.min(m_rows.1 - i0);
            let pa = &abuf[i * kcb * mr..][..kcb * mr];
            let bias_row = match p.epi.bias {
                Bias::PerRow(b) if blk.last => b[i0..].as_ptr(),
                _ => std::ptr::null(),
            };
            // While the A panels stream past this B sliver, the kernel pulls the next sliver
            // (contiguous after this one) into L2: panel i prefetches its i-th part.
            let prefetch = bsl.as_ptr().wrapping_add(kcb * nr + i * (kcb / 8) * 32);
            let epi = TileEpi {
                load_c: !blk.first,
                apply: blk.last,
                alpha: p.epi.alpha,
                bias_row,
                bias_col,
                act: p.epi.activation,
                prefetch,
            };
            // SAFETY: `i0 < m` and `j0 < n`, so the offset is inside C.
            let ct = unsafe { cptr.0.add(i0 * p.ldc + j0) };
            // SAFETY: the `nrows x ncols` tile at `ct` is inside this task's rectangle of C;
            // bias pointers cover `nrows` / `ncols` values (lengths checked by
            // `check_contract`); the panels are `kcb*MR` / `kcb*NR` long, and B slivers start
            // at multiples of `NR` floats in 64-byte aligned buffers, hence are 64-byte aligned
            // for NR = 32 and 32-byte aligned for NR = 16 (the SIMD kernels' requirements).
            unsafe { tile_at::<K>(kcb, pa, bsl, ct, p.ldc, nrows, ncols, &epi) };
        }
    }
}

/// Runs the microkernel on a possibly partial tile (`nrows <= MR`, `ncols <= NR`).
///
/// # Safety
/// `c` is valid for reads and writes of `nrows` rows of `ncols` elements at stride `ldc`;
/// non-null bias pointers are valid for `nrows` resp. `ncols` reads; `b` is aligned and the CPU
/// supports `K` as in [`MicroKernel::tile`].
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
    assert!(a.len() >= kc * K::MR && b.len() >= kc * K::NR);
    if nrows == K::MR && ncols == K::NR {
        // SAFETY: full tile; lengths asserted, the rest is the caller's contract.
        unsafe { K::tile(kc, a.as_ptr(), b.as_ptr(), c, ldc, epi) };
        return;
    }
    // SAFETY: forwarded contract (the partial-tile variant needs only the `nrows x ncols`
    // part of C and of the biases).
    if unsafe { K::tile_partial(kc, a.as_ptr(), b.as_ptr(), c, ldc, nrows, ncols, epi) } {
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
        // SAFETY: a non-null row bias is valid for `nrows` reads.
        brow[..nrows].copy_from_slice(unsafe { std::slice::from_raw_parts(epi.bias_row, nrows) });
        e.bias_row = brow.as_ptr();
    }
    if !epi.bias_col.is_null() {
        // SAFETY: a non-null column bias is valid for `ncols` reads.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random values in [-1, 1).
    fn fill(len: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
        (0..len)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    fn isas() -> Vec<Isa> {
        [Isa::Avx512, Isa::Avx2Fma, Isa::Portable]
            .into_iter()
            .filter(|i| i.is_available())
            .collect()
    }

    #[derive(Clone, Copy, Debug)]
    struct Case {
        m: usize,
        n: usize,
        k: usize,
        /// Extra leading-dimension padding for A, B and C.
        pad: usize,
        layout: BLayout,
    }

    /// Runs one case with every available kernel and checks it against an f64 reference; also
    /// checks that C's padding columns are untouched.
    fn check(case: Case, epi: &Epilogue, par: Parallelism, ov: Overrides) {
        let Case {
            m,
            n,
            k,
            pad,
            layout,
        } = case;
        let lda = k + pad;
        let ldc = n + pad;
        let (ldb, brows) = match layout {
            BLayout::RowMajor => (n + pad, k),
            BLayout::Transposed => (k + pad, n),
        };
        let a = fill(m * lda, 1);
        let b = fill(brows * ldb, 2);
        let bval = |kk: usize, j: usize| match layout {
            BLayout::RowMajor => b[kk * ldb + j],
            BLayout::Transposed => b[j * ldb + kk],
        };
        let mut want = vec![0.0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0f64;
                for kk in 0..k {
                    s += a[i * lda + kk] as f64 * bval(kk, j) as f64;
                }
                let bias = match epi.bias {
                    Bias::None => 0.0,
                    Bias::PerRow(v) => v[i] as f64,
                    Bias::PerCol(v) => v[j] as f64,
                };
                want[i * n + j] = epi.activation.reference(epi.alpha as f64 * s + bias);
            }
        }
        // f32 accumulation of k products of magnitude < 1, scaled by alpha.
        let tol = 2e-6 * (k as f64 + 4.0) * (epi.alpha.abs() as f64 + 1.0);
        for isa in isas() {
            let mut c = vec![f32::NAN; m * ldc];
            let p = Problem {
                m,
                n,
                k,
                a: &a,
                lda,
                b: &b,
                ldb,
                b_layout: layout,
                ldc,
                epi,
            };
            sgemm_with(isa, ov, &p, &mut c, par);
            for i in 0..m {
                for j in 0..ldc {
                    let got = c[i * ldc + j];
                    if j >= n {
                        assert!(got.is_nan(), "{isa:?} {case:?} wrote padding C[{i}][{j}]");
                        continue;
                    }
                    let w = want[i * n + j];
                    assert!(
                        (got as f64 - w).abs() <= tol,
                        "{isa:?} {case:?} {par:?} {ov:?} {epi:?}: C[{i}][{j}] = {got}, want {w}"
                    );
                }
            }
        }
    }

    const SIZES: [(usize, usize, usize); 12] = [
        (1, 1, 1),
        (20, 50, 9),
        (56, 48, 20),
        (7, 13, 5),
        (33, 65, 17),
        (100, 37, 129),
        (12, 32, 8),
        (24, 64, 16),
        (13, 33, 300),
        (25, 70, 64),
        (3, 200, 9),
        (130, 9, 33),
    ];

    #[test]
    fn products_all_shapes_layouts_kernels() {
        for (m, n, k) in SIZES {
            for layout in [BLayout::RowMajor, BLayout::Transposed] {
                for pad in [0, 3] {
                    let case = Case {
                        m,
                        n,
                        k,
                        pad,
                        layout,
                    };
                    check(
                        case,
                        &Epilogue::NONE,
                        Parallelism::Serial,
                        Overrides::default(),
                    );
                    check(
                        case,
                        &Epilogue::NONE,
                        Parallelism::Rayon,
                        Overrides::default(),
                    );
                }
            }
        }
    }

    #[test]
    fn every_epilogue() {
        let bias_r = fill(100, 5);
        let bias_c = fill(100, 6);
        for act in [Activation::Identity, Activation::Relu, Activation::Gelu] {
            for bias in [Bias::None, Bias::PerRow(&bias_r), Bias::PerCol(&bias_c)] {
                for alpha in [1.0f32, 0.37, -2.0] {
                    let epi = Epilogue {
                        alpha,
                        bias,
                        activation: act,
                    };
                    for (m, n, k) in [(7, 13, 5), (33, 65, 17), (24, 64, 3)] {
                        let case = Case {
                            m,
                            n,
                            k,
                            pad: 1,
                            layout: BLayout::RowMajor,
                        };
                        check(case, &epi, Parallelism::Serial, Overrides::default());
                    }
                }
            }
        }
    }

    /// Every way of running a call: several K blocks (accumulation in C, epilogue on the last
    /// one), several M blocks per task, and each task grid, i.e. B packed just in time, per task
    /// for several M blocks, or shared between rows of tasks.
    #[test]
    fn every_blocking_and_task_grid() {
        let bias_r = fill(100, 3);
        let bias_c = fill(200, 4);
        let epis = [
            Epilogue::NONE,
            Epilogue {
                alpha: -0.5,
                bias: Bias::PerRow(&bias_r),
                activation: Activation::Gelu,
            },
            Epilogue {
                alpha: 2.0,
                bias: Bias::PerCol(&bias_c),
                activation: Activation::Relu,
            },
        ];
        let blockings = [None, Some((16, 24)), Some((40, 8))];
        let plans = [None, Some((1, 1)), Some((2, 1)), Some((1, 3)), Some((3, 2))];
        for (m, n, k) in [(50, 150, 70), (100, 37, 129)] {
            for layout in [BLayout::RowMajor, BLayout::Transposed] {
                for (e, epi) in epis.iter().enumerate() {
                    for blocking in blockings {
                        for plan in plans {
                            let plan = plan.map(|(tm, tn)| Plan { tm, tn });
                            let ov = Overrides { blocking, plan };
                            let par = [Parallelism::Rayon, Parallelism::Serial][e % 2];
                            check(
                                Case {
                                    m,
                                    n,
                                    k,
                                    pad: 2,
                                    layout,
                                },
                                epi,
                                par,
                                ov,
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn rayon_default_plans_on_skinny_shapes() {
        let bias_c = fill(300, 7);
        let epi = Epilogue {
            alpha: 1.5,
            bias: Bias::PerCol(&bias_c),
            activation: Activation::Gelu,
        };
        for (m, n, k) in [
            (150, 140, 60),
            (20, 300, 200),
            (300, 20, 200),
            (97, 101, 103),
        ] {
            for layout in [BLayout::RowMajor, BLayout::Transposed] {
                let case = Case {
                    m,
                    n,
                    k,
                    pad: 1,
                    layout,
                };
                check(case, &epi, Parallelism::Rayon, Overrides::default());
            }
        }
    }

    #[test]
    fn k_zero_gives_activation_of_bias() {
        let bias_r = fill(9, 8);
        let bias_c = fill(11, 9);
        for bias in [Bias::None, Bias::PerRow(&bias_r), Bias::PerCol(&bias_c)] {
            let epi = Epilogue {
                alpha: 3.0,
                bias,
                activation: Activation::Gelu,
            };
            let case = Case {
                m: 9,
                n: 11,
                k: 0,
                pad: 2,
                layout: BLayout::RowMajor,
            };
            check(case, &epi, Parallelism::Rayon, Overrides::default());
        }
    }

    #[test]
    fn empty_outputs_are_fine() {
        let mut c: Vec<f32> = vec![];
        let none = &Epilogue::NONE;
        sgemm(
            0,
            5,
            3,
            &[],
            3,
            &[0.0; 15],
            5,
            BLayout::RowMajor,
            &mut c,
            5,
            none,
            Parallelism::Rayon,
        );
        sgemm(
            4,
            0,
            3,
            &[0.0; 12],
            3,
            &[],
            0,
            BLayout::RowMajor,
            &mut c,
            0,
            none,
            Parallelism::Rayon,
        );
    }

    #[test]
    fn large_inputs_stay_finite_with_gelu() {
        let (m, n, k) = (13, 40, 7);
        let a = vec![1e3f32; m * k];
        let b: Vec<f32> = (0..k * n)
            .map(|i| if i % 2 == 0 { 1e3 } else { -1e3 })
            .collect();
        let epi = Epilogue {
            alpha: 1e20,
            bias: Bias::None,
            activation: Activation::Gelu,
        };
        for isa in isas() {
            let mut c = vec![0.0f32; m * n];
            let p = Problem {
                m,
                n,
                k,
                a: &a,
                lda: k,
                b: &b,
                ldb: n,
                b_layout: BLayout::RowMajor,
                ldc: n,
                epi: &epi,
            };
            sgemm_with(isa, Overrides::default(), &p, &mut c, Parallelism::Serial);
            assert!(c.iter().all(|x| x.is_finite()), "{isa:?}: {c:?}");
        }
    }

    #[test]
    fn plans_keep_both_threads_busy() {
        let shapes = [
            (128, 512, 512),
            (512, 1024, 1024),
            (128, 784, 1152),
            (64, 3136, 576),
            (256, 256, 64),
            (256, 64, 256),
            (512, 512, 512),
            (2048, 2048, 2048),
            (8192, 256, 256),
        ];
        for (m, n, k) in shapes {
            let pl = plan(m, n, k, 1024, 96, 12, 32, 2);
            assert!(
                pl.tm * pl.tn >= 2 && (pl.tm * pl.tn).is_multiple_of(2),
                "{m}x{n}x{k}: {pl:?}"
            );
        }
        assert_eq!(
            plan(2048, 2048, 2048, 1024, 96, 12, 32, 1),
            Plan { tm: 1, tn: 1 }
        );
        assert_eq!(plan(8, 8, 8, 1024, 96, 12, 32, 2), Plan { tm: 1, tn: 1 });
    }

    #[test]
    #[should_panic(expected = "lda")]
    fn short_lda_panics() {
        let mut c = vec![0.0; 4];
        let none = &Epilogue::NONE;
        sgemm(
            2,
            2,
            3,
            &[0.0; 6],
            2,
            &[0.0; 6],
            2,
            BLayout::RowMajor,
            &mut c,
            2,
            none,
            Parallelism::Serial,
        );
    }

    #[test]
    #[should_panic(expected = "b.len()")]
    fn short_b_panics() {
        let mut c = vec![0.0; 4];
        let none = &Epilogue::NONE;
        sgemm(
            2,
            2,
            3,
            &[0.0; 6],
            3,
            &[0.0; 5],
            3,
            BLayout::Transposed,
            &mut c,
            2,
            none,
            Parallelism::Serial,
        );
    }

    #[test]
    #[should_panic(expected = "c.len()")]
    fn short_c_panics() {
        let mut c = vec![0.0; 3];
        let none = &Epilogue::NONE;
        sgemm(
            2,
            2,
            3,
            &[0.0; 6],
            3,
            &[0.0; 6],
            2,
            BLayout::RowMajor,
            &mut c,
            2,
            none,
            Parallelism::Serial,
        );
    }

    #[test]
    #[should_panic(expected = "bias")]
    fn short_bias_panics() {
        let mut c = vec![0.0; 4];
        let bias = [1.0f32];
        let epi = Epilogue {
            alpha: 1.0,
            bias: Bias::PerCol(&bias),
            activation: Activation::Identity,
        };
        sgemm(
            2,
            2,
            3,
            &[0.0; 6],
            3,
            &[0.0; 6],
            2,
            BLayout::RowMajor,
            &mut c,
            2,
            &epi,
            Parallelism::Serial,
        );
    }
}
