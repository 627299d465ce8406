#version 450
#include "common.glsl"
// BabelStream's stream_triad, f32, four elements per invocation step (vec4 loads and stores), with
// the last n % 4 elements through scalar views of the same bindings. Grid-stride.
layout(set = 0, binding = 0) readonly buffer B4 { vec4 b4[]; };
layout(set = 0, binding = 0) readonly buffer B1 { float b1[]; };
layout(set = 0, binding = 1) readonly buffer C4 { vec4 c4[]; };
layout(set = 0, binding = 1) readonly buffer C1 { float c1[]; };
layout(set = 0, binding = 2) writeonly buffer A4 { vec4 a4[]; };
layout(set = 0, binding = 2) writeonly buffer A1 { float a1[]; };
layout(push_constant) uniform Params { uint n; float s; } p;
void main() {
    uint n4 = p.n / 4;
    for (uint i = gl_GlobalInvocationID.x; i < n4; i += global_stride()) { a4[i] = b4[i] + p.s * c4[i]; }
    uint i = n4 * 4 + gl_GlobalInvocationID.x;
    if (i < p.n) { a1[i] = b1[i] + p.s * c1[i]; }
}
