//! Every CUDA kernel compiles, for sm_80 and sm_90 (the GEMMs in fp8 too), through the backend's own NVRTC path.
//! Needs libnvrtc, not a GPU. Where NVRTC is missing the test says so and passes, unless
//! `HALBENCH_REQUIRE_NVRTC=1` (as CI sets), so a lost NVRTC fails CI.

use halbench_hal::{DType, Dialect, Error};
use halbench_kernels::sources;

fn nvrtc_or_skip() -> bool {
    if halbench_cuda::nvrtc::available() {
        return true;
    }
    assert!(
        std::env::var("HALBENCH_REQUIRE_NVRTC").as_deref() != Ok("1"),
        "HALBENCH_REQUIRE_NVRTC=1, but libnvrtc could not be loaded"
    );
    eprintln!("libnvrtc not found: CUDA kernels not compiled");
    false
}

/// The defines the plans pass to some kernels.
fn defines(kernel: &str) -> Vec<(String, String)> {
    match kernel {
        "attn_prefill_fused" | "attn_decode_split" => vec![("D_MAX".into(), "128".into())],
        _ => vec![],
    }
}

/// The kernels fp8 runs: the `gemm` workload's every variant but the vendor one, and
/// gemm.grouped's.
const FP8_KERNELS: [&str; 4] = ["gemm_naive", "gemm_tiled", "gemm_small_m", "gemm_grouped"];

#[test]
fn every_cuda_kernel_compiles_for_sm80_and_sm90() {
    if !nvrtc_or_skip() {
        return;
    }
    let mut compiled = 0;
    for arch in ["sm_80", "sm_90"] {
        for kernel in sources::source_kernels() {
            let fp8 = if FP8_KERNELS.contains(&kernel) {
                &DType::FP8[..]
            } else {
                &[]
            };
            for &dtype in DType::FLOATS.iter().chain(fp8) {
                let source = sources::source(kernel, Dialect::CudaC, dtype, &defines(kernel))
                    .unwrap_or_else(|| panic!("no CUDA source for {kernel}"));
                if let Err(e) = halbench_cuda::nvrtc::compile(&source, arch) {
                    panic!("{kernel} ({dtype}, {arch}): {e}");
                }
                compiled += 1;
            }
        }
    }
    assert_eq!(
        compiled,
        2 * (sources::source_kernels().count() * 3 + FP8_KERNELS.len() * 2)
    );
}

/// On sm_90 the fp8 tiled GEMM is the tensor-core one (`mma.sync` with fp8 operands); on
/// sm_80, which has none, the kernel that decodes to f32.
#[test]
fn the_fp8_tiled_gemm_uses_fp8_mma_from_sm89() {
    if !nvrtc_or_skip() {
        return;
    }
    for (dtype, operand) in [(DType::F8E4M3, "e4m3.e4m3"), (DType::F8E5M2, "e5m2.e5m2")] {
        let source = sources::source("gemm_tiled", Dialect::CudaC, dtype, &[]).unwrap();
        let ptx = |arch| {
            halbench_cuda::nvrtc::compile(&source, arch)
                .unwrap_or_else(|e| panic!("{dtype} {arch}: {e}"))
                .to_src()
        };
        let mma = format!("mma.sync.aligned.m16n8k32.row.col.f32.{operand}.f32");
        assert!(ptx("sm_90").contains(&mma), "{dtype}: no {mma} for sm_90");
        assert!(ptx("sm_89").contains(&mma), "{dtype}: no {mma} for sm_89");
        assert!(!ptx("sm_80").contains("mma.sync"), "{dtype}: mma on sm_80");
    }
}

#[test]
fn a_kernel_that_fails_to_compile_gives_the_nvrtc_log() {
    if !nvrtc_or_skip() {
        return;
    }
    let broken = sources::broken(Dialect::CudaC).unwrap();
    match halbench_cuda::nvrtc::compile(&broken, "sm_90") {
        Err(Error::Compile { kernel, log, .. }) => {
            assert_eq!(kernel, "broken");
            assert!(log.contains("undeclared_name"), "{log}");
        }
        other => panic!("expected a compile error, got {other:?}"),
    }
}
