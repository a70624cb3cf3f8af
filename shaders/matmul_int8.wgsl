// matmul_int8.wgsl: C = A·B with int8 operands packed four per u32 along k, dot4I8Packed into
// exact i32 sums (Accumulate::I32). Tiled like matmul.wgsl (with B transposed); see
// src/backend/gpu/precision_matmul.rs.
//
// The host packs both operands along k before the upload: A row-major as quads
// (ap[r * k4 + q] holds A[r][4q..4q+4], byte j = element 4q + j), B transposed into quads
// along k (bp[col * k4 + q] holds B[4q..4q+4][col]); k4 = ceil(n / 4), the missing elements
// of the last quad are zeros. Each workgroup of 16×16 threads computes a 64×64 block of C,
// stepping through the quads 16 (64 values of k) at a time with both tiles staged in
// workgroup memory; each thread accumulates a 4×4 micro-tile of i32 sums. Edges are
// zero-padded on load and masked on store, so any n works.

requires packed_4x8_integer_dot_product;

struct Params {
    n: u32,
    // Quads per row of the packed operands.
    k4: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ap: array<u32>;
@group(0) @binding(2) var<storage, read> bp: array<u32>;
@group(0) @binding(3) var<storage, read_write> c: array<i32>;

const TILE: u32 = 64u;
// Quads per k-step.
const BQ: u32 = 16u;
const LD: u32 = 65u;

// [BQ][LD]: a_tile[q * LD + row], b_tile[q * LD + col].
var<workgroup> a_tile: array<u32, 1040>;
var<workgroup> b_tile: array<u32, 1040>;

@compute @workgroup_size(16, 16)
fn matmul_int8(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let n = p.n;
    let k4 = p.k4;
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;

    var acc: array<array<i32, 4>, 4>;
    for (var q0 = 0u; q0 < k4; q0 += BQ) {
        // 1024 quads per tile, 4 per thread, consecutive threads on consecutive quads of a
        // row (of A, and of B transposed).
        for (var s = 0u; s < 4u; s++) {
            let e = li + 256u * s;
            let rc = e / BQ;
            let q = q0 + e % BQ;
            var av = 0u;
            var bv = 0u;
            if (q < k4) {
                if (row0 + rc < n) {
                    av = ap[(row0 + rc) * k4 + q];
                }
                if (col0 + rc < n) {
                    bv = bp[(col0 + rc) * k4 + q];
                }
            }
            a_tile[(e % BQ) * LD + rc] = av;
            b_tile[(e % BQ) * LD + rc] = bv;
        }
        workgroupBarrier();
        for (var qq = 0u; qq < BQ; qq++) {
            var av: array<u32, 4>;
            var bv: array<u32, 4>;
            for (var i = 0u; i < 4u; i++) {
                av[i] = a_tile[qq * LD + lid.y + 16u * i];
                bv[i] = b_tile[qq * LD + lid.x + 16u * i];
            }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i][j] = dot4I8Packed(av[i], bv[j]) + acc[i][j];
                }
            }
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < 4u; i++) {
        let r = row0 + lid.y + 16u * i;
        if (r >= n) {
            continue;
        }
        for (var j = 0u; j < 4u; j++) {
            let col = col0 + lid.x + 16u * j;
            if (col < n) {
                c[r * n + col] = acc[i][j];
            }
        }
    }
}
