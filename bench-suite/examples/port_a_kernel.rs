//! Porting a kernel through halbench as a library: open every device, compile your kernel
//! (given here as a string per dialect), run it on your own data, check it against your
//! host reference, and time it with halbench's harness.
//!
//! The kernel is `axpby`: y = a·x + b·y over n floats. On the CPU it is a Rust function
//! registered with the CPU backend; OpenCL C, CUDA C and GLSL (compiled with glslc when it
//! is on PATH) for the other backends.
//!
//! `cargo run --example port_a_kernel` — exits 1 when a device computes a wrong answer, or
//! when a backend named in `HALBENCH_REQUIRE` has no device that ran it.

use std::process::ExitCode;
use std::sync::Arc;

use halbench::harness::{self, Budget};
use halbench::registry;
use halbench_cpu::launch::{KernelResult, Launch as HostLaunch};
use halbench_hal::{DType, Dialect, Dims};
use halbench_kernels::plan::{BufferSpec, Launch, Output, Plan, PlanArg, Step};
use halbench_kernels::{CustomKernel, Scale};

const OPENCL: &str = r#"
__kernel void axpby(__global const float* x, __global float* y, uint n, float a, float b) {
    for (size_t i = get_global_id(0); i < n; i += get_global_size(0)) y[i] = a * x[i] + b * y[i];
}
"#;

const CUDA: &str = r#"
extern "C" __global__ void axpby(const float* x, float* y, unsigned n, float a, float b) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        y[i] = a * x[i] + b * y[i];
}
"#;

const GLSL: &str = r#"
#version 450
#include "common.glsl"
layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) buffer Y { float y[]; };
layout(push_constant) uniform Params { uint n; float a; float b; } p;
void main() {
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) y[i] = p.a * x[i] + p.b * y[i];
}
"#;

/// The CPU form: a host function over the same arguments (buffers, then scalars).
fn axpby_host(l: &mut HostLaunch<'_>) -> KernelResult {
    let (n, a, b) = (l.count(0)?, l.f32(1)?, l.f32(2)?);
    let (x, y) = (l.input::<f32>(0, n)?, l.output::<f32>(1, n)?);
    for (y, x) in y.iter_mut().zip(x) {
        *y = a * x + b * *y;
    }
    Ok(())
}

const N: usize = 1 << 20;
const A: f32 = 1.5;
const B: f32 = -0.25;

fn main() -> ExitCode {
    if let Err(e) = halbench_cpu::register_kernel("axpby", DType::F32, axpby_host) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let kernel = Arc::new(
        CustomKernel::new("axpby")
            .with_builtin()
            .with_text(Dialect::OpenClC, OPENCL)
            .with_text(Dialect::CudaC, CUDA)
            .with_glsl(GLSL),
    );
    // Your data: any bytes you like, here a ramp and a constant.
    let x: Vec<f32> = (0..N).map(|i| (i % 1000) as f32 / 1000.0).collect();
    let y: Vec<f32> = vec![2.0; N];
    let want: Vec<f32> = x.iter().zip(&y).map(|(x, y)| A * x + B * y).collect();
    let plan = Plan {
        buffers: vec![
            BufferSpec::with_data("x", DType::F32, bytes(&x)),
            BufferSpec::with_data("y", DType::F32, bytes(&y)),
        ],
        steps: vec![Step::Launch(Launch {
            custom: Some(kernel.clone()),
            ..Launch::new(
                "axpby",
                DType::F32,
                Dims::linear(256, 256),
                vec![
                    PlanArg::Buffer(0),
                    PlanArg::Buffer(1),
                    PlanArg::U32(N as u32),
                    PlanArg::F32(A),
                    PlanArg::F32(B),
                ],
            )
        })],
        output: Output::Buffer(1),
    };

    let mut ran = Vec::new();
    let mut wrong = false;
    for backend in registry::backends() {
        let Ok(infos) = backend.devices() else {
            println!("{}: unavailable", backend.name());
            continue;
        };
        for info in infos {
            let mut device = match backend.open(info.index) {
                Ok(d) => d,
                Err(e) => {
                    println!("{}: cannot open: {e}", info.key());
                    wrong = true;
                    continue;
                }
            };
            match harness::time_plan(device.as_mut(), &plan, Budget::for_scale(Scale::Smoke)) {
                Ok((out, timing)) => {
                    let got = floats(&out);
                    // y is updated in place on every run; the first run's output is checked.
                    let bad = got
                        .iter()
                        .zip(&want)
                        .position(|(g, w)| (g - w).abs() > 1e-6 * w.abs().max(1.0));
                    match bad {
                        None => {
                            let gbs = 3.0 * 4.0 * N as f64 / timing.median_s / 1e9;
                            println!(
                                "{}: passed, {:.1} µs, {gbs:.1} GB/s ({:?} timer)",
                                info.key(),
                                timing.median_s * 1e6,
                                timing.method
                            );
                            ran.push(info.backend.clone());
                        }
                        Some(i) => {
                            println!(
                                "{}: wrong: y[{i}] = {}, want {}",
                                info.key(),
                                got[i],
                                want[i]
                            );
                            wrong = true;
                        }
                    }
                }
                Err(e @ halbench_hal::Error::Unsupported { .. }) => {
                    println!("{}: unsupported: {e}", info.key())
                }
                Err(e) => {
                    println!("{}: error: {e}", info.key());
                    wrong = true;
                }
            }
        }
    }
    let required = halbench_kernels::conformance::required_backends();
    let missing: Vec<_> = required.iter().filter(|r| !ran.contains(r)).collect();
    if !missing.is_empty() {
        println!("required backends that did not run it: {missing:?}");
        wrong = true;
    }
    if wrong {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|f| f.to_le_bytes()).collect()
}

fn floats(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}
