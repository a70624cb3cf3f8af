//! Analysis: loaded profiles in, one [`Comparison`] out. Every output format renders this
//! structure and nothing else, so the table, markdown, JSON and HTML always agree.

use crate::analysis::crossover;
use crate::analysis::fusion_verdict;
use crate::pattern::Pattern;
use crate::profile::limits::SPEEDUP;
use crate::profile::run_info::RunInfo;
use crate::profile::{FusionCalibration, HardwareCalibration};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::Path;

use crate::analysis::{PAYS_THRESHOLD, SLOWER_THRESHOLD};

/// Pattern names the Python calibrator used for what hwcal calls by another name.
const ALIASES: [(&str, &str); 1] = [("FullAttention_SDPA", "FullAttention")];

/// The name a pattern is compared under: hwcal's canonical name for a known alias
/// (`FullAttention_SDPA` is `FullAttention`), the name itself otherwise.
pub fn canonical_pattern(name: &str) -> &str {
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, canonical)| canonical)
}

/// Everything a compare report shows, built from the profiles alone.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The compared profiles, in command-line order; the first is the baseline of ratios.
    pub profiles: Vec<ProfileSummary>,
    /// One row per fusion pattern found in any profile (hwcal's pattern order first).
    pub patterns: Vec<PatternRow>,
    /// Size sweeps per pattern and axis, when any profile has `fusion_sweeps`.
    pub sweeps: Vec<SweepChart>,
}

/// One compared profile: its label and hardware figures.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileSummary {
    /// Short column letter (`A`, `B`, …) used in tables.
    pub key: String,
    /// Hardware name, plus the backend when the profile records one, plus the file name when
    /// two profiles would otherwise read the same.
    pub label: String,
    /// The file as given on the command line.
    pub file: String,
    /// `metadata.hardware_name`.
    pub hardware_name: String,
    /// `hwcal.backend`, absent in the Python tool's profiles.
    pub backend: Option<String>,
    /// `hwcal.device.name` (e.g. the GPU adapter), when recorded.
    pub device: Option<String>,
    /// `metadata.calibration_date`.
    pub calibration_date: String,
    /// Best measured memory bandwidth in GB/s; `None` when not measured.
    pub measured_bandwidth_gbps: Option<f64>,
    /// Theoretical bandwidth in GB/s; `None` when unknown (0 in the file).
    pub theoretical_bandwidth_gbps: Option<f64>,
    /// Measured over theoretical bandwidth, in percent; `None` when either is unknown.
    pub bandwidth_percent: Option<f64>,
    /// Best measured GFLOPS (the matmul roof); `None` when not measured.
    pub measured_gflops: Option<f64>,
    /// Theoretical peak GFLOPS; `None` when unknown.
    pub theoretical_gflops: Option<f64>,
    /// Measured over theoretical GFLOPS, in percent; `None` when either is unknown.
    pub gflops_percent: Option<f64>,
    /// Every measured fusion kernel, unfused and fused, placed for the roofline.
    pub kernels: Vec<KernelPoint>,
    /// Per precision, from `precision_matrix` and `hwcal.precisions` (empty when the profile
    /// has neither).
    pub precisions: Vec<PrecisionFigures>,
}

/// One precision of one profile: its best matmul, best measured peak and theoretical peak.
#[derive(Debug, Clone, Serialize)]
pub struct PrecisionFigures {
    /// `fp64`, `fp32`, …, as the profile names it.
    pub precision: String,
    /// Listed as supported (`Some(true)`) or unsupported (`Some(false)`) in the matrix.
    pub supported: Option<bool>,
    /// Best matmul G(FL)OPS.
    pub matmul_gops: Option<f64>,
    /// The matrix's speedup over fp32.
    pub speedup_vs_fp32: Option<f64>,
    /// Best measured peak (any width), G(FL)OPS.
    pub peak_gops: Option<f64>,
    /// The width of that peak (`vector`, `matrix`, …).
    pub peak_width: Option<String>,
    /// The theoretical peak, G(FL)OPS.
    pub theoretical_gops: Option<f64>,
}

/// Whether a kernel point is the unfused chain or the fused kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KernelForm {
    /// The chain of separate kernels.
    Unfused,
    /// The fused kernel.
    Fused,
}

/// One measured kernel on the roofline.
#[derive(Debug, Clone, Serialize)]
pub struct KernelPoint {
    /// Canonical pattern name.
    pub pattern: String,
    /// Unfused or fused.
    pub variant: KernelForm,
    /// The shape measured.
    pub input_shape: Vec<usize>,
    /// FLOPs per byte moved (the pattern's FLOPs over this variant's bytes).
    pub intensity: f64,
    /// Achieved GFLOPS.
    pub gflops: f64,
}

/// What a speedup means for the decision to fuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Benefit {
    /// Speedup `>= 1.1`: fuse.
    Pays,
    /// Speedup in `[0.95, 1.1)`: no real difference.
    Neutral,
    /// Speedup `< 0.95`: fusing costs time.
    Slower,
    /// Nothing valid was measured: a NaN speedup, or one outside
    /// [`crate::profile::limits::SPEEDUP`].
    Unknown,
}

impl Benefit {
    /// The decision for a speedup.
    pub fn of(speedup: f64) -> Self {
        if !SPEEDUP.allows(speedup) {
            Benefit::Unknown
        } else if speedup >= PAYS_THRESHOLD {
            Benefit::Pays
        } else if speedup >= SLOWER_THRESHOLD {
            Benefit::Neutral
        } else {
            Benefit::Slower
        }
    }
}

/// One fusion pattern across the compared profiles.
#[derive(Debug, Clone, Serialize)]
pub struct PatternRow {
    /// Canonical pattern name.
    pub pattern: String,
    /// One cell per profile, in profile order; `None` where the profile lacks the pattern.
    pub cells: Vec<Option<PatternCell>>,
    /// Whether the fuse / don't-fuse decision ([`Benefit`]) differs between profiles.
    pub verdict_flips: bool,
    /// Whether every profile that has the pattern was compared at the same shape (the largest
    /// shape they all measured); otherwise each shows its own representative shape.
    pub same_shape: bool,
    /// Index of the profile the ratios are relative to (the first that has the pattern).
    pub baseline: Option<usize>,
}

/// One pattern on one profile.
#[derive(Debug, Clone, Serialize)]
pub struct PatternCell {
    /// The pattern's name in that profile (`FullAttention_SDPA` in the Python tool's).
    pub source_pattern: String,
    /// The shape compared.
    pub input_shape: Vec<usize>,
    /// Median latency of the unfused chain, ms.
    pub unfused_latency_ms: f64,
    /// Median latency of the fused kernel, ms.
    pub fused_latency_ms: f64,
    /// Unfused over fused latency.
    pub speedup: f64,
    /// Bootstrap 95% interval of the speedup, when recorded.
    pub speedup_ci95: Option<[f64; 2]>,
    /// Whether the measurement was flagged noisy (CV > 5%).
    pub noisy: bool,
    /// The calibrator's verdict line for the speedup (`? Invalid speedup` outside
    /// [`crate::profile::limits::SPEEDUP`]).
    pub verdict: String,
    /// The decision class of the speedup.
    pub decision: Benefit,
    /// How many times faster this profile runs the fused kernel than the baseline profile:
    /// the latency ratio when the shapes are the same, the fused-GFLOPS ratio otherwise.
    pub fused_vs_baseline: Option<f64>,
}

/// Speedup against size along one axis of one pattern, one series per profile that swept it.
#[derive(Debug, Clone, Serialize)]
pub struct SweepChart {
    /// Canonical pattern name.
    pub pattern: String,
    /// The size that varied (`M`, `KN`, `HW`, `C`, `S`).
    pub axis: String,
    /// One series per profile with points on this axis.
    pub series: Vec<SweepSeries>,
}

/// One profile's points along a sweep axis.
#[derive(Debug, Clone, Serialize)]
pub struct SweepSeries {
    /// Index into [`Comparison::profiles`].
    pub profile: usize,
    /// `(size, speedup)`, ascending in size.
    pub points: Vec<(f64, f64)>,
    /// Where fused starts to beat unfused for good (speedup 1.0), see [`crossover()`].
    pub breakeven: Option<f64>,
    /// Where fusion starts to pay for good (speedup 1.1).
    pub pays_from: Option<f64>,
}

/// A profile and the file it came from.
pub struct Input<'a> {
    /// The file, as given.
    pub path: &'a Path,
    /// The loaded profile.
    pub profile: &'a HardwareCalibration,
}

/// Builds the comparison of `inputs` (command-line order).
pub fn compare(inputs: &[Input<'_>]) -> Comparison {
    // Each profile's run record, parsed once.
    let infos: Vec<Option<RunInfo>> = inputs.iter().map(|i| i.profile.run_info()).collect();
    let labels = labels(inputs, &infos);
    let profiles = inputs
        .iter()
        .zip(labels)
        .enumerate()
        .map(|(i, (input, label))| summary(i, input, label, infos[i].as_ref()))
        .collect();
    Comparison {
        profiles,
        patterns: pattern_rows(inputs),
        sweeps: sweep_charts(inputs),
    }
}

/// `A`, `B`, …, `Z`, `AA`, `AB`, …
fn column_key(mut i: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).expect("ASCII")
}

/// `hwcal.backend`, when recorded (and not empty).
fn backend(info: Option<&RunInfo>) -> Option<String> {
    info?.backend.clone().filter(|s| !s.is_empty())
}

/// `hwcal.device.name`, when recorded (and not empty).
fn device_name(info: Option<&RunInfo>) -> Option<String> {
    info?
        .device
        .as_ref()?
        .name
        .clone()
        .filter(|s| !s.is_empty())
}

/// Hardware name (+ backend), made unique with the file name, then the path, then a number.
fn labels(inputs: &[Input<'_>], infos: &[Option<RunInfo>]) -> Vec<String> {
    let base: Vec<String> = inputs
        .iter()
        .zip(infos)
        .map(|(i, info)| {
            let name = &i.profile.metadata.hardware_name;
            match backend(info.as_ref()) {
                Some(b) => format!("{name} ({b})"),
                None => name.clone(),
            }
        })
        .collect();
    let count = |v: &[String], s: &String| v.iter().filter(|x| *x == s).count();
    let mut out = base.clone();
    for (i, input) in inputs.iter().enumerate() {
        if count(&base, &base[i]) > 1 {
            let file = input.path.file_name().map_or_else(
                || input.path.display().to_string(),
                |f| f.to_string_lossy().into_owned(),
            );
            out[i] = format!("{} [{file}]", base[i]);
        }
    }
    let second = out.clone();
    for (i, input) in inputs.iter().enumerate() {
        if count(&second, &second[i]) > 1 {
            out[i] = format!("{} [{}]", base[i], input.path.display());
        }
    }
    let third = out.clone();
    for i in 0..inputs.len() {
        if count(&third, &third[i]) > 1 {
            out[i] = format!("{} #{}", third[i], i + 1);
        }
    }
    out
}

fn known(x: f64) -> Option<f64> {
    (x.is_finite() && x > 0.0).then_some(x)
}

fn summary(
    index: usize,
    input: &Input<'_>,
    label: String,
    info: Option<&RunInfo>,
) -> ProfileSummary {
    let p = input.profile;
    let bw = known(p.measured_bandwidth_gbps);
    let bw_theory = known(p.theoretical_bandwidth_gbps);
    let gflops = known(p.best_measured_gflops);
    let gflops_theory = known(p.theoretical_peak_gflops);
    let percent = |m: Option<f64>, t: Option<f64>| Some(m? / t? * 100.0);
    ProfileSummary {
        key: column_key(index),
        label,
        file: input.path.display().to_string(),
        hardware_name: p.metadata.hardware_name.clone(),
        backend: backend(info),
        device: device_name(info),
        calibration_date: p.metadata.calibration_date.clone(),
        measured_bandwidth_gbps: bw,
        theoretical_bandwidth_gbps: bw_theory,
        bandwidth_percent: percent(bw, bw_theory),
        measured_gflops: gflops,
        theoretical_gflops: gflops_theory,
        gflops_percent: percent(gflops, gflops_theory),
        kernels: kernels(p),
        precisions: precisions(p),
    }
}

/// The precisions of `p`, in the Python tool's order; numbers that are not finite and
/// positive read as absent.
fn precisions(p: &HardwareCalibration) -> Vec<PrecisionFigures> {
    let matrix = p
        .extra
        .get("precision_matrix")
        .and_then(serde_json::Value::as_object);
    let record = p.precisions_record();
    let list = |key: &str| -> Vec<String> {
        matrix
            .and_then(|m| m.get(key))
            .and_then(serde_json::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let number = |key: &str, name: &str| {
        matrix
            .and_then(|m| m.get(key))
            .and_then(|v| v.get(name))
            .and_then(serde_json::Value::as_f64)
            .and_then(known)
    };
    let (supported, unsupported) = (list("supported_precisions"), list("unsupported_precisions"));
    let peaks = record.and_then(|r| r.peaks).unwrap_or_default();
    let mut names: Vec<String> = Vec::new();
    for n in supported
        .iter()
        .chain(&unsupported)
        .cloned()
        .chain(peaks.iter().filter_map(|r| r.precision.clone()))
    {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    let order = [
        "fp64", "fp32", "tf32", "fp16", "bf16", "int32", "int16", "int8",
    ];
    names.sort_by_key(|n| order.iter().position(|o| o == n).unwrap_or(usize::MAX));
    names
        .into_iter()
        .map(|name| {
            let best = peaks
                .iter()
                .filter(|r| r.precision.as_deref() == Some(name.as_str()))
                .filter_map(|r| Some((r.median_gops.and_then(known)?, r.width.clone())))
                .max_by(|a, b| a.0.total_cmp(&b.0));
            PrecisionFigures {
                supported: if supported.contains(&name) {
                    Some(true)
                } else if unsupported.contains(&name) {
                    Some(false)
                } else {
                    None
                },
                matmul_gops: number("peak_gflops_by_precision", &name),
                speedup_vs_fp32: number("speedup_vs_fp32", &name),
                peak_gops: best.as_ref().map(|b| b.0),
                peak_width: best.and_then(|b| b.1),
                theoretical_gops: number("theoretical_peaks", &name),
                precision: name,
            }
        })
        .collect()
}

/// FLOPs of one execution: `extra_params.flops`, else GFLOPS × latency of either variant.
fn flops(f: &FusionCalibration) -> Option<f64> {
    if let Some(x) = f.hwcal_extras().known_flops() {
        return known(x);
    }
    known(f.unfused_gflops * f.unfused_latency_ms * 1e6)
        .or_else(|| known(f.fused_gflops * f.fused_latency_ms * 1e6))
}

/// Every measurement of `p` per canonical pattern: `fusion_measurements` where present (every
/// shape), else the `fusion_profiles` entry; in file order.
fn measurements(p: &HardwareCalibration) -> Vec<(String, Vec<&FusionCalibration>)> {
    let mut out: Vec<(String, Vec<&FusionCalibration>)> = Vec::new();
    for (name, f) in &p.fusion_profiles {
        let canonical = canonical_pattern(name).to_string();
        let list: Vec<&FusionCalibration> = match p.fusion_measurements.get(name) {
            Some(list) if !list.is_empty() => list.iter().collect(),
            _ => vec![f],
        };
        match out.iter_mut().find(|(n, _)| *n == canonical) {
            Some((_, existing)) => existing.extend(list),
            None => out.push((canonical, list)),
        }
    }
    for (name, list) in &p.fusion_measurements {
        let canonical = canonical_pattern(name).to_string();
        if !out.iter().any(|(n, _)| *n == canonical) && !list.is_empty() {
            out.push((canonical, list.iter().collect()));
        }
    }
    out
}

fn kernels(p: &HardwareCalibration) -> Vec<KernelPoint> {
    let mut out = Vec::new();
    for (pattern, list) in measurements(p) {
        for f in list {
            let Some(flops) = flops(f) else { continue };
            for (variant, bytes, gflops) in [
                (
                    KernelForm::Unfused,
                    f.unfused_memory_bytes,
                    f.unfused_gflops,
                ),
                (KernelForm::Fused, f.fused_memory_bytes, f.fused_gflops),
            ] {
                let (Some(gflops), true) = (known(gflops), bytes > 0) else {
                    continue;
                };
                out.push(KernelPoint {
                    pattern: pattern.clone(),
                    variant,
                    input_shape: f.input_shape.clone(),
                    intensity: flops / bytes as f64,
                    gflops,
                });
            }
        }
    }
    out
}

/// Element count, for picking the largest shape.
fn elements(shape: &[usize]) -> u128 {
    shape.iter().map(|&d| d as u128).product()
}

/// Canonical pattern names in report order: hwcal's patterns in calibration order, then
/// others in order of first appearance.
fn pattern_order(all: &[Vec<(String, Vec<&FusionCalibration>)>]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for p in Pattern::ALL {
        if all.iter().any(|m| m.iter().any(|(n, _)| n == p.name())) {
            names.push(p.name().to_string());
        }
    }
    for m in all {
        for (n, _) in m {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
    }
    names
}

/// The calibrator's verdict, or `? Invalid speedup` for a finite speedup outside [`SPEEDUP`]
/// (only a profile built in code has one: the loader refuses them).
fn verdict(speedup: f64) -> String {
    if speedup.is_nan() || SPEEDUP.allows(speedup) {
        fusion_verdict(speedup).to_string()
    } else {
        "? Invalid speedup".to_string()
    }
}

fn pattern_rows(inputs: &[Input<'_>]) -> Vec<PatternRow> {
    let all: Vec<_> = inputs.iter().map(|i| measurements(i.profile)).collect();
    pattern_order(&all)
        .into_iter()
        .map(|pattern| {
            let lists: Vec<Option<&Vec<&FusionCalibration>>> = all
                .iter()
                .map(|m| m.iter().find(|(n, _)| *n == pattern).map(|(_, l)| l))
                .collect();
            // The largest shape every profile with the pattern measured.
            let mut common: Option<BTreeSet<Vec<usize>>> = None;
            for list in lists.iter().flatten() {
                let shapes: BTreeSet<Vec<usize>> =
                    list.iter().map(|f| f.input_shape.clone()).collect();
                common = Some(match common {
                    None => shapes,
                    Some(c) => c.intersection(&shapes).cloned().collect(),
                });
            }
            let shape = common
                .unwrap_or_default()
                .into_iter()
                .max_by_key(|s| elements(s));
            let chosen: Vec<Option<&FusionCalibration>> = lists
                .iter()
                .zip(inputs)
                .map(|(list, input)| {
                    let list = (*list)?;
                    match &shape {
                        Some(s) => list.iter().rev().find(|f| &f.input_shape == s).copied(),
                        None => input
                            .profile
                            .fusion_profiles
                            .iter()
                            .find(|(n, _)| canonical_pattern(n) == pattern)
                            .map(|(_, f)| f)
                            .or_else(|| {
                                list.iter()
                                    .max_by_key(|f| elements(&f.input_shape))
                                    .copied()
                            }),
                    }
                })
                .collect();
            let same_shape = shape.is_some();
            let baseline = chosen.iter().position(Option::is_some);
            let base = baseline.and_then(|b| chosen[b]);
            let cells: Vec<Option<PatternCell>> = chosen
                .iter()
                .map(|f| {
                    let f = (*f)?;
                    let fused_vs_baseline = base.and_then(|b| {
                        let r = if same_shape {
                            b.fused_latency_ms / f.fused_latency_ms
                        } else {
                            f.fused_gflops / b.fused_gflops
                        };
                        r.is_finite().then_some(r)
                    });
                    let extras = f.hwcal_extras();
                    Some(PatternCell {
                        source_pattern: f.fusion_pattern.clone(),
                        input_shape: f.input_shape.clone(),
                        unfused_latency_ms: f.unfused_latency_ms,
                        fused_latency_ms: f.fused_latency_ms,
                        speedup: f.speedup_factor,
                        speedup_ci95: extras.ci95().map(|(lo, hi)| [lo, hi]),
                        noisy: extras.is_noisy(),
                        verdict: verdict(f.speedup_factor),
                        decision: Benefit::of(f.speedup_factor),
                        fused_vs_baseline,
                    })
                })
                .collect();
            let decisions: BTreeSet<Benefit> = cells
                .iter()
                .flatten()
                .map(|c| c.decision)
                .filter(|d| *d != Benefit::Unknown)
                .collect();
            PatternRow {
                pattern,
                verdict_flips: decisions.len() > 1,
                same_shape,
                baseline,
                cells,
            }
        })
        .collect()
}

fn sweep_charts(inputs: &[Input<'_>]) -> Vec<SweepChart> {
    // (pattern, axis) -> per profile points, in order of first appearance.
    let mut charts: Vec<SweepChart> = Vec::new();
    for (index, input) in inputs.iter().enumerate() {
        for (name, list) in &input.profile.fusion_sweeps {
            let pattern = canonical_pattern(name);
            for f in list {
                let Some((axis, size)) = f.sweep_position() else {
                    continue;
                };
                let chart = match charts
                    .iter_mut()
                    .position(|c| c.pattern == pattern && c.axis == axis)
                {
                    Some(i) => &mut charts[i],
                    None => {
                        charts.push(SweepChart {
                            pattern: pattern.to_string(),
                            axis,
                            series: Vec::new(),
                        });
                        charts.last_mut().expect("just pushed")
                    }
                };
                let series = match chart.series.iter().position(|s| s.profile == index) {
                    Some(i) => &mut chart.series[i],
                    None => {
                        chart.series.push(SweepSeries {
                            profile: index,
                            points: Vec::new(),
                            breakeven: None,
                            pays_from: None,
                        });
                        chart.series.last_mut().expect("just pushed")
                    }
                };
                series.points.push((size, f.speedup_factor));
            }
        }
    }
    for chart in &mut charts {
        for s in &mut chart.series {
            s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
            s.breakeven = crossover(&s.points, 1.0);
            s.pays_from = crossover(&s.points, PAYS_THRESHOLD);
        }
    }
    let rank = |name: &str| {
        Pattern::ALL
            .iter()
            .position(|p| p.name() == name)
            .unwrap_or(Pattern::ALL.len())
    };
    charts.sort_by_key(|c| rank(&c.pattern));
    charts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_keys() {
        assert_eq!(column_key(0), "A");
        assert_eq!(column_key(25), "Z");
        assert_eq!(column_key(26), "AA");
        assert_eq!(column_key(27), "AB");
    }

    #[test]
    fn decisions() {
        assert_eq!(Benefit::of(1.4), Benefit::Pays);
        assert_eq!(Benefit::of(1.1), Benefit::Pays);
        assert_eq!(Benefit::of(1.0), Benefit::Neutral);
        assert_eq!(Benefit::of(0.95), Benefit::Neutral);
        assert_eq!(Benefit::of(0.9), Benefit::Slower);
        assert_eq!(Benefit::of(f64::NAN), Benefit::Unknown);
        for odd in [1e308, 5e-324, 1e-310, 0.0, -1.0, f64::INFINITY] {
            assert_eq!(Benefit::of(odd), Benefit::Unknown, "{odd}");
            assert_eq!(verdict(odd), "? Invalid speedup");
        }
        assert_eq!(verdict(f64::NAN), "? Not measured");
        assert_eq!(canonical_pattern("FullAttention_SDPA"), "FullAttention");
        assert_eq!(canonical_pattern("Conv2d_BN"), "Conv2d_BN");
    }
}
