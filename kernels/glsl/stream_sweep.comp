#version 450
#include "common.glsl"
// The memory curve: group g reads its contiguous share of a `reps` times and writes its
// sum to partial[slot·groups + g]. Invocations read adjacent floats (one vector load per
// subgroup on a CPU driver, coalesced on a GPU) into four accumulators, each pass summed
// afresh, keeping the largest of the equal pass sums (every pass's loads count; the answer
// is rounded as one sum).
layout(set = 0, binding = 0) readonly buffer A { float a[]; };
layout(set = 0, binding = 1) writeonly buffer P { float partial[]; };
layout(push_constant) uniform Params { uint n; uint reps; uint slot; } p;
void main() {
    uint groups = gl_NumWorkGroups.x, g = gl_WorkGroupID.x;
    uint lid = gl_LocalInvocationID.x, lsz = gl_WorkGroupSize.x;
    uint share = (p.n + groups - 1) / groups;
    uint lo = min(p.n, g * share), hi = min(p.n, lo + share);
    float best = -1.0 / 0.0;
    for (uint r = 0; r < p.reps; r++) {
        float acc0 = 0.0, acc1 = 0.0, acc2 = 0.0, acc3 = 0.0;
        uint i = lo + lid;
        for (; i + 3 * lsz < hi; i += 4 * lsz) {
            acc0 += a[i];
            acc1 += a[i + lsz];
            acc2 += a[i + 2 * lsz];
            acc3 += a[i + 3 * lsz];
        }
        for (; i < hi; i += lsz) acc0 += a[i];
        best = max(best, (acc0 + acc1) + (acc2 + acc3));
    }
    float sum = group_reduce(best, false);
    if (lid == 0) partial[p.slot * groups + g] = sum;
}
