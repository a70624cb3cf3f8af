//! The comparison as titled tables of text cells: the rows that the terminal table, the
//! markdown and the HTML tables all print (as BabelStream prints its table or CSV from the
//! same rows).

use super::analyse::{Benefit, Comparison, PatternRow};
use crate::analysis::{PAYS_THRESHOLD, SLOWER_THRESHOLD};
use crate::profile::limits::{Limit, BANDWIDTH_GBPS, LATENCY_MS, RATE_GFLOPS, SPEEDUP};
use crate::text::significant;

/// Shown where the fuse / don't-fuse decision differs between profiles.
pub const FLIP_MARKER: &str = "⇄ flips";
/// Shown for a pattern a profile does not have.
pub const MISSING: &str = "missing";
/// Shown where a theoretical figure is unknown (0 in the profile).
pub const UNKNOWN: &str = "unknown";
/// Shown for a number outside its range ([`crate::profile::limits`]): the loader refuses such
/// values, so only a profile built in code shows it.
pub const INVALID: &str = "invalid";

/// How a cell should look, for formats that can show it (colour in HTML).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Nothing special.
    Plain,
    /// The profile lacks this pattern.
    Missing,
    /// Fusion pays (speedup >= 1.1).
    Pays,
    /// No real difference.
    Neutral,
    /// Fusion is slower.
    Slower,
    /// The verdict flips between profiles.
    Flip,
}

impl Tone {
    fn of(d: Benefit) -> Self {
        match d {
            Benefit::Pays => Tone::Pays,
            Benefit::Neutral => Tone::Neutral,
            Benefit::Slower => Tone::Slower,
            Benefit::Unknown => Tone::Missing,
        }
    }

    /// CSS class name.
    pub fn class(self) -> &'static str {
        match self {
            Tone::Plain => "plain",
            Tone::Missing => "missing",
            Tone::Pays => "pays",
            Tone::Neutral => "neutral",
            Tone::Slower => "slower",
            Tone::Flip => "flip",
        }
    }
}

/// One table cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// The text, unescaped.
    pub text: String,
    /// How it should look.
    pub tone: Tone,
    /// Whether the text comes from a profile or the command line (a hardware name, a pattern
    /// name, a device, a file) rather than from hwcal: renderers make such text inert
    /// ([`crate::text::printable`], [`crate::text::markdown`]).
    pub from_file: bool,
}

impl Cell {
    fn plain(text: impl Into<String>) -> Self {
        Cell {
            text: text.into(),
            tone: Tone::Plain,
            from_file: false,
        }
    }

    fn toned(text: impl Into<String>, tone: Tone) -> Self {
        Cell {
            text: text.into(),
            tone,
            from_file: false,
        }
    }

    /// A cell holding a name read from a file.
    fn name(text: impl Into<String>) -> Self {
        Cell {
            text: text.into(),
            tone: Tone::Plain,
            from_file: true,
        }
    }
}

/// What a section is about, so renderers can place it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The compared profiles and their labels.
    Profiles,
    /// Speedup of every pattern on every profile.
    Overview,
    /// One pattern in detail.
    Pattern,
    /// Bandwidth and GFLOPS per profile.
    Hardware,
    /// Matmul and peaks per precision per profile.
    Precisions,
}

/// A titled table.
#[derive(Debug, Clone)]
pub struct Section {
    /// What it is.
    pub kind: Kind,
    /// Heading; a pattern's name (from a file) for [`Kind::Pattern`].
    pub title: String,
    /// The flip marker next to the heading, when the verdict flips.
    pub flips: bool,
    /// A line under the heading.
    pub note: Option<String>,
    /// Column names.
    pub header: Vec<String>,
    /// Whether each column is numeric (right-aligned).
    pub numeric: Vec<bool>,
    /// The rows.
    pub rows: Vec<Vec<Cell>>,
}

/// `1.42×`, or `n/a` (exponent form from `1e6`: `1.00e7×`).
pub fn times(x: f64) -> String {
    if !x.is_finite() {
        "n/a".to_string()
    } else if x.abs() >= 1e6 || (x != 0.0 && x.abs() < 1e-3) {
        format!("{x:.2e}×")
    } else {
        format!("{x:.2}×")
    }
}

/// A speedup: [`times`], `n/a` when not measured (NaN), [`INVALID`] outside [`SPEEDUP`].
pub fn speedup(x: f64) -> String {
    if x.is_nan() || SPEEDUP.allows(x) {
        times(x)
    } else {
        INVALID.to_string()
    }
}

/// A figure with `digits` significant digits, `n/a` when NaN, [`INVALID`] outside `limit`.
fn figure(x: f64, limit: &Limit, digits: usize) -> String {
    if x.is_nan() || limit.allows(x) {
        significant(x, digits)
    } else {
        INVALID.to_string()
    }
}

/// `512×1024×1024`.
pub fn shape_text(shape: &[usize]) -> String {
    if shape.is_empty() {
        return "scalar".to_string();
    }
    shape
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("×")
}

/// The speedup with its interval and noise flag: `1.42× [1.38, 1.47] noisy`.
fn speedup_text(c: &super::analyse::PatternCell) -> String {
    let mut s = speedup(c.speedup);
    if let Some([lo, hi]) = c.speedup_ci95 {
        if SPEEDUP.allows(lo) && SPEEDUP.allows(hi) {
            s.push_str(&format!(" [{lo:.2}, {hi:.2}]"));
        } else {
            s.push_str(&format!(" [{INVALID} interval]"));
        }
    }
    if c.noisy {
        s.push_str(" noisy");
    }
    s
}

/// Every section of the report, in order: profiles, overview, one per pattern, hardware.
pub fn sections(cmp: &Comparison) -> Vec<Section> {
    let mut out = vec![profiles(cmp)];
    if !cmp.patterns.is_empty() {
        out.push(overview(cmp));
        out.extend(cmp.patterns.iter().map(|row| pattern(cmp, row)));
    }
    out.push(hardware(cmp));
    if cmp.profiles.iter().any(|p| !p.precisions.is_empty()) {
        out.push(precisions(cmp));
    }
    out
}

fn precisions(cmp: &Comparison) -> Section {
    let figure = |x: Option<f64>| match x {
        Some(x) if RATE_GFLOPS.allows(x) => format!("{x:.1}"),
        Some(_) => INVALID.to_string(),
        None => "-".to_string(),
    };
    let mut rows = Vec::new();
    for p in &cmp.profiles {
        for f in &p.precisions {
            let state = match f.supported {
                Some(true) => "supported",
                Some(false) => "unsupported",
                None => "peak only",
            };
            let percent = match (f.peak_gops, f.theoretical_gops) {
                (Some(m), Some(t)) if RATE_GFLOPS.allows(m) && RATE_GFLOPS.allows(t) => {
                    format!("{:.0}%", m / t * 100.0)
                }
                _ => "-".to_string(),
            };
            rows.push(vec![
                Cell::plain(&p.key),
                Cell::name(&p.label),
                Cell::name(&f.precision),
                Cell::plain(state),
                Cell::plain(figure(f.matmul_gops)),
                Cell::plain(
                    f.speedup_vs_fp32
                        .filter(|s| s.is_finite())
                        .map_or("-".into(), |s| format!("{s:.2}×")),
                ),
                Cell::plain(match (&f.peak_width, f.peak_gops) {
                    (Some(w), Some(_)) => format!("{} ({w})", figure(f.peak_gops)),
                    _ => figure(f.peak_gops),
                }),
                Cell::plain(figure(f.theoretical_gops)),
                Cell::plain(percent),
            ]);
        }
    }
    Section {
        kind: Kind::Precisions,
        title: "Precisions".into(),
        flips: false,
        note: Some(
            "matmul: the best verified matmul of the precision; peak: the best FMA or dot-product \
             chain measured (its units); theoretical: the profile's table"
                .into(),
        ),
        header: vec![
            "".into(),
            "Profile".into(),
            "Precision".into(),
            "Matmul".into(),
            "Matmul G(FL)OPS".into(),
            "× fp32".into(),
            "Peak G(FL)OPS".into(),
            "Theoretical".into(),
            "% of theoretical".into(),
        ],
        numeric: vec![false, false, false, false, true, true, true, true, true],
        rows,
    }
}

fn profiles(cmp: &Comparison) -> Section {
    Section {
        kind: Kind::Profiles,
        title: "Profiles".into(),
        flips: false,
        note: None,
        header: vec![
            "".into(),
            "Profile".into(),
            "Device".into(),
            "Calibrated".into(),
            "File".into(),
        ],
        numeric: vec![false; 5],
        rows: cmp
            .profiles
            .iter()
            .map(|p| {
                vec![
                    Cell::plain(&p.key),
                    Cell::name(&p.label),
                    match &p.device {
                        Some(d) => Cell::name(d),
                        None => Cell::plain("-"),
                    },
                    Cell::name(&p.calibration_date),
                    Cell::name(&p.file),
                ]
            })
            .collect(),
    }
}

fn overview(cmp: &Comparison) -> Section {
    let mut header = vec!["Pattern".to_string()];
    header.extend(cmp.profiles.iter().map(|p| p.key.clone()));
    header.push("Verdict".into());
    let mut numeric = vec![false];
    numeric.extend(cmp.profiles.iter().map(|_| true));
    numeric.push(false);
    let rows = cmp
        .patterns
        .iter()
        .map(|row| {
            let mut cells = vec![Cell::name(&row.pattern)];
            cells.extend(row.cells.iter().map(|c| match c {
                None => Cell::toned(MISSING, Tone::Missing),
                Some(c) => Cell::toned(speedup(c.speedup), Tone::of(c.decision)),
            }));
            cells.push(if row.verdict_flips {
                Cell::toned(FLIP_MARKER, Tone::Flip)
            } else {
                Cell::plain("")
            });
            cells
        })
        .collect();
    Section {
        kind: Kind::Overview,
        title: "Fusion speedup".into(),
        flips: false,
        note: Some(format!(
            "speedup = unfused ÷ fused median latency; fusion pays from {PAYS_THRESHOLD:.2}×, is \
             slower below {SLOWER_THRESHOLD:.2}×; {FLIP_MARKER}: the decision differs between \
             profiles"
        )),
        header,
        numeric,
        rows,
    }
}

fn pattern(cmp: &Comparison, row: &PatternRow) -> Section {
    let base = row
        .baseline
        .map_or("-".to_string(), |b| cmp.profiles[b].key.clone());
    let ratio_header = if row.same_shape {
        format!("Fused vs {base}")
    } else {
        format!("Fused GFLOPS vs {base}")
    };
    let note = if row.same_shape {
        None
    } else {
        Some(
            "profiles measured no common shape: each shows its largest, and the ratio compares \
             fused GFLOPS"
                .to_string(),
        )
    };
    let rows = row
        .cells
        .iter()
        .zip(&cmp.profiles)
        .map(|(cell, p)| {
            let mut cells = vec![Cell::plain(&p.key), Cell::name(&p.label)];
            match cell {
                None => {
                    cells.push(Cell::toned(MISSING, Tone::Missing));
                    cells.extend((0..5).map(|_| Cell::toned("", Tone::Missing)));
                }
                Some(c) => {
                    let tone = Tone::of(c.decision);
                    cells.push(Cell::plain(shape_text(&c.input_shape)));
                    cells.push(Cell::plain(figure(c.unfused_latency_ms, &LATENCY_MS, 4)));
                    cells.push(Cell::plain(figure(c.fused_latency_ms, &LATENCY_MS, 4)));
                    cells.push(Cell::toned(speedup_text(c), tone));
                    cells.push(Cell::toned(&c.verdict, tone));
                    cells.push(Cell::plain(
                        c.fused_vs_baseline.map_or("-".to_string(), times),
                    ));
                }
            }
            cells
        })
        .collect();
    Section {
        kind: Kind::Pattern,
        title: row.pattern.clone(),
        flips: row.verdict_flips,
        note,
        header: vec![
            "".into(),
            "Profile".into(),
            "Shape".into(),
            "Unfused ms".into(),
            "Fused ms".into(),
            "Speedup".into(),
            "Verdict".into(),
            ratio_header,
        ],
        numeric: vec![false, false, false, true, true, true, false, true],
        rows,
    }
}

fn hardware(cmp: &Comparison) -> Section {
    let one_decimal = |x: f64, limit: &Limit| {
        if limit.allows(x) {
            format!("{x:.1}")
        } else {
            INVALID.to_string()
        }
    };
    let measured = |x: Option<f64>, limit: &Limit| {
        x.map_or("not measured".to_string(), |x| one_decimal(x, limit))
    };
    let theory =
        |x: Option<f64>, limit: &Limit| x.map_or(UNKNOWN.to_string(), |x| one_decimal(x, limit));
    // A percentage of figures that are both valid.
    let percent = |pct: Option<f64>, m: Option<f64>, t: Option<f64>, limit: &Limit| {
        let valid = |x: Option<f64>| x.is_none_or(|x| limit.allows(x));
        match (pct, t) {
            _ if !valid(m) || !valid(t) => INVALID.to_string(),
            (Some(p), _) => format!("{p:.1}%"),
            (None, None) => UNKNOWN.to_string(),
            (None, Some(_)) => "-".to_string(),
        }
    };
    Section {
        kind: Kind::Hardware,
        title: "Hardware".into(),
        flips: false,
        note: Some(
            "measured: best memory bandwidth (STREAM) and best GFLOPS (matmul); % of theoretical \
             is unknown where the profile's theoretical figure is 0"
                .into(),
        ),
        header: vec![
            "".into(),
            "Profile".into(),
            "Bandwidth GB/s".into(),
            "Theoretical GB/s".into(),
            "% of theoretical".into(),
            "GFLOPS".into(),
            "Theoretical GFLOPS".into(),
            "% of peak".into(),
        ],
        numeric: vec![false, false, true, true, true, true, true, true],
        rows: cmp
            .profiles
            .iter()
            .map(|p| {
                let (bw, gf) = (&BANDWIDTH_GBPS, &RATE_GFLOPS);
                vec![
                    Cell::plain(&p.key),
                    Cell::name(&p.label),
                    Cell::plain(measured(p.measured_bandwidth_gbps, bw)),
                    Cell::plain(theory(p.theoretical_bandwidth_gbps, bw)),
                    Cell::plain(percent(
                        p.bandwidth_percent,
                        p.measured_bandwidth_gbps,
                        p.theoretical_bandwidth_gbps,
                        bw,
                    )),
                    Cell::plain(measured(p.measured_gflops, gf)),
                    Cell::plain(theory(p.theoretical_gflops, gf)),
                    Cell::plain(percent(
                        p.gflops_percent,
                        p.measured_gflops,
                        p.theoretical_gflops,
                        gf,
                    )),
                ]
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        assert_eq!(significant(2.311924, 4), "2.312");
        assert_eq!(significant(0.1107235, 4), "0.1107");
        assert_eq!(significant(22.2418, 4), "22.24");
        assert_eq!(significant(12345.6, 4), "12346");
        assert_eq!(significant(f64::NAN, 4), "n/a");
        assert_eq!(times(1.4249), "1.42×");
        assert_eq!(shape_text(&[4, 256, 64]), "4×256×64");
        assert_eq!(significant(1e308, 4), "1.000e308");
        assert_eq!(significant(5e-324, 3), "4.94e-324");
        assert_eq!(times(1e308), "1.00e308×");
        assert_eq!(speedup(1e308), INVALID);
        assert_eq!(speedup(5e-324), INVALID);
        assert_eq!(speedup(f64::NAN), "n/a");
        assert_eq!(speedup(f64::INFINITY), INVALID);
        assert_eq!(speedup(1.4249), "1.42×");
        assert_eq!(figure(1e308, &LATENCY_MS, 4), INVALID);
        assert_eq!(figure(0.2530, &LATENCY_MS, 4), "0.2530");
    }
}
