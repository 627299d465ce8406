#version 450
#include "common.glsl"
// Group g sums its contiguous share of a·b into partial[g]; invocations take a vec4 and
// stride by the group size (coalesced on a GPU, one contiguous sweep with a group of 1).
layout(set = 0, binding = 0) readonly buffer A { float a[]; };
layout(set = 0, binding = 1) readonly buffer B { float b[]; };
layout(set = 0, binding = 2) writeonly buffer P { float partial[]; };
layout(push_constant) uniform Params { uint n; } p;
void main() {
    uint groups = gl_NumWorkGroups.x, g = gl_WorkGroupID.x;
    uint lid = gl_LocalInvocationID.x, lsz = gl_WorkGroupSize.x;
    uint share = (p.n + groups - 1) / groups;
    uint lo = min(p.n, g * share), hi = min(p.n, lo + share);
    uint vec_end = lo + (hi - lo) / 4 * 4;
    vec4 acc = vec4(0.0);
    for (uint i = lo + lid * 4; i < vec_end; i += lsz * 4)
        acc += vec4(a[i], a[i + 1], a[i + 2], a[i + 3]) * vec4(b[i], b[i + 1], b[i + 2], b[i + 3]);
    float sum = acc.x + acc.y + acc.z + acc.w;
    for (uint i = vec_end + lid; i < hi; i += lsz) sum += a[i] * b[i];
    sum = group_reduce(sum, false);
    if (lid == 0) partial[g] = sum;
}
