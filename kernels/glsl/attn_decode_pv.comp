#version 450
#include "common.glsl"
#include "attention.glsl"
// o[bh, e] = Σ_j P[bh, j] · V[kv, j, e]
layout(set = 0, binding = 0) readonly buffer P { float pr[]; };
layout(set = 0, binding = 1) readonly buffer V { T v[]; };
layout(set = 0, binding = 2) writeonly buffer O { T o[]; };
layout(push_constant) uniform Params { uint B; uint H; uint Hkv; uint L; uint D; } p;
void main() {
    uint e = gl_GlobalInvocationID.x, bh = gl_GlobalInvocationID.y;
    if (e >= p.D || bh >= p.B * p.H) return;
    uint vo = kv_base(bh, p.H, p.Hkv, p.L, p.D) + e;
    float acc = 0.0;
    for (uint j = 0; j < p.L; j++) acc += pr[bh * p.L + j] * LOAD(v, vo + j * p.D);
    STORE(o, bh * p.D + e, acc);
}
