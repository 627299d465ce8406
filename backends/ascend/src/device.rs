//! One Ascend device: one stream, device memory from `aclrtMalloc`, blocking transfers
//! ordered after the stream, events for timing, and the builtin kernels through aclnn's
//! two-phase calls (`…GetWorkspaceSize`, then the operator on the stream).

use std::ffi::{c_void, CString};
use std::sync::Arc;
use std::time::Duration;

use halbench_hal::{
    checks, Arg, Buffer, DType, Device, DeviceId, DeviceInfo, DeviceStats, Dialect, Dims, Error,
    Event, Kernel, KernelSource, Result, Slab,
};

use crate::acl::*;
use crate::NAME;

/// A builtin kernel: what it computes, for which dtype.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Op {
    StreamCopy,
    Matmul(DType),
    Prefill(DType),
    Decode(DType),
}

#[derive(Debug)]
pub(crate) struct AscendDevice {
    acl: Arc<Acl>,
    ordinal: i32,
    id: DeviceId,
    info: DeviceInfo,
    stream: Stream,
    buffers: Slab<(*mut c_void, u64)>,
    kernels: Slab<Op>,
    events: Slab<AclEvent>,
    /// Causal masks by sequence length, made once (u8, 1 = masked).
    masks: Vec<(u64, *mut c_void)>,
    compiles: u64,
}

// SAFETY: ACL handles may be used from any thread once the device is current there;
// `&mut self` on every call keeps one thread at a time, and each call makes it current.
unsafe impl Send for AscendDevice {}

pub(crate) fn check(acl: &Acl, code: AclError, what: &str) -> Result<()> {
    if code == 0 {
        return Ok(());
    }
    let detail = acl.recent_message();
    let message = format!("{what} failed with ACL error {code}: {detail}");
    // Whatever code a failed allocation returns, the caller can act on it as memory.
    Err(if what.starts_with("aclrtMalloc") {
        Error::out_of_memory(NAME, message)
    } else {
        Error::Backend {
            backend: NAME.into(),
            code: i64::from(code),
            message,
        }
    })
}

impl AscendDevice {
    pub(crate) fn open(acl: Arc<Acl>, ordinal: i32, info: DeviceInfo) -> Result<Self> {
        // SAFETY: plain ACL calls with valid out-pointers.
        unsafe {
            check(&acl, (acl.aclrtSetDevice)(ordinal), "aclrtSetDevice")?;
            let mut stream: Stream = std::ptr::null_mut();
            check(
                &acl,
                (acl.aclrtCreateStream)(&mut stream),
                "aclrtCreateStream",
            )?;
            let id = DeviceId::fresh();
            Ok(AscendDevice {
                ordinal,
                id,
                info,
                stream,
                buffers: Slab::new(NAME, "buffer", id),
                kernels: Slab::new(NAME, "kernel", id),
                events: Slab::new(NAME, "event", id),
                masks: Vec::new(),
                compiles: 0,
                acl,
            })
        }
    }

    fn ok(&self, code: AclError, what: &str) -> Result<()> {
        check(&self.acl, code, what)
    }

    fn current(&self) -> Result<()> {
        // SAFETY: a valid ordinal (it opened).
        self.ok(
            unsafe { (self.acl.aclrtSetDevice)(self.ordinal) },
            "aclrtSetDevice",
        )
    }

    fn buffer(&self, b: &Buffer) -> Result<(*mut c_void, u64)> {
        self.buffers.get(b.device(), b.id()).copied()
    }

    fn wait(&self) -> Result<()> {
        // SAFETY: the stream is this device's.
        self.ok(
            unsafe { (self.acl.aclrtSynchronizeStream)(self.stream) },
            "aclrtSynchronizeStream",
        )
    }

    /// Phase two of an aclnn call: workspace (if any), then the operator on the stream.
    fn run_op(
        &mut self,
        what: &str,
        workspace: u64,
        executor: Executor,
        op: unsafe extern "C" fn(*mut c_void, u64, Executor, Stream) -> AclError,
    ) -> Result<()> {
        let mut ws: *mut c_void = std::ptr::null_mut();
        if workspace > 0 {
            // SAFETY: out-pointer valid; freed below after the stream drains.
            let code = unsafe {
                (self.acl.aclrtMalloc)(&mut ws, workspace as usize, ACL_MEM_MALLOC_HUGE_FIRST)
            };
            self.ok(code, "aclrtMalloc (workspace)")?;
        }
        // SAFETY: executor from phase one; workspace of the size it asked for.
        let result = self.ok(unsafe { op(ws, workspace, executor, self.stream) }, what);
        if !ws.is_null() {
            // The workspace must outlive the operator: wait before freeing it.
            let waited = self.wait();
            // SAFETY: allocated above, no longer in use.
            unsafe { (self.acl.aclrtFree)(ws) };
            waited?;
        }
        result
    }

    pub(crate) fn matmul(
        &mut self,
        dtype: DType,
        [a, b, c]: [*mut c_void; 3],
        m: u64,
        n: u64,
        k: u64,
    ) -> Result<()> {
        let t = acl_dtype(dtype);
        let (m, n, k) = (m as i64, n as i64, k as i64);
        let mut owned = Tensors::new(&self.acl);
        let ta = owned.tensor(&[m, k], t, a)?;
        let tb = owned.tensor(&[k, n], t, b)?;
        let tc = owned.tensor(&[m, n], t, c)?;
        let mut workspace = 0u64;
        let mut executor: Executor = std::ptr::null_mut();
        // SAFETY: tensors made above; out-pointers valid.
        let code = unsafe {
            (self.acl.aclnnMatmulGetWorkspaceSize)(
                ta,
                tb,
                tc,
                KEEP_DTYPE,
                &mut workspace,
                &mut executor,
            )
        };
        self.ok(code, "aclnnMatmulGetWorkspaceSize")?;
        self.run_op("aclnnMatmul", workspace, executor, self.acl.aclnnMatmul)
    }

    fn causal_mask(&mut self, s: u64) -> Result<*mut c_void> {
        if let Some(&(_, p)) = self.masks.iter().find(|(len, _)| *len == s) {
            return Ok(p);
        }
        let bytes = (s * s) as usize;
        let mask: Vec<u8> = (0..s * s).map(|x| u8::from(x % s > x / s)).collect();
        let mut p: *mut c_void = std::ptr::null_mut();
        // SAFETY: out-pointer valid; copies `bytes` from a live host vector.
        unsafe {
            self.ok(
                (self.acl.aclrtMalloc)(&mut p, bytes, ACL_MEM_MALLOC_HUGE_FIRST),
                "aclrtMalloc (mask)",
            )?;
            self.ok(
                (self.acl.aclrtMemcpy)(
                    p,
                    bytes,
                    mask.as_ptr().cast(),
                    bytes,
                    ACL_MEMCPY_HOST_TO_DEVICE,
                ),
                "aclrtMemcpy (mask)",
            )?;
        }
        self.masks.push((s, p));
        Ok(p)
    }

    /// aclnn's fused inference attention, BNSD: q `[B,H,Sq,D]`, K/V `[B,Hkv,Skv,D]`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn attention(
        &mut self,
        dtype: DType,
        bufs: [*mut c_void; 4],
        [b, h, hkv, sq, skv, d]: [u64; 6],
        causal: bool,
        scale: f32,
    ) -> Result<()> {
        let t = acl_dtype(dtype);
        let [b, h, hkv, sq, skv, d] = [b, h, hkv, sq, skv, d].map(|v| v as i64);
        let mask = if causal {
            Some(self.causal_mask(sq as u64)?)
        } else {
            None
        };
        let mut owned = Tensors::new(&self.acl);
        let mask = match mask {
            Some(p) => owned.tensor(&[sq, skv], ACL_UINT8, p)?,
            None => std::ptr::null_mut(),
        };
        let q = owned.tensor(&[b, h, sq, d], t, bufs[0])?;
        let kl = owned.list(&[b, hkv, skv, d], t, bufs[1])?;
        let vl = owned.list(&[b, hkv, skv, d], t, bufs[2])?;
        let o = owned.tensor(&[b, h, sq, d], t, bufs[3])?;
        let layout = CString::new("BNSD").unwrap_or_default();
        let null: Tensor = std::ptr::null_mut();
        let mut workspace = 0u64;
        let mut executor: Executor = std::ptr::null_mut();
        // SAFETY: every tensor is live or NULL (optional); out-pointers valid.
        let code = unsafe {
            (self.acl.aclnnFusedInferAttentionScoreGetWorkspaceSize)(
                q,
                kl,
                vl,
                null,
                mask,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                h,
                f64::from(scale),
                i64::from(i32::MAX),
                if causal { 0 } else { i64::from(i32::MAX) },
                layout.as_ptr(),
                hkv,
                0,
                0,
                0,
                0,
                false,
                o,
                null,
                &mut workspace,
                &mut executor,
            )
        };
        self.ok(code, "aclnnFusedInferAttentionScoreGetWorkspaceSize")?;
        self.run_op(
            "aclnnFusedInferAttentionScore",
            workspace,
            executor,
            self.acl.aclnnFusedInferAttentionScore,
        )
    }
}

/// The aclTensor and aclTensorList objects of one operator call, destroyed on every path
/// out of it (the operator has been enqueued by then; it holds what it needs).
struct Tensors {
    acl: Arc<Acl>,
    tensors: Vec<Tensor>,
    lists: Vec<TensorList>,
}

impl Tensors {
    fn new(acl: &Arc<Acl>) -> Self {
        Tensors {
            acl: acl.clone(),
            tensors: Vec::new(),
            lists: Vec::new(),
        }
    }

    /// A row-major ND tensor over device memory.
    fn tensor(&mut self, dims: &[i64], dtype: i32, data: *mut c_void) -> Result<Tensor> {
        let mut strides = vec![1i64; dims.len()];
        for i in (0..dims.len().saturating_sub(1)).rev() {
            strides[i] = strides[i + 1] * dims[i + 1];
        }
        // SAFETY: dims and strides outlive the call; data is device memory of this device.
        let t = unsafe {
            (self.acl.aclCreateTensor)(
                dims.as_ptr(),
                dims.len() as u64,
                dtype,
                strides.as_ptr(),
                0,
                ACL_FORMAT_ND,
                dims.as_ptr(),
                dims.len() as u64,
                data,
            )
        };
        if t.is_null() {
            return Err(Error::Backend {
                backend: NAME.into(),
                code: 0,
                message: format!(
                    "aclCreateTensor {dims:?} failed: {}",
                    self.acl.recent_message()
                ),
            });
        }
        self.tensors.push(t);
        Ok(t)
    }

    /// A one-tensor list (the list owns its tensor from then on).
    fn list(&mut self, dims: &[i64], dtype: i32, data: *mut c_void) -> Result<TensorList> {
        let t = self.tensor(dims, dtype, data)?;
        // SAFETY: a one-element array of a live tensor.
        let l = unsafe { (self.acl.aclCreateTensorList)(&t, 1) };
        if l.is_null() {
            return Err(Error::Backend {
                backend: NAME.into(),
                code: 0,
                message: format!("aclCreateTensorList failed: {}", self.acl.recent_message()),
            });
        }
        self.tensors.pop();
        self.lists.push(l);
        Ok(l)
    }
}

impl Drop for Tensors {
    fn drop(&mut self) {
        // SAFETY: each object was made by this owner and is destroyed once.
        unsafe {
            for l in self.lists.drain(..) {
                (self.acl.aclDestroyTensorList)(l);
            }
            for t in self.tensors.drain(..) {
                (self.acl.aclDestroyTensor)(t);
            }
        }
    }
}

fn acl_dtype(d: DType) -> i32 {
    match d {
        DType::F32 => ACL_FLOAT,
        DType::F16 => ACL_FLOAT16,
        DType::BF16 => ACL_BF16,
    }
}

impl Drop for AscendDevice {
    fn drop(&mut self) {
        // SAFETY: every object below is this device's, destroyed once.
        unsafe {
            let _ = (self.acl.aclrtSetDevice)(self.ordinal);
            let _ = (self.acl.aclrtSynchronizeStream)(self.stream);
            for (p, _) in self.buffers.drain() {
                (self.acl.aclrtFree)(p);
            }
            for (_, p) in self.masks.drain(..) {
                (self.acl.aclrtFree)(p);
            }
            for e in self.events.drain() {
                (self.acl.aclrtDestroyEvent)(e);
            }
            (self.acl.aclrtDestroyStream)(self.stream);
            (self.acl.aclrtResetDevice)(self.ordinal);
        }
    }
}

fn u(args: &[Arg<'_>], i: usize) -> Result<u64> {
    match args.get(i) {
        Some(Arg::U32(v)) => Ok(u64::from(*v)),
        _ => Err(Error::invalid(
            NAME,
            format!("argument {i} should be a u32"),
        )),
    }
}

impl Device for AscendDevice {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn alloc(&mut self, bytes: u64) -> Result<Buffer> {
        checks::alloc_size(NAME, bytes, self.info.memory_bytes, "device memory")?;
        self.current()?;
        let mut p: *mut c_void = std::ptr::null_mut();
        // SAFETY: out-pointer valid.
        let code =
            unsafe { (self.acl.aclrtMalloc)(&mut p, bytes as usize, ACL_MEM_MALLOC_HUGE_FIRST) };
        self.ok(code, "aclrtMalloc")?;
        Ok(Buffer::from_raw(self.id, self.buffers.insert((p, bytes))))
    }

    fn free(&mut self, buffer: Buffer) -> Result<()> {
        let (p, _) = self.buffers.remove(buffer.device(), buffer.id())?;
        self.wait()?;
        // SAFETY: allocated by aclrtMalloc, removed from the slab: freed once.
        self.ok(unsafe { (self.acl.aclrtFree)(p) }, "aclrtFree")
    }

    fn write(&mut self, dst: &Buffer, offset: u64, data: &[u8]) -> Result<()> {
        let (p, size) = self.buffer(dst)?;
        let r = checks::range(NAME, size, offset, data.len() as u64, "write")?;
        self.wait()?;
        // SAFETY: the range was checked against the allocation.
        let code = unsafe {
            (self.acl.aclrtMemcpy)(
                p.cast::<u8>().add(r.start as usize).cast(),
                (size - r.start) as usize,
                data.as_ptr().cast(),
                data.len(),
                ACL_MEMCPY_HOST_TO_DEVICE,
            )
        };
        self.ok(code, "aclrtMemcpy (host to device)")
    }

    fn read(&mut self, src: &Buffer, offset: u64, out: &mut [u8]) -> Result<()> {
        let (p, size) = self.buffer(src)?;
        let r = checks::range(NAME, size, offset, out.len() as u64, "read")?;
        self.wait()?;
        // SAFETY: as above.
        let code = unsafe {
            (self.acl.aclrtMemcpy)(
                out.as_mut_ptr().cast(),
                out.len(),
                p.cast::<u8>().add(r.start as usize).cast(),
                out.len(),
                ACL_MEMCPY_DEVICE_TO_HOST,
            )
        };
        self.ok(code, "aclrtMemcpy (device to host)")
    }

    fn copy(
        &mut self,
        src: &Buffer,
        src_offset: u64,
        dst: &Buffer,
        dst_offset: u64,
        bytes: u64,
    ) -> Result<()> {
        let ((s, ssize), (d, dsize)) = (self.buffer(src)?, self.buffer(dst)?);
        let rs = checks::range(NAME, ssize, src_offset, bytes, "copy source")?;
        let rd = checks::range(NAME, dsize, dst_offset, bytes, "copy destination")?;
        checks::no_overlap(NAME, src.id() == dst.id(), rs.start, rd.start, bytes)?;
        // SAFETY: both ranges checked.
        let code = unsafe {
            (self.acl.aclrtMemcpyAsync)(
                d.cast::<u8>().add(rd.start as usize).cast(),
                (dsize - rd.start) as usize,
                s.cast::<u8>().add(rs.start as usize).cast(),
                bytes as usize,
                ACL_MEMCPY_DEVICE_TO_DEVICE,
                self.stream,
            )
        };
        self.ok(code, "aclrtMemcpyAsync (device to device)")
    }

    fn compile(&mut self, source: &KernelSource) -> Result<Kernel> {
        if source.dialect != Dialect::Builtin {
            return Err(Error::unsupported(
                NAME,
                format!("dialect {}", source.dialect),
            ));
        }
        let dtype = match source.define("T").unwrap_or("f32") {
            "f32" => DType::F32,
            "f16" => DType::F16,
            "bf16" => DType::BF16,
            other => {
                return Err(Error::Compile {
                    backend: NAME.into(),
                    kernel: source.name.clone(),
                    dialect: Dialect::Builtin,
                    log: format!("unknown dtype T={other}"),
                })
            }
        };
        let op = match (source.name.as_str(), dtype) {
            ("stream_copy", DType::F32) => Op::StreamCopy,
            ("gemm_vendor", d) => Op::Matmul(d),
            ("attn_prefill_vendor", d) => Op::Prefill(d),
            ("attn_decode_vendor", d) => Op::Decode(d),
            (name, d) => {
                return Err(Error::unsupported(
                    NAME,
                    format!("no aclnn kernel for `{name}` ({d})"),
                ))
            }
        };
        self.compiles += 1;
        Ok(Kernel::from_raw(self.id, self.kernels.insert(op)))
    }

    fn launch(&mut self, kernel: &Kernel, _dims: Dims, args: &[Arg<'_>]) -> Result<()> {
        let op = *self.kernels.get(kernel.device(), kernel.id())?;
        let mut sized = Vec::new();
        for a in args {
            if let Arg::Buffer(b) = a {
                sized.push(self.buffer(b)?);
            }
        }
        let ptrs: Vec<*mut c_void> = sized.iter().map(|b| b.0).collect();
        let bufs = ptrs.len();
        let scalars: Vec<Arg<'_>> = args
            .iter()
            .filter(|a| !matches!(a, Arg::Buffer(_)))
            .copied()
            .collect();
        let need = |n: usize| {
            if bufs == n {
                Ok(())
            } else {
                Err(Error::invalid(
                    NAME,
                    format!("{op:?} takes {n} buffers, got {bufs}"),
                ))
            }
        };
        self.current()?;
        match op {
            Op::StreamCopy => {
                need(2)?;
                let n = u(&scalars, 0)? * 4;
                if n > sized[0].1.min(sized[1].1) {
                    return Err(Error::invalid(
                        NAME,
                        format!("stream_copy of {n} bytes overruns its buffers"),
                    ));
                }
                // SAFETY: n bytes lie in both buffers (checked above).
                let code = unsafe {
                    (self.acl.aclrtMemcpyAsync)(
                        ptrs[1],
                        sized[1].1 as usize,
                        ptrs[0],
                        n as usize,
                        ACL_MEMCPY_DEVICE_TO_DEVICE,
                        self.stream,
                    )
                };
                self.ok(code, "aclrtMemcpyAsync (stream_copy)")
            }
            Op::Matmul(d) => {
                need(3)?;
                let (m, n, k) = (u(&scalars, 0)?, u(&scalars, 1)?, u(&scalars, 2)?);
                self.matmul(d, [ptrs[0], ptrs[1], ptrs[2]], m, n, k)
            }
            Op::Prefill(d) => {
                need(4)?;
                let [b, h, hkv, s, dd, causal] = [0, 1, 2, 3, 4, 5].map(|i| u(&scalars, i));
                let scale = match scalars.get(6) {
                    Some(Arg::F32(v)) => *v,
                    _ => return Err(Error::invalid(NAME, "argument 6 should be the f32 scale")),
                };
                let s = s?;
                self.attention(
                    d,
                    [ptrs[0], ptrs[1], ptrs[2], ptrs[3]],
                    [b?, h?, hkv?, s, s, dd?],
                    causal? != 0,
                    scale,
                )
            }
            Op::Decode(d) => {
                need(4)?;
                let [b, h, hkv, l, dd] = [0, 1, 2, 3, 4].map(|i| u(&scalars, i));
                let scale = match scalars.get(5) {
                    Some(Arg::F32(v)) => *v,
                    _ => return Err(Error::invalid(NAME, "argument 5 should be the f32 scale")),
                };
                self.attention(
                    d,
                    [ptrs[0], ptrs[1], ptrs[2], ptrs[3]],
                    [b?, h?, hkv?, 1, l?, dd?],
                    false,
                    scale,
                )
            }
        }
    }

    fn sync(&mut self) -> Result<()> {
        self.wait()
    }

    fn record(&mut self) -> Result<Event> {
        let mut e: AclEvent = std::ptr::null_mut();
        // SAFETY: out-pointer valid; recorded on this device's stream.
        unsafe {
            self.ok((self.acl.aclrtCreateEvent)(&mut e), "aclrtCreateEvent")?;
            self.ok(
                (self.acl.aclrtRecordEvent)(e, self.stream),
                "aclrtRecordEvent",
            )?;
        }
        Ok(Event::from_raw(self.id, self.events.insert(e)))
    }

    fn elapsed(&mut self, start: Event, end: Event) -> Result<Duration> {
        let s = self.events.remove(start.device(), start.id());
        let e = self.events.remove(end.device(), end.id());
        let destroy = |acl: &Acl, ev: &Result<AclEvent>| {
            if let Ok(ev) = ev {
                // SAFETY: created by aclrtCreateEvent, removed from the slab: destroyed once.
                unsafe { (acl.aclrtDestroyEvent)(*ev) };
            }
        };
        let result = (|| {
            let (s, e) = (s.clone()?, e.clone()?);
            let mut ms = 0f32;
            // SAFETY: both events recorded on this stream.
            unsafe {
                self.ok((self.acl.aclrtSynchronizeEvent)(e), "aclrtSynchronizeEvent")?;
                self.ok(
                    (self.acl.aclrtEventElapsedTime)(&mut ms, s, e),
                    "aclrtEventElapsedTime",
                )?;
            }
            Ok(Duration::from_secs_f64(f64::from(ms.max(0.0)) / 1e3))
        })();
        destroy(&self.acl, &s);
        destroy(&self.acl, &e);
        result
    }

    fn stats(&self) -> DeviceStats {
        DeviceStats {
            compiles: self.compiles,
            compile_cache_hits: 0,
            live_buffers: self.buffers.len() as u64,
            live_bytes: self.buffers.iter().map(|(_, (_, b))| *b).sum(),
        }
    }
}
