//! `hwcal bench`: its flags and their translation into [`BenchSettings`] (whose defaults are
//! the flags' defaults).

use crate::backend::Threads;
use crate::bench::BenchSettings;
use crate::Result;
use clap::Args;

/// Flags of `hwcal bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Matmul size compared with numpy.
    #[arg(long, default_value_t = BenchSettings::default().n)]
    pub n: usize,
    /// STREAM array size in MiB (each of three arrays).
    #[arg(long, default_value_t = BenchSettings::default().stream_mb)]
    pub stream_mb: usize,
    /// Timed trials per round.
    #[arg(long, default_value_t = BenchSettings::default().trials)]
    pub trials: usize,
    /// Rounds alternating hwcal and the reference.
    #[arg(long, default_value_t = BenchSettings::default().rounds)]
    pub rounds: usize,
    /// Back-to-back quick calibrations of everything, for the repeatability targets.
    #[arg(long, default_value_t = BenchSettings::default().repeats)]
    pub repeats: usize,
    /// Python interpreter with numpy.
    #[arg(long, default_value_t = BenchSettings::default().python)]
    pub python: String,
    /// C compiler with OpenMP for the STREAM reference.
    #[arg(long, default_value_t = BenchSettings::default().cc)]
    pub cc: String,
    /// Do not pin worker threads to cores.
    #[arg(long)]
    pub no_pin: bool,
    /// Skip the numpy comparison.
    #[arg(long)]
    pub no_numpy: bool,
    /// Skip the C STREAM comparison.
    #[arg(long)]
    pub no_stream: bool,
    /// Skip timing the quick calibration of everything (and the fused-vs-unfused check).
    #[arg(long)]
    pub no_calibration: bool,
    /// Skip the precision ratios (bf16 and int8 against f32, f64 against numpy, the f32 peak).
    #[arg(long)]
    pub no_precisions: bool,
    /// Worker threads [default: all logical CPUs].
    #[arg(long)]
    pub threads: Option<usize>,
}

impl BenchArgs {
    /// The settings these flags give, the worker threads validated; sizes and counts are judged
    /// by [`crate::bench::run`] before anything runs.
    pub fn to_settings(&self) -> Result<BenchSettings> {
        Ok(BenchSettings {
            n: self.n,
            stream_mb: self.stream_mb,
            trials: self.trials,
            rounds: self.rounds,
            repeats: self.repeats,
            python: self.python.clone(),
            cc: self.cc.clone(),
            threads: Threads::from_flags(self.threads, self.no_pin)?,
            numpy: !self.no_numpy,
            stream: !self.no_stream,
            calibration: !self.no_calibration,
            precisions: !self.no_precisions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn settings(extra: &[&str]) -> Result<BenchSettings> {
        let argv = [&["hwcal", "bench"][..], extra].concat();
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Bench(a) => a.to_settings(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn flags_default_to_the_library_defaults() {
        let s = settings(&[]).unwrap();
        let d = BenchSettings::default();
        assert_eq!(
            (s.n, s.stream_mb, s.trials, s.rounds, s.repeats),
            (d.n, d.stream_mb, d.trials, d.rounds, d.repeats)
        );
        assert_eq!((s.python, s.cc), (d.python, d.cc));
        assert_eq!(s.threads, d.threads);
        assert!(s.numpy && s.stream && s.calibration);
        let s = settings(&["--no-numpy", "--no-pin", "--threads", "1"]).unwrap();
        assert!(!s.numpy && s.stream);
        assert_eq!((s.threads.count(), s.threads.pin()), (Some(1), false));
        assert!(settings(&["--threads", "0"]).is_err());
    }
}
