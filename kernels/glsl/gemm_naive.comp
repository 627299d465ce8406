#version 450
#include "common.glsl"
// dtypes: f32 f16 bf16 fp8e4m3 fp8e5m2
// C = A·B, one invocation per output element, f32 accumulate.
layout(set = 0, binding = 0) readonly buffer A { T a[]; };
layout(set = 0, binding = 1) readonly buffer B { T b[]; };
layout(set = 0, binding = 2) writeonly buffer C { T c[]; };
layout(push_constant) uniform Params { uint M; uint N; uint K; FP8_SCALE_MEMBER } p;
void main() {
    uint j = gl_GlobalInvocationID.x, i = gl_GlobalInvocationID.y;
    if (i >= p.M || j >= p.N) return;
    float acc = 0.0;
    for (uint k = 0; k < p.K; k++) acc += LOAD(a, i * p.K + k) * LOAD(b, k * p.N + j);
    STORE(c, i * p.N + j, FP8_SCALED(acc));
}
