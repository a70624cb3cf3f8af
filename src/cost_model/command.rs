//! `hwcal plan`: the arguments and the entry point the binary calls.

use super::graph::Graph;
use super::model::CostModel;
use super::planner;
use super::report::{PlanReport, ThresholdChoice};
use super::verify::{self, VerifyOptions};
use crate::backend::cpu::CpuBackend;
use crate::backend::Backend;
use crate::{Error, Result};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// Output format of `hwcal plan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Terminal tables.
    Table,
    /// JSON for tools.
    Json,
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
    pub format: Format,
    /// Measure every candidate group on this CPU at the graph's shapes and check each decision
    /// (exit code 1 when one is wrong beyond the noise).
    #[arg(long)]
    pub verify: bool,
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

/// Runs `hwcal plan`: prints the plan (and the verification) and returns the exit code: 0,
/// or 1 when `--verify` found a decision wrong beyond the noise or a kernel that failed to
/// measure. Errors (unreadable profile, malformed graph, bad flags, numbers beyond
/// [`super::limits`]) exit with 2. A `--verify` interrupted by Ctrl-C (or SIGTERM) stops
/// after the group being measured, prints the verdicts so far and which groups were not
/// verified, and returns [`crate::interrupt::EXIT_CODE`].
///
/// The caller sets up the worker threads (`crate::cli::init_threads(args.threads)`).
pub fn run(args: &PlanArgs) -> Result<u8> {
    if !args.verify {
        for (flag, given) in [
            ("--trials", args.trials.is_some()),
            ("--warmup", args.warmup.is_some()),
        ] {
            if given {
                return Err(Error::usage(format!(
                    "{flag} only applies with --verify: add --verify or drop {flag}"
                )));
            }
        }
    }
    if args.verify {
        crate::interrupt::install();
    }
    let model = CostModel::from_path(&args.profile)?;
    let advice = model.threshold_advice();
    let (model, source) = match args.threshold {
        Some(t) => (
            model
                .with_threshold(t)
                .map_err(|e| Error::usage(format!("--threshold: {e}")))?,
            "given",
        ),
        None => (model.with_recommended_threshold(), "recommended"),
    };
    let graph = Graph::load(&args.graph)?;
    let plan = planner::plan(&graph, &model);

    let mut notes = Vec::new();
    if !model.unrecognized_patterns().is_empty() {
        notes.push(format!(
            "profile entries that name no calibrated pattern are ignored: {}",
            crate::text::list(model.unrecognized_patterns(), 10)
        ));
    }
    let verification = if args.verify {
        let backend = CpuBackend::new();
        match model.backend() {
            Some("cpu") => {}
            Some(other) => notes.push(format!(
                "the profile was measured on the {} backend; --verify measures on this CPU",
                crate::text::truncated(other)
            )),
            None => notes.push(
                "the profile comes from another tool (no `hwcal` key); --verify measures on this CPU with hwcal's kernels".into(),
            ),
        }
        let defaults = VerifyOptions::default();
        let options = VerifyOptions {
            trials: args.trials.unwrap_or(defaults.trials),
            warmup: args.warmup.unwrap_or(defaults.warmup),
            ..defaults
        };
        let mut progress = |line: &str| eprintln!("{}", crate::text::printable(line));
        Some(verify::verify(
            &plan,
            &backend as &dyn Backend,
            options,
            &mut progress,
        )?)
    } else {
        None
    };
    let failed = verification.as_ref().is_some_and(|v| v.failed());
    let interrupted = verification.as_ref().is_some_and(|v| v.was_interrupted);
    let report = PlanReport {
        graph_file: args.graph.display().to_string(),
        profile_file: args.profile.display().to_string(),
        threshold: ThresholdChoice {
            value: model.threshold(),
            source,
            recommended: advice,
        },
        plan,
        verify: verification,
        notes,
    };
    match args.format {
        Format::Table => print!("{}", report.to_text()),
        Format::Json => println!("{}", report.to_json()),
    }
    Ok(if interrupted {
        crate::interrupt::EXIT_CODE
    } else if failed {
        1
    } else {
        0
    })
}
