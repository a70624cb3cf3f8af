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
// Without the feature, a stand-in with the same names whose every open fails clearly.
#[cfg(not(feature = "gpu"))]
#[path = "gpu_stub.rs"]
pub mod gpu;
mod open;

pub use open::{
    max_threads, open, BackendSelection, Device, GpuSelector, Opened, Threads, PIN_BY_DEFAULT,
    THREADS_PER_CPU,
};

use crate::pattern::{Inputs, Pattern, Shape};
use crate::Result;
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

/// The STREAM scalar of the triad kernel (`a = b + SCALAR·c`).
pub const TRIAD_SCALAR: f32 = 3.0;

/// Initial value of element `i` of STREAM array `which` (0 = a, 1 = b, 2 = c). Backends fill
/// their arrays with it, so verification needs no host copy of gigabyte-sized inputs.
pub fn stream_init(which: usize, i: usize) -> f32 {
    // Small integers and halves: exact in f32, distinct per array, varying along the array.
    (which as f32 + 1.0) + (i % 1021) as f32 * 0.5
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
        /// Left operand.
        a: &'a [f32],
        /// Right operand.
        b: &'a [f32],
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
}

impl Workload<'_> {
    /// The variants this workload can run.
    pub fn variants(&self) -> &'static [Variant] {
        match self {
            Workload::Pattern { .. } => &[Variant::Unfused, Variant::Fused],
            _ => &[Variant::Single],
        }
    }

    /// Short description for messages, e.g. `Linear_Bias (128×512×512)`.
    pub fn label(&self) -> String {
        match self {
            Workload::Copy { elements } => format!("copy ({} MB)", elements * 4 / 1_000_000),
            Workload::Triad { elements } => format!("triad ({} MB)", elements * 4 / 1_000_000),
            Workload::Matmul { n, .. } => format!("matmul ({n}×{n})"),
            Workload::Pattern { pattern, shape, .. } => {
                format!("{} ({})", pattern.name(), shape.label())
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

    /// The output of the most recent run of `variant`, read back to the host.
    fn output(&mut self, variant: Variant) -> Result<Vec<f32>>;
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
