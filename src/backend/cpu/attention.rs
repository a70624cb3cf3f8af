//! The Attention family: scaled `Q·Kᵀ`, an optional causal mask, softmax and `P·V`.
//!
//! Unfused: one kernel per operator of the pattern: `Q·Kᵀ` into a full `S×S` score matrix, a
//! scale pass, a mask pass (causal: the scores of keys after the query set to `-∞`), a softmax
//! pass and `P·V`, each over whole tensors. Fused (from the pattern's epilogue): the scale is
//! the GEMM epilogue's alpha; softmax and `P·V` run per block of query rows while that block
//! of scores is still in cache, so with `P·V` the `S×S` matrix is never written to memory (only
//! a per-thread block of it). Causal: a block of queries `i0..i1` computes the scores of keys
//! `0..i1` only (the key blocks after the block's last query are masked entirely; skipping
//! them saves up to half the work, more the more query blocks there are), the softmax of row
//! `i` runs over its keys `0..=i`, and the rest of the row, inside the diagonal part, is zero
//! for `P·V`.

use super::elementwise;
use super::fork::run_parallel;
use super::gemm::{sgemm, BLayout, Bias, Epilogue, Parallelism};
use super::Outputs;
use crate::backend::{check_operators, Activations, Prepared, Variant};
use crate::dtype::HostBuffer;
use crate::pattern::{Epilogue as PatternEpilogue, Op, Pattern, Shape};
use crate::Result;
use rayon::prelude::*;
use std::cell::RefCell;
use std::time::{Duration, Instant};

/// Query rows per fused block: the block of scores (`rows × S` f32) stays within ~128 KiB so it
/// lives in L2 between the two GEMMs and the softmax.
fn query_block(seq: usize) -> usize {
    (128 * 1024 / (4 * seq.max(1))).clamp(8, 64)
}

thread_local! {
    static SCORE_BLOCK: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// One Attention pattern at one shape.
pub struct AttentionWork {
    pattern: Pattern,
    epilogue: PatternEpilogue,
    batch: usize,
    seq: usize,
    dim: usize,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    scores: Vec<f32>,
    outputs: Outputs,
}

impl AttentionWork {
    /// Copies Q, K, V into backend-owned buffers.
    pub fn new(pattern: Pattern, shape: Shape, q: &[f32], k: &[f32], v: &[f32]) -> Result<Self> {
        let Shape::Attention { batch, seq, dim } = shape else {
            unreachable!("prepare checked the family")
        };
        check_operators(
            pattern,
            "the CPU attention kernels",
            &[Op::MatMul, Op::Scale, Op::CausalMask, Op::Softmax],
            Activations::None,
        )?;
        let epilogue = pattern.epilogue();
        if epilogue.causal && !(epilogue.softmax && epilogue.value_matmul) {
            // Masked scores or probabilities would be rows of different lengths.
            return Err(crate::Error::usage(format!(
                "{}: the CPU attention kernels apply a causal mask only before a softmax and \
                 the product with V",
                pattern.name()
            )));
        }
        let out_len = if epilogue.value_matmul {
            batch * seq * dim
        } else {
            batch * seq * seq
        };
        Ok(AttentionWork {
            pattern,
            epilogue,
            batch,
            seq,
            dim,
            q: q.to_vec(),
            k: k.to_vec(),
            v: v.to_vec(),
            scores: if epilogue.value_matmul {
                vec![0.0; batch * seq * seq]
            } else {
                Vec::new()
            },
            outputs: Outputs::new(out_len),
        })
    }

    /// The attention scale `1/sqrt(D)`.
    fn alpha(&self) -> f32 {
        1.0 / (self.dim as f32).sqrt()
    }

    /// `scores_b = alpha·Q_b·K_bᵀ` for query rows `rows` of batch `b` and its first `keys`
    /// keys, into `out` (`rows × keys`).
    fn qk(
        &self,
        b: usize,
        rows: std::ops::Range<usize>,
        keys: usize,
        alpha: f32,
        out: &mut [f32],
        par: Parallelism,
    ) {
        let (s, d) = (self.seq, self.dim);
        let q = &self.q[(b * s + rows.start) * d..(b * s + rows.end) * d];
        let k = &self.k[b * s * d..(b * s + keys) * d];
        let epi = Epilogue {
            alpha,
            bias: Bias::None,
            residual: None,
            activation: super::activation::Activation::Identity,
        };
        sgemm(
            rows.len(),
            keys,
            d,
            q,
            d,
            k,
            d,
            BLayout::Transposed,
            out,
            keys,
            &epi,
            par,
        );
    }

    /// `out = P·V_b` for a block of probability rows (`rows × keys`) of batch `b` over its
    /// first `keys` values.
    fn pv(&self, b: usize, p: &[f32], rows: usize, keys: usize, out: &mut [f32], par: Parallelism) {
        let (s, d) = (self.seq, self.dim);
        let v = &self.v[b * s * d..(b * s + keys) * d];
        sgemm(
            rows,
            d,
            keys,
            p,
            keys,
            v,
            d,
            BLayout::RowMajor,
            out,
            d,
            &Epilogue::NONE,
            par,
        );
    }

    /// The unfused chain: one kernel per operator, the scores (`S×S` per batch) in `scores`,
    /// the product with `V` (if the pattern has one) in `out`.
    fn unfused(&self, scores: &mut [f32], out: &mut [f32]) {
        let (s, d) = (self.seq, self.dim);
        for (i, op) in self.pattern.operators().iter().enumerate() {
            match op {
                Op::MatMul if i == 0 => {
                    for b in 0..self.batch {
                        self.qk(
                            b,
                            0..s,
                            s,
                            1.0,
                            &mut scores[b * s * s..(b + 1) * s * s],
                            Parallelism::Rayon,
                        );
                    }
                }
                Op::Scale => elementwise::scale(scores, self.alpha()),
                Op::CausalMask => causal_mask(scores, s),
                Op::Softmax => elementwise::softmax_rows(scores, s),
                // The product with V (`new` checked that there is nothing else).
                _ => {
                    for b in 0..self.batch {
                        self.pv(
                            b,
                            &scores[b * s * s..(b + 1) * s * s],
                            s,
                            s,
                            &mut out[b * s * d..(b + 1) * s * d],
                            Parallelism::Rayon,
                        );
                    }
                }
            }
        }
    }

    /// The fused kernel the pattern's epilogue asks for.
    fn fused(&self, out: &mut [f32]) {
        let (s, d) = (self.seq, self.dim);
        let e = self.epilogue;
        let alpha = if e.scale { self.alpha() } else { 1.0 };
        if !e.softmax {
            for b in 0..self.batch {
                self.qk(
                    b,
                    0..s,
                    s,
                    alpha,
                    &mut out[b * s * s..(b + 1) * s * s],
                    Parallelism::Rayon,
                );
            }
            return;
        }
        let qb = query_block(s);
        let width = if e.value_matmul { d } else { s };
        // One task per (batch, block of query rows); blocks never straddle a batch. The tasks
        // are small (tens of µs), so they are forked with the GEMM's low-latency fork rather
        // than a par_iter started from outside the pool.
        let blocks_per_batch = s.div_ceil(qb);
        let out_ptr = OutPtr(out.as_mut_ptr());
        let out_len = out.len();
        let task = |t: usize| {
            let (b, j) = if e.causal {
                // A causal block costs in proportion to its last query: hand out the costliest
                // blocks first (across the batches), so no thread is left with a big one at the
                // end while the others idle.
                (t % self.batch, blocks_per_batch - 1 - t / self.batch)
            } else {
                (t / blocks_per_batch, t % blocks_per_batch)
            };
            let start = j * qb;
            let n = qb.min(s - start);
            let offset = (b * s + start) * width;
            assert!(offset + n * width <= out_len);
            // SAFETY: task `t` owns rows `start..start + n` of batch `b`, which no other task
            // touches; the range was checked against the buffer just above, and `out` outlives
            // `run_parallel`, which returns only after every task has finished.
            let block =
                unsafe { std::slice::from_raw_parts_mut(out_ptr.get().add(offset), n * width) };
            if !e.value_matmul {
                self.qk(b, start..start + n, s, alpha, block, Parallelism::Serial);
                block.chunks_mut(s).for_each(elementwise::softmax_row);
                return;
            }
            // Causal: the block's last query sees keys 0..start + n, and no query of the block
            // sees a key after those (`new` checked that a causal pattern has P·V).
            let keys = if e.causal { start + n } else { s };
            SCORE_BLOCK.with(|buf| {
                let mut buf = buf.borrow_mut();
                buf.resize(qb * s, 0.0);
                let p = &mut buf[..n * keys];
                self.qk(b, start..start + n, keys, alpha, p, Parallelism::Serial);
                for (r, row) in p.chunks_mut(keys).enumerate() {
                    if e.causal {
                        // Query start + r sees keys 0..=start + r; the rest of its row (the
                        // diagonal part of the block) gets probability 0.
                        let (seen, masked) = row.split_at_mut(start + r + 1);
                        elementwise::softmax_row(seen);
                        masked.fill(0.0);
                    } else {
                        elementwise::softmax_row(row);
                    }
                }
                self.pv(b, p, n, keys, block, Parallelism::Serial);
            });
        };
        run_parallel(
            self.batch * blocks_per_batch,
            rayon::current_num_threads(),
            &task,
        );
    }
}

/// The unfused mask pass: row `i` of each batch's `S×S` scores keeps keys `0..=i`, the others
/// become `-∞` (the softmax then gives them `exp_approx`'s floor, below 1e-37, against at
/// least 1 for the row's maximum: zero within f32 rounding).
fn causal_mask(scores: &mut [f32], s: usize) {
    scores
        .par_chunks_mut(s)
        .with_min_len((16 * 1024 / s.max(1)).max(1))
        .enumerate()
        .for_each(|(r, row)| row[r % s + 1..].fill(f32::NEG_INFINITY));
}

/// The output buffer shared by the fused tasks, each writing its own rows.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: tasks write disjoint row ranges (see `AttentionWork::fused`).
unsafe impl Send for OutPtr {}
// SAFETY: as above; the pointer itself is only copied.
unsafe impl Sync for OutPtr {}
impl OutPtr {
    fn get(self) -> *mut f32 {
        self.0
    }
}

impl Prepared for AttentionWork {
    fn run(&mut self, variant: Variant) -> Result<Duration> {
        let mut out = self.outputs.take(variant);
        let mut scores = std::mem::take(&mut self.scores);
        let t = Instant::now();
        if variant == Variant::Fused {
            self.fused(&mut out);
        } else if self.epilogue.value_matmul {
            self.unfused(&mut scores, &mut out);
        } else {
            // Scores and softmax write the output tensor itself.
            self.unfused(&mut out, &mut []);
        }
        let elapsed = t.elapsed();
        self.scores = scores;
        self.outputs.put(variant, out);
        Ok(elapsed)
    }

    fn output(&mut self, variant: Variant) -> Result<HostBuffer> {
        Ok(self.outputs.host(variant))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;
    use crate::pattern::{InputSlices, Inputs, Reference};

    /// Both variants of causal attention against the f64 reference, over more than one query
    /// block (so the fused kernel has blocks that skip keys and blocks that do not), and the
    /// first query, which sees only the first key: its output is that key's value row.
    #[test]
    fn causal_attention_matches_the_reference() {
        let pattern = Pattern::FullAttentionCausal;
        let (batch, seq, dim) = (2, 133, 12);
        assert!(2 * query_block(seq) < seq, "three query blocks");
        let shape = Shape::Attention { batch, seq, dim };
        let inputs = Inputs::generate(pattern, &shape, 3);
        let InputSlices::Attention { q, k, v } = inputs.slices(pattern, &shape).unwrap() else {
            unreachable!("attention inputs")
        };
        let reference = Reference::new(pattern, shape, &inputs).unwrap();
        let (rel, abs) = reference.tolerance(DType::F32);
        let mut work = AttentionWork::new(pattern, shape, q, k, v).unwrap();
        for variant in [Variant::Unfused, Variant::Fused] {
            work.run(variant).unwrap();
            let out = work.output(variant).unwrap().into_f32("test").unwrap();
            assert_eq!(out.len(), batch * seq * dim);
            for (r, got) in out.chunks(dim).enumerate() {
                for (c, (&g, w)) in got.iter().zip(reference.row(r)).enumerate() {
                    assert!(
                        (g as f64 - w).abs() <= abs + rel * w.abs(),
                        "{variant:?} row {r} col {c}: {g} vs {w}"
                    );
                }
            }
            for b in 0..batch {
                let first = &out[b * seq * dim..][..dim];
                let v0 = &v[b * seq * dim..][..dim];
                assert!(first.iter().zip(v0).all(|(a, b)| (a - b).abs() < 1e-6));
            }
        }
    }

    /// The mask pass keeps keys `0..=i` of row `i` in every batch.
    #[test]
    fn mask_pass_hides_the_keys_after_each_query() {
        let mut scores = vec![1.0f32; 2 * 3 * 3];
        causal_mask(&mut scores, 3);
        let inf = f32::NEG_INFINITY;
        let one_batch = [1.0, inf, inf, 1.0, 1.0, inf, 1.0, 1.0, 1.0];
        assert_eq!(scores[..9], one_batch);
        assert_eq!(scores[9..], one_batch);
    }
}
