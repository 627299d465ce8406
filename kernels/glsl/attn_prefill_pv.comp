#version 450
#include "common.glsl"
#include "attention.glsl"
// O[bh, i, e] = Σ_j P[bh, i, j] · V[kv, j, e]
layout(set = 0, binding = 0) readonly buffer P { float pr[]; };
layout(set = 0, binding = 1) readonly buffer V { T v[]; };
layout(set = 0, binding = 2) writeonly buffer O { T o[]; };
layout(push_constant) uniform Params { uint B; uint H; uint Hkv; uint L; uint D; } p;
void main() {
    uint e = gl_GlobalInvocationID.x, i = gl_GlobalInvocationID.y, bh = gl_GlobalInvocationID.z;
    if (e >= p.D || i >= p.L || bh >= p.B * p.H) return;
    uint po = (bh * p.L + i) * p.L, vo = kv_base(bh, p.H, p.Hkv, p.L, p.D) + e;
    float acc = 0.0;
    for (uint j = 0; j < p.L; j++) acc += pr[po + j] * LOAD(v, vo + j * p.D);
    STORE(o, (bh * p.L + i) * p.D + e, acc);
}
