/* halbench_plugin.h AS RELEASED IN ABI 1.0, frozen: never edit. The ABI tests compile a plugin
 * against it and load it with today's host, so today's host keeps every 1.0 promise.
 *
 * halbench_plugin.h: the C ABI between halbench and a vendor backend shipped as a shared
 * library. Modelled on OpenXLA's PJRT C API.
 *
 * THE ENTRY POINT
 *   A plugin exports one symbol:
 *       const HB_Api* halbench_plugin_api(uint32_t host_major, uint32_t host_minor);
 *   It returns a pointer to a constant function table that lives as long as the library
 *   is loaded, or NULL if it cannot serve this host. The host's version is information:
 *   the plugin may use it to leave out behaviour an old host cannot use.
 *
 * VERSIONS
 *   HB_Api starts with struct_size, abi_major, abi_minor. The host accepts the same major
 *   and any minor at or above its minimum (never exact equality). Minors only append:
 *   fields are never removed, reordered or changed in meaning. A function exists only if
 *   it lies inside the table's struct_size AND is non-NULL. REQUIRED functions are
 *   checked when the plugin is loaded; a missing OPTIONAL one means "unsupported".
 *
 * ARGS STRUCTS
 *   Every function takes one args struct that starts with struct_size, which the caller
 *   sets to sizeof() as it knows it. A plugin rejects a struct smaller than the one its
 *   fields need (HB_ERROR_INVALID_ARGUMENT) and ignores bytes past what it knows.
 *
 * ERRORS
 *   Every function except the error_* ones returns HB_Error*: NULL is success. A non-NULL
 *   error is owned by the host, which reads it with error_code / error_message and then
 *   destroys it exactly once with error_destroy.
 *
 * OWNERSHIP
 *   - Pointers in args structs that the host passes (data, code, names) are borrowed for
 *     the duration of the call only.
 *   - Strings a plugin returns (attributes, device info, error messages) are owned by
 *     the plugin: attributes live as long as the library, device info as long as the
 *     device is open, a message as long as its error.
 *   - Buffers, kernels and events are uint64_t handles chosen by the plugin, meaningful
 *     only on the device that made them. Buffers are released by buffer_free, events by
 *     event_elapsed (which consumes both), kernels when their device closes.
 *
 * THREADS
 *   One device is never called concurrently: the host drives each device from one thread
 *   at a time (it may move between threads). Different devices may be driven from
 *   different threads at once, and the plugin-level functions (attributes, device_count,
 *   device_open) may be called from any thread.
 *
 * UNWINDING
 *   Nothing unwinds across this boundary: no C++ exception, no Rust panic. A plugin
 *   catches everything and returns an error (HB_ERROR_BACKEND) instead.
 *
 * UNLOADING
 *   The host never unloads the library while a device of it is open, nor while it holds
 *   an error object of it.
 *
 * ORDERING
 *   Each device has one in-order queue. write / read block and are ordered after every
 *   earlier launch and copy; copy, launch and event_record enqueue; sync waits for
 *   everything enqueued.
 *
 * hal/include/CHANGELOG.md records every version.
 */
#ifndef HALBENCH_PLUGIN_H
#define HALBENCH_PLUGIN_H
#define HALBENCH_PLUGIN_FROZEN_1_0

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HB_ABI_MAJOR 1
#define HB_ABI_MINOR 0

/* ---- errors ---------------------------------------------------------------------- */

typedef enum {
  HB_ERROR_UNAVAILABLE = 1,      /* the runtime or driver is missing: skip the plugin */
  HB_ERROR_UNSUPPORTED = 2,      /* this device cannot do this: skip the case */
  HB_ERROR_INVALID_ARGUMENT = 3, /* bad handle, size, range, or args struct */
  HB_ERROR_OUT_OF_MEMORY = 4,
  HB_ERROR_COMPILE = 5, /* the message is the compiler's log */
  HB_ERROR_DEVICE_LOST = 6,
  HB_ERROR_BACKEND = 7 /* anything else, including a caught exception or panic */
} HB_ErrorCode;

typedef struct HB_Error HB_Error; /* opaque, made by the plugin, destroyed by the host */
typedef struct HB_Device HB_Device; /* opaque */

typedef struct {
  size_t struct_size;
  HB_Error* error; /* in: destroyed by this call */
} HB_Error_Destroy_Args;

typedef struct {
  size_t struct_size;
  const HB_Error* error; /* in */
  int32_t code;          /* out: an HB_ErrorCode */
  const char* message;   /* out: UTF-8, owned by the error */
  size_t message_size;   /* out: bytes, without any terminator */
} HB_Error_Get_Args;

/* ---- plugin ---------------------------------------------------------------------- */

typedef struct {
  size_t struct_size;
  const char* name;
  const char* value;
} HB_NamedValue;

/* Well-known attributes: "name" (the backend name halbench shows, e.g. "ascend"),
 * "version" (the plugin's), "vendor", "runtime_version" (the vendor runtime it drives). */
typedef struct {
  size_t struct_size;
  const HB_NamedValue* attributes; /* out: owned by the plugin, live while loaded */
  size_t num_attributes;           /* out */
} HB_Plugin_Attributes_Args;

/* Cheap, opens nothing. HB_ERROR_UNAVAILABLE, with the reason, when the runtime the
 * plugin drives is missing. */
typedef struct {
  size_t struct_size;
  size_t num_devices; /* out */
} HB_Device_Count_Args;

typedef struct {
  size_t struct_size;
  size_t index;       /* in */
  HB_Device* device;  /* out */
} HB_Device_Open_Args;

typedef struct {
  size_t struct_size;
  HB_Device* device; /* in: every buffer, kernel and event of it is released */
} HB_Device_Close_Args;

/* ---- device ---------------------------------------------------------------------- */

/* Bits of HB_Device_Info_Args.dialects. */
#define HB_DIALECT_BUILTIN (1u << 0)
#define HB_DIALECT_CUDA_C (1u << 1)
#define HB_DIALECT_OPENCL_C (1u << 2)
#define HB_DIALECT_SPIRV (1u << 3)

/* Bits of HB_Device_Info_Args.features. */
#define HB_FEATURE_F16 (1u << 0)
#define HB_FEATURE_BF16 (1u << 1)
#define HB_FEATURE_DEVICE_TIMERS (1u << 2)
#define HB_FEATURE_COOPERATIVE_MATRIX (1u << 3)
#define HB_FEATURE_UNIFIED_MEMORY (1u << 4)

typedef struct {
  size_t struct_size;
  HB_Device* device; /* in */
  /* out; strings UTF-8, owned by the device */
  const char* name;
  const char* vendor;
  const char* driver_version;
  const char* device_type; /* "gpu", "cpu", "npu", "accelerator" */
  uint64_t memory_bytes;
  uint64_t last_level_cache_bytes;
  uint32_t compute_units;
  uint32_t max_threads_per_group;
  uint32_t subgroup_size;
  uint32_t dialects; /* HB_DIALECT_* bits */
  uint32_t features; /* HB_FEATURE_* bits */
  uint32_t reserved;
  const HB_NamedValue* extras; /* out: device facts for the results (arch, ...) */
  size_t num_extras;
} HB_Device_Info_Args;

typedef struct {
  size_t struct_size;
  HB_Device* device;
  uint64_t compiles;           /* out: kernels built */
  uint64_t compile_cache_hits; /* out: compiles answered from the cache */
  uint64_t live_buffers;       /* out */
  uint64_t live_bytes;         /* out */
} HB_Device_Stats_Args;

typedef struct {
  size_t struct_size;
  HB_Device* device;
  uint64_t bytes;  /* in: > 0 */
  uint64_t buffer; /* out */
} HB_Buffer_Alloc_Args;

typedef struct {
  size_t struct_size;
  HB_Device* device;
  uint64_t buffer;
} HB_Buffer_Free_Args;

/* write: host -> buffer; read: buffer -> host. Both block (see ORDERING). */
typedef struct {
  size_t struct_size;
  HB_Device* device;
  uint64_t buffer;
  uint64_t offset;
  void* host; /* const for write */
  uint64_t bytes;
} HB_Buffer_Transfer_Args;

typedef struct {
  size_t struct_size;
  HB_Device* device;
  uint64_t src;
  uint64_t src_offset;
  uint64_t dst;
  uint64_t dst_offset;
  uint64_t bytes;
} HB_Buffer_Copy_Args;

/* One of HB_DIALECT_* (a single bit). */
typedef struct {
  size_t struct_size;
  HB_Device* device;
  const char* name;  /* canonical kernel name (kernels/README.md) */
  uint32_t dialect;
  uint32_t reserved;
  const uint8_t* code; /* source text or SPIR-V words; empty for builtins */
  size_t code_size;
  const char* entry;
  const HB_NamedValue* defines; /* "T" = "f32" | "f16" | "bf16", and the plan's */
  size_t num_defines;
  uint64_t kernel; /* out */
} HB_Kernel_Compile_Args;

typedef enum {
  HB_ARG_BUFFER = 1, /* value: a buffer handle */
  HB_ARG_U32 = 2,    /* value: the integer, in the low 32 bits */
  HB_ARG_I32 = 3,    /* value: the two's complement bits, in the low 32 bits */
  HB_ARG_F32 = 4     /* value: the IEEE-754 bits, in the low 32 bits */
} HB_ArgKind;

typedef struct {
  uint32_t kind; /* HB_ArgKind */
  uint32_t reserved;
  uint64_t value;
} HB_Arg;

typedef struct {
  size_t struct_size;
  HB_Device* device;
  uint64_t kernel;
  uint32_t groups[3];
  uint32_t threads[3];
  const HB_Arg* args;
  size_t num_args;
} HB_Kernel_Launch_Args;

typedef struct {
  size_t struct_size;
  HB_Device* device;
} HB_Device_Sync_Args;

typedef struct {
  size_t struct_size;
  HB_Device* device;
  uint64_t event; /* out */
} HB_Event_Record_Args;

/* Consumes both events, whatever the result. */
typedef struct {
  size_t struct_size;
  HB_Device* device;
  uint64_t start;
  uint64_t end;
  uint64_t nanoseconds; /* out */
} HB_Event_Elapsed_Args;

/* ---- the table ------------------------------------------------------------------- */

typedef struct HB_Api {
  size_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor;

  /* 1.0, required */
  void (*error_destroy)(HB_Error_Destroy_Args* args);
  void (*error_get)(HB_Error_Get_Args* args);
  HB_Error* (*plugin_attributes)(HB_Plugin_Attributes_Args* args);
  HB_Error* (*device_count)(HB_Device_Count_Args* args);
  HB_Error* (*device_open)(HB_Device_Open_Args* args);
  HB_Error* (*device_close)(HB_Device_Close_Args* args);
  HB_Error* (*device_info)(HB_Device_Info_Args* args);
  HB_Error* (*device_stats)(HB_Device_Stats_Args* args);
  HB_Error* (*buffer_alloc)(HB_Buffer_Alloc_Args* args);
  HB_Error* (*buffer_free)(HB_Buffer_Free_Args* args);
  HB_Error* (*buffer_write)(HB_Buffer_Transfer_Args* args);
  HB_Error* (*buffer_read)(HB_Buffer_Transfer_Args* args);
  HB_Error* (*buffer_copy)(HB_Buffer_Copy_Args* args);
  HB_Error* (*kernel_compile)(HB_Kernel_Compile_Args* args);
  HB_Error* (*kernel_launch)(HB_Kernel_Launch_Args* args);
  HB_Error* (*device_sync)(HB_Device_Sync_Args* args);

  /* 1.0, optional (NULL: the device has no timers) */
  HB_Error* (*event_record)(HB_Event_Record_Args* args);
  HB_Error* (*event_elapsed)(HB_Event_Elapsed_Args* args);
} HB_Api;


typedef const HB_Api* (*HB_PluginApiFn)(uint32_t host_major, uint32_t host_minor);
#define HB_PLUGIN_SYMBOL "halbench_plugin_api"

#ifdef __cplusplus
}
#endif

#endif /* HALBENCH_PLUGIN_H */
