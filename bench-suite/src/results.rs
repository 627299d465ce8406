//! The result document: one per run, versioned, generated into `results/schema.json`.
//!
//! Compatibility: adding a field needs no version bump (readers ignore unknown fields and
//! default missing optional ones); removing or changing the meaning of a field does.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use halbench_hal::DeviceInfo;
use halbench_kernels::Validation;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RunReport {
    pub schema_version: u32,
    pub run: RunInfo,
    pub devices: Vec<DeviceInfo>,
    pub results: Vec<CaseResult>,
    /// Measured decode batch sweeps (`halbench roofline --preset/--layer`), made from
    /// results in `results`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sweeps: Vec<BatchSweep>,
}

/// One model layer's decode step (its GEMMs and its decode attention) timed at growing
/// batch on one device, with the knee found and the roofline formula's beside it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct BatchSweep {
    /// `backend:index`, as in `devices`.
    pub device: String,
    pub dtype: String,
    /// What one step runs, e.g. `70b: qkv n=10240,k=8192 + ... + attention h=64,...`.
    pub layer: String,
    /// Context length of each sequence's decode attention (0: none).
    pub context: u64,
    pub points: Vec<SweepPoint>,
    /// Seconds to read the weights a single-token step reads, once, at the measured
    /// bandwidth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_s: Option<f64>,
    /// The measured knee: the batch at which the step takes twice the single-token
    /// step's time (log-log interpolated between the two points around it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knee: Option<f64>,
    /// The roofline formula's batch: ridge × (bytes per weight ÷ 2) × (total ÷ active).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_knee: Option<f64>,
    /// Why the sweep ended where it did.
    pub stopped: String,
}

/// One batch of a sweep.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SweepPoint {
    pub batch: u64,
    /// The sum of the step's kernels' median times.
    pub step_s: f64,
    pub token_s: f64,
    pub bytes: f64,
    pub flops: f64,
    /// Of the measured bandwidth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pct_bandwidth: Option<f64>,
    /// Of the measured compute peak for the dtype.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pct_compute: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RunInfo {
    pub tool_version: String,
    pub git_revision: String,
    pub host: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub scale: String,
    pub command: Vec<String>,
    /// The run was stopped (Ctrl-C, SIGTERM) before every case ran: the results are the
    /// cases that finished.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// The scheduler that placed the run (Slurm job/step/node/task, Kubernetes
    /// pod/namespace/node/index); absent when none did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<crate::scheduler::Scheduler>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Validated and timed.
    Passed,
    /// Ran, but the output disagreed with the reference.
    Failed,
    /// The device cannot run this case (`reason` says why).
    Unsupported,
    /// The backend is not usable on this machine (`reason` says why).
    Unavailable,
    /// Something went wrong running it (`reason` says what).
    Error,
    /// Not run (`reason` says why: its device's worker died too often).
    Skipped,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Unsupported => "unsupported",
            Status::Unavailable => "unavailable",
            Status::Error => "error",
            Status::Skipped => "skipped",
        }
    }
}

/// One case on one device. Keyed by backend / device / workload / variant / dtype / shape.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CaseResult {
    pub backend: String,
    /// `backend:index`, matching a `devices` entry's backend and index.
    pub device: String,
    pub workload: String,
    pub variant: String,
    pub dtype: String,
    pub shape: String,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<Validation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Metrics>,
    /// Why the figure is not of the device's own arithmetic for the dtype (fp8 decoded to
    /// f32 in the kernel); absent where it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emulated: Option<String>,
    /// Where a custom kernel's source came from (`halbench run --kernel`); absent for the
    /// built-in kernels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<halbench_kernels::KernelOrigin>,
}

impl CaseResult {
    /// The key `compare` matches results by.
    pub fn key(&self) -> String {
        format!(
            "{}/{}/{}/{}/{}",
            self.device, self.workload, self.variant, self.dtype, self.shape
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimingMethod {
    /// The device's own timers (events around the launches).
    Device,
    /// A host clock around launches and a `sync`.
    System,
}

/// Seconds per run of the case.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Timing {
    pub method: TimingMethod,
    pub samples: u32,
    /// Runs per sample (chosen from the time budget).
    pub iterations: u32,
    pub median_s: f64,
    pub min_s: f64,
    pub max_s: f64,
    pub p10_s: f64,
    pub p90_s: f64,
    /// Coefficient of variation of the samples.
    pub cv: f64,
    /// Compiling (or finding in the cache) the case's kernels; never inside a sample.
    pub compile_s: f64,
    /// Half-width of the median's distribution-free 95% interval over the median
    /// (order statistics: the binomial ranks n/2 ∓ 0.98·√n); absent below 6 samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<f64>,
    /// The precision sampled to (`--precision`, or the scale's); absent: a fixed count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision_target: Option<f64>,
    /// The time cap stopped sampling before the target was reached.
    #[serde(default)]
    pub capped: bool,
    /// Wall time spent sampling (after the probe).
    #[serde(default)]
    pub sampling_s: f64,
    /// The cache state each sample started from (`--cache`, or the workload's default).
    #[serde(default)]
    pub cache: halbench_kernels::CacheState,
    /// Clocks, temperature, power and energy while the case sampled (what the platform
    /// exposes; the rest under `not_available`, with the reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telemetry: Option<crate::telemetry::Telemetry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Metrics {
    pub flops: f64,
    pub bytes: f64,
    /// 1e9 bytes per second at the median time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gbs: Option<f64>,
    /// 1e12 FLOP per second at the median time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tflops: Option<f64>,
    /// GB/s at the best (least) sample time: the statistic STREAM and BabelStream quote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_gbs: Option<f64>,
    /// TFLOP/s at the best sample time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_tflops: Option<f64>,
    /// GFLOP per joule over the sampling window, where the energy is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gflops_per_joule: Option<f64>,
    /// GB moved per joule, where the energy is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gb_per_joule: Option<f64>,
    /// Percent of the vendor peak for what bounds the workload (bandwidth or compute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pct_of_peak: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_source: Option<String>,
    /// FLOP per byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arithmetic_intensity: Option<f64>,
    /// Microseconds per kernel launch, for launch-latency workloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub us_per_launch: Option<f64>,
    /// The data fits in the last-level cache: this is not memory bandwidth.
    #[serde(default)]
    pub cache_resident: bool,
    /// How a mixture-of-experts case's routing spread its rows over the experts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expert_load: Option<halbench_kernels::ExpertLoad>,
    /// A collective's nccl-tests figures (algbw, busbw and the factor between them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collective: Option<crate::collective::CollectiveFigures>,
}

/// The JSON schema of [`RunReport`], as committed in `results/schema.json`.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(RunReport);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Process id and a per-process count: two runs, or two threads, writing one path
    // never share a temporary file, so the last rename leaves one writer's whole file.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let k = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    path.with_file_name(format!(".{name}.{}.{k}.tmp", std::process::id()))
}

/// Writes a file so that readers see the old contents or the new, never a half: a
/// temporary file beside it, flushed to disk, then renamed over it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Checks up front that `path` can be written, so a long run does not end in an error.
pub fn check_writable(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "is a directory",
        ));
    }
    let tmp = temp_path(path);
    File::create(&tmp)?;
    fs::remove_file(&tmp)
}
