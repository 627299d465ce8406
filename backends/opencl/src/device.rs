//! One OpenCL device: its context, its one in-order profiling queue, and the slabs of
//! native objects behind the HAL's handles.

use std::collections::HashMap;
use std::ffi::c_void;
use std::ptr;
use std::time::Duration;

use halbench_hal::{
    checks, Arg, Buffer, Device, DeviceId, DeviceInfo, DeviceStats, Dialect, Dims, Error, Event,
    Kernel, KernelSource, Result, Slab,
};
use opencl3::command_queue::{
    enqueue_copy_buffer, enqueue_marker_with_wait_list, enqueue_nd_range_kernel,
    enqueue_read_buffer, enqueue_write_buffer, CommandQueue, CL_BLOCKING,
    CL_QUEUE_PROFILING_ENABLE,
};
use opencl3::context::Context;
use opencl3::device::Device as ClDeviceInfo;
use opencl3::error_codes::{
    CL_INVALID_BUFFER_SIZE, CL_INVALID_WORK_GROUP_SIZE, CL_MEM_OBJECT_ALLOCATION_FAILURE,
    CL_OUT_OF_HOST_MEMORY, CL_OUT_OF_RESOURCES,
};
use opencl3::event::{Event as ClEvent, CL_PROFILING_COMMAND_END};
use opencl3::kernel::{get_kernel_info, set_kernel_arg, Kernel as ClKernel, CL_KERNEL_NUM_ARGS};
use opencl3::memory::{Buffer as ClBuffer, ClMem, CL_MEM_READ_WRITE};
use opencl3::program::Program;
use opencl3::types::{cl_device_id, cl_event, cl_int, cl_mem};

use crate::{cl_error, NAME};

struct DeviceBuffer {
    mem: ClBuffer<u8>,
    bytes: u64,
}

struct CompiledKernel {
    name: String,
    kernel: ClKernel,
    num_args: u32,
}

/// An opened OpenCL device.
pub struct ClDevice {
    id: DeviceId,
    info: DeviceInfo,
    max_alloc: u64,
    // Field order is drop order: everything that lives in the context goes before it.
    buffers: Slab<DeviceBuffer>,
    kernels: Slab<CompiledKernel>,
    kernel_cache: HashMap<(Vec<u8>, String, String), u64>,
    programs: HashMap<(Vec<u8>, String), Program>,
    events: Slab<ClEvent>,
    queue: CommandQueue,
    context: Context,
    stats: DeviceStats,
}

impl std::fmt::Debug for ClDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClDevice({})", self.info.key())
    }
}

/// Takes ownership of an event an enqueue returned, releasing it.
fn release(event: cl_event) {
    drop(ClEvent::new(event));
}

impl ClDevice {
    pub(crate) fn open(device: cl_device_id, info: DeviceInfo) -> Result<Self> {
        let cl_device = ClDeviceInfo::new(device);
        let context =
            Context::from_device(&cl_device).map_err(|e| cl_error("clCreateContext", e.0))?;
        #[allow(deprecated)] // clCreateCommandQueue: the one call every OpenCL version has.
        let queue = CommandQueue::create_default(&context, CL_QUEUE_PROFILING_ENABLE)
            .map_err(|e| cl_error("clCreateCommandQueue", e.0))?;
        let id = DeviceId::fresh();
        Ok(ClDevice {
            id,
            max_alloc: cl_device.max_mem_alloc_size().unwrap_or(info.memory_bytes),
            info,
            buffers: Slab::new(NAME, "buffer", id),
            kernels: Slab::new(NAME, "kernel", id),
            kernel_cache: HashMap::new(),
            programs: HashMap::new(),
            events: Slab::new(NAME, "event", id),
            queue,
            context,
            stats: DeviceStats::default(),
        })
    }

    fn buffer(&self, handle: &Buffer) -> Result<&DeviceBuffer> {
        self.buffers.get(handle.device(), handle.id())
    }

    fn range(&self, handle: &Buffer, offset: u64, len: u64, what: &str) -> Result<cl_mem> {
        let b = self.buffer(handle)?;
        checks::range(NAME, b.bytes, offset, len, what)?;
        Ok(b.mem.get())
    }

    fn enqueue_error(&self, what: &str, code: cl_int) -> Error {
        match code {
            CL_MEM_OBJECT_ALLOCATION_FAILURE | CL_OUT_OF_RESOURCES | CL_OUT_OF_HOST_MEMORY => {
                Error::out_of_memory(
                    NAME,
                    format!("{what}: {}", opencl3::error_codes::error_text(code)),
                )
            }
            _ => cl_error(what, code),
        }
    }
}

impl Device for ClDevice {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn alloc(&mut self, bytes: u64) -> Result<Buffer> {
        checks::alloc_size(NAME, bytes, self.max_alloc, "CL_DEVICE_MAX_MEM_ALLOC_SIZE")?;
        if self.stats.live_bytes + bytes > self.info.memory_bytes {
            return Err(Error::out_of_memory(
                NAME,
                format!(
                    "{bytes} bytes requested, {} of {} bytes already in use",
                    self.stats.live_bytes, self.info.memory_bytes
                ),
            ));
        }
        // SAFETY: no host pointer is passed; the size is non-zero and checked above.
        let mem = unsafe {
            ClBuffer::<u8>::create(
                &self.context,
                CL_MEM_READ_WRITE,
                bytes as usize,
                ptr::null_mut(),
            )
        }
        .map_err(|e| match e.0 {
            CL_INVALID_BUFFER_SIZE => {
                Error::out_of_memory(NAME, format!("{bytes} bytes: CL_INVALID_BUFFER_SIZE"))
            }
            code => self.enqueue_error("clCreateBuffer", code),
        })?;
        let id = self.buffers.insert(DeviceBuffer { mem, bytes });
        self.stats.live_buffers += 1;
        self.stats.live_bytes += bytes;
        Ok(Buffer::from_raw(self.id, id))
    }

    fn free(&mut self, buffer: Buffer) -> Result<()> {
        let b = self.buffers.remove(buffer.device(), buffer.id())?;
        self.stats.live_buffers -= 1;
        self.stats.live_bytes -= b.bytes;
        Ok(())
    }

    fn write(&mut self, dst: &Buffer, offset: u64, data: &[u8]) -> Result<()> {
        let mem = self.range(dst, offset, data.len() as u64, "write")?;
        if data.is_empty() {
            return Ok(());
        }
        // SAFETY: the range lies inside the buffer; the write blocks, so `data` outlives it.
        let event = unsafe {
            enqueue_write_buffer(
                self.queue.get(),
                mem,
                CL_BLOCKING,
                offset as usize,
                data.len(),
                data.as_ptr() as *const c_void,
                0,
                ptr::null(),
            )
        }
        .map_err(|code| self.enqueue_error("clEnqueueWriteBuffer", code))?;
        release(event);
        Ok(())
    }

    fn read(&mut self, src: &Buffer, offset: u64, out: &mut [u8]) -> Result<()> {
        let mem = self.range(src, offset, out.len() as u64, "read")?;
        if out.is_empty() {
            return Ok(());
        }
        // SAFETY: as for write; the in-order queue runs it after earlier work.
        let event = unsafe {
            enqueue_read_buffer(
                self.queue.get(),
                mem,
                CL_BLOCKING,
                offset as usize,
                out.len(),
                out.as_mut_ptr() as *mut c_void,
                0,
                ptr::null(),
            )
        }
        .map_err(|code| self.enqueue_error("clEnqueueReadBuffer", code))?;
        release(event);
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
        let from = self.range(src, src_offset, bytes, "copy source")?;
        let to = self.range(dst, dst_offset, bytes, "copy destination")?;
        checks::no_overlap(NAME, src.id() == dst.id(), src_offset, dst_offset, bytes)?;
        if bytes == 0 {
            return Ok(());
        }
        // SAFETY: both ranges lie inside live buffers of this context.
        let event = unsafe {
            enqueue_copy_buffer(
                self.queue.get(),
                from,
                to,
                src_offset as usize,
                dst_offset as usize,
                bytes as usize,
                0,
                ptr::null(),
            )
        }
        .map_err(|code| self.enqueue_error("clEnqueueCopyBuffer", code))?;
        release(event);
        Ok(())
    }

    fn compile(&mut self, source: &KernelSource) -> Result<Kernel> {
        self.build_kernel(source)
    }

    fn launch(&mut self, kernel: &Kernel, dims: Dims, args: &[Arg<'_>]) -> Result<()> {
        let k = self.kernels.get(kernel.device(), kernel.id())?;
        let name = k.name.clone();
        let fail = |m: String| Error::invalid(NAME, format!("kernel `{name}`: {m}"));
        checks::launch(NAME, &name, &dims, self.info.max_threads_per_group)?;
        if args.len() != k.num_args as usize {
            return Err(fail(format!(
                "{} arguments given, the kernel takes {}",
                args.len(),
                k.num_args
            )));
        }
        let mems: Vec<Option<cl_mem>> = args
            .iter()
            .map(|a| match a {
                Arg::Buffer(b) => self.buffer(b).map(|b| Some(b.mem.get())),
                _ => Ok(None),
            })
            .collect::<Result<_>>()
            .map_err(|e| fail(e.to_string()))?;
        let raw = k.kernel.get();
        for (i, (arg, mem)) in args.iter().zip(&mems).enumerate() {
            // SAFETY: each pointer refers to a live value of the stated size for the call.
            // Pointers into `args` and `mems`, which outlive the call.
            let (size, value): (usize, *const c_void) = match (arg, mem) {
                (_, Some(m)) => (size_of::<cl_mem>(), ptr::from_ref::<cl_mem>(m).cast()),
                (Arg::U32(v), _) => (4, ptr::from_ref::<u32>(v).cast()),
                (Arg::I32(v), _) => (4, ptr::from_ref::<i32>(v).cast()),
                (Arg::F32(v), _) => (4, ptr::from_ref::<f32>(v).cast()),
                (Arg::Buffer(_), None) => continue,
            };
            // SAFETY: `value` points at a live value of `size` bytes for the call.
            let status = unsafe { set_kernel_arg(raw, i as u32, size, value) };
            status.map_err(|code| {
                fail(format!(
                    "argument {i}: {}",
                    opencl3::error_codes::error_text(code)
                ))
            })?;
        }
        let global: [usize; 3] =
            std::array::from_fn(|i| dims.groups[i] as usize * dims.threads[i] as usize);
        let local: [usize; 3] = dims.threads.map(|t| t as usize);
        // SAFETY: the kernel's arguments are all set; sizes are non-zero.
        let event = unsafe {
            enqueue_nd_range_kernel(
                self.queue.get(),
                raw,
                3,
                ptr::null(),
                global.as_ptr(),
                local.as_ptr(),
                0,
                ptr::null(),
            )
        }
        .map_err(|code| match code {
            CL_INVALID_WORK_GROUP_SIZE => fail(format!(
                "work-group size {:?} refused by the device",
                dims.threads
            )),
            code => self.enqueue_error(&format!("clEnqueueNDRangeKernel `{name}`"), code),
        })?;
        release(event);
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        self.queue.finish().map_err(|e| cl_error("clFinish", e.0))
    }

    fn record(&mut self) -> Result<Event> {
        // SAFETY: a marker with no wait list on our queue.
        let event = unsafe { enqueue_marker_with_wait_list(self.queue.get(), 0, ptr::null()) }
            .map_err(|code| cl_error("clEnqueueMarkerWithWaitList", code))?;
        let id = self.events.insert(ClEvent::new(event));
        Ok(Event::from_raw(self.id, id))
    }

    fn elapsed(&mut self, start: Event, end: Event) -> Result<Duration> {
        let a = self.events.remove(start.device(), start.id())?;
        let b = self.events.remove(end.device(), end.id())?;
        b.wait().map_err(|e| cl_error("clWaitForEvents", e.0))?;
        let time = |e: &ClEvent| {
            opencl3::event::get_event_profiling_info(e.get(), CL_PROFILING_COMMAND_END)
                .map(u64::from)
                .map_err(|code| cl_error("clGetEventProfilingInfo", code))
        };
        let (t0, t1) = (time(&a)?, time(&b)?);
        Ok(Duration::from_nanos(t1.saturating_sub(t0)))
    }

    fn stats(&self) -> DeviceStats {
        self.stats
    }
}

mod program;
