//! Precisions: what is measured per element type, written once for every backend.
//!
//! Two measurements per precision (see `docs/precisions.md`):
//! - the **peak**: independent FMA (or dot-product) chains that fill the device's pipes, one
//!   [`Workload::Peak`](crate::backend::Workload::Peak) per precision and [`PeakWidth`]; every
//!   lane of every chain adds an exact amount per step, so its final value has a closed form
//!   ([`chain_value`]) the output is checked against before the time counts;
//! - the **matmul**: an `n×n` GEMM with operands of the type ([`PrecisionInputs`]), verified
//!   against the f64 product of the same (already rounded) operands with the tolerance of its
//!   [`Accumulate`](crate::dtype::Accumulate) type.
//!
//! Backends say what they can run natively; what they cannot is an
//! [`Error::Unsupported`] with the reason, never an emulated figure.

use crate::dtype::DType;
use crate::{Error, Result};
use rand::{rngs::SmallRng, Rng, SeedableRng};

/// Which instructions a peak measurement issues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PeakWidth {
    /// One element per instruction (scalar FMA).
    Scalar,
    /// The widest vector the device has (AVX-512, AVX2, NEON; a GPU's invocations).
    Vector,
    /// Matrix units (AMX tiles), where the device has them.
    Matrix,
}

impl PeakWidth {
    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            PeakWidth::Scalar => "scalar",
            PeakWidth::Vector => "vector",
            PeakWidth::Matrix => "matrix",
        }
    }

    /// Every width, in the order tables list them.
    pub const ALL: [PeakWidth; 3] = [PeakWidth::Scalar, PeakWidth::Vector, PeakWidth::Matrix];
}

/// What one run of a prepared peak does, reported by the backend so that the loop can turn
/// its time into a rate and check its output against the closed form.
#[derive(Clone, Debug, PartialEq)]
pub struct PeakRun {
    /// Operations one run performs, every lane of every thread together: FLOPs with an FMA
    /// counted as 2, or integer multiply-adds counted as 2 (the convention of GOPS figures).
    pub ops_per_run: f64,
    /// The value every output lane starts from at the beginning of a run.
    pub start: f64,
    /// Exact units every lane adds during one run (steps × units per step: 1 for
    /// `x = fma(x, 1, 1)`, 2 for `vdpbf16ps` of ones, 4 for `vpdpbusd` of ones).
    pub units_per_run: u64,
    /// The instruction the chains issue, e.g. `vfmadd231ps zmm (AVX-512)`.
    pub instruction: String,
    /// The core clock measured under the same all-thread load, MHz, where it can be measured
    /// (a dependent chain of integer adds on the CPU); `None` on GPUs.
    pub clock_mhz: Option<f64>,
}

/// The value a lane of a peak chain in `precision` holds after adding `units` exact units to
/// `start`, with the type's own arithmetic: exact integers in f64/f32/bf16's f32 accumulator
/// while they fit the significand; f16 sticks at 2048 (2048 + 1 rounds back to 2048, ties to
/// even); int8 dot products accumulate in i32, which wraps.
pub fn chain_value(precision: DType, start: f64, units: u64) -> f64 {
    match precision {
        DType::F64 | DType::F32 | DType::BF16 => start + units as f64,
        DType::F16 => (start + units as f64).min(start.max(2048.0)),
        DType::I8 => (start as i64 as i32).wrapping_add(units as i32) as f64,
    }
}

/// Most units a lane may add in one run while [`chain_value`] stays exact for float types
/// (`2^24` for f32 and bf16's f32 accumulator, `2^53` for f64; f16 saturates instead, and
/// i32 wraps, so neither has a limit).
pub fn max_exact_units(precision: DType) -> u64 {
    match precision {
        DType::F64 => 1 << 53,
        DType::F32 | DType::BF16 => 1 << 24,
        DType::F16 | DType::I8 => u64::MAX,
    }
}

/// The operands of a precision matmul, in the type the kernels read.
#[derive(Clone, Debug)]
pub enum Operands {
    /// f64 matrices.
    F64 {
        /// Left operand, `n×n` row-major.
        a: Vec<f64>,
        /// Right operand, `n×n` row-major.
        b: Vec<f64>,
    },
    /// f16 matrices.
    F16 {
        /// Left operand, `n×n` row-major.
        a: Vec<half::f16>,
        /// Right operand, `n×n` row-major.
        b: Vec<half::f16>,
    },
    /// bf16 matrices.
    Bf16 {
        /// Left operand, `n×n` row-major.
        a: Vec<half::bf16>,
        /// Right operand, `n×n` row-major.
        b: Vec<half::bf16>,
    },
    /// int8 matrices: `a` in `0..=127` (valid as u8 for VNNI's unsigned × signed products and
    /// as i8 for WGSL's `dot4I8Packed`), `b` in `-127..=127`.
    I8 {
        /// Left operand, `n×n` row-major.
        a: Vec<u8>,
        /// Right operand, `n×n` row-major.
        b: Vec<i8>,
    },
}

/// The inputs of an `n×n` matmul in one precision, with their exact f64 values for the
/// reference (the operands are rounded to the type first, so the reference sees exactly what
/// the kernel reads).
#[derive(Clone, Debug)]
pub struct PrecisionInputs {
    /// Matrix size.
    pub n: usize,
    /// The operands in the kernel's type.
    pub operands: Operands,
    a64: Vec<f64>,
    b64: Vec<f64>,
}

impl PrecisionInputs {
    /// Random operands of `precision`, deterministic in `seed`: floats uniform in `[-1, 1)`
    /// rounded to the type; int8 as [`Operands::I8`] describes. f32 matmuls use
    /// [`crate::calibrate::MatmulInputs`].
    pub fn new(precision: DType, n: usize, seed: u64) -> Result<Self> {
        if n == 0 {
            return Err(Error::usage("matmul size must be at least 1"));
        }
        let elements = n.checked_mul(n).ok_or_else(|| {
            Error::DeviceLimit(format!("matmul {n}×{n}: the element count overflows"))
        })?;
        let mut rng = SmallRng::seed_from_u64(seed ^ 0x9E37_79B9);
        let mut uniform =
            |count: usize| -> Vec<f64> { (0..count).map(|_| rng.gen_range(-1.0..1.0)).collect() };
        let (operands, a64, b64) = match precision {
            DType::F64 => {
                let (a, b) = (uniform(elements), uniform(elements));
                (
                    Operands::F64 {
                        a: a.clone(),
                        b: b.clone(),
                    },
                    a,
                    b,
                )
            }
            DType::F16 => {
                let a: Vec<_> = uniform(elements)
                    .into_iter()
                    .map(half::f16::from_f64)
                    .collect();
                let b: Vec<_> = uniform(elements)
                    .into_iter()
                    .map(half::f16::from_f64)
                    .collect();
                let (a64, b64) = (
                    a.iter().map(|x| x.to_f64()).collect(),
                    b.iter().map(|x| x.to_f64()).collect(),
                );
                (Operands::F16 { a, b }, a64, b64)
            }
            DType::BF16 => {
                let a: Vec<_> = uniform(elements)
                    .into_iter()
                    .map(half::bf16::from_f64)
                    .collect();
                let b: Vec<_> = uniform(elements)
                    .into_iter()
                    .map(half::bf16::from_f64)
                    .collect();
                let (a64, b64) = (
                    a.iter().map(|x| x.to_f64()).collect(),
                    b.iter().map(|x| x.to_f64()).collect(),
                );
                (Operands::Bf16 { a, b }, a64, b64)
            }
            DType::I8 => {
                let a: Vec<u8> = (0..elements).map(|_| rng.gen_range(0..=127)).collect();
                let b: Vec<i8> = (0..elements).map(|_| rng.gen_range(-127..=127)).collect();
                let (a64, b64) = (
                    a.iter().map(|&x| f64::from(x)).collect(),
                    b.iter().map(|&x| f64::from(x)).collect(),
                );
                (Operands::I8 { a, b }, a64, b64)
            }
            DType::F32 => {
                return Err(Error::usage(
                    "f32 matmul inputs are calibrate::MatmulInputs, not PrecisionInputs",
                ))
            }
        };
        Ok(PrecisionInputs {
            n,
            operands,
            a64,
            b64,
        })
    }

    /// The operands' precision.
    pub fn precision(&self) -> DType {
        match self.operands {
            Operands::F64 { .. } => DType::F64,
            Operands::F16 { .. } => DType::F16,
            Operands::Bf16 { .. } => DType::BF16,
            Operands::I8 { .. } => DType::I8,
        }
    }

    /// Row `r` of the exact product `A·B`, in f64.
    pub fn reference_row(&self, r: usize) -> Vec<f64> {
        let n = self.n;
        let mut row = vec![0.0; n];
        for (k, &a) in self.a64[r * n..(r + 1) * n].iter().enumerate() {
            for (o, &b) in row.iter_mut().zip(&self.b64[k * n..(k + 1) * n]) {
                *o += a * b;
            }
        }
        row
    }
}

/// A device's theoretical peak in one precision, from its ISA and microarchitecture tables.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TheoreticalPeak {
    /// The precision.
    pub precision: DType,
    /// The units it counts (vector FMA units, scalar, matrix tiles).
    pub width: PeakWidth,
    /// Operations (FMA = 2) one core retires per cycle at full vector width.
    pub ops_per_cycle_per_core: f64,
    /// Cores counted.
    pub cores: usize,
    /// Clock the table assumes, MHz (the reported base or maximum clock).
    pub clock_mhz: f64,
    /// How it was derived, e.g. `2 × 512-bit FMA units (Sapphire Rapids)`.
    pub how: String,
}

impl TheoreticalPeak {
    /// The peak at the table's clock, in G(FL)OPS.
    pub fn gops(&self) -> f64 {
        self.gops_at(self.clock_mhz)
    }

    /// The peak at `mhz` (e.g. the clock measured under load), in G(FL)OPS.
    pub fn gops_at(&self, mhz: f64) -> f64 {
        self.ops_per_cycle_per_core * self.cores as f64 * mhz / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_have_closed_forms_with_saturation_and_wrapping() {
        assert_eq!(chain_value(DType::F32, 1.0, 1000), 1001.0);
        assert_eq!(chain_value(DType::F16, 1.0, 5000), 2048.0);
        assert_eq!(chain_value(DType::F16, 1.0, 100), 101.0);
        assert_eq!(
            chain_value(DType::I8, 0.0, (1u64 << 31) + 4),
            f64::from(i32::MIN + 4)
        );
        assert!(max_exact_units(DType::F32) < max_exact_units(DType::F64));
    }

    #[test]
    fn inputs_are_exact_in_their_type_and_the_reference_uses_them() {
        let inputs = PrecisionInputs::new(DType::BF16, 8, 1).unwrap();
        let Operands::Bf16 { a, b } = &inputs.operands else {
            panic!("bf16 inputs")
        };
        let want: f64 = (0..8).map(|k| a[k].to_f64() * b[k * 8].to_f64()).sum();
        assert!((inputs.reference_row(0)[0] - want).abs() < 1e-12);
        let i8s = PrecisionInputs::new(DType::I8, 16, 2).unwrap();
        let Operands::I8 { a, b } = &i8s.operands else {
            panic!("int8 inputs")
        };
        assert!(a.iter().all(|&x| x <= 127) && b.iter().all(|&x| x >= -127));
        assert!(PrecisionInputs::new(DType::F32, 4, 0).is_err());
        assert!(PrecisionInputs::new(DType::F64, 0, 0).is_err());
    }

    #[test]
    fn a_theoretical_peak_scales_with_the_clock() {
        let p = TheoreticalPeak {
            precision: DType::F32,
            width: PeakWidth::Vector,
            ops_per_cycle_per_core: 64.0,
            cores: 2,
            clock_mhz: 2000.0,
            how: "test".into(),
        };
        assert_eq!(p.gops(), 256.0);
        assert_eq!(p.gops_at(1000.0), 128.0);
    }
}
