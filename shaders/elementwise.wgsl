// elementwise.wgsl: the separate passes of the unfused chains, each reading and writing a
// whole tensor in place with a grid-stride loop. Mirrors src/backend/cpu/elementwise.rs.
//
//   bias_cols       x[r][c] += p0[c]                         (Linear bias)
//   channel_affine  x[i] = x[i]·p0[ch] + p1[ch], ch = (i / cols) mod channels   (batch-norm)
//   activation      x = act(x)                               (ReLU, GELU, ...: override ACT)
//   scale           x *= SCALE                               (attention 1/sqrt(D))
//   add             x[i] += p0[i]                            (residual add)
//   mul             x[i] *= p0[i]                            (SwiGLU's gate ⊙ up)
//   causal_mask     x[z][r][c] = NEG where c > r, for cols×cols score matrices

override SCALE: f32 = 1.0;
// What the causal mask writes: attention.wgsl's NEG, which softmax turns into probability 0.
const NEG: f32 = -3.0e38;

struct Params {
    // Elements of x.
    len: u32,
    // Threads in the grid (the grid-stride step).
    stride: u32,
    // Row length of x (bias_cols: columns; channel_affine: pixels per channel;
    // causal_mask: keys per row).
    cols: u32,
    // Channels of channel_affine; rows per score matrix of causal_mask.
    channels: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> p0: array<f32>;
@group(0) @binding(2) var<storage, read> p1: array<f32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(256)
fn bias_cols(@builtin(global_invocation_id) gid: vec3<u32>) {
    for (var i = gid.x; i < p.len; i += p.stride) {
        x[i] += p0[i % p.cols];
    }
}

@compute @workgroup_size(256)
fn channel_affine(@builtin(global_invocation_id) gid: vec3<u32>) {
    for (var i = gid.x; i < p.len; i += p.stride) {
        let ch = (i / p.cols) % p.channels;
        x[i] = fma(x[i], p0[ch], p1[ch]);
    }
}

@compute @workgroup_size(256)
fn activation(@builtin(global_invocation_id) gid: vec3<u32>) {
    for (var i = gid.x; i < p.len; i += p.stride) {
        x[i] = activate(x[i]);
    }
}

@compute @workgroup_size(256)
fn scale(@builtin(global_invocation_id) gid: vec3<u32>) {
    for (var i = gid.x; i < p.len; i += p.stride) {
        x[i] *= SCALE;
    }
}

@compute @workgroup_size(256)
fn add(@builtin(global_invocation_id) gid: vec3<u32>) {
    for (var i = gid.x; i < p.len; i += p.stride) {
        x[i] += p0[i];
    }
}

@compute @workgroup_size(256)
fn mul(@builtin(global_invocation_id) gid: vec3<u32>) {
    for (var i = gid.x; i < p.len; i += p.stride) {
        x[i] *= p0[i];
    }
}

// Writes only the masked scores (reads none): key c after query r.
@compute @workgroup_size(256)
fn causal_mask(@builtin(global_invocation_id) gid: vec3<u32>) {
    for (var i = gid.x; i < p.len; i += p.stride) {
        let c = i % p.cols;
        let r = (i / p.cols) % p.channels;
        if (c > r) {
            x[i] = NEG;
        }
    }
}
