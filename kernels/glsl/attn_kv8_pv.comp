#version 450
#include "common.glsl"
#include "paged.glsl"
#include "kv8.glsl"
// o[bh, e] = Σ_{t < lens[b]} P[bh, t] · Vs[page, kvh] · v8[row t, e]
layout(set = 0, binding = 0) readonly buffer Pm { float pr[]; };
layout(set = 0, binding = 1) readonly buffer V { uint v[]; };
layout(set = 0, binding = 2) readonly buffer Vs { float vs[]; };
layout(set = 0, binding = 3) readonly buffer Table { uint table[]; };
layout(set = 0, binding = 4) readonly buffer Lens { uint lens[]; };
layout(set = 0, binding = 5) writeonly buffer O { T o[]; };
layout(push_constant) uniform Params {
    uint B; uint H; uint Hkv; uint L; uint D; uint P; uint max_pages;
} p;
void main() {
    uint e = gl_GlobalInvocationID.x, bh = gl_GlobalInvocationID.y;
    if (e >= p.D || bh >= p.B * p.H) return;
    uint b = bh / p.H, kvh = (bh % p.H) / (p.H / p.Hkv);
    float acc = 0.0;
    for (uint t = 0; t < lens[b]; t++) {
        uint page = table[b * p.max_pages + t / p.P];
        acc += pr[bh * p.L + t] * vs[page * p.Hkv + kvh] * kv8_value(KV8_BYTE(v, PAGED_ROW(b, kvh, t) + e));
    }
    STORE(o, bh * p.D + e, acc);
}
