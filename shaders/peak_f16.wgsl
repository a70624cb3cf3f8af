// peak_f16.wgsl: peak compute in f16, FMA chains like peak.wgsl's peak_f32 (its own file
// because `enable f16;` compiles only on devices opened with SHADER_F16).
//
// Every invocation runs 8 independent chains (two vec4<f16>) of x = fma(x, one, one) for
// 8·p.trips steps: +1 per step until 2048, where 2048 + 1 rounds back to 2048 (ties to
// even), as crate::precision::chain_value says. The final values are stored widened to f32
// (exact), so the output needs no 16-bit storage.

enable f16;

struct Params {
    trips: u32,
    // The multiplier and addend (1.0) and the start value, as f32 bits, converted to f16
    // (exactly) in the shader.
    one: u32,
    start: u32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn peak_f16(
    @builtin(global_invocation_id) gid: vec3<u32>,
) {
    let one = vec4<f16>(f16(bitcast<f32>(p.one)));
    var x0 = vec4<f16>(f16(bitcast<f32>(p.start)));
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
    let base = gid.x * 8u;
    for (var c = 0u; c < 4u; c++) {
        out[base + c] = f32(x0[c]);
        out[base + 4u + c] = f32(x1[c]);
    }
}
