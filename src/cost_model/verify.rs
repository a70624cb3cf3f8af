//! `plan --verify`: measure every candidate at the graph's shapes and judge each chain's
//! decision.
//!
//! Every candidate of every chain (fused, weighed and left, below the threshold) runs through
//! [`crate::calibrate::measure_pattern`] (outputs verified against the f64 reference, warm-up,
//! then adaptive paired sampling as in a quick calibration), and the measured speedup is the
//! median of paired ratios with its 95% interval ([`crate::stats::paired_ratio`]). A chain's
//! decision is the set of candidates it fuses; the measurements give each candidate's saving
//! at a speedup `r`, `fused_ms · (r − 1)`, and the measured best cover is chosen as the planner
//! chooses ([`super::cover::best_maximal`] over the candidates whose measured speedup reaches
//! the threshold). The decision is
//! - **right** when, at the measured medians, no cover saves more than the plan's;
//! - **wrong** when a cover saves more even with every speedup at the end of its 95% interval
//!   that favours the plan (the plan's candidates at their upper ends, the others at their
//!   lower ends, which also decides whether they reach the threshold);
//! - **within noise** otherwise.
//!
//! For a chain of one candidate this is the candidate's own test: fused is wrong when the
//! whole interval is below 1.0 (fusion measurably slows it down), not fused is wrong when the
//! whole interval is at or above the threshold (a measurable speedup was missed).
//!
//! Before anything is allocated, each candidate's buffers are counted ([`verify_bytes`], checked
//! arithmetic): one above [`VerifyOptions::max_bytes`] (by default
//! [`super::limits::verify_memory_limit`]), or beyond [`super::limits::check_shape`], is not
//! run and gets the verdict **not verified** (`too large to verify (N GiB > L GiB limit)`); the
//! other candidates go on, and its chain is judged over the candidates measured.
//!
//! Between chains [`verify`] asks [`crate::interrupt::requested`]: after a Ctrl-C it stops,
//! keeping the checks done, and lists the groups left in [`Verification::interrupted`].

use super::cover::{self, Item};
use super::limits;
use super::planner::{Candidate, ChainPlan, Plan};
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

/// Judges a decision on one candidate alone (a chain of one) against its measured speedup and
/// 95% interval: [`judge_chain`] of that chain.
pub fn judge(fused: bool, threshold: f64, speedup: f64, ci95: (f64, f64)) -> Verdict {
    let m = Measured {
        start: 0,
        end: 0,
        fused_ms: 1.0,
        speedup,
        ci95,
        planned: fused,
    };
    judge_chain(1, &[m], threshold).0
}

/// A measured candidate of a chain, for [`judge_chain`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measured {
    /// First position in the chain.
    pub start: usize,
    /// Last position (inclusive).
    pub end: usize,
    /// Measured fused latency, ms (the saving at a speedup `r` is `fused_ms · (r − 1)`).
    pub fused_ms: f64,
    /// Measured speedup (median of the paired ratios).
    pub speedup: f64,
    /// Its 95% interval.
    pub ci95: (f64, f64),
    /// Whether the plan fuses it.
    pub planned: bool,
}

/// Judges a chain's decision (see the module notes) over `n` positions: the verdict, and the
/// indices of the measured best cover at the medians.
pub fn judge_chain(n: usize, measured: &[Measured], threshold: f64) -> (Verdict, Vec<usize>) {
    // The saving of the best cover and of the plan's, each candidate at speedup `at(c)`.
    let compare = |at: &dyn Fn(&Measured) -> f64| -> (f64, f64, Vec<usize>) {
        let eligible: Vec<usize> = (0..measured.len())
            .filter(|&i| at(&measured[i]) >= threshold)
            .collect();
        let saving = |m: &Measured| m.fused_ms * (at(m) - 1.0);
        let items: Vec<Item> = eligible
            .iter()
            .map(|&i| Item {
                start: measured[i].start,
                end: measured[i].end,
                weight: saving(&measured[i]),
            })
            .collect();
        let (best, best_saving) = cover::best_maximal(n, &items);
        let planned: f64 = measured.iter().filter(|m| m.planned).map(saving).sum();
        let best: Vec<usize> = best.iter().map(|&b| eligible[b]).collect();
        (best_saving, planned, best)
    };
    // Savings equal up to rounding are equal.
    let beats = |a: f64, b: f64| a - b > 1e-9 * (a.abs() + b.abs()).max(1e-12);
    let (best, planned, cover) = compare(&|m| m.speedup);
    if !beats(best, planned) {
        return (Verdict::Right, cover);
    }
    let (best, planned, _) = compare(&|m| if m.planned { m.ci95.1 } else { m.ci95.0 });
    let verdict = if beats(best, planned) {
        Verdict::Wrong
    } else {
        Verdict::WithinNoise
    };
    (verdict, cover)
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

/// One measured candidate.
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
    /// The verdict on its chain's decision when it was measured, else why not
    /// ([`Verdict::NotMeasured`], [`Verdict::NotVerified`], [`Verdict::Failed`]).
    pub verdict: Verdict,
    /// Why it was not measured, or the error.
    pub detail: Option<String>,
}

/// The verdict on one chain's decision.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChainCheck {
    /// Index of the chain in [`Plan::chains`].
    pub chain: usize,
    /// The verdict: from the measured candidates, or why there is none (a candidate failed to
    /// measure; none could be measured).
    pub verdict: Verdict,
    /// Groups (indices in [`Plan::groups`]) of the measured best cover, when measured.
    pub measured_best: Option<Vec<usize>>,
    /// What was compared, for chains of several candidates, or why there is no verdict.
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
    /// One check per candidate, in plan order.
    pub checks: Vec<Check>,
    /// One verdict per chain verified, in plan order.
    pub chains: Vec<ChainCheck>,
    /// Indices (in [`Plan::groups`]) of the groups not verified because the run was
    /// interrupted; empty when it was not.
    pub interrupted: Vec<usize>,
    /// Whether an interruption stopped the run (also when it came after the last group).
    pub was_interrupted: bool,
}

impl Verification {
    /// Number of chains whose decision got `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.chains.iter().filter(|c| c.verdict == verdict).count()
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
    let mut chains = Vec::new();
    let mut interrupted = Vec::new();
    let mut was_interrupted = false;
    for (ci, chain) in plan.chains.iter().enumerate() {
        if stop() {
            interrupted = plan.chains[ci..]
                .iter()
                .flat_map(|c| c.groups.iter().copied())
                .collect();
            was_interrupted = true;
            break;
        }
        let first = checks.len();
        // A plan built in code may name groups it does not hold: those are skipped.
        for &gi in &chain.groups {
            let Some(g) = plan.groups.get(gi) else {
                continue;
            };
            checks.push(check(
                gi,
                &g.candidate,
                g.fused,
                backend,
                &policy,
                &config,
                options.max_bytes,
                progress,
            ));
        }
        let verdict = chain_check(ci, chain, plan, &mut checks[first..]);
        chains.push(verdict);
    }
    was_interrupted = was_interrupted || stop();
    Ok(Verification {
        backend: backend.device().backend.to_string(),
        device: backend.device().name.clone(),
        trials: options.trials,
        checks,
        chains,
        interrupted,
        was_interrupted,
    })
}

/// Judges chain `ci` from its candidates' checks, and writes the verdict into the checks of
/// the candidates measured.
fn chain_check(ci: usize, chain: &ChainPlan, plan: &Plan, checks: &mut [Check]) -> ChainCheck {
    let mut out = ChainCheck {
        chain: ci,
        verdict: Verdict::NotMeasured,
        measured_best: None,
        detail: None,
    };
    if let Some(c) = checks.iter().find(|c| c.verdict == Verdict::Failed) {
        out.verdict = Verdict::Failed;
        out.detail = Some(format!("{} failed to measure", c.candidate.pattern.name()));
        return out;
    }
    // A candidate's place in the chain: its nodes are a run of the chain's.
    let place = |c: &Candidate| -> Option<(usize, usize)> {
        let start = chain.nodes.iter().position(|n| *n == c.nodes[0])?;
        Some((start, start + c.nodes.len() - 1))
    };
    let mut measured = Vec::new();
    let mut index = Vec::new();
    for (i, c) in checks.iter().enumerate() {
        let (Some(m), Some((start, end))) = (&c.measured, place(&c.candidate)) else {
            continue;
        };
        measured.push(Measured {
            start,
            end,
            fused_ms: m.fused_ms,
            speedup: m.speedup,
            ci95: m.ci95,
            planned: c.fused,
        });
        index.push(i);
    }
    let unmeasured = checks.len() - measured.len();
    // A fused candidate that could not be measured leaves the decision unjudged.
    if measured.is_empty() || checks.iter().any(|c| c.fused && c.measured.is_none()) {
        out.verdict = if checks.iter().any(|c| c.verdict == Verdict::NotVerified) {
            Verdict::NotVerified
        } else {
            Verdict::NotMeasured
        };
        out.detail = Some("its fused candidates could not be measured".into());
        return out;
    }
    let (verdict, best) = judge_chain(chain.nodes.len(), &measured, plan.threshold);
    for &i in &index {
        checks[i].verdict = verdict;
    }
    let best: Vec<usize> = best.iter().map(|&b| checks[index[b]].group).collect();
    let name = |groups: &[usize]| -> String {
        if groups.is_empty() {
            "nothing fused".into()
        } else {
            groups
                .iter()
                .filter_map(|&g| plan.groups.get(g))
                .map(|g| g.candidate.pattern.name())
                .collect::<Vec<_>>()
                .join(" + ")
        }
    };
    let planned: Vec<usize> = checks.iter().filter(|c| c.fused).map(|c| c.group).collect();
    let mut detail = if checks.len() > 1 {
        Some(if best == planned {
            format!("the measured best is the plan's: {}", name(&planned))
        } else {
            format!("planned {}; measured best {}", name(&planned), name(&best))
        })
    } else {
        None
    };
    if unmeasured > 0 {
        let note = format!("{unmeasured} of {} candidates not measured", checks.len());
        detail = Some(detail.map_or(note.clone(), |d| format!("{d} ({note})")));
    }
    out.verdict = verdict;
    out.measured_best = Some(best);
    out.detail = detail;
    out
}

#[allow(clippy::too_many_arguments)]
fn check(
    group: usize,
    c: &Candidate,
    fused: bool,
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
            // Judged with its chain (chain_check).
            out.verdict = Verdict::NotMeasured;
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
    fn buffers_of_issue_11_shapes_are_counted() {
        let norm = Shape::Norm { rows: 2, hidden: 3 };
        // x and the residual, twice (generated, backend copy); γ, β twice; three outputs.
        assert_eq!(
            verify_bytes(Pattern::AddLayerNorm, &norm),
            Some(4 * (4 * 6 + 4 * 3 + 3 * 6))
        );
        // Add_RMSNorm writes the sums too: twice the outputs.
        assert_eq!(
            verify_bytes(Pattern::AddRmsNorm, &norm),
            Some(4 * (4 * 6 + 4 * 3 + 6 * 6))
        );
        let lin = Shape::Linear { m: 2, k: 3, n: 4 };
        let plain = verify_bytes(Pattern::LinearBias, &lin).unwrap();
        assert!(verify_bytes(Pattern::LinearSwiglu, &lin).unwrap() > plain);
        assert!(verify_bytes(Pattern::LinearBiasAdd, &lin).unwrap() > plain);
        let dw = Shape::depthwise3x3(1, 8, 1 << 20, 1);
        let why = refusal(Pattern::DepthwiseConv2dBnRelu6, &dw, 4 << 30).unwrap();
        assert!(why.starts_with("too large to verify ("), "{why}");
        let huge = Shape::Norm {
            rows: usize::MAX,
            hidden: usize::MAX,
        };
        assert_eq!(verify_bytes(Pattern::AddRmsNorm, &huge), None);
        assert!(refusal(Pattern::AddRmsNorm, &huge, 4 << 30)
            .unwrap()
            .starts_with("too large to verify ("));
    }

    /// A measured candidate at positions `start..=end` fused in 1 ms.
    fn m(start: usize, end: usize, speedup: f64, ci: (f64, f64), planned: bool) -> Measured {
        Measured {
            start,
            end,
            fused_ms: 1.0,
            speedup,
            ci95: ci,
            planned,
        }
    }

    #[test]
    fn a_chain_is_judged_against_its_measured_best_cover() {
        // Linear_Bias_Add (0–1), Linear_Bias (0), Add_LayerNorm (1–2); the plan fused the
        // last two.
        let chain = |lba: f64, lba_ci: (f64, f64)| {
            [
                m(0, 1, lba, lba_ci, false),
                m(0, 0, 1.05, (1.04, 1.06), true),
                m(1, 2, 1.2, (1.18, 1.22), true),
            ]
        };
        // Measured as planned: together they save 0.25 ms, Linear_Bias_Add alone 0.15 ms.
        let (v, best) = judge_chain(3, &chain(1.15, (1.14, 1.16)), 1.03);
        assert_eq!((v, best), (Verdict::Right, vec![1, 2]));
        // Linear_Bias_Add measured at 1.4× (0.4 ms): wrong even at the favourable ends.
        let (v, best) = judge_chain(3, &chain(1.4, (1.35, 1.45)), 1.03);
        assert_eq!((v, best), (Verdict::Wrong, vec![0]));
        // At 1.27× [1.2–1.35] it is better at the medians, not at the plan's favourable ends.
        assert_eq!(
            judge_chain(3, &chain(1.27, (1.2, 1.35)), 1.03).0,
            Verdict::WithinNoise
        );
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
