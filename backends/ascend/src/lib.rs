//! # halbench-ascend
//!
//! A halbench plugin for Huawei Ascend NPUs, over AscendCL (runtime) and aclnn
//! (operators), both loaded at run time: building needs no CANN, and without a CANN
//! runtime the plugin reports itself unavailable with the reason.
//!
//! ```text
//!   hal::Device            AscendCL / aclnn
//!   alloc / free           aclrtMalloc / aclrtFree
//!   write / read           aclrtSynchronizeStream, aclrtMemcpy        (blocking)
//!   copy, stream_copy      aclrtMemcpyAsync device to device         (on the stream)
//!   record / elapsed       aclrtCreateEvent + aclrtRecordEvent, aclrtEventElapsedTime
//!   gemm_vendor            aclnnMatmulGetWorkspaceSize → aclnnMatmul  (cubeMathType
//!                          KEEP_DTYPE, recorded in the device's extras)
//!   attn_prefill_vendor,   aclnnFusedInferAttentionScoreGetWorkspaceSize →
//!   attn_decode_vendor     aclnnFusedInferAttentionScore (BNSD; causal by a u8 mask)
//!   attn_paged_vendor      the same with a block table, K/V [blocks,Hkv,page,D], the
//!                          lengths read back to a host array (paged.rs)
//!   gemm_grouped_vendor    aclnnGroupedMatmulGetWorkspaceSize → aclnnGroupedMatmul
//!                          (one weight tensor per expert with rows; grouped.rs)
//! ```
//!
//! One stream per device; every aclnn call is two-phase, its workspace allocated
//! between the phases and freed once the stream has drained.
//!
//! Built as `libhalbench_ascend.so`: `halbench devices --plugin libhalbench_ascend.so`.

mod acl;
mod device;
mod grouped;
mod paged;

use std::ffi::CStr;
use std::sync::{Arc, OnceLock};

use halbench_hal::{Backend, DType, Device, DeviceInfo, Dialect, Error, Features, Result};

use acl::{Acl, ACL_HBM_MEM};
use device::{check, AscendDevice};

pub(crate) const NAME: &str = "ascend";

/// The Ascend backend. Cheap to make; CANN is loaded (and `aclInit` called) on first use.
#[derive(Debug, Default)]
pub struct AscendBackend;

static RUNTIME: OnceLock<std::result::Result<Arc<Acl>, String>> = OnceLock::new();

fn runtime() -> Result<Arc<Acl>> {
    RUNTIME
        .get_or_init(|| {
            let acl = Acl::load()?;
            // SAFETY: aclInit with no config file, once per process.
            let code = unsafe { (acl.aclInit)(std::ptr::null()) };
            // 100002: already initialised by someone else in this process.
            if code != 0 && code != 100002 {
                return Err(format!(
                    "aclInit failed with ACL error {code}: {}",
                    acl.recent_message()
                ));
            }
            Ok(Arc::new(acl))
        })
        .clone()
        .map_err(|reason| Error::unavailable(NAME, reason))
}

impl AscendBackend {
    pub fn new() -> Self {
        AscendBackend
    }

    fn info(acl: &Acl, index: usize) -> Result<DeviceInfo> {
        let ordinal = index as i32;
        let (mut free, mut total) = (0usize, 0usize);
        // SAFETY: plain ACL calls with valid out-pointers.
        let soc = unsafe {
            check(acl, (acl.aclrtSetDevice)(ordinal), "aclrtSetDevice")?;
            check(
                acl,
                (acl.aclrtGetMemInfo)(ACL_HBM_MEM, &mut free, &mut total),
                "aclrtGetMemInfo",
            )?;
            let p = (acl.aclrtGetSocName)();
            if p.is_null() {
                "Ascend".to_string()
            } else {
                CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        };
        let mut info = DeviceInfo {
            backend: NAME.into(),
            index,
            name: soc,
            vendor: "Huawei".into(),
            driver_version: "CANN".into(),
            device_type: halbench_hal::DeviceClass::Npu,
            memory_bytes: total as u64,
            compute_units: 1,
            max_threads_per_group: 1,
            // Builtins only: they take no work-group shape to limit.
            max_group_size: [0; 3],
            max_groups: [0; 3],
            subgroup_size: 1,
            dialects: vec![Dialect::Builtin],
            features: Features {
                // Atlas A2 (910B) has no fp8; aclnn's fp8 matmuls are for later parts.
                dtypes: DType::FLOATS.into(),
                device_timers: true,
                ..Features::default()
            },
            ..DeviceInfo::default()
        };
        info.extras
            .insert("aclnn.cubeMathType".into(), "0 (KEEP_DTYPE)".into());
        info.extras.insert(
            "attention".into(),
            "aclnnFusedInferAttentionScore, BNSD".into(),
        );
        Ok(info)
    }
}

fn device_count(acl: &Acl) -> Result<usize> {
    let mut count = 0u32;
    // SAFETY: out-pointer valid.
    let code = unsafe { (acl.aclrtGetDeviceCount)(&mut count) };
    check(acl, code, "aclrtGetDeviceCount")?;
    Ok(count as usize)
}

impl Backend for AscendBackend {
    fn name(&self) -> &str {
        NAME
    }

    fn devices(&self) -> Result<Vec<DeviceInfo>> {
        let acl = runtime()?;
        (0..device_count(&acl)?)
            .map(|i| Self::info(&acl, i))
            .collect()
    }

    fn open(&self, index: usize) -> Result<Box<dyn Device>> {
        let acl = runtime()?;
        if index >= device_count(&acl)? {
            return Err(Error::invalid(NAME, format!("no Ascend device {index}")));
        }
        let info = Self::info(&acl, index)?;
        Ok(Box::new(AscendDevice::open(acl, index as i32, info)?))
    }
}

halbench_plugin::export_plugin!(
    backend: AscendBackend::new(),
    name: "ascend",
    version: env!("CARGO_PKG_VERSION"),
    vendor: "Huawei (AscendCL, aclnn)",
    runtime_version: "CANN, loaded at run time",
);
