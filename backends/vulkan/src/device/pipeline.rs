//! Pipelines (one per work-group size, specialised by name) and descriptor sets (cached
//! per kernel and buffer list).

use super::*;

impl VkDevice {
    pub(super) fn pipeline(
        &mut self,
        k: &VkKernel,
        name: &str,
        threads: [u32; 3],
    ) -> Result<vk::Pipeline> {
        if let Some(&p) = self.pipelines.get(&(k.shader, threads)) {
            return Ok(p);
        }
        let mut values: Vec<(u32, u32)> = vec![(0, threads[0]), (1, threads[1]), (2, threads[2])];
        values.extend(k.spec.iter().copied());
        let entries: Vec<vk::SpecializationMapEntry> = values
            .iter()
            .enumerate()
            .map(|(i, (id, _))| vk::SpecializationMapEntry {
                constant_id: *id,
                offset: (i * 4) as u32,
                size: 4,
            })
            .collect();
        let data: Vec<u8> = values.iter().flat_map(|(_, v)| v.to_le_bytes()).collect();
        let spec = vk::SpecializationInfo::default()
            .map_entries(&entries)
            .data(&data);
        let stage = vk::PipelineShaderStageCreateInfo::default()
            .stage(vk::ShaderStageFlags::COMPUTE)
            .module(k.shader)
            .name(c"main")
            .specialization_info(&spec);
        let info = vk::ComputePipelineCreateInfo::default()
            .stage(stage)
            .layout(k.layout);
        // SAFETY: module and layout are alive; the specialisation data outlives the call.
        let pipeline = unsafe {
            self.device
                .create_compute_pipelines(self.pipeline_cache, &[info], None)
        }
        .map_err(|(_, r)| Error::Compile {
            backend: NAME.into(),
            kernel: name.into(),
            dialect: Dialect::SpirV,
            log: format!("vkCreateComputePipelines for work-group {threads:?}: {r}"),
        })?[0];
        self.pipelines.insert((k.shader, threads), pipeline);
        Ok(pipeline)
    }

    pub(super) fn descriptor_set(
        &mut self,
        k: &VkKernel,
        buffers: &[vk::Buffer],
        ids: Vec<u64>,
    ) -> Result<vk::DescriptorSet> {
        let key = (k.set_layout, ids);
        if let Some(&set) = self.sets.get(&key) {
            return Ok(set);
        }
        let layouts = [k.set_layout];
        let info = vk::DescriptorSetAllocateInfo::default()
            .descriptor_pool(self.descriptor_pool)
            .set_layouts(&layouts);
        // SAFETY: pool and layout are alive.
        let set = match unsafe { self.device.allocate_descriptor_sets(&info) } {
            Ok(s) => s[0],
            Err(_) => {
                // Pool full: drain the queue, forget every cached set, try again.
                self.flush()?;
                // SAFETY: nothing pending uses the sets after the flush.
                unsafe {
                    self.device.reset_descriptor_pool(
                        self.descriptor_pool,
                        vk::DescriptorPoolResetFlags::empty(),
                    )
                }
                .map_err(|r| vk_error("vkResetDescriptorPool", r))?;
                self.sets.clear();
                // SAFETY: as above.
                unsafe { self.device.allocate_descriptor_sets(&info) }
                    .map_err(|r| vk_error("vkAllocateDescriptorSets", r))?[0]
            }
        };
        let infos: Vec<[vk::DescriptorBufferInfo; 1]> = buffers
            .iter()
            .map(|&b| {
                [vk::DescriptorBufferInfo {
                    buffer: b,
                    offset: 0,
                    range: vk::WHOLE_SIZE,
                }]
            })
            .collect();
        let writes: Vec<vk::WriteDescriptorSet> = infos
            .iter()
            .enumerate()
            .map(|(i, info)| {
                vk::WriteDescriptorSet::default()
                    .dst_set(set)
                    .dst_binding(i as u32)
                    .descriptor_type(vk::DescriptorType::STORAGE_BUFFER)
                    .buffer_info(info)
            })
            .collect();
        // SAFETY: the set and buffers are alive; the set is not in use yet.
        unsafe { self.device.update_descriptor_sets(&writes, &[]) };
        self.sets.insert(key, set);
        Ok(set)
    }

    /// Validates, reflects and wraps a SPIR-V module (pipelines come per work-group size).
    pub(super) fn build_kernel(&mut self, source: &KernelSource) -> Result<Built<VkKernel>> {
        let compile_error = |log: String| Error::Compile {
            backend: NAME.into(),
            kernel: source.name.clone(),
            dialect: Dialect::SpirV,
            log,
        };
        let module = spirv::parse(&source.code, &source.entry).map_err(compile_error)?;
        if let Some(feature) = missing_feature(&module.capabilities, &self.caps) {
            return Err(Error::unsupported(
                NAME,
                format!(
                    "kernel `{}` needs {feature}, which {} lacks",
                    source.name,
                    self.info.key()
                ),
            ));
        }
        // Defines name specialisation constants; those the module does not declare are
        // ignored, like an unused -D.
        let mut spec = Vec::new();
        for (name, value) in &source.defines {
            if let Some(&id) = module.spec_ids.get(name) {
                let bits = value
                    .parse::<u32>()
                    .or_else(|_| value.parse::<i32>().map(|v| v as u32))
                    .or_else(|_| value.parse::<f32>().map(f32::to_bits))
                    .map_err(|_| {
                        Error::invalid(NAME, format!("define {name}={value} is not a number"))
                    })?;
                spec.push((id, bits));
            }
        }
        let bindings: Vec<vk::DescriptorSetLayoutBinding> = (0..module.bindings)
            .map(|b| {
                vk::DescriptorSetLayoutBinding::default()
                    .binding(b)
                    .descriptor_type(vk::DescriptorType::STORAGE_BUFFER)
                    .descriptor_count(1)
                    .stage_flags(vk::ShaderStageFlags::COMPUTE)
            })
            .collect();
        // SAFETY: valid create infos; everything is destroyed in Drop (or here on failure).
        let (shader, set_layout, layout) = unsafe {
            let shader = self
                .device
                .create_shader_module(
                    &vk::ShaderModuleCreateInfo::default().code(&module.words),
                    None,
                )
                .map_err(|r| compile_error(format!("vkCreateShaderModule: {r}")))?;
            let set_layout = self
                .device
                .create_descriptor_set_layout(
                    &vk::DescriptorSetLayoutCreateInfo::default().bindings(&bindings),
                    None,
                )
                .map_err(|r| vk_error("vkCreateDescriptorSetLayout", r))?;
            let layouts = [set_layout];
            let ranges = [vk::PushConstantRange {
                stage_flags: vk::ShaderStageFlags::COMPUTE,
                offset: 0,
                size: PUSH_BYTES,
            }];
            let layout = self
                .device
                .create_pipeline_layout(
                    &vk::PipelineLayoutCreateInfo::default()
                        .set_layouts(&layouts)
                        .push_constant_ranges(&ranges),
                    None,
                )
                .map_err(|r| vk_error("vkCreatePipelineLayout", r))?;
            (shader, set_layout, layout)
        };
        let kernel = VkKernel {
            shader,
            set_layout,
            layout,
            bindings: module.bindings,
            spec,
        };
        self.built.push(kernel.clone());
        Ok(Built::new(kernel))
    }
}

/// The first device feature a module's capabilities need that the device lacks.
pub(crate) fn missing_feature(capabilities: &[u32], caps: &Caps) -> Option<&'static str> {
    [
        (CAPABILITY_FLOAT16, caps.float16, "shaderFloat16"),
        (CAPABILITY_INT16, caps.int16, "shaderInt16"),
        (
            CAPABILITY_STORAGE_16BIT,
            caps.storage16,
            "storageBuffer16BitAccess",
        ),
        (
            CAPABILITY_STORAGE_8BIT,
            caps.storage8,
            "storageBuffer8BitAccess",
        ),
    ]
    .into_iter()
    .find(|(cap, have, _)| capabilities.contains(cap) && !have)
    .map(|(_, _, feature)| feature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_16bit_feature_is_named() {
        let half = crate::spirv::parse(
            include_bytes!("../../../../kernels/spv/gemm_naive.f16.spv"),
            "main",
        )
        .unwrap();
        let full = Caps {
            storage16: true,
            float16: true,
            int16: true,
            ..Caps::default()
        };
        assert_eq!(missing_feature(&half.capabilities, &full), None);
        let no16 = Caps {
            storage16: false,
            ..full
        };
        assert_eq!(
            missing_feature(&half.capabilities, &no16),
            Some("storageBuffer16BitAccess")
        );
        let f32_module = crate::spirv::parse(
            include_bytes!("../../../../kernels/spv/gemm_naive.f32.spv"),
            "main",
        )
        .unwrap();
        assert_eq!(
            missing_feature(&f32_module.capabilities, &Caps::default()),
            None
        );
    }
}
