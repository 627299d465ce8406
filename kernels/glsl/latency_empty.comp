#version 450
#include "common.glsl"
// latency_empty (kernels/README.md): writes only when the flag is non-zero.
layout(set = 0, binding = 0) writeonly buffer Out { float out_[]; };
layout(push_constant) uniform Params { uint flag; } p;
void main() {
    if (p.flag != 0u) out_[gl_GlobalInvocationID.x] = 0.0;
}
