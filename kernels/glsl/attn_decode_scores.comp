#version 450
#include "common.glsl"
#include "attention.glsl"
// S[bh, j] = scale · q · k_j
layout(set = 0, binding = 0) readonly buffer Q { T q[]; };
layout(set = 0, binding = 1) readonly buffer K { T k[]; };
layout(set = 0, binding = 2) writeonly buffer S { float s[]; };
layout(push_constant) uniform Params { uint B; uint H; uint Hkv; uint L; uint D; float scale; } p;
void main() {
    uint j = gl_GlobalInvocationID.x, bh = gl_GlobalInvocationID.y;
    if (j >= p.L || bh >= p.B * p.H) return;
    uint ko = kv_base(bh, p.H, p.Hkv, p.L, p.D) + j * p.D;
    float acc = 0.0;
    for (uint e = 0; e < p.D; e++) acc += LOAD(q, bh * p.D + e) * LOAD(k, ko + e);
    s[bh * p.L + j] = acc * p.scale;
}
