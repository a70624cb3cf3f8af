//! Rendering a plan (and its verification) as a terminal table or JSON. Reads results only.
//!
//! Every name that comes from a graph or a profile (node ids, operators, the graph's and the
//! hardware's names, reasons and notes quoting them) goes through [`crate::text::printable`]
//! (ids and names are also cut, [`crate::text::truncated`]) before it reaches the terminal, and
//! the finished text once more line by line, so no control character (ESC, BEL, CR) is ever
//! printed. JSON keeps the names as they are (serde escapes control characters). `plan` has no
//! markdown output.

use super::planner::{Candidate, ChainPlan, Plan};
use super::threshold::ThresholdAdvice;
use super::verify::{Verdict, Verification};
use crate::pattern::Shape;
use crate::text::{self, printable, truncated};
use comfy_table::{presets, CellAlignment, ContentArrangement, Table};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// How the threshold was chosen, for the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ThresholdChoice {
    /// The threshold used.
    pub value: f64,
    /// `given` (`--threshold`) or `recommended` (from the profile's noise).
    pub source: &'static str,
    /// The recommendation, whether used or not.
    pub recommended: ThresholdAdvice,
}

/// Everything `hwcal plan` reports; `--format json` writes it as is.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlanReport {
    /// Graph file.
    pub graph_file: String,
    /// Profile file.
    pub profile_file: String,
    /// How the threshold was chosen.
    pub threshold: ThresholdChoice,
    /// The plan.
    pub plan: Plan,
    /// Measurements of `--verify`.
    pub verify: Option<Verification>,
    /// Notes (e.g. the profile comes from another backend than the one verifying).
    pub notes: Vec<String>,
}

/// Shape label with the conv kernel geometry: `B=1, 256→64, 56×56, 1×1/s1/p0`.
pub fn shape_text(shape: &Option<Shape>) -> String {
    match shape {
        None => "-".into(),
        Some(
            s @ Shape::Conv {
                kernel,
                stride,
                padding,
                ..
            },
        ) => format!("{}, {kernel}×{kernel}/s{stride}/p{padding}", s.label()),
        Some(s) => s.label(),
    }
}

fn ms(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        "-".into()
    }
}

fn ratio(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.2}×")
    } else {
        "-".into()
    }
}

/// The chain's node ids in a line ([`crate::text::chain`]).
fn nodes_text(c: &Candidate) -> String {
    crate::text::chain(&c.nodes)
}

fn new_table(header: Vec<&str>) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED);
    t.set_content_arrangement(ContentArrangement::Dynamic);
    if t.width().is_none() {
        t.set_width(160);
    }
    t.set_header(header);
    t
}

impl PlanReport {
    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the report serializes")
    }

    /// The report as text: the groups table, totals, unmodelled operators, and the
    /// verification table when there is one.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let p = &self.plan;
        let _ = writeln!(
            out,
            "Fusion plan for {} on {} (profile {})",
            truncated(&p.graph),
            truncated(&p.hardware),
            printable(&self.profile_file)
        );
        let th = &self.threshold;
        let _ = match th.source {
            "given" => writeln!(
                out,
                "threshold {:.2} (--threshold; the profile's noise recommends {})",
                th.value, th.recommended.rule
            ),
            _ => writeln!(out, "threshold {}", th.recommended.rule),
        };
        for (label, text) in [("graph", &p.description), ("source", &p.source)] {
            if let Some(t) = text {
                let _ = writeln!(out, "{label}: {}", printable(t));
            }
        }
        for note in &self.notes {
            let _ = writeln!(out, "note: {}", printable(note));
        }
        let _ = writeln!(out);
        if p.groups.is_empty() {
            let _ = writeln!(out, "no chain of this graph forms a calibrated pattern");
        } else {
            let mut t = new_table(vec![
                "#",
                "chain",
                "nodes",
                "pattern",
                "shape",
                "unfused ms",
                "fused ms",
                "speedup",
                "decision",
                "reason",
            ]);
            for (i, g) in p.groups.iter().enumerate() {
                let c = &g.candidate;
                t.add_row(vec![
                    (i + 1).to_string(),
                    (g.chain + 1).to_string(),
                    nodes_text(c),
                    c.pattern.name().to_string(),
                    shape_text(&c.shape),
                    ms(c.prediction.unfused_ms),
                    ms(c.prediction.fused_ms),
                    ratio(c.prediction.speedup),
                    if g.fused { "FUSE" } else { "keep" }.to_string(),
                    printable(&g.reason).into_owned(),
                ]);
            }
            for i in [0, 1, 5, 6, 7] {
                if let Some(col) = t.column_mut(i) {
                    col.set_cell_alignment(CellAlignment::Right);
                }
            }
            let _ = writeln!(out, "{t}");
        }
        let weighed: Vec<(usize, &ChainPlan)> = p
            .chains
            .iter()
            .enumerate()
            .filter(|(_, c)| c.groups.len() > 1)
            .collect();
        if !weighed.is_empty() {
            let _ = writeln!(
                out,
                "Alternatives weighed (predicted chain totals, fastest first):"
            );
            for (i, c) in weighed {
                out.push_str(&alternatives_text(p, i, c));
            }
            let _ = writeln!(out);
        }
        let tot = &p.totals;
        let fused = p.groups.iter().filter(|g| g.fused).count();
        let _ = writeln!(
            out,
            "{fused} of {} candidates fused in {} chains. Predicted time of the {} chains with data: {} ms unfused → {} ms planned ({})",
            p.groups.len(),
            p.chains.len(),
            tot.chains,
            ms(tot.unfused_ms),
            ms(tot.planned_ms),
            ratio(tot.speedup)
        );
        if tot.chains_without_data > 0 {
            let _ = writeln!(
                out,
                "{} chains without data are left out of the totals and not fused",
                tot.chains_without_data
            );
        }
        if !p.unmodeled.is_empty() {
            let mut by_op: BTreeMap<&str, usize> = BTreeMap::new();
            for u in &p.unmodeled {
                *by_op.entry(u.op.as_str()).or_default() += 1;
            }
            let list = by_op
                .iter()
                .map(|(op, n)| format!("{} ×{n}", truncated(op)));
            let _ = writeln!(
                out,
                "In no candidate (no calibrated pattern), run as they are: {}",
                text::list(list, 20)
            );
        }
        if let Some(v) = &self.verify {
            out.push('\n');
            out.push_str(&verification_text(v, p));
        }
        crate::text::printable_lines(&out).into_owned()
    }
}

/// The alternatives of chain `i`: one line each, `→` marking the chosen.
fn alternatives_text(p: &Plan, i: usize, c: &ChainPlan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  chain {} ({}): {} ms unfused",
        i + 1,
        text::chain(&c.nodes),
        ms(c.unfused_ms)
    );
    for a in &c.alternatives {
        let mut parts: Vec<String> = a
            .fused
            .iter()
            .filter_map(|&g| p.groups.get(g))
            .map(|g| {
                let cand = &g.candidate;
                format!("{} [{}]", cand.pattern.name(), nodes_text(cand))
            })
            .collect();
        if parts.is_empty() {
            parts.push("nothing fused".into());
        }
        let mut line = parts.join(" + ");
        if !a.fused.is_empty() && !a.unfused_nodes.is_empty() {
            line.push_str(&format!(", {} unfused", text::list(&a.unfused_nodes, 6)));
        }
        let _ = writeln!(
            out,
            "    {} {:>9} ms  {line}{}",
            if a.chosen { "→" } else { " " },
            ms(a.total_ms),
            if a.chosen { "  (chosen)" } else { "" }
        );
    }
    if c.alternatives_left_out > 0 {
        let _ = writeln!(
            out,
            "      … and {} more alternatives",
            c.alternatives_left_out
        );
    }
    out
}

fn verification_text(v: &Verification, p: &Plan) -> String {
    let threshold = p.threshold;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Verification on {} ({}), at least {} paired samples each; threshold {:.2}",
        printable(&v.backend),
        truncated(&v.device),
        v.trials,
        threshold
    );
    let mut t = new_table(vec![
        "#",
        "chain",
        "pattern",
        "shape",
        "decision",
        "predicted",
        "measured [95% CI]",
        "unfused / fused ms",
        "verdict",
    ]);
    for c in &v.checks {
        let decision = if c.fused { "fused" } else { "not fused" };
        let (measured, times) = match &c.measured {
            Some(m) => (
                format!("{} [{:.2}–{:.2}]", ratio(m.speedup), m.ci95.0, m.ci95.1),
                format!("{} / {}", ms(m.unfused_ms), ms(m.fused_ms)),
            ),
            None => (
                c.detail
                    .as_deref()
                    .map_or_else(|| "-".into(), |d| printable(d).into_owned()),
                "-".to_string(),
            ),
        };
        let chain = p
            .groups
            .get(c.group)
            .map_or("-".into(), |g| (g.chain + 1).to_string());
        t.add_row(vec![
            (c.group + 1).to_string(),
            chain,
            c.candidate.pattern.name().to_string(),
            shape_text(&c.candidate.shape),
            decision.to_string(),
            ratio(c.candidate.prediction.speedup),
            measured,
            times,
            c.verdict.label().to_string(),
        ]);
    }
    for i in [0, 1, 5] {
        if let Some(col) = t.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    let _ = writeln!(out, "{t}");
    for c in v.chains.iter().filter(|c| c.detail.is_some()) {
        let _ = writeln!(
            out,
            "chain {}: {}: {}",
            c.chain + 1,
            c.verdict.label(),
            printable(c.detail.as_deref().unwrap_or_default())
        );
    }
    let measured = v.chains.len() - v.count(Verdict::NotMeasured) - v.count(Verdict::NotVerified);
    let _ = writeln!(
        out,
        "decisions of {measured} measured chains: {} right, {} within noise, {} wrong{}{}",
        v.count(Verdict::Right),
        v.count(Verdict::WithinNoise),
        v.count(Verdict::Wrong),
        match v.count(Verdict::Failed) {
            0 => String::new(),
            n => format!(", {n} failed to measure"),
        },
        match v.count(Verdict::NotVerified) {
            0 => String::new(),
            n => format!("; {n} not verified (too large or not runnable)"),
        }
    );
    if v.was_interrupted {
        let _ = writeln!(out, "{}", interruption_line(v));
    }
    out
}

/// The line saying which groups an interruption left unverified.
pub fn interruption_line(v: &Verification) -> String {
    if v.interrupted.is_empty() {
        return "interrupted: every group was verified before the interruption".into();
    }
    let g = &v.interrupted;
    let (first, last) = (g[0] + 1, g[g.len() - 1] + 1);
    let which = if g.len() == 1 {
        format!("group {first}")
    } else if last - first + 1 == g.len() {
        format!("groups {first}–{last}")
    } else {
        format!(
            "groups {}",
            text::list(g.iter().map(|i| (i + 1).to_string()), 12)
        )
    };
    format!("interrupted: {which} not verified because of the interruption")
}
