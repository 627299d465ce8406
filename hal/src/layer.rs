//! The backend contract, written once. A backend implements [`Primitives`] (allocate,
//! move bytes, build a kernel, launch it, time it, on native objects) and wraps itself in
//! [`Layered`], which is the [`Device`] the rest of halbench sees:
//!
//! ```text
//!   caller ── Device ──► Layered<P> ─────────────────────────────► P: Primitives
//!                          handles ─► native objects (Slab per kind)    alloc  release
//!                          range, overlap, size and budget checks      write  read  copy
//!                          dialect check, compile cache, arity check   build  launch
//!                          launch dims against DeviceInfo's limits     sync   record
//!                          stats (compiles, cache hits, live memory)   elapsed pin unpin
//! ```
//!
//! So every backend refuses a foreign or freed handle, an out-of-range write and an
//! overlapping copy with the same words, caches compiled kernels by the whole
//! [`KernelSource`] and counts the same things; a primitive never sees an unchecked call.

use std::collections::HashMap;
use std::time::Duration;

use crate::{
    checks, Arg, ArgOf, Buffer, Device, DeviceId, DeviceInfo, DeviceStats, Dialect, Dims, Error,
    Event, Kernel, KernelSource, Result, Slab,
};

/// A buffer argument resolved to the backend's native memory. `id` is the buffer's handle
/// id, stable for its life (for caches keyed by buffers, as Vulkan's descriptor sets are);
/// `bytes` its size (for builtins that check the sizes their arguments imply).
#[derive(Debug)]
pub struct Native<'a, M> {
    pub id: u64,
    pub memory: &'a M,
    pub bytes: u64,
}

impl<M> Clone for Native<'_, M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M> std::marker::Copy for Native<'_, M> {}

/// A kernel argument as a backend's `launch` receives it.
pub type NativeArg<'a, M> = ArgOf<Native<'a, M>>;

/// A kernel as a backend built it, with what the layer checks on every launch.
#[derive(Debug)]
pub struct Built<K> {
    pub kernel: K,
    /// Arguments the kernel takes, where the backend knows (OpenCL and SPIR-V report it);
    /// `None` leaves the count to the kernel.
    pub arity: Option<usize>,
}

impl<K> Built<K> {
    pub fn new(kernel: K) -> Self {
        Built {
            kernel,
            arity: None,
        }
    }

    pub fn with_arity(mut self, arity: usize) -> Self {
        self.arity = Some(arity);
        self
    }
}

/// The largest single allocation and what it is called in the backend's own terms (for
/// the error message: `CL_DEVICE_MAX_MEM_ALLOC_SIZE`).
#[derive(Debug, Clone, Copy)]
pub struct AllocLimit {
    pub bytes: u64,
    pub name: &'static str,
}

/// What a backend implements. Every call arrives checked: handles resolved, ranges inside
/// their buffers, copies not overlapping, byte counts non-zero, the kernel's dialect one the
/// device lists, launch dims within the device's limits.
pub trait Primitives: Send {
    type Memory: Send;
    type Kernel: Send;
    type Timestamp: Send;

    /// The backend's name, for errors.
    fn backend(&self) -> &'static str;
    fn info(&self) -> &DeviceInfo;
    /// Default: the device's memory (no limit where that is unknown, 0).
    fn alloc_limit(&self) -> AllocLimit {
        match self.info().memory_bytes {
            0 => AllocLimit {
                bytes: u64::MAX,
                name: "the address space",
            },
            bytes => AllocLimit {
                bytes,
                name: "the device's memory",
            },
        }
    }
    /// `bytes` > 0, within `alloc_limit` and the memory not already in use.
    fn alloc(&mut self, bytes: u64) -> Result<Self::Memory>;
    /// Releases memory after work already enqueued on it. `id` is the handle's.
    fn release(&mut self, id: u64, memory: Self::Memory) -> Result<()> {
        let _ = (id, memory);
        Ok(())
    }
    fn write(&mut self, dst: &Self::Memory, offset: u64, data: &[u8]) -> Result<()>;
    fn read(&mut self, src: &Self::Memory, offset: u64, out: &mut [u8]) -> Result<()>;
    /// `same` when source and destination are one buffer (the ranges do not overlap).
    fn copy(&mut self, copy: Copy<'_, Self::Memory>) -> Result<()>;
    /// Builds a kernel the cache has not seen.
    fn build(&mut self, source: &KernelSource) -> Result<Built<Self::Kernel>>;
    /// `name` is the kernel's canonical name, for errors.
    fn launch(
        &mut self,
        kernel: &Self::Kernel,
        name: &str,
        dims: Dims,
        args: &[NativeArg<'_, Self::Memory>],
    ) -> Result<()>;
    fn sync(&mut self) -> Result<()>;
    /// Default: no device timers (the harness times on the host around `sync`).
    fn record(&mut self) -> Result<Self::Timestamp> {
        Err(Error::unsupported(self.backend(), "device timers"))
    }
    /// Consumes both timestamps, whatever it returns.
    fn elapsed(&mut self, start: Self::Timestamp, end: Self::Timestamp) -> Result<Duration> {
        let _ = (start, end);
        Err(Error::unsupported(self.backend(), "device timers"))
    }
    /// A timestamp that will never be read (its pair was a bad handle). Default: drop it.
    fn discard(&mut self, t: Self::Timestamp) {
        let _ = t;
    }
    fn pin(&mut self, host: &[u8]) -> Result<()> {
        let _ = host;
        Ok(())
    }
    fn unpin(&mut self, host: &[u8]) -> Result<()> {
        let _ = host;
        Ok(())
    }
}

/// A checked device-to-device copy of `bytes` (> 0).
#[derive(Debug)]
pub struct Copy<'a, M> {
    pub src: &'a M,
    pub src_offset: u64,
    pub dst: &'a M,
    pub dst_offset: u64,
    pub bytes: u64,
    pub same: bool,
}

struct Compiled<K> {
    name: String,
    builtin: bool,
    arity: Option<usize>,
    kernel: K,
}

/// The memory behind a handle, after checking `offset..offset + len` lies inside it. A
/// free function over the slab so that callers can hand the memory to `inner` mutably.
fn in_range<'a, M>(
    buffers: &'a Slab<(M, u64)>,
    backend: &str,
    b: &Buffer,
    offset: u64,
    len: u64,
    what: &str,
) -> Result<&'a M> {
    let (memory, size) = buffers.get(b.device(), b.id())?;
    checks::range(backend, *size, offset, len, what)?;
    Ok(memory)
}

/// A backend's primitives behind the contract every device keeps. See the module docs.
pub struct Layered<P: Primitives> {
    id: DeviceId,
    // Field order is drop order: native objects go before the primitives that own their
    // context.
    buffers: Slab<(P::Memory, u64)>,
    kernels: Slab<Compiled<P::Kernel>>,
    events: Slab<P::Timestamp>,
    cache: HashMap<KernelSource, u64>,
    stats: DeviceStats,
    inner: P,
}

impl<P: Primitives> std::fmt::Debug for Layered<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({})", self.inner.backend(), self.inner.info().key())
    }
}

impl<P: Primitives> Layered<P> {
    pub fn new(inner: P) -> Self {
        let (id, name) = (DeviceId::fresh(), inner.backend());
        Layered {
            id,
            buffers: Slab::new(name, "buffer", id),
            kernels: Slab::new(name, "kernel", id),
            events: Slab::new(name, "event", id),
            cache: HashMap::new(),
            stats: DeviceStats::default(),
            inner,
        }
    }
}

impl<P: Primitives> Device for Layered<P> {
    fn info(&self) -> &DeviceInfo {
        self.inner.info()
    }

    fn alloc(&mut self, bytes: u64) -> Result<Buffer> {
        let (name, limit) = (self.inner.backend(), self.inner.alloc_limit());
        checks::alloc_size(name, bytes, limit.bytes, limit.name)?;
        // A device that does not say how much memory it has (0) leaves it to the driver.
        let total = self.inner.info().memory_bytes;
        if total > 0 && self.stats.live_bytes.saturating_add(bytes) > total {
            return Err(Error::out_of_memory(
                name,
                format!(
                    "{bytes} bytes requested, {} of {total} bytes already in use",
                    self.stats.live_bytes
                ),
            ));
        }
        let memory = self.inner.alloc(bytes)?;
        let id = self.buffers.insert((memory, bytes));
        self.stats.live_buffers += 1;
        self.stats.live_bytes += bytes;
        Ok(Buffer::from_raw(self.id, id))
    }

    fn free(&mut self, buffer: Buffer) -> Result<()> {
        let (memory, bytes) = self.buffers.remove(buffer.device(), buffer.id())?;
        self.stats.live_buffers -= 1;
        self.stats.live_bytes -= bytes;
        self.inner.release(buffer.id(), memory)
    }

    fn write(&mut self, dst: &Buffer, offset: u64, data: &[u8]) -> Result<()> {
        let name = self.inner.backend();
        let memory = in_range(&self.buffers, name, dst, offset, data.len() as u64, "write")?;
        if data.is_empty() {
            return Ok(());
        }
        self.inner.write(memory, offset, data)
    }

    fn read(&mut self, src: &Buffer, offset: u64, out: &mut [u8]) -> Result<()> {
        let name = self.inner.backend();
        let memory = in_range(&self.buffers, name, src, offset, out.len() as u64, "read")?;
        if out.is_empty() {
            return Ok(());
        }
        self.inner.read(memory, offset, out)
    }

    fn copy(
        &mut self,
        src: &Buffer,
        src_offset: u64,
        dst: &Buffer,
        dst_offset: u64,
        bytes: u64,
    ) -> Result<()> {
        let name = self.inner.backend();
        let from = in_range(&self.buffers, name, src, src_offset, bytes, "copy source")?;
        let to = in_range(
            &self.buffers,
            name,
            dst,
            dst_offset,
            bytes,
            "copy destination",
        )?;
        let same = src.id() == dst.id();
        checks::no_overlap(name, same, src_offset, dst_offset, bytes)?;
        if bytes == 0 {
            return Ok(());
        }
        self.inner.copy(Copy {
            src: from,
            src_offset,
            dst: to,
            dst_offset,
            bytes,
            same,
        })
    }

    fn compile(&mut self, source: &KernelSource) -> Result<Kernel> {
        if let Some(&id) = self.cache.get(source) {
            self.stats.compile_cache_hits += 1;
            return Ok(Kernel::from_raw(self.id, id));
        }
        let info = self.inner.info();
        if !info.dialects.contains(&source.dialect) {
            return Err(checks::wrong_dialect(
                self.inner.backend(),
                source,
                &info.dialects,
            ));
        }
        let built = self.inner.build(source)?;
        let id = self.kernels.insert(Compiled {
            name: source.name.clone(),
            builtin: source.dialect == Dialect::Builtin,
            arity: built.arity,
            kernel: built.kernel,
        });
        self.cache.insert(source.clone(), id);
        self.stats.compiles += 1;
        Ok(Kernel::from_raw(self.id, id))
    }

    fn launch(&mut self, kernel: &Kernel, dims: Dims, args: &[Arg<'_>]) -> Result<()> {
        let name = self.inner.backend();
        let k = self.kernels.get(kernel.device(), kernel.id())?;
        let fail = |m: String| Error::invalid(name, format!("kernel `{}`: {m}", k.name));
        // A builtin is a host function or a library call, not work-groups: it reads the
        // launch shape as it likes, and only an empty one is refused.
        if k.builtin {
            dims.validate().map_err(fail)?;
        } else {
            checks::launch(name, &k.name, &dims, self.inner.info())?;
        }
        if let Some(arity) = k.arity.filter(|&n| n != args.len()) {
            return Err(fail(format!(
                "{} arguments given, the kernel takes {arity}",
                args.len()
            )));
        }
        let mut native = Vec::with_capacity(args.len());
        for arg in args {
            if arg.is_buffer() && native.last().is_some_and(|a: &NativeArg<_>| !a.is_buffer()) {
                return Err(fail("buffers must come before scalars".into()));
            }
            native.push(arg.map_buffer(|b| {
                let (memory, bytes) = self
                    .buffers
                    .get(b.device(), b.id())
                    .map_err(|e| fail(e.to_string()))?;
                Ok(Native {
                    id: b.id(),
                    memory,
                    bytes: *bytes,
                })
            })?);
        }
        self.inner.launch(&k.kernel, &k.name, dims, &native)
    }

    fn sync(&mut self) -> Result<()> {
        self.inner.sync()
    }

    fn pin(&mut self, host: &[u8]) -> Result<()> {
        self.inner.pin(host)
    }

    fn unpin(&mut self, host: &[u8]) -> Result<()> {
        self.inner.unpin(host)
    }

    fn record(&mut self) -> Result<Event> {
        // A device that does not say it has timers is timed on the host, whatever its
        // primitives could do.
        if !self.inner.info().features.device_timers {
            return Err(Error::unsupported(self.inner.backend(), "device timers"));
        }
        let t = self.inner.record()?;
        Ok(Event::from_raw(self.id, self.events.insert(t)))
    }

    fn elapsed(&mut self, start: Event, end: Event) -> Result<Duration> {
        // Both are consumed, whichever is bad; a good one whose pair is bad goes back to
        // the backend, which may hold a slot or a native event for it.
        let a = self.events.remove(start.device(), start.id());
        let b = self.events.remove(end.device(), end.id());
        match (a, b) {
            (Ok(a), Ok(b)) => self.inner.elapsed(a, b),
            (Ok(t), Err(e)) | (Err(e), Ok(t)) => {
                self.inner.discard(t);
                Err(e)
            }
            (Err(e), Err(_)) => Err(e),
        }
    }

    fn stats(&self) -> DeviceStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Timestamps only, counting what the layer hands back.
    struct Timers {
        info: DeviceInfo,
        live: usize,
    }

    impl Primitives for Timers {
        type Memory = ();
        type Kernel = ();
        type Timestamp = ();
        fn backend(&self) -> &'static str {
            "timers"
        }
        fn info(&self) -> &DeviceInfo {
            &self.info
        }
        fn alloc(&mut self, _: u64) -> Result<()> {
            Ok(())
        }
        fn write(&mut self, _: &(), _: u64, _: &[u8]) -> Result<()> {
            Ok(())
        }
        fn read(&mut self, _: &(), _: u64, _: &mut [u8]) -> Result<()> {
            Ok(())
        }
        fn copy(&mut self, _: Copy<'_, ()>) -> Result<()> {
            Ok(())
        }
        fn build(&mut self, _: &KernelSource) -> Result<Built<()>> {
            Ok(Built::new(()))
        }
        fn launch(&mut self, _: &(), _: &str, _: Dims, _: &[NativeArg<'_, ()>]) -> Result<()> {
            Ok(())
        }
        fn sync(&mut self) -> Result<()> {
            Ok(())
        }
        fn record(&mut self) -> Result<()> {
            self.live += 1;
            Ok(())
        }
        fn elapsed(&mut self, _: (), _: ()) -> Result<Duration> {
            self.live -= 2;
            Ok(Duration::ZERO)
        }
        fn discard(&mut self, _: ()) {
            self.live -= 1;
        }
    }

    #[test]
    fn a_timestamp_whose_pair_is_bad_goes_back_to_the_backend() {
        let mut info = DeviceInfo::default();
        info.features.device_timers = true;
        let timers = || Timers {
            info: info.clone(),
            live: 0,
        };
        let (mut d, mut other) = (Layered::new(timers()), Layered::new(timers()));
        let (a, b) = (d.record().unwrap(), d.record().unwrap());
        d.elapsed(a, b).unwrap();
        let mine = d.record().unwrap();
        let foreign = other.record().unwrap();
        assert!(matches!(
            d.elapsed(mine, foreign),
            Err(Error::InvalidArgument { .. })
        ));
        assert_eq!(d.inner.live, 0, "every timestamp came back");
    }
}
