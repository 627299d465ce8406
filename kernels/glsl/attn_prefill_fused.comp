#version 450
#include "common.glsl"
#include "attention.glsl"
// Work-group (g, head bh): query rows [g·R, (g + 1)·R) one at a time, online softmax
// over the visible keys.
layout(set = 0, binding = 0) readonly buffer Q { T q[]; };
layout(set = 0, binding = 1) readonly buffer K { T k[]; };
layout(set = 0, binding = 2) readonly buffer V { T v[]; };
layout(set = 0, binding = 3) writeonly buffer O { T o[]; };
layout(push_constant) uniform Params { uint B; uint H; uint Hkv; uint L; uint D; uint causal; float scale; } p;
#include "attend_row.glsl"
void main() {
    uint bh = gl_WorkGroupID.y;
    if (bh >= p.B * p.H) return;
    // Group g handles query rows [g·R, (g + 1)·R), R = ceil(L / groups).
    uint rows = (p.L + gl_NumWorkGroups.x - 1) / gl_NumWorkGroups.x;
    uint lo = min(p.L, gl_WorkGroupID.x * rows), hi = min(p.L, lo + rows);
    for (uint i = lo; i < hi; i++) {
        uint qo = (bh * p.L + i) * p.D;
        load_row(qo, p.D);
        float m, sum, acc[ROW_ACC];
        attend_row(kv_base(bh, p.H, p.Hkv, p.L, p.D), p.D, 0, p.causal != 0 ? i + 1 : p.L, p.scale, m, sum, acc);
        for (uint r = 0; r < ROW_ACC; r++) {
            uint e = gl_LocalInvocationID.x + r * gl_WorkGroupSize.x;
            if (e < p.D) STORE(o, qo + e, acc[r] / sum);
        }
        barrier(); // qs is reloaded for the next row
    }
}
