//! One OpenCL device: its context and its one in-order profiling queue, as the
//! primitives `hal::layer::Layered` checks and caches around.

use std::collections::HashMap;
use std::ffi::c_void;
use std::ptr;
use std::time::Duration;

use halbench_hal::layer::{AllocLimit, Built, Copy, Layered, NativeArg, Primitives};
use halbench_hal::{DeviceInfo, Dialect, Dims, Error, KernelSource, Result};
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

/// An opened OpenCL device's primitives; [`Layered`] keeps the contract around them.
pub struct ClDevice {
    info: DeviceInfo,
    max_alloc: u64,
    // Field order is drop order: everything that lives in the context goes before it.
    programs: HashMap<(Vec<u8>, String), Program>,
    queue: CommandQueue,
    context: Context,
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
    pub(crate) fn open(device: cl_device_id, info: DeviceInfo) -> Result<Layered<Self>> {
        let cl_device = ClDeviceInfo::new(device);
        let context =
            Context::from_device(&cl_device).map_err(|e| cl_error("clCreateContext", e.0))?;
        #[allow(deprecated)] // clCreateCommandQueue: the one call every OpenCL version has.
        let queue = CommandQueue::create_default(&context, CL_QUEUE_PROFILING_ENABLE)
            .map_err(|e| cl_error("clCreateCommandQueue", e.0))?;
        Ok(Layered::new(ClDevice {
            max_alloc: cl_device.max_mem_alloc_size().unwrap_or(info.memory_bytes),
            info,
            programs: HashMap::new(),
            queue,
            context,
        }))
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

impl Primitives for ClDevice {
    type Memory = ClBuffer<u8>;
    type Kernel = ClKernel;
    type Timestamp = ClEvent;

    fn backend(&self) -> &'static str {
        NAME
    }

    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn alloc_limit(&self) -> AllocLimit {
        AllocLimit {
            bytes: self.max_alloc,
            name: "CL_DEVICE_MAX_MEM_ALLOC_SIZE",
        }
    }

    fn alloc(&mut self, bytes: u64) -> Result<Self::Memory> {
        // SAFETY: no host pointer is passed; the size is non-zero and checked.
        unsafe {
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
        })
    }

    fn write(&mut self, dst: &Self::Memory, offset: u64, data: &[u8]) -> Result<()> {
        // SAFETY: the range lies inside the buffer; the write blocks, so `data` outlives it.
        let event = unsafe {
            enqueue_write_buffer(
                self.queue.get(),
                dst.get(),
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

    fn read(&mut self, src: &Self::Memory, offset: u64, out: &mut [u8]) -> Result<()> {
        // SAFETY: as for write; the in-order queue runs it after earlier work.
        let event = unsafe {
            enqueue_read_buffer(
                self.queue.get(),
                src.get(),
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

    fn copy(&mut self, c: Copy<'_, Self::Memory>) -> Result<()> {
        // SAFETY: both ranges lie inside live buffers of this context.
        let event = unsafe {
            enqueue_copy_buffer(
                self.queue.get(),
                c.src.get(),
                c.dst.get(),
                c.src_offset as usize,
                c.dst_offset as usize,
                c.bytes as usize,
                0,
                ptr::null(),
            )
        }
        .map_err(|code| self.enqueue_error("clEnqueueCopyBuffer", code))?;
        release(event);
        Ok(())
    }

    fn build(&mut self, source: &KernelSource) -> Result<Built<Self::Kernel>> {
        self.build_kernel(source)
    }

    fn launch(
        &mut self,
        kernel: &Self::Kernel,
        name: &str,
        dims: Dims,
        args: &[NativeArg<'_, Self::Memory>],
    ) -> Result<()> {
        let fail = |m: String| Error::invalid(NAME, format!("kernel `{name}`: {m}"));
        let raw = kernel.get();
        let mems: Vec<Option<cl_mem>> = args
            .iter()
            .map(|a| match a {
                NativeArg::Buffer(b) => Some(b.memory.get()),
                _ => None,
            })
            .collect();
        for (i, (arg, mem)) in args.iter().zip(&mems).enumerate() {
            // Pointers into `args` and `mems`, which outlive the call.
            let (size, value): (usize, *const c_void) = match (arg, mem) {
                (_, Some(m)) => (size_of::<cl_mem>(), ptr::from_ref::<cl_mem>(m).cast()),
                (NativeArg::U32(v), _) => (4, ptr::from_ref::<u32>(v).cast()),
                (NativeArg::I32(v), _) => (4, ptr::from_ref::<i32>(v).cast()),
                (NativeArg::F32(v), _) => (4, ptr::from_ref::<f32>(v).cast()),
                (NativeArg::Buffer(_), None) => continue,
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

    fn record(&mut self) -> Result<Self::Timestamp> {
        // SAFETY: a marker with no wait list on our queue.
        let event = unsafe { enqueue_marker_with_wait_list(self.queue.get(), 0, ptr::null()) }
            .map_err(|code| cl_error("clEnqueueMarkerWithWaitList", code))?;
        Ok(ClEvent::new(event))
    }

    fn elapsed(&mut self, a: Self::Timestamp, b: Self::Timestamp) -> Result<Duration> {
        b.wait().map_err(|e| cl_error("clWaitForEvents", e.0))?;
        let time = |e: &ClEvent| {
            opencl3::event::get_event_profiling_info(e.get(), CL_PROFILING_COMMAND_END)
                .map(u64::from)
                .map_err(|code| cl_error("clGetEventProfilingInfo", code))
        };
        let (t0, t1) = (time(&a)?, time(&b)?);
        Ok(Duration::from_nanos(t1.saturating_sub(t0)))
    }
}

mod program;
