//! Matmul and the Linear family: `act(x·W + b)`, `x·W + b + r`, `silu(x·W_gate) ⊙ (x·W_up)`.
//!
//! Unfused: one kernel per operator of the pattern (GEMM, then a bias pass, a residual add, an
//! activation pass; SwiGLU: gate GEMM, SiLU pass, up GEMM, multiply pass), each over the whole
//! output. Fused: the same GEMM with the pattern's epilogue (bias, residual, activation) applied
//! in registers before the output tile is stored; SwiGLU's two GEMMs run as one gated pass
//! (`gemm::sgemm_gated`) that writes the output once and neither product.

use super::elementwise;
use super::gemm::{sgemm, sgemm_gated, BLayout, Bias, Epilogue, Parallelism, Residual};
use super::Outputs;
use crate::backend::{check_operators, Activations, Prepared, Variant};
use crate::dtype::HostBuffer;
use crate::pattern::{Op, Pattern, Shape};
use crate::{Error, Result};
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
    /// The residual (`m×n`) of the patterns that add one, else empty.
    residual: Vec<f32>,
    /// The up projection (`k×n`) of a gated pattern, else empty.
    w_up: Vec<f32>,
    /// The unfused chain's up product (gated patterns only): the tensor its multiply reads.
    up_out: Vec<f32>,
    outputs: Outputs,
}

impl LinearWork {
    /// Copies the inputs into backend-owned buffers. `residual` and `w_up` are required by
    /// the patterns whose epilogue adds a residual resp. is gated, and ignored otherwise.
    pub fn new(
        pattern: Pattern,
        shape: Shape,
        x: &[f32],
        w: &[f32],
        bias: &[f32],
        residual: Option<&[f32]>,
        w_up: Option<&[f32]>,
    ) -> Result<Self> {
        let Shape::Linear { m, k, n } = shape else {
            unreachable!("prepare checked the family")
        };
        check_operators(
            pattern,
            "the CPU linear kernels",
            &[Op::Linear, Op::Bias, Op::Add, Op::Mul],
            Activations::Any,
        )?;
        let e = pattern.epilogue();
        let missing = |what: &str| {
            Error::usage(format!(
                "{}: the CPU linear kernels need the {what} input",
                pattern.name()
            ))
        };
        let residual = match residual {
            Some(r) if e.residual => r.to_vec(),
            None if e.residual => return Err(missing("residual")),
            _ => Vec::new(),
        };
        let w_up = match w_up {
            Some(u) if e.gate => u.to_vec(),
            None if e.gate => return Err(missing("up projection W_up")),
            _ => Vec::new(),
        };
        let products = pattern
            .operators()
            .iter()
            .filter(|&&op| op == Op::Linear)
            .count();
        if products != 1 + usize::from(e.gate) {
            return Err(Error::usage(format!(
                "{}: the CPU linear kernels run one product, or two for a gated pattern \
                 (this one has {products})",
                pattern.name()
            )));
        }
        if e.gate && (e.bias || e.residual) {
            // The gated GEMM multiplies two plain products; no row of the table asks for
            // more, and a silent half-fusion would measure something else.
            return Err(Error::usage(format!(
                "{}: the CPU gated linear kernel has no bias or residual",
                pattern.name()
            )));
        }
        Ok(LinearWork {
            pattern,
            m,
            k,
            n,
            x: x.to_vec(),
            w: w.to_vec(),
            bias: bias.to_vec(),
            residual,
            up_out: if e.gate { vec![0.0; m * n] } else { Vec::new() },
            w_up,
            outputs: Outputs::new(m * n),
        })
    }

    /// `out = epilogue(x·w)` for `w` the weights or the up projection (`k×n` each).
    fn gemm(&self, w: &[f32], out: &mut [f32], epilogue: &Epilogue) {
        let (m, k, n) = (self.m, self.k, self.n);
        sgemm(
            m,
            n,
            k,
            &self.x,
            k,
            w,
            n,
            BLayout::RowMajor,
            out,
            n,
            epilogue,
            Parallelism::Rayon,
        );
    }

    /// The fused kernel: one GEMM with the pattern's epilogue (bias, residual, activation) in
    /// its store phase, or for a gated pattern both products in one pass with the gate applied
    /// as the output tile is stored.
    fn fused(&self, out: &mut [f32]) {
        let e = self.pattern.epilogue();
        if e.gate {
            let (m, k, n) = (self.m, self.k, self.n);
            sgemm_gated(
                m,
                n,
                k,
                &self.x,
                k,
                &self.w,
                &self.w_up,
                n,
                BLayout::RowMajor,
                out,
                n,
                e.activation,
                Parallelism::Rayon,
            );
            return;
        }
        let epi = Epilogue {
            alpha: 1.0,
            bias: if e.bias {
                Bias::PerCol(&self.bias)
            } else {
                Bias::None
            },
            residual: e.residual.then_some(Residual {
                values: &self.residual,
                ld: self.n,
            }),
            activation: e.activation,
        };
        self.gemm(&self.w, out, &epi);
    }

    /// The unfused chain: one whole-tensor kernel per operator. A gated pattern's first
    /// `Linear` is the gate product (into the output), its second the up product (into its
    /// own tensor, which the `Mul` then reads).
    fn unfused(&mut self, out: &mut [f32]) {
        let mut up_out = std::mem::take(&mut self.up_out);
        let mut products = 0;
        for op in self.pattern.operators() {
            match (op, op.activation()) {
                (_, Some(act)) => elementwise::activate(out, act),
                (Op::Bias, _) => elementwise::add_bias_cols(out, &self.bias),
                (Op::Add, _) => elementwise::add_residual(out, &self.residual),
                (Op::Mul, _) => elementwise::multiply(out, &up_out),
                // Op::Linear: `new` checked that there is nothing else.
                _ => {
                    if products == 0 {
                        self.gemm(&self.w, out, &Epilogue::NONE);
                    } else {
                        self.gemm(&self.w_up, &mut up_out, &Epilogue::NONE);
                    }
                    products += 1;
                }
            }
        }
        self.up_out = up_out;
    }
}

impl Prepared for LinearWork {
    fn run(&mut self, variant: Variant) -> Result<Duration> {
        let mut out = self.outputs.take(variant);
        let t = Instant::now();
        if variant == Variant::Fused {
            self.fused(&mut out);
        } else {
            self.unfused(&mut out);
        }
        let elapsed = t.elapsed();
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
    use crate::stats::check_tolerance;

    /// Both variants of the residual and gated patterns against the f64 reference with K past
    /// every kernel's K block (the tiny preset's shapes have one), so the residual and the gate
    /// are applied on the last of several K blocks and the gate's partial sums go through its
    /// scratch; 13 rows and 37 columns leave partial tiles on every kernel.
    #[test]
    fn residual_and_gated_patterns_verify_past_one_k_block() {
        let (m, k, n) = (13, 1100, 37);
        let shape = Shape::Linear { m, k, n };
        for pattern in [Pattern::LinearBiasAdd, Pattern::LinearSwiglu] {
            let inputs = Inputs::generate(pattern, &shape, 3);
            let InputSlices::Linear {
                x,
                w,
                bias,
                residual,
                w_up,
            } = inputs.slices(pattern, &shape).unwrap()
            else {
                unreachable!("a linear shape has linear inputs")
            };
            let mut work = LinearWork::new(pattern, shape, x, w, bias, residual, w_up).unwrap();
            let reference = Reference::new(pattern, shape, &inputs).unwrap();
            let want: Vec<f64> = (0..m).flat_map(|r| reference.row(r).to_vec()).collect();
            let (rtol, atol) = reference.tolerance(DType::F32);
            for variant in [Variant::Unfused, Variant::Fused] {
                work.run(variant).unwrap();
                let got = work.output(variant).unwrap().into_f32("test").unwrap();
                let c = check_tolerance(&got, &want, rtol, atol);
                assert!(c.passed, "{} {variant:?}: {}", pattern.name(), c.describe());
            }
        }
    }

    #[test]
    fn missing_inputs_are_usage_errors() {
        let shape = Shape::Linear { m: 2, k: 3, n: 4 };
        let (x, w, b) = ([0.0f32; 6], [0.0f32; 12], [0.0f32; 4]);
        let e = LinearWork::new(Pattern::LinearBiasAdd, shape, &x, &w, &b, None, None);
        assert!(e.err().unwrap().to_string().contains("residual"));
        let e = LinearWork::new(Pattern::LinearSwiglu, shape, &x, &w, &b, None, None);
        assert!(e.err().unwrap().to_string().contains("W_up"));
    }
}
