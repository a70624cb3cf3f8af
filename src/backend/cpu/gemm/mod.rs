//! Single-precision GEMM with a fused epilogue: `C = act(alpha * A*B + bias + R)`, and its gated
//! form `C = act(A*B_gate) ⊙ (A*B_up)` (SwiGLU) in one pass over both products.
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
//! add to C, and the *last* one computes `act(alpha * (C_partial + acc) + bias + R)` on the
//! registers and stores once, so the epilogue is fused (no extra pass over C). The residual `R`
//! (a matrix of C's shape, [`Residual`]) is read tile by tile in that store phase, so adding it
//! costs one read of R and no extra pass over C. The activation code is shared with
//! [`Activation::apply_slice`] (see [`super::activation`]).
//!
//! # Gated products
//! [`sgemm_gated`] computes `act(A*B_gate) ⊙ (A*B_up)` with both B operands packed side by
//! side (same slivers, same K blocks, same buffers, packed the same three ways): for every
//! sliver position, each packed A panel meets the gate sliver first, whose tile (activation
//! applied) goes to a stack buffer, then the up sliver, whose store phase multiplies by that
//! buffer and stores C once. A is packed once for both products, and neither product reaches
//! memory. With several K blocks the gate's partial sums must outlive the K loop: they live in
//! a tile-major scratch of C's (padded) size instead (thread-local, retained like the packing
//! buffers), the one extra traffic of that case. The store phase's gate multiply is chosen per
//! tile (a null pointer when not gated), so the plain products' inner loops are unchanged.
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
//! `simd::Isa::detect` picks AVX-512F (12x32), AVX2+FMA (6x16), or a portable plain-Rust kernel
//! (4x8, auto-vectorised) at run time. All three share the driver; packing is specialised per
//! instruction set (AVX-512 transposes 16x16 blocks in registers).
//!
//! # Buffers
//! Packing buffers are thread-local and reused across calls (taken out of the thread-local slot
//! while in use, so a nested call on the same thread just allocates its own). The shared packed
//! B of a call is as large as B itself.
//!
//! # Map
//! - this file: the public API ([`sgemm`], [`sgemm_gated`], [`Epilogue`], [`Bias`],
//!   [`Residual`], [`BLayout`], [`Parallelism`]), the operands of a call (`Problem`) and the
//!   dispatch to a kernel;
//! - `contract`: the slice contract [`sgemm`] asserts, and the `k == 0` product;
//! - `blocking`: K blocks (`KSplit`) and the task grid's cost model (`task_grid`);
//! - `pack`: packing of A and B into micro-panels, the packing prefetches, the thread-local
//!   buffers;
//! - `kernels`: the `MicroKernel` trait and one file per instruction set (`portable`, `avx2`,
//!   `avx512`);
//! - `driver`: the loop nest: tasks, K and M blocks, B packed just in time, per task or shared
//!   (`SharedB`), gated tiles, partial tiles;
//! - `tests`: end-to-end checks of [`sgemm`] against an f64 reference, every kernel and path.

mod blocking;
mod contract;
mod driver;
mod kernels;
mod pack;
#[cfg(test)]
mod tests;

use super::activation::Activation;
use super::simd::Isa;
use blocking::TaskGrid;

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

/// A matrix of C's shape added in the epilogue (a residual connection): element `(i, j)` is
/// `values[i*ld + j]`.
#[derive(Clone, Copy, Debug)]
pub struct Residual<'a> {
    /// The values, row-major with leading dimension `ld` (at least `(m-1)*ld + n` long).
    pub values: &'a [f32],
    /// Distance between the starts of two rows (at least `n`).
    pub ld: usize,
}

/// What happens to each output element before it is stored:
/// `c = act(alpha * sum + bias + residual)`.
#[derive(Clone, Copy, Debug)]
pub struct Epilogue<'a> {
    /// Scale applied to the dot product.
    pub alpha: f32,
    /// Bias added after scaling.
    pub bias: Bias<'a>,
    /// Matrix added after the bias, before the activation.
    pub residual: Option<Residual<'a>>,
    /// Activation applied last.
    pub activation: Activation,
}

impl Epilogue<'static> {
    /// alpha 1, no bias, no residual, identity.
    pub const NONE: Epilogue<'static> = Epilogue {
        alpha: 1.0,
        bias: Bias::None,
        residual: None,
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
/// `act(alpha * sum_kk A[i][kk]*B[kk][j] + bias + R[i][j])`; with `k == 0` that is
/// `act(bias + R[i][j])`.
///
/// # Panics
/// Only on contract violations of the slice arguments: a leading dimension smaller than the
/// logical row width (`lda < k`, `ldb < n` resp. `ldb < k` for [`BLayout::Transposed`],
/// `ldc < n`, the residual's `ld < n`), a slice too short for its matrix
/// (`a.len() < (m-1)*lda + k`, likewise for B, C and the residual), or a bias shorter than `m`
/// ([`Bias::PerRow`]) or `n` ([`Bias::PerCol`]). Operands of an empty product (a zero
/// dimension) are not checked.
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
        gate: None,
    };
    sgemm_with(Isa::detect(), Overrides::default(), &p, c, par);
}

/// C (m x n, row-major, leading dim ldc) = `act(A*B_gate) ⊙ (A*B_up)`, both products in one pass
/// (the gated linear unit of SwiGLU with `act` = SiLU; see "Gated products" in the module docs).
///
/// `b_gate` and `b_up` are K x N with the same layout and leading dimension `ldb`. C is
/// overwritten (never read); with `k == 0` every element is `act(0) * 0`.
///
/// # Panics
/// As [`sgemm`], with both B operands checked against `ldb`.
#[allow(clippy::too_many_arguments)]
pub fn sgemm_gated(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    b_gate: &[f32],
    b_up: &[f32],
    ldb: usize,
    b_layout: BLayout,
    c: &mut [f32],
    ldc: usize,
    act: Activation,
    par: Parallelism,
) {
    let p = Problem {
        m,
        n,
        k,
        a,
        lda,
        b: b_up,
        ldb,
        b_layout,
        ldc,
        epi: &Epilogue::NONE,
        gate: Some(Gate { b: b_gate, act }),
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
    /// Gated call: `C = gate.act(A*gate.b) ⊙ epi(A*b)`.
    gate: Option<Gate<'a>>,
}

/// The gate operand of a gated call: its B (same layout and `ldb` as the problem's B) and the
/// activation applied to its product before the multiply.
#[derive(Clone, Copy)]
struct Gate<'a> {
    b: &'a [f32],
    act: Activation,
}

impl<'a> Problem<'a> {
    /// The gate's product as a plain problem (its B is the gate's), for packing its slivers.
    fn gate_problem(&self) -> Option<Problem<'a>> {
        self.gate.map(|g| Problem {
            b: g.b,
            gate: None,
            ..*self
        })
    }
}

/// Internal overrides of the tuned choices (tests use them to reach every code path with small
/// matrices: several K and M blocks, each way of packing B).
#[derive(Clone, Copy, Debug, Default)]
struct Overrides {
    /// K block and M block lengths instead of the kernel's `KC`, `MC`.
    blocking: Option<(usize, usize)>,
    /// Task grid instead of [`blocking::task_grid`]'s choice.
    grid: Option<TaskGrid>,
}

/// [`sgemm`] with an explicit kernel and overrides.
fn sgemm_with(isa: Isa, ov: Overrides, p: &Problem, c: &mut [f32], par: Parallelism) {
    contract::check_contract(p, c);
    assert!(
        isa.is_available(),
        "instruction set {isa:?} not available on this CPU"
    );
    if p.m == 0 || p.n == 0 {
        return;
    }
    if p.k == 0 {
        contract::fill_bias_only(p, c);
        return;
    }
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => driver::driver::<kernels::Avx512>(p, c, par, ov),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => driver::driver::<kernels::Avx2>(p, c, par, ov),
        _ => driver::driver::<kernels::Portable>(p, c, par, ov),
    }
}
