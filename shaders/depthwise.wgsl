// depthwise.wgsl: direct depthwise convolution (NCHW, one k×k filter per channel) with a
// fused epilogue. Mirrors the CPU backend's depthwise kernels.
//
//   out[b][c][oy][ox] = act(Σ_{ky,kx} w[c][ky][kx] · x[b][c][oy·stride + ky − pad][ox·stride + kx − pad]
//                           + shift[c])
//
// A depthwise convolution has k² multiply-adds per output and no reduction across channels,
// so it is bound by memory: each workgroup of 16×16 threads computes an ot×ot block of one
// channel plane (workgroup_id.z = b·C + c), staging the (ot − 1)·stride + k input rows and
// columns it reads (zero outside the image) and the channel's filter in workgroup memory
// once, so every input element is read from memory about once however large the kernel.
// The host picks ot ≤ 16 so that the staged tile fits its array.

// Add shift[c] in the epilogue: the bias (no batch-norm) or the folded batch-norm shift.
override SHIFT: bool = false;

struct Params {
    channels: u32,
    hw: u32,
    kernel: u32,
    stride: u32,
    pad: u32,
    out_hw: u32,
    // Output tile side (≤ 16) and staged input tile side, (ot − 1)·stride + kernel.
    ot: u32,
    ts: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> shift: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// The staged input tile (ts × ts) and the channel's filter (k × k), each at most
// TS_MAX × TS_MAX with TS_MAX = 40 (src/backend/gpu/depthwise.rs's TS_MAX).
var<workgroup> in_tile: array<f32, 1600>;
var<workgroup> taps: array<f32, 1600>;

@compute @workgroup_size(16, 16)
fn depthwise(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let plane = wid.z;
    let c = plane % p.channels;
    let ox0 = wid.x * p.ot;
    let oy0 = wid.y * p.ot;
    // The tile's top-left input pixel; negative inside the padding.
    let ix0 = i32(ox0 * p.stride) - i32(p.pad);
    let iy0 = i32(oy0 * p.stride) - i32(p.pad);
    let in_off = plane * p.hw * p.hw;
    let hw = i32(p.hw);
    for (var e = li; e < p.ts * p.ts; e += 256u) {
        let iy = iy0 + i32(e / p.ts);
        let ix = ix0 + i32(e % p.ts);
        var v = 0.0;
        if (iy >= 0 && iy < hw && ix >= 0 && ix < hw) {
            v = x[in_off + u32(iy) * p.hw + u32(ix)];
        }
        in_tile[e] = v;
    }
    let kk = p.kernel * p.kernel;
    for (var e = li; e < kk; e += 256u) {
        taps[e] = w[c * kk + e];
    }
    workgroupBarrier();

    let ox = ox0 + lid.x;
    let oy = oy0 + lid.y;
    if (lid.x >= p.ot || lid.y >= p.ot || ox >= p.out_hw || oy >= p.out_hw) {
        return;
    }
    var acc = 0.0;
    let sx = lid.x * p.stride;
    let sy = lid.y * p.stride;
    for (var ky = 0u; ky < p.kernel; ky++) {
        let t = (sy + ky) * p.ts + sx;
        let f = ky * p.kernel;
        for (var kx = 0u; kx < p.kernel; kx++) {
            acc = fma(taps[f + kx], in_tile[t + kx], acc);
        }
    }
    if (SHIFT) {
        acc += shift[c];
    }
    out[(plane * p.out_hw + oy) * p.out_hw + ox] = activate(acc);
}
