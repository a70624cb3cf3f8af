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
//!
//! Before anything is allocated, each candidate's buffers are counted ([`verify_bytes`], checked
//! arithmetic): one above [`VerifyOptions::max_bytes`] (by default
//! [`super::limits::verify_memory_limit`]), or beyond [`super::limits::check_shape`], is not
//! run and gets the verdict **not verified** (`too large to verify (N GiB > L GiB limit)`); the
//! other candidates go on.
//!
//! Between groups [`verify`] asks [`crate::interrupt::requested`]: after a Ctrl-C it stops,
//! keeping the checks done, and lists the groups left in [`Verification::interrupted`].

use super::limits;
use super::planner::{Candidate, Plan};
use crate::backend::{Backend, Variant};
use crate::calibrate::sampling::SamplingPolicy;
use crate::calibrate::{measure_pattern, Config};
use crate::pattern::{Pattern, Preset, Shape};
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
    /// Most bytes one candidate may allocate; larger ones are not verified.
    pub max_bytes: u64,
}

impl Default for VerifyOptions {
    /// At least 10 pairs after 2 warm-up runs, the calibration's seed, and this machine's
    /// [`limits::verify_memory_limit`].
    fn default() -> Self {
        VerifyOptions {
            trials: 10,
            warmup: 2,
            seed: Config::new(Preset::Quick).seed,
            max_bytes: limits::verify_memory_limit(),
        }
    }
}

/// Bytes a verified run of `pattern` at `shape` allocates on the CPU backend (f32): the
/// inputs, the backend's copies of them, both variants' outputs and a copy of one for the
/// check, and the work buffers (conv: folded filters and the im2col matrix; full attention: the
/// `S×S` scores). `None` when the count overflows `u128`. A lower bound: GEMM packing buffers
/// and the reference's rows come on top.
pub fn verify_bytes(pattern: Pattern, shape: &Shape) -> Option<u128> {
    let u = |x: usize| x as u128;
    let p = |xs: &[usize]| limits::product(xs.iter().map(|&x| u(x)));
    let sum = |xs: &[Option<u128>]| xs.iter().try_fold(0u128, |acc, x| acc.checked_add((*x)?));
    let elements = match *shape {
        Shape::Linear { m, k, n } => {
            let e = pattern.epilogue();
            let out = p(&[m, n])?;
            let weights = p(&[k, n])?.checked_mul(if e.gate { 2 } else { 1 })?;
            let residual = if e.residual { out } else { 0 };
            let inputs = sum(&[p(&[m, k]), Some(weights), Some(u(n)), Some(residual)])?;
            // SwiGLU's unfused chain keeps the up projection as well.
            let outputs = if e.gate { 4 } else { 3 };
            sum(&[inputs.checked_mul(2), out.checked_mul(outputs)])?
        }
        Shape::Conv { .. } => {
            let (c, o) = (shape.conv_dims()?, u(shape.checked_conv_out_hw()?));
            let (batch, cin, cout, hw, kernel) = (c.batch, c.cin, c.cout, c.hw, c.kernel);
            let weight = p(&[cout, cin, kernel, kernel])?;
            let inputs = sum(&[
                p(&[batch, cin, hw, hw]),
                Some(weight),
                u(cout).checked_mul(5),
            ])?;
            let col = limits::product([u(cin), u(kernel), u(kernel), o, o]);
            let out = limits::product([u(batch), u(cout), o, o])?;
            sum(&[
                inputs.checked_mul(2),
                Some(weight),
                u(cout).checked_mul(3),
                col,
                // Both outputs and the check's copy, plus a residual and its copy.
                out.checked_mul(if pattern.epilogue().residual { 5 } else { 3 }),
            ])?
        }
        Shape::Attention { batch, seq, dim } => {
            let bsd = p(&[batch, seq, dim])?;
            let bss = p(&[batch, seq, seq])?;
            let (scores, out) = if pattern.epilogue().value_matmul {
                (bss, bsd)
            } else {
                (0, bss)
            };
            sum(&[bsd.checked_mul(6), Some(scores), out.checked_mul(3)])?
        }
        Shape::Norm { rows, hidden } => {
            let tensor = p(&[rows, hidden])?;
            let outputs = if pattern.epilogue().writes_sum { 6 } else { 3 };
            sum(&[
                tensor.checked_mul(4),
                u(hidden).checked_mul(4),
                tensor.checked_mul(outputs),
            ])?
        }
        Shape::Depthwise { .. } => {
            let (c, o) = (shape.conv_dims()?, u(shape.checked_conv_out_hw()?));
            let inputs = sum(&[
                p(&[c.batch, c.cin, c.hw, c.hw]),
                p(&[c.cin, c.kernel, c.kernel]),
                u(c.cin).checked_mul(5),
            ])?;
            let out = limits::product([u(c.batch), u(c.cin), o, o])?;
            sum(&[inputs.checked_mul(2), out.checked_mul(3)])?
        }
    };
    elements.checked_mul(4)
}

/// Bytes as GiB with one decimal.
fn gib(bytes: u128) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// Why `pattern` at `shape` is not run when one candidate may allocate `max_bytes`, or `None`
/// when it may run: `too large to verify (N GiB > L GiB limit)` (or the limit of
/// [`limits::check_shape`] it exceeds), or `cannot run: …` for a shape the kernels cannot
/// take ([`Shape::validate`]: zero sizes, a kernel larger than the padded image). Decided
/// with checked arithmetic, before anything is allocated.
pub fn refusal(pattern: Pattern, shape: &Shape, max_bytes: u64) -> Option<String> {
    let limit = gib(u128::from(max_bytes));
    let bytes = verify_bytes(pattern, shape);
    if let Some(b) = bytes.filter(|&b| b > u128::from(max_bytes)) {
        return Some(format!("too large to verify ({} > {limit} limit)", gib(b)));
    }
    let misfit = !shape.kernel_fits();
    if bytes.is_none() && !misfit {
        return Some(format!(
            "too large to verify (its byte count overflows; {limit} limit)"
        ));
    }
    // A zero size is a zero chunk length in the kernels, a kernel larger than the padded image
    // a zero output: validate keeps both out (and cannot overflow on them).
    let zero = shape.sizes().contains(&0);
    if zero || misfit {
        let why = shape
            .validate()
            .err()
            .map_or("no output".into(), |e| e.to_string());
        return Some(format!("cannot run: {why}"));
    }
    if let Err(e) = limits::check_shape(shape) {
        return Some(format!("too large to verify ({e}; {limit} limit)"));
    }
    // Within the limits nothing overflows here.
    shape.validate().err().map(|e| format!("cannot run: {e}"))
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
    /// Not run: the candidate's buffers exceed the memory limit, or its shape cannot be run
    /// (detail: why, e.g. `too large to verify (4098.2 GiB > 4.0 GiB limit)`).
    NotVerified,
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
            Verdict::NotVerified => "not verified",
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
    /// Backend the candidates ran on (`cpu`, `gpu`).
    pub backend: String,
    /// Device description.
    pub device: String,
    /// Least paired samples per candidate.
    pub trials: usize,
    /// One check per measured candidate, in plan order.
    pub checks: Vec<Check>,
    /// Indices (in [`Plan::groups`]) of the groups not verified because the run was
    /// interrupted; empty when it was not.
    pub interrupted: Vec<usize>,
    /// Whether an interruption stopped the run (also when it came after the last group).
    pub was_interrupted: bool,
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
/// candidate before it runs. Stops between groups when [`crate::interrupt::requested`].
pub fn verify(
    plan: &Plan,
    backend: &dyn Backend,
    options: VerifyOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<Verification> {
    verify_until(
        plan,
        backend,
        options,
        progress,
        &mut crate::interrupt::requested,
    )
}

/// [`verify`], asking `stop` before each group (and once after the last) whether to stop
/// instead of [`crate::interrupt::requested`].
pub fn verify_until(
    plan: &Plan,
    backend: &dyn Backend,
    options: VerifyOptions,
    progress: &mut dyn FnMut(&str),
    stop: &mut dyn FnMut() -> bool,
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
    let mut interrupted = Vec::new();
    let mut was_interrupted = false;
    for (i, g) in plan.groups.iter().enumerate() {
        if stop() {
            interrupted = (i..plan.groups.len()).collect();
            was_interrupted = true;
            break;
        }
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
                options.max_bytes,
                progress,
            ));
        }
    }
    was_interrupted = was_interrupted || stop();
    Ok(Verification {
        backend: backend.device().backend.to_string(),
        device: backend.device().name.clone(),
        trials: options.trials,
        checks,
        interrupted,
        was_interrupted,
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
    max_bytes: u64,
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
    // Refused before anything is allocated.
    if let Some(why) = refusal(c.pattern, &shape, max_bytes) {
        out.verdict = Verdict::NotVerified;
        out.detail = Some(why);
        return out;
    }
    progress(&format!(
        "measuring {} ({}, {})",
        crate::text::chain(&c.nodes),
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
    fn shapes_the_kernels_cannot_take_are_refused_before_allocating() {
        let gib4 = 4 << 30;
        let small = Shape::conv3x3(1, 3, 4, 8);
        assert_eq!(refusal(Pattern::Conv2dBn, &small, gib4), None);
        // Zero sizes: a zero chunk length in the conv kernel.
        let zero = Shape::conv3x3(1, 0, 4, 8);
        let why = refusal(Pattern::Conv2dBn, &zero, gib4).unwrap();
        assert!(why.starts_with("cannot run: "), "{why}");
        let misfit = Shape::Conv {
            batch: 1,
            cin: 1,
            cout: 1,
            hw: 2,
            kernel: 7,
            stride: 1,
            padding: 0,
        };
        assert!(refusal(Pattern::Conv2dBn, &misfit, gib4)
            .unwrap()
            .starts_with("cannot run: "));
        // 2^40 × 2^40: counted in u128, never wrapped around to a small size.
        let huge = Shape::conv3x3(1, 1, 1, 1 << 40);
        let why = refusal(Pattern::Conv2dBn, &huge, gib4).unwrap();
        assert!(
            why.starts_with("too large to verify (") && why.ends_with(" GiB > 4.0 GiB limit)"),
            "{why}"
        );
        let sdpa = Shape::Attention {
            batch: 1,
            seq: 1 << 40,
            dim: 64,
        };
        let why = refusal(Pattern::FullAttention, &sdpa, gib4).unwrap();
        assert!(why.starts_with("too large to verify ("), "{why}");
        let absurd = Shape::Attention {
            batch: usize::MAX,
            seq: usize::MAX,
            dim: usize::MAX,
        };
        assert_eq!(verify_bytes(Pattern::QkSoftmax, &absurd), None);
        assert!(refusal(Pattern::QkSoftmax, &absurd, gib4)
            .unwrap()
            .starts_with("too large to verify ("));
    }

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
