//! bf16 and int8 GEMM on Intel AMX tiles: `C = A·B` with `n×n` row-major operands, bf16
//! products summed in f32 (`tdpbf16ps`) or u8×s8 products summed exactly in i32 (`tdpbusd`).
//!
//! The structure of the packed f32 GEMM ([`crate::backend::cpu::gemm`]), at tile size:
//! - **A** is packed into 16-row tiles of 64 bytes per row (32 bf16 or 64 int8 along k),
//!   tile `(i, t)` at `i·KT + t`, zero-padded at the edges;
//! - **B** is packed into the tiles' "VNNI" layout: tile `(j, t)` holds 16 columns, its row `r`
//!   the `g = 2` (bf16) or `4` (int8) consecutive k of group `r` for each column side by side,
//!   which is the layout the dot-product instructions multiply a row of A with;
//! - the microkernel holds a 32×32 block of C in four accumulator tiles (`tmm0..3`), loads two
//!   A tiles and two B tiles per k step (`tmm4..7`) and issues four tile products, so every
//!   loaded tile is used twice; the block is stored once, after the whole k loop;
//! - rows of 32 are spread over the workers; each configures its tiles, runs its row of
//!   blocks, and releases them.
//!
//! Packing both operands is part of every run, as it is for the f32 GEMM.

use crate::{Error, Result};
use rayon::prelude::*;

/// Element type of a tile GEMM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TileKind {
    /// bf16 operands, f32 sums (`tdpbf16ps`).
    Bf16,
    /// u8 × s8 operands, i32 sums (`tdpbusd`).
    Int8,
}

impl TileKind {
    fn element_bytes(self) -> usize {
        match self {
            TileKind::Bf16 => 2,
            TileKind::Int8 => 1,
        }
    }

    /// k values one tile row holds.
    fn k_per_tile(self) -> usize {
        64 / self.element_bytes()
    }

    /// Consecutive k values a B tile row interleaves per column.
    fn group(self) -> usize {
        4 / self.element_bytes()
    }
}

/// One tile: 16 rows of 64 bytes, aligned for the tile loads.
#[repr(C, align(64))]
#[derive(Clone)]
struct Tile([u8; 1024]);

/// C rows a block covers (two tiles).
const BLOCK: usize = 32;

/// Row blocks a task runs against each column block (see `multiply`).
const ROW_BLOCKS: usize = 4;

/// A prepared tile GEMM: the packing buffers, reused by every run.
pub struct TileGemm {
    kind: TileKind,
    n: usize,
    /// k tiles.
    kt: usize,
    /// Row (and column) blocks of 32.
    blocks: usize,
    a: Vec<Tile>,
    b: Vec<Tile>,
}

impl TileGemm {
    /// Buffers for an `n×n` product of `kind`; an error when they would not fit.
    pub fn new(kind: TileKind, n: usize) -> Result<Self> {
        let too_big =
            || Error::DeviceLimit(format!("tile GEMM {n}×{n}: the packed operands overflow"));
        let kt = n.div_ceil(kind.k_per_tile());
        let blocks = n.div_ceil(BLOCK);
        let tiles = (2 * blocks).checked_mul(kt).ok_or_else(too_big)?;
        tiles.checked_mul(1024).ok_or_else(too_big)?;
        Ok(TileGemm {
            kind,
            n,
            kt,
            blocks,
            a: vec![Tile([0; 1024]); tiles],
            b: vec![Tile([0; 1024]); tiles],
        })
    }

    /// `C = A·B` with `a` and `b` the row-major operands' bytes (bf16 as little-endian bits)
    /// and `c` the `n×n` output as raw 32-bit values (f32 or i32 bits).
    ///
    /// # Safety
    /// The CPU must have the tile unit for `kind` and the process the permission to use it
    /// ([`crate::backend::cpu::amx::support`]).
    pub unsafe fn multiply(&mut self, a: &[u8], b: &[u8], c: &mut [u32]) {
        let (n, kind, kt) = (self.n, self.kind, self.kt);
        let e = kind.element_bytes();
        debug_assert!(a.len() == n * n * e && b.len() == n * n * e && c.len() == n * n);
        let kpt = kind.k_per_tile();
        // A: tile (i, t), row r = A[16i + r][t·kpt ..].
        self.a
            .par_chunks_mut(self.kt)
            .enumerate()
            .for_each(|(i, row_tiles)| {
                for (t, tile) in row_tiles.iter_mut().enumerate() {
                    let k0 = t * kpt;
                    let len = (n.saturating_sub(k0)).min(kpt) * e;
                    for r in 0..16 {
                        let dst = &mut tile.0[r * 64..(r + 1) * 64];
                        let row = i * 16 + r;
                        if row < n {
                            let at = (row * n + k0) * e;
                            dst[..len].copy_from_slice(&a[at..at + len]);
                            dst[len..].fill(0);
                        } else {
                            dst.fill(0);
                        }
                    }
                }
            });
        // B: tile (j, t) at t·JT + j; its row r, column c holds the `group` values
        // B[t·kpt + r·group + g][16j + c] as one 32-bit word. Laid out by k tile, so each
        // worker packs whole k tiles reading B's rows in order.
        let group = kind.group();
        let jt = 2 * self.blocks;
        self.b
            .par_chunks_mut(jt)
            .enumerate()
            .for_each(|(t, k_tiles)| {
                for tile in k_tiles.iter_mut() {
                    tile.0.fill(0);
                }
                for r in 0..16 {
                    let k0 = t * kpt + r * group;
                    if k0 >= n {
                        break;
                    }
                    let row = |g: usize| {
                        let k = k0 + g;
                        (k < n).then(|| &b[k * n * e..(k + 1) * n * e])
                    };
                    match kind {
                        TileKind::Bf16 => {
                            let (r0, r1) = (row(0), row(1));
                            for (j, tile) in k_tiles.iter_mut().enumerate() {
                                let c0 = j * 16;
                                let cols = n.saturating_sub(c0).min(16);
                                let dst = &mut tile.0[r * 64..r * 64 + 4 * cols];
                                for (c, word) in dst.chunks_exact_mut(4).enumerate() {
                                    let at = (c0 + c) * 2;
                                    if let Some(r0) = r0 {
                                        word[..2].copy_from_slice(&r0[at..at + 2]);
                                    }
                                    if let Some(r1) = r1 {
                                        word[2..].copy_from_slice(&r1[at..at + 2]);
                                    }
                                }
                            }
                        }
                        TileKind::Int8 => {
                            let rows = [row(0), row(1), row(2), row(3)];
                            for (j, tile) in k_tiles.iter_mut().enumerate() {
                                let c0 = j * 16;
                                let cols = n.saturating_sub(c0).min(16);
                                let dst = &mut tile.0[r * 64..r * 64 + 4 * cols];
                                for (c, word) in dst.chunks_exact_mut(4).enumerate() {
                                    for (g, src) in rows.iter().enumerate() {
                                        if let Some(src) = src {
                                            word[g] = src[c0 + c];
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            });
        // Each task takes ROW_BLOCKS blocks of rows and, for every column block, runs them
        // one after the other: the column block's B tiles come from L3 once and are reused
        // from L2 by the others, while the task's A tiles stay in L2.
        let (a_tiles, b_tiles, blocks) = (&self.a, &self.b, self.blocks);
        let b_stride = jt * 1024;
        c.par_chunks_mut(ROW_BLOCKS * BLOCK * n)
            .enumerate()
            .for_each(|(task, c_rows)| {
                let mut scratch = Scratch([0; BLOCK * BLOCK]);
                // SAFETY: the caller guarantees the tile unit and its permission.
                unsafe { configure() };
                let task_blocks = c_rows.len().div_ceil(BLOCK * n);
                for jb in 0..blocks {
                    for local in 0..task_blocks {
                        let ib = task * ROW_BLOCKS + local;
                        // Tile rows 2ib and 2ib+1 exist: A holds 2·blocks tile rows, and
                        // every k tile of B holds 2·blocks column tiles.
                        let a0 = &a_tiles[(2 * ib) * kt..];
                        let a1 = &a_tiles[(2 * ib + 1) * kt..];
                        let b0 = &b_tiles[2 * jb..];
                        let b1 = &b_tiles[2 * jb + 1..];
                        debug_assert!(a1.len() >= kt && b1.len() > (kt - 1) * jt);
                        // SAFETY: each A slice holds `kt` consecutive tiles and each B slice
                        // `kt` tiles `jt` apart (checked above); the scratch holds 32×32
                        // values; tiles are configured.
                        unsafe {
                            block(
                                kind,
                                kt,
                                a0.as_ptr(),
                                a1.as_ptr(),
                                b0.as_ptr(),
                                b1.as_ptr(),
                                b_stride,
                                &mut scratch,
                            )
                        };
                        let cols = n.saturating_sub(jb * BLOCK).min(BLOCK);
                        let first = local * BLOCK;
                        let rows = (c_rows.len() / n).saturating_sub(first).min(BLOCK);
                        for r in 0..rows {
                            let at = (first + r) * n + jb * BLOCK;
                            c_rows[at..at + cols]
                                .copy_from_slice(&scratch.0[r * BLOCK..r * BLOCK + cols]);
                        }
                    }
                }
                // SAFETY: tiles were configured on this thread above.
                unsafe { release() };
            });
    }
}

/// A 32×32 block of C as stored from the four accumulator tiles.
#[repr(C, align(64))]
struct Scratch([u32; BLOCK * BLOCK]);

/// Loads the tile configuration on the calling thread.
///
/// # Safety
/// AMX and its permission must be present.
#[cfg(target_arch = "x86_64")]
unsafe fn configure() {
    let c = crate::backend::cpu::amx::TileConfig::full();
    // SAFETY: the caller guarantees AMX; the configuration is a valid palette-1 layout.
    unsafe { std::arch::asm!("ldtilecfg [{0}]", in(reg) c.0.as_ptr(), options(nostack)) };
}

/// Releases the tiles of the calling thread.
///
/// # Safety
/// AMX must be present.
#[cfg(target_arch = "x86_64")]
unsafe fn release() {
    // SAFETY: the caller guarantees AMX.
    unsafe { std::arch::asm!("tilerelease", options(nostack, nomem)) };
}

/// One 32×32 block: `kt` k steps of two A tiles by two B tiles.
///
/// # Safety
/// Tiles configured; each A pointer to `kt` consecutive tiles, each B pointer to `kt` tiles
/// `b_stride` bytes apart.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
unsafe fn block(
    kind: TileKind,
    kt: usize,
    a0: *const Tile,
    a1: *const Tile,
    b0: *const Tile,
    b1: *const Tile,
    b_stride: usize,
    out: &mut Scratch,
) {
    macro_rules! tile_block {
        ($dp:literal) => {
            // SAFETY: as the function's contract says; the loop reads `kt` tiles from each
            // operand and writes the 4 KiB scratch with a 128-byte row stride.
            unsafe {
                std::arch::asm!(
                    "tilezero tmm0",
                    "tilezero tmm1",
                    "tilezero tmm2",
                    "tilezero tmm3",
                    "2:",
                    "tileloadd tmm4, [{a0} + {s} * 1]",
                    "tileloadd tmm5, [{a1} + {s} * 1]",
                    "tileloadd tmm6, [{b0} + {s} * 1]",
                    "tileloadd tmm7, [{b1} + {s} * 1]",
                    concat!($dp, " tmm0, tmm4, tmm6"),
                    concat!($dp, " tmm1, tmm4, tmm7"),
                    concat!($dp, " tmm2, tmm5, tmm6"),
                    concat!($dp, " tmm3, tmm5, tmm7"),
                    "add {a0}, 1024",
                    "add {a1}, 1024",
                    "add {b0}, {bs}",
                    "add {b1}, {bs}",
                    "dec {k}",
                    "jnz 2b",
                    "tilestored [{c} + {cs} * 1], tmm0",
                    "tilestored [{c} + {cs} * 1 + 64], tmm1",
                    "add {c}, 2048",
                    "tilestored [{c} + {cs} * 1], tmm2",
                    "tilestored [{c} + {cs} * 1 + 64], tmm3",
                    a0 = inout(reg) a0 => _,
                    a1 = inout(reg) a1 => _,
                    b0 = inout(reg) b0 => _,
                    b1 = inout(reg) b1 => _,
                    k = inout(reg) kt => _,
                    c = inout(reg) out.0.as_mut_ptr() => _,
                    bs = in(reg) b_stride,
                    s = in(reg) 64usize,
                    cs = in(reg) 128usize,
                    options(nostack),
                )
            }
        };
    }
    match kind {
        TileKind::Bf16 => tile_block!("tdpbf16ps"),
        TileKind::Int8 => tile_block!("tdpbusd"),
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn configure() {}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn release() {}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn block(
    _: TileKind,
    _: usize,
    _: *const Tile,
    _: *const Tile,
    _: *const Tile,
    _: *const Tile,
    _: &mut Scratch,
) {
}
