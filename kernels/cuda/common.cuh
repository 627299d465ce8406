// Shared by every CUDA kernel, compiled by NVRTC with no CUDA headers (none ship with
// NVRTC): half types are stored as 16-bit words and converted with PTX `cvt`, fp8 as bytes
// decoded with integer arithmetic (any GPU). The host defines one of DTYPE_F32,
// DTYPE_F16, DTYPE_BF16, DTYPE_F8E4M3, DTYPE_F8E5M2 (not T: a macro T would rewrite
// NVRTC's built-in headers, which use it as a template parameter). Arithmetic is float:
// LOAD widens, STORE rounds to nearest even.
typedef unsigned int uint;
typedef unsigned short ushort;
typedef unsigned char uchar;
#if defined(DTYPE_F8E4M3) || defined(DTYPE_F8E5M2)
#define DTYPE_FP8 1
#endif
#if defined(DTYPE_F16) || defined(DTYPE_BF16)
typedef ushort T;
#elif defined(DTYPE_FP8)
typedef uchar T;
#else
typedef float T;
#endif

__device__ __forceinline__ float f16_to_f32(ushort h) {
    float f;
    asm("{ .reg .b16 t; mov.b16 t, %1; cvt.f32.f16 %0, t; }" : "=f"(f) : "h"(h));
    return f;
}
__device__ __forceinline__ ushort f32_to_f16(float f) {
    ushort h;
    asm("{ .reg .b16 t; cvt.rn.f16.f32 t, %1; mov.b16 %0, t; }" : "=h"(h) : "f"(f));
    return h;
}
__device__ __forceinline__ float bf16_to_f32(ushort h) { return __uint_as_float(((uint)h) << 16); }
__device__ __forceinline__ ushort f32_to_bf16(float f) {
    uint u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (ushort)((u >> 16) | 0x40u); // quiet NaN
    return (ushort)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

#if defined(DTYPE_FP8)
// OCP fp8: a code's float by moving exponent and mantissa into place and rebiasing
// (subnormals as a multiple of the step); stores round to nearest even and saturate at
// the largest finite value, as cvt.satfinite does. NaN codes are never stored.
#if defined(DTYPE_F8E4M3)
#define FP8_M 3
#define FP8_BIAS 7
#define FP8_MAX 448.0f
#define FP8_MIN_NORMAL 0.015625f
#define FP8_SUBNORMALS 512.0f
#else
#define FP8_M 2
#define FP8_BIAS 15
#define FP8_MAX 57344.0f
#define FP8_MIN_NORMAL 6.103515625e-05f
#define FP8_SUBNORMALS 65536.0f
#endif
__device__ __forceinline__ float fp8_to_f32(uint x) {
    uint mag = x & 0x7fu;
    float v = (mag >> FP8_M) == 0 ? (float)mag / FP8_SUBNORMALS
                                  : __uint_as_float((mag << (23 - FP8_M)) + ((127u - FP8_BIAS) << 23));
    return __uint_as_float(__float_as_uint(v) | ((x & 0x80u) << 24));
}
__device__ __forceinline__ uchar f32_to_fp8(float f) {
    uint sign = (__float_as_uint(f) >> 24) & 0x80u;
    float a = fminf(fabsf(f), FP8_MAX);
    uint code;
    if (a < FP8_MIN_NORMAL) {
        code = (uint)rintf(a * FP8_SUBNORMALS);
    } else {
        uint u = __float_as_uint(a);
        u += ((1u << (22 - FP8_M)) - 1u) + ((u >> (23 - FP8_M)) & 1u);
        code = (u >> (23 - FP8_M)) - ((127u - FP8_BIAS) << FP8_M);
    }
    return (uchar)(sign | code);
}
#define LOAD(p, i) fp8_to_f32((p)[i])
#define STORE(p, i, v) ((p)[i] = f32_to_fp8(v))
// fp8 GEMMs take the per-tensor scales folded into one trailing scalar (sa·sb/sc).
#define FP8_SCALE_ARG , float scale
#define FP8_SCALED(v) ((v) * scale)
#elif defined(DTYPE_F16)
#define LOAD(p, i) f16_to_f32((p)[i])
#define STORE(p, i, v) ((p)[i] = f32_to_f16(v))
#elif defined(DTYPE_BF16)
#define LOAD(p, i) bf16_to_f32((p)[i])
#define STORE(p, i, v) ((p)[i] = f32_to_bf16(v))
#else
#define LOAD(p, i) ((p)[i])
#define STORE(p, i, v) ((p)[i] = (v))
#endif

#ifndef DTYPE_FP8
#define FP8_SCALE_ARG
#define FP8_SCALED(v) (v)
#endif

#define INF __int_as_float(0x7f800000)
#define MAX_GROUP 1024

// Tree reduction over the block (any size up to MAX_GROUP); every thread gets the result.
__device__ float block_reduce(float v, bool is_max, float* scratch) {
    uint lid = threadIdx.x, n = blockDim.x;
    scratch[lid] = v;
    __syncthreads();
    for (uint s = 1; s < n; s <<= 1) {
        float other = (lid % (2 * s) == 0 && lid + s < n) ? scratch[lid + s] : (is_max ? -INF : 0.0f);
        __syncthreads();
        scratch[lid] = is_max ? fmaxf(scratch[lid], other) : scratch[lid] + other;
        __syncthreads();
    }
    float r = scratch[0];
    __syncthreads();
    return r;
}

__device__ __forceinline__ size_t global_id() { return (size_t)blockIdx.x * blockDim.x + threadIdx.x; }
__device__ __forceinline__ size_t global_size() { return (size_t)gridDim.x * blockDim.x; }
