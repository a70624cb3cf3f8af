//! The Attention family: scaled `Q·Kᵀ`, softmax and `P·V`.
//!
//! Unfused: one kernel per operator of the pattern: `Q·Kᵀ` into a full `S×S` score matrix, a
//! scale pass, a softmax pass and `P·V`, each over whole tensors. Fused (from the pattern's
//! epilogue): the scale is the GEMM epilogue's alpha; softmax and `P·V` run per block of query
//! rows while that block of scores is still in cache, so with `P·V` the `S×S` matrix is never
//! written to memory (only a per-thread block of it).

use super::elementwise;
use super::fork::run_parallel;
use super::gemm::{sgemm, BLayout, Bias, Epilogue, Parallelism};
use crate::backend::{check_operators, Prepared, Variant};
use crate::dtype::HostBuffer;
use crate::pattern::{Epilogue as PatternEpilogue, Op, Pattern, Shape};
use crate::Result;
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
    unfused_out: Vec<f32>,
    fused_out: Vec<f32>,
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
            &[Op::MatMul, Op::Scale, Op::Softmax],
        )?;
        let epilogue = pattern.epilogue();
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
            unfused_out: vec![0.0; out_len],
            fused_out: vec![0.0; out_len],
        })
    }

    /// The attention scale `1/sqrt(D)`.
    fn alpha(&self) -> f32 {
        1.0 / (self.dim as f32).sqrt()
    }

    /// `scores_b = alpha·Q_b·K_bᵀ` for rows `rows` of batch `b`.
    fn qk(
        &self,
        b: usize,
        rows: std::ops::Range<usize>,
        alpha: f32,
        out: &mut [f32],
        par: Parallelism,
    ) {
        let (s, d) = (self.seq, self.dim);
        let q = &self.q[(b * s + rows.start) * d..(b * s + rows.end) * d];
        let k = &self.k[b * s * d..(b + 1) * s * d];
        let epi = Epilogue {
            alpha,
            bias: Bias::None,
            residual: None,
            activation: super::activation::Activation::Identity,
        };
        sgemm(
            rows.len(),
            s,
            d,
            q,
            d,
            k,
            d,
            BLayout::Transposed,
            out,
            s,
            &epi,
            par,
        );
    }

    /// `out = P·V_b` for a block of probability rows of batch `b`.
    fn pv(&self, b: usize, p: &[f32], rows: usize, out: &mut [f32], par: Parallelism) {
        let (s, d) = (self.seq, self.dim);
        let v = &self.v[b * s * d..(b + 1) * s * d];
        sgemm(
            rows,
            d,
            s,
            p,
            s,
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
                            1.0,
                            &mut scores[b * s * s..(b + 1) * s * s],
                            Parallelism::Rayon,
                        );
                    }
                }
                Op::Scale => elementwise::scale(scores, self.alpha()),
                Op::Softmax => elementwise::softmax_rows(scores, s),
                // The product with V (`new` checked that there is nothing else).
                _ => {
                    for b in 0..self.batch {
                        self.pv(
                            b,
                            &scores[b * s * s..(b + 1) * s * s],
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
            let (b, j) = (t / blocks_per_batch, t % blocks_per_batch);
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
                self.qk(b, start..start + n, alpha, block, Parallelism::Serial);
                block.chunks_mut(s).for_each(elementwise::softmax_row);
                return;
            }
            SCORE_BLOCK.with(|buf| {
                let mut buf = buf.borrow_mut();
                buf.resize(qb * s, 0.0);
                let p = &mut buf[..n * s];
                self.qk(b, start..start + n, alpha, p, Parallelism::Serial);
                p.chunks_mut(s).for_each(elementwise::softmax_row);
                self.pv(b, p, n, block, Parallelism::Serial);
            });
        };
        run_parallel(
            self.batch * blocks_per_batch,
            rayon::current_num_threads(),
            &task,
        );
    }
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
        let fused = variant == Variant::Fused;
        let t;
        if fused {
            let mut out = std::mem::take(&mut self.fused_out);
            t = Instant::now();
            self.fused(&mut out);
            let e = t.elapsed();
            self.fused_out = out;
            Ok(e)
        } else {
            let mut out = std::mem::take(&mut self.unfused_out);
            let mut scores = std::mem::take(&mut self.scores);
            t = Instant::now();
            if self.epilogue.value_matmul {
                self.unfused(&mut scores, &mut out);
            } else {
                // Scores and softmax write the output tensor itself.
                self.unfused(&mut out, &mut []);
            }
            let e = t.elapsed();
            self.unfused_out = out;
            self.scores = scores;
            Ok(e)
        }
    }

    fn output(&mut self, variant: Variant) -> Result<HostBuffer> {
        Ok(HostBuffer::F32(match variant {
            Variant::Fused => self.fused_out.clone(),
            _ => self.unfused_out.clone(),
        }))
    }
}
