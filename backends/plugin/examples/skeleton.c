/* A halbench plugin in plain C: the smallest complete one, to copy from.
 *
 *   cc -shared -fPIC -I hal/include backends/plugin/examples/skeleton.c -o skeleton.so
 *   halbench devices --plugin ./skeleton.so
 *   halbench run --plugin ./skeleton.so --workload stream.copy
 *
 * One device backed by host memory; one builtin kernel, stream_copy (f32), so a real
 * workload runs through it. No device timers: event_record and event_elapsed are NULL,
 * which halbench reads as "time on the host". Everything the header asks of a plugin is
 * here: args struct sizes checked, errors as objects the host destroys, handles checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "halbench_plugin.h"

/* ---- errors ---------------------------------------------------------------------- */

struct HB_Error {
  int32_t code;
  char message[256];
};

#ifndef SKELETON_ERROR_HOOKS
static HB_Error* error_alloc(void) { return (HB_Error*)calloc(1, sizeof(HB_Error)); }
static void error_release(HB_Error* e) { free(e); }
#endif

static HB_Error* error_new(int32_t code, const char* message) {
  HB_Error* e = error_alloc();
  if (!e) return NULL; /* out of memory for the error itself: report success is wrong, */
  e->code = code;      /* but there is nothing better to return */
  snprintf(e->message, sizeof e->message, "%s", message);
  return e;
}

static void error_destroy(HB_Error_Destroy_Args* a) {
  if (a && a->error) error_release(a->error);
}

static void error_get(HB_Error_Get_Args* a) {
  if (!a || !a->error) return;
  a->code = a->error->code;
  a->message = a->error->message;
  a->message_size = strlen(a->error->message);
}

/* The args struct must be at least as big as this plugin's view of it. */
#define CHECK_ARGS(a, type)                                                              \
  do {                                                                                   \
    if (!(a) || (a)->struct_size < sizeof(type))                                         \
      return error_new(HB_ERROR_INVALID_ARGUMENT, #type " too small or NULL");           \
  } while (0)

/* ---- the device ------------------------------------------------------------------ */

#define MAX_BUFFERS 1024
enum { KERNEL_STREAM_COPY = 1 };

struct HB_Device {
  unsigned char* buffers[MAX_BUFFERS + 1]; /* handle = index; 0 is never a handle */
  uint64_t sizes[MAX_BUFFERS + 1];
  uint64_t live_bytes, live_buffers, compiles;
};

static const HB_NamedValue attributes[] = {
    {sizeof(HB_NamedValue), "name", "skeleton"},
    {sizeof(HB_NamedValue), "version", "1.0.0"},
    {sizeof(HB_NamedValue), "vendor", "halbench example"},
    {sizeof(HB_NamedValue), "runtime_version", "libc"},
};

static HB_Error* plugin_attributes(HB_Plugin_Attributes_Args* a) {
  CHECK_ARGS(a, HB_Plugin_Attributes_Args);
  a->attributes = attributes;
  a->num_attributes = sizeof attributes / sizeof attributes[0];
  return NULL;
}

static HB_Error* device_count(HB_Device_Count_Args* a) {
  CHECK_ARGS(a, HB_Device_Count_Args);
  a->num_devices = 1;
  return NULL;
}

static HB_Error* device_open(HB_Device_Open_Args* a) {
  CHECK_ARGS(a, HB_Device_Open_Args);
  if (a->index != 0) return error_new(HB_ERROR_INVALID_ARGUMENT, "no such device");
  a->device = (HB_Device*)calloc(1, sizeof(HB_Device));
  return a->device ? NULL : error_new(HB_ERROR_OUT_OF_MEMORY, "device state");
}

static HB_Error* device_close(HB_Device_Close_Args* a) {
  CHECK_ARGS(a, HB_Device_Close_Args);
  if (!a->device) return error_new(HB_ERROR_INVALID_ARGUMENT, "NULL device");
  for (int i = 1; i <= MAX_BUFFERS; ++i) free(a->device->buffers[i]);
  free(a->device);
  return NULL;
}

/* This struct grew in 1.2: an older host passes the 1.0 size, and gets the 1.0 fields.
 * (Built against the 1.0 header, the struct has only its first size.) */
#ifdef HB_DEVICE_INFO_ARGS_SIZE_1_0
#define SKELETON_INFO_MIN HB_DEVICE_INFO_ARGS_SIZE_1_0
#else
#define SKELETON_INFO_MIN sizeof(HB_Device_Info_Args)
#endif

static HB_Error* device_info(HB_Device_Info_Args* a) {
  if (!a || a->struct_size < SKELETON_INFO_MIN)
    return error_new(HB_ERROR_INVALID_ARGUMENT, "HB_Device_Info_Args too small or NULL");
  a->name = "skeleton host memory";
  a->vendor = "halbench example";
  a->driver_version = "1.0.0";
  a->device_type = "cpu";
  a->memory_bytes = 1ull << 30;
  a->last_level_cache_bytes = 0;
  a->compute_units = 1;
  a->max_threads_per_group = 1024;
  a->subgroup_size = 1;
  a->dialects = HB_DIALECT_BUILTIN;
  a->features = HB_FEATURE_UNIFIED_MEMORY;
  a->extras = NULL;
  a->num_extras = 0;
#if HB_ABI_MINOR >= 2
  if (a->struct_size >= offsetof(HB_Device_Info_Args, max_groups) + sizeof a->max_groups) {
    a->dtypes = HB_DTYPE_F32;
    const uint32_t group[3] = {1024, 1024, 64};
    for (int i = 0; i < 3; ++i) a->max_group_size[i] = group[i];
    for (int i = 0; i < 3; ++i) a->max_groups[i] = 0; /* no limit known */
  }
#endif
  return NULL;
}

#if HB_ABI_MINOR >= 4
/* 1.4: the same facts without opening anything (device_info above needs no device). */
static HB_Error* device_describe(HB_Device_Describe_Args* a) {
  CHECK_ARGS(a, HB_Device_Describe_Args);
  if (a->index != 0) return error_new(HB_ERROR_INVALID_ARGUMENT, "no such device");
  return device_info(a->info);
}

/* 1.4: this host-memory example quotes no vendor figures. */
static HB_Error* device_peaks(HB_Device_Peaks_Args* a) {
  CHECK_ARGS(a, HB_Device_Peaks_Args);
  a->memory_gbs = 0;
  a->peaks = NULL;
  a->num_peaks = 0;
  a->source = "";
  return NULL;
}
#endif

static HB_Error* device_stats(HB_Device_Stats_Args* a) {
  CHECK_ARGS(a, HB_Device_Stats_Args);
  a->compiles = a->device->compiles;
  a->compile_cache_hits = 0;
  a->live_buffers = a->device->live_buffers;
  a->live_bytes = a->device->live_bytes;
  return NULL;
}

static unsigned char* buffer(HB_Device* d, uint64_t h, uint64_t offset, uint64_t bytes,
                             HB_Error** err) {
  if (h == 0 || h > MAX_BUFFERS || !d->buffers[h]) {
    *err = error_new(HB_ERROR_INVALID_ARGUMENT, "no such buffer");
    return NULL;
  }
  if (offset > d->sizes[h] || bytes > d->sizes[h] - offset) {
    *err = error_new(HB_ERROR_INVALID_ARGUMENT, "range outside the buffer");
    return NULL;
  }
  return d->buffers[h] + offset;
}

static HB_Error* buffer_alloc(HB_Buffer_Alloc_Args* a) {
  CHECK_ARGS(a, HB_Buffer_Alloc_Args);
  if (a->bytes == 0) return error_new(HB_ERROR_INVALID_ARGUMENT, "zero-byte buffer");
  if (a->bytes > (1ull << 30)) return error_new(HB_ERROR_OUT_OF_MEMORY, "over 1 GiB");
  for (uint64_t h = 1; h <= MAX_BUFFERS; ++h) {
    if (a->device->buffers[h]) continue;
    a->device->buffers[h] = (unsigned char*)calloc(1, a->bytes);
    if (!a->device->buffers[h]) return error_new(HB_ERROR_OUT_OF_MEMORY, "malloc failed");
    a->device->sizes[h] = a->bytes;
    a->device->live_bytes += a->bytes;
    a->device->live_buffers += 1;
    a->buffer = h;
    return NULL;
  }
  return error_new(HB_ERROR_OUT_OF_MEMORY, "too many buffers");
}

static HB_Error* buffer_free(HB_Buffer_Free_Args* a) {
  CHECK_ARGS(a, HB_Buffer_Free_Args);
  HB_Error* err = NULL;
  if (!buffer(a->device, a->buffer, 0, 0, &err)) return err;
  free(a->device->buffers[a->buffer]);
  a->device->buffers[a->buffer] = NULL;
  a->device->live_bytes -= a->device->sizes[a->buffer];
  a->device->live_buffers -= 1;
  return NULL;
}

static HB_Error* buffer_write(HB_Buffer_Transfer_Args* a) {
  CHECK_ARGS(a, HB_Buffer_Transfer_Args);
  HB_Error* err = NULL;
  unsigned char* p = buffer(a->device, a->buffer, a->offset, a->bytes, &err);
  if (!p) return err;
  if (a->bytes) memcpy(p, a->host, a->bytes);
  return NULL;
}

static HB_Error* buffer_read(HB_Buffer_Transfer_Args* a) {
  CHECK_ARGS(a, HB_Buffer_Transfer_Args);
  HB_Error* err = NULL;
  unsigned char* p = buffer(a->device, a->buffer, a->offset, a->bytes, &err);
  if (!p) return err;
  if (a->bytes) memcpy(a->host, p, a->bytes);
  return NULL;
}

static HB_Error* buffer_copy(HB_Buffer_Copy_Args* a) {
  CHECK_ARGS(a, HB_Buffer_Copy_Args);
  HB_Error* err = NULL;
  unsigned char* s = buffer(a->device, a->src, a->src_offset, a->bytes, &err);
  if (!s) return err;
  unsigned char* d = buffer(a->device, a->dst, a->dst_offset, a->bytes, &err);
  if (!d) return err;
  memmove(d, s, a->bytes);
  return NULL;
}

static const char* define(const HB_Kernel_Compile_Args* a, const char* key) {
  for (size_t i = 0; i < a->num_defines; ++i)
    if (strcmp(a->defines[i].name, key) == 0) return a->defines[i].value;
  return NULL;
}

static HB_Error* kernel_compile(HB_Kernel_Compile_Args* a) {
  CHECK_ARGS(a, HB_Kernel_Compile_Args);
  if (a->dialect != HB_DIALECT_BUILTIN)
    return error_new(HB_ERROR_UNSUPPORTED, "only builtin kernels");
  const char* t = define(a, "T");
  if (strcmp(a->name, "stream_copy") == 0 && (!t || strcmp(t, "f32") == 0)) {
    a->device->compiles += 1;
    a->kernel = KERNEL_STREAM_COPY;
    return NULL;
  }
  if (strcmp(a->name, "stream_copy") == 0)
    return error_new(HB_ERROR_COMPILE, "stream_copy: T must be f32");
  return error_new(HB_ERROR_UNSUPPORTED, "the skeleton has only stream_copy");
}

/* stream_copy(a, c; n): c = a. */
static HB_Error* kernel_launch(HB_Kernel_Launch_Args* a) {
  CHECK_ARGS(a, HB_Kernel_Launch_Args);
  if (a->kernel != KERNEL_STREAM_COPY) return error_new(HB_ERROR_INVALID_ARGUMENT, "no such kernel");
  if (a->num_args != 3 || a->args[0].kind != HB_ARG_BUFFER || a->args[1].kind != HB_ARG_BUFFER ||
      a->args[2].kind != HB_ARG_U32)
    return error_new(HB_ERROR_INVALID_ARGUMENT, "stream_copy takes (buffer, buffer, u32)");
  uint64_t bytes = (uint64_t)(uint32_t)a->args[2].value * 4;
  HB_Error* err = NULL;
  unsigned char* src = buffer(a->device, a->args[0].value, 0, bytes, &err);
  if (!src) return err;
  unsigned char* dst = buffer(a->device, a->args[1].value, 0, bytes, &err);
  if (!dst) return err;
  memmove(dst, src, bytes);
  return NULL;
}

static HB_Error* device_sync(HB_Device_Sync_Args* a) {
  CHECK_ARGS(a, HB_Device_Sync_Args);
  return NULL; /* every call above completes before it returns */
}

static const HB_Api skeleton_api = {
    .struct_size = sizeof(HB_Api),
    .abi_major = HB_ABI_MAJOR,
    .abi_minor = HB_ABI_MINOR,
    .error_destroy = error_destroy,
    .error_get = error_get,
    .plugin_attributes = plugin_attributes,
    .device_count = device_count,
    .device_open = device_open,
    .device_close = device_close,
    .device_info = device_info,
    .device_stats = device_stats,
    .buffer_alloc = buffer_alloc,
    .buffer_free = buffer_free,
    .buffer_write = buffer_write,
    .buffer_read = buffer_read,
    .buffer_copy = buffer_copy,
    .kernel_compile = kernel_compile,
    .kernel_launch = kernel_launch,
    .device_sync = device_sync,
    .event_record = NULL, /* no device timers */
    .event_elapsed = NULL,
#if HB_ABI_MINOR >= 1
    .host_pin = NULL, /* nothing to pin: memory is the host's */
    .host_unpin = NULL,
#endif
#if HB_ABI_MINOR >= 4
    .device_describe = device_describe,
    .device_peaks = device_peaks,
#endif
};

#ifndef SKELETON_NO_ENTRY
const HB_Api* halbench_plugin_api(uint32_t host_major, uint32_t host_minor) {
  (void)host_major;
  (void)host_minor;
  return &skeleton_api;
}
#endif
