//! Adaptive sampling: how many times each kernel runs, and when to stop.
//!
//! - **A sample lasts at least a floor.** After the warm-up, each variant's iteration count is
//!   grown until one batch of back-to-back runs lasts at least [`SamplingPolicy::sample_floor`]
//!   (as criterion and nanobench do), so a 19 µs kernel is judged on milliseconds of work, not
//!   on one run. Times are recorded per iteration.
//! - **Paired comparison.** Two variants run as adjacent pairs, in alternating order (U F, F U,
//!   …). The speedup is the median of the per-pair ratios with its distribution-free 95%
//!   interval ([`crate::stats::paired_ratio`]), so a drift of the machine that slows both
//!   variants cancels in every pair.
//! - **Stop on precision, not on a count.** Sampling goes on until the interval's relative
//!   half-width is within [`SamplingPolicy::precision`], or the point has run for
//!   [`SamplingPolicy::time_cap`]; a point stopped by the cap is marked imprecise. A single
//!   variant (bandwidth, matmul) gets the same rule on the median of its own samples.
//!
//! Every sample is kept. Nothing here reads the backend's internals: it only calls
//! [`Prepared::run_batch`], so the rule is tested on synthetic timings.

use crate::backend::{Prepared, Variant};
use crate::stats::{median_estimate, paired_ratio, Estimate};
use crate::{Error, Result};
use std::time::{Duration, Instant};

/// Confidence level of every interval hwcal records.
pub const CONFIDENCE: f64 = 0.95;

/// Most iterations in one sample (bounds a batch on a clock that reports nothing).
pub const MAX_ITERATIONS: u32 = 100_000;

/// Rounds of growing the iteration count before sampling starts.
const CALIBRATION_ROUNDS: usize = 12;

/// How a workload is sampled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SamplingPolicy {
    /// Untimed runs of each variant before sampling, the verification run included.
    pub warmup: usize,
    /// Samples (pairs, for two variants) before the stopping rule is first judged.
    pub min_samples: usize,
    /// Most samples of a point; bounds memory whatever the clock does.
    pub max_samples: usize,
    /// Shortest duration of one sample.
    pub sample_floor: Duration,
    /// Target relative half-width of the 95% interval (`0.02` is ±2%).
    pub precision: f64,
    /// Longest a point samples before it stops short of the target, marked imprecise.
    pub time_cap: Duration,
    /// Length of one visit, when a calibration visits its points in turns.
    pub visit: Duration,
    /// Visits a point needs before its precision is accepted.
    pub min_visits: usize,
}

/// Why sampling stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The interval reached the target half-width.
    Precise,
    /// The per-point time cap came first.
    TimeCap,
    /// The sample cap came first.
    SampleCap,
    /// The run was interrupted ([`crate::interrupt`]) after the point had its minimum of
    /// samples; the figure stands on what was taken.
    Interrupted,
}

impl Stop {
    /// Lowercase name, as recorded in profiles.
    pub fn name(self) -> &'static str {
        match self {
            Stop::Precise => "precise",
            Stop::TimeCap => "time_cap",
            Stop::SampleCap => "sample_cap",
            Stop::Interrupted => "interrupted",
        }
    }
}

/// The samples of one variant.
#[derive(Clone, Debug, PartialEq)]
pub struct VariantSamples {
    /// The variant.
    pub variant: Variant,
    /// Back-to-back runs in each sample.
    pub iterations: u32,
    /// Time per iteration of each sample, in ms, in the order taken.
    pub ms_per_iteration: Vec<f64>,
}

/// Whether a figure whose 95% interval has relative `half_width` falls short of `target` (a
/// NaN half-width, nothing to stand on, does).
pub fn short_of_target(half_width: f64, target: f64) -> bool {
    half_width.is_nan() || half_width > target
}

/// What sampling a workload produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Sampled {
    /// One entry per variant, in the order given; with two variants, sample `i` of each was
    /// taken in the same pair.
    pub variants: Vec<VariantSamples>,
    /// The figure the stopping rule judged: with two variants, the ratio first/second (the
    /// speedup unfused/fused), paired; with one, the median time per iteration in ms.
    pub estimate: Estimate,
    /// The target half-width it was judged against.
    pub target: f64,
    /// Why sampling stopped.
    pub stop: Stop,
    /// Time spent sampling, over all visits (warm-up and iteration calibration included).
    pub elapsed: Duration,
    /// Visits the samples were taken in.
    pub visits: usize,
    /// Visits whose samples were dropped because the machine was disturbed during them.
    pub discarded_visits: usize,
}

impl Sampled {
    /// Achieved relative half-width of the 95% interval.
    pub fn half_width(&self) -> f64 {
        self.estimate.relative_half_width()
    }

    /// Whether the interval missed the target (a non-finite width misses it).
    pub fn imprecise(&self) -> bool {
        short_of_target(self.half_width(), self.target)
    }

    /// The samples of `variant`, if it was run.
    fn of(&self, variant: Variant) -> Option<&VariantSamples> {
        self.variants.iter().find(|v| v.variant == variant)
    }

    /// Samples of `variant` (ms per iteration); empty if it was not run.
    pub fn latencies(&self, variant: Variant) -> &[f64] {
        self.of(variant)
            .map_or(&[], |v| v.ms_per_iteration.as_slice())
    }

    /// Iterations per sample of `variant` (0 if it was not run).
    pub fn iterations(&self, variant: Variant) -> u32 {
        self.of(variant).map_or(0, |v| v.iterations)
    }
}

/// The statistic the stopping rule judges.
fn estimate(variants: &[VariantSamples]) -> Option<Estimate> {
    match variants {
        [one] => median_estimate(&one.ms_per_iteration, CONFIDENCE),
        [a, b] => paired_ratio(&a.ms_per_iteration, &b.ms_per_iteration, CONFIDENCE),
        _ => None,
    }
}

/// Iterations that make one sample of `variant` last at least `floor`, found by timing growing
/// batches (which also warms the kernel up).
fn calibrate_iterations(
    prepared: &mut dyn Prepared,
    variant: Variant,
    floor: Duration,
) -> Result<u32> {
    let mut iterations = 1u32;
    for _ in 0..CALIBRATION_ROUNDS {
        let t = prepared.run_batch(variant, iterations)?;
        if t >= floor || iterations >= MAX_ITERATIONS {
            break;
        }
        let grow = if t.is_zero() {
            10.0
        } else {
            // Aim 20% over the floor, grow at least by one and at most 100-fold per round.
            (1.2 * floor.as_secs_f64() / t.as_secs_f64()).clamp(1.0, 100.0)
        };
        iterations = ((f64::from(iterations) * grow).ceil() as u32)
            .max(iterations + 1)
            .min(MAX_ITERATIONS);
    }
    Ok(iterations)
}

/// The sampling of one workload in progress, possibly spread over several visits (see
/// [`Sampler::visit`]): a calibration visits its points in turns, so a slow episode of the
/// machine lands in a minority of every point's samples, where the median ignores it, instead
/// of in all the samples of one point.
pub struct Sampler {
    policy: SamplingPolicy,
    samples: Vec<VariantSamples>,
    /// Time spent so far over all visits (the larger of wall and device time per visit).
    spent: Duration,
    visits: usize,
    /// Samples per variant when the current visit began.
    visit_start: usize,
    discarded_visits: usize,
    rounds: usize,
    next_check: usize,
    stopped: Option<(Stop, Estimate)>,
}

impl Sampler {
    /// Warms `variants` up and finds each one's iterations per sample. One variant is sampled
    /// alone; two are sampled as pairs in alternating order. The stopping rule accepts
    /// precision only once the point has had [`SamplingPolicy::min_visits`] visits.
    pub fn start(
        prepared: &mut dyn Prepared,
        variants: &[Variant],
        policy: &SamplingPolicy,
    ) -> Result<Sampler> {
        if !(1..=2).contains(&variants.len()) {
            return Err(Error::usage("sampling takes one variant or a pair"));
        }
        let start = Instant::now();
        // The verification run counted as the first warm-up.
        for _ in 1..policy.warmup {
            for &v in variants {
                prepared.run(v)?;
            }
        }
        let mut samples = Vec::with_capacity(variants.len());
        for &v in variants {
            samples.push(VariantSamples {
                variant: v,
                iterations: calibrate_iterations(prepared, v, policy.sample_floor)?,
                ms_per_iteration: Vec::new(),
            });
        }
        Ok(Sampler {
            policy: *policy,
            samples,
            spent: start.elapsed(),
            visits: 0,
            visit_start: 0,
            discarded_visits: 0,
            rounds: 0,
            next_check: policy.min_samples.max(2),
            stopped: None,
        })
    }

    /// Whether the stopping rule has ended this point.
    pub fn done(&self) -> bool {
        self.stopped.is_some()
    }

    /// Visits the point: from the second visit on, one untimed round first (the caches are
    /// the previous point's), then pairs until the stopping rule ends the point (returns
    /// `true`) or the visit has lasted `budget` (returns `false`; `None` visits until the
    /// rule ends it).
    pub fn visit(&mut self, prepared: &mut dyn Prepared, budget: Option<Duration>) -> Result<bool> {
        if self.stopped.is_some() {
            return Ok(true);
        }
        let start = Instant::now();
        let mut device_time = Duration::ZERO;
        if self.visits > 0 {
            for s in &self.samples {
                prepared.run_batch(s.variant, s.iterations)?;
            }
        }
        self.visits += 1;
        self.visit_start = self.samples[0].ms_per_iteration.len();
        let mut taken = 0usize;
        let mut batch = vec![0.0; self.samples.len()];
        loop {
            let mut usable = true;
            let k = self.samples.len();
            for i in 0..k {
                // Alternate which variant goes first, so neither always runs on a warmer cache.
                let idx = if self.rounds.is_multiple_of(2) {
                    i
                } else {
                    k - 1 - i
                };
                let s = &self.samples[idx];
                let t = prepared.run_batch(s.variant, s.iterations)?;
                device_time += t;
                usable &= !t.is_zero();
                batch[idx] = t.as_secs_f64() * 1e3 / f64::from(s.iterations);
            }
            self.rounds += 1;
            if usable {
                taken += 1;
                for (s, &ms) in self.samples.iter_mut().zip(&batch) {
                    s.ms_per_iteration.push(ms);
                }
            }
            let n = self.samples[0].ms_per_iteration.len();
            let in_visit = start.elapsed().max(device_time);
            let out_of_time = self.spent + in_visit >= self.policy.time_cap;
            let visit_over = budget.is_some_and(|b| in_visit >= b && taken > 0);
            let judge = n >= 2
                && (n >= self.next_check
                    || out_of_time
                    || visit_over
                    || n >= self.policy.max_samples);
            if judge {
                self.next_check = self.next_check.max(n + (n / 8).max(1));
                if let Some(e) = estimate(&self.samples) {
                    let precise = e.relative_half_width() <= self.policy.precision;
                    let stop = if precise
                        && n >= self.policy.min_samples
                        && self.visits >= self.policy.min_visits
                    {
                        Some(Stop::Precise)
                    } else if n >= self.policy.max_samples {
                        Some(Stop::SampleCap)
                    } else if out_of_time {
                        Some(Stop::TimeCap)
                    } else {
                        None
                    };
                    if let Some(stop) = stop {
                        self.stopped = Some((stop, e));
                        self.spent += in_visit;
                        return Ok(true);
                    }
                }
            }
            if visit_over {
                self.spent += in_visit;
                return Ok(false);
            }
            // A clock that never yields a usable sample must not hang the run.
            if out_of_time && taken == 0 && self.rounds >= self.policy.max_samples.max(2) * 4 {
                return Err(Error::DeviceLimit(format!(
                    "no usable timing samples in {} rounds: every batch took zero time on this clock",
                    self.rounds
                )));
            }
        }
    }

    /// Whether the point has used up its time.
    pub fn out_of_time(&self) -> bool {
        self.spent >= self.policy.time_cap
    }

    /// Drops the samples of the last visit (the machine was disturbed while it ran, see
    /// [`super::drift`]): they are not counted, the visit is not counted, and a point the
    /// rule had ended is open again. Its time stays spent, so the time cap still bounds it.
    pub fn discard_last_visit(&mut self) {
        if self.visits == 0 {
            return;
        }
        for s in &mut self.samples {
            s.ms_per_iteration.truncate(self.visit_start);
        }
        self.visits -= 1;
        self.discarded_visits += 1;
        self.stopped = None;
        self.next_check = self.policy.min_samples.max(self.visit_start + 1);
    }

    /// Ends a point the run's interruption cut short: when every variant has at least the
    /// policy's minimum of samples, the estimate of what was taken, stopped by
    /// [`Stop::Interrupted`] (or by the rule, if it had already ended the point); `None` when
    /// there are too few samples to stand on, and the point is abandoned.
    pub fn finish_interrupted(mut self) -> Option<Sampled> {
        let least = self
            .samples
            .iter()
            .map(|s| s.ms_per_iteration.len())
            .min()
            .unwrap_or(0);
        if self.stopped.is_none() {
            if least < self.policy.min_samples {
                return None;
            }
            self.stopped = Some((Stop::Interrupted, estimate(&self.samples)?));
        }
        self.finish().ok()
    }

    /// The samples and the final estimate. Before the stopping rule ended the point, the
    /// estimate of what was taken so far, stopped by [`Stop::TimeCap`].
    pub fn finish(self) -> Result<Sampled> {
        let (stop, estimate) = match self.stopped {
            Some(s) => s,
            None => (
                Stop::TimeCap,
                estimate(&self.samples).ok_or_else(|| {
                    Error::DeviceLimit("no usable timing samples were taken".into())
                })?,
            ),
        };
        Ok(Sampled {
            variants: self.samples,
            estimate,
            target: self.policy.precision,
            stop,
            elapsed: self.spent,
            visits: self.visits,
            discarded_visits: self.discarded_visits,
        })
    }
}

/// Samples `variants` of a prepared workload under `policy` in one visit (see the module docs
/// and [`Sampler`]).
pub fn sample(
    prepared: &mut dyn Prepared,
    variants: &[Variant],
    policy: &SamplingPolicy,
) -> Result<Sampled> {
    let one_visit = SamplingPolicy {
        min_visits: 1,
        ..*policy
    };
    let mut sampler = Sampler::start(prepared, variants, &one_visit)?;
    while !sampler.visit(prepared, None)? {}
    sampler.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    /// A kernel pair with known per-run times, a drift of the whole machine (a factor by the
    /// number of runs so far) and multiplicative noise; its clock is synthetic.
    struct Synthetic {
        unfused_ms: f64,
        fused_ms: f64,
        noise: f64,
        drift: fn(u64) -> f64,
        runs: u64,
        rng: SmallRng,
        batches: Vec<(Variant, u32)>,
    }

    impl Synthetic {
        fn new(unfused_ms: f64, fused_ms: f64, noise: f64, drift: fn(u64) -> f64) -> Self {
            Synthetic {
                unfused_ms,
                fused_ms,
                noise,
                drift,
                runs: 0,
                rng: SmallRng::seed_from_u64(7),
                batches: Vec::new(),
            }
        }
    }

    impl Prepared for Synthetic {
        fn run(&mut self, v: Variant) -> Result<Duration> {
            self.run_batch(v, 1)
        }
        fn run_batch(&mut self, v: Variant, iterations: u32) -> Result<Duration> {
            self.batches.push((v, iterations));
            let base = match v {
                Variant::Fused => self.fused_ms,
                _ => self.unfused_ms,
            };
            let factor = (self.drift)(self.runs);
            self.runs += u64::from(iterations);
            // Noise of one batch shrinks like 1/sqrt(iterations), as averaging does.
            let jitter =
                self.noise * (self.rng.gen::<f64>() * 2.0 - 1.0) / f64::from(iterations).sqrt();
            let ms = base * factor * f64::from(iterations) * (1.0 + jitter);
            Ok(Duration::from_secs_f64(ms * 1e-3))
        }
        fn output(&mut self, _v: Variant) -> Result<crate::dtype::HostBuffer> {
            Ok(Vec::new().into())
        }
    }

    fn policy(precision: f64) -> SamplingPolicy {
        SamplingPolicy {
            warmup: 2,
            min_samples: 8,
            max_samples: 5000,
            sample_floor: Duration::from_millis(1),
            precision,
            time_cap: Duration::from_secs(30),
            visit: Duration::from_millis(50),
            min_visits: 3,
        }
    }

    const PAIR: [Variant; 2] = [Variant::Unfused, Variant::Fused];

    #[test]
    fn a_drift_that_slows_both_variants_2x_does_not_move_the_speedup() {
        // Halfway through the machine gets twice as slow, for both variants alike.
        let step: fn(u64) -> f64 = |runs| if runs < 500 { 1.0 } else { 2.0 };
        let mut k = Synthetic::new(0.03, 0.02, 0.0, step);
        let s = sample(&mut k, &PAIR, &policy(0.01)).unwrap();
        assert!(s.latencies(Variant::Unfused).iter().any(|&ms| ms > 0.05));
        assert!(s.latencies(Variant::Unfused).iter().any(|&ms| ms < 0.035));
        assert!((s.estimate.value - 1.5).abs() < 1e-9, "{:?}", s.estimate);
        // A ramp (2x over the run) plus noise: still within the target of the true speedup.
        let ramp: fn(u64) -> f64 = |runs| 1.0 + (runs as f64 / 20_000.0).min(1.0);
        let mut k = Synthetic::new(0.03, 0.02, 0.05, ramp);
        let s = sample(&mut k, &PAIR, &policy(0.01)).unwrap();
        assert_eq!(s.stop, Stop::Precise);
        assert!(
            (s.estimate.value / 1.5 - 1.0).abs() < 0.01,
            "{:?}",
            s.estimate
        );
        assert!(s.estimate.lo <= 1.5 && 1.5 <= s.estimate.hi);
    }

    #[test]
    fn samples_last_at_least_the_floor_and_record_iterations() {
        let mut k = Synthetic::new(0.019, 0.010, 0.0, |_| 1.0);
        let s = sample(&mut k, &PAIR, &policy(0.02)).unwrap();
        // 1 ms floor: about 53 runs of 19 µs, 100 of 10 µs, each at least the floor.
        let (iu, if_) = (s.iterations(Variant::Unfused), s.iterations(Variant::Fused));
        assert!((53..=80).contains(&iu), "{iu}");
        assert!((100..=150).contains(&if_), "{if_}");
        for (ms, it) in [(0.019, iu), (0.010, if_)] {
            assert!(ms * f64::from(it) >= 1.0);
        }
        // Samples alternate U F, F U.
        let timed: Vec<Variant> = k.batches.iter().rev().take(4).map(|b| b.0).collect();
        assert_ne!(timed[0], timed[1]);
        assert_eq!(timed[1], timed[2]);
        assert_eq!(s.stop, Stop::Precise);
        assert!(s.latencies(Variant::Fused).len() >= 8);
    }

    #[test]
    fn stops_on_precision_and_marks_the_time_cap_imprecise() {
        let quiet = sample(
            &mut Synthetic::new(1.0, 0.8, 0.01, |_| 1.0),
            &PAIR,
            &policy(0.02),
        )
        .unwrap();
        assert_eq!(quiet.stop, Stop::Precise);
        assert!(!quiet.imprecise());
        assert!(quiet.half_width() <= 0.02);
        assert!(quiet.latencies(Variant::Unfused).len() <= 12);

        // Noisier: more samples for the same target.
        let noisy = sample(
            &mut Synthetic::new(1.0, 0.8, 0.3, |_| 1.0),
            &PAIR,
            &policy(0.02),
        )
        .unwrap();
        assert_eq!(noisy.stop, Stop::Precise);
        assert!(noisy.latencies(Variant::Unfused).len() > 20);

        // Too noisy for the cap: stopped by time, marked imprecise, its width recorded.
        let mut capped = policy(0.001);
        capped.time_cap = Duration::from_millis(200);
        let s = sample(&mut Synthetic::new(1.0, 0.8, 0.5, |_| 1.0), &PAIR, &capped).unwrap();
        assert_eq!(s.stop, Stop::TimeCap);
        assert!(s.imprecise());
        assert!(s.half_width() > 0.001 && s.half_width().is_finite());
        // About 200 ms of synthetic device time, one sample (≥ 1 ms) per variant a round.
        let n = s.latencies(Variant::Fused).len();
        assert!((50..=110).contains(&n), "{n}");
    }

    #[test]
    fn a_single_variant_is_judged_on_its_median() {
        let s = sample(
            &mut Synthetic::new(2.0, 2.0, 0.02, |_| 1.0),
            &[Variant::Single],
            &policy(0.01),
        )
        .unwrap();
        assert_eq!(s.variants.len(), 1);
        assert!((s.estimate.value / 2.0 - 1.0).abs() < 0.01);
        assert!(s.half_width() <= 0.01);
        assert!(sample(
            &mut Synthetic::new(1.0, 1.0, 0.0, |_| 1.0),
            &[],
            &policy(0.1)
        )
        .is_err());
    }

    #[test]
    fn a_clock_that_reads_zero_errors_instead_of_hanging() {
        struct Zero;
        impl Prepared for Zero {
            fn run(&mut self, _v: Variant) -> Result<Duration> {
                Ok(Duration::ZERO)
            }
            fn output(&mut self, _v: Variant) -> Result<crate::dtype::HostBuffer> {
                Ok(Vec::new().into())
            }
        }
        let mut p = policy(0.02);
        p.time_cap = Duration::from_millis(20);
        p.max_samples = 50;
        let err = sample(&mut Zero, &PAIR, &p).unwrap_err();
        assert!(err.to_string().contains("zero time"), "{err}");
    }

    #[test]
    fn a_point_visited_in_turns_needs_its_visits_and_keeps_its_pairs() {
        // A quiet kernel would be precise within one visit; it still takes three.
        let mut k = Synthetic::new(1.0, 0.8, 0.01, |_| 1.0);
        let p = policy(0.02);
        let mut s = Sampler::start(&mut k, &PAIR, &p).unwrap();
        let mut visits = 0;
        while !s.visit(&mut k, Some(p.visit)).unwrap() {
            visits += 1;
            assert!(visits < 100);
        }
        let done = s.finish().unwrap();
        assert_eq!(done.visits, 3);
        assert_eq!(done.stop, Stop::Precise);
        assert!((done.estimate.value / 1.25 - 1.0).abs() < 0.02);
        // About 50 ms of synthetic time a visit: 14 to 28 pairs of 1.8 or 3.6 ms (1 or 2
        // iterations a sample, by the noise of the first timing); the third visit ends as soon
        // as the interval is narrow enough.
        let n = done.latencies(Variant::Fused).len();
        assert!((2 * 13 + 1..=3 * 29).contains(&n), "{n}");
        assert_eq!(done.latencies(Variant::Unfused).len(), n);
        // A disturbed visit is dropped whole, and the point is open again.
        let mut s = Sampler::start(&mut k, &PAIR, &p).unwrap();
        for _ in 0..3 {
            s.visit(&mut k, Some(p.visit)).unwrap();
        }
        assert!(s.done());
        let kept = s.samples[0].ms_per_iteration.len();
        let first_two = s.visit_start;
        s.discard_last_visit();
        assert!(!s.done());
        assert_eq!(s.samples[1].ms_per_iteration.len(), first_two);
        assert!(first_two < kept);
        while !s.visit(&mut k, Some(p.visit)).unwrap() {}
        let redone = s.finish().unwrap();
        assert_eq!((redone.visits, redone.discarded_visits), (3, 1));
        // A point cut off before its rule ended it reports what it has, as time-capped.
        let mut s = Sampler::start(&mut k, &PAIR, &p).unwrap();
        assert!(!s.visit(&mut k, Some(p.visit)).unwrap());
        let cut = s.finish().unwrap();
        assert_eq!(cut.stop, Stop::TimeCap);
        assert_eq!(cut.visits, 1);
    }

    /// Issue 9: an interruption keeps a point's figure when it has its minimum of samples,
    /// marked as stopped by the interruption, and abandons it otherwise.
    #[test]
    fn an_interrupted_point_keeps_its_figure_only_with_enough_samples() {
        let mut k = Synthetic::new(1.0, 0.8, 0.01, |_| 1.0);
        let p = policy(0.02);
        let s = Sampler::start(&mut k, &PAIR, &p).unwrap();
        assert!(s.finish_interrupted().is_none(), "no samples yet");
        let mut s = Sampler::start(&mut k, &PAIR, &p).unwrap();
        s.visit(&mut k, Some(p.visit)).unwrap();
        let kept = s.finish_interrupted().unwrap();
        assert_eq!(kept.stop, Stop::Interrupted);
        assert!(kept.latencies(Variant::Fused).len() >= p.min_samples);
        assert!((kept.estimate.value / 1.25 - 1.0).abs() < 0.05);
        // A point its rule had already ended keeps that reason.
        let mut s = Sampler::start(&mut k, &PAIR, &p).unwrap();
        while !s.visit(&mut k, Some(p.visit)).unwrap() {}
        assert_eq!(s.finish_interrupted().unwrap().stop, Stop::Precise);
    }
}
