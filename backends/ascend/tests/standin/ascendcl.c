/* Stand-in libascendcl.so (test double): the runtime, backed by host memory. */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "common.h"

#define MAX_ALLOCS 4096
static int inited, device_set = -1;
static struct { char* p; size_t n; } allocs[MAX_ALLOCS];
static int live_streams, live_events;
typedef struct { int magic; double t; int recorded; } event_t;
typedef struct { int magic; } stream_t;

const char* standin_acl_log(void) { return standin_log_buf; }
void standin_acl_fail(const char* name) { snprintf(standin_failing, sizeof standin_failing, "%s", name ? name : ""); }
int standin_acl_live(void) {
  int n = live_streams + live_events;
  for (int i = 0; i < MAX_ALLOCS; ++i) n += allocs[i].p != NULL;
  return n;
}

const char* aclGetRecentErrMsg(void) { return standin_message[0] ? standin_message : NULL; }

int aclInit(const char* config) {
  logf_("aclInit config=%s", config ? config : "NULL");
  if (failing("aclInit")) return STANDIN_ERROR;
  if (inited) return 100002;
  inited = 1;
  return 0;
}
int aclrtGetDeviceCount(uint32_t* count) {
  if (!inited) return bad("aclrtGetDeviceCount before aclInit");
  if (failing("aclrtGetDeviceCount")) return STANDIN_ERROR;
  *count = 1;
  return 0;
}
int aclrtSetDevice(int32_t id) {
  if (!inited) return bad("aclrtSetDevice before aclInit");
  if (id != 0) return bad("aclrtSetDevice(%d): no such device", id);
  if (device_set != 0) logf_("aclrtSetDevice %d", id);
  device_set = id;
  return 0;
}
int aclrtResetDevice(int32_t id) {
  logf_("aclrtResetDevice %d", id);
  return 0;
}
const char* aclrtGetSocName(void) { return "Ascend910B (stand-in)"; }
int aclrtGetMemInfo(int attr, size_t* free_, size_t* total) {
  if (device_set < 0) return bad("aclrtGetMemInfo without a current device");
  if (attr != 1) return bad("aclrtGetMemInfo attr %d, expected ACL_HBM_MEM", attr);
  *free_ = *total = (size_t)1 << 30;
  return 0;
}
int aclrtCreateStream(void** s) {
  if (device_set < 0) return bad("aclrtCreateStream without a current device");
  stream_t* st = malloc(sizeof *st);
  st->magic = 0x5715;
  *s = st;
  live_streams++;
  logf_("aclrtCreateStream");
  return 0;
}
static int stream_ok(void* s) { return s && ((stream_t*)s)->magic == 0x5715; }
int aclrtDestroyStream(void* s) {
  if (!stream_ok(s)) return bad("aclrtDestroyStream: not a stream");
  ((stream_t*)s)->magic = 0;
  free(s);
  live_streams--;
  logf_("aclrtDestroyStream");
  return 0;
}
int aclrtSynchronizeStream(void* s) { return stream_ok(s) ? 0 : bad("aclrtSynchronizeStream: not a stream"); }

int aclrtMalloc(void** p, size_t n, int policy) {
  if (failing("aclrtMalloc")) return 207001;
  if (n == 0) return bad("aclrtMalloc of 0 bytes");
  if (policy != 0) return bad("aclrtMalloc policy %d", policy);
  for (int i = 0; i < MAX_ALLOCS; ++i)
    if (!allocs[i].p) {
      allocs[i].p = calloc(1, n);
      allocs[i].n = n;
      *p = allocs[i].p;
      logf_("aclrtMalloc %zu", n);
      return 0;
    }
  return 207001;
}
int aclrtFree(void* p) {
  for (int i = 0; i < MAX_ALLOCS; ++i)
    if (allocs[i].p == p) {
      free(p);
      allocs[i].p = NULL;
      logf_("aclrtFree %zu", allocs[i].n);
      return 0;
    }
  return bad("aclrtFree of %p: not device memory (double free?)", p);
}
/* True when [p, p + n) lies inside one device allocation. */
static int device_range(const void* p, size_t n) {
  for (int i = 0; i < MAX_ALLOCS; ++i)
    if (allocs[i].p && (const char*)p >= allocs[i].p && (const char*)p + n <= allocs[i].p + allocs[i].n) return 1;
  return 0;
}
static int memcpy_checked(const char* what, void* dst, size_t max, const void* src, size_t n, int kind) {
  if (n > max) return bad("%s: count %zu exceeds destMax %zu", what, n, max);
  int dst_dev = kind == 1 || kind == 3, src_dev = kind == 2 || kind == 3;
  if (kind < 1 || kind > 3) return bad("%s: kind %d", what, kind);
  if (dst_dev && !device_range(dst, n)) return bad("%s: destination is not device memory", what);
  if (src_dev && !device_range(src, n)) return bad("%s: source is not device memory", what);
  memmove(dst, src, n);
  logf_("%s kind=%d bytes=%zu", what, kind, n);
  return 0;
}
int aclrtMemcpy(void* dst, size_t max, const void* src, size_t n, int kind) {
  if (failing("aclrtMemcpy")) return STANDIN_ERROR;
  return memcpy_checked("aclrtMemcpy", dst, max, src, n, kind);
}
int aclrtMemcpyAsync(void* dst, size_t max, const void* src, size_t n, int kind, void* s) {
  if (!stream_ok(s)) return bad("aclrtMemcpyAsync: not a stream");
  return memcpy_checked("aclrtMemcpyAsync", dst, max, src, n, kind);
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}
int aclrtCreateEvent(void** e) {
  event_t* ev = calloc(1, sizeof *ev);
  ev->magic = 0xE7E7;
  *e = ev;
  live_events++;
  return 0;
}
static int event_ok(void* e) { return e && ((event_t*)e)->magic == 0xE7E7; }
int aclrtDestroyEvent(void* e) {
  if (!event_ok(e)) return bad("aclrtDestroyEvent: not an event (destroyed twice?)");
  ((event_t*)e)->magic = 0;
  free(e);
  live_events--;
  return 0;
}
int aclrtRecordEvent(void* e, void* s) {
  if (!event_ok(e) || !stream_ok(s)) return bad("aclrtRecordEvent: bad event or stream");
  ((event_t*)e)->t = now();
  ((event_t*)e)->recorded = 1;
  logf_("aclrtRecordEvent");
  return 0;
}
int aclrtSynchronizeEvent(void* e) { return event_ok(e) ? 0 : bad("aclrtSynchronizeEvent: not an event"); }
int aclrtEventElapsedTime(float* ms, void* a, void* b) {
  if (!event_ok(a) || !event_ok(b)) return bad("aclrtEventElapsedTime: not an event");
  if (!((event_t*)a)->recorded || !((event_t*)b)->recorded) return bad("aclrtEventElapsedTime: event not recorded");
  *ms = (float)((((event_t*)b)->t - ((event_t*)a)->t) * 1e3);
  logf_("aclrtEventElapsedTime");
  return 0;
}
