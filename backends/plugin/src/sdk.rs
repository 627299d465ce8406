//! The plugin side: [`export_plugin!`](crate::export_plugin) turns any `impl Backend`
//! into the C table, so a vendor writes a normal Rust backend and ships it as a `cdylib`.
//!
//! Every entry point catches panics (they become `HB_ERROR_BACKEND` errors), checks its
//! args struct's size, and checks the device pointer against the devices it opened, so
//! a confused host gets errors rather than undefined behaviour. Handles are the inner
//! device's own ids, mapped back to its `Buffer`/`Kernel`/`Event` values.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, OnceLock};

use halbench_hal::{
    Arg, Backend, Buffer, DType, Device, DeviceInfo, Dialect, Dims, Error, Event, Kernel,
    KernelSource, Result,
};

use crate::abi::*;

/// What `export_plugin!` installs: the backend and its attributes.
pub struct Exported {
    backend: Box<dyn Backend>,
    /// Owns the strings `named` points into.
    _attributes: Vec<(CString, CString)>,
    named: Vec<HB_NamedValue>,
}

impl std::fmt::Debug for Exported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exported")
            .field("backend", &self.backend.name())
            .finish()
    }
}

// SAFETY: the raw pointers in `named` point into `_attributes`, owned alongside and never
// changed after construction.
unsafe impl Send for Exported {}
// SAFETY: as above; the backend is Sync by the trait's bound.
unsafe impl Sync for Exported {}

static EXPORTED: OnceLock<Option<Exported>> = OnceLock::new();
static DEVICES: Mutex<Option<HashSet<usize>>> = Mutex::new(None);
static LIVE_ERRORS: AtomicI64 = AtomicI64::new(0);

/// Error objects made and not yet destroyed (for the ABI tests).
pub fn live_errors() -> i64 {
    LIVE_ERRORS.load(Ordering::SeqCst)
}

fn c(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

fn named(pairs: &[(CString, CString)]) -> Vec<HB_NamedValue> {
    pairs
        .iter()
        .map(|(k, v)| {
            let mut n = HB_NamedValue::new();
            n.name = k.as_ptr();
            n.value = v.as_ptr();
            n
        })
        .collect()
}

/// Installs the backend once and returns the table. Called by `export_plugin!`'s entry.
pub fn entry(make: impl FnOnce() -> (Box<dyn Backend>, Vec<(String, String)>)) -> *const HB_Api {
    let exported = EXPORTED.get_or_init(|| {
        catch_unwind(AssertUnwindSafe(make))
            .ok()
            .map(|(backend, attrs)| {
                let attributes: Vec<(CString, CString)> =
                    attrs.iter().map(|(k, v)| (c(k), c(v))).collect();
                let named = named(&attributes);
                Exported {
                    backend,
                    _attributes: attributes,
                    named,
                }
            })
    });
    match exported {
        Some(_) => &API,
        None => std::ptr::null(),
    }
}

fn exported() -> Result<&'static Exported> {
    EXPORTED
        .get()
        .and_then(Option::as_ref)
        .ok_or_else(|| Error::unavailable("plugin", "the plugin was not initialised"))
}

struct SdkError {
    code: i32,
    message: String,
}

fn make_error(e: Error) -> *mut HB_Error {
    let (code, message) = match e {
        Error::Unavailable { reason, .. } => (ERROR_UNAVAILABLE, reason),
        Error::Unsupported { what, .. } => (ERROR_UNSUPPORTED, what),
        Error::InvalidArgument { message, .. } => (ERROR_INVALID_ARGUMENT, message),
        Error::OutOfMemory { message, .. } => (ERROR_OUT_OF_MEMORY, message),
        Error::Compile { log, .. } => (ERROR_COMPILE, log),
        Error::DeviceLost { message, .. } => (ERROR_DEVICE_LOST, message),
        other => (ERROR_BACKEND, other.to_string()),
    };
    LIVE_ERRORS.fetch_add(1, Ordering::SeqCst);
    Box::into_raw(Box::new(SdkError { code, message })).cast()
}

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid("plugin", message)
}

/// Runs an entry point on an args struct that has not grown since 1.0.
fn guard<A: Args>(args: *mut A, what: &str, f: impl FnOnce(&mut A) -> Result<()>) -> *mut HB_Error {
    guard_from(args, size_of::<A>(), what, f)
}

/// Runs an entry point: checks the args struct, catches panics, makes the error object.
///
/// `oldest` is the struct's size in the first ABI version that had it. A host of any
/// version from then on passes a prefix of today's struct: the entry point works on a
/// zeroed full-size copy holding that prefix, and only the prefix is written back, so an
/// older host gets its fields and nothing past its struct is touched.
fn guard_from<A: Args>(
    args: *mut A,
    oldest: usize,
    what: &str,
    f: impl FnOnce(&mut A) -> Result<()>,
) -> *mut HB_Error {
    let result = catch_unwind(AssertUnwindSafe(|| with_prefix(args, oldest, what, f)));
    match result {
        Ok(Ok(())) => std::ptr::null_mut(),
        Ok(Err(e)) => make_error(e),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            make_error(Error::Backend {
                backend: "plugin".into(),
                code: 0,
                message: format!("{what} panicked: {message}"),
            })
        }
    }
}

/// Runs `f` on a zeroed full-size copy of the caller's struct holding the prefix its
/// `struct_size` covers, then writes back only that prefix: the one place an args struct
/// from a host of any version since `oldest` (its first version's size) is read.
fn with_prefix<A: Args, T>(
    args: *mut A,
    oldest: usize,
    what: &str,
    f: impl FnOnce(&mut A) -> Result<T>,
) -> Result<T> {
    if args.is_null() {
        return Err(invalid(format!("{what}: NULL args")));
    }
    // SAFETY: every args struct starts with struct_size; the host owns the struct.
    let size = unsafe { *args.cast::<usize>() };
    if size < oldest {
        return Err(invalid(format!(
            "{what}: args struct of {size} bytes, this plugin needs at least {oldest}"
        )));
    }
    let known = size.min(size_of::<A>());
    let mut local = A::new();
    // SAFETY: the host's struct has at least `known` bytes (its struct_size), `local`
    // has size_of::<A>() >= known, and every field is an integer, a float or a raw
    // pointer, so any prefix of bytes is a valid value.
    unsafe {
        std::ptr::copy_nonoverlapping(args.cast::<u8>(), (&raw mut local).cast::<u8>(), known)
    };
    let out = f(&mut local)?;
    // SAFETY: as above, back the other way; struct_size is written back unchanged.
    unsafe { std::ptr::copy_nonoverlapping((&raw const local).cast::<u8>(), args.cast(), known) };
    Ok(out)
}

/// An opened device and the handles it gave out.
struct SdkDevice {
    device: Box<dyn Device>,
    strings: [CString; 4],
    _extras: Vec<(CString, CString)>,
    extras: Vec<HB_NamedValue>,
    buffers: HashMap<u64, Buffer>,
    kernels: HashMap<u64, Kernel>,
    events: HashMap<u64, Event>,
}

fn device<'a>(raw: *mut HB_Device) -> Result<&'a mut SdkDevice> {
    let known = DEVICES
        .lock()
        .map(|d| d.as_ref().is_some_and(|d| d.contains(&(raw as usize))))
        .unwrap_or(false);
    if !known {
        return Err(invalid(format!(
            "{raw:?} is not a device this plugin opened"
        )));
    }
    // SAFETY: raw came from Box::into_raw in device_open and is not yet closed; the host
    // never drives one device from two threads at once.
    Ok(unsafe { &mut *raw.cast::<SdkDevice>() })
}

fn lookup<'a, T>(map: &'a HashMap<u64, T>, id: u64, what: &str) -> Result<&'a T> {
    map.get(&id)
        .ok_or_else(|| invalid(format!("{what} {id} is not live on this device")))
}

fn text(p: *const c_char) -> Result<String> {
    if p.is_null() {
        return Err(invalid("NULL string"));
    }
    // SAFETY: the header requires NUL-terminated strings, borrowed for the call.
    Ok(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// A slice from a host pointer; empty for zero length (the pointer may then be NULL).
///
/// # Safety
/// `p` points to `n` readable bytes when `n > 0`.
unsafe fn bytes<'a>(p: *const u8, n: u64) -> Result<&'a [u8]> {
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(invalid("NULL host pointer"));
    }
    // SAFETY: as promised by the caller.
    Ok(unsafe { std::slice::from_raw_parts(p, n as usize) })
}

unsafe extern "C" fn error_destroy(args: *mut HB_Error_Destroy_Args) {
    if args.is_null() {
        return;
    }
    // SAFETY: the host passes an error this plugin made, exactly once.
    let err = unsafe { (*args).error };
    if !err.is_null() {
        LIVE_ERRORS.fetch_sub(1, Ordering::SeqCst);
        // SAFETY: made by Box::into_raw in make_error.
        drop(unsafe { Box::from_raw(err.cast::<SdkError>()) });
    }
}

unsafe extern "C" fn error_get(args: *mut HB_Error_Get_Args) {
    if args.is_null() {
        return;
    }
    // SAFETY: the host owns args; error is a live error of this plugin.
    let a = unsafe { &mut *args };
    if a.error.is_null() {
        return;
    }
    // SAFETY: as above.
    let e = unsafe { &*a.error.cast::<SdkError>() };
    a.code = e.code;
    a.message = e.message.as_ptr().cast();
    a.message_size = e.message.len();
}

unsafe extern "C" fn plugin_attributes(args: *mut HB_Plugin_Attributes_Args) -> *mut HB_Error {
    guard(args, "plugin_attributes", |a| {
        let e = exported()?;
        a.attributes = e.named.as_ptr();
        a.num_attributes = e.named.len();
        Ok(())
    })
}

unsafe extern "C" fn device_count(args: *mut HB_Device_Count_Args) -> *mut HB_Error {
    guard(args, "device_count", |a| {
        a.num_devices = exported()?.backend.devices()?.len();
        Ok(())
    })
}

unsafe extern "C" fn device_open(args: *mut HB_Device_Open_Args) -> *mut HB_Error {
    guard(args, "device_open", |a| {
        let device = exported()?.backend.open(a.index)?;
        let info = device.info().clone();
        let extras: Vec<(CString, CString)> =
            info.extras.iter().map(|(k, v)| (c(k), c(v))).collect();
        let sdk = Box::new(SdkDevice {
            device,
            strings: [
                c(&info.name),
                c(&info.vendor),
                c(&info.driver_version),
                c(info.device_type.name()),
            ],
            extras: named(&extras),
            _extras: extras,
            buffers: HashMap::new(),
            kernels: HashMap::new(),
            events: HashMap::new(),
        });
        let raw = Box::into_raw(sdk);
        if let Ok(mut d) = DEVICES.lock() {
            d.get_or_insert_with(HashSet::new).insert(raw as usize);
        }
        a.device = raw.cast();
        Ok(())
    })
}

unsafe extern "C" fn device_close(args: *mut HB_Device_Close_Args) -> *mut HB_Error {
    guard(args, "device_close", |a| {
        device(a.device)?;
        if let Ok(mut d) = DEVICES.lock() {
            d.get_or_insert_with(HashSet::new)
                .remove(&(a.device as usize));
        }
        // SAFETY: known live (checked above), now forgotten by the registry.
        drop(unsafe { Box::from_raw(a.device.cast::<SdkDevice>()) });
        Ok(())
    })
}

unsafe extern "C" fn device_info(args: *mut HB_Device_Info_Args) -> *mut HB_Error {
    guard_from(args, DEVICE_INFO_ARGS_SIZE_1_0, "device_info", |a| {
        let d = device(a.device)?;
        fill_info(a, d.device.info(), &d.strings, &d.extras);
        Ok(())
    })
}

/// Strings of a device described without opening it; they live as long as the library
/// (the ABI's promise), so each description is kept.
struct Described {
    strings: [CString; 4],
    _extras: Vec<(CString, CString)>,
    extras: Vec<HB_NamedValue>,
    peaks: Vec<HB_Peak>,
    source: CString,
}

// SAFETY: the raw pointers in `extras` point into `_extras`, owned alongside.
unsafe impl Send for Described {}

// Boxed: a description is read through a pointer after the lock is let go, so it must not
// move when the Vec grows.
#[allow(clippy::vec_box)]
static DESCRIBED: Mutex<Vec<Box<Described>>> = Mutex::new(Vec::new());

/// The backend's device `index` (listed, not opened), kept for the library's lifetime.
fn describe(index: usize) -> Result<(DeviceInfo, *const Described)> {
    let info = exported()?
        .backend
        .devices()?
        .into_iter()
        .nth(index)
        .ok_or_else(|| invalid(format!("no device {index}")))?;
    let extras: Vec<(CString, CString)> = info.extras.iter().map(|(k, v)| (c(k), c(v))).collect();
    let peaks = info
        .peak_tflops
        .iter()
        .filter_map(|(&t, p)| {
            crate::loader::dtype_bit(t).map(|dtype| HB_Peak {
                dtype,
                tflops: p.value,
            })
        })
        .collect();
    let sources: Vec<&str> = info
        .peak_gbs
        .iter()
        .chain(info.peak_tflops.values())
        .map(|p| p.source.as_str())
        .collect();
    let described = Box::new(Described {
        strings: [
            c(&info.name),
            c(&info.vendor),
            c(&info.driver_version),
            c(info.device_type.name()),
        ],
        extras: named(&extras),
        _extras: extras,
        peaks,
        source: c(sources.first().copied().unwrap_or_default()),
    });
    let raw: *const Described = &*described;
    DESCRIBED
        .lock()
        .map_err(|_| invalid("device_describe: poisoned"))?
        .push(described);
    Ok((info, raw))
}

unsafe extern "C" fn device_describe(args: *mut HB_Device_Describe_Args) -> *mut HB_Error {
    guard(args, "device_describe", |a| {
        let (info, d) = describe(a.index)?;
        // SAFETY: kept in DESCRIBED until the library is unloaded.
        let d = unsafe { &*d };
        with_prefix(
            a.info,
            DEVICE_INFO_ARGS_SIZE_1_0,
            "device_describe.info",
            |out| {
                fill_info(out, &info, &d.strings, &d.extras);
                Ok(())
            },
        )
    })
}

unsafe extern "C" fn device_peaks(args: *mut HB_Device_Peaks_Args) -> *mut HB_Error {
    guard(args, "device_peaks", |a| {
        let (info, d) = describe(a.index)?;
        // SAFETY: kept in DESCRIBED until the library is unloaded.
        let d = unsafe { &*d };
        a.memory_gbs = info.peak_gbs.as_ref().map_or(0.0, |p| p.value);
        a.peaks = d.peaks.as_ptr();
        a.num_peaks = d.peaks.len();
        a.source = d.source.as_ptr();
        Ok(())
    })
}

/// `device_info`'s and `device_describe`'s answer, from the HAL's form.
fn fill_info(
    a: &mut HB_Device_Info_Args,
    info: &DeviceInfo,
    strings: &[CString; 4],
    extras: &[HB_NamedValue],
) {
    [a.name, a.vendor, a.driver_version, a.device_type] = [0, 1, 2, 3].map(|i| strings[i].as_ptr());
    a.memory_bytes = info.memory_bytes;
    a.last_level_cache_bytes = info.last_level_cache_bytes;
    a.compute_units = info.compute_units;
    a.max_threads_per_group = info.max_threads_per_group;
    a.subgroup_size = info.subgroup_size;
    a.dialects = info
        .dialects
        .iter()
        .filter_map(|&d| crate::loader::dialect_bit(d))
        .fold(0, |acc, b| acc | b);
    let f = &info.features;
    a.dtypes = f
        .dtypes
        .iter()
        .filter_map(|&t| crate::loader::dtype_bit(t))
        .fold(0, |acc, b| acc | b);
    a.max_group_size = info.max_group_size;
    a.max_groups = info.max_groups;
    a.features = [
        (info.supports(DType::F16), FEATURE_F16),
        (info.supports(DType::BF16), FEATURE_BF16),
        (f.device_timers, FEATURE_DEVICE_TIMERS),
        (f.cooperative_matrix, FEATURE_COOPERATIVE_MATRIX),
        (f.unified_memory, FEATURE_UNIFIED_MEMORY),
        (f.fp8_matrix, FEATURE_FP8_MATRIX),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .fold(0, |acc, (_, b)| acc | b);
    a.extras = extras.as_ptr();
    a.num_extras = extras.len();
}

unsafe extern "C" fn device_stats(args: *mut HB_Device_Stats_Args) -> *mut HB_Error {
    guard(args, "device_stats", |a| {
        let s = device(a.device)?.device.stats();
        a.compiles = s.compiles;
        a.compile_cache_hits = s.compile_cache_hits;
        a.live_buffers = s.live_buffers;
        a.live_bytes = s.live_bytes;
        Ok(())
    })
}

unsafe extern "C" fn buffer_alloc(args: *mut HB_Buffer_Alloc_Args) -> *mut HB_Error {
    guard(args, "buffer_alloc", |a| {
        let d = device(a.device)?;
        let b = d.device.alloc(a.bytes)?;
        a.buffer = b.id();
        d.buffers.insert(b.id(), b);
        Ok(())
    })
}

unsafe extern "C" fn buffer_free(args: *mut HB_Buffer_Free_Args) -> *mut HB_Error {
    guard(args, "buffer_free", |a| {
        let d = device(a.device)?;
        let b = d
            .buffers
            .remove(&a.buffer)
            .ok_or_else(|| invalid(format!("buffer {} is not live on this device", a.buffer)))?;
        d.device.free(b)
    })
}

unsafe extern "C" fn buffer_write(args: *mut HB_Buffer_Transfer_Args) -> *mut HB_Error {
    guard(args, "buffer_write", |a| {
        let d = device(a.device)?;
        let b = lookup(&d.buffers, a.buffer, "buffer")?;
        // SAFETY: the host lends `bytes` bytes at `host` for the call.
        let data = unsafe { bytes(a.host, a.bytes) }?;
        d.device.write(b, a.offset, data)
    })
}

unsafe extern "C" fn buffer_read(args: *mut HB_Buffer_Transfer_Args) -> *mut HB_Error {
    guard(args, "buffer_read", |a| {
        let d = device(a.device)?;
        let b = lookup(&d.buffers, a.buffer, "buffer")?;
        if a.bytes > 0 && a.host.is_null() {
            return Err(invalid("NULL host pointer"));
        }
        let out: &mut [u8] = if a.bytes == 0 {
            &mut []
        } else {
            // SAFETY: the host lends `bytes` writable bytes at `host` for the call.
            unsafe { std::slice::from_raw_parts_mut(a.host, a.bytes as usize) }
        };
        d.device.read(b, a.offset, out)
    })
}

unsafe extern "C" fn buffer_copy(args: *mut HB_Buffer_Copy_Args) -> *mut HB_Error {
    guard(args, "buffer_copy", |a| {
        let d = device(a.device)?;
        let src = lookup(&d.buffers, a.src, "buffer")?;
        let dst = lookup(&d.buffers, a.dst, "buffer")?;
        d.device.copy(src, a.src_offset, dst, a.dst_offset, a.bytes)
    })
}

fn dialect(bit: u32) -> Result<Dialect> {
    Ok(match bit {
        DIALECT_BUILTIN => Dialect::Builtin,
        DIALECT_CUDA_C => Dialect::CudaC,
        DIALECT_OPENCL_C => Dialect::OpenClC,
        DIALECT_SPIRV => Dialect::SpirV,
        other => return Err(invalid(format!("unknown dialect bits {other:#x}"))),
    })
}

unsafe extern "C" fn kernel_compile(args: *mut HB_Kernel_Compile_Args) -> *mut HB_Error {
    guard(args, "kernel_compile", |a| {
        let d = device(a.device)?;
        let mut defines = Vec::new();
        if a.num_defines > 0 {
            if a.defines.is_null() || a.num_defines > 4096 {
                return Err(invalid("bad defines array"));
            }
            // SAFETY: the host lends num_defines entries for the call.
            for n in unsafe { std::slice::from_raw_parts(a.defines, a.num_defines) } {
                defines.push((text(n.name)?, text(n.value)?));
            }
        }
        let source = KernelSource {
            name: text(a.name)?,
            dialect: dialect(a.dialect)?,
            // SAFETY: the host lends code_size bytes at code for the call.
            code: Cow::Owned(unsafe { bytes(a.code, a.code_size as u64) }?.to_vec()),
            entry: text(a.entry)?,
            defines,
        };
        let k = d.device.compile(&source)?;
        a.kernel = k.id();
        d.kernels.insert(k.id(), k);
        Ok(())
    })
}

unsafe extern "C" fn kernel_launch(args: *mut HB_Kernel_Launch_Args) -> *mut HB_Error {
    guard(args, "kernel_launch", |a| {
        let d = device(a.device)?;
        let k = lookup(&d.kernels, a.kernel, "kernel")?;
        if a.num_args > 0 && (a.args.is_null() || a.num_args > 4096) {
            return Err(invalid("bad args array"));
        }
        let raw: &[HB_Arg] = if a.num_args == 0 {
            &[]
        } else {
            // SAFETY: the host lends num_args entries for the call.
            unsafe { std::slice::from_raw_parts(a.args, a.num_args) }
        };
        let args = raw
            .iter()
            .map(|x| {
                Ok(match x.kind {
                    ARG_BUFFER => Arg::Buffer(lookup(&d.buffers, x.value, "buffer")?),
                    ARG_U32 => Arg::U32(x.value as u32),
                    ARG_I32 => Arg::I32(x.value as u32 as i32),
                    ARG_F32 => Arg::F32(f32::from_bits(x.value as u32)),
                    other => return Err(invalid(format!("unknown argument kind {other}"))),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let dims = Dims {
            groups: a.groups,
            threads: a.threads,
        };
        d.device.launch(k, dims, &args)
    })
}

unsafe extern "C" fn device_sync(args: *mut HB_Device_Sync_Args) -> *mut HB_Error {
    guard(args, "device_sync", |a| device(a.device)?.device.sync())
}

unsafe extern "C" fn event_record(args: *mut HB_Event_Record_Args) -> *mut HB_Error {
    guard(args, "event_record", |a| {
        let d = device(a.device)?;
        let e = d.device.record()?;
        a.event = e.id();
        d.events.insert(e.id(), e);
        Ok(())
    })
}

unsafe extern "C" fn event_elapsed(args: *mut HB_Event_Elapsed_Args) -> *mut HB_Error {
    guard(args, "event_elapsed", |a| {
        let d = device(a.device)?;
        let (s, e) = (d.events.remove(&a.start), d.events.remove(&a.end));
        let (Some(s), Some(e)) = (s, e) else {
            return Err(invalid("event is not live on this device"));
        };
        a.nanoseconds = d.device.elapsed(s, e)?.as_nanos() as u64;
        Ok(())
    })
}

unsafe extern "C" fn host_pin(args: *mut HB_Host_Pin_Args) -> *mut HB_Error {
    guard(args, "host_pin", |a| {
        // SAFETY: the host lends the range for the call.
        let host = unsafe { bytes(a.host, a.bytes) }?;
        device(a.device)?.device.pin(host)
    })
}

unsafe extern "C" fn host_unpin(args: *mut HB_Host_Pin_Args) -> *mut HB_Error {
    guard(args, "host_unpin", |a| {
        // SAFETY: as above.
        let host = unsafe { bytes(a.host, a.bytes) }?;
        device(a.device)?.device.unpin(host)
    })
}

static API: HB_Api = HB_Api {
    struct_size: size_of::<HB_Api>(),
    abi_major: ABI_MAJOR,
    abi_minor: ABI_MINOR,
    error_destroy: Some(error_destroy),
    error_get: Some(error_get),
    plugin_attributes: Some(plugin_attributes),
    device_count: Some(device_count),
    device_open: Some(device_open),
    device_close: Some(device_close),
    device_info: Some(device_info),
    device_stats: Some(device_stats),
    buffer_alloc: Some(buffer_alloc),
    buffer_free: Some(buffer_free),
    buffer_write: Some(buffer_write),
    buffer_read: Some(buffer_read),
    buffer_copy: Some(buffer_copy),
    kernel_compile: Some(kernel_compile),
    kernel_launch: Some(kernel_launch),
    device_sync: Some(device_sync),
    event_record: Some(event_record),
    event_elapsed: Some(event_elapsed),
    host_pin: Some(host_pin),
    host_unpin: Some(host_unpin),
    device_describe: Some(device_describe),
    device_peaks: Some(device_peaks),
};

/// The attributes every plugin reports, from `export_plugin!`'s arguments.
pub fn attributes(name: &str, version: &str, vendor: &str, runtime: &str) -> Vec<(String, String)> {
    [
        ("name", name),
        ("version", version),
        ("vendor", vendor),
        ("runtime_version", runtime),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .to_vec()
}

/// Exports a backend as a halbench plugin: defines `halbench_plugin_api`.
///
/// ```ignore
/// halbench_plugin::export_plugin!(
///     backend: MyBackend::new(),
///     name: "mybackend",
///     version: env!("CARGO_PKG_VERSION"),
///     vendor: "Example Corp",
///     runtime_version: "1.0",
/// );
/// ```
#[macro_export]
macro_rules! export_plugin {
    (backend: $make:expr, name: $name:expr, version: $version:expr, vendor: $vendor:expr, runtime_version: $runtime:expr $(,)?) => {
        /// The plugin's entry point (halbench_plugin.h).
        #[no_mangle]
        pub extern "C" fn halbench_plugin_api(
            _host_major: u32,
            _host_minor: u32,
        ) -> *const $crate::abi::HB_Api {
            $crate::sdk::entry(|| {
                let backend: Box<dyn $crate::Backend> = Box::new($make);
                let attributes = $crate::sdk::attributes($name, $version, $vendor, $runtime);
                (backend, attributes)
            })
        }
    };
}
