#version 450
#include "common.glsl"
// dtypes: f32 f16 bf16 fp8e4m3 fp8e5m2
// gemm.grouped: for each row tile (expert e, first row r0, rows) in tiles[tile0..tile_end]
// (u32 triples), C[r0 + r, :] = A[r0 + r, :] · W[e] with W `[E, K, N]`. One invocation per
// column holds GEMM_ROWS rows of its tile (rows past the tile read its last row and are not
// stored); work-groups in y stride over the tiles.
layout(constant_id = 4) const uint GEMM_ROWS = 16;
layout(set = 0, binding = 0) readonly buffer A { T a[]; };
layout(set = 0, binding = 1) readonly buffer W { T w[]; };
layout(set = 0, binding = 2) readonly buffer Tiles { uint tiles[]; };
layout(set = 0, binding = 3) writeonly buffer C { T c[]; };
layout(push_constant) uniform Params { uint N; uint K; uint tile0; uint tile_end; FP8_SCALE_MEMBER } p;
void main() {
    uint j = gl_GlobalInvocationID.x;
    if (j >= p.N) return;
    for (uint tile = p.tile0 + gl_WorkGroupID.y; tile < p.tile_end; tile += gl_NumWorkGroups.y) {
        uint e = tiles[3 * tile], r0 = tiles[3 * tile + 1], rows = tiles[3 * tile + 2];
        uint wo = e * p.K * p.N + j;
        float acc[GEMM_ROWS];
        uint ao[GEMM_ROWS];
        for (uint r = 0; r < GEMM_ROWS; r++) {
            acc[r] = 0.0;
            ao[r] = (r0 + min(r, rows - 1)) * p.K;
        }
        for (uint k = 0; k < p.K; k++) {
            float wv = LOAD(w, wo + k * p.N);
            for (uint r = 0; r < GEMM_ROWS; r++) acc[r] = fma(LOAD(a, ao[r] + k), wv, acc[r]);
        }
        for (uint r = 0; r < GEMM_ROWS && r < rows; r++) STORE(c, (r0 + r) * p.N + j, FP8_SCALED(acc[r]));
    }
}
