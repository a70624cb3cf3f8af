//! Speedup against size along one sweep axis, one line per profile.

use super::{
    color, compact, err, legend, log_plottable, text_style, value_text, Chart, Result, FONT,
    MAX_DECADES, PAYS_GREEN,
};
use crate::analysis::crossover;
use crate::analysis::PAYS_THRESHOLD;
use crate::profile::limits::SPEEDUP;
use crate::report::analyse::{Comparison, SweepChart};
use crate::report::sweep::{crossover_text, size_text};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

/// Speedup against size along one sweep axis, one line per profile, with the 1.0 and 1.1
/// lines and each profile's break-even size marked.
///
/// Only points with a [`log_plottable`] size and a speedup in [`SPEEDUP`] are drawn, and only
/// the top [`MAX_DECADES`] decades of sizes; the rest are listed in [`Chart::left_out`] (a NaN
/// speedup, not measured, is skipped silently). Break-even sizes are those of the drawn points.
pub fn sweep_chart(cmp: &Comparison, sweep: &SweepChart) -> Result<Chart> {
    let what = "sweep";
    let mut left_out = Vec::new();
    let valid = |&(size, speedup): &(f64, f64)| log_plottable(size) && SPEEDUP.allows(speedup);
    let hi = sweep
        .series
        .iter()
        .flat_map(|s| s.points.iter().filter(|p| valid(p)))
        .map(|p| p.0)
        .fold(0.0, f64::max);
    let floor = hi / 10f64.powi(MAX_DECADES);
    // Per series: the points drawn, in size order.
    let drawn: Vec<Vec<(f64, f64)>> = sweep
        .series
        .iter()
        .map(|s| {
            let mut pts = Vec::new();
            for &pt in &s.points {
                let not_measured = pt.1.is_nan() && pt.0.is_finite();
                if valid(&pt) && pt.0 >= floor {
                    pts.push(pt);
                } else if !not_measured {
                    let why = if valid(&pt) {
                        "outside the axes"
                    } else {
                        "invalid"
                    };
                    left_out.push(format!(
                        "{} {} {}={}: speedup {} ({why})",
                        cmp.profiles[s.profile].key,
                        sweep.pattern,
                        sweep.axis,
                        value_text(pt.0),
                        value_text(pt.1)
                    ));
                }
            }
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            pts
        })
        .collect();
    let all: Vec<(f64, f64)> = drawn.iter().flatten().copied().collect();
    let lo = all.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let (lo, hi) = if lo.is_finite() && hi > 0.0 {
        (lo, hi)
    } else {
        (1.0, 2.0)
    };
    let (x0, x1) = (lo / 1.25, (hi * 1.25).max(lo * 2.0));
    let ymax = all.iter().map(|p| p.1).fold(1.25_f64, f64::max) * 1.12;
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
            .zip(&drawn)
            .map(|(s, pts)| {
                let p = &cmp.profiles[s.profile];
                let be = crossover_text(&sweep.axis, pts, 1.0);
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
        for (s, pts) in sweep.series.iter().zip(&drawn) {
            let c = color(s.profile);
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
            if let Some(x) = crossover(pts, 1.0).filter(|x| *x > smallest) {
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
            format!("{PAYS_THRESHOLD} pays"),
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
        left_out,
    })
}
