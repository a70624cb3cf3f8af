//! Predicting unfused and fused latency of a pattern at any shape from a profile's points.
//!
//! Three sources, best first:
//! 1. **Measured**: the profile has a point at exactly this shape.
//! 2. **Interpolated**: the pattern's points (every shape in `fusion_measurements`,
//!    `fusion_sweeps` and `fusion_profiles`) form a curve over log FLOPs, one per variant, of
//!    the log of each latency *relative to the roofline time of its shape* (below); the query
//!    is placed piecewise-linearly between the two points around its FLOPs (points with equal
//!    FLOPs are averaged in log space) and its own roofline time is scaled by the result. The
//!    roofline carries what FLOPs alone miss: a 1×1 convolution moves far more bytes per FLOP
//!    than a 3×3 one, so its batch-norm and ReLU passes weigh more; the measured points carry
//!    how far from the roofline the device's kernels run at each size. Without GFLOPS and
//!    bandwidth in the profile, latency per FLOP is interpolated instead (log latency
//!    piecewise-linear in log FLOPs). Outside the measured range, and with one point, the
//!    nearest point's ratio is kept: extrapolating a slope would invent speedups nobody
//!    measured. The prediction says so in its note.
//! 3. **Roofline**: no point for the pattern, but the profile has a measured bandwidth and
//!    GFLOPS. Each kernel is assumed to run at its own roofline, one after the other: the fused
//!    kernel takes `max(FLOPs / GFLOPS, fused bytes / bandwidth)`; the unfused chain is the same
//!    main kernel plus memory-bound passes moving the bytes fusion saves,
//!    `(unfused bytes − fused bytes) / bandwidth`. Per-kernel launch overhead is left out: no
//!    profile measures it, so the estimate is a lower bound on the unfused time.
//!
//! Otherwise the answer is **NoData**, never a default speedup.
//!
//! Shapes beyond [`super::limits`] (a query, or a profile's point) are never multiplied out:
//! the query is no data, the point is ignored, so no FLOP or byte count can wrap around.

use crate::pattern::{Family, Pattern, Shape};
use crate::profile::extras::{FusionExtras, VariantStats};
use crate::profile::{FusionCalibration, HardwareCalibration};
use serde::Serialize;
use std::collections::BTreeMap;

/// Where a prediction comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// The profile measured exactly this shape.
    Measured,
    /// Log-log interpolation over the pattern's measured points.
    Interpolated {
        /// Distinct measured sizes (by FLOPs) the curve has.
        points: usize,
        /// The query lies outside the measured FLOPs range (or there is a single point): the
        /// nearest point's throughput was kept, so its speedup.
        extrapolated: bool,
    },
    /// Roofline estimate from the profile's measured bandwidth and GFLOPS.
    Roofline,
    /// Nothing to predict from.
    NoData,
}

impl Source {
    /// Short description for reasons: `measured at this shape`, `interpolated from 3 points`.
    pub fn describe(&self) -> String {
        match *self {
            Source::Measured => "measured at this shape".into(),
            Source::Interpolated {
                points: 1,
                extrapolated: _,
            } => "scaled from 1 measured point".into(),
            Source::Interpolated {
                points,
                extrapolated: false,
            } => format!("interpolated from {points} points"),
            Source::Interpolated {
                points,
                extrapolated: true,
            } => format!("clamped extrapolation from {points} points"),
            Source::Roofline => "roofline estimate".into(),
            Source::NoData => "no data".into(),
        }
    }
}

/// Predicted latency of a pattern at one shape, unfused and fused.
///
/// For [`Source::NoData`] the three numbers are NaN (written as `null` in JSON), so any
/// comparison with a threshold is false: no data never reads as a speedup.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Prediction {
    /// Predicted latency of the unfused chain, ms.
    pub unfused_ms: f64,
    /// Predicted latency of the fused kernel, ms.
    pub fused_ms: f64,
    /// `unfused_ms / fused_ms`.
    pub speedup: f64,
    /// Where the numbers come from.
    pub source: Source,
    /// Caveats: extrapolation, which points were used, why there is no data.
    pub note: Option<String>,
}

impl Prediction {
    /// A prediction without data, saying why.
    pub fn no_data(why: impl Into<String>) -> Self {
        Prediction {
            unfused_ms: f64::NAN,
            fused_ms: f64::NAN,
            speedup: f64::NAN,
            source: Source::NoData,
            note: Some(why.into()),
        }
    }

    /// The speedup, or `None` without data.
    pub fn known_speedup(&self) -> Option<f64> {
        (self.source != Source::NoData && self.speedup.is_finite()).then_some(self.speedup)
    }

    fn new(unfused_ms: f64, fused_ms: f64, source: Source, note: Option<String>) -> Self {
        Prediction {
            unfused_ms,
            fused_ms,
            speedup: unfused_ms / fused_ms,
            source,
            note,
        }
    }
}

/// One measured shape of a pattern, as read from a profile.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// The shape measured.
    pub shape: Shape,
    /// Median unfused latency, ms.
    pub unfused_ms: f64,
    /// Median fused latency, ms.
    pub fused_ms: f64,
    /// hwcal's bootstrap 95% interval of the speedup, when recorded.
    pub speedup_ci95: Option<(f64, f64)>,
    /// hwcal's coefficients of variation and sample sizes `(cv, n)`, unfused then fused.
    pub cvs: Option<((f64, usize), (f64, usize))>,
}

impl Point {
    /// The measured speedup.
    pub fn speedup(&self) -> f64 {
        self.unfused_ms / self.fused_ms
    }
}

/// The shape a fusion profile entry measured: `input_shape` plus conv `extra_params`
/// (`out_channels`, `kernel_size`, `stride`, `padding`). The Python calibrator records none of
/// these for conv: its conv patterns are 3×3, stride 1, padding 1, with as many output as input
/// channels, which its byte counts confirm. Norm entries are `[rows, hidden]`; depthwise ones
/// `[B, C, H, W]` with the same conv parameters (3×3, stride 1, padding 1 by default; their
/// `out_channels`, when written, is `C`).
pub fn shape_of(pattern: Pattern, f: &FusionCalibration) -> Option<Shape> {
    shape_with(pattern, f, &f.hwcal_extras())
}

/// [`shape_of`] with the entry's extras already parsed.
fn shape_with(pattern: Pattern, f: &FusionCalibration, extras: &FusionExtras) -> Option<Shape> {
    let dims = &f.input_shape;
    // A value beyond usize (or the limits) makes the shape unusable below.
    let param = |given: Option<u64>, default: usize| -> usize {
        given.map_or(default, |v| usize::try_from(v).unwrap_or(usize::MAX))
    };
    let shape = match (pattern.family(), dims.as_slice()) {
        (Family::Linear, &[m, k, n]) => Shape::Linear { m, k, n },
        (Family::Conv, &[batch, cin, h, w]) if h == w => Shape::Conv {
            batch,
            cin,
            cout: param(extras.out_channels, cin),
            hw: h,
            kernel: param(extras.kernel_size, 3),
            stride: param(extras.stride, 1),
            padding: param(extras.padding, 1),
        },
        (Family::Attention, &[batch, seq, dim]) => Shape::Attention { batch, seq, dim },
        (Family::Norm, &[rows, hidden]) => Shape::Norm { rows, hidden },
        // As many output channels as input (the groups): a depthwise convolution.
        (Family::Depthwise, &[batch, channels, h, w])
            if h == w && extras.out_channels.is_none_or(|c| c == channels as u64) =>
        {
            Shape::Depthwise {
                batch,
                channels,
                hw: h,
                kernel: param(extras.kernel_size, 3),
                stride: param(extras.stride, 1),
                padding: param(extras.padding, 1),
            }
        }
        _ => return None,
    };
    super::limits::check_shape(&shape).ok()?;
    shape.validate().ok().map(|()| shape)
}

/// Reads one profile entry as a point; `None` when its shape or latencies are unusable.
pub fn point_of(pattern: Pattern, f: &FusionCalibration) -> Option<Point> {
    let extras = f.hwcal_extras();
    let shape = shape_with(pattern, f, &extras)?;
    let ok = |x: f64| x.is_finite() && x > 0.0;
    if !ok(f.unfused_latency_ms) || !ok(f.fused_latency_ms) {
        return None;
    }
    let ci = extras.ci95().filter(|(lo, hi)| lo <= hi);
    let stats = |s: &Option<VariantStats>| s.as_ref().and_then(VariantStats::cv_and_n);
    let cvs = stats(&extras.unfused_stats).zip(stats(&extras.fused_stats));
    Some(Point {
        shape,
        unfused_ms: f.unfused_latency_ms,
        fused_ms: f.fused_latency_ms,
        speedup_ci95: ci,
        cvs,
    })
}

/// Every usable point of every pattern in `profile`, keyed by the canonical pattern its entry
/// name resolves to (so `FullAttention_SDPA` counts as `FullAttention`). Sources in order of
/// preference, the first point of a shape winning: `fusion_measurements`, `fusion_sweeps`,
/// `fusion_profiles`. Also returns the entry names that resolve to no pattern.
pub fn collect_points(
    profile: &HardwareCalibration,
) -> (BTreeMap<Pattern, Vec<Point>>, Vec<String>) {
    let mut points: BTreeMap<Pattern, Vec<Point>> = BTreeMap::new();
    let mut unknown = Vec::new();
    let mut add = |key: &str, entries: Vec<&FusionCalibration>| {
        let Some(pattern) = super::names::resolve_pattern(key) else {
            if !unknown.iter().any(|u| u == key) {
                unknown.push(key.to_string());
            }
            return;
        };
        let list = points.entry(pattern).or_default();
        for f in entries {
            if let Some(p) = point_of(pattern, f) {
                if !list.iter().any(|q| q.shape == p.shape) {
                    list.push(p);
                }
            }
        }
    };
    for (key, list) in &profile.fusion_measurements {
        add(key, list.iter().collect());
    }
    for (key, list) in &profile.fusion_sweeps {
        add(key, list.iter().collect());
    }
    for (key, f) in &profile.fusion_profiles {
        add(key, vec![f]);
    }
    (points, unknown)
}

/// Predicts from `points` of `pattern` (measured, then interpolated), else from the roofline
/// when `gflops` and `bandwidth_gbps` are positive, else no data.
pub fn predict(
    pattern: Pattern,
    shape: &Shape,
    points: &[Point],
    gflops: f64,
    bandwidth_gbps: f64,
) -> Prediction {
    if let Err(e) = pattern.check_shape(shape) {
        return Prediction::no_data(e.to_string());
    }
    if let Err(e) = super::limits::check_shape(shape) {
        return Prediction::no_data(e);
    }
    // Points built in code may be beyond the limits too: leave them out.
    let usable: Vec<Point>;
    let points = if points
        .iter()
        .all(|p| super::limits::check_shape(&p.shape).is_ok())
    {
        points
    } else {
        usable = points
            .iter()
            .filter(|p| super::limits::check_shape(&p.shape).is_ok())
            .cloned()
            .collect();
        &usable
    };
    if let Some(p) = points.iter().find(|p| p.shape == *shape) {
        return Prediction::new(p.unfused_ms, p.fused_ms, Source::Measured, None);
    }
    if !points.is_empty() {
        let figures =
            roofline_ms(pattern, shape, gflops, bandwidth_gbps).map(|_| (gflops, bandwidth_gbps));
        return interpolate(pattern, shape, points, figures);
    }
    if let Some(p) = roofline(pattern, shape, gflops, bandwidth_gbps) {
        return p;
    }
    Prediction::no_data(format!(
        "the profile has no {} measurement and no measured bandwidth and GFLOPS for a roofline estimate",
        pattern.name()
    ))
}

/// One size on the interpolation curve: ln FLOPs, and per variant ln(latency / scale), where
/// the scale is the roofline time of the point's shape (or its FLOPs without a roofline).
#[derive(Clone, Copy)]
struct Knot {
    x: f64,
    u: f64,
    f: f64,
}

/// What latencies are measured against: the sequential-kernel roofline `(unfused, fused)` ms
/// when the profile has the figures, else the FLOPs for both (a constant throughput).
fn scale(pattern: Pattern, shape: &Shape, figures: Option<(f64, f64)>) -> (f64, f64) {
    match figures.and_then(|(g, b)| roofline_ms(pattern, shape, g, b)) {
        Some(r) => r,
        None => {
            let fl = pattern.flops(shape) as f64;
            (fl, fl)
        }
    }
}

fn interpolate(
    pattern: Pattern,
    shape: &Shape,
    points: &[Point],
    figures: Option<(f64, f64)>,
) -> Prediction {
    // Average points of equal FLOPs (in log space), then sort by FLOPs.
    let mut groups: Vec<(u64, Vec<&Point>)> = Vec::new();
    for p in points {
        let fl = pattern.flops(&p.shape);
        match groups.iter_mut().find(|(f, _)| *f == fl) {
            Some((_, g)) => g.push(p),
            None => groups.push((fl, vec![p])),
        }
    }
    let mut knots: Vec<Knot> = groups
        .iter()
        .map(|(fl, g)| {
            let n = g.len() as f64;
            let (mut u, mut f) = (0.0, 0.0);
            for p in g {
                let (su, sf) = scale(pattern, &p.shape, figures);
                u += (p.unfused_ms / su).ln() / n;
                f += (p.fused_ms / sf).ln() / n;
            }
            Knot {
                x: (*fl as f64).ln(),
                u,
                f,
            }
        })
        .collect();
    knots.sort_by(|a, b| a.x.total_cmp(&b.x));
    let n = knots.len();
    let q = (pattern.flops(shape) as f64).ln();
    let (su, sf) = scale(pattern, shape, figures);
    let against = if figures.is_some() {
        "relative to the roofline"
    } else {
        "per FLOP"
    };
    let (first, last) = (knots[0], knots[n - 1]);
    let clamp_to = |k: Knot, side: &str| {
        let note = if n == 1 {
            format!(
                "one measured size ({:.3e} FLOPs): its latency {against} kept",
                k.x.exp()
            )
        } else {
            format!(
                "{side} the measured range ({:.3e}–{:.3e} FLOPs): the nearest point's latency {against} kept",
                first.x.exp(),
                last.x.exp()
            )
        };
        Prediction::new(
            k.u.exp() * su,
            k.f.exp() * sf,
            Source::Interpolated {
                points: n,
                extrapolated: true,
            },
            Some(note),
        )
    };
    if n == 1 {
        return clamp_to(first, "at");
    }
    if q < first.x {
        return clamp_to(first, "below");
    }
    if q > last.x {
        return clamp_to(last, "above");
    }
    let i = knots
        .windows(2)
        .position(|w| q <= w[1].x)
        .expect("q lies within the knots");
    let (a, b) = (knots[i], knots[i + 1]);
    let w = (q - a.x) / (b.x - a.x);
    let lerp = |ya: f64, yb: f64| (ya + w * (yb - ya)).exp();
    Prediction::new(
        lerp(a.u, b.u) * su,
        lerp(a.f, b.f) * sf,
        Source::Interpolated {
            points: n,
            extrapolated: false,
        },
        Some(format!(
            "between {:.3e} and {:.3e} FLOPs, latency {against}",
            a.x.exp(),
            b.x.exp()
        )),
    )
}

/// `(unfused, fused)` roofline ms (see the module notes), `None` without GFLOPS or bandwidth
/// (or for a shape beyond [`super::limits`]).
pub fn roofline_ms(
    pattern: Pattern,
    shape: &Shape,
    gflops: f64,
    bandwidth_gbps: f64,
) -> Option<(f64, f64)> {
    let known = |x: f64| x.is_finite() && x > 0.0;
    if !known(gflops) || !known(bandwidth_gbps) || super::limits::check_shape(shape).is_err() {
        return None;
    }
    let flops = pattern.flops(shape) as f64;
    let (ub, fb) = (
        pattern.unfused_bytes(shape) as f64,
        pattern.fused_bytes(shape) as f64,
    );
    let compute_ms = flops / (gflops * 1e9) * 1e3;
    let memory_ms = |bytes: f64| bytes / (bandwidth_gbps * 1e9) * 1e3;
    let fused = compute_ms.max(memory_ms(fb));
    Some((fused + memory_ms((ub - fb).max(0.0)), fused))
}

/// The roofline estimate described in the module notes, `None` without bandwidth or GFLOPS.
pub fn roofline(
    pattern: Pattern,
    shape: &Shape,
    gflops: f64,
    bandwidth_gbps: f64,
) -> Option<Prediction> {
    let (unfused, fused) = roofline_ms(pattern, shape, gflops, bandwidth_gbps)?;
    Some(Prediction::new(
        unfused,
        fused,
        Source::Roofline,
        Some(format!(
            "{gflops:.1} GFLOPS, {bandwidth_gbps:.1} GB/s measured; launch overhead not modelled"
        )),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(shape: Shape, unfused_ms: f64, fused_ms: f64) -> Point {
        Point {
            shape,
            unfused_ms,
            fused_ms,
            speedup_ci95: None,
            cvs: None,
        }
    }

    fn lin(m: usize, k: usize, n: usize) -> Shape {
        Shape::Linear { m, k, n }
    }

    #[test]
    fn exact_shape_uses_the_measurement() {
        let pts = [point(lin(64, 64, 64), 2.0, 1.0)];
        let p = predict(Pattern::LinearBias, &lin(64, 64, 64), &pts, 0.0, 0.0);
        assert_eq!(p.source, Source::Measured);
        assert_eq!((p.unfused_ms, p.fused_ms, p.speedup), (2.0, 1.0, 2.0));
    }

    #[test]
    fn interpolates_in_log_space_between_the_nearest_points() {
        // FLOPs of Linear_Bias at m×k×n: 2mkn + mn. Choose sizes 8× apart in m.
        let (a, b) = (lin(64, 256, 256), lin(512, 256, 256));
        let pts = [point(b, 16.0, 8.0), point(a, 2.0, 1.6)];
        let q = lin(128, 256, 256);
        let p = predict(Pattern::LinearBias, &q, &pts, 0.0, 0.0);
        assert_eq!(
            p.source,
            Source::Interpolated {
                points: 2,
                extrapolated: false
            }
        );
        let fl = |s: &Shape| (Pattern::LinearBias.flops(s) as f64).ln();
        let w = (fl(&q) - fl(&a)) / (fl(&b) - fl(&a));
        let want_u = (2.0f64.ln() + w * (16.0f64.ln() - 2.0f64.ln())).exp();
        let want_f = (1.6f64.ln() + w * (8.0f64.ln() - 1.6f64.ln())).exp();
        assert!((p.unfused_ms - want_u).abs() < 1e-9, "{p:?}");
        assert!((p.fused_ms - want_f).abs() < 1e-9, "{p:?}");
        assert!(p.speedup > 1.25 && p.speedup < 2.0);
    }

    #[test]
    fn extrapolation_is_clamped_to_the_nearest_speedup() {
        let pts = [
            point(lin(64, 256, 256), 2.0, 1.6),
            point(lin(512, 256, 256), 16.0, 8.0),
        ];
        let big = predict(Pattern::LinearBias, &lin(4096, 256, 256), &pts, 0.0, 0.0);
        assert_eq!(
            big.source,
            Source::Interpolated {
                points: 2,
                extrapolated: true
            }
        );
        assert!((big.speedup - 2.0).abs() < 1e-9);
        assert!(
            big.fused_ms > 8.0 * 7.9,
            "latency scales with FLOPs: {big:?}"
        );
        assert!(big.note.as_deref().unwrap().contains("above"));
        let small = predict(Pattern::LinearBias, &lin(8, 256, 256), &pts, 0.0, 0.0);
        assert!((small.speedup - 1.25).abs() < 1e-9);
        assert!(small.note.as_deref().unwrap().contains("below"));
    }

    #[test]
    fn interpolation_is_relative_to_the_roofline_when_the_profile_has_one() {
        // One 3×3 point running at 1.2× (unfused) and 1.1× (fused) its roofline times.
        let (g, b) = (100.0, 10.0);
        let p3 = Shape::conv3x3(1, 64, 64, 56);
        let (ru, rf) = roofline_ms(Pattern::Conv2dBn, &p3, g, b).unwrap();
        let pts = [point(p3, 1.2 * ru, 1.1 * rf)];
        // A 1×1 convolution keeps those ratios against its own roofline.
        let q = Shape::Conv {
            batch: 1,
            cin: 64,
            cout: 256,
            hw: 56,
            kernel: 1,
            stride: 1,
            padding: 0,
        };
        let (qu, qf) = roofline_ms(Pattern::Conv2dBn, &q, g, b).unwrap();
        let p = predict(Pattern::Conv2dBn, &q, &pts, g, b);
        assert!((p.unfused_ms - 1.2 * qu).abs() < 1e-12, "{p:?}");
        assert!((p.fused_ms - 1.1 * qf).abs() < 1e-12, "{p:?}");
        // Its passes weigh more against its compute than the 3×3's: a larger speedup.
        assert!(p.speedup > pts[0].speedup() * 1.05, "{p:?}");
        assert!(p.note.unwrap().contains("relative to the roofline"));
    }

    #[test]
    fn roofline_without_points_and_no_data_without_figures() {
        let s = lin(512, 1024, 1024);
        let p = predict(Pattern::LinearBiasRelu, &s, &[], 100.0, 10.0);
        assert_eq!(p.source, Source::Roofline);
        let fl = Pattern::LinearBiasRelu.flops(&s) as f64;
        let fb = Pattern::LinearBiasRelu.fused_bytes(&s) as f64;
        let ub = Pattern::LinearBiasRelu.unfused_bytes(&s) as f64;
        let fused = (fl / 100e9).max(fb / 10e9) * 1e3;
        assert!((p.fused_ms - fused).abs() < 1e-12);
        assert!((p.unfused_ms - fused - (ub - fb) / 10e9 * 1e3).abs() < 1e-12);
        assert!(p.speedup > 1.0);

        let none = predict(Pattern::LinearBiasRelu, &s, &[], 0.0, 10.0);
        assert_eq!(none.source, Source::NoData);
        assert!(none.speedup.is_nan() && none.known_speedup().is_none());
        assert!(none.note.unwrap().contains("Linear_Bias_ReLU"));
    }

    #[test]
    fn norm_and_depthwise_entries_are_read_with_their_parameters() {
        use crate::cost_model::testutil::entry;
        let norm = Shape::Norm {
            rows: 128,
            hidden: 768,
        };
        let f = entry("Add_LayerNorm", &norm, 1.0, 0.5, (1.9, 2.1));
        assert_eq!(shape_of(Pattern::AddLayerNorm, &f), Some(norm));
        let dw = Shape::Depthwise {
            batch: 1,
            channels: 144,
            hw: 56,
            kernel: 3,
            stride: 2,
            padding: 1,
        };
        let mut f = entry("DepthwiseConv2d_BN_ReLU6", &dw, 1.0, 0.5, (1.9, 2.1));
        assert_eq!(shape_of(Pattern::DepthwiseConv2dBnRelu6, &f), Some(dw));
        // Without parameters: 3×3, stride 1, padding 1.
        f.extra_params.clear();
        assert_eq!(
            shape_of(Pattern::DepthwiseConv2dBnRelu6, &f),
            Some(Shape::depthwise3x3(1, 144, 56, 1))
        );
        // Other output channels than input ones: no depthwise shape.
        f.extra_params.insert("out_channels".into(), 288.into());
        assert_eq!(shape_of(Pattern::DepthwiseConv2dBnRelu6, &f), None);
        assert_eq!(
            shape_of(Pattern::Conv2dBn, &entry("x", &norm, 1.0, 1.0, (1.0, 1.0))),
            None
        );
    }

    #[test]
    fn wrong_family_is_no_data() {
        let p = predict(
            Pattern::Conv2dBn,
            &lin(1, 1, 1),
            &[point(lin(1, 1, 1), 1.0, 1.0)],
            1.0,
            1.0,
        );
        assert_eq!(p.source, Source::NoData);
    }
}
