//! The primitives on a CUDA device, and its teardown.

use super::*;

impl Primitives for CudaDevice {
    type Memory = sys::CUdeviceptr;
    type Kernel = Compiled;
    type Timestamp = CuEvent;

    fn backend(&self) -> &'static str {
        NAME
    }

    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn alloc(&mut self, bytes: u64) -> Result<Self::Memory> {
        self.bind()?;
        // SAFETY: a plain device allocation in the current context, freed in release/Drop.
        let ptr = unsafe { result::malloc_sync(bytes as usize) }
            .map_err(|e| driver_error(&format!("cuMemAlloc of {bytes} bytes"), e))?;
        self.live.insert(ptr);
        Ok(ptr)
    }

    fn release(&mut self, _id: u64, ptr: Self::Memory) -> Result<()> {
        self.bind()?;
        self.stream_sync()?;
        self.live.remove(&ptr);
        // SAFETY: allocated by cuMemAlloc; no pending work uses it after the sync.
        unsafe { result::free_sync(ptr) }.map_err(|e| driver_error("cuMemFree", e))
    }

    fn write(&mut self, dst: &Self::Memory, offset: u64, data: &[u8]) -> Result<()> {
        self.bind()?;
        // SAFETY: the range lies inside the buffer; the sync keeps `data` alive long enough.
        unsafe { result::memcpy_htod_async(dst + offset, data, self.stream) }
            .map_err(|e| driver_error("cuMemcpyHtoDAsync", e))?;
        self.stream_sync()
    }

    fn read(&mut self, src: &Self::Memory, offset: u64, out: &mut [u8]) -> Result<()> {
        self.bind()?;
        // SAFETY: as for write; in stream order after earlier launches.
        unsafe { result::memcpy_dtoh_async(out, src + offset, self.stream) }
            .map_err(|e| driver_error("cuMemcpyDtoHAsync", e))?;
        self.stream_sync()
    }

    fn copy(&mut self, c: Copy<'_, Self::Memory>) -> Result<()> {
        self.bind()?;
        let (from, to) = (c.src + c.src_offset, c.dst + c.dst_offset);
        // SAFETY: both ranges lie inside live buffers of this context.
        unsafe { result::memcpy_dtod_async(to, from, c.bytes as usize, self.stream) }
            .map_err(|e| driver_error("cuMemcpyDtoDAsync", e))
    }

    fn build(&mut self, source: &KernelSource) -> Result<Built<Self::Kernel>> {
        let compiled = match source.dialect {
            Dialect::Builtin if source.name == GemmArgs::<()>::KERNEL => {
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
            _ => {
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
                Compiled::Function(func)
            }
        };
        Ok(Built::new(compiled))
    }

    fn launch(
        &mut self,
        kernel: &Self::Kernel,
        name: &str,
        dims: Dims,
        args: &[NativeArg<'_, Self::Memory>],
    ) -> Result<()> {
        let func = match kernel {
            Compiled::Function(func) => *func,
            Compiled::Gemm { dtype } => {
                self.bind()?;
                return self.gemm(*dtype, args);
            }
        };
        // Every parameter in an 8-byte slot: device pointers whole, 32-bit scalars in the
        // low half (little-endian), which is what cuLaunchKernel reads for them.
        let mut slots: Vec<u64> = args
            .iter()
            .map(|arg| match arg {
                NativeArg::Buffer(b) => *b.memory,
                NativeArg::U32(v) => u64::from(*v),
                NativeArg::I32(v) => u64::from(*v as u32),
                NativeArg::F32(v) => u64::from(v.to_bits()),
            })
            .collect();
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

    fn record(&mut self) -> Result<Self::Timestamp> {
        self.bind()?;
        let event = result::event::create(sys::CUevent_flags::CU_EVENT_DEFAULT)
            .map_err(|e| driver_error("cuEventCreate", e))?;
        let event = CuEvent(event);
        // SAFETY: event and stream belong to the current context.
        unsafe { result::event::record(event.0, self.stream) }
            .map_err(|e| driver_error("cuEventRecord", e))?;
        Ok(event)
    }

    fn elapsed(&mut self, a: Self::Timestamp, b: Self::Timestamp) -> Result<Duration> {
        self.bind()?;
        // SAFETY: both events were recorded on our stream; they are destroyed on drop.
        let ms = unsafe {
            result::event::synchronize(b.0).and_then(|_| result::event::elapsed(a.0, b.0))
        }
        .map_err(|e| driver_error("cuEventElapsedTime", e))?;
        Ok(Duration::from_secs_f64(f64::from(ms) / 1e3))
    }
}

impl Drop for CudaDevice {
    fn drop(&mut self) {
        // SAFETY: everything below was created in this context and is destroyed once.
        unsafe {
            let _ = result::ctx::set_current(self.ctx);
            let _ = result::stream::synchronize(self.stream);
            for ptr in self.live.drain() {
                let _ = result::free_sync(ptr);
            }
            for (ptr, _) in self.pinned.drain() {
                let _ = sys::cuMemHostUnregister(ptr as *mut c_void);
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
