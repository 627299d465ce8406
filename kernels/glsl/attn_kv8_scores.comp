#version 450
#include "common.glsl"
#include "paged.glsl"
#include "kv8.glsl"
// S[bh, t] = scale · Ks[page, kvh] · q · k8_t for t < lens[b]; −∞ past the sequence's end.
layout(set = 0, binding = 0) readonly buffer Q { T q[]; };
layout(set = 0, binding = 1) readonly buffer K { uint k[]; };
layout(set = 0, binding = 2) readonly buffer Ks { float ks[]; };
layout(set = 0, binding = 3) readonly buffer Table { uint table[]; };
layout(set = 0, binding = 4) readonly buffer Lens { uint lens[]; };
layout(set = 0, binding = 5) writeonly buffer S { float s[]; };
layout(push_constant) uniform Params {
    uint B; uint H; uint Hkv; uint L; uint D; uint P; uint max_pages; float scale;
} p;
void main() {
    uint t = gl_GlobalInvocationID.x, bh = gl_GlobalInvocationID.y;
    if (t >= p.L || bh >= p.B * p.H) return;
    uint b = bh / p.H, kvh = (bh % p.H) / (p.H / p.Hkv);
    if (t >= lens[b]) {
        s[bh * p.L + t] = -1.0 / 0.0;
        return;
    }
    uint page = table[b * p.max_pages + t / p.P];
    uint ko = PAGED_ROW(b, kvh, t);
    float acc = 0.0;
    for (uint e = 0; e < p.D; e++) acc += LOAD(q, bh * p.D + e) * kv8_value(KV8_BYTE(k, ko + e));
    s[bh * p.L + t] = acc * ks[page * p.Hkv + kvh] * p.scale;
}
