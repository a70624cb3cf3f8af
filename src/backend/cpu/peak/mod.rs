//! Peak compute per precision on the CPU: the [`chains`] loops on every worker at once.
//!
//! A [`PeakWork`] picks the instruction this CPU runs natively for a precision and width
//! ([`select`]), sizes a run to a few milliseconds, and measures the core clock under that
//! load ([`clock`]). Every run loads the chains from the start value, steps them, and reads
//! every lane of every worker back, so the loop can check each against
//! [`crate::precision::chain_value`] before the time counts. What the CPU has no instruction
//! for is [`Error::Unsupported`] with the reason: there is no emulated peak.

mod chains;
mod clock;

use crate::backend::{Prepared, Variant};
use crate::dtype::{DType, HostBuffer};
use crate::precision::{max_exact_units, PeakRun, PeakWidth};
use crate::{Error, Result};
use std::time::{Duration, Instant};

/// How long one run should take: long enough that waking the workers (tens of µs) costs
/// under 1%.
const TARGET_RUN: Duration = Duration::from_millis(4);

/// The value every lane starts from (not zero, so a loop that stored its registers without
/// loading them fails the check).
const START: f64 = 1.0;

/// How a lane of the accumulators is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lane {
    F64,
    F32,
    F16,
    I32,
}

impl Lane {
    fn bytes(self) -> usize {
        match self {
            Lane::F64 => 8,
            Lane::F32 | Lane::I32 => 4,
            Lane::F16 => 2,
        }
    }

    fn encode(self, v: f64) -> Vec<u8> {
        match self {
            Lane::F64 => v.to_le_bytes().to_vec(),
            Lane::F32 => (v as f32).to_le_bytes().to_vec(),
            Lane::F16 => half::f16::from_f64(v).to_le_bytes().to_vec(),
            Lane::I32 => (v as i32).to_le_bytes().to_vec(),
        }
    }

    fn decode(self, b: &[u8]) -> f64 {
        match self {
            Lane::F64 => f64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8])),
            Lane::F32 => f64::from(f32::from_le_bytes(b[..4].try_into().unwrap_or([0; 4]))),
            Lane::F16 => half::f16::from_le_bytes(b[..2].try_into().unwrap_or([0; 2])).to_f64(),
            Lane::I32 => f64::from(i32::from_le_bytes(b[..4].try_into().unwrap_or([0; 4]))),
        }
    }
}

/// The loop a kernel runs.
#[derive(Clone, Copy)]
enum Loop {
    /// An assembly loop over registers or tiles (see [`chains`]).
    #[cfg(target_arch = "x86_64")]
    Asm(unsafe fn(u64, *const u8, *const u8, *mut u8)),
    /// The portable f32 loop.
    #[cfg(not(target_arch = "x86_64"))]
    PortableF32,
    /// The portable f64 loop.
    #[cfg(not(target_arch = "x86_64"))]
    PortableF64,
}

/// One peak kernel: its loop and what one step of it does.
#[derive(Clone, Copy)]
struct Kernel {
    run: Loop,
    /// What it issues, for the profile (e.g. `vfmadd231ps zmm (AVX-512)`).
    instruction: &'static str,
    /// Independent chains (registers or tiles).
    chains: usize,
    /// Bytes between chains in the output block (64 per register, 1024 per tile).
    chain_bytes: usize,
    /// Lanes of a chain that the instruction advances (1 for scalar forms).
    lanes: usize,
    /// The accumulator's type.
    lane: Lane,
    /// The operands' element (ones) bytes, repeated over the operand block.
    one: &'static [u8],
    /// Exact units a lane gains per step.
    units_per_step: u64,
    /// Operations per lane per step (FMA = 2, a dot product of `p` pairs = `2p`).
    ops_per_step: f64,
}

/// Picks this CPU's native instruction for a `precision` peak of `width`, or the reason there
/// is none.
fn select(precision: DType, width: PeakWidth) -> Result<Kernel> {
    let unsupported = |why: &str| {
        Err(Error::Unsupported(format!(
            "{precision} {} peak: {why}",
            width.name()
        )))
    };
    #[cfg(target_arch = "x86_64")]
    {
        use chains::x86::{self, CHAINS, TILE_CHAINS};
        use std::arch::is_x86_feature_detected as has;
        let avx512 = has!("avx512f");
        let fma = has!("fma") && has!("avx2");
        let fp16 = avx512 && has!("avx512fp16");
        let reg = |run: unsafe fn(u64, *const u8, *const u8, *mut u8),
                   instruction: &'static str,
                   register_bytes: usize,
                   lane: Lane,
                   one: &'static [u8],
                   units_per_step: u64,
                   scalar: bool| Kernel {
            run: Loop::Asm(run),
            instruction,
            chains: CHAINS,
            chain_bytes: 64,
            lanes: if scalar {
                1
            } else {
                register_bytes / lane.bytes()
            },
            lane,
            one,
            units_per_step,
            ops_per_step: 2.0 * units_per_step as f64,
        };
        const F64_ONE: &[u8] = &1.0f64.to_le_bytes();
        const F32_ONE: &[u8] = &1.0f32.to_le_bytes();
        const F16_ONE: &[u8] = &[0x00, 0x3C];
        const BF16_ONE: &[u8] = &[0x80, 0x3F];
        const INT8_ONE: &[u8] = &[1];
        let kernel = match (width, precision) {
            (PeakWidth::Vector, DType::F32) if avx512 => reg(x86::f32_avx512, "vfmadd231ps zmm (AVX-512)", 64, Lane::F32, F32_ONE, 1, false),
            (PeakWidth::Vector, DType::F32) if fma => reg(x86::f32_avx2, "vfmadd231ps ymm (AVX2+FMA)", 32, Lane::F32, F32_ONE, 1, false),
            (PeakWidth::Vector, DType::F64) if avx512 => reg(x86::f64_avx512, "vfmadd231pd zmm (AVX-512)", 64, Lane::F64, F64_ONE, 1, false),
            (PeakWidth::Vector, DType::F64) if fma => reg(x86::f64_avx2, "vfmadd231pd ymm (AVX2+FMA)", 32, Lane::F64, F64_ONE, 1, false),
            (PeakWidth::Vector, DType::F16) if fp16 => reg(x86::f16_avx512, "vfmadd231ph zmm (AVX512-FP16)", 64, Lane::F16, F16_ONE, 1, false),
            (PeakWidth::Vector, DType::BF16) if avx512 && has!("avx512bf16") => reg(x86::bf16_avx512, "vdpbf16ps zmm (AVX512_BF16, f32 accumulate)", 64, Lane::F32, BF16_ONE, 2, false),
            (PeakWidth::Vector, DType::I8) if avx512 && has!("avx512vnni") => reg(x86::int8_avx512, "vpdpbusd zmm (AVX512_VNNI, i32 accumulate)", 64, Lane::I32, INT8_ONE, 4, false),
            (PeakWidth::Vector, DType::I8) if has!("avxvnni") => reg(x86::int8_avx_vnni, "vpdpbusd ymm (AVX-VNNI, i32 accumulate)", 32, Lane::I32, INT8_ONE, 4, false),
            (PeakWidth::Scalar, DType::F32) if fma => reg(x86::f32_scalar, "vfmadd231ss (scalar FMA)", 16, Lane::F32, F32_ONE, 1, true),
            (PeakWidth::Scalar, DType::F64) if fma => reg(x86::f64_scalar, "vfmadd231sd (scalar FMA)", 16, Lane::F64, F64_ONE, 1, true),
            (PeakWidth::Scalar, DType::F16) if fp16 => reg(x86::f16_scalar, "vfmadd231sh (AVX512-FP16 scalar)", 16, Lane::F16, F16_ONE, 1, true),
            (PeakWidth::Matrix, DType::BF16 | DType::I8) => {
                let (amx, refused) = super::amx::support();
                let tile = |run, instruction, lane, one, units_per_step| Kernel {
                    run: Loop::Asm(run),
                    instruction,
                    chains: TILE_CHAINS,
                    chain_bytes: 1024,
                    lanes: 256,
                    lane,
                    one,
                    units_per_step,
                    ops_per_step: 2.0 * units_per_step as f64,
                };
                match precision {
                    DType::BF16 if amx.bf16 => tile(x86::bf16_amx as unsafe fn(u64, *const u8, *const u8, *mut u8), "tdpbf16ps (AMX-BF16, f32 accumulate)", Lane::F32, BF16_ONE, 32),
                    DType::I8 if amx.int8 => tile(x86::int8_amx, "tdpbusd (AMX-INT8, i32 accumulate)", Lane::I32, INT8_ONE, 64),
                    _ => return unsupported(refused.unwrap_or("this CPU has no AMX tile unit for it")),
                }
            }
            (PeakWidth::Matrix, _) => return unsupported("this CPU has no matrix unit for it (AMX computes bf16 and int8)"),
            (PeakWidth::Scalar, DType::BF16 | DType::I8) => return unsupported("there is no scalar dot-product instruction; see the vector peak"),
            (_, DType::F16) => return unsupported("conversion only: this CPU has no native f16 arithmetic (AVX512-FP16); F16C converts, it does not compute"),
            (_, DType::BF16) => return unsupported("this CPU has no bf16 dot-product instruction (AVX512_BF16)"),
            (_, DType::I8) => return unsupported("this CPU has no int8 dot-product instruction (AVX512_VNNI or AVX-VNNI)"),
            (_, DType::F32 | DType::F64) => return unsupported("this CPU has no FMA instructions (AVX2+FMA or AVX-512)"),
        };
        Ok(kernel)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        use chains::portable::LANES;
        let portable = |run, lane| Kernel {
            run,
            instruction: "mul_add chains (portable, compiler-vectorised; fmla on aarch64)",
            chains: 1,
            chain_bytes: 0,
            lanes: LANES,
            lane,
            one: &[],
            units_per_step: 1,
            ops_per_step: 2.0,
        };
        match (width, precision) {
            (PeakWidth::Vector, DType::F32) => Ok(portable(Loop::PortableF32, Lane::F32)),
            (PeakWidth::Vector, DType::F64) => Ok(portable(Loop::PortableF64, Lane::F64)),
            (PeakWidth::Scalar, DType::F32 | DType::F64) => {
                unsupported("no scalar loop for this architecture; see the vector peak")
            }
            _ => unsupported("no native kernel for it on this architecture"),
        }
    }
}

/// A 64-byte aligned block: the start values, the operands, the stored chains.
#[repr(C, align(64))]
#[derive(Clone)]
struct Block([u8; 1024]);

impl Block {
    fn filled(pattern: &[u8]) -> Block {
        let mut b = Block([0; 1024]);
        if !pattern.is_empty() {
            for (i, byte) in b.0.iter_mut().enumerate() {
                *byte = pattern[i % pattern.len()];
            }
        }
        b
    }
}

impl Kernel {
    /// Runs `iterations` steps on the calling thread; returns every lane's final value.
    fn run_here(&self, iterations: u64) -> Vec<f64> {
        match self.run {
            #[cfg(target_arch = "x86_64")]
            Loop::Asm(f) => {
                let start = Block::filled(&self.lane.encode(START));
                let ones = Block::filled(self.one);
                let mut out =
                    vec![Block([0; 1024]); (self.chains * self.chain_bytes).div_ceil(1024)];
                // SAFETY: `select` chose `f` only after detecting its feature (and, for AMX,
                // the permission); `start` and `ones` are 1024 bytes, `out` holds
                // `chains × chain_bytes` bytes, 64-byte aligned.
                unsafe {
                    f(
                        iterations,
                        start.0.as_ptr(),
                        ones.0.as_ptr(),
                        out.as_mut_ptr().cast(),
                    )
                };
                let bytes: &[u8] = {
                    // SAFETY: `out` is a contiguous Vec of plain byte blocks.
                    unsafe { std::slice::from_raw_parts(out.as_ptr().cast(), out.len() * 1024) }
                };
                let mut lanes = Vec::with_capacity(self.chains * self.lanes);
                for c in 0..self.chains {
                    for l in 0..self.lanes {
                        let at = c * self.chain_bytes + l * self.lane.bytes();
                        lanes.push(self.lane.decode(&bytes[at..]));
                    }
                }
                lanes
            }
            #[cfg(not(target_arch = "x86_64"))]
            Loop::PortableF32 => chains::portable::f32_chains(iterations, START as f32)
                .iter()
                .map(|&x| f64::from(x))
                .collect(),
            #[cfg(not(target_arch = "x86_64"))]
            Loop::PortableF64 => chains::portable::f64_chains(iterations, START).to_vec(),
        }
    }
}

/// A prepared peak measurement: one kernel on every worker of the pool.
pub struct PeakWork {
    kernel: Kernel,
    precision: DType,
    iterations: u64,
    workers: usize,
    clock_mhz: Option<f64>,
    lanes: Vec<f64>,
}

impl PeakWork {
    /// Chooses the kernel for `precision` and `width`, sizes a run to a few milliseconds on
    /// every worker, and measures the clock under that load.
    pub fn new(precision: DType, width: PeakWidth) -> Result<Self> {
        let kernel = select(precision, width)?;
        let workers = rayon::current_num_threads().max(1);
        // The most steps whose sums stay exact (f16 saturates and i32 wraps, by design).
        let max_steps = (max_exact_units(precision) / kernel.units_per_step).max(1);
        let mut work = PeakWork {
            kernel,
            precision,
            iterations: 1024.min(max_steps),
            workers,
            clock_mhz: None,
            lanes: Vec::new(),
        };
        // Double the steps until a run takes a quarter of the target (so the broadcast's
        // fixed cost no longer dominates), then scale to the target.
        let quarter = TARGET_RUN / 4;
        let mut took = work.execute().0;
        while took < quarter && work.iterations < max_steps {
            work.iterations = (work.iterations * 2).min(max_steps);
            took = (0..2).map(|_| work.execute().0).min().unwrap_or(took);
        }
        let scale = TARGET_RUN.as_secs_f64() / took.as_secs_f64().max(1e-9);
        work.iterations = ((work.iterations as f64 * scale) as u64).clamp(64, max_steps);
        let clocks: Vec<f64> = rayon::broadcast(|_| {
            let _ = std::hint::black_box(kernel.run_here(work.iterations));
            clock::core_mhz()
        })
        .into_iter()
        .flatten()
        .collect();
        if !clocks.is_empty() {
            work.clock_mhz = Some(clocks.iter().sum::<f64>() / clocks.len() as f64);
        }
        Ok(work)
    }

    /// One run on every worker: its wall time and every lane of every worker.
    fn execute(&self) -> (Duration, Vec<f64>) {
        let (kernel, iterations) = (self.kernel, self.iterations);
        let t = Instant::now();
        let lanes: Vec<Vec<f64>> = rayon::broadcast(|_| kernel.run_here(iterations));
        (t.elapsed(), lanes.concat())
    }
}

impl Prepared for PeakWork {
    fn run(&mut self, _variant: Variant) -> Result<Duration> {
        let (took, lanes) = self.execute();
        self.lanes = lanes;
        Ok(took)
    }

    fn output(&mut self, _variant: Variant) -> Result<HostBuffer> {
        Ok(HostBuffer::F64(self.lanes.clone()))
    }

    fn peak_run(&self) -> Option<PeakRun> {
        let k = &self.kernel;
        let lanes = (self.workers * k.chains * k.lanes) as f64;
        Some(PeakRun {
            ops_per_run: lanes * self.iterations as f64 * k.ops_per_step,
            start: START,
            units_per_run: self.iterations * k.units_per_step,
            instruction: k.instruction.to_string(),
            clock_mhz: self.clock_mhz,
        })
    }
}

impl std::fmt::Debug for PeakWork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeakWork")
            .field("precision", &self.precision)
            .field("instruction", &self.kernel.instruction)
            .field("iterations", &self.iterations)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::precision::chain_value;

    /// Every peak this CPU runs ends exactly at the closed form; every other is refused with
    /// a reason, never an emulated figure.
    #[test]
    fn every_supported_peak_ends_at_its_closed_form_and_the_rest_say_why() {
        let mut ran = 0;
        for precision in DType::ALL {
            for width in PeakWidth::ALL {
                let mut work = match PeakWork::new(precision, width) {
                    Ok(w) => w,
                    Err(Error::Unsupported(why)) => {
                        assert!(why.contains(precision.name()) && why.len() > 20, "{why}");
                        continue;
                    }
                    Err(e) => panic!("{precision} {width:?}: {e}"),
                };
                work.run(Variant::Single).unwrap();
                let run = work.peak_run().unwrap();
                let want = chain_value(precision, run.start, run.units_per_run);
                let HostBuffer::F64(lanes) = work.output(Variant::Single).unwrap() else {
                    panic!("f64 lanes")
                };
                assert!(!lanes.is_empty());
                assert!(
                    lanes.iter().all(|&x| x == want),
                    "{precision} {width:?}: want {want}, got {:?}",
                    &lanes[..4.min(lanes.len())]
                );
                assert!(run.ops_per_run > 0.0 && run.units_per_run > 0);
                ran += 1;
            }
        }
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        assert!(ran >= 1, "no peak ran at all");
    }

    #[test]
    fn f16_is_refused_as_conversion_only_without_native_arithmetic() {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512fp16") {
            return;
        }
        let err = PeakWork::new(DType::F16, PeakWidth::Vector).unwrap_err();
        assert!(err.to_string().contains("fp16"), "{err}");
    }

    #[test]
    fn lanes_round_trip_through_their_encoding() {
        for lane in [Lane::F64, Lane::F32, Lane::F16, Lane::I32] {
            assert_eq!(lane.decode(&lane.encode(2047.0)), 2047.0);
        }
    }
}
