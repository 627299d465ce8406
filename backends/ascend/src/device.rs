//! One Ascend device: one stream, device memory from `aclrtMalloc`, blocking transfers
//! ordered after the stream, events for timing, and the builtin kernels through aclnn's
//! two-phase calls (`…GetWorkspaceSize`, then the operator on the stream).

use std::ffi::{c_void, CString};
use std::sync::Arc;
use std::time::Duration;

use std::collections::HashSet;

use halbench_hal::layer::{Built, Copy, Layered, Native, NativeArg, Primitives};
use halbench_hal::ops::{
    AttnDecodeArgs, AttnPagedArgs, AttnPrefillArgs, BuiltinArgs, GemmArgs, GemmGroupedArgs,
    StreamCopyArgs,
};
use halbench_hal::{DType, DeviceInfo, Dims, Error, KernelSource, Result};

use crate::acl::*;
use crate::paged::PagedKv;
use crate::NAME;

/// A builtin kernel: what it computes, for which dtype.
#[derive(Debug, Clone, Copy)]
pub enum Op {
    StreamCopy,
    Matmul(DType),
    Prefill(DType),
    Decode(DType),
    Paged(DType),
    Grouped(DType),
}

/// Device memory from aclrtMalloc.
#[derive(Debug)]
pub struct AclMemory(pub(crate) *mut c_void);

// SAFETY: a device address; the device's `&mut self` serialises every use.
unsafe impl Send for AclMemory {}

/// A recorded event.
#[derive(Debug)]
pub struct AclTimestamp(AclEvent);

// SAFETY: as for AclMemory.
unsafe impl Send for AclTimestamp {}

/// The primitives of one Ascend device; [`Layered`] keeps the contract around them.
#[derive(Debug)]
pub struct AscendDevice {
    acl: Arc<Acl>,
    ordinal: i32,
    info: DeviceInfo,
    stream: Stream,
    /// Every live allocation and event, for teardown.
    live: HashSet<usize>,
    events: HashSet<usize>,
    /// Causal masks by sequence length, made once (u8, 1 = masked).
    masks: Vec<(u64, *mut c_void)>,
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
    pub(crate) fn open(acl: Arc<Acl>, ordinal: i32, info: DeviceInfo) -> Result<Layered<Self>> {
        // SAFETY: plain ACL calls with valid out-pointers.
        unsafe {
            check(&acl, (acl.aclrtSetDevice)(ordinal), "aclrtSetDevice")?;
            let mut stream: Stream = std::ptr::null_mut();
            check(
                &acl,
                (acl.aclrtCreateStream)(&mut stream),
                "aclrtCreateStream",
            )?;
            Ok(Layered::new(AscendDevice {
                ordinal,
                info,
                stream,
                live: HashSet::new(),
                events: HashSet::new(),
                masks: Vec::new(),
                acl,
            }))
        }
    }

    pub(crate) fn acl(&self) -> &Arc<Acl> {
        &self.acl
    }

    /// `n` u32 values of a device buffer, copied to the host once the stream has drained.
    pub(crate) fn host_u32(
        &self,
        buf: Native<'_, AclMemory>,
        n: u64,
        what: &str,
    ) -> Result<Vec<u32>> {
        let src = sized(buf, n * 4, what)?;
        self.wait()?;
        let mut out = vec![0u32; n as usize];
        let bytes = out.len() * 4;
        // SAFETY: `bytes` lie in the buffer (checked above) and in `out`.
        let code = unsafe {
            (self.acl.aclrtMemcpy)(
                out.as_mut_ptr().cast(),
                bytes,
                src,
                bytes,
                ACL_MEMCPY_DEVICE_TO_HOST,
            )
        };
        self.ok(code, &format!("aclrtMemcpy ({what} to the host)"))?;
        Ok(out)
    }

    pub(crate) fn ok(&self, code: AclError, what: &str) -> Result<()> {
        check(&self.acl, code, what)
    }

    fn current(&self) -> Result<()> {
        // SAFETY: a valid ordinal (it opened).
        self.ok(
            unsafe { (self.acl.aclrtSetDevice)(self.ordinal) },
            "aclrtSetDevice",
        )
    }

    pub(crate) fn wait(&self) -> Result<()> {
        // SAFETY: the stream is this device's.
        self.ok(
            unsafe { (self.acl.aclrtSynchronizeStream)(self.stream) },
            "aclrtSynchronizeStream",
        )
    }

    /// Phase two of an aclnn call: workspace (if any), then the operator on the stream.
    pub(crate) fn run_op(
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
        let t = acl_dtype(dtype)?;
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

    /// aclnn's fused inference attention, BNSD: q `[B,H,Sq,D]`, K/V `[B,Hkv,Skv,D]`, or
    /// with `paged` K/V `[blocks,Hkv,page,D]` through a block table.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn attention(
        &mut self,
        dtype: DType,
        bufs: [*mut c_void; 4],
        [b, h, hkv, sq, skv, d]: [u64; 6],
        causal: bool,
        scale: f32,
        paged: Option<&PagedKv>,
    ) -> Result<()> {
        let t = acl_dtype(dtype)?;
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
        let kv_dims = match paged {
            Some(p) => [p.blocks, hkv, p.page, d],
            None => [b, hkv, skv, d],
        };
        let kl = owned.list(&kv_dims, t, bufs[1])?;
        let vl = owned.list(&kv_dims, t, bufs[2])?;
        let o = owned.tensor(&[b, h, sq, d], t, bufs[3])?;
        let layout = CString::new("BNSD").unwrap_or_default();
        let null: Tensor = std::ptr::null_mut();
        let (table, lens, block) = match paged {
            Some(p) => (
                owned.tensor(&[b, p.max_pages], ACL_INT32, p.table)?,
                owned.ints(&p.lens)?,
                p.page,
            ),
            None => (null, std::ptr::null_mut(), 0),
        };
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
                lens,
                null,
                null,
                null,
                null,
                null,
                null,
                null,
                table,
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
                block,
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
pub(crate) struct Tensors {
    acl: Arc<Acl>,
    tensors: Vec<Tensor>,
    lists: Vec<TensorList>,
    arrays: Vec<IntArray>,
}

impl Tensors {
    pub(crate) fn new(acl: &Arc<Acl>) -> Self {
        Tensors {
            acl: acl.clone(),
            tensors: Vec::new(),
            lists: Vec::new(),
            arrays: Vec::new(),
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

    /// A host array of integers (aclnn's sequence lengths).
    pub(crate) fn ints(&mut self, values: &[i64]) -> Result<IntArray> {
        // SAFETY: values outlive the call; aclnn copies them.
        let a = unsafe { (self.acl.aclCreateIntArray)(values.as_ptr(), values.len() as u64) };
        if a.is_null() {
            return Err(Error::Backend {
                backend: NAME.into(),
                code: 0,
                message: format!("aclCreateIntArray failed: {}", self.acl.recent_message()),
            });
        }
        self.arrays.push(a);
        Ok(a)
    }

    /// A list of tensors of one dtype, each `(dims, data)` (the list owns them from then on).
    pub(crate) fn list_of(
        &mut self,
        parts: &[(Vec<i64>, *mut c_void)],
        dtype: i32,
    ) -> Result<TensorList> {
        let mut made = Vec::with_capacity(parts.len());
        for (dims, data) in parts {
            made.push(self.tensor(dims, dtype, *data)?);
        }
        // SAFETY: an array of live tensors.
        let l = unsafe { (self.acl.aclCreateTensorList)(made.as_ptr(), made.len() as u64) };
        if l.is_null() {
            return Err(Error::Backend {
                backend: NAME.into(),
                code: 0,
                message: format!("aclCreateTensorList failed: {}", self.acl.recent_message()),
            });
        }
        self.tensors.truncate(self.tensors.len() - made.len());
        self.lists.push(l);
        Ok(l)
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
            for a in self.arrays.drain(..) {
                (self.acl.aclDestroyIntArray)(a);
            }
        }
    }
}

pub(crate) fn acl_dtype(d: DType) -> Result<i32> {
    match d {
        DType::F32 => Ok(ACL_FLOAT),
        DType::F16 => Ok(ACL_FLOAT16),
        DType::BF16 => Ok(ACL_BF16),
        other => Err(Error::unsupported(
            NAME,
            format!("no aclnn type for {other}"),
        )),
    }
}

impl Drop for AscendDevice {
    fn drop(&mut self) {
        // SAFETY: every object below is this device's, destroyed once.
        unsafe {
            let _ = (self.acl.aclrtSetDevice)(self.ordinal);
            let _ = (self.acl.aclrtSynchronizeStream)(self.stream);
            for p in self.live.drain() {
                (self.acl.aclrtFree)(p as *mut c_void);
            }
            for (_, p) in self.masks.drain(..) {
                (self.acl.aclrtFree)(p);
            }
            for e in self.events.drain() {
                (self.acl.aclrtDestroyEvent)(e as AclEvent);
            }
            (self.acl.aclrtDestroyStream)(self.stream);
            (self.acl.aclrtResetDevice)(self.ordinal);
        }
    }
}

/// A builtin's arguments, typed by the op's own decoder.
pub(crate) fn decode<'a, A: BuiltinArgs<Native<'a, AclMemory>>>(
    args: &[NativeArg<'a, AclMemory>],
) -> Result<A> {
    A::decode(args).map_err(|e| Error::invalid(NAME, e))
}

/// A buffer's address, after checking it holds `len` bytes.
pub(crate) fn sized(b: Native<'_, AclMemory>, len: u64, what: &str) -> Result<*mut c_void> {
    halbench_hal::checks::range(NAME, b.bytes, 0, len, what).map(|_| b.memory.0)
}

impl Primitives for AscendDevice {
    type Memory = AclMemory;
    type Kernel = Op;
    type Timestamp = AclTimestamp;

    fn backend(&self) -> &'static str {
        NAME
    }

    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn alloc(&mut self, bytes: u64) -> Result<AclMemory> {
        self.current()?;
        let mut p: *mut c_void = std::ptr::null_mut();
        // SAFETY: out-pointer valid.
        let code =
            unsafe { (self.acl.aclrtMalloc)(&mut p, bytes as usize, ACL_MEM_MALLOC_HUGE_FIRST) };
        self.ok(code, "aclrtMalloc")?;
        self.live.insert(p as usize);
        Ok(AclMemory(p))
    }

    fn release(&mut self, _id: u64, memory: AclMemory) -> Result<()> {
        self.wait()?;
        self.live.remove(&(memory.0 as usize));
        // SAFETY: allocated by aclrtMalloc, released by the layer once: freed once.
        self.ok(unsafe { (self.acl.aclrtFree)(memory.0) }, "aclrtFree")
    }

    fn write(&mut self, dst: &AclMemory, offset: u64, data: &[u8]) -> Result<()> {
        self.wait()?;
        // SAFETY: the layer checked the range against the allocation.
        let code = unsafe {
            (self.acl.aclrtMemcpy)(
                dst.0.cast::<u8>().add(offset as usize).cast(),
                data.len(),
                data.as_ptr().cast(),
                data.len(),
                ACL_MEMCPY_HOST_TO_DEVICE,
            )
        };
        self.ok(code, "aclrtMemcpy (host to device)")
    }

    fn read(&mut self, src: &AclMemory, offset: u64, out: &mut [u8]) -> Result<()> {
        self.wait()?;
        // SAFETY: as above.
        let code = unsafe {
            (self.acl.aclrtMemcpy)(
                out.as_mut_ptr().cast(),
                out.len(),
                src.0.cast::<u8>().add(offset as usize).cast(),
                out.len(),
                ACL_MEMCPY_DEVICE_TO_HOST,
            )
        };
        self.ok(code, "aclrtMemcpy (device to host)")
    }

    fn copy(&mut self, c: Copy<'_, AclMemory>) -> Result<()> {
        // SAFETY: the layer checked both ranges.
        let code = unsafe {
            (self.acl.aclrtMemcpyAsync)(
                c.dst.0.cast::<u8>().add(c.dst_offset as usize).cast(),
                c.bytes as usize,
                c.src.0.cast::<u8>().add(c.src_offset as usize).cast(),
                c.bytes as usize,
                ACL_MEMCPY_DEVICE_TO_DEVICE,
                self.stream,
            )
        };
        self.ok(code, "aclrtMemcpyAsync (device to device)")
    }

    fn build(&mut self, source: &KernelSource) -> Result<Built<Op>> {
        let t = source.define("T").unwrap_or("f32");
        let dtype = t.parse::<DType>().map_err(|log| Error::Compile {
            backend: NAME.into(),
            kernel: source.name.clone(),
            dialect: source.dialect,
            log,
        })?;
        acl_dtype(dtype)?;
        let op = match (source.name.as_str(), dtype) {
            (StreamCopyArgs::<()>::KERNEL, DType::F32) => Op::StreamCopy,
            (GemmArgs::<()>::KERNEL, d) => Op::Matmul(d),
            (AttnPrefillArgs::<()>::KERNEL, d) => Op::Prefill(d),
            (AttnDecodeArgs::<()>::KERNEL, d) => Op::Decode(d),
            (AttnPagedArgs::<()>::KERNEL, d) => Op::Paged(d),
            (GemmGroupedArgs::<()>::KERNEL, d) => Op::Grouped(d),
            (name, d) => {
                return Err(Error::unsupported(
                    NAME,
                    format!("no aclnn kernel for `{name}` ({d})"),
                ))
            }
        };
        Ok(Built::new(op))
    }

    fn launch(
        &mut self,
        op: &Op,
        _name: &str,
        _dims: Dims,
        args: &[NativeArg<'_, AclMemory>],
    ) -> Result<()> {
        self.current()?;
        match *op {
            Op::StreamCopy => {
                let a: StreamCopyArgs<_> = decode(args)?;
                let n = u64::from(a.n) * 4;
                let (src, dst) = (sized(a.src, n, "src")?, sized(a.dst, n, "dst")?);
                // SAFETY: n bytes lie in both buffers (checked above).
                let code = unsafe {
                    (self.acl.aclrtMemcpyAsync)(
                        dst,
                        n as usize,
                        src,
                        n as usize,
                        ACL_MEMCPY_DEVICE_TO_DEVICE,
                        self.stream,
                    )
                };
                self.ok(code, "aclrtMemcpyAsync (stream_copy)")
            }
            Op::Matmul(d) => {
                let g: GemmArgs<_> = decode(args)?;
                let (m, n, k) = (u64::from(g.m), u64::from(g.n), u64::from(g.k));
                let size = d.size() as u64;
                let ptrs = [
                    sized(g.a, m * k * size, "A")?,
                    sized(g.b, k * n * size, "B")?,
                    sized(g.c, m * n * size, "C")?,
                ];
                self.matmul(d, ptrs, m, n, k)
            }
            Op::Prefill(d) => {
                let a: AttnPrefillArgs<_> = decode(args)?;
                let x = a.heads;
                self.attention(
                    d,
                    [a.q.memory.0, a.k.memory.0, a.v.memory.0, a.o.memory.0],
                    [x.batch, x.heads, x.kv_heads, x.keys, x.keys, x.head_dim].map(u64::from),
                    a.causal,
                    a.scale,
                    None,
                )
            }
            Op::Decode(d) => {
                let a: AttnDecodeArgs<_> = decode(args)?;
                let x = a.heads;
                self.attention(
                    d,
                    [a.q.memory.0, a.k.memory.0, a.v.memory.0, a.o.memory.0],
                    [x.batch, x.heads, x.kv_heads, 1, x.keys, x.head_dim].map(u64::from),
                    false,
                    a.scale,
                    None,
                )
            }
            Op::Paged(d) => self.paged_attention(d, decode(args)?),
            Op::Grouped(d) => self.grouped_matmul(d, decode(args)?),
        }
    }

    fn sync(&mut self) -> Result<()> {
        self.wait()
    }

    fn record(&mut self) -> Result<AclTimestamp> {
        let mut e: AclEvent = std::ptr::null_mut();
        // SAFETY: out-pointer valid; recorded on this device's stream.
        unsafe {
            self.ok((self.acl.aclrtCreateEvent)(&mut e), "aclrtCreateEvent")?;
            self.events.insert(e as usize);
            self.ok(
                (self.acl.aclrtRecordEvent)(e, self.stream),
                "aclrtRecordEvent",
            )?;
        }
        Ok(AclTimestamp(e))
    }

    fn discard(&mut self, t: AclTimestamp) {
        if self.events.remove(&(t.0 as usize)) {
            // SAFETY: created by aclrtCreateEvent and consumed here: destroyed once.
            unsafe { (self.acl.aclrtDestroyEvent)(t.0) };
        }
    }

    fn elapsed(&mut self, s: AclTimestamp, e: AclTimestamp) -> Result<Duration> {
        let mut ms = 0f32;
        // SAFETY: both events recorded on this stream.
        let result = unsafe {
            self.ok(
                (self.acl.aclrtSynchronizeEvent)(e.0),
                "aclrtSynchronizeEvent",
            )
            .and_then(|()| {
                self.ok(
                    (self.acl.aclrtEventElapsedTime)(&mut ms, s.0, e.0),
                    "aclrtEventElapsedTime",
                )
            })
        };
        self.discard(s);
        self.discard(e);
        result.map(|()| Duration::from_secs_f64(f64::from(ms.max(0.0)) / 1e3))
    }
}
