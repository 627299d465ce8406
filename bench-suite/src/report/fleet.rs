//! The fleet page (`halbench fleet --html`): per judged case, every member's time over the
//! fleet median on a log axis, the threshold band shaded, outliers named in red; the
//! per-host summary, worst first, above them.

use std::fmt::Write as _;

use super::escape;
use crate::fleet::{FleetReport, Standing};

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 64.0;
const PAD: f64 = 40.0;

/// One case's strip: members along log(ratio), centred on the median.
fn strip(c: &crate::fleet::CaseSummary) -> Option<String> {
    let m = c.median_s?;
    let band = c.threshold?;
    let ratios: Vec<(&String, f64)> = c.times.iter().map(|(k, t)| (k, t / m)).collect();
    let extreme = ratios
        .iter()
        .map(|(_, r)| r.ln().abs())
        .fold((1.0 + band).ln() * 1.5, f64::max);
    let x = |r: f64| PAD + (WIDTH - 2.0 * PAD) * (0.5 + r.ln() / (2.0 * extreme));
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img">"#
    );
    let (lo, hi) = (x((1.0 - band).max(1e-3)), x(1.0 + band));
    let _ = write!(
        svg,
        r##"<rect x="{lo:.1}" y="8" width="{:.1}" height="32" fill="#e8f0e8"/><line x1="{c:.1}" x2="{c:.1}" y1="4" y2="44" stroke="#888"/>"##,
        hi - lo,
        c = x(1.0)
    );
    for (member, r) in &ratios {
        let outlier = c
            .outliers
            .iter()
            .any(|o| &&o.member == member && o.standing != Standing::Broke);
        let colour = if outlier { "#c00" } else { "#246" };
        let _ = write!(
            svg,
            r#"<circle cx="{:.1}" cy="24" r="4" fill="{colour}"><title>{} {:+.1}%</title></circle>"#,
            x(*r),
            escape(member),
            (r - 1.0) * 100.0
        );
        if outlier {
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="58" font-size="11" fill="{colour}" text-anchor="middle">{} {:+.0}%</text>"#,
                x(*r),
                escape(member),
                (r - 1.0) * 100.0
            );
        }
    }
    svg.push_str("</svg>");
    Some(svg)
}

pub fn page(f: &FleetReport) -> String {
    let mut body = String::new();
    let _ = writeln!(
        body,
        "<h1>halbench fleet</h1><p>{}</p><p>Outlier when |time − fleet median| &gt; max({} × 1.4826 × MAD, {:.0}% of the median). Ratios are a host's time over the fleet median (above 0: slower).</p>",
        if f.failed() { "<b>FAIL</b>: a host is an outlier on a gated case." } else { "pass: no host is an outlier on a gated case." },
        f.robust_z,
        f.floor * 100.0
    );
    let _ = writeln!(body, "<h2>Hosts, worst first</h2><table><tr><th>host</th><th>cases</th><th>gated outliers</th><th>all outliers</th><th>worst</th><th>typical</th></tr>");
    let pct = |r: Option<f64>| r.map_or("-".into(), |r| format!("{:+.1}%", (r - 1.0) * 100.0));
    for h in &f.hosts {
        let _ = writeln!(
            body,
            r#"<tr class="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            if h.gated_outliers > 0 { "failed" } else { "" },
            escape(&h.host),
            h.cases,
            h.gated_outliers,
            h.outliers,
            pct(h.worst_ratio),
            pct(h.typical_ratio)
        );
    }
    let _ = writeln!(body, "</table><h2>Cases</h2>");
    let mut charts = 0;
    for c in &f.cases {
        let Some(svg) = strip(c) else { continue };
        charts += 1;
        let broke: Vec<String> = c
            .outliers
            .iter()
            .filter(|o| o.standing == Standing::Broke)
            .map(|o| {
                format!(
                    "{} ({})",
                    escape(&o.member),
                    o.status.as_deref().unwrap_or("")
                )
            })
            .collect();
        let _ = writeln!(
            body,
            "<figure>{svg}<figcaption>{} — {}{}: {} members, median {}, spread ±{:.1}%{}</figcaption></figure>",
            escape(&c.device_kind),
            escape(&c.case),
            if c.gated { "" } else { " (not gated)" },
            c.members,
            crate::output::human_time(c.median_s.unwrap_or(0.0)),
            c.spread.unwrap_or(0.0) * 100.0,
            if broke.is_empty() { String::new() } else { format!("; broke: {}", broke.join(", ")) }
        );
    }
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>halbench fleet</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
td, th {{ border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; font-size: 0.9em; }}
tr.failed td {{ background: #fdd; }}
figure {{ margin: 0.5em 0 1em; }}
figcaption {{ font-size: 0.9em; color: #555; }}
</style></head>
<body data-charts="{charts}">
{body}
</body></html>
"#
    )
}
