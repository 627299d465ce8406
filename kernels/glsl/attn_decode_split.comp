#version 450
#include "common.glsl"
// Work-group (split, b·Hkv); invocation = query head within the KV group. Each runs an
// online softmax over its split's keys and writes (max, sum, unnormalised output).
layout(set = 0, binding = 0) readonly buffer Q { T q[]; };
layout(set = 0, binding = 1) readonly buffer K { T k[]; };
layout(set = 0, binding = 2) readonly buffer V { T v[]; };
layout(set = 0, binding = 3) writeonly buffer P { float partial[]; };
layout(push_constant) uniform Params { uint B; uint H; uint Hkv; uint L; uint D; uint splits; float scale; } p;
void main() {
    uint split = gl_WorkGroupID.x, bkv = gl_WorkGroupID.y, g = gl_LocalInvocationID.x;
    uint group = p.H / p.Hkv;
    if (split >= p.splits || bkv >= p.B * p.Hkv || g >= group || p.D > D_MAX) return;
    uint b = bkv / p.Hkv, kvh = bkv % p.Hkv, head = b * p.H + kvh * group + g;
    uint share = (p.L + p.splits - 1) / p.splits;
    uint lo = min(p.L, split * share), hi = min(p.L, lo + share);
    uint kv = bkv * p.L * p.D;
    float qf[D_MAX], acc[D_MAX];
    for (uint e = 0; e < p.D; e++) { qf[e] = LOAD(q, head * p.D + e); acc[e] = 0.0; }
    float m = -1.0 / 0.0, sum = 0.0;
    for (uint j = lo; j < hi; j++) {
        float s = 0.0;
        for (uint e = 0; e < p.D; e++) s += qf[e] * LOAD(k, kv + j * p.D + e);
        s *= p.scale;
        float new_m = max(m, s);
        float correction = exp(m - new_m), pj = exp(s - new_m);
        sum = sum * correction + pj;
        for (uint e = 0; e < p.D; e++) acc[e] = acc[e] * correction + pj * LOAD(v, kv + j * p.D + e);
        m = new_m;
    }
    uint out_base = (head * p.splits + split) * (p.D + 2);
    partial[out_base] = m;
    partial[out_base + 1] = sum;
    for (uint e = 0; e < p.D; e++) partial[out_base + 2 + e] = acc[e];
}
