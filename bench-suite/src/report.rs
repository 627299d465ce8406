//! `halbench report FILE... --out report.html`: one self-contained page (inline SVG, a
//! few lines of inline CSS and script, nothing fetched) that a person would rather look
//! at than read:
//!
//! - the runs and devices it was made from;
//! - a roofline per device (kind of device, across files): bandwidth slope, one compute
//!   roof per measured dtype, and every result with a FLOP count placed on it;
//! - each decode batch sweep: time per step and per token against batch, log-log, with
//!   the weight-read floor, the measured knee and the formula's marked;
//! - per workload, bars across every device of every file, side by side;
//! - what failed or was unsupported, and why.
//!
//! Charts are drawn by plotters' SVG backend ([`charts`]). The page's script only marks
//! the document once loaded (`data-ready`, `data-errors`), so a headless browser test can
//! tell a page that rendered from one that failed.

mod charts;
mod curve;
mod fleet;

pub use fleet::page as fleet_page;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use halbench_kernels::Bound;

use crate::compare;
use crate::results::{self, BatchSweep, CaseResult, RunReport, Status};
use crate::roofline::{self, Ceilings};
use crate::run::{fail, usage};
use crate::select::UsageError;

/// One file's run, with the label its devices carry on the page.
struct Source {
    label: String,
    report: RunReport,
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `device` alone for one file, `file:device` for several.
fn series_name(sources: &[Source], source: &Source, device: &str) -> String {
    if sources.len() == 1 {
        device.to_string()
    } else {
        format!("{}:{device}", source.label)
    }
}

/// The figure a workload's bars show, by what bounds it: GFLOP/s for compute, GB/s for
/// memory, µs per launch for latency (a workload this build does not know: whichever
/// figure the result has).
fn figure(r: &CaseResult) -> Option<(f64, &'static str)> {
    let m = r.metrics.as_ref()?;
    let gflops = m.tflops.map(|t| (t * 1e3, "GFLOP/s"));
    let gbs = m.gbs.map(|g| (g, "GB/s"));
    let latency = m
        .us_per_launch
        .map(|us| (us, "µs per launch (lower is better)"));
    match halbench_kernels::workload(&r.workload).map(|w| w.bound()) {
        Some(Bound::Compute) => gflops,
        Some(Bound::Memory) => gbs.or(gflops),
        Some(Bound::Latency) => latency,
        None => latency.or(gflops).or(gbs),
    }
}

fn page(sources: &[Source]) -> Result<String, String> {
    let mut body = String::new();
    let mut charts = 0usize;
    let _ = writeln!(body, "<h1>halbench report</h1>");
    let _ = writeln!(
        body,
        "<table><tr><th>file</th><th>started</th><th>host</th><th>scale</th><th>version</th><th>results</th></tr>"
    );
    for s in sources {
        let r = &s.report.run;
        let _ = writeln!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ({})</td><td>{}</td></tr>",
            escape(&s.label),
            escape(&r.started_at),
            escape(&r.host),
            escape(&r.scale),
            escape(&r.tool_version),
            escape(&r.git_revision),
            s.report.results.len()
        );
    }
    let _ = writeln!(body, "</table>\n<h2>Devices</h2>\n<table><tr><th>device</th><th>name</th><th>driver</th><th>memory</th><th>units</th></tr>");
    for s in sources {
        for d in &s.report.devices {
            let _ = writeln!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.1} GiB</td><td>{}</td></tr>",
                escape(&series_name(sources, s, &d.key())),
                escape(&d.name),
                escape(&d.driver_version),
                d.memory_bytes as f64 / (1u64 << 30) as f64,
                d.compute_units
            );
        }
    }

    // Rooflines: one per kind of device; its ceilings from the first file that has them.
    let _ = writeln!(body, "</table>\n<h2>Rooflines</h2>");
    let mut kinds: BTreeMap<String, (Ceilings, Vec<charts::Point>)> = BTreeMap::new();
    for s in sources {
        for c in Ceilings::from_report(&s.report) {
            let entry = kinds
                .entry(c.kind.clone())
                .or_insert_with(|| (c.clone(), Vec::new()));
            if entry.0.bandwidth.is_none() || entry.0.peaks.is_empty() {
                entry.0 = c.clone();
            }
            let ceilings = entry.0.clone();
            for p in roofline::place(&ceilings, &s.report.results, &c.device) {
                if p.intensity > 0.0 {
                    entry.1.push(charts::Point {
                        series: p.workload.clone(),
                        intensity: p.intensity,
                        tflops: p.achieved,
                    });
                }
            }
        }
    }
    for (ceilings, points) in kinds.values() {
        match charts::roofline(ceilings, points)? {
            Some(svg) => {
                charts += 1;
                let peaks: Vec<String> = ceilings
                    .peaks
                    .iter()
                    .map(|(d, p)| format!("{d} {:.1} GFLOP/s ({})", p.value * 1e3, p.source))
                    .collect();
                let bw = ceilings.bandwidth.as_ref().map_or("none".into(), |b| {
                    format!("{:.1} GB/s ({})", b.value, b.source)
                });
                let _ = writeln!(
                    body,
                    "<figure class=\"roofline\">{svg}<figcaption>{}: bandwidth {}; peaks {}; {} results placed</figcaption></figure>",
                    escape(&ceilings.name),
                    escape(&bw),
                    escape(&peaks.join(", ")),
                    points.len()
                );
            }
            None => {
                let _ = writeln!(
                    body,
                    "<p>{}: no roofline: it needs a peak.fma result and a stream result out of cache (quick or full scale)</p>",
                    escape(&ceilings.name)
                );
            }
        }
    }

    // Memory curves: every device's stream.sweep, one chart.
    let mut curves: Vec<curve::Curve> = Vec::new();
    for s in sources {
        for info in &s.report.devices {
            let key = info.key();
            let points: Vec<(u64, f64, f64)> = s
                .report
                .results
                .iter()
                .filter(|r| r.device == key && r.workload == "stream.sweep")
                .filter(|r| r.status == Status::Passed)
                .filter_map(|r| {
                    let n: u64 = r.shape.strip_prefix("n=")?.parse().ok()?;
                    let m = r.metrics.as_ref()?;
                    Some((4 * n, m.gbs?, m.best_gbs.or(m.gbs)?))
                })
                .collect();
            if !points.is_empty() {
                curves.push(curve::Curve {
                    series: series_name(sources, s, &key),
                    llc_bytes: Some(info.last_level_cache_bytes),
                    points,
                });
            }
        }
    }
    if let Some(svg) = curve::chart(&curves)? {
        charts += 1;
        let _ = writeln!(
            body,
            "<h2>Memory curves</h2>\n<figure class=\"curve\">{svg}<figcaption>stream.sweep: one array read again and again, 256 MiB a run; median (solid) and best run (dashed) GB/s by working set; dashed verticals: each device's last-level cache</figcaption></figure>"
        );
    }

    // Decode batch sweeps (`halbench roofline --preset/--layer`).
    let sweeps: Vec<(&Source, &BatchSweep)> = sources
        .iter()
        .flat_map(|s| s.report.sweeps.iter().map(move |w| (s, w)))
        .collect();
    if !sweeps.is_empty() {
        let _ = writeln!(body, "<h2>Decode batch sweeps</h2>");
    }
    for (source, s) in sweeps {
        let Some(svg) = charts::knee(s)? else {
            continue;
        };
        charts += 1;
        let batch = |v: Option<f64>| v.map_or_else(|| "none".into(), |b| format!("batch {b:.1}"));
        let _ = writeln!(
            body,
            "<figure class=\"knee\">{svg}<figcaption>{}: {}{}. Measured knee (step time twice batch 1's): {}; formula (ridge × bytes per weight ÷ 2 × total ÷ active): {}; stopped: {}</figcaption></figure>",
            escape(&series_name(sources, source, &s.device)),
            escape(&s.layer),
            if s.context > 0 { format!(", context {}", s.context) } else { String::new() },
            batch(s.knee),
            batch(s.predicted_knee),
            escape(&s.stopped)
        );
    }

    // Bars: per workload, every case across every device of every file.
    let _ = writeln!(body, "<h2>Workloads</h2>");
    let mut workloads: BTreeMap<&str, Vec<charts::Bar>> = BTreeMap::new();
    for s in sources {
        for r in s
            .report
            .results
            .iter()
            .filter(|r| r.status == Status::Passed && r.workload != "stream.sweep")
        {
            if let Some((value, unit)) = figure(r) {
                workloads.entry(&r.workload).or_default().push(charts::Bar {
                    category: format!("{} {} {}", r.variant, r.dtype, r.shape),
                    series: series_name(sources, s, &r.device),
                    value,
                    unit,
                });
            }
        }
    }
    for (workload, bars) in &workloads {
        let svg = charts::bars(workload, bars)?;
        charts += 1;
        let _ = writeln!(body, "<figure class=\"bars\">{svg}</figure>");
    }

    let problems: Vec<(String, &CaseResult)> = sources
        .iter()
        .flat_map(|s| {
            s.report
                .results
                .iter()
                .filter(|r| r.status != Status::Passed)
                .map(move |r| (s.label.clone(), r))
        })
        .collect();
    if !problems.is_empty() {
        let _ = writeln!(body, "<h2>Not measured</h2>\n<table><tr><th>file</th><th>case</th><th>status</th><th>reason</th></tr>");
        for (label, r) in problems {
            let _ = writeln!(
                body,
                "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                r.status.name(),
                escape(&label),
                escape(&r.key()),
                r.status.name(),
                escape(r.reason.as_deref().unwrap_or(""))
            );
        }
        let _ = writeln!(body, "</table>");
    }
    Ok(format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>halbench report</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
td, th {{ border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; font-size: 0.9em; }}
tr.failed td, tr.error td {{ background: #fdd; }}
figure {{ margin: 1em 0 2em; }}
figcaption {{ font-size: 0.9em; color: #555; max-width: 60em; }}
</style></head>
<body data-charts="{charts}" data-ready="0" data-errors="0">
{body}
<script>
window.addEventListener("error", function () {{
  document.body.dataset.errors = String(Number(document.body.dataset.errors) + 1);
}});
window.addEventListener("load", function () {{
  document.body.dataset.ready = String(document.querySelectorAll("svg").length);
}});
</script>
</body></html>
"#
    ))
}

/// The page for labelled documents (what `halbench report` writes).
pub fn html(labelled: Vec<(String, RunReport)>) -> Result<String, String> {
    let sources: Vec<Source> = labelled
        .into_iter()
        .map(|(label, report)| Source { label, report })
        .collect();
    page(&sources).map_err(|e| e.to_string())
}

/// `halbench report`.
pub fn command(files: &[PathBuf], out: &Path) -> ExitCode {
    let mut sources = Vec::new();
    for path in files {
        match compare::load(path) {
            Ok(report) => sources.push(Source {
                label: path.file_stem().map_or_else(
                    || path.display().to_string(),
                    |s| s.to_string_lossy().into_owned(),
                ),
                report,
            }),
            Err(e) => return usage(UsageError(e)),
        }
    }
    if let Err(e) = results::check_writable(out) {
        return fail(format!("cannot write {}: {e}", out.display()));
    }
    let html = match page(&sources) {
        Ok(h) => h,
        Err(e) => return fail(format!("cannot draw the report: {e}")),
    };
    if let Err(e) = results::write_atomic(out, html.as_bytes()) {
        return fail(format!("cannot write {}: {e}", out.display()));
    }
    let devices: usize = sources.iter().map(|s| s.report.devices.len()).sum();
    eprintln!(
        "report of {} file(s), {devices} device(s) written to {}",
        sources.len(),
        out.display()
    );
    ExitCode::SUCCESS
}
