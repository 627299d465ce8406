// Shared by every CUDA kernel, compiled by NVRTC with no CUDA headers (none ship with
// NVRTC): half types are stored as 16-bit words and converted with PTX `cvt`. The host
// defines one of DTYPE_F32, DTYPE_F16, DTYPE_BF16 (not T: a macro T would rewrite
// NVRTC's built-in headers, which use it as a template parameter). Arithmetic is float:
// LOAD widens, STORE rounds to nearest even.
typedef unsigned int uint;
typedef unsigned short ushort;
#if defined(DTYPE_F16) || defined(DTYPE_BF16)
typedef ushort T;
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

#if defined(DTYPE_F16)
#define LOAD(p, i) f16_to_f32((p)[i])
#define STORE(p, i, v) ((p)[i] = f32_to_f16(v))
#elif defined(DTYPE_BF16)
#define LOAD(p, i) bf16_to_f32((p)[i])
#define STORE(p, i, v) ((p)[i] = f32_to_bf16(v))
#else
#define LOAD(p, i) ((p)[i])
#define STORE(p, i, v) ((p)[i] = (v))
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
