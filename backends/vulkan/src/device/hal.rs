//! The HAL's `Device` trait on a Vulkan device, and its teardown.

use super::*;

impl Device for VkDevice {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn alloc(&mut self, bytes: u64) -> Result<Buffer> {
        checks::alloc_size(
            NAME,
            bytes,
            self.caps.max_allocation,
            "maxMemoryAllocationSize",
        )?;
        if self.stats.live_bytes + bytes > self.info.memory_bytes {
            return Err(Error::out_of_memory(
                NAME,
                format!(
                    "{bytes} bytes requested, {} of {} bytes already in use",
                    self.stats.live_bytes, self.info.memory_bytes
                ),
            ));
        }
        let b = self.create_buffer(bytes, self.info.features.unified_memory)?;
        let id = self.buffers.insert(b);
        self.stats.live_buffers += 1;
        self.stats.live_bytes += bytes;
        Ok(Buffer::from_raw(self.id, id))
    }

    fn free(&mut self, buffer: Buffer) -> Result<()> {
        self.buffer(&buffer)?;
        self.flush()?;
        let stale: Vec<_> = self
            .sets
            .keys()
            .filter(|(_, ids)| ids.contains(&buffer.id()))
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
        let b = self.buffers.remove(buffer.device(), buffer.id())?;
        self.stats.live_buffers -= 1;
        self.stats.live_bytes -= b.bytes;
        self.destroy_buffer(b);
        Ok(())
    }

    fn write(&mut self, dst: &Buffer, offset: u64, data: &[u8]) -> Result<()> {
        self.check_range(dst, offset, data.len() as u64, "write")?;
        self.flush()?;
        let (target, mapped) = {
            let b = self.buffer(dst)?;
            (b.buffer, b.mapped)
        };
        match mapped {
            // SAFETY: the range is inside the mapped allocation and the queue is drained.
            Some(p) => unsafe {
                std::ptr::copy_nonoverlapping(data.as_ptr(), p.add(offset as usize), data.len())
            },
            None => self.staged(target, offset, &mut data.to_vec(), true)?,
        }
        Ok(())
    }

    fn read(&mut self, src: &Buffer, offset: u64, out: &mut [u8]) -> Result<()> {
        self.check_range(src, offset, out.len() as u64, "read")?;
        self.flush()?;
        let (target, mapped) = {
            let b = self.buffer(src)?;
            (b.buffer, b.mapped)
        };
        match mapped {
            // SAFETY: as for write.
            Some(p) => unsafe {
                std::ptr::copy_nonoverlapping(p.add(offset as usize), out.as_mut_ptr(), out.len())
            },
            None => self.staged(target, offset, out, false)?,
        }
        Ok(())
    }

    fn copy(
        &mut self,
        src: &Buffer,
        src_offset: u64,
        dst: &Buffer,
        dst_offset: u64,
        bytes: u64,
    ) -> Result<()> {
        self.check_range(src, src_offset, bytes, "copy source")?;
        self.check_range(dst, dst_offset, bytes, "copy destination")?;
        checks::no_overlap(NAME, src.id() == dst.id(), src_offset, dst_offset, bytes)?;
        if bytes == 0 {
            return Ok(());
        }
        let (s, d) = (self.buffer(src)?.buffer, self.buffer(dst)?.buffer);
        self.next_command()?;
        let region = vk::BufferCopy {
            src_offset,
            dst_offset,
            size: bytes,
        };
        // SAFETY: both buffers are alive and the regions lie inside them.
        unsafe { self.device.cmd_copy_buffer(self.cmd, s, d, &[region]) };
        Ok(())
    }

    fn compile(&mut self, source: &KernelSource) -> Result<Kernel> {
        self.build_kernel(source)
    }

    fn launch(&mut self, kernel: &Kernel, dims: Dims, args: &[Arg<'_>]) -> Result<()> {
        let k = self.kernels.get(kernel.device(), kernel.id())?;
        let (name, bindings) = (k.name.clone(), k.bindings);
        let fail = |m: String| Error::invalid(NAME, format!("kernel `{name}`: {m}"));
        checks::launch(NAME, &name, &dims, self.info.max_threads_per_group)?;
        if (0..3).any(|i| dims.groups[i] > self.caps.max_groups[i]) {
            return Err(fail(format!(
                "{:?} groups exceeds maxComputeWorkGroupCount {:?}",
                dims.groups, self.caps.max_groups
            )));
        }
        let (mut buffers, mut ids, mut push) = (Vec::new(), Vec::new(), Vec::new());
        for arg in args {
            match arg {
                Arg::Buffer(b) => {
                    let vb = self.buffer(b).map_err(|e| fail(e.to_string()))?;
                    if vb.bytes > self.caps.max_storage_buffer_range {
                        return Err(Error::unsupported(NAME, format!("kernel `{name}`: a {}-byte buffer exceeds maxStorageBufferRange ({} bytes)", vb.bytes, self.caps.max_storage_buffer_range)));
                    }
                    buffers.push(vb.buffer);
                    ids.push(b.id());
                }
                Arg::U32(v) => push.extend(v.to_le_bytes()),
                Arg::I32(v) => push.extend(v.to_le_bytes()),
                Arg::F32(v) => push.extend(v.to_le_bytes()),
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
        let (pipeline, layout) = self.pipeline(kernel.id(), dims.threads)?;
        let set = self.descriptor_set(kernel.id(), &buffers, ids)?;
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

    fn record(&mut self) -> Result<Event> {
        if !self.info.features.device_timers {
            return Err(Error::unsupported(
                NAME,
                "device timers (timestamps on the compute queue)",
            ));
        }
        if self.next_query >= QUERIES {
            if !self.events.is_empty() {
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
        let id = self.events.insert(slot);
        Ok(Event::from_raw(self.id, id))
    }

    fn elapsed(&mut self, start: Event, end: Event) -> Result<Duration> {
        let a = self.events.remove(start.device(), start.id())?;
        let b = self.events.remove(end.device(), end.id())?;
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

    fn stats(&self) -> DeviceStats {
        self.stats
    }
}

impl Drop for VkDevice {
    fn drop(&mut self) {
        // SAFETY: waiting for idle first, then every object made from the device is
        // destroyed before the device; the instance is destroyed after (its own Drop).
        unsafe {
            let _ = self.device.device_wait_idle();
            for b in self.buffers.drain().chain(self.staging.take()) {
                self.device.destroy_buffer(b.buffer, None);
                self.device.free_memory(b.memory, None);
            }
            for k in self.kernels.drain() {
                for (_, p) in k.pipelines {
                    self.device.destroy_pipeline(p, None);
                }
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
