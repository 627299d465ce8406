//! CUDA C to PTX through NVRTC, loaded at run time. The one path every CUDA kernel takes,
//! on a GPU and in CI (which has NVRTC but no GPU). Compiling for a real architecture
//! (`sm_90`, not `compute_90`) makes NVRTC run ptxas too, so inline PTX is checked.

use cudarc::nvrtc::{compile_ptx_with_opts, CompileError, CompileOptions, Ptx};
use halbench_hal::{Dialect, Error, KernelSource, Result};

use crate::NAME;

/// True when libnvrtc can be loaded.
pub fn available() -> bool {
    // SAFETY: only probes whether the library can be opened.
    unsafe { cudarc::nvrtc::sys::is_culib_present() }
}

/// Compiles a CUDA C kernel source for `arch` (`sm_90`). Errors: `Unsupported` when
/// NVRTC is missing, `Compile` with NVRTC's log when the source does not build.
pub fn compile(source: &KernelSource, arch: &str) -> Result<Ptx> {
    if source.dialect != Dialect::CudaC {
        return Err(Error::unsupported(
            NAME,
            format!(
                "kernel `{}`: NVRTC takes CUDA C, not {}",
                source.name, source.dialect
            ),
        ));
    }
    if !available() {
        return Err(Error::unsupported(NAME, "libnvrtc could not be loaded; install the CUDA toolkit or the nvidia-cuda-nvrtc-cu12 wheel and put its lib/ on LD_LIBRARY_PATH"));
    }
    let compile_error = |log: String| Error::Compile {
        backend: NAME.into(),
        kernel: source.name.clone(),
        dialect: Dialect::CudaC,
        log,
    };
    let text = std::str::from_utf8(&source.code)
        .map_err(|_| compile_error("the source is not UTF-8".into()))?;
    let mut options = vec![format!("--gpu-architecture={arch}"), "--std=c++17".into()];
    for (k, v) in &source.defines {
        let ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.".contains(c))
        };
        if !ok(k) || !ok(v) {
            return Err(Error::invalid(
                NAME,
                format!("bad define `{k}={v}` for kernel `{}`", source.name),
            ));
        }
        options.push(format!("-D{k}={v}"));
    }
    let opts = CompileOptions {
        options,
        name: Some(format!("{}.cu", source.name)),
        ..Default::default()
    };
    compile_ptx_with_opts(text, opts).map_err(|e| match e {
        CompileError::CompileError { log, .. } => compile_error(log.to_string_lossy().into_owned()),
        other => compile_error(format!("{other:?}")),
    })
}
