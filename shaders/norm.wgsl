// norm.wgsl: the residual add and the row normalization of the Norm family. Mirrors
// the CPU backend's norm kernels.
//
//   add_rows  out[SUM_OFF + i] = x[i] + r[i]                    (unfused Add)
//   add_norm  per row s (FUSED: x + r; else the sums in out[SUM_OFF..]):
//             LayerNorm (NORM = 0)  y = (s − mean) / sqrt(var + ε) · γ + β   (biased variance)
//             RMSNorm   (NORM = 1)  y = s / sqrt(mean(s²) + ε) · γ
//             written to out[row]; FUSED with WRITE_SUM also writes s to out[SUM_OFF + row]
//
// One workgroup of 256 threads per row (grid-stride over rows): each thread holds up to 16
// elements of the row in registers (rows of up to 4096 are read once; longer ones re-read
// the rest), and the statistics are tree reductions in workgroup memory. The unfused kernel
// reads the sums in place (the Add wrote them into the output buffer); each thread writes
// only the elements it read, so no other thread's input is overwritten.

// 0 = LayerNorm, 1 = RMSNorm.
override NORM: u32 = 0u;
// Read x and r and add them (the fused kernel); otherwise read the sums from out[SUM_OFF..].
override FUSED: bool = false;
// The fused kernel also writes the sums to out[SUM_OFF..] (Add_RMSNorm).
override WRITE_SUM: bool = false;

struct Params {
    rows: u32,
    hidden: u32,
    // Where the sums are in out (0: in place of the normalized rows).
    sum_off: u32,
    // Threads in add_rows' grid (the grid-stride step).
    stride: u32,
    // rows·hidden.
    len: u32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> r: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

const WG: u32 = 256u;
// Elements of a row each thread keeps in registers (WG · CACHED = 4096 per row).
const CACHED: u32 = 16u;

var<workgroup> red: array<f32, 256>;

fn reduce_sum(li: u32, v: f32) -> f32 {
    red[li] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (li < s) {
            red[li] = red[li] + red[li + s];
        }
        workgroupBarrier();
    }
    let total = red[0];
    workgroupBarrier();
    return total;
}

@compute @workgroup_size(256)
fn add_rows(@builtin(global_invocation_id) gid: vec3<u32>) {
    for (var i = gid.x; i < p.len; i += p.stride) {
        out[p.sum_off + i] = x[i] + r[i];
    }
}

// Element idx (row·hidden + j) of the sums.
fn sum_at(idx: u32) -> f32 {
    if (FUSED) {
        return x[idx] + r[idx];
    }
    return out[p.sum_off + idx];
}

// What the first reduction adds up: s (LayerNorm's mean) or s² (RMSNorm's mean square).
fn moment(s: f32) -> f32 {
    if (NORM == 1u) {
        return s * s;
    }
    return s;
}

fn normalized(s: f32, mean: f32, inv: f32, j: u32) -> f32 {
    let y = (s - mean) * inv * gamma[j];
    if (NORM == 0u) {
        return y + beta[j];
    }
    return y;
}

@compute @workgroup_size(256)
fn add_norm(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let h = p.hidden;
    let n = f32(h);
    for (var row = wid.x; row < p.rows; row += nwg.x) {
        let base = row * h;
        // Sweep 1: read (and in the fused kernel, add and write back) the row.
        var v: array<f32, 16>;
        var acc = 0.0;
        for (var t = 0u; t < CACHED; t++) {
            let j = li + WG * t;
            var s = 0.0;
            if (j < h) {
                s = sum_at(base + j);
                if (FUSED && WRITE_SUM) {
                    out[p.sum_off + base + j] = s;
                }
            }
            v[t] = s;
            acc += moment(s);
        }
        for (var j = li + WG * CACHED; j < h; j += WG) {
            let s = sum_at(base + j);
            if (FUSED && WRITE_SUM) {
                out[p.sum_off + base + j] = s;
            }
            acc += moment(s);
        }
        let total = reduce_sum(li, acc);
        var mean = 0.0;
        var inv: f32;
        if (NORM == 1u) {
            inv = inverseSqrt(total / n + p.eps);
        } else {
            // Two-pass variance from the held values: no cancellation of E[s²] − mean².
            mean = total / n;
            var sq = 0.0;
            for (var t = 0u; t < CACHED; t++) {
                if (li + WG * t < h) {
                    let d = v[t] - mean;
                    sq += d * d;
                }
            }
            for (var j = li + WG * CACHED; j < h; j += WG) {
                let d = sum_at(base + j) - mean;
                sq += d * d;
            }
            inv = inverseSqrt(reduce_sum(li, sq) / n + p.eps);
        }
        // Sweep 2: write the normalized row.
        for (var t = 0u; t < CACHED; t++) {
            let j = li + WG * t;
            if (j < h) {
                out[base + j] = normalized(v[t], mean, inv, j);
            }
        }
        for (var j = li + WG * CACHED; j < h; j += WG) {
            out[base + j] = normalized(sum_at(base + j), mean, inv, j);
        }
    }
}
