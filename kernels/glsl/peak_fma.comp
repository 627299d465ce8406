#version 450
// dtypes: f32 f16
#include "common.glsl"
// peak_fma (kernels/README.md): eight chains of x = x·a + b per invocation, as four
// two-wide vectors, in the dtype's own arithmetic (f16 needs shaderFloat16). GLSL has no
// bf16 arithmetic, so there is no bf16 module. The driver may fuse each step; it counts
// as two FLOPs either way. The chain loop is unrolled 16 steps deep: lavapipe runs every
// loop with per-lane masks (compare, blend, any-lane test an iteration), which costs more
// than four vector FMAs (31 GFLOP/s one step an iteration, 98-110 unrolled).
#if defined(DTYPE_F16)
#define V f16vec2
#define S float16_t
#else
#define V vec2
#define S float
#endif
#define STEP x0 = x0 * va + vb; x1 = x1 * va + vb; x2 = x2 * va + vb; x3 = x3 * va + vb;
#define STEP4 STEP STEP STEP STEP
layout(set = 0, binding = 0) writeonly buffer Out { T out_[]; };
layout(push_constant) uniform Params { uint n; uint iters; float a; float b; } p;
void main() {
    V va = V(S(p.a)), vb = V(S(p.b));
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += global_stride()) {
        V x0 = V(S(float((i + 0) & 63) * 0.25), S(float((i + 1) & 63) * 0.25));
        V x1 = V(S(float((i + 2) & 63) * 0.25), S(float((i + 3) & 63) * 0.25));
        V x2 = V(S(float((i + 4) & 63) * 0.25), S(float((i + 5) & 63) * 0.25));
        V x3 = V(S(float((i + 6) & 63) * 0.25), S(float((i + 7) & 63) * 0.25));
        uint k = 0;
        for (; k + 16 <= p.iters; k += 16) {
            STEP4 STEP4 STEP4 STEP4
        }
        for (; k < p.iters; ++k) {
            STEP
        }
        V s = (x0 + x1) + (x2 + x3);
        STORE(out_, i, float(s.x) + float(s.y));
    }
}
