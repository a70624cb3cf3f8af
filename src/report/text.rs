//! Text renderings of the comparison: a terminal table (comfy-table) and GitHub markdown.
//!
//! Names read from profiles (hardware names, pattern names, devices, files, sweep axes) may
//! hold anything. The terminal table shows every text through [`crate::text::printable`], so no
//! ESC or BEL reaches the terminal; markdown shows names through [`crate::text::markdown`], so a
//! `[x](javascript:…)` renders as the text it is, and hwcal's own text through `md`.

use super::analyse::Comparison;
use super::rows::{sections, Cell, Kind, Section, Tone, FLIP_MARKER};
use super::sweep::crossover_text;
use crate::analysis::PAYS_THRESHOLD;
use crate::text::printable;
use comfy_table::{presets, CellAlignment, Table};
use std::fmt::Write as _;

/// The heading of a section, its title (a pattern's name for pattern sections) passed through
/// `name`.
fn heading(s: &Section, name: impl Fn(&str) -> String) -> String {
    let title = if s.kind == Kind::Pattern {
        name(&s.title)
    } else {
        s.title.clone()
    };
    if s.flips {
        format!("{title}  {FLIP_MARKER}: the verdict differs between profiles")
    } else {
        title
    }
}

fn terminal(text: &str) -> String {
    printable(text).into_owned()
}

/// The terminal report: one table per section (profiles, speedup overview, each pattern,
/// hardware), plus the sweep crossovers when the profiles hold sweeps.
pub fn table(cmp: &Comparison) -> String {
    let mut out = String::new();
    for s in sections(cmp) {
        let _ = writeln!(out, "{}", terminal(&heading(&s, terminal)));
        if let Some(note) = &s.note {
            let _ = writeln!(out, "({})", terminal(note));
        }
        let mut t = Table::new();
        t.load_preset(presets::UTF8_FULL_CONDENSED);
        t.set_header(s.header.iter().map(|h| terminal(h)).collect::<Vec<_>>());
        for row in &s.rows {
            t.add_row(row.iter().map(|c| terminal(&c.text)).collect::<Vec<_>>());
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

/// Escapes hwcal's own text for a markdown table cell (names go through
/// [`crate::text::markdown`]).
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
    let names: Vec<String> = cmp
        .profiles
        .iter()
        .map(|p| crate::text::markdown(&p.label))
        .collect();
    let _ = writeln!(out, "## hwcal compare: {}\n", names.join(" vs "));
    for s in sections(cmp) {
        let level = if s.kind == super::rows::Kind::Pattern {
            "####"
        } else {
            "###"
        };
        let title = heading(&s, |name| format!("\u{0}{}\u{0}", printable(name)));
        let _ = writeln!(out, "{level} {}\n", md_mixed(&title));
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
                    let t = md_cell(c);
                    if c.tone == Tone::Flip {
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

/// A cell for markdown: a name from a file through [`crate::text::markdown`], hwcal's text
/// through [`md`].
fn md_cell(c: &Cell) -> String {
    if c.from_file {
        crate::text::markdown(&c.text)
    } else {
        md(&c.text)
    }
}

/// Markdown of text whose names are fenced by NUL characters (which [`crate::text::printable`]
/// turns into `?`, so a name cannot fake a fence): names through [`crate::text::markdown`], the
/// rest through [`md`].
fn md_mixed(text: &str) -> String {
    text.split('\u{0}')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                crate::text::markdown(part)
            } else {
                md(part)
            }
        })
        .collect()
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
    // Names (pattern, axis) are fenced by NULs, see md_mixed.
    let fence = |name: &str| format!("\u{0}{}\u{0}", printable(name));
    for chart in &cmp.sweeps {
        for s in &chart.series {
            let p = &cmp.profiles[s.profile];
            let axis = fence(&chart.axis);
            let line = format!(
                "{} {axis} [{}]: {} points; fused ahead {}; pays (≥{PAYS_THRESHOLD}×) {}",
                fence(&chart.pattern),
                p.key,
                s.points.len(),
                crossover_text(&axis, &s.points, 1.0),
                crossover_text(&axis, &s.points, PAYS_THRESHOLD),
            );
            let _ = if markdown {
                writeln!(out, "- {}", md_mixed(&line))
            } else {
                writeln!(out, "  {}", line.replace('\u{0}', ""))
            };
        }
    }
    out.push('\n');
}
