//! The parent side of worker processes: one child per device (and one per backend while
//! listing devices), each the same binary running [`crate::worker::serve`].
//!
//! ```text
//!   DeviceWorker::start ─► spawn child, send Job ─► Opened?
//!   run(i) ─► send Command ─► wait (watchdog, Ctrl-C polled every 100 ms)
//!                ├─ Reply::Case          → the row
//!                ├─ pipe closed          → error row "worker killed by signal 11 (SIGSEGV) in …"
//!                └─ watchdog fired       → kill; error row "timed out after N s in …"
//!            after a death: the next case starts a fresh child; after MAX_DEATHS, the
//!            device's remaining cases are skipped rows saying why
//! ```

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use halbench_hal::DeviceInfo;
use halbench_kernels::Case;

use crate::harness::Budget;
use crate::interrupt;
use crate::results::{CaseResult, Status};
use crate::worker::{Command, Failure, Job, Reply, SelectionSpec, Task};

/// Deaths of one device's workers after which its remaining cases are not tried.
pub const MAX_DEATHS: u32 = 3;

/// How long listing a backend's devices or opening one may take (unless `--case-timeout`
/// says otherwise): driver start-up, which on a CPU OpenCL or Vulkan driver is seconds.
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(120);

/// The watchdog for one case when `--case-timeout` is not given: two minutes, plus ten
/// times the sampling cap, plus the case's work (every sample and the validation run) at
/// 1 GFLOP/s and 1 GB/s, so a big case on a slow device is not cut short while a hang is
/// still caught within minutes.
pub fn default_case_timeout(case: &Case, budget: &Budget) -> Duration {
    let cost = case.cost();
    let runs = f64::from(budget.samples.max(budget.min_samples)) + 2.0;
    let work_s = (cost.flops / 1e9 + cost.bytes / 1e9) * runs;
    let s = 120.0 + 10.0 * budget.cap.as_secs_f64() + work_s;
    Duration::from_secs_f64(s.min(86_400.0))
}

/// What a wait on a worker came to.
enum Waited {
    Reply(Reply),
    /// The pipe closed or carried garbage: why, in words.
    Died(String),
    TimedOut(Duration),
    Interrupted,
}

/// One child process and the thread reading its replies.
struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    replies: Receiver<Result<Reply, String>>,
}

/// A signal's conventional name, for the rows a killed worker leaves.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGSYS => "SIGSYS",
        _ => "signal",
    }
}

/// This binary as a child: the same `--plugin`s, killed if this process dies.
pub fn child_command() -> Result<std::process::Command, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find halbench: {e}"))?;
    let mut command = std::process::Command::new(exe);
    for plugin in crate::registry::explicit_plugins() {
        command.arg("--plugin").arg(plugin);
    }
    // SAFETY: prctl is async-signal-safe; between fork and exec it only asks the kernel
    // to kill this child when its parent dies, so no worker outlives a run.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    Ok(command)
}

/// How a child ended, in the words error rows use.
pub fn describe_exit(status: std::process::ExitStatus) -> String {
    match (status.signal(), status.code()) {
        (Some(sig), _) => format!(
            "worker killed by signal {sig} ({}{})",
            signal_name(sig),
            if status.core_dumped() {
                ", core dumped"
            } else {
                ""
            }
        ),
        (None, Some(code)) => format!("worker exited with status {code}"),
        (None, None) => format!("worker ended: {status}"),
    }
}

impl Worker {
    fn spawn(job: &Job) -> Result<Worker, String> {
        let mut command = child_command()?;
        command
            .arg("__worker")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start a worker process: {e}"))?;
        let stdout = child.stdout.take().ok_or("the worker has no stdout")?;
        let (tx, replies) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let reply = line
                    .map_err(|e| e.to_string())
                    .and_then(|l| serde_json::from_str::<Reply>(&l).map_err(|e| e.to_string()));
                let bad = reply.is_err();
                if tx.send(reply).is_err() || bad {
                    return;
                }
            }
        });
        let mut worker = Worker {
            stdin: child.stdin.take(),
            child,
            replies,
        };
        worker.send(job)?;
        Ok(worker)
    }

    fn send(&mut self, message: &impl serde::Serialize) -> Result<(), String> {
        let mut line = serde_json::to_vec(message).map_err(|e| e.to_string())?;
        line.push(b'\n');
        let stdin = self.stdin.as_mut().ok_or("the worker's stdin is closed")?;
        stdin
            .write_all(&line)
            .and_then(|()| stdin.flush())
            .map_err(|e| e.to_string())
    }

    /// Waits for the next reply, at most `limit`, giving up at once on Ctrl-C.
    fn wait(&mut self, limit: Duration) -> Waited {
        let start = Instant::now();
        loop {
            if interrupt::requested() {
                return Waited::Interrupted;
            }
            let left = limit.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Waited::TimedOut(limit);
            }
            match self
                .replies
                .recv_timeout(left.min(Duration::from_millis(100)))
            {
                Ok(Ok(reply)) => return Waited::Reply(reply),
                Ok(Err(garbage)) => {
                    self.kill();
                    return Waited::Died(format!("worker sent an unreadable reply ({garbage})"));
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Waited::Died(self.death()),
            }
        }
    }

    /// How the child ended, once its pipe has closed.
    fn death(&mut self) -> String {
        match self.child.wait() {
            Ok(status) => describe_exit(status),
            Err(e) => format!("worker lost: {e}"),
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing stdin ends a healthy worker's loop; one that is stuck is killed.
        self.stdin = None;
        let deadline = Instant::now() + Duration::from_millis(500);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.kill();
    }
}

/// `120 s`, `2.5 s`: a limit as the user gave it.
fn seconds(d: Duration) -> String {
    format!("{} s", (d.as_secs_f64() * 10.0).round() / 10.0)
}

fn failure_text(waited: Waited, doing: &str) -> Failure {
    let reason = match waited {
        Waited::Reply(r) => format!("the worker replied out of turn while {doing}: {r:?}"),
        Waited::Died(why) => format!("{why} while {doing}"),
        Waited::TimedOut(d) => format!("timed out after {} while {doing}", seconds(d)),
        Waited::Interrupted => "interrupted".into(),
    };
    Failure {
        unavailable: false,
        reason,
    }
}

/// Lists every backend's devices, one worker per backend, all at once. Each entry is the
/// backend's devices or why there are none (a worker that dies or hangs is a failure of
/// that backend alone).
pub fn list_devices(
    backends: &[String],
    selection: &SelectionSpec,
    budget: Budget,
    limit: Duration,
) -> Vec<Result<Vec<DeviceInfo>, Failure>> {
    // Spawned from this thread and waited on in turn: the deadline is shared, so the
    // slowest backend bounds the whole listing.
    let mut workers: Vec<Result<Worker, String>> = backends
        .iter()
        .map(|b| {
            Worker::spawn(&Job {
                backend: b.clone(),
                task: Task::List,
                selection: selection.clone(),
                budget,
            })
        })
        .collect();
    let start = Instant::now();
    workers
        .iter_mut()
        .map(|w| match w {
            Err(e) => Err(Failure {
                unavailable: false,
                reason: e.clone(),
            }),
            Ok(w) => match w.wait(limit.saturating_sub(start.elapsed())) {
                Waited::Reply(Reply::Devices(d)) => d,
                Waited::TimedOut(_) => {
                    Err(failure_text(Waited::TimedOut(limit), "listing devices"))
                }
                other => Err(failure_text(other, "listing devices")),
            },
        })
        .collect()
}

/// One device driven from worker processes, restarted after a death.
pub struct DeviceWorker {
    job: Job,
    worker: Option<Worker>,
    deaths: u32,
    last_death: String,
    case_timeout: Option<Duration>,
    setup_timeout: Duration,
}

impl std::fmt::Debug for DeviceWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceWorker")
            .field("backend", &self.job.backend)
            .field("deaths", &self.deaths)
            .finish()
    }
}

/// A worker started and not yet answered (so many devices open at once).
#[derive(Debug)]
pub struct Starting(DeviceWorker);

impl Starting {
    /// Waits for the device to open.
    pub fn opened(mut self) -> Result<DeviceWorker, Failure> {
        let timeout = self.0.setup_timeout;
        match self.0.worker.as_mut() {
            Some(worker) => await_opened(worker, timeout).map(|()| self.0),
            None => Err(Failure {
                unavailable: false,
                reason: self.0.last_death.clone(),
            }),
        }
    }
}

fn await_opened(worker: &mut Worker, timeout: Duration) -> Result<(), Failure> {
    match worker.wait(timeout) {
        Waited::Reply(Reply::Opened(result)) => result,
        other => Err(failure_text(other, "opening the device")),
    }
}

impl DeviceWorker {
    /// Starts a worker for `info`; [`Starting::opened`] waits for it.
    pub fn start(
        info: &DeviceInfo,
        selection: &SelectionSpec,
        budget: Budget,
        case_timeout: Option<Duration>,
    ) -> Starting {
        let job = Job {
            backend: info.backend.clone(),
            task: Task::Open(Box::new(info.clone())),
            selection: selection.clone(),
            budget,
        };
        let (worker, last_death) = match Worker::spawn(&job) {
            Ok(w) => (Some(w), String::new()),
            Err(e) => (None, e),
        };
        Starting(DeviceWorker {
            job,
            worker,
            deaths: 0,
            last_death,
            case_timeout,
            setup_timeout: case_timeout.unwrap_or(SETUP_TIMEOUT),
        })
    }

    /// Runs case `index` of the device's list; `None` when the run was interrupted.
    /// Whatever the worker does, the answer is a row.
    pub fn run(
        &mut self,
        index: usize,
        case: &Case,
        row: impl Fn(Status, String) -> CaseResult,
    ) -> Option<CaseResult> {
        if self.deaths >= MAX_DEATHS {
            return Some(row(
                Status::Skipped,
                format!(
                    "not run: this device's worker died {} times (last: {})",
                    self.deaths, self.last_death
                ),
            ));
        }
        if self.worker.is_none() {
            match self.restart() {
                Ok(()) => {}
                Err(Failure { reason, .. }) if reason == "interrupted" => return None,
                Err(f) => {
                    self.deaths += 1;
                    self.last_death = f.reason.clone();
                    return Some(row(Status::Error, f.reason));
                }
            }
        }
        let limit = self
            .case_timeout
            .unwrap_or_else(|| default_case_timeout(case, &self.job.budget));
        let worker = self.worker.as_mut()?;
        let command = Command {
            index,
            name: case.to_string(),
        };
        let waited = match worker.send(&command) {
            Ok(()) => worker.wait(limit),
            // A worker that died idle: its pipe says how.
            Err(_) => Waited::Died(worker.death()),
        };
        let what = format!("{}/{case}", self.job_device_key());
        match waited {
            Waited::Reply(Reply::Case(r)) => Some(*r),
            Waited::Interrupted => None,
            other => {
                if let Some(mut w) = self.worker.take() {
                    w.kill();
                }
                let reason = match other {
                    Waited::TimedOut(d) => format!(
                        "timed out after {} in {what} (worker killed; --case-timeout sets the limit)",
                        seconds(d)
                    ),
                    Waited::Died(why) => format!("{why} in {what}"),
                    Waited::Reply(r) => format!("the worker replied out of turn in {what}: {r:?}"),
                    Waited::Interrupted => unreachable!("handled above"),
                };
                self.deaths += 1;
                self.last_death = reason.clone();
                Some(row(Status::Error, reason))
            }
        }
    }

    fn job_device_key(&self) -> String {
        match &self.job.task {
            Task::Open(info) => info.key(),
            Task::List => self.job.backend.clone(),
        }
    }

    fn restart(&mut self) -> Result<(), Failure> {
        let mut worker = Worker::spawn(&self.job).map_err(|reason| Failure {
            unavailable: false,
            reason,
        })?;
        await_opened(&mut worker, self.setup_timeout)?;
        self.worker = Some(worker);
        Ok(())
    }
}
