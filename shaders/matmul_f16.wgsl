// matmul_f16.wgsl: C = A·B with f16 operands, f32 output (Accumulate::F16Chunks { chunk: 32 }).
// Tiled like matmul.wgsl; see src/backend/gpu/precision_matmul.rs.
//
// A and B are n×n row-major f16 (array<f16> storage: SHADER_F16 gives 16-bit storage access).
// Each workgroup of 16×16 threads computes a 64×64 block of C, stepping through k BK = 32 at
// a time with the operand tiles staged in workgroup memory (f16); each thread sums the 32
// products of a k-step for its 4×4 micro-tile in f16 (fma: the product is not rounded
// separately, the partial sum is) and adds each such run's sum into an f32 accumulator. Runs
// start at multiples of 32 in k, the last one shorter when 32 does not divide n. Edges are
// zero-padded on load and masked on store, so any n works.

enable f16;

struct Params {
    n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f16>;
@group(0) @binding(2) var<storage, read> b: array<f16>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

const TILE: u32 = 64u;
const BK: u32 = 32u;
// Row stride of the staged tiles (one more than TILE: distinct banks for the transposing
// stores of A).
const LD: u32 = 65u;

// [BK][LD]: a_tile[kk * LD + row], b_tile[kk * LD + col].
var<workgroup> a_tile: array<f16, 2080>;
var<workgroup> b_tile: array<f16, 2080>;

@compute @workgroup_size(16, 16)
fn matmul_f16(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let n = p.n;
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;

    var acc: array<array<f32, 4>, 4>;
    for (var k0 = 0u; k0 < n; k0 += BK) {
        // 2048 elements per tile, 8 per thread: A along k (consecutive threads on
        // consecutive k of a row), B along its rows (consecutive columns).
        for (var s = 0u; s < 8u; s++) {
            let e = li + 256u * s;
            let ar = row0 + e / BK;
            let ak = k0 + e % BK;
            var av = f16(0.0);
            if (ar < n && ak < n) {
                av = a[ar * n + ak];
            }
            a_tile[(e % BK) * LD + e / BK] = av;
            let bk = k0 + e / TILE;
            let bc = col0 + e % TILE;
            var bv = f16(0.0);
            if (bk < n && bc < n) {
                bv = b[bk * n + bc];
            }
            b_tile[(e / TILE) * LD + e % TILE] = bv;
        }
        workgroupBarrier();
        // One run of 32 products per output element, summed in f16: columns in pairs
        // (j = 0, 1 and 2, 3), so each fma is a packed two-wide f16 operation where the
        // device has one.
        var part: array<array<vec2<f16>, 2>, 4>;
        for (var kk = 0u; kk < BK; kk++) {
            var av: array<f16, 4>;
            var bv: array<vec2<f16>, 2>;
            for (var i = 0u; i < 4u; i++) {
                av[i] = a_tile[kk * LD + lid.y + 16u * i];
            }
            for (var jp = 0u; jp < 2u; jp++) {
                let col = kk * LD + lid.x + 32u * jp;
                bv[jp] = vec2<f16>(b_tile[col], b_tile[col + 16u]);
            }
            for (var i = 0u; i < 4u; i++) {
                for (var jp = 0u; jp < 2u; jp++) {
                    part[i][jp] = fma(vec2<f16>(av[i]), bv[jp], part[i][jp]);
                }
            }
        }
        for (var i = 0u; i < 4u; i++) {
            for (var jp = 0u; jp < 2u; jp++) {
                acc[i][2u * jp] += f32(part[i][jp].x);
                acc[i][2u * jp + 1u] += f32(part[i][jp].y);
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
