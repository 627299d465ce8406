//! The host side: a plugin's table turned into a `hal::Backend`.
//!
//! Loading checks, in order: the file loads, it exports `halbench_plugin_api`, the table
//! is not NULL, the major version matches and the minor is at least [`MIN_MINOR`], the
//! table is big enough for every required function, and each is non-NULL. Every failure
//! is `Unavailable` with a sentence that names the file and what is wrong.
//!
//! The host keeps its own slabs of handles, so another device's handle, a freed one or
//! a used event is refused here whatever the plugin would do with it, and a plugin that
//! hands out the same id twice is caught. Every error object is read once and destroyed
//! once, here and nowhere else.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{c_char, CStr};
use std::mem::size_of;
use std::path::Path;
use std::sync::Arc;

use halbench_hal::{Backend, DType, Device, DeviceInfo, Dialect, Error, Features, Result};

use crate::abi::*;

/// A loaded plugin: its library (kept loaded while anything of it lives) and its table.
#[derive(Debug)]
pub(crate) struct Plugin {
    pub(crate) name: &'static str,
    pub(crate) origin: String,
    pub(crate) attributes: BTreeMap<String, String>,
    pub(crate) api: HB_Api,
    _library: Option<libloading::Library>,
}

/// A plugin as a backend.
#[derive(Debug, Clone)]
pub struct PluginBackend {
    plugin: Arc<Plugin>,
}

fn cstr(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: the ABI promises NUL-terminated strings that live as long as their owner.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn named_values(p: *const HB_NamedValue, n: usize) -> BTreeMap<String, String> {
    if p.is_null() || n > 4096 {
        return BTreeMap::new();
    }
    // SAFETY: the plugin owns `n` entries at `p` (bounded above against garbage counts).
    let values = unsafe { std::slice::from_raw_parts(p, n) };
    values
        .iter()
        .filter(|v| !v.name.is_null())
        .map(|v| (cstr(v.name), cstr(v.value)))
        .collect()
}

/// Why a table cannot be used, if it cannot.
fn check_table(table: &HB_Api) -> std::result::Result<(), String> {
    if table.abi_major != ABI_MAJOR {
        return Err(format!(
            "it is built for plugin ABI {}.{}, this halbench speaks {ABI_MAJOR}.{ABI_MINOR} (the major versions must match)",
            table.abi_major, table.abi_minor
        ));
    }
    // MIN_MINOR is 0 today; the check stays for the day it is raised.
    #[allow(clippy::absurd_extreme_comparisons)]
    let too_old = table.abi_minor < MIN_MINOR;
    if too_old {
        return Err(format!(
            "it is built for plugin ABI {}.{}, older than {ABI_MAJOR}.{MIN_MINOR}, the oldest this halbench loads",
            table.abi_major, table.abi_minor
        ));
    }
    let required: [(&str, bool); 16] = [
        ("error_destroy", table.error_destroy.is_some()),
        ("error_get", table.error_get.is_some()),
        ("plugin_attributes", table.plugin_attributes.is_some()),
        ("device_count", table.device_count.is_some()),
        ("device_open", table.device_open.is_some()),
        ("device_close", table.device_close.is_some()),
        ("device_info", table.device_info.is_some()),
        ("device_stats", table.device_stats.is_some()),
        ("buffer_alloc", table.buffer_alloc.is_some()),
        ("buffer_free", table.buffer_free.is_some()),
        ("buffer_write", table.buffer_write.is_some()),
        ("buffer_read", table.buffer_read.is_some()),
        ("buffer_copy", table.buffer_copy.is_some()),
        ("kernel_compile", table.kernel_compile.is_some()),
        ("kernel_launch", table.kernel_launch.is_some()),
        ("device_sync", table.device_sync.is_some()),
    ];
    let missing: Vec<&str> = required.iter().filter(|r| !r.1).map(|r| r.0).collect();
    if !missing.is_empty() {
        return Err(format!(
            "it lacks required function(s) {} (ABI {}.{}, table of {} bytes)",
            missing.join(", "),
            table.abi_major,
            table.abi_minor,
            table.struct_size
        ));
    }
    Ok(())
}

impl PluginBackend {
    /// Loads a plugin library. Errors are `Unavailable`, naming the file and the reason.
    pub fn load(path: &Path) -> Result<Self> {
        let origin = path.display().to_string();
        let bad = |reason: String| Error::unavailable("plugin", format!("{origin}: {reason}"));
        // SAFETY: loading runs the library's initialisers; a plugin is trusted code the
        // user asked for, as any driver is.
        let library = unsafe { libloading::Library::new(path) }
            .map_err(|e| bad(format!("cannot be loaded: {e}")))?;
        // SAFETY: the symbol's type is the ABI's entry point.
        let entry = unsafe { library.get::<PluginApiFn>(SYMBOL) }.map_err(|_| {
            bad("is not a halbench plugin: it exports no `halbench_plugin_api`".into())
        })?;
        // SAFETY: calling the entry point as the header specifies.
        let table = unsafe { entry(ABI_MAJOR, ABI_MINOR) };
        // SAFETY: the table is the plugin's, alive while `library` is.
        unsafe { Self::from_table(table, origin.clone(), Some(library)) }.map_err(|e| match e {
            Error::Unavailable { reason, .. } => bad(reason),
            e => e,
        })
    }

    /// A plugin linked into this process (tests, static builds).
    ///
    /// # Safety
    /// `table` is NULL or points to an `HB_Api` of at least its `struct_size` bytes whose
    /// functions follow the header, for as long as the returned backend lives.
    pub unsafe fn from_table(
        table: *const HB_Api,
        origin: String,
        library: Option<libloading::Library>,
    ) -> Result<Self> {
        if table.is_null() {
            return Err(Error::unavailable(
                "plugin",
                "it returned no function table (it declined this host's ABI version)",
            ));
        }
        // Read the table only as far as the plugin says it goes; the rest stays NULL.
        // SAFETY: struct_size is the first field of every table.
        let size = unsafe { (*table).struct_size };
        if size < 16 {
            return Err(Error::unavailable(
                "plugin",
                format!("its table is {size} bytes, too small to be a table"),
            ));
        }
        // SAFETY: all-zero is a valid HB_Api (integers and None function pointers).
        let mut api: HB_Api = unsafe { std::mem::zeroed() };
        let n = size.min(size_of::<HB_Api>());
        // SAFETY: the plugin owns `size` bytes at `table`; we copy at most that many.
        unsafe {
            std::ptr::copy_nonoverlapping(table.cast::<u8>(), (&raw mut api).cast::<u8>(), n)
        };
        api.struct_size = size;
        check_table(&api).map_err(|reason| Error::unavailable("plugin", reason))?;
        let mut plugin = Plugin {
            name: "plugin",
            origin,
            attributes: BTreeMap::new(),
            api,
            _library: library,
        };
        let mut args = HB_Plugin_Attributes_Args::new();
        plugin.call(api.plugin_attributes, &mut args, "plugin_attributes")?;
        plugin.attributes = named_values(args.attributes, args.num_attributes);
        let name = plugin
            .attributes
            .get("name")
            .filter(|n| {
                !n.is_empty()
                    && n.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
            })
            .cloned()
            .unwrap_or_else(|| "plugin".into());
        // One name per plugin, for the life of the process (plugins are never unloaded).
        plugin.name = Box::leak(name.into_boxed_str());
        Ok(PluginBackend {
            plugin: Arc::new(plugin),
        })
    }

    /// The plugin's attributes (name, version, vendor, runtime_version, …).
    pub fn attributes(&self) -> &BTreeMap<String, String> {
        &self.plugin.attributes
    }

    pub fn origin(&self) -> &str {
        &self.plugin.origin
    }
}

impl Plugin {
    /// Calls a table function; a NULL one is `Unsupported`, an error object becomes an
    /// `Error` and is destroyed.
    pub(crate) fn call<A>(
        &self,
        f: Option<unsafe extern "C" fn(*mut A) -> *mut HB_Error>,
        args: &mut A,
        what: &str,
    ) -> Result<()> {
        let Some(f) = f else {
            return Err(Error::unsupported(
                self.name,
                format!("the plugin has no `{what}`"),
            ));
        };
        // SAFETY: the args struct is the one this function takes, struct_size set.
        let err = unsafe { f(args) };
        if err.is_null() {
            Ok(())
        } else {
            Err(self.take_error(err, what))
        }
    }

    fn take_error(&self, err: *mut HB_Error, what: &str) -> Error {
        let mut get = HB_Error_Get_Args::new();
        get.error = err;
        if let Some(error_get) = self.api.error_get {
            // SAFETY: err is a live error object of this plugin.
            unsafe { error_get(&mut get) };
        }
        let message = if get.message.is_null() || get.message_size > 1 << 20 {
            format!("`{what}` failed (the plugin gave no message)")
        } else {
            // SAFETY: the error owns message_size bytes at message until destroyed.
            let bytes =
                unsafe { std::slice::from_raw_parts(get.message.cast::<u8>(), get.message_size) };
            String::from_utf8_lossy(bytes).into_owned()
        };
        let mut destroy = HB_Error_Destroy_Args::new();
        destroy.error = err;
        if let Some(error_destroy) = self.api.error_destroy {
            // SAFETY: destroyed exactly once, after its message was copied.
            unsafe { error_destroy(&mut destroy) };
        }
        let backend = self.name.to_string();
        match get.code {
            ERROR_UNAVAILABLE => Error::Unavailable {
                backend,
                reason: message,
            },
            ERROR_UNSUPPORTED => Error::Unsupported {
                backend,
                what: message,
            },
            ERROR_INVALID_ARGUMENT => Error::InvalidArgument { backend, message },
            ERROR_OUT_OF_MEMORY => Error::OutOfMemory { backend, message },
            ERROR_DEVICE_LOST => Error::DeviceLost { backend, message },
            // Compile errors are completed with the kernel by the caller.
            code => Error::Backend {
                backend,
                code: i64::from(code),
                message,
            },
        }
    }
}

impl Backend for PluginBackend {
    fn name(&self) -> &str {
        self.plugin.name
    }

    fn devices(&self) -> Result<Vec<DeviceInfo>> {
        let p = &self.plugin;
        let mut args = HB_Device_Count_Args::new();
        p.call(p.api.device_count, &mut args, "device_count")?;
        if args.num_devices > 1024 {
            return Err(Error::unavailable(
                p.name,
                format!(
                    "the plugin reports {} devices; that is not a count",
                    args.num_devices
                ),
            ));
        }
        let mut infos = Vec::new();
        for index in 0..args.num_devices {
            let info = if p.api.device_describe.is_some() {
                // 1.4: described without opening anything.
                let mut info = HB_Device_Info_Args::new();
                let mut d = HB_Device_Describe_Args::new();
                d.index = index;
                d.info = &raw mut info;
                p.call(p.api.device_describe, &mut d, "device_describe")?;
                info_from(p, &info, index)
            } else {
                let device = crate::device::PluginDevice::open(self.plugin.clone(), index)?;
                device.info().clone()
            };
            infos.push(info);
        }
        Ok(infos)
    }

    fn open(&self, index: usize) -> Result<Box<dyn Device>> {
        Ok(Box::new(crate::device::PluginDevice::open(
            self.plugin.clone(),
            index,
        )?))
    }
}

/// Reads a device's info into the HAL's form, plugin attributes included.
pub(crate) fn device_info(p: &Plugin, device: *mut HB_Device, index: usize) -> Result<DeviceInfo> {
    let mut a = HB_Device_Info_Args::new();
    a.device = device;
    p.call(p.api.device_info, &mut a, "device_info")?;
    Ok(info_from(p, &a, index))
}

/// The vendor's figures (1.4's `device_peaks`); none from a plugin without it, or where
/// it fails: a missing figure is only a missing column.
fn vendor_peaks(p: &Plugin, index: usize, info: &mut DeviceInfo) {
    let mut a = HB_Device_Peaks_Args::new();
    a.index = index;
    if p.api.device_peaks.is_none() || p.call(p.api.device_peaks, &mut a, "device_peaks").is_err() {
        return;
    }
    let source = match cstr(a.source) {
        s if s.is_empty() => format!("plugin {}", p.name),
        s => format!("plugin {}: {s}", p.name),
    };
    let figure = |v: f64| {
        (v.is_finite() && v > 0.0).then(|| halbench_hal::Peak {
            value: v,
            source: source.clone(),
        })
    };
    info.peak_gbs = figure(a.memory_gbs);
    if !a.peaks.is_null() && a.num_peaks <= 64 {
        // SAFETY: the plugin owns `num_peaks` entries at `peaks` (bounded above).
        let peaks = unsafe { std::slice::from_raw_parts(a.peaks, a.num_peaks) };
        for peak in peaks {
            let dtype = DType::ALL
                .into_iter()
                .find(|&t| dtype_bit(t) == Some(peak.dtype));
            if let (Some(t), Some(f)) = (dtype, figure(peak.tflops)) {
                info.peak_tflops.insert(t, f);
            }
        }
    }
}

/// A filled `HB_Device_Info_Args` in the HAL's form, plugin attributes and vendor peaks
/// included.
fn info_from(p: &Plugin, a: &HB_Device_Info_Args, index: usize) -> DeviceInfo {
    let mut dialects = Vec::new();
    for (bit, d) in [
        (DIALECT_BUILTIN, Dialect::Builtin),
        (DIALECT_CUDA_C, Dialect::CudaC),
        (DIALECT_OPENCL_C, Dialect::OpenClC),
        (DIALECT_SPIRV, Dialect::SpirV),
    ] {
        if a.dialects & bit != 0 {
            dialects.push(d);
        }
    }
    let mut extras = named_values(a.extras, a.num_extras);
    for (k, v) in &p.attributes {
        extras.insert(format!("plugin.{k}"), v.clone());
    }
    extras.insert("plugin.path".into(), p.origin.clone());
    let has = |bit: u32| a.features & bit != 0;
    let mut info = DeviceInfo {
        backend: p.name.to_string(),
        index,
        name: cstr(a.name),
        vendor: cstr(a.vendor),
        driver_version: cstr(a.driver_version),
        device_type: halbench_hal::DeviceClass::from_name(&cstr(a.device_type)),
        memory_bytes: a.memory_bytes,
        compute_units: a.compute_units,
        max_threads_per_group: a.max_threads_per_group,
        last_level_cache_bytes: a.last_level_cache_bytes,
        subgroup_size: a.subgroup_size,
        dialects,
        max_group_size: a.max_group_size,
        max_groups: a.max_groups,
        features: Features {
            dtypes: dtypes(a.dtypes, a.features),
            device_timers: has(FEATURE_DEVICE_TIMERS)
                && p.api.event_record.is_some()
                && p.api.event_elapsed.is_some(),
            cooperative_matrix: has(FEATURE_COOPERATIVE_MATRIX),
            fp8_matrix: has(FEATURE_FP8_MATRIX),
            unified_memory: has(FEATURE_UNIFIED_MEMORY),
        },
        extras,
        ..DeviceInfo::default()
    };
    vendor_peaks(p, index, &mut info);
    info
}

/// The dtype set from a 1.2 plugin's `dtypes` bits, or from an older one's f16/bf16
/// feature bits (`dtypes` left zero), f32 always.
fn dtypes(bits: u64, features: u32) -> BTreeSet<DType> {
    if bits != 0 {
        return DType::ALL
            .into_iter()
            .filter(|&t| dtype_bit(t).is_some_and(|b| bits & b != 0))
            .collect();
    }
    Features::dtypes_with(
        [(FEATURE_F16, DType::F16), (FEATURE_BF16, DType::BF16)]
            .into_iter()
            .filter_map(|(bit, t)| (features & bit != 0).then_some(t)),
    )
}

pub(crate) fn dtype_bit(t: DType) -> Option<u64> {
    match t {
        DType::F32 => Some(DTYPE_F32),
        DType::F16 => Some(DTYPE_F16),
        DType::BF16 => Some(DTYPE_BF16),
        DType::F8E4M3 => Some(DTYPE_F8E4M3),
        DType::F8E5M2 => Some(DTYPE_F8E5M2),
        _ => None,
    }
}

pub(crate) fn dialect_bit(d: Dialect) -> Option<u32> {
    match d {
        Dialect::Builtin => Some(DIALECT_BUILTIN),
        Dialect::CudaC => Some(DIALECT_CUDA_C),
        Dialect::OpenClC => Some(DIALECT_OPENCL_C),
        Dialect::SpirV => Some(DIALECT_SPIRV),
        _ => None,
    }
}
