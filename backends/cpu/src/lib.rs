//! # halbench-cpu
//!
//! The reference backend. Device memory is 64-byte-aligned host memory; every kernel is a
//! `Builtin` Rust function run on the rayon pool, written so the compiler vectorises it.
//! A launch runs to completion before it returns, so the queue is always drained: `sync`
//! is free, and `record`/`elapsed` are left `Unsupported` so the harness times on the
//! host and says so.
//!
//! ```text
//!   Layered<CpuDevice>     handles, checks, compile cache, stats (hal::layer)
//!     CpuDevice            primitives: AlignedBytes for memory, a KernelFn per builtin
//!   launch: a buffer passed twice is refused (the kernel holds each as `&mut`), then the
//!           kernel runs on one slice per buffer.
//! ```

mod elem;
mod kernels;
pub mod launch;
mod memory;
mod sysinfo;

use halbench_hal::layer::{Built, Copy, Layered, NativeArg, Primitives};
use halbench_hal::{
    Backend, DType, Device, DeviceInfo, Dialect, Dims, Error, KernelSource, Result,
};

pub use kernels::register as register_kernel;
use launch::{KernelFn, Launch, Scalar};
use memory::AlignedBytes;

const NAME: &str = "cpu";

/// The CPU as a backend: one device, every core.
#[derive(Debug, Default)]
pub struct CpuBackend;

impl CpuBackend {
    pub fn new() -> Self {
        CpuBackend
    }
}

impl Backend for CpuBackend {
    fn name(&self) -> &str {
        NAME
    }

    fn devices(&self) -> Result<Vec<DeviceInfo>> {
        Ok(vec![sysinfo::describe(rayon::current_num_threads())])
    }

    fn open(&self, index: usize) -> Result<Box<dyn Device>> {
        if index != 0 {
            return Err(Error::invalid(
                NAME,
                format!("device index {index} out of range (1 device)"),
            ));
        }
        Ok(Box::new(CpuDevice::new()))
    }
}

/// The CPU opened as a device: its primitives, behind [`Layered`].
#[derive(Debug)]
pub struct CpuDevice {
    info: DeviceInfo,
}

impl CpuDevice {
    fn new() -> Layered<Self> {
        Layered::new(CpuDevice {
            info: sysinfo::describe(rayon::current_num_threads()),
        })
    }
}

/// A builtin's host function, found by name.
#[derive(Debug)]
pub struct CpuKernel(KernelFn);

impl Primitives for CpuDevice {
    type Memory = AlignedBytes;
    type Kernel = CpuKernel;
    type Timestamp = ();

    fn backend(&self) -> &'static str {
        NAME
    }

    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn alloc(&mut self, bytes: u64) -> Result<AlignedBytes> {
        // The OS overcommits, so an allocation beyond memory would "succeed" and kill the
        // process later: refuse what is not available now.
        let available = halbench_hal::host::meminfo_bytes("MemAvailable").unwrap_or(u64::MAX);
        let too_big = || {
            Error::out_of_memory(
                NAME,
                format!(
                    "{bytes} bytes requested, {available} bytes available (of {} total)",
                    self.info.memory_bytes
                ),
            )
        };
        if bytes > available || usize::try_from(bytes).is_err() {
            return Err(too_big());
        }
        AlignedBytes::zeroed(bytes as usize).ok_or_else(too_big)
    }

    fn write(&mut self, dst: &AlignedBytes, offset: u64, data: &[u8]) -> Result<()> {
        // SAFETY: no slice of `dst` is alive during the call (the layer holds none).
        let memory = unsafe { dst.slice_mut() };
        memory[offset as usize..][..data.len()].copy_from_slice(data);
        Ok(())
    }

    fn read(&mut self, src: &AlignedBytes, offset: u64, out: &mut [u8]) -> Result<()> {
        out.copy_from_slice(&src.as_slice()[offset as usize..][..out.len()]);
        Ok(())
    }

    fn copy(&mut self, c: Copy<'_, AlignedBytes>) -> Result<()> {
        let (from, to, len) = (
            c.src_offset as usize,
            c.dst_offset as usize,
            c.bytes as usize,
        );
        if c.same {
            // SAFETY: the only slice of this buffer during the call.
            unsafe { c.dst.slice_mut() }.copy_within(from..from + len, to);
        } else {
            // SAFETY: two different buffers, each sliced once.
            let (src, dst) = (c.src.as_slice(), unsafe { c.dst.slice_mut() });
            kernels::parallel_copy(&src[from..from + len], &mut dst[to..to + len]);
        }
        Ok(())
    }

    fn build(&mut self, source: &KernelSource) -> Result<Built<CpuKernel>> {
        let dtype = match source.define("T") {
            None => DType::F32,
            Some(t) => t.parse::<DType>().map_err(|log| Error::Compile {
                backend: NAME.into(),
                kernel: source.name.clone(),
                dialect: Dialect::Builtin,
                log: format!("define T={t}: {log}"),
            })?,
        };
        Ok(Built::new(CpuKernel(kernels::lookup(
            &source.name,
            dtype,
            &source.defines,
        )?)))
    }

    fn launch(
        &mut self,
        kernel: &CpuKernel,
        name: &str,
        dims: Dims,
        args: &[NativeArg<'_, AlignedBytes>],
    ) -> Result<()> {
        let fail = |message: String| Error::invalid(NAME, format!("kernel `{name}`: {message}"));
        let mut ids = Vec::new();
        let mut slices = Vec::new();
        let mut scalars = Vec::new();
        for arg in args {
            match arg {
                NativeArg::Buffer(b) => {
                    // A kernel holds every buffer as `&mut`: one passed twice would alias.
                    if ids.contains(&b.id) {
                        return Err(fail(format!("buffer {} passed twice", b.id)));
                    }
                    ids.push(b.id);
                    // SAFETY: each buffer is sliced once (checked above), and the slices
                    // end with the launch, which runs to completion here.
                    slices.push(unsafe { b.memory.slice_mut() });
                }
                NativeArg::U32(v) => scalars.push(Scalar::U32(*v)),
                NativeArg::I32(v) => scalars.push(Scalar::I32(*v)),
                NativeArg::F32(v) => scalars.push(Scalar::F32(*v)),
            }
        }
        (kernel.0)(&mut Launch::new(dims, slices, scalars)).map_err(fail)
    }

    fn sync(&mut self) -> Result<()> {
        Ok(())
    }
}
