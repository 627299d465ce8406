//! Baselines: one results document per device, `DIR/<device-key>.json`, where the key is
//! the backend, the device's name and its compute units (`cpu-amd-epyc-2u`,
//! `vulkan-llvmpipe-llvm-15-0-6-256-bits-2u`): a baseline belongs to a kind of device,
//! not to an index on one machine. `run
//! --baseline DIR` compares each device of the run with its own; a device with none is
//! reported and passes, since numbers from other hardware would say nothing.

use std::path::{Path, PathBuf};

use halbench_hal::DeviceInfo;

use crate::compare;
use crate::results::{self, RunReport};

/// `backend-name`, lower case, runs of anything but letters and digits as one `-`.
pub fn device_key(info: &DeviceInfo) -> String {
    let mut key = String::new();
    let id = format!("{} {} {}u", info.backend, info.name, info.compute_units);
    for c in id.chars() {
        if c.is_ascii_alphanumeric() {
            key.push(c.to_ascii_lowercase());
        } else if !key.ends_with('-') {
            key.push('-');
        }
    }
    key.trim_matches('-').to_string()
}

pub fn path(dir: &Path, info: &DeviceInfo) -> PathBuf {
    dir.join(format!("{}.json", device_key(info)))
}

/// The part of a run that belongs to one device.
fn for_device(report: &RunReport, info: &DeviceInfo) -> RunReport {
    let key = info.key();
    RunReport {
        devices: vec![info.clone()],
        results: report
            .results
            .iter()
            .filter(|r| r.device == key && !r.workload.is_empty())
            .cloned()
            .collect(),
        ..report.clone()
    }
}

/// What the gate found.
#[derive(Debug, Default)]
pub struct GateOutcome {
    pub regressed: bool,
    /// Keys of the cases the noise could not decide (worth measuring again).
    pub ambiguous: Vec<String>,
}

/// Writes the baselines (`update`) or compares with them (`threshold` a fraction, as
/// [`compare::threshold`] makes it).
pub fn gate(
    report: &RunReport,
    dir: &Path,
    update: bool,
    threshold: f64,
) -> Result<GateOutcome, String> {
    let mut outcome = GateOutcome::default();
    for info in &report.devices {
        let path = path(dir, info);
        let mine = for_device(report, info);
        if update {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let text = serde_json::to_string_pretty(&mine).map_err(|e| e.to_string())?;
            results::write_atomic(&path, text.as_bytes())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            eprintln!("baseline for {} written to {}", info.key(), path.display());
            continue;
        }
        if !path.exists() {
            eprintln!(
                "no baseline for {} ({}) at {}: nothing to compare; record one with --update-baseline",
                info.key(),
                info.name,
                path.display()
            );
            continue;
        }
        let base = compare::load(&path)?;
        let rows = compare::compare(&base, &mine, threshold);
        println!("baseline {} against {}:", path.display(), info.key());
        println!("{}", compare::table(&rows, false));
        let verdict = compare::summary(&rows);
        outcome.regressed |= verdict.is_err();
        outcome.ambiguous.extend(compare::ambiguous(&rows));
        eprintln!("{}: {}", info.key(), verdict.unwrap_or_else(|e| e));
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_keys_are_file_names() {
        let info = DeviceInfo {
            backend: "vulkan".into(),
            name: "llvmpipe (LLVM 15.0.6, 256 bits)".into(),
            compute_units: 2,
            ..DeviceInfo::default()
        };
        assert_eq!(device_key(&info), "vulkan-llvmpipe-llvm-15-0-6-256-bits-2u");
    }
}
