// conv.wgsl: 2-D convolution (NCHW) as an implicit GEMM with a fused epilogue. Mirrors
// src/backend/cpu/conv.rs (which materialises im2col; here it is never written).
//
//   out[b][co][p] = act(Σ_r W[co][r] · col_b[r][p] + shift[co] + res[b][co][p])
//   r = (ci, ky, kx), p = (oy, ox), col_b[r][p] = x[b][ci][oy·stride + ky − pad][ox·stride + kx − pad]
//
// The GEMM has M = cout, N = output pixels, K = cin·k·k, one image per workgroup_id.z. Each
// workgroup of 16×16 threads computes a 64×64 block (channels × pixels), stepping through K 16
// at a time: the filter tile is a plain load, the image tile is gathered from the input with
// zero padding at the borders. Each thread accumulates a 4×4 micro-tile (rows ty + 16·i,
// columns tx + 16·j).

// Add shift[co] in the epilogue: the conv bias (Conv2d_ReLU) or the folded batch-norm shift.
override SHIFT: bool = false;
// Add res[b][co][p] (a residual of the output's shape) before the activation
// (Conv2d_BN_Add_ReLU).
override RESIDUAL: bool = false;

struct Params {
    cin: u32,
    cout: u32,
    hw: u32,
    kernel: u32,
    stride: u32,
    pad: u32,
    out_hw: u32,
    // cin·kernel·kernel
    red: u32,
    // out_hw·out_hw
    pix: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> shift: array<f32>;
@group(0) @binding(4) var<storage, read> res: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

const TILE: u32 = 64u;
const BK: u32 = 16u;
// Row stride of the staged tiles (TILE + 1: conflict-free transposing stores).
const LD: u32 = 65u;

// [BK][LD]: w_tile[kk * LD + co], x_tile[kk * LD + pixel].
var<workgroup> w_tile: array<f32, 1040>;
var<workgroup> x_tile: array<f32, 1040>;

@compute @workgroup_size(16, 16)
fn conv(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let co0 = wid.y * TILE;
    let p0 = wid.x * TILE;
    let image = wid.z;
    let x_off = image * p.cin * p.hw * p.hw;
    let kk2 = p.kernel * p.kernel;

    var acc: array<array<f32, 4>, 4>;
    for (var r0 = 0u; r0 < p.red; r0 += BK) {
        // Filter tile (64 channels × 16 of K): consecutive threads read consecutive r.
        for (var s = 0u; s < 4u; s++) {
            let e = li + 256u * s;
            let co = e / BK;
            let kk = e % BK;
            let gco = co0 + co;
            let gr = r0 + kk;
            var v = 0.0;
            if (gco < p.cout && gr < p.red) {
                v = w[gco * p.red + gr];
            }
            w_tile[kk * LD + co] = v;
        }
        // Image tile (16 of K × 64 pixels), gathered: consecutive threads, consecutive pixels.
        for (var s = 0u; s < 4u; s++) {
            let e = li + 256u * s;
            let kk = e / TILE;
            let n = e % TILE;
            let gr = r0 + kk;
            let gp = p0 + n;
            var v = 0.0;
            if (gr < p.red && gp < p.pix) {
                let ci = gr / kk2;
                let rem = gr % kk2;
                let ky = rem / p.kernel;
                let kx = rem % p.kernel;
                let oy = gp / p.out_hw;
                let ox = gp % p.out_hw;
                // Signed: the padded border is outside the image.
                let iy = i32(oy * p.stride + ky) - i32(p.pad);
                let ix = i32(ox * p.stride + kx) - i32(p.pad);
                if (iy >= 0 && iy < i32(p.hw) && ix >= 0 && ix < i32(p.hw)) {
                    v = x[x_off + (ci * p.hw + u32(iy)) * p.hw + u32(ix)];
                }
            }
            x_tile[kk * LD + n] = v;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            var wv: array<f32, 4>;
            var xv: array<f32, 4>;
            for (var i = 0u; i < 4u; i++) {
                wv[i] = w_tile[kk * LD + lid.y + 16u * i];
                xv[i] = x_tile[kk * LD + lid.x + 16u * i];
            }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i][j] = fma(wv[i], xv[j], acc[i][j]);
                }
            }
        }
        workgroupBarrier();
    }

    let out_off = image * p.cout * p.pix;
    for (var i = 0u; i < 4u; i++) {
        let co = co0 + lid.y + 16u * i;
        if (co >= p.cout) {
            continue;
        }
        for (var j = 0u; j < 4u; j++) {
            let px = p0 + lid.x + 16u * j;
            if (px >= p.pix) {
                continue;
            }
            let idx = out_off + co * p.pix + px;
            var v = acc[i][j];
            if (SHIFT) {
                v += shift[co];
            }
            if (RESIDUAL) {
                v += res[idx];
            }
            out[idx] = activate(v);
        }
    }
}
