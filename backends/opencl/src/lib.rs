//! # halbench-opencl
//!
//! The HAL over OpenCL through `opencl3`, with libOpenCL loaded at run time (its `dynamic`
//! feature): the binary builds and starts on machines without OpenCL, where `devices()`
//! says why it is unavailable.
//!
//! ```text
//!   OpenClBackend ─ devices(): every device of every platform, in platform order
//!   ClDevice
//!     context + one in-order queue with profiling (record/elapsed = markers' END times)
//!     buffers:  id ─► cl_mem (sizes checked against CL_DEVICE_MAX_MEM_ALLOC_SIZE first)
//!     programs: (source, build options) ─► cl_program;  kernels: id ─► cl_kernel
//!     events:   id ─► marker event
//! ```
//!
//! Kernels are OpenCL C from `kernels/opencl/`; defines become `-D` options. A build
//! failure is `Error::Compile` with the full build log.

mod device;

use std::collections::BTreeMap;

use halbench_hal::{Backend, DType, DeviceClass, DeviceInfo, Dialect, Error, Features, Result};
use opencl3::device::{
    Device as ClDeviceInfo, CL_DEVICE_TYPE_ACCELERATOR, CL_DEVICE_TYPE_ALL, CL_DEVICE_TYPE_CPU,
    CL_DEVICE_TYPE_GPU,
};
use opencl3::types::cl_device_id;

pub use device::ClDevice;

const NAME: &str = "opencl";

/// Every OpenCL device on the machine.
#[derive(Debug, Default)]
pub struct OpenClBackend;

impl OpenClBackend {
    pub fn new() -> Self {
        OpenClBackend
    }
}

/// A driver error as the HAL's error.
pub(crate) fn cl_error(what: &str, code: i32) -> Error {
    Error::Backend {
        backend: NAME.into(),
        code: i64::from(code),
        message: format!("{what} failed: {}", opencl3::error_codes::error_text(code)),
    }
}

/// Every device id, platform by platform; `Unavailable` with the reason when there is no
/// loader, no platform, or no device.
fn device_ids() -> Result<Vec<(String, cl_device_id)>> {
    if let Err(e) = cl3::load_library() {
        return Err(Error::unavailable(
            NAME,
            format!(
                "libOpenCL could not be loaded ({e:?}); install an OpenCL ICD loader and driver"
            ),
        ));
    }
    let platforms = opencl3::platform::get_platforms().map_err(|e| {
        Error::unavailable(NAME, format!("no OpenCL platform (clGetPlatformIDs: {e})"))
    })?;
    let mut ids = Vec::new();
    for platform in platforms {
        let name = platform.name().unwrap_or_default();
        // A platform with no devices answers CL_DEVICE_NOT_FOUND: skip it.
        for id in platform.get_devices(CL_DEVICE_TYPE_ALL).unwrap_or_default() {
            ids.push((name.clone(), id));
        }
    }
    if ids.is_empty() {
        return Err(Error::unavailable(
            NAME,
            "OpenCL platforms found, but no devices",
        ));
    }
    Ok(ids)
}

fn describe(index: usize, platform: &str, id: cl_device_id) -> Result<DeviceInfo> {
    let d = ClDeviceInfo::new(id);
    fn q<T>(what: &str, r: std::result::Result<T, opencl3::error_codes::ClError>) -> Result<T> {
        r.map_err(|e| cl_error(what, e.0))
    }
    let kind = q("CL_DEVICE_TYPE", d.dev_type())?;
    let device_type = match kind {
        k if k & CL_DEVICE_TYPE_GPU != 0 => DeviceClass::Gpu,
        k if k & CL_DEVICE_TYPE_CPU != 0 => DeviceClass::Cpu,
        k if k & CL_DEVICE_TYPE_ACCELERATOR != 0 => DeviceClass::Npu,
        _ => DeviceClass::Other,
    };
    let extensions = d.extensions().unwrap_or_default();
    let mut extras = BTreeMap::new();
    extras.insert("platform".into(), platform.to_string());
    extras.insert(
        "opencl_c_version".into(),
        d.opencl_c_version().unwrap_or_default(),
    );
    extras.insert(
        "max_mem_alloc_size".into(),
        d.max_mem_alloc_size().unwrap_or(0).to_string(),
    );
    extras.insert(
        "max_clock_mhz".into(),
        d.max_clock_frequency().unwrap_or(0).to_string(),
    );
    Ok(DeviceInfo {
        backend: NAME.into(),
        index,
        name: q("CL_DEVICE_NAME", d.name())?.trim().to_string(),
        vendor: d.vendor().unwrap_or_default().trim().to_string(),
        driver_version: d.driver_version().unwrap_or_default(),
        device_type,
        memory_bytes: q("CL_DEVICE_GLOBAL_MEM_SIZE", d.global_mem_size())?,
        compute_units: d.max_compute_units().unwrap_or(1),
        max_threads_per_group: d.max_work_group_size().unwrap_or(1) as u32,
        max_group_size: {
            let sizes = d.max_work_item_sizes().unwrap_or_default();
            std::array::from_fn(|i| sizes.get(i).map_or(0, |&s| s.min(u32::MAX as usize) as u32))
        },
        // The global size is a size_t: no grid limit of its own.
        max_groups: [0; 3],
        last_level_cache_bytes: d.global_mem_cache_size().unwrap_or(0),
        subgroup_size: 0,
        dialects: vec![Dialect::OpenClC],
        features: Features {
            // bf16 is stored as 16-bit words and fp8 as bytes, both computed in f32:
            // every device can.
            dtypes: Features::dtypes_with(
                [DType::BF16]
                    .into_iter()
                    .chain(
                        extensions
                            .split_whitespace()
                            .any(|e| e == "cl_khr_fp16")
                            .then_some(DType::F16),
                    )
                    .chain(DType::FP8),
            ),
            device_timers: true,
            cooperative_matrix: false,
            fp8_matrix: false,
            unified_memory: device_type == DeviceClass::Cpu,
        },
        peak_gbs: None,
        peak_tflops: BTreeMap::new(),
        extras,
    })
}

impl Backend for OpenClBackend {
    fn name(&self) -> &str {
        NAME
    }

    fn devices(&self) -> Result<Vec<DeviceInfo>> {
        device_ids()?
            .iter()
            .enumerate()
            .map(|(i, (platform, id))| describe(i, platform, *id))
            .collect()
    }

    fn open(&self, index: usize) -> Result<Box<dyn halbench_hal::Device>> {
        let ids = device_ids()?;
        let (platform, id) = ids.get(index).ok_or_else(|| {
            Error::invalid(
                NAME,
                format!("device index {index} out of range ({} devices)", ids.len()),
            )
        })?;
        let info = describe(index, platform, *id)?;
        Ok(Box::new(ClDevice::open(*id, info)?))
    }
}
