//! The conformance suite: one set of cases, run on every backend and every plugin.
//!
//! Each case is its own libtest-mimic trial, named `backend:device::group::case`. A case
//! that meets `Error::Unsupported` is ignored with the reason; an unavailable backend is
//! ignored too, unless `HALBENCH_REQUIRE` names it, in which case it fails, so a driver
//! that silently went missing fails CI. Anything else that goes wrong fails the trial.
//! Backends may list expected failures (IREE's way): such a trial passes while it
//! fails, and fails loudly once it starts passing, so the list never goes stale.
//!
//! Run three ways: each backend's `tests/conformance.rs` (`conformance::main`),
//! `halbench conformance`, and CI.

mod hal_cases;
mod launch_cases;

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use halbench_hal::{Backend, Device, DeviceClass, Error};
use libtest_mimic::{Arguments, Completion, Failed, Trial};

use crate::{executor, Case, Scale};

/// Why a case did not pass.
#[derive(Debug)]
pub enum Failure {
    /// The device cannot run it: the trial is ignored with this reason.
    Unsupported(String),
    Failed(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        match e {
            Error::Unsupported { .. } => Failure::Unsupported(e.to_string()),
            e => Failure::Failed(e.to_string()),
        }
    }
}

impl From<String> for Failure {
    fn from(s: String) -> Self {
        Failure::Failed(s)
    }
}

pub type CaseResult = Result<(), Failure>;

/// Fails a case with a message unless `cond` holds.
pub fn ensure(cond: bool, message: impl FnOnce() -> String) -> CaseResult {
    if cond {
        Ok(())
    } else {
        Err(Failure::Failed(message()))
    }
}

/// Trials a backend is known to fail, by substring of the trial name, with the reason.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    pub expected_failures: Vec<(String, String)>,
}

/// Backends that must be present, from `HALBENCH_REQUIRE=cpu,opencl,…`.
pub fn required_backends() -> Vec<String> {
    std::env::var("HALBENCH_REQUIRE")
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

type SharedDevice = Arc<Mutex<Box<dyn Device>>>;

/// What a case gets: the device under test, and its backend (to open a second device).
pub struct Context<'a> {
    pub device: &'a mut dyn Device,
    pub backend: &'a dyn Backend,
    pub index: usize,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Context({}:{})", self.backend.name(), self.index)
    }
}

fn trial(
    name: String,
    device: SharedDevice,
    backend: Arc<dyn Backend>,
    index: usize,
    expected_failure: Option<String>,
    body: impl FnOnce(&mut Context<'_>) -> CaseResult + Send + 'static,
) -> Trial {
    Trial::ignorable_test(name, move || {
        let mut guard = device
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut cx = Context {
            device: guard.as_mut(),
            backend: backend.as_ref(),
            index,
        };
        let outcome = body(&mut cx);
        match (outcome, expected_failure) {
            (Err(Failure::Unsupported(why)), _) => Ok(Completion::ignored_with(why)),
            (Ok(()), None) => Ok(Completion::Completed),
            (Err(Failure::Failed(why)), None) => Err(Failed::from(why)),
            (Err(Failure::Failed(_)), Some(_)) => Ok(Completion::Completed),
            (Ok(()), Some(reason)) => Err(Failed::from(format!(
                "passed, but is listed as an expected failure ({reason}): remove it from the list"
            ))),
        }
    })
}

/// Every trial for every device of `backend`.
pub fn trials(backend: Arc<dyn Backend>, expect: &Expectations) -> Vec<Trial> {
    let name = backend.name().to_string();
    let required = required_backends().contains(&name);
    let infos = match backend.devices() {
        Ok(infos) if !infos.is_empty() => infos,
        result => {
            let why = match result {
                Err(e) => e.to_string(),
                Ok(_) => format!("{name}: no devices"),
            };
            let trial = Trial::ignorable_test(format!("{name}::discovery"), move || {
                if required {
                    Err(Failed::from(format!(
                        "required by HALBENCH_REQUIRE, but {why}"
                    )))
                } else {
                    Ok(Completion::ignored_with(why))
                }
            });
            return vec![trial];
        }
    };
    let mut out = Vec::new();
    for info in infos {
        let prefix = format!("{name}:{}", info.index);
        let device: SharedDevice = match backend.open(info.index) {
            Ok(d) => Arc::new(Mutex::new(d)),
            Err(e) => {
                let why = e.to_string();
                out.push(Trial::test(format!("{prefix}::open"), move || {
                    Err(why.into())
                }));
                continue;
            }
        };
        let mut add =
            |case: String, body: Box<dyn FnOnce(&mut Context<'_>) -> CaseResult + Send>| {
                let full = format!("{prefix}::{case}");
                let xfail = expect
                    .expected_failures
                    .iter()
                    .find(|(pattern, _)| full.contains(pattern.as_str()))
                    .map(|(_, reason)| reason.clone());
                out.push(trial(
                    full,
                    device.clone(),
                    backend.clone(),
                    info.index,
                    xfail,
                    body,
                ));
            };
        for (case, body) in hal_cases::CASES {
            add(case.to_string(), Box::new(body));
        }
        for &workload in crate::all() {
            for case in Case::all_of(workload, Scale::Smoke, &info) {
                add(
                    format!("workload::{case}"),
                    Box::new(move |cx| run_case(cx.device, &case)),
                );
            }
        }
        // Plans choose launch shapes by device class; run the shape-dependent cases with
        // the other class's shapes too, so a CPU driver in CI proves the GPU-shaped
        // launches (and the other way round) of every kernel source.
        let other = other_class(&info);
        for &workload in crate::all() {
            for case in Case::all_of(workload, Scale::Smoke, &info) {
                let shaped = matches!(
                    (case.workload.name(), case.variant),
                    ("gemm", "tiled")
                        | ("attention.prefill", "fused")
                        | ("stream.dot", _)
                        | ("stream.triad", _)
                        | ("peak.fma", _)
                );
                if shaped {
                    let other = other.clone();
                    add(
                        format!("launch-shape::{}::{case}", other.device_type),
                        Box::new(move |cx| run_case_planned_for(cx.device, &case, &other)),
                    );
                }
            }
        }
    }
    out
}

/// The device description of the other device class (a GPU for a CPU device, and the
/// other way round), for planning launches of the other shape.
fn other_class(info: &halbench_hal::DeviceInfo) -> halbench_hal::DeviceInfo {
    let mut other = info.clone();
    if info.device_type == DeviceClass::Gpu {
        other.device_type = DeviceClass::Cpu;
        other.subgroup_size = 1;
    } else {
        other.device_type = DeviceClass::Gpu;
        other.subgroup_size = 32;
    }
    other
}

/// Runs one case once and checks it against the reference.
pub fn run_case(device: &mut dyn Device, case: &Case) -> CaseResult {
    let info = device.info().clone();
    run_case_planned_for(device, case, &info)
}

/// Runs one case with a plan made for `planned_for` (normally the device's own info).
pub fn run_case_planned_for(
    device: &mut dyn Device,
    case: &Case,
    planned_for: &halbench_hal::DeviceInfo,
) -> CaseResult {
    let plan = case.plan(planned_for)?;
    let mut prepared = executor::prepare(device, &plan)?;
    prepared.run()?;
    let output = prepared.output()?;
    drop(prepared);
    let v = case.check(&plan, &output);
    ensure(v.passed, || {
        format!(
            "{case}: {} of {} elements wrong; first: {}",
            v.failures,
            v.checked,
            v.first_failure.clone().unwrap_or_default()
        )
    })
}

/// Entry point for a backend's `tests/conformance.rs` (harness = false):
/// `fn main() -> ExitCode { conformance::main(Arc::new(MyBackend::new()), Expectations::default()) }`
pub fn main(backend: Arc<dyn Backend>, expect: Expectations) -> ExitCode {
    let args = Arguments::from_args();
    libtest_mimic::run(&args, trials(backend, &expect)).exit_code()
}
