//! A plugin's device as the primitives behind `hal::layer::Layered`: each method fills one
//! args struct and makes one call. The layer checks every handle, range and launch before
//! the plugin sees it and caches compiled kernels, so every plugin gets the contract (and
//! the compile cache) without writing it.

use std::ffi::CString;
use std::sync::Arc;
use std::time::Duration;

use std::collections::HashSet;

use halbench_hal::layer::{Built, Copy, Layered, NativeArg, Primitives};
use halbench_hal::{DeviceInfo, Dims, Error, KernelSource, Result};

use crate::abi::*;
use crate::loader::{device_info, dialect_bit, Plugin};

#[derive(Debug)]
pub(crate) struct PluginDevice {
    plugin: Arc<Plugin>,
    raw: *mut HB_Device,
    info: DeviceInfo,
    /// The plugin's live buffer and event handles: one it hands out twice is its bug,
    /// refused before two of ours alias it.
    buffers: HashSet<u64>,
    events: HashSet<u64>,
}

// SAFETY: the header promises a device may be driven from any one thread at a time, which
// `&mut self` on every call guarantees.
unsafe impl Send for PluginDevice {}

fn cstring(backend: &str, s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::invalid(backend, format!("`{s}` contains a NUL byte")))
}

impl PluginDevice {
    pub(crate) fn open(plugin: Arc<Plugin>, index: usize) -> Result<Layered<Self>> {
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
        let info = match device_info(&plugin, a.device, index) {
            Ok(info) => info,
            Err(e) => {
                let mut close = HB_Device_Close_Args::new();
                close.device = a.device;
                let _ = plugin.call(plugin.api.device_close, &mut close, "device_close");
                return Err(e);
            }
        };
        Ok(Layered::new(PluginDevice {
            buffers: HashSet::new(),
            events: HashSet::new(),
            plugin,
            raw: a.device,
            info,
        }))
    }

    /// A handle the plugin just made must not be one it already has live.
    fn fresh(&self, what: &str, raw: u64, live: &HashSet<u64>) -> Result<()> {
        if live.contains(&raw) {
            return Err(Error::Backend {
                backend: self.plugin.name.into(),
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

impl Primitives for PluginDevice {
    type Memory = u64;
    type Kernel = u64;
    type Timestamp = u64;

    fn backend(&self) -> &'static str {
        self.plugin.name
    }

    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn alloc(&mut self, bytes: u64) -> Result<u64> {
        let mut a = HB_Buffer_Alloc_Args::new();
        a.device = self.raw;
        a.bytes = bytes;
        self.plugin
            .call(self.plugin.api.buffer_alloc, &mut a, "buffer_alloc")?;
        self.fresh("buffer", a.buffer, &self.buffers)?;
        self.buffers.insert(a.buffer);
        Ok(a.buffer)
    }

    fn release(&mut self, _id: u64, raw: u64) -> Result<()> {
        self.buffers.remove(&raw);
        let mut a = HB_Buffer_Free_Args::new();
        a.device = self.raw;
        a.buffer = raw;
        self.plugin
            .call(self.plugin.api.buffer_free, &mut a, "buffer_free")
    }

    fn write(&mut self, dst: &u64, offset: u64, data: &[u8]) -> Result<()> {
        let mut a = HB_Buffer_Transfer_Args::new();
        a.device = self.raw;
        a.buffer = *dst;
        a.offset = offset;
        a.host = data.as_ptr().cast_mut();
        a.bytes = data.len() as u64;
        self.plugin
            .call(self.plugin.api.buffer_write, &mut a, "buffer_write")
    }

    fn read(&mut self, src: &u64, offset: u64, out: &mut [u8]) -> Result<()> {
        let mut a = HB_Buffer_Transfer_Args::new();
        a.device = self.raw;
        a.buffer = *src;
        a.offset = offset;
        a.host = out.as_mut_ptr();
        a.bytes = out.len() as u64;
        self.plugin
            .call(self.plugin.api.buffer_read, &mut a, "buffer_read")
    }

    fn copy(&mut self, c: Copy<'_, u64>) -> Result<()> {
        let mut a = HB_Buffer_Copy_Args::new();
        a.device = self.raw;
        a.src = *c.src;
        a.dst = *c.dst;
        a.src_offset = c.src_offset;
        a.dst_offset = c.dst_offset;
        a.bytes = c.bytes;
        self.plugin
            .call(self.plugin.api.buffer_copy, &mut a, "buffer_copy")
    }

    fn build(&mut self, source: &KernelSource) -> Result<Built<u64>> {
        let name = self.backend();
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
            Ok(()) => Ok(Built::new(a.kernel)),
            Err(Error::Backend { code, message, .. }) if code == i64::from(ERROR_COMPILE) => {
                Err(Error::Compile {
                    backend: name.into(),
                    kernel: source.name.clone(),
                    dialect: source.dialect,
                    log: message,
                })
            }
            Err(e) => Err(e),
        }
    }

    fn launch(
        &mut self,
        kernel: &u64,
        _name: &str,
        dims: Dims,
        args: &[NativeArg<'_, u64>],
    ) -> Result<()> {
        // Limits the host knows were checked; the rest (argument lists) are the plugin's.
        let args: Vec<HB_Arg> = args
            .iter()
            .map(|arg| {
                let (kind, value) = match *arg {
                    NativeArg::Buffer(b) => (ARG_BUFFER, *b.memory),
                    NativeArg::U32(v) => (ARG_U32, u64::from(v)),
                    NativeArg::I32(v) => (ARG_I32, u64::from(v as u32)),
                    NativeArg::F32(v) => (ARG_F32, u64::from(v.to_bits())),
                };
                HB_Arg {
                    kind,
                    reserved: 0,
                    value,
                }
            })
            .collect();
        let mut a = HB_Kernel_Launch_Args::new();
        a.device = self.raw;
        a.kernel = *kernel;
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

    fn record(&mut self) -> Result<u64> {
        let mut a = HB_Event_Record_Args::new();
        a.device = self.raw;
        self.plugin
            .call(self.plugin.api.event_record, &mut a, "event_record")?;
        self.fresh("event", a.event, &self.events)?;
        self.events.insert(a.event);
        Ok(a.event)
    }

    fn discard(&mut self, event: u64) {
        // The ABI has no call to release an event but elapsed: forget it here, so the
        // plugin may hand the handle out again.
        self.events.remove(&event);
    }

    fn elapsed(&mut self, start: u64, end: u64) -> Result<Duration> {
        self.events.remove(&start);
        self.events.remove(&end);
        let mut a = HB_Event_Elapsed_Args::new();
        a.device = self.raw;
        a.start = start;
        a.end = end;
        self.plugin
            .call(self.plugin.api.event_elapsed, &mut a, "event_elapsed")?;
        Ok(Duration::from_nanos(a.nanoseconds))
    }
}
