//! What a calibration measures: operations, patterns, preset sizes and sampling policy.

use super::sampling::SamplingPolicy;
use crate::dtype::DType;
use crate::pattern::{Pattern, Preset};
use crate::{Error, Result};
use std::time::Duration;

/// A non-fusion measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// STREAM copy and triad bandwidth.
    Memory,
    /// Square matmul GFLOPS, in f32 and in every other requested precision.
    Matmul,
    /// Peak compute of every requested precision: FMA (or dot-product) chains that fill the
    /// pipes, per vector width.
    Peak,
}

impl Operation {
    /// Parses `--operations` (`memory,matmul,peak`).
    pub fn parse_list(spec: &str) -> Result<Vec<Operation>> {
        let mut ops = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let op = match item.to_ascii_lowercase().as_str() {
                "memory" | "bandwidth" => Operation::Memory,
                "matmul" | "gemm" => Operation::Matmul,
                "peak" | "peaks" => Operation::Peak,
                "none" => continue,
                _ => {
                    return Err(Error::usage(format!(
                        "unknown operation `{item}`: use memory, matmul, peak or none"
                    )))
                }
            };
            if !ops.contains(&op) {
                ops.push(op);
            }
        }
        Ok(ops)
    }
}

/// Parses `--precisions`: names as the Python calibrator spells them (`fp64,fp32,fp16,bf16,
/// int8`), aliases such as `float16`, or `all`; duplicates dropped, in the order given.
pub fn parse_precisions(spec: &str) -> Result<Vec<DType>> {
    let mut list = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if item.eq_ignore_ascii_case("all") {
            for d in DType::ALL {
                if !list.contains(&d) {
                    list.push(d);
                }
            }
            continue;
        }
        let d = DType::parse(item)?;
        if !list.contains(&d) {
            list.push(d);
        }
    }
    if list.is_empty() {
        return Err(Error::usage(
            "--precisions is empty: give fp64, fp32, fp16, bf16, int8 (comma-separated) or all",
        ));
    }
    Ok(list)
}

/// Everything that decides what a calibration run measures and how.
#[derive(Clone, Debug)]
pub struct Config {
    /// Size preset.
    pub preset: Preset,
    /// Memory, matmul and/or peak.
    pub operations: Vec<Operation>,
    /// Precisions the matmul and peak operations measure (`--precisions`; f32 by default).
    pub precisions: Vec<DType>,
    /// Fusion patterns, in calibration order.
    pub patterns: Vec<Pattern>,
    /// Warm-up, sample floor, precision target and caps of every measurement.
    pub sampling: SamplingPolicy,
    /// Refuse to measure when a preflight check fails (`--strict`).
    pub strict: bool,
    /// Whether the worker threads were pinned to cores (recorded in the profile).
    pub pinned_threads: bool,
    /// Where the preflight reads the machine's state (`/`, over 250 ms, unless a test says
    /// otherwise).
    pub probe: crate::preflight::Probe,
    /// Hardware name to key the profile by (detected when `None`).
    pub hardware: Option<String>,
    /// Theoretical peak GFLOPS given by the user.
    pub peak_gflops: Option<f64>,
    /// Theoretical memory bandwidth given by the user.
    pub peak_bandwidth_gbps: Option<f64>,
    /// Seed for inputs and bootstrap resampling.
    pub seed: u64,
    /// Also measure each requested pattern over a range of sizes (`--sweep`).
    pub sweep: bool,
    /// Stop starting new sweep points once the sweep has run this long.
    pub time_budget: Option<std::time::Duration>,
}

impl Config {
    /// The hardware name a profile of `device` is keyed by: `--hardware` when given, else the
    /// device's own name. The one place the name is decided (the output file name and the
    /// profile both read it).
    pub fn hardware_name(&self, device: &crate::backend::DeviceInfo) -> String {
        self.hardware.clone().unwrap_or_else(|| device.name.clone())
    }

    /// Defaults for a preset: all operations, no patterns, the preset's sampling policy.
    pub fn new(preset: Preset) -> Self {
        Config {
            preset,
            operations: vec![Operation::Memory, Operation::Matmul, Operation::Peak],
            precisions: vec![DType::F32],
            patterns: Vec::new(),
            sampling: Self::default_sampling(preset),
            strict: false,
            pinned_threads: false,
            probe: crate::preflight::Probe::default(),
            hardware: None,
            peak_gflops: None,
            peak_bandwidth_gbps: None,
            seed: 0x0068_7763_616c,
            sweep: false,
            time_budget: None,
        }
    }

    /// The sampling policy of a preset: `tiny` is for tests (loose, fast), `quick` aims at ±2%
    /// within 1.5 s a point (a quick calibration of everything stays under a minute however
    /// noisy the machine), `full` at ±1% within 10 s.
    pub fn default_sampling(preset: Preset) -> SamplingPolicy {
        let ms = Duration::from_millis;
        match preset {
            Preset::Tiny => SamplingPolicy {
                warmup: 1,
                min_samples: 6,
                max_samples: 200,
                sample_floor: Duration::from_micros(100),
                precision: 0.10,
                time_cap: ms(100),
                visit: ms(10),
                min_visits: 2,
            },
            Preset::Quick => SamplingPolicy {
                warmup: 2,
                min_samples: 10,
                max_samples: 20_000,
                sample_floor: ms(1),
                precision: 0.02,
                time_cap: ms(1500),
                visit: ms(100),
                min_visits: 3,
            },
            Preset::Full => SamplingPolicy {
                warmup: 3,
                min_samples: 20,
                max_samples: 100_000,
                sample_floor: ms(2),
                precision: 0.01,
                time_cap: ms(10_000),
                visit: ms(250),
                min_visits: 4,
            },
        }
    }

    /// STREAM array sizes in MiB (each array; at least 4× a 32 MiB last-level cache from
    /// `quick` on).
    pub fn memory_sizes_mb(&self) -> Vec<usize> {
        if !self.operations.contains(&Operation::Memory) {
            return Vec::new();
        }
        match self.preset {
            Preset::Tiny => vec![2, 4],
            Preset::Quick => vec![128, 256],
            Preset::Full => vec![64, 128, 256, 512],
        }
    }

    /// Matmul sizes N.
    pub fn matmul_sizes(&self) -> Vec<usize> {
        if !self.operations.contains(&Operation::Matmul) {
            return Vec::new();
        }
        match self.preset {
            Preset::Tiny => vec![64, 96],
            Preset::Quick => vec![1024, 2048],
            Preset::Full => vec![512, 1024, 2048, 4096],
        }
    }

    /// The precisions other than f32 whose matmuls the matmul operation measures beside the
    /// f32 one (empty unless `--precisions` asks for them).
    pub fn other_matmul_precisions(&self) -> Vec<DType> {
        if !self.operations.contains(&Operation::Matmul) {
            return Vec::new();
        }
        self.precisions
            .iter()
            .copied()
            .filter(|&d| d != DType::F32)
            .collect()
    }

    /// The precisions whose peaks the peak operation measures.
    pub fn peak_precisions(&self) -> Vec<DType> {
        if !self.operations.contains(&Operation::Peak) {
            return Vec::new();
        }
        self.precisions.clone()
    }

    /// Rejects sampling settings that cannot produce a measurement with an interval.
    pub fn validate_sampling(&self) -> Result<()> {
        let s = &self.sampling;
        if s.min_samples < 6 {
            return Err(Error::usage(format!(
                "--min-samples {} is too few: a 95% interval of a median needs at least 6",
                s.min_samples
            )));
        }
        if s.min_samples > 1_000_000 {
            return Err(Error::usage(format!(
                "--min-samples {}: at most 1000000",
                s.min_samples
            )));
        }
        if s.warmup < 1 || s.warmup > 10_000 {
            return Err(Error::usage(format!(
                "--warmup {}: must be 1 to 10000 (the first run is the verification run)",
                s.warmup
            )));
        }
        if !(s.precision.is_finite() && s.precision > 0.0 && s.precision <= 0.5) {
            return Err(Error::usage(format!(
                "--precision {}: must be a half-width between 0 and 50%, e.g. 2% or 0.02",
                s.precision
            )));
        }
        Ok(())
    }

    /// Rejects settings that cannot produce a measurement.
    pub fn validate(&self) -> Result<()> {
        self.validate_sampling()?;
        for (flag, v) in [
            ("--peak-gflops", self.peak_gflops),
            ("--peak-bandwidth", self.peak_bandwidth_gbps),
        ] {
            if let Some(v) = v {
                if !(v.is_finite() && v > 0.0) {
                    return Err(Error::usage(format!(
                        "{flag} {v:?}: must be a positive number"
                    )));
                }
            }
        }
        if self.sweep && self.patterns.is_empty() {
            return Err(Error::usage(
                "--sweep needs --fusion-patterns (a family, all or pattern names)",
            ));
        }
        if self.operations.is_empty() && self.patterns.is_empty() {
            return Err(Error::usage(
                "nothing to measure: give --operations memory,matmul,peak and/or --fusion-patterns",
            ));
        }
        if self.precisions.is_empty() {
            return Err(Error::usage("--precisions is empty"));
        }
        let measures_precisions = self.operations.contains(&Operation::Matmul)
            || self.operations.contains(&Operation::Peak);
        if !measures_precisions && self.precisions != [DType::F32] {
            return Err(Error::usage(
                "--precisions qualifies the matmul and peak operations: add --operations matmul,peak",
            ));
        }
        Ok(())
    }
}
