//! The primitives on a Vulkan device, and its teardown.

use super::*;

impl Primitives for VkDevice {
    type Memory = VkBuffer;
    type Kernel = VkKernel;
    type Timestamp = u32;

    fn backend(&self) -> &'static str {
        NAME
    }

    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn alloc_limit(&self) -> AllocLimit {
        AllocLimit {
            bytes: self.caps.max_allocation,
            name: "maxMemoryAllocationSize",
        }
    }

    fn alloc(&mut self, bytes: u64) -> Result<VkBuffer> {
        let b = self.create_buffer(bytes, self.info.features.unified_memory)?;
        self.live.insert(b.buffer, b.memory);
        Ok(b)
    }

    fn release(&mut self, id: u64, b: VkBuffer) -> Result<()> {
        self.flush()?;
        let stale: Vec<_> = self
            .sets
            .keys()
            .filter(|(_, ids)| ids.contains(&id))
            .cloned()
            .collect();
        for key in stale {
            if let Some(set) = self.sets.remove(&key) {
                // SAFETY: the queue is drained, so the set is not in use.
                unsafe {
                    self.device
                        .free_descriptor_sets(self.descriptor_pool, &[set])
                }
                .map_err(|r| vk_error("vkFreeDescriptorSets", r))?;
            }
        }
        self.live.remove(&b.buffer);
        self.destroy_buffer(b);
        Ok(())
    }

    fn write(&mut self, dst: &VkBuffer, offset: u64, data: &[u8]) -> Result<()> {
        self.flush()?;
        match dst.mapped {
            // SAFETY: the range is inside the mapped allocation and the queue is drained.
            Some(p) => unsafe {
                std::ptr::copy_nonoverlapping(data.as_ptr(), p.add(offset as usize), data.len())
            },
            None => self.staged(dst.buffer, offset, &mut data.to_vec(), true)?,
        }
        Ok(())
    }

    fn read(&mut self, src: &VkBuffer, offset: u64, out: &mut [u8]) -> Result<()> {
        self.flush()?;
        match src.mapped {
            // SAFETY: as for write.
            Some(p) => unsafe {
                std::ptr::copy_nonoverlapping(p.add(offset as usize), out.as_mut_ptr(), out.len())
            },
            None => self.staged(src.buffer, offset, out, false)?,
        }
        Ok(())
    }

    fn copy(&mut self, c: Copy<'_, VkBuffer>) -> Result<()> {
        self.next_command()?;
        let region = vk::BufferCopy {
            src_offset: c.src_offset,
            dst_offset: c.dst_offset,
            size: c.bytes,
        };
        // SAFETY: both buffers are alive and the regions lie inside them.
        unsafe {
            self.device
                .cmd_copy_buffer(self.cmd, c.src.buffer, c.dst.buffer, &[region])
        };
        Ok(())
    }

    fn build(&mut self, source: &KernelSource) -> Result<Built<VkKernel>> {
        self.build_kernel(source)
    }

    fn launch(
        &mut self,
        kernel: &VkKernel,
        name: &str,
        dims: Dims,
        args: &[NativeArg<'_, VkBuffer>],
    ) -> Result<()> {
        let bindings = kernel.bindings;
        let fail = |m: String| Error::invalid(NAME, format!("kernel `{name}`: {m}"));
        let (mut buffers, mut ids, mut push) = (Vec::new(), Vec::new(), Vec::new());
        for arg in args {
            match arg {
                NativeArg::Buffer(b) => {
                    let range = self.caps.max_storage_buffer_range;
                    if b.bytes > range {
                        return Err(Error::unsupported(
                            NAME,
                            format!(
                                "kernel `{name}`: a {}-byte buffer exceeds maxStorageBufferRange ({range} bytes)",
                                b.bytes
                            ),
                        ));
                    }
                    buffers.push(b.memory.buffer);
                    ids.push(b.id);
                }
                NativeArg::U32(v) => push.extend(v.to_le_bytes()),
                NativeArg::I32(v) => push.extend(v.to_le_bytes()),
                NativeArg::F32(v) => push.extend(v.to_le_bytes()),
            }
        }
        if buffers.len() != bindings as usize {
            return Err(fail(format!(
                "{} buffers given, the shader binds {bindings}",
                buffers.len()
            )));
        }
        if push.len() > PUSH_BYTES as usize {
            return Err(fail(format!(
                "{} bytes of scalars exceed {PUSH_BYTES}",
                push.len()
            )));
        }
        let pipeline = self.pipeline(kernel, name, dims.threads)?;
        let (layout, set) = (kernel.layout, self.descriptor_set(kernel, &buffers, ids)?);
        self.next_command()?;
        // SAFETY: pipeline, layout and set are alive and compatible; the command buffer
        // is recording.
        unsafe {
            self.device
                .cmd_bind_pipeline(self.cmd, vk::PipelineBindPoint::COMPUTE, pipeline);
            self.device.cmd_bind_descriptor_sets(
                self.cmd,
                vk::PipelineBindPoint::COMPUTE,
                layout,
                0,
                &[set],
                &[],
            );
            if !push.is_empty() {
                self.device.cmd_push_constants(
                    self.cmd,
                    layout,
                    vk::ShaderStageFlags::COMPUTE,
                    0,
                    &push,
                );
            }
            self.device
                .cmd_dispatch(self.cmd, dims.groups[0], dims.groups[1], dims.groups[2]);
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        self.flush()
    }

    fn record(&mut self) -> Result<u32> {
        if self.next_query >= QUERIES {
            if self.outstanding > 0 {
                return Err(Error::invalid(
                    NAME,
                    format!("more than {QUERIES} events outstanding"),
                ));
            }
            self.flush()?;
            // SAFETY: host query reset is enabled (device_timers requires it) and no
            // query is in use after the flush.
            unsafe { self.device.reset_query_pool(self.query_pool, 0, QUERIES) };
            self.next_query = 0;
        }
        let slot = self.next_query;
        self.next_query += 1;
        // The barrier in next_command makes the timestamp wait for earlier work, and the
        // barrier before the following command keeps later work from starting before it.
        self.next_command()?;
        // SAFETY: the slot is reset and unused; the command buffer is recording.
        unsafe {
            self.device.cmd_write_timestamp(
                self.cmd,
                vk::PipelineStageFlags::BOTTOM_OF_PIPE,
                self.query_pool,
                slot,
            )
        };
        self.outstanding += 1;
        Ok(slot)
    }

    fn discard(&mut self, _slot: u32) {
        self.outstanding -= 1;
    }

    fn elapsed(&mut self, a: u32, b: u32) -> Result<Duration> {
        self.outstanding -= 2;
        self.flush()?;
        let mut ticks = [0u64; 1];
        let mut read = |slot: u32| {
            // SAFETY: the slot was written by a completed submission.
            unsafe {
                self.device.get_query_pool_results(
                    self.query_pool,
                    slot,
                    &mut ticks,
                    vk::QueryResultFlags::TYPE_64 | vk::QueryResultFlags::WAIT,
                )
            }
            .map(|_| ticks[0])
            .map_err(|r| vk_error("vkGetQueryPoolResults", r))
        };
        let (t0, t1) = (read(a)?, read(b)?);
        let bits = self.caps.timestamp_valid_bits;
        let mask = if bits >= 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        let delta = t1.wrapping_sub(t0) & mask;
        Ok(Duration::from_nanos(
            (delta as f64 * f64::from(self.caps.timestamp_period)) as u64,
        ))
    }
}

impl Drop for VkDevice {
    fn drop(&mut self) {
        // SAFETY: waiting for idle first, then every object made from the device is
        // destroyed before the device; the instance is destroyed after (its own Drop).
        unsafe {
            let _ = self.device.device_wait_idle();
            let staging = self.staging.take().map(|b| (b.buffer, b.memory));
            for (buffer, memory) in self.live.drain().chain(staging) {
                self.device.destroy_buffer(buffer, None);
                self.device.free_memory(memory, None);
            }
            for (_, p) in self.pipelines.drain() {
                self.device.destroy_pipeline(p, None);
            }
            for k in self.built.drain(..) {
                self.device.destroy_pipeline_layout(k.layout, None);
                self.device
                    .destroy_descriptor_set_layout(k.set_layout, None);
                self.device.destroy_shader_module(k.shader, None);
            }
            self.device
                .destroy_pipeline_cache(self.pipeline_cache, None);
            self.device.destroy_query_pool(self.query_pool, None);
            self.device
                .destroy_descriptor_pool(self.descriptor_pool, None);
            self.device.destroy_fence(self.fence, None);
            self.device.destroy_command_pool(self.command_pool, None);
            self.device.destroy_device(None);
        }
        let _ = &self.instance;
    }
}
