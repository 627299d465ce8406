//! The small commands: `devices`, `conformance`, `compare`.

use std::process::ExitCode;

use halbench_hal::DeviceInfo;
use halbench_kernels::conformance;

use crate::run::{reason, usage, FAILURE};
use crate::select::{self, UsageError};
use crate::{output, registry, Format};

pub fn devices(json: bool) -> ExitCode {
    let mut listing = Vec::new();
    for backend in registry::backends() {
        let entry = match backend.devices() {
            Ok(devices) => serde_json::json!({
                "backend": backend.name(), "available": true, "devices": devices,
            }),
            Err(e) => serde_json::json!({
                "backend": backend.name(), "available": false, "reason": reason(&e),
            }),
        };
        listing.push(entry);
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&listing).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    for entry in &listing {
        let name = entry["backend"].as_str().unwrap_or("?");
        match serde_json::from_value::<Vec<DeviceInfo>>(entry["devices"].clone()) {
            Ok(devices) => {
                println!("{name}: available, {} device(s)", devices.len());
                if let Some(e) = devices.first().map(|d| &d.extras) {
                    if let Some(path) = e.get("plugin.path") {
                        let get = |k: &str| e.get(k).map_or("?", String::as_str);
                        println!(
                            "  plugin {path}: version {}, vendor {}, runtime {}",
                            get("plugin.version"),
                            get("plugin.vendor"),
                            get("plugin.runtime_version")
                        );
                    }
                }
                println!("{}", output::devices_table(&devices));
            }
            Err(_) => println!(
                "{name}: unavailable: {}",
                entry["reason"].as_str().unwrap_or("")
            ),
        }
    }
    ExitCode::SUCCESS
}

/// With `--plugin` and no `--backend`, only the plugins are certified, and one that does
/// not load fails the command.
pub fn conformance(names: &[String], filter: Option<String>) -> ExitCode {
    let explicit = !registry::explicit_plugins().is_empty();
    let all = if explicit && names.is_empty() {
        registry::plugins()
    } else {
        registry::backends()
    };
    let backends = match select::backends(all, names) {
        Ok(b) => b,
        Err(e) => return usage(e),
    };
    if explicit {
        for b in &backends {
            if let Err(e) = b.devices() {
                eprintln!("error: plugin {} cannot be certified: {e}", b.name());
                return ExitCode::from(FAILURE);
            }
        }
    }
    let trials = backends
        .into_iter()
        .flat_map(|b| conformance::trials(b, &conformance::Expectations::default()))
        .collect();
    let args = libtest_mimic::Arguments {
        filter,
        test_threads: Some(1),
        ..Default::default()
    };
    if libtest_mimic::run(&args, trials).has_failed() {
        ExitCode::from(FAILURE)
    } else {
        ExitCode::SUCCESS
    }
}

pub fn compare(
    base: &std::path::Path,
    new: &std::path::Path,
    more_rounds: &[std::path::PathBuf],
    threshold: f64,
    format: Format,
) -> ExitCode {
    let threshold = match crate::compare::threshold(threshold) {
        Ok(t) => t,
        Err(e) => return usage(UsageError(e)),
    };
    let mut paths = vec![base, new];
    paths.extend(more_rounds.iter().map(|p| p.as_path()));
    let mut rounds = Vec::new();
    for pair in paths.chunks(2) {
        match (crate::compare::load(pair[0]), crate::compare::load(pair[1])) {
            (Ok(b), Ok(n)) => rounds.push(crate::compare::compare(&b, &n, threshold)),
            (Err(e), _) | (_, Err(e)) => return usage(UsageError(e)),
        }
    }
    let rows = crate::rounds::combine_rounds(&rounds);
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        ),
        Format::Table | Format::Markdown => {
            println!(
                "{}",
                crate::compare::table(&rows, matches!(format, Format::Markdown))
            )
        }
    }
    match crate::compare::summary(&rows) {
        Ok(fine) => {
            eprintln!("{fine}");
            ExitCode::SUCCESS
        }
        Err(regressed) => {
            eprintln!("{regressed}");
            ExitCode::from(FAILURE)
        }
    }
}
