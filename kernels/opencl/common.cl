// Shared by every OpenCL kernel. The host defines T (the storage type: float, half or
// ushort for bf16) and one of DTYPE_F32, DTYPE_F16, DTYPE_BF16. Arithmetic is float:
// LOAD widens an element, STORE rounds a float to nearest even.
#if defined(DTYPE_F16)
#pragma OPENCL EXTENSION cl_khr_fp16 : enable
#define LOAD(p, i) vload_half((i), (p))
#define STORE(p, i, v) vstore_half_rte((v), (i), (p))
#elif defined(DTYPE_BF16)
#define LOAD(p, i) as_float(((uint)(p)[i]) << 16)
inline ushort bf16_round(float f) {
    uint u = as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (ushort)((u >> 16) | 0x40u); // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return (ushort)(u >> 16);
}
#define STORE(p, i, v) ((p)[i] = bf16_round(v))
#else
#define LOAD(p, i) ((p)[i])
#define STORE(p, i, v) ((p)[i] = (v))
#endif

// Tree reduction of one float per work-item over the work-group, any group size up to
// MAX_GROUP. Every work-item gets the result.
#define MAX_GROUP 1024
inline float group_sum(float v, __local float* scratch) {
    uint lid = get_local_id(0), n = get_local_size(0);
    scratch[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint s = 1; s < n; s <<= 1) {
        float other = (lid % (2 * s) == 0 && lid + s < n) ? scratch[lid + s] : 0.0f;
        barrier(CLK_LOCAL_MEM_FENCE);
        scratch[lid] += other;
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}
inline float group_max(float v, __local float* scratch) {
    uint lid = get_local_id(0), n = get_local_size(0);
    scratch[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint s = 1; s < n; s <<= 1) {
        float other = (lid % (2 * s) == 0 && lid + s < n) ? scratch[lid + s] : -INFINITY;
        barrier(CLK_LOCAL_MEM_FENCE);
        scratch[lid] = fmax(scratch[lid], other);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}
