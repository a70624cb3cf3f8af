//! Element types: what a workload's tensors hold, how a kernel accumulates them, and a
//! kernel's output read back in its type.
//!
//! The seam precisions come through: a [`DType`] is carried by workloads and inputs, gives the
//! element size the byte formulas use and the tolerance verification allows; an [`Accumulate`]
//! says in what type a kernel sums its products, which sets the rounding the check must allow;
//! a kernel's output comes back as a [`HostBuffer`] of the type it was written in, compared
//! with the f64 reference element by element. Fusion patterns compute in f32; the precision
//! matmuls and peaks ([`crate::precision`]) use every type here.

use crate::{Error, Result};

/// The element type of a workload's tensors (names as the Python calibrator spells them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    /// IEEE 754 double precision (`fp64`).
    F64,
    /// IEEE 754 single precision (`fp32`).
    F32,
    /// IEEE 754 half precision (`fp16`).
    F16,
    /// bfloat16: f32's exponent, 8 significand bits (`bf16`).
    BF16,
    /// 8-bit integers (`int8`; on the CPU unsigned × signed, as VNNI multiplies them).
    I8,
}

/// Unit roundoff (half an ulp of 1) of f32 and f16.
const U32: f64 = f32::EPSILON as f64 / 2.0;
const U16: f64 = 1.0 / 2048.0;

impl DType {
    /// Every precision, in the order profiles and tables list them.
    pub const ALL: [DType; 5] = [DType::F64, DType::F32, DType::F16, DType::BF16, DType::I8];

    /// Bytes per element.
    pub const fn size(self) -> u64 {
        match self {
            DType::F64 => 8,
            DType::F32 => 4,
            DType::F16 | DType::BF16 => 2,
            DType::I8 => 1,
        }
    }

    /// The name the Python calibrator uses (`fp64`, `fp32`, `fp16`, `bf16`, `int8`).
    pub const fn name(self) -> &'static str {
        match self {
            DType::F64 => "fp64",
            DType::F32 => "fp32",
            DType::F16 => "fp16",
            DType::BF16 => "bf16",
            DType::I8 => "int8",
        }
    }

    /// Whether it is an integer type (its rates are operations, not FLOPs).
    pub const fn is_integer(self) -> bool {
        matches!(self, DType::I8)
    }

    /// The unit of its rates: `GFLOPS`, or `GOPS` for integers.
    pub const fn rate_unit(self) -> &'static str {
        if self.is_integer() {
            "GOPS"
        } else {
            "GFLOPS"
        }
    }

    /// The precision a name denotes: the Python tool's names and common aliases (`f32`,
    /// `float16`, `i8`, …), case-insensitive.
    pub fn parse(name: &str) -> Result<DType> {
        match name.trim().to_ascii_lowercase().as_str() {
            "fp64" | "f64" | "float64" | "double" => Ok(DType::F64),
            "fp32" | "f32" | "float32" | "float" => Ok(DType::F32),
            "fp16" | "f16" | "float16" | "half" => Ok(DType::F16),
            "bf16" | "bfloat16" => Ok(DType::BF16),
            "int8" | "i8" | "u8" | "uint8" => Ok(DType::I8),
            "tf32" => Err(Error::usage(
                "precision tf32 is a tensor-core mode of CUDA devices, which hwcal's backends \
                 (CPU, WGSL) cannot select; choose from fp64, fp32, fp16, bf16, int8",
            )),
            other => Err(Error::usage(format!(
                "unknown precision `{other}`; choose from fp64, fp32, fp16, bf16, int8, or all"
            ))),
        }
    }

    /// `(rtol, atol)` for an output element that sums `reduction` products computed in this
    /// type, checked as `|x − r| ≤ atol + rtol·|r|` against the f64 reference: the rounding
    /// error of a sum grows with its length, so the absolute part scales with it. Inputs are
    /// exactly representable (they were rounded to the type before the reference was
    /// computed), so only the accumulation rounds; see [`Accumulate::tolerance`].
    pub fn tolerance(self, reduction: usize) -> (f64, f64) {
        match self {
            // Unchanged since f32 was the only type: the fusion patterns' tolerance.
            DType::F32 => (1e-3, 2e-6 * reduction as f64 + 1e-6),
            DType::F64 => Accumulate::F64.tolerance(reduction),
            DType::F16 => Accumulate::F16Chunks { chunk: 32 }.tolerance(reduction),
            DType::BF16 => Accumulate::F32.tolerance(reduction),
            DType::I8 => Accumulate::I32.tolerance(reduction),
        }
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for DType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The type a kernel sums its products in (recorded with each precision's matmul).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Accumulate {
    /// f64 sums (the f64 GEMM).
    F64,
    /// f32 sums (f32 GEMM, and bf16 inputs multiplied into f32, as `vdpbf16ps` does).
    F32,
    /// f16 sums over runs of `chunk` products, each run's sum added into f32 (the WGSL f16
    /// matmul: f16 arithmetic where it is fast, without an f16 sum of thousands of terms).
    F16Chunks {
        /// Products per f16 partial sum.
        chunk: usize,
    },
    /// Exact i32 sums (int8 products, as `vpdpbusd` and `dot4I8Packed` compute them).
    I32,
}

impl Accumulate {
    /// Name for tables and profiles (`f64`, `f32`, `f16x32+f32`, `i32`).
    pub fn name(self) -> String {
        match self {
            Accumulate::F64 => "f64".into(),
            Accumulate::F32 => "f32".into(),
            Accumulate::F16Chunks { chunk } => format!("f16x{chunk}+f32"),
            Accumulate::I32 => "i32".into(),
        }
    }

    /// `(rtol, atol)` for a dot product of `k` terms whose inputs are exact in their type
    /// and whose magnitudes are at most 1 (hwcal's matmul operands), summed this way.
    ///
    /// A recursive sum of `k` terms each ≤ 1 has an error bound of about `k·u·k` in the
    /// worst case, but `u·√k·k`-ish in practice; the checks use `32·u·k + 16·u` as the
    /// absolute part (well above the typical error of random-sign sums, far below the
    /// error of a wrong kernel, which is of the order of the terms) and a small relative
    /// part. Integer sums are exact: tolerance zero.
    pub fn tolerance(self, k: usize) -> (f64, f64) {
        let k = k as f64;
        let bound = |u: f64| 32.0 * u * k + 16.0 * u;
        match self {
            Accumulate::F64 => (1e3 * f64::EPSILON, bound(f64::EPSILON / 2.0)),
            Accumulate::F32 => (1e-3, bound(U32)),
            // Each product and each partial sum rounds in f16. For operands uniform in
            // [-1, 1] a product's spread is σ = 1/3 and the partial sums of a run grow like
            // √j·σ, so the rounding errors of a run of `c` adds have a spread of about
            // u·σ·c/√6 and those of k/c runs, about u·σ·√(k·c)/√6. The check allows
            // 6·u·σ·√(k·c) (≈ 15 of those spreads) plus the products' own rounding
            // (6·u·σ·√k) and the f32 sum of the runs: 0.21 at k = 1024, where a kernel
            // that drops or doubles one term is off by 0.25 on average.
            Accumulate::F16Chunks { chunk } => {
                let c = (chunk.max(1) as f64).min(k.max(1.0));
                let sigma = 1.0 / 3.0;
                (
                    1e-2,
                    6.0 * U16 * sigma * ((k * c).sqrt() + k.sqrt()) + bound(U32),
                )
            }
            Accumulate::I32 => (0.0, 0.0),
        }
    }
}

/// A kernel's output read back to the host, in its element type.
#[derive(Clone, Debug, PartialEq)]
pub enum HostBuffer {
    /// f32 elements.
    F32(Vec<f32>),
    /// f64 elements (the f64 GEMM).
    F64(Vec<f64>),
    /// i32 elements (int8 matmuls' exact sums).
    I32(Vec<i32>),
}

impl HostBuffer {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            HostBuffer::F32(v) => v.len(),
            HostBuffer::F64(v) => v.len(),
            HostBuffer::I32(v) => v.len(),
        }
    }

    /// Whether it holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Elements `range`, widened to f64 for comparison with the reference (i32 sums are
    /// exact in f64).
    pub fn to_f64(&self, range: std::ops::Range<usize>) -> Vec<f64> {
        match self {
            HostBuffer::F32(v) => v[range].iter().map(|&x| f64::from(x)).collect(),
            HostBuffer::F64(v) => v[range].to_vec(),
            HostBuffer::I32(v) => v[range].iter().map(|&x| f64::from(x)).collect(),
        }
    }

    /// The f32 elements; an error naming `what` when the kernel wrote another type (a
    /// backend bug, reported instead of misread).
    pub fn into_f32(self, what: &str) -> Result<Vec<f32>> {
        match self {
            HostBuffer::F32(v) => Ok(v),
            other => Err(Error::usage(format!(
                "{what}: expected an f32 output, the kernel wrote {}",
                other.kind()
            ))),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            HostBuffer::F32(_) => "f32",
            HostBuffer::F64(_) => "f64",
            HostBuffer::I32(_) => "i32",
        }
    }
}

impl From<Vec<f32>> for HostBuffer {
    fn from(v: Vec<f32>) -> Self {
        HostBuffer::F32(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_is_four_bytes_and_its_tolerance_grows_with_the_reduction() {
        assert_eq!(DType::F32.size(), 4);
        assert_eq!(DType::F32.name(), "fp32");
        let (r1, a1) = DType::F32.tolerance(16);
        let (r2, a2) = DType::F32.tolerance(4096);
        assert_eq!(r1, r2);
        assert!(a2 > a1);
        let b = HostBuffer::from(vec![1.0f32, 2.5, -3.0]);
        assert_eq!(b.len(), 3);
        assert_eq!(b.to_f64(1..3), [2.5, -3.0]);
        assert!(HostBuffer::I32(vec![1]).into_f32("t").is_err());
    }

    #[test]
    fn names_parse_back_and_aliases_and_tf32_are_handled() {
        for d in DType::ALL {
            assert_eq!(DType::parse(d.name()).unwrap(), d);
        }
        assert_eq!(DType::parse("Float16").unwrap(), DType::F16);
        assert!(DType::parse("tf32")
            .unwrap_err()
            .to_string()
            .contains("tensor-core"));
        assert!(DType::parse("fp8")
            .unwrap_err()
            .to_string()
            .contains("unknown"));
    }

    #[test]
    fn tolerances_order_by_precision_and_integers_are_exact() {
        let k = 1024;
        let f64a = Accumulate::F64.tolerance(k).1;
        let f32a = Accumulate::F32.tolerance(k).1;
        let f16a = Accumulate::F16Chunks { chunk: 32 }.tolerance(k).1;
        assert!(f64a < f32a && f32a < f16a, "{f64a} {f32a} {f16a}");
        // A wrong f16 kernel (off by one term of ~0.25) must still fail at k = 1024.
        assert!(f16a < 0.25, "{f16a}");
        assert_eq!(Accumulate::I32.tolerance(k), (0.0, 0.0));
        assert_eq!(Accumulate::F16Chunks { chunk: 32 }.name(), "f16x32+f32");
    }

    #[test]
    fn the_f16_tolerance_holds_a_real_chunked_f16_sum_with_margin() {
        // Sum runs of 32 products in f16 (each product and partial rounded), the runs in
        // f32, as the f16 kernels do; the worst error over many rows must sit well inside
        // the tolerance, or the check would fail correct kernels on other seeds.
        let k = 1024;
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            half::f16::from_f64(((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0)
        };
        let (_, atol) = Accumulate::F16Chunks { chunk: 32 }.tolerance(k);
        let mut worst = 0.0f64;
        for _ in 0..64 {
            let (a, b): (Vec<_>, Vec<_>) = (0..k).map(|_| (next(), next())).unzip();
            let exact: f64 = a.iter().zip(&b).map(|(x, y)| x.to_f64() * y.to_f64()).sum();
            let mut total = 0.0f32;
            for run in a.chunks(32).zip(b.chunks(32)) {
                let mut s = half::f16::ZERO;
                for (x, y) in run.0.iter().zip(run.1) {
                    s += *x * *y;
                }
                total += s.to_f32();
            }
            worst = worst.max((f64::from(total) - exact).abs());
        }
        assert!(
            worst > 0.0 && worst < atol / 3.0,
            "worst {worst}, atol {atol}"
        );
    }
}
