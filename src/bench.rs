//! `hwcal bench`: hwcal's speed targets, each as a ratio against a reference measured in the
//! same run (the machine is shared and noisy: absolute times drift, ratios hold better).
//!
//! - matmul f32 at N=2048: hwcal's GEMM vs numpy (OpenBLAS), medians; goal ≥ 0.95.
//! - memory bandwidth: hwcal's copy and triad vs a C STREAM (`cc -O3 -fopenmp`), best trials as
//!   STREAM reports them; goal ≥ 0.90.
//! - both judged on the median of the rounds' ratios (each round runs the reference and hwcal
//!   back to back), since this machine's own speed moves between rounds.
//! - a quick calibration of everything, run `--repeats` times back to back (3): wall time of
//!   each, goal ≤ 60 s; repeatability, the spread `(max - min) / median` across the runs of
//!   every pattern × shape speedup (worst shape per pattern shown, goal ≤ 3%) and of every
//!   matmul GFLOPS and STREAM bandwidth (goal ≤ 5%); and for each fused pattern of the first
//!   run, fused no slower than unfused beyond the noise (the 95% interval of the speedup
//!   reaches 1.0 or above).
//!
//! - precisions at N: bf16 and int8 matmul against hwcal's f32 matmul (goals ≥ 1.5 and ≥ 2.5),
//!   f64 matmul against numpy's float64 (goal ≥ 0.90), the f32 vector FMA peak against the
//!   f32 matmul (≥ 1) and against the theoretical peak at the clock measured under load
//!   (≥ 0.90); all measured in the same rounds, each round running every kernel once.
//!
//! Rounds (5 by default) alternate hwcal and the reference so drift hits both.

use crate::backend::{BackendSelection, Threads, Variant, Workload};
use crate::baseline;
use crate::calibrate::measure::{
    measure_matmul, measure_peak, measure_precision_matmul, measure_stream,
};
use crate::calibrate::{calibrate, Config, Silent};
use crate::dtype::DType;
use crate::pattern::{Pattern, Preset};
use crate::precision::{PeakWidth, PrecisionInputs};
use crate::stats::median;
use crate::{Error, Result};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use std::time::Instant;

/// One line of the report.
struct Row {
    target: String,
    hwcal: String,
    reference: String,
    ratio: String,
    goal: String,
    met: Option<bool>,
}

impl Row {
    fn skipped(target: &str, why: String) -> Row {
        Row {
            target: target.into(),
            hwcal: "-".into(),
            reference: format!("skipped: {why}"),
            ratio: "-".into(),
            goal: "-".into(),
            met: None,
        }
    }
}

fn max(xs: &[f64]) -> f64 {
    xs.iter().cloned().fold(f64::NAN, f64::max)
}

fn min(xs: &[f64]) -> f64 {
    xs.iter().cloned().fold(f64::NAN, f64::min)
}

/// The spread of one figure over repeated runs.
#[derive(Debug, PartialEq)]
struct Spread {
    /// What was repeated, e.g. `Linear_Bias_ReLU speedup, worst shape`.
    what: String,
    /// `(max - min) / median` over the runs.
    spread: f64,
    /// The values, and which shape was worst.
    detail: String,
    /// Target spread.
    goal: f64,
}

/// The median of per-round ratios hwcal / reference, with their range: each round's pair ran
/// back to back, so a machine that changes speed between rounds moves both sides of a ratio.
struct RoundRatio {
    value: f64,
    lo: f64,
    hi: f64,
}

impl RoundRatio {
    fn text(&self) -> String {
        format!("{:.3} ({:.2}–{:.2})", self.value, self.lo, self.hi)
    }
}

fn round_ratios(ours: &[f64], theirs: &[f64]) -> RoundRatio {
    let r: Vec<f64> = ours.iter().zip(theirs).map(|(o, t)| o / t).collect();
    RoundRatio {
        value: median(&r),
        lo: min(&r),
        hi: max(&r),
    }
}

/// A row that shows how much a figure moved from round to round, hwcal's next to the
/// reference's: when both move alike, it is the machine that moved. Informational, not judged.
fn round_spread(target: &str, ours: &[f64], theirs: &[f64], reference: &str) -> Row {
    let range = |xs: &[f64]| format!("{:.1}–{:.1}", min(xs), max(xs));
    Row {
        target: target.into(),
        hwcal: format!("{} ({:.1}%)", range(ours), relative_spread(ours) * 100.0),
        reference: format!(
            "{} ({:.1}%) ({reference})",
            range(theirs),
            relative_spread(theirs) * 100.0
        ),
        ratio: "-".into(),
        goal: "-".into(),
        met: None,
    }
}

/// `(max - min) / median` of `xs`.
fn relative_spread(xs: &[f64]) -> f64 {
    (max(xs) - min(xs)) / median(xs)
}

/// Worst spread per pattern of the speedup over every shape (goal 3%), and the spread of every
/// matmul's GFLOPS and every STREAM bandwidth (goal 5%), across `runs` of one calibration.
fn repeatability(runs: &[&crate::profile::HardwareCalibration]) -> Vec<Spread> {
    let values = |xs: &[f64]| {
        xs.iter()
            .map(|x| format!("{x:.3}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut out = Vec::new();
    for (name, list) in runs[0].fusion_measurements.iter() {
        let mut worst: Option<(f64, String)> = None;
        for f in list {
            let xs: Vec<f64> = runs
                .iter()
                .filter_map(|p| {
                    p.fusion_measurements
                        .get(name)?
                        .iter()
                        .find(|g| g.input_shape == f.input_shape)
                        .map(|g| g.speedup_factor)
                })
                .collect();
            if xs.len() != runs.len() {
                continue;
            }
            let s = relative_spread(&xs);
            if worst.as_ref().is_none_or(|w| s > w.0) {
                worst = Some((s, format!("{:?}: {}", f.input_shape, values(&xs))));
            }
        }
        if let Some((spread, detail)) = worst {
            out.push(Spread {
                what: format!("{name} speedup, worst shape"),
                spread,
                detail,
                goal: 0.03,
            });
        }
    }
    for (key, op) in runs[0].operation_profiles.iter() {
        let figure = |o: &crate::profile::OperationCalibration| {
            if o.memory_bound {
                o.achieved_bandwidth_gbps
            } else {
                o.measured_gflops
            }
        };
        let xs: Vec<f64> = runs
            .iter()
            .filter_map(|p| p.operation_profiles.get(key).map(figure))
            .collect();
        if xs.len() == runs.len() {
            out.push(Spread {
                what: format!("{key} {}", if op.memory_bound { "GB/s" } else { "GFLOPS" }),
                spread: relative_spread(&xs),
                detail: values(&xs),
                goal: 0.05,
            });
        }
    }
    out
}

/// What `hwcal bench` measures and against what.
#[derive(Clone, Debug)]
pub struct BenchSettings {
    /// Matmul size compared with numpy.
    pub n: usize,
    /// STREAM array size in MiB (each of three arrays).
    pub stream_mb: usize,
    /// Timed trials per round.
    pub trials: usize,
    /// Rounds alternating hwcal and the reference.
    pub rounds: usize,
    /// Back-to-back quick calibrations of everything, for the repeatability targets.
    pub repeats: usize,
    /// Python interpreter with numpy.
    pub python: String,
    /// C compiler with OpenMP for the STREAM reference.
    pub cc: String,
    /// Rayon's worker pool (the CPU backend's workers).
    pub threads: Threads,
    /// Compare matmul with numpy.
    pub numpy: bool,
    /// Compare bandwidth with the C STREAM.
    pub stream: bool,
    /// Time the quick calibration of everything (and check fused against unfused).
    pub calibration: bool,
    /// Measure the precision ratios: bf16 and int8 matmul against f32, f64 against numpy's
    /// float64, the f32 FMA peak against the matmul and the theoretical peak at the clock.
    pub precisions: bool,
}

impl Default for BenchSettings {
    /// N=2048, 256 MiB arrays, 10 trials, 5 rounds, 3 repeats, `python3` and `cc`, all
    /// logical CPUs pinned, every comparison.
    fn default() -> Self {
        BenchSettings {
            n: 2048,
            stream_mb: 256,
            trials: 10,
            rounds: 5,
            repeats: 3,
            python: "python3".into(),
            cc: "cc".into(),
            threads: Threads::default(),
            numpy: true,
            stream: true,
            calibration: true,
            precisions: true,
        }
    }
}

/// Runs the benchmark on the CPU backend ([`crate::backend::open`]) and prints its report.
/// Returns exit code 0 (missed targets are reported, not errors).
pub fn run(args: &BenchSettings) -> Result<u8> {
    validate(args)?;
    let backend = crate::backend::open_one(&BackendSelection::cpu(args.threads))?;
    let threads = rayon::current_num_threads();
    let mut policy = Config::default_sampling(Preset::Quick);
    policy.min_samples = args.trials.max(6);
    policy.max_samples = policy.max_samples.max(policy.min_samples);
    let mut rows = Vec::new();
    println!(
        "hwcal bench: {threads} threads, {} rounds × {} trials",
        args.rounds, policy.min_samples
    );

    if !args.numpy {
        rows.push(Row::skipped("matmul", "--no-numpy".into()));
    } else {
        let n = args.n;
        let flops = 2.0 * (n as f64).powi(3);
        let (mut ours, mut theirs, mut info) = (Vec::new(), Vec::new(), String::new());
        // Each round's median, to show how much the machine itself moves between rounds.
        let (mut ours_rounds, mut theirs_rounds) = (Vec::new(), Vec::new());
        let mut skipped = None;
        for round in 0..args.rounds.max(1) {
            eprintln!("  matmul round {}/{}", round + 1, args.rounds);
            match baseline::numpy_matmul(&args.python, n, 2, policy.min_samples, threads) {
                Ok(np) => {
                    let g = np.gflops(n);
                    theirs_rounds.push(median(&g));
                    theirs.extend(g);
                    info = np.blas_info;
                }
                Err(e) => {
                    skipped = Some(e.to_string());
                    break;
                }
            }
            let m = measure_matmul(backend.as_ref(), n, &policy, 0x6265_6e63 + round as u64)?;
            let g: Vec<f64> = m
                .latencies(Variant::Single)
                .iter()
                .map(|ms| flops / (ms * 1e-3) / 1e9)
                .collect();
            ours_rounds.push(median(&g));
            ours.extend(g);
        }
        match skipped {
            Some(why) => rows.push(Row::skipped("matmul", why)),
            None => {
                let (o, t) = (median(&ours), median(&theirs));
                let r = round_ratios(&ours_rounds, &theirs_rounds);
                println!("  numpy BLAS: {info}");
                rows.push(Row {
                    target: format!(
                        "matmul f32 N={n}, median GFLOPS (ratio: median of {} rounds' ratios)",
                        ours_rounds.len()
                    ),
                    hwcal: format!("{o:.1}"),
                    reference: format!("{t:.1} (numpy)"),
                    ratio: r.text(),
                    goal: "≥ 0.95".into(),
                    met: Some(r.value >= 0.95),
                });
                rows.push(round_spread(
                    &format!("matmul N={n}: median GFLOPS, round to round"),
                    &ours_rounds,
                    &theirs_rounds,
                    "numpy",
                ));
            }
        }
    }

    if !args.stream {
        rows.push(Row::skipped("bandwidth", "--no-stream".into()));
    } else {
        let bytes = args.stream_mb << 20;
        let elements = bytes / 4;
        let (mut c_copy, mut c_triad, mut o_copy, mut o_triad) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        // Each round's best, per kernel: [copy, triad].
        let (mut c_rounds, mut o_rounds) = ([vec![], vec![]], [vec![], vec![]]);
        let mut skipped = None;
        let mut compiler = String::new();
        for round in 0..args.rounds.max(1) {
            eprintln!("  bandwidth round {}/{}", round + 1, args.rounds);
            match baseline::stream_c(&args.cc, bytes, policy.min_samples, threads) {
                Ok(s) => {
                    c_rounds[0].push(max(&s.copy_gbps));
                    c_rounds[1].push(max(&s.triad_gbps));
                    c_copy.extend(s.copy_gbps);
                    c_triad.extend(s.triad_gbps);
                    compiler = s.compiler;
                }
                Err(e) => {
                    skipped = Some(e.to_string());
                    break;
                }
            }
            for (k, (work, arrays, out)) in [
                (Workload::Copy { elements }, 2.0, &mut o_copy),
                (Workload::Triad { elements }, 3.0, &mut o_triad),
            ]
            .into_iter()
            .enumerate()
            {
                let m = measure_stream(backend.as_ref(), &work, &policy)?;
                let g: Vec<f64> = m
                    .latencies(Variant::Single)
                    .iter()
                    .map(|ms| arrays * bytes as f64 / (ms * 1e-3) / 1e9)
                    .collect();
                o_rounds[k].push(max(&g));
                out.extend(g);
            }
        }
        match skipped {
            Some(why) => rows.push(Row::skipped("bandwidth", why)),
            None => {
                println!("  C reference compiler: {compiler}");
                for (k, (name, o, c)) in [("copy", &o_copy, &c_copy), ("triad", &o_triad, &c_triad)]
                    .into_iter()
                    .enumerate()
                {
                    let (o, c) = (max(o), max(c));
                    let r = round_ratios(&o_rounds[k], &c_rounds[k]);
                    rows.push(Row {
                        target: format!(
                            "{name} {} MiB arrays, best GB/s (ratio: median of {} rounds' ratios of bests)",
                            args.stream_mb,
                            o_rounds[k].len()
                        ),
                        hwcal: format!("{o:.1}"),
                        reference: format!("{c:.1} (C STREAM)"),
                        ratio: r.text(),
                        goal: "≥ 0.90".into(),
                        met: Some(r.value >= 0.90),
                    });
                }
                for (k, name) in ["copy", "triad"].iter().enumerate() {
                    rows.push(round_spread(
                        &format!("{name}: best GB/s, round to round"),
                        &o_rounds[k],
                        &c_rounds[k],
                        "C STREAM",
                    ));
                }
            }
        }
    }

    if args.precisions {
        precision_rows(backend.as_ref(), args, &policy, threads, &mut rows)?;
    } else {
        rows.push(Row::skipped("precisions", "--no-precisions".into()));
    }

    if args.calibration {
        let repeats = args.repeats.max(1);
        let mut runs = Vec::new();
        for r in 0..repeats {
            eprintln!("  quick calibration of everything {}/{repeats}", r + 1);
            let mut config = Config::new(Preset::Quick);
            config.patterns = Pattern::ALL.to_vec();
            let start = Instant::now();
            let outcome = calibrate(backend.as_ref(), &config, &mut Silent)?;
            runs.push((start.elapsed().as_secs_f64(), outcome));
        }
        let walls: Vec<f64> = runs.iter().map(|r| r.0).collect();
        rows.push(Row {
            target: format!("quick calibration, everything: wall s ({repeats} runs)"),
            hwcal: walls
                .iter()
                .map(|w| format!("{w:.1}"))
                .collect::<Vec<_>>()
                .join(" "),
            reference: "-".into(),
            ratio: "-".into(),
            goal: "≤ 60".into(),
            met: Some(max(&walls) <= 60.0 && runs.iter().all(|r| r.1.failures.is_empty())),
        });
        let profiles: Vec<&crate::profile::HardwareCalibration> =
            runs.iter().map(|r| &r.1.profile).collect();
        if repeats >= 2 {
            for spread in repeatability(&profiles) {
                rows.push(Row {
                    target: format!("repeatability: {}", spread.what),
                    hwcal: format!("{:.1}%", spread.spread * 100.0),
                    reference: spread.detail,
                    ratio: "-".into(),
                    goal: format!("≤ {:.0}%", spread.goal * 100.0),
                    met: Some(spread.spread <= spread.goal),
                });
            }
        }
        for (name, list) in profiles[0].fusion_measurements.iter() {
            for f in list {
                let (lo, hi) = f.hwcal_extras().ci95().unwrap_or((f64::NAN, f64::NAN));
                rows.push(Row {
                    target: format!("{name} {:?}: fused vs unfused", f.input_shape),
                    hwcal: format!("{:.3}×", f.speedup_factor),
                    reference: format!("95% CI [{lo:.3}, {hi:.3}]"),
                    ratio: format!("{:.3}", f.speedup_factor),
                    goal: "CI reaches ≥ 1".into(),
                    met: Some(hi >= 1.0),
                });
            }
        }
    }

    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["target", "hwcal", "reference", "ratio", "goal", "verdict"]);
    for r in &rows {
        let verdict = match (r.met, r.goal.as_str()) {
            (Some(true), _) => "met",
            (Some(false), _) => "MISSED",
            (None, "-") if r.hwcal != "-" => "info",
            (None, _) => "skipped",
        };
        table.add_row([
            &r.target,
            &r.hwcal,
            &r.reference,
            &r.ratio,
            &r.goal,
            &verdict.to_string(),
        ]);
    }
    println!("{table}");
    let judged = rows.iter().filter(|r| r.met.is_some()).count();
    let met = rows.iter().filter(|r| r.met == Some(true)).count();
    println!("{met} of {judged} targets met");
    Ok(0)
}

/// The precision ratios (see the module's documentation): every round measures numpy's
/// float64 matmul, then hwcal's f32, f64, bf16 and int8 matmuls and the f32 vector peak, and
/// each ratio is the median of the rounds' ratios. A precision this CPU has no native kernel
/// for is a skipped row with the reason.
fn precision_rows(
    backend: &dyn crate::backend::Backend,
    args: &BenchSettings,
    policy: &crate::calibrate::sampling::SamplingPolicy,
    threads: usize,
    rows: &mut Vec<Row>,
) -> Result<()> {
    let n = args.n;
    let flops = 2.0 * (n as f64).powi(3);
    let gflops = |m: &crate::calibrate::measure::Measured| {
        let g: Vec<f64> = m
            .latencies(Variant::Single)
            .iter()
            .map(|ms| flops / (ms * 1e-3) / 1e9)
            .collect();
        median(&g)
    };
    let others = [DType::F64, DType::BF16, DType::I8];
    let inputs: Vec<PrecisionInputs> = others
        .iter()
        .map(|&p| PrecisionInputs::new(p, n, 0x7072))
        .collect::<Result<_>>()?;
    let (mut f32s, mut numpy64, mut peaks, mut at_clock) = (vec![], vec![], vec![], vec![]);
    let mut ours: [Vec<f64>; 3] = Default::default();
    let mut skipped: [Option<String>; 3] = Default::default();
    let mut numpy_skipped = (!args.numpy).then(|| "--no-numpy".to_string());
    let mut peak_skipped = None;
    let mut instruction = String::new();
    for round in 0..args.rounds.max(1) {
        eprintln!("  precisions round {}/{}", round + 1, args.rounds);
        if numpy_skipped.is_none() {
            match baseline::numpy_matmul_of(
                &args.python,
                baseline::NumpyType::Float64,
                n,
                2,
                policy.min_samples,
                threads,
            ) {
                Ok(np) => numpy64.push(median(&np.gflops(n))),
                Err(e) => numpy_skipped = Some(e.to_string()),
            }
        }
        f32s.push(gflops(&measure_matmul(
            backend,
            n,
            policy,
            0x7073 + round as u64,
        )?));
        for (k, i) in inputs.iter().enumerate() {
            if skipped[k].is_some() {
                continue;
            }
            match measure_precision_matmul(backend, i, policy, 0x7074) {
                Ok(m) => ours[k].push(gflops(&m)),
                Err(Error::Unsupported(why)) => skipped[k] = Some(why),
                Err(e) => return Err(e),
            }
        }
        if peak_skipped.is_none() {
            match measure_peak(backend, DType::F32, PeakWidth::Vector, policy) {
                Ok((m, run)) => {
                    let g: Vec<f64> = m
                        .latencies(Variant::Single)
                        .iter()
                        .map(|ms| run.ops_per_run / (ms * 1e-3) / 1e9)
                        .collect();
                    peaks.push(median(&g));
                    instruction = run.instruction.clone();
                    let table = backend
                        .device()
                        .theoretical_peaks
                        .iter()
                        .find(|t| t.precision == DType::F32 && t.width == PeakWidth::Vector);
                    if let (Some(t), Some(mhz)) = (table, run.clock_mhz) {
                        at_clock.push((t.gops_at(mhz), mhz));
                    }
                }
                Err(e) => peak_skipped = Some(e.to_string()),
            }
        }
    }
    let f32_median = median(&f32s);
    for (k, (&p, goal)) in others.iter().zip([None, Some(1.5), Some(2.5)]).enumerate() {
        let target = format!(
            "{p} matmul N={n}, median {} (ratio: median of rounds' ratios)",
            p.rate_unit()
        );
        if let Some(why) = &skipped[k] {
            rows.push(Row::skipped(&target, why.clone()));
            continue;
        }
        let (reference, theirs, goal) = match goal {
            Some(g) => (format!("{f32_median:.1} (hwcal f32)"), f32s.clone(), g),
            None => match &numpy_skipped {
                Some(why) => {
                    rows.push(Row::skipped(&target, why.clone()));
                    continue;
                }
                None => (
                    format!("{:.1} (numpy float64)", median(&numpy64)),
                    numpy64.clone(),
                    0.90,
                ),
            },
        };
        let r = round_ratios(&ours[k], &theirs);
        rows.push(Row {
            target,
            hwcal: format!("{:.1}", median(&ours[k])),
            reference,
            ratio: r.text(),
            goal: format!("≥ {goal:.2}"),
            met: Some(r.value >= goal),
        });
    }
    match peak_skipped {
        Some(why) => rows.push(Row::skipped("fp32 vector peak", why)),
        None => {
            let r = round_ratios(&peaks, &f32s);
            rows.push(Row {
                target: format!("fp32 vector peak ({instruction}) vs f32 matmul N={n}, GFLOPS"),
                hwcal: format!("{:.1}", median(&peaks)),
                reference: format!("{f32_median:.1} (hwcal f32 matmul)"),
                ratio: r.text(),
                goal: "≥ 1.00".into(),
                met: Some(r.value >= 1.0),
            });
            if at_clock.len() == peaks.len() {
                let theory: Vec<f64> = at_clock.iter().map(|t| t.0).collect();
                let clocks: Vec<f64> = at_clock.iter().map(|t| t.1).collect();
                let r = round_ratios(&peaks, &theory);
                rows.push(Row {
                    target: "fp32 vector peak vs theoretical at the clock measured under load"
                        .into(),
                    hwcal: format!("{:.1}", median(&peaks)),
                    reference: format!(
                        "{:.1} (table at {:.2} GHz)",
                        median(&theory),
                        median(&clocks) / 1000.0
                    ),
                    ratio: r.text(),
                    goal: "≥ 0.90".into(),
                    met: Some(r.value >= 0.90),
                });
            } else {
                rows.push(Row::skipped(
                    "fp32 peak vs theoretical",
                    "no theoretical table or clock for this CPU".into(),
                ));
            }
        }
    }
    Ok(())
}

/// Refuses `hwcal bench` flags that could not run (or would allocate without bound) before
/// anything starts: the matmul size, STREAM arrays within a quarter of the machine's memory
/// each, and sane counts of trials, rounds and repeats.
fn validate(args: &BenchSettings) -> Result<()> {
    let total_mib = sysinfo::System::new_with_specifics(
        sysinfo::RefreshKind::nothing()
            .with_memory(sysinfo::MemoryRefreshKind::nothing().with_ram()),
    )
    .total_memory()
        >> 20;
    let stream_most = (total_mib / 4).clamp(1, 1 << 20) as usize;
    for (flag, value, least, most) in [
        ("--n", args.n, 16, 16_384),
        ("--stream-mb", args.stream_mb, 1, stream_most),
        ("--trials", args.trials, 1, 100_000),
        ("--rounds", args.rounds, 1, 100),
        ("--repeats", args.repeats, 1, 20),
    ] {
        if !(least..=most).contains(&value) {
            return Err(Error::usage(format!(
                "{flag} {value}: must be {least} to {most}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod flag_tests {
    use super::*;

    #[test]
    fn absurd_bench_sizes_are_refused_before_anything_runs() {
        let defaults = BenchSettings::default;
        assert!(validate(&defaults()).is_ok());
        for (flag, v, settings) in [
            (
                "--n",
                "1000000",
                BenchSettings {
                    n: 1_000_000,
                    ..defaults()
                },
            ),
            (
                "--stream-mb",
                "17592186044416",
                BenchSettings {
                    stream_mb: 17_592_186_044_416,
                    ..defaults()
                },
            ),
            (
                "--rounds",
                "0",
                BenchSettings {
                    rounds: 0,
                    ..defaults()
                },
            ),
            (
                "--repeats",
                "1000",
                BenchSettings {
                    repeats: 1000,
                    ..defaults()
                },
            ),
        ] {
            let e = validate(&settings).unwrap_err().to_string();
            assert!(e.starts_with(&format!("{flag} {v}: must be")), "{e}");
        }
    }
}
