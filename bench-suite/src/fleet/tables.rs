//! The fleet judgement as text or markdown tables.

use tabled::builder::Builder;
use tabled::settings::Style;

use super::{FleetReport, ROBUST_Z};

fn pct(x: f64) -> String {
    format!("{:+.1}%", (x - 1.0) * 100.0)
}

/// The per-host summary and the cases with outliers, as text or markdown tables.
pub fn tables(f: &FleetReport, markdown: bool) -> String {
    let style = |b: Builder| {
        let mut t = b.build();
        if markdown {
            t.with(Style::markdown());
        } else {
            t.with(Style::rounded());
        }
        t.to_string()
    };
    let mut hosts = Builder::default();
    hosts.push_record([
        "host",
        "cases",
        "gated outliers",
        "all outliers",
        "worst",
        "typical",
    ]);
    for h in &f.hosts {
        hosts.push_record([
            h.host.clone(),
            h.cases.to_string(),
            h.gated_outliers.to_string(),
            h.outliers.to_string(),
            h.worst_ratio.map(pct).unwrap_or_else(|| "-".into()),
            h.typical_ratio.map(pct).unwrap_or_else(|| "-".into()),
        ]);
    }
    let mut cases = Builder::default();
    cases.push_record([
        "device",
        "case",
        "members",
        "median",
        "spread",
        "threshold",
        "outliers",
    ]);
    let mut judged = 0;
    for c in &f.cases {
        judged += usize::from(c.median_s.is_some());
        if c.outliers.is_empty() {
            continue;
        }
        let outliers = c
            .outliers
            .iter()
            .map(|o| match o.ratio {
                Some(r) => format!("{} {}", o.member, pct(r)),
                None => format!("{} {}", o.member, o.status.as_deref().unwrap_or("broke")),
            })
            .collect::<Vec<_>>()
            .join(", ");
        cases.push_record([
            c.device_kind.clone(),
            format!("{}{}", c.case, if c.gated { "" } else { " (not gated)" }),
            c.members.to_string(),
            c.median_s
                .map(crate::output::human_time)
                .unwrap_or_else(|| "-".into()),
            c.spread
                .map(|s| format!("±{:.1}%", s * 100.0))
                .unwrap_or_else(|| "-".into()),
            c.threshold
                .map(|s| format!("±{:.1}%", s * 100.0))
                .unwrap_or_else(|| "-".into()),
            outliers,
        ]);
    }
    let verdict = if f.failed() {
        let worst: Vec<&str> = f
            .hosts
            .iter()
            .filter(|h| h.gated_outliers > 0)
            .map(|h| h.host.as_str())
            .collect();
        format!("FAIL: outlier host(s) on gated cases: {}", worst.join(", "))
    } else {
        "pass: no host is an outlier on a gated case".into()
    };
    format!(
        "hosts (worst first; ratios are the host's time over the fleet median):\n{}\n\n\
         cases with outliers ({judged} judged; outlier when |x − median| > max({ROBUST_Z} × \
         1.4826 × MAD, {:.0}% of the median)):\n{}\n\n{verdict}",
        style(hosts),
        f.floor * 100.0,
        style(cases),
    )
}
