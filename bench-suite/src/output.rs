//! Tables (terminal and markdown) and CSV of results and devices.

use halbench_hal::DeviceInfo;
use tabled::builder::Builder;
use tabled::settings::object::Columns;
use tabled::settings::{Alignment, Style};

use crate::results::{CaseResult, Status};

/// Seconds in the unit a person reads best.
pub fn human_time(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.3} s")
    } else if s >= 1e-3 {
        format!("{:.3} ms", s * 1e3)
    } else {
        format!("{:.2} µs", s * 1e6)
    }
}

pub fn human_bytes(b: u64) -> String {
    let gib = b as f64 / (1u64 << 30) as f64;
    if gib >= 1.0 {
        format!("{gib:.1} GiB")
    } else {
        format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64)
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "-".into())
}

/// Time, GB/s, TFLOP/s and % of peak are of the median sample; "best GB/s" is of the
/// least time (what STREAM and BabelStream quote); "± %" is the median's 95% precision,
/// `cap` where the time cap stopped sampling short of the target.
const HEADER: [&str; 13] = [
    "device",
    "workload",
    "variant",
    "dtype",
    "shape",
    "status",
    "median",
    "GB/s",
    "best GB/s",
    "TFLOP/s",
    "% peak",
    "± %",
    "timer",
];

/// "1.2", "3.4 cap" (stopped short of the target), "-" (under 6 samples: no interval).
fn precision(t: &crate::results::Timing) -> String {
    match t.precision {
        Some(p) if t.capped => format!("{:.1} cap", p * 100.0),
        Some(p) => format!("{:.1}", p * 100.0),
        None => "-".into(),
    }
}

fn row(r: &CaseResult) -> [String; 13] {
    let t = r.timing.as_ref();
    let m = r.metrics.as_ref();
    let mut status = r.status.name().to_string();
    if m.is_some_and(|m| m.cache_resident) {
        status.push_str(" (cache)");
    }
    if r.emulated.is_some() && r.status == Status::Passed {
        status.push_str(" (emulated)");
    }
    [
        r.device.clone(),
        r.workload.clone(),
        r.variant.clone(),
        r.dtype.clone(),
        r.shape.clone(),
        status,
        match (t, m.and_then(|m| m.us_per_launch)) {
            (_, Some(us)) => format!("{} /launch", human_time(us * 1e-6)),
            (Some(t), None) => human_time(t.median_s),
            (None, None) => "-".into(),
        },
        opt(m.and_then(|m| m.gbs), 1),
        opt(m.and_then(|m| m.best_gbs), 1),
        opt(m.and_then(|m| m.tflops), 4),
        opt(m.and_then(|m| m.pct_of_peak), 1),
        t.map(precision).unwrap_or_else(|| "-".into()),
        t.map(|t| format!("{:?}", t.method).to_lowercase())
            .unwrap_or_else(|| "-".into()),
    ]
}

/// The results as a table; `markdown` for CI comments.
pub fn results_table(results: &[CaseResult], markdown: bool) -> String {
    let mut b = Builder::default();
    b.push_record(HEADER);
    for r in results {
        b.push_record(row(r));
    }
    let mut t = b.build();
    if markdown {
        t.with(Style::markdown());
    } else {
        t.with(Style::rounded());
    }
    t.modify(Columns::new(6..11), Alignment::right());
    t.to_string()
}

/// One line per result that did not pass, with its reason.
/// Lines of a compiler log printed under a failed case.
const MAX_LOG_LINES: usize = 30;

pub fn notes(results: &[CaseResult]) -> Vec<String> {
    let mut out: Vec<String> = results
        .iter()
        .filter(|r| r.status != Status::Passed)
        .map(|r| {
            let what = if r.workload.is_empty() {
                r.device.clone()
            } else {
                r.key()
            };
            // The first line; for errors and failures (a compiler's log) the rest too,
            // indented, up to a screenful.
            let reason = r.reason.as_deref().unwrap_or("no reason given");
            let mut lines = reason.lines();
            let mut note = format!("{} {what}: {}", r.status.name(), lines.next().unwrap_or(""));
            if matches!(r.status, Status::Error | Status::Failed) {
                for line in lines.by_ref().take(MAX_LOG_LINES) {
                    note.push_str("\n    ");
                    note.push_str(line);
                }
                if lines.next().is_some() {
                    note.push_str("\n    … (the whole log is in the JSON result's reason)");
                }
            }
            note
        })
        .collect();
    out.extend(crate::ratios::weight_quant(results));
    out.extend(crate::ratios::kv_cache(results));
    out.extend(crate::ratios::grouped(results));
    if results
        .iter()
        .any(|r| r.metrics.as_ref().is_some_and(|m| m.cache_resident))
    {
        out.push("(cache): the data fits in the last-level cache; not memory bandwidth".into());
    }
    let emulated: Vec<&str> = results
        .iter()
        .filter(|r| r.status == Status::Passed)
        .filter_map(|r| r.emulated.as_deref())
        .collect();
    if let Some(first) = emulated.first() {
        out.push(format!(
            "(emulated): not the device's own arithmetic for the dtype ({} cases; e.g. {first})",
            emulated.len()
        ));
    }
    out.extend(telemetry_notes(results));
    out
}

/// Per device: what its sensors could not read (once), and the throttled cases.
fn telemetry_notes(results: &[CaseResult]) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for r in results {
        let Some(t) = r.timing.as_ref().and_then(|t| t.telemetry.as_ref()) else {
            continue;
        };
        if t.throttled == Some(true) {
            out.push(format!(
                "throttled {}: clock {:.0}-{:.0} MHz while it sampled",
                r.key(),
                t.clock_mhz_min.unwrap_or(0.0),
                t.clock_mhz_max.unwrap_or(0.0)
            ));
        }
        if !t.not_available.is_empty() && seen.insert(r.device.clone()) {
            // Quantities with one reason together: "energy, power (no RAPL …)".
            let mut by_reason: Vec<(&str, Vec<&str>)> = Vec::new();
            for (q, why) in &t.not_available {
                match by_reason.iter_mut().find(|(w, _)| *w == why.as_str()) {
                    Some((_, qs)) => qs.push(q),
                    None => by_reason.push((why, vec![q])),
                }
            }
            let what: Vec<String> = by_reason
                .iter()
                .map(|(why, qs)| format!("{} ({why})", qs.join(", ")))
                .collect();
            out.push(format!(
                "telemetry on {}: not available: {}",
                r.device,
                what.join("; ")
            ));
        }
    }
    out
}

pub fn devices_table(devices: &[DeviceInfo]) -> String {
    let mut b = Builder::default();
    b.push_record(["device", "name", "memory", "LLC", "units", "driver"]);
    for d in devices {
        b.push_record([
            d.key(),
            d.name.clone(),
            human_bytes(d.memory_bytes),
            human_bytes(d.last_level_cache_bytes),
            d.compute_units.to_string(),
            d.driver_version.clone(),
        ]);
    }
    let mut t = b.build();
    t.with(Style::rounded());
    t.to_string()
}

/// The results as CSV, one row per result.
pub fn csv(results: &[CaseResult]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "backend",
        "device",
        "workload",
        "variant",
        "dtype",
        "shape",
        "status",
        "reason",
        "method",
        "median_s",
        "min_s",
        "p10_s",
        "p90_s",
        "cv",
        "precision",
        "gbs",
        "best_gbs",
        "tflops",
        "best_tflops",
        "pct_of_peak",
        "cache_resident",
    ])?;
    let num = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    for r in results {
        let t = r.timing.as_ref();
        let m = r.metrics.as_ref();
        w.write_record([
            r.backend.clone(),
            r.device.clone(),
            r.workload.clone(),
            r.variant.clone(),
            r.dtype.clone(),
            r.shape.clone(),
            r.status.name().into(),
            r.reason.clone().unwrap_or_default(),
            t.map(|t| format!("{:?}", t.method).to_lowercase())
                .unwrap_or_default(),
            num(t.map(|t| t.median_s)),
            num(t.map(|t| t.min_s)),
            num(t.map(|t| t.p10_s)),
            num(t.map(|t| t.p90_s)),
            num(t.map(|t| t.cv)),
            num(t.and_then(|t| t.precision)),
            num(m.and_then(|m| m.gbs)),
            num(m.and_then(|m| m.best_gbs)),
            num(m.and_then(|m| m.tflops)),
            num(m.and_then(|m| m.best_tflops)),
            num(m.and_then(|m| m.pct_of_peak)),
            m.map(|m| m.cache_resident.to_string()).unwrap_or_default(),
        ])?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}
