//! `hwcal plan`: its flags and their translation into [`PlanSettings`]; `--verify` measures on
//! the device `--backend` and `--device` choose (this CPU by default).

use super::device::{selection, BackendArg};
use crate::backend::cpu::IdleWorkers;
use crate::backend::Threads;
use crate::cost_model::command::{Format, PlanSettings, VerifySettings};
use crate::cost_model::verify::VerifyOptions;
use crate::{Error, Result};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// Output format of `hwcal plan` (the flag of [`Format`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Terminal tables.
    Table,
    /// JSON for tools.
    Json,
}

impl From<FormatArg> for Format {
    fn from(arg: FormatArg) -> Self {
        match arg {
            FormatArg::Table => Format::Table,
            FormatArg::Json => Format::Json,
        }
    }
}

/// Flags of `hwcal plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Profile to decide with (hwcal's or the Python calibrator's JSON).
    #[arg(long)]
    pub profile: PathBuf,
    /// Operator graph to partition (JSON; format in docs/cost-model.md).
    pub graph: PathBuf,
    /// Fuse a group when its predicted speedup is at least this [default: recommended from
    /// the profile's measurement noise; 1.1 for profiles without noise data].
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: FormatArg,
    /// Measure every candidate group on the --backend device (this CPU by default) at the
    /// graph's shapes and check each decision (exit code 1 when one is wrong beyond the noise).
    #[arg(long)]
    pub verify: bool,
    /// Backend --verify measures on [default: cpu].
    #[arg(long, value_enum)]
    pub backend: Option<BackendArg>,
    /// GPU adapter --verify measures on, with --backend gpu: index or name substring from
    /// `hwcal devices` [default: 0].
    #[arg(long)]
    pub device: Option<String>,
    /// Least paired samples per candidate with --verify (sampling goes on to ±2%, as a quick
    /// calibration) [default: 10].
    #[arg(long)]
    pub trials: Option<usize>,
    /// Untimed runs per variant with --verify, the verification run included [default: 2].
    #[arg(long)]
    pub warmup: Option<usize>,
    /// Worker threads for --verify [default: all logical CPUs].
    #[arg(long)]
    pub threads: Option<usize>,
}

impl PlanArgs {
    /// Validated settings: the worker threads, then the flags that only apply with `--verify`
    /// (refused without it), then the device `--verify` measures on (one: not `--device all`).
    pub fn to_settings(&self) -> Result<PlanSettings> {
        let threads = Threads::from_flags(self.threads, false)?;
        if !self.verify {
            for (flag, given) in [
                ("--trials", self.trials.is_some()),
                ("--warmup", self.warmup.is_some()),
                ("--backend", self.backend.is_some()),
                ("--device", self.device.is_some()),
            ] {
                if given {
                    return Err(Error::usage(format!(
                        "{flag} only applies with --verify: add --verify or drop {flag}"
                    )));
                }
            }
        }
        let verify = if self.verify {
            let backend = selection(
                self.backend.unwrap_or(BackendArg::Cpu),
                self.device.as_deref(),
                threads,
                IdleWorkers::Spin,
            )?;
            backend.check_one()?;
            let defaults = VerifyOptions::default();
            Some(VerifySettings {
                backend,
                options: VerifyOptions {
                    trials: self.trials.unwrap_or(defaults.trials),
                    warmup: self.warmup.unwrap_or(defaults.warmup),
                    ..defaults
                },
            })
        } else {
            None
        };
        Ok(PlanSettings {
            profile: self.profile.clone(),
            graph: self.graph.clone(),
            threshold: self.threshold,
            format: self.format.into(),
            verify,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Device, GpuSelector};
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        plan: PlanArgs,
    }

    fn settings(extra: &[&str]) -> Result<PlanSettings> {
        let argv = [&["plan", "--profile", "p.json", "g.json"][..], extra].concat();
        Cli::try_parse_from(argv).unwrap().plan.to_settings()
    }

    #[test]
    fn verify_opens_the_chosen_backend() {
        let plain = settings(&[]).unwrap();
        assert!(plain.verify.is_none());
        assert_eq!(plain.format, Format::Table);
        let cpu = settings(&["--verify", "--trials", "12"])
            .unwrap()
            .verify
            .unwrap();
        assert_eq!(cpu.backend.device, Device::Cpu);
        assert_eq!(cpu.options.trials, 12);
        assert_eq!(cpu.options.warmup, VerifyOptions::default().warmup);
        let gpu = settings(&["--verify", "--backend", "gpu"])
            .unwrap()
            .verify
            .unwrap();
        assert_eq!(
            gpu.backend.device,
            Device::Gpu(GpuSelector::One("0".into()))
        );
        let named = settings(&["--verify", "--backend", "gpu", "--device", "llvm"]).unwrap();
        assert_eq!(
            named.verify.unwrap().backend.device,
            Device::Gpu(GpuSelector::One("llvm".into()))
        );
        for (extra, says) in [
            (
                &["--backend", "gpu"][..],
                "--backend only applies with --verify",
            ),
            (&["--device", "0"], "--device only applies with --verify"),
            (
                &["--verify", "--device", "0"],
                "--device selects a GPU adapter",
            ),
            (
                &["--verify", "--backend", "gpu", "--device", "all"],
                "--device all",
            ),
            (&["--threads", "0"], "--threads must be at least 1"),
        ] {
            let e = settings(extra).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().starts_with(says), "{extra:?}: {e}");
        }
    }
}
