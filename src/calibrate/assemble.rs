//! Analysis and profile assembly: turns samples into profile entries in the original's format,
//! with hwcal's own statistics in `extra_params` and the `hwcal` top-level key, both written
//! through their typed views ([`FusionExtras`], [`RunInfo`]).

use super::measure::Measured;
use super::progress::{FigurePrecision, Recorded, SweepCrossover};
use super::sampling::Sampled;
use super::Config;
use crate::analysis::{crossover, PAYS_THRESHOLD};
use crate::backend::{DeviceInfo, Variant};
use crate::dtype::{Accumulate, DType};
use crate::pattern::{Pattern, Shape, SweepPoint};
use crate::precision::{PeakRun, PeakWidth};
use crate::preflight::Preflight;
use crate::profile::extras::{LatencyStats, Precision, VariantStats};
use crate::profile::precisions::{PeakRecord, PrecisionsRecord, TheoreticalRecord};
use crate::profile::run_info::{
    DeviceRecord, DriftRecord, Interrupted, OperationStats, Peak, Peaks, SampleSeries,
    SamplingRecord, SweepCrossovers,
};
use crate::profile::{
    CalibrationMetadata, FusionCalibration, FusionExtras, HardwareCalibration,
    OperationCalibration, OrderedMap, RunInfo,
};
use crate::stats::Summary;
use crate::Error;
use serde_json::{json, Map, Number};

/// Where fusion starts to pay per swept pattern and axis (`None`: not within the sizes).
pub type Crossovers = OrderedMap<OrderedMap<Option<f64>>>;

/// Latency statistics (ms per iteration) as stored in `extra_params` /
/// `hwcal.operation_statistics`.
fn latency_stats(s: &Summary, iterations: u32) -> LatencyStats {
    LatencyStats {
        median_ms: Some(s.median),
        mean_ms: Some(s.mean),
        std_ms: Some(s.std),
        min_ms: Some(s.min),
        max_ms: Some(s.max),
        p5_ms: Some(s.p5),
        p95_ms: Some(s.p95),
        mad_ms: Some(s.mad),
        iqr_ms: Some(s.iqr),
        cv: Some(s.cv),
        n: Some(s.n as u64),
        iterations_per_sample: Some(u64::from(iterations)),
        noisy: Some(s.is_noisy()),
    }
}

/// How precise a figure is, as recorded with it: the target and achieved relative half-width
/// of its 95% interval, why sampling stopped, and what it cost.
fn precision(s: &Sampled) -> Precision {
    Precision {
        target_half_width: Some(s.target),
        // A non-finite width (nothing measured) is written as null.
        half_width: Some(s.half_width()),
        imprecise: Some(s.imprecise()),
        stopped_by: Some(s.stop.name().to_string()),
        samples: Some(s.estimate.n as u64),
        visits: Some(s.visits as u64),
        visits_discarded: Some(s.discarded_visits as u64),
        sampling_s: Some(s.elapsed.as_secs_f64()),
        other: Map::new(),
    }
}

/// `x` rounded to 6 significant digits: all samples are kept, without digits no clock has.
fn round6(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    format!("{x:.5e}").parse().unwrap_or(x)
}

/// Every sample of a measurement (ms per iteration, per variant, in the order taken).
fn sample_series(s: &Sampled) -> OrderedMap<SampleSeries> {
    s.variants
        .iter()
        .map(|v| {
            let series = SampleSeries {
                iterations_per_sample: Some(u64::from(v.iterations)),
                ms_per_iteration: Some(v.ms_per_iteration.iter().map(|&x| round6(x)).collect()),
                other: Map::new(),
            };
            (v.variant.name(), series)
        })
        .collect()
}

/// A measurement with no samples to record: what it was.
struct NoSamples(String);

fn summary_of(m: &Measured, v: Variant, what: &str) -> Result<Summary, Error> {
    Summary::from_samples(m.latencies(v)).ok_or_else(|| {
        Error::DeviceLimit(format!(
            "{what}: no usable timing samples (every run took zero time on this clock)"
        ))
    })
}

/// Builds a profile measurement by measurement.
pub struct ProfileBuilder {
    profile: HardwareCalibration,
    device: DeviceInfo,
    preset: &'static str,
    peak_notes: Peaks,
    operation_statistics: OrderedMap<OperationStats>,
    sampling: SamplingRecord,
    samples: OrderedMap<OrderedMap<SampleSeries>>,
    imprecise: Vec<String>,
    /// What the run records beside the measurements (preflight, drift, interruption).
    run_record: RunInfo,
    /// The precisions record, when the run measures matmuls or peaks.
    precisions: Option<PrecisionsRecord>,
}

impl ProfileBuilder {
    /// Starts a profile for `device` under `config` (hardware name, peaks, trial counts).
    pub fn new(device: &DeviceInfo, config: &Config) -> Self {
        let mut metadata = CalibrationMetadata::new(config.hardware_name(device));
        metadata.calibration_tool_version = format!("hwcal {}", env!("CARGO_PKG_VERSION"));
        metadata.cpu_model = device.cpu_model.clone();
        metadata.cpu_count = device.cpu_count;
        metadata.total_memory_gb = device.total_memory_gb;
        metadata.num_warmup_runs = config.sampling.warmup;
        metadata.num_measurement_runs = config.sampling.min_samples;
        let peak = |given: Option<f64>, est: &Option<crate::backend::PeakEstimate>, flag: &str| {
            let (value, source, how) = match (given, est) {
                (Some(v), _) => (v, format!("given with {flag}"), None),
                (None, Some(e)) => (e.value, "estimated".to_string(), Some(e.how.clone())),
                (None, None) => (
                    0.0,
                    "unknown".to_string(),
                    Some(format!("not derivable on this device; pass {flag} (0.0 means unknown, efficiencies are then 0.0)")),
                ),
            };
            let note = Peak {
                value: Some(value),
                source: Some(source),
                how,
                other: Map::new(),
            };
            (value, note)
        };
        let (gflops, gnote) = peak(config.peak_gflops, &device.peak_gflops, "--peak-gflops");
        let (bw, bnote) = peak(
            config.peak_bandwidth_gbps,
            &device.peak_bandwidth_gbps,
            "--peak-bandwidth",
        );
        ProfileBuilder {
            profile: HardwareCalibration::new(metadata, gflops, bw),
            device: device.clone(),
            preset: config.preset.name(),
            peak_notes: Peaks {
                gflops: Some(gnote),
                bandwidth_gbps: Some(bnote),
                other: Map::new(),
            },
            operation_statistics: OrderedMap::new(),
            sampling: sampling_record(&config.sampling),
            samples: OrderedMap::new(),
            imprecise: Vec::new(),
            run_record: RunInfo::default(),
            precisions: {
                use super::Operation;
                let ops = &config.operations;
                (ops.contains(&Operation::Matmul) || ops.contains(&Operation::Peak)).then(|| {
                    PrecisionsRecord {
                        requested: Some(
                            config
                                .precisions
                                .iter()
                                .map(|d| d.name().to_string())
                                .collect(),
                        ),
                        theoretical: Some(
                            device
                                .theoretical_peaks
                                .iter()
                                .map(|t| TheoreticalRecord {
                                    precision: Some(t.precision.name().to_string()),
                                    width: Some(t.width.name().to_string()),
                                    gops: Some(t.gops()),
                                    ops_per_cycle_per_core: Some(t.ops_per_cycle_per_core),
                                    cores: Some(t.cores as u64),
                                    clock_mhz: Some(t.clock_mhz),
                                    how: Some(t.how.clone()),
                                    other: Map::new(),
                                })
                                .collect(),
                        ),
                        ..PrecisionsRecord::default()
                    }
                })
            },
        }
    }

    /// Records what the device has no native kernel for (`bf16 matmul`), with the reason.
    pub fn record_unsupported(&mut self, what: String, why: String) {
        if let Some(p) = self.precisions.as_mut() {
            p.unsupported
                .get_or_insert_with(Default::default)
                .insert(what, why);
        }
    }

    /// The table's peak for `precision` on `width` units, if the device is in it.
    fn theoretical(
        &self,
        precision: DType,
        width: Option<PeakWidth>,
    ) -> Option<&crate::precision::TheoreticalPeak> {
        self.device
            .theoretical_peaks
            .iter()
            .filter(|t| t.precision == precision && width.is_none_or(|w| t.width == w))
            .max_by(|a, b| a.gops().total_cmp(&b.gops()))
    }

    /// Records a peak measurement in `hwcal.precisions.peaks` and returns what it recorded.
    pub fn add_peak(
        &mut self,
        precision: DType,
        width: PeakWidth,
        run: &PeakRun,
        m: &Measured,
    ) -> Recorded {
        let label = format!("{precision} {} peak", width.name());
        let Ok(s) = summary_of(m, Variant::Single, &label) else {
            return Recorded::NoSamples { what: label };
        };
        let gops = |ms: f64| run.ops_per_run / (ms * 1e-3) / 1e9;
        let median = gops(s.median);
        let e = m.sampled.estimate;
        let table = self.theoretical(precision, Some(width)).cloned();
        let at_clock = table
            .as_ref()
            .map(|t| run.clock_mhz.map_or_else(|| t.gops(), |c| t.gops_at(c)));
        let efficiency = at_clock.filter(|t| *t > 0.0).map(|t| median / t);
        if let (Some(eff), Some(p)) = (efficiency, self.precisions.as_mut()) {
            // A measured rate above the table's at the measured clock means the table's
            // units (or the clock) are wrong for this device: said, never hidden.
            if eff > 1.02 {
                p.warnings.get_or_insert_with(Vec::new).push(format!(
                    "{label}: {median:.1} {} is {:.0}% of the theoretical {:.1} at the measured clock; \
                     the table's units or clock do not fit this device",
                    precision.rate_unit(),
                    eff * 100.0,
                    at_clock.unwrap_or(0.0)
                ));
            }
        }
        let record = PeakRecord {
            precision: Some(precision.name().to_string()),
            width: Some(width.name().to_string()),
            instruction: Some(run.instruction.clone()),
            median_gops: Some(median),
            gops_ci95: Some([gops(e.hi), gops(e.lo)]),
            best_gops: Some(gops(s.min)),
            clock_mhz: run.clock_mhz,
            theoretical_gops: table.as_ref().map(|t| t.gops()),
            theoretical_gops_at_clock: at_clock,
            efficiency,
            samples: Some(s.n as u64),
            other: Map::new(),
        };
        if let Some(p) = self.precisions.as_mut() {
            p.peaks.get_or_insert_with(Vec::new).push(record);
        }
        self.keep_samples(label, m);
        Recorded::Peak {
            dtype: precision,
            width,
            instruction: run.instruction.clone(),
            median_gops: median,
            theoretical_gops: at_clock,
            clock_mhz: run.clock_mhz,
            samples: s.n,
            precision: FigurePrecision::of(&m.sampled),
        }
    }

    /// Records the preflight of the machine, and whether the threads were pinned, in the
    /// `hwcal` run record.
    pub fn record_preflight(&mut self, preflight: &Preflight, threads_pinned: bool) {
        self.run_record.preflight = Some(preflight.clone());
        self.run_record.threads_pinned = Some(threads_pinned);
    }

    /// Records what the drift canary saw in the `hwcal` run record.
    pub fn record_drift(&mut self, drift: DriftRecord) {
        self.run_record.drift = Some(drift);
    }

    /// Records what an interruption left out in the `hwcal` run record.
    pub fn record_interrupted(&mut self, interrupted: Interrupted) {
        self.run_record.interrupted = Some(interrupted);
    }

    /// Keeps the samples of measurement `label`, and notes it when it missed its target.
    fn keep_samples(&mut self, label: String, m: &Measured) {
        if m.sampled.imprecise() {
            self.imprecise.push(label.clone());
        }
        self.samples.insert(label, sample_series(&m.sampled));
    }

    fn efficiency(measured: f64, theoretical: f64) -> f64 {
        if theoretical > 0.0 {
            measured / theoretical
        } else {
            0.0
        }
    }

    /// Records a STREAM measurement and returns what it recorded. Bandwidth is the best sample,
    /// as STREAM reports it; the stopping rule judged the median, whose interval is kept too.
    pub fn add_stream(
        &mut self,
        name: &'static str,
        mb: usize,
        elements: usize,
        m: &Measured,
    ) -> Recorded {
        let Ok(s) = summary_of(m, Variant::Single, name) else {
            return Recorded::NoSamples {
                what: format!("{name} {mb} MB"),
            };
        };
        // STREAM byte counting: copy reads a and writes c; triad reads b, c and writes a.
        let arrays = if name == "copy" { 2 } else { 3 };
        let bytes = (arrays * elements * 4) as f64;
        let flops = if name == "copy" {
            0.0
        } else {
            2.0 * elements as f64
        };
        let gbps = |ms: f64| bytes / (ms * 1e-3) / 1e9;
        let best_gbps = gbps(s.min);
        let mut op = OperationCalibration::new("add", vec![elements]);
        op.measured_gflops = flops / (s.min * 1e-3) / 1e9;
        op.achieved_bandwidth_gbps = best_gbps;
        op.efficiency = Self::efficiency(best_gbps, self.profile.theoretical_bandwidth_gbps);
        op.memory_bound = true;
        op.arithmetic_intensity = flops / bytes;
        fill_latency(&mut op, &s);
        op.extra_params
            .insert("operation".into(), json!(format!("memory_{name}")));
        op.extra_params.insert("size_mb".into(), json!(mb));
        // Nothing more in extra_params: the operation's key is made from them.
        let e = m.sampled.estimate;
        let key = self.profile.add_operation(op);
        let st = OperationStats {
            latency: latency_stats(&s, m.sampled.iterations(Variant::Single)),
            bytes_per_run: Some(bytes),
            median_bandwidth_gbps: Some(gbps(s.median)),
            median_bandwidth_gbps_ci95: Some([gbps(e.hi), gbps(e.lo)]),
            precision: Some(precision(&m.sampled)),
            preset: Some(self.preset.to_string()),
            ..OperationStats::default()
        };
        self.operation_statistics.insert(key.clone(), st);
        self.keep_samples(key, m);
        Recorded::Stream {
            name,
            mb,
            best_gbps,
            median_gbps: gbps(s.median),
            samples: s.n,
            noisy: s.is_noisy(),
            precision: FigurePrecision::of(&m.sampled),
        }
    }

    /// Records a matmul measurement in `dtype` (summed in `accumulate`, given for every type
    /// but f32) and returns what it recorded. G(FL)OPS is from the median. A precision other
    /// than f32 is named in `extra_params.precision` (so it has its own key) and its
    /// efficiency is relative to that precision's theoretical peak.
    pub fn add_matmul(
        &mut self,
        dtype: DType,
        n: usize,
        accumulate: Option<Accumulate>,
        m: &Measured,
    ) -> Recorded {
        let Ok(s) = summary_of(m, Variant::Single, "matmul") else {
            return Recorded::NoSamples {
                what: format!("{dtype} matmul {n}"),
            };
        };
        let flops = 2.0 * (n as f64).powi(3);
        let out_size = match accumulate {
            Some(Accumulate::F64) => 8.0,
            _ => 4.0,
        };
        let bytes = (n * n) as f64 * (2.0 * dtype.size() as f64 + out_size);
        let gflops = flops / (s.median * 1e-3) / 1e9;
        let theoretical = if dtype == DType::F32 {
            self.profile.theoretical_peak_gflops
        } else {
            self.theoretical(dtype, None).map_or(0.0, |t| t.gops())
        };
        let mut op = OperationCalibration::new("matmul", vec![n, n]);
        op.measured_gflops = gflops;
        op.efficiency = Self::efficiency(gflops, theoretical);
        op.achieved_bandwidth_gbps = bytes / (s.median * 1e-3) / 1e9;
        op.arithmetic_intensity = flops / bytes;
        op.compute_bound = true;
        fill_latency(&mut op, &s);
        op.extra_params.insert("matrix_size".into(), json!(n));
        op.extra_params.insert(
            "implementation".into(),
            json!(format!("hwcal_{}_gemm", self.device.backend)),
        );
        if dtype != DType::F32 {
            op.extra_params
                .insert("precision".into(), json!(dtype.name()));
        }
        let e = m.sampled.estimate;
        let g = |ms: f64| flops / (ms * 1e-3) / 1e9;
        let key = self.profile.add_operation(op);
        let st = OperationStats {
            latency: latency_stats(&s, m.sampled.iterations(Variant::Single)),
            best_gflops: Some(g(s.min)),
            gflops_ci95: Some([g(e.hi), g(e.lo)]),
            precision: Some(precision(&m.sampled)),
            verification_max_abs_err: m.verification.first().map(|v| v.max_abs_err),
            accumulate: accumulate.map(|a| a.name()),
            preset: Some(self.preset.to_string()),
            ..OperationStats::default()
        };
        self.operation_statistics.insert(key.clone(), st);
        self.keep_samples(key, m);
        Recorded::Matmul {
            dtype,
            accumulate: accumulate.map(|a| a.name()),
            n,
            median_gflops: gflops,
            best_gflops: g(s.min),
            samples: s.n,
            noisy: s.is_noisy(),
            precision: FigurePrecision::of(&m.sampled),
        }
    }

    /// Records a fusion-pattern measurement and returns what it recorded.
    pub fn add_pattern(&mut self, pattern: Pattern, shape: Shape, m: &Measured) -> Recorded {
        match self.fusion_entry(pattern, shape, None, m) {
            Ok((fc, recorded)) => {
                self.profile.add_fusion_measurement(fc);
                self.keep_samples(format!("{} {}", pattern.name(), shape.label()), m);
                recorded
            }
            Err(NoSamples(what)) => Recorded::NoSamples { what },
        }
    }

    /// Records one point of a size sweep under `fusion_sweeps` and returns what it recorded.
    pub fn add_sweep_point(
        &mut self,
        pattern: Pattern,
        point: &SweepPoint,
        m: &Measured,
    ) -> Recorded {
        match self.fusion_entry(pattern, point.shape, Some(point), m) {
            Ok((fc, recorded)) => {
                let list = self
                    .profile
                    .fusion_sweeps
                    .get_or_insert_with(pattern.name(), Vec::new);
                match list.iter_mut().find(|f| {
                    f.input_shape == fc.input_shape
                        && f.hwcal_extras().sweep_axis.as_deref() == Some(point.axis)
                }) {
                    Some(slot) => *slot = fc,
                    None => list.push(fc),
                }
                self.keep_samples(
                    format!(
                        "sweep {} {}={} {}",
                        pattern.name(),
                        point.axis,
                        point.value,
                        point.shape.label()
                    ),
                    m,
                );
                recorded
            }
            Err(NoSamples(what)) => Recorded::NoSamples { what },
        }
    }

    /// The profile entry of one pattern measurement (of a sweep point, when `sweep` is given)
    /// and what it records (or, without samples, what it was).
    fn fusion_entry(
        &self,
        pattern: Pattern,
        shape: Shape,
        sweep: Option<&SweepPoint>,
        m: &Measured,
    ) -> Result<(FusionCalibration, Recorded), NoSamples> {
        let (Ok(u), Ok(f)) = (
            summary_of(m, Variant::Unfused, pattern.name()),
            summary_of(m, Variant::Fused, pattern.name()),
        ) else {
            return Err(NoSamples(format!("{} ({})", pattern.name(), shape.label())));
        };
        let flops = pattern.flops(&shape) as f64;
        let (ub, fb) = (pattern.unfused_bytes(&shape), pattern.fused_bytes(&shape));
        // The paired estimate: median of per-pair ratios unfused/fused, with its 95% interval.
        let e = m.sampled.estimate;
        let (speedup, lo, hi) = (e.value, e.lo, e.hi);
        let unfused_gflops = flops / (u.median * 1e-3) / 1e9;
        let fused_gflops = flops / (f.median * 1e-3) / 1e9;
        let noisy = u.is_noisy() || f.is_noisy();
        let variant_stats = |s: &Summary, v: Variant| VariantStats {
            latency: latency_stats(s, m.sampled.iterations(v)),
            other: Map::new(),
        };
        // The shape's own parameters (conv: out_channels, kernel_size, stride, padding) first.
        let extras = FusionExtras {
            backend: Some(self.device.backend.to_string()),
            preset: Some(self.preset.to_string()),
            speedup_ci95: Some([lo, hi]),
            speedup_estimator: Some(
                "median of paired ratios (unfused/fused, adjacent samples, alternating order)"
                    .to_string(),
            ),
            precision: Some(precision(&m.sampled)),
            imprecise: Some(m.sampled.imprecise()),
            noisy: Some(noisy),
            unfused_stats: Some(variant_stats(&u, Variant::Unfused)),
            fused_stats: Some(variant_stats(&f, Variant::Fused)),
            flops: Some(flops),
            max_abs_error: Some(
                m.verification
                    .iter()
                    .map(|c| c.max_abs_err)
                    .fold(0.0, f64::max),
            ),
            sweep_axis: sweep.map(|p| p.axis.to_string()),
            sweep_value: sweep.map(|p| Number::from(p.value as u64)),
            ..FusionExtras::from_map(&shape.extra_params())
        };
        let fc = FusionCalibration {
            fusion_pattern: pattern.name().to_string(),
            operators: pattern
                .operators()
                .iter()
                .map(|op| op.to_string())
                .collect(),
            num_operators: pattern.operators().len(),
            unfused_latency_ms: u.median,
            unfused_gflops,
            unfused_memory_bytes: ub,
            fused_latency_ms: f.median,
            fused_gflops,
            fused_memory_bytes: fb,
            speedup_factor: speedup,
            memory_reduction: 1.0 - fb as f64 / ub as f64,
            gflops_improvement: fused_gflops / unfused_gflops - 1.0,
            input_shape: shape.input_shape(),
            extra_params: extras.to_map(),
            num_trials: u.n.min(f.n),
            extra: Map::new(),
        };
        let recorded = Recorded::Pattern {
            pattern,
            shape,
            sweep: sweep.map(|p| (p.axis, p.value)),
            speedup,
            ci95: [lo, hi],
            pairs: e.n,
            memory_reduction: fc.memory_reduction,
            unfused_ms: u.median,
            fused_ms: f.median,
            precision: FigurePrecision::of(&m.sampled),
        };
        Ok((fc, recorded))
    }

    /// Per swept pattern and axis (in the order first measured), the `(size, speedup)` points
    /// measured along it and the threshold fusion pays from. Each entry's position is read once.
    pub fn sweep_crossovers(&self) -> Vec<SweepCrossover> {
        let mut found: Vec<SweepCrossover> = Vec::new();
        for (pattern, points) in self.profile.fusion_sweeps.iter() {
            let first = found.len();
            for f in points {
                let Some((axis, size)) = f.sweep_position() else {
                    continue;
                };
                let point = (size, f.speedup_factor);
                match found[first..].iter_mut().find(|c| c.axis == axis) {
                    Some(c) => c.points.push(point),
                    None => found.push(SweepCrossover {
                        pattern: pattern.clone(),
                        axis,
                        points: vec![point],
                        threshold: PAYS_THRESHOLD,
                    }),
                }
            }
        }
        found
    }

    /// The crossover sizes for the `hwcal` key: `{pattern: {axis: size or null}}`, every swept
    /// pattern present.
    fn crossover_sizes(&self) -> Crossovers {
        let mut sizes = Crossovers::new();
        for pattern in self.profile.fusion_sweeps.keys() {
            sizes.insert(pattern.clone(), OrderedMap::new());
        }
        for c in self.sweep_crossovers() {
            if let Some(per_axis) = sizes.get_mut(&c.pattern) {
                per_axis.insert(c.axis, crossover(&c.points, c.threshold));
            }
        }
        sizes
    }

    /// Finishes the profile: aggregates and the `hwcal` run record.
    pub fn finish(mut self, failures: &[Error]) -> HardwareCalibration {
        self.profile.recompute_aggregates();
        let sweep_crossovers = (!self.profile.fusion_sweeps.is_empty()).then(|| SweepCrossovers {
            threshold: Some(PAYS_THRESHOLD),
            sizes: Some(self.crossover_sizes()),
            other: Map::new(),
        });
        let record = std::mem::take(&mut self.run_record);
        let info = RunInfo {
            schema_version: Some(1),
            tool_version: Some(env!("CARGO_PKG_VERSION").to_string()),
            backend: Some(self.device.backend.to_string()),
            preset: Some(self.preset.to_string()),
            threads: Some(self.device.threads as u64),
            timing_method: Some(self.device.timing_method.to_string()),
            timing_policy: Some("warm-up (first run verified against an f64 reference); each sample repeats the kernel to last at least the sample floor; variants sampled as adjacent pairs in alternating order until the 95% interval reaches the target half-width or the point's time cap; speedups are medians of paired ratios; latency fields are medians per iteration".to_string()),
            sampling: Some(self.sampling),
            imprecise: Some(self.imprecise),
            samples: Some(self.samples),
            device: Some(device_record(&self.device)),
            peaks: Some(self.peak_notes),
            operation_statistics: Some(self.operation_statistics),
            failures: Some(failures.iter().map(|e| e.to_string()).collect()),
            sweep_crossovers,
            precisions: self.precisions.take(),
            ..record
        };
        self.profile.hwcal = Some(info.to_value());
        self.profile.refresh_precision_matrix();
        self.profile
    }
}

/// The device as its backend describes it: [`DeviceInfo`]'s own serde form read into the view,
/// so a field a backend adds is kept (in [`DeviceRecord::other`]).
fn device_record(device: &DeviceInfo) -> DeviceRecord {
    serde_json::to_value(device)
        .and_then(serde_json::from_value)
        .expect("DeviceInfo serialises to an object")
}

/// The sampling policy as recorded in the `hwcal` key.
fn sampling_record(p: &super::sampling::SamplingPolicy) -> SamplingRecord {
    SamplingRecord {
        warmup: Some(p.warmup as u64),
        min_samples: Some(p.min_samples as u64),
        max_samples: Some(p.max_samples as u64),
        sample_floor_ms: Some(p.sample_floor.as_secs_f64() * 1e3),
        target_half_width: Some(p.precision),
        time_cap_s: Some(p.time_cap.as_secs_f64()),
        confidence: Some(super::sampling::CONFIDENCE),
        other: Map::new(),
    }
}

fn fill_latency(op: &mut OperationCalibration, s: &Summary) {
    op.mean_latency_ms = s.mean;
    op.std_latency_ms = s.std;
    op.min_latency_ms = s.min;
    op.max_latency_ms = s.max;
    op.num_trials = s.n;
}
