//! `peak.fma`: the compute peak of a dtype, clpeak's way. Every work-item runs eight
//! independent chains of `x = x·a + b`, each step depending on the last, so the compiler
//! can neither drop nor shorten them (`a` and `b` arrive at run time), and eight chains
//! in flight hide the FMA latency. Each step counts as two FLOPs whether the device fuses
//! it or not.
//!
//! With `a = 0.5` each chain converges to `2b` and then stays there exactly in every
//! dtype, so the check is exact: every work-item writes `8 · 2b`, and a kernel that skips
//! the loop (or most of it) writes something else.
//!
//! Halves run in the dtype's own arithmetic (CUDA `f16x2`/`bf16x2`, OpenCL `half`, GLSL
//! `float16_t`). A dialect with no arithmetic for a dtype offers no source for it, and the
//! case is `unsupported`: its f32 peak is the rate it computes that dtype at.
//!
//! The `dot2` variant measures the form bf16 units compute in when they have no bf16 FMA:
//! a pair of bf16 products added into an f32 accumulator (x86's AVX512_BF16 `vdpbf16ps`).
//! Work-item i runs four chains `acc += a·b + a·b` from `((i + j) mod 64)/4`, the same
//! eight multiply-adds per step as the FMA chains; every sum is a multiple of 1/4 below
//! 2²², so the check is exact too. A builtin (`peak_dot2`) where the hardware has it.

use halbench_hal::{DType, DeviceInfo, Dims};

use crate::check::{unit_roundoff, Checker, Validation};
use crate::data::get;
use crate::plan::{groups, BufferSpec, Launch, Output, Plan, PlanArg, Step};
use crate::workloads::{cpu_shaped, launch_class, LaunchClass, MAX_GROUPS};
use crate::{Bound, Cost, Scale, Shape, ShapeKind, Workload};

/// Independent chains per work-item (the kernel ABI fixes it).
pub(crate) const CHAINS: u64 = 8;
/// Dependent steps per chain.
pub(crate) const ITERATIONS: u32 = 1024;
const A: f32 = 0.5;
const B: f32 = 0.75;

pub(crate) struct PeakFma;

/// Work-items a CPU-shaped work-item takes at once, as one vector per chain.
const CPU_VECTOR: u64 = 16;

/// GPUs: groups of 256, one work-item each. Lavapipe: one subgroup per group (its
/// invocations are SIMD lanes). Other CPU devices (PoCL) do not vectorise across
/// work-items around a loop, so each work-item takes 16 at once, one `float16` per chain
/// (`PEAK_VECTOR`; a dialect that ignores it still covers every item by grid stride).
fn launch(info: &DeviceInfo, n: u64) -> (Dims, Vec<(String, String)>) {
    let cap = info.max_threads_per_group.max(1);
    if cpu_shaped(info) {
        let dims = Dims::linear(groups(n, CPU_VECTOR).min(MAX_GROUPS), 1);
        return (dims, vec![("PEAK_VECTOR".into(), CPU_VECTOR.to_string())]);
    }
    let threads = if launch_class(info) == LaunchClass::Lanes {
        info.subgroup_size.min(cap)
    } else {
        256.min(cap)
    };
    let dims = Dims::linear(groups(n, u64::from(threads)).min(MAX_GROUPS), threads);
    (dims, Vec::new())
}

impl Workload for PeakFma {
    fn name(&self) -> &'static str {
        "peak.fma"
    }

    fn variants(&self) -> &'static [&'static str] {
        &["default", "dot2"]
    }

    fn dtypes(&self) -> &'static [DType] {
        &[DType::F32, DType::F16, DType::BF16]
    }

    fn shape_kind(&self) -> ShapeKind {
        ShapeKind::Elements
    }

    fn bound(&self) -> Bound {
        Bound::Compute
    }

    /// Work-items: enough to fill every compute unit several times over. Lavapipe runs
    /// a group (one subgroup) at a time per thread at a fixed cost a group, so it gets 8x
    /// as many (f32 on 2 cores: 54 GFLOP/s at 8,192 items, 89 at 65,536).
    fn shapes(&self, scale: Scale, info: &DeviceInfo) -> Vec<Shape> {
        let lanes = if launch_class(info) == LaunchClass::Lanes {
            8
        } else {
            1
        };
        let units = u64::from(info.compute_units.max(1)) * lanes;
        let n = match scale {
            Scale::Smoke => 1000,
            Scale::Quick => units * 4096,
            Scale::Full => units * 16384,
        };
        vec![Shape::Elements { n }]
    }

    fn cost(&self, shape: &Shape, dtype: DType) -> Cost {
        let n = shape.elements() as f64;
        Cost {
            flops: n * (CHAINS as f64) * f64::from(ITERATIONS) * 2.0,
            bytes: n * dtype.size() as f64,
            ..Cost::default()
        }
    }

    fn plan(&self, variant: &str, dtype: DType, shape: &Shape, info: &DeviceInfo) -> Plan {
        let n = shape.elements();
        let (dims, defines) = launch(info, n);
        let kernel = if variant == "dot2" {
            "peak_dot2"
        } else {
            "peak_fma"
        };
        Plan {
            buffers: vec![BufferSpec::output("peak.out", n * dtype.size() as u64)],
            steps: vec![Step::Launch(
                Launch::new(
                    kernel,
                    dtype,
                    dims,
                    vec![
                        PlanArg::Buffer(0),
                        PlanArg::U32(n as u32),
                        PlanArg::U32(ITERATIONS),
                        PlanArg::F32(A),
                        PlanArg::F32(B),
                    ],
                )
                .defines(defines)
                .extent([n, 1, 1]),
            )],
            output: Output::Buffer(0),
        }
    }

    fn check(&self, dtype: DType, shape: &Shape, plan: &Plan, out: &[u8]) -> Validation {
        let dot2 = plan.kernels().any(|k| k == "peak_dot2");
        let (a, b) = (f64::from(A), f64::from(B));
        let mut checker = Checker::new();
        for i in 0..shape.elements() as usize {
            let want = if dot2 {
                (0..CHAINS as usize / 2)
                    .map(|j| ((i + j) % 64) as f64 / 4.0 + f64::from(ITERATIONS) * 2.0 * a * b)
                    .sum()
            } else {
                CHAINS as f64 * b / (1.0 - a)
            };
            let tol = want * 4.0 * unit_roundoff(dtype);
            checker.check(get(dtype, out, i), want, tol, || format!("work-item {i}"));
        }
        checker.finish()
    }
}
