//! The HTML report's charts, drawn with plotters' SVG backend into strings.
//!
//! plotters is built without its `ttf` feature: text sizes are estimated (its "naive" font
//! layout) and text is emitted as SVG `<text>` elements that the browser renders with its own
//! fonts, so drawing never needs a system font and never fails for want of one. plotters
//! escapes text and attribute values itself.
//!
//! - [`speedup_chart`]: fusion speedup per pattern per profile (grouped bars);
//! - [`roofline_chart`]: one roofline per profile, log-log;
//! - [`sweep_chart`]: speedup against size along a sweep axis.

mod roofline;
mod speedup;
mod sweep;

pub use roofline::roofline_chart;
pub use speedup::speedup_chart;
pub use sweep::sweep_chart;

use super::rows::significant;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One rendered chart.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Stable identifier (`speedup`, `roofline-A`, `sweep-FullAttention-S`).
    pub id: String,
    /// Heading shown above it.
    pub title: String,
    /// The `<svg>` element.
    pub svg: String,
    /// How many data marks (bars, points, lines) were drawn: the browser check requires at
    /// least this many drawn SVG shapes.
    pub marks: usize,
}

/// Colours for profiles and patterns (Tableau 10).
const PALETTE: [RGBColor; 10] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xed, 0xc9, 0x48),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0xff, 0x9d, 0xa7),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0xba, 0xb0, 0xac),
];

/// Colour of the `i`th profile or pattern.
pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// CSS hex of [`color`].
pub fn css_color(i: usize) -> String {
    let RGBColor(r, g, b) = color(i);
    format!("#{r:02x}{g:02x}{b:02x}")
}

pub(super) const GREY: RGBColor = RGBColor(0x88, 0x88, 0x88);
pub(super) const PAYS_GREEN: RGBColor = RGBColor(0x2e, 0x7d, 0x32);
pub(super) const FONT: &str = "sans-serif";

pub(super) type Result<T> = std::result::Result<T, String>;

pub(super) fn err<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> String + '_ {
    move |e| format!("drawing the {what} chart: {e}")
}

pub(super) fn text_style(size: f64, color: &RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle {
        font: (FONT, size).into_font(),
        color: color.to_backend_color(),
        pos: Pos::new(h, v),
    }
}

/// `0.01`, `1`, `250`, `4k`, `1.5M`: short labels for log axes.
pub(super) fn compact(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", significant(v / 1e6, 3))
    } else if a >= 1e4 {
        format!("{}k", significant(v / 1e3, 3))
    } else if a >= 1.0 {
        format!("{}", (v * 100.0).round() / 100.0)
    } else {
        let s = significant(v, 2);
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

/// Legend rows at the top of a chart: a colour swatch and a label per entry.
pub(super) fn legend(
    root: &DrawingArea<SVGBackend, Shift>,
    x: i32,
    y: i32,
    entries: &[(RGBColor, String)],
) -> Result<()> {
    for (i, (c, label)) in entries.iter().enumerate() {
        let y = y + 18 * i as i32;
        root.draw(&Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled()))
            .map_err(err("legend"))?;
        root.draw(&Text::new(
            label.clone(),
            (x + 20, y),
            text_style(15.0, &BLACK, HPos::Left, VPos::Center),
        ))
        .map_err(err("legend"))?;
    }
    Ok(())
}

/// Powers of ten around `[lo, hi]`, at least `decades` apart.
pub(super) fn decade_range(lo: f64, hi: f64, decades: i32) -> (f64, f64) {
    let mut a = lo.log10().floor() as i32;
    let mut b = hi.log10().ceil() as i32;
    while b - a < decades {
        a -= 1;
        b += 1;
    }
    (10f64.powi(a), 10f64.powi(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_labels() {
        assert_eq!(compact(0.01), "0.01");
        assert_eq!(compact(1.0), "1");
        assert_eq!(compact(250.0), "250");
        assert_eq!(compact(4096.0), "4096");
        assert_eq!(compact(16384.0), "16.4k");
        assert_eq!(decade_range(0.3, 40.0, 2), (0.1, 100.0));
        assert_eq!(decade_range(2.0, 3.0, 2), (0.1, 100.0));
    }
}
