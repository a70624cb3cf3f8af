//! The HTML report's charts, drawn with plotters' SVG backend into strings.
//!
//! plotters is built without its `ttf` feature: text sizes are estimated (its "naive" font
//! layout) and text is emitted as SVG `<text>` elements that the browser renders with its own
//! fonts, so drawing never needs a system font and never fails for want of one. plotters
//! escapes text and attribute values itself.
//!
//! - [`speedup_chart`]: fusion speedup per pattern per profile (grouped bars);
//! - [`roofline_chart`]: one roofline per profile, log-log;
//! - [`sweep_chart`]: speedup against size along a sweep axis;
//! - [`precision_chart`]: measured against theoretical peak per precision per profile.
//!
//! # Bounded by construction
//! The loader refuses absurd numbers ([`crate::profile::limits`]), but the charts do not rely
//! on it: a value that is not finite or lies outside what an axis can show ([`LOG_MIN`] ..=
//! [`AXIS_MAX`] on log axes, [`crate::profile::limits::SPEEDUP`] for speedups) is left out of
//! the chart and listed in [`Chart::left_out`] (the page prints it under the chart). Every axis
//! range is finite, positive on log axes, non-degenerate and spans at most [`MAX_DECADES`]
//! decades, so plotters' key points (which it generates per decade) stay few whatever the
//! input.

mod precision;
mod roofline;
mod speedup;
mod sweep;

pub use precision::precision_chart;
pub use roofline::roofline_chart;
pub use speedup::speedup_chart;
pub use sweep::sweep_chart;

use crate::text::significant;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One rendered chart.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Stable identifier (`speedup`, `roofline-A`, `sweep-FullAttention-S`).
    pub id: String,
    /// Heading shown above it.
    pub title: String,
    /// The `<svg>` element.
    pub svg: String,
    /// How many data marks (bars, points, lines) were drawn: the browser check requires at
    /// least this many drawn SVG shapes.
    pub marks: usize,
    /// Values that were not drawn because they are invalid (not finite, out of range) or
    /// outside the axes, each described in words (`A FullAttention: speedup 1e308`).
    pub left_out: Vec<String>,
}

/// Smallest value a log axis shows.
pub const LOG_MIN: f64 = 1e-12;
/// Largest value any axis shows.
pub const AXIS_MAX: f64 = 1e15;
/// Most decades a log axis spans; wider data keeps the top [`MAX_DECADES`] decades.
pub const MAX_DECADES: i32 = 12;

/// Whether `x` can be placed on a log axis: finite and in [`LOG_MIN`] ..= [`AXIS_MAX`].
pub fn log_plottable(x: f64) -> bool {
    x.is_finite() && (LOG_MIN..=AXIS_MAX).contains(&x)
}

/// Whether `x` lies in the (inclusive) axis range `(lo, hi)`.
pub(super) fn within(x: f64, (lo, hi): (f64, f64)) -> bool {
    x >= lo && x <= hi
}

/// A value for the words of [`Chart::left_out`]: `1e308`, `NaN`, `2.5`.
pub(super) fn value_text(x: f64) -> String {
    crate::profile::limits::shown(x)
}

/// Colours for profiles and patterns (Tableau 10).
const PALETTE: [RGBColor; 10] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xed, 0xc9, 0x48),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0xff, 0x9d, 0xa7),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0xba, 0xb0, 0xac),
];

/// Colour of the `i`th profile or pattern.
pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// CSS hex of [`color`].
pub fn css_color(i: usize) -> String {
    let RGBColor(r, g, b) = color(i);
    format!("#{r:02x}{g:02x}{b:02x}")
}

pub(super) const GREY: RGBColor = RGBColor(0x88, 0x88, 0x88);
pub(super) const PAYS_GREEN: RGBColor = RGBColor(0x2e, 0x7d, 0x32);
pub(super) const FONT: &str = "sans-serif";

pub(super) type Result<T> = std::result::Result<T, String>;

pub(super) fn err<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> String + '_ {
    move |e| format!("drawing the {what} chart: {e}")
}

pub(super) fn text_style(size: f64, color: &RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle {
        font: (FONT, size).into_font(),
        color: color.to_backend_color(),
        pos: Pos::new(h, v),
    }
}

/// `0.01`, `1`, `250`, `4k`, `1.5M`: short labels for log axes (exponent form beyond `1e12`
/// and below `1e-6`).
pub(super) fn compact(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() || a >= 1e12 || (a > 0.0 && a < 1e-6) {
        format!("{v:.0e}")
    } else if a >= 1e6 {
        format!("{}M", significant(v / 1e6, 3))
    } else if a >= 1e4 {
        format!("{}k", significant(v / 1e3, 3))
    } else if a >= 1.0 {
        format!("{}", (v * 100.0).round() / 100.0)
    } else {
        let s = significant(v, 2);
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

/// Legend rows at the top of a chart: a colour swatch and a label per entry.
pub(super) fn legend(
    root: &DrawingArea<SVGBackend, Shift>,
    x: i32,
    y: i32,
    entries: &[(RGBColor, String)],
) -> Result<()> {
    for (i, (c, label)) in entries.iter().enumerate() {
        let y = y + 18 * i as i32;
        root.draw(&Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled()))
            .map_err(err("legend"))?;
        root.draw(&Text::new(
            label.clone(),
            (x + 20, y),
            text_style(15.0, &BLACK, HPos::Left, VPos::Center),
        ))
        .map_err(err("legend"))?;
    }
    Ok(())
}

/// Powers of ten around `[lo, hi]`, at least `decades` and at most [`MAX_DECADES`] apart (the
/// top decades of a wider range). Positive ends are first clamped to [`LOG_MIN`] ..=
/// [`AXIS_MAX`]; an end that is not a positive finite number is replaced by the other (by 1
/// when neither is), so the result is always finite, positive and `lo < hi`.
pub(super) fn decade_range(lo: f64, hi: f64, decades: i32) -> (f64, f64) {
    let usable = |x: f64| x.is_finite() && x > 0.0;
    let clamp = |x: f64| x.clamp(LOG_MIN, AXIS_MAX);
    let (lo, hi) = match (usable(lo), usable(hi)) {
        (true, true) => (clamp(lo.min(hi)), clamp(lo.max(hi))),
        (true, false) => (clamp(lo), clamp(lo)),
        (false, true) => (clamp(hi), clamp(hi)),
        (false, false) => (1.0, 1.0),
    };
    let decades = decades.clamp(1, MAX_DECADES);
    let mut a = lo.log10().floor() as i32;
    let mut b = hi.log10().ceil() as i32;
    while b - a < decades {
        a -= 1;
        b += 1;
    }
    if b - a > MAX_DECADES {
        a = b - MAX_DECADES;
    }
    (10f64.powi(a), 10f64.powi(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_labels() {
        assert_eq!(compact(0.01), "0.01");
        assert_eq!(compact(1.0), "1");
        assert_eq!(compact(250.0), "250");
        assert_eq!(compact(4096.0), "4096");
        assert_eq!(compact(16384.0), "16.4k");
        assert_eq!(decade_range(0.3, 40.0, 2), (0.1, 100.0));
        assert_eq!(decade_range(2.0, 3.0, 2), (0.1, 100.0));
        assert_eq!(compact(1e308), "1e308");
        assert_eq!(compact(5e-324), "5e-324");
    }

    #[test]
    fn decade_ranges_are_bounded_whatever_the_input() {
        let odd = [
            0.0,
            -1.0,
            5e-324,
            1e-310,
            1e-12,
            1.0,
            1e15,
            1e308,
            f64::MAX,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for &lo in &odd {
            for &hi in &odd {
                for decades in [-5, 0, 2, 3, 40] {
                    let (a, b) = decade_range(lo, hi, decades);
                    assert!(
                        a.is_finite() && b.is_finite() && a > 0.0 && a < b,
                        "{lo} {hi}"
                    );
                    let span = (b / a).log10();
                    assert!(span <= MAX_DECADES as f64 + 1e-9, "{lo} {hi}: {span}");
                    assert!(a.is_normal() && b.is_normal());
                }
            }
        }
        // Wide data keeps the top decades.
        let (a, b) = decade_range(1e-12, 1e15, 2);
        assert_eq!((a, b), (1e3, 1e15));
    }

    use crate::report::analyse::{
        Benefit, Comparison, KernelForm, KernelPoint, PatternCell, PatternRow, ProfileSummary,
        SweepChart, SweepSeries,
    };
    use std::sync::mpsc;
    use std::time::Duration;

    /// Values no chart may choke on.
    const ABSURD: [f64; 11] = [
        5e-324,
        1e-310,
        1e308,
        f64::MAX,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.0,
        -1.0,
        1e-13,
        1e16,
    ];

    /// Runs `f` on a thread and fails if it does not finish within 20 s (a hang in plotters'
    /// key points would otherwise hang the test run).
    fn within_time<T: Send + 'static>(what: String, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("{what}: no result within 20 s"))
    }

    fn kernel(variant: KernelForm, intensity: f64, gflops: f64) -> KernelPoint {
        KernelPoint {
            pattern: "FullAttention".into(),
            variant,
            input_shape: vec![1, 64, 64],
            intensity,
            gflops,
        }
    }

    fn cell(speedup: f64) -> PatternCell {
        PatternCell {
            source_pattern: "FullAttention".into(),
            input_shape: vec![1, 64, 64],
            unfused_latency_ms: speedup,
            fused_latency_ms: 1.0,
            speedup,
            speedup_ci95: Some([speedup, speedup]),
            noisy: false,
            verdict: String::new(),
            decision: Benefit::of(speedup),
            fused_vs_baseline: Some(speedup),
        }
    }

    /// A comparison of two profiles whose every figure is `v` (the second also has ordinary
    /// figures), with `kernels` kernel pairs and `points` sweep points per series.
    fn comparison(v: f64, kernels: usize, points: usize) -> Comparison {
        let profile = |key: &str, x: f64| ProfileSummary {
            key: key.into(),
            label: format!("dev {key}"),
            file: format!("{key}.json"),
            hardware_name: format!("dev {key}"),
            backend: None,
            device: None,
            calibration_date: String::new(),
            measured_bandwidth_gbps: Some(x),
            theoretical_bandwidth_gbps: Some(x),
            bandwidth_percent: Some(100.0),
            measured_gflops: Some(x),
            theoretical_gflops: Some(x),
            gflops_percent: Some(100.0),
            kernels: (0..kernels)
                .flat_map(|i| {
                    let y = if i == 0 { v } else { x * i as f64 };
                    [
                        kernel(KernelForm::Unfused, y, y),
                        kernel(KernelForm::Fused, x, y),
                    ]
                })
                .collect(),
            precisions: vec![crate::report::analyse::PrecisionFigures {
                precision: "fp32".into(),
                supported: Some(true),
                matmul_gops: Some(x),
                speedup_vs_fp32: Some(1.0),
                peak_gops: Some(v),
                peak_width: Some("vector".into()),
                theoretical_gops: Some(x),
            }],
        };
        let series = |profile: usize| SweepSeries {
            profile,
            points: (0..points)
                .map(|i| match i {
                    0 => (v, 1.2),
                    1 => (64.0, v),
                    _ => (64.0 * (1u64 << i) as f64, 0.9 + 0.1 * i as f64),
                })
                .collect(),
            breakeven: Some(v),
            pays_from: Some(v),
        };
        Comparison {
            profiles: vec![profile("A", v), profile("B", 40.0)],
            patterns: vec![PatternRow {
                pattern: "FullAttention".into(),
                cells: vec![Some(cell(v)), Some(cell(1.3))],
                verdict_flips: false,
                same_shape: true,
                baseline: Some(0),
            }],
            sweeps: vec![SweepChart {
                pattern: "FullAttention".into(),
                axis: "S".into(),
                series: vec![series(0), series(1)],
            }],
        }
    }

    /// Every chart and the whole page, in bounded time and size.
    fn draw_all(what: String, cmp: Comparison) {
        let page = within_time(what.clone(), move || {
            let mut svgs = Vec::new();
            svgs.extend(speedup_chart(&cmp).unwrap().map(|c| c.svg));
            svgs.extend(precision_chart(&cmp).unwrap().map(|c| c.svg));
            for i in 0..cmp.profiles.len() {
                svgs.extend(roofline_chart(&cmp, i).unwrap().map(|c| c.svg));
            }
            for s in &cmp.sweeps {
                svgs.push(sweep_chart(&cmp, s).unwrap().svg);
            }
            for svg in &svgs {
                assert!(svg.len() < 1 << 20, "a chart of {} bytes", svg.len());
            }
            crate::report::html::html(&cmp).unwrap()
        });
        assert!(
            page.len() < 4 << 20,
            "{what}: a page of {} bytes",
            page.len()
        );
        for needle in ["NaN", "inf"] {
            assert!(
                !page.contains(&format!("=\"{needle}")),
                "{what}: {needle} in an SVG attribute"
            );
        }
    }

    #[test]
    fn absurd_values_never_hang_or_blow_up_a_chart() {
        for v in ABSURD {
            draw_all(format!("every figure {v}"), comparison(v, 3, 5));
            draw_all(format!("one point of {v}"), comparison(v, 1, 1));
        }
    }

    #[test]
    fn degenerate_data_draws_bounded_charts() {
        // All equal, a single point, nothing at all.
        draw_all("all equal".into(), comparison(2.0, 1, 2));
        draw_all("single point".into(), comparison(1.0, 1, 1));
        draw_all("no kernels, no points".into(), comparison(1.0, 0, 0));
        let mut empty = comparison(1.0, 0, 0);
        empty.patterns.clear();
        empty.sweeps.clear();
        for p in &mut empty.profiles {
            p.measured_bandwidth_gbps = None;
            p.measured_gflops = None;
            p.theoretical_bandwidth_gbps = None;
            p.theoretical_gflops = None;
        }
        draw_all("empty".into(), empty.clone());
        assert!(speedup_chart(&empty).unwrap().is_none());
        assert!(roofline_chart(&empty, 0).unwrap().is_none());
    }

    #[test]
    fn invalid_values_are_left_out_and_listed() {
        let cmp = comparison(1e308, 2, 4);
        let speedup = speedup_chart(&cmp).unwrap().unwrap();
        assert!(speedup.svg.contains("A: invalid"), "the bar says so");
        assert_eq!(
            speedup.left_out,
            ["A FullAttention: speedup 1e308 (invalid)"]
        );
        let roof = roofline_chart(&cmp, 0).unwrap().unwrap();
        assert!(
            roof.left_out
                .iter()
                .any(|s| s == "A measured GFLOPS 1e308 (invalid)"),
            "{:?}",
            roof.left_out
        );
        let sweep = sweep_chart(&cmp, &cmp.sweeps[0]).unwrap();
        assert!(
            sweep.left_out.iter().any(|s| s.contains("S=1e308")),
            "{:?}",
            sweep.left_out
        );
        let page = crate::report::html::html(&cmp).unwrap();
        assert!(page.contains("Not plotted"), "a note under the chart");
        assert!(page.contains(">invalid</td>"), "and in the table");
        // Kernels spanning more decades than an axis shows: the lowest are cut off.
        let mut wide = comparison(1.0, 1, 0);
        wide.profiles[0].kernels = vec![
            kernel(KernelForm::Fused, 1e-9, 1e-9),
            kernel(KernelForm::Fused, 1e9, 1e9),
        ];
        let roof = roofline_chart(&wide, 0).unwrap().unwrap();
        assert!(
            roof.left_out.iter().any(|s| s.contains("outside the axes")),
            "{:?}",
            roof.left_out
        );
    }
}
