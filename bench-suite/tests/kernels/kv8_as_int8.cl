// Wrong on purpose for fp8: reads every cache byte as int8, ignoring KV_FP8 (the port
// that copies the int8 path). Right for the int8 variant.
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
    for (size_t e = 0; e < D; e++) acc += LOAD(Q, bh * D + e) * (float)(char)K[k + e];
    S[bh * L + t] = acc * Ks[page * Hkv + kvh] * scale;
}
