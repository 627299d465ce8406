#version 450
#include "common.glsl"
// BabelStream's scale, f32, in vec4s with the last n % 4 elements through scalar views of
// the same bindings. Each work-group takes a contiguous share; its invocations stride
// through it two vec4s at a time. Coalesced on a GPU; on lavapipe (a group runs on one
// CPU thread, invocations are SIMD lanes) a contiguous sweep with two loads in flight.
layout(set = 0, binding = 0) readonly buffer C4 { vec4 c4[]; };
layout(set = 0, binding = 0) readonly buffer C1 { float c1[]; };
layout(set = 0, binding = 1) writeonly buffer B4 { vec4 b4[]; };
layout(set = 0, binding = 1) writeonly buffer B1 { float b1[]; };
layout(push_constant) uniform Params { uint n; float s; } p;
void main() {
    uint n4 = p.n / 4, groups = gl_NumWorkGroups.x, lsz = gl_WorkGroupSize.x;
    uint share = (n4 + groups - 1) / groups;
    uint lo = min(n4, gl_WorkGroupID.x * share), hi = min(n4, lo + share);
    uint i = lo + gl_LocalInvocationID.x;
    for (; i + lsz < hi; i += 2 * lsz) {
        b4[i] = p.s * c4[i];
        b4[i + lsz] = p.s * c4[i + lsz];
    }
    if (i < hi) { b4[i] = p.s * c4[i]; }
    uint t = n4 * 4 + gl_GlobalInvocationID.x;
    if (t < p.n) { b1[t] = p.s * c1[t]; }
}
