//! The registry of workloads.

mod attention;
mod decode;
mod gemm;
mod grouped;
mod kv8;
mod latency;
mod paged;
mod peak;
mod stream;
mod sweep;
mod transfer;
mod wq;

use crate::Workload;

pub use grouped::ExpertLoad;
pub use stream::element_dims;

static ALL: [&dyn Workload; 18] = [
    &stream::Stream(stream::Op::Copy),
    &stream::Stream(stream::Op::Scale),
    &stream::Stream(stream::Op::Add),
    &stream::Stream(stream::Op::Triad),
    &stream::Stream(stream::Op::Dot),
    &sweep::Sweep,
    &transfer::Transfer(transfer::Direction::HostToDevice),
    &transfer::Transfer(transfer::Direction::DeviceToHost),
    &transfer::Transfer(transfer::Direction::DeviceToDevice),
    &gemm::Gemm,
    &wq::WeightQuantGemm,
    &grouped::Grouped,
    &attention::Prefill,
    &decode::Decode,
    &paged::Paged,
    &kv8::Kv8,
    &peak::PeakFma,
    &latency::Launch,
];

/// Every workload, in the order results are listed.
pub fn all() -> &'static [&'static dyn Workload] {
    &ALL
}

/// Elements per array for a memory-bound workload: at `quick` each array is at least 4×
/// the last-level cache (so the data cannot stay in cache), at `full` 16×; both are capped
/// so that `arrays` arrays of f32 use at most a quarter of device memory.
pub(crate) fn stream_elements(info: &halbench_hal::DeviceInfo, factor: u64, arrays: u64) -> u64 {
    let llc = info.last_level_cache_bytes.max(8 << 20);
    let n = (factor * llc / 4).max(1 << 22).next_power_of_two();
    let cap = if info.memory_bytes > 0 {
        (info.memory_bytes / 4 / (arrays * 4)).max(1)
    } else {
        n
    };
    n.min(cap).min(u64::from(u32::MAX))
}

/// True for devices that want one work-item per group sweeping contiguous memory with
/// explicit vectors (PoCL, the CPU backend): CPU devices that do not run work-items as
/// SIMD lanes. Lavapipe, a CPU device with 8-wide subgroups, wants GPU-shaped groups.
pub(crate) fn cpu_shaped(info: &halbench_hal::DeviceInfo) -> bool {
    launch_class(info) == LaunchClass::Sweep
}

/// How a device wants its work-items laid out, the one rule every plan asks. Decided from
/// the typed device class and the SIMD width, so an NPU or an unknown device gets the same
/// shape from every workload (the GPU one: wide groups are what accelerators are built for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LaunchClass {
    /// Host cores that do not run work-items as SIMD lanes (PoCL, the CPU backend): one
    /// work-item per group sweeping contiguous memory with explicit vectors.
    Sweep,
    /// Host cores that run work-items as SIMD lanes (lavapipe): one subgroup per group.
    Lanes,
    /// GPUs, NPUs, anything else: wide groups.
    Wide,
}

pub(crate) fn launch_class(info: &halbench_hal::DeviceInfo) -> LaunchClass {
    match info.device_type {
        halbench_hal::DeviceClass::Cpu if info.subgroup_size > 1 => LaunchClass::Lanes,
        halbench_hal::DeviceClass::Cpu => LaunchClass::Sweep,
        _ => LaunchClass::Wide,
    }
}

/// Work-group counts every API accepts in any dimension (Vulkan's guaranteed minimum).
/// Grid-stride kernels are launched with at most this many groups.
pub(crate) const MAX_GROUPS: u32 = 65_535;

/// The most groups an element-wise grid-stride launch takes on this device: MAX_GROUPS,
/// except on a CPU device (Sweep) that states no grid limit of its own (OpenCL's global
/// size is a size_t). There a grid covering every element lets the kernel skip its loop,
/// which PoCL's vectoriser needs: at 2^27 elements 65,535 groups of 1,024 fall short.
pub(crate) fn element_group_cap(info: &halbench_hal::DeviceInfo) -> u32 {
    if launch_class(info) == LaunchClass::Sweep && info.max_groups[0] == 0 {
        u32::MAX
    } else {
        MAX_GROUPS
    }
}
