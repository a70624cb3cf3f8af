//! Text renderings of the comparison: a terminal table (comfy-table) and GitHub markdown.

use super::analyse::Comparison;
use super::analyse::PAYS_THRESHOLD;
use super::rows::{sections, Section, FLIP_MARKER};
use super::sweep::crossover_text;
use comfy_table::{presets, CellAlignment, Table};
use std::fmt::Write as _;

fn heading(s: &Section) -> String {
    if s.flips {
        format!(
            "{}  {FLIP_MARKER}: the verdict differs between profiles",
            s.title
        )
    } else {
        s.title.clone()
    }
}

/// The terminal report: one table per section (profiles, speedup overview, each pattern,
/// hardware), plus the sweep crossovers when the profiles hold sweeps.
pub fn table(cmp: &Comparison) -> String {
    let mut out = String::new();
    for s in sections(cmp) {
        let _ = writeln!(out, "{}", heading(&s));
        if let Some(note) = &s.note {
            let _ = writeln!(out, "({note})");
        }
        let mut t = Table::new();
        t.load_preset(presets::UTF8_FULL_CONDENSED);
        t.set_header(s.header.clone());
        for row in &s.rows {
            t.add_row(row.iter().map(|c| c.text.clone()).collect::<Vec<_>>());
        }
        for (i, numeric) in s.numeric.iter().enumerate() {
            if *numeric {
                if let Some(col) = t.column_mut(i) {
                    col.set_cell_alignment(CellAlignment::Right);
                }
            }
        }
        let _ = writeln!(out, "{t}\n");
    }
    sweep_lines(cmp, &mut out, false);
    out
}

/// Escapes text for a markdown table cell.
fn md(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace(['\n', '\r'], " ")
}

/// The report as GitHub-flavoured markdown, for pasting into a pull request.
pub fn markdown(cmp: &Comparison) -> String {
    let mut out = String::new();
    let names: Vec<String> = cmp.profiles.iter().map(|p| md(&p.label)).collect();
    let _ = writeln!(out, "## hwcal compare: {}\n", names.join(" vs "));
    for s in sections(cmp) {
        let level = if s.kind == super::rows::Kind::Pattern {
            "####"
        } else {
            "###"
        };
        let _ = writeln!(out, "{level} {}\n", md(&heading(&s)));
        if let Some(note) = &s.note {
            let _ = writeln!(out, "_{}_\n", md(note));
        }
        let header: Vec<String> = s.header.iter().map(|h| md(h)).collect();
        let _ = writeln!(out, "| {} |", header.join(" | "));
        let rule: Vec<&str> = s
            .numeric
            .iter()
            .map(|n| if *n { "---:" } else { "---" })
            .collect();
        let _ = writeln!(out, "| {} |", rule.join(" | "));
        for row in &s.rows {
            let cells: Vec<String> = row
                .iter()
                .map(|c| {
                    let t = md(&c.text);
                    if c.tone == super::rows::Tone::Flip {
                        format!("**{t}**")
                    } else {
                        t
                    }
                })
                .collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        out.push('\n');
    }
    sweep_lines(cmp, &mut out, true);
    out
}

/// One line per swept pattern, axis and profile: where fused starts to win.
fn sweep_lines(cmp: &Comparison, out: &mut String, markdown: bool) {
    if cmp.sweeps.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "{}",
        if markdown {
            "### Size sweeps\n"
        } else {
            "Size sweeps (where fused starts to beat unfused for good)"
        }
    );
    for chart in &cmp.sweeps {
        for s in &chart.series {
            let p = &cmp.profiles[s.profile];
            let line = format!(
                "{} {} [{}]: {} points; fused ahead {}; pays (≥{PAYS_THRESHOLD}×) {}",
                chart.pattern,
                chart.axis,
                p.key,
                s.points.len(),
                crossover_text(&chart.axis, &s.points, 1.0),
                crossover_text(&chart.axis, &s.points, PAYS_THRESHOLD),
            );
            let _ = if markdown {
                writeln!(out, "- {}", md(&line))
            } else {
                writeln!(out, "  {line}")
            };
        }
    }
    out.push('\n');
}
