//! `halbench compare BASE NEW`: the regression gate.
//!
//! Results are matched by key (device / workload / variant / dtype / shape). Each timed
//! result knows its median to a precision p (the relative half-width of the median's 95%
//! interval, `Timing::precision`), so the ratio new/base r is known to the interval
//! [r·(1 − p_new)/(1 + p_base), r·(1 + p_new)/(1 − p_base)]. Against the threshold t:
//! the whole interval above 1 + t is `slower`, below 1/(1 + t) `faster`, inside
//! [1/(1 + t), 1 + t] `same`; an interval across a boundary is `ambiguous`: the noise
//! cannot decide, and the gate measures such cases again more precisely before it decides
//! (nvbench's compare has the same four: FAST, SLOW, SAME, AMBG). A result from before
//! precision was recorded, or with under 6 samples, is taken as known to the larger of
//! ±2·cv and ± half its range.
//! Status changes are listed; a regression (slower, or passed → anything else) exits 1.
//! Several interleaved rounds of the same two configurations are judged together by
//! [`crate::rounds`].

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
    /// The interval of the ratio crosses the threshold: the noise cannot decide.
    Ambiguous,
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
    /// The 95% interval of the ratio, from both results' precision.
    pub interval: Option<(f64, f64)>,
    /// The smallest relative change that counts (a fraction).
    pub threshold: f64,
    /// The pair's arithmetic changed between the runs (fp8 decoded to f32 in one, the
    /// device's fp8 in the other): their times measure different things, said beside the
    /// verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arithmetic: Option<String>,
    /// Each round's ratio, sorted, when interleaved rounds were compared
    /// ([`crate::rounds`]); empty for one pair of runs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<f64>,
}

/// Reads a results document, with a clear error for anything else.
pub fn load(path: &Path) -> Result<RunReport, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_report(&bytes, path)
}

/// A results document from bytes (`path` names it in errors): what `compare`, `report`,
/// `roofline --input` and `--baseline` read, so any bytes give a document or a clear error.
pub fn parse_report(bytes: &[u8], path: &Path) -> Result<RunReport, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| format!("{} is not UTF-8 text: {e}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
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
    let undecided = rows
        .iter()
        .filter(|c| c.verdict == Verdict::Ambiguous)
        .count();
    let undecided = if undecided > 0 {
        format!("; {undecided} ambiguous (the noise could not decide)")
    } else {
        String::new()
    };
    if regressions.is_empty() {
        Ok(format!(
            "no regression ({} cases compared{undecided})",
            rows.len()
        ))
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
            let (bm, nm) = (median(old), median(now));
            let ratio = bm.zip(nm).filter(|(b, _)| *b > 0.0).map(|(b, n)| n / b);
            let interval = ratio.map(|r| {
                let (pb, pn) = (precision(old), precision(now));
                (r * (1.0 - pn) / (1.0 + pb), r * (1.0 + pn) / (1.0 - pb))
            });
            let passed = |r: Option<&CaseResult>| r.is_some_and(|r| r.status == Status::Passed);
            let verdict = match (old, now) {
                (None, _) => Verdict::New,
                (_, None) => Verdict::Missing,
                _ if passed(old) && !passed(now) => Verdict::Broke,
                _ if !passed(old) && passed(now) => Verdict::Fixed,
                _ => match interval {
                    None => Verdict::Untimed,
                    Some((lo, _)) if lo > 1.0 + threshold => Verdict::Slower,
                    Some((_, hi)) if hi < 1.0 / (1.0 + threshold) => Verdict::Faster,
                    Some((lo, hi)) if lo >= 1.0 / (1.0 + threshold) && hi <= 1.0 + threshold => {
                        Verdict::Same
                    }
                    Some(_) => Verdict::Ambiguous,
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
                interval,
                threshold,
                arithmetic: arithmetic_change(old, now),
                rounds: Vec::new(),
            }
        })
        .collect()
}

/// How well a result knows its median: its recorded precision; else (results from
/// before precision was recorded, or under 6 samples, too few for a 95% interval) the
/// larger of 2·cv and half the samples' range over the median (for 3 samples, the range
/// is the median's 75% interval). Below 0.9, so the interval stays finite.
fn precision(r: Option<&CaseResult>) -> f64 {
    let Some(t) = r.and_then(|r| r.timing.as_ref()) else {
        return 0.0;
    };
    let half_range = if t.median_s > 0.0 {
        (t.max_s - t.min_s) / 2.0 / t.median_s
    } else {
        0.0
    };
    t.precision
        .unwrap_or((2.0 * t.cv).max(half_range))
        .clamp(0.0, 0.9)
}

/// The keys the noise could not decide, to measure again.
pub fn ambiguous(rows: &[Comparison]) -> Vec<String> {
    rows.iter()
        .filter(|c| c.verdict == Verdict::Ambiguous)
        .map(|c| c.key.clone())
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
    let interval = if rows.iter().any(|c| !c.rounds.is_empty()) {
        "rounds' range"
    } else {
        "95% interval"
    };
    b.push_record(["verdict", "case", "base", "new", "change", interval]);
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
            c.interval
                .map(|(lo, hi)| format!("{:+.1}%..{:+.1}%", (lo - 1.0) * 100.0, (hi - 1.0) * 100.0))
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
