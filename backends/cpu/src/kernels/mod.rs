//! The builtin kernels, by canonical name (kernels/README.md is the ABI).

mod attention;
mod gemm;
mod gemm_bf16;
mod grouped;
mod paged;
mod peak;
mod simd;
mod stream;
mod testing;
mod wq;

use std::collections::HashMap;
use std::sync::{LazyLock, PoisonError, RwLock};

use halbench_hal::{DType, Error, Result};
use half::{bf16, f16};

use crate::elem::{E4M3, E5M2};
use crate::launch::KernelFn;

/// Host kernels added from outside (a workload defined in another crate), by name and dtype.
static REGISTERED: LazyLock<RwLock<HashMap<(String, DType), KernelFn>>> =
    LazyLock::new(RwLock::default);

/// Adds a host kernel under `name` for `dtype`, for every CPU device opened from now on.
/// Errors: `InvalidArgument` when `name` is one of the built-in kernels (a registration
/// never silently replaces a reference kernel).
pub fn register(name: &str, dtype: DType, kernel: KernelFn) -> Result<()> {
    if DType::ALL
        .into_iter()
        .any(|d| builtin(name, d, &[]).is_ok())
    {
        return Err(Error::invalid(
            "cpu",
            format!("`{name}` is a built-in kernel; register under another name"),
        ));
    }
    REGISTERED
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .insert((name.to_string(), dtype), kernel);
    Ok(())
}

/// The host kernel for `name` and `dtype`; `defines` pick among a kernel's forms (the
/// weight width of `gemm_wq`) as they do in the C dialects.
pub(crate) fn lookup(name: &str, dtype: DType, defines: &[(String, String)]) -> Result<KernelFn> {
    let registered = REGISTERED
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&(name.to_string(), dtype))
        .copied();
    match registered {
        Some(f) => Ok(f),
        None => builtin(name, dtype, defines),
    }
}

pub(crate) use stream::parallel_copy;

/// Picks the monomorphised kernel for a dtype.
macro_rules! by_dtype {
    ($dtype:expr, $module:ident :: $f:ident $(, $extra:expr)?) => {
        match $dtype {
            DType::F32 => $module::$f::<f32 $(, $extra)?> as KernelFn,
            DType::F16 => $module::$f::<f16 $(, $extra)?> as KernelFn,
            DType::BF16 => $module::$f::<bf16 $(, $extra)?> as KernelFn,
            other => {
                return Err(Error::unsupported(
                    "cpu",
                    format!("no cpu kernel for dtype {other}"),
                ))
            }
        }
    };
}

/// `by_dtype!` with the fp8 types too, for the kernels whose workloads take them.
macro_rules! by_dtype_fp8 {
    ($dtype:expr, $module:ident :: $f:ident) => {
        match $dtype {
            DType::F8E4M3 => $module::$f::<E4M3> as KernelFn,
            DType::F8E5M2 => $module::$f::<E5M2> as KernelFn,
            other => by_dtype!(other, $module::$f),
        }
    };
}

fn builtin(name: &str, dtype: DType, defines: &[(String, String)]) -> Result<KernelFn> {
    let define = |key: &str| {
        defines
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let f32_only = |f: KernelFn| match dtype {
        DType::F32 => Ok(f),
        _ => Err(Error::unsupported(
            "cpu",
            format!("kernel `{name}` is f32 only, not {dtype}"),
        )),
    };
    match name {
        "stream_copy" => f32_only(stream::copy),
        "stream_scale" => f32_only(stream::scale),
        "stream_add" => f32_only(stream::add),
        "stream_triad" => f32_only(stream::triad),
        "stream_dot" => f32_only(stream::dot),
        "stream_sweep" => f32_only(stream::sweep),
        "gemm_naive" => Ok(by_dtype_fp8!(dtype, gemm::naive)),
        "gemm_tiled" => Ok(by_dtype_fp8!(dtype, gemm::tiled)),
        "gemm_small_m" => Ok(by_dtype_fp8!(dtype, gemm::small_m)),
        "gemm_wq" => match define("WQ_BITS") {
            Some("8") => Ok(by_dtype!(dtype, wq::wq8)),
            Some("4") | None => Ok(by_dtype!(dtype, wq::wq4)),
            Some(other) => Err(Error::unsupported(
                "cpu",
                format!("gemm_wq has no {other}-bit form (4 or 8)"),
            )),
        },
        "gemm_vendor" => Ok(by_dtype_fp8!(dtype, gemm::vendor)),
        "gemm_grouped" => Ok(by_dtype_fp8!(dtype, grouped::grouped)),
        "attn_prefill_scores" => Ok(by_dtype!(dtype, attention::prefill_scores)),
        "softmax_rows" => f32_only(attention::softmax_rows),
        "attn_prefill_pv" => Ok(by_dtype!(dtype, attention::prefill_pv)),
        "attn_prefill_fused" => Ok(by_dtype!(dtype, attention::prefill_fused)),
        "attn_decode_scores" => Ok(by_dtype!(dtype, attention::decode_scores)),
        "attn_decode_pv" => Ok(by_dtype!(dtype, attention::decode_pv)),
        "attn_paged_scores" => Ok(by_dtype!(dtype, paged::scores)),
        "attn_paged_pv" => Ok(by_dtype!(dtype, paged::pv)),
        // KV_FP8=1: the cache's bytes are e4m3 codes; otherwise int8.
        "attn_kv8_scores" if define("KV_FP8") == Some("1") => {
            Ok(by_dtype!(dtype, paged::kv8_scores, true))
        }
        "attn_kv8_scores" => Ok(by_dtype!(dtype, paged::kv8_scores, false)),
        "attn_kv8_pv" if define("KV_FP8") == Some("1") => Ok(by_dtype!(dtype, paged::kv8_pv, true)),
        "attn_kv8_pv" => Ok(by_dtype!(dtype, paged::kv8_pv, false)),
        "attn_decode_split" => Ok(by_dtype!(dtype, attention::decode_split)),
        "attn_decode_combine" => Ok(by_dtype!(dtype, attention::decode_combine)),
        "peak_fma" => match dtype {
            DType::F32 => Ok(peak::fma),
            _ => Err(Error::unsupported(
                "cpu",
                format!("peak_fma: no native {dtype} FMA on the CPU; its f32 peak is the rate it computes {dtype} at (bf16 pairs into f32: the dot2 variant, with AVX512_BF16)"),
            )),
        },
        "peak_dot2" => match dtype {
            DType::BF16 if peak::has_bf16_dot() => Ok(peak::dot2),
            DType::BF16 => Err(Error::unsupported(
                "cpu",
                "peak_dot2: this CPU has no AVX512_BF16 (vdpbf16ps)",
            )),
            _ => Err(Error::unsupported(
                "cpu",
                format!("peak_dot2 adds pairs of bf16 products into f32, not {dtype}"),
            )),
        },
        "latency_empty" => f32_only(peak::empty),
        "test_index" => f32_only(testing::index),
        "test_scalars" => f32_only(testing::scalars),
        _ => Err(Error::unsupported(
            "cpu",
            format!("no builtin kernel `{name}`"),
        )),
    }
}

/// Elements per parallel task for streaming loops: one contiguous slab per thread (as an
/// OpenMP static schedule), rounded to whole cache lines.
pub(crate) fn slab_len(n: usize) -> usize {
    n.div_ceil(rayon::current_num_threads())
        .next_multiple_of(16)
        .max(4096)
}

/// Dot product with sixteen independent partial sums: the order change is what lets LLVM
/// vectorise a float reduction, and it also tightens the rounding error. Inlined, so it
/// takes its caller's vector width (see `simd`).
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let mut acc = [0f32; LANES];
    let (ac, bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ac.zip(bc) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}
