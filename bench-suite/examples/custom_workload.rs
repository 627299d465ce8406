//! A workload defined entirely outside `halbench-kernels`: RMSNorm,
//! y[r, c] = x[r, c] / sqrt(mean_c(x[r, ·]²) + ε) · w[c], with its own shape keys, inputs,
//! f64 reference, cost, tolerance, plan and kernel sources, run on every device through
//! halbench's harness, which validates each run before it times it.
//!
//! `cargo run --example custom_workload` — exits 1 when a case fails or errors, or when a
//! backend named in `HALBENCH_REQUIRE` passed no case.

use std::process::ExitCode;
use std::sync::{Arc, LazyLock};

use halbench::harness::{self, Budget};
use halbench::registry;
use halbench::results::Status;
use halbench_cpu::launch::{KernelResult, Launch as HostLaunch};
use halbench_hal::{DType, DeviceInfo, Dialect, Dims};
use halbench_kernels::check::{reduction_tolerance, unit_roundoff, Checker, Validation};
use halbench_kernels::data::{get, sample, seed};
use halbench_kernels::plan::{BufferSpec, Launch, Output, Plan, PlanArg, Step};
use halbench_kernels::{Bound, Case, Cost, CustomKernel, Scale, Shape, ShapeKind, Workload};

const KEYS: &[&str] = &["rows", "cols"];
const EPS: f32 = 1e-5;
/// One group of THREADS work-items per row.
const THREADS: u32 = 64;

const OPENCL: &str = r#"
__kernel void rmsnorm(__global const T* x, __global const T* w, __global T* y,
                      uint rows, uint cols, float eps) {
    __local float scratch[MAX_GROUP];
    for (size_t r = get_group_id(0); r < rows; r += get_num_groups(0)) {
        float ss = 0.0f;
        for (size_t c = get_local_id(0); c < cols; c += get_local_size(0)) {
            float v = LOAD(x, r * cols + c);
            ss += v * v;
        }
        float inv = rsqrt(group_sum(ss, scratch) / cols + eps);
        for (size_t c = get_local_id(0); c < cols; c += get_local_size(0))
            STORE(y, r * cols + c, LOAD(x, r * cols + c) * inv * LOAD(w, c));
    }
}
"#;

const CUDA: &str = r#"
extern "C" __global__ void rmsnorm(const T* x, const T* w, T* y, uint rows, uint cols,
                                   float eps) {
    __shared__ float scratch[1024];
    for (size_t r = blockIdx.x; r < rows; r += gridDim.x) {
        float ss = 0.0f;
        for (size_t c = threadIdx.x; c < cols; c += blockDim.x) {
            float v = LOAD(x, r * cols + c);
            ss += v * v;
        }
        scratch[threadIdx.x] = ss;
        __syncthreads();
        for (uint s = blockDim.x / 2; s > 0; s >>= 1) {
            if (threadIdx.x < s) scratch[threadIdx.x] += scratch[threadIdx.x + s];
            __syncthreads();
        }
        float inv = rsqrtf(scratch[0] / cols + eps);
        __syncthreads();
        for (size_t c = threadIdx.x; c < cols; c += blockDim.x)
            STORE(y, r * cols + c, LOAD(x, r * cols + c) * inv * LOAD(w, c));
    }
}
"#;

const GLSL: &str = r#"
#version 450
#include "common.glsl"
layout(set = 0, binding = 0) readonly buffer X { T x[]; };
layout(set = 0, binding = 1) readonly buffer W { T w[]; };
layout(set = 0, binding = 2) writeonly buffer Y { T y[]; };
layout(push_constant) uniform Params { uint rows; uint cols; float eps; } p;
void main() {
    uint lid = gl_LocalInvocationID.x, n = gl_WorkGroupSize.x;
    for (uint r = gl_WorkGroupID.x; r < p.rows; r += gl_NumWorkGroups.x) {
        float ss = 0.0;
        for (uint c = lid; c < p.cols; c += n) { float v = LOAD(x, r * p.cols + c); ss += v * v; }
        // halbench's common.glsl: a tree sum over the work-group.
        float inv = inversesqrt(group_reduce(ss, false) / p.cols + p.eps);
        for (uint c = lid; c < p.cols; c += n) STORE(y, r * p.cols + c, LOAD(x, r * p.cols + c) * inv * LOAD(w, c));
    }
}
"#;

/// The CPU form, f32.
fn rmsnorm_host(l: &mut HostLaunch<'_>) -> KernelResult {
    let (rows, cols, eps) = (l.count(0)?, l.count(1)?, l.f32(2)?);
    let (x, w) = (l.input::<f32>(0, rows * cols)?, l.input::<f32>(1, cols)?);
    let y = l.output::<f32>(2, rows * cols)?;
    for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
        let ss: f32 = xr.iter().map(|v| v * v).sum();
        let inv = 1.0 / (ss / cols as f32 + eps).sqrt();
        for ((y, x), w) in yr.iter_mut().zip(xr).zip(w) {
            *y = x * inv * w;
        }
    }
    Ok(())
}

static KERNEL: LazyLock<Arc<CustomKernel>> = LazyLock::new(|| {
    Arc::new(
        CustomKernel::new("rmsnorm")
            .with_builtin()
            .with_text(Dialect::OpenClC, OPENCL)
            .with_text(Dialect::CudaC, CUDA)
            .with_glsl(GLSL),
    )
});

struct RmsNorm;

fn rows_cols(shape: &Shape) -> (u64, u64) {
    (shape.get("rows"), shape.get("cols"))
}

impl Workload for RmsNorm {
    fn name(&self) -> &'static str {
        "example.rmsnorm"
    }
    fn variants(&self) -> &'static [&'static str] {
        &["default"]
    }
    fn dtypes(&self) -> &'static [DType] {
        &[DType::F32, DType::F16]
    }
    fn shape_kind(&self) -> ShapeKind {
        ShapeKind::Keyed(KEYS)
    }
    fn bound(&self) -> Bound {
        Bound::Memory
    }
    fn shapes(&self, scale: Scale, _info: &DeviceInfo) -> Vec<Shape> {
        let sizes: &[[u64; 2]] = match scale {
            // An odd width: no multiple of the group size.
            Scale::Smoke => &[[3, 1000], [16, 4096]],
            _ => &[[64, 4096], [512, 8192]],
        };
        sizes
            .iter()
            .filter_map(|s| Shape::keyed(KEYS, s).ok())
            .collect()
    }
    fn cost(&self, shape: &Shape, dtype: DType) -> Cost {
        let (rows, cols) = rows_cols(shape);
        let (r, c) = (rows as f64, cols as f64);
        Cost {
            flops: 4.0 * r * c,
            bytes: (2.0 * r * c + c) * dtype.size() as f64,
            ..Cost::default()
        }
    }
    fn plan(&self, _variant: &str, dtype: DType, shape: &Shape, _info: &DeviceInfo) -> Plan {
        let (rows, cols) = rows_cols(shape);
        let mut launch = Launch::new(
            "rmsnorm",
            dtype,
            Dims::linear(rows.min(65_535) as u32, THREADS),
            vec![
                PlanArg::Buffer(0),
                PlanArg::Buffer(1),
                PlanArg::Buffer(2),
                PlanArg::U32(rows as u32),
                PlanArg::U32(cols as u32),
                PlanArg::F32(EPS),
            ],
        );
        launch.custom = Some(KERNEL.clone());
        Plan {
            buffers: vec![
                BufferSpec::input("rmsnorm.x", dtype, rows * cols),
                BufferSpec::input("rmsnorm.w", dtype, cols),
                BufferSpec::output("rmsnorm.y", rows * cols * dtype.size() as u64),
            ],
            steps: vec![Step::Launch(launch)],
            output: Output::Buffer(2),
        }
    }
    fn check(&self, dtype: DType, shape: &Shape, plan: &Plan, out: &[u8]) -> Validation {
        let (_, cols) = rows_cols(shape);
        let cols = cols as usize;
        let (x, w) = (plan.data(0), plan.data(1));
        let mut checker = Checker::new();
        for idx in sample(out.len() / dtype.size(), 4096, seed("rmsnorm.sample")) {
            let (r, c) = (idx / cols, idx % cols);
            let ss: f64 = (0..cols).map(|j| get(dtype, x, r * cols + j).powi(2)).sum();
            let inv = 1.0 / (ss / cols as f64 + f64::from(EPS)).sqrt();
            let want = get(dtype, x, idx) * inv * get(dtype, w, c);
            // The sum of squares is a reduction over the row; then a few roundings, and the
            // store, whose spacing near zero is f16's subnormal step (2^-24).
            let tol = reduction_tolerance(dtype, want, want.abs(), cols)
                + 4.0 * unit_roundoff(dtype) * want.abs()
                + 2f64.powi(-24);
            checker.check(get(dtype, out, idx), want, tol, || format!("y[{r},{c}]"));
        }
        checker.finish()
    }
}

static RMSNORM: RmsNorm = RmsNorm;

fn main() -> ExitCode {
    if let Err(e) = halbench_cpu::register_kernel("rmsnorm", DType::F32, rmsnorm_host) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let mut passed_on = Vec::new();
    let mut failed = false;
    for backend in registry::backends() {
        let Ok(infos) = backend.devices() else {
            continue;
        };
        for info in infos {
            let Ok(mut device) = backend.open(info.index) else {
                failed = true;
                continue;
            };
            for case in Case::all_of(&RMSNORM, Scale::Smoke, &info) {
                let r = harness::run_case(device.as_mut(), &case, Budget::for_scale(Scale::Smoke));
                let median = r
                    .timing
                    .as_ref()
                    .map_or(String::from("-"), |t| format!("{:.1} µs", t.median_s * 1e6));
                println!(
                    "{:<10} {case}: {} {median} {}",
                    r.device,
                    r.status.name(),
                    r.reason.as_deref().unwrap_or("")
                );
                match r.status {
                    Status::Passed => passed_on.push(r.backend.clone()),
                    Status::Unsupported => {}
                    _ => failed = true,
                }
            }
        }
    }
    for required in halbench_kernels::conformance::required_backends() {
        if !passed_on.contains(&required) {
            println!("required backend {required} passed no case");
            failed = true;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
