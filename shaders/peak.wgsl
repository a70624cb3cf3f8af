// peak.wgsl: peak compute, f32 FMA chains and int8 packed dot-product chains. Mirrors
// src/backend/cpu/peak/ (see src/backend/gpu/peak.rs and docs/precisions.md).
//
// Every invocation runs CHAINS = 8 independent chains (two vec4 accumulators) for
// 8·p.trips steps and stores the 8 final values, so the host can check every lane against
// crate::precision::chain_value. The operands come from the uniform buffer, so the compiler
// cannot fold the chains:
//
//   peak_f32   x = fma(x, one, one)                 +1 per step (exact below 2^24)
//   peak_int8  acc = dot4I8Packed(a, b) + acc       +4 per step for a = b = 0x01010101
//
// A dot product of loop-invariant operands would be hoisted out of the loop, so peak_int8
// keeps its packed operand live: each step adds p.zero (0, unknown to the compiler) to it
// first, one 32-bit add per dot product.

requires packed_4x8_integer_dot_product;

struct Params {
    // Loop trips; each trip is 8 steps of every chain.
    trips: u32,
    // f32 chains: the multiplier and addend (1.0) and the start value, as f32 bits.
    one: u32,
    start: u32,
    // int8 chains: the packed operands (0x01010101), 0 for the operand's add, and the start.
    packed_a: u32,
    packed_b: u32,
    zero: u32,
    start_i: i32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// 8 values per invocation: out[8·i + c] is chain c of invocation i (f32 bits or i32), i
// the global invocation index along x (the grid is one-dimensional).
@group(0) @binding(1) var<storage, read_write> out: array<u32>;

const CHAINS: u32 = 8u;

@compute @workgroup_size(256)
fn peak_f32(
    @builtin(global_invocation_id) gid: vec3<u32>,
) {
    let one = vec4<f32>(bitcast<f32>(p.one));
    var x0 = vec4<f32>(bitcast<f32>(p.start));
    var x1 = x0;
    for (var t = 0u; t < p.trips; t++) {
        x0 = fma(x0, one, one);
        x1 = fma(x1, one, one);
        x0 = fma(x0, one, one);
        x1 = fma(x1, one, one);
        x0 = fma(x0, one, one);
        x1 = fma(x1, one, one);
        x0 = fma(x0, one, one);
        x1 = fma(x1, one, one);
        x0 = fma(x0, one, one);
        x1 = fma(x1, one, one);
        x0 = fma(x0, one, one);
        x1 = fma(x1, one, one);
        x0 = fma(x0, one, one);
        x1 = fma(x1, one, one);
        x0 = fma(x0, one, one);
        x1 = fma(x1, one, one);
    }
    let base = gid.x * CHAINS;
    for (var c = 0u; c < 4u; c++) {
        out[base + c] = bitcast<u32>(x0[c]);
        out[base + 4u + c] = bitcast<u32>(x1[c]);
    }
}

// One step of one chain: the operand kept live, then the packed dot product.
fn dot_step(acc: ptr<function, i32>, a: ptr<function, u32>, b: u32) {
    *a = *a + p.zero;
    *acc = dot4I8Packed(*a, b) + *acc;
}

@compute @workgroup_size(256)
fn peak_int8(
    @builtin(global_invocation_id) gid: vec3<u32>,
) {
    let b = p.packed_b;
    var a0 = p.packed_a;
    var a1 = a0;
    var a2 = a0;
    var a3 = a0;
    var a4 = a0;
    var a5 = a0;
    var a6 = a0;
    var a7 = a0;
    var s0 = p.start_i;
    var s1 = s0;
    var s2 = s0;
    var s3 = s0;
    var s4 = s0;
    var s5 = s0;
    var s6 = s0;
    var s7 = s0;
    for (var t = 0u; t < p.trips; t++) {
        for (var u = 0u; u < 8u; u++) {
            dot_step(&s0, &a0, b);
            dot_step(&s1, &a1, b);
            dot_step(&s2, &a2, b);
            dot_step(&s3, &a3, b);
            dot_step(&s4, &a4, b);
            dot_step(&s5, &a5, b);
            dot_step(&s6, &a6, b);
            dot_step(&s7, &a7, b);
        }
    }
    let base = gid.x * CHAINS;
    out[base] = bitcast<u32>(s0);
    out[base + 1u] = bitcast<u32>(s1);
    out[base + 2u] = bitcast<u32>(s2);
    out[base + 3u] = bitcast<u32>(s3);
    out[base + 4u] = bitcast<u32>(s4);
    out[base + 5u] = bitcast<u32>(s5);
    out[base + 6u] = bitcast<u32>(s6);
    out[base + 7u] = bitcast<u32>(s7);
}
