//! A timeline drawn as SVG: one panel per series (probe or guardrail) over a shared time
//! axis, thresholds as dashed lines, fault windows shaded, trips marked. No scripts, no fonts
//! fetched: it renders offline inside the HTML report.

use std::fmt::Write;

use super::spread::Spread;

/// One line on the timeline.
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    /// `probe` or `guardrail`: becomes the `data-kind` attribute.
    pub kind: &'static str,
    /// (time in Unix ms, value if measured, whether the sample met its expectation)
    pub points: Vec<(i64, Option<f64>, bool)>,
    pub thresholds: Vec<f64>,
    /// Set when measured on several hosts: the line is their median, a band their range.
    pub spread: Option<Spread>,
}

/// A span when a fault was in place somewhere: one per action, however many hosts.
#[derive(Clone, Debug)]
pub struct Window {
    /// Printed once above the panels (truncated if it would run into the next label).
    pub label: String,
    /// The tooltip: the full label and its times.
    pub title: String,
    /// The first injection.
    pub start_ms: i64,
    /// The last rollback (or the end of the run).
    pub end_ms: i64,
    /// When every host had the fault (last injection to first rollback), drawn darker;
    /// the rest of the span, while hosts came and went, lighter. `None`: never all at once.
    pub core: Option<(i64, i64)>,
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
/// Height of one row of fault labels above the panels.
const LANE: f64 = 15.0;
/// Rows of fault labels at most; past that, labels are truncated to fit.
const MAX_LANES: usize = 8;
/// A generous width of one character of the 12px label font, so labels never collide.
const CHAR_W: f64 = 7.2;

/// Escapes text for XML content and attributes.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// Draws the timeline from `start_ms` to `end_ms`.
pub fn timeline_svg(start_ms: i64, end_ms: i64, series: &[Series], windows: &[Window], markers: &[Marker]) -> String {
    let span = (end_ms - start_ms).max(1) as f64;
    let plot_w = WIDTH - LEFT - RIGHT;
    let x = |t: i64| LEFT + ((t - start_ms) as f64 / span).clamp(0.0, 1.0) * plot_w;
    let labels = place_labels(windows, &x);
    let lanes = labels.iter().map(|l| l.lane + 1).max().unwrap_or(1);
    let top = TOP + (lanes - 1) as f64 * LANE;
    let panels = series.len().max(1) as f64;
    let height = top + panels * (PANEL + GAP) + AXIS;
    let bottom = top + panels * (PANEL + GAP) - GAP;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" aria-label="run timeline">"#
    );
    // Bands of many actions overlap: each gets fainter so together they stay see-through.
    let (win, wsp) = match windows.len() {
        0..=2 => (0.18, 0.08),
        n => ((0.45 / n as f64).max(0.05), (0.2 / n as f64).max(0.025)),
    };
    let _ = write!(
        svg,
        "<style>.lbl{{font:12px sans-serif;fill:#333}}.ax{{stroke:#999;stroke-width:1}}.ln{{fill:none;stroke-width:1.5}}\
         .th{{stroke:#c0392b;stroke-dasharray:5 4;stroke-width:1}}.win{{fill:#f5a623;fill-opacity:{win:.3}}}\
         .wsp{{fill:#f5a623;fill-opacity:{wsp:.3}}}.tick{{stroke:#f5a623;stroke-width:1;stroke-opacity:.7}}\
         .wl{{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}}\
         .mk{{stroke:#c0392b;stroke-width:2}}.bad{{fill:#c0392b}}\
         .gap{{stroke:#7f8c8d;stroke-width:1.5;stroke-dasharray:2 3}}.gapq{{font:bold 11px sans-serif;fill:#7f8c8d}}</style>",
    );
    for (w, l) in windows.iter().zip(&labels) {
        draw_window(&mut svg, w, l, top, bottom, &x);
    }
    for (w, l) in windows.iter().zip(&labels) {
        draw_label(&mut svg, w, l);
    }
    for (i, s) in series.iter().enumerate() {
        draw_panel(&mut svg, s, top + i as f64 * (PANEL + GAP), &x);
    }
    draw_time_axis(&mut svg, bottom, span, &x, start_ms);
    for m in markers {
        let mx = x(m.at_ms);
        let _ = write!(
            svg,
            r##"<line class="mk" x1="{mx:.1}" y1="{top:.1}" x2="{mx:.1}" y2="{bottom:.1}"><title>{0}</title></line><text class="lbl" x="{1:.1}" y="{2:.1}" fill="#c0392b" text-anchor="end">{0}</text>"##,
            escape(&m.label),
            mx - 4.0,
            bottom - 4.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Where a window's label goes: its row, its x, and the text that fits there.
struct Label {
    lane: usize,
    x: f64,
    text: String,
}

/// Space kept between two labels on one row.
const LABEL_GAP: f64 = 8.0;

fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * CHAR_W
}

/// Puts each label at its band's start (shifted left near the right edge) in the first row
/// where it overlaps no other label. With every row taken, it goes in the row where it and
/// the label it starts inside of both keep the most: that one is cut short there, and it is
/// cut short itself before the next label. Cut labels keep their full text as a tooltip.
fn place_labels(windows: &[Window], x: &dyn Fn(i64) -> f64) -> Vec<Label> {
    let mut order: Vec<usize> = (0..windows.len()).collect();
    order.sort_by_key(|&i| windows[i].start_ms);
    let mut labels: Vec<Label> = windows.iter().map(|w| Label { lane: 0, x: 0.0, text: w.label.clone() }).collect();
    // Per row, the labels placed there.
    let mut lanes: Vec<Vec<usize>> = Vec::new();
    for i in order {
        let width = text_width(&windows[i].label);
        let lx = (x(windows[i].start_ms) + 3.0).min(WIDTH - RIGHT - width).max(4.0);
        let clear = |lane: &Vec<usize>| {
            lane.iter().all(|&j| {
                let (jx, jw) = (labels[j].x, text_width(&labels[j].text));
                lx + width + LABEL_GAP <= jx || jx + jw + LABEL_GAP <= lx
            })
        };
        let lane = match lanes.iter().position(clear) {
            Some(lane) => lane,
            None if lanes.len() < MAX_LANES => {
                lanes.push(Vec::new());
                lanes.len() - 1
            }
            None => {
                // Room from lx to the next label starting at or after it, per row.
                let room = |lane: &Vec<usize>| {
                    lane.iter().map(|&j| labels[j].x).filter(|&jx| jx >= lx).fold(WIDTH - RIGHT, f64::min)
                        - LABEL_GAP
                        - lx
                };
                // Room left to the label this one would cut short (the one it starts inside).
                let kept = |lane: &Vec<usize>| {
                    lane.iter()
                        .filter(|&&j| labels[j].x < lx && labels[j].x + text_width(&labels[j].text) + LABEL_GAP > lx)
                        .map(|&j| lx - LABEL_GAP - labels[j].x)
                        .fold(f64::INFINITY, f64::min)
                };
                // The row where both keep the most: never cut one label to nothing to fit another.
                let score = |lane: &Vec<usize>| room(lane).min(kept(lane));
                let lane = (0..lanes.len()).max_by(|&a, &b| score(&lanes[a]).total_cmp(&score(&lanes[b]))).unwrap_or(0);
                let chars = (room(&lanes[lane]) / CHAR_W).floor().max(0.0) as usize;
                for &j in &lanes[lane] {
                    if labels[j].x < lx {
                        let fits = ((lx - LABEL_GAP - labels[j].x) / CHAR_W).floor().max(0.0) as usize;
                        labels[j].text = truncate(&labels[j].text, fits);
                    }
                }
                labels[i].text = truncate(&windows[i].label, chars);
                lane
            }
        };
        labels[i].lane = lane;
        labels[i].x = lx;
        lanes[lane].push(i);
    }
    labels
}

/// The first `room` characters, ending in `…` when cut.
fn truncate(text: &str, room: usize) -> String {
    if text.chars().count() <= room {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(room.saturating_sub(1)).collect();
    if room > 0 {
        cut.push('\u{2026}');
    }
    cut
}

/// A window's band (lighter where only some hosts had the fault) and its label's tick.
fn draw_window(svg: &mut String, w: &Window, l: &Label, top: f64, bottom: f64, x: &dyn Fn(i64) -> f64) {
    let title = escape(&w.title);
    let mut band = |class: &str, from: i64, to: i64| {
        let (x0, x1) = (x(from), x(to.max(from)));
        let _ = write!(
            svg,
            r#"<rect class="{class}" x="{x0:.1}" y="{top:.1}" width="{:.1}" height="{:.1}"><title>{title}</title></rect>"#,
            (x1 - x0).max(1.0),
            bottom - top
        );
    };
    match w.core {
        Some((from, to)) => {
            if from > w.start_ms {
                band("wsp", w.start_ms, from);
            }
            band("win", from, to);
            if w.end_ms > to {
                band("wsp", to, w.end_ms);
            }
        }
        None => band("wsp", w.start_ms, w.end_ms),
    }
    // From its label's row down to just above the first panel's title, behind every label.
    let x0 = x(w.start_ms);
    let _ = write!(
        svg,
        r#"<line class="tick" x1="{x0:.1}" y1="{:.1}" x2="{x0:.1}" y2="{:.1}"/>"#,
        label_y(l) + 3.0,
        top - 17.0
    );
}

fn label_y(l: &Label) -> f64 {
    TOP - 22.0 + l.lane as f64 * LANE
}

/// A window's label, with a white halo so a tick passing behind it never strikes through.
fn draw_label(svg: &mut String, w: &Window, l: &Label) {
    let _ = write!(
        svg,
        r#"<text class="lbl wl" x="{:.1}" y="{:.1}"><title>{}</title>{}</text>"#,
        l.x,
        label_y(l),
        escape(&w.title),
        escape(&l.text)
    );
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
        r#"<g class="series" data-kind="{}" data-name="{}"><text class="lbl" x="{LEFT}" y="{:.1}"><tspan font-weight="bold">{}</tspan>{}</text>"#,
        s.kind,
        escape(&s.name),
        top - 5.0,
        escape(&s.name),
        s.spread.as_ref().map_or(String::new(), |sp| format!(
            " \u{2014} {} hosts: line is the median, band from lowest to highest",
            sp.hosts
        ))
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
    if let Some(spread) = &s.spread {
        draw_spread(svg, spread, top + PANEL, x, &y);
        svg.push_str("</g>");
        return;
    }
    draw_line(svg, s.points.iter().map(|p| p.1.map(|v| (x(p.0), y(v)))));
    for (t, v, ok) in &s.points {
        match v {
            Some(v) if !ok => {
                let _ = write!(svg, r#"<circle class="bad" cx="{:.1}" cy="{:.1}" r="2.5"/>"#, x(*t), y(*v));
            }
            Some(_) => {}
            None => draw_unmeasured(svg, x(*t), top, !ok, "not measured"),
        }
    }
    svg.push_str("</g>");
}

/// One polyline per run of measured points; gaps where nothing could be measured.
fn draw_line(svg: &mut String, points: impl Iterator<Item = Option<(f64, f64)>>) {
    let mut run = String::new();
    for p in points.chain(std::iter::once(None)) {
        match p {
            Some((px, py)) => {
                let _ = write!(run, "{px:.1},{py:.1} ");
            }
            None if !run.is_empty() => {
                let _ = write!(svg, r##"<polyline class="ln" stroke="#2c6fbb" points="{}"/>"##, run.trim_end());
                run.clear();
            }
            None => {}
        }
    }
}

/// A band from the lowest to the highest host per round, the median as the line, and per
/// round one red dot at each end of the failing hosts' values (not one per host).
fn draw_spread(svg: &mut String, spread: &Spread, bottom: f64, x: &dyn Fn(i64) -> f64, y: &dyn Fn(f64) -> f64) {
    for run in spread.rounds.split(|r| r.values.is_none()) {
        let upper = run.iter().filter_map(|r| Some(format!("{:.1},{:.1}", x(r.at_ms), y(r.values?.2))));
        let lower = run.iter().rev().filter_map(|r| Some(format!("{:.1},{:.1}", x(r.at_ms), y(r.values?.0))));
        let points: Vec<String> = upper.chain(lower).collect();
        if !points.is_empty() {
            let _ = write!(
                svg,
                r##"<polygon class="band" fill="#2c6fbb" fill-opacity=".15" points="{}"/>"##,
                points.join(" ")
            );
        }
    }
    draw_line(svg, spread.rounds.iter().map(|r| r.values.map(|v| (x(r.at_ms), y(v.1)))));
    for r in spread.rounds.iter().filter(|r| r.failed > 0) {
        let mut ys: Vec<f64> = r.failed_values.map_or(vec![], |(lo, hi)| vec![y(hi), y(lo)]);
        ys.dedup_by(|a, b| (*a - *b).abs() < 1.0);
        if r.failed_unmeasured {
            draw_unmeasured(svg, x(r.at_ms), bottom - PANEL, true, "not measured on some hosts");
        }
        for cy in ys {
            let _ = write!(
                svg,
                r#"<circle class="bad" cx="{:.1}" cy="{cy:.1}" r="2.5"><title>{} of {} hosts failed</title></circle>"#,
                x(r.at_ms),
                r.failed,
                spread.hosts
            );
        }
    }
}

/// A sample that could not be taken: a gap in the line with a grey dashed mark and a `?`,
/// never a dot at zero (which would read as a measured 0). `counted`: it counted toward
/// a breach (or failed its probe), said in the tooltip.
fn draw_unmeasured(svg: &mut String, mx: f64, top: f64, counted: bool, what: &str) {
    let why = if counted { "; counted as failing or breaching" } else { "; ignored" };
    let _ = write!(
        svg,
        r#"<g class="unmeasured"><title>{what}{why}</title><line class="gap" x1="{mx:.1}" y1="{:.1}" x2="{mx:.1}" y2="{:.1}"/><text class="gapq" x="{mx:.1}" y="{:.1}" text-anchor="middle">?</text></g>"#,
        top + 12.0,
        top + PANEL,
        top + 10.0
    );
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
                spread: None,
            },
            Series {
                name: "disk-90".into(),
                kind: "guardrail",
                points: vec![(0, Some(50.0), true), (2000, Some(95.0), false)],
                thresholds: vec![90.0],
                spread: None,
            },
        ];
        let svg = timeline_svg(
            0,
            2000,
            &series,
            &[Window {
                label: "disk-fill".into(),
                title: "disk-fill".into(),
                start_ms: 500,
                end_ms: 1800,
                core: Some((500, 1800)),
            }],
            &[Marker { label: "tripped: disk-90".into(), at_ms: 1900 }],
        );
        assert_eq!(svg.matches(r#"<g class="series""#).count(), 2);
        assert!(svg.contains(r#"data-name="api &lt;up&gt;""#));
        assert_eq!(svg.matches("<polyline").count(), 3, "a gap splits the first series");
        assert_eq!(svg.matches(r#"class="th""#).count(), 1);
        assert_eq!(svg.matches(r#"class="win""#).count(), 1);
        assert!(svg.contains("tripped: disk-90"));
        assert_eq!(svg.matches(r#"class="bad""#).count(), 1, "only the measured breach is a red dot");
        assert_eq!(svg.matches(r#"<g class="unmeasured">"#).count(), 1, "the unmeasured sample is a gap mark");
    }

    fn window(label: &str, start_ms: i64) -> Window {
        Window { label: label.into(), title: label.into(), start_ms, end_ms: start_ms + 500, core: None }
    }

    #[test]
    fn crowded_labels_take_separate_rows_then_truncate_but_never_overlap() {
        // Nine faults 0.2 s apart at the start, four crowded at the right edge.
        let starts = (0..9).map(|i| i * 200).chain([9700, 9800, 9900, 9950]);
        let windows: Vec<Window> = starts
            .enumerate()
            .map(|(i, at)| window(&format!("group-{i}/network-partition#1 on 100 hosts"), at))
            .collect();
        let x = |t: i64| LEFT + t as f64 / 10_000.0 * (WIDTH - LEFT - RIGHT);
        let labels = place_labels(&windows, &x);
        assert!(labels.iter().all(|l| l.lane < MAX_LANES));
        assert!(labels.iter().all(|l| l.x >= 0.0 && l.x + text_width(&l.text) <= WIDTH), "inside the picture");
        for lane in 0..MAX_LANES {
            let mut row: Vec<&Label> = labels.iter().filter(|l| l.lane == lane).collect();
            row.sort_by(|a, b| a.x.total_cmp(&b.x));
            for pair in row.windows(2) {
                let end = pair[0].x + pair[0].text.chars().count() as f64 * CHAR_W;
                assert!(end <= pair[1].x, "{:?} runs into {:?}", pair[0].text, pair[1].text);
            }
        }
        assert!(labels.iter().any(|l| l.text.ends_with('\u{2026}')), "some were truncated");
        let svg = timeline_svg(0, 10_000, &[], &windows, &[]);
        assert_eq!(svg.matches(r#"<text class="lbl wl""#).count(), 13, "one label per window");
        assert!(svg.contains("<title>group-0/network-partition#1 on 100 hosts</title>"), "full text as a tooltip");
    }

    #[test]
    fn labels_far_apart_share_one_row() {
        let windows = [window("a/cpu-burn#1 on h1", 0), window("b/cpu-burn#1 on h1", 5000)];
        let x = |t: i64| LEFT + t as f64 / 10_000.0 * (WIDTH - LEFT - RIGHT);
        let labels = place_labels(&windows, &x);
        assert_eq!(labels.iter().map(|l| l.lane).collect::<Vec<_>>(), [0, 0]);
        assert_eq!(labels[1].text, "b/cpu-burn#1 on h1");
    }
}
