//! # halbench-cuda
//!
//! The HAL over CUDA through cudarc's thin `result` layer, with libcuda, libnvrtc and
//! libcublas loaded at run time: the binary builds with no CUDA toolkit and starts on
//! machines without a GPU, where `devices()` says why CUDA is unavailable. (cudarc panics
//! when libcuda is absent, so its presence is checked before any driver call.)
//!
//! ```text
//!   CudaBackend ─ devices(): cuInit, then attributes; no context is created
//!   CudaDevice  ─ the device's primary context, one non-blocking stream
//!     buffers:  id ─► CUdeviceptr (cuMemAlloc)
//!     kernels:  CUDA C ─► NVRTC (arch of the device) ─► PTX ─► CUmodule ─► CUfunction,
//!               cached by (source, defines, entry); `gemm_vendor` is a builtin over
//!               cublasGemmEx (f32 accumulate)
//!     events:   cuEvent with timing, recorded on the stream
//! ```
//!
//! Peaks are derived from device attributes: memory bandwidth = 2 × memory clock × bus
//! width (HBM and GDDR are double data rate), and dense tensor FLOP/s from the FLOP per
//! cycle per SM that NVIDIA publishes for sm_80 and sm_90, × SMs × clock.

mod device;
pub mod nvrtc;

use std::collections::BTreeMap;

use cudarc::driver::{result, sys};
use halbench_hal::{Backend, DType, DeviceInfo, Dialect, Error, Features, Peak, Result};

pub use device::CudaDevice;

pub(crate) const NAME: &str = "cuda";

/// Every CUDA device.
#[derive(Debug, Default)]
pub struct CudaBackend;

impl CudaBackend {
    pub fn new() -> Self {
        CudaBackend
    }
}

pub(crate) fn driver_error(what: &str, e: result::DriverError) -> Error {
    let name = e
        .error_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let message = e
        .error_string()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match e.0 {
        sys::CUresult::CUDA_ERROR_OUT_OF_MEMORY => {
            Error::out_of_memory(NAME, format!("{what}: {message}"))
        }
        sys::CUresult::CUDA_ERROR_ILLEGAL_ADDRESS
        | sys::CUresult::CUDA_ERROR_LAUNCH_FAILED
        | sys::CUresult::CUDA_ERROR_ECC_UNCORRECTABLE
        | sys::CUresult::CUDA_ERROR_HARDWARE_STACK_ERROR
        | sys::CUresult::CUDA_ERROR_ILLEGAL_INSTRUCTION => Error::DeviceLost {
            backend: NAME.into(),
            message: format!("{what}: {name}: {message}"),
        },
        code => Error::Backend {
            backend: NAME.into(),
            code: code as i64,
            message: format!("{what} failed: {name}: {message}"),
        },
    }
}

/// Initialises the driver; `Unavailable` with the reason when there is no driver or GPU.
pub(crate) fn init() -> Result<usize> {
    // SAFETY: only probes whether the library can be opened.
    if !unsafe { sys::is_culib_present() } {
        return Err(Error::unavailable(
            NAME,
            "libcuda could not be loaded: no NVIDIA driver on this machine",
        ));
    }
    result::init().map_err(|e| {
        Error::unavailable(
            NAME,
            format!("cuInit failed: {}", driver_error("cuInit", e)),
        )
    })?;
    let count = result::device::get_count()
        .map_err(|e| Error::unavailable(NAME, driver_error("cuDeviceGetCount", e).to_string()))?;
    if count <= 0 {
        return Err(Error::unavailable(
            NAME,
            "the NVIDIA driver reports no devices",
        ));
    }
    Ok(count as usize)
}

/// Dense tensor-core FLOP per cycle per SM for f16/bf16, where NVIDIA publishes it.
fn tensor_flop_per_cycle(major: i32, minor: i32) -> Option<f64> {
    match (major, minor) {
        (8, 0) => Some(2048.0), // A100: 312 TFLOP/s = 108 SMs × 1.41 GHz × 2048
        (9, 0) => Some(4096.0), // H100/H200: 989 TFLOP/s = 132 SMs × 1.83 GHz × 4096
        _ => None,
    }
}

pub(crate) fn describe(index: usize) -> Result<(DeviceInfo, sys::CUdevice)> {
    let dev = result::device::get(index as i32).map_err(|e| driver_error("cuDeviceGet", e))?;
    let attr = |a: sys::CUdevice_attribute| {
        // SAFETY: dev is a valid device from cuDeviceGet.
        unsafe { result::device::get_attribute(dev, a) }.unwrap_or(0)
    };
    use sys::CUdevice_attribute::*;
    let (major, minor) = (
        attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
        attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR),
    );
    let sms = attr(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
    let clock_khz = f64::from(attr(CU_DEVICE_ATTRIBUTE_CLOCK_RATE));
    let mem_clock_khz = f64::from(attr(CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE));
    let bus_bits = f64::from(attr(CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH));
    // SAFETY: as above.
    let memory = unsafe { result::device::total_mem(dev) }
        .map_err(|e| driver_error("cuDeviceTotalMem", e))? as u64;
    let arch = format!("sm_{major}{minor}");
    let mut peak_tflops = BTreeMap::new();
    if let Some(per_cycle) = tensor_flop_per_cycle(major, minor) {
        let tflops = per_cycle * f64::from(sms) * clock_khz * 1e3 / 1e12;
        for dtype in [DType::F16, DType::BF16] {
            peak_tflops.insert(
                dtype,
                Peak {
                    value: tflops,
                    source: format!(
                        "{per_cycle} dense FLOP/cycle/SM (NVIDIA whitepaper) × {sms} SMs × {} MHz",
                        clock_khz / 1e3
                    ),
                },
            );
        }
    }
    let peak_gbs = (mem_clock_khz > 0.0 && bus_bits > 0.0).then(|| Peak {
        value: 2.0 * mem_clock_khz * 1e3 * bus_bits / 8.0 / 1e9,
        source: format!(
            "2 × {} MHz memory clock × {bus_bits} bit bus (device attributes)",
            mem_clock_khz / 1e3
        ),
    });
    let mut driver = 0;
    // SAFETY: writes one int.
    unsafe { sys::cuDriverGetVersion(&mut driver) };
    let mut extras = BTreeMap::new();
    extras.insert("arch".into(), arch);
    extras.insert("sm_count".into(), sms.to_string());
    extras.insert("clock_mhz".into(), (clock_khz / 1e3).to_string());
    // NVML finds the same GPU by it, whatever CUDA_VISIBLE_DEVICES renumbered.
    extras.insert(
        "pci_bus_id".into(),
        format!(
            "{:08X}:{:02X}:{:02X}.0",
            attr(CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID),
            attr(CU_DEVICE_ATTRIBUTE_PCI_BUS_ID),
            attr(CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID)
        ),
    );
    extras.insert(
        "shared_memory_per_block".into(),
        attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK).to_string(),
    );
    let info = DeviceInfo {
        backend: NAME.into(),
        index,
        name: result::device::get_name(dev).unwrap_or_default(),
        vendor: "NVIDIA".into(),
        driver_version: format!("CUDA driver {}.{}", driver / 1000, (driver % 1000) / 10),
        device_type: halbench_hal::DeviceClass::Gpu,
        memory_bytes: memory,
        compute_units: sms as u32,
        max_threads_per_group: attr(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK) as u32,
        max_group_size: [
            attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X) as u32,
            attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y) as u32,
            attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z) as u32,
        ],
        max_groups: [
            attr(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X) as u32,
            attr(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y) as u32,
            attr(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z) as u32,
        ],
        last_level_cache_bytes: attr(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE) as u64,
        subgroup_size: attr(CU_DEVICE_ATTRIBUTE_WARP_SIZE) as u32,
        dialects: vec![Dialect::Builtin, Dialect::CudaC],
        features: Features {
            // fp8 is stored as bytes and decoded in the kernel on any GPU; from sm_89 on
            // the tiled GEMM feeds it to the tensor cores.
            dtypes: Features::dtypes_with(
                [DType::BF16]
                    .into_iter()
                    .chain((major >= 6).then_some(DType::F16))
                    .chain(DType::FP8),
            ),
            device_timers: true,
            cooperative_matrix: major >= 7,
            fp8_matrix: (major, minor) >= (8, 9),
            unified_memory: attr(CU_DEVICE_ATTRIBUTE_INTEGRATED) != 0,
        },
        peak_gbs,
        peak_tflops,
        extras,
    };
    Ok((info, dev))
}

impl Backend for CudaBackend {
    fn name(&self) -> &str {
        NAME
    }

    fn devices(&self) -> Result<Vec<DeviceInfo>> {
        (0..init()?)
            .map(|i| describe(i).map(|(info, _)| info))
            .collect()
    }

    fn open(&self, index: usize) -> Result<Box<dyn halbench_hal::Device>> {
        let count = init()?;
        if index >= count {
            return Err(Error::invalid(
                NAME,
                format!("device index {index} out of range ({count} devices)"),
            ));
        }
        let (info, dev) = describe(index)?;
        Ok(Box::new(CudaDevice::open(dev, info)?))
    }
}
