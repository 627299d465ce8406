#version 450
#include "common.glsl"
// dtypes: f32 f16 bf16 fp8e4m3 fp8e5m2
// C = A·B: a 64×64 tile of C per work-group of 256 invocations, each a 4×4 block; A and B
// pass through shared memory 16 deep, zero-padded at the edges, so any M, N, K works.
layout(set = 0, binding = 0) readonly buffer A { T a[]; };
layout(set = 0, binding = 1) readonly buffer B { T b[]; };
layout(set = 0, binding = 2) writeonly buffer C { T c[]; };
layout(push_constant) uniform Params { uint M; uint N; uint K; FP8_SCALE_MEMBER } p;
const uint TM = 64, TN = 64, TK = 16;
shared float As[TK][TM];
shared float Bs[TK][TN];
void main() {
    uint lid = gl_LocalInvocationIndex;
    uint tx = lid % 16, ty = lid / 16;
    uint row0 = gl_WorkGroupID.y * TM, col0 = gl_WorkGroupID.x * TN;
    float acc[4][4];
    for (int r = 0; r < 4; r++) for (int q = 0; q < 4; q++) acc[r][q] = 0.0;
    for (uint k0 = 0; k0 < p.K; k0 += TK) {
        for (uint e = lid; e < TK * TM; e += 256) {
            uint r = e / TK, q = e % TK;
            uint gi = row0 + r, gk = k0 + q;
            As[q][r] = (gi < p.M && gk < p.K) ? LOAD(a, gi * p.K + gk) : 0.0;
            uint br = e / TN, bq = e % TN;
            uint bk = k0 + br, bj = col0 + bq;
            Bs[br][bq] = (bk < p.K && bj < p.N) ? LOAD(b, bk * p.N + bj) : 0.0;
        }
        barrier();
        for (uint kk = 0; kk < TK; kk++) {
            float av[4], bv[4];
            for (int r = 0; r < 4; r++) av[r] = As[kk][ty * 4 + r];
            for (int q = 0; q < 4; q++) bv[q] = Bs[kk][tx * 4 + q];
            for (int r = 0; r < 4; r++) for (int q = 0; q < 4; q++) acc[r][q] = fma(av[r], bv[q], acc[r][q]);
        }
        barrier();
    }
    for (int r = 0; r < 4; r++) {
        uint i = row0 + ty * 4 + r;
        for (int q = 0; q < 4; q++) {
            uint j = col0 + tx * 4 + q;
            if (i < p.M && j < p.N) STORE(c, i * p.N + j, FP8_SCALED(acc[r][q]));
        }
    }
}
