//! `halbench fleet FILE…`: many hosts' results side by side, and the hosts that stand out.
//!
//! A fleet is meant to be identical, so the question is not "how fast" but "which one is
//! not like the others". Results are grouped by device kind (backend and device name) and
//! case (workload / variant / dtype / shape). Per group, with at least [`MIN_MEMBERS`]
//! timed members, the fleet median M of the members' median times and their median
//! absolute deviation (MAD) give a robust threshold
//!
//! ```text
//!   outlier when |x − M| > max(3.5 · 1.4826 · MAD, floor · M)
//! ```
//!
//! 3.5 robust standard deviations is Iglewicz and Hoaglin's modified z-score cut; the
//! floor (`--threshold`, default 10%) keeps a fleet of near-identical hosts, whose MAD is
//! close to zero, from calling run-to-run noise an outlier. Slower outliers, and a host
//! whose case did not pass where another's did, fail the gate (exit 1) on gated cases
//! (`--gate GLOB`, default every case); faster outliers are reported, never gated.
//!
//! A member is a device: `host` for a host with one device of the kind, `host cuda:3` for
//! one of several. The host is the scheduler's node when the result records one, else
//! the run's host name; runs sharing a name are told apart by their file name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;

use crate::results::{RunReport, Status};

/// Fewer timed members than this and a group is listed, not judged.
pub const MIN_MEMBERS: usize = 3;
/// The modified z-score beyond which a member is an outlier.
pub const ROBUST_Z: f64 = 3.5;
/// MAD × this estimates a normal distribution's standard deviation.
const MAD_TO_SIGMA: f64 = 1.4826;
/// Default `--threshold`, percent.
pub const DEFAULT_FLOOR: f64 = 10.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    Slower,
    Faster,
    /// Did not pass (error, failed, …) where another member passed.
    Broke,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outlier {
    pub member: String,
    pub host: String,
    pub standing: Standing,
    /// Member time over the fleet median; absent for `broke`.
    pub ratio: Option<f64>,
    /// The member's status where it broke.
    pub status: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseSummary {
    pub device_kind: String,
    pub case: String,
    pub gated: bool,
    pub members: usize,
    pub median_s: Option<f64>,
    /// 1.4826 · MAD / M: the fleet's robust relative spread.
    pub spread: Option<f64>,
    pub fastest_s: Option<f64>,
    pub slowest_s: Option<f64>,
    /// The stated threshold, relative to M; absent where not judged.
    pub threshold: Option<f64>,
    /// Why the group was not judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_judged: Option<String>,
    /// Every member's median time, by member.
    pub times: BTreeMap<String, f64>,
    pub outliers: Vec<Outlier>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostSummary {
    pub host: String,
    pub files: Vec<String>,
    pub cases: usize,
    /// Gated slower-or-broke outliers.
    pub gated_outliers: usize,
    pub outliers: usize,
    /// The largest member-over-median ratio among its judged cases.
    pub worst_ratio: Option<f64>,
    /// Geometric mean of its ratios to the fleet medians.
    pub typical_ratio: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FleetReport {
    pub floor: f64,
    pub robust_z: f64,
    pub cases: Vec<CaseSummary>,
    /// Worst first.
    pub hosts: Vec<HostSummary>,
}

impl FleetReport {
    /// The gate: a host slower than the fleet, or broken, on a gated case.
    pub fn failed(&self) -> bool {
        self.hosts.iter().any(|h| h.gated_outliers > 0)
    }
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Host names for the runs: the scheduler's node, else the host name; duplicates get
/// their file's stem.
fn host_names(runs: &[(PathBuf, RunReport)]) -> Vec<String> {
    let base: Vec<String> = runs
        .iter()
        .map(|(_, r)| {
            r.run
                .scheduler
                .as_ref()
                .and_then(|s| s.node())
                .unwrap_or(&r.run.host)
                .to_string()
        })
        .collect();
    base.iter()
        .zip(runs)
        .map(|(name, (path, _))| {
            if base.iter().filter(|b| *b == name).count() > 1 {
                let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("?");
                format!("{name} ({stem})")
            } else {
                name.clone()
            }
        })
        .collect()
}

/// Judge a fleet. `floor` is a fraction (0.1 for 10%); `gate` holds glob patterns over
/// the case (`workload/variant/dtype/shape`), empty for every case.
pub fn judge(
    runs: &[(PathBuf, RunReport)],
    floor: f64,
    gate: &[glob::Pattern],
) -> Result<FleetReport, String> {
    if !(floor.is_finite() && floor >= 0.0) {
        return Err(format!(
            "--threshold must be a percentage ≥ 0, not {}",
            floor * 100.0
        ));
    }
    let hosts = host_names(runs);
    // (device kind, case) → member → (host, status, median time)
    type Member = (String, Status, Option<f64>);
    let mut groups: BTreeMap<(String, String), BTreeMap<String, Member>> = BTreeMap::new();
    for ((_, report), host) in runs.iter().zip(&hosts) {
        let kind_of = |device: &str| {
            report
                .devices
                .iter()
                .find(|d| d.key() == device)
                .map(|d| format!("{} {}", d.backend, d.name))
        };
        let mut per_kind: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
        for r in &report.results {
            if let Some(kind) = kind_of(&r.device) {
                per_kind.entry(kind).or_default().insert(&r.device);
            }
        }
        for r in &report.results {
            let Some(kind) = kind_of(&r.device) else {
                continue; // a backend-level row (unavailable backend): no device kind
            };
            let member = if per_kind[&kind].len() > 1 {
                format!("{host} {}", r.device)
            } else {
                host.clone()
            };
            let case = format!("{}/{}/{}/{}", r.workload, r.variant, r.dtype, r.shape);
            let time = r.timing.as_ref().map(|t| t.median_s).filter(|t| *t > 0.0);
            groups
                .entry((kind, case))
                .or_default()
                .insert(member, (host.clone(), r.status, time));
        }
    }

    let mut cases = Vec::new();
    for ((device_kind, case), members) in groups {
        let gated = gate.is_empty() || gate.iter().any(|p| p.matches(&case));
        let passed: Vec<(&String, &String, f64)> = members
            .iter()
            .filter(|(_, (_, s, _))| *s == Status::Passed)
            .filter_map(|(m, (h, _, t))| t.map(|t| (m, h, t)))
            .collect();
        let mut outliers: Vec<Outlier> = members
            .iter()
            .filter(|(_, (_, s, _))| *s != Status::Passed && !passed.is_empty())
            .map(|(m, (h, s, _))| Outlier {
                member: m.clone(),
                host: h.clone(),
                standing: Standing::Broke,
                ratio: None,
                status: Some(s.name().into()),
            })
            .collect();
        let mut sorted: Vec<f64> = passed.iter().map(|p| p.2).collect();
        sorted.sort_by(f64::total_cmp);
        let times = passed.iter().map(|(m, _, t)| ((*m).clone(), *t)).collect();
        let mut summary = CaseSummary {
            device_kind,
            case,
            gated,
            members: members.len(),
            median_s: None,
            spread: None,
            fastest_s: sorted.first().copied(),
            slowest_s: sorted.last().copied(),
            threshold: None,
            not_judged: None,
            times,
            outliers: Vec::new(),
        };
        if sorted.len() < MIN_MEMBERS {
            summary.not_judged = (!sorted.is_empty())
                .then(|| format!("{} timed member(s); {MIN_MEMBERS} needed", sorted.len()));
        } else {
            let m = median(&sorted);
            let mut dev: Vec<f64> = sorted.iter().map(|x| (x - m).abs()).collect();
            dev.sort_by(f64::total_cmp);
            let sigma = MAD_TO_SIGMA * median(&dev);
            let limit = (ROBUST_Z * sigma).max(floor * m);
            summary.median_s = Some(m);
            summary.spread = Some(sigma / m);
            summary.threshold = Some(limit / m);
            for (member, host, t) in &passed {
                let standing = if *t > m + limit {
                    Standing::Slower
                } else if *t < m - limit {
                    Standing::Faster
                } else {
                    continue;
                };
                outliers.push(Outlier {
                    member: (*member).clone(),
                    host: (*host).clone(),
                    standing,
                    ratio: Some(t / m),
                    status: None,
                });
            }
        }
        summary.outliers = outliers;
        cases.push(summary);
    }

    let mut host_rows: Vec<HostSummary> = Vec::new();
    for host in &hosts {
        if host_rows.iter().any(|h| &h.host == host) {
            continue;
        }
        let files = runs
            .iter()
            .zip(&hosts)
            .filter(|(_, h)| *h == host)
            .map(|((p, _), _)| p.display().to_string())
            .collect();
        let mut ratios = Vec::new();
        let (mut count, mut gated_outliers, mut outliers) = (0, 0, 0);
        for c in &cases {
            let mine = |o: &&Outlier| &o.host == host;
            let in_case = c.outliers.iter().filter(mine).count();
            let judged = c.median_s.is_some();
            let members: Vec<f64> = c
                .times
                .iter()
                .filter(|(m, _)| *m == host || m.starts_with(&format!("{host} ")))
                .map(|(_, t)| *t)
                .collect();
            if members.is_empty() && in_case == 0 {
                continue;
            }
            count += 1;
            outliers += in_case;
            if c.gated {
                gated_outliers += c
                    .outliers
                    .iter()
                    .filter(mine)
                    .filter(|o| o.standing != Standing::Faster)
                    .count();
            }
            if let (true, Some(m)) = (judged, c.median_s) {
                ratios.extend(members.iter().map(|t| t / m));
            }
        }
        let worst_ratio = ratios.iter().copied().reduce(f64::max);
        let typical_ratio = (!ratios.is_empty())
            .then(|| (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp());
        host_rows.push(HostSummary {
            host: host.clone(),
            files,
            cases: count,
            gated_outliers,
            outliers,
            worst_ratio,
            typical_ratio,
        });
    }
    host_rows.sort_by(|a, b| {
        b.gated_outliers
            .cmp(&a.gated_outliers)
            .then(b.outliers.cmp(&a.outliers))
            .then(
                b.typical_ratio
                    .unwrap_or(0.0)
                    .total_cmp(&a.typical_ratio.unwrap_or(0.0)),
            )
    });
    Ok(FleetReport {
        floor,
        robust_z: ROBUST_Z,
        cases,
        hosts: host_rows,
    })
}

/// Read the files (each a results document) and judge them.
pub fn load_and_judge(
    files: &[PathBuf],
    floor_percent: f64,
    gate: &[String],
) -> Result<FleetReport, String> {
    let gate = gate
        .iter()
        .map(|g| glob::Pattern::new(g).map_err(|e| format!("--gate {g:?}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let runs = files
        .iter()
        .map(|p| crate::compare::load(p).map(|r| (p.clone(), r)))
        .collect::<Result<Vec<_>, _>>()?;
    judge(&runs, floor_percent / 100.0, &gate)
}

mod tables;
pub use tables::tables;

#[cfg(test)]
mod tests;
