//! One roofline per profile: roofs and every measured fusion kernel, log-log.

use super::{
    color, compact, decade_range, err, log_plottable, text_style, value_text, within, Chart,
    Result, FONT, GREY,
};
use crate::report::analyse::{Comparison, KernelForm, KernelPoint};
use crate::report::rows::shape_text;
use crate::text::significant;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

/// The roofline of profile `index`: measured (solid) and theoretical (dashed) bandwidth and
/// compute roofs, and every measured kernel by arithmetic intensity and achieved GFLOPS,
/// log-log. `None` when the profile has neither roofs nor kernels.
///
/// A roof or kernel whose figures are not [`log_plottable`], or that falls outside the axes
/// (which span at most [`super::MAX_DECADES`] decades), is not drawn and is listed in
/// [`Chart::left_out`].
pub fn roofline_chart(cmp: &Comparison, index: usize) -> Result<Option<Chart>> {
    let p = &cmp.profiles[index];
    let mut left_out = Vec::new();
    let mut roof_value = |what: &str, x: Option<f64>| match x {
        Some(v) if log_plottable(v) => Some(v),
        Some(v) => {
            left_out.push(format!("{} {what} {} (invalid)", p.key, value_text(v)));
            None
        }
        None => None,
    };
    let bw = roof_value("measured bandwidth GB/s", p.measured_bandwidth_gbps);
    let peak = roof_value("measured GFLOPS", p.measured_gflops);
    let bw_theory = roof_value("theoretical bandwidth GB/s", p.theoretical_bandwidth_gbps);
    let peak_theory = roof_value("theoretical GFLOPS", p.theoretical_gflops);
    let kernel_text = |k: &KernelPoint| {
        format!(
            "{} {} {} ({}): intensity {}, GFLOPS {}",
            p.key,
            k.pattern,
            match k.variant {
                KernelForm::Unfused => "unfused",
                KernelForm::Fused => "fused",
            },
            shape_text(&k.input_shape),
            value_text(k.intensity),
            value_text(k.gflops)
        )
    };
    let (valid, invalid): (Vec<&KernelPoint>, Vec<&KernelPoint>) = p
        .kernels
        .iter()
        .partition(|k| log_plottable(k.intensity) && log_plottable(k.gflops));
    left_out.extend(
        invalid
            .iter()
            .map(|k| format!("{} (invalid)", kernel_text(k))),
    );
    if valid.is_empty() && bw.is_none() && peak.is_none() && left_out.is_empty() {
        return Ok(None);
    }
    let ridge = |bw: Option<f64>, peak: Option<f64>| match (bw, peak) {
        (Some(bw), Some(peak)) => Some(peak / bw).filter(|r| log_plottable(*r)),
        _ => None,
    };
    let mut xs: Vec<f64> = valid.iter().map(|k| k.intensity).collect();
    let mut ys: Vec<f64> = valid.iter().map(|k| k.gflops).collect();
    xs.extend(ridge(bw, peak));
    ys.extend(peak);
    ys.extend(peak_theory);
    xs.extend(ridge(bw_theory, peak_theory));
    if xs.is_empty() {
        xs.extend([0.1, 100.0]);
    }
    if ys.is_empty() {
        ys.extend(bw.map(|b| b * 0.1));
    }
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let (x0, x1) = decade_range(min(&xs) / 2.0, max(&xs) * 2.0, 3);
    let (y0, y1) = decade_range(min(&ys) / 2.0, max(&ys) * 2.0, 2);
    // What the axes (at most MAX_DECADES wide) cut off is listed, not drawn.
    let (points, outside): (Vec<&KernelPoint>, Vec<&KernelPoint>) = valid
        .into_iter()
        .partition(|k| within(k.intensity, (x0, x1)) && within(k.gflops, (y0, y1)));
    left_out.extend(
        outside
            .iter()
            .map(|k| format!("{} (outside the axes)", kernel_text(k))),
    );
    let mut on_axis = |what: &str, v: Option<f64>| match v {
        Some(v) if !within(v, (y0, y1)) => {
            left_out.push(format!(
                "{} {what} {} (outside the axes)",
                p.key,
                value_text(v)
            ));
            None
        }
        other => other,
    };
    let peak = on_axis("measured GFLOPS", peak);
    let peak_theory = on_axis("theoretical GFLOPS", peak_theory);
    let clip = |(x, y): (f64, f64)| (x.max(x0).min(x1), y.max(y0).min(y1));
    let patterns: Vec<&str> = cmp.patterns.iter().map(|r| r.pattern.as_str()).collect();
    let pattern_index = |name: &str| patterns.iter().position(|p| *p == name).unwrap_or(0);
    let present: Vec<usize> = {
        let mut v: Vec<usize> = points.iter().map(|k| pattern_index(&k.pattern)).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let (width, height) = (1000u32, 560u32);
    let mut svg = String::new();
    let mut marks = 0;
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err("roofline"))?;
        let (plot, side) = root.split_horizontally(760);
        let mut chart = ChartBuilder::on(&plot)
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(
                (x0 * 0.999..x1 * 1.001).log_scale(),
                (y0 * 0.999..y1 * 1.001).log_scale(),
            )
            .map_err(err("roofline"))?;
        chart
            .configure_mesh()
            .x_labels(8)
            .y_labels(8)
            .max_light_lines(0)
            .x_desc("arithmetic intensity (FLOP/byte)")
            .y_desc("achieved GFLOPS")
            .x_label_formatter(&|v| compact(*v))
            .y_label_formatter(&|v| compact(*v))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 15))
            .draw()
            .map_err(err("roofline"))?;
        // Roofs: y = min(bw·x, peak), clipped to the plot.
        let roof = |bw: Option<f64>, peak: Option<f64>| -> Vec<(f64, f64)> {
            let line = match (bw, peak) {
                (Some(bw), Some(peak)) => {
                    let start = x0.max(y0 / bw).min(x1);
                    let ridge = (peak / bw).max(start).min(x1);
                    vec![
                        (start, (bw * start).min(peak)),
                        (ridge, (bw * ridge).min(peak)),
                        (x1, peak),
                    ]
                }
                (Some(bw), None) => {
                    let start = x0.max(y0 / bw).min(x1);
                    let end = x1.min(y1 / bw).max(start);
                    vec![(start, bw * start), (end, bw * end)]
                }
                (None, Some(peak)) => vec![(x0, peak), (x1, peak)],
                (None, None) => vec![],
            };
            line.into_iter().map(clip).collect()
        };
        let theory = roof(bw_theory, peak_theory);
        if theory.len() > 1 {
            chart
                .draw_series(std::iter::once(DashedPathElement::new(
                    theory,
                    8,
                    5,
                    GREY.stroke_width(2),
                )))
                .map_err(err("roofline"))?
                .label("theoretical roof")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], GREY.stroke_width(2)));
        }
        let measured = roof(bw, peak);
        if measured.len() > 1 {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    measured,
                    BLACK.stroke_width(3),
                )))
                .map_err(err("roofline"))?;
            marks += 1;
        }
        if let Some(bw) = bw {
            // Above-left of the slope, halfway (in log) between its start and the ridge.
            let start = x0.max(y0 / bw).min(x1);
            let end = peak
                .map_or(x1.min(y1 / bw), |peak| (peak / bw).min(x1))
                .max(start);
            let x = (start * end).sqrt();
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at(clip((x, bw * x)))
                        + Text::new(
                            format!("{} GB/s", significant(bw, 3)),
                            (-8, -8),
                            text_style(14.0, &BLACK, HPos::Right, VPos::Bottom),
                        ),
                ))
                .map_err(err("roofline"))?;
        }
        if let Some(peak) = peak {
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at(clip((x1, peak)))
                        + Text::new(
                            format!("matmul {} GFLOPS", significant(peak, 3)),
                            (-6, 6),
                            text_style(14.0, &BLACK, HPos::Right, VPos::Top),
                        ),
                ))
                .map_err(err("roofline"))?;
        }
        // Kernels: a thin line from unfused to fused, hollow unfused, filled fused.
        for k in points.iter().filter(|k| k.variant == KernelForm::Unfused) {
            if let Some(f) = points.iter().find(|f| {
                f.variant == KernelForm::Fused
                    && f.pattern == k.pattern
                    && f.input_shape == k.input_shape
            }) {
                let c = color(pattern_index(&k.pattern));
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(k.intensity, k.gflops), (f.intensity, f.gflops)],
                        c.mix(0.6).stroke_width(1),
                    )))
                    .map_err(err("roofline"))?;
            }
        }
        for k in &points {
            let c = color(pattern_index(&k.pattern));
            let style = match k.variant {
                KernelForm::Unfused => WHITE.filled(),
                KernelForm::Fused => c.filled(),
            };
            chart
                .draw_series([
                    Circle::new((k.intensity, k.gflops), 5, style),
                    Circle::new((k.intensity, k.gflops), 5, c.stroke_width(2)),
                ])
                .map_err(err("roofline"))?;
            marks += 1;
        }
        // Legend on the right: patterns, markers, roofs.
        let mut y = 30;
        side.draw(&Text::new(
            "patterns",
            (10, y),
            text_style(15.0, &BLACK, HPos::Left, VPos::Center),
        ))
        .map_err(err("roofline"))?;
        for &i in &present {
            y += 20;
            side.draw(&Circle::new((16, y), 5, color(i).filled()))
                .map_err(err("roofline"))?;
            side.draw(&Text::new(
                patterns.get(i).copied().unwrap_or("?").to_string(),
                (28, y),
                text_style(14.0, &BLACK, HPos::Left, VPos::Center),
            ))
            .map_err(err("roofline"))?;
        }
        y += 34;
        let key: [(&str, ShapeStyle); 2] = [
            ("unfused", BLACK.stroke_width(2)),
            ("fused", BLACK.filled()),
        ];
        for (label, style) in key {
            side.draw(&Circle::new((16, y), 5, style))
                .map_err(err("roofline"))?;
            side.draw(&Text::new(
                label,
                (28, y),
                text_style(14.0, &BLACK, HPos::Left, VPos::Center),
            ))
            .map_err(err("roofline"))?;
            y += 20;
        }
        y += 14;
        side.draw(&PathElement::new(
            vec![(8, y), (24, y)],
            BLACK.stroke_width(3),
        ))
        .map_err(err("roofline"))?;
        side.draw(&Text::new(
            "measured roof",
            (28, y),
            text_style(14.0, &BLACK, HPos::Left, VPos::Center),
        ))
        .map_err(err("roofline"))?;
        y += 20;
        side.draw(&DashedPathElement::new(
            vec![(8, y), (24, y)],
            5,
            3,
            GREY.stroke_width(2),
        ))
        .map_err(err("roofline"))?;
        let theory_label = if bw_theory.is_some() || peak_theory.is_some() {
            "theoretical roof"
        } else {
            "theoretical: unknown"
        };
        side.draw(&Text::new(
            theory_label,
            (28, y),
            text_style(14.0, &GREY, HPos::Left, VPos::Center),
        ))
        .map_err(err("roofline"))?;
        if p.kernels.is_empty() {
            side.draw(&Text::new(
                "no fusion kernels measured",
                (10, y + 34),
                text_style(14.0, &GREY, HPos::Left, VPos::Center),
            ))
            .map_err(err("roofline"))?;
        }
        if !left_out.is_empty() {
            side.draw(&Text::new(
                format!("{} values not plotted (see below)", left_out.len()),
                (10, y + 54),
                text_style(14.0, &GREY, HPos::Left, VPos::Center),
            ))
            .map_err(err("roofline"))?;
        }
        root.present().map_err(err("roofline"))?;
    }
    Ok(Some(Chart {
        id: format!("roofline-{}", p.key),
        title: format!("Roofline: {} — {}", p.key, p.label),
        svg,
        marks,
        left_out,
    }))
}
