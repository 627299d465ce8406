#version 450
#include "common.glsl"
// One work-group per row (looping when rows outnumber groups), in place: max, then exp
// and sum, then normalise.
layout(set = 0, binding = 0) buffer X { float x[]; };
layout(push_constant) uniform Params { uint rows; uint cols; } p;
void main() {
    uint lid = gl_LocalInvocationID.x, lsz = gl_WorkGroupSize.x;
    for (uint row = gl_WorkGroupID.x; row < p.rows; row += gl_NumWorkGroups.x) {
    uint base = row * p.cols;
    float m = -1.0 / 0.0;
    for (uint j = lid; j < p.cols; j += lsz) m = max(m, x[base + j]);
    m = group_reduce(m, true);
    float sum = 0.0;
    for (uint j = lid; j < p.cols; j += lsz) {
        float e = isinf(m) ? 0.0 : exp(x[base + j] - m);
        x[base + j] = e;
        sum += e;
    }
    sum = group_reduce(sum, false);
    float inv = sum > 0.0 ? 1.0 / sum : 0.0;
    for (uint j = lid; j < p.cols; j += lsz) x[base + j] *= inv;
    }
}
