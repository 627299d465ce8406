//! A plugin's device as a `hal::Device`: each method fills one args struct and makes one
//! call; handles go through the host's slabs on the way in and out.

use std::ffi::CString;
use std::sync::Arc;
use std::time::Duration;

use halbench_hal::{
    Arg, Buffer, Device, DeviceId, DeviceInfo, DeviceStats, Dims, Error, Event, Kernel,
    KernelSource, Result, Slab,
};

use crate::abi::*;
use crate::loader::{device_info, dialect_bit, Plugin};

#[derive(Debug)]
pub(crate) struct PluginDevice {
    plugin: Arc<Plugin>,
    raw: *mut HB_Device,
    id: DeviceId,
    info: DeviceInfo,
    /// The plugin's handles behind ours: another device's, a freed buffer or a used event
    /// is refused here, before the plugin sees it.
    buffers: Slab<u64>,
    kernels: Slab<u64>,
    events: Slab<u64>,
}

// SAFETY: the header promises a device may be driven from any one thread at a time, which
// `&mut self` on every call guarantees.
unsafe impl Send for PluginDevice {}

fn cstring(backend: &str, s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::invalid(backend, format!("`{s}` contains a NUL byte")))
}

impl PluginDevice {
    pub(crate) fn open(plugin: Arc<Plugin>, index: usize) -> Result<Self> {
        let mut a = HB_Device_Open_Args::new();
        a.index = index;
        plugin.call(plugin.api.device_open, &mut a, "device_open")?;
        if a.device.is_null() {
            return Err(Error::Backend {
                backend: plugin.name.into(),
                code: 0,
                message: format!("device_open({index}) succeeded but returned no device"),
            });
        }
        let id = DeviceId::fresh();
        let info = match device_info(&plugin, a.device, index) {
            Ok(info) => info,
            Err(e) => {
                let mut close = HB_Device_Close_Args::new();
                close.device = a.device;
                let _ = plugin.call(plugin.api.device_close, &mut close, "device_close");
                return Err(e);
            }
        };
        Ok(PluginDevice {
            buffers: Slab::new(plugin.name, "buffer", id),
            kernels: Slab::new(plugin.name, "kernel", id),
            events: Slab::new(plugin.name, "event", id),
            plugin,
            raw: a.device,
            id,
            info,
        })
    }

    fn name(&self) -> &'static str {
        self.plugin.name
    }

    fn buffer(&self, b: &Buffer) -> Result<u64> {
        self.buffers.get(b.device(), b.id()).copied()
    }

    /// A handle the plugin just made must not be one it already has live.
    fn fresh(&self, what: &str, raw: u64, live: impl Iterator<Item = u64>) -> Result<()> {
        let mut live = live;
        if live.any(|x| x == raw) {
            return Err(Error::Backend {
                backend: self.name().into(),
                code: 0,
                message: format!("the plugin returned {what} handle {raw}, which is already live"),
            });
        }
        Ok(())
    }
}

impl Drop for PluginDevice {
    fn drop(&mut self) {
        let mut a = HB_Device_Close_Args::new();
        a.device = self.raw;
        let _ = self
            .plugin
            .call(self.plugin.api.device_close, &mut a, "device_close");
    }
}

impl Device for PluginDevice {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn alloc(&mut self, bytes: u64) -> Result<Buffer> {
        let mut a = HB_Buffer_Alloc_Args::new();
        a.device = self.raw;
        a.bytes = bytes;
        self.plugin
            .call(self.plugin.api.buffer_alloc, &mut a, "buffer_alloc")?;
        self.fresh("buffer", a.buffer, self.buffers.iter().map(|(_, &b)| b))?;
        Ok(Buffer::from_raw(self.id, self.buffers.insert(a.buffer)))
    }

    fn free(&mut self, buffer: Buffer) -> Result<()> {
        let raw = self.buffers.remove(buffer.device(), buffer.id())?;
        let mut a = HB_Buffer_Free_Args::new();
        a.device = self.raw;
        a.buffer = raw;
        self.plugin
            .call(self.plugin.api.buffer_free, &mut a, "buffer_free")
    }

    fn write(&mut self, dst: &Buffer, offset: u64, data: &[u8]) -> Result<()> {
        let mut a = HB_Buffer_Transfer_Args::new();
        a.device = self.raw;
        a.buffer = self.buffer(dst)?;
        a.offset = offset;
        a.host = data.as_ptr().cast_mut();
        a.bytes = data.len() as u64;
        self.plugin
            .call(self.plugin.api.buffer_write, &mut a, "buffer_write")
    }

    fn read(&mut self, src: &Buffer, offset: u64, out: &mut [u8]) -> Result<()> {
        let mut a = HB_Buffer_Transfer_Args::new();
        a.device = self.raw;
        a.buffer = self.buffer(src)?;
        a.offset = offset;
        a.host = out.as_mut_ptr();
        a.bytes = out.len() as u64;
        self.plugin
            .call(self.plugin.api.buffer_read, &mut a, "buffer_read")
    }

    fn copy(
        &mut self,
        src: &Buffer,
        src_offset: u64,
        dst: &Buffer,
        dst_offset: u64,
        bytes: u64,
    ) -> Result<()> {
        let mut a = HB_Buffer_Copy_Args::new();
        a.device = self.raw;
        a.src = self.buffer(src)?;
        a.dst = self.buffer(dst)?;
        a.src_offset = src_offset;
        a.dst_offset = dst_offset;
        a.bytes = bytes;
        self.plugin
            .call(self.plugin.api.buffer_copy, &mut a, "buffer_copy")
    }

    fn compile(&mut self, source: &KernelSource) -> Result<Kernel> {
        let name = self.name();
        let Some(dialect) = dialect_bit(source.dialect) else {
            return Err(Error::unsupported(
                name,
                format!("dialect {}", source.dialect),
            ));
        };
        let kernel_name = cstring(name, &source.name)?;
        let entry = cstring(name, &source.entry)?;
        let defines: Vec<(CString, CString)> = source
            .defines
            .iter()
            .map(|(k, v)| Ok((cstring(name, k)?, cstring(name, v)?)))
            .collect::<Result<_>>()?;
        let named: Vec<HB_NamedValue> = defines
            .iter()
            .map(|(k, v)| {
                let mut n = HB_NamedValue::new();
                n.name = k.as_ptr();
                n.value = v.as_ptr();
                n
            })
            .collect();
        let mut a = HB_Kernel_Compile_Args::new();
        a.device = self.raw;
        a.name = kernel_name.as_ptr();
        a.dialect = dialect;
        a.code = source.code.as_ptr();
        a.code_size = source.code.len();
        a.entry = entry.as_ptr();
        a.defines = named.as_ptr();
        a.num_defines = named.len();
        match self
            .plugin
            .call(self.plugin.api.kernel_compile, &mut a, "kernel_compile")
        {
            Ok(()) => {}
            Err(Error::Backend { code, message, .. }) if code == i64::from(ERROR_COMPILE) => {
                return Err(Error::Compile {
                    backend: name.into(),
                    kernel: source.name.clone(),
                    dialect: source.dialect,
                    log: message,
                })
            }
            Err(e) => return Err(e),
        }
        let id = self.kernels.insert(a.kernel);
        Ok(Kernel::from_raw(self.id, id))
    }

    fn launch(&mut self, kernel: &Kernel, dims: Dims, args: &[Arg<'_>]) -> Result<()> {
        // Limits (group sizes, argument lists) are the plugin's to check: only it knows them.
        let raw = *self.kernels.get(kernel.device(), kernel.id())?;
        let args: Vec<HB_Arg> = args
            .iter()
            .map(|arg| {
                let (kind, value) = match *arg {
                    Arg::Buffer(b) => (ARG_BUFFER, self.buffer(b)?),
                    Arg::U32(v) => (ARG_U32, u64::from(v)),
                    Arg::I32(v) => (ARG_I32, u64::from(v as u32)),
                    Arg::F32(v) => (ARG_F32, u64::from(v.to_bits())),
                };
                Ok(HB_Arg {
                    kind,
                    reserved: 0,
                    value,
                })
            })
            .collect::<Result<_>>()?;
        let mut a = HB_Kernel_Launch_Args::new();
        a.device = self.raw;
        a.kernel = raw;
        a.groups = dims.groups;
        a.threads = dims.threads;
        a.args = args.as_ptr();
        a.num_args = args.len();
        self.plugin
            .call(self.plugin.api.kernel_launch, &mut a, "kernel_launch")
    }

    fn sync(&mut self) -> Result<()> {
        let mut a = HB_Device_Sync_Args::new();
        a.device = self.raw;
        self.plugin
            .call(self.plugin.api.device_sync, &mut a, "device_sync")
    }

    fn pin(&mut self, host: &[u8]) -> Result<()> {
        let Some(f) = self.plugin.api.host_pin else {
            return Ok(());
        };
        let mut a = HB_Host_Pin_Args::new();
        a.device = self.raw;
        a.host = host.as_ptr();
        a.bytes = host.len() as u64;
        self.plugin.call(Some(f), &mut a, "host_pin")
    }

    fn unpin(&mut self, host: &[u8]) -> Result<()> {
        let Some(f) = self.plugin.api.host_unpin else {
            return Ok(());
        };
        let mut a = HB_Host_Pin_Args::new();
        a.device = self.raw;
        a.host = host.as_ptr();
        a.bytes = host.len() as u64;
        self.plugin.call(Some(f), &mut a, "host_unpin")
    }

    fn record(&mut self) -> Result<Event> {
        if !self.info.features.device_timers {
            return Err(Error::unsupported(self.name(), "device timers"));
        }
        let mut a = HB_Event_Record_Args::new();
        a.device = self.raw;
        self.plugin
            .call(self.plugin.api.event_record, &mut a, "event_record")?;
        self.fresh("event", a.event, self.events.iter().map(|(_, &e)| e))?;
        Ok(Event::from_raw(self.id, self.events.insert(a.event)))
    }

    fn elapsed(&mut self, start: Event, end: Event) -> Result<Duration> {
        if !self.info.features.device_timers {
            return Err(Error::unsupported(self.name(), "device timers"));
        }
        let s = self.events.remove(start.device(), start.id());
        let e = self.events.remove(end.device(), end.id());
        let mut a = HB_Event_Elapsed_Args::new();
        a.device = self.raw;
        a.start = s?;
        a.end = e?;
        self.plugin
            .call(self.plugin.api.event_elapsed, &mut a, "event_elapsed")?;
        Ok(Duration::from_nanos(a.nanoseconds))
    }

    fn stats(&self) -> DeviceStats {
        let mut a = HB_Device_Stats_Args::new();
        a.device = self.raw;
        match self
            .plugin
            .call(self.plugin.api.device_stats, &mut a, "device_stats")
        {
            Ok(()) => DeviceStats {
                compiles: a.compiles,
                compile_cache_hits: a.compile_cache_hits,
                live_buffers: a.live_buffers,
                live_bytes: a.live_bytes,
            },
            Err(_) => DeviceStats::default(),
        }
    }
}
