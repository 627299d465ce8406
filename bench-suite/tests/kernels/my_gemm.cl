// A user's GEMM for the canonical kernel gemm_tiled: each work-item computes four
// consecutive elements of one row of C (four accumulators sharing each A element).
// Launch shape: 16×4 work-items per group, covering 64 columns × 4 rows of C.
// halbench: threads=16x4,per_group=64x4
__kernel void gemm_tiled(__global const T* restrict A, __global const T* restrict B,
                         __global T* restrict C, uint M, uint N, uint K) {
    size_t j0 = get_global_id(0) * 4, i = get_global_id(1);
    if (i >= M || j0 >= N) return;
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (size_t p = 0; p < K; p++) {
        float a = LOAD(A, i * K + p);
        for (int c = 0; c < 4; c++)
            if (j0 + c < N) acc[c] += a * LOAD(B, p * N + j0 + c);
    }
    for (int c = 0; c < 4; c++)
        if (j0 + c < N) STORE(C, i * N + j0 + c, acc[c]);
}
