//! # halbench-cpu
//!
//! The reference backend. Device memory is 64-byte-aligned host memory; every kernel is a
//! `Builtin` Rust function run on the rayon pool, written so the compiler vectorises it.
//! A launch runs to completion before it returns, so the queue is always drained: `sync`
//! is free, and `record`/`elapsed` are left `Unsupported` so the harness times on the
//! host and says so.
//!
//! ```text
//!   CpuDevice
//!     buffers: Slab<AlignedBytes>       (ids never reused, so a freed handle is
//!     kernels: Slab<(name, KernelFn)>     simply unknown)
//!     cache:   (name, defines) ─► kernel id
//!   launch: take the argument buffers out of the map (so a buffer passed twice is caught),
//!           run the kernel on borrowed slices, put them back.
//! ```

mod elem;
mod kernels;
pub mod launch;
mod memory;
mod sysinfo;

use std::collections::HashMap;

use halbench_hal::{
    checks, Arg, Backend, Buffer, DType, Device, DeviceId, DeviceInfo, DeviceStats, Dialect, Dims,
    Error, Kernel, KernelSource, Result, Slab,
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

#[derive(Debug)]
struct CpuKernel {
    name: String,
    func: KernelFn,
}

/// The CPU opened as a device.
#[derive(Debug)]
pub struct CpuDevice {
    id: DeviceId,
    info: DeviceInfo,
    buffers: Slab<AlignedBytes>,
    kernels: Slab<CpuKernel>,
    cache: HashMap<(String, Vec<(String, String)>), u64>,
    stats: DeviceStats,
}

impl CpuDevice {
    fn new() -> Self {
        let id = DeviceId::fresh();
        CpuDevice {
            id,
            info: sysinfo::describe(rayon::current_num_threads()),
            buffers: Slab::new(NAME, "buffer", id),
            kernels: Slab::new(NAME, "kernel", id),
            cache: HashMap::new(),
            stats: DeviceStats::default(),
        }
    }

    fn buffer(&self, handle: &Buffer) -> Result<&AlignedBytes> {
        self.buffers.get(handle.device(), handle.id())
    }

    fn buffer_mut(&mut self, handle: &Buffer) -> Result<&mut AlignedBytes> {
        self.buffers.get_mut(handle.device(), handle.id())
    }
}

/// `offset..offset+len` inside a buffer of `size` bytes, as a usize range.
fn range(size: usize, offset: u64, len: u64, what: &str) -> Result<std::ops::Range<usize>> {
    let r = checks::range(NAME, size as u64, offset, len, what)?;
    Ok(r.start as usize..r.end as usize)
}

impl Device for CpuDevice {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn alloc(&mut self, bytes: u64) -> Result<Buffer> {
        checks::alloc_size(NAME, bytes, u64::MAX, "the address space")?;
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
        let memory = AlignedBytes::zeroed(bytes as usize).ok_or_else(too_big)?;
        let id = self.buffers.insert(memory);
        self.stats.live_buffers += 1;
        self.stats.live_bytes += bytes;
        Ok(Buffer::from_raw(self.id, id))
    }

    fn free(&mut self, buffer: Buffer) -> Result<()> {
        let memory = self.buffers.remove(buffer.device(), buffer.id())?;
        self.stats.live_buffers -= 1;
        self.stats.live_bytes -= memory.len() as u64;
        Ok(())
    }

    fn write(&mut self, dst: &Buffer, offset: u64, data: &[u8]) -> Result<()> {
        let memory = self.buffer_mut(dst)?;
        let r = range(memory.len(), offset, data.len() as u64, "write")?;
        memory.as_mut_slice()[r].copy_from_slice(data);
        Ok(())
    }

    fn read(&mut self, src: &Buffer, offset: u64, out: &mut [u8]) -> Result<()> {
        let memory = self.buffer(src)?;
        let r = range(memory.len(), offset, out.len() as u64, "read")?;
        out.copy_from_slice(&memory.as_slice()[r]);
        Ok(())
    }

    fn copy(
        &mut self,
        src: &Buffer,
        src_offset: u64,
        dst: &Buffer,
        dst_offset: u64,
        bytes: u64,
    ) -> Result<()> {
        let src_len = self.buffer(src)?.len();
        let dst_len = self.buffer(dst)?.len();
        let from = range(src_len, src_offset, bytes, "copy source")?;
        let to = range(dst_len, dst_offset, bytes, "copy destination")?;
        if src.id() == dst.id() {
            checks::no_overlap(NAME, true, src_offset, dst_offset, bytes)?;
            self.buffer_mut(dst)?
                .as_mut_slice()
                .copy_within(from, to.start);
            return Ok(());
        }
        // Both were checked above; take the source out to borrow the destination too.
        let source = self.buffers.remove(src.device(), src.id())?;
        let result = self.buffers.get_mut(dst.device(), dst.id()).map(|d| {
            kernels::parallel_copy(&source.as_slice()[from], &mut d.as_mut_slice()[to]);
        });
        self.buffers.restore(src.id(), source);
        result
    }

    fn compile(&mut self, source: &KernelSource) -> Result<Kernel> {
        if source.dialect != Dialect::Builtin {
            return Err(Error::unsupported(
                NAME,
                format!(
                    "kernel `{}`: the cpu runs builtin kernels only, not {}",
                    source.name, source.dialect
                ),
            ));
        }
        let key = (source.name.clone(), source.defines.clone());
        if let Some(&id) = self.cache.get(&key) {
            self.stats.compile_cache_hits += 1;
            return Ok(Kernel::from_raw(self.id, id));
        }
        let dtype = match source.define("T") {
            None => DType::F32,
            Some(t) => t.parse::<DType>().map_err(|log| Error::Compile {
                backend: NAME.into(),
                kernel: source.name.clone(),
                dialect: Dialect::Builtin,
                log: format!("define T={t}: {log}"),
            })?,
        };
        let func = kernels::lookup(&source.name, dtype)?;
        let id = self.kernels.insert(CpuKernel {
            name: source.name.clone(),
            func,
        });
        self.cache.insert(key, id);
        self.stats.compiles += 1;
        Ok(Kernel::from_raw(self.id, id))
    }

    fn launch(&mut self, kernel: &Kernel, dims: Dims, args: &[Arg<'_>]) -> Result<()> {
        let k = self.kernels.get(kernel.device(), kernel.id())?;
        let (name, func) = (k.name.clone(), k.func);
        let fail = |message: String| Error::invalid(NAME, format!("kernel `{name}`: {message}"));
        // Builtins spread work over rayon themselves: only empty launches are refused.
        dims.validate().map_err(fail)?;

        let mut ids = Vec::new();
        let mut scalars = Vec::new();
        for arg in args {
            match arg {
                Arg::Buffer(b) if scalars.is_empty() => {
                    self.buffer(b).map_err(|e| fail(e.to_string()))?;
                    if ids.contains(&b.id()) {
                        return Err(fail(format!("buffer {} passed twice", b.id())));
                    }
                    ids.push(b.id());
                }
                Arg::Buffer(_) => return Err(fail("buffers must come before scalars".into())),
                Arg::U32(v) => scalars.push(Scalar::U32(*v)),
                Arg::I32(v) => scalars.push(Scalar::I32(*v)),
                Arg::F32(v) => scalars.push(Scalar::F32(*v)),
            }
        }
        // Take the buffers out so the kernel can hold several `&mut` at once; every one
        // is back in the map before this returns, whatever the kernel does.
        let mut taken: Vec<(u64, AlignedBytes)> = ids
            .iter()
            .filter_map(|&id| self.buffers.remove(self.id, id).ok().map(|m| (id, m)))
            .collect();
        let slices = taken.iter_mut().map(|(_, m)| m.as_mut_slice()).collect();
        let result = func(&mut Launch::new(dims, slices, scalars));
        for (id, memory) in taken {
            self.buffers.restore(id, memory);
        }
        result.map_err(fail)
    }

    fn sync(&mut self) -> Result<()> {
        Ok(())
    }

    fn stats(&self) -> DeviceStats {
        self.stats
    }
}
