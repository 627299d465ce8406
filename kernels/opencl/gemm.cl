// C = A·B, row-major, f32 accumulate, T storage. fp8: C's codes = round(scale · A·B).

// Sixteen consecutive elements widened to float16 (the CPU-device shapes' B rows).
#if defined(DTYPE_F16)
#define LOAD16(p, i) vload_half16(0, (p) + (i))
#elif defined(DTYPE_BF16)
#define LOAD16(p, i) as_float16(convert_uint16(vload16(0, (p) + (i))) << 16)
#elif defined(DTYPE_FP8)
#define LOAD16(p, i) fp8_to_float16(convert_uint16(vload16(0, (p) + (i))))
#else
#define LOAD16(p, i) vload16(0, (p) + (i))
#endif

// One work-item per output element.
__kernel void gemm_naive(__global const T* restrict A, __global const T* restrict B,
                         __global T* restrict C, uint M, uint N, uint K FP8_SCALE_ARG) {
    size_t j = get_global_id(0), i = get_global_id(1);
    if (i >= M || j >= N) return;
    float acc = 0.0f;
    for (size_t p = 0; p < K; p++) acc += LOAD(A, i * K + p) * LOAD(B, p * N + j);
    STORE(C, i * N + j, FP8_SCALED(acc));
}

#if defined(GEMM_REGISTER_TILE)
// The shape for CPU devices: one work-item per group computes an 8×16 block of C with
// eight float16 accumulators (vector registers), reading B rows as float16.
__kernel void gemm_tiled(__global const T* restrict A, __global const T* restrict B,
                         __global T* restrict C, uint M, uint N, uint K FP8_SCALE_ARG) {
    size_t j0 = get_global_id(0) * 16, i0 = get_global_id(1) * 8;
    if (i0 >= M || j0 >= N) return;
    size_t rows[8];
    for (int r = 0; r < 8; r++) rows[r] = min(i0 + r, (size_t)M - 1) * K; // clamp: no OOB
    float16 acc[8];
    for (int r = 0; r < 8; r++) acc[r] = (float16)(0.0f);
    if (j0 + 16 <= N) {
        for (size_t p = 0; p < K; p++) {
            float16 b = LOAD16(B, p * N + j0);
            for (int r = 0; r < 8; r++) acc[r] = fma((float16)(LOAD(A, rows[r] + p)), b, acc[r]);
        }
    } else {
        for (size_t p = 0; p < K; p++) {
            float bs[16];
            for (int c = 0; c < 16; c++) bs[c] = j0 + c < N ? LOAD(B, p * N + j0 + c) : 0.0f;
            float16 b = vload16(0, bs);
            for (int r = 0; r < 8; r++) acc[r] = fma((float16)(LOAD(A, rows[r] + p)), b, acc[r]);
        }
    }
    for (int r = 0; r < 8 && i0 + r < M; r++) {
        float out[16];
        vstore16(acc[r], 0, out);
        for (int c = 0; c < 16 && j0 + c < N; c++) STORE(C, (i0 + r) * N + j0 + c, FP8_SCALED(out[c]));
    }
}
#else
// A 64×64 tile of C per work-group of 256 work-items, each computing a 4×4 block; A and B
// pass through local memory 16 deep. Edges are zero-padded, so any M, N, K works.
#define TM 64
#define TN 64
#define TK 16
__kernel __attribute__((reqd_work_group_size(256, 1, 1)))
void gemm_tiled(__global const T* restrict A, __global const T* restrict B,
                __global T* restrict C, uint M, uint N, uint K FP8_SCALE_ARG) {
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
            if (i < M && j < N) STORE(C, i * N + j, FP8_SCALED(acc[r][c]));
        }
    }
}
#endif

// Decode-sized M (1 to 16): one work-item per column of C keeps all GEMM_ROWS rows of it
// in registers and streams its column of B once, so the time tracks the bytes of B, not a
// 64-row tile's worth of padding. GEMM_KSPLIT work-items (local y) split K for one column
// and add their parts through local memory: more loads in flight on wide devices. Rows
// past M read row M-1 (no branch in the loop) and are not stored.
#ifndef GEMM_ROWS
#define GEMM_ROWS 16
#endif
#ifndef GEMM_KSPLIT
#define GEMM_KSPLIT 1
#endif
#if defined(GEMM_COLUMNS16)
// The shape for CPU devices that do not run work-items as SIMD lanes (PoCL): one work-item
// per group owns 16 adjacent columns as float16 accumulators and reads B's rows 16 wide,
// so it streams B row by row instead of walking a column of it.
__kernel void gemm_small_m(__global const T* restrict A, __global const T* restrict B,
                           __global T* restrict C, uint M, uint N, uint K FP8_SCALE_ARG) {
    size_t j0 = get_global_id(0) * 16;
    if (j0 >= N) return;
    size_t rows[GEMM_ROWS];
    float16 acc[GEMM_ROWS];
    for (int r = 0; r < GEMM_ROWS; r++) {
        rows[r] = (size_t)min((uint)r, M - 1) * K;
        acc[r] = (float16)(0.0f);
    }
    bool full = j0 + 16 <= N;
    for (size_t p = 0; p < K; p++) {
        float16 b;
        if (full) {
            b = LOAD16(B, p * N + j0);
        } else {
            float bs[16];
            for (int c = 0; c < 16; c++) bs[c] = j0 + c < N ? LOAD(B, p * N + j0 + c) : 0.0f;
            b = vload16(0, bs);
        }
        for (int r = 0; r < GEMM_ROWS; r++) acc[r] = fma((float16)(LOAD(A, rows[r] + p)), b, acc[r]);
    }
    for (int r = 0; r < GEMM_ROWS && r < M; r++) {
        float out[16];
        vstore16(acc[r], 0, out);
        for (int c = 0; c < 16 && j0 + c < N; c++) STORE(C, (size_t)r * N + j0 + c, FP8_SCALED(out[c]));
    }
}
#else
__kernel void gemm_small_m(__global const T* restrict A, __global const T* restrict B,
                           __global T* restrict C, uint M, uint N, uint K FP8_SCALE_ARG) {
    size_t j = get_global_id(0), lx = get_local_id(0), s = get_local_id(1);
    float acc[GEMM_ROWS];
    size_t rows[GEMM_ROWS];
    for (int r = 0; r < GEMM_ROWS; r++) {
        acc[r] = 0.0f;
        rows[r] = (size_t)min((uint)r, M - 1) * K;
    }
    size_t chunk = (K + GEMM_KSPLIT - 1) / GEMM_KSPLIT;
    size_t k0 = min(s * chunk, (size_t)K), k1 = min(k0 + chunk, (size_t)K);
    if (j < N) {
        for (size_t p = k0; p < k1; p++) {
            float b = LOAD(B, p * N + j);
            for (int r = 0; r < GEMM_ROWS; r++) acc[r] = fma(LOAD(A, rows[r] + p), b, acc[r]);
        }
    }
#if GEMM_KSPLIT > 1
    __local float part[GEMM_KSPLIT][64];
    for (int r = 0; r < GEMM_ROWS; r++) {
        if (r >= M) break; /* M is uniform: every work-item leaves together */
        part[s][lx] = acc[r];
        barrier(CLK_LOCAL_MEM_FENCE);
        if (s == 0 && j < N) {
            float sum = 0.0f;
            for (int q = 0; q < GEMM_KSPLIT; q++) sum += part[q][lx];
            STORE(C, (size_t)r * N + j, FP8_SCALED(sum));
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
#else
    if (j < N)
        for (int r = 0; r < GEMM_ROWS && r < M; r++) STORE(C, (size_t)r * N + j, FP8_SCALED(acc[r]));
#endif
}
#endif

// gemm.wq: C = A·dequant(W), W int8 or int4 (WQ_BITS) over the flattened index k·N + n
// (int4: the even index in the low nibble, value − 8), one scale per column per group of
// G rows of K. One work-item per column holds GEMM_ROWS rows of C (rows past M read row
// M-1 and are not stored); work-groups in y take the next GEMM_ROWS rows.
#ifndef WQ_BITS
#define WQ_BITS 4
#endif
inline float wq_weight(__global const uchar* W, size_t idx) {
#if WQ_BITS == 8
    return (float)(char)W[idx];
#else
    uchar b = W[idx / 2];
    return (float)((int)((idx & 1) ? (b >> 4) : (b & 15)) - 8);
#endif
}
__kernel void gemm_wq(__global const T* restrict A, __global const uchar* restrict W,
                      __global const T* restrict S, __global T* restrict C, uint M, uint N,
                      uint K, uint G) {
    size_t j = get_global_id(0), i0 = get_group_id(1) * GEMM_ROWS;
    if (j >= N || i0 >= M) return;
    float acc[GEMM_ROWS];
    size_t rows[GEMM_ROWS];
    for (int r = 0; r < GEMM_ROWS; r++) {
        acc[r] = 0.0f;
        rows[r] = min(i0 + r, (size_t)M - 1) * K;
    }
    for (size_t g0 = 0; g0 < K; g0 += G) {
        float part[GEMM_ROWS];
        for (int r = 0; r < GEMM_ROWS; r++) part[r] = 0.0f;
        size_t g1 = min(g0 + G, (size_t)K);
        for (size_t p = g0; p < g1; p++) {
            float w = wq_weight(W, p * N + j);
            for (int r = 0; r < GEMM_ROWS; r++) part[r] = fma(LOAD(A, rows[r] + p), w, part[r]);
        }
        float s = LOAD(S, (g0 / G) * N + j);
        for (int r = 0; r < GEMM_ROWS; r++) acc[r] = fma(part[r], s, acc[r]);
    }
    for (int r = 0; r < GEMM_ROWS && i0 + r < M; r++) STORE(C, (i0 + r) * N + j, acc[r]);
}

// gemm.grouped: for each row tile (expert e, first row r0, rows) in tiles[tile0..tile_end]
// (u32 triples), C[r0 + r, :] = A[r0 + r, :] · W[e] with W `[E, K, N]`. One work-item per
// column holds GEMM_ROWS rows of its tile (rows past the tile read its last row and are
// not stored); work-groups in y stride over the tiles.
__kernel void gemm_grouped(__global const T* restrict A, __global const T* restrict W,
                           __global const uint* restrict tiles, __global T* restrict C, uint N,
                           uint K, uint tile0, uint tile_end FP8_SCALE_ARG) {
    size_t j = get_global_id(0);
    if (j >= N) return;
    for (size_t tile = tile0 + get_group_id(1); tile < tile_end; tile += get_num_groups(1)) {
        size_t e = tiles[3 * tile], r0 = tiles[3 * tile + 1], rows = tiles[3 * tile + 2];
        __global const T* w = W + e * K * N + j;
        float acc[GEMM_ROWS];
        size_t a[GEMM_ROWS];
        for (int r = 0; r < GEMM_ROWS; r++) {
            acc[r] = 0.0f;
            a[r] = (r0 + min((size_t)r, rows - 1)) * K;
        }
        for (size_t p = 0; p < K; p++) {
            float wv = LOAD(w, p * N);
            for (int r = 0; r < GEMM_ROWS; r++) acc[r] = fma(LOAD(A, a[r] + p), wv, acc[r]);
        }
        for (size_t r = 0; r < GEMM_ROWS && r < rows; r++) STORE(C, (r0 + r) * N + j, FP8_SCALED(acc[r]));
    }
}
