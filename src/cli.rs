//! Command-line arguments (clap) and their translation into validated settings.
//!
//! Two stages, as ripgrep does: clap parses raw flags, then [`CalibrateArgs::to_config`] turns
//! them into a [`Config`] and rejects values clap cannot judge (unknown pattern names, counts
//! that cannot produce statistics).

use crate::calibrate::{Config, Operation};
use crate::pattern::{parse_pattern_list, Preset};
use crate::{Error, Result};
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// hwcal: measure how fast memory, matmul and fused kernels really are on this device.
#[derive(Debug, Parser)]
#[command(name = "hwcal", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Calibrate a device and write its profile (JSON, keyed by hardware name).
    Calibrate(CalibrateArgs),
    /// Print the summary of a profile (hwcal's or the Python calibrator's).
    Show {
        /// Profile file.
        file: PathBuf,
    },
    /// Compare profiles (hwcal's or the Python calibrator's) side by side: fusion speedups,
    /// verdict flips, bandwidth and GFLOPS; a table, markdown, JSON or an HTML page with charts.
    Compare(crate::report::CompareArgs),
    /// Decide which operator chains of a graph to fuse, from a profile (--verify measures them).
    Plan(crate::cost_model::command::PlanArgs),
    /// List every compute device hwcal can calibrate (the CPU and each GPU adapter).
    Devices,
    /// Check hwcal's speed against references measured in the same run (numpy matmul, a C
    /// STREAM triad) and time a quick calibration.
    Bench(BenchArgs),
}

/// Which backend runs the kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// The host CPU (rayon threads).
    Cpu,
    /// A GPU through wgpu.
    Gpu,
}

/// Flags of `hwcal calibrate` (the Python calibrator's, plus hwcal's own).
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Backend to calibrate.
    #[arg(long, value_enum, default_value_t = BackendKind::Cpu)]
    pub backend: BackendKind,
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
    /// Operations to calibrate: memory, matmul (comma-separated), or none.
    #[arg(long, default_value = "memory,matmul")]
    pub operations: String,
    /// Fusion patterns: linear, conv, attention, all, or pattern names (comma-separated).
    #[arg(long)]
    pub fusion_patterns: Option<String>,
    /// Same as --preset quick.
    #[arg(long, conflicts_with = "preset")]
    pub quick: bool,
    /// Sizes to measure: tiny (seconds, for tests), quick, full.
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
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
    #[arg(long, value_enum, default_value_t = crate::backend::cpu::IdleWorkers::Spin)]
    pub idle_workers: crate::backend::cpu::IdleWorkers,
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

/// Whether worker threads are pinned to cores unless a flag says otherwise.
pub const PIN_BY_DEFAULT: bool = true;

impl CalibrateArgs {
    /// Whether to pin worker threads ([`PIN_BY_DEFAULT`] unless `--no-pin`).
    pub fn pin_threads(&self) -> bool {
        PIN_BY_DEFAULT && !self.no_pin
    }

    /// The preset these flags select (`full` unless `--quick` or `--preset`).
    pub fn preset(&self) -> Preset {
        match (self.quick, self.preset) {
            (true, _) => Preset::Quick,
            (_, Some(p)) => p,
            _ => Preset::Full,
        }
    }

    /// Validated calibration settings.
    pub fn to_config(&self) -> Result<Config> {
        let mut config = Config::new(self.preset());
        config.operations = Operation::parse_list(&self.operations)?;
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

/// Flags of `hwcal bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Matmul size compared with numpy.
    #[arg(long, default_value_t = 2048)]
    pub n: usize,
    /// STREAM array size in MiB (each of three arrays).
    #[arg(long, default_value_t = 256)]
    pub stream_mb: usize,
    /// Timed trials per round.
    #[arg(long, default_value_t = 10)]
    pub trials: usize,
    /// Rounds alternating hwcal and the reference.
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Back-to-back quick calibrations of everything, for the repeatability targets.
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Python interpreter with numpy.
    #[arg(long, default_value = "python3")]
    pub python: String,
    /// C compiler with OpenMP for the STREAM reference.
    #[arg(long, default_value = "cc")]
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
    /// Worker threads [default: all logical CPUs].
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Makes rayon's global pool `threads` wide (all logical CPUs when `None`). With `pin`, worker
/// `i` is pinned to core `i mod cores` (where the OS allows it); returns whether it was.
pub fn init_threads(threads: Option<usize>, pin: bool) -> Result<bool> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if let Some(0) = threads {
        return Err(Error::usage("--threads must be at least 1"));
    }
    let most = max_threads(cpus);
    if let Some(t) = threads.filter(|&t| t > most) {
        return Err(Error::usage(format!(
            "--threads {t}: at most {most} ({THREADS_PER_CPU} per logical CPU; this machine has {cpus}): more only measures the scheduler"
        )));
    }
    let n = threads.unwrap_or(cpus);
    let cores = if pin {
        core_affinity::get_core_ids().unwrap_or_default()
    } else {
        Vec::new()
    };
    let pinned = !cores.is_empty();
    let mut builder = rayon::ThreadPoolBuilder::new().num_threads(n);
    if pinned {
        builder = builder.start_handler(move |i| {
            // Best effort: a refused pin leaves the worker where the scheduler put it.
            core_affinity::set_for_current(cores[i % cores.len()]);
        });
    }
    builder
        .build_global()
        .map_err(|e| Error::usage(format!("cannot start {n} worker threads: {e}")))?;
    Ok(pinned)
}

/// clap's error text (message, tips, usage, a pointer to --help over several lines) as one
/// line: the message and its tips joined by `; `, then where to read more. `subcommand` is the
/// command the user typed (the first argument), named in the pointer to `--help` when clap's text
/// does not say.
pub fn one_line(rendered: &str, subcommand: Option<&str>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let known = subcommand.filter(|s| Cli::command().get_subcommands().any(|c| c.get_name() == *s));
    let mut command = match known {
        Some(sub) => format!("hwcal {sub}"),
        None => String::from("hwcal"),
    };
    let mut help = false;
    for line in rendered.lines().map(str::trim) {
        if line.is_empty() {
            continue;
        }
        if line.starts_with("For more information, try ") {
            help = true;
        } else if let Some(usage) = line.strip_prefix("Usage:") {
            // `Usage: hwcal calibrate [OPTIONS]` names the command whose help to read.
            command = usage
                .split_whitespace()
                .take_while(|w| !w.starts_with(['[', '<', '-']))
                .collect::<Vec<_>>()
                .join(" ");
        } else if !line.starts_with("hwcal ") {
            parts.push(line.strip_prefix("error: ").unwrap_or(line).to_string());
        }
    }
    let mut out = String::new();
    for part in parts {
        if !out.is_empty() {
            out.push_str(if out.ends_with(':') { " " } else { "; " });
        }
        out.push_str(&part);
    }
    if help {
        out.push_str(&format!(" (see `{command} --help`)"));
    }
    crate::text::truncated_to(&out, 400)
}

/// Most worker threads `--threads` accepts per logical CPU.
pub const THREADS_PER_CPU: usize = 16;

/// Most worker threads `--threads` accepts on a machine with `cpus` logical CPUs.
pub fn max_threads(cpus: usize) -> usize {
    cpus.max(1).saturating_mul(THREADS_PER_CPU)
}

/// Longest slug [`slug`] makes from a name (in characters), before its hash suffix.
const MAX_SLUG: usize = 100;

/// File name for a hardware name: lowercase letters and digits of any script, runs of other
/// characters as `_` (`AMD EPYC 9R45` → `amd_epyc_9r45`, `日本語 GPU` → `日本語_gpu`). A name with
/// no letter or digit (`..`, `🚀`, `///`) becomes `device_` and a hash of the name, so distinct
/// names do not collide on one file; a very long name is cut and gets the same hash suffix.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed = out.trim_matches('_');
    let hash = || {
        // FNV-1a: stable across runs and platforms, unlike std's hasher.
        let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        format!("{:08x}", h >> 32)
    };
    if trimmed.is_empty() {
        format!("device_{}", hash())
    } else if trimmed.chars().count() > MAX_SLUG {
        let head: String = trimmed.chars().take(MAX_SLUG).collect();
        format!("{}_{}", head.trim_end_matches('_'), hash())
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_file_names() {
        assert_eq!(slug("AMD EPYC"), "amd_epyc");
        assert_eq!(
            slug("llvmpipe (LLVM 15.0.6, 256 bits)"),
            "llvmpipe_llvm_15_0_6_256_bits"
        );
        assert_eq!(slug("日本語 GPU"), "日本語_gpu");
        assert_eq!(slug("Ärger"), "ärger");
        // No letter or digit: a hash keeps distinct names apart, never `.` or `..`.
        let odd: Vec<String> = ["..", ".", "///", "🚀", "🔥", ""]
            .iter()
            .map(|n| slug(n))
            .collect();
        for (i, s) in odd.iter().enumerate() {
            assert!(s.starts_with("device_"), "{s}");
            assert!(!s.contains('/') && s != "." && s != "..");
            for t in &odd[i + 1..] {
                assert_ne!(s, t);
            }
        }
        assert_eq!(slug("🚀"), slug("🚀"), "stable");
        let long = slug(&"x".repeat(5000));
        assert!(long.len() < 120, "{long}");
    }

    #[test]
    fn flag_errors_are_one_line() {
        for argv in [
            &["hwcal", "calibrate", "--bogus"][..],
            &["hwcal", "calibrate", "--threads", "x"],
            &["hwcal", "nosuch"],
            &["hwcal", "compare"],
        ] {
            let e = Cli::try_parse_from(argv).unwrap_err();
            let line = one_line(&e.render().to_string(), argv.get(1).copied());
            assert!(!line.contains('\n') && !line.is_empty(), "{argv:?}: {line}");
            assert!(line.contains("--help"), "{line}");
            assert!(!line.contains(":;"), "{line}");
        }
        // A negative number is a value, judged by validation, not an unknown flag.
        let cli = Cli::try_parse_from(["hwcal", "calibrate", "--peak-gflops", "-1"]).unwrap();
        let Command::Calibrate(args) = cli.command else {
            panic!()
        };
        let e = args.to_config().unwrap_err().to_string();
        assert!(e.contains("--peak-gflops -1"), "{e}");
        for absurd in ["5e-324", "1e-310", "1e308", "NaN", "inf", "0"] {
            for flag in ["--peak-gflops", "--peak-bandwidth"] {
                let cli = Cli::try_parse_from(["hwcal", "calibrate", flag, absurd]).unwrap();
                let Command::Calibrate(args) = cli.command else {
                    panic!()
                };
                let e = args.to_config().unwrap_err().to_string();
                assert!(e.starts_with(flag) && !e.contains('\n'), "{e}");
            }
        }
    }

    #[test]
    fn threads_have_an_upper_bound() {
        assert_eq!(max_threads(2), 32);
        let e = init_threads(Some(100_000), false).unwrap_err().to_string();
        assert!(e.contains("--threads 100000: at most"), "{e}");
        assert!(init_threads(Some(0), false).is_err());
    }

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
        assert_eq!(c.patterns.len(), 3);

        let cli = Cli::try_parse_from(["hwcal", "calibrate", "--min-samples", "1"]).unwrap();
        let Command::Calibrate(args) = cli.command else {
            panic!()
        };
        assert!(args.to_config().is_err());
        assert!(
            Cli::try_parse_from(["hwcal", "calibrate", "--quick", "--preset", "tiny"]).is_err()
        );
    }
}
