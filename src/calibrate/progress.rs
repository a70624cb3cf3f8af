//! What a calibration tells its observer while it runs: typed results, never text.
//!
//! Each finished measurement is a [`Recorded`] (its figures, how precise they are, whether the
//! machine was noisy); the sweep's crossovers are [`SweepCrossover`]s. The binary's observer
//! turns them into lines ([`crate::report::progress`]), so measuring and assembling the
//! profile never format text for people.

use super::sampling::{short_of_target, Sampled, Stop};
use crate::pattern::{Pattern, Shape};

/// How precise a recorded figure is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FigurePrecision {
    /// Half-width of the 95% interval, relative to the figure.
    pub half_width: f64,
    /// The half-width the run aimed for.
    pub target: f64,
    /// Why sampling stopped.
    pub stop: Stop,
    /// Seconds spent sampling.
    pub seconds: f64,
}

impl FigurePrecision {
    /// The precision of `sampled`.
    pub fn of(sampled: &Sampled) -> Self {
        FigurePrecision {
            half_width: sampled.half_width(),
            target: sampled.target,
            stop: sampled.stop,
            seconds: sampled.elapsed.as_secs_f64(),
        }
    }

    /// Whether sampling stopped short of the target (as [`Sampled::imprecise`]).
    pub fn imprecise(&self) -> bool {
        short_of_target(self.half_width, self.target)
    }
}

/// One finished measurement, as recorded in the profile.
#[derive(Clone, Debug, PartialEq)]
pub enum Recorded {
    /// A STREAM copy or triad.
    Stream {
        /// `copy` or `triad`.
        name: &'static str,
        /// MiB per array.
        mb: usize,
        /// Bandwidth of the best sample, GB/s (as STREAM reports it).
        best_gbps: f64,
        /// Bandwidth of the median sample, GB/s.
        median_gbps: f64,
        /// Samples taken.
        samples: usize,
        /// Coefficient of variation above 5%.
        noisy: bool,
        /// How precise the median is.
        precision: FigurePrecision,
    },
    /// A square matmul.
    Matmul {
        /// Its operands' precision (f32 for the plain matmul).
        dtype: crate::dtype::DType,
        /// The type it summed in, for precisions other than f32 (`f32`, `i32`, …).
        accumulate: Option<String>,
        /// Matrix size.
        n: usize,
        /// GFLOPS of the median sample.
        median_gflops: f64,
        /// GFLOPS of the best sample.
        best_gflops: f64,
        /// Samples taken.
        samples: usize,
        /// Coefficient of variation above 5%.
        noisy: bool,
        /// How precise the median is.
        precision: FigurePrecision,
    },
    /// A fusion pattern at one shape (a point of a size sweep when `sweep` is set).
    Pattern {
        /// The pattern.
        pattern: Pattern,
        /// Its shape.
        shape: Shape,
        /// The sweep axis and size, for a sweep point.
        sweep: Option<(&'static str, usize)>,
        /// Median of the paired ratios unfused/fused.
        speedup: f64,
        /// Its 95% interval.
        ci95: [f64; 2],
        /// Pairs sampled.
        pairs: usize,
        /// `1 − fused bytes / unfused bytes`.
        memory_reduction: f64,
        /// Median unfused latency, ms.
        unfused_ms: f64,
        /// Median fused latency, ms.
        fused_ms: f64,
        /// How precise the speedup is.
        precision: FigurePrecision,
    },
    /// A peak-compute measurement of one precision and width.
    Peak {
        /// The precision.
        dtype: crate::dtype::DType,
        /// Scalar, vector or matrix units.
        width: crate::precision::PeakWidth,
        /// The instruction the chains issued.
        instruction: String,
        /// G(FL)OPS of the median run.
        median_gops: f64,
        /// The theoretical peak at the measured clock, when the table has the device.
        theoretical_gops: Option<f64>,
        /// The core clock under load, MHz (CPU).
        clock_mhz: Option<f64>,
        /// Samples taken.
        samples: usize,
        /// How precise the median is.
        precision: FigurePrecision,
    },
    /// Something the device cannot run natively, with the reason (not a failure).
    Unsupported {
        /// What (`bf16 matmul`, `fp16 scalar peak`).
        what: String,
        /// Why.
        why: String,
    },
    /// A measurement that ended with no sample to record.
    NoSamples {
        /// What it was (`matmul 64`, `Linear_Bias (8×32×24)`).
        what: String,
    },
}

/// Where fusion starts to pay along one swept axis of one pattern.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepCrossover {
    /// Pattern name.
    pub pattern: String,
    /// The axis swept (`M`, `KN`, `HW`, `C`, `S`).
    pub axis: String,
    /// `(size, speedup)` of every point measured along it.
    pub points: Vec<(f64, f64)>,
    /// The speedup judged as paying.
    pub threshold: f64,
}
