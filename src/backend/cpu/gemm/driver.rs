//! The driver: the loop nest of the module docs over one call. It cuts C into the task grid's tasks
//! and runs them (`fork::run_parallel`), and per task walks the K and M blocks, packs A, gets
//! B packed just in time, per task, or shared between rows of tasks ([`SharedB`]), and calls
//! the microkernel per tile (for a gated call: the gate's tile, then the product's tile that
//! multiplies by it), staging partial tiles through the stack where the kernel cannot store
//! them itself.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::blocking::{div_up, split_range, task_grid, KSplit, TaskGrid};
use super::kernels::{MicroKernel, TileEpi};
use super::pack::{with_buffer, A_BUF, B_BUF, B_SHARED, GATE_ACC};
use super::{Bias, Overrides, Parallelism, Problem};
use crate::backend::cpu::fork::run_parallel;

/// Raw pointer to C (or to the gate scratch) shared by tasks that write disjoint rectangles.
#[derive(Clone, Copy)]
struct CPtr(*mut f32);
// SAFETY: tasks only write their own disjoint rectangles of C and tiles of the gate scratch
// (see `driver`), and the pointer is not used after the parallel region ends (the buffers'
// `&mut` borrows outlive it).
unsafe impl Send for CPtr {}
// SAFETY: as above.
unsafe impl Sync for CPtr {}

/// Largest `MR x NR` tile of any kernel (the stack buffers of gate and partial tiles).
const MAX_TILE: usize = 16 * 64;

/// What every task of one call shares.
struct Call<'a> {
    p: &'a Problem<'a>,
    /// The gate's product as a plain problem (gated calls only), whose B is packed beside B.
    gate: Option<Problem<'a>>,
    c: CPtr,
    /// The gate's partial sums of a gated call with several K blocks: `rt x ct` tiles of
    /// `MR x NR` (rows `NR` apart), tile `(ti, s)` at `(ti*ct + s)*MR*NR`.
    gate_acc: Option<CPtr>,
    ks: KSplit,
    mc: usize,
    /// Slivers across N.
    ct: usize,
}

/// Runs the blocked algorithm with microkernel `K` (whose instruction set the caller checked).
pub(super) fn driver<K: MicroKernel>(p: &Problem, c: &mut [f32], par: Parallelism, ov: Overrides) {
    let (kc, mc) = ov.blocking.unwrap_or((K::KC, K::MC));
    let mc = div_up(mc.max(1), K::MR) * K::MR;
    let ks = KSplit::new(p.k, kc.max(1));
    let threads = match par {
        Parallelism::Serial => 1,
        Parallelism::Rayon => rayon::current_num_threads(),
    };
    let (rt, ct) = (div_up(p.m, K::MR), div_up(p.n, K::NR));
    let pl = match ov.grid {
        Some(TaskGrid { tm, tn }) => TaskGrid {
            tm: tm.clamp(1, rt),
            tn: tn.clamp(1, ct),
        },
        None => task_grid(p.m, p.n, p.k, kc, mc, K::MR, K::NR, threads),
    };
    let gate = p.gate_problem();
    // With one K block the activated gate tile only lives on the stack; with several its
    // partial sums must survive from one K block to the next.
    let acc_len = match gate {
        Some(_) if ks.nkb > 1 => rt * ct * K::MR * K::NR,
        _ => 0,
    };
    with_buffer(&GATE_ACC, acc_len, |acc| {
        let call = Call {
            p,
            gate,
            c: CPtr(c.as_mut_ptr()),
            gate_acc: (acc_len > 0).then_some(CPtr(acc.as_mut_ptr())),
            ks,
            mc,
            ct,
        };
        run_grid::<K>(&call, pl, threads);
    });
}

/// Runs the tasks of grid `pl`, with B shared between rows of tasks when there are several.
fn run_grid<K: MicroKernel>(call: &Call, pl: TaskGrid, threads: usize) {
    let (p, ks) = (call.p, call.ks);
    let (rt, ct) = (div_up(p.m, K::MR), call.ct);
    let ntasks = pl.tm * pl.tn;
    let run_tasks = |shared: Option<(&SharedB, Option<&SharedB>)>| {
        let task = |t: usize| {
            let (i, j) = (t / pl.tn, t % pl.tn);
            let (r0, r1) = split_range(rt, pl.tm, i);
            let (s0, s1) = split_range(ct, pl.tn, j);
            let rows = (r0 * K::MR, (r1 * K::MR).min(p.m));
            let cols = (s0 * K::NR, (s1 * K::NR).min(p.n));
            let bsrc = match shared {
                Some((b, gate)) => BSource::Shared { b, gate, part: j },
                None => BSource::Own,
            };
            // SAFETY: the task rectangles partition C's m x n area (which `check_contract`
            // verified to lie inside `c`), so each task has its rectangle (and its tiles of the
            // gate scratch) to itself; the instruction set of `K` was checked by `sgemm_with`.
            unsafe { run_task::<K>(call, rows, cols, bsrc) };
        };
        if ntasks == 1 {
            task(0);
        } else {
            run_parallel(ntasks, threads, &task);
        }
    };

    if pl.tm > 1 {
        // Several rows of tasks use the same columns of B: pack it once, shared (and the
        // gate's B beside it).
        let len = p.k * ct * K::NR;
        let operands = 1 + usize::from(call.gate.is_some());
        with_buffer(&B_SHARED, operands * len, |buf| {
            let (bbuf, gbuf) = buf.split_at_mut(len);
            let shared = SharedB::new::<K>(bbuf, p, ks, pl);
            let gate = call.gate.map(|_| SharedB::new::<K>(gbuf, p, ks, pl));
            run_tasks(Some((&shared, gate.as_ref())));
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
    fn new<K: MicroKernel>(buf: &mut [f32], p: &Problem, ks: KSplit, pl: TaskGrid) -> SharedB {
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
    /// Shared, for column part `part` (and the gate's B, for a gated call).
    Shared {
        b: &'a SharedB,
        gate: Option<&'a SharedB>,
        part: usize,
    },
}

/// Packed slivers of B and, for a gated call, the same slivers of the gate's B (same layout).
#[derive(Clone, Copy)]
struct Panels<'a> {
    b: &'a [f32],
    gate: Option<&'a [f32]>,
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

/// Packs slivers `g0..g1` of K block `p0..p0+kcb` of B into `bown` and, for a gated call, of
/// the gate's B into `gown`.
#[allow(clippy::too_many_arguments)]
fn pack_own<K: MicroKernel>(
    call: &Call,
    g0: usize,
    g1: usize,
    p0: usize,
    kcb: usize,
    bown: &mut [f32],
    gown: &mut [f32],
) {
    K::pack_b(call.p, g0, g1, p0, kcb, bown);
    if let Some(gp) = &call.gate {
        K::pack_b(gp, g0, g1, p0, kcb, gown);
    }
}

/// Computes the rectangle `rows x cols` of C over all K blocks.
///
/// # Safety
/// The rectangle (and its tiles of the gate scratch) lies inside C (`call.c` with `p.ldc`) and
/// no other thread accesses it meanwhile; the CPU supports `K`'s instruction set. `cols.0` is
/// a multiple of `NR`, `rows.0` of `MR`.
unsafe fn run_task<K: MicroKernel>(
    call: &Call,
    rows: (usize, usize),
    cols: (usize, usize),
    bsrc: BSource,
) {
    let (p, ks) = (call.p, call.ks);
    let (mr, nr) = (K::MR, K::NR);
    let (s0, s1) = (cols.0 / nr, div_up(cols.1, nr));
    // Balanced M blocks of whole MR panels: `nmb` blocks, the first `extra` one panel taller.
    let tiles = div_up(rows.1 - rows.0, mr);
    let nmb = div_up(tiles, call.mc / mr);
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
        BSource::Shared { .. } => 0,
    };
    let operands = 1 + usize::from(call.gate.is_some());
    with_buffer(&A_BUF, mc * ks.kcb, |abuf| {
        with_buffer(&B_BUF, operands * own_b_len, |own| {
            let (bown, gown) = own.split_at_mut(own_b_len);
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
                        BSource::Shared { b, gate, part } => {
                            let panels = Panels {
                                b: b.panel::<K>(p, ks, kb, part),
                                gate: gate
                                    .zip(call.gate.as_ref())
                                    .map(|(g, gp)| g.panel::<K>(gp, ks, kb, part)),
                            };
                            unsafe { macro_kernel::<K>(call, &blk, abuf, m_rows, panels, s0, s1) };
                        }
                        BSource::Own if !single_m_block => {
                            // Pack this K block's panel once, for all M blocks.
                            if ic == rows.0 {
                                pack_own::<K>(call, s0, s1, p0, kcb, bown, gown);
                            }
                            let panels = Panels {
                                b: bown,
                                gate: call.gate.map(|_| &*gown),
                            };
                            unsafe { macro_kernel::<K>(call, &blk, abuf, m_rows, panels, s0, s1) };
                        }
                        BSource::Own => {
                            let mut g0 = s0;
                            while g0 < s1 {
                                let g1 = (g0 + own_slivers).min(s1);
                                pack_own::<K>(call, g0, g1, p0, kcb, bown, gown);
                                let panels = Panels {
                                    b: bown,
                                    gate: call.gate.map(|_| &*gown),
                                };
                                unsafe {
                                    macro_kernel::<K>(call, &blk, abuf, m_rows, panels, g0, g1)
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
/// at `panels.b[(s-g0)*kcb*NR..]`), B sliver outer, A panel inner. For a gated call each A
/// panel meets the gate's sliver first: its tile (activated on the last K block) goes to a
/// stack buffer, or to the gate scratch when there are several K blocks, and the product's
/// tile then multiplies by it as it is stored.
///
/// # Safety
/// As for [`run_task`]; `m_rows` x the columns of slivers `g0..g1` lie in the task's rectangle.
unsafe fn macro_kernel<K: MicroKernel>(
    call: &Call,
    blk: &Block,
    abuf: &[f32],
    m_rows: (usize, usize),
    panels: Panels,
    g0: usize,
    g1: usize,
) {
    let p = call.p;
    let (mr, nr, kcb) = (K::MR, K::NR, blk.kcb);
    let npanels = div_up(m_rows.1 - m_rows.0, mr);
    let gate = panels.gate.zip(p.gate);
    // The activated gate tile of a gated call with one K block (MR rows, NR apart). Left
    // uninitialised (plain calls never touch it): with one K block the gate's tile is stored
    // in full (no accumulation) before the product's store phase reads it.
    let mut gate_tile = std::mem::MaybeUninit::<[f32; MAX_TILE]>::uninit();
    for s in g0..g1 {
        let off = (s - g0) * kcb * nr;
        let bsl = &panels.b[off..][..kcb * nr];
        let j0 = s * nr;
        let ncols = nr.min(p.n - j0);
        let bias_col = match p.epi.bias {
            Bias::PerCol(b) if blk.last => b[j0..].as_ptr(),
            _ => std::ptr::null(),
        };
        for i in 0..npanels {
            let i0 = m_rows.0 + i * mr;
            let nrows = mr.min(m_rows.1 - i0);
            let pa = &abuf[i * kcb * mr..][..kcb * mr];
            let bias_row = match p.epi.bias {
                Bias::PerRow(b) if blk.last => b[i0..].as_ptr(),
                _ => std::ptr::null(),
            };
            let (residual, ldr) = match p.epi.residual {
                Some(r) if blk.last => (r.values[i0 * r.ld + j0..].as_ptr(), r.ld),
                _ => (std::ptr::null(), 0),
            };
            // While the A panels stream past this B sliver, the kernel pulls the next sliver
            // (contiguous after this one) into L2: panel i prefetches its i-th part.
            let ahead = kcb * nr + i * (kcb / 8) * 32;
            let mut mul = std::ptr::null();
            if let Some((gpanel, g)) = gate {
                let gsl = &gpanel[off..][..kcb * nr];
                let gt = match call.gate_acc {
                    // SAFETY: tile `(i0/MR, s)` of the scratch's `rt x ct` tiles (`i0` is a
                    // multiple of MR below m, `s < ct`), which only this task touches.
                    Some(acc) => unsafe { acc.0.add(((i0 / mr) * call.ct + s) * mr * nr) },
                    None => gate_tile.as_mut_ptr().cast::<f32>(),
                };
                let gepi = TileEpi {
                    act: g.act,
                    prefetch: gsl.as_ptr().wrapping_add(ahead),
                    ..TileEpi::plain(blk.first, blk.last)
                };
                // SAFETY: `gt` is a full MR x NR tile at stride NR (stack buffer or scratch
                // tile), only read where written before (the stack tile has a single K block,
                // so no accumulation; scratch tiles are stored on the first K block); the
                // panels are `kcb*MR` / `kcb*NR` long and aligned as below.
                unsafe { K::tile(kcb, pa.as_ptr(), gsl.as_ptr(), gt, nr, &gepi) };
                if blk.last {
                    mul = gt.cast_const();
                }
            }
            let epi = TileEpi {
                load_c: !blk.first,
                apply: blk.last,
                alpha: p.epi.alpha,
                bias_row,
                bias_col,
                residual,
                ldr,
                mul,
                ldm: nr,
                act: p.epi.activation,
                prefetch: bsl.as_ptr().wrapping_add(ahead),
            };
            // SAFETY: `i0 < m` and `j0 < n`, so the offset is inside C.
            let ct = unsafe { call.c.0.add(i0 * p.ldc + j0) };
            // SAFETY: the `nrows x ncols` tile at `ct` is inside this task's rectangle of C;
            // bias pointers cover `nrows` / `ncols` values and the residual `nrows` rows of
            // `ncols` (lengths checked by `check_contract`), mul a full tile; the panels are
            // `kcb*MR` / `kcb*NR` long, and B slivers start at multiples of `NR` floats in
            // 64-byte aligned buffers, hence are 64-byte aligned for NR = 32 and 32-byte
            // aligned for NR = 16 (the SIMD kernels' requirements).
            unsafe { tile_at::<K>(kcb, pa, bsl, ct, p.ldc, nrows, ncols, &epi) };
        }
    }
}

/// Runs the microkernel on a possibly partial tile (`nrows <= MR`, `ncols <= NR`).
///
/// # Safety
/// `c` is valid for reads and writes of `nrows` rows of `ncols` elements at stride `ldc`;
/// non-null bias pointers are valid for `nrows` resp. `ncols` reads, non-null residual and mul
/// pointers for `nrows` rows of `ncols` reads at their strides; `b` is aligned and the CPU
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
    // part of C, of the biases, of the residual and of mul).
    if unsafe { K::tile_partial(kc, a.as_ptr(), b.as_ptr(), c, ldc, nrows, ncols, epi) } {
        return;
    }
    // Partial tile: stage C, the biases, the residual and mul through padded stack buffers.
    assert!(K::MR * K::NR <= MAX_TILE && K::MR <= 16 && K::NR <= 64);
    let nr = K::NR;
    let mut tmp = [0.0f32; MAX_TILE];
    let mut brow = [0.0f32; 16];
    let mut bcol = [0.0f32; 64];
    // Zeroed only when used, so plain products' edge tiles pay nothing for them.
    let mut rtmp: [f32; MAX_TILE];
    let mut mtmp: [f32; MAX_TILE];
    /// Copies `rows x cols` at stride `ld` into `dst` at stride `nr`.
    ///
    /// # Safety
    /// `src` is valid for `rows` rows of `cols` reads at stride `ld`.
    unsafe fn stage(
        src: *const f32,
        ld: usize,
        (rows, cols): (usize, usize),
        nr: usize,
        dst: &mut [f32],
    ) {
        for r in 0..rows {
            // SAFETY: row `r < rows` of the source (the function's contract).
            let row = unsafe { std::slice::from_raw_parts(src.add(r * ld), cols) };
            dst[r * nr..r * nr + cols].copy_from_slice(row);
        }
    }
    let extent = (nrows, ncols);
    // SAFETY (all `stage` calls): C, the residual and mul are valid for the partial tile's
    // `nrows x ncols` at their strides (this function's contract).
    if epi.load_c {
        unsafe { stage(c, ldc, extent, nr, &mut tmp) };
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
    if !epi.residual.is_null() {
        rtmp = [0.0; MAX_TILE];
        unsafe { stage(epi.residual, epi.ldr, extent, nr, &mut rtmp) };
        (e.residual, e.ldr) = (rtmp.as_ptr(), nr);
    }
    if !epi.mul.is_null() {
        mtmp = [0.0; MAX_TILE];
        unsafe { stage(epi.mul, epi.ldm, extent, nr, &mut mtmp) };
        (e.mul, e.ldm) = (mtmp.as_ptr(), nr);
    }
    // SAFETY: `tmp` holds MR rows of NR at stride NR; biases are padded to MR / NR values, the
    // residual and mul to MR rows of NR.
    unsafe { K::tile(kc, a.as_ptr(), b.as_ptr(), tmp.as_mut_ptr(), nr, &e) };
    for r in 0..nrows {
        // SAFETY: row `r < nrows` of the partial tile.
        let dst = unsafe { std::slice::from_raw_parts_mut(c.add(r * ldc), ncols) };
        dst.copy_from_slice(&tmp[r * nr..r * nr + ncols]);
    }
}
