//! One opened CUDA device: its primary context, one stream, and the slabs of native
//! objects behind the HAL's handles.

use std::collections::HashMap;
use std::ffi::{c_void, CString};
use std::time::Duration;

use cudarc::cublas::{result as blas, sys as blas_sys};
use cudarc::driver::result::{self, stream::StreamKind};
use cudarc::driver::sys;
use halbench_hal::{
    checks, Arg, Buffer, DType, Device, DeviceId, DeviceInfo, DeviceStats, Dialect, Dims, Error,
    Event, Kernel, KernelSource, Result, Slab,
};

use crate::{driver_error, nvrtc, NAME};

enum Compiled {
    Function {
        name: String,
        func: sys::CUfunction,
    },
    /// `gemm_vendor` through cuBLAS.
    Gemm {
        dtype: DType,
    },
}

type KernelKey = (Vec<u8>, Vec<(String, String)>, String, Dialect);
type ModuleKey = (Vec<u8>, Vec<(String, String)>);

/// An opened CUDA device.
pub struct CudaDevice {
    id: DeviceId,
    info: DeviceInfo,
    dev: sys::CUdevice,
    ctx: sys::CUcontext,
    stream: sys::CUstream,
    /// Device address and size.
    buffers: Slab<(sys::CUdeviceptr, u64)>,
    modules: HashMap<ModuleKey, sys::CUmodule>,
    kernels: Slab<Compiled>,
    kernel_cache: HashMap<KernelKey, u64>,
    events: Slab<sys::CUevent>,
    cublas: Option<blas_sys::cublasHandle_t>,
    /// Host ranges registered with cuMemHostRegister (address → length).
    pinned: HashMap<usize, usize>,
    stats: DeviceStats,
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
    pub(crate) fn open(dev: sys::CUdevice, info: DeviceInfo) -> Result<Self> {
        // SAFETY: dev comes from cuDeviceGet; the context is released in Drop.
        let ctx = unsafe { result::primary_ctx::retain(dev) }
            .map_err(|e| driver_error("cuDevicePrimaryCtxRetain", e))?;
        // SAFETY: ctx was just retained.
        unsafe { result::ctx::set_current(ctx) }.map_err(|e| driver_error("cuCtxSetCurrent", e))?;
        let stream = result::stream::create(StreamKind::NonBlocking)
            .map_err(|e| driver_error("cuStreamCreate", e))?;
        let id = DeviceId::fresh();
        Ok(CudaDevice {
            id,
            info,
            dev,
            ctx,
            stream,
            buffers: Slab::new(NAME, "buffer", id),
            modules: HashMap::new(),
            kernels: Slab::new(NAME, "kernel", id),
            kernel_cache: HashMap::new(),
            events: Slab::new(NAME, "event", id),
            cublas: None,
            pinned: HashMap::new(),
            stats: DeviceStats::default(),
        })
    }

    /// Makes the context current on the calling thread.
    fn bind(&self) -> Result<()> {
        // SAFETY: the context is retained for the life of self.
        unsafe { result::ctx::set_current(self.ctx) }
            .map_err(|e| driver_error("cuCtxSetCurrent", e))
    }

    /// The device address of `offset` in a buffer, after checking `len` bytes fit.
    fn address(
        &self,
        handle: &Buffer,
        offset: u64,
        len: u64,
        what: &str,
    ) -> Result<sys::CUdeviceptr> {
        let &(ptr, bytes) = self.buffers.get(handle.device(), handle.id())?;
        checks::range(NAME, bytes, offset, len, what)?;
        Ok(ptr + offset)
    }

    fn stream_sync(&self) -> Result<()> {
        // SAFETY: the stream belongs to the current context.
        unsafe { result::stream::synchronize(self.stream) }
            .map_err(|e| driver_error("cuStreamSynchronize", e))
    }

    fn gemm(&mut self, dtype: DType, args: &[Arg<'_>]) -> Result<()> {
        let bad = || Error::invalid(NAME, "gemm_vendor takes (A, B, C; M, N, K)");
        let [Arg::Buffer(a), Arg::Buffer(b), Arg::Buffer(c), Arg::U32(m), Arg::U32(n), Arg::U32(k)] =
            args
        else {
            return Err(bad());
        };
        let (m, n, k) = (u64::from(*m), u64::from(*n), u64::from(*k));
        let size = dtype.size() as u64;
        let (pa, pb, pc) = (
            self.address(a, 0, m * k * size, "A")?,
            self.address(b, 0, k * n * size, "B")?,
            self.address(c, 0, m * n * size, "C")?,
        );
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
        let kind = match dtype {
            DType::F32 => blas_sys::cudaDataType::CUDA_R_32F,
            DType::F16 => blas_sys::cudaDataType::CUDA_R_16F,
            DType::BF16 => blas_sys::cudaDataType::CUDA_R_16BF,
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
