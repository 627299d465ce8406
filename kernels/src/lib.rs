//! # halbench-kernels
//!
//! The workloads, defined once and run on every backend. Backend authors write no
//! workload code: they implement kernels under the canonical names of the kernel ABI
//! (`kernels/README.md`), and everything else lives here.
//!
//! ```text
//!   Workload ──cases(scale, info)──► Case { workload, variant, dtype, shape }
//!   Case ──plan(info)──► Plan { buffers (with inputs), steps, output }
//!   Plan ──executor::prepare(&mut dyn Device)──► Prepared ──run()──► output bytes
//!   Case ──check(plan, output)──► Validation      (f64 reference, other algorithm)
//!   Case ──cost()──► Cost { flops, bytes }         (what the harness turns into GB/s, TFLOP/s)
//! ```
//!
//! References compute in f64 with a different algorithm from the kernels (a two-pass
//! softmax against the kernels' online one), so a shared algorithmic bug cannot pass.
//! Small outputs are checked in full, large ones on a sample that always includes both
//! ends. Inputs are deterministic and never zero.

pub mod check;
pub mod conformance;
pub mod custom;
pub mod data;
pub mod executor;
pub mod plan;
pub mod shape;
pub mod sources;
mod workloads;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use halbench_hal::{DType, DeviceInfo, Error};

pub use check::Validation;
pub use custom::{CustomKernel, KernelOrigin, LaunchShape, PortableKernel};
pub use plan::Plan;
pub use shape::{Shape, ShapeKind};
pub use workloads::{all, element_dims, ExpertLoad};

/// How big and how many cases: `smoke` for tests (milliseconds), `quick` for the
/// default run (a few minutes on a laptop CPU), `full` for the real measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Scale {
    Smoke,
    #[default]
    Quick,
    Full,
}

impl Scale {
    pub fn name(self) -> &'static str {
        match self {
            Scale::Smoke => "smoke",
            Scale::Quick => "quick",
            Scale::Full => "full",
        }
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scale {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [Scale::Smoke, Scale::Quick, Scale::Full]
            .into_iter()
            .find(|x| x.name() == s)
            .ok_or_else(|| format!("unknown scale `{s}` (known: smoke, quick, full)"))
    }
}

/// What limits a workload: memory traffic or arithmetic. Decides which peak a result is
/// compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Memory,
    Compute,
    /// Neither: the workload measures a fixed cost per operation (launch latency).
    Latency,
}

/// Work done by one run of a case.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Cost {
    pub flops: f64,
    /// Bytes moved to and from memory, counted as the workload's table says.
    pub bytes: f64,
    /// Kernel launches, for workloads that measure the cost of one.
    pub launches: f64,
}

/// The cache state each timed sample starts from (`--cache`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CacheState {
    /// Samples follow runs of the same case back to back: its data is wherever the last
    /// run left it (cached, if it fits).
    #[default]
    Warm,
    /// Before each sample, outside the timed window, the device copies a buffer of twice
    /// its last-level cache, so no sample starts with its data cached; one run a sample.
    Cold,
}

impl CacheState {
    pub fn name(self) -> &'static str {
        match self {
            CacheState::Warm => "warm",
            CacheState::Cold => "cold",
        }
    }
}

impl FromStr for CacheState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "warm" => Ok(CacheState::Warm),
            "cold" => Ok(CacheState::Cold),
            other => Err(format!("unknown cache state `{other}` (warm, cold)")),
        }
    }
}

/// One workload: a family of cases and everything needed to run and judge them.
pub trait Workload: Sync {
    /// `stream.triad`, `gemm`, `attention.prefill`, …
    fn name(&self) -> &'static str;
    fn variants(&self) -> &'static [&'static str];
    fn dtypes(&self) -> &'static [DType];
    fn shape_kind(&self) -> ShapeKind;
    fn bound(&self) -> Bound;
    /// The shapes of a scale; memory-bound workloads size themselves from the device.
    fn shapes(&self, scale: Scale, info: &DeviceInfo) -> Vec<Shape>;
    /// Refuses a shape of the right kind this workload still cannot take (its plan would
    /// not fit in host memory, say), with the reason. Default: every valid shape.
    fn check_shape(&self, shape: &Shape) -> Result<(), String> {
        let _ = shape;
        Ok(())
    }
    fn cost(&self, shape: &Shape, dtype: DType) -> Cost;
    /// Buffers with their inputs, and the steps. Only called with this workload's shapes.
    fn plan(&self, variant: &str, dtype: DType, shape: &Shape, info: &DeviceInfo) -> Plan;
    /// Compares a run's output with the reference.
    fn check(&self, dtype: DType, shape: &Shape, plan: &Plan, output: &[u8]) -> Validation;
    /// True when the case's data fits in the device's caches, so its bandwidth is not
    /// memory bandwidth.
    fn cache_resident(&self, shape: &Shape, info: &DeviceInfo) -> bool {
        let _ = (shape, info);
        false
    }
    /// The cache state a case is timed from unless `--cache` says otherwise: warm, except
    /// where serving reads the data cold (decode: each step's weights and KV cache were
    /// evicted by the other layers' since the last step).
    fn default_cache(&self, shape: &Shape) -> CacheState {
        let _ = shape;
        CacheState::Warm
    }
    /// Whether the scale's own suite runs `variant` at one of its shapes (a shape the
    /// user gives runs every variant). Lets a quick suite leave out pairs that say little
    /// at great cost; default: all of them.
    fn at_scale(&self, variant: &str, shape: &Shape, scale: Scale) -> bool {
        let _ = (variant, shape, scale);
        true
    }
    /// For a mixture-of-experts workload, how its routing spread the rows over the
    /// experts (reported with every result of the shape).
    fn expert_load(&self, shape: &Shape) -> Option<ExpertLoad> {
        let _ = shape;
        None
    }
    /// Why a case's figure is not of the device's own arithmetic for its dtype (fp8
    /// decoded to f32 in the kernel), or `None` when it is. Results carry it.
    fn emulated(
        &self,
        variant: &str,
        dtype: DType,
        shape: &Shape,
        info: &DeviceInfo,
    ) -> Option<String> {
        let _ = (variant, shape);
        dtype.is_fp8().then(|| fp8_emulated(dtype, info))
    }
}

/// The `emulated` note of an fp8 case that decodes its operands to f32.
pub fn fp8_emulated(dtype: DType, info: &DeviceInfo) -> String {
    format!(
        "{dtype} decoded to f32 in the kernel and multiplied in f32: no fp8 arithmetic on {} from this kernel",
        info.key()
    )
}

impl fmt::Debug for dyn Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One runnable case.
#[derive(Debug, Clone)]
pub struct Case {
    pub workload: &'static dyn Workload,
    /// The variant whose plan runs (for a custom kernel: the built-in variant it replaces a
    /// kernel of).
    pub variant: &'static str,
    pub dtype: DType,
    pub shape: Shape,
    /// A kernel from outside the registry standing in for one of the plan's kernels, and
    /// the variant name its results carry (see [`Case::with_custom`]).
    custom: Option<(Arc<CustomKernel>, String)>,
}

impl Case {
    pub fn new(
        workload: &'static dyn Workload,
        variant: &'static str,
        dtype: DType,
        shape: Shape,
    ) -> Self {
        Case {
            workload,
            variant,
            dtype,
            shape,
            custom: None,
        }
    }

    /// Every variant × dtype × shape of a workload at a scale.
    pub fn all_of(workload: &'static dyn Workload, scale: Scale, info: &DeviceInfo) -> Vec<Case> {
        Self::with_shapes(workload, &workload.shapes(scale, info))
            .into_iter()
            .filter(|c| workload.at_scale(c.variant, &c.shape, scale))
            .collect()
    }

    /// Every variant × dtype of a workload for given shapes.
    pub fn with_shapes(workload: &'static dyn Workload, shapes: &[Shape]) -> Vec<Case> {
        let mut out = Vec::new();
        for shape in shapes {
            for &variant in workload.variants() {
                for &dtype in workload.dtypes() {
                    out.push(Case::new(workload, variant, dtype, *shape));
                }
            }
        }
        out
    }

    /// This case with `kernel` standing in for the registry's kernel of the same name.
    /// Its results are named `user:LABEL`, or `user:LABEL@VARIANT` where the kernel serves
    /// several of the workload's variants, so a user kernel's row is never mistaken for
    /// the built-in's.
    pub fn with_custom(mut self, kernel: Arc<CustomKernel>) -> Self {
        let probe = DeviceInfo::default();
        let serving = self
            .workload
            .variants()
            .iter()
            .filter(|v| {
                Case::new(self.workload, v, self.dtype, self.shape).launches(&kernel.name, &probe)
            })
            .count();
        let name = if serving > 1 {
            format!("user:{}@{}", kernel.label, self.variant)
        } else {
            format!("user:{}", kernel.label)
        };
        self.custom = Some((kernel, name));
        self
    }

    /// The custom kernel standing in for one of the plan's, if any.
    pub fn custom(&self) -> Option<&Arc<CustomKernel>> {
        self.custom.as_ref().map(|(k, _)| k)
    }

    /// The variant as results name it: the workload's, or the custom kernel's name.
    pub fn variant_name(&self) -> &str {
        self.custom.as_ref().map_or(self.variant, |(_, name)| name)
    }

    /// True when the case's plan for `info` launches kernel `name`.
    pub fn launches(&self, name: &str, info: &DeviceInfo) -> bool {
        self.workload
            .plan(self.variant, self.dtype, &self.shape, info)
            .kernels()
            .any(|k| k == name)
    }

    /// The plan for a device, with the custom kernel (if any) in place. Errors when the
    /// custom kernel's launch shape cannot apply to this plan.
    pub fn plan(&self, info: &DeviceInfo) -> Result<Plan, Error> {
        let mut plan = self
            .workload
            .plan(self.variant, self.dtype, &self.shape, info);
        if let Some(k) = self.custom() {
            plan.use_custom(k)
                .map_err(|m| Error::invalid(&info.backend, m))?;
        }
        Ok(plan)
    }

    pub fn check(&self, plan: &Plan, output: &[u8]) -> Validation {
        self.workload.check(self.dtype, &self.shape, plan, output)
    }

    pub fn cost(&self) -> Cost {
        self.workload.cost(&self.shape, self.dtype)
    }

    pub fn default_cache(&self) -> CacheState {
        self.workload.default_cache(&self.shape)
    }

    pub fn emulated(&self, info: &DeviceInfo) -> Option<String> {
        self.workload
            .emulated(self.variant, self.dtype, &self.shape, info)
    }
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}",
            self.workload.name(),
            self.variant_name(),
            self.dtype,
            self.shape
        )
    }
}

/// Finds a workload by exact name.
pub fn workload(name: &str) -> Option<&'static dyn Workload> {
    all().iter().copied().find(|w| w.name() == name)
}
