// matmul.wgsl: f32 GEMM with a fused epilogue, used by the matmul calibration, the Linear
// family and both matmuls of attention. Mirrors src/backend/cpu/linear.rs.
//
//   matmul   C[z] = act(SCALE · A[z]·op(B[z]) + bias + R)       z = workgroup_id.z (batch)
//   swiglu   C = silu(A·B) ⊙ (A·U)                              (Linear_SwiGLU, U = W_up)
//
// A is M×K row-major; B is K×N row-major, or N×K row-major when TRANS_B (Q·Kᵀ). Each
// workgroup of 16×16 threads computes a 64×64 block of C, stepping through K 16 at a time
// with the operand tiles staged in workgroup memory; each thread accumulates a 4×4
// micro-tile in registers (rows ty + 16·i, columns tx + 16·j, so global loads and stores are
// coalesced and workgroup-memory reads are conflict-free). Edges are zero-padded on load and
// masked on store, so any M, N, K works. swiglu stages the A tile once for both products and
// keeps two 4×4 accumulators per thread, so x is read once and neither product reaches
// memory: only silu(gate)·up is stored.

// B is stored transposed (N×K).
override TRANS_B: bool = false;
// 0 = no bias, 1 = bias per column (Linear).
override BIAS: u32 = 0u;
// Multiplies the product before bias and activation (1/sqrt(D) for attention scores).
override SCALE: f32 = 1.0;
// Add aux[r][col] (an M×N residual) before the activation (Linear_Bias_Add).
override RESIDUAL: bool = false;

struct Params {
    m: u32,
    n: u32,
    k: u32,
    // Elements between consecutive batch entries of A, B and C.
    stride_a: u32,
    stride_b: u32,
    stride_c: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
// The second operand of the epilogue: matmul's residual R (M×N, RESIDUAL), swiglu's up
// projection U (K×N).
@group(0) @binding(4) var<storage, read> aux: array<f32>;
@group(0) @binding(5) var<storage, read_write> c: array<f32>;

const TILE: u32 = 64u;
const BK: u32 = 16u;
// Row stride of the staged tiles: one more than TILE, so the transposing stores of a
// 16-wide k-strip hit distinct workgroup-memory banks.
const LD: u32 = 65u;

// [BK][LD]: a_tile[kk * LD + row], b_tile[kk * LD + col]; u_tile (swiglu's U) as b_tile.
var<workgroup> a_tile: array<f32, 1040>;
var<workgroup> b_tile: array<f32, 1040>;
var<workgroup> u_tile: array<f32, 1040>;

// Element e (of 256·s + li) of the A tile at k0: (row, kk) with consecutive threads on
// consecutive k of a row, and its value (0 past the edges).
fn a_value(e: u32, row0: u32, k0: u32, a_off: u32) -> f32 {
    let gr = row0 + e / BK;
    let gk = k0 + e % BK;
    if (gr < p.m && gk < p.k) {
        return a[a_off + gr * p.k + gk];
    }
    return 0.0;
}

// Where element e of a B tile goes, (kk, column), read along B's contiguous dimension.
fn b_coords(e: u32) -> vec2<u32> {
    if (TRANS_B) {
        return vec2<u32>(e % BK, e / BK);
    }
    return vec2<u32>(e / TILE, e % TILE);
}

// B[k][n] (of op(B)), 0 past the edges.
fn b_value(gk: u32, gn: u32, b_off: u32) -> f32 {
    if (gk >= p.k || gn >= p.n) {
        return 0.0;
    }
    if (TRANS_B) {
        return b[b_off + gn * p.k + gk];
    }
    return b[b_off + gk * p.n + gn];
}

@compute @workgroup_size(16, 16)
fn matmul(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    let a_off = wid.z * p.stride_a;
    let b_off = wid.z * p.stride_b;
    let c_off = wid.z * p.stride_c;

    var acc: array<array<f32, 4>, 4>;
    for (var k0 = 0u; k0 < p.k; k0 += BK) {
        for (var s = 0u; s < 4u; s++) {
            let e = li + 256u * s;
            a_tile[(e % BK) * LD + e / BK] = a_value(e, row0, k0, a_off);
            let kn = b_coords(e);
            b_tile[kn.x * LD + kn.y] = b_value(k0 + kn.x, col0 + kn.y, b_off);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            var av: array<f32, 4>;
            var bv: array<f32, 4>;
            for (var i = 0u; i < 4u; i++) {
                av[i] = a_tile[kk * LD + lid.y + 16u * i];
                bv[i] = b_tile[kk * LD + lid.x + 16u * i];
            }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i][j] = fma(av[i], bv[j], acc[i][j]);
                }
            }
        }
        workgroupBarrier();
    }

    // Epilogue: scale, bias, residual and activation in registers, then one store.
    for (var i = 0u; i < 4u; i++) {
        let r = row0 + lid.y + 16u * i;
        if (r >= p.m) {
            continue;
        }
        for (var j = 0u; j < 4u; j++) {
            let col = col0 + lid.x + 16u * j;
            if (col >= p.n) {
                continue;
            }
            let idx = c_off + r * p.n + col;
            var v = acc[i][j] * SCALE;
            if (BIAS == 1u) {
                v += bias[col];
            }
            if (RESIDUAL) {
                v += aux[idx];
            }
            c[idx] = activate(v);
        }
    }
}

// silu(x·W_gate) ⊙ (x·W_up), both K×N (no batch, no transpose): the gate and the up tile
// of the same 64×64 block from one staged x tile.
@compute @workgroup_size(16, 16)
fn swiglu(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;

    var gate: array<array<f32, 4>, 4>;
    var up: array<array<f32, 4>, 4>;
    for (var k0 = 0u; k0 < p.k; k0 += BK) {
        for (var s = 0u; s < 4u; s++) {
            let e = li + 256u * s;
            a_tile[(e % BK) * LD + e / BK] = a_value(e, row0, k0, 0u);
            let kk = e / TILE;
            let n = e % TILE;
            let gk = k0 + kk;
            let gn = col0 + n;
            var g = 0.0;
            var u = 0.0;
            if (gk < p.k && gn < p.n) {
                g = b[gk * p.n + gn];
                u = aux[gk * p.n + gn];
            }
            b_tile[kk * LD + n] = g;
            u_tile[kk * LD + n] = u;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            var av: array<f32, 4>;
            var gv: array<f32, 4>;
            var uv: array<f32, 4>;
            for (var i = 0u; i < 4u; i++) {
                av[i] = a_tile[kk * LD + lid.y + 16u * i];
                gv[i] = b_tile[kk * LD + lid.x + 16u * i];
                uv[i] = u_tile[kk * LD + lid.x + 16u * i];
            }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    gate[i][j] = fma(av[i], gv[j], gate[i][j]);
                    up[i][j] = fma(av[i], uv[j], up[i][j]);
                }
            }
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < 4u; i++) {
        let r = row0 + lid.y + 16u * i;
        if (r >= p.m) {
            continue;
        }
        for (var j = 0u; j < 4u; j++) {
            let col = col0 + lid.x + 16u * j;
            if (col < p.n) {
                c[r * p.n + col] = activate(gate[i][j]) * up[i][j];
            }
        }
    }
}
