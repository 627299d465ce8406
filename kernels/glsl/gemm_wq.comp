#version 450
#include "common.glsl"
// gemm.wq: C = A·dequant(W), W int8 or int4 (WQ_BITS) over the flattened index k·N + n
// (int4: the even index in the low nibble, value − 8), read as 32-bit words; one scale per
// column per group of G rows of K. One invocation per column holds GEMM_ROWS rows of C
// (rows past M read row M-1 and are not stored); work-groups in y take the next rows.
layout(constant_id = 4) const uint GEMM_ROWS = 16;
layout(constant_id = 6) const uint WQ_BITS = 4;
layout(set = 0, binding = 0) readonly buffer A { T a[]; };
layout(set = 0, binding = 1) readonly buffer W { uint w[]; };
layout(set = 0, binding = 2) readonly buffer S { T s[]; };
layout(set = 0, binding = 3) writeonly buffer C { T c[]; };
layout(push_constant) uniform Params { uint M; uint N; uint K; uint G; } p;
float wq_weight(uint idx) {
    if (WQ_BITS == 8) {
        uint byte = (w[idx >> 2] >> ((idx & 3u) * 8u)) & 0xffu;
        return float(int(byte << 24) >> 24);
    }
    uint nibble = (w[idx >> 3] >> ((idx & 7u) * 4u)) & 15u;
    return float(int(nibble) - 8);
}
void main() {
    uint j = gl_GlobalInvocationID.x, i0 = gl_WorkGroupID.y * GEMM_ROWS;
    if (j >= p.N || i0 >= p.M) return;
    float acc[GEMM_ROWS];
    uint rows[GEMM_ROWS];
    for (uint r = 0; r < GEMM_ROWS; r++) {
        acc[r] = 0.0;
        rows[r] = min(i0 + r, p.M - 1) * p.K;
    }
    for (uint g0 = 0; g0 < p.K; g0 += p.G) {
        float part[GEMM_ROWS];
        for (uint r = 0; r < GEMM_ROWS; r++) part[r] = 0.0;
        uint g1 = min(g0 + p.G, p.K);
        for (uint k = g0; k < g1; k++) {
            float wv = wq_weight(k * p.N + j);
            for (uint r = 0; r < GEMM_ROWS; r++) part[r] = fma(LOAD(a, rows[r] + k), wv, part[r]);
        }
        float sv = LOAD(s, (g0 / p.G) * p.N + j);
        for (uint r = 0; r < GEMM_ROWS; r++) acc[r] = fma(part[r], sv, acc[r]);
    }
    for (uint r = 0; r < GEMM_ROWS && i0 + r < p.M; r++) STORE(c, (i0 + r) * p.N + j, acc[r]);
}
