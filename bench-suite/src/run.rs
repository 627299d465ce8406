//! `halbench run`: discover devices, run the selected cases round-robin across them,
//! save the results atomically as they come, print them, and gate on baselines.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use halbench_hal::{Backend, Device, DeviceInfo};
use halbench_kernels::{conformance, Case};

use crate::harness::{self, Budget};
use crate::progress::{Mode, Progress};
use crate::results::{self, CaseResult, RunInfo, RunReport, Status, SCHEMA_VERSION};
use crate::select::{self, Selection, UsageError};
use crate::supervisor::{self, DeviceWorker};
use crate::worker::{self, Failure, SelectionSpec};
use crate::{baseline, interrupt, output, registry, Format};

/// How often a run with `--json` saves the results so far.
const SAVE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Exit code of a usage error.
pub const USAGE: u8 = 2;
/// Exit code of a failed case, a regression or a file that could not be written.
pub const FAILURE: u8 = 1;

/// What `run` does, as plain data (the CLI's `halbench run` flags map onto it one to one).
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Backends by name; empty: every backend found.
    pub backend: Vec<String>,
    /// Workload names or globs; empty: all.
    pub workload: Vec<String>,
    pub dtype: Vec<String>,
    pub variant: Vec<String>,
    pub scale: halbench_kernels::Scale,
    /// Explicit shapes (`m=1024,n=1024,k=1024`); empty: the scale's.
    pub shape: Vec<String>,
    pub json: Option<std::path::PathBuf>,
    pub csv: Option<std::path::PathBuf>,
    pub format: Format,
    pub baseline: Option<std::path::PathBuf>,
    pub update_baseline: bool,
    /// Percent: the smallest change the baseline gate counts.
    pub threshold: f64,
    /// Percent: sample each case to this precision (0: a fixed sample count); `None`:
    /// the scale's.
    pub precision: Option<f64>,
    /// The cache state samples start from; `None`: each workload's default.
    pub cache: Option<halbench_kernels::CacheState>,
    /// Seconds: the sampling time cap; `None`: the scale's.
    pub time_cap: Option<f64>,
    /// Samples every case gets at least (0: the scale's count and precision decide).
    pub min_samples: u32,
    /// Run only the cases with these keys ([`CaseResult::key`]); `None`: all selected.
    pub only: Option<std::collections::BTreeSet<String>>,
    /// Sample more precisely than the scale asks ([`Budget::tighter`]): the gate's second
    /// look at a case the noise could not decide.
    pub tighter: bool,
    /// Custom kernels, each run as its own variant beside the built-in ones.
    pub kernels: Vec<Arc<halbench_kernels::CustomKernel>>,
    /// How progress is shown on stderr (a bar in a terminal, lines in a log).
    pub progress: Mode,
    /// Where devices run: in this process, or each in a worker process of its own.
    pub isolation: Isolation,
    /// Seconds a case may take in a worker before it is killed; `None`: scaled to the
    /// case ([`supervisor::default_case_timeout`]).
    pub case_timeout: Option<f64>,
}

/// Where a run drives its devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    /// In this process: what a library caller gets by default (its own registered
    /// kernels are here), and `--in-process` for debugging with one process to attach to.
    #[default]
    InProcess,
    /// Each device from a child process of this binary, so a driver that crashes or hangs
    /// loses one case, not the run (the command line's default).
    Workers,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            backend: Vec::new(),
            workload: Vec::new(),
            dtype: Vec::new(),
            variant: Vec::new(),
            scale: halbench_kernels::Scale::Quick,
            shape: Vec::new(),
            json: None,
            csv: None,
            format: Format::Table,
            baseline: None,
            update_baseline: false,
            threshold: crate::compare::DEFAULT_THRESHOLD,
            precision: None,
            cache: None,
            time_cap: None,
            min_samples: 0,
            only: None,
            tighter: false,
            kernels: Vec::new(),
            progress: Mode::detect(),
            isolation: Isolation::InProcess,
            case_timeout: None,
        }
    }
}

/// The scale's budget with `--precision` applied.
fn budget(args: &RunOptions) -> Budget {
    let mut budget = Budget::for_scale(args.scale);
    budget.cache = args.cache;
    budget.min_samples = args.min_samples;
    if let Some(cap) = args.time_cap {
        budget.cap = std::time::Duration::from_secs_f64(cap);
    }
    let budget = match args.precision {
        Some(p) => budget.with_precision((p > 0.0).then_some(p / 100.0)),
        None => budget,
    };
    if args.tighter {
        budget.tighter()
    } else {
        budget
    }
}

/// `--precision`, `--time-cap` and `--case-timeout` as usage errors before the run.
fn check_sampling(
    percent: Option<f64>,
    cap: Option<f64>,
    timeout: Option<f64>,
) -> Result<(), UsageError> {
    if let Some(t) = timeout.filter(|t| !(t.is_finite() && *t > 0.0 && *t <= 86_400.0)) {
        return Err(UsageError(format!(
            "--case-timeout must be seconds in (0, 86400], got {t}"
        )));
    }
    match (percent, cap) {
        (Some(p), _) if !(p.is_finite() && (0.0..100.0).contains(&p)) => Err(UsageError(format!(
            "--precision must be a percentage in [0, 100), got {p}"
        ))),
        (_, Some(c)) if !(c.is_finite() && (0.0..=86_400.0).contains(&c)) => Err(UsageError(
            format!("--time-cap must be seconds in [0, 86400], got {c}"),
        )),
        _ => Ok(()),
    }
}

pub(crate) fn usage(e: UsageError) -> ExitCode {
    eprintln!("error: {}", e.0);
    ExitCode::from(USAGE)
}

pub(crate) fn fail(message: String) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(FAILURE)
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// A row for a backend that could not be used at all.
fn backend_row(backend: &str, device: String, status: Status, reason: String) -> CaseResult {
    CaseResult {
        backend: backend.into(),
        device,
        workload: String::new(),
        variant: String::new(),
        dtype: String::new(),
        shape: String::new(),
        status,
        reason: Some(reason),
        validation: None,
        timing: None,
        metrics: None,
        emulated: None,
        source: None,
    }
}

/// A row for `case` on `info` that did not get as far as a measurement.
pub(crate) fn case_row(
    backend: &dyn Backend,
    info: &DeviceInfo,
    case: Option<&Case>,
    status: Status,
) -> CaseResult {
    let mut r = backend_row(backend.name(), info.key(), status, String::new());
    r.reason = None;
    if let Some(case) = case {
        r.workload = case.workload.name().into();
        r.variant = case.variant_name().into();
        r.dtype = case.dtype.name().into();
        r.shape = case.shape.to_string();
        r.source = case.custom().map(|k| k.origin.clone());
    }
    r
}

/// Runs one case with panics caught (a panic is an error row).
pub(crate) fn run_guarded(
    device: &mut dyn Device,
    backend: &dyn Backend,
    info: &DeviceInfo,
    case: &Case,
    budget: Budget,
) -> CaseResult {
    catch_unwind(AssertUnwindSafe(|| harness::run_case(device, case, budget))).unwrap_or_else(
        |payload| {
            let mut r = case_row(backend, info, Some(case), Status::Error);
            r.reason = Some(format!("panic: {}", panic_message(payload)));
            r
        },
    )
}

/// An error as a reason: for `Unavailable`, the reason alone (the status says the rest).
pub(crate) fn reason(e: &halbench_hal::Error) -> String {
    match e {
        halbench_hal::Error::Unavailable { reason, .. } => reason.clone(),
        e => e.to_string(),
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// How one device is driven.
enum Runner {
    Local(Box<dyn Device>),
    Worker(Box<DeviceWorker>),
}

/// A device being benchmarked: its cases, and the results so far.
struct Running {
    backend: Arc<dyn Backend>,
    info: DeviceInfo,
    runner: Runner,
    cases: Vec<Case>,
    done: Vec<CaseResult>,
}

impl Running {
    /// Case `i`'s row; `None` when the run was interrupted during it.
    fn run(&mut self, i: usize, budget: Budget) -> Option<CaseResult> {
        let case = self.cases.get(i)?;
        match &mut self.runner {
            Runner::Local(device) => Some(run_guarded(
                device.as_mut(),
                &*self.backend,
                &self.info,
                case,
                budget,
            )),
            Runner::Worker(w) => w.run(i, case, |status, reason| {
                let mut r = case_row(&*self.backend, &self.info, Some(case), status);
                r.reason = Some(reason);
                r
            }),
        }
    }
}

/// A finished run: its document (already saved where asked) and whether anything failed.
#[derive(Debug)]
pub struct Outcome {
    pub report: RunReport,
    pub failed: bool,
    /// Stopped by Ctrl-C or SIGTERM: the report holds the cases that finished.
    pub interrupted: bool,
}

/// Every backend's devices, or why it has none; in workers, a backend whose listing
/// crashes or hangs is a failure of its own.
fn list(
    backends: &[Arc<dyn Backend>],
    isolation: Isolation,
    spec: &SelectionSpec,
    budget: Budget,
    timeout: Option<Duration>,
) -> Vec<Result<Vec<DeviceInfo>, Failure>> {
    match isolation {
        Isolation::InProcess => backends
            .iter()
            .map(|b| {
                b.devices().map_err(|e| Failure {
                    unavailable: true,
                    reason: reason(&e),
                })
            })
            .collect(),
        Isolation::Workers => {
            let names: Vec<String> = backends.iter().map(|b| b.name().to_string()).collect();
            supervisor::list_devices(
                &names,
                spec,
                budget,
                timeout.unwrap_or(supervisor::SETUP_TIMEOUT),
            )
        }
    }
}

/// Runs the selection and saves the JSON and CSV; prints only progress. Errors are the
/// exit code to leave with (usage, or a file that cannot be written).
pub fn execute(args: &RunOptions) -> Result<Outcome, ExitCode> {
    if let Err(e) = check_sampling(args.precision, args.time_cap, args.case_timeout) {
        return Err(usage(e));
    }
    let explicit = !args.backend.is_empty();
    let backends = match select::backends(registry::backends(), &args.backend) {
        Ok(b) => b,
        Err(e) => return Err(usage(e)),
    };
    let selection = match Selection::new(
        &args.workload,
        &args.variant,
        &args.dtype,
        &args.shape,
        args.scale,
        &args.kernels,
    ) {
        Ok(s) => s,
        Err(e) => return Err(usage(e)),
    };
    for path in [&args.json, &args.csv].into_iter().flatten() {
        if let Err(e) = results::check_writable(path) {
            return Err(fail(format!("cannot write {}: {e}", path.display())));
        }
    }
    let required = conformance::required_backends();
    let budget = budget(args);
    let timeout = args.case_timeout.map(Duration::from_secs_f64);
    let spec = SelectionSpec {
        workload: args.workload.clone(),
        variant: args.variant.clone(),
        dtype: args.dtype.clone(),
        shape: args.shape.clone(),
        scale: args.scale.to_string(),
        kernels: args.kernels.iter().map(|k| k.to_portable()).collect(),
        only: args.only.clone(),
    };

    let mut report = RunReport {
        schema_version: SCHEMA_VERSION,
        run: RunInfo {
            tool_version: env!("CARGO_PKG_VERSION").into(),
            git_revision: env!("HALBENCH_GIT_REV").into(),
            host: host(),
            started_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            scale: args.scale.to_string(),
            command: std::env::args().collect(),
            interrupted: false,
            scheduler: crate::scheduler::detect(),
        },
        devices: Vec::new(),
        results: Vec::new(),
        sweeps: Vec::new(),
    };
    let mut failed = false;

    // Discover first, so the progress bar knows the total.
    let mut plan: Vec<(Arc<dyn Backend>, DeviceInfo, Vec<Case>)> = Vec::new();
    let listed = list(&backends, args.isolation, &spec, budget, timeout);
    for (backend, listing) in backends.iter().zip(listed) {
        match listing {
            Ok(infos) => {
                for info in infos {
                    let cases = worker::device_cases(&selection, &info, args.only.as_ref());
                    plan.push((backend.clone(), info, cases));
                }
            }
            Err(f) => {
                let name = backend.name();
                if explicit || required.iter().any(|r| r == name) || !f.unavailable {
                    failed = true;
                }
                let status = if f.unavailable {
                    Status::Unavailable
                } else {
                    Status::Error
                };
                report
                    .results
                    .push(backend_row(name, name.into(), status, f.reason));
            }
        }
    }
    for r in &required {
        if !backends.iter().any(|b| b.name() == r) && !explicit {
            failed = true;
            report.results.push(backend_row(
                r,
                r.clone(),
                Status::Unavailable,
                "required by HALBENCH_REQUIRE, but this build has no such backend".into(),
            ));
        }
    }

    let total: usize = plan.iter().map(|(_, _, c)| c.len()).sum();
    let progress = Progress::new(total, args.progress);

    // Open every device (workers start together), then run case i on every device before
    // case i + 1: the same case is measured on all devices seconds apart, so their ratio
    // is not skewed by a shared machine drifting over the minutes a whole suite takes.
    let mut open = Vec::new();
    let starting: Vec<_> = plan
        .into_iter()
        .map(|(backend, info, cases)| {
            let pending = match args.isolation {
                Isolation::InProcess => Err(backend.open(info.index).map_err(|e| e.to_string())),
                Isolation::Workers => Ok(DeviceWorker::start(&info, &spec, budget, timeout)),
            };
            (backend, info, cases, pending)
        })
        .collect();
    let started = starting.into_iter().map(|(backend, info, cases, pending)| {
        let runner = match pending {
            Err(local) => local.map(Runner::Local),
            Ok(starting) => starting
                .opened()
                .map(|w| Runner::Worker(Box::new(w)))
                .map_err(|f| f.reason),
        };
        (backend, info, cases, runner)
    });
    for (backend, info, cases, runner) in started {
        report.devices.push(info.clone());
        match runner {
            Ok(runner) => open.push(Running {
                backend,
                info,
                runner,
                cases,
                done: Vec::new(),
            }),
            Err(e) => {
                failed = true;
                report
                    .results
                    .push(backend_row(backend.name(), info.key(), Status::Error, e));
            }
        }
    }
    let unusable = report.results.clone();
    let rounds = open.iter().map(|o| o.cases.len()).max().unwrap_or(0);
    let gather = |open: &[Running]| -> Vec<CaseResult> {
        let done = open.iter().flat_map(|o| o.done.iter().cloned());
        unusable.iter().cloned().chain(done).collect()
    };
    let mut last_save = std::time::Instant::now();
    let mut interrupted = false;
    'rounds: for i in 0..rounds {
        for running in open.iter_mut() {
            let Some(case) = running.cases.get(i) else {
                continue;
            };
            if interrupt::requested() {
                interrupted = true;
                break 'rounds;
            }
            progress.start(format!("{} {case}", running.info.key()));
            let Some(result) = running.run(i, budget) else {
                interrupted = true;
                break 'rounds;
            };
            if matches!(
                result.status,
                Status::Failed | Status::Error | Status::Skipped
            ) {
                failed = true;
            }
            progress.finish(&result);
            running.done.push(result);
        }
        // Results so far, device by device, every few seconds (the last round is saved
        // below): a crash loses at most that much. Not every round: each save rewrites
        // and syncs the whole document, which cost 20 s of a 3-minute run here.
        let due = last_save.elapsed() >= SAVE_EVERY;
        if let (Some(path), true, true) = (&args.json, i + 1 < rounds, due) {
            last_save = std::time::Instant::now();
            report.results = gather(&open);
            if let Err(e) = save(&report, path) {
                progress.close();
                return Err(fail(e));
            }
        }
    }
    // Workers end here, before the files are written (a stuck one is killed).
    let finished = gather(&open);
    drop(open);
    report.run.interrupted = interrupted;
    progress.close();
    report.results = finished;

    if let Some(path) = &args.json {
        if let Err(e) = save(&report, path) {
            return Err(fail(e));
        }
    }
    if let Some(path) = &args.csv {
        let written = output::csv(&report.results)
            .map_err(|e| e.to_string())
            .and_then(|bytes| results::write_atomic(path, &bytes).map_err(|e| e.to_string()));
        if let Err(e) = written {
            return Err(fail(format!("cannot write {}: {e}", path.display())));
        }
    }
    Ok(Outcome {
        report,
        failed,
        interrupted,
    })
}

/// `halbench run` (and bare `halbench`): execute, print, then compare with baselines.
pub fn run(args: RunOptions) -> ExitCode {
    // A bad threshold is a usage error before the run, not a failure after it.
    let threshold = match crate::compare::threshold(args.threshold) {
        Ok(t) => t,
        Err(e) => return usage(UsageError(e)),
    };
    interrupt::install();
    let Outcome {
        report,
        mut failed,
        interrupted,
    } = match execute(&args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ),
        Format::Table | Format::Markdown => {
            let markdown = matches!(args.format, Format::Markdown);
            if !report.devices.is_empty() && !markdown {
                println!("{}", output::devices_table(&report.devices));
            }
            println!("{}", output::results_table(&report.results, markdown));
            for note in output::notes(&report.results) {
                println!("{note}");
            }
        }
    }
    if interrupted {
        eprintln!(
            "interrupted: {} result(s) that finished are saved; the rest did not run",
            report.results.len()
        );
        return ExitCode::from(interrupt::INTERRUPTED);
    }
    if let Some(dir) = &args.baseline {
        match gate_with_second_look(&args, report, dir, threshold) {
            Ok(regressed) => failed |= regressed,
            Err(e) => return fail(e),
        }
    }
    if failed {
        ExitCode::from(FAILURE)
    } else {
        ExitCode::SUCCESS
    }
}

/// Compares with the baselines; cases the noise could not decide are measured again,
/// more precisely, and the gate decides on the new figures (saved over the old in
/// `--json`).
fn gate_with_second_look(
    args: &RunOptions,
    mut report: RunReport,
    dir: &std::path::Path,
    threshold: f64,
) -> Result<bool, String> {
    let first = baseline::gate(&report, dir, args.update_baseline, threshold)?;
    if first.ambiguous.is_empty() {
        return Ok(first.regressed);
    }
    let again = RunOptions {
        only: Some(first.ambiguous.iter().cloned().collect()),
        tighter: true,
        json: None,
        csv: None,
        ..args.clone()
    };
    let target = budget(&again).precision.unwrap_or(0.0) * 100.0;
    eprintln!(
        "{} case(s) the noise could not decide: measuring them again to ±{target:.1}%",
        first.ambiguous.len()
    );
    let Outcome { report: second, .. } = execute(&again)
        .map_err(|_| "the second look at the ambiguous cases could not run".to_string())?;
    for r in second
        .results
        .into_iter()
        .filter(|r| !r.workload.is_empty())
    {
        let key = r.key();
        if let Some(slot) = report.results.iter_mut().find(|o| o.key() == key) {
            *slot = r;
        }
    }
    if let Some(path) = &args.json {
        save(&report, path)?;
    }
    Ok(baseline::gate(&report, dir, false, threshold)?.regressed)
}

pub(crate) fn save(report: &RunReport, path: &std::path::Path) -> Result<(), String> {
    let text = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
    results::write_atomic(path, text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
