// peak_fma and latency_empty (kernels/README.md). f32 runs eight scalar fmaf chains;
// f16 and bf16 run four packed chains of two (fma.rn.f16x2 / fma.rn.bf16x2, the latter
// sm_80+), the way the hardware issues half arithmetic.
#if defined(DTYPE_F32)
extern "C" __global__ void peak_fma(T* out, uint n, uint iters, float a, float b) {
    for (uint i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        float x[8];
#pragma unroll
        for (int j = 0; j < 8; ++j) x[j] = (float)((i + j) & 63) * 0.25f;
#pragma unroll 4
        for (uint k = 0; k < iters; ++k) {
#pragma unroll
            for (int j = 0; j < 8; ++j) x[j] = fmaf(x[j], a, b);
        }
        float s = 0.0f;
#pragma unroll
        for (int j = 0; j < 8; ++j) s += x[j];
        out[i] = s;
    }
}
#else
#if defined(DTYPE_F16)
#define FMA2 "fma.rn.f16x2 %0, %1, %2, %3;"
#define TO_HALF f32_to_f16
#define FROM_HALF f16_to_f32
#else
#define FMA2 "fma.rn.bf16x2 %0, %1, %2, %3;"
#define TO_HALF f32_to_bf16
#define FROM_HALF bf16_to_f32
#endif
__device__ __forceinline__ uint pack2(float lo, float hi) {
    return (uint)TO_HALF(lo) | ((uint)TO_HALF(hi) << 16);
}
__device__ __forceinline__ uint fma2(uint x, uint a, uint b) {
    uint d;
    asm(FMA2 : "=r"(d) : "r"(x), "r"(a), "r"(b));
    return d;
}
extern "C" __global__ void peak_fma(T* out, uint n, uint iters, float a, float b) {
    uint a2 = pack2(a, a), b2 = pack2(b, b);
    for (uint i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        uint x[4];
#pragma unroll
        for (int j = 0; j < 4; ++j)
            x[j] = pack2((float)((i + 2 * j) & 63) * 0.25f, (float)((i + 2 * j + 1) & 63) * 0.25f);
#pragma unroll 4
        for (uint k = 0; k < iters; ++k) {
#pragma unroll
            for (int j = 0; j < 4; ++j) x[j] = fma2(x[j], a2, b2);
        }
        float s = 0.0f;
#pragma unroll
        for (int j = 0; j < 4; ++j) s += FROM_HALF((ushort)(x[j] & 0xffffu)) + FROM_HALF((ushort)(x[j] >> 16));
        STORE(out, i, s);
    }
}
#endif

extern "C" __global__ void latency_empty(float* out, uint flag) {
    if (flag != 0u) out[blockIdx.x * blockDim.x + threadIdx.x] = 0.0f;
}
