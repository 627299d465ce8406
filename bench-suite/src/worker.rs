//! The child side of a worker process (`halbench __worker`), and the protocol both sides
//! speak. A driver or plugin that segfaults, aborts or hangs takes down its worker, not
//! the run: the parent ([`crate::supervisor`]) sees the pipe close or the watchdog fire,
//! and writes the case as an `error` row.
//!
//! ```text
//!   parent ── stdin:  Job (one JSON line), then Command lines (a case index each) ──► child
//!   parent ◄─ fd 1 at start (the protocol pipe): Reply lines ─────────────────────── child
//!                    (the child points its own fd 1 at stderr, so a driver printing on
//!                     stdout cannot corrupt the replies)
//! ```
//!
//! A job either lists a backend's devices or opens one device and runs the cases the
//! parent names, by index into the list both sides build from the same [`SelectionSpec`]
//! (and check by name, so they cannot drift apart silently).

use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::Arc;

use halbench_hal::{Backend, DeviceInfo, Error};
use halbench_kernels::{Case, CustomKernel, PortableKernel, Scale};
use serde::{Deserialize, Serialize};

use crate::harness::Budget;
use crate::registry;
use crate::results::CaseResult;
use crate::select::{Selection, UsageError};

/// What to run, as data a child can rebuild the cases from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SelectionSpec {
    pub workload: Vec<String>,
    pub variant: Vec<String>,
    pub dtype: Vec<String>,
    pub shape: Vec<String>,
    pub scale: String,
    pub kernels: Vec<PortableKernel>,
    /// Only the cases with these keys; `None`: all selected.
    pub only: Option<BTreeSet<String>>,
}

impl SelectionSpec {
    fn selection(&self) -> Result<Selection, UsageError> {
        let scale: Scale = self.scale.parse().map_err(UsageError)?;
        let kernels: Vec<Arc<CustomKernel>> = self
            .kernels
            .iter()
            .map(|k| Arc::new(CustomKernel::from_portable(k.clone())))
            .collect();
        Selection::new(
            &self.workload,
            &self.variant,
            &self.dtype,
            &self.shape,
            scale,
            &kernels,
        )
    }
}

/// A device's cases: the selection's, less those `only` leaves out. Parent and child both
/// call this, so a case index means the same case on both sides.
pub fn device_cases(
    selection: &Selection,
    info: &DeviceInfo,
    only: Option<&BTreeSet<String>>,
) -> Vec<Case> {
    let mut cases = selection.cases(info);
    if let Some(only) = only {
        let key = info.key();
        // A case's Display is the key less the device.
        cases.retain(|c| only.contains(&format!("{key}/{c}")));
    }
    cases
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Task {
    /// Reply with the backend's devices.
    List,
    /// Open this device, reply `Opened`, then run the cases named on stdin.
    Open(Box<DeviceInfo>),
}

/// The first line a child reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub backend: String,
    pub task: Task,
    pub selection: SelectionSpec,
    pub budget: Budget,
}

/// Every later line: run case `index`, whose name (`Case`'s Display) is `name`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Command {
    pub index: usize,
    pub name: String,
}

/// Why a backend or device cannot be used, as the parent records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failure {
    /// `Unavailable` (the driver is missing) rather than an error.
    pub unavailable: bool,
    pub reason: String,
}

impl Failure {
    fn of(e: &Error) -> Failure {
        Failure {
            unavailable: matches!(e, Error::Unavailable { .. }),
            reason: crate::run::reason(e),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Reply {
    Devices(Result<Vec<DeviceInfo>, Failure>),
    Opened(Result<(), Failure>),
    Case(Box<CaseResult>),
}

/// Moves the protocol off fd 1: returns a writer on the original stdout pipe and points
/// fd 1 at stderr, so whatever a driver prints lands in the parent's stderr.
fn protocol_pipe() -> std::io::Result<std::fs::File> {
    use std::os::fd::FromRawFd;
    // SAFETY: plain descriptor calls on this process's own fds; `dup` returns a new fd we
    // then own (checked for -1 before use).
    unsafe {
        let fd = libc::dup(1);
        if fd < 0 || libc::dup2(2, 1) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(std::fs::File::from_raw_fd(fd))
    }
}

fn send(out: &mut impl Write, reply: &Reply) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(reply).map_err(std::io::Error::other)?;
    line.push(b'\n');
    out.write_all(&line)?;
    out.flush()
}

/// `halbench __worker`: serve one job from stdin. Exit 0 when stdin closes, 2 on a job
/// it cannot read (a parent and child of different builds).
pub fn serve() -> ExitCode {
    // Ctrl-C in a terminal reaches the whole process group: the parent decides, and kills
    // this child if the run stops.
    // SAFETY: setting a signal's disposition to SIG_IGN has no handler code to be unsafe.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
    let mut out = match protocol_pipe() {
        Ok(f) => std::io::BufWriter::new(f),
        Err(e) => {
            eprintln!("error: worker: cannot set up its pipe: {e}");
            return ExitCode::from(crate::run::FAILURE);
        }
    };
    let mut lines = std::io::stdin().lock().lines();
    let job: Job = match lines.next().map(|l| l.map(|l| serde_json::from_str(&l))) {
        Some(Ok(Ok(job))) => job,
        other => {
            eprintln!("error: worker: no job on stdin ({other:?})");
            return ExitCode::from(crate::run::USAGE);
        }
    };
    let backend = registry::backends()
        .into_iter()
        .find(|b| b.name() == job.backend);
    let result = match (backend, &job.task) {
        (None, _) => send(
            &mut out,
            &Reply::Devices(Err(Failure {
                unavailable: false,
                reason: format!("the worker has no backend `{}`", job.backend),
            })),
        ),
        (Some(b), Task::List) => send(
            &mut out,
            &Reply::Devices(b.devices().map_err(|e| Failure::of(&e))),
        ),
        (Some(b), Task::Open(info)) => run_device(b, info, &job, &mut lines, &mut out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The parent went away: nobody is left to tell.
        Err(_) => ExitCode::from(crate::run::FAILURE),
    }
}

fn run_device(
    backend: Arc<dyn Backend>,
    info: &DeviceInfo,
    job: &Job,
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let cases = match job.selection.selection() {
        Ok(s) => device_cases(&s, info, job.selection.only.as_ref()),
        Err(e) => {
            let failure = Failure {
                unavailable: false,
                reason: format!("the worker cannot rebuild the selection: {}", e.0),
            };
            return send(out, &Reply::Opened(Err(failure)));
        }
    };
    let mut device = match backend.open(info.index) {
        Ok(d) => d,
        Err(e) => return send(out, &Reply::Opened(Err(Failure::of(&e)))),
    };
    send(out, &Reply::Opened(Ok(())))?;
    for line in lines {
        let command: Command = serde_json::from_str(&line?).map_err(std::io::Error::other)?;
        let result = match cases.get(command.index) {
            Some(case) if case.to_string() == command.name => {
                crate::run::run_guarded(device.as_mut(), &*backend, info, case, job.budget)
            }
            found => {
                let mut r =
                    crate::run::case_row(&*backend, info, None, crate::results::Status::Error);
                r.reason = Some(format!(
                    "the worker's case {} is `{}`, the run asked for `{}`",
                    command.index,
                    found.map_or_else(|| "none".into(), ToString::to_string),
                    command.name
                ));
                r
            }
        };
        send(out, &Reply::Case(Box::new(result)))?;
    }
    Ok(())
}
