// Shared by every OpenCL kernel. The host defines T (the storage type: float, half,
// ushort for bf16, uchar for fp8) and one of DTYPE_F32, DTYPE_F16, DTYPE_BF16,
// DTYPE_F8E4M3, DTYPE_F8E5M2. Arithmetic is float: LOAD widens an element, STORE rounds a
// float to nearest even (fp8: saturating at the type's largest value).
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
#elif defined(DTYPE_F8E4M3) || defined(DTYPE_F8E5M2)
#define DTYPE_FP8 1
#if defined(DTYPE_F8E4M3)
#define FP8_M 3                         // mantissa bits
#define FP8_BIAS 7
#define FP8_MAX 448.0f
#define FP8_MIN_NORMAL 0.015625f        // 2^-6
#define FP8_SUBNORMALS 512.0f           // 1 / the subnormal step, 2^-9
#else
#define FP8_M 2
#define FP8_BIAS 15
#define FP8_MAX 57344.0f
#define FP8_MIN_NORMAL 6.103515625e-05f // 2^-14
#define FP8_SUBNORMALS 65536.0f         // 2^16
#endif
// A code's float: normals by moving the exponent and mantissa into place and rebiasing,
// subnormals as a multiple of the step. (NaN codes are never stored.)
inline float fp8_to_float(uint x) {
    uint mag = x & 0x7fu;
    float v = (mag >> FP8_M) == 0 ? (float)mag / FP8_SUBNORMALS
                                  : as_float((mag << (23 - FP8_M)) + ((127u - FP8_BIAS) << 23));
    return as_float(as_uint(v) | ((x & 0x80u) << 24));
}
inline float16 fp8_to_float16(uint16 x) {
    uint16 mag = x & 0x7fu;
    float16 sub = convert_float16(mag) / FP8_SUBNORMALS;
    float16 nor = as_float16((mag << (23 - FP8_M)) + ((127u - FP8_BIAS) << 23));
    float16 v = select(nor, sub, (mag >> FP8_M) == 0);
    return as_float16(as_uint16(v) | ((x & 0x80u) << 24));
}
inline uchar float_to_fp8(float f) {
    uint sign = (as_uint(f) >> 24) & 0x80u;
    float a = fmin(fabs(f), FP8_MAX);
    uint code;
    if (a < FP8_MIN_NORMAL) {
        code = (uint)rint(a * FP8_SUBNORMALS); // the step's multiple; 1 << FP8_M is the first normal
    } else {
        uint u = as_uint(a);
        u += ((1u << (22 - FP8_M)) - 1u) + ((u >> (23 - FP8_M)) & 1u); // to nearest even
        code = (u >> (23 - FP8_M)) - ((127u - FP8_BIAS) << FP8_M);
    }
    return (uchar)(sign | code);
}
#define LOAD(p, i) fp8_to_float((p)[i])
#define STORE(p, i, v) ((p)[i] = float_to_fp8(v))
#else
#define LOAD(p, i) ((p)[i])
#define STORE(p, i, v) ((p)[i] = (v))
#endif

// fp8 GEMMs take the per-tensor scales folded into one trailing scalar (sa·sb/sc) and
// multiply the f32 sums by it before rounding; other dtypes take none.
#if defined(DTYPE_FP8)
#define FP8_SCALE_ARG , float scale
#define FP8_SCALED(v) ((v) * scale)
#else
#define FP8_SCALE_ARG
#define FP8_SCALED(v) (v)
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
