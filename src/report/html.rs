//! The HTML report: one self-contained page (inline CSS, inline SVG charts, two small inline
//! scripts, no network, no external fonts).
//!
//! The page checks itself when it loads: every chart must have a non-zero size, a non-empty
//! drawing, text, and at least as many SVG shapes as data marks were drawn; page errors and
//! `console.error` calls are collected from the first moment. The verdict goes into
//! `<span id="render-check" data-status="ok|error">`, which the browser test reads from the
//! DOM dumped by headless Chromium.

use super::analyse::Comparison;
use super::charts::{css_color, roofline_chart, speedup_chart, sweep_chart, Chart};
use super::rows::{sections, Kind, Section, FLIP_MARKER, INVALID};
use std::fmt::Write as _;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  margin: 0 auto; max-width: 1080px; padding: 16px 24px 40px; color: #1d1d1f; background: #fff; }
h1 { font-size: 1.6em; margin: 0.4em 0 0.2em; }
h2 { font-size: 1.25em; margin: 1.6em 0 0.4em; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 1.05em; margin: 1.2em 0 0.3em; }
p.note { color: #555; font-size: 0.9em; margin: 0.2em 0 0.6em; }
p.note.invalid, td.invalid { color: #b71c1c; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.3em 0 0.8em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f5f5f7; font-weight: 600; }
td:first-child { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.pays { color: #1b5e20; font-weight: 600; }
td.neutral { color: #6d5d00; }
td.slower { color: #b71c1c; font-weight: 600; }
td.missing { color: #999; font-style: italic; }
td.flip, .flip-badge { background: #fff3cd; color: #7a4f00; font-weight: 700; }
.flip-badge { font-size: 0.8em; padding: 2px 6px; border-radius: 4px; margin-left: 8px; }
.swatch { display: inline-block; width: 0.8em; height: 0.8em; border-radius: 2px; margin-right: 6px;
  vertical-align: -0.05em; }
figure.chart { margin: 0.5em 0 1.2em; }
figure.chart svg { max-width: 100%; height: auto; display: block; border: 1px solid #eee; }
figure.chart figcaption { font-weight: 600; margin-bottom: 4px; }
.patterns { display: grid; grid-template-columns: 1fr; gap: 0 24px; }
footer { margin-top: 2em; color: #777; font-size: 0.8em; }
"#;

/// Collects page errors from the start, before any other script or content.
const ERROR_CAPTURE: &str = r#"(function () {
  var errs = window.__hwcalErrors = [];
  window.addEventListener('error', function (e) {
    var t = e.target;
    if (t && t !== window && (t.src || t.href)) { errs.push('failed to load ' + (t.src || t.href)); }
    else { errs.push('error: ' + (e.message || 'unknown')); }
  }, true);
  window.addEventListener('unhandledrejection', function (e) { errs.push('unhandled rejection: ' + e.reason); });
  var orig = console.error;
  console.error = function () {
    errs.push('console.error: ' + Array.prototype.slice.call(arguments).join(' '));
    if (orig) { orig.apply(console, arguments); }
  };
})();"#;

/// Checks every chart once the page has loaded and writes the verdict into #render-check.
const RENDER_CHECK: &str = r#"window.addEventListener('load', function () {
  var out = document.getElementById('render-check');
  var problems = [];
  var expected = parseInt(document.body.getAttribute('data-expected-charts'), 10);
  var figs = document.querySelectorAll('figure.chart');
  if (figs.length !== expected) { problems.push('expected ' + expected + ' charts, found ' + figs.length); }
  for (var i = 0; i < figs.length; i++) {
    var f = figs[i], name = f.getAttribute('data-chart'), svg = f.querySelector('svg');
    if (!svg) { problems.push(name + ': no svg'); continue; }
    var r = svg.getBoundingClientRect();
    if (!(r.width > 0 && r.height > 0)) { problems.push(name + ': zero size'); }
    var shapes = svg.querySelectorAll('rect, line, polyline, polygon, circle, path').length;
    var need = parseInt(f.getAttribute('data-marks'), 10) || 1;
    if (shapes < need) { problems.push(name + ': ' + shapes + ' shapes, expected at least ' + need); }
    if (svg.querySelectorAll('text').length === 0) { problems.push(name + ': no text'); }
    var b = svg.getBBox();
    if (!(b.width > 0 && b.height > 0)) { problems.push(name + ': empty drawing'); }
  }
  var ext = document.querySelectorAll('script[src], link[href], img, iframe, object, embed');
  if (ext.length) { problems.push(ext.length + ' external resources'); }
  var all = problems.concat(window.__hwcalErrors || []);
  out.setAttribute('data-status', all.length ? 'error' : 'ok');
  out.textContent = all.length ? 'render check: error: ' + all.join('; ')
                               : 'render check: ok: ' + figs.length + ' charts';
});"#;

fn table(out: &mut String, s: &Section, swatches: bool) {
    out.push_str("<table>\n<thead><tr>");
    for h in &s.header {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &s.rows {
        out.push_str("<tr>");
        for (i, c) in row.iter().enumerate() {
            let mut classes = vec![c.tone.class()];
            if s.numeric.get(i) == Some(&true) {
                classes.push("num");
            }
            if !c.from_file && c.text.contains(INVALID) {
                classes.push("invalid");
            }
            let _ = write!(out, "<td class=\"{}\">", classes.join(" "));
            // The key column of profile rows gets the profile's chart colour.
            if swatches && i == 0 {
                if let Some(index) = key_index(&c.text) {
                    let _ = write!(
                        out,
                        "<span class=\"swatch\" style=\"background:{}\"></span>",
                        css_color(index)
                    );
                }
            }
            let _ = write!(out, "{}</td>", escape(&c.text));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// Index of a column key (`A` = 0, `AA` = 26).
fn key_index(key: &str) -> Option<usize> {
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let n = key
        .bytes()
        .fold(0usize, |acc, b| acc * 26 + (b - b'A') as usize + 1);
    Some(n - 1)
}

fn heading(out: &mut String, level: u8, s: &Section) {
    let _ = write!(out, "<h{level}>{}", escape(&s.title));
    if s.flips {
        let _ = write!(
            out,
            "<span class=\"flip-badge\">{} between profiles</span>",
            escape(FLIP_MARKER)
        );
    }
    let _ = writeln!(out, "</h{level}>");
    if let Some(note) = &s.note {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", escape(note));
    }
}

/// Most left-out values listed under a chart; the rest are counted.
const MAX_LEFT_OUT_SHOWN: usize = 20;

fn figure(out: &mut String, c: &Chart) {
    let _ = writeln!(
        out,
        "<figure class=\"chart\" data-chart=\"{}\" data-marks=\"{}\">\n<figcaption>{}</figcaption>\n{}</figure>",
        escape(&c.id),
        c.marks,
        escape(&c.title),
        c.svg
    );
    if !c.left_out.is_empty() {
        let shown: Vec<String> = c
            .left_out
            .iter()
            .take(MAX_LEFT_OUT_SHOWN)
            .map(|s| escape(s))
            .collect();
        let more = c.left_out.len().saturating_sub(MAX_LEFT_OUT_SHOWN);
        let _ = writeln!(
            out,
            "<p class=\"note invalid\">Not plotted ({} values: invalid or outside the axes): {}{}.</p>",
            c.left_out.len(),
            shown.join("; "),
            if more > 0 {
                format!("; … and {more} more")
            } else {
                String::new()
            }
        );
    }
}

/// The whole page. Errors only if plotters fails to draw (a bug, not bad input).
pub fn html(cmp: &Comparison) -> Result<String, String> {
    let speedup = speedup_chart(cmp)?;
    let precision = super::charts::precision_chart(cmp)?;
    let mut rooflines = Vec::new();
    for i in 0..cmp.profiles.len() {
        rooflines.push(roofline_chart(cmp, i)?);
    }
    let sweeps: Vec<Chart> = cmp
        .sweeps
        .iter()
        .map(|s| sweep_chart(cmp, s))
        .collect::<Result<_, _>>()?;
    let charts = speedup.iter().count()
        + precision.iter().count()
        + rooflines.iter().flatten().count()
        + sweeps.len();

    let labels: Vec<&str> = cmp.profiles.iter().map(|p| p.label.as_str()).collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>hwcal compare: {}</title>\n<style>{STYLE}</style>\n<script>{ERROR_CAPTURE}</script>\n\
         </head>\n<body data-expected-charts=\"{charts}\">",
        escape(&labels.join(" vs "))
    );
    let _ = writeln!(
        out,
        "<h1>hwcal compare</h1>\n<p class=\"note\">{} profiles, read from their files (nothing \
         re-measured). Speedup = unfused ÷ fused median latency.</p>",
        cmp.profiles.len()
    );
    let secs = sections(cmp);
    for s in secs.iter().filter(|s| s.kind == Kind::Profiles) {
        table(&mut out, s, true);
    }

    out.push_str("<h2>Fusion speedup</h2>\n");
    match &speedup {
        Some(c) => figure(&mut out, c),
        None => out.push_str("<p class=\"note\">No profile has fusion patterns.</p>\n"),
    }
    for s in secs.iter().filter(|s| s.kind == Kind::Overview) {
        if let Some(note) = &s.note {
            let _ = writeln!(out, "<p class=\"note\">{}</p>", escape(note));
        }
        table(&mut out, s, false);
    }
    out.push_str("<h2>Hardware</h2>\n");
    for s in secs.iter().filter(|s| s.kind == Kind::Hardware) {
        if let Some(note) = &s.note {
            let _ = writeln!(out, "<p class=\"note\">{}</p>", escape(note));
        }
        table(&mut out, s, true);
    }
    if let Some(c) = &precision {
        out.push_str(
            "<h2>Precisions</h2>\n<p class=\"note\">Per precision: the best measured peak (FMA \
             or dot-product chains, filled) against the theoretical peak of the profile's table \
             (outline), log scale.</p>\n",
        );
        figure(&mut out, c);
        for s in secs.iter().filter(|s| s.kind == Kind::Precisions) {
            table(&mut out, s, true);
        }
    }
    out.push_str(
        "<h2>Roofline</h2>\n<p class=\"note\">Each fusion kernel measured, placed by arithmetic \
         intensity (the pattern's FLOPs over the bytes each variant moves) and achieved GFLOPS; \
         a line joins the unfused chain to its fused kernel. Roofs: measured memory bandwidth \
         and matmul GFLOPS (solid), theoretical (dashed) where known.</p>\n",
    );
    for (p, chart) in cmp.profiles.iter().zip(&rooflines) {
        match chart {
            Some(c) => figure(&mut out, c),
            None => {
                let _ = writeln!(
                    out,
                    "<p class=\"note\">{} — {}: no bandwidth, GFLOPS or fusion kernels measured.</p>",
                    escape(&p.key),
                    escape(&p.label)
                );
            }
        }
    }
    if !sweeps.is_empty() {
        out.push_str(
            "<h2>Size sweeps</h2>\n<p class=\"note\">Speedup against problem size, one line \
             per profile; the dashed vertical lines mark where fused starts to beat unfused for \
             every larger size measured.</p>\n",
        );
        for c in &sweeps {
            figure(&mut out, c);
        }
    }
    let patterns: Vec<&Section> = secs.iter().filter(|s| s.kind == Kind::Pattern).collect();
    if !patterns.is_empty() {
        out.push_str("<h2>Patterns in detail</h2>\n<div class=\"patterns\">\n");
        for s in patterns {
            out.push_str("<div>\n");
            heading(&mut out, 3, s);
            table(&mut out, s, true);
            out.push_str("</div>\n");
        }
        out.push_str("</div>\n");
    }

    let _ = writeln!(
        out,
        "<footer>Generated by hwcal {} from profiles only. \
         <span id=\"render-check\" data-status=\"pending\">render check: pending</span></footer>\n\
         <script>{RENDER_CHECK}</script>\n</body>\n</html>",
        env!("CARGO_PKG_VERSION")
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<script>"a" & 'b'</script>"#),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
        assert_eq!(key_index("A"), Some(0));
        assert_eq!(key_index("C"), Some(2));
        assert_eq!(key_index("AA"), Some(26));
        assert_eq!(key_index(""), None);
    }
}
