// Does not compile: `acc` is never declared.
__kernel void gemm_tiled(__global const T* restrict A, __global const T* restrict B,
                         __global T* restrict C, uint M, uint N, uint K) {
    size_t j = get_global_id(0), i = get_global_id(1);
    if (i >= M || j >= N) return;
    acc = 0.0f;
}
