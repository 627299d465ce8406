#version 450
#include "common.glsl"
#include "attention.glsl"
// S[bh, i, j] = scale · q_i · k_j, −∞ above the diagonal when causal.
layout(set = 0, binding = 0) readonly buffer Q { T q[]; };
layout(set = 0, binding = 1) readonly buffer K { T k[]; };
layout(set = 0, binding = 2) writeonly buffer S { float s[]; };
layout(push_constant) uniform Params { uint B; uint H; uint Hkv; uint L; uint D; uint causal; float scale; } p;
void main() {
    uint j = gl_GlobalInvocationID.x, i = gl_GlobalInvocationID.y, bh = gl_GlobalInvocationID.z;
    if (i >= p.L || j >= p.L || bh >= p.B * p.H) return;
    float v = -1.0 / 0.0;
    if (!(p.causal != 0 && j > i)) {
        uint qo = (bh * p.L + i) * p.D, ko = kv_base(bh, p.H, p.Hkv, p.L, p.D) + j * p.D;
        float acc = 0.0;
        for (uint e = 0; e < p.D; e++) acc += LOAD(q, qo + e) * LOAD(k, ko + e);
        v = acc * p.scale;
    }
    s[(bh * p.L + i) * p.L + j] = v;
}
