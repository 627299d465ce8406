//! What a device is, as results record it.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{DType, Dialect};

/// Optional capabilities. Fields are added over time; readers default missing ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
#[serde(default)]
pub struct Features {
    /// Element types the device stores and computes with (half types possibly through
    /// conversion to f32). A set, so a new dtype is one more member, not one more field.
    pub dtypes: BTreeSet<DType>,
    /// `record`/`elapsed` are implemented.
    pub device_timers: bool,
    /// Cooperative-matrix / tensor-core instructions reachable from portable kernels.
    pub cooperative_matrix: bool,
    /// fp8 operands reach the matrix units from the backend's own kernels (CUDA sm_89 and
    /// up: `mma.sync` with e4m3/e5m2). Elsewhere an fp8 figure is of fp8 decoded to f32
    /// in the kernel, and its result says so (`emulated`).
    pub fp8_matrix: bool,
    /// Device memory is host memory (the CPU, integrated GPUs): a case's device buffers
    /// and its host-side inputs compete for the same RAM.
    pub unified_memory: bool,
}

impl Features {
    /// f32 and whichever of the given types the device also has.
    pub fn dtypes_with(extra: impl IntoIterator<Item = DType>) -> BTreeSet<DType> {
        std::iter::once(DType::F32).chain(extra).collect()
    }
}

/// Reads what results have always held: `dtypes` now, `f16`/`bf16` flags before it. A
/// dtype this build does not know (a newer result's) is left out rather than failing the
/// whole document.
impl<'de> Deserialize<'de> for Features {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Document {
            dtypes: Option<Vec<String>>,
            f16: bool,
            bf16: bool,
            device_timers: bool,
            cooperative_matrix: bool,
            fp8_matrix: bool,
            unified_memory: bool,
        }
        let doc = Document::deserialize(d)?;
        let dtypes = match doc.dtypes {
            Some(names) => names.iter().filter_map(|n| n.parse().ok()).collect(),
            None => Features::dtypes_with(
                [(doc.f16, DType::F16), (doc.bf16, DType::BF16)]
                    .into_iter()
                    .filter_map(|(on, t)| on.then_some(t)),
            ),
        };
        Ok(Features {
            dtypes,
            device_timers: doc.device_timers,
            cooperative_matrix: doc.cooperative_matrix,
            fp8_matrix: doc.fp8_matrix,
            unified_memory: doc.unified_memory,
        })
    }
}

/// What kind of processor a device is: plans choose launch shapes from it (with
/// `subgroup_size`), never from a string. Serialised lowercase, as results always spelled
/// it; an unknown spelling (a newer plugin's) reads as `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DeviceClass {
    /// Host cores (the CPU backend, PoCL, lavapipe).
    Cpu,
    Gpu,
    /// An AI accelerator (Ascend, or OpenCL's CL_DEVICE_TYPE_ACCELERATOR).
    #[serde(alias = "accelerator")]
    Npu,
    #[default]
    #[serde(other)]
    Other,
}

impl DeviceClass {
    pub fn name(self) -> &'static str {
        match self {
            DeviceClass::Cpu => "cpu",
            DeviceClass::Gpu => "gpu",
            DeviceClass::Npu => "npu",
            DeviceClass::Other => "other",
        }
    }

    /// Parses the names above (and `accelerator`); anything else is `Other`.
    pub fn from_name(name: &str) -> Self {
        match name.to_ascii_lowercase().as_str() {
            "cpu" => DeviceClass::Cpu,
            "gpu" => DeviceClass::Gpu,
            "npu" | "accelerator" => DeviceClass::Npu,
            _ => DeviceClass::Other,
        }
    }
}

impl std::fmt::Display for DeviceClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A vendor figure and where it came from, so a percentage is never quoted without its
/// basis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Peak {
    pub value: f64,
    pub source: String,
}

/// Everything known about a device without running anything on it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct DeviceInfo {
    pub backend: String,
    pub index: usize,
    pub name: String,
    pub vendor: String,
    pub driver_version: String,
    /// What kind of processor it is (`cpu`, `gpu`, `npu`, `other` in the document).
    pub device_type: DeviceClass,
    pub memory_bytes: u64,
    /// Cores, SMs, CUs: whatever runs one work-group at a time.
    pub compute_units: u32,
    pub max_threads_per_group: u32,
    /// Threads per group in x, y, z (CUDA's block limits, OpenCL's
    /// CL_DEVICE_MAX_WORK_ITEM_SIZES, Vulkan's maxComputeWorkGroupSize); 0 where unknown.
    pub max_group_size: [u32; 3],
    /// Groups per launch in x, y, z (CUDA's grid limits, Vulkan's
    /// maxComputeWorkGroupCount); 0 where unknown or unbounded.
    pub max_groups: [u32; 3],
    pub last_level_cache_bytes: u64,
    pub subgroup_size: u32,
    /// Dialects `compile` accepts, best first.
    pub dialects: Vec<Dialect>,
    pub features: Features,
    /// Vendor memory bandwidth, GB/s (1e9 B/s), where known.
    pub peak_gbs: Option<Peak>,
    /// Vendor compute peak per dtype, TFLOP/s (1e12), where known.
    pub peak_tflops: BTreeMap<DType, Peak>,
    /// Anything else worth recording (`arch = sm_90`, plugin attributes).
    pub extras: BTreeMap<String, String>,
}

impl DeviceInfo {
    /// `backend:index`, the key results use.
    pub fn key(&self) -> String {
        format!("{}:{}", self.backend, self.index)
    }

    pub fn supports(&self, dtype: DType) -> bool {
        self.features.dtypes.contains(&dtype)
    }
}
