//! A timeline drawn as SVG: one panel per series (probe or guardrail) over a shared time
//! axis, thresholds as dashed lines, fault windows shaded, trips marked. No scripts, no fonts
//! fetched: it renders offline inside the HTML report.

use std::fmt::Write;

/// One line on the timeline.
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    /// `probe` or `guardrail`: becomes the `data-kind` attribute.
    pub kind: &'static str,
    /// (time in Unix ms, value if measured, whether the sample met its expectation)
    pub points: Vec<(i64, Option<f64>, bool)>,
    pub thresholds: Vec<f64>,
}

/// A span when a fault was in place.
#[derive(Clone, Debug)]
pub struct Window {
    pub label: String,
    pub start_ms: i64,
    pub end_ms: i64,
}

/// A moment worth a vertical line (a guardrail trip, a signal).
#[derive(Clone, Debug)]
pub struct Marker {
    pub label: String,
    pub at_ms: i64,
}

const WIDTH: f64 = 960.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const PANEL: f64 = 110.0;
const GAP: f64 = 34.0;
const TOP: f64 = 40.0;
const AXIS: f64 = 30.0;

/// Escapes text for XML content and attributes.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// Draws the timeline from `start_ms` to `end_ms`.
pub fn timeline_svg(start_ms: i64, end_ms: i64, series: &[Series], windows: &[Window], markers: &[Marker]) -> String {
    let span = (end_ms - start_ms).max(1) as f64;
    let plot_w = WIDTH - LEFT - RIGHT;
    let x = |t: i64| LEFT + ((t - start_ms) as f64 / span).clamp(0.0, 1.0) * plot_w;
    let panels = series.len().max(1) as f64;
    let height = TOP + panels * (PANEL + GAP) + AXIS;
    let bottom = TOP + panels * (PANEL + GAP) - GAP;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" aria-label="run timeline">"#
    );
    svg.push_str(
        "<style>.lbl{font:12px sans-serif;fill:#333}.ax{stroke:#999;stroke-width:1}.ln{fill:none;stroke-width:1.5}\
         .th{stroke:#c0392b;stroke-dasharray:5 4;stroke-width:1}.win{fill:#f5a623;fill-opacity:.18}\
         .mk{stroke:#c0392b;stroke-width:2}.bad{fill:#c0392b}</style>",
    );
    for w in windows {
        let (x0, x1) = (x(w.start_ms), x(w.end_ms.max(w.start_ms)));
        let _ = write!(
            svg,
            r#"<rect class="win" x="{x0:.1}" y="{TOP}" width="{:.1}" height="{:.1}"><title>{}</title></rect>"#,
            (x1 - x0).max(1.0),
            bottom - TOP,
            escape(&w.label)
        );
        let _ =
            write!(svg, r#"<text class="lbl" x="{:.1}" y="{:.1}">{}</text>"#, x0 + 3.0, TOP - 22.0, escape(&w.label));
    }
    for (i, s) in series.iter().enumerate() {
        draw_panel(&mut svg, s, TOP + i as f64 * (PANEL + GAP), &x);
    }
    draw_time_axis(&mut svg, bottom, span, &x, start_ms);
    for m in markers {
        let mx = x(m.at_ms);
        let _ = write!(
            svg,
            r##"<line class="mk" x1="{mx:.1}" y1="{TOP}" x2="{mx:.1}" y2="{bottom:.1}"><title>{0}</title></line><text class="lbl" x="{1:.1}" y="{2:.1}" fill="#c0392b" text-anchor="end">{0}</text>"##,
            escape(&m.label),
            mx - 4.0,
            bottom - 4.0
        );
    }
    svg.push_str("</svg>");
    svg
}

fn draw_panel(svg: &mut String, s: &Series, top: f64, x: &dyn Fn(i64) -> f64) {
    let values: Vec<f64> = s.points.iter().filter_map(|p| p.1).chain(s.thresholds.iter().copied()).collect();
    let (mut lo, mut hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(*v), h.max(*v)));
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if (hi - lo).abs() < f64::EPSILON {
        (lo, hi) = (lo - 1.0, hi + 1.0);
    }
    let pad = (hi - lo) * 0.08;
    // Non-negative quantities (percent, latency, counts) keep zero as their floor.
    let (lo, hi) = (if lo >= 0.0 { (lo - pad).max(0.0) } else { lo - pad }, hi + pad);
    let y = |v: f64| top + PANEL - (v - lo) / (hi - lo) * PANEL;
    let _ = write!(
        svg,
        r#"<g class="series" data-kind="{}" data-name="{}"><text class="lbl" x="{LEFT}" y="{:.1}" font-weight="bold">{}</text>"#,
        s.kind,
        escape(&s.name),
        top - 5.0,
        escape(&s.name)
    );
    let _ = write!(
        svg,
        r#"<line class="ax" x1="{LEFT}" y1="{top:.1}" x2="{LEFT}" y2="{:.1}"/><text class="lbl" x="{:.1}" y="{:.1}" text-anchor="end">{}</text><text class="lbl" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
        top + PANEL,
        LEFT - 4.0,
        top + 10.0,
        short(hi),
        LEFT - 4.0,
        top + PANEL,
        short(lo)
    );
    for t in &s.thresholds {
        let ty = y(*t);
        let _ = write!(
            svg,
            r#"<line class="th" x1="{LEFT}" y1="{ty:.1}" x2="{:.1}" y2="{ty:.1}"><title>threshold {}</title></line>"#,
            WIDTH - RIGHT,
            short(*t)
        );
    }
    // One polyline per run of measured points; gaps where nothing could be measured.
    let mut run = String::new();
    for (t, v, _) in &s.points {
        match v {
            Some(v) => {
                let _ = write!(run, "{:.1},{:.1} ", x(*t), y(*v));
            }
            None if !run.is_empty() => {
                let _ = write!(svg, r##"<polyline class="ln" stroke="#2c6fbb" points="{}"/>"##, run.trim_end());
                run.clear();
            }
            None => {}
        }
    }
    if !run.is_empty() {
        let _ = write!(svg, r##"<polyline class="ln" stroke="#2c6fbb" points="{}"/>"##, run.trim_end());
    }
    for (t, v, ok) in &s.points {
        if !ok {
            let cy = v.map_or(top + PANEL, y);
            let _ = write!(svg, r#"<circle class="bad" cx="{:.1}" cy="{cy:.1}" r="2.5"/>"#, x(*t));
        }
    }
    svg.push_str("</g>");
}

fn draw_time_axis(svg: &mut String, bottom: f64, span_ms: f64, x: &dyn Fn(i64) -> f64, start_ms: i64) {
    let _ =
        write!(svg, r#"<line class="ax" x1="{LEFT}" y1="{bottom:.1}" x2="{:.1}" y2="{bottom:.1}"/>"#, WIDTH - RIGHT);
    let step_s = [1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0]
        .into_iter()
        .find(|s| span_ms / 1000.0 / s <= 10.0)
        .unwrap_or(7200.0);
    let mut t = 0.0;
    while t * 1000.0 <= span_ms {
        let tx = x(start_ms + (t * 1000.0) as i64);
        let _ = write!(
            svg,
            r#"<line class="ax" x1="{tx:.1}" y1="{bottom:.1}" x2="{tx:.1}" y2="{:.1}"/><text class="lbl" x="{tx:.1}" y="{:.1}" text-anchor="middle">{}s</text>"#,
            bottom + 4.0,
            bottom + 18.0,
            t
        );
        t += step_s;
    }
}

fn short(v: f64) -> String {
    if v.abs() >= 100.0 || v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v:.2}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_group_per_series_with_thresholds_windows_and_markers() {
        let series = vec![
            Series {
                name: "api <up>".into(),
                kind: "probe",
                points: vec![(0, Some(1.0), true), (1000, None, false), (2000, Some(3.0), true)],
                thresholds: vec![],
            },
            Series {
                name: "disk-90".into(),
                kind: "guardrail",
                points: vec![(0, Some(50.0), true), (2000, Some(95.0), false)],
                thresholds: vec![90.0],
            },
        ];
        let svg = timeline_svg(
            0,
            2000,
            &series,
            &[Window { label: "disk-fill".into(), start_ms: 500, end_ms: 1800 }],
            &[Marker { label: "tripped: disk-90".into(), at_ms: 1900 }],
        );
        assert_eq!(svg.matches(r#"<g class="series""#).count(), 2);
        assert!(svg.contains(r#"data-name="api &lt;up&gt;""#));
        assert_eq!(svg.matches("<polyline").count(), 3, "a gap splits the first series");
        assert_eq!(svg.matches(r#"class="th""#).count(), 1);
        assert_eq!(svg.matches(r#"class="win""#).count(), 1);
        assert!(svg.contains("tripped: disk-90"));
        assert_eq!(svg.matches(r#"class="bad""#).count(), 2);
    }
}
