//! The memory curve (`stream.sweep`): GB/s against working-set size, log-log, one line per
//! device with its best run dashed beside the median, and the device's last-level cache
//! marked, so each cache level reads as a plateau and the drop after it.

use plotters::prelude::*;

use super::charts::{color, err, WIDTH};

/// One device's curve.
#[derive(Debug, Clone)]
pub struct Curve {
    pub series: String,
    /// The device's last-level cache, when known (drawn as a dashed vertical line).
    pub llc_bytes: Option<u64>,
    /// (working set in bytes, median GB/s, best GB/s), by size.
    pub points: Vec<(u64, f64, f64)>,
}

/// `16K`, `4M`, `1G`: sizes as the x axis and `lscpu` write them.
pub fn size_label(bytes: f64) -> String {
    let units = [("G", 1u64 << 30), ("M", 1 << 20), ("K", 1 << 10)];
    for (name, unit) in units {
        if bytes >= unit as f64 {
            return format!("{:.0}{name}", bytes / unit as f64);
        }
    }
    format!("{bytes:.0}")
}

/// `None` when no curve has a point.
pub fn chart(curves: &[Curve]) -> Result<Option<String>, String> {
    let all = curves.iter().flat_map(|c| &c.points);
    let (x0, x1) = all.clone().fold((f64::INFINITY, 0.0f64), |(lo, hi), p| {
        (lo.min(p.0 as f64), hi.max(p.0 as f64))
    });
    if !x0.is_finite() {
        return Ok(None);
    }
    let (y0, y1) = all.fold((f64::INFINITY, 0.0f64), |(lo, hi), p| {
        (lo.min(p.1.min(p.2)), hi.max(p.1.max(p.2)))
    });
    let (y0, y1) = ((y0 / 1.5).max(1e-3), (y1 * 1.5).max(1e-2));
    let (x0, x1) = (x0 / 1.5, x1 * 1.5);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("memory curve: stream.sweep", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((x0..x1).log_scale().base(2.0), (y0..y1).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("working set (bytes, log scale)")
            .y_desc("GB/s (log scale)")
            .y_label_formatter(&|y| format!("{y:.3}"))
            .x_label_formatter(&|x| size_label(*x))
            .draw()
            .map_err(err)?;
        for (i, c) in curves.iter().enumerate() {
            let style = color(i).stroke_width(2);
            let median: Vec<(f64, f64)> = c.points.iter().map(|p| (p.0 as f64, p.1)).collect();
            let best: Vec<(f64, f64)> = c.points.iter().map(|p| (p.0 as f64, p.2)).collect();
            chart
                .draw_series(LineSeries::new(median.clone(), style))
                .map_err(err)?
                .label(format!("{} (median)", c.series))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], style));
            chart
                .draw_series(
                    median
                        .into_iter()
                        .map(|p| Circle::new(p, 3, color(i).filled())),
                )
                .map_err(err)?;
            let thin = color(i).stroke_width(1);
            chart
                .draw_series(DashedLineSeries::new(best, 5, 3, thin))
                .map_err(err)?
                .label(format!("{} (best)", c.series))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], thin));
            if let Some(llc) = c.llc_bytes.filter(|&b| b > 0) {
                let at = llc as f64;
                chart
                    .draw_series(DashedLineSeries::new([(at, y0), (at, y1)], 8, 4, thin))
                    .map_err(err)?
                    .label(format!("{}: last-level cache {}", c.series, size_label(at)))
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], thin));
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(Some(svg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_labelled_as_lscpu_writes_them() {
        assert_eq!(size_label(16384.0), "16K");
        assert_eq!(size_label(32.0 * 1048576.0), "32M");
        assert_eq!(size_label(2.0 * 1073741824.0), "2G");
    }

    #[test]
    fn a_curve_draws_one_point_per_size_and_the_llc() {
        let curve = Curve {
            series: "cpu:0".into(),
            llc_bytes: Some(32 << 20),
            points: vec![
                (16 << 10, 140.0, 150.0),
                (1 << 20, 130.0, 140.0),
                (512 << 20, 30.0, 33.0),
            ],
        };
        let svg = chart(&[curve]).unwrap().unwrap();
        assert_eq!(svg.matches("<circle").count(), 3, "{svg}");
        assert!(svg.contains("last-level cache 32M"));
        assert!(chart(&[]).unwrap().is_none());
    }
}
