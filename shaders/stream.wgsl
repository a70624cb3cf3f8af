// stream.wgsl: STREAM copy and triad over f32 arrays, four elements (one vec4) per access.
//
// Arrays are allocated as whole vec4s (lengths not divisible by 4 are padded up; the padding
// is never read back), bound in pieces when an array exceeds one storage binding, and swept
// with a grid-stride loop so one dispatch of a capped grid covers any length.
// Mirrors src/backend/cpu/stream.rs.

// a = b + SCALAR·c; set from crate::backend::TRIAD_SCALAR.
override SCALAR: f32 = 3.0;

struct Params {
    // vec4s in this piece.
    n4: u32,
    // Threads in the grid (the grid-stride step).
    stride: u32,
    // Index of this piece's first element in the whole array (fill only).
    base: u32,
    // Which STREAM array (0 = a, 1 = b, 2 = c; fill only).
    which: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> y: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> z: array<vec4<f32>>;

// z = x
@compute @workgroup_size(256)
fn copy(@builtin(global_invocation_id) gid: vec3<u32>) {
    for (var i = gid.x; i < p.n4; i += p.stride) {
        z[i] = x[i];
    }
}

// z = x + SCALAR·y
@compute @workgroup_size(256)
fn triad(@builtin(global_invocation_id) gid: vec3<u32>) {
    for (var i = gid.x; i < p.n4; i += p.stride) {
        z[i] = fma(vec4<f32>(SCALAR), y[i], x[i]);
    }
}

// crate::backend::stream_init: (which + 1) + (i mod 1021)·0.5, exact in f32.
fn init_value(i: u32) -> f32 {
    return f32(p.which + 1u) + f32(i % 1021u) * 0.5;
}

// z = the initial values of array `which`, so no host copy of the arrays is ever needed.
@compute @workgroup_size(256)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>) {
    for (var i = gid.x; i < p.n4; i += p.stride) {
        let e = p.base + 4u * i;
        z[i] = vec4<f32>(init_value(e), init_value(e + 1u), init_value(e + 2u), init_value(e + 3u));
    }
}
