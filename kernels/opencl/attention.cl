// Attention. Q/O [B,H,S,D], K/V [B,Hkv,S,D] (decode: q/o [B,H,D], K/V [B,Hkv,L,D]); query
// head h reads KV head h / (H / Hkv). Scores and partials are f32. D_MAX (a define, ≥ D)
// sizes the query row kept in local memory by the fused and split kernels.

#ifndef D_MAX
#define D_MAX 256
#endif

inline size_t kv_base(size_t bh, uint H, uint Hkv, uint L, uint D) {
    size_t b = bh / H, h = bh % H;
    return (b * Hkv + h / (H / Hkv)) * (size_t)L * D;
}

// S[bh, i, j] = scale · q_i · k_j (−∞ above the diagonal when causal).
__kernel void attn_prefill_scores(__global const T* restrict Q, __global const T* restrict K,
                                  __global float* restrict S, uint B, uint H, uint Hkv, uint L,
                                  uint D, uint causal, float scale) {
    size_t j = get_global_id(0), i = get_global_id(1), bh = get_global_id(2);
    if (i >= L || j >= L || bh >= (size_t)B * H) return;
    float s = -INFINITY;
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
__kernel void softmax_rows(__global float* X, uint rows, uint cols) {
    __local float scratch[MAX_GROUP];
    size_t lid = get_local_id(0), lsz = get_local_size(0);
    for (size_t row = get_group_id(0); row < rows; row += get_num_groups(0)) {
    __global float* x = X + row * cols;
    float m = -INFINITY;
    for (size_t j = lid; j < cols; j += lsz) m = fmax(m, x[j]);
    m = group_max(m, scratch);
    float sum = 0.0f;
    for (size_t j = lid; j < cols; j += lsz) {
        float e = (m == -INFINITY) ? 0.0f : exp(x[j] - m);
        x[j] = e;
        sum += e;
    }
    sum = group_sum(sum, scratch);
    float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    for (size_t j = lid; j < cols; j += lsz) x[j] *= inv;
    }
}

// O[bh, i, e] = Σ_j P[bh, i, j] · V[kv, j, e]
__kernel void attn_prefill_pv(__global const float* restrict P, __global const T* restrict V,
                              __global T* restrict O, uint B, uint H, uint Hkv, uint L, uint D) {
    size_t e = get_global_id(0), i = get_global_id(1), bh = get_global_id(2);
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
inline void attend_row(__global const T* K, __global const T* V, size_t kv, uint D, size_t lo,
                       size_t hi, float scale, __local float* qs, __local float* ps,
                       __local float* scratch, float* m_out, float* sum_out, float* acc) {
    size_t lid = get_local_id(0), lsz = get_local_size(0);
    float m = -INFINITY, sum = 0.0f;
    for (int r = 0; r < ROW_ACC; r++) acc[r] = 0.0f;
    for (size_t j0 = lo; j0 < hi; j0 += lsz) {
        size_t j = j0 + lid;
        float s = -INFINITY;
        if (j < hi) {
            float d = 0.0f;
            for (size_t e = 0; e < D; e++) d += qs[e] * LOAD(K, kv + j * D + e);
            s = d * scale;
        }
        float new_m = fmax(m, group_max(s, scratch));
        float p = j < hi ? exp(s - new_m) : 0.0f;
        ps[lid] = p;
        float correction = exp(m - new_m);
        sum = sum * correction + group_sum(p, scratch);
        size_t block = min(lsz, hi - j0);
        for (int r = 0; r < ROW_ACC; r++) {
            size_t e = lid + r * lsz;
            if (e >= D) break;
            float a = acc[r] * correction;
            for (size_t jj = 0; jj < block; jj++) a += ps[jj] * LOAD(V, kv + (j0 + jj) * D + e);
            acc[r] = a;
        }
        m = new_m;
        barrier(CLK_LOCAL_MEM_FENCE); // ps is rewritten by the next block
    }
    *m_out = m;
    *sum_out = sum;
}

// Loads a row of Q into local memory.
inline void load_row(__global const T* Q, size_t at, uint D, __local float* qs) {
    for (size_t e = get_local_id(0); e < D; e += get_local_size(0)) qs[e] = LOAD(Q, at + e);
    barrier(CLK_LOCAL_MEM_FENCE);
}

// Work-group (g, head bh): query rows [g·R, (g + 1)·R) one at a time, online softmax
// over the visible keys.
__kernel void attn_prefill_fused(__global const T* restrict Q, __global const T* restrict K,
                                 __global const T* restrict V, __global T* restrict O, uint B,
                                 uint H, uint Hkv, uint L, uint D, uint causal, float scale) {
    __local float qs[D_MAX], ps[MAX_GROUP], scratch[MAX_GROUP];
    size_t bh = get_group_id(1);
    if (bh >= (size_t)B * H) return;
    // Group g handles query rows [g·R, (g + 1)·R), R = ceil(L / groups).
    size_t rows = (L + get_num_groups(0) - 1) / get_num_groups(0);
    size_t lo = min((size_t)L, get_group_id(0) * rows), hi = min((size_t)L, lo + rows);
    for (size_t i = lo; i < hi; i++) {
        size_t q = (bh * L + i) * D;
        load_row(Q, q, D, qs);
        float m, sum, acc[ROW_ACC];
        attend_row(K, V, kv_base(bh, H, Hkv, L, D), D, 0, causal ? i + 1 : L, scale, qs, ps, scratch, &m, &sum, acc);
        for (int r = 0; r < ROW_ACC; r++) {
            size_t e = get_local_id(0) + r * get_local_size(0);
            if (e < D) STORE(O, q + e, acc[r] / sum);
        }
        barrier(CLK_LOCAL_MEM_FENCE); // qs is reloaded for the next row
    }
}

// S[bh, j] = scale · q · k_j
__kernel void attn_decode_scores(__global const T* restrict Q, __global const T* restrict K,
                                 __global float* restrict S, uint B, uint H, uint Hkv, uint L,
                                 uint D, float scale) {
    size_t j = get_global_id(0), bh = get_global_id(1);
    if (j >= L || bh >= (size_t)B * H) return;
    size_t k = kv_base(bh, H, Hkv, L, D) + j * D;
    float acc = 0.0f;
    for (size_t e = 0; e < D; e++) acc += LOAD(Q, bh * D + e) * LOAD(K, k + e);
    S[bh * L + j] = acc * scale;
}

// o[bh, e] = Σ_j P[bh, j] · V[kv, j, e]
__kernel void attn_decode_pv(__global const float* restrict P, __global const T* restrict V,
                             __global T* restrict O, uint B, uint H, uint Hkv, uint L, uint D) {
    size_t e = get_global_id(0), bh = get_global_id(1);
    if (e >= D || bh >= (size_t)B * H) return;
    size_t v = kv_base(bh, H, Hkv, L, D) + e;
    float acc = 0.0f;
    for (size_t j = 0; j < L; j++) acc += P[bh * L + j] * LOAD(V, v + j * D);
    STORE(O, bh * D + e, acc);
}

// One work-group per (split, head bh): an online softmax over the split's keys, written
// as (max, sum, unnormalised output).
__kernel void attn_decode_split(__global const T* restrict Q, __global const T* restrict K,
                                __global const T* restrict V, __global float* restrict partial,
                                uint B, uint H, uint Hkv, uint L, uint D, uint splits,
                                float scale) {
    __local float qs[D_MAX], ps[MAX_GROUP], scratch[MAX_GROUP];
    size_t split = get_group_id(0), bh = get_group_id(1);
    if (split >= splits || bh >= (size_t)B * H) return;
    size_t share = (L + splits - 1) / splits;
    size_t lo = min((size_t)L, split * share), hi = min((size_t)L, lo + share);
    load_row(Q, bh * D, D, qs);
    float m, sum, acc[ROW_ACC];
    attend_row(K, V, kv_base(bh, H, Hkv, L, D), D, lo, hi, scale, qs, ps, scratch, &m, &sum, acc);
    __global float* out = partial + (bh * splits + split) * (D + 2);
    if (get_local_id(0) == 0) {
        out[0] = m;
        out[1] = sum;
    }
    for (int r = 0; r < ROW_ACC; r++) {
        size_t e = get_local_id(0) + r * get_local_size(0);
        if (e < D) out[2 + e] = acc[r];
    }
}

// One work-item per (b, h): merges the splits' softmax states.
__kernel void attn_decode_combine(__global const float* restrict partial,
                                  __global T* restrict O, uint B, uint H, uint D, uint splits) {
    size_t bh = get_global_id(0);
    if (bh >= (size_t)B * H) return;
    __global const float* p = partial + bh * splits * (D + 2);
    float m = -INFINITY;
    for (size_t s = 0; s < splits; s++)
        if (p[s * (D + 2) + 1] > 0.0f) m = fmax(m, p[s * (D + 2)]);
    float sum = 0.0f;
    for (size_t s = 0; s < splits; s++)
        if (p[s * (D + 2) + 1] > 0.0f) sum += p[s * (D + 2) + 1] * exp(p[s * (D + 2)] - m);
    for (size_t e = 0; e < D; e++) {
        float acc = 0.0f;
        for (size_t s = 0; s < splits; s++)
            if (p[s * (D + 2) + 1] > 0.0f) acc += p[s * (D + 2) + 2 + e] * exp(p[s * (D + 2)] - m);
        STORE(O, bh * D + e, acc / sum);
    }
}

// Paged KV cache (attention.paged): sequence b's key t is slot t % P of page
// table[b · max_pages + t / P]; a page holds P slots of every KV head, D each.
inline size_t paged_row(__global const uint* table, size_t b, size_t kvh, size_t t, uint Hkv,
                        uint D, uint P, uint max_pages) {
    size_t page = table[b * max_pages + t / P];
    return ((page * Hkv + kvh) * P + t % P) * D;
}

// S[bh, t] = scale · q · k_t for t < lens[b]; −∞ past the sequence's end.
__kernel void attn_paged_scores(__global const T* restrict Q, __global const T* restrict K,
                                __global const uint* restrict table,
                                __global const uint* restrict lens, __global float* restrict S,
                                uint B, uint H, uint Hkv, uint L, uint D, uint P,
                                uint max_pages, float scale) {
    size_t t = get_global_id(0), bh = get_global_id(1);
    if (t >= L || bh >= (size_t)B * H) return;
    size_t b = bh / H, kvh = (bh % H) / (H / Hkv);
    if (t >= lens[b]) {
        S[bh * L + t] = -INFINITY;
        return;
    }
    size_t k = paged_row(table, b, kvh, t, Hkv, D, P, max_pages);
    float acc = 0.0f;
    for (size_t e = 0; e < D; e++) acc += LOAD(Q, bh * D + e) * LOAD(K, k + e);
    S[bh * L + t] = acc * scale;
}

// o[bh, e] = Σ_{t < lens[b]} P[bh, t] · V[row t, e]
__kernel void attn_paged_pv(__global const float* restrict Pm, __global const T* restrict V,
                            __global const uint* restrict table,
                            __global const uint* restrict lens, __global T* restrict O, uint B,
                            uint H, uint Hkv, uint L, uint D, uint P, uint max_pages) {
    size_t e = get_global_id(0), bh = get_global_id(1);
    if (e >= D || bh >= (size_t)B * H) return;
    size_t b = bh / H, kvh = (bh % H) / (H / Hkv);
    float acc = 0.0f;
    for (size_t t = 0; t < lens[b]; t++)
        acc += Pm[bh * L + t] * LOAD(V, paged_row(table, b, kvh, t, Hkv, D, P, max_pages) + e);
    STORE(O, bh * D + e, acc);
}

// 8-bit KV cache (attention.kv8): a byte is an int8 value, or with KV_FP8=1 an e4m3 code
// (sign, 4 exponent bits biased by 7, 3 mantissa bits; NaN is never stored), times the
// f32 scale of its (page, KV head). Decoded in software: the exponent and mantissa move
// into an f32's fields; subnormals are m · 2⁻⁹.
#ifndef KV_FP8
#define KV_FP8 0
#endif
inline float kv8_value(uchar b) {
#if KV_FP8
    uint e = (b >> 3) & 15u, m = b & 7u;
    float v = e ? as_float(((e + 120u) << 23) | (m << 20)) : (float)m * 0.001953125f;
    return (b & 0x80u) ? -v : v;
#else
    return (float)(char)b;
#endif
}

// S[bh, t] = scale · Ks[page, kvh] · q · k8_t for t < lens[b]; −∞ past the sequence's end.
__kernel void attn_kv8_scores(__global const T* restrict Q, __global const uchar* restrict K,
                              __global const float* restrict Ks,
                              __global const uint* restrict table,
                              __global const uint* restrict lens, __global float* restrict S,
                              uint B, uint H, uint Hkv, uint L, uint D, uint P,
                              uint max_pages, float scale) {
    size_t t = get_global_id(0), bh = get_global_id(1);
    if (t >= L || bh >= (size_t)B * H) return;
    size_t b = bh / H, kvh = (bh % H) / (H / Hkv);
    if (t >= lens[b]) {
        S[bh * L + t] = -INFINITY;
        return;
    }
    size_t page = table[b * max_pages + t / P];
    size_t k = ((page * Hkv + kvh) * P + t % P) * D;
    float acc = 0.0f;
    for (size_t e = 0; e < D; e++) acc += LOAD(Q, bh * D + e) * kv8_value(K[k + e]);
    S[bh * L + t] = acc * Ks[page * Hkv + kvh] * scale;
}

// o[bh, e] = Σ_{t < lens[b]} P[bh, t] · Vs[page, kvh] · v8[row t, e]
__kernel void attn_kv8_pv(__global const float* restrict Pm, __global const uchar* restrict V,
                          __global const float* restrict Vs, __global const uint* restrict table,
                          __global const uint* restrict lens, __global T* restrict O, uint B,
                          uint H, uint Hkv, uint L, uint D, uint P, uint max_pages) {
    size_t e = get_global_id(0), bh = get_global_id(1);
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
