//! # halbench-vulkan
//!
//! The HAL over Vulkan compute through `ash`, with libvulkan loaded at run time
//! (`Entry::load`): the binary builds and starts on machines without Vulkan, where
//! `devices()` says why it is unavailable. Kernels are SPIR-V only, compiled ahead of time
//! from `kernels/glsl/` and checked in.
//!
//! ```text
//!   VulkanBackend ─ devices(): every physical device with a compute queue
//!   VkDevice
//!     one compute queue, one command buffer that records launches, copies and
//!     timestamps until something must wait (read, write, sync, elapsed, free)
//!     buffers:  storage buffers; host-visible and mapped where memory is unified (CPU
//!               devices, integrated GPUs), else device-local with a staging buffer
//!     kernels:  SPIR-V module ─► descriptor-set layout (bindings read from the module),
//!               pipeline layout (128 bytes of push constants: the scalars, in order),
//!               one pipeline per work-group size (specialisation constants 0, 1, 2;
//!               defines are specialisation constants found by name), pipeline cache
//!     timing:   a timestamp query pool; barriers around every timestamp so it never
//!               lands before the work it follows; ticks × timestampPeriod, masked to
//!               timestampValidBits
//! ```
//!
//! Every enqueued command is preceded by a full memory barrier: one in-order queue, as the
//! HAL promises, at the price of no overlap between launches (which the benchmark does not
//! want anyway).

mod device;
mod spirv;

use std::collections::BTreeMap;
use std::ffi::CStr;

use ash::vk;
use halbench_hal::{Backend, DType, DeviceClass, DeviceInfo, Dialect, Error, Features, Result};

pub use device::VkDevice;

const NAME: &str = "vulkan";

/// Every Vulkan device with a compute queue.
#[derive(Debug, Default)]
pub struct VulkanBackend;

impl VulkanBackend {
    pub fn new() -> Self {
        VulkanBackend
    }
}

pub(crate) fn vk_error(what: &str, r: vk::Result) -> Error {
    match r {
        vk::Result::ERROR_OUT_OF_DEVICE_MEMORY | vk::Result::ERROR_OUT_OF_HOST_MEMORY => {
            Error::out_of_memory(NAME, format!("{what}: {r}"))
        }
        vk::Result::ERROR_DEVICE_LOST => Error::DeviceLost {
            backend: NAME.into(),
            message: format!("{what}: {r}"),
        },
        r => Error::Backend {
            backend: NAME.into(),
            code: i64::from(r.as_raw()),
            message: format!("{what} failed: {r}"),
        },
    }
}

/// A loaded library and an instance; destroyed on drop.
pub(crate) struct Instance {
    /// Keeps libvulkan loaded for as long as the instance lives.
    _entry: ash::Entry,
    pub instance: ash::Instance,
}

impl Instance {
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: loading the system's Vulkan loader; no Vulkan call has been made yet.
        let entry = unsafe { ash::Entry::load() }.map_err(|e| {
            Error::unavailable(
                NAME,
                format!("libvulkan could not be loaded ({e}); install a Vulkan loader and driver"),
            )
        })?;
        let app = vk::ApplicationInfo::default()
            .application_name(c"halbench")
            .api_version(vk::API_VERSION_1_2);
        let info = vk::InstanceCreateInfo::default().application_info(&app);
        // SAFETY: valid create info; the instance is destroyed in Drop.
        let instance = unsafe { entry.create_instance(&info, None) }.map_err(|r| {
            Error::unavailable(
                NAME,
                format!("vkCreateInstance failed ({r}): no Vulkan 1.2 driver"),
            )
        })?;
        Ok(Instance {
            _entry: entry,
            instance,
        })
    }

    /// Physical devices with a compute queue, with that queue family's index.
    pub(crate) fn compute_devices(&self) -> Result<Vec<(vk::PhysicalDevice, u32)>> {
        // SAFETY: the instance is alive.
        let all = unsafe { self.instance.enumerate_physical_devices() }
            .map_err(|r| vk_error("vkEnumeratePhysicalDevices", r))?;
        let with_compute: Vec<_> = all
            .into_iter()
            .filter_map(|pd| {
                // SAFETY: pd comes from this instance.
                let families = unsafe {
                    self.instance
                        .get_physical_device_queue_family_properties(pd)
                };
                families
                    .iter()
                    .position(|f| f.queue_flags.contains(vk::QueueFlags::COMPUTE))
                    .map(|i| (pd, i as u32))
            })
            .collect();
        if with_compute.is_empty() {
            return Err(Error::unavailable(
                NAME,
                "no Vulkan device with a compute queue",
            ));
        }
        Ok(with_compute)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // SAFETY: every object created from the instance is gone by now (VkDevice drops
        // its device first).
        unsafe { self.instance.destroy_instance(None) };
    }
}

/// What the device offers that the kernels need.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Caps {
    pub storage16: bool,
    /// storageBuffer8BitAccess: what the fp8 modules need (bytes in, bytes out).
    pub storage8: bool,
    pub float16: bool,
    pub int16: bool,
    pub host_query_reset: bool,
    pub timestamp_valid_bits: u32,
    pub timestamp_period: f32,
    pub max_storage_buffer_range: u64,
    pub max_allocation: u64,
}

pub(crate) fn describe(
    inst: &Instance,
    index: usize,
    pd: vk::PhysicalDevice,
    family: u32,
) -> (DeviceInfo, Caps) {
    let i = &inst.instance;
    let mut subgroup = vk::PhysicalDeviceSubgroupProperties::default();
    let mut driver = vk::PhysicalDeviceDriverProperties::default();
    let mut maintenance3 = vk::PhysicalDeviceMaintenance3Properties::default();
    let mut props2 = vk::PhysicalDeviceProperties2::default()
        .push_next(&mut subgroup)
        .push_next(&mut driver)
        .push_next(&mut maintenance3);
    let mut f11 = vk::PhysicalDeviceVulkan11Features::default();
    let mut f12 = vk::PhysicalDeviceVulkan12Features::default();
    let mut features2 = vk::PhysicalDeviceFeatures2::default()
        .push_next(&mut f11)
        .push_next(&mut f12);
    // SAFETY: pd comes from this instance; the chains outlive the calls.
    let (families, memory, extensions) = unsafe {
        i.get_physical_device_properties2(pd, &mut props2);
        i.get_physical_device_features2(pd, &mut features2);
        (
            i.get_physical_device_queue_family_properties(pd),
            i.get_physical_device_memory_properties(pd),
            i.enumerate_device_extension_properties(pd)
                .unwrap_or_default(),
        )
    };
    let props = props2.properties;
    let int16 = features2.features.shader_int16 == vk::TRUE;
    let limits = props.limits;
    let has_extension = |name: &CStr| {
        extensions
            .iter()
            .any(|e| e.extension_name_as_c_str() == Ok(name))
    };
    let device_type = match props.device_type {
        vk::PhysicalDeviceType::CPU => DeviceClass::Cpu,
        vk::PhysicalDeviceType::INTEGRATED_GPU
        | vk::PhysicalDeviceType::DISCRETE_GPU
        | vk::PhysicalDeviceType::VIRTUAL_GPU => DeviceClass::Gpu,
        _ => DeviceClass::Other,
    };
    let heaps = &memory.memory_heaps[..memory.memory_heap_count as usize];
    let device_local: u64 = heaps
        .iter()
        .filter(|h| h.flags.contains(vk::MemoryHeapFlags::DEVICE_LOCAL))
        .map(|h| h.size)
        .sum();
    let caps = Caps {
        storage16: f11.storage_buffer16_bit_access == vk::TRUE,
        storage8: f12.storage_buffer8_bit_access == vk::TRUE,
        float16: f12.shader_float16 == vk::TRUE,
        int16,
        host_query_reset: f12.host_query_reset == vk::TRUE,
        timestamp_valid_bits: families
            .get(family as usize)
            .map_or(0, |f| f.timestamp_valid_bits),
        timestamp_period: limits.timestamp_period,
        max_storage_buffer_range: u64::from(limits.max_storage_buffer_range),
        max_allocation: maintenance3.max_memory_allocation_size,
    };
    let cpu = device_type == DeviceClass::Cpu;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let mut extras = BTreeMap::new();
    extras.insert(
        "api_version".into(),
        format!(
            "{}.{}.{}",
            vk::api_version_major(props.api_version),
            vk::api_version_minor(props.api_version),
            vk::api_version_patch(props.api_version)
        ),
    );
    extras.insert("vendor_id".into(), format!("{:#06x}", props.vendor_id));
    extras.insert(
        "max_storage_buffer_range".into(),
        caps.max_storage_buffer_range.to_string(),
    );
    extras.insert(
        "timestamp_period_ns".into(),
        caps.timestamp_period.to_string(),
    );
    extras.insert(
        "timestamp_valid_bits".into(),
        caps.timestamp_valid_bits.to_string(),
    );
    extras.insert("shader_float16".into(), caps.float16.to_string());
    if !cpu {
        extras.insert(
            "compute_units".into(),
            "not reported by Vulkan; 32 assumed".into(),
        );
    }
    let info = DeviceInfo {
        backend: NAME.into(),
        index,
        name: props
            .device_name_as_c_str()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        vendor: format!("{:#06x}", props.vendor_id),
        driver_version: format!(
            "{} {}",
            driver
                .driver_name_as_c_str()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            driver
                .driver_info_as_c_str()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        )
        .trim()
        .to_string(),
        device_type,
        memory_bytes: device_local,
        compute_units: if cpu { threads } else { 32 },
        max_threads_per_group: limits.max_compute_work_group_invocations,
        max_group_size: limits.max_compute_work_group_size,
        max_groups: limits.max_compute_work_group_count,
        // Vulkan does not report caches; a CPU device shares the host's.
        last_level_cache_bytes: if cpu {
            halbench_hal::host::last_level_cache_bytes().unwrap_or(0)
        } else {
            0
        },
        subgroup_size: subgroup.subgroup_size,
        dialects: vec![Dialect::SpirV],
        features: Features {
            dtypes: Features::dtypes_with(
                [
                    (caps.storage16, DType::F16),
                    (caps.storage16 && caps.int16, DType::BF16),
                    (caps.storage8, DType::F8E4M3),
                    (caps.storage8, DType::F8E5M2),
                ]
                .into_iter()
                .filter_map(|(on, t)| on.then_some(t)),
            ),
            device_timers: caps.timestamp_valid_bits > 0
                && caps.host_query_reset
                && limits.timestamp_compute_and_graphics == vk::TRUE,
            cooperative_matrix: has_extension(c"VK_KHR_cooperative_matrix"),
            fp8_matrix: false,
            unified_memory: cpu || props.device_type == vk::PhysicalDeviceType::INTEGRATED_GPU,
        },
        peak_gbs: None,
        peak_tflops: BTreeMap::new(),
        extras,
    };
    (info, caps)
}

impl Backend for VulkanBackend {
    fn name(&self) -> &str {
        NAME
    }

    fn devices(&self) -> Result<Vec<DeviceInfo>> {
        let inst = Instance::new()?;
        Ok(inst
            .compute_devices()?
            .into_iter()
            .enumerate()
            .map(|(i, (pd, family))| describe(&inst, i, pd, family).0)
            .collect())
    }

    fn open(&self, index: usize) -> Result<Box<dyn halbench_hal::Device>> {
        let inst = Instance::new()?;
        let devices = inst.compute_devices()?;
        let &(pd, family) = devices.get(index).ok_or_else(|| {
            Error::invalid(
                NAME,
                format!(
                    "device index {index} out of range ({} devices)",
                    devices.len()
                ),
            )
        })?;
        let (info, caps) = describe(&inst, index, pd, family);
        Ok(Box::new(VkDevice::open(inst, pd, family, info, caps)?))
    }
}
