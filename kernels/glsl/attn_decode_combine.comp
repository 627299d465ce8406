#version 450
#include "common.glsl"
// One invocation per (b, h): merges the splits' softmax states.
layout(set = 0, binding = 0) readonly buffer P { float partial[]; };
layout(set = 0, binding = 1) writeonly buffer O { T o[]; };
layout(push_constant) uniform Params { uint B; uint H; uint D; uint splits; } p;
void main() {
    uint bh = gl_GlobalInvocationID.x;
    if (bh >= p.B * p.H) return;
    uint base = bh * p.splits * (p.D + 2), stride = p.D + 2;
    float m = -1.0 / 0.0;
    for (uint s = 0; s < p.splits; s++)
        if (partial[base + s * stride + 1] > 0.0) m = max(m, partial[base + s * stride]);
    float sum = 0.0;
    for (uint s = 0; s < p.splits; s++)
        if (partial[base + s * stride + 1] > 0.0) sum += partial[base + s * stride + 1] * exp(partial[base + s * stride] - m);
    for (uint e = 0; e < p.D; e++) {
        float acc = 0.0;
        for (uint s = 0; s < p.splits; s++)
            if (partial[base + s * stride + 1] > 0.0) acc += partial[base + s * stride + 2 + e] * exp(partial[base + s * stride] - m);
        STORE(o, bh * p.D + e, acc / sum);
    }
}
