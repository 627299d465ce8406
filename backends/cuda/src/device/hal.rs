//! The HAL's `Device` trait on a CUDA device, and its teardown.

use super::*;

impl Device for CudaDevice {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn alloc(&mut self, bytes: u64) -> Result<Buffer> {
        checks::alloc_size(NAME, bytes, self.info.memory_bytes, "the device's memory")?;
        self.bind()?;
        // SAFETY: a plain device allocation in the current context, freed in free/Drop.
        let ptr = unsafe { result::malloc_sync(bytes as usize) }
            .map_err(|e| driver_error(&format!("cuMemAlloc of {bytes} bytes"), e))?;
        let id = self.buffers.insert((ptr, bytes));
        self.stats.live_buffers += 1;
        self.stats.live_bytes += bytes;
        Ok(Buffer::from_raw(self.id, id))
    }

    fn free(&mut self, buffer: Buffer) -> Result<()> {
        self.address(&buffer, 0, 0, "free")?;
        self.bind()?;
        self.stream_sync()?;
        let (ptr, bytes) = self.buffers.remove(buffer.device(), buffer.id())?;
        self.stats.live_buffers -= 1;
        self.stats.live_bytes -= bytes;
        // SAFETY: allocated by cuMemAlloc; no pending work uses it after the sync.
        unsafe { result::free_sync(ptr) }.map_err(|e| driver_error("cuMemFree", e))
    }

    fn write(&mut self, dst: &Buffer, offset: u64, data: &[u8]) -> Result<()> {
        let to = self.address(dst, offset, data.len() as u64, "write")?;
        if data.is_empty() {
            return Ok(());
        }
        self.bind()?;
        // SAFETY: the range lies inside the buffer; the sync keeps `data` alive long enough.
        unsafe { result::memcpy_htod_async(to, data, self.stream) }
            .map_err(|e| driver_error("cuMemcpyHtoDAsync", e))?;
        self.stream_sync()
    }

    fn read(&mut self, src: &Buffer, offset: u64, out: &mut [u8]) -> Result<()> {
        let from = self.address(src, offset, out.len() as u64, "read")?;
        if out.is_empty() {
            return Ok(());
        }
        self.bind()?;
        // SAFETY: as for write; in stream order after earlier launches.
        unsafe { result::memcpy_dtoh_async(out, from, self.stream) }
            .map_err(|e| driver_error("cuMemcpyDtoHAsync", e))?;
        self.stream_sync()
    }

    fn copy(
        &mut self,
        src: &Buffer,
        src_offset: u64,
        dst: &Buffer,
        dst_offset: u64,
        bytes: u64,
    ) -> Result<()> {
        let from = self.address(src, src_offset, bytes, "copy source")?;
        let to = self.address(dst, dst_offset, bytes, "copy destination")?;
        checks::no_overlap(NAME, src.id() == dst.id(), src_offset, dst_offset, bytes)?;
        if bytes == 0 {
            return Ok(());
        }
        self.bind()?;
        // SAFETY: both ranges lie inside live buffers of this context.
        unsafe { result::memcpy_dtod_async(to, from, bytes as usize, self.stream) }
            .map_err(|e| driver_error("cuMemcpyDtoDAsync", e))
    }

    fn compile(&mut self, source: &KernelSource) -> Result<Kernel> {
        let key = (
            source.code.to_vec(),
            source.defines.clone(),
            source.entry.clone(),
            source.dialect,
        );
        if let Some(&id) = self.kernel_cache.get(&key) {
            self.stats.compile_cache_hits += 1;
            return Ok(Kernel::from_raw(self.id, id));
        }
        let compiled = match source.dialect {
            Dialect::Builtin if source.name == "gemm_vendor" => {
                let t = source.define("T").unwrap_or("f32");
                let dtype = t.parse::<DType>().map_err(|log| Error::Compile {
                    backend: NAME.into(),
                    kernel: source.name.clone(),
                    dialect: Dialect::Builtin,
                    log,
                })?;
                Compiled::Gemm { dtype }
            }
            Dialect::Builtin => {
                return Err(Error::unsupported(
                    NAME,
                    format!("no builtin kernel `{}`", source.name),
                ))
            }
            Dialect::CudaC => {
                self.bind()?;
                let module_key = (source.code.to_vec(), source.defines.clone());
                let module = match self.modules.get(&module_key) {
                    Some(&m) => m,
                    None => {
                        let arch = self
                            .info
                            .extras
                            .get("arch")
                            .cloned()
                            .unwrap_or_else(|| "sm_80".into());
                        let ptx = nvrtc::compile(source, &arch)?;
                        let text = CString::new(ptx.to_src())
                            .map_err(|_| Error::invalid(NAME, "PTX with a NUL byte"))?;
                        // SAFETY: a NUL-terminated PTX image.
                        let m = unsafe { result::module::load_data(text.as_ptr().cast()) }
                            .map_err(|e| Error::Compile {
                                backend: NAME.into(),
                                kernel: source.name.clone(),
                                dialect: Dialect::CudaC,
                                log: format!("cuModuleLoadData: {}", driver_error("load", e)),
                            })?;
                        self.modules.insert(module_key, m);
                        m
                    }
                };
                let entry = CString::new(source.entry.clone())
                    .map_err(|_| Error::invalid(NAME, "entry name with a NUL byte"))?;
                // SAFETY: the module is loaded in the current context.
                let func = unsafe { result::module::get_function(module, entry) }.map_err(|e| {
                    Error::Compile {
                        backend: NAME.into(),
                        kernel: source.name.clone(),
                        dialect: Dialect::CudaC,
                        log: format!(
                            "no kernel `{}` in the module: {}",
                            source.entry,
                            driver_error("cuModuleGetFunction", e)
                        ),
                    }
                })?;
                Compiled::Function {
                    name: source.name.clone(),
                    func,
                }
            }
            other => {
                return Err(Error::unsupported(
                    NAME,
                    format!(
                        "kernel `{}`: CUDA takes CUDA C or builtins, not {other}",
                        source.name
                    ),
                ))
            }
        };
        let id = self.kernels.insert(compiled);
        self.kernel_cache.insert(key, id);
        self.stats.compiles += 1;
        Ok(Kernel::from_raw(self.id, id))
    }

    fn launch(&mut self, kernel: &Kernel, dims: Dims, args: &[Arg<'_>]) -> Result<()> {
        let (name, func) = match self.kernels.get(kernel.device(), kernel.id())? {
            Compiled::Function { name, func } => (name.clone(), *func),
            Compiled::Gemm { dtype } => {
                let dtype = *dtype;
                self.bind()?;
                return self.gemm(dtype, args);
            }
        };
        let fail = |m: String| Error::invalid(NAME, format!("kernel `{name}`: {m}"));
        checks::launch(NAME, &name, &dims, self.info.max_threads_per_group)?;
        if dims.threads[2] > 64 {
            return Err(fail(format!("block {:?}: z is at most 64", dims.threads)));
        }
        if dims.groups[1] > 65_535 || dims.groups[2] > 65_535 {
            return Err(fail(format!(
                "grid {:?} exceeds 65535 in y or z",
                dims.groups
            )));
        }
        // Every parameter in an 8-byte slot: device pointers whole, 32-bit scalars in the
        // low half (little-endian), which is what cuLaunchKernel reads for them.
        let mut slots = Vec::with_capacity(args.len());
        for arg in args {
            slots.push(match arg {
                Arg::Buffer(b) => self
                    .address(b, 0, 0, "argument")
                    .map_err(|e| fail(e.to_string()))?,
                Arg::U32(v) => u64::from(*v),
                Arg::I32(v) => u64::from(*v as u32),
                Arg::F32(v) => u64::from(v.to_bits()),
            });
        }
        let mut params: Vec<*mut c_void> =
            slots.iter_mut().map(|s| (s as *mut u64).cast()).collect();
        self.bind()?;
        // SAFETY: the function belongs to this context; `params` points into `slots`, which
        // outlives the call; the argument list follows the kernel ABI.
        unsafe {
            result::launch_kernel(
                func,
                (dims.groups[0], dims.groups[1], dims.groups[2]),
                (dims.threads[0], dims.threads[1], dims.threads[2]),
                0,
                self.stream,
                &mut params,
            )
        }
        .map_err(|e| driver_error(&format!("cuLaunchKernel `{name}`"), e))
    }

    fn sync(&mut self) -> Result<()> {
        self.bind()?;
        self.stream_sync()
    }

    fn pin(&mut self, host: &[u8]) -> Result<()> {
        if host.is_empty() || self.pinned.contains_key(&(host.as_ptr() as usize)) {
            return Ok(());
        }
        self.bind()?;
        // SAFETY: registers a live host range; it is unregistered in unpin or Drop, and
        // the HAL's contract keeps it allocated until then.
        unsafe {
            sys::cuMemHostRegister_v2(
                host.as_ptr() as *mut c_void,
                host.len(),
                sys::CU_MEMHOSTREGISTER_PORTABLE,
            )
        }
        .result()
        .map_err(|e| driver_error("cuMemHostRegister", e))?;
        self.pinned.insert(host.as_ptr() as usize, host.len());
        Ok(())
    }

    fn unpin(&mut self, host: &[u8]) -> Result<()> {
        if self.pinned.remove(&(host.as_ptr() as usize)).is_none() {
            return Err(Error::invalid(
                NAME,
                "unpin of host memory that was not pinned",
            ));
        }
        self.bind()?;
        self.stream_sync()?;
        // SAFETY: the range was registered by pin.
        unsafe { sys::cuMemHostUnregister(host.as_ptr() as *mut c_void) }
            .result()
            .map_err(|e| driver_error("cuMemHostUnregister", e))
    }

    fn record(&mut self) -> Result<Event> {
        self.bind()?;
        let event = result::event::create(sys::CUevent_flags::CU_EVENT_DEFAULT)
            .map_err(|e| driver_error("cuEventCreate", e))?;
        // SAFETY: event and stream belong to the current context.
        unsafe { result::event::record(event, self.stream) }
            .map_err(|e| driver_error("cuEventRecord", e))?;
        let id = self.events.insert(event);
        Ok(Event::from_raw(self.id, id))
    }

    fn elapsed(&mut self, start: Event, end: Event) -> Result<Duration> {
        let a = self.events.remove(start.device(), start.id())?;
        let b = match self.events.remove(end.device(), end.id()) {
            Ok(b) => b,
            Err(e) => {
                // SAFETY: `a` came out of the slab, so nothing else destroys it.
                let _ = unsafe { result::event::destroy(a) };
                return Err(e);
            }
        };
        self.bind()?;
        // SAFETY: both events were recorded on our stream; destroyed once, here.
        unsafe {
            let ms = result::event::synchronize(b).and_then(|_| result::event::elapsed(a, b));
            let _ = result::event::destroy(a);
            let _ = result::event::destroy(b);
            let ms = ms.map_err(|e| driver_error("cuEventElapsedTime", e))?;
            Ok(Duration::from_secs_f64(f64::from(ms) / 1e3))
        }
    }

    fn stats(&self) -> DeviceStats {
        self.stats
    }
}

impl Drop for CudaDevice {
    fn drop(&mut self) {
        // SAFETY: everything below was created in this context and is destroyed once.
        unsafe {
            let _ = result::ctx::set_current(self.ctx);
            let _ = result::stream::synchronize(self.stream);
            for (ptr, _) in self.buffers.drain() {
                let _ = result::free_sync(ptr);
            }
            for (ptr, _) in self.pinned.drain() {
                let _ = sys::cuMemHostUnregister(ptr as *mut c_void);
            }
            for e in self.events.drain() {
                let _ = result::event::destroy(e);
            }
            for (_, m) in self.modules.drain() {
                let _ = result::module::unload(m);
            }
            if let Some(h) = self.cublas.take() {
                let _ = blas::destroy_handle(h);
            }
            let _ = result::stream::destroy(self.stream);
            let _ = result::primary_ctx::release(self.dev);
        }
    }
}
