//! The trait pair and the handles that travel through it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::{Arg, DeviceInfo, Dims, Error, KernelSource, Result};

/// Identity of one opened device, unique in the process. Handles carry it so that a
/// handle from another device is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId(u64);

impl DeviceId {
    /// A new identity; backends call this once in `open`.
    pub fn fresh() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        DeviceId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

macro_rules! handle {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, PartialEq, Eq, Hash)]
        pub struct $name {
            device: DeviceId,
            id: u64,
        }

        impl $name {
            /// Makes a handle from its parts. For backends and plugin loaders: a backend
            /// checks every handle it is given, so a forged one is `InvalidArgument`.
            pub fn from_raw(device: DeviceId, id: u64) -> Self {
                $name { device, id }
            }
            pub fn device(&self) -> DeviceId {
                self.device
            }
            pub fn id(&self) -> u64 {
                self.id
            }
        }
    };
}

handle!(
    /// Device memory. Freed with [`Device::free`], which consumes it.
    Buffer
);
handle!(
    /// A compiled kernel. Lives as long as its device.
    Kernel
);
handle!(
    /// A point in the device's queue, for device-side timing. Consumed by
    /// [`Device::elapsed`].
    Event
);

/// Counters a device keeps about itself; the conformance suite reads them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceStats {
    /// Kernels actually compiled.
    pub compiles: u64,
    /// `compile` calls answered from the cache.
    pub compile_cache_hits: u64,
    pub live_buffers: u64,
    pub live_bytes: u64,
}

/// One accelerator API. Cheap to construct; touches the driver only when asked.
pub trait Backend: Send + Sync {
    /// Short lowercase name: `cpu`, `opencl`, `vulkan`, `cuda`, or a plugin's name.
    fn name(&self) -> &str;

    /// Describes every device without creating contexts. Blocks.
    /// Errors: `Unavailable { reason }` when the driver library or any device is missing.
    fn devices(&self) -> Result<Vec<DeviceInfo>>;

    /// Opens device `index` (as listed by `devices`) with one in-order queue. Blocks.
    /// Errors: `Unavailable`, `InvalidArgument` for an index out of range.
    fn open(&self, index: usize) -> Result<Box<dyn Device>>;
}

/// One opened device and its in-order queue. Methods take `&mut self`: one thread drives a
/// device at a time.
pub trait Device: Send {
    /// What the device is. Never blocks.
    fn info(&self) -> &DeviceInfo;

    /// Allocates `bytes` (> 0) of device memory; contents are unspecified. Blocks.
    /// Errors: `OutOfMemory` when the device cannot hold it, `InvalidArgument` for zero.
    fn alloc(&mut self, bytes: u64) -> Result<Buffer>;

    /// Releases a buffer, after work already enqueued on it. Consumes the handle.
    /// Errors: `InvalidArgument` for a foreign or already-freed handle.
    fn free(&mut self, buffer: Buffer) -> Result<()>;

    /// Copies `data` into `dst` at byte `offset`. Blocks until the data is on the device;
    /// ordered after earlier work. Errors: `InvalidArgument` for a bad handle or range.
    fn write(&mut self, dst: &Buffer, offset: u64, data: &[u8]) -> Result<()>;

    /// Copies `out.len()` bytes from `src` at byte `offset` into `out`. Blocks, and waits
    /// for earlier work, so it sees every launch enqueued before it.
    fn read(&mut self, src: &Buffer, offset: u64, out: &mut [u8]) -> Result<()>;

    /// Enqueues a device-to-device copy of `bytes`. Ranges must not overlap when the
    /// buffers are the same.
    fn copy(
        &mut self,
        src: &Buffer,
        src_offset: u64,
        dst: &Buffer,
        dst_offset: u64,
        bytes: u64,
    ) -> Result<()>;

    /// Compiles (or finds in the backend's cache) a kernel. Blocks; never call it in a
    /// timed region. Errors: `Unsupported` when the device takes no such dialect or has no
    /// such builtin, `Compile` with the full log when the source does not build.
    fn compile(&mut self, source: &KernelSource) -> Result<Kernel>;

    /// Enqueues a kernel. Arguments follow the kernel ABI: buffers first, then scalars.
    /// Errors: `InvalidArgument` for bad handles, dims or argument lists.
    fn launch(&mut self, kernel: &Kernel, dims: Dims, args: &[Arg<'_>]) -> Result<()>;

    /// Blocks until everything enqueued has finished.
    fn sync(&mut self) -> Result<()>;

    /// Registers host memory that `write` will read from or `read` will write to, so the
    /// device can reach it directly (page-locked, DMA) instead of through a bounce buffer.
    /// Blocks; never call it in a timed region. The memory must stay allocated and in
    /// place until `unpin`. Default: nothing to do (the host is the device, or the API has
    /// no such notion).
    fn pin(&mut self, host: &[u8]) -> Result<()> {
        let _ = host;
        Ok(())
    }

    /// Undoes `pin`. Unpinning memory that was not pinned is `InvalidArgument`, except
    /// on devices that do not pin at all.
    fn unpin(&mut self, host: &[u8]) -> Result<()> {
        let _ = host;
        Ok(())
    }

    /// Enqueues a timestamp. Default: `Unsupported` (the harness then times on the host
    /// around `sync`, and says so).
    fn record(&mut self) -> Result<Event> {
        Err(Error::unsupported(&self.info().backend, "device timers"))
    }

    /// Device time between two recorded events; blocks until `end` has passed. Consumes
    /// both.
    fn elapsed(&mut self, start: Event, end: Event) -> Result<Duration> {
        let _ = (start, end);
        Err(Error::unsupported(&self.info().backend, "device timers"))
    }

    /// Counters about compiles and live memory. Never blocks.
    fn stats(&self) -> DeviceStats;
}
