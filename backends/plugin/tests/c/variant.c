/* The C skeleton re-exported with a fault, one per -D switch, for the ABI tests. Error
 * objects come from a pool that is never freed, so a double destroy is counted rather
 * than being undefined behaviour. */
#include <stdint.h>
#include <stdlib.h>

#define SKELETON_ERROR_HOOKS
#define SKELETON_NO_ENTRY
struct HB_Error;
static struct HB_Error* error_alloc(void);
static void error_release(struct HB_Error* e);
#include "../../examples/skeleton.c"

#define POOL 4096
static HB_Error pool[POOL];
static int state[POOL]; /* 0 free, 1 live, 2 destroyed */
static int64_t created, destroyed, destroyed_twice;

static HB_Error* error_alloc(void) {
  for (int i = 0; i < POOL; ++i)
    if (state[i] == 0) {
      state[i] = 1;
      created++;
      return &pool[i];
    }
  return NULL;
}
static void error_release(HB_Error* e) {
  int i = (int)(e - pool);
  if (i < 0 || i >= POOL || state[i] != 1) {
    destroyed_twice++;
    return;
  }
  state[i] = 2;
  destroyed++;
}

void hb_test_error_counts(int64_t* c, int64_t* d, int64_t* twice) {
  *c = created;
  *d = destroyed;
  *twice = destroyed_twice;
}

#ifdef GARBAGE
static HB_Error* garbage_count(HB_Device_Count_Args* a) {
  a->num_devices = 2;
  return NULL;
}
static HB_Error* garbage_open(HB_Device_Open_Args* a) {
  if (a->index == 1) {
    a->device = NULL; /* "success", but no device */
    return NULL;
  }
  return device_open(a);
}
static HB_Error* garbage_alloc(HB_Buffer_Alloc_Args* a) {
  HB_Error* e = buffer_alloc(a);
  a->buffer = 7; /* the same handle every time */
  return e;
}
static void garbage_error_get(HB_Error_Get_Args* a) {
  error_get(a);
  a->message = NULL;
}
static HB_Error* garbage_info(HB_Device_Info_Args* a) {
  device_info(a);
  a->name = NULL;
  a->extras = (const HB_NamedValue*)0x1;
  a->num_extras = (size_t)-1;
  return NULL;
}
#endif

#ifdef OLD_MINOR
/* What a 1.0 plugin fills: the 1.0 prefix, with its dtypes as feature bits. */
static HB_Error* old_info(HB_Device_Info_Args* a) {
  HB_Error* e = device_info(a);
  a->dtypes = 0;
  for (int i = 0; i < 3; ++i) a->max_group_size[i] = a->max_groups[i] = 0;
  a->features |= HB_FEATURE_F16;
  return e;
}
#endif

/* Faults that no error return can express: the worker process running the device dies
 * or hangs, and the run must lose that case only (bench-suite/tests/faults.rs). */
#ifdef SEGV_LAUNCH
static HB_Error* segv_launch(HB_Kernel_Launch_Args* a) {
  (void)a;
  *(volatile int*)0 = 1;
  return NULL;
}
#endif
#ifdef ABORT_READ
static HB_Error* abort_read(HB_Buffer_Transfer_Args* a) {
  (void)a;
  abort();
}
#endif
#if defined(HANG_SYNC) || defined(HANG_DEVICES)
#include <unistd.h>
static void hang(void) {
  for (;;) pause();
}
#endif
#ifdef HANG_SYNC
static HB_Error* hang_sync(HB_Device_Sync_Args* a) {
  (void)a;
  hang();
  return NULL;
}
#endif
#ifdef HANG_DEVICES
static HB_Error* hang_count(HB_Device_Count_Args* a) {
  (void)a;
  hang();
  return NULL;
}
#endif
#ifdef BOGUS_HANDLE
/* Every buffer handle it returns is one it never issued. */
static HB_Error* bogus_alloc(HB_Buffer_Alloc_Args* a) {
  HB_Error* e = buffer_alloc(a);
  if (!e) a->buffer += 100000;
  return e;
}
#endif
#ifdef NULL_MESSAGE
/* Launch fails with an error whose message is NULL (and whose size says otherwise). */
static HB_Error* failing_launch(HB_Kernel_Launch_Args* a) {
  (void)a;
  return error_new(HB_ERROR_BACKEND, "never seen");
}
static void null_message_get(HB_Error_Get_Args* a) {
  error_get(a);
  a->message = NULL;
  a->message_size = 64;
}
#endif

#ifdef NEW_MINOR
/* A next minor's HB_Device_Info_Args: one more field, written only when the host's
 * struct_size covers it (today's host passes today's size, so it never is). */
struct future_info {
  HB_Device_Info_Args base;
  uint64_t added_later;
};
static HB_Error* future_device_info(HB_Device_Info_Args* a) {
  HB_Error* e = device_info(a);
  if (!e && a->struct_size >= sizeof(struct future_info))
    ((struct future_info*)a)->added_later = 42;
  return e;
}
#endif

/* A table from a future minor: one more function after everything this host knows. */
struct future_api {
  HB_Api base;
  void (*added_later)(void);
};
static struct future_api table;

const HB_Api* halbench_plugin_api(uint32_t host_major, uint32_t host_minor) {
  (void)host_major;
  (void)host_minor;
  table.base = skeleton_api;
#ifdef OLD_MINOR
  table.base.abi_minor = 0;
  table.base.struct_size = HB_API_SIZE_1_0;
  table.base.host_pin = NULL; /* beyond struct_size: never read */
  table.base.device_info = old_info;
#endif
#ifdef NEW_MINOR
  table.base.abi_minor = HB_ABI_MINOR + 1;
  table.base.struct_size = sizeof(struct future_api);
  table.added_later = NULL;
  table.base.device_info = future_device_info;
#endif
#ifdef MAJOR
  table.base.abi_major = MAJOR;
#endif
#ifdef DROP_READ
  table.base.buffer_read = NULL;
#endif
#ifdef TRUNCATE_AT_READ
  table.base.struct_size = offsetof(HB_Api, buffer_read);
#endif
#ifdef DECLINE
  return NULL;
#endif
#ifdef GARBAGE
  table.base.device_count = garbage_count;
  table.base.device_open = garbage_open;
  table.base.buffer_alloc = garbage_alloc;
  table.base.error_get = garbage_error_get;
  table.base.device_info = garbage_info;
#endif
#ifdef SEGV_LAUNCH
  table.base.kernel_launch = segv_launch;
#endif
#ifdef ABORT_READ
  table.base.buffer_read = abort_read;
#endif
#ifdef HANG_SYNC
  table.base.device_sync = hang_sync;
#endif
#ifdef HANG_DEVICES
  table.base.device_count = hang_count;
#endif
#ifdef BOGUS_HANDLE
  table.base.buffer_alloc = bogus_alloc;
#endif
#ifdef NULL_MESSAGE
  table.base.kernel_launch = failing_launch;
  table.base.error_get = null_message_get;
#endif
  return &table.base;
}
