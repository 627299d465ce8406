// BabelStream's kernels, f32. Grid-stride loops: any launch shape is correct. A grid that
// covers every element takes a path without the loop: PoCL's work-group vectoriser gives
// up on a work-item loop, and scale read 22 GB/s through it against 48 without.
#define ELEMENTWISE(body)                                                                  \
    size_t i = get_global_id(0), stride = get_global_size(0);                             \
    if (stride >= n) {                                                                     \
        if (i < n) body;                                                                   \
        return;                                                                            \
    }                                                                                      \
    for (; i < n; i += stride) body;

__kernel void stream_copy(__global const float* restrict a, __global float* restrict c, uint n) {
    ELEMENTWISE(c[i] = a[i])
}

__kernel void stream_scale(__global const float* restrict c, __global float* restrict b, uint n,
                           float s) {
    ELEMENTWISE(b[i] = s * c[i])
}

__kernel void stream_add(__global const float* restrict a, __global const float* restrict b,
                         __global float* restrict c, uint n) {
    ELEMENTWISE(c[i] = a[i] + b[i])
}

__kernel void stream_triad(__global const float* restrict b, __global const float* restrict c,
                           __global float* restrict a, uint n, float s) {
    ELEMENTWISE(a[i] = b[i] + s * c[i])
}

// Group g sums its contiguous share of the arrays into partial[g]. Work-items take 4
// consecutive floats and stride by the group size, which is coalesced on a GPU and, with
// one work-item per group on a CPU device, a contiguous vectorisable sweep.
__kernel void stream_dot(__global const float* restrict a, __global const float* restrict b,
                         __global float* restrict partial, uint n) {
    __local float scratch[MAX_GROUP];
    size_t groups = get_num_groups(0), g = get_group_id(0);
    size_t lid = get_local_id(0), lsz = get_local_size(0);
    size_t share = (n + groups - 1) / groups;
    size_t lo = min((size_t)n, g * share), hi = min((size_t)n, lo + share);
    size_t vec_end = lo + (hi - lo) / 4 * 4;
    float4 acc = (float4)(0.0f);
    for (size_t i = lo + lid * 4; i < vec_end; i += lsz * 4)
        acc += vload4(0, a + i) * vload4(0, b + i);
    float sum = acc.x + acc.y + acc.z + acc.w;
    for (size_t i = vec_end + lid; i < hi; i += lsz) sum += a[i] * b[i];
    sum = group_sum(sum, scratch);
    if (lid == 0) partial[g] = sum;
}

// The memory curve: group g reads its contiguous share of a `reps` times and writes its
// sum to partial[slot·groups + g]. Each pass sums afresh into four float4 accumulators (so
// add latency never limits a read from L1), and each accumulator keeps the largest of its
// equal pass sums (a vector max a pass): every pass's loads count, and the answer is
// rounded as one sum, not `reps`. Work-items take 16 consecutive floats and stride by the
// group.
__kernel void stream_sweep(__global const float* restrict a, __global float* restrict partial,
                           uint n, uint reps, uint slot) {
    __local float scratch[MAX_GROUP];
    size_t groups = get_num_groups(0), g = get_group_id(0);
    size_t lid = get_local_id(0), lsz = get_local_size(0);
    size_t share = (n + groups - 1) / groups;
    size_t lo = min((size_t)n, g * share), hi = min((size_t)n, lo + share);
    size_t vec_end = lo + (hi - lo) / 16 * 16;
    float4 best0 = (float4)(-INFINITY), best1 = best0, best2 = best0, best3 = best0;
    float best_tail = -INFINITY;
    for (uint r = 0; r < reps; r++) {
        float4 acc0 = (float4)(0.0f), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        float tail = 0.0f;
        for (size_t i = lo + lid * 16; i < vec_end; i += lsz * 16) {
            acc0 += vload4(0, a + i);
            acc1 += vload4(1, a + i);
            acc2 += vload4(2, a + i);
            acc3 += vload4(3, a + i);
        }
        for (size_t i = vec_end + lid; i < hi; i += lsz) tail += a[i];
        best0 = fmax(best0, acc0);
        best1 = fmax(best1, acc1);
        best2 = fmax(best2, acc2);
        best3 = fmax(best3, acc3);
        best_tail = fmax(best_tail, tail);
    }
    float4 best = (best0 + best1) + (best2 + best3);
    float sum = group_sum((best.x + best.y) + (best.z + best.w) + best_tail, scratch);
    if (lid == 0) partial[slot * groups + g] = sum;
}
