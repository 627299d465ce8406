// Attention (ported from the OpenCL kernels, same ABI). Q/O [B,H,S,D], K/V [B,Hkv,S,D] (decode: q/o [B,H,D], K/V [B,Hkv,L,D]); query
// head h reads KV head h / (H / Hkv). Scores and partials are f32. D_MAX (a define, ≥ D)
// sizes the query row kept in local memory by the fused and split kernels.

#ifndef D_MAX
#define D_MAX 256
#endif

__device__ size_t kv_base(size_t bh, uint H, uint Hkv, uint L, uint D) {
    size_t b = bh / H, h = bh % H;
    return (b * Hkv + h / (H / Hkv)) * (size_t)L * D;
}

// S[bh, i, j] = scale · q_i · k_j (−∞ above the diagonal when causal).
extern "C" __global__ void attn_prefill_scores(const T* __restrict__ Q, const T* __restrict__ K,
                                  float* __restrict__ S, uint B, uint H, uint Hkv, uint L,
                                  uint D, uint causal, float scale) {
    size_t j = ((size_t)blockIdx.x * blockDim.x + threadIdx.x), i = ((size_t)blockIdx.y * blockDim.y + threadIdx.y), bh = ((size_t)blockIdx.z * blockDim.z + threadIdx.z);
    if (i >= L || j >= L || bh >= (size_t)B * H) return;
    float s = -INF;
    if (!(causal && j > i)) {
        size_t q = (bh * L + i) * D, k = kv_base(bh, H, Hkv, L, D) + j * D;
        float acc = 0.0f;
        for (size_t e = 0; e < D; e++) acc += LOAD(Q, q + e) * LOAD(K, k + e);
        s = acc * scale;
    }
    S[(bh * L + i) * L + j] = s;
}

// One work-group per row (looping when rows outnumber groups), in place: max, then exp
// and sum, then normalise.
extern "C" __global__ void softmax_rows(float* X, uint rows, uint cols) {
    __shared__ float scratch[MAX_GROUP];
    size_t lid = threadIdx.x, lsz = blockDim.x;
    for (size_t row = blockIdx.x; row < rows; row += gridDim.x) {
    float* x = X + row * cols;
    float m = -INF;
    for (size_t j = lid; j < cols; j += lsz) m = fmaxf(m, x[j]);
    m = block_reduce(m, true, scratch);
    float sum = 0.0f;
    for (size_t j = lid; j < cols; j += lsz) {
        float e = (m == -INF) ? 0.0f : expf(x[j] - m);
        x[j] = e;
        sum += e;
    }
    sum = block_reduce(sum, false, scratch);
    float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    for (size_t j = lid; j < cols; j += lsz) x[j] *= inv;
    }
}

// O[bh, i, e] = Σ_j P[bh, i, j] · V[kv, j, e]
extern "C" __global__ void attn_prefill_pv(const float* __restrict__ P, const T* __restrict__ V,
                              T* __restrict__ O, uint B, uint H, uint Hkv, uint L, uint D) {
    size_t e = ((size_t)blockIdx.x * blockDim.x + threadIdx.x), i = ((size_t)blockIdx.y * blockDim.y + threadIdx.y), bh = ((size_t)blockIdx.z * blockDim.z + threadIdx.z);
    if (e >= D || i >= L || bh >= (size_t)B * H) return;
    size_t p = (bh * L + i) * L, v = kv_base(bh, H, Hkv, L, D) + e;
    float acc = 0.0f;
    for (size_t j = 0; j < L; j++) acc += P[p + j] * LOAD(V, v + j * D);
    STORE(O, (bh * L + i) * D + e, acc);
}

// One work-group cooperates on one query row over keys [lo, hi): keys in blocks of the
// group size, one key's score per work-item, the block's max and sum reduced in local
// memory, and each work-item accumulating output dimensions lid, lid + lsz, … (at most
// 4, so D ≤ 4·lsz). Leaves (running max, running sum, unnormalised output) in m, sum, acc.
// A loop per work-item stays short (about 2·D per block): some drivers cap loop
// iterations per invocation.
#define ROW_ACC 4
__device__ void attend_row(const T* K, const T* V, size_t kv, uint D, size_t lo,
                       size_t hi, float scale, float* qs, float* ps,
                       float* scratch, float* m_out, float* sum_out, float* acc) {
    size_t lid = threadIdx.x, lsz = blockDim.x;
    float m = -INF, sum = 0.0f;
    for (int r = 0; r < ROW_ACC; r++) acc[r] = 0.0f;
    for (size_t j0 = lo; j0 < hi; j0 += lsz) {
        size_t j = j0 + lid;
        float s = -INF;
        if (j < hi) {
            float d = 0.0f;
            for (size_t e = 0; e < D; e++) d += qs[e] * LOAD(K, kv + j * D + e);
            s = d * scale;
        }
        float new_m = fmaxf(m, block_reduce(s, true, scratch));
        float p = j < hi ? expf(s - new_m) : 0.0f;
        ps[lid] = p;
        float correction = expf(m - new_m);
        sum = sum * correction + block_reduce(p, false, scratch);
        size_t block = min(lsz, hi - j0);
        for (int r = 0; r < ROW_ACC; r++) {
            size_t e = lid + r * lsz;
            if (e >= D) break;
            float a = acc[r] * correction;
            for (size_t jj = 0; jj < block; jj++) a += ps[jj] * LOAD(V, kv + (j0 + jj) * D + e);
            acc[r] = a;
        }
        m = new_m;
        __syncthreads(); // ps is rewritten by the next block
    }
    *m_out = m;
    *sum_out = sum;
}

// Loads a row of Q into local memory.
__device__ void load_row(const T* Q, size_t at, uint D, float* qs) {
    for (size_t e = threadIdx.x; e < D; e += blockDim.x) qs[e] = LOAD(Q, at + e);
    __syncthreads();
}

// One work-group per (query row i, head bh), online softmax over the visible keys.
#if (defined(DTYPE_F16) || defined(DTYPE_BF16)) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define FUSED_MMA 1
#if defined(DTYPE_F16)
#define ATT_MMA "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32"
#define TO_T(v) f32_to_f16(v)
#else
#define ATT_MMA "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32"
#define TO_T(v) f32_to_bf16(v)
#endif
#define TC_D 128 // largest head dimension of the tensor-core path
__device__ __forceinline__ uint pack2(ushort lo, ushort hi) { return (uint)lo | ((uint)hi << 16); }
__device__ __forceinline__ void mma16816(float* c, uint a0, uint a1, uint a2, uint a3, uint b0, uint b1) {
    asm volatile(ATT_MMA " {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// Tensor cores, FlashAttention-2 style: 4 warps × 16 query rows = rows [row0, row0 + 64);
// keys in blocks of 64 staged in shared memory; S = Q·Kᵀ and O += P·V as m16n8k16 MMAs
// with P kept in registers (the C fragments of two n8 tiles are the A fragment of one
// k16 step); online softmax per row, reduced across the 4 threads that share a row.
// Fragment layouts follow the PTX ISA (mma.m16n8k16, .row.col). Needs D % 16 == 0, D ≤ 128.
__device__ void fused_mma(const T* __restrict__ Q, const T* __restrict__ K, const T* __restrict__ V,
                          T* __restrict__ O, size_t bh, size_t kv, uint L, uint D, uint causal,
                          float scale, size_t row0) {
    __shared__ ushort Ks[64][TC_D + 8];
    __shared__ ushort Vs[64][TC_D + 8];
    uint lid = threadIdx.x, warp = lid / 32, lane = lid % 32, group = lane / 4, tig = lane % 4;
    size_t r_lo = row0 + warp * 16 + group, r_hi = r_lo + 8; // this thread's two rows
    size_t qbase = bh * (size_t)L * D;
    uint qa[TC_D / 16][4];
    for (uint ks = 0; ks < D / 16; ks++) {
        uint c = ks * 16 + tig * 2;
        ushort z = 0;
        qa[ks][0] = pack2(r_lo < L ? Q[qbase + r_lo * D + c] : z, r_lo < L ? Q[qbase + r_lo * D + c + 1] : z);
        qa[ks][1] = pack2(r_hi < L ? Q[qbase + r_hi * D + c] : z, r_hi < L ? Q[qbase + r_hi * D + c + 1] : z);
        qa[ks][2] = pack2(r_lo < L ? Q[qbase + r_lo * D + c + 8] : z, r_lo < L ? Q[qbase + r_lo * D + c + 9] : z);
        qa[ks][3] = pack2(r_hi < L ? Q[qbase + r_hi * D + c + 8] : z, r_hi < L ? Q[qbase + r_hi * D + c + 9] : z);
    }
    float o[TC_D / 8][4];
    for (uint t = 0; t < D / 8; t++) o[t][0] = o[t][1] = o[t][2] = o[t][3] = 0.0f;
    float m_lo = -INF, m_hi = -INF, l_lo = 0.0f, l_hi = 0.0f;
    size_t keys = causal ? min((size_t)L, row0 + 64) : (size_t)L;
    for (size_t k0 = 0; k0 < keys; k0 += 64) {
        for (uint e = lid; e < 64 * D; e += blockDim.x) {
            uint r = e / D, c = e % D;
            bool in = k0 + r < L;
            Ks[r][c] = in ? K[kv + (k0 + r) * D + c] : (ushort)0;
            Vs[r][c] = in ? V[kv + (k0 + r) * D + c] : (ushort)0;
        }
        __syncthreads();
        float s[8][4];
        for (uint t = 0; t < 8; t++) {
            s[t][0] = s[t][1] = s[t][2] = s[t][3] = 0.0f;
            uint key = t * 8 + group;
            for (uint ks = 0; ks < D / 16; ks++) {
                uint c = ks * 16 + tig * 2;
                mma16816(s[t], qa[ks][0], qa[ks][1], qa[ks][2], qa[ks][3],
                         pack2(Ks[key][c], Ks[key][c + 1]), pack2(Ks[key][c + 8], Ks[key][c + 9]));
            }
        }
        // Scale and mask: keys past L, and (causal) keys after the row.
        float bm_lo = -INF, bm_hi = -INF;
        for (uint t = 0; t < 8; t++) {
            for (uint q = 0; q < 2; q++) {
                size_t key = k0 + t * 8 + tig * 2 + q;
                bool ok_lo = key < L && (!causal || key <= r_lo), ok_hi = key < L && (!causal || key <= r_hi);
                s[t][q] = ok_lo ? s[t][q] * scale : -INF;
                s[t][2 + q] = ok_hi ? s[t][2 + q] * scale : -INF;
                bm_lo = fmaxf(bm_lo, s[t][q]);
                bm_hi = fmaxf(bm_hi, s[t][2 + q]);
            }
        }
        for (int off = 1; off < 4; off <<= 1) {
            bm_lo = fmaxf(bm_lo, __shfl_xor_sync(0xffffffffu, bm_lo, off));
            bm_hi = fmaxf(bm_hi, __shfl_xor_sync(0xffffffffu, bm_hi, off));
        }
        float nm_lo = fmaxf(m_lo, bm_lo), nm_hi = fmaxf(m_hi, bm_hi);
        // A row with nothing visible yet keeps max −∞; its weights are all zero.
        float corr_lo = nm_lo == -INF ? 1.0f : expf(m_lo - nm_lo), corr_hi = nm_hi == -INF ? 1.0f : expf(m_hi - nm_hi);
        float sum_lo = 0.0f, sum_hi = 0.0f;
        for (uint t = 0; t < 8; t++) {
            for (uint q = 0; q < 2; q++) {
                s[t][q] = nm_lo == -INF ? 0.0f : expf(s[t][q] - nm_lo);
                s[t][2 + q] = nm_hi == -INF ? 0.0f : expf(s[t][2 + q] - nm_hi);
                sum_lo += s[t][q];
                sum_hi += s[t][2 + q];
            }
        }
        for (int off = 1; off < 4; off <<= 1) {
            sum_lo += __shfl_xor_sync(0xffffffffu, sum_lo, off);
            sum_hi += __shfl_xor_sync(0xffffffffu, sum_hi, off);
        }
        l_lo = l_lo * corr_lo + sum_lo;
        l_hi = l_hi * corr_hi + sum_hi;
        m_lo = nm_lo;
        m_hi = nm_hi;
        for (uint t = 0; t < D / 8; t++) {
            o[t][0] *= corr_lo;
            o[t][1] *= corr_lo;
            o[t][2] *= corr_hi;
            o[t][3] *= corr_hi;
        }
        for (uint ks = 0; ks < 4; ks++) {
            uint a0 = pack2(TO_T(s[2 * ks][0]), TO_T(s[2 * ks][1]));
            uint a1 = pack2(TO_T(s[2 * ks][2]), TO_T(s[2 * ks][3]));
            uint a2 = pack2(TO_T(s[2 * ks + 1][0]), TO_T(s[2 * ks + 1][1]));
            uint a3 = pack2(TO_T(s[2 * ks + 1][2]), TO_T(s[2 * ks + 1][3]));
            uint k = ks * 16 + tig * 2;
            for (uint t = 0; t < D / 8; t++) {
                uint n = t * 8 + group;
                mma16816(o[t], a0, a1, a2, a3, pack2(Vs[k][n], Vs[k + 1][n]), pack2(Vs[k + 8][n], Vs[k + 9][n]));
            }
        }
        __syncthreads(); // Ks and Vs are refilled for the next block
    }
    for (uint t = 0; t < D / 8; t++) {
        uint c = t * 8 + tig * 2;
        if (r_lo < L) {
            STORE(O, qbase + r_lo * D + c, o[t][0] / l_lo);
            STORE(O, qbase + r_lo * D + c + 1, o[t][1] / l_lo);
        }
        if (r_hi < L) {
            STORE(O, qbase + r_hi * D + c, o[t][2] / l_hi);
            STORE(O, qbase + r_hi * D + c + 1, o[t][3] / l_hi);
        }
    }
}
#endif

// Group g handles query rows [g·R, (g + 1)·R), R = ceil(L / groups). With 128 threads and
// R = 64 (the GPU launch) half types on sm_80+ take the tensor-core path; otherwise (and
// for R = 1 on CPU-like launches) the group cooperates on one row at a time.
extern "C" __global__ void attn_prefill_fused(const T* __restrict__ Q, const T* __restrict__ K,
                                 const T* __restrict__ V, T* __restrict__ O, uint B,
                                 uint H, uint Hkv, uint L, uint D, uint causal, float scale) {
    size_t bh = blockIdx.y;
    if (bh >= (size_t)B * H) return;
    size_t rows = (L + gridDim.x - 1) / gridDim.x;
    size_t lo = min((size_t)L, blockIdx.x * rows), hi = min((size_t)L, lo + rows);
#if defined(FUSED_MMA)
    if (blockDim.x == 128 && rows == 64 && D % 16 == 0 && D <= TC_D) {
        fused_mma(Q, K, V, O, bh, kv_base(bh, H, Hkv, L, D), L, D, causal, scale, lo);
        return;
    }
#endif
    __shared__ float qs[D_MAX], ps[MAX_GROUP], scratch[MAX_GROUP];
    for (size_t i = lo; i < hi; i++) {
        size_t q = (bh * L + i) * D;
        load_row(Q, q, D, qs);
        float m, sum, acc[ROW_ACC];
        attend_row(K, V, kv_base(bh, H, Hkv, L, D), D, 0, causal ? i + 1 : L, scale, qs, ps, scratch, &m, &sum, acc);
        for (int r = 0; r < ROW_ACC; r++) {
            size_t e = threadIdx.x + r * blockDim.x;
            if (e < D) STORE(O, q + e, acc[r] / sum);
        }
        __syncthreads(); // qs is reloaded for the next row
    }
}

// S[bh, j] = scale · q · k_j
extern "C" __global__ void attn_decode_scores(const T* __restrict__ Q, const T* __restrict__ K,
                                 float* __restrict__ S, uint B, uint H, uint Hkv, uint L,
                                 uint D, float scale) {
    size_t j = ((size_t)blockIdx.x * blockDim.x + threadIdx.x), bh = ((size_t)blockIdx.y * blockDim.y + threadIdx.y);
    if (j >= L || bh >= (size_t)B * H) return;
    size_t k = kv_base(bh, H, Hkv, L, D) + j * D;
    float acc = 0.0f;
    for (size_t e = 0; e < D; e++) acc += LOAD(Q, bh * D + e) * LOAD(K, k + e);
    S[bh * L + j] = acc * scale;
}

// o[bh, e] = Σ_j P[bh, j] · V[kv, j, e]
extern "C" __global__ void attn_decode_pv(const float* __restrict__ P, const T* __restrict__ V,
                             T* __restrict__ O, uint B, uint H, uint Hkv, uint L, uint D) {
    size_t e = ((size_t)blockIdx.x * blockDim.x + threadIdx.x), bh = ((size_t)blockIdx.y * blockDim.y + threadIdx.y);
    if (e >= D || bh >= (size_t)B * H) return;
    size_t v = kv_base(bh, H, Hkv, L, D) + e;
    float acc = 0.0f;
    for (size_t j = 0; j < L; j++) acc += P[bh * L + j] * LOAD(V, v + j * D);
    STORE(O, bh * D + e, acc);
}

// One work-group per (split, head bh): an online softmax over the split's keys, written
// as (max, sum, unnormalised output).
extern "C" __global__ void attn_decode_split(const T* __restrict__ Q, const T* __restrict__ K,
                                const T* __restrict__ V, float* __restrict__ partial,
                                uint B, uint H, uint Hkv, uint L, uint D, uint splits,
                                float scale) {
    __shared__ float qs[D_MAX], ps[MAX_GROUP], scratch[MAX_GROUP];
    size_t split = blockIdx.x, bh = blockIdx.y;
    if (split >= splits || bh >= (size_t)B * H) return;
    size_t share = (L + splits - 1) / splits;
    size_t lo = min((size_t)L, split * share), hi = min((size_t)L, lo + share);
    load_row(Q, bh * D, D, qs);
    float m, sum, acc[ROW_ACC];
    attend_row(K, V, kv_base(bh, H, Hkv, L, D), D, lo, hi, scale, qs, ps, scratch, &m, &sum, acc);
    float* out = partial + (bh * splits + split) * (D + 2);
    if (threadIdx.x == 0) {
        out[0] = m;
        out[1] = sum;
    }
    for (int r = 0; r < ROW_ACC; r++) {
        size_t e = threadIdx.x + r * blockDim.x;
        if (e < D) out[2 + e] = acc[r];
    }
}

// One work-item per (b, h): merges the splits' softmax states.
extern "C" __global__ void attn_decode_combine(const float* __restrict__ partial,
                                  T* __restrict__ O, uint B, uint H, uint D, uint splits) {
    size_t bh = ((size_t)blockIdx.x * blockDim.x + threadIdx.x);
    if (bh >= (size_t)B * H) return;
    const float* p = partial + bh * splits * (D + 2);
    float m = -INF;
    for (size_t s = 0; s < splits; s++)
        if (p[s * (D + 2) + 1] > 0.0f) m = fmaxf(m, p[s * (D + 2)]);
    float sum = 0.0f;
    for (size_t s = 0; s < splits; s++)
        if (p[s * (D + 2) + 1] > 0.0f) sum += p[s * (D + 2) + 1] * expf(p[s * (D + 2)] - m);
    for (size_t e = 0; e < D; e++) {
        float acc = 0.0f;
        for (size_t s = 0; s < splits; s++)
            if (p[s * (D + 2) + 1] > 0.0f) acc += p[s * (D + 2) + 2 + e] * expf(p[s * (D + 2)] - m);
        STORE(O, bh * D + e, acc / sum);
    }
}

// Paged KV cache (attention.paged): sequence b's key t is slot t % P of page
// table[b · max_pages + t / P]; a page holds P slots of every KV head, D each.
__device__ __forceinline__ size_t paged_row(const uint* table, size_t b, size_t kvh, size_t t, uint Hkv,
                                            uint D, uint P, uint max_pages) {
    size_t page = table[b * max_pages + t / P];
    return ((page * Hkv + kvh) * P + t % P) * D;
}

// S[bh, t] = scale · q · k_t for t < lens[b]; −∞ past the sequence's end.
extern "C" __global__ void attn_paged_scores(const T* __restrict__ Q, const T* __restrict__ K,
                                             const uint* __restrict__ table, const uint* __restrict__ lens,
                                             float* __restrict__ S, uint B, uint H, uint Hkv, uint L,
                                             uint D, uint P, uint max_pages, float scale) {
    size_t t = (size_t)blockIdx.x * blockDim.x + threadIdx.x, bh = (size_t)blockIdx.y * blockDim.y + threadIdx.y;
    if (t >= L || bh >= (size_t)B * H) return;
    size_t b = bh / H, kvh = (bh % H) / (H / Hkv);
    if (t >= lens[b]) {
        S[bh * L + t] = -INF;
        return;
    }
    size_t k = paged_row(table, b, kvh, t, Hkv, D, P, max_pages);
    float acc = 0.0f;
    for (size_t e = 0; e < D; e++) acc += LOAD(Q, bh * D + e) * LOAD(K, k + e);
    S[bh * L + t] = acc * scale;
}

// o[bh, e] = Σ_{t < lens[b]} P[bh, t] · V[row t, e]
extern "C" __global__ void attn_paged_pv(const float* __restrict__ Pm, const T* __restrict__ V,
                                         const uint* __restrict__ table, const uint* __restrict__ lens,
                                         T* __restrict__ O, uint B, uint H, uint Hkv, uint L, uint D,
                                         uint P, uint max_pages) {
    size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x, bh = (size_t)blockIdx.y * blockDim.y + threadIdx.y;
    if (e >= D || bh >= (size_t)B * H) return;
    size_t b = bh / H, kvh = (bh % H) / (H / Hkv);
    float acc = 0.0f;
    for (size_t t = 0; t < lens[b]; t++)
        acc += Pm[bh * L + t] * LOAD(V, paged_row(table, b, kvh, t, Hkv, D, P, max_pages) + e);
    STORE(O, bh * D + e, acc);
}

// 8-bit KV cache (attention.kv8): a byte is an int8 value, or with KV_FP8=1 an e4m3 code
// (sign, 4 exponent bits biased by 7, 3 mantissa bits; NaN is never stored), times the
// f32 scale of its (page, KV head). Decoded in software, so every sm runs it: the
// exponent and mantissa move into an f32's fields; subnormals are m · 2⁻⁹.
#ifndef KV_FP8
#define KV_FP8 0
#endif
__device__ __forceinline__ float kv8_value(unsigned char b) {
#if KV_FP8
    uint e = (b >> 3) & 15u, m = b & 7u;
    float v = e ? __uint_as_float(((e + 120u) << 23) | (m << 20)) : (float)m * 0.001953125f;
    return (b & 0x80u) ? -v : v;
#else
    return (float)(signed char)b;
#endif
}

// S[bh, t] = scale · Ks[page, kvh] · q · k8_t for t < lens[b]; −∞ past the sequence's end.
extern "C" __global__ void attn_kv8_scores(const T* __restrict__ Q, const unsigned char* __restrict__ K,
                                           const float* __restrict__ Ks, const uint* __restrict__ table,
                                           const uint* __restrict__ lens, float* __restrict__ S, uint B,
                                           uint H, uint Hkv, uint L, uint D, uint P, uint max_pages,
                                           float scale) {
    size_t t = (size_t)blockIdx.x * blockDim.x + threadIdx.x, bh = (size_t)blockIdx.y * blockDim.y + threadIdx.y;
    if (t >= L || bh >= (size_t)B * H) return;
    size_t b = bh / H, kvh = (bh % H) / (H / Hkv);
    if (t >= lens[b]) {
        S[bh * L + t] = -INF;
        return;
    }
    size_t page = table[b * max_pages + t / P];
    size_t k = ((page * Hkv + kvh) * P + t % P) * D;
    float acc = 0.0f;
    for (size_t e = 0; e < D; e++) acc += LOAD(Q, bh * D + e) * kv8_value(K[k + e]);
    S[bh * L + t] = acc * Ks[page * Hkv + kvh] * scale;
}

// o[bh, e] = Σ_{t < lens[b]} P[bh, t] · Vs[page, kvh] · v8[row t, e]
extern "C" __global__ void attn_kv8_pv(const float* __restrict__ Pm, const unsigned char* __restrict__ V,
                                       const float* __restrict__ Vs, const uint* __restrict__ table,
                                       const uint* __restrict__ lens, T* __restrict__ O, uint B, uint H,
                                       uint Hkv, uint L, uint D, uint P, uint max_pages) {
    size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x, bh = (size_t)blockIdx.y * blockDim.y + threadIdx.y;
    if (e >= D || bh >= (size_t)B * H) return;
    size_t b = bh / H, kvh = (bh % H) / (H / Hkv);
    float acc = 0.0f;
    for (size_t t = 0; t < lens[b]; t++) {
        size_t page = table[b * max_pages + t / P];
        size_t v = ((page * Hkv + kvh) * P + t % P) * D + e;
        acc += Pm[bh * L + t] * Vs[page * Hkv + kvh] * kv8_value(V[v]);
    }
    STORE(O, bh * D + e, acc);
}
