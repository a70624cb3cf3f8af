//! `hwcal plan`: its settings and the entry point the binary calls (the flags are parsed in
//! [`crate::cli::plan`]).

use super::graph::Graph;
use super::model::CostModel;
use super::planner;
use super::report::{PlanReport, ThresholdChoice};
use super::verify::{self, VerifyOptions};
use crate::backend::{self, BackendSelection};
use crate::{Error, Result};
use std::path::PathBuf;

/// Output format of `hwcal plan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Terminal tables.
    Table,
    /// JSON for tools.
    Json,
}

/// What `hwcal plan` decides with and on, and whether and where it verifies.
#[derive(Clone, Debug)]
pub struct PlanSettings {
    /// Profile to decide with (hwcal's or the Python calibrator's JSON).
    pub profile: PathBuf,
    /// Operator graph to partition (JSON; format in docs/cost-model.md).
    pub graph: PathBuf,
    /// Fuse a group when its predicted speedup is at least this [default: recommended from
    /// the profile's measurement noise].
    pub threshold: Option<f64>,
    /// Output format.
    pub format: Format,
    /// Measure every candidate group at the graph's shapes and check each decision.
    pub verify: Option<VerifySettings>,
}

/// How `plan --verify` measures.
#[derive(Clone, Debug)]
pub struct VerifySettings {
    /// The one device the candidates are measured on (the CPU, or one GPU adapter).
    pub backend: BackendSelection,
    /// Samples, warm-up, seed and memory limit per candidate.
    pub options: VerifyOptions,
}

/// Runs `hwcal plan`: prints the plan (and the verification) and returns the exit code: 0,
/// or 1 when the verification found a decision wrong beyond the noise or a kernel that failed
/// to measure. Errors (unreadable profile, malformed graph, bad settings, numbers beyond
/// [`super::limits`], no such device) exit with 2. A verification interrupted by Ctrl-C (or
/// SIGTERM) stops after the group being measured, prints the verdicts so far and which groups
/// were not verified, and returns [`crate::interrupt::EXIT_CODE`].
///
/// With [`PlanSettings::verify`], opens its backend ([`backend::open_one`], which also sizes
/// rayon's worker pool) once the profile and the graph have been read and planned.
pub fn run(args: &PlanSettings) -> Result<u8> {
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
    let verification = match &args.verify {
        Some(v) => {
            let backend = backend::open_one(&v.backend)?;
            crate::interrupt::install();
            let device = backend.device();
            let on = if device.backend == "cpu" {
                "this CPU".to_string()
            } else {
                format!(
                    "the {} device {}",
                    device.backend,
                    crate::text::truncated(&device.name)
                )
            };
            match model.backend() {
                Some(b) if b == device.backend => {}
                Some(other) => notes.push(format!(
                    "the profile was measured on the {} backend; --verify measures on {on}",
                    crate::text::truncated(other)
                )),
                None => notes.push(format!(
                    "the profile comes from another tool (no `hwcal` key); --verify measures on {on} with hwcal's kernels"
                )),
            }
            let mut progress = |line: &str| eprintln!("{}", crate::text::printable(line));
            Some(verify::verify(
                &plan,
                backend.as_ref(),
                v.options,
                &mut progress,
            )?)
        }
        None => None,
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
