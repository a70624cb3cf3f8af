// attention.wgsl: softmax and the fused attention kernels. Mirrors
// src/backend/cpu/attention.rs. Q, K, V are (batch, S, D) row-major; SCALE = 1/sqrt(D).
//
//   softmax_rows  unfused softmax pass over rows of S scores, in place on `out`
//   qk_softmax    fused softmax(SCALE·Q·Kᵀ): per block of 64 query rows, scores are computed
//                 tile by tile with an online (running max, running sum) softmax, written raw,
//                 then normalised by the same threads that wrote them
//   flash         fused softmax(SCALE·Q·Kᵀ)·V in the FlashAttention style: per block of 64
//                 query rows, keys and values stream through in blocks of 64 and the output
//                 is rescaled as the running max grows; the S×S matrix never leaves
//                 workgroup memory. With CAUSAL (query i sees keys 0..=i), key blocks after
//                 the query block are never loaded and the diagonal block is masked
//
// Score tiles use the GEMM scheme of matmul.wgsl: 16×16 threads, each a 4×4 micro-tile
// (rows ty + 16·i, keys tx + 16·j), D stepped 16 at a time through workgroup memory.

override SCALE: f32 = 1.0;
// Causal attention: scores of keys after their query are NEG (flash only).
override CAUSAL: bool = false;

struct Params {
    seq: u32,
    dim: u32,
    // batch·seq: rows of the score matrix (softmax_rows).
    rows: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// Query rows per workgroup, keys per block, head-dimension step.
const BR: u32 = 64u;
const BC: u32 = 64u;
const BD: u32 = 16u;
// Largest head dimension of the flash kernel (its per-thread output is 4 × MAX_D/16).
const MAX_D: u32 = 128u;
// Row stride of staged Q/K steps and of the score tile (64 + 1: fewer bank conflicts).
const LD: u32 = 65u;
// Stands in for -infinity (masked keys); exp(NEG - m) is 0 for any finite m.
const NEG: f32 = -3.0e38;

// Q step [BD][LD] then K step [BD][LD]; in flash's P·V phase, 16 rows of V [16][MAX_D].
var<workgroup> stage: array<f32, 2080>;
// Scores of the current block [BR][LD], then their exponentials.
var<workgroup> s_tile: array<f32, 4160>;
// Partial results of reductions.
var<workgroup> red: array<f32, 256>;
// Per query row: running max, running sum, and the rescale factor of the last block.
var<workgroup> row_m: array<f32, 64>;
var<workgroup> row_l: array<f32, 64>;
var<workgroup> row_c: array<f32, 64>;

fn reduce_max(li: u32, x: f32) -> f32 {
    red[li] = x;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (li < s) {
            red[li] = max(red[li], red[li + s]);
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

fn reduce_sum(li: u32, x: f32) -> f32 {
    red[li] = x;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (li < s) {
            red[li] = red[li] + red[li + s];
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

// Unfused softmax: one workgroup per row (grid-stride over rows), three sweeps of the row.
@compute @workgroup_size(256)
fn softmax_rows(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    for (var r = wid.x; r < p.rows; r += nwg.x) {
        let base = r * p.seq;
        var m = NEG;
        for (var c = li; c < p.seq; c += 256u) {
            m = max(m, out[base + c]);
        }
        m = reduce_max(li, m);
        var s = 0.0;
        for (var c = li; c < p.seq; c += 256u) {
            s += exp(out[base + c] - m);
        }
        s = reduce_sum(li, s);
        let inv = 1.0 / s;
        for (var c = li; c < p.seq; c += 256u) {
            out[base + c] = exp(out[base + c] - m) * inv;
        }
    }
}

// SCALE·Q[q0..q0+64]·K[k0..k0+64]ᵀ of one batch entry (`base` = its offset in Q and K), as
// this thread's 4×4 micro-tile; keys past the end (and, when CAUSAL, after the query) are
// NEG, rows past the end are 0.
fn score_tile(base: u32, q0: u32, k0: u32, tx: u32, ty: u32, li: u32) -> array<array<f32, 4>, 4> {
    var acc: array<array<f32, 4>, 4>;
    for (var d0 = 0u; d0 < p.dim; d0 += BD) {
        for (var s = 0u; s < 4u; s++) {
            let e = li + 256u * s;
            let r = e / BD;
            let dd = e % BD;
            let gd = d0 + dd;
            var qv = 0.0;
            if (q0 + r < p.seq && gd < p.dim) {
                qv = q[base + (q0 + r) * p.dim + gd];
            }
            stage[dd * LD + r] = qv;
            var kv = 0.0;
            if (k0 + r < p.seq && gd < p.dim) {
                kv = k[base + (k0 + r) * p.dim + gd];
            }
            stage[BD * LD + dd * LD + r] = kv;
        }
        workgroupBarrier();
        for (var dd = 0u; dd < BD; dd++) {
            var qa: array<f32, 4>;
            var ka: array<f32, 4>;
            for (var i = 0u; i < 4u; i++) {
                qa[i] = stage[dd * LD + ty + 16u * i];
                ka[i] = stage[BD * LD + dd * LD + tx + 16u * i];
            }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i][j] = fma(qa[i], ka[j], acc[i][j]);
                }
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
            let key = k0 + tx + 16u * j;
            if (key < p.seq && !(CAUSAL && key > q0 + ty + 16u * i)) {
                acc[i][j] *= SCALE;
            } else {
                acc[i][j] = NEG;
            }
        }
    }
    return acc;
}

fn init_stats(li: u32) {
    if (li < BR) {
        row_m[li] = NEG;
        row_l[li] = 0.0;
        row_c[li] = 1.0;
    }
}

// Online-softmax step over the block in s_tile: per row, the new running max m, the
// rescale factor exp(m_old − m) of everything before (row_c), the running sum row_l, and
// s_tile replaced by exp(s − m). Four threads per row, 16 keys each.
fn update_stats(li: u32) {
    let row = li / 4u;
    let c0 = (li % 4u) * 16u;
    var mx = NEG;
    for (var c = 0u; c < 16u; c++) {
        mx = max(mx, s_tile[row * LD + c0 + c]);
    }
    red[li] = mx;
    workgroupBarrier();
    let block_max = max(max(red[row * 4u], red[row * 4u + 1u]), max(red[row * 4u + 2u], red[row * 4u + 3u]));
    let m_old = row_m[row];
    let m_new = max(m_old, block_max);
    workgroupBarrier();
    var sum = 0.0;
    for (var c = 0u; c < 16u; c++) {
        let e = exp(s_tile[row * LD + c0 + c] - m_new);
        s_tile[row * LD + c0 + c] = e;
        sum += e;
    }
    red[li] = sum;
    workgroupBarrier();
    if (li % 4u == 0u) {
        let corr = exp(m_old - m_new);
        row_l[row] = row_l[row] * corr + red[li] + red[li + 1u] + red[li + 2u] + red[li + 3u];
        row_m[row] = m_new;
        row_c[row] = corr;
    }
    workgroupBarrier();
}

@compute @workgroup_size(16, 16)
fn qk_softmax(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let q0 = wid.x * BR;
    let in_base = wid.y * p.seq * p.dim;
    let out_base = wid.y * p.seq * p.seq;
    init_stats(li);
    for (var k0 = 0u; k0 < p.seq; k0 += BC) {
        let acc = score_tile(in_base, q0, k0, lid.x, lid.y, li);
        for (var i = 0u; i < 4u; i++) {
            let r = lid.y + 16u * i;
            for (var j = 0u; j < 4u; j++) {
                let c = lid.x + 16u * j;
                s_tile[r * LD + c] = acc[i][j];
                if (q0 + r < p.seq && k0 + c < p.seq) {
                    out[out_base + (q0 + r) * p.seq + k0 + c] = acc[i][j];
                }
            }
        }
        workgroupBarrier();
        update_stats(li);
    }
    // Normalise: each thread rereads exactly the scores it wrote.
    for (var k0 = 0u; k0 < p.seq; k0 += BC) {
        for (var i = 0u; i < 4u; i++) {
            let r = lid.y + 16u * i;
            if (q0 + r >= p.seq) {
                continue;
            }
            let m = row_m[r];
            let inv = 1.0 / row_l[r];
            for (var j = 0u; j < 4u; j++) {
                let c = k0 + lid.x + 16u * j;
                if (c < p.seq) {
                    let idx = out_base + (q0 + r) * p.seq + c;
                    out[idx] = exp(out[idx] - m) * inv;
                }
            }
        }
    }
}

@compute @workgroup_size(16, 16)
fn flash(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let q0 = wid.x * BR;
    let base = wid.y * p.seq * p.dim;
    init_stats(li);
    // Output rows ty + 16·i, dimensions tx + 16·j.
    var o: array<array<f32, 8>, 4>;
    // Causal: the keys of blocks after this query block are all masked (BC = BR, so the last
    // block read is the diagonal one).
    var k_end = p.seq;
    if (CAUSAL) {
        k_end = min(p.seq, q0 + BR);
    }
    for (var k0 = 0u; k0 < k_end; k0 += BC) {
        let acc = score_tile(base, q0, k0, lid.x, lid.y, li);
        for (var i = 0u; i < 4u; i++) {
            for (var j = 0u; j < 4u; j++) {
                s_tile[(lid.y + 16u * i) * LD + lid.x + 16u * j] = acc[i][j];
            }
        }
        workgroupBarrier();
        update_stats(li);
        for (var i = 0u; i < 4u; i++) {
            let corr = row_c[lid.y + 16u * i];
            for (var j = 0u; j < 8u; j++) {
                o[i][j] *= corr;
            }
        }
        // o += P·V[k0..k0+64], 16 keys of V at a time through workgroup memory.
        for (var c0 = 0u; c0 < BC; c0 += 16u) {
            for (var e = li; e < 16u * p.dim; e += 256u) {
                let cc = e / p.dim;
                let d = e % p.dim;
                let key = k0 + c0 + cc;
                var vv = 0.0;
                if (key < p.seq) {
                    vv = v[base + key * p.dim + d];
                }
                stage[cc * MAX_D + d] = vv;
            }
            workgroupBarrier();
            for (var cc = 0u; cc < 16u; cc++) {
                for (var i = 0u; i < 4u; i++) {
                    let pr = s_tile[(lid.y + 16u * i) * LD + c0 + cc];
                    for (var j = 0u; j < 8u; j++) {
                        let d = lid.x + 16u * j;
                        if (d < p.dim) {
                            o[i][j] = fma(pr, stage[cc * MAX_D + d], o[i][j]);
                        }
                    }
                }
            }
            workgroupBarrier();
        }
    }
    for (var i = 0u; i < 4u; i++) {
        let r = q0 + lid.y + 16u * i;
        if (r >= p.seq) {
            continue;
        }
        let inv = 1.0 / row_l[lid.y + 16u * i];
        for (var j = 0u; j < 8u; j++) {
            let d = lid.x + 16u * j;
            if (d < p.dim) {
                out[base + r * p.dim + d] = o[i][j] * inv;
            }
        }
    }
}
