//! `hwcal show`'s rendering of the `hwcal` run record ([`RunInfo`]): lines of words for how
//! the run was made, small tables for the preflight and the operation statistics. Never raw
//! JSON: a value hwcal cannot read is named, not printed.

use super::run_info::{DeviceRecord, Peak, RunInfo, SweepCrossovers};
use super::schema::{kind_of, JsonMap};
use crate::preflight::{Outcome, Preflight};
use comfy_table::{presets, CellAlignment, Table};
use serde_json::Value;
use std::fmt::Write as _;

/// Width lines of words are wrapped at.
const WIDTH: usize = 100;

/// Width of the labels (`  Sampling:  `): continuation lines are indented by it.
const LABEL: usize = 13;

/// Writes `label` and `items` joined by `sep` as lines of at most [`WIDTH`] characters (an
/// item longer than that gets a line of its own; the first always follows the label), the
/// continuation lines indented by `indent` spaces.
fn wrapped(out: &mut String, label: &str, items: &[String], sep: &str, indent: usize) {
    // A separator that starts with a space (` · `, ` `) is dropped at a line break; `, ` and
    // `; ` keep their punctuation.
    let line_end = if sep.starts_with(' ') {
        ""
    } else {
        sep.trim_end()
    };
    let width = |s: &str| s.chars().count();
    let mut line = label.to_string();
    for (i, item) in items.iter().enumerate() {
        if i == 0 {
            line.push_str(item);
        } else if width(&line) + width(sep) + width(item) <= WIDTH {
            line.push_str(sep);
            line.push_str(item);
        } else {
            let _ = writeln!(out, "{line}{line_end}");
            line = format!("{}{item}", " ".repeat(indent));
        }
    }
    let _ = writeln!(out, "{line}");
}

/// `text` after `label`, wrapped at word boundaries.
fn wrapped_words(out: &mut String, label: &str, text: &str, indent: usize) {
    let words: Vec<String> = text.split(' ').map(str::to_string).collect();
    wrapped(out, label, &words, " ", indent);
}

/// A number as Rust prints it (`1`, `0.1`), or `?` when not recorded.
fn num(x: Option<f64>) -> String {
    x.map_or_else(|| "?".to_string(), |x| format!("{x}"))
}

/// A count, or `?` when not recorded.
fn count(x: Option<u64>) -> String {
    x.map_or_else(|| "?".to_string(), |x| x.to_string())
}

/// A string, or `?` when not recorded.
fn text(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("?")
}

/// The scalar entries of a device's free-form `details`, as `key=value`, nested objects
/// flattened with dotted keys (`adapter.driver`), lists of scalars joined by `, `; lists of
/// anything else are counted.
fn detail_items(prefix: &str, v: &Value, out: &mut Vec<String>) {
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "yes" } else { "no" }.to_string()),
        Value::Null => Some("none".to_string()),
        _ => None,
    };
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                detail_items(&key, x, out);
            }
        }
        Value::Array(items) => {
            let scalars: Option<Vec<String>> = items.iter().map(scalar).collect();
            match scalars {
                Some(s) => out.push(format!("{prefix}={}", s.join(", "))),
                None => out.push(format!("{prefix}=({} entries)", items.len())),
            }
        }
        Value::String(s) if s.is_empty() => {}
        other => out.push(format!("{prefix}={}", scalar(other).unwrap_or_default())),
    }
}

fn device_lines(out: &mut String, d: &DeviceRecord) {
    let mut host = Vec::new();
    if let Some(m) = &d.cpu_model {
        if d.name.as_ref() != Some(m) {
            host.push(format!("host {m}"));
        }
    }
    if let Some(n) = d.cpu_count {
        host.push(format!("{n} CPUs"));
    }
    if let Some(gb) = d.total_memory_gb.filter(|x| x.is_finite()) {
        host.push(format!("{gb:.1} GB memory"));
    }
    let name = d.name.as_deref().unwrap_or("unnamed");
    let _ = writeln!(
        out,
        "  Device:    {name}{}{}",
        if host.is_empty() { "" } else { ", " },
        host.join(", ")
    );
    if let Some(details) = &d.details {
        let mut items = Vec::new();
        detail_items("", details, &mut items);
        if !items.is_empty() {
            wrapped(out, "  Details:   ", &items, " · ", LABEL);
        }
    }
}

/// `332.3 GFLOPS, estimated: 2 cores × …` / `bandwidth unknown: not derivable …`.
fn peak_text(p: &Peak, unit: &str, what: &str) -> String {
    let value = match p.value {
        Some(v) if v.is_finite() && v > 0.0 => format!("{v:.1} {unit}"),
        _ => format!("{what} unknown"),
    };
    match (p.source.as_deref(), p.how.as_deref()) {
        (Some("unknown") | None, Some(how)) => format!("{value}: {how}"),
        (Some(source), Some(how)) => format!("{value}, {source}: {how}"),
        (Some(source), None) => format!("{value}, {source}"),
        (None, None) => value,
    }
}

fn crossover_lines(out: &mut String, c: &SweepCrossovers) {
    let Some(sizes) = &c.sizes else { return };
    let _ = writeln!(
        out,
        "  Crossovers: fusion pays (≥ {}×) from this size on, for good (–: at none of the sizes swept):",
        num(c.threshold)
    );
    let width = sizes.keys().map(|p| p.chars().count()).max().unwrap_or(0);
    for (pattern, axes) in sizes {
        let per_axis: Vec<String> = axes
            .iter()
            .map(|(axis, size)| match size {
                Some(s) if s.is_finite() => format!("{axis} ≈{s:.0}"),
                _ => format!("{axis} –"),
            })
            .collect();
        let pad = width - pattern.chars().count();
        let _ = writeln!(
            out,
            "    {pattern}{}  {}",
            " ".repeat(pad),
            per_axis.join(", ")
        );
    }
}

/// The preflight as a heading with its result and a table of the checks.
fn preflight_table(out: &mut String, p: &Preflight) {
    let result = match p.outcome() {
        Outcome::Failed { failed, forced: true } => format!("FAILED ({failed} failed), calibrated anyway: results are flagged as not representative of this hardware"),
        Outcome::Failed { failed, .. } => format!("FAILED ({failed} failed)"),
        Outcome::Warned(warnings) => format!("passed with {warnings} warning(s)"),
        Outcome::Passed => "passed".to_string(),
    };
    let _ = writeln!(out, "\nPreflight ({}): {result}", p.timestamp);
    if p.checks.is_empty() {
        return;
    }
    let mut table = new_table(vec!["Check", "Current", "Expected"]);
    for c in &p.checks {
        table.add_row(vec![
            format!("{} {}: {}", c.status.symbol(), c.name, c.message),
            c.current_value.clone().unwrap_or_default(),
            c.expected_value.clone().unwrap_or_default(),
        ]);
    }
    write_indented(out, &mut table, 0..0);
}

/// hwcal's run record in words: how it was run (backend, device, threads, timing), the peaks
/// and how they were found, how it was sampled, how precise its figures are, whether it was
/// interrupted, whether the machine drifted, its failures, the sweep crossovers, and its
/// preflight as a table. `raw` is the object `info` was read from: keys it holds that are not
/// shown are named (`Also kept`), and so are values hwcal cannot read.
pub(super) fn run_block(out: &mut String, info: &RunInfo, raw: &JsonMap) {
    let _ = writeln!(out, "\nRun (hwcal):");
    let pinned = if info.threads_pinned == Some(true) {
        " (pinned)"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "  backend {} · preset {} · {} threads{pinned} · timing {} · hwcal {}",
        text(&info.backend),
        text(&info.preset),
        count(info.threads),
        text(&info.timing_method),
        text(&info.tool_version)
    );
    if let Some(d) = &info.device {
        device_lines(out, d);
    }
    if let Some(policy) = &info.timing_policy {
        wrapped_words(out, "  Timing:    ", policy, LABEL);
    }
    if let Some(p) = &info.peaks {
        let mut label = "  Peaks:     ";
        for (peak, unit, what) in [
            (&p.gflops, "GFLOPS", "GFLOPS"),
            (&p.bandwidth_gbps, "GB/s", "bandwidth"),
        ] {
            if let Some(peak) = peak {
                wrapped_words(out, label, &peak_text(peak, unit, what), LABEL + 2);
                label = "             ";
            }
        }
    }
    if let Some(s) = &info.sampling {
        let _ = writeln!(
            out,
            "  Sampling:  samples of ≥ {} ms, until the 95% interval is within ±{}% ({} to {} samples, at most {} s a point)",
            num(s.sample_floor_ms),
            num(s.target_half_width.map(|h| h * 100.0)),
            count(s.min_samples),
            count(s.max_samples),
            num(s.time_cap_s)
        );
    }
    if let Some(names) = &info.imprecise {
        if names.is_empty() {
            let _ = writeln!(out, "  Precision: every figure reached its target");
        } else {
            let label = format!(
                "  Precision: {} figure(s) stopped short of the target (time cap or interruption): ",
                names.len()
            );
            wrapped(out, &label, names, ", ", LABEL);
        }
    }
    if let Some(i) = &info.interrupted {
        let cut = i.cut_short.as_ref().map_or(0, Vec::len);
        let missing = i.not_measured.clone().unwrap_or_default();
        let _ = writeln!(
            out,
            "  Interrupted: at {}; {cut} measurement(s) cut short and kept with the precision they reached, {} not measured{}",
            text(&i.at),
            missing.len(),
            if missing.is_empty() {
                String::new()
            } else {
                format!(": {}", crate::text::list(&missing, 8))
            }
        );
    }
    if let Some(d) = &info.drift {
        let pct = |x: Option<f64>| x.unwrap_or(f64::NAN) * 100.0;
        let readings = d.readings.as_ref().map_or(0, Vec::len);
        let canary = d.canary.as_deref().unwrap_or_default();
        if d.drifted == Some(true) {
            // One line, as the verdict it is.
            let _ = writeln!(
                out,
                "  Drift:     the canary ({canary}) moved up to {:.1}% (tolerance ±{:.1}%); next to a move: {}",
                pct(d.max_deviation),
                pct(d.tolerance),
                d.affected.as_deref().unwrap_or(&[]).join(", ")
            );
        } else {
            let _ = writeln!(
                out,
                "  Drift:     none; the canary ({canary}) stayed within ±{:.1}% over {readings} readings (largest move {:.1}%)",
                pct(d.tolerance),
                pct(d.max_deviation)
            );
        }
    }
    if let Some(f) = &info.failures {
        if !f.is_empty() {
            let _ = writeln!(out, "  Failures:  {}", f.len());
            for e in f {
                let _ = writeln!(out, "    {e}");
            }
        }
    }
    if let Some(c) = &info.sweep_crossovers {
        crossover_lines(out, c);
    }
    let mut kept = Vec::new();
    if let Some(samples) = &info.samples {
        let n: usize = samples
            .values()
            .flat_map(|variants| variants.values())
            .map(|s| s.ms_per_iteration.as_ref().map_or(0, Vec::len))
            .sum();
        kept.push(format!(
            "samples (every sample of {} measurement(s), {n} in all)",
            samples.len()
        ));
    }
    kept.extend(info.other.keys().cloned());
    if !kept.is_empty() {
        wrapped(out, "  Also kept: ", &kept, ", ", LABEL);
    }
    let unread: Vec<String> = info
        .unread_keys(raw)
        .into_iter()
        .filter(|k| k != "preflight")
        .map(|k| match raw.get(&k) {
            Some(v) => format!("{k} ({})", kind_of(v)),
            None => k,
        })
        .collect();
    if !unread.is_empty() {
        wrapped(
            out,
            "  Not read (kept as they are, in a form hwcal cannot read): ",
            &unread,
            ", ",
            LABEL,
        );
    }
    match (&info.preflight, raw.get("preflight")) {
        (Some(p), _) => preflight_table(out, p),
        (None, Some(_)) => {
            let _ = writeln!(out, "\nPreflight: recorded in a form hwcal cannot read");
        }
        (None, None) => {}
    }
}

/// The `hwcal` key when it is not an object: named, never printed.
pub(super) fn unreadable_run_block(out: &mut String, v: &Value) {
    let _ = writeln!(
        out,
        "\nRun (hwcal): recorded in a form hwcal cannot read ({})",
        kind_of(v)
    );
}

/// The statistics hwcal keeps per operation profile, as a table: median latency, the 95%
/// interval of the figure (GB/s for STREAM, GFLOPS for matmul), CV, samples and precision.
pub(super) fn operation_statistics_table(out: &mut String, info: &RunInfo) {
    let Some(stats) = info.operation_statistics.as_ref().filter(|s| !s.is_empty()) else {
        return;
    };
    let _ = writeln!(out, "\nOperation statistics (hwcal, {}):", stats.len());
    let mut table = new_table(vec![
        "Operation",
        "Median ms",
        "95% CI of the figure",
        "CV",
        "n",
        "Precision",
    ]);
    let dash = || "-".to_string();
    for (key, s) in stats {
        let l = &s.latency;
        let finite = |ci: Option<[f64; 2]>| ci.filter(|[lo, hi]| lo.is_finite() && hi.is_finite());
        let ci = match (finite(s.median_bandwidth_gbps_ci95), finite(s.gflops_ci95)) {
            (Some([lo, hi]), _) => format!("{lo:.1}–{hi:.1} GB/s"),
            (None, Some([lo, hi])) => format!("{lo:.1}–{hi:.1} GFLOPS"),
            (None, None) => dash(),
        };
        let cv = l.cv.filter(|c| c.is_finite()).map_or_else(dash, |c| {
            let noisy = if l.noisy == Some(true) { " noisy" } else { "" };
            format!("{:.1}%{noisy}", c * 100.0)
        });
        let precision = s
            .precision
            .as_ref()
            .and_then(|p| {
                let hw = p.half_width.filter(|h| h.is_finite())?;
                let missed = match (p.imprecise, p.target_half_width) {
                    (Some(true), Some(t)) => format!(" (target ±{}%)", t * 100.0),
                    _ => String::new(),
                };
                Some(format!("±{:.1}%{missed}", hw * 100.0))
            })
            .unwrap_or_else(dash);
        table.add_row(vec![
            key.clone(),
            l.median_ms
                .filter(|m| m.is_finite())
                .map_or_else(dash, |m| format!("{m:.3}")),
            ci,
            cv,
            l.n.map_or_else(dash, |n| n.to_string()),
            precision,
        ]);
    }
    write_indented(out, &mut table, 1..6);
}
/// A table in the style of `hwcal show`'s tables, with `header`.
pub(super) fn new_table(header: Vec<&str>) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::UTF8_FULL_CONDENSED);
    table.set_header(header);
    table
}

/// Writes `table` indented by two spaces, its columns `right` aligned right (the figures).
pub(super) fn write_indented(out: &mut String, table: &mut Table, right: std::ops::Range<usize>) {
    for i in right {
        if let Some(col) = table.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    for line in table.to_string().lines() {
        let _ = writeln!(out, "  {line}");
    }
}
