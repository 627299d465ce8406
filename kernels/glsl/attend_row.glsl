// Included after the buffers `k` and `v` (type T) are declared. One work-group cooperates
// on one query row over keys [lo, hi): keys in blocks of the group size, one key's score
// per invocation, the block's max and sum reduced in shared memory, and each invocation
// accumulating output dimensions lid, lid + lsz, … (at most ROW_ACC, so D ≤ 4·lsz).
// Each invocation's loops stay short (about 2·D per block): lavapipe caps the loop
// iterations of one invocation at 65535, so a kernel that walks every key in one
// invocation silently stops early there.
const uint ROW_ACC = 4;
shared float qs[D_MAX];
shared float ps[1024];

void load_row(uint at, uint D) {
    for (uint e = gl_LocalInvocationID.x; e < D; e += gl_WorkGroupSize.x) qs[e] = LOAD(q, at + e);
    barrier();
}

void attend_row(uint kv, uint D, uint lo, uint hi, float scale, out float m_out, out float sum_out, out float acc[ROW_ACC]) {
    uint lid = gl_LocalInvocationID.x, lsz = gl_WorkGroupSize.x;
    float m = -1.0 / 0.0, sum = 0.0;
    for (uint r = 0; r < ROW_ACC; r++) acc[r] = 0.0;
    for (uint j0 = lo; j0 < hi; j0 += lsz) {
        uint j = j0 + lid;
        float s = -1.0 / 0.0;
        if (j < hi) {
            float d = 0.0;
            for (uint e = 0; e < D; e++) d += qs[e] * LOAD(k, kv + j * D + e);
            s = d * scale;
        }
        float new_m = max(m, group_reduce(s, true));
        float pj = j < hi ? exp(s - new_m) : 0.0;
        ps[lid] = pj;
        float correction = exp(m - new_m);
        sum = sum * correction + group_reduce(pj, false);
        uint block = min(lsz, hi - j0);
        for (uint r = 0; r < ROW_ACC; r++) {
            uint e = lid + r * lsz;
            if (e >= D) break;
            float a = acc[r] * correction;
            for (uint jj = 0; jj < block; jj++) a += ps[jj] * LOAD(v, kv + (j0 + jj) * D + e);
            acc[r] = a;
        }
        m = new_m;
        barrier(); // ps is rewritten by the next block
    }
    m_out = m;
    sum_out = sum;
}
