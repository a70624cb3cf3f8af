//! Speedup against size along one sweep axis, one line per profile.

use super::{color, compact, err, legend, text_style, Chart, Result, FONT, PAYS_GREEN};
use crate::report::analyse::{Comparison, SweepChart, PAYS_THRESHOLD};
use crate::report::sweep::{crossover_text, size_text};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

/// Speedup against size along one sweep axis, one line per profile, with the 1.0 and 1.1
/// lines and each profile's break-even size marked.
pub fn sweep_chart(cmp: &Comparison, sweep: &SweepChart) -> Result<Chart> {
    let what = "sweep";
    let all: Vec<(f64, f64)> = sweep
        .series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .collect();
    let sizes: Vec<f64> = all.iter().map(|p| p.0).filter(|x| *x > 0.0).collect();
    let lo = sizes.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = sizes.iter().copied().fold(0.0, f64::max);
    let (lo, hi) = if lo.is_finite() && hi > 0.0 {
        (lo, hi)
    } else {
        (1.0, 2.0)
    };
    let (x0, x1) = (lo / 1.25, (hi * 1.25).max(lo * 2.0));
    let ymax = all
        .iter()
        .map(|p| p.1)
        .filter(|s| s.is_finite())
        .fold(1.25_f64, f64::max)
        * 1.12;
    let legend_h = 18 * sweep.series.len() as i32 + 16;
    let (width, height) = (1000u32, 380 + legend_h as u32);
    let mut svg = String::new();
    let mut marks = 0;
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err(what))?;
        let entries: Vec<(RGBColor, String)> = sweep
            .series
            .iter()
            .map(|s| {
                let p = &cmp.profiles[s.profile];
                let be = crossover_text(&sweep.axis, &s.points, 1.0);
                (
                    color(s.profile),
                    format!("{}  {}: fused ahead {be}", p.key, p.label),
                )
            })
            .collect();
        legend(&root, 80, 14, &entries)?;
        let area = root.margin(legend_h, 10, 10, 20);
        let mut chart = ChartBuilder::on(&area)
            .margin(10)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d((x0..x1).log_scale().base(2.0), 0.0..ymax)
            .map_err(err(what))?;
        chart
            .configure_mesh()
            .x_labels(14)
            .max_light_lines(0)
            .x_desc(format!("{} (log scale)", sweep.axis))
            .y_desc("speedup (unfused ÷ fused)")
            .x_label_formatter(&|v| compact(*v))
            .y_label_formatter(&|v| format!("{v:.1}×"))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(err(what))?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x0, 1.0), (x1, 1.0)],
                BLACK.stroke_width(2),
            )))
            .map_err(err(what))?;
        chart
            .draw_series(std::iter::once(DashedPathElement::new(
                vec![(x0, PAYS_THRESHOLD), (x1, PAYS_THRESHOLD)],
                6,
                4,
                PAYS_GREEN.stroke_width(2),
            )))
            .map_err(err(what))?;
        marks += 2;
        for s in &sweep.series {
            let c = color(s.profile);
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|p| p.0 > 0.0 && p.1.is_finite())
                .collect();
            chart
                .draw_series(std::iter::once(PathElement::new(
                    pts.clone(),
                    c.stroke_width(3),
                )))
                .map_err(err(what))?;
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 5, c.filled())))
                .map_err(err(what))?;
            marks += 1 + pts.len();
            let smallest = pts.first().map_or(f64::INFINITY, |p| p.0);
            if let Some(x) = s.breakeven.filter(|x| *x > smallest) {
                chart
                    .draw_series(std::iter::once(DashedPathElement::new(
                        vec![(x, 0.0), (x, ymax)],
                        4,
                        4,
                        c.stroke_width(2),
                    )))
                    .map_err(err(what))?;
                chart
                    .draw_series(std::iter::once(Cross::new((x, 1.0), 7, c.stroke_width(3))))
                    .map_err(err(what))?;
                chart
                    .draw_series(std::iter::once(
                        EmptyElement::at((x, 0.0))
                            + Text::new(
                                format!(
                                    "{}: {}≈{}",
                                    cmp.profiles[s.profile].key,
                                    sweep.axis,
                                    size_text(x)
                                ),
                                (5, -6 - 18 * s.profile as i32),
                                text_style(13.0, &c, HPos::Left, VPos::Bottom),
                            ),
                    ))
                    .map_err(err(what))?;
                marks += 1;
            }
        }
        let (px, py) = chart.backend_coord(&(x1, PAYS_THRESHOLD));
        root.draw(&Text::new(
            "1.1 pays",
            (px - 4, py - 3),
            text_style(13.0, &PAYS_GREEN, HPos::Right, VPos::Bottom),
        ))
        .map_err(err(what))?;
        root.present().map_err(err(what))?;
    }
    Ok(Chart {
        id: format!("sweep-{}-{}", sweep.pattern, sweep.axis),
        title: format!("{}: speedup vs {}", sweep.pattern, sweep.axis),
        svg,
        marks,
    })
}
