//! `halbench compare BASE NEW`: the regression gate.
//!
//! Results are matched by key (device / workload / variant / dtype / shape). A timed pair
//! is `slower` or `faster` only when the change in median exceeds both the threshold and
//! the noise the two runs measured: the band is threshold + 2·sqrt(cv_base² + cv_new²), so a
//! noisy machine widens it instead of crying wolf. Status changes are listed; a regression
//! (slower, or passed → anything else) exits 1.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use tabled::builder::Builder;
use tabled::settings::Style;

use crate::results::{CaseResult, RunReport, Status, SCHEMA_VERSION};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Faster,
    Same,
    Slower,
    /// Passed before, not now.
    Broke,
    /// Did not pass before, passes now.
    Fixed,
    /// Neither run passed (or has no timing): nothing to compare.
    Untimed,
    New,
    Missing,
}

impl Verdict {
    pub fn is_regression(self) -> bool {
        matches!(self, Verdict::Slower | Verdict::Broke)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub key: String,
    pub verdict: Verdict,
    pub base_status: Option<Status>,
    pub new_status: Option<Status>,
    pub base_median_s: Option<f64>,
    pub new_median_s: Option<f64>,
    /// new / base median time; above 1 is slower.
    pub ratio: Option<f64>,
    /// The relative change that counts as a real difference for this pair.
    pub band: Option<f64>,
    /// The pair's arithmetic changed between the runs (fp8 decoded to f32 in one, the
    /// device's fp8 in the other): their times measure different things, said beside the
    /// verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arithmetic: Option<String>,
}

/// Reads a results document, with a clear error for anything else.
pub fn load(path: &Path) -> Result<RunReport, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    match value.get("schema_version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(SCHEMA_VERSION) => {}
        Some(v) => {
            return Err(format!(
                "{} has schema_version {v}; this halbench reads {SCHEMA_VERSION}",
                path.display()
            ))
        }
        None => {
            return Err(format!(
                "{} is not a halbench result (no schema_version)",
                path.display()
            ))
        }
    }
    serde_json::from_value(value)
        .map_err(|e| format!("{} is not a valid halbench result: {e}", path.display()))
}

fn by_key(report: &RunReport) -> BTreeMap<String, &CaseResult> {
    report
        .results
        .iter()
        .filter(|r| !r.workload.is_empty())
        .map(|r| (r.key(), r))
        .collect()
}

/// The smallest change that counts, in percent, unless one is given (measured noise widens
/// it).
pub const DEFAULT_THRESHOLD: f64 = 10.0;

/// A `--threshold` in percent as the fraction [`compare`] takes.
pub fn threshold(percent: f64) -> Result<f64, String> {
    if percent.is_finite() && percent >= 0.0 {
        Ok(percent / 100.0)
    } else {
        Err(format!(
            "--threshold must be a non-negative percentage, got {percent}"
        ))
    }
}

/// The verdict on a comparison, as the gate prints it: `Ok` with the count of cases
/// when nothing regressed, `Err` naming every regressed case.
pub fn summary(rows: &[Comparison]) -> Result<String, String> {
    let regressions: Vec<&str> = rows
        .iter()
        .filter(|c| c.verdict.is_regression())
        .map(|c| c.key.as_str())
        .collect();
    if regressions.is_empty() {
        Ok(format!("no regression ({} cases compared)", rows.len()))
    } else {
        Err(format!(
            "{} regression(s): {}",
            regressions.len(),
            regressions.join(", ")
        ))
    }
}

/// Compares every case of two runs; `threshold` is a fraction (0.1 = 10%).
pub fn compare(base: &RunReport, new: &RunReport, threshold: f64) -> Vec<Comparison> {
    let (b, n) = (by_key(base), by_key(new));
    let keys: std::collections::BTreeSet<&String> = b.keys().chain(n.keys()).collect();
    keys.into_iter()
        .map(|key| {
            let (old, now) = (b.get(key).copied(), n.get(key).copied());
            let median =
                |r: Option<&CaseResult>| r.and_then(|r| r.timing.as_ref()).map(|t| t.median_s);
            let cv =
                |r: Option<&CaseResult>| r.and_then(|r| r.timing.as_ref()).map_or(0.0, |t| t.cv);
            let (bm, nm) = (median(old), median(now));
            let band = threshold + 2.0 * (cv(old).powi(2) + cv(now).powi(2)).sqrt();
            let ratio = bm.zip(nm).filter(|(b, _)| *b > 0.0).map(|(b, n)| n / b);
            let passed = |r: Option<&CaseResult>| r.is_some_and(|r| r.status == Status::Passed);
            let verdict = match (old, now) {
                (None, _) => Verdict::New,
                (_, None) => Verdict::Missing,
                _ if passed(old) && !passed(now) => Verdict::Broke,
                _ if !passed(old) && passed(now) => Verdict::Fixed,
                _ => match ratio {
                    None => Verdict::Untimed,
                    Some(r) if r > 1.0 + band => Verdict::Slower,
                    Some(r) if r < 1.0 / (1.0 + band) => Verdict::Faster,
                    Some(_) => Verdict::Same,
                },
            };
            Comparison {
                key: key.clone(),
                verdict,
                base_status: old.map(|r| r.status),
                new_status: now.map(|r| r.status),
                base_median_s: bm,
                new_median_s: nm,
                ratio,
                band: ratio.map(|_| band),
                arithmetic: arithmetic_change(old, now),
            }
        })
        .collect()
}

/// "emulated → native" (or back) where one run's figure is of emulated arithmetic and the
/// other's is not.
fn arithmetic_change(old: Option<&CaseResult>, now: Option<&CaseResult>) -> Option<String> {
    let (old, now) = (old?, now?);
    let kind = |r: &CaseResult| {
        if r.emulated.is_some() {
            "emulated"
        } else {
            "native"
        }
    };
    (old.emulated.is_some() != now.emulated.is_some())
        .then(|| format!("{} → {}", kind(old), kind(now)))
}

/// The comparison as a table (`markdown` for a CI comment), regressions first.
pub fn table(rows: &[Comparison], markdown: bool) -> String {
    let mut sorted: Vec<&Comparison> = rows.iter().collect();
    sorted.sort_by_key(|c| {
        (
            !c.verdict.is_regression(),
            c.verdict == Verdict::Same,
            c.key.clone(),
        )
    });
    let mut b = Builder::default();
    b.push_record(["verdict", "case", "base", "new", "change", "noise band"]);
    let time = |t: Option<f64>| {
        t.map(crate::output::human_time)
            .unwrap_or_else(|| "-".into())
    };
    let status = |s: Option<Status>| s.map(|s| s.name()).unwrap_or("-");
    for c in sorted {
        let (base, new) = match c.verdict {
            Verdict::Broke
            | Verdict::Fixed
            | Verdict::Untimed
            | Verdict::New
            | Verdict::Missing => (
                status(c.base_status).to_string(),
                status(c.new_status).to_string(),
            ),
            _ => (time(c.base_median_s), time(c.new_median_s)),
        };
        let case = match &c.arithmetic {
            Some(change) => format!("{} ({change})", c.key),
            None => c.key.clone(),
        };
        b.push_record([
            format!("{:?}", c.verdict).to_lowercase(),
            case,
            base,
            new,
            c.ratio
                .map(|r| format!("{:+.1}%", (r - 1.0) * 100.0))
                .unwrap_or_else(|| "-".into()),
            c.band
                .map(|b| format!("±{:.1}%", b * 100.0))
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    let mut t = b.build();
    if markdown {
        t.with(Style::markdown());
    } else {
        t.with(Style::rounded());
    }
    t.to_string()
}
