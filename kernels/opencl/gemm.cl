// C = A·B, row-major, f32 accumulate, T storage.

// One work-item per output element.
__kernel void gemm_naive(__global const T* restrict A, __global const T* restrict B,
                         __global T* restrict C, uint M, uint N, uint K) {
    size_t j = get_global_id(0), i = get_global_id(1);
    if (i >= M || j >= N) return;
    float acc = 0.0f;
    for (size_t p = 0; p < K; p++) acc += LOAD(A, i * K + p) * LOAD(B, p * N + j);
    STORE(C, i * N + j, acc);
}

// A 64×64 tile of C per work-group of 256 work-items, each computing a 4×4 block; A and B
// pass through local memory 16 deep. Edges are zero-padded, so any M, N, K works.
#define TM 64
#define TN 64
#define TK 16
__kernel __attribute__((reqd_work_group_size(256, 1, 1)))
void gemm_tiled(__global const T* restrict A, __global const T* restrict B,
                __global T* restrict C, uint M, uint N, uint K) {
    __local float As[TK][TM];
    __local float Bs[TK][TN];
    size_t lid = get_local_id(0);
    size_t tx = lid % 16, ty = lid / 16;
    size_t row0 = get_group_id(1) * TM, col0 = get_group_id(0) * TN;
    float acc[4][4] = {{0.0f}};
    for (size_t k0 = 0; k0 < K; k0 += TK) {
        // 1024 elements of each tile, 4 per work-item.
        for (size_t e = lid; e < TK * TM; e += 256) {
            size_t r = e / TK, c = e % TK; // A tile: TM rows × TK columns
            size_t gi = row0 + r, gk = k0 + c;
            As[c][r] = (gi < M && gk < K) ? LOAD(A, gi * K + gk) : 0.0f;
            size_t br = e / TN, bc = e % TN; // B tile: TK rows × TN columns
            size_t bk = k0 + br, bj = col0 + bc;
            Bs[br][bc] = (bk < K && bj < N) ? LOAD(B, bk * N + bj) : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (size_t kk = 0; kk < TK; kk++) {
            float a[4], b[4];
            for (int r = 0; r < 4; r++) a[r] = As[kk][ty * 4 + r];
            for (int c = 0; c < 4; c++) b[c] = Bs[kk][tx * 4 + c];
            for (int r = 0; r < 4; r++)
                for (int c = 0; c < 4; c++) acc[r][c] = fma(a[r], b[c], acc[r][c]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    for (int r = 0; r < 4; r++) {
        size_t i = row0 + ty * 4 + r;
        for (int c = 0; c < 4; c++) {
            size_t j = col0 + tx * 4 + c;
            if (i < M && j < N) STORE(C, i * N + j, acc[r][c]);
        }
    }
}
