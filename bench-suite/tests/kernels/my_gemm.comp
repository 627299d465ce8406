#version 450
#include "common.glsl"
// A user's GEMM for the canonical kernel gemm_tiled, in GLSL: one invocation per element
// of C, the K loop unrolled by two. `common.glsl` (halbench's) gives T, LOAD, STORE and
// the specialised work-group size.
// halbench: threads=8x8
layout(set = 0, binding = 0) readonly buffer A { T a[]; };
layout(set = 0, binding = 1) readonly buffer B { T b[]; };
layout(set = 0, binding = 2) writeonly buffer C { T c[]; };
layout(push_constant) uniform Params { uint M; uint N; uint K; } p;
void main() {
    uint j = gl_GlobalInvocationID.x, i = gl_GlobalInvocationID.y;
    if (i >= p.M || j >= p.N) return;
    float acc0 = 0.0, acc1 = 0.0;
    uint k = 0;
    for (; k + 1 < p.K; k += 2) {
        acc0 += LOAD(a, i * p.K + k) * LOAD(b, k * p.N + j);
        acc1 += LOAD(a, i * p.K + k + 1) * LOAD(b, (k + 1) * p.N + j);
    }
    if (k < p.K) acc0 += LOAD(a, i * p.K + k) * LOAD(b, k * p.N + j);
    STORE(c, i * p.N + j, acc0 + acc1);
}
