// BabelStream's kernels, f32. Grid-stride loops: any launch shape is correct.

extern "C" __global__ void stream_copy(const float* __restrict__ a, float* __restrict__ c, uint n) {
    for (size_t i = global_id(); i < n; i += global_size()) c[i] = a[i];
}

extern "C" __global__ void stream_scale(const float* __restrict__ c, float* __restrict__ b, uint n, float s) {
    for (size_t i = global_id(); i < n; i += global_size()) b[i] = s * c[i];
}

extern "C" __global__ void stream_add(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ c, uint n) {
    for (size_t i = global_id(); i < n; i += global_size()) c[i] = a[i] + b[i];
}

extern "C" __global__ void stream_triad(const float* __restrict__ b, const float* __restrict__ c, float* __restrict__ a, uint n, float s) {
    for (size_t i = global_id(); i < n; i += global_size()) a[i] = b[i] + s * c[i];
}

// Block g sums its contiguous share of a·b into partial[g]; threads stride by the block.
extern "C" __global__ void stream_dot(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ partial, uint n) {
    __shared__ float scratch[MAX_GROUP];
    size_t groups = gridDim.x, g = blockIdx.x, lid = threadIdx.x, lsz = blockDim.x;
    size_t share = (n + groups - 1) / groups;
    size_t lo = min((size_t)n, g * share), hi = min((size_t)n, lo + share);
    float sum = 0.0f;
    for (size_t i = lo + lid; i < hi; i += lsz) sum += a[i] * b[i];
    sum = block_reduce(sum, false, scratch);
    if (lid == 0) partial[g] = sum;
}

// The memory curve: block g reads its contiguous share of a `reps` times and writes its
// sum to partial[slot·groups + g]; threads read coalesced with four accumulators, each pass
// summed afresh, keeping the largest of the equal pass sums (every pass's loads count; the
// answer is rounded as one sum).
extern "C" __global__ void stream_sweep(const float* __restrict__ a, float* __restrict__ partial, uint n, uint reps, uint slot) {
    __shared__ float scratch[MAX_GROUP];
    size_t groups = gridDim.x, g = blockIdx.x, lid = threadIdx.x, lsz = blockDim.x;
    size_t share = (n + groups - 1) / groups;
    size_t lo = min((size_t)n, g * share), hi = min((size_t)n, lo + share);
    float best = __int_as_float(0xff800000); // -inf: NVRTC has no math header
    for (uint r = 0; r < reps; r++) {
        float acc0 = 0.0f, acc1 = 0.0f, acc2 = 0.0f, acc3 = 0.0f;
        size_t i = lo + lid;
        for (; i + 3 * lsz < hi; i += 4 * lsz) {
            acc0 += a[i];
            acc1 += a[i + lsz];
            acc2 += a[i + 2 * lsz];
            acc3 += a[i + 3 * lsz];
        }
        for (; i < hi; i += lsz) acc0 += a[i];
        best = fmaxf(best, (acc0 + acc1) + (acc2 + acc3));
    }
    float sum = block_reduce(best, false, scratch);
    if (lid == 0) partial[slot * groups + g] = sum;
}
