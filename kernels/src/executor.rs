//! The one executor: runs any plan on any `&mut dyn Device`.
//!
//! `prepare` does everything that must not be timed: it checks the plan fits the device,
//! allocates, uploads, and compiles each kernel from the best source the device accepts
//! (its dialects in its own order of preference; `Builtin` first where offered). `run`
//! then only enqueues, so a timed region holds launches and copies and nothing else.

use std::time::{Duration, Instant};

use halbench_hal::{Arg, Buffer, DType, Device, Dialect, Error, Kernel, Result};

use crate::custom::CustomKernel;
use crate::plan::{Launch, Output, Plan, PlanArg, Step};
use crate::sources;

/// A plan with its buffers allocated and kernels compiled. Frees its buffers on drop.
pub struct Prepared<'a> {
    device: &'a mut dyn Device,
    plan: &'a Plan,
    buffers: Vec<Buffer>,
    kernels: Vec<Kernel>,
    /// Per step: which of `kernels` it launches. Steps that launch the same kernel share
    /// one handle (a launch-latency plan enqueues the same kernel hundreds of times).
    step_kernels: Vec<Option<usize>>,
    host: Vec<u8>,
    /// Host ranges pinned for transfer steps, unpinned on drop.
    pinned: Vec<(*const u8, usize)>,
    /// Wall time spent compiling (or finding in the cache) this plan's kernels.
    pub compile_time: Duration,
}

impl std::fmt::Debug for Prepared<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("device", &self.device.info().key())
            .field("buffers", &self.buffers.len())
            .finish()
    }
}

/// The device's backend and dialects (best first), or `Unsupported` when it has no `dtype`.
fn dtype_dialects(
    device: &dyn Device,
    kernel: &str,
    dtype: DType,
) -> Result<(String, Vec<Dialect>)> {
    let info = device.info();
    if !info.supports(dtype) {
        return Err(Error::unsupported(
            &info.backend,
            format!("{} has no {dtype} support (kernel `{kernel}`)", info.key()),
        ));
    }
    Ok((info.backend.clone(), info.dialects.clone()))
}

/// Compiles a custom kernel for `dtype` from its first form the device accepts (in the
/// device's order of preference). Never falls back to the registry's kernel of the same
/// name: a row that says it ran the user's kernel ran it.
pub fn compile_custom(
    device: &mut dyn Device,
    kernel: &CustomKernel,
    dtype: DType,
    defines: &[(String, String)],
) -> Result<Kernel> {
    let (backend, dialects) = dtype_dialects(device, &kernel.name, dtype)?;
    for &dialect in &dialects {
        if let Some(source) = kernel.source(dialect, dtype, defines)? {
            return device.compile(&source);
        }
    }
    Err(kernel.no_form_reason(&backend, &dialects, dtype))
}

/// Compiles one launch's kernel: its custom kernel if it has one, else the registry's.
pub fn compile_launch(device: &mut dyn Device, launch: &Launch) -> Result<Kernel> {
    match &launch.custom {
        Some(k) => compile_custom(device, k, launch.dtype, &launch.defines),
        None => compile(device, launch.kernel, launch.dtype, &launch.defines),
    }
}

/// Compiles kernel `name` for `dtype` from the first source the device accepts.
pub fn compile(
    device: &mut dyn Device,
    name: &str,
    dtype: DType,
    defines: &[(String, String)],
) -> Result<Kernel> {
    let (backend, dialects) = dtype_dialects(device, name, dtype)?;
    let mut unsupported = None;
    for dialect in dialects {
        let Some(source) = sources::source(name, dialect, dtype, defines) else {
            continue;
        };
        match device.compile(&source) {
            Ok(kernel) => return Ok(kernel),
            Err(e @ Error::Unsupported { .. }) => unsupported = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(unsupported.unwrap_or_else(|| {
        Error::unsupported(
            &backend,
            format!("no source of kernel `{name}` for this device"),
        )
    }))
}

/// Allocates, uploads and compiles. Errors: `OutOfMemory` (checked against the device's
/// memory before any allocation), `Unsupported`, `Compile`, or whatever the device says.
pub fn prepare<'a>(device: &'a mut dyn Device, plan: &'a Plan) -> Result<Prepared<'a>> {
    let info = device.info();
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    let (need, have) = (plan.device_bytes(), info.memory_bytes);
    if have > 0 && need > have {
        return Err(Error::out_of_memory(
            &info.backend,
            format!(
                "the case needs {:.2} GiB of device memory, {} has {:.2} GiB",
                gib(need),
                info.key(),
                gib(have)
            ),
        ));
    }
    let host_need = plan.host_bytes()
        + if info.features.unified_memory {
            need
        } else {
            0
        };
    if let Some(available) =
        halbench_hal::host::meminfo_bytes("MemAvailable").filter(|&a| host_need > a)
    {
        return Err(Error::out_of_memory(
            &info.backend,
            format!(
                "the case needs {:.2} GiB of host memory (inputs, reference{}), {:.2} GiB is available",
                gib(host_need),
                if info.features.unified_memory { ", device buffers" } else { "" },
                gib(available)
            ),
        ));
    }
    let mut prepared = Prepared {
        device,
        plan,
        buffers: Vec::new(),
        kernels: Vec::new(),
        step_kernels: Vec::new(),
        host: Vec::new(),
        pinned: Vec::new(),
        compile_time: Duration::ZERO,
    };
    for spec in &plan.buffers {
        let buffer = prepared.device.alloc(spec.bytes)?;
        if spec.upload {
            prepared.device.write(&buffer, 0, spec.data())?;
        }
        prepared.buffers.push(buffer);
    }
    // Transfers go between device buffers and pinned host memory: the inputs a Write
    // step sends, and the host buffer a Read step fills (sized now, so it never moves).
    for step in &plan.steps {
        let host: &[u8] = match step {
            Step::Write { buffer } => plan.data(*buffer),
            Step::Read { buffer } => {
                prepared
                    .host
                    .resize(plan.buffers[*buffer].bytes as usize, 0);
                &prepared.host
            }
            _ => continue,
        };
        if !host.is_empty() {
            let range = (host.as_ptr(), host.len());
            prepared.device.pin(host)?;
            prepared.pinned.push(range);
        }
    }
    let start = Instant::now();
    // The launches whose kernel each handle in `kernels` was compiled for.
    let mut compiled: Vec<&Launch> = Vec::new();
    let same = |a: &Launch, b: &Launch| {
        a.kernel == b.kernel
            && a.dtype == b.dtype
            && a.defines == b.defines
            && match (&a.custom, &b.custom) {
                (None, None) => true,
                (Some(x), Some(y)) => std::sync::Arc::ptr_eq(x, y),
                _ => false,
            }
    };
    for step in &plan.steps {
        let index = match step {
            Step::Launch(launch) => Some(match compiled.iter().position(|k| same(k, launch)) {
                Some(i) => i,
                None => {
                    let handle = compile_launch(prepared.device, launch)?;
                    prepared.kernels.push(handle);
                    compiled.push(launch);
                    compiled.len() - 1
                }
            }),
            _ => None,
        };
        prepared.step_kernels.push(index);
    }
    prepared.compile_time = start.elapsed();
    Ok(prepared)
}

impl Prepared<'_> {
    pub fn device(&mut self) -> &mut dyn Device {
        self.device
    }

    pub fn plan(&self) -> &Plan {
        self.plan
    }

    /// True when runs are timed by the device's events: it has timers and the plan does
    /// not wait on the host (events cannot see the host waiting).
    pub fn device_timed(&self) -> bool {
        self.device.info().features.device_timers && !self.plan.host_waits()
    }

    /// The time of `iterations` runs back to back: between two device events when
    /// [`device_timed`](Self::device_timed), else on the host clock between two `sync`s.
    pub fn time_runs(&mut self, iterations: u64) -> Result<Duration> {
        if self.device_timed() {
            let start = self.device.record()?;
            for _ in 0..iterations {
                self.run()?;
            }
            let end = self.device.record()?;
            self.device.elapsed(start, end)
        } else {
            self.device.sync()?;
            let start = Instant::now();
            for _ in 0..iterations {
                self.run()?;
            }
            self.device.sync()?;
            Ok(start.elapsed())
        }
    }

    /// Enqueues every step once. Does not wait (but `Read` and `Write` block by nature).
    pub fn run(&mut self) -> Result<()> {
        for (step, kernel) in self.plan.steps.iter().zip(&self.step_kernels) {
            match (step, kernel.and_then(|k| self.kernels.get(k))) {
                (Step::Launch(Launch { dims, args, .. }), Some(kernel)) => {
                    let args: Vec<Arg<'_>> = args
                        .iter()
                        .map(|a| match *a {
                            PlanArg::Buffer(i) => Arg::Buffer(&self.buffers[i]),
                            PlanArg::U32(v) => Arg::U32(v),
                            PlanArg::I32(v) => Arg::I32(v),
                            PlanArg::F32(v) => Arg::F32(v),
                        })
                        .collect();
                    self.device.launch(kernel, *dims, &args)?;
                }
                (Step::Write { buffer }, _) => {
                    self.device
                        .write(&self.buffers[*buffer], 0, self.plan.data(*buffer))?;
                }
                (Step::Read { buffer }, _) => {
                    self.host
                        .resize(self.plan.buffers[*buffer].bytes as usize, 0);
                    self.device
                        .read(&self.buffers[*buffer], 0, &mut self.host)?;
                }
                (Step::Copy { src, dst }, _) => {
                    let bytes = self.plan.buffers[*src].bytes;
                    self.device
                        .copy(&self.buffers[*src], 0, &self.buffers[*dst], 0, bytes)?;
                }
                (Step::Sync, _) => self.device.sync()?,
                (Step::Launch(Launch { kernel, .. }), None) => {
                    return Err(Error::invalid(
                        &self.device.info().backend,
                        format!("kernel `{kernel}` was not prepared"),
                    ))
                }
            }
        }
        Ok(())
    }

    /// Waits for the device and returns the plan's output bytes.
    pub fn output(&mut self) -> Result<Vec<u8>> {
        self.device.sync()?;
        match self.plan.output {
            Output::HostRead => Ok(self.host.clone()),
            Output::Buffer(i) => {
                let mut out = vec![0u8; self.plan.buffers[i].bytes as usize];
                self.device.read(&self.buffers[i], 0, &mut out)?;
                Ok(out)
            }
        }
    }
}

impl Drop for Prepared<'_> {
    fn drop(&mut self) {
        for (ptr, len) in self.pinned.drain(..) {
            // SAFETY: each range was a live slice when pinned and is still alive: the plan
            // outlives self, and self.host is only resized to the same length.
            let host = unsafe { std::slice::from_raw_parts(ptr, len) };
            let _ = self.device.unpin(host);
        }
        for buffer in self.buffers.drain(..) {
            // A device that fails to free is already reporting errors elsewhere.
            let _ = self.device.free(buffer);
        }
    }
}
