//! The memory curve: one array read again and again, at working sets from 16 KiB to 16×
//! the last-level cache in steps of 2×, so each cache level shows as a plateau of GB/s
//! and the out-of-cache end is the device's memory bandwidth.
//!
//! Reading only (no writes) keeps the curve about where the data lives: a write costs a
//! read-for-ownership on CPUs and write-allocate policies differ by level. Every run reads
//! [`SWEEP_BYTES`] in all, `reps` passes over the working set inside one launch, so a
//! 16 KiB working set is timed over thousands of passes rather than against the launch's
//! own overhead (which would draw the launch cost, not the L1).

use halbench_hal::{DType, DeviceInfo, Dims};

use crate::check::{sum_tolerance, Checker, Validation};
use crate::data::get;
use crate::plan::{BufferSpec, Launch, Output, Plan, PlanArg, Step};
use crate::workloads::{launch_class, LaunchClass, MAX_GROUPS};
use crate::{Bound, Cost, Scale, Shape, ShapeKind, Workload};

/// Bytes one run reads, summed over its passes: long enough that a launch's overhead is
/// under 1% on a host device (PoCL's ~30 µs against ~1 ms at L1 speed) and a few percent
/// on a GPU (5 µs against ~50 µs from L2).
pub const SWEEP_BYTES: u64 = 256 << 20;

/// The smallest working set, half a typical L1 data cache.
pub const SWEEP_MIN_BYTES: u64 = 16 << 10;

/// How many times a run reads a working set of `n` f32.
pub fn sweep_reps(n: u64) -> u64 {
    (SWEEP_BYTES / (4 * n.max(1))).max(1)
}

/// The working sets of the curve, in bytes: 16 KiB, 32 KiB, … up to 16× the last-level
/// cache (rounded up to a power of two), keeping one array within a quarter of memory.
pub fn sweep_sizes(info: &DeviceInfo) -> Vec<u64> {
    let llc = info.last_level_cache_bytes.max(1 << 20);
    let mut top = (16 * llc).next_power_of_two();
    if info.memory_bytes > 0 {
        top = top.min((info.memory_bytes / 4).max(SWEEP_MIN_BYTES));
    }
    // One u32 counts the elements.
    top = top.min(u64::from(u32::MAX) / 2 * 4);
    std::iter::successors(Some(SWEEP_MIN_BYTES), |s| Some(s * 2))
        .take_while(|&s| s <= top)
        .collect()
}

/// Groups of the sweep: enough that every compute unit has a share of the working set
/// (so each level is the device's, not one core's), at least 16 elements per work-item
/// per pass, and at most 65,536 per work-item per pass (a pass must fit within lavapipe's
/// loop cap, see [`split_passes`]). Work-items per group as the element-wise kernels take
/// them.
fn sweep_dims(info: &DeviceInfo, n: u64) -> Dims {
    let cap = info.max_threads_per_group.max(1);
    let threads = match launch_class(info) {
        LaunchClass::Lanes => info.subgroup_size.clamp(1, cap),
        LaunchClass::Sweep => 1,
        LaunchClass::Wide => 256.min(cap),
    };
    let per_item = |most: u64| n / (most * u64::from(threads));
    let groups = u64::from(info.compute_units.max(1) * 4)
        .min(1024)
        .max(per_item(1 << 16))
        .min(per_item(16).max(1))
        .min(u64::from(MAX_GROUPS));
    Dims::linear(groups as u32, threads)
}

/// A run's passes, one entry per launch. One launch does them all, except where the driver
/// caps a work-item's loop iterations (lavapipe stops a loop silently after 65,535
/// iterations, summed over the invocation's loops): there each launch keeps every work-item
/// under half that, and writes its own slot of partials.
fn split_passes(info: &DeviceInfo, dims: Dims, n: u64) -> Vec<u64> {
    let reps = sweep_reps(n);
    if launch_class(info) != LaunchClass::Lanes {
        return vec![reps];
    }
    let share = n.div_ceil(u64::from(dims.groups[0]));
    let per_pass = share / (4 * u64::from(dims.threads[0])) + 5;
    let per_launch = (32_768 / per_pass).max(1);
    let mut left = reps;
    std::iter::from_fn(|| {
        let now = left.min(per_launch);
        left -= now;
        (now > 0).then_some(now)
    })
    .collect()
}

pub(crate) struct Sweep;

impl Workload for Sweep {
    fn name(&self) -> &'static str {
        "stream.sweep"
    }

    fn variants(&self) -> &'static [&'static str] {
        &["default"]
    }

    fn dtypes(&self) -> &'static [DType] {
        &[DType::F32]
    }

    fn shape_kind(&self) -> ShapeKind {
        ShapeKind::Elements
    }

    fn bound(&self) -> Bound {
        Bound::Memory
    }

    fn shapes(&self, scale: Scale, info: &DeviceInfo) -> Vec<Shape> {
        match scale {
            // Odd lengths, so every kernel's tail is checked.
            Scale::Smoke => vec![Shape::Elements { n: 4_099 }, Shape::Elements { n: 100_003 }],
            Scale::Quick | Scale::Full => sweep_sizes(info)
                .into_iter()
                .map(|bytes| Shape::Elements { n: bytes / 4 })
                .collect(),
        }
    }

    fn cost(&self, shape: &Shape, _dtype: DType) -> Cost {
        let n = shape.elements();
        let read = (sweep_reps(n) * n) as f64;
        Cost {
            flops: read,
            bytes: read * 4.0,
            ..Cost::default()
        }
    }

    fn cache_resident(&self, shape: &Shape, info: &DeviceInfo) -> bool {
        shape.elements() * 4 < 4 * info.last_level_cache_bytes
    }

    fn plan(&self, _variant: &str, _dtype: DType, shape: &Shape, info: &DeviceInfo) -> Plan {
        let n = shape.elements();
        let dims = sweep_dims(info, n);
        let groups = u64::from(dims.groups[0]);
        let launches = split_passes(info, dims, n);
        let steps = launches
            .iter()
            .enumerate()
            .map(|(slot, &reps)| {
                let args = vec![
                    PlanArg::Buffer(0),
                    PlanArg::Buffer(1),
                    PlanArg::U32(n as u32),
                    PlanArg::U32(reps as u32),
                    PlanArg::U32(slot as u32),
                ];
                Step::Launch(Launch::new("stream_sweep", DType::F32, dims, args).extent([n, 1, 1]))
            })
            .collect();
        Plan {
            buffers: vec![
                BufferSpec::input("sweep.a", DType::F32, n),
                BufferSpec::output("sweep.partial", groups * launches.len() as u64 * 4),
            ],
            steps,
            output: Output::Buffer(1),
        }
    }

    fn check(&self, _dtype: DType, shape: &Shape, plan: &Plan, out: &[u8]) -> Validation {
        let n = shape.elements() as usize;
        let (f, a) = (DType::F32, plan.data(0));
        let groups = sweep_dims_groups(plan);
        let slots = out.len() / 4 / groups;
        let mut checker = Checker::new();
        let want: f64 = (0..n).map(|i| get(f, a, i)).sum();
        let tol = sum_tolerance(want, (0..n).map(|i| get(f, a, i)));
        for slot in 0..slots {
            let got: f64 = (0..groups).map(|g| get(f, out, slot * groups + g)).sum();
            checker.check(got, want, tol, || {
                format!("sum of launch {slot}'s partials")
            });
        }
        checker.finish()
    }
}

/// The groups of a sweep's launches (all alike).
fn sweep_dims_groups(plan: &Plan) -> usize {
    match plan.steps.first() {
        Some(Step::Launch(l)) => l.dims.groups[0] as usize,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(llc: u64, memory: u64) -> DeviceInfo {
        DeviceInfo {
            last_level_cache_bytes: llc,
            memory_bytes: memory,
            ..DeviceInfo::default()
        }
    }

    #[test]
    fn sizes_double_from_16_kib_to_16_times_the_last_level_cache() {
        let sizes = sweep_sizes(&info(32 << 20, 24 << 30));
        assert_eq!(sizes.first(), Some(&(16 << 10)));
        assert_eq!(sizes.last(), Some(&(512 << 20)));
        assert!(sizes.windows(2).all(|w| w[1] == 2 * w[0]));
        // A 60 MiB L2 rounds up to 1 GiB; a small memory caps the top at a quarter of it.
        assert_eq!(
            sweep_sizes(&info(60 << 20, 141 << 30)).last(),
            Some(&(1 << 30))
        );
        assert_eq!(
            sweep_sizes(&info(32 << 20, 256 << 20)).last(),
            Some(&(64 << 20))
        );
    }

    #[test]
    fn every_run_reads_the_same_bytes() {
        for bytes in sweep_sizes(&info(32 << 20, 24 << 30)) {
            let n = bytes / 4;
            let read = 4 * n * sweep_reps(n);
            assert!(read >= SWEEP_BYTES.min(bytes) && read <= SWEEP_BYTES.max(bytes));
        }
    }
}
