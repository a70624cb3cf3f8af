//! The calibration loop, written once for every backend.
//!
//! First a preflight of the machine's state ([`crate::preflight`]). Then, for each requested
//! measurement, it prepares the workload on the backend, runs each variant once and checks its
//! output against the f64 reference (a wrong kernel fails loudly and records nothing), and
//! samples it until its figure is precise enough ([`sampling`]: samples that last at least a
//! floor, fused and unfused in adjacent pairs, stop on the interval's width or a time cap).
//! A drift canary ([`drift`]) is re-timed between measurements. The samples are analysed
//! ([`crate::stats`]) and assembled into profile entries ([`assemble`]). Progress and
//! per-measurement lines go to an [`Observer`]; the loop itself prints nothing.

pub mod assemble;
mod config;
pub mod drift;
pub mod measure;
pub mod progress;
pub mod sampling;

pub use config::{parse_precisions, Config, Operation};
pub use progress::{FigurePrecision, Recorded, SweepCrossover};

use crate::backend::{Backend, Prepared, Variant, Workload};
use crate::dtype::{Accumulate, DType};
use crate::pattern::{interleaved, sweep_points, Inputs, Pattern, Reference, Shape, SweepPoint};
use crate::precision::{PeakRun, PeakWidth, PrecisionInputs};
use crate::preflight::Target;
use crate::profile::HardwareCalibration;
use crate::stats::ToleranceCheck;
use crate::{Error, Result};
use drift::Canary;
use measure::{MatmulInputs, Measured};
use sampling::{Sampler, SamplingPolicy};

/// Receives progress from the loop (a progress bar, a log, or nothing in tests).
pub trait Observer {
    /// A numbered section starts (`1. Memory Bandwidth`).
    fn section(&mut self, _title: &str) {}
    /// A measurement starts.
    fn begin(&mut self, _label: &str) {}
    /// A measurement finished and was recorded.
    fn done(&mut self, _recorded: &Recorded) {}
    /// A sub-heading inside a section.
    fn section_note(&mut self, _title: &str) {}
    /// An informational line that is not a measurement.
    fn note(&mut self, _line: &str) {}
    /// Where fusion starts to pay along each swept axis (after a size sweep).
    fn crossovers(&mut self, _crossovers: &[SweepCrossover]) {}
    /// A measurement failed (verification or device limit); the loop goes on with the rest.
    fn failed(&mut self, _error: &Error) {}
}

/// An observer that ignores everything.
pub struct Silent;
impl Observer for Silent {}

/// What a calibration produced.
pub struct Outcome {
    /// The profile, holding every measurement that passed verification.
    pub profile: HardwareCalibration,
    /// Measurements that failed, with why; empty when everything verified.
    pub failures: Vec<Error>,
    /// Set when `--time-budget` cut the size sweep short.
    pub sweep_note: Option<String>,
    /// Set when an interruption ([`crate::interrupt`]) stopped the run: the measurements that
    /// were not made (or were abandoned half-sampled). What finished is in the profile.
    pub interrupted: Option<Vec<String>>,
}

/// Number of measurements `config` will make (for progress bars).
pub fn count_measurements(config: &Config) -> usize {
    let sweep: usize = if config.sweep {
        config
            .patterns
            .iter()
            .map(|p| sweep_points(p.family(), config.preset).len())
            .sum()
    } else {
        0
    };
    sweep
        + config.memory_sizes_mb().len() * 2
        + config.matmul_sizes().len() * (1 + config.other_matmul_precisions().len())
        + config.peak_precisions().len() * PeakWidth::ALL.len()
        + config
            .patterns
            .iter()
            .map(|p| p.shapes(config.preset).len())
            .sum::<usize>()
}

/// Runs the calibration described by `config` on `backend`: preflight of the machine, then
/// every measurement, with the drift canary re-timed between them.
pub fn calibrate(
    backend: &dyn Backend,
    config: &Config,
    observer: &mut dyn Observer,
) -> Result<Outcome> {
    config.validate()?;
    let policy = config.sampling;
    let mut builder = assemble::ProfileBuilder::new(backend.device(), config);

    let target = match backend.device().backend {
        "gpu" => Target::Gpu {
            adapter: backend.device().name.clone(),
        },
        _ => Target::Cpu,
    };
    let mut preflight = config.probe.run(&target);
    preflight.forced = !preflight.passed;
    for check in preflight.failed().into_iter().chain(preflight.warnings()) {
        observer.note(&format!("preflight: {}: {}", check.name, check.message));
    }
    if config.strict && !preflight.passed {
        return Err(Error::Usage(format!(
            "--strict: preflight failed, nothing measured:\n{}",
            preflight.report()
        )));
    }
    builder.record_preflight(&preflight, config.pinned_threads);

    let mut failures = Vec::new();
    let canary_inputs = MatmulInputs::new(drift::canary_size(config.preset), config.seed ^ 0xCA)?;
    let mut canary = match Canary::new(
        backend,
        &canary_inputs,
        drift::canary_policy(&policy, config.preset),
        config.seed,
    ) {
        Ok(c) => Some(c),
        Err(e) => {
            observer.note(&format!("drift canary unavailable, run not watched: {e}"));
            None
        }
    };
    let mut run = Run {
        observer,
        failures: &mut failures,
        canary: &mut canary,
        section: 0,
        not_measured: Vec::new(),
        cut_short: Vec::new(),
        unsupported: Vec::new(),
    };
    run.canary_read("start");

    if config.operations.contains(&Operation::Memory) {
        run.section("Memory Bandwidth");
        // One size at a time: every array of a size is resident while its points take turns.
        for &mb in &config.memory_sizes_mb() {
            let elements = mb * (1 << 20) / 4;
            let mut points = Vec::new();
            for (name, workload) in [
                ("copy", Workload::Copy { elements }),
                ("triad", Workload::Triad { elements }),
            ] {
                run.add_point(&mut points, format!("{name} {mb} MB"), || {
                    measure::prepare_stream(backend, &workload)
                        .map(|(p, v)| (p, vec![v], Entry::Stream { name, mb, elements }))
                });
            }
            run.visit_all(points, &policy, &mut builder);
        }
    }

    if config.operations.contains(&Operation::Matmul) {
        run.section("Matrix Multiplication");
        let mut inputs = Vec::new();
        let mut other = Vec::new();
        for &n in &config.matmul_sizes() {
            match MatmulInputs::new(n, config.seed) {
                Ok(i) => inputs.push(i),
                Err(e) => run.fail(e),
            }
            for precision in config.other_matmul_precisions() {
                match PrecisionInputs::new(precision, n, config.seed) {
                    Ok(i) => other.push(i),
                    Err(e) => run.fail(e),
                }
            }
        }
        // Every precision's matmuls take turns with the f32 ones, so their ratios are of the
        // same moments of the machine.
        let mut points = Vec::new();
        for i in &inputs {
            run.add_point(&mut points, format!("matmul {0}×{0}", i.n), || {
                i.prepare_verified(backend, config.seed)
                    .map(|(p, v)| (p, vec![v], Entry::Matmul { n: i.n }))
            });
        }
        for i in &other {
            let precision = i.precision();
            run.add_point(
                &mut points,
                format!("{precision} matmul {0}×{0}", i.n),
                || {
                    measure::prepare_precision_matmul(backend, i, config.seed).map(
                        |(p, v, accumulate)| {
                            let entry = Entry::PrecisionMatmul {
                                precision,
                                n: i.n,
                                accumulate,
                            };
                            (p, vec![v], entry)
                        },
                    )
                },
            );
        }
        run.visit_all(points, &policy, &mut builder);
    }

    if config.operations.contains(&Operation::Peak) {
        run.section("Peak Compute");
        let mut points = Vec::new();
        for precision in config.peak_precisions() {
            for width in PeakWidth::ALL {
                run.add_point(
                    &mut points,
                    format!("{precision} {} peak", width.name()),
                    || {
                        measure::prepare_peak(backend, precision, width).map(|(p, v, peak)| {
                            let entry = Entry::Peak {
                                precision,
                                width,
                                run: peak,
                            };
                            (p, vec![v], entry)
                        })
                    },
                );
            }
        }
        run.visit_all(points, &policy, &mut builder);
    }

    if !config.patterns.is_empty() {
        run.section("Fused Kernel Patterns");
        let mut specs = Vec::new();
        for &pattern in &config.patterns {
            for shape in pattern.shapes(config.preset) {
                match pattern_inputs(pattern, &shape, config) {
                    Ok(inputs) => specs.push((pattern, shape, inputs)),
                    Err(e) => run.fail(e),
                }
            }
        }
        let mut points = Vec::new();
        for &(pattern, shape, ref inputs) in &specs {
            run.add_point(
                &mut points,
                format!("{} ({})", pattern.name(), shape.label()),
                || {
                    prepare_pattern(backend, pattern, shape, inputs, config)
                        .map(|(p, v)| (p, v, Entry::Pattern { pattern, shape }))
                },
            );
        }
        run.visit_all(points, &policy, &mut builder);
    }

    let mut sweep_note = None;
    if config.sweep {
        run.section("Size Sweeps");
        sweep_note = sweep(backend, config, &policy, &mut builder, &mut run);
        report_crossovers(&builder, run.observer);
    }

    if let Some(c) = run.canary.as_ref() {
        let report = c.report(policy.precision);
        run.observer.section_note("Drift");
        run.observer.note(&report.summary_line());
        builder.record_drift(report.to_record());
    }
    let interrupted = crate::interrupt::requested().then(|| std::mem::take(&mut run.not_measured));
    if let Some(missing) = &interrupted {
        run.observer.note(&format!(
            "interrupted: {} measurement(s) not made",
            missing.len()
        ));
        builder.record_interrupted(crate::profile::run_info::Interrupted {
            at: Some(
                chrono::Local::now()
                    .format("%Y-%m-%dT%H:%M:%S%.6f")
                    .to_string(),
            ),
            by: Some("a signal (Ctrl-C, SIGTERM or SIGHUP)".to_string()),
            not_measured: Some(missing.clone()),
            cut_short: Some(run.cut_short.clone()),
            other: Default::default(),
        });
    }
    for (what, why) in std::mem::take(&mut run.unsupported) {
        builder.record_unsupported(what, why);
    }
    Ok(Outcome {
        profile: builder.finish(&failures),
        failures,
        sweep_note,
        interrupted,
    })
}

/// The state of a run that every measurement goes through: where results and failures go,
/// and the canary re-timed after each.
struct Run<'r, 'a> {
    observer: &'r mut dyn Observer,
    failures: &'r mut Vec<Error>,
    canary: &'r mut Option<Canary<'a>>,
    section: usize,
    /// Measurements skipped or abandoned because the run was interrupted.
    not_measured: Vec<String>,
    /// Measurements the interruption cut short that kept their figure (enough samples).
    cut_short: Vec<String>,
    /// What the device has no native kernel for, with the reason.
    unsupported: Vec<(String, String)>,
}

/// What a finished point records in the profile.
enum Entry {
    Stream {
        name: &'static str,
        mb: usize,
        elements: usize,
    },
    Matmul {
        n: usize,
    },
    PrecisionMatmul {
        precision: DType,
        n: usize,
        accumulate: Accumulate,
    },
    Peak {
        precision: DType,
        width: PeakWidth,
        run: PeakRun,
    },
    Pattern {
        pattern: Pattern,
        shape: Shape,
    },
}

impl Entry {
    fn variants(&self) -> &'static [Variant] {
        match self {
            Entry::Pattern { .. } => &[Variant::Unfused, Variant::Fused],
            _ => &[Variant::Single],
        }
    }

    /// Adds the measurement to the profile; returns what it recorded.
    fn record(&self, builder: &mut assemble::ProfileBuilder, m: &Measured) -> Recorded {
        match *self {
            Entry::Stream { name, mb, elements } => builder.add_stream(name, mb, elements, m),
            Entry::Matmul { n } => builder.add_matmul(DType::F32, n, None, m),
            Entry::PrecisionMatmul {
                precision,
                n,
                accumulate,
            } => builder.add_matmul(precision, n, Some(accumulate), m),
            Entry::Peak {
                precision,
                width,
                ref run,
            } => builder.add_peak(precision, width, run, m),
            Entry::Pattern { pattern, shape } => builder.add_pattern(pattern, shape, m),
        }
    }
}

/// A prepared, verified measurement whose sampling is under way.
struct Point<'a> {
    label: String,
    entry: Entry,
    prepared: Box<dyn Prepared + 'a>,
    verification: Vec<ToleranceCheck>,
    sampler: Option<Sampler>,
}

impl Point<'_> {
    /// One visit; `Ok(true)` once the stopping rule has ended the point.
    fn visit(&mut self, policy: &SamplingPolicy) -> Result<bool> {
        let sampler = match &mut self.sampler {
            Some(s) => s,
            None => self.sampler.insert(Sampler::start(
                self.prepared.as_mut(),
                self.entry.variants(),
                policy,
            )?),
        };
        sampler.visit(self.prepared.as_mut(), Some(policy.visit))
    }
}

/// A prepared workload with how its outputs compared with the reference.
pub type Verified<'a> = (Box<dyn Prepared + 'a>, Vec<ToleranceCheck>);

impl Run<'_, '_> {
    /// Prepares and verifies one point of a section with `prepare` (which also says what the
    /// point records) and adds it to `points`, or notes why it could not be: a failure, or
    /// what the device cannot run natively ([`Error::Unsupported`], recorded with its
    /// reason, not a failure).
    fn add_point<'a>(
        &mut self,
        points: &mut Vec<Point<'a>>,
        label: String,
        prepare: impl FnOnce() -> Result<(Box<dyn Prepared + 'a>, Vec<ToleranceCheck>, Entry)>,
    ) {
        if crate::interrupt::requested() {
            self.not_measured.push(label);
            return;
        }
        self.observer.begin(&label);
        match prepare() {
            Err(Error::Unsupported(message)) => {
                // Backends say `<what>: <why>`, what being e.g. `bf16 matmul` for every size.
                let (what, why) = match message.split_once(": ") {
                    Some((what, why)) if label.starts_with(what) => {
                        (what.to_string(), why.to_string())
                    }
                    _ => (label, message),
                };
                // Said once (a matmul precision is refused at every size).
                if !self.unsupported.iter().any(|(w, _)| *w == what) {
                    self.observer.done(&Recorded::Unsupported {
                        what: what.clone(),
                        why: why.clone(),
                    });
                    self.unsupported.push((what, why));
                }
            }
            Ok((prepared, verification, entry)) => points.push(Point {
                label,
                entry,
                prepared,
                verification,
                sampler: None,
            }),
            Err(e) => self.fail(e),
        }
    }

    /// Notes a failure; the run goes on with the rest.
    fn fail(&mut self, e: Error) {
        self.observer.failed(&e);
        self.failures.push(e);
    }

    /// Samples `points` in turns, one visit each per round (the order reversed every round),
    /// re-timing the canary after every visit, until each point's stopping rule has ended it;
    /// a finished point releases its workload. The points are then recorded in the order they
    /// were given, so the profile's order does not depend on which finished first.
    fn visit_all(
        &mut self,
        points: Vec<Point<'_>>,
        policy: &SamplingPolicy,
        builder: &mut assemble::ProfileBuilder,
    ) {
        let mut live: Vec<(usize, Point<'_>)> = points.into_iter().enumerate().collect();
        let mut results: Vec<(usize, Entry, Result<Measured>)> = Vec::new();
        let mut round = 0usize;
        'rounds: while !live.is_empty() {
            let mut order: Vec<usize> = (0..live.len()).collect();
            if !round.is_multiple_of(2) {
                order.reverse();
            }
            let mut finished = Vec::new();
            for i in order {
                if crate::interrupt::requested() {
                    // Record what is finished; a point cut short keeps its figure when it has
                    // its minimum of samples (stopped by the interruption, its precision as
                    // achieved), and is abandoned otherwise. Then stop.
                    finished.sort_by_key(|f: &(usize, Option<Error>)| std::cmp::Reverse(f.0));
                    self.finish_points(&mut live, finished, &mut results);
                    for (index, p) in live.drain(..) {
                        match p.sampler.and_then(|s| s.finish_interrupted()) {
                            Some(sampled) => {
                                self.cut_short.push(p.label);
                                results.push((
                                    index,
                                    p.entry,
                                    Ok(Measured {
                                        sampled,
                                        verification: p.verification,
                                    }),
                                ))
                            }
                            None => self.not_measured.push(p.label),
                        }
                    }
                    break 'rounds;
                }
                let p = &mut live[i].1;
                self.observer.begin(&p.label);
                let r = p.visit(policy);
                self.canary_read(&p.label);
                // Samples taken while the machine was in a slow episode are dropped, and the
                // visit is done again later (within the point's time cap).
                let disturbed = self
                    .canary
                    .as_ref()
                    .is_some_and(|c| c.disturbed(drift::DISTURBED));
                let r = match (r, p.sampler.as_mut()) {
                    (Ok(_), Some(s)) if disturbed && !s.out_of_time() => {
                        s.discard_last_visit();
                        Ok(false)
                    }
                    (r, _) => r,
                };
                match r {
                    Ok(false) => {}
                    Ok(true) => finished.push((i, None)),
                    Err(e) => finished.push((i, Some(e))),
                }
            }
            finished.sort_by_key(|f| std::cmp::Reverse(f.0));
            self.finish_points(&mut live, finished, &mut results);
            round += 1;
        }
        results.sort_by_key(|r| r.0);
        for (_, entry, result) in results {
            match result {
                Ok(m) => {
                    let line = entry.record(builder, &m);
                    self.observer.done(&line);
                }
                Err(e) => self.fail(e),
            }
        }
    }

    /// Takes the `finished` points (indices into `live`, sorted from the last, each with the
    /// error that ended it if any) out of `live` and analyses them into `results`.
    fn finish_points<'p>(
        &mut self,
        live: &mut Vec<(usize, Point<'p>)>,
        finished: Vec<(usize, Option<Error>)>,
        results: &mut Vec<(usize, Entry, Result<Measured>)>,
    ) {
        for (i, err) in finished {
            let (index, p) = live.remove(i);
            let result = match (err, p.sampler) {
                (Some(e), _) => Err(e),
                (None, None) => Err(Error::DeviceLimit(format!(
                    "{}: sampling never started",
                    p.label
                ))),
                (None, Some(sampler)) => sampler.finish().map(|sampled| Measured {
                    sampled,
                    verification: p.verification,
                }),
            };
            results.push((index, p.entry, result));
        }
    }

    /// Starts numbered section `title`.
    fn section(&mut self, title: &str) {
        self.section += 1;
        self.observer.section(&format!("{}. {title}", self.section));
    }

    /// Runs one measurement: `measure` it and `record` it, or note its failure; then re-time
    /// the canary.
    fn measure(
        &mut self,
        label: &str,
        measure: impl FnOnce() -> Result<Measured>,
        record: impl FnOnce(&Measured) -> Recorded,
    ) {
        self.observer.begin(label);
        match measure() {
            Ok(m) => self.observer.done(&record(&m)),
            Err(e) => self.fail(e),
        }
        self.canary_read(label);
    }

    /// Re-times the canary; a canary that fails stops being read (and says so).
    fn canary_read(&mut self, after: &str) {
        if let Some(c) = self.canary.as_mut() {
            if let Err(e) = c.read(after) {
                self.observer
                    .note(&format!("drift canary failed, run no longer watched: {e}"));
                *self.canary = None;
            }
        }
    }
}

/// Measures every sweep point of the requested patterns, small sizes of every axis first, until
/// done or out of time budget. Returns a note when the budget cut it short.
fn sweep(
    backend: &dyn Backend,
    config: &Config,
    policy: &SamplingPolicy,
    builder: &mut assemble::ProfileBuilder,
    run: &mut Run<'_, '_>,
) -> Option<String> {
    let lists: Vec<Vec<(Pattern, SweepPoint)>> = config
        .patterns
        .iter()
        .map(|&p| {
            sweep_points(p.family(), config.preset)
                .into_iter()
                .map(|pt| (p, pt))
                .collect()
        })
        .collect();
    let all = interleaved(&lists);
    let start = std::time::Instant::now();
    for (done, &(pattern, point)) in all.iter().enumerate() {
        if crate::interrupt::requested() {
            for &(p, pt) in &all[done..] {
                run.not_measured
                    .push(format!("sweep {} {}={}", p.name(), pt.axis, pt.value));
            }
            return None;
        }
        if let Some(budget) = config.time_budget {
            // At least one point, however small the budget.
            if done > 0 && start.elapsed() >= budget {
                let note = format!(
                    "sweep cut short by --time-budget {}s: {done} of {} points measured",
                    budget.as_secs_f64(),
                    all.len()
                );
                run.observer.note(&note);
                return Some(note);
            }
        }
        run.measure(
            &format!(
                "sweep {} {}={} ({})",
                pattern.name(),
                point.axis,
                point.value,
                point.shape.label()
            ),
            || measure_pattern(backend, pattern, point.shape, policy, config),
            |m| builder.add_sweep_point(pattern, &point, m),
        );
    }
    None
}

/// Tells the observer where fusion starts to pay along each swept axis.
fn report_crossovers(builder: &assemble::ProfileBuilder, observer: &mut dyn Observer) {
    observer.crossovers(&builder.sweep_crossovers());
}

/// The inputs of `pattern` at `shape`, deterministic in the run's seed.
pub fn pattern_inputs(pattern: Pattern, shape: &Shape, config: &Config) -> Result<Inputs> {
    shape.validate()?;
    Ok(Inputs::generate(
        pattern,
        shape,
        config.seed ^ (pattern as u64) << 32,
    ))
}

/// Prepares one pattern at one shape, runs each variant once and verifies its output against
/// the f64 reference.
pub fn prepare_pattern<'a>(
    backend: &'a dyn Backend,
    pattern: Pattern,
    shape: Shape,
    inputs: &'a Inputs,
    config: &Config,
) -> Result<Verified<'a>> {
    shape.validate()?;
    let reference = Reference::new(pattern, shape, inputs)?;
    let workload = Workload::Pattern {
        pattern,
        shape,
        inputs,
    };
    let mut prepared = backend.prepare(&workload)?;
    let label = workload.label();
    let (rows, cols) = reference.rows_cols();
    let (rtol, atol) = reference.tolerance(inputs.dtype());
    let check = measure::RowCheck {
        rows,
        cols,
        macs_per_row: reference.macs_per_row(),
        rtol,
        atol,
        seed: config.seed,
    };
    let mut verification = Vec::new();
    for variant in [Variant::Unfused, Variant::Fused] {
        prepared.run(variant)?;
        let output = prepared.output(variant)?;
        verification.push(
            check.verify(&format!("{label} {}", variant.name()), &output, |r| {
                reference.row(r).to_vec()
            })?,
        );
    }
    Ok((prepared, verification))
}

/// Prepares, verifies and samples one pattern at one shape, in one visit.
pub fn measure_pattern(
    backend: &dyn Backend,
    pattern: Pattern,
    shape: Shape,
    policy: &SamplingPolicy,
    config: &Config,
) -> Result<Measured> {
    let inputs = pattern_inputs(pattern, &shape, config)?;
    let (mut prepared, verification) = prepare_pattern(backend, pattern, shape, &inputs, config)?;
    Ok(Measured {
        sampled: sampling::sample(
            prepared.as_mut(),
            &[Variant::Unfused, Variant::Fused],
            policy,
        )?,
        verification,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::CpuBackend;
    use crate::backend::{DeviceInfo, Prepared};
    use crate::pattern::Preset;
    use std::time::Duration;

    /// The CPU backend with one wrong element in the fused output of one pattern.
    struct Faulty {
        inner: CpuBackend,
        broken: Pattern,
    }

    struct FaultyRun<'a> {
        inner: Box<dyn Prepared + 'a>,
        broken: bool,
    }

    impl Prepared for FaultyRun<'_> {
        fn run(&mut self, v: Variant) -> Result<Duration> {
            self.inner.run(v)
        }
        fn output(&mut self, v: Variant) -> Result<crate::dtype::HostBuffer> {
            let mut out = self.inner.output(v)?.into_f32("faulty")?;
            if self.broken && v == Variant::Fused {
                let mid = out.len() / 2;
                out[mid] += 0.01;
            }
            Ok(out.into())
        }
    }

    impl Backend for Faulty {
        fn device(&self) -> &DeviceInfo {
            self.inner.device()
        }
        fn prepare<'a>(
            &'a self,
            w: &Workload<'a>,
        ) -> Result<Box<dyn crate::backend::Prepared + 'a>> {
            let broken = matches!(w, Workload::Pattern { pattern, .. } if *pattern == self.broken);
            Ok(Box::new(FaultyRun {
                inner: self.inner.prepare(w)?,
                broken,
            }))
        }
    }

    fn tiny_linear() -> Config {
        let mut c = Config::new(Preset::Tiny);
        c.operations.clear();
        c.patterns = crate::pattern::Family::Linear.patterns().collect();
        c
    }

    #[test]
    fn a_wrong_kernel_fails_verification_and_records_nothing() {
        let backend = Faulty {
            inner: CpuBackend::new(),
            broken: Pattern::LinearBiasRelu,
        };
        let outcome = calibrate(&backend, &tiny_linear(), &mut Silent).unwrap();
        // Both shapes of the broken pattern failed, loudly, naming the variant.
        assert_eq!(outcome.failures.len(), 2);
        for f in &outcome.failures {
            assert!(matches!(f, Error::Verification { .. }), "{f}");
            let msg = f.to_string();
            assert!(
                msg.contains("Linear_Bias_ReLU") && msg.contains("fused"),
                "{msg}"
            );
            assert_eq!(f.exit_code(), 1);
        }
        let p = &outcome.profile;
        assert!(p.get_fusion_pattern("Linear_Bias_ReLU").is_none());
        assert!(!p.fusion_measurements.contains_key("Linear_Bias_ReLU"));
        assert!(p.get_fusion_pattern("Linear_Bias").is_some());
        assert!(p.get_fusion_pattern("Linear_Bias_GELU").is_some());
        assert_eq!(
            p.hwcal.as_ref().unwrap()["failures"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    /// What assemble writes is what the typed views read: every key is known to them, and
    /// written back through them the JSON is the same text.
    #[test]
    fn the_profile_reads_back_through_the_typed_views_unchanged() {
        let mut c = Config::new(Preset::Tiny);
        c.patterns = vec![Pattern::LinearBias, Pattern::Conv2dBn];
        c.sweep = true;
        let outcome = calibrate(&CpuBackend::new(), &c, &mut Silent).unwrap();
        let p = &outcome.profile;
        let raw = p.hwcal.as_ref().unwrap();
        let info = p.run_info().unwrap();
        assert!(info.other.is_empty(), "{:?}", info.other.keys());
        assert!(info.unread_keys(raw.as_object().unwrap()).is_empty());
        assert_eq!(
            serde_json::to_string(&info.to_value()).unwrap(),
            serde_json::to_string(raw).unwrap()
        );
        for key in [
            "preflight",
            "threads_pinned",
            "drift",
            "sweep_crossovers",
            "samples",
        ] {
            assert!(raw.get(key).is_some(), "{key}");
        }
        let entries = p
            .fusion_measurements
            .values()
            .chain(p.fusion_sweeps.values())
            .flatten();
        let mut conv = 0;
        for f in entries {
            let x = f.hwcal_extras();
            assert!(x.other.is_empty(), "{:?}", x.other.keys());
            assert_eq!(
                serde_json::to_string(&x.to_map()).unwrap(),
                serde_json::to_string(&f.extra_params).unwrap()
            );
            conv += usize::from(x.out_channels.is_some());
        }
        assert!(conv > 0, "a conv entry's shape parameters are read too");
    }

    #[test]
    fn correct_kernels_verify_on_every_pattern_and_operation() {
        let mut c = Config::new(Preset::Tiny);
        c.patterns = Pattern::ALL.to_vec();
        let outcome = calibrate(&CpuBackend::new(), &c, &mut Silent).unwrap();
        assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
        assert_eq!(outcome.profile.fusion_profiles.len(), Pattern::ALL.len());
        // Two memory sizes × copy and triad, two matmul sizes, the fp32 peak at three widths,
        // two tiny shapes per pattern.
        assert_eq!(count_measurements(&c), 4 + 2 + 3 + 2 * Pattern::ALL.len());
    }

    #[test]
    fn a_failed_preflight_warns_or_with_strict_refuses() {
        // A machine at 99 °C: the thermal check fails.
        let root = tempfile::tempdir().unwrap();
        let zone = root.path().join("sys/class/thermal/thermal_zone0");
        std::fs::create_dir_all(&zone).unwrap();
        std::fs::write(zone.join("temp"), "99000\n").unwrap();
        let mut c = tiny_linear();
        c.patterns.truncate(1);
        c.probe = crate::preflight::Probe {
            root: root.path().to_path_buf(),
            window: Duration::from_millis(5),
        };
        let outcome = calibrate(&CpuBackend::new(), &c, &mut Silent).unwrap();
        let p = &outcome.profile.hwcal.as_ref().unwrap()["preflight"];
        assert_eq!(p["passed"], false);
        assert_eq!(p["forced"], true, "measured despite the failed check");
        assert!(outcome.profile.get_fusion_pattern("Linear_Bias").is_some());
        c.strict = true;
        let err = calibrate(&CpuBackend::new(), &c, &mut Silent)
            .err()
            .unwrap();
        assert!(matches!(err, Error::Usage(_)), "{err}");
        assert!(err.to_string().contains("Thermal"), "{err}");
    }

    #[test]
    fn impossible_settings_are_usage_errors() {
        let mut c = tiny_linear();
        c.sampling.min_samples = 1;
        assert!(matches!(
            calibrate(&CpuBackend::new(), &c, &mut Silent),
            Err(Error::Usage(_))
        ));
        let bad = Shape::Linear { m: 0, k: 4, n: 4 };
        let policy = Config::new(Preset::Tiny).sampling;
        let err = measure_pattern(
            &CpuBackend::new(),
            Pattern::LinearBias,
            bad,
            &policy,
            &tiny_linear(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("impossible shape"), "{err}");
    }
}
