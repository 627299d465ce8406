// C = A·B, row-major, f32 accumulate, T storage. fp8: C's codes = round(scale · A·B).

// One thread per output element.
extern "C" __global__ void gemm_naive(const T* __restrict__ A, const T* __restrict__ B, T* __restrict__ C,
                                      uint M, uint N, uint K FP8_SCALE_ARG) {
    size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t i = (size_t)blockIdx.y * blockDim.y + threadIdx.y;
    if (i >= M || j >= N) return;
    float acc = 0.0f;
    for (size_t p = 0; p < K; p++) acc += LOAD(A, i * K + p) * LOAD(B, p * N + j);
    STORE(C, i * N + j, FP8_SCALED(acc));
}

#define TM 64
#define TN 64
#define TK 16

#if defined(DTYPE_FP8) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
// fp8 tensor cores (sm_89+): a 64×64 tile of C per block of 256 threads (8 warps, each a
// 16×32 strip as four m16n8k32 MMAs), 32 deep per step, A row-major and B transposed
// (column-major) in shared memory so each fragment register is one aligned 32-bit read of
// four consecutive k. Fragment layouts follow the PTX ISA for mma.m16n8k32 with 8-bit
// operands (.row.col): A a0..a3 rows g/g+8, k tig·4.. and +16; B k tig·4.. and +16, n g.
#if defined(DTYPE_F8E4M3)
#define MMA8 "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32"
#else
#define MMA8 "mma.sync.aligned.m16n8k32.row.col.f32.e5m2.e5m2.f32"
#endif
#define TK8 32
extern "C" __global__ void __launch_bounds__(256) gemm_tiled(const T* __restrict__ A, const T* __restrict__ B,
                                                             T* __restrict__ C, uint M, uint N, uint K FP8_SCALE_ARG) {
    // Rows padded by 16 bytes: 48-byte strides keep the fragment reads 4-byte aligned and
    // spread over the banks.
    __shared__ __align__(16) uchar As[TM][TK8 + 16];
    __shared__ __align__(16) uchar Bt[TN][TK8 + 16];
    uint lid = threadIdx.x, warp = lid / 32, lane = lid % 32;
    uint group = lane / 4, tig = lane % 4;
    uint wm = warp / 2, wn = warp % 2;
    size_t row0 = (size_t)blockIdx.y * TM, col0 = (size_t)blockIdx.x * TN;
    float c[4][4] = {{0.0f}};
    for (size_t k0 = 0; k0 < K; k0 += TK8) {
        for (uint e = lid; e < TM * TK8; e += 256) {
            uint r = e / TK8, q = e % TK8;
            size_t gi = row0 + r, gk = k0 + q;
            As[r][q] = (gi < M && gk < K) ? A[gi * K + gk] : (uchar)0;
            uint br = e / TN, bq = e % TN; // consecutive threads read consecutive n
            size_t bk = k0 + br, bj = col0 + bq;
            Bt[bq][br] = (bk < K && bj < N) ? B[bk * N + bj] : (uchar)0;
        }
        __syncthreads();
        uint ar = wm * 16 + group, ak = tig * 4;
        uint a0 = *(const uint*)&As[ar][ak];
        uint a1 = *(const uint*)&As[ar + 8][ak];
        uint a2 = *(const uint*)&As[ar][ak + 16];
        uint a3 = *(const uint*)&As[ar + 8][ak + 16];
        for (int t = 0; t < 4; t++) {
            uint bn = wn * 32 + t * 8 + group;
            uint b0 = *(const uint*)&Bt[bn][ak];
            uint b1 = *(const uint*)&Bt[bn][ak + 16];
            asm volatile(MMA8 " {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                         : "+f"(c[t][0]), "+f"(c[t][1]), "+f"(c[t][2]), "+f"(c[t][3])
                         : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
        }
        __syncthreads();
    }
    for (int t = 0; t < 4; t++) {
        size_t i = row0 + wm * 16 + group, j = col0 + wn * 32 + t * 8 + tig * 2;
        if (i < M && j < N) STORE(C, i * N + j, c[t][0] * scale);
        if (i < M && j + 1 < N) STORE(C, i * N + j + 1, c[t][1] * scale);
        if (i + 8 < M && j < N) STORE(C, (i + 8) * N + j, c[t][2] * scale);
        if (i + 8 < M && j + 1 < N) STORE(C, (i + 8) * N + j + 1, c[t][3] * scale);
    }
}
#elif (defined(DTYPE_F16) || defined(DTYPE_BF16)) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
// Tensor cores: a 64×64 tile of C per block of 256 threads (8 warps, each a 16×32 strip
// as four m16n8k16 MMAs), A and B staged in shared memory 16 deep, zero-padded at the
// edges. Fragment layouts follow the PTX ISA for mma.m16n8k16 (.row.col).
#if defined(DTYPE_F16)
#define MMA "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32"
#else
#define MMA "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32"
#endif
__device__ __forceinline__ uint pack(ushort lo, ushort hi) { return (uint)lo | ((uint)hi << 16); }

extern "C" __global__ void __launch_bounds__(256) gemm_tiled(const T* __restrict__ A, const T* __restrict__ B,
                                                             T* __restrict__ C, uint M, uint N, uint K FP8_SCALE_ARG) {
    __shared__ ushort As[TM][TK + 8];
    __shared__ ushort Bs[TK][TN + 8];
    uint lid = threadIdx.x, warp = lid / 32, lane = lid % 32;
    uint group = lane / 4, tig = lane % 4;
    uint wm = warp / 2, wn = warp % 2; // warp's 16×32 strip of the tile
    size_t row0 = (size_t)blockIdx.y * TM, col0 = (size_t)blockIdx.x * TN;
    float c[4][4] = {{0.0f}};
    for (size_t k0 = 0; k0 < K; k0 += TK) {
        for (uint e = lid; e < TM * TK; e += 256) {
            uint r = e / TK, q = e % TK;
            size_t gi = row0 + r, gk = k0 + q;
            As[r][q] = (gi < M && gk < K) ? A[gi * K + gk] : (ushort)0;
            uint br = e / TN, bq = e % TN;
            size_t bk = k0 + br, bj = col0 + bq;
            Bs[br][bq] = (bk < K && bj < N) ? B[bk * N + bj] : (ushort)0;
        }
        __syncthreads();
        uint ar = wm * 16 + group, ac = tig * 2;
        uint a0 = pack(As[ar][ac], As[ar][ac + 1]);
        uint a1 = pack(As[ar + 8][ac], As[ar + 8][ac + 1]);
        uint a2 = pack(As[ar][ac + 8], As[ar][ac + 9]);
        uint a3 = pack(As[ar + 8][ac + 8], As[ar + 8][ac + 9]);
        for (int t = 0; t < 4; t++) {
            uint bn = wn * 32 + t * 8 + group, bk = tig * 2;
            uint b0 = pack(Bs[bk][bn], Bs[bk + 1][bn]);
            uint b1 = pack(Bs[bk + 8][bn], Bs[bk + 9][bn]);
            asm volatile(MMA " {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                         : "+f"(c[t][0]), "+f"(c[t][1]), "+f"(c[t][2]), "+f"(c[t][3])
                         : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
        }
        __syncthreads();
    }
    for (int t = 0; t < 4; t++) {
        size_t i = row0 + wm * 16 + group, j = col0 + wn * 32 + t * 8 + tig * 2;
        if (i < M && j < N) STORE(C, i * N + j, c[t][0]);
        if (i < M && j + 1 < N) STORE(C, i * N + j + 1, c[t][1]);
        if (i + 8 < M && j < N) STORE(C, (i + 8) * N + j, c[t][2]);
        if (i + 8 < M && j + 1 < N) STORE(C, (i + 8) * N + j + 1, c[t][3]);
    }
}
#else
// CUDA cores: a 64×64 tile of C per block of 256 threads, each a 4×4 block, A and B in
// shared memory 16 deep, zero-padded at the edges (f32, GPUs before sm_80, fp8 before
// sm_89).
extern "C" __global__ void __launch_bounds__(256) gemm_tiled(const T* __restrict__ A, const T* __restrict__ B,
                                                             T* __restrict__ C, uint M, uint N, uint K FP8_SCALE_ARG) {
    __shared__ float As[TK][TM];
    __shared__ float Bs[TK][TN];
    uint lid = threadIdx.x, tx = lid % 16, ty = lid / 16;
    size_t row0 = (size_t)blockIdx.y * TM, col0 = (size_t)blockIdx.x * TN;
    float acc[4][4] = {{0.0f}};
    for (size_t k0 = 0; k0 < K; k0 += TK) {
        for (uint e = lid; e < TK * TM; e += 256) {
            uint r = e / TK, q = e % TK;
            size_t gi = row0 + r, gk = k0 + q;
            As[q][r] = (gi < M && gk < K) ? LOAD(A, gi * K + gk) : 0.0f;
            uint br = e / TN, bq = e % TN;
            size_t bk = k0 + br, bj = col0 + bq;
            Bs[br][bq] = (bk < K && bj < N) ? LOAD(B, bk * N + bj) : 0.0f;
        }
        __syncthreads();
        for (uint kk = 0; kk < TK; kk++) {
            float a[4], b[4];
            for (int r = 0; r < 4; r++) a[r] = As[kk][ty * 4 + r];
            for (int q = 0; q < 4; q++) b[q] = Bs[kk][tx * 4 + q];
            for (int r = 0; r < 4; r++)
                for (int q = 0; q < 4; q++) acc[r][q] = fmaf(a[r], b[q], acc[r][q]);
        }
        __syncthreads();
    }
    for (int r = 0; r < 4; r++) {
        size_t i = row0 + ty * 4 + r;
        for (int q = 0; q < 4; q++) {
            size_t j = col0 + tx * 4 + q;
            if (i < M && j < N) STORE(C, i * N + j, FP8_SCALED(acc[r][q]));
        }
    }
}
#endif

// Decode-sized M (1 to 16): one thread per column of C keeps all GEMM_ROWS rows of it in
// registers and streams its column of B once, so the time tracks the bytes of B, not a
// 64-row tile's worth of padding. GEMM_KSPLIT threads (threadIdx.y) split K for one column
// and add their parts through shared memory. Rows past M read row M-1 and are not stored.
#ifndef GEMM_ROWS
#define GEMM_ROWS 16
#endif
#ifndef GEMM_KSPLIT
#define GEMM_KSPLIT 1
#endif
extern "C" __global__ void gemm_small_m(const T* __restrict__ A, const T* __restrict__ B, T* __restrict__ C,
                                        uint M, uint N, uint K FP8_SCALE_ARG) {
    size_t lx = threadIdx.x, s = threadIdx.y;
    size_t j = (size_t)blockIdx.x * blockDim.x + lx;
    float acc[GEMM_ROWS];
    size_t rows[GEMM_ROWS];
#pragma unroll
    for (int r = 0; r < GEMM_ROWS; r++) {
        acc[r] = 0.0f;
        rows[r] = (size_t)min((uint)r, M - 1) * K;
    }
    size_t chunk = (K + GEMM_KSPLIT - 1) / GEMM_KSPLIT;
    size_t k0 = min(s * chunk, (size_t)K), k1 = min(k0 + chunk, (size_t)K);
    if (j < N) {
        for (size_t p = k0; p < k1; p++) {
            float b = LOAD(B, p * N + j);
#pragma unroll
            for (int r = 0; r < GEMM_ROWS; r++) acc[r] = fmaf(LOAD(A, rows[r] + p), b, acc[r]);
        }
    }
#if GEMM_KSPLIT > 1
    __shared__ float part[GEMM_KSPLIT][64];
#pragma unroll
    for (int r = 0; r < GEMM_ROWS; r++) {
        if (r >= M) break; // M is uniform: the whole block leaves together
        part[s][lx] = acc[r];
        __syncthreads();
        if (s == 0 && j < N) {
            float sum = 0.0f;
            for (int q = 0; q < GEMM_KSPLIT; q++) sum += part[q][lx];
            STORE(C, (size_t)r * N + j, FP8_SCALED(sum));
        }
        __syncthreads();
    }
#else
    if (j < N)
#pragma unroll
        for (int r = 0; r < GEMM_ROWS; r++)
            if (r < M) STORE(C, (size_t)r * N + j, FP8_SCALED(acc[r]));
#endif
}

// gemm.wq: C = A·dequant(W), W int8 or int4 (WQ_BITS) over the flattened index k·N + n
// (int4: the even index in the low nibble, value − 8), one scale per column per group of
// G rows of K. One thread per column holds GEMM_ROWS rows of C (rows past M read row M-1
// and are not stored); blocks in y take the next GEMM_ROWS rows.
#ifndef WQ_BITS
#define WQ_BITS 4
#endif
__device__ __forceinline__ float wq_weight(const unsigned char* W, size_t idx) {
#if WQ_BITS == 8
    return (float)(signed char)W[idx];
#else
    unsigned char b = W[idx / 2];
    return (float)((int)((idx & 1) ? (b >> 4) : (b & 15)) - 8);
#endif
}
extern "C" __global__ void gemm_wq(const T* __restrict__ A, const unsigned char* __restrict__ W,
                                   const T* __restrict__ S, T* __restrict__ C, uint M, uint N, uint K,
                                   uint G) {
    size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x, i0 = (size_t)blockIdx.y * GEMM_ROWS;
    if (j >= N || i0 >= M) return;
    float acc[GEMM_ROWS];
    size_t rows[GEMM_ROWS];
#pragma unroll
    for (int r = 0; r < GEMM_ROWS; r++) {
        acc[r] = 0.0f;
        rows[r] = min(i0 + r, (size_t)M - 1) * K;
    }
    for (size_t g0 = 0; g0 < K; g0 += G) {
        float part[GEMM_ROWS];
#pragma unroll
        for (int r = 0; r < GEMM_ROWS; r++) part[r] = 0.0f;
        size_t g1 = min(g0 + (size_t)G, (size_t)K);
        for (size_t p = g0; p < g1; p++) {
            float w = wq_weight(W, p * N + j);
#pragma unroll
            for (int r = 0; r < GEMM_ROWS; r++) part[r] = fmaf(LOAD(A, rows[r] + p), w, part[r]);
        }
        float s = LOAD(S, (g0 / G) * N + j);
#pragma unroll
        for (int r = 0; r < GEMM_ROWS; r++) acc[r] = fmaf(part[r], s, acc[r]);
    }
#pragma unroll
    for (int r = 0; r < GEMM_ROWS; r++)
        if (i0 + r < M) STORE(C, (i0 + r) * N + j, acc[r]);
}

// gemm.grouped: for each row tile (expert e, first row r0, rows) in tiles[tile0..tile_end]
// (u32 triples), C[r0 + r, :] = A[r0 + r, :] · W[e] with W `[E, K, N]`. One thread per
// column holds GEMM_ROWS rows of its tile (rows past the tile read its last row and are not
// stored); blocks in y stride over the tiles.
extern "C" __global__ void gemm_grouped(const T* __restrict__ A, const T* __restrict__ W,
                                        const uint* __restrict__ tiles, T* __restrict__ C, uint N, uint K,
                                        uint tile0, uint tile_end FP8_SCALE_ARG) {
    size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= N) return;
    for (size_t tile = tile0 + blockIdx.y; tile < tile_end; tile += gridDim.y) {
        size_t e = tiles[3 * tile], r0 = tiles[3 * tile + 1], rows = tiles[3 * tile + 2];
        const T* w = W + e * K * N + j;
        float acc[GEMM_ROWS];
        size_t a[GEMM_ROWS];
#pragma unroll
        for (int r = 0; r < GEMM_ROWS; r++) {
            acc[r] = 0.0f;
            a[r] = (r0 + min((size_t)r, rows - 1)) * K;
        }
        for (size_t p = 0; p < K; p++) {
            float wv = LOAD(w, p * N);
#pragma unroll
            for (int r = 0; r < GEMM_ROWS; r++) acc[r] = fmaf(LOAD(A, a[r] + p), wv, acc[r]);
        }
#pragma unroll
        for (int r = 0; r < GEMM_ROWS; r++)
            if ((size_t)r < rows) STORE(C, (r0 + r) * N + j, FP8_SCALED(acc[r]));
    }
}
