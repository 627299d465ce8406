//! The report's three kinds of chart (roofline, bars, batch sweep), as SVG strings drawn by plotters.

use std::collections::BTreeMap;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::results::{BatchSweep, SweepPoint};
use crate::roofline::Ceilings;

pub(super) const WIDTH: u32 = 960;
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];

pub(super) fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

pub(super) fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// A result on a roofline: TFLOP/s at an arithmetic intensity.
#[derive(Debug, Clone)]
pub struct Point {
    /// Points of one series share a colour (the workload).
    pub series: String,
    pub intensity: f64,
    pub tflops: f64,
}

/// A log-log roofline in GFLOP/s: the bandwidth slope, a roof per dtype, the points.
/// `None` when the device has no bandwidth or no compute ceiling.
pub fn roofline(c: &Ceilings, points: &[Point]) -> Result<Option<String>, String> {
    let Some(bw) = c.bandwidth.as_ref().map(|b| b.value) else {
        return Ok(None);
    };
    if c.peaks.is_empty() {
        return Ok(None);
    }
    let top = c.peaks.values().map(|p| p.value * 1e3).fold(0.0, f64::max);
    let (x0, x1) = (1e-2_f64, 1e4_f64);
    let y_min = points
        .iter()
        .map(|p| p.tflops * 1e3)
        .chain([bw * x0])
        .fold(f64::INFINITY, f64::min)
        .max(1e-6);
    let (y0, y1) = (y_min / 2.0, top * 4.0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{} ({})", c.name, c.device), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("arithmetic intensity (FLOP/byte)")
            .y_desc("GFLOP/s")
            .x_label_formatter(&|x| format!("{x:.0e}"))
            .y_label_formatter(&|y| format!("{y:.0e}"))
            .draw()
            .map_err(err)?;
        for (i, (dtype, peak)) in c.peaks.iter().enumerate() {
            let peak = peak.value * 1e3;
            let ridge = peak / bw;
            let line = vec![
                (x0, bw * x0),
                (ridge.clamp(x0, x1), peak.min(bw * x1)),
                (x1, peak),
            ];
            let style = color(i).stroke_width(2);
            chart
                .draw_series(LineSeries::new(line, style))
                .map_err(err)?
                .label(format!(
                    "{dtype} roof: {peak:.1} GFLOP/s, ridge {ridge:.2} FLOP/B"
                ))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], style));
        }
        let mut series: BTreeMap<&str, Vec<&Point>> = BTreeMap::new();
        for p in points {
            series.entry(&p.series).or_default().push(p);
        }
        for (i, (name, pts)) in series.into_iter().enumerate() {
            let style = color(i + c.peaks.len()).filled();
            chart
                .draw_series(
                    pts.iter()
                        .map(|p| Circle::new((p.intensity, p.tflops * 1e3), 5, style)),
                )
                .map_err(err)?
                .label(format!("{name} ({} results)", pts.len()))
                .legend(move |(x, y)| Circle::new((x + 8, y), 5, style));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(Some(svg))
}

/// One bar: a case (category) on a device (series).
#[derive(Debug, Clone)]
pub struct Bar {
    pub category: String,
    pub series: String,
    pub value: f64,
    pub unit: &'static str,
}

const BAR: u32 = 14;
const LABELS: u32 = 300;

/// Horizontal bars, grouped by case, one colour per device.
pub fn bars(title: &str, bars: &[Bar]) -> Result<String, String> {
    let mut categories: Vec<&str> = Vec::new();
    let mut series: Vec<&str> = Vec::new();
    for b in bars {
        if !categories.contains(&b.category.as_str()) {
            categories.push(&b.category);
        }
        if !series.contains(&b.series.as_str()) {
            series.push(&b.series);
        }
    }
    let per_group = series.len() as f64 + 0.6;
    let rows = categories.len() as f64 * per_group;
    let height = 110 + (rows * f64::from(BAR)) as u32 + 20 * series.len() as u32;
    let max = bars.iter().map(|b| b.value).fold(0.0, f64::max).max(1e-12) * 1.15;
    let unit = bars.first().map_or("", |b| b.unit);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(LABELS)
            .build_cartesian_2d(0.0..max, rows..0.0)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc(unit)
            .draw()
            .map_err(err)?;
        for (s, name) in series.iter().enumerate() {
            let style = color(s).filled();
            let mine = bars.iter().filter(|b| b.series == *name).filter_map(|b| {
                let g = categories.iter().position(|c| *c == b.category)? as f64;
                let y = g * per_group + 0.3 + s as f64;
                Some(Rectangle::new([(0.0, y), (b.value, y + 0.9)], style))
            });
            chart
                .draw_series(mine)
                .map_err(err)?
                .label(*name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], style));
        }
        let text = ("sans-serif", 12)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Right, VPos::Center));
        for (g, category) in categories.iter().enumerate() {
            let y = g as f64 * per_group + per_group / 2.0;
            let (px, py) = chart.backend_coord(&(0.0, y));
            root.draw(&Text::new(category.to_string(), (px - 6, py), text.clone()))
                .map_err(err)?;
        }
        let value = ("sans-serif", 10)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for b in bars {
            let (Some(g), Some(s)) = (
                categories.iter().position(|c| *c == b.category),
                series.iter().position(|x| *x == b.series),
            ) else {
                continue;
            };
            let y = g as f64 * per_group + 0.75 + s as f64;
            let (px, py) = chart.backend_coord(&(b.value, y));
            root.draw(&Text::new(
                format!("{:.3}", b.value),
                (px + 3, py),
                value.clone(),
            ))
            .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

type TimeOf = fn(&SweepPoint) -> f64;

/// A decode batch sweep, log-log: milliseconds per step and per token against batch, the
/// weight-read floor, the measured knee and the formula's.
pub fn knee(s: &BatchSweep) -> Result<Option<String>, String> {
    if s.points.is_empty() {
        return Ok(None);
    }
    let ms = |v: f64| (v * 1e3).max(1e-9);
    let last = s.points.iter().map(|p| p.batch).max().unwrap_or(1) as f64;
    let marks = [s.knee, s.predicted_knee];
    let x1 = marks.iter().flatten().fold(last, |a, b| a.max(*b)) * 1.5;
    let values = s
        .points
        .iter()
        .flat_map(|p| [ms(p.step_s), ms(p.token_s)])
        .chain(s.floor_s.map(ms));
    let (lo, hi) = values.fold((f64::INFINITY, 0.0_f64), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (x0, y0, y1) = (0.7, lo / 2.0, hi * 2.0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("decode batch sweep: {} {}", s.device, s.dtype),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("batch (sequences per step)")
            .y_desc("ms")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.2e}"))
            .draw()
            .map_err(err)?;
        let lines: [(&str, TimeOf); 2] = [("per step", |p| p.step_s), ("per token", |p| p.token_s)];
        for (i, (name, time)) in lines.into_iter().enumerate() {
            let style = color(i).stroke_width(2);
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .map(|p| (p.batch as f64, ms(time(p))))
                .collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), style))
                .map_err(err)?
                .label(format!("time {name}"))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], style));
            chart
                .draw_series(
                    pts.into_iter()
                        .map(|p| Circle::new(p, 4, color(i).filled())),
                )
                .map_err(err)?;
        }
        if let Some(floor) = s.floor_s {
            let style = color(2).stroke_width(1);
            chart
                .draw_series(DashedLineSeries::new(
                    [(x0, ms(floor)), (x1, ms(floor))],
                    6,
                    4,
                    style,
                ))
                .map_err(err)?
                .label(format!("floor: weights read once, {:.3} ms", ms(floor)))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], style));
        }
        let knees = [
            (s.knee, "measured knee", 3),
            (s.predicted_knee, "formula knee", 4),
        ];
        for (at, name, c) in knees {
            let Some(at) = at else { continue };
            let style = color(c).stroke_width(2);
            chart
                .draw_series(DashedLineSeries::new([(at, y0), (at, y1)], 8, 4, style))
                .map_err(err)?
                .label(format!("{name}: batch {at:.1}"))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], style));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(Some(svg))
}
