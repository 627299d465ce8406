// peak_fma and latency_empty (kernels/README.md). Halves compute in `half` (f16 needs
// cl_khr_fp16); OpenCL C has no bf16 arithmetic, so there is no bf16 peak_fma. The
// chains use mad(), which the device may fuse; each step counts as two FLOPs either way.
#if defined(DTYPE_F16)
typedef half2 V;
typedef half S;
#else
typedef float2 V;
typedef float S;
#endif

#if defined(PEAK_VECTOR) && defined(DTYPE_F32)
// CPU devices: each work-item takes 16 consecutive items, lane l of chain j in x_j.
__kernel void peak_fma(__global T* out, uint n, uint iters, float a, float b) {
    const int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (uint base = get_global_id(0) * 16; base < n; base += get_global_size(0) * 16) {
        int16 i = (int16)((int)base) + lane;
        float16 x0 = convert_float16((i + 0) & 63) * 0.25f, x1 = convert_float16((i + 1) & 63) * 0.25f;
        float16 x2 = convert_float16((i + 2) & 63) * 0.25f, x3 = convert_float16((i + 3) & 63) * 0.25f;
        float16 x4 = convert_float16((i + 4) & 63) * 0.25f, x5 = convert_float16((i + 5) & 63) * 0.25f;
        float16 x6 = convert_float16((i + 6) & 63) * 0.25f, x7 = convert_float16((i + 7) & 63) * 0.25f;
        for (uint k = 0; k < iters; ++k) {
            x0 = mad(x0, a, b); x1 = mad(x1, a, b); x2 = mad(x2, a, b); x3 = mad(x3, a, b);
            x4 = mad(x4, a, b); x5 = mad(x5, a, b); x6 = mad(x6, a, b); x7 = mad(x7, a, b);
        }
        float16 s = ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7));
        float sum[16];
        vstore16(s, 0, sum);
        for (uint l = 0; l < 16 && base + l < n; ++l) out[base + l] = sum[l];
    }
}
#else
__kernel void peak_fma(__global T* out, uint n, uint iters, float a, float b) {
    V va = (V)((S)a), vb = (V)((S)b);
    for (uint i = get_global_id(0); i < n; i += get_global_size(0)) {
        V x0 = (V)((S)(((i + 0) & 63) * 0.25f), (S)(((i + 1) & 63) * 0.25f));
        V x1 = (V)((S)(((i + 2) & 63) * 0.25f), (S)(((i + 3) & 63) * 0.25f));
        V x2 = (V)((S)(((i + 4) & 63) * 0.25f), (S)(((i + 5) & 63) * 0.25f));
        V x3 = (V)((S)(((i + 6) & 63) * 0.25f), (S)(((i + 7) & 63) * 0.25f));
        for (uint k = 0; k < iters; ++k) {
            x0 = mad(x0, va, vb);
            x1 = mad(x1, va, vb);
            x2 = mad(x2, va, vb);
            x3 = mad(x3, va, vb);
        }
        V s = (x0 + x1) + (x2 + x3);
        STORE(out, i, (float)s.x + (float)s.y);
    }
}
#endif

__kernel void latency_empty(__global float* out, uint flag) {
    if (flag != 0u) out[get_global_id(0)] = 0.0f;
}
