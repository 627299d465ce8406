//! Device memory: storage buffers (host-visible and mapped where memory is unified, else
//! device-local), and transfers through a staging buffer where it is not.

use super::*;

impl VkDevice {
    pub(super) fn memory_type(&self, bits: u32, want: vk::MemoryPropertyFlags) -> Option<u32> {
        (0..self.memory.memory_type_count).find(|&i| {
            bits & (1 << i) != 0
                && self.memory.memory_types[i as usize]
                    .property_flags
                    .contains(want)
        })
    }

    pub(super) fn create_buffer(&self, bytes: u64, host: bool) -> Result<VkBuffer> {
        // Padded to 16 bytes so vec4 access to a last partial element stays inside it.
        let size = bytes.next_multiple_of(16);
        let usage = vk::BufferUsageFlags::STORAGE_BUFFER
            | vk::BufferUsageFlags::TRANSFER_SRC
            | vk::BufferUsageFlags::TRANSFER_DST;
        // SAFETY: valid create infos; on any failure the objects made so far are destroyed.
        unsafe {
            let buffer = self
                .device
                .create_buffer(
                    &vk::BufferCreateInfo::default().size(size).usage(usage),
                    None,
                )
                .map_err(|r| vk_error("vkCreateBuffer", r))?;
            let req = self.device.get_buffer_memory_requirements(buffer);
            let visible =
                vk::MemoryPropertyFlags::HOST_VISIBLE | vk::MemoryPropertyFlags::HOST_COHERENT;
            let kind = if host {
                self.memory_type(
                    req.memory_type_bits,
                    visible | vk::MemoryPropertyFlags::DEVICE_LOCAL,
                )
                .or_else(|| self.memory_type(req.memory_type_bits, visible))
            } else {
                self.memory_type(req.memory_type_bits, vk::MemoryPropertyFlags::DEVICE_LOCAL)
            };
            let Some(kind) = kind else {
                self.device.destroy_buffer(buffer, None);
                return Err(Error::unsupported(
                    NAME,
                    "no suitable memory type for a storage buffer",
                ));
            };
            let memory = match self.device.allocate_memory(
                &vk::MemoryAllocateInfo::default()
                    .allocation_size(req.size)
                    .memory_type_index(kind),
                None,
            ) {
                Ok(m) => m,
                Err(r) => {
                    self.device.destroy_buffer(buffer, None);
                    return Err(vk_error(&format!("vkAllocateMemory of {bytes} bytes"), r));
                }
            };
            let mapped = if host {
                self.device
                    .bind_buffer_memory(buffer, memory, 0)
                    .and_then(|_| {
                        self.device.map_memory(
                            memory,
                            0,
                            vk::WHOLE_SIZE,
                            vk::MemoryMapFlags::empty(),
                        )
                    })
                    .map(|p| Some(p.cast::<u8>()))
            } else {
                self.device
                    .bind_buffer_memory(buffer, memory, 0)
                    .map(|_| None)
            };
            match mapped {
                Ok(mapped) => Ok(VkBuffer {
                    buffer,
                    memory,
                    mapped,
                }),
                Err(r) => {
                    self.device.destroy_buffer(buffer, None);
                    self.device.free_memory(memory, None);
                    Err(vk_error("binding or mapping buffer memory", r))
                }
            }
        }
    }

    pub(super) fn destroy_buffer(&self, b: VkBuffer) {
        // SAFETY: callers flush first, so no pending work uses the buffer.
        unsafe {
            self.device.destroy_buffer(b.buffer, None);
            self.device.free_memory(b.memory, None);
        }
    }

    /// Copies through the staging buffer in chunks: `to_device` writes `data` at
    /// `offset`, else reads into it.
    pub(super) fn staged(
        &mut self,
        target: vk::Buffer,
        offset: u64,
        data: &mut [u8],
        to_device: bool,
    ) -> Result<()> {
        if self.staging.is_none() {
            self.staging = Some(self.create_buffer(STAGING_BYTES, true)?);
        }
        for (i, chunk) in data.chunks_mut(STAGING_BYTES as usize).enumerate() {
            let (stage, ptr) = match &self.staging {
                Some(VkBuffer {
                    buffer,
                    mapped: Some(p),
                    ..
                }) => (*buffer, *p),
                _ => {
                    return Err(Error::unsupported(
                        NAME,
                        "no host-visible memory for staging",
                    ))
                }
            };
            let at = offset + (i as u64) * STAGING_BYTES;
            let n = chunk.len() as u64;
            if to_device {
                // SAFETY: the staging allocation is mapped and holds STAGING_BYTES ≥ n.
                unsafe { std::ptr::copy_nonoverlapping(chunk.as_ptr(), ptr, chunk.len()) };
            }
            self.next_command()?;
            let (src, dst, region) = if to_device {
                (
                    stage,
                    target,
                    vk::BufferCopy {
                        src_offset: 0,
                        dst_offset: at,
                        size: n,
                    },
                )
            } else {
                (
                    target,
                    stage,
                    vk::BufferCopy {
                        src_offset: at,
                        dst_offset: 0,
                        size: n,
                    },
                )
            };
            // SAFETY: both buffers are alive and the region lies inside both.
            unsafe { self.device.cmd_copy_buffer(self.cmd, src, dst, &[region]) };
            self.flush()?;
            if !to_device {
                // SAFETY: as above; the copy has completed (flush waited).
                unsafe { std::ptr::copy_nonoverlapping(ptr, chunk.as_mut_ptr(), chunk.len()) };
            }
        }
        Ok(())
    }
}
