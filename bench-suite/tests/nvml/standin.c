/* A stand-in for libnvidia-ml.so: a test double for the NVIDIA driver on machines
 * without a GPU. It exports the few entry points halbench's telemetry calls, with
 * NVML's signatures and return codes, and one device whose readings move: the SM
 * clock steps down from 1980 to 1410 MHz (below 90% of the 1755 MHz applications
 * clock, so a case sampled across it is throttled), energy rises 5 J per read.
 * Built with -DNO_POWER, board power is NVML_ERROR_NOT_SUPPORTED. */
#include <string.h>

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;
enum { OK = 0, INVALID_ARGUMENT = 2, NOT_SUPPORTED = 3, NOT_FOUND = 6 };

static struct nvmlDevice_st { int id; } the_gpu = {0};
static unsigned reads = 0;

nvmlReturn_t nvmlInit_v2(void) { return OK; }
nvmlReturn_t nvmlInitWithFlags(unsigned flags) { (void)flags; return OK; }
nvmlReturn_t nvmlShutdown(void) { return OK; }
const char *nvmlErrorString(nvmlReturn_t r) { return r == NOT_SUPPORTED ? "Not Supported" : "Unknown Error"; }

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned index, nvmlDevice_t *device) {
    if (index != 0) return INVALID_ARGUMENT;
    *device = &the_gpu;
    return OK;
}

nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char *bus_id, nvmlDevice_t *device) {
    if (strcmp(bus_id, "00000000:19:00.0") != 0) return NOT_FOUND;
    *device = &the_gpu;
    return OK;
}

/* type 1 is NVML_CLOCK_SM. */
nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t d, int type, unsigned *mhz) {
    if (d != &the_gpu || type != 1) return INVALID_ARGUMENT;
    *mhz = reads++ < 3 ? 1980 : 1410;
    return OK;
}

nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t d, int type, unsigned *mhz) {
    (void)d; (void)type;
    *mhz = 1980;
    return OK;
}

nvmlReturn_t nvmlDeviceGetDefaultApplicationsClock(nvmlDevice_t d, int type, unsigned *mhz) {
    (void)d; (void)type;
    *mhz = 1755;
    return OK;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned *c) {
    (void)d;
    if (sensor != 0) return INVALID_ARGUMENT;
    *c = 61 + reads % 3;
    return OK;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned *mw) {
    (void)d;
#ifdef NO_POWER
    (void)mw;
    return NOT_SUPPORTED;
#else
    *mw = 612000;
    return OK;
#endif
}

nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t d, unsigned long long *mj) {
    static unsigned long long total = 1000000;
    (void)d;
    total += 5000;
    *mj = total;
    return OK;
}
