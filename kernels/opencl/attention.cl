// Attention. Q/O [B,H,S,D], K/V [B,Hkv,S,D] (decode: q/o [B,H,D], K/V [B,Hkv,L,D]); query
// head h reads KV head h / (H / Hkv). Scores and partials are f32. D_MAX (a define) bounds
// the per-work-item accumulators of the fused and split kernels.

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

// One work-item per query row, online softmax over the keys.
__kernel void attn_prefill_fused(__global const T* restrict Q, __global const T* restrict K,
                                 __global const T* restrict V, __global T* restrict O, uint B,
                                 uint H, uint Hkv, uint L, uint D, uint causal, float scale) {
    size_t i = get_global_id(0), bh = get_global_id(1);
    if (i >= L || bh >= (size_t)B * H || D > D_MAX) return;
    size_t q = (bh * L + i) * D, kv = kv_base(bh, H, Hkv, L, D);
    float qf[D_MAX], acc[D_MAX];
    for (size_t e = 0; e < D; e++) {
        qf[e] = LOAD(Q, q + e);
        acc[e] = 0.0f;
    }
    float m = -INFINITY, sum = 0.0f;
    size_t keys = causal ? i + 1 : L;
    for (size_t j = 0; j < keys; j++) {
        float s = 0.0f;
        for (size_t e = 0; e < D; e++) s += qf[e] * LOAD(K, kv + j * D + e);
        s *= scale;
        float new_m = fmax(m, s);
        float correction = exp(m - new_m), p = exp(s - new_m);
        sum = sum * correction + p;
        for (size_t e = 0; e < D; e++) acc[e] = acc[e] * correction + p * LOAD(V, kv + j * D + e);
        m = new_m;
    }
    for (size_t e = 0; e < D; e++) STORE(O, q + e, acc[e] / sum);
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

// Work-group (split, b·Hkv); work-item = query head within the KV group. Each runs an
// online softmax over its split's keys and writes (max, sum, unnormalised output).
__kernel void attn_decode_split(__global const T* restrict Q, __global const T* restrict K,
                                __global const T* restrict V, __global float* restrict partial,
                                uint B, uint H, uint Hkv, uint L, uint D, uint splits,
                                float scale) {
    size_t split = get_group_id(0), bkv = get_group_id(1), g = get_local_id(0);
    size_t group = H / Hkv;
    if (split >= splits || bkv >= (size_t)B * Hkv || g >= group || D > D_MAX) return;
    size_t b = bkv / Hkv, kvh = bkv % Hkv, head = b * H + kvh * group + g;
    size_t share = (L + splits - 1) / splits;
    size_t lo = min((size_t)L, split * share), hi = min((size_t)L, lo + share);
    size_t kv = bkv * (size_t)L * D;
    float qf[D_MAX], acc[D_MAX];
    for (size_t e = 0; e < D; e++) {
        qf[e] = LOAD(Q, head * D + e);
        acc[e] = 0.0f;
    }
    float m = -INFINITY, sum = 0.0f;
    for (size_t j = lo; j < hi; j++) {
        float s = 0.0f;
        for (size_t e = 0; e < D; e++) s += qf[e] * LOAD(K, kv + j * D + e);
        s *= scale;
        float new_m = fmax(m, s);
        float correction = exp(m - new_m), p = exp(s - new_m);
        sum = sum * correction + p;
        for (size_t e = 0; e < D; e++) acc[e] = acc[e] * correction + p * LOAD(V, kv + j * D + e);
        m = new_m;
    }
    __global float* out = partial + (head * splits + split) * (D + 2);
    out[0] = m;
    out[1] = sum;
    for (size_t e = 0; e < D; e++) out[2 + e] = acc[e];
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
