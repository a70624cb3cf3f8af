//! Measured against theoretical peak per precision per profile: horizontal grouped bars on a
//! log axis, a filled bar for the best measured peak (the best matmul where no peak was
//! measured) and an outlined bar for the theoretical peak.

use super::{
    color, compact, decade_range, err, legend, log_plottable, text_style, value_text, within,
    Chart, Result, FONT, GREY,
};
use crate::report::analyse::Comparison;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

/// The precision chart; `None` when no profile has precisions.
///
/// A value that cannot be placed on the log axis ([`log_plottable`]) is not drawn and is
/// listed in [`Chart::left_out`].
pub fn precision_chart(cmp: &Comparison) -> Result<Option<Chart>> {
    let mut names: Vec<String> = Vec::new();
    for p in &cmp.profiles {
        for f in &p.precisions {
            if !names.contains(&f.precision) {
                names.push(f.precision.clone());
            }
        }
    }
    if names.is_empty() {
        return Ok(None);
    }
    let d = cmp.profiles.len();
    // Per profile, per precision: (measured, theoretical).
    let figure = |i: usize, name: &str| {
        cmp.profiles[i]
            .precisions
            .iter()
            .find(|f| f.precision == name)
            .map(|f| (f.peak_gops.or(f.matmul_gops), f.theoretical_gops))
    };
    let values: Vec<f64> = (0..d)
        .flat_map(|i| names.iter().filter_map(move |n| figure(i, n)))
        .flat_map(|(m, t)| [m, t])
        .flatten()
        .filter(|x| log_plottable(*x))
        .collect();
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (xmin, xmax) = decade_range(lo, hi, 2);
    let gap = 1.2;
    let group = d as f64 + gap;
    let total = names.len() as f64 * group;
    let legend_h = 18 * d as i32 + 34;
    let (width, bar_px) = (1000u32, 18.0);
    let height = (total * bar_px).ceil() as u32 + legend_h as u32 + 70;
    let mut svg = String::new();
    let mut marks = 0;
    let mut left_out = Vec::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err("precision"))?;
        let mut entries: Vec<(RGBColor, String)> = cmp
            .profiles
            .iter()
            .enumerate()
            .map(|(i, p)| (color(i), format!("{}  {}", p.key, p.label)))
            .collect();
        entries.push((GREY, "outline: theoretical peak".into()));
        legend(&root, 190, 14, &entries)?;
        let area = root.margin(legend_h, 10, 10, 60);
        let mut chart = ChartBuilder::on(&area)
            .margin_left(120)
            .x_label_area_size(40)
            .build_cartesian_2d((xmin..xmax).log_scale(), 0.0..total)
            .map_err(err("precision"))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .disable_y_axis()
            .x_desc("G(FL)OPS: measured peak (filled; the best matmul where no peak was measured), theoretical (outline)")
            .x_label_formatter(&|x| compact(*x))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(err("precision"))?;
        let center = |g: usize, i: usize| total - (g as f64 * group + gap / 2.0 + i as f64 + 0.5);
        for (g, name) in names.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(xmin, center(g, 0) - (d as f64 - 1.0) / 2.0));
            root.draw(&Text::new(
                name.clone(),
                (px - 10, py),
                text_style(16.0, &BLACK, HPos::Right, VPos::Center),
            ))
            .map_err(err("precision"))?;
            for i in 0..d {
                let y = center(g, i);
                let (measured, theoretical) = figure(i, name).unwrap_or((None, None));
                let mut placed = |x: Option<f64>, what: &str| match x {
                    Some(x) if log_plottable(x) && within(x, (xmin, xmax)) => Some(x),
                    Some(x) => {
                        left_out.push(format!(
                            "{} {name}: {what} {}",
                            cmp.profiles[i].key,
                            value_text(x)
                        ));
                        None
                    }
                    None => None,
                };
                let (m, t) = (
                    placed(measured, "measured"),
                    placed(theoretical, "theoretical"),
                );
                if let Some(t) = t {
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(xmin, y - 0.42), (t, y + 0.42)],
                            color(i).stroke_width(2),
                        )))
                        .map_err(err("precision"))?;
                    marks += 1;
                }
                match m {
                    Some(m) => {
                        chart
                            .draw_series(std::iter::once(Rectangle::new(
                                [(xmin, y - 0.3), (m, y + 0.3)],
                                color(i).filled(),
                            )))
                            .map_err(err("precision"))?;
                        marks += 1;
                        let pct = t.map_or(String::new(), |t| format!(" ({:.0}%)", m / t * 100.0));
                        chart
                            .draw_series(std::iter::once(
                                EmptyElement::at((m.max(t.unwrap_or(m)), y))
                                    + Text::new(
                                        format!("{}{pct}", compact(m)),
                                        (4, 0),
                                        text_style(13.0, &BLACK, HPos::Left, VPos::Center),
                                    ),
                            ))
                            .map_err(err("precision"))?;
                    }
                    None => {
                        chart
                            .draw_series(std::iter::once(
                                EmptyElement::at((xmin, y))
                                    + Text::new(
                                        format!("{}: not measured", cmp.profiles[i].key),
                                        (4, 0),
                                        text_style(13.0, &GREY, HPos::Left, VPos::Center),
                                    ),
                            ))
                            .map_err(err("precision"))?;
                    }
                }
            }
        }
        root.present().map_err(err("precision"))?;
    }
    Ok(Some(Chart {
        id: "precisions".into(),
        title: "Measured and theoretical peak per precision".into(),
        svg,
        marks,
        left_out,
    }))
}
