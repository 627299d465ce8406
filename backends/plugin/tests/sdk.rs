//! `export_plugin!` over a backend that panics: the panics come back through the table
//! as errors, the process carries on, and every error object is destroyed. The plugin is
//! linked into this test and reached through the same loader as a library would be.

use std::sync::Arc;

use halbench_hal::{
    Arg, Backend, Buffer, Device, DeviceInfo, DeviceStats, Dims, Error, Kernel, KernelSource,
    Result,
};
use halbench_plugin::abi::{self, Args};
use halbench_plugin::{sdk, PluginBackend};

/// A backend whose device panics on every allocation and compile.
struct Panicky;

struct PanickyDevice(DeviceInfo);

impl Backend for Panicky {
    fn name(&self) -> &str {
        "panicky"
    }
    fn devices(&self) -> Result<Vec<DeviceInfo>> {
        let peak = |value: f64| halbench_hal::Peak {
            value,
            source: "datasheet".into(),
        };
        Ok(vec![DeviceInfo {
            backend: "panicky".into(),
            name: "panics".into(),
            peak_gbs: Some(peak(3350.0)),
            peak_tflops: [(halbench_hal::DType::F16, peak(989.0))].into(),
            ..DeviceInfo::default()
        }])
    }
    fn open(&self, index: usize) -> Result<Box<dyn Device>> {
        OPENS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if index > 0 {
            panic!("open({index}) panics");
        }
        Ok(Box::new(PanickyDevice(self.devices()?.remove(0))))
    }
}

impl Device for PanickyDevice {
    fn info(&self) -> &DeviceInfo {
        &self.0
    }
    fn alloc(&mut self, bytes: u64) -> Result<Buffer> {
        panic!("alloc({bytes}) panics")
    }
    fn free(&mut self, _: Buffer) -> Result<()> {
        Ok(())
    }
    fn write(&mut self, _: &Buffer, _: u64, _: &[u8]) -> Result<()> {
        Ok(())
    }
    fn read(&mut self, _: &Buffer, _: u64, _: &mut [u8]) -> Result<()> {
        Ok(())
    }
    fn copy(&mut self, _: &Buffer, _: u64, _: &Buffer, _: u64, _: u64) -> Result<()> {
        Ok(())
    }
    fn compile(&mut self, _: &KernelSource) -> Result<Kernel> {
        Err(Error::unsupported("panicky", "no kernels"))
    }
    fn launch(&mut self, _: &Kernel, _: Dims, _: &[Arg<'_>]) -> Result<()> {
        Ok(())
    }
    fn sync(&mut self) -> Result<()> {
        panic!("sync panics")
    }
    fn stats(&self) -> DeviceStats {
        DeviceStats::default()
    }
}

halbench_plugin::export_plugin!(
    backend: Panicky,
    name: "panicky",
    version: "0.0.1",
    vendor: "tests",
    runtime_version: "none",
);

static OPENS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The tests share the SDK's error counter: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn loaded() -> PluginBackend {
    let table = halbench_plugin_api(abi::ABI_MAJOR, abi::ABI_MINOR);
    // SAFETY: the table is this binary's own static, alive for the whole process.
    unsafe { PluginBackend::from_table(table, "in-process".into(), None) }.unwrap()
}

#[test]
fn panics_become_errors_and_the_host_carries_on() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let backend = Arc::new(loaded());
    assert_eq!(backend.name(), "panicky");
    assert_eq!(backend.attributes()["runtime_version"], "none");
    let e = backend.open(1).err().expect("a panicking open is an error");
    assert!(e.to_string().contains("open(1) panics"), "{e}");
    let mut d = backend.open(0).unwrap();
    for _ in 0..3 {
        let e = d.alloc(64).expect_err("a panicking alloc is an error");
        assert!(matches!(e, Error::Backend { .. }), "{e}");
        assert!(e.to_string().contains("alloc(64) panics"), "{e}");
    }
    assert!(d.sync().unwrap_err().to_string().contains("sync panics"));
    assert!(matches!(
        d.compile(&KernelSource::builtin("x", vec![])),
        Err(Error::Unsupported { .. })
    ));
    drop(d);
    assert_eq!(sdk::live_errors(), 0, "every error object destroyed");
}

#[test]
fn a_confused_host_gets_errors_from_the_sdk() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let table = halbench_plugin_api(abi::ABI_MAJOR, abi::ABI_MINOR);
    // SAFETY: the table is this binary's static; the calls below pass well-formed args
    // structs with wrong contents, which the SDK must refuse.
    unsafe {
        let api = &*table;
        let mut a = abi::HB_Buffer_Alloc_Args::new();
        a.device = 0x1234 as *mut abi::HB_Device; // never opened
        a.bytes = 8;
        let err = (api.buffer_alloc.unwrap())(&mut a);
        assert!(!err.is_null());
        let mut get = abi::HB_Error_Get_Args::new();
        get.error = err;
        (api.error_get.unwrap())(&mut get);
        assert_eq!(get.code, abi::ERROR_INVALID_ARGUMENT);
        let mut destroy = abi::HB_Error_Destroy_Args::new();
        destroy.error = err;
        (api.error_destroy.unwrap())(&mut destroy);

        let mut small = abi::HB_Device_Count_Args::new();
        small.struct_size = 4; // smaller than the struct the plugin knows
        let err = (api.device_count.unwrap())(&mut small);
        assert!(!err.is_null());
        let mut destroy = abi::HB_Error_Destroy_Args::new();
        destroy.error = err;
        (api.error_destroy.unwrap())(&mut destroy);
    }
}

#[test]
fn an_older_host_gets_the_fields_its_struct_has_and_nothing_past_it() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let table = halbench_plugin_api(abi::ABI_MAJOR, abi::ABI_MINOR);
    // SAFETY: the table is this binary's static; the info call gets a 1.0-sized struct at
    // the front of a larger buffer, as a 1.0 host's would be.
    unsafe {
        let api = &*table;
        let mut open = abi::HB_Device_Open_Args::new();
        assert!((api.device_open.unwrap())(&mut open).is_null());

        let canary = 0xAB_u8;
        let mut bytes = vec![canary; size_of::<abi::HB_Device_Info_Args>()];
        let old = bytes.as_mut_ptr().cast::<abi::HB_Device_Info_Args>();
        std::ptr::write_unaligned(
            old.cast::<[usize; 2]>(),
            [abi::DEVICE_INFO_ARGS_SIZE_1_0, open.device as usize],
        );
        assert!((api.device_info.unwrap())(old).is_null());
        let name = std::ptr::read_unaligned(std::ptr::addr_of!((*old).name));
        assert_eq!(std::ffi::CStr::from_ptr(name).to_str().unwrap(), "panics");
        assert!(
            bytes[abi::DEVICE_INFO_ARGS_SIZE_1_0..]
                .iter()
                .all(|&b| b == canary),
            "the plugin wrote past the host's struct"
        );

        let mut too_small = abi::HB_Device_Info_Args::new();
        too_small.struct_size = abi::DEVICE_INFO_ARGS_SIZE_1_0 - 8;
        too_small.device = open.device;
        let err = (api.device_info.unwrap())(&mut too_small);
        assert!(!err.is_null(), "a struct smaller than 1.0's is refused");
        let mut destroy = abi::HB_Error_Destroy_Args::new();
        destroy.error = err;
        (api.error_destroy.unwrap())(&mut destroy);

        let mut close = abi::HB_Device_Close_Args::new();
        close.device = open.device;
        assert!((api.device_close.unwrap())(&mut close).is_null());
    }
}

/// 1.4 through the SDK: listing describes without opening (an `open` here would count),
/// and the backend's vendor figures arrive with their source.
#[test]
fn listing_opens_nothing_and_carries_the_vendor_peaks() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let backend = loaded();
    let before = OPENS.load(std::sync::atomic::Ordering::SeqCst);
    let info = backend.devices().unwrap().remove(0);
    assert_eq!(OPENS.load(std::sync::atomic::Ordering::SeqCst), before);
    assert_eq!(info.name, "panics");
    let gbs = info.peak_gbs.expect("vendor bandwidth");
    assert_eq!(gbs.value, 3350.0);
    assert_eq!(gbs.source, "plugin panicky: datasheet");
    assert_eq!(info.peak_tflops[&halbench_hal::DType::F16].value, 989.0);
    assert_eq!(sdk::live_errors(), 0);
}
