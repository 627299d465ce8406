//! Rust mirrors of `hal/include/halbench_plugin.h`, field for field. The header is the
//! contract; these types follow it, and the sizes and offsets below are checked at
//! compile time (and against a C compiler's in the tests).

#![allow(non_camel_case_types)]

use std::ffi::c_char;
use std::mem::{offset_of, size_of};

pub const ABI_MAJOR: u32 = 1;
pub const ABI_MINOR: u32 = 4;
/// The oldest minor this host loads.
pub const MIN_MINOR: u32 = 0;
pub const SYMBOL: &[u8] = b"halbench_plugin_api";

pub const ERROR_UNAVAILABLE: i32 = 1;
pub const ERROR_UNSUPPORTED: i32 = 2;
pub const ERROR_INVALID_ARGUMENT: i32 = 3;
pub const ERROR_OUT_OF_MEMORY: i32 = 4;
pub const ERROR_COMPILE: i32 = 5;
pub const ERROR_DEVICE_LOST: i32 = 6;
pub const ERROR_BACKEND: i32 = 7;

pub const DIALECT_BUILTIN: u32 = 1 << 0;
pub const DIALECT_CUDA_C: u32 = 1 << 1;
pub const DIALECT_OPENCL_C: u32 = 1 << 2;
pub const DIALECT_SPIRV: u32 = 1 << 3;

pub const FEATURE_F16: u32 = 1 << 0;
pub const FEATURE_BF16: u32 = 1 << 1;
pub const FEATURE_DEVICE_TIMERS: u32 = 1 << 2;
pub const FEATURE_COOPERATIVE_MATRIX: u32 = 1 << 3;
pub const FEATURE_UNIFIED_MEMORY: u32 = 1 << 4;
/// 1.3.
pub const FEATURE_FP8_MATRIX: u32 = 1 << 5;

pub const DTYPE_F32: u64 = 1 << 0;
pub const DTYPE_F16: u64 = 1 << 1;
pub const DTYPE_BF16: u64 = 1 << 2;
/// 1.3: OCP fp8 (builtin kernels see `T=fp8e4m3` / `T=fp8e5m2`).
pub const DTYPE_F8E4M3: u64 = 1 << 3;
pub const DTYPE_F8E5M2: u64 = 1 << 4;

pub const ARG_BUFFER: u32 = 1;
pub const ARG_U32: u32 = 2;
pub const ARG_I32: u32 = 3;
pub const ARG_F32: u32 = 4;

/// Opaque: made by the plugin, destroyed by the host.
#[repr(C)]
#[derive(Debug)]
pub struct HB_Error {
    _private: [u8; 0],
}

/// Opaque.
#[repr(C)]
#[derive(Debug)]
pub struct HB_Device {
    _private: [u8; 0],
}

/// Sets `struct_size` to the struct's own size and everything else to zero.
pub trait Args: Sized {
    fn new() -> Self;
}

macro_rules! args {
    ($($(#[$doc:meta])* pub struct $name:ident { $(pub $field:ident: $ty:ty,)* })*) => {
        $(
            $(#[$doc])*
            #[repr(C)]
            #[derive(Debug, Clone, Copy)]
            pub struct $name {
                pub struct_size: usize,
                $(pub $field: $ty,)*
            }
            impl Args for $name {
                fn new() -> Self {
                    // SAFETY: every field is an integer or a raw pointer: all-zero is valid.
                    let mut a: Self = unsafe { std::mem::zeroed() };
                    a.struct_size = size_of::<Self>();
                    a
                }
            }
        )*
    };
}

args! {
    pub struct HB_Error_Destroy_Args { pub error: *mut HB_Error, }
    pub struct HB_Error_Get_Args {
        pub error: *const HB_Error,
        pub code: i32,
        pub message: *const c_char,
        pub message_size: usize,
    }
    pub struct HB_NamedValue { pub name: *const c_char, pub value: *const c_char, }
    pub struct HB_Plugin_Attributes_Args {
        pub attributes: *const HB_NamedValue,
        pub num_attributes: usize,
    }
    pub struct HB_Device_Count_Args { pub num_devices: usize, }
    pub struct HB_Device_Open_Args { pub index: usize, pub device: *mut HB_Device, }
    pub struct HB_Device_Close_Args { pub device: *mut HB_Device, }
    pub struct HB_Device_Info_Args {
        pub device: *mut HB_Device,
        pub name: *const c_char,
        pub vendor: *const c_char,
        pub driver_version: *const c_char,
        pub device_type: *const c_char,
        pub memory_bytes: u64,
        pub last_level_cache_bytes: u64,
        pub compute_units: u32,
        pub max_threads_per_group: u32,
        pub subgroup_size: u32,
        pub dialects: u32,
        pub features: u32,
        pub reserved: u32,
        pub extras: *const HB_NamedValue,
        pub num_extras: usize,
        // 1.2
        pub dtypes: u64,
        pub max_group_size: [u32; 3],
        pub max_groups: [u32; 3],
    }
    pub struct HB_Device_Stats_Args {
        pub device: *mut HB_Device,
        pub compiles: u64,
        pub compile_cache_hits: u64,
        pub live_buffers: u64,
        pub live_bytes: u64,
    }
    pub struct HB_Buffer_Alloc_Args { pub device: *mut HB_Device, pub bytes: u64, pub buffer: u64, }
    pub struct HB_Buffer_Free_Args { pub device: *mut HB_Device, pub buffer: u64, }
    pub struct HB_Buffer_Transfer_Args {
        pub device: *mut HB_Device,
        pub buffer: u64,
        pub offset: u64,
        pub host: *mut u8,
        pub bytes: u64,
    }
    pub struct HB_Buffer_Copy_Args {
        pub device: *mut HB_Device,
        pub src: u64,
        pub src_offset: u64,
        pub dst: u64,
        pub dst_offset: u64,
        pub bytes: u64,
    }
    pub struct HB_Kernel_Compile_Args {
        pub device: *mut HB_Device,
        pub name: *const c_char,
        pub dialect: u32,
        pub reserved: u32,
        pub code: *const u8,
        pub code_size: usize,
        pub entry: *const c_char,
        pub defines: *const HB_NamedValue,
        pub num_defines: usize,
        pub kernel: u64,
    }
    pub struct HB_Kernel_Launch_Args {
        pub device: *mut HB_Device,
        pub kernel: u64,
        pub groups: [u32; 3],
        pub threads: [u32; 3],
        pub args: *const HB_Arg,
        pub num_args: usize,
    }
    pub struct HB_Device_Sync_Args { pub device: *mut HB_Device, }
    pub struct HB_Event_Record_Args { pub device: *mut HB_Device, pub event: u64, }
    pub struct HB_Event_Elapsed_Args {
        pub device: *mut HB_Device,
        pub start: u64,
        pub end: u64,
        pub nanoseconds: u64,
    }
    pub struct HB_Host_Pin_Args { pub device: *mut HB_Device, pub host: *const u8, pub bytes: u64, }
    pub struct HB_Device_Describe_Args { pub index: usize, pub info: *mut HB_Device_Info_Args, }
    pub struct HB_Device_Peaks_Args {
        pub index: usize,
        pub memory_gbs: f64,
        pub peaks: *const HB_Peak,
        pub num_peaks: usize,
        pub source: *const c_char,
    }
}

/// 1.4: one vendor compute peak (an array element: no `struct_size`, never grows).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct HB_Peak {
    pub dtype: u64,
    pub tflops: f64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct HB_Arg {
    pub kind: u32,
    pub reserved: u32,
    pub value: u64,
}

type Call<A> = Option<unsafe extern "C" fn(*mut A) -> *mut HB_Error>;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct HB_Api {
    pub struct_size: usize,
    pub abi_major: u32,
    pub abi_minor: u32,
    // 1.0, required
    pub error_destroy: Option<unsafe extern "C" fn(*mut HB_Error_Destroy_Args)>,
    pub error_get: Option<unsafe extern "C" fn(*mut HB_Error_Get_Args)>,
    pub plugin_attributes: Call<HB_Plugin_Attributes_Args>,
    pub device_count: Call<HB_Device_Count_Args>,
    pub device_open: Call<HB_Device_Open_Args>,
    pub device_close: Call<HB_Device_Close_Args>,
    pub device_info: Call<HB_Device_Info_Args>,
    pub device_stats: Call<HB_Device_Stats_Args>,
    pub buffer_alloc: Call<HB_Buffer_Alloc_Args>,
    pub buffer_free: Call<HB_Buffer_Free_Args>,
    pub buffer_write: Call<HB_Buffer_Transfer_Args>,
    pub buffer_read: Call<HB_Buffer_Transfer_Args>,
    pub buffer_copy: Call<HB_Buffer_Copy_Args>,
    pub kernel_compile: Call<HB_Kernel_Compile_Args>,
    pub kernel_launch: Call<HB_Kernel_Launch_Args>,
    pub device_sync: Call<HB_Device_Sync_Args>,
    // 1.0, optional
    pub event_record: Call<HB_Event_Record_Args>,
    pub event_elapsed: Call<HB_Event_Elapsed_Args>,
    // 1.1, optional
    pub host_pin: Call<HB_Host_Pin_Args>,
    pub host_unpin: Call<HB_Host_Pin_Args>,
    // 1.4, optional
    pub device_describe: Call<HB_Device_Describe_Args>,
    pub device_peaks: Call<HB_Device_Peaks_Args>,
}

/// A 1.0 plugin's `struct_size`.
pub const API_SIZE_1_0: usize = offset_of!(HB_Api, host_pin);

/// A 1.1 to 1.3 plugin's `struct_size`.
pub const API_SIZE_1_1: usize = offset_of!(HB_Api, device_describe);

/// A 1.0/1.1 host's `HB_Device_Info_Args.struct_size`.
pub const DEVICE_INFO_ARGS_SIZE_1_0: usize = offset_of!(HB_Device_Info_Args, dtypes);

pub type PluginApiFn = unsafe extern "C" fn(u32, u32) -> *const HB_Api;

/// The layout every C compiler for LP64 targets gives the header's structs; the tests
/// compare it with the C compiler's own `sizeof`/`offsetof`.
pub const LAYOUT: &[(&str, usize)] = &[
    ("HB_Api", size_of::<HB_Api>()),
    ("HB_API_SIZE_1_0", API_SIZE_1_0),
    ("HB_API_SIZE_1_1", API_SIZE_1_1),
    ("HB_Error_Get_Args", size_of::<HB_Error_Get_Args>()),
    ("HB_NamedValue", size_of::<HB_NamedValue>()),
    ("HB_Device_Info_Args", size_of::<HB_Device_Info_Args>()),
    (
        "HB_Device_Info_Args.extras",
        offset_of!(HB_Device_Info_Args, extras),
    ),
    ("HB_DEVICE_INFO_ARGS_SIZE_1_0", DEVICE_INFO_ARGS_SIZE_1_0),
    (
        "HB_Device_Info_Args.max_groups",
        offset_of!(HB_Device_Info_Args, max_groups),
    ),
    ("HB_Device_Stats_Args", size_of::<HB_Device_Stats_Args>()),
    (
        "HB_Buffer_Transfer_Args",
        size_of::<HB_Buffer_Transfer_Args>(),
    ),
    ("HB_Buffer_Copy_Args", size_of::<HB_Buffer_Copy_Args>()),
    (
        "HB_Kernel_Compile_Args",
        size_of::<HB_Kernel_Compile_Args>(),
    ),
    (
        "HB_Kernel_Compile_Args.kernel",
        offset_of!(HB_Kernel_Compile_Args, kernel),
    ),
    ("HB_Arg", size_of::<HB_Arg>()),
    ("HB_Kernel_Launch_Args", size_of::<HB_Kernel_Launch_Args>()),
    (
        "HB_Kernel_Launch_Args.args",
        offset_of!(HB_Kernel_Launch_Args, args),
    ),
    ("HB_Event_Elapsed_Args", size_of::<HB_Event_Elapsed_Args>()),
    ("HB_Host_Pin_Args", size_of::<HB_Host_Pin_Args>()),
    (
        "HB_Device_Describe_Args",
        size_of::<HB_Device_Describe_Args>(),
    ),
    ("HB_Peak", size_of::<HB_Peak>()),
    ("HB_Device_Peaks_Args", size_of::<HB_Device_Peaks_Args>()),
    (
        "HB_Device_Peaks_Args.source",
        offset_of!(HB_Device_Peaks_Args, source),
    ),
];

// Compile-time checks for 64-bit targets (the header's sizes on LP64).
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<HB_Api>() == 16 + 22 * 8);
    assert!(API_SIZE_1_1 == 16 + 20 * 8);
    assert!(size_of::<HB_Peak>() == 16);
    assert!(size_of::<HB_Device_Peaks_Args>() == 48);
    assert!(API_SIZE_1_0 == 16 + 18 * 8);
    assert!(size_of::<HB_Arg>() == 16);
    assert!(size_of::<HB_NamedValue>() == 24);
    assert!(DEVICE_INFO_ARGS_SIZE_1_0 == 104);
    assert!(size_of::<HB_Device_Info_Args>() == 136);
    assert!(offset_of!(HB_Device_Info_Args, memory_bytes) == 48);
    assert!(size_of::<HB_Kernel_Launch_Args>() == 64);
    assert!(offset_of!(HB_Kernel_Launch_Args, groups) == 24);
    assert!(size_of::<HB_Kernel_Compile_Args>() == 80);
    assert!(size_of::<HB_Error_Get_Args>() == 40);
};
