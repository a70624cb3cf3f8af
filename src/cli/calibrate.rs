//! `hwcal calibrate`: its flags (the Python calibrator's, plus hwcal's own) and their
//! translation into [`CalibrateSettings`]: a validated [`Config`] and the backends to open.

use super::device::{selection, BackendArg, IdleWorkersArg};
use crate::backend::Threads;
use crate::calibrate::{Config, Operation};
use crate::pattern::{parse_pattern_list, Preset};
use crate::run::CalibrateSettings;
use crate::{Error, Result};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// How much a calibration measures (the flag of [`Preset`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PresetArg {
    /// Tiny sizes: correctness smoke runs, seconds long.
    Tiny,
    /// The seed's `--quick` sizes.
    Quick,
    /// Everything, up to the largest sizes.
    Full,
}

impl From<PresetArg> for Preset {
    fn from(arg: PresetArg) -> Self {
        match arg {
            PresetArg::Tiny => Preset::Tiny,
            PresetArg::Quick => Preset::Quick,
            PresetArg::Full => Preset::Full,
        }
    }
}

/// Flags of `hwcal calibrate` (the Python calibrator's, plus hwcal's own).
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Backend to calibrate.
    #[arg(long, value_enum, default_value_t = BackendArg::Cpu)]
    pub backend: BackendArg,
    /// GPU adapter: index or name substring from `hwcal devices`, or `all` (one profile per
    /// device) [default: 0].
    #[arg(long)]
    pub device: Option<String>,
    /// Hardware name the profile is keyed by [default: the detected device name].
    #[arg(long)]
    pub hardware: Option<String>,
    /// Theoretical peak GFLOPS [default: estimated from cores × clock × SIMD width].
    #[arg(long, allow_negative_numbers = true)]
    pub peak_gflops: Option<f64>,
    /// Theoretical memory bandwidth in GB/s [default: unknown, recorded as 0].
    #[arg(long, allow_negative_numbers = true)]
    pub peak_bandwidth: Option<f64>,
    /// Output file [default: profiles/HARDWARE-NAME.json, the name slugged].
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Operations to calibrate: memory, matmul, peak (comma-separated), or none.
    #[arg(long, default_value = "memory,matmul,peak")]
    pub operations: String,
    /// Precisions the matmul and peak operations measure: fp64, fp32, fp16, bf16, int8
    /// (comma-separated), or all. What the device cannot run natively is recorded as
    /// unsupported, with the reason.
    #[arg(long, default_value = "fp32")]
    pub precisions: String,
    /// Fusion patterns: families (linear, conv, attention, norm, depthwise), all, or pattern
    /// names (comma-separated).
    #[arg(long)]
    pub fusion_patterns: Option<String>,
    /// Same as --preset quick.
    #[arg(long, conflicts_with = "preset")]
    pub quick: bool,
    /// Sizes to measure: tiny (seconds, for tests), quick, full.
    #[arg(long, value_enum)]
    pub preset: Option<PresetArg>,
    /// Worker threads [default: all logical CPUs].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Samples (fused/unfused pairs) each point takes before the stopping rule is judged
    /// [default: tiny 6, quick 10, full 20].
    #[arg(long, visible_alias = "trials", value_name = "N")]
    pub min_samples: Option<usize>,
    /// Untimed runs per kernel variant, verification run included [default: per preset].
    #[arg(long)]
    pub warmup: Option<usize>,
    /// Target half-width of each figure's 95% interval, as `2%` or `0.02`; sampling stops when
    /// it is reached [default: quick 2%, full 1%, tiny 10%].
    #[arg(long, value_name = "HALF-WIDTH")]
    pub precision: Option<String>,
    /// Seconds one point may sample before it stops short of the target, marked imprecise
    /// [default: quick 1.5, full 10, tiny 0.1].
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub time_cap: Option<f64>,
    /// Refuse to measure when a preflight check of the machine fails (governor, clocks, load,
    /// steal time, temperature) instead of warning.
    #[arg(long)]
    pub strict: bool,
    /// Do not pin worker threads to cores (pinned by default: it halved the run-to-run spread
    /// of speedups on the 2-core VM hwcal is developed on).
    #[arg(long)]
    pub no_pin: bool,
    /// What the CPU's idle worker threads do while a batch is timed: poll for work, as the
    /// spinning thread pools of inference runtimes do, or sleep between kernels (rayon's
    /// default, which adds the OS's wake-up latency to every small kernel).
    #[arg(long, value_enum, default_value_t = IdleWorkersArg::Spin)]
    pub idle_workers: IdleWorkersArg,
    /// Also measure each requested pattern over a range of sizes (linear: M 1..4096 and K=N
    /// 64..4096; conv: spatial size and channels; attention: S 64..4096) and report the
    /// crossover size where fusion starts to pay.
    #[arg(long)]
    pub sweep: bool,
    /// Seconds the sweep may run; it stops starting new points after that and saves what it
    /// measured.
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub time_budget: Option<f64>,
    /// Do not print the summary at the end.
    #[arg(long)]
    pub no_summary: bool,
}

impl CalibrateArgs {
    /// Validated settings of the whole command: the calibration ([`Self::to_config`]), then the
    /// worker threads, then the device (`--device` only with `--backend gpu`).
    pub fn to_settings(&self) -> Result<CalibrateSettings> {
        let config = self.to_config()?;
        let threads = Threads::from_flags(self.threads, self.no_pin)?;
        let backend = selection(
            self.backend,
            self.device.as_deref(),
            threads,
            self.idle_workers.into(),
        )?;
        Ok(CalibrateSettings {
            config,
            backend,
            output: self.output.clone(),
            summary: !self.no_summary,
        })
    }

    /// The preset these flags select (`full` unless `--quick` or `--preset`).
    pub fn preset(&self) -> Preset {
        match (self.quick, self.preset) {
            (true, _) => Preset::Quick,
            (_, Some(p)) => p.into(),
            _ => Preset::Full,
        }
    }

    /// Validated calibration settings.
    pub fn to_config(&self) -> Result<Config> {
        let mut config = Config::new(self.preset());
        config.operations = Operation::parse_list(&self.operations)?;
        config.precisions = crate::calibrate::parse_precisions(&self.precisions)?;
        if let Some(spec) = &self.fusion_patterns {
            config.patterns = parse_pattern_list(spec)?;
        }
        let sampling = &mut config.sampling;
        if let Some(n) = self.min_samples {
            sampling.min_samples = n;
            sampling.max_samples = sampling.max_samples.max(n);
        }
        if let Some(w) = self.warmup {
            sampling.warmup = w;
        }
        if let Some(p) = &self.precision {
            sampling.precision = parse_precision(p)?;
        }
        if let Some(t) = self.time_cap {
            if !(t.is_finite() && t > 0.0 && t <= 86_400.0) {
                return Err(Error::usage(format!(
                    "--time-cap {t:?}: must be a positive number of seconds, at most a day"
                )));
            }
            sampling.time_cap = std::time::Duration::from_secs_f64(t);
        }
        config.strict = self.strict;
        if let Some(h) = &self.hardware {
            if h.trim().is_empty() {
                return Err(Error::usage("--hardware must not be empty"));
            }
            config.hardware = Some(h.trim().to_string());
        }
        config.sweep = self.sweep;
        if let Some(t) = self.time_budget {
            if !(t.is_finite() && t > 0.0 && t <= 7.0 * 86_400.0) {
                return Err(Error::usage(format!(
                    "--time-budget {t:?}: must be a positive number of seconds, at most a week"
                )));
            }
            if !self.sweep {
                return Err(Error::usage("--time-budget limits --sweep: add --sweep"));
            }
            config.time_budget = Some(std::time::Duration::from_secs_f64(t));
        }
        use crate::profile::limits::{check_peak_bandwidth, check_peak_gflops};
        config.peak_gflops = self
            .peak_gflops
            .map(|v| check_peak_gflops(v).map_err(|e| Error::usage(format!("--peak-gflops {e}"))))
            .transpose()?;
        config.peak_bandwidth_gbps = self
            .peak_bandwidth
            .map(|v| {
                check_peak_bandwidth(v).map_err(|e| Error::usage(format!("--peak-bandwidth {e}")))
            })
            .transpose()?;
        config.validate()?;
        Ok(config)
    }
}

/// Parses `--precision`: `2%` or a fraction such as `0.02`.
pub fn parse_precision(text: &str) -> Result<f64> {
    let t = text.trim();
    let (number, scale) = match t.strip_suffix('%') {
        Some(n) => (n.trim(), 0.01),
        None => (t, 1.0),
    };
    let v: f64 = number.parse().map_err(|_| {
        Error::usage(format!(
            "--precision `{text}`: give a half-width such as 2% or 0.02"
        ))
    })?;
    let v = v * scale;
    if !(v.is_finite() && v > 0.0 && v <= 0.5) {
        let hint = if scale == 1.0 && v > 0.5 && v <= 50.0 {
            format!(" (did you mean {number}%?)")
        } else {
            String::new()
        };
        return Err(Error::usage(format!(
            "--precision `{text}`: must be between 0 and 50%{hint}"
        )));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn precision_takes_percent_or_fraction() {
        assert_eq!(parse_precision("2%").unwrap(), 0.02);
        assert_eq!(parse_precision(" 0.01 ").unwrap(), 0.01);
        for bad in ["0", "-1%", "nan", "1e308", "5e-324%x", "", "%", "60%"] {
            assert!(parse_precision(bad).is_err(), "{bad}");
        }
        let e = parse_precision("2").unwrap_err().to_string();
        assert!(e.contains("did you mean 2%"), "{e}");
        assert!(parse_precision("5e-324").is_ok());
    }

    #[test]
    fn flags_become_a_validated_config() {
        let cli = Cli::try_parse_from([
            "hwcal",
            "calibrate",
            "--quick",
            "--fusion-patterns",
            "linear",
            "--trials",
            "7",
        ])
        .unwrap();
        let Command::Calibrate(args) = cli.command else {
            panic!()
        };
        let c = args.to_config().unwrap();
        assert_eq!(c.preset, Preset::Quick);
        assert_eq!(c.sampling.min_samples, 7);
        assert_eq!(
            c.patterns.len(),
            crate::pattern::Family::Linear.patterns().count()
        );

        let cli = Cli::try_parse_from(["hwcal", "calibrate", "--min-samples", "1"]).unwrap();
        let Command::Calibrate(args) = cli.command else {
            panic!()
        };
        assert!(args.to_config().is_err());
        assert!(
            Cli::try_parse_from(["hwcal", "calibrate", "--quick", "--preset", "tiny"]).is_err()
        );
    }

    #[test]
    fn device_flags_become_a_backend_selection() {
        use crate::backend::cpu::IdleWorkers;
        use crate::backend::{Device, GpuSelector};
        let settings = |extra: &[&str]| {
            let argv = [&["hwcal", "calibrate", "--preset", "tiny"][..], extra].concat();
            let Command::Calibrate(args) = Cli::try_parse_from(argv).unwrap().command else {
                panic!()
            };
            args.to_settings()
        };
        let s = settings(&[]).unwrap();
        assert_eq!(s.backend.device, Device::Cpu);
        assert_eq!(s.backend.idle_workers, IdleWorkers::Spin);
        assert!(s.backend.threads.pin() && s.summary && s.output.is_none());
        assert_eq!(s.config.preset, Preset::Tiny);
        let s = settings(&["--no-pin", "--idle-workers", "sleep", "--no-summary"]).unwrap();
        assert!(!s.backend.threads.pin() && !s.summary);
        assert_eq!(s.backend.idle_workers, IdleWorkers::Sleep);
        let gpu = settings(&["--backend", "gpu"]).unwrap().backend.device;
        assert_eq!(gpu, Device::Gpu(GpuSelector::One("0".into())));
        let all = settings(&["--backend", "gpu", "--device", "all"]).unwrap();
        assert_eq!(all.backend.device, Device::Gpu(GpuSelector::All));
        let e = settings(&["--device", "1"]).unwrap_err().to_string();
        assert!(e.starts_with("--device selects a GPU adapter"), "{e}");
        let e = settings(&["--threads", "0"]).unwrap_err().to_string();
        assert_eq!(e, "--threads must be at least 1");
    }
}
