//! Fusion speedup per pattern per profile: horizontal grouped bars.

use super::{color, err, legend, text_style, value_text, Chart, Result, FONT, GREY, PAYS_GREEN};
use crate::analysis::PAYS_THRESHOLD;
use crate::profile::limits::SPEEDUP;
use crate::report::analyse::Comparison;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

/// Speedup per pattern per profile: horizontal grouped bars with the 1.0 and 1.1 lines.
/// `None` when no profile has a fusion pattern.
///
/// A speedup outside [`SPEEDUP`] (or not finite and not NaN) is not drawn: its bar reads
/// `invalid` and it is listed in [`Chart::left_out`]; a NaN one reads `not measured`. The axis
/// ends at 1.15 × the largest valid speedup, so it is finite and bounded.
pub fn speedup_chart(cmp: &Comparison) -> Result<Option<Chart>> {
    let rows: Vec<_> = cmp
        .patterns
        .iter()
        .filter(|r| r.cells.iter().any(Option::is_some))
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let d = cmp.profiles.len();
    let gap = 1.2;
    let group = d as f64 + gap;
    let total = rows.len() as f64 * group;
    let max = rows
        .iter()
        .flat_map(|r| r.cells.iter().flatten())
        .map(|c| c.speedup)
        .filter(|s| SPEEDUP.allows(*s))
        .fold(1.2_f64, f64::max);
    let xmax = (max * 1.15).max(1.3);
    let legend_h = 18 * d as i32 + 16;
    let (width, bar_px) = (1000u32, 15.0);
    let plot_h = (total * bar_px).ceil() as u32;
    let height = plot_h + legend_h as u32 + 70;
    let mut svg = String::new();
    let mut marks = 0;
    let mut left_out = Vec::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err("speedup"))?;
        let entries: Vec<(RGBColor, String)> = cmp
            .profiles
            .iter()
            .enumerate()
            .map(|(i, p)| (color(i), format!("{}  {}", p.key, p.label)))
            .collect();
        legend(&root, 190, 14, &entries)?;
        let area = root.margin(legend_h, 10, 10, 60);
        let mut chart = ChartBuilder::on(&area)
            .margin_left(180)
            .x_label_area_size(40)
            .build_cartesian_2d(0.0..xmax, 0.0..total)
            .map_err(err("speedup"))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .disable_y_axis()
            .max_light_lines(0)
            .x_desc("speedup (unfused ÷ fused latency)")
            .x_label_formatter(&|x| format!("{x:.1}×"))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(err("speedup"))?;
        let center = |g: usize, i: usize| total - (g as f64 * group + gap / 2.0 + i as f64 + 0.5);
        for (g, row) in rows.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(0.0, center(g, 0) - (d as f64 - 1.0) / 2.0));
            root.draw(&Text::new(
                row.pattern.clone(),
                (px - 10, py),
                text_style(16.0, &BLACK, HPos::Right, VPos::Center),
            ))
            .map_err(err("speedup"))?;
            for (i, cell) in row.cells.iter().enumerate() {
                let y = center(g, i);
                match cell {
                    Some(c) if SPEEDUP.allows(c.speedup) => {
                        chart
                            .draw_series(std::iter::once(Rectangle::new(
                                [(0.0, y - 0.42), (c.speedup, y + 0.42)],
                                color(i).filled(),
                            )))
                            .map_err(err("speedup"))?;
                        marks += 1;
                        chart
                            .draw_series(std::iter::once(
                                EmptyElement::at((c.speedup, y))
                                    + Text::new(
                                        format!("{:.2}×", c.speedup),
                                        (4, 0),
                                        text_style(13.0, &BLACK, HPos::Left, VPos::Center),
                                    ),
                            ))
                            .map_err(err("speedup"))?;
                    }
                    _ => {
                        let what = match cell {
                            None => "missing",
                            Some(c) if c.speedup.is_nan() => "not measured",
                            Some(c) => {
                                left_out.push(format!(
                                    "{} {}: speedup {} (invalid)",
                                    cmp.profiles[i].key,
                                    row.pattern,
                                    value_text(c.speedup)
                                ));
                                "invalid"
                            }
                        };
                        chart
                            .draw_series(std::iter::once(
                                EmptyElement::at((0.0, y))
                                    + Text::new(
                                        format!("{}: {what}", cmp.profiles[i].key),
                                        (4, 0),
                                        text_style(13.0, &GREY, HPos::Left, VPos::Center),
                                    ),
                            ))
                            .map_err(err("speedup"))?;
                    }
                }
            }
        }
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(1.0, 0.0), (1.0, total)],
                BLACK.stroke_width(2),
            )))
            .map_err(err("speedup"))?;
        chart
            .draw_series(std::iter::once(DashedPathElement::new(
                vec![(PAYS_THRESHOLD, 0.0), (PAYS_THRESHOLD, total)],
                6,
                4,
                PAYS_GREEN.stroke_width(2),
            )))
            .map_err(err("speedup"))?;
        marks += 2;
        let pays = format!("{PAYS_THRESHOLD} pays");
        for (x, label, anchor, dx, c) in [
            (1.0, "1.0", HPos::Right, -3, BLACK),
            (PAYS_THRESHOLD, pays.as_str(), HPos::Left, 3, PAYS_GREEN),
        ] {
            let (px, py) = chart.backend_coord(&(x, total));
            root.draw(&Text::new(
                label,
                (px + dx, py - 8),
                text_style(13.0, &c, anchor, VPos::Bottom),
            ))
            .map_err(err("speedup"))?;
        }
        root.present().map_err(err("speedup"))?;
    }
    Ok(Some(Chart {
        id: "speedup".into(),
        title: "Fusion speedup per pattern".into(),
        svg,
        marks,
        left_out,
    }))
}
