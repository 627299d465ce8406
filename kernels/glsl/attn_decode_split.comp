#version 450
#include "common.glsl"
#include "attention.glsl"
// One work-group per (split, head bh): an online softmax over the split's keys, written
// as (max, sum, unnormalised output).
layout(set = 0, binding = 0) readonly buffer Q { T q[]; };
layout(set = 0, binding = 1) readonly buffer K { T k[]; };
layout(set = 0, binding = 2) readonly buffer V { T v[]; };
layout(set = 0, binding = 3) writeonly buffer P { float partial[]; };
layout(push_constant) uniform Params { uint B; uint H; uint Hkv; uint L; uint D; uint splits; float scale; } p;
#include "attend_row.glsl"
void main() {
    uint split = gl_WorkGroupID.x, bh = gl_WorkGroupID.y;
    if (split >= p.splits || bh >= p.B * p.H) return;
    uint share = (p.L + p.splits - 1) / p.splits;
    uint lo = min(p.L, split * share), hi = min(p.L, lo + share);
    load_row(bh * p.D, p.D);
    float m, sum, acc[ROW_ACC];
    attend_row(kv_base(bh, p.H, p.Hkv, p.L, p.D), p.D, lo, hi, p.scale, m, sum, acc);
    uint out_base = (bh * p.splits + split) * (p.D + 2);
    if (gl_LocalInvocationID.x == 0) {
        partial[out_base] = m;
        partial[out_base + 1] = sum;
    }
    for (uint r = 0; r < ROW_ACC; r++) {
        uint e = gl_LocalInvocationID.x + r * gl_WorkGroupSize.x;
        if (e < p.D) partial[out_base + 2 + e] = acc[r];
    }
}
