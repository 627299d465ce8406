//! BabelStream's five kernels. Bytes are counted as BabelStream counts them: each array
//! read or written once per run (copy 2, scale 2, add 3, triad 3, dot 2 arrays).

use halbench_hal::{DType, DeviceInfo, Dims};

use crate::check::{reduction_tolerance, sum_tolerance, Checker, Validation};
use crate::data::{self, get, seed};
use crate::plan::{groups, BufferSpec, Launch, Output, Plan, PlanArg, Step};
use crate::workloads::{cpu_shaped, element_group_cap, launch_class, stream_elements, LaunchClass};
use crate::{Bound, Cost, Scale, Shape, ShapeKind, Workload};

pub(crate) const SCALAR: f32 = 0.4;
const THREADS: u32 = 256;

/// The launch of the element-wise kernels, by how the device runs work-items:
/// - GPUs: groups of 256, one element (or vec4) per work-item;
/// - CPU drivers that run work-items as SIMD lanes (lavapipe: a CPU device with
///   subgroups): one subgroup per group and about 2048 elements per work-item, so each
///   group is a long contiguous sweep (lavapipe's triad: 10-11 GB/s, against 7-8.5 for
///   one vec4 per work-item at any group size);
/// - other CPU devices (PoCL): groups of 4096 work-items (PoCL's largest), one element
///   each; each group is a task, and fewer, larger tasks cost less to schedule (scale and
///   triad at 2^25: 1-5% more than with 1024).
///
/// At most `element_group_cap` groups: the kernels loop.
pub fn element_dims(info: &DeviceInfo, n: u64) -> Dims {
    let cap = info.max_threads_per_group.max(1);
    let (threads, per_thread) = match launch_class(info) {
        LaunchClass::Lanes => (info.subgroup_size.min(cap), 2048),
        LaunchClass::Sweep => (4096.min(cap), 1),
        LaunchClass::Wide => (THREADS.min(cap), 1),
    };
    Dims::linear(
        groups(n, u64::from(threads) * per_thread).min(element_group_cap(info)),
        threads,
    )
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Op {
    Copy,
    Scale,
    Add,
    Triad,
    Dot,
}

pub(crate) struct Stream(pub(crate) Op);

impl Stream {
    fn arrays_moved(&self) -> u64 {
        match self.0 {
            Op::Copy | Op::Scale | Op::Dot => 2,
            Op::Add | Op::Triad => 3,
        }
    }
}

/// The launch of `dot`: as the element-wise kernels on CPU drivers with SIMD lanes
/// (lavapipe); else a few groups per compute unit, so every unit has work and the final
/// sum of partials stays tiny, with one work-item per group on other CPU devices (each
/// sweeps its share contiguously; a GPU-shaped group of 256 would stride through memory
/// and reach a small fraction of the bandwidth).
fn dot_dims(info: &DeviceInfo, n: u64) -> Dims {
    if launch_class(info) == LaunchClass::Lanes {
        return element_dims(info, n);
    }
    let threads = if cpu_shaped(info) { 1 } else { THREADS };
    let g = (info.compute_units.max(1) * 4)
        .min(1024)
        .min(groups(n, u64::from(threads)));
    Dims::linear(g, threads)
}

impl Workload for Stream {
    fn name(&self) -> &'static str {
        match self.0 {
            Op::Copy => "stream.copy",
            Op::Scale => "stream.scale",
            Op::Add => "stream.add",
            Op::Triad => "stream.triad",
            Op::Dot => "stream.dot",
        }
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
        let n = match scale {
            Scale::Smoke => 100_003,
            Scale::Quick => stream_elements(info, 4, 3),
            Scale::Full => stream_elements(info, 16, 3),
        };
        vec![Shape::Elements { n }]
    }

    fn cost(&self, shape: &Shape, _dtype: DType) -> Cost {
        let n = shape.elements() as f64;
        let flops = match self.0 {
            Op::Copy => 0.0,
            Op::Scale | Op::Add => n,
            Op::Triad | Op::Dot => 2.0 * n,
        };
        Cost {
            flops,
            bytes: self.arrays_moved() as f64 * n * 4.0,
            ..Cost::default()
        }
    }

    fn cache_resident(&self, shape: &Shape, info: &DeviceInfo) -> bool {
        shape.elements() * 4 < 4 * info.last_level_cache_bytes
    }

    fn plan(&self, _variant: &str, _dtype: DType, shape: &Shape, info: &DeviceInfo) -> Plan {
        let n = shape.elements();
        let array = |name: &'static str| BufferSpec::input(name, DType::F32, n);
        let mut buffers = vec![array("stream.a"), array("stream.b"), array("stream.c")];
        let (a, b, c) = (PlanArg::Buffer(0), PlanArg::Buffer(1), PlanArg::Buffer(2));
        let n32 = PlanArg::U32(n as u32);
        let s = PlanArg::F32(SCALAR);
        let grid = element_dims(info, n);
        let (kernel, args, dims, output) = match self.0 {
            Op::Copy => ("stream_copy", vec![a, c, n32], grid, 2),
            Op::Scale => ("stream_scale", vec![c, b, n32, s], grid, 1),
            Op::Add => ("stream_add", vec![a, b, c, n32], grid, 2),
            Op::Triad => ("stream_triad", vec![b, c, a, n32, s], grid, 0),
            Op::Dot => {
                let dims = dot_dims(info, n);
                buffers.push(BufferSpec::output(
                    "stream.partial",
                    u64::from(dims.groups[0]) * 4,
                ));
                ("stream_dot", vec![a, b, PlanArg::Buffer(3), n32], dims, 3)
            }
        };
        Plan {
            buffers,
            steps: vec![Step::Launch(
                Launch::new(kernel, DType::F32, dims, args).extent([n, 1, 1]),
            )],
            output: Output::Buffer(output),
        }
    }

    fn check(&self, _dtype: DType, shape: &Shape, plan: &Plan, out: &[u8]) -> Validation {
        let n = shape.elements() as usize;
        let f = DType::F32;
        let (a, b, c) = (plan.data(0), plan.data(1), plan.data(2));
        let s = f64::from(SCALAR);
        let mut checker = Checker::new();
        if let Op::Dot = self.0 {
            let got: f64 = (0..out.len() / 4).map(|i| get(f, out, i)).sum();
            let term = |i: usize| get(f, a, i) * get(f, b, i);
            let want: f64 = (0..n).map(term).sum();
            let tol = sum_tolerance(want, (0..n).map(term));
            checker.check(got, want, tol, || "sum of partials".into());
            return checker.finish();
        }
        for i in data::sample(n, 1 << 16, seed(self.name())) {
            // (want, sum of |terms|): one rounding each, exact for copy.
            let (want, magnitude) = match self.0 {
                Op::Scale => (s * get(f, c, i), 0.0),
                Op::Add => (get(f, a, i) + get(f, b, i), 0.0),
                Op::Triad => {
                    let (x, y) = (get(f, b, i), s * get(f, c, i));
                    (x + y, x.abs() + y.abs())
                }
                Op::Copy | Op::Dot => (get(f, a, i), 0.0),
            };
            let tol = match self.0 {
                Op::Copy => 0.0,
                _ => reduction_tolerance(f, want, magnitude, 2),
            };
            checker.check(get(f, out, i), want, tol, || format!("element {i}"));
        }
        checker.finish()
    }
}
