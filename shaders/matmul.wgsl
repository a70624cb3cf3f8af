// matmul.wgsl: f32 GEMM with a fused epilogue, used by the matmul calibration, the Linear
// family and both matmuls of attention. Mirrors src/backend/cpu/linear.rs.
//
//   C[z] = act(SCALE · A[z]·op(B[z]) + bias)       z = workgroup_id.z (batch)
//
// A is M×K row-major; B is K×N row-major, or N×K row-major when TRANS_B (Q·Kᵀ). Each
// workgroup of 16×16 threads computes a 64×64 block of C, stepping through K 16 at a time
// with both operand tiles staged in workgroup memory; each thread accumulates a 4×4
// micro-tile in registers (rows ty + 16·i, columns tx + 16·j, so global loads and stores are
// coalesced and workgroup-memory reads are conflict-free). Edges are zero-padded on load and
// masked on store, so any M, N, K works.

// B is stored transposed (N×K).
override TRANS_B: bool = false;
// 0 = no bias, 1 = bias per column (Linear).
override BIAS: u32 = 0u;
// Multiplies the product before bias and activation (1/sqrt(D) for attention scores).
override SCALE: f32 = 1.0;

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
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

const TILE: u32 = 64u;
const BK: u32 = 16u;
// Row stride of the staged tiles: one more than TILE, so the transposing stores of a
// 16-wide k-strip hit distinct workgroup-memory banks.
const LD: u32 = 65u;

// [BK][LD]: a_tile[kk * LD + row], b_tile[kk * LD + col].
var<workgroup> a_tile: array<f32, 1040>;
var<workgroup> b_tile: array<f32, 1040>;

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
        // A tile (64 rows × 16 k): consecutive threads read consecutive k of a row.
        for (var s = 0u; s < 4u; s++) {
            let e = li + 256u * s;
            let r = e / BK;
            let kk = e % BK;
            let gr = row0 + r;
            let gk = k0 + kk;
            var v = 0.0;
            if (gr < p.m && gk < p.k) {
                v = a[a_off + gr * p.k + gk];
            }
            a_tile[kk * LD + r] = v;
        }
        // B tile (16 k × 64 columns), read along its contiguous dimension.
        for (var s = 0u; s < 4u; s++) {
            let e = li + 256u * s;
            var kk: u32;
            var n: u32;
            if (TRANS_B) {
                n = e / BK;
                kk = e % BK;
            } else {
                kk = e / TILE;
                n = e % TILE;
            }
            let gk = k0 + kk;
            let gn = col0 + n;
            var v = 0.0;
            if (gk < p.k && gn < p.n) {
                if (TRANS_B) {
                    v = b[b_off + gn * p.k + gk];
                } else {
                    v = b[b_off + gk * p.n + gn];
                }
            }
            b_tile[kk * LD + n] = v;
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

    // Epilogue: scale, bias and activation in registers, then one store.
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
            var v = acc[i][j] * SCALE;
            if (BIAS == 1u) {
                v += bias[col];
            }
            c[c_off + r * p.n + col] = activate(v);
        }
    }
}
