#version 450
#include "common.glsl"
#include "attention.glsl"
// One invocation per query row, online softmax over the keys.
layout(set = 0, binding = 0) readonly buffer Q { T q[]; };
layout(set = 0, binding = 1) readonly buffer K { T k[]; };
layout(set = 0, binding = 2) readonly buffer V { T v[]; };
layout(set = 0, binding = 3) writeonly buffer O { T o[]; };
layout(push_constant) uniform Params { uint B; uint H; uint Hkv; uint L; uint D; uint causal; float scale; } p;
void main() {
    uint i = gl_GlobalInvocationID.x, bh = gl_GlobalInvocationID.y;
    if (i >= p.L || bh >= p.B * p.H || p.D > D_MAX) return;
    uint qo = (bh * p.L + i) * p.D, kv = kv_base(bh, p.H, p.Hkv, p.L, p.D);
    float qf[D_MAX], acc[D_MAX];
    for (uint e = 0; e < p.D; e++) { qf[e] = LOAD(q, qo + e); acc[e] = 0.0; }
    float m = -1.0 / 0.0, sum = 0.0;
    uint keys = p.causal != 0 ? i + 1 : p.L;
    for (uint j = 0; j < keys; j++) {
        float s = 0.0;
        for (uint e = 0; e < p.D; e++) s += qf[e] * LOAD(k, kv + j * p.D + e);
        s *= p.scale;
        float new_m = max(m, s);
        float correction = exp(m - new_m), pj = exp(s - new_m);
        sum = sum * correction + pj;
        for (uint e = 0; e < p.D; e++) acc[e] = acc[e] * correction + pj * LOAD(v, kv + j * p.D + e);
        m = new_m;
    }
    for (uint e = 0; e < p.D; e++) STORE(o, qo + e, acc[e] / sum);
}
