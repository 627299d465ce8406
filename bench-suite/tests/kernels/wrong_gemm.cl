// Wrong on purpose: drops the last term of every dot product.
// halbench: threads=16x16,per_group=16x16
__kernel void gemm_tiled(__global const T* restrict A, __global const T* restrict B,
                         __global T* restrict C, uint M, uint N, uint K) {
    size_t j = get_global_id(0), i = get_global_id(1);
    if (i >= M || j >= N) return;
    float acc = 0.0f;
    for (size_t p = 0; p + 1 < K; p++) acc += LOAD(A, i * K + p) * LOAD(B, p * N + j);
    STORE(C, i * N + j, acc);
}
