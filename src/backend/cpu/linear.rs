//! Matmul and the Linear family: `act(x·W + b)`.
//!
//! Unfused: one kernel per operator of the pattern (GEMM, then a bias pass, then an activation
//! pass), each over the whole output. Fused: the same GEMM with the pattern's epilogue (bias,
//! activation) applied in registers before the output tile is stored.

use super::elementwise;
use super::gemm::{sgemm, BLayout, Bias, Epilogue, Parallelism};
use crate::backend::{check_operators, Prepared, Variant};
use crate::dtype::HostBuffer;
use crate::pattern::{Op, Pattern, Shape};
use crate::Result;
use std::time::{Duration, Instant};

/// `C = A·B` for square matrices: the matmul calibration.
pub struct MatmulWork {
    n: usize,
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
}

impl MatmulWork {
    /// Copies the operands into backend-owned buffers.
    pub fn new(n: usize, a: &[f32], b: &[f32]) -> Self {
        MatmulWork {
            n,
            a: a.to_vec(),
            b: b.to_vec(),
            c: vec![0.0; n * n],
        }
    }
}

impl Prepared for MatmulWork {
    fn run(&mut self, _variant: Variant) -> Result<Duration> {
        let n = self.n;
        let t = Instant::now();
        sgemm(
            n,
            n,
            n,
            &self.a,
            n,
            &self.b,
            n,
            BLayout::RowMajor,
            &mut self.c,
            n,
            &Epilogue::NONE,
            Parallelism::Rayon,
        );
        Ok(t.elapsed())
    }

    fn output(&mut self, _variant: Variant) -> Result<HostBuffer> {
        Ok(HostBuffer::F32(self.c.clone()))
    }
}

/// One Linear pattern at one shape.
pub struct LinearWork {
    pattern: Pattern,
    m: usize,
    k: usize,
    n: usize,
    x: Vec<f32>,
    w: Vec<f32>,
    bias: Vec<f32>,
    unfused_out: Vec<f32>,
    fused_out: Vec<f32>,
}

impl LinearWork {
    /// Copies the inputs into backend-owned buffers.
    pub fn new(pattern: Pattern, shape: Shape, x: &[f32], w: &[f32], bias: &[f32]) -> Result<Self> {
        let Shape::Linear { m, k, n } = shape else {
            unreachable!("prepare checked the family")
        };
        check_operators(
            pattern,
            "the CPU linear kernels",
            &[
                Op::Linear,
                Op::Bias,
                Op::Relu,
                Op::Gelu,
                Op::Relu6,
                Op::Silu,
            ],
        )?;
        Ok(LinearWork {
            pattern,
            m,
            k,
            n,
            x: x.to_vec(),
            w: w.to_vec(),
            bias: bias.to_vec(),
            unfused_out: vec![0.0; m * n],
            fused_out: vec![0.0; m * n],
        })
    }

    fn gemm(&self, out: &mut [f32], epilogue: &Epilogue) {
        let (m, k, n) = (self.m, self.k, self.n);
        sgemm(
            m,
            n,
            k,
            &self.x,
            k,
            &self.w,
            n,
            BLayout::RowMajor,
            out,
            n,
            epilogue,
            Parallelism::Rayon,
        );
    }
}

impl Prepared for LinearWork {
    fn run(&mut self, variant: Variant) -> Result<Duration> {
        let mut out = std::mem::take(match variant {
            Variant::Fused => &mut self.fused_out,
            _ => &mut self.unfused_out,
        });
        let t = Instant::now();
        if variant == Variant::Fused {
            let e = self.pattern.epilogue();
            let epi = Epilogue {
                alpha: 1.0,
                bias: if e.bias {
                    Bias::PerCol(&self.bias)
                } else {
                    Bias::None
                },
                residual: None,
                activation: e.activation,
            };
            self.gemm(&mut out, &epi);
        } else {
            for op in self.pattern.operators() {
                match op.activation() {
                    Some(act) => elementwise::activate(&mut out, act),
                    None if *op == Op::Bias => elementwise::add_bias_cols(&mut out, &self.bias),
                    // Op::Linear: `new` checked that there is nothing else.
                    None => self.gemm(&mut out, &Epilogue::NONE),
                }
            }
        }
        let elapsed = t.elapsed();
        match variant {
            Variant::Fused => self.fused_out = out,
            _ => self.unfused_out = out,
        }
        Ok(elapsed)
    }

    fn output(&mut self, variant: Variant) -> Result<HostBuffer> {
        Ok(HostBuffer::F32(match variant {
            Variant::Fused => self.fused_out.clone(),
            _ => self.unfused_out.clone(),
        }))
    }
}
