//! Matmuls in the other precisions on the CPU: f64 ([`f64_gemm`]), and bf16 and int8 on AMX tiles
//! ([`tiles`]), both with the packed f32 GEMM's structure (packed operands, register- or
//! tile-blocked microkernel, C stored once).
//!
//! What this CPU has no native instruction for is [`Error::Unsupported`] with the reason:
//! bf16 and int8 need AMX here (`vdpbf16ps` and `vpdpbusd` GEMMs are not written; the peaks
//! measure those instructions), and fp16 has no CPU GEMM.

pub mod f64_gemm;
pub mod tiles;

use crate::backend::{Prepared, Variant};
use crate::dtype::{Accumulate, HostBuffer};
use crate::precision::{Operands, PrecisionInputs};
use crate::{Error, Result};
use std::time::{Duration, Instant};

use self::f64_gemm::F64Gemm;
use self::tiles::{TileGemm, TileKind};

/// The kernel of a prepared precision matmul, with its operands.
enum Kernel {
    F64 {
        gemm: F64Gemm,
        a: Vec<f64>,
        b: Vec<f64>,
        c: Vec<f64>,
    },
    Tiles {
        gemm: TileGemm,
        kind: TileKind,
        a: Vec<u8>,
        b: Vec<u8>,
        c: Vec<u32>,
    },
}

/// A prepared `n×n` matmul in f64, bf16 or int8.
pub struct PrecisionMatmulWork {
    kernel: Kernel,
}

impl PrecisionMatmulWork {
    /// Copies the operands into backend-owned buffers in the kernel's layout; an error when
    /// this CPU has no native kernel for their precision.
    pub fn new(inputs: &PrecisionInputs) -> Result<Self> {
        let n = inputs.n;
        let elements = n
            .checked_mul(n)
            .ok_or_else(|| Error::DeviceLimit(format!("matmul {n}×{n}: too many elements")))?;
        let (amx, refused) = super::amx::support();
        let no_amx = |what: &str| {
            Error::Unsupported(format!(
                "{what} matmul: {}; the CPU backend's {what} GEMM runs on AMX tiles only",
                refused.unwrap_or("this CPU has no AMX tile unit for it")
            ))
        };
        let kernel = match &inputs.operands {
            Operands::F64 { a, b } => Kernel::F64 {
                gemm: F64Gemm::new(n)?,
                a: a.clone(),
                b: b.clone(),
                c: vec![0.0; elements],
            },
            Operands::Bf16 { a, b } if amx.bf16 => Kernel::Tiles {
                gemm: TileGemm::new(TileKind::Bf16, n)?,
                kind: TileKind::Bf16,
                a: a.iter().flat_map(|x| x.to_bits().to_le_bytes()).collect(),
                b: b.iter().flat_map(|x| x.to_bits().to_le_bytes()).collect(),
                c: vec![0; elements],
            },
            Operands::I8 { a, b } if amx.int8 => Kernel::Tiles {
                gemm: TileGemm::new(TileKind::Int8, n)?,
                kind: TileKind::Int8,
                a: a.clone(),
                b: b.iter().map(|&x| x as u8).collect(),
                c: vec![0; elements],
            },
            Operands::Bf16 { .. } => return Err(no_amx("bf16")),
            Operands::I8 { .. } => return Err(no_amx("int8")),
            Operands::F16 { .. } => {
                return Err(Error::Unsupported(
                    "fp16 matmul: the CPU backend has no fp16 GEMM (its fp16 peak measures \
                     AVX512-FP16 where the CPU has it)"
                        .into(),
                ))
            }
        };
        Ok(PrecisionMatmulWork { kernel })
    }
}

impl Prepared for PrecisionMatmulWork {
    fn run(&mut self, _variant: Variant) -> Result<Duration> {
        let t = Instant::now();
        match &mut self.kernel {
            Kernel::F64 { gemm, a, b, c } => gemm.multiply(a, b, c),
            // SAFETY: `new` chose the tile kernel only where `amx::support` reported the
            // tile unit for this kind usable (CPUID, XCR0 and the process's permission).
            Kernel::Tiles { gemm, a, b, c, .. } => unsafe { gemm.multiply(a, b, c) },
        }
        Ok(t.elapsed())
    }

    fn output(&mut self, _variant: Variant) -> Result<HostBuffer> {
        Ok(match &self.kernel {
            Kernel::F64 { c, .. } => HostBuffer::F64(c.clone()),
            Kernel::Tiles {
                kind: TileKind::Bf16,
                c,
                ..
            } => HostBuffer::F32(c.iter().map(|&x| f32::from_bits(x)).collect()),
            Kernel::Tiles {
                kind: TileKind::Int8,
                c,
                ..
            } => HostBuffer::I32(c.iter().map(|&x| x as i32).collect()),
        })
    }

    fn accumulate(&self) -> Option<Accumulate> {
        Some(match &self.kernel {
            Kernel::F64 { .. } => Accumulate::F64,
            Kernel::Tiles {
                kind: TileKind::Bf16,
                ..
            } => Accumulate::F32,
            Kernel::Tiles {
                kind: TileKind::Int8,
                ..
            } => Accumulate::I32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;

    /// Every precision this CPU multiplies natively agrees with the f64 reference within its
    /// accumulate type's tolerance, at sizes that cross every tile and panel edge; the others
    /// are refused with a reason.
    #[test]
    fn every_native_precision_matmul_verifies_and_the_rest_say_why() {
        for precision in [DType::F64, DType::F16, DType::BF16, DType::I8] {
            for n in [1, 17, 33, 70, 161] {
                let inputs = PrecisionInputs::new(precision, n, 7).unwrap();
                let mut work = match PrecisionMatmulWork::new(&inputs) {
                    Ok(w) => w,
                    Err(Error::Unsupported(why)) => {
                        assert!(why.contains(precision.name()), "{why}");
                        continue;
                    }
                    Err(e) => panic!("{precision}: {e}"),
                };
                work.run(Variant::Single).unwrap();
                let out = work.output(Variant::Single).unwrap();
                let (rtol, atol) = work.accumulate().unwrap().tolerance(n);
                for r in 0..n {
                    let want = inputs.reference_row(r);
                    let got = out.to_f64(r * n..(r + 1) * n);
                    for (g, w) in got.iter().zip(&want) {
                        assert!(
                            (g - w).abs() <= atol + rtol * w.abs(),
                            "{precision} n={n} row {r}: {g} vs {w}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn f64_is_always_native() {
        let inputs = PrecisionInputs::new(DType::F64, 3, 1).unwrap();
        let work = PrecisionMatmulWork::new(&inputs).unwrap();
        assert_eq!(work.accumulate(), Some(Accumulate::F64));
    }
}
