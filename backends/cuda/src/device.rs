//! One opened CUDA device: its primary context, one stream, and the slabs of native
//! objects behind the HAL's handles.

use std::collections::{HashMap, HashSet};
use std::ffi::{c_void, CString};
use std::time::Duration;

use cudarc::cublas::{result as blas, sys as blas_sys};
use cudarc::driver::result::{self, stream::StreamKind};
use cudarc::driver::sys;
use halbench_hal::layer::{Built, Copy, Layered, Native, NativeArg, Primitives};
use halbench_hal::ops::{BuiltinArgs, GemmArgs};
use halbench_hal::{checks, DType, DeviceInfo, Dialect, Dims, Error, KernelSource, Result};

use crate::{driver_error, nvrtc, NAME};

/// A kernel as this backend built it.
#[derive(Debug)]
pub enum Compiled {
    Function(sys::CUfunction),
    /// `gemm_vendor` through cuBLAS.
    Gemm {
        dtype: DType,
    },
}

// SAFETY: a function handle is plain data in its context; the device's `&mut self`
// serialises every use.
unsafe impl Send for Compiled {}

/// A recorded CUDA event, destroyed when dropped.
#[derive(Debug)]
pub struct CuEvent(pub(crate) sys::CUevent);

// SAFETY: as for Compiled.
unsafe impl Send for CuEvent {}

impl Drop for CuEvent {
    fn drop(&mut self) {
        // SAFETY: created by cuEventCreate and owned by this value: destroyed once.
        let _ = unsafe { result::event::destroy(self.0) };
    }
}

type ModuleKey = (Vec<u8>, Vec<(String, String)>);

/// An opened CUDA device's primitives; [`Layered`] keeps the contract around them.
pub struct CudaDevice {
    info: DeviceInfo,
    dev: sys::CUdevice,
    ctx: sys::CUcontext,
    stream: sys::CUstream,
    /// Every live allocation, so teardown frees what the layer did not.
    live: HashSet<sys::CUdeviceptr>,
    modules: HashMap<ModuleKey, sys::CUmodule>,
    cublas: Option<blas_sys::cublasHandle_t>,
    /// Host ranges registered with cuMemHostRegister (address → length).
    pinned: HashMap<usize, usize>,
}

// SAFETY: the context is made current on whichever thread calls (every method binds it),
// and &mut self serialises all use.
unsafe impl Send for CudaDevice {}

impl std::fmt::Debug for CudaDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CudaDevice({})", self.info.key())
    }
}

impl CudaDevice {
    pub(crate) fn open(dev: sys::CUdevice, info: DeviceInfo) -> Result<Layered<Self>> {
        // SAFETY: dev comes from cuDeviceGet; the context is released in Drop.
        let ctx = unsafe { result::primary_ctx::retain(dev) }
            .map_err(|e| driver_error("cuDevicePrimaryCtxRetain", e))?;
        // SAFETY: ctx was just retained.
        unsafe { result::ctx::set_current(ctx) }.map_err(|e| driver_error("cuCtxSetCurrent", e))?;
        let stream = result::stream::create(StreamKind::NonBlocking)
            .map_err(|e| driver_error("cuStreamCreate", e))?;
        Ok(Layered::new(CudaDevice {
            info,
            dev,
            ctx,
            stream,
            live: HashSet::new(),
            modules: HashMap::new(),
            cublas: None,
            pinned: HashMap::new(),
        }))
    }

    /// Makes the context current on the calling thread.
    fn bind(&self) -> Result<()> {
        // SAFETY: the context is retained for the life of self.
        unsafe { result::ctx::set_current(self.ctx) }
            .map_err(|e| driver_error("cuCtxSetCurrent", e))
    }

    fn stream_sync(&self) -> Result<()> {
        // SAFETY: the stream belongs to the current context.
        unsafe { result::stream::synchronize(self.stream) }
            .map_err(|e| driver_error("cuStreamSynchronize", e))
    }

    /// `gemm_vendor` through cuBLAS, on arguments the layer resolved.
    fn gemm(&mut self, dtype: DType, args: &[NativeArg<'_, sys::CUdeviceptr>]) -> Result<()> {
        let kind = match dtype {
            DType::F32 => blas_sys::cudaDataType::CUDA_R_32F,
            DType::F16 => blas_sys::cudaDataType::CUDA_R_16F,
            DType::BF16 => blas_sys::cudaDataType::CUDA_R_16BF,
            // cuBLASLt has fp8, but only with A transposed (TN, K-major weights): with
            // this workload's row-major K×N B it would be a different product.
            other if other.is_fp8() => {
                return Err(Error::unsupported(
                    NAME,
                    format!("gemm_vendor: cublasGemmEx has no {other}, and cuBLASLt's fp8 matmul needs K-major (transposed) B"),
                ))
            }
            other => {
                return Err(Error::unsupported(
                    NAME,
                    format!("gemm_vendor: no cuBLAS type for {other}"),
                ))
            }
        };
        let g = GemmArgs::decode(args).map_err(|e| Error::invalid(NAME, e))?;
        let (m, n, k) = (u64::from(g.m), u64::from(g.n), u64::from(g.k));
        let size = dtype.size() as u64;
        let sized = |b: Native<'_, sys::CUdeviceptr>, len: u64, what: &str| {
            checks::range(NAME, b.bytes, 0, len, what).map(|_| *b.memory)
        };
        let (pa, pb, pc) = (
            sized(g.a, m * k * size, "A")?,
            sized(g.b, k * n * size, "B")?,
            sized(g.c, m * n * size, "C")?,
        );
        let bad = || Error::invalid(NAME, "gemm_vendor: a dimension beyond i32");
        let handle = match self.cublas {
            Some(h) => h,
            None => {
                // cudarc panics on a missing library: probe it first.
                // SAFETY: only probes whether the library can be opened.
                if !unsafe { blas_sys::is_culib_present() } {
                    return Err(Error::unsupported(
                        NAME,
                        "libcublas could not be loaded; install cuBLAS for gemm_vendor",
                    ));
                }
                let h = blas::create_handle()
                    .map_err(|e| Error::unsupported(NAME, format!("cuBLAS unavailable: {e:?}")))?;
                // SAFETY: both handles are valid.
                unsafe { blas::set_stream(h, self.stream as blas_sys::cudaStream_t) }.map_err(
                    |e| Error::Backend {
                        backend: NAME.into(),
                        code: 0,
                        message: format!("cublasSetStream: {e:?}"),
                    },
                )?;
                self.cublas = Some(h);
                h
            }
        };
        let (alpha, beta) = (1.0f32, 0.0f32);
        let dim = |v: u64| i32::try_from(v).map_err(|_| bad());
        // Row-major C = A·B is column-major Cᵀ = Bᵀ·Aᵀ: swap the operands, no transposes.
        // SAFETY: the pointers hold the sizes checked above; alpha/beta are host f32s as
        // CUBLAS_COMPUTE_32F expects.
        unsafe {
            blas::gemm_ex(
                handle,
                blas_sys::cublasOperation_t::CUBLAS_OP_N,
                blas_sys::cublasOperation_t::CUBLAS_OP_N,
                dim(n)?,
                dim(m)?,
                dim(k)?,
                (&alpha as *const f32).cast(),
                pb as *const c_void,
                kind,
                dim(n)?,
                pa as *const c_void,
                kind,
                dim(k)?,
                (&beta as *const f32).cast(),
                pc as *mut c_void,
                kind,
                dim(n)?,
                blas_sys::cublasComputeType_t::CUBLAS_COMPUTE_32F,
                blas_sys::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
            )
        }
        .map_err(|e| Error::Backend {
            backend: NAME.into(),
            code: 0,
            message: format!("cublasGemmEx: {e:?}"),
        })
    }
}

mod hal;
