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
/// not load fails the command. Unless `in_process`, each backend's trials run in a worker
/// process of their own (`conformance --in-process --backend NAME`), so a driver that
/// crashes fails its backend, named with the signal, and the others still run.
pub fn conformance(names: &[String], filter: Option<String>, in_process: bool) -> ExitCode {
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
    if !in_process {
        return conformance_in_workers(&backends, filter);
    }
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

fn conformance_in_workers(
    backends: &[std::sync::Arc<dyn halbench_hal::Backend>],
    filter: Option<String>,
) -> ExitCode {
    let mut failed = Vec::new();
    for b in backends {
        let status = crate::supervisor::child_command().and_then(|mut c| {
            c.args(["conformance", "--in-process", "--backend", b.name()]);
            c.args(filter.iter());
            c.status()
                .map_err(|e| format!("cannot start a worker process: {e}"))
        });
        match status {
            Ok(s) if s.success() => {}
            Ok(s) if s.code() == Some(i32::from(FAILURE)) => failed.push(b.name().to_string()),
            Ok(s) => {
                let why = crate::supervisor::describe_exit(s);
                eprintln!(
                    "error: conformance on {}: {why}; its trials after the last one printed did not run",
                    b.name()
                );
                failed.push(b.name().to_string());
            }
            Err(e) => {
                eprintln!("error: conformance on {}: {e}", b.name());
                failed.push(b.name().to_string());
            }
        }
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("conformance failed on: {}", failed.join(", "));
        ExitCode::from(FAILURE)
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

/// `halbench fleet`: exit 1 when a host is an outlier on a gated case, 2 on bad input.
pub fn fleet(
    files: &[std::path::PathBuf],
    threshold: f64,
    gate: &[String],
    format: Format,
    html: Option<&std::path::Path>,
) -> ExitCode {
    let report = match crate::fleet::load_and_judge(files, threshold, gate) {
        Ok(r) => r,
        Err(e) => return usage(UsageError(e)),
    };
    if let Some(path) = html {
        let page = crate::report::fleet_page(&report);
        if let Err(e) = crate::results::write_atomic(path, page.as_bytes()) {
            return crate::run::fail(format!("cannot write {}: {e}", path.display()));
        }
        eprintln!("fleet page written to {}", path.display());
    }
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ),
        Format::Table | Format::Markdown => println!(
            "{}",
            crate::fleet::tables(&report, matches!(format, Format::Markdown))
        ),
    }
    if report.failed() {
        ExitCode::from(FAILURE)
    } else {
        ExitCode::SUCCESS
    }
}
