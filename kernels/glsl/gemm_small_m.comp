#version 450
#include "common.glsl"
// dtypes: f32 f16 bf16 fp8e4m3 fp8e5m2
// Decode-sized M (1 to 16): one invocation per column of C keeps all GEMM_ROWS rows of it
// in registers and streams its column of B once, so the time tracks the bytes of B, not a
// 64-row tile's worth of padding. GEMM_KSPLIT invocations (local y) split K for one column
// and add their parts through shared memory (scratch). Rows past M read row M-1 and are
// not stored. The group is 64 × GEMM_KSPLIT (GEMM_KSPLIT ≤ 16).
layout(constant_id = 4) const uint GEMM_ROWS = 16;
layout(constant_id = 5) const uint GEMM_KSPLIT = 1;
layout(set = 0, binding = 0) readonly buffer A { T a[]; };
layout(set = 0, binding = 1) readonly buffer B { T b[]; };
layout(set = 0, binding = 2) writeonly buffer C { T c[]; };
layout(push_constant) uniform Params { uint M; uint N; uint K; FP8_SCALE_MEMBER } p;
void main() {
    uint lx = gl_LocalInvocationID.x, s = gl_LocalInvocationID.y;
    uint j = gl_WorkGroupID.x * gl_WorkGroupSize.x + lx;
    float acc[GEMM_ROWS];
    uint rows[GEMM_ROWS];
    for (uint r = 0; r < GEMM_ROWS; r++) {
        acc[r] = 0.0;
        rows[r] = min(r, p.M - 1) * p.K;
    }
    uint chunk = (p.K + GEMM_KSPLIT - 1) / GEMM_KSPLIT;
    uint k0 = min(s * chunk, p.K), k1 = min(k0 + chunk, p.K);
    if (j < p.N) {
        for (uint k = k0; k < k1; k++) {
            float bv = LOAD(b, k * p.N + j);
            for (uint r = 0; r < GEMM_ROWS; r++) acc[r] = fma(LOAD(a, rows[r] + k), bv, acc[r]);
        }
    }
    if (GEMM_KSPLIT > 1) {
        for (uint r = 0; r < GEMM_ROWS && r < p.M; r++) {
            scratch[s * 64 + lx] = acc[r];
            barrier();
            if (s == 0 && j < p.N) {
                float sum = 0.0;
                for (uint q = 0; q < GEMM_KSPLIT; q++) sum += scratch[q * 64 + lx];
                STORE(c, r * p.N + j, FP8_SCALED(sum));
            }
            barrier();
        }
    } else if (j < p.N) {
        for (uint r = 0; r < GEMM_ROWS && r < p.M; r++) STORE(c, r * p.N + j, FP8_SCALED(acc[r]));
    }
}
