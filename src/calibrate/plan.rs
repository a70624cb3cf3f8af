//! What a calibration measures: operations, patterns, preset sizes and trial counts.

use crate::pattern::{Pattern, Preset};
use crate::{Error, Result};

/// A non-fusion measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// STREAM copy and triad bandwidth.
    Memory,
    /// Square f32 matmul GFLOPS.
    Matmul,
}

impl Operation {
    /// Parses `--operations` (`memory,matmul`).
    pub fn parse_list(spec: &str) -> Result<Vec<Operation>> {
        let mut ops = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let op = match item.to_ascii_lowercase().as_str() {
                "memory" | "bandwidth" => Operation::Memory,
                "matmul" | "gemm" => Operation::Matmul,
                "none" => continue,
                _ => {
                    return Err(Error::usage(format!(
                        "unknown operation `{item}`: use memory, matmul or none"
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

/// Everything that decides what a calibration run measures and how.
#[derive(Clone, Debug)]
pub struct Config {
    /// Size preset.
    pub preset: Preset,
    /// Memory and/or matmul.
    pub operations: Vec<Operation>,
    /// Fusion patterns, in calibration order.
    pub patterns: Vec<Pattern>,
    /// Untimed runs of each variant before the trials (the verification run included).
    pub warmup: usize,
    /// Timed runs of each variant.
    pub trials: usize,
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
    /// Defaults for a preset: all operations, no patterns, the preset's trial counts.
    pub fn new(preset: Preset) -> Self {
        let (warmup, trials) = Self::default_trials(preset);
        Config {
            preset,
            operations: vec![Operation::Memory, Operation::Matmul],
            patterns: Vec::new(),
            warmup,
            trials,
            hardware: None,
            peak_gflops: None,
            peak_bandwidth_gbps: None,
            seed: 0x0068_7763_616c,
            sweep: false,
            time_budget: None,
        }
    }

    /// `(warmup, trials)` of a preset.
    pub fn default_trials(preset: Preset) -> (usize, usize) {
        match preset {
            Preset::Tiny => (1, 5),
            Preset::Quick => (2, 15),
            Preset::Full => (3, 30),
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

    /// Rejects settings that cannot produce a measurement.
    pub fn validate(&self) -> Result<()> {
        if self.trials < 2 {
            return Err(Error::usage(format!(
                "--trials {} is too few: statistics need at least 2",
                self.trials
            )));
        }
        if self.warmup < 1 {
            return Err(Error::usage(
                "--warmup must be at least 1 (the first run is the verification run)",
            ));
        }
        for (flag, v) in [
            ("--peak-gflops", self.peak_gflops),
            ("--peak-bandwidth", self.peak_bandwidth_gbps),
        ] {
            if let Some(v) = v {
                if !(v.is_finite() && v > 0.0) {
                    return Err(Error::usage(format!(
                        "{flag} {v}: must be a positive number"
                    )));
                }
            }
        }
        if self.sweep && self.patterns.is_empty() {
            return Err(Error::usage(
                "--sweep needs --fusion-patterns (linear, conv, attention, all or pattern names)",
            ));
        }
        if self.operations.is_empty() && self.patterns.is_empty() {
            return Err(Error::usage(
                "nothing to measure: give --operations memory,matmul and/or --fusion-patterns",
            ));
        }
        Ok(())
    }
}
