//! The calibrate printout: one line per recorded measurement ([`result_line`]) and per swept
//! axis ([`crossover_line`]), from the typed results the calibration loop hands its observer.

use super::sweep::crossover_text;
use crate::calibrate::sampling::Stop;
use crate::calibrate::{FigurePrecision, Recorded, SweepCrossover};

/// The result line of one measurement, in the seed's style.
pub fn result_line(recorded: &Recorded) -> String {
    match recorded {
        Recorded::Stream {
            name,
            mb,
            best_gbps,
            median_gbps,
            samples,
            noisy,
            precision,
        } => format!(
            "{name:<5} {mb:>4} MB... {best_gbps:.1} GB/s best (median {median_gbps:.1} ±{:.1}%, \
             {samples} samples){}{}",
            precision.half_width * 100.0,
            noisy_note(*noisy),
            precision_note(precision)
        ),
        Recorded::Matmul {
            dtype,
            accumulate,
            n,
            median_gflops,
            best_gflops,
            samples,
            noisy,
            precision,
        } => {
            let what = match accumulate {
                Some(acc) => format!("{dtype} matmul {n}×{n} ({acc} accumulate)"),
                None => format!("matmul {n}×{n}"),
            };
            format!(
                "{what}... {median_gflops:.1} {} median ±{:.1}% (best {best_gflops:.1}, \
                 {samples} samples){}{}",
                dtype.rate_unit(),
                precision.half_width * 100.0,
                noisy_note(*noisy),
                precision_note(precision)
            )
        }
        Recorded::Peak {
            dtype,
            width,
            instruction,
            median_gops,
            theoretical_gops,
            clock_mhz,
            samples,
            precision,
        } => {
            let of_peak = match theoretical_gops {
                Some(t) if *t > 0.0 => {
                    format!(", {:.0}% of {t:.0} theoretical", median_gops / t * 100.0)
                }
                _ => String::new(),
            };
            let clock = clock_mhz.map_or(String::new(), |c| format!(" at {:.2} GHz", c / 1000.0));
            format!(
                "{dtype} {} peak... {median_gops:.1} {} median ±{:.1}% ({instruction}{clock}{of_peak}, \
                 {samples} samples){}",
                width.name(),
                dtype.rate_unit(),
                precision.half_width * 100.0,
                precision_note(precision)
            )
        }
        Recorded::Unsupported { what, why } => format!("{what}: unsupported ({why})"),
        Recorded::Pattern {
            pattern,
            shape,
            sweep,
            speedup,
            ci95: [lo, hi],
            pairs,
            memory_reduction,
            unfused_ms,
            fused_ms,
            precision,
        } => {
            let line = format!(
                "{} ({})... {speedup:.3}× speedup [95% CI {lo:.3}–{hi:.3}, ±{:.1}%, {pairs} \
                 pairs], {:.1}% mem reduction (unfused {}, fused {}){}",
                pattern.name(),
                shape.label(),
                precision.half_width * 100.0,
                memory_reduction * 100.0,
                time_text(*unfused_ms),
                time_text(*fused_ms),
                precision_note(precision)
            );
            match sweep {
                Some((axis, value)) => format!("{:<8} {line}", format!("{axis}={value}")),
                None => line,
            }
        }
        Recorded::NoSamples { what } => format!("{what}: no samples"),
    }
}

/// Where fusion pays along one swept axis: `Linear_Bias: fused ≥ 1.1× from M≈215 (7 sizes of
/// M)`.
pub fn crossover_line(c: &SweepCrossover) -> String {
    format!(
        "{}: fused ≥ {}× {} ({} sizes of {})",
        c.pattern,
        c.threshold,
        crossover_text(&c.axis, &c.points, c.threshold),
        c.points.len(),
        c.axis
    )
}

/// `  [noisy: CV > 5%]`, or nothing.
fn noisy_note(noisy: bool) -> &'static str {
    if noisy {
        "  [noisy: CV > 5%]"
    } else {
        ""
    }
}

/// `  [imprecise: ±3.1% > ±2% target after 2.0 s]`, the interruption's note, or nothing for a
/// precise figure.
fn precision_note(p: &FigurePrecision) -> String {
    if p.stop == Stop::Interrupted {
        format!(
            "  [cut short by the interruption: ±{:.2}% after {:.1} s]",
            p.half_width * 100.0,
            p.seconds
        )
    } else if p.imprecise() {
        format!(
            "  [imprecise: ±{:.2}% > ±{}% target after {:.1} s]",
            p.half_width * 100.0,
            p.target * 100.0,
            p.seconds
        )
    } else {
        String::new()
    }
}

/// A latency in ms as text with a unit that keeps three significant digits (`12.3 µs`,
/// `4.56 ms`).
fn time_text(ms: f64) -> String {
    if ms < 0.1 {
        format!("{:.1} µs", ms * 1e3)
    } else if ms < 100.0 {
        format!("{ms:.3} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::{Pattern, Shape};

    fn precise() -> FigurePrecision {
        FigurePrecision {
            half_width: 0.012,
            target: 0.02,
            stop: Stop::Precise,
            seconds: 0.8,
        }
    }

    #[test]
    fn lines_read_as_the_calibrate_printout() {
        let stream = Recorded::Stream {
            name: "copy",
            mb: 128,
            best_gbps: 47.31,
            median_gbps: 45.0,
            samples: 15,
            noisy: true,
            precision: precise(),
        };
        assert_eq!(
            result_line(&stream),
            "copy   128 MB... 47.3 GB/s best (median 45.0 ±1.2%, 15 samples)  [noisy: CV > 5%]"
        );
        let imprecise = FigurePrecision {
            stop: Stop::TimeCap,
            half_width: 0.031,
            seconds: 1.5,
            ..precise()
        };
        let point = Recorded::Pattern {
            pattern: Pattern::LinearBias,
            shape: Shape::Linear { m: 8, k: 32, n: 24 },
            sweep: Some(("M", 8)),
            speedup: 1.25,
            ci95: [1.2, 1.3],
            pairs: 10,
            memory_reduction: 0.333,
            unfused_ms: 0.05,
            fused_ms: 0.04,
            precision: imprecise,
        };
        assert_eq!(
            result_line(&point),
            "M=8      Linear_Bias (8×32×24)... 1.250× speedup [95% CI 1.200–1.300, ±3.1%, 10 \
             pairs], 33.3% mem reduction (unfused 50.0 µs, fused 40.0 µs)  [imprecise: ±3.10% \
             > ±2% target after 1.5 s]"
        );
        let c = SweepCrossover {
            pattern: "FullAttention".into(),
            axis: "S".into(),
            points: vec![(64.0, 0.8), (128.0, 0.9), (256.0, 1.05), (512.0, 1.3)],
            threshold: 1.0,
        };
        assert_eq!(
            crossover_line(&c),
            "FullAttention: fused ≥ 1× from S≈203 (4 sizes of S)"
        );
    }
}
