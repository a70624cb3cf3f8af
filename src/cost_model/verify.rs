//! `plan --verify`: measure every candidate group at the graph's shapes and judge each
//! decision.
//!
//! Each chosen group, each rejected group and each longer candidate rejected in favour of a
//! shorter one runs through [`crate::calibrate::measure_pattern`] (outputs verified against the
//! f64 reference, warm-up, then adaptive paired sampling as in a quick calibration), and the
//! measured speedup is the median of paired ratios with its 95% interval
//! ([`crate::stats::paired_ratio`]). A decision is
//! - **wrong** when it fused and the whole interval is below 1.0 (fusion measurably slows it
//!   down), or did not fuse and the whole interval is at or above the threshold (a measurable
//!   speedup was missed);
//! - **within noise** when the measured median disagrees with the decision but the interval
//!   reaches the other side;
//! - **right** otherwise.

use super::planner::{Candidate, Plan};
use crate::backend::{Backend, Variant};
use crate::calibrate::sampling::SamplingPolicy;
use crate::calibrate::{measure_pattern, Config};
use crate::pattern::Preset;
use crate::stats::median;
use crate::Result;
use serde::Serialize;

/// How candidates are measured.
#[derive(Clone, Copy, Debug)]
pub struct VerifyOptions {
    /// Samples (pairs) per candidate before the stopping rule is judged.
    pub trials: usize,
    /// Untimed runs per variant, the verification run included.
    pub warmup: usize,
    /// Seed of the inputs and of the bootstrap.
    pub seed: u64,
}

impl Default for VerifyOptions {
    /// At least 10 pairs after 2 warm-up runs, the calibration's seed.
    fn default() -> Self {
        VerifyOptions {
            trials: 10,
            warmup: 2,
            seed: Config::new(Preset::Quick).seed,
        }
    }
}

/// How a decision compares with the measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The measurement agrees with the decision.
    Right,
    /// The measured median disagrees, but not beyond the 95% interval.
    WithinNoise,
    /// The measurement contradicts the decision beyond the noise.
    Wrong,
    /// The candidate has no calibrated shape: nothing to run.
    NotMeasured,
    /// Measuring failed (e.g. a kernel did not verify).
    Failed,
}

impl Verdict {
    /// Lowercase label.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Right => "right",
            Verdict::WithinNoise => "within noise",
            Verdict::Wrong => "WRONG",
            Verdict::NotMeasured => "not measured",
            Verdict::Failed => "FAILED",
        }
    }
}

/// Judges a decision against a measured speedup and its 95% interval (see the module notes).
pub fn judge(fused: bool, threshold: f64, speedup: f64, ci95: (f64, f64)) -> Verdict {
    let (lo, hi) = ci95;
    if fused {
        if hi < 1.0 {
            Verdict::Wrong
        } else if speedup < 1.0 {
            Verdict::WithinNoise
        } else {
            Verdict::Right
        }
    } else if lo >= threshold {
        Verdict::Wrong
    } else if speedup >= threshold {
        Verdict::WithinNoise
    } else {
        Verdict::Right
    }
}

/// What was measured for one candidate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Measurement {
    /// Median unfused latency, ms.
    pub unfused_ms: f64,
    /// Median fused latency, ms.
    pub fused_ms: f64,
    /// Median of the paired ratios unfused/fused.
    pub speedup: f64,
    /// 95% interval of the speedup (order statistics of the paired ratios).
    pub ci95: (f64, f64),
    /// Paired samples taken.
    pub trials: usize,
}

/// One checked decision.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    /// Index of the group in [`Plan::groups`].
    pub group: usize,
    /// The candidate measured.
    pub candidate: Candidate,
    /// Whether the plan fused it.
    pub fused: bool,
    /// The measurement; `None` when not measured or failed.
    pub measured: Option<Measurement>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why it was not measured, or the error.
    pub detail: Option<String>,
}

/// All checks of a plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verification {
    /// Backend the candidates ran on (`cpu`).
    pub backend: String,
    /// Device description.
    pub device: String,
    /// Least paired samples per candidate.
    pub trials: usize,
    /// One check per measured candidate, in plan order.
    pub checks: Vec<Check>,
}

impl Verification {
    /// Number of checks with `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.checks.iter().filter(|c| c.verdict == verdict).count()
    }

    /// Whether any decision was wrong beyond the noise or a measurement failed.
    pub fn failed(&self) -> bool {
        self.count(Verdict::Wrong) + self.count(Verdict::Failed) > 0
    }
}

/// Measures every candidate of `plan` on `backend`. `progress` receives one line per
/// candidate before it runs.
pub fn verify(
    plan: &Plan,
    backend: &dyn Backend,
    options: VerifyOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<Verification> {
    // measure_pattern takes its input seed from the calibration settings.
    let mut config = Config::new(Preset::Quick);
    config.sampling.min_samples = options.trials;
    config.sampling.max_samples = config.sampling.max_samples.max(options.trials);
    config.sampling.warmup = options.warmup;
    config.seed = options.seed;
    config.validate_sampling()?;
    let policy = config.sampling;
    let mut checks = Vec::new();
    for (i, g) in plan.groups.iter().enumerate() {
        let mut todo = vec![(&g.candidate, g.fused)];
        if let Some(longer) = &g.rejected_longer {
            todo.push((longer, false));
        }
        for (c, fused) in todo {
            checks.push(check(
                i,
                c,
                fused,
                plan.threshold,
                backend,
                &policy,
                &config,
                progress,
            ));
        }
    }
    Ok(Verification {
        backend: backend.device().backend.to_string(),
        device: backend.device().name.clone(),
        trials: options.trials,
        checks,
    })
}

#[allow(clippy::too_many_arguments)]
fn check(
    group: usize,
    c: &Candidate,
    fused: bool,
    threshold: f64,
    backend: &dyn Backend,
    policy: &SamplingPolicy,
    config: &Config,
    progress: &mut dyn FnMut(&str),
) -> Check {
    let mut out = Check {
        group,
        candidate: c.clone(),
        fused,
        measured: None,
        verdict: Verdict::NotMeasured,
        detail: None,
    };
    let Some(shape) = c.shape else {
        out.detail = c.prediction.note.clone();
        return out;
    };
    progress(&format!(
        "measuring {} ({}, {})",
        c.nodes.join(" → "),
        c.pattern.name(),
        shape.label()
    ));
    match measure_pattern(backend, c.pattern, shape, policy, config) {
        Err(e) => {
            out.verdict = Verdict::Failed;
            out.detail = Some(e.to_string());
        }
        Ok(m) => {
            let (u, f) = (m.latencies(Variant::Unfused), m.latencies(Variant::Fused));
            if u.is_empty() || f.is_empty() {
                out.verdict = Verdict::Failed;
                out.detail = Some("no usable timing samples".into());
                return out;
            }
            let (mu, mf) = (median(u), median(f));
            let e = m.sampled.estimate;
            let (speedup, ci95) = (e.value, (e.lo, e.hi));
            out.verdict = judge(fused, threshold, speedup, ci95);
            out.measured = Some(Measurement {
                unfused_ms: mu,
                fused_ms: mf,
                speedup,
                ci95,
                trials: u.len().min(f.len()),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_respect_the_noise() {
        // Fused: wrong only when the whole interval is below 1.
        assert_eq!(judge(true, 1.1, 0.9, (0.85, 0.95)), Verdict::Wrong);
        assert_eq!(judge(true, 1.1, 0.97, (0.9, 1.02)), Verdict::WithinNoise);
        assert_eq!(judge(true, 1.1, 1.02, (0.98, 1.05)), Verdict::Right);
        // Not fused: wrong only when the whole interval reaches the threshold.
        assert_eq!(judge(false, 1.1, 1.3, (1.2, 1.4)), Verdict::Wrong);
        assert_eq!(judge(false, 1.1, 1.12, (1.05, 1.2)), Verdict::WithinNoise);
        assert_eq!(judge(false, 1.1, 1.05, (1.0, 1.15)), Verdict::Right);
    }
}
