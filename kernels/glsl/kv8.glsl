// 8-bit KV cache (attention.kv8), read as 32-bit words: a byte is an int8 value, or with
// KV_FP8=1 an e4m3 code (sign, 4 exponent bits biased by 7, 3 mantissa bits; NaN is never
// stored), times the f32 scale of its (page, KV head). The exponent and mantissa move
// into an f32's fields; subnormals are m · 2⁻⁹.
layout(constant_id = 7) const uint KV_FP8 = 0;
#define KV8_BYTE(buf, i) ((buf[(i) >> 2] >> (((i) & 3u) * 8u)) & 0xffu)
float kv8_value(uint b) {
    if (KV_FP8 != 0u) {
        uint e = (b >> 3) & 15u, m = b & 7u;
        float v = e != 0u ? uintBitsToFloat(((e + 120u) << 23) | (m << 20)) : float(m) * 0.001953125;
        return (b & 0x80u) != 0u ? -v : v;
    }
    return float(int(b << 24) >> 24);
}
