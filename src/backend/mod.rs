//! Backends: the [`Backend`] trait and its implementations.
//!
//! # Design
//!
//! A backend holds only what differs per device: it describes the device, prepares a
//! [`Workload`] (allocates and uploads inputs, builds whatever kernels it needs), runs one kernel
//! [`Variant`] of it and times that run, and reads the output back. Everything else — pattern
//! definitions, shapes, FLOP and byte formulas, the f64 reference, verification, the warm-up and
//! trial policy, statistics, profile assembly and printing — is written once in
//! [`crate::calibrate`], [`crate::pattern`] and [`crate::profile`], and works over
//! `&dyn Backend`, so a fake backend can test the loop without hardware.
//!
//! [`open`] turns a [`BackendSelection`] (CPU or GPU adapters, worker threads) into opened
//! backends for every command that measures; without the `gpu` feature, [`gpu`] is a stand-in
//! whose every open fails with a clear error, so callers need no `cfg` branches.
//!
//! Every method returns [`crate::Result`]: device limits, missing devices and failed
//! allocations are errors with a message, never panics.

pub mod cpu;
#[cfg(feature = "gpu")]
pub mod gpu;
mod gpu_settings;
// Without the feature, a stand-in with the same names whose every open fails clearly.
#[cfg(not(feature = "gpu"))]
#[path = "gpu_stub.rs"]
pub mod gpu;
mod open;

pub use open::{
    open, open_one, BackendSelection, Device, GpuSelector, Opened, Threads, PIN_BY_DEFAULT,
};

use crate::dtype::{Accumulate, DType, HostBuffer};
use crate::pattern::{contiguous, Inputs, Op, Pattern, Shape};
use crate::precision::{PeakRun, PeakWidth, PrecisionInputs, TheoreticalPeak};
use crate::{Error, Result};
use ndarray::ArrayView2;
use std::time::Duration;

/// Which kernel of a workload to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// The only kernel of a single-kernel workload (copy, triad, matmul).
    Single,
    /// One kernel per operator of a pattern, each reading and writing whole tensors.
    Unfused,
    /// The fused kernel of a pattern.
    Fused,
}

impl Variant {
    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Single => "single",
            Variant::Unfused => "unfused",
            Variant::Fused => "fused",
        }
    }
}

/// A unit of work a backend can prepare.
#[derive(Clone, Copy, Debug)]
pub enum Workload<'a> {
    /// STREAM copy `c = a` over arrays of `elements` f32 values.
    Copy {
        /// Elements per array.
        elements: usize,
    },
    /// STREAM triad `a = b + TRIAD_SCALAR·c` over arrays of `elements` f32 values.
    Triad {
        /// Elements per array.
        elements: usize,
    },
    /// `C = A·B`, all `n×n` row-major f32.
    Matmul {
        /// Matrix size.
        n: usize,
        /// Left operand, `n×n`.
        a: ArrayView2<'a, f32>,
        /// Right operand, `n×n`.
        b: ArrayView2<'a, f32>,
    },
    /// A fusion pattern at one shape, with both an unfused and a fused variant.
    Pattern {
        /// The pattern.
        pattern: Pattern,
        /// Its size.
        shape: Shape,
        /// Its inputs.
        inputs: &'a Inputs,
    },
    /// Peak compute in one precision: independent FMA (or dot-product) chains on every
    /// worker, sized by the backend to run for a few milliseconds; its output is every
    /// lane's final value, which [`Prepared::peak_run`] lets the loop check.
    Peak {
        /// The precision.
        precision: DType,
        /// Scalar or widest-vector instructions.
        width: PeakWidth,
    },
    /// `C = A·B`, `n×n`, in the inputs' precision (f64, f16, bf16, int8); its output is in the
    /// kernel's accumulate type ([`Prepared::accumulate`]).
    PrecisionMatmul {
        /// The operands.
        inputs: &'a PrecisionInputs,
    },
}

impl Workload<'_> {
    /// The variants this workload can run.
    pub fn variants(&self) -> &'static [Variant] {
        match self {
            Workload::Pattern { .. } => &[Variant::Unfused, Variant::Fused],
            _ => &[Variant::Single],
        }
    }

    /// The element type of its tensors (STREAM arrays and matmul operands are f32; a
    /// pattern's is its inputs').
    pub fn dtype(&self) -> DType {
        match self {
            Workload::Copy { .. } | Workload::Triad { .. } | Workload::Matmul { .. } => DType::F32,
            Workload::Pattern { inputs, .. } => inputs.dtype(),
            Workload::Peak { precision, .. } => *precision,
            Workload::PrecisionMatmul { inputs } => inputs.precision(),
        }
    }

    /// Short description for messages, e.g. `Linear_Bias (128×512×512)`.
    pub fn label(&self) -> String {
        let mb = |elements: &usize| *elements as u64 * self.dtype().size() / 1_000_000;
        match self {
            Workload::Copy { elements } => format!("copy ({} MB)", mb(elements)),
            Workload::Triad { elements } => format!("triad ({} MB)", mb(elements)),
            Workload::Matmul { n, .. } => format!("matmul ({n}×{n})"),
            Workload::Pattern { pattern, shape, .. } => {
                format!("{} ({})", pattern.name(), shape.label())
            }
            Workload::Peak { precision, width } => {
                format!("{precision} {} peak", width.name())
            }
            Workload::PrecisionMatmul { inputs } => {
                format!("{} matmul ({n}×{n})", inputs.precision(), n = inputs.n)
            }
        }
    }
}

/// A workload prepared on a device: inputs resident, kernels built.
pub trait Prepared {
    /// Runs `variant` once and returns how long it took on the device.
    fn run(&mut self, variant: Variant) -> Result<Duration>;

    /// Runs `variant` `iterations` times back to back and returns the time of all of them
    /// together: one timing sample. The default sums [`Prepared::run`]; a backend whose clock
    /// is coarse or costly to read (a GPU) overrides it to time the whole batch at once.
    fn run_batch(&mut self, variant: Variant, iterations: u32) -> Result<Duration> {
        let mut total = Duration::ZERO;
        for _ in 0..iterations {
            total += self.run(variant)?;
        }
        Ok(total)
    }

    /// The output of the most recent run of `variant`, read back to the host in the
    /// workload's element type.
    fn output(&mut self, variant: Variant) -> Result<HostBuffer>;

    /// For a [`Workload::Peak`]: what one run does (operations, the chains' closed form, the
    /// instruction, the clock under load). `None` for every other workload.
    fn peak_run(&self) -> Option<PeakRun> {
        None
    }

    /// For a [`Workload::PrecisionMatmul`]: the type the kernel sums its products in, which
    /// sets the tolerance it is verified with. `None` for every other workload.
    fn accumulate(&self) -> Option<Accumulate> {
        None
    }
}

/// Theoretical peak estimate of a device, with how it was derived.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PeakEstimate {
    /// The figure (GFLOPS or GB/s).
    pub value: f64,
    /// How it was derived, e.g. `2 cores × 3.7 GHz × 64 FLOP/cycle (AVX-512, 2 FMA units)`.
    pub how: String,
}

/// What a backend reports about its device.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DeviceInfo {
    /// Backend name (`cpu`, `gpu`).
    pub backend: &'static str,
    /// Hardware name the profile is keyed by (detected, unless overridden).
    pub name: String,
    /// CPU model string of the host.
    pub cpu_model: String,
    /// Logical CPUs of the host.
    pub cpu_count: usize,
    /// Host memory in GB (GiB, as the original computes it).
    pub total_memory_gb: f64,
    /// Worker threads the backend uses.
    pub threads: usize,
    /// How kernel times are taken (e.g. `host_monotonic_clock`).
    pub timing_method: &'static str,
    /// Estimated peak f32 GFLOPS, when it can be derived honestly.
    pub peak_gflops: Option<PeakEstimate>,
    /// Theoretical peaks per precision from the ISA and microarchitecture tables (empty where
    /// the device is not in them).
    pub theoretical_peaks: Vec<TheoreticalPeak>,
    /// Estimated peak memory bandwidth, when it can be derived honestly.
    pub peak_bandwidth_gbps: Option<PeakEstimate>,
    /// Everything else worth recording (ISA features, driver, limits), as JSON.
    pub details: serde_json::Value,
}

/// A device that can run hwcal's kernels.
pub trait Backend {
    /// Describes the device.
    fn device(&self) -> &DeviceInfo;

    /// Allocates and uploads the inputs of `workload` and builds its kernels. Fails with
    /// [`crate::Error::DeviceLimit`] when the workload does not fit the device.
    fn prepare<'a>(&'a self, workload: &Workload<'a>) -> Result<Box<dyn Prepared + 'a>>;
}

/// The operands of an `n×n` matmul as row-major slices; an error unless both are `n×n` and
/// contiguous (`n ≥ 1`).
pub(crate) fn matmul_operands<'v>(
    n: usize,
    a: &'v ArrayView2<'_, f32>,
    b: &'v ArrayView2<'_, f32>,
) -> Result<(&'v [f32], &'v [f32])> {
    if n == 0 || a.dim() != (n, n) || b.dim() != (n, n) {
        return Err(Error::usage(format!(
            "matmul {n}×{n}: operand sizes do not match ({:?} and {:?})",
            a.dim(),
            b.dim()
        )));
    }
    Ok((contiguous(a, "matrix A")?, contiguous(b, "matrix B")?))
}

/// Whether a family's kernels apply activations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Activations {
    /// Any [`crate::pattern::Activation`], in the fused epilogue and as an unfused pass (so a
    /// new activation is a new row, not an edit of every backend).
    Any,
    /// None: an activation operator is unknown to these kernels.
    None,
}

/// Fails unless every operator of `pattern` is one of `known`, the operators `kernels` (e.g.
/// `the CPU linear kernels`) can run, or an activation the kernels apply: a pattern row whose
/// chain a backend cannot build is an error when the work is prepared, never a wrong or
/// skipped kernel.
pub(crate) fn check_operators(
    pattern: Pattern,
    kernels: &str,
    known: &[Op],
    activations: Activations,
) -> Result<()> {
    let runs = |op: &Op| {
        known.contains(op) || (activations == Activations::Any && op.activation().is_some())
    };
    match pattern.operators().iter().find(|op| !runs(op)) {
        None => Ok(()),
        Some(op) => Err(Error::usage(format!(
            "{}: {kernels} have no kernel for operator {}",
            pattern.name(),
            op.name()
        ))),
    }
}
