//! Kernel sources per dialect. `Builtin` kernels are the backend's own and need only a
//! name; OpenCL C sources live in `kernels/opencl/` (each file is prefixed with
//! `common.cl`, which maps the dtype define to load/store macros); SPIR-V lives in
//! `kernels/spv/`, one module per kernel and dtype, compiled from `kernels/glsl/`; CUDA C
//! lives in `kernels/cuda/` (prefixed with `common.cuh`; NVRTC ships no headers, so the
//! kernels include none).

use std::borrow::Cow;

use halbench_hal::{DType, Dialect, KernelSource};

const OPENCL_COMMON: &str = include_str!("../opencl/common.cl");
const CUDA_COMMON: &str = include_str!("../cuda/common.cuh");

/// Which file holds each kernel in the C-like dialects: `opencl/STEM.cl` and
/// `cuda/STEM.cu` hold the same kernels under the same names.
const FILES: &[(&str, &[&str])] = &[
    (
        "stream",
        &[
            "stream_copy",
            "stream_scale",
            "stream_add",
            "stream_triad",
            "stream_dot",
            "stream_sweep",
        ],
    ),
    (
        "gemm",
        &[
            "gemm_naive",
            "gemm_tiled",
            "gemm_small_m",
            "gemm_wq",
            "gemm_grouped",
        ],
    ),
    (
        "attention",
        &[
            "attn_prefill_scores",
            "softmax_rows",
            "attn_prefill_pv",
            "attn_prefill_fused",
            "attn_decode_scores",
            "attn_decode_pv",
            "attn_decode_split",
            "attn_decode_combine",
            "attn_paged_scores",
            "attn_paged_pv",
            "attn_kv8_scores",
            "attn_kv8_pv",
        ],
    ),
    ("peak", &["peak_fma", "latency_empty"]),
    ("testing", &["test_index", "test_scalars"]),
];

fn stem(name: &str) -> Option<&'static str> {
    FILES
        .iter()
        .find(|(_, kernels)| kernels.contains(&name))
        .map(|(stem, _)| *stem)
}

/// Kernels only a backend's own library implements (cuBLAS, aclnn, the CPU's `gemm`
/// crate): no source in any dialect.
const BUILTIN_ONLY: &[&str] = &[
    "gemm_vendor",
    "attn_prefill_vendor",
    "attn_decode_vendor",
    "attn_paged_vendor",
    "gemm_grouped_vendor",
    "peak_dot2",
];

/// Every canonical kernel name of the kernel ABI.
pub fn known_kernels() -> impl Iterator<Item = &'static str> {
    source_kernels().chain(BUILTIN_ONLY.iter().copied())
}

/// Every kernel name with a source in a source dialect (for compile-only checks).
pub fn source_kernels() -> impl Iterator<Item = &'static str> {
    FILES
        .iter()
        .flat_map(|(_, kernels)| kernels.iter().copied())
}

fn cuda_file(stem: &str) -> Option<&'static str> {
    Some(match stem {
        "stream" => include_str!("../cuda/stream.cu"),
        "gemm" => include_str!("../cuda/gemm.cu"),
        "attention" => include_str!("../cuda/attention.cu"),
        "peak" => include_str!("../cuda/peak.cu"),
        "testing" => include_str!("../cuda/testing.cu"),
        _ => return None,
    })
}

fn opencl_file(stem: &str) -> Option<&'static str> {
    Some(match stem {
        "stream" => include_str!("../opencl/stream.cl"),
        "gemm" => include_str!("../opencl/gemm.cl"),
        "attention" => include_str!("../opencl/attention.cl"),
        "peak" => include_str!("../opencl/peak.cl"),
        "testing" => include_str!("../opencl/testing.cl"),
        _ => return None,
    })
}

/// The checked-in SPIR-V of a kernel for a dtype (`spv/NAME.DTYPE.spv`, built from
/// `glsl/NAME.comp` by `ci/build-spirv.sh`).
fn spirv(name: &str, dtype: DType) -> Option<&'static [u8]> {
    macro_rules! f32_only {
        ($($k:literal),*) => {
            match (name, dtype) {
                $(($k, DType::F32) => return Some(include_bytes!(concat!("../spv/", $k, ".f32.spv"))),)*
                _ => {}
            }
        };
    }
    macro_rules! every_dtype {
        ($($k:literal),*) => {
            match (name, dtype) {
                $(
                    ($k, DType::F32) => return Some(include_bytes!(concat!("../spv/", $k, ".f32.spv"))),
                    ($k, DType::F16) => return Some(include_bytes!(concat!("../spv/", $k, ".f16.spv"))),
                    ($k, DType::BF16) => return Some(include_bytes!(concat!("../spv/", $k, ".bf16.spv"))),
                )*
                _ => {}
            }
        };
    }
    f32_only!(
        "stream_copy",
        "stream_scale",
        "stream_add",
        "stream_triad",
        "stream_dot",
        "stream_sweep",
        "softmax_rows",
        "latency_empty",
        "test_index",
        "test_scalars"
    );
    macro_rules! fp8 {
        ($($k:literal),*) => {
            match (name, dtype) {
                $(
                    ($k, DType::F8E4M3) => return Some(include_bytes!(concat!("../spv/", $k, ".fp8e4m3.spv"))),
                    ($k, DType::F8E5M2) => return Some(include_bytes!(concat!("../spv/", $k, ".fp8e5m2.spv"))),
                )*
                _ => {}
            }
        };
    }
    fp8!("gemm_naive", "gemm_tiled", "gemm_small_m", "gemm_grouped");
    match (name, dtype) {
        ("peak_fma", DType::F32) => return Some(include_bytes!("../spv/peak_fma.f32.spv")),
        ("peak_fma", DType::F16) => return Some(include_bytes!("../spv/peak_fma.f16.spv")),
        _ => {}
    }
    every_dtype!(
        "gemm_naive",
        "gemm_tiled",
        "gemm_small_m",
        "gemm_wq",
        "gemm_grouped",
        "attn_prefill_scores",
        "attn_prefill_pv",
        "attn_prefill_fused",
        "attn_decode_scores",
        "attn_decode_pv",
        "attn_decode_split",
        "attn_decode_combine",
        "attn_paged_scores",
        "attn_paged_pv",
        "attn_kv8_scores",
        "attn_kv8_pv"
    );
    None
}

/// The defines that select a dtype in C-like dialects: the storage type `T` and a
/// `DTYPE_*` flag.
fn c_dtype_defines(dtype: DType, half: &str, bf16: &str) -> Vec<(String, String)> {
    let (t, flag) = dtype.c_type(half, bf16);
    vec![("T".into(), t.into()), (flag.into(), "1".into())]
}

/// The defines every kernel of `dialect` gets for `dtype` (the kernel ABI's dtype rule):
/// builtins `T=f32|f16|bf16`; OpenCL C `T` and a `DTYPE_*` flag; CUDA C the flag only
/// (`common.cuh` typedefs `T`); SPIR-V none (one module per dtype).
pub fn dtype_defines(dialect: Dialect, dtype: DType) -> Vec<(String, String)> {
    match dialect {
        Dialect::Builtin => vec![("T".to_string(), dtype.name().to_string())],
        Dialect::OpenClC => c_dtype_defines(dtype, "half", "ushort"),
        Dialect::CudaC => c_dtype_defines(dtype, "", "").split_off(1),
        _ => Vec::new(),
    }
}

/// What every source of a C-like dialect is prefixed with (`common.cl`, `common.cuh`).
pub fn prelude(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::OpenClC => OPENCL_COMMON,
        Dialect::CudaC => CUDA_COMMON,
        _ => "",
    }
}

/// The source of kernel `name` in `dialect` for `dtype`, if this crate has one.
pub fn source(
    name: &str,
    dialect: Dialect,
    dtype: DType,
    defines: &[(String, String)],
) -> Option<KernelSource> {
    let code: Cow<'static, [u8]> = match dialect {
        Dialect::Builtin => Cow::Borrowed(&[]),
        // OpenCL C has no bf16 arithmetic to measure a peak of.
        Dialect::OpenClC if name == "peak_fma" && dtype == DType::BF16 => return None,
        Dialect::OpenClC | Dialect::CudaC => {
            let stem = stem(name)?;
            let file = if dialect == Dialect::OpenClC {
                opencl_file(stem)?
            } else {
                cuda_file(stem)?
            };
            Cow::Owned(format!("{}\n{file}", prelude(dialect)).into_bytes())
        }
        Dialect::SpirV => Cow::Borrowed(spirv(name, dtype)?),
        _ => return None,
    };
    let mut all = dtype_defines(dialect, dtype);
    all.extend(defines.iter().cloned());
    Some(KernelSource {
        name: name.into(),
        dialect,
        code,
        entry: if dialect == Dialect::SpirV {
            "main".into()
        } else {
            name.into()
        },
        defines: all,
    })
}

/// A kernel that must fail to compile in `dialect`, for the conformance suite.
pub fn broken(dialect: Dialect) -> Option<KernelSource> {
    match dialect {
        Dialect::Builtin => Some(KernelSource::builtin(
            "stream_copy",
            vec![("T".into(), "not_a_type".into())],
        )),
        Dialect::OpenClC => Some(KernelSource {
            name: "broken".into(),
            dialect,
            code: Cow::Borrowed(
                b"__kernel void broken(__global float* x) { x[0] = undeclared_name; }",
            ),
            entry: "broken".into(),
            defines: vec![],
        }),
        Dialect::CudaC => Some(KernelSource {
            name: "broken".into(),
            dialect,
            code: Cow::Borrowed(
                b"extern \"C\" __global__ void broken(float* x) { x[0] = undeclared_name; }",
            ),
            entry: "broken".into(),
            defines: vec![],
        }),
        // A valid header, then an instruction whose word count runs past the end.
        Dialect::SpirV => Some(KernelSource {
            name: "broken".into(),
            dialect,
            code: Cow::Borrowed(&[
                0x03, 0x02, 0x23, 0x07, 0, 0, 1, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0x11, 0,
                0x09, 0,
            ]),
            entry: "main".into(),
            defines: vec![],
        }),
        _ => None,
    }
}
