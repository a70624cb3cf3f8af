//! `hwcal bench`: hwcal's speed targets, each as a ratio against a reference measured in the
//! same run (the machine is shared and noisy: absolute times drift, ratios hold better).
//!
//! - matmul f32 at N=2048: hwcal's GEMM vs numpy (OpenBLAS), medians; goal ≥ 0.95.
//! - memory bandwidth: hwcal's copy and triad vs a C STREAM (`cc -O3 -fopenmp`), best trials as
//!   STREAM reports them; goal ≥ 0.90.
//! - a quick calibration of everything: wall time, goal < 60 s; and for each fused pattern,
//!   fused no slower than unfused beyond the noise (the bootstrap 95% interval of the speedup
//!   reaches 1.0 or above).
//!
//! Rounds alternate hwcal and the reference so drift hits both.

use crate::backend::cpu::CpuBackend;
use crate::backend::{Variant, Workload};
use crate::calibrate::measure::{measure_matmul, measure_stream, TrialPolicy};
use crate::calibrate::{calibrate, Config, Silent};
use crate::cli::BenchArgs;
use crate::pattern::{Pattern, Preset};
use crate::reference;
use crate::stats::median;
use crate::Result;
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

/// Runs the benchmark and prints its report. Returns exit code 0 (missed targets are reported,
/// not errors).
pub fn run(args: &BenchArgs) -> Result<u8> {
    let backend = CpuBackend::new();
    let threads = rayon::current_num_threads();
    let policy = TrialPolicy {
        warmup: 2,
        trials: args.trials.max(2),
    };
    let mut rows = Vec::new();
    println!(
        "hwcal bench: {threads} threads, {} rounds × {} trials",
        args.rounds, policy.trials
    );

    if args.no_numpy {
        rows.push(Row::skipped("matmul", "--no-numpy".into()));
    } else {
        let n = args.n;
        let flops = 2.0 * (n as f64).powi(3);
        let (mut ours, mut theirs, mut info) = (Vec::new(), Vec::new(), String::new());
        let mut skipped = None;
        for round in 0..args.rounds.max(1) {
            eprintln!("  matmul round {}/{}", round + 1, args.rounds);
            match reference::numpy_matmul(&args.python, n, 2, policy.trials, threads) {
                Ok(np) => {
                    theirs.extend(np.gflops(n));
                    info = np.blas_info;
                }
                Err(e) => {
                    skipped = Some(e.to_string());
                    break;
                }
            }
            let m = measure_matmul(&backend, n, &policy, 0x6265_6e63 + round as u64)?;
            ours.extend(
                m.latencies(Variant::Single)
                    .iter()
                    .map(|ms| flops / (ms * 1e-3) / 1e9),
            );
        }
        match skipped {
            Some(why) => rows.push(Row::skipped("matmul", why)),
            None => {
                let (o, t) = (median(&ours), median(&theirs));
                println!("  numpy BLAS: {info}");
                rows.push(Row {
                    target: format!("matmul f32 N={n}, median GFLOPS"),
                    hwcal: format!("{o:.1}"),
                    reference: format!("{t:.1} (numpy)"),
                    ratio: format!("{:.3}", o / t),
                    goal: "≥ 0.95".into(),
                    met: Some(o / t >= 0.95),
                });
            }
        }
    }

    if args.no_stream {
        rows.push(Row::skipped("bandwidth", "--no-stream".into()));
    } else {
        let bytes = args.stream_mb << 20;
        let elements = bytes / 4;
        let (mut c_copy, mut c_triad, mut o_copy, mut o_triad) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut skipped = None;
        let mut compiler = String::new();
        for round in 0..args.rounds.max(1) {
            eprintln!("  bandwidth round {}/{}", round + 1, args.rounds);
            match reference::stream_c(&args.cc, bytes, policy.trials, threads) {
                Ok(s) => {
                    c_copy.extend(s.copy_gbps);
                    c_triad.extend(s.triad_gbps);
                    compiler = s.compiler;
                }
                Err(e) => {
                    skipped = Some(e.to_string());
                    break;
                }
            }
            for (work, arrays, out) in [
                (Workload::Copy { elements }, 2.0, &mut o_copy),
                (Workload::Triad { elements }, 3.0, &mut o_triad),
            ] {
                let m = measure_stream(&backend, &work, &policy)?;
                out.extend(
                    m.latencies(Variant::Single)
                        .iter()
                        .map(|ms| arrays * bytes as f64 / (ms * 1e-3) / 1e9),
                );
            }
        }
        match skipped {
            Some(why) => rows.push(Row::skipped("bandwidth", why)),
            None => {
                println!("  C reference compiler: {compiler}");
                for (name, o, c) in [("copy", &o_copy, &c_copy), ("triad", &o_triad, &c_triad)] {
                    let (o, c) = (max(o), max(c));
                    rows.push(Row {
                        target: format!("{name} {} MiB arrays, best GB/s", args.stream_mb),
                        hwcal: format!("{o:.1}"),
                        reference: format!("{c:.1} (C STREAM)"),
                        ratio: format!("{:.3}", o / c),
                        goal: "≥ 0.90".into(),
                        met: Some(o / c >= 0.90),
                    });
                }
            }
        }
    }

    if !args.no_calibration {
        eprintln!("  quick calibration of everything");
        let mut config = Config::new(Preset::Quick);
        config.patterns = Pattern::ALL.to_vec();
        let start = Instant::now();
        let outcome = calibrate(&backend, &config, &mut Silent)?;
        let wall = start.elapsed().as_secs_f64();
        rows.push(Row {
            target: "quick calibration, everything: wall s".into(),
            hwcal: format!("{wall:.1}"),
            reference: "-".into(),
            ratio: "-".into(),
            goal: "< 60".into(),
            met: Some(wall < 60.0 && outcome.failures.is_empty()),
        });
        for (name, list) in outcome.profile.fusion_measurements.iter() {
            for f in list {
                let ci: Vec<f64> = f
                    .extra_params
                    .get("speedup_ci95")
                    .and_then(|v| serde_json::from_value(v.clone()).ok())
                    .unwrap_or_default();
                let (lo, hi) = (
                    ci.first().copied().unwrap_or(f64::NAN),
                    ci.get(1).copied().unwrap_or(f64::NAN),
                );
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
        let verdict = match r.met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "skipped",
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
