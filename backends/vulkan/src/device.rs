//! One opened Vulkan device: its queue, its recording command buffer, and the native
//! objects `hal::layer::Layered` hands out handles for.

use std::collections::HashMap;
use std::time::Duration;

use ash::vk;
use halbench_hal::layer::{AllocLimit, Built, Copy, Layered, NativeArg, Primitives};
use halbench_hal::{DeviceInfo, Dialect, Dims, Error, KernelSource, Result};

use crate::spirv::{
    self, CAPABILITY_FLOAT16, CAPABILITY_INT16, CAPABILITY_STORAGE_16BIT, CAPABILITY_STORAGE_8BIT,
};
use crate::{vk_error, Caps, Instance, NAME};

const QUERIES: u32 = 4096;
const SETS: u32 = 1024;
const PUSH_BYTES: u32 = 128;
const STAGING_BYTES: u64 = 64 << 20;

/// A buffer and its memory (mapped where the memory is host-visible).
#[derive(Debug)]
pub struct VkBuffer {
    buffer: vk::Buffer,
    memory: vk::DeviceMemory,
    /// Host address of the whole allocation where memory is host-visible.
    mapped: Option<*mut u8>,
}

// SAFETY: the mapping is plain memory of this device; `&mut self` serialises every use.
unsafe impl Send for VkBuffer {}

/// A shader module with its layouts; pipelines come per work-group size.
#[derive(Debug, Clone)]
pub struct VkKernel {
    shader: vk::ShaderModule,
    set_layout: vk::DescriptorSetLayout,
    layout: vk::PipelineLayout,
    bindings: u32,
    /// Specialisation constants from defines: (constant id, value).
    spec: Vec<(u32, u32)>,
}

/// An opened Vulkan device.
pub struct VkDevice {
    info: DeviceInfo,
    caps: Caps,
    memory: vk::PhysicalDeviceMemoryProperties,
    device: ash::Device,
    queue: vk::Queue,
    command_pool: vk::CommandPool,
    cmd: vk::CommandBuffer,
    fence: vk::Fence,
    recording: bool,
    descriptor_pool: vk::DescriptorPool,
    query_pool: vk::QueryPool,
    next_query: u32,
    /// Timestamps recorded and not yet read.
    outstanding: usize,
    pipeline_cache: vk::PipelineCache,
    /// Every live buffer, for teardown.
    live: HashMap<vk::Buffer, vk::DeviceMemory>,
    staging: Option<VkBuffer>,
    /// Every kernel built, for teardown (kernels live as long as the device).
    built: Vec<VkKernel>,
    pipelines: HashMap<(vk::ShaderModule, [u32; 3]), vk::Pipeline>,
    sets: HashMap<(vk::DescriptorSetLayout, Vec<u64>), vk::DescriptorSet>,
    // Dropped last, after the device (see Drop).
    instance: Instance,
}

// SAFETY: the raw mapped pointers are only used through &mut self; Vulkan handles may be
// used from any thread as long as access is externally synchronised, which &mut gives.
unsafe impl Send for VkDevice {}

impl std::fmt::Debug for VkDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VkDevice({})", self.info.key())
    }
}

impl VkDevice {
    pub(crate) fn open(
        instance: Instance,
        pd: vk::PhysicalDevice,
        family: u32,
        info: DeviceInfo,
        caps: Caps,
    ) -> Result<Layered<Self>> {
        let i = &instance.instance;
        let priorities = [1.0];
        let queues = [vk::DeviceQueueCreateInfo::default()
            .queue_family_index(family)
            .queue_priorities(&priorities)];
        let mut f11 = vk::PhysicalDeviceVulkan11Features::default()
            .storage_buffer16_bit_access(caps.storage16);
        let mut f12 = vk::PhysicalDeviceVulkan12Features::default()
            .storage_buffer8_bit_access(caps.storage8)
            .shader_float16(caps.float16)
            .host_query_reset(caps.host_query_reset);
        let base = vk::PhysicalDeviceFeatures::default().shader_int16(caps.int16);
        let create = vk::DeviceCreateInfo::default()
            .queue_create_infos(&queues)
            .enabled_features(&base)
            .push_next(&mut f11)
            .push_next(&mut f12);
        // SAFETY: pd and family come from this instance; only supported features are enabled.
        let device = unsafe { i.create_device(pd, &create, None) }
            .map_err(|r| vk_error("vkCreateDevice", r))?;
        // SAFETY: the device is alive; every object created here is destroyed in Drop.
        unsafe {
            let memory = i.get_physical_device_memory_properties(pd);
            let queue = device.get_device_queue(family, 0);
            let command_pool = device
                .create_command_pool(
                    &vk::CommandPoolCreateInfo::default()
                        .queue_family_index(family)
                        .flags(vk::CommandPoolCreateFlags::RESET_COMMAND_BUFFER),
                    None,
                )
                .map_err(|r| vk_error("vkCreateCommandPool", r))?;
            let cmd = device
                .allocate_command_buffers(
                    &vk::CommandBufferAllocateInfo::default()
                        .command_pool(command_pool)
                        .command_buffer_count(1),
                )
                .map_err(|r| vk_error("vkAllocateCommandBuffers", r))?[0];
            let fence = device
                .create_fence(&vk::FenceCreateInfo::default(), None)
                .map_err(|r| vk_error("vkCreateFence", r))?;
            let sizes = [vk::DescriptorPoolSize {
                ty: vk::DescriptorType::STORAGE_BUFFER,
                descriptor_count: SETS * 8,
            }];
            let descriptor_pool = device
                .create_descriptor_pool(
                    &vk::DescriptorPoolCreateInfo::default()
                        .flags(vk::DescriptorPoolCreateFlags::FREE_DESCRIPTOR_SET)
                        .max_sets(SETS)
                        .pool_sizes(&sizes),
                    None,
                )
                .map_err(|r| vk_error("vkCreateDescriptorPool", r))?;
            let query_pool = device
                .create_query_pool(
                    &vk::QueryPoolCreateInfo::default()
                        .query_type(vk::QueryType::TIMESTAMP)
                        .query_count(QUERIES),
                    None,
                )
                .map_err(|r| vk_error("vkCreateQueryPool", r))?;
            if caps.host_query_reset {
                device.reset_query_pool(query_pool, 0, QUERIES);
            }
            let pipeline_cache = device
                .create_pipeline_cache(&vk::PipelineCacheCreateInfo::default(), None)
                .map_err(|r| vk_error("vkCreatePipelineCache", r))?;
            Ok(Layered::new(VkDevice {
                info,
                caps,
                memory,
                device,
                queue,
                command_pool,
                cmd,
                fence,
                recording: false,
                descriptor_pool,
                query_pool,
                next_query: 0,
                outstanding: 0,
                pipeline_cache,
                live: HashMap::new(),
                staging: None,
                built: Vec::new(),
                pipelines: HashMap::new(),
                sets: HashMap::new(),
                instance,
            }))
        }
    }

    /// Starts recording if needed, and puts a full barrier before the next command so
    /// the queue behaves in order.
    fn next_command(&mut self) -> Result<()> {
        // SAFETY: the command buffer belongs to this device and is not pending (flush waits).
        unsafe {
            if !self.recording {
                self.device
                    .begin_command_buffer(
                        self.cmd,
                        &vk::CommandBufferBeginInfo::default()
                            .flags(vk::CommandBufferUsageFlags::ONE_TIME_SUBMIT),
                    )
                    .map_err(|r| vk_error("vkBeginCommandBuffer", r))?;
                self.recording = true;
            }
            let barrier = vk::MemoryBarrier::default()
                .src_access_mask(vk::AccessFlags::MEMORY_WRITE)
                .dst_access_mask(vk::AccessFlags::MEMORY_READ | vk::AccessFlags::MEMORY_WRITE);
            self.device.cmd_pipeline_barrier(
                self.cmd,
                vk::PipelineStageFlags::ALL_COMMANDS,
                vk::PipelineStageFlags::ALL_COMMANDS,
                vk::DependencyFlags::empty(),
                &[barrier],
                &[],
                &[],
            );
        }
        Ok(())
    }

    /// Submits what was recorded and waits for it.
    fn flush(&mut self) -> Result<()> {
        if !self.recording {
            return Ok(());
        }
        self.recording = false;
        let cmds = [self.cmd];
        // SAFETY: the command buffer is in the recording state; the fence is unsignalled.
        unsafe {
            self.device
                .end_command_buffer(self.cmd)
                .map_err(|r| vk_error("vkEndCommandBuffer", r))?;
            self.device
                .queue_submit(
                    self.queue,
                    &[vk::SubmitInfo::default().command_buffers(&cmds)],
                    self.fence,
                )
                .map_err(|r| vk_error("vkQueueSubmit", r))?;
            let waited = self.device.wait_for_fences(&[self.fence], true, u64::MAX);
            self.device
                .reset_fences(&[self.fence])
                .map_err(|r| vk_error("vkResetFences", r))?;
            self.device
                .reset_command_buffer(self.cmd, vk::CommandBufferResetFlags::empty())
                .map_err(|r| vk_error("vkResetCommandBuffer", r))?;
            waited.map_err(|r| vk_error("vkWaitForFences", r))
        }
    }
}

mod hal;
mod memory;
mod pipeline;
