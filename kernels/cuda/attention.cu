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
extern "C" __global__ void attn_prefill_fused(const T* __restrict__ Q, const T* __restrict__ K,
                                 const T* __restrict__ V, T* __restrict__ O, uint B,
                                 uint H, uint Hkv, uint L, uint D, uint causal, float scale) {
    __shared__ float qs[D_MAX], ps[MAX_GROUP], scratch[MAX_GROUP];
    size_t bh = blockIdx.y;
    for (size_t i = blockIdx.x; i < L; i += gridDim.x) {
        if (bh >= (size_t)B * H) return;
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
