#version 450
#include "common.glsl"
#include "paged.glsl"
// o[bh, e] = Σ_{t < lens[b]} P[bh, t] · V[row t, e]
layout(set = 0, binding = 0) readonly buffer Pm { float pr[]; };
layout(set = 0, binding = 1) readonly buffer V { T v[]; };
layout(set = 0, binding = 2) readonly buffer Table { uint table[]; };
layout(set = 0, binding = 3) readonly buffer Lens { uint lens[]; };
layout(set = 0, binding = 4) writeonly buffer O { T o[]; };
layout(push_constant) uniform Params {
    uint B; uint H; uint Hkv; uint L; uint D; uint P; uint max_pages;
} p;
void main() {
    uint e = gl_GlobalInvocationID.x, bh = gl_GlobalInvocationID.y;
    if (e >= p.D || bh >= p.B * p.H) return;
    uint b = bh / p.H, kvh = (bh % p.H) / (p.H / p.Hkv);
    float acc = 0.0;
    for (uint t = 0; t < lens[b]; t++) acc += pr[bh * p.L + t] * LOAD(v, PAGED_ROW(b, kvh, t) + e);
    STORE(o, bh * p.D + e, acc);
}
