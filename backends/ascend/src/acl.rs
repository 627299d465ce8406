//! AscendCL and aclnn, loaded at run time: `libascendcl.so` (runtime: devices, memory,
//! streams, events) and `libopapi.so` (aclnn operators; tensor objects live there or in
//! `libnnopbase.so`). Looked for in `$ASCEND_HOME_PATH/lib64`, `$ASCEND_TOOLKIT_HOME/lib64`,
//! `/usr/local/Ascend/ascend-toolkit/latest/lib64`, then the loader's own path.

use std::ffi::{c_char, c_void, CStr};
use std::path::PathBuf;

use libloading::Library;

pub type AclError = i32;
pub type Stream = *mut c_void;
pub type AclEvent = *mut c_void;
pub type Tensor = *mut c_void;
pub type TensorList = *mut c_void;
pub type Executor = *mut c_void;
pub type IntArray = *mut c_void;

pub const ACL_MEM_MALLOC_HUGE_FIRST: i32 = 0;
pub const ACL_HBM_MEM: i32 = 1;
pub const ACL_MEMCPY_HOST_TO_DEVICE: i32 = 1;
pub const ACL_MEMCPY_DEVICE_TO_HOST: i32 = 2;
pub const ACL_MEMCPY_DEVICE_TO_DEVICE: i32 = 3;
pub const ACL_FLOAT: i32 = 0;
pub const ACL_FLOAT16: i32 = 1;
pub const ACL_INT32: i32 = 3;
pub const ACL_UINT8: i32 = 4;
pub const ACL_BF16: i32 = 27;
pub const ACL_FORMAT_ND: i32 = 2;
/// aclnn's cubeMathType: keep the input dtype in the cube unit (no down-conversion).
pub const KEEP_DTYPE: i8 = 0;

macro_rules! api {
    ($($lib:ident { $($name:ident: fn($($arg:ty),*) $(-> $ret:ty)?;)* })*) => {
        #[allow(non_snake_case)]
        pub struct Acl {
            $($(pub $name: unsafe extern "C" fn($($arg),*) $(-> $ret)?,)*)*
            _libraries: Vec<Library>,
        }

        impl Acl {
            fn resolve(libs: &Libs) -> Result<Acl, String> {
                Ok(Acl {
                    $($($name: libs.symbol(stringify!($lib), stringify!($name))?,)*)*
                    _libraries: Vec::new(),
                })
            }
        }
    };
}

api! {
    ascendcl {
        aclInit: fn(*const c_char) -> AclError;
        aclrtGetDeviceCount: fn(*mut u32) -> AclError;
        aclrtSetDevice: fn(i32) -> AclError;
        aclrtResetDevice: fn(i32) -> AclError;
        aclrtGetSocName: fn() -> *const c_char;
        aclrtGetMemInfo: fn(i32, *mut usize, *mut usize) -> AclError;
        aclrtCreateStream: fn(*mut Stream) -> AclError;
        aclrtDestroyStream: fn(Stream) -> AclError;
        aclrtSynchronizeStream: fn(Stream) -> AclError;
        aclrtMalloc: fn(*mut *mut c_void, usize, i32) -> AclError;
        aclrtFree: fn(*mut c_void) -> AclError;
        aclrtMemcpy: fn(*mut c_void, usize, *const c_void, usize, i32) -> AclError;
        aclrtMemcpyAsync: fn(*mut c_void, usize, *const c_void, usize, i32, Stream) -> AclError;
        aclrtCreateEvent: fn(*mut AclEvent) -> AclError;
        aclrtDestroyEvent: fn(AclEvent) -> AclError;
        aclrtRecordEvent: fn(AclEvent, Stream) -> AclError;
        aclrtSynchronizeEvent: fn(AclEvent) -> AclError;
        aclrtEventElapsedTime: fn(*mut f32, AclEvent, AclEvent) -> AclError;
        aclGetRecentErrMsg: fn() -> *const c_char;
    }
    opapi {
        aclCreateTensor: fn(*const i64, u64, i32, *const i64, i64, i32, *const i64, u64, *mut c_void) -> Tensor;
        aclDestroyTensor: fn(Tensor) -> AclError;
        aclCreateTensorList: fn(*const Tensor, u64) -> TensorList;
        aclDestroyTensorList: fn(TensorList) -> AclError;
        aclCreateIntArray: fn(*const i64, u64) -> IntArray;
        aclDestroyIntArray: fn(IntArray) -> AclError;
        aclnnMatmulGetWorkspaceSize: fn(Tensor, Tensor, Tensor, i8, *mut u64, *mut Executor) -> AclError;
        aclnnMatmul: fn(*mut c_void, u64, Executor, Stream) -> AclError;
        aclnnFusedInferAttentionScoreGetWorkspaceSize: fn(
            Tensor, TensorList, TensorList, Tensor, Tensor, IntArray, IntArray,
            Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor,
            i64, f64, i64, i64, *const c_char, i64, i64, i64, i64, i64, bool,
            Tensor, Tensor, *mut u64, *mut Executor
        ) -> AclError;
        aclnnFusedInferAttentionScore: fn(*mut c_void, u64, Executor, Stream) -> AclError;
        aclnnGroupedMatmulGetWorkspaceSize: fn(
            TensorList, TensorList, TensorList, TensorList, TensorList, TensorList, TensorList,
            IntArray, i64, TensorList, *mut u64, *mut Executor
        ) -> AclError;
        aclnnGroupedMatmul: fn(*mut c_void, u64, Executor, Stream) -> AclError;
    }
}

impl std::fmt::Debug for Acl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Acl")
    }
}

struct Libs {
    ascendcl: Library,
    opapi: Vec<Library>,
}

impl Libs {
    fn symbol<T: Copy>(&self, lib: &str, name: &str) -> Result<T, String> {
        let candidates: Vec<&Library> = if lib == "ascendcl" {
            vec![&self.ascendcl]
        } else {
            self.opapi.iter().collect()
        };
        for l in candidates {
            // SAFETY: the symbol's type is the one AscendCL's headers declare.
            if let Ok(s) = unsafe { l.get::<T>(name.as_bytes()) } {
                return Ok(*s);
            }
        }
        Err(format!(
            "the CANN runtime found has no `{name}` (CANN too old?)"
        ))
    }
}

fn dirs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for var in ["ASCEND_HOME_PATH", "ASCEND_TOOLKIT_HOME"] {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            out.push(PathBuf::from(v).join("lib64"));
        }
    }
    out.push(PathBuf::from(
        "/usr/local/Ascend/ascend-toolkit/latest/lib64",
    ));
    out
}

fn open(name: &str) -> Result<Library, String> {
    let mut last = String::new();
    for dir in dirs() {
        let path = dir.join(name);
        if path.exists() {
            // SAFETY: loading the vendor runtime runs its initialisers, as linking would.
            return unsafe { Library::new(&path) }.map_err(|e| format!("{}: {e}", path.display()));
        }
    }
    // SAFETY: as above, from the loader's search path.
    match unsafe { Library::new(name) } {
        Ok(l) => Ok(l),
        Err(e) => {
            last.push_str(&e.to_string());
            Err(format!(
                "{name} not found (no CANN runtime: looked in $ASCEND_HOME_PATH/lib64, $ASCEND_TOOLKIT_HOME/lib64, /usr/local/Ascend/ascend-toolkit/latest/lib64 and the loader path: {last})"
            ))
        }
    }
}

impl Acl {
    /// Loads the runtime and aclnn. The error is the reason halbench shows.
    pub fn load() -> Result<Acl, String> {
        let ascendcl = open("libascendcl.so")?;
        let mut opapi = vec![open("libopapi.so")?];
        // Tensor objects moved to libnnopbase in newer CANN; optional.
        if let Ok(l) = open("libnnopbase.so") {
            opapi.push(l);
        }
        let libs = Libs { ascendcl, opapi };
        let mut acl = Acl::resolve(&libs)?;
        acl._libraries.push(libs.ascendcl);
        acl._libraries.extend(libs.opapi);
        Ok(acl)
    }

    /// The runtime's own description of the last error on this thread.
    pub fn recent_message(&self) -> String {
        // SAFETY: returns NULL or a thread-local NUL-terminated string.
        let p = unsafe { (self.aclGetRecentErrMsg)() };
        if p.is_null() {
            String::new()
        } else {
            // SAFETY: as above.
            unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
        }
    }
}
